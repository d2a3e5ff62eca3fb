//! GPT-2 hyper-parameters, read from an HF `config.json`.

use crate::core::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

fn default_activation() -> String {
    "gelu_new".into()
}
fn default_eps() -> f64 {
    1e-5
}
fn default_true() -> bool {
    true
}

/// The fields of HF's `GPT2Config` that the architecture needs; others are ignored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gpt2Config {
    #[serde(default)]
    pub model_type: Option<String>,
    pub vocab_size: usize,
    pub n_positions: usize,
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_head: usize,
    /// MLP width; `None` means `4·n_embd`.
    #[serde(default)]
    pub n_inner: Option<usize>,
    #[serde(default = "default_activation")]
    pub activation_function: String,
    #[serde(default = "default_eps")]
    pub layer_norm_epsilon: f64,
    #[serde(default = "default_true")]
    pub tie_word_embeddings: bool,
    #[serde(default)]
    pub eos_token_id: Option<u32>,
}

/// The MLP activations GPT-2 checkpoints use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// Tanh approximation (`gelu_new`, `gelu_pytorch_tanh`): GPT-2's own.
    GeluTanh,
    /// Exact erf GELU.
    Gelu,
    Relu,
}

impl Gpt2Config {
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = crate::core::fsutil::read_to_string(path)?;
        let config: Self = serde_json::from_str(&text)
            .map_err(|e| Error::format(path, format!("not a valid GPT-2 config.json: {e}")))?;
        config.validate(path)?;
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        if let Some(t) = &self.model_type
            && t != "gpt2"
        {
            return Err(Error::format(
                path,
                format!("model_type is `{t}`; this loader expects `gpt2`"),
            ));
        }
        let positive = [
            ("vocab_size", self.vocab_size),
            ("n_positions", self.n_positions),
            ("n_embd", self.n_embd),
            ("n_layer", self.n_layer),
            ("n_head", self.n_head),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(Error::format(path, format!("`{name}` must be > 0")));
            }
        }
        if !self.n_embd.is_multiple_of(self.n_head) {
            return Err(Error::format(
                path,
                format!(
                    "`n_embd` ({}) must be divisible by `n_head` ({})",
                    self.n_embd, self.n_head
                ),
            ));
        }
        self.activation().map_err(|e| Error::format(path, e))?;
        Ok(())
    }

    pub fn inner_dim(&self) -> usize {
        self.n_inner.unwrap_or(4 * self.n_embd)
    }

    pub fn head_dim(&self) -> usize {
        self.n_embd / self.n_head
    }

    pub fn activation(&self) -> std::result::Result<Activation, String> {
        match self.activation_function.as_str() {
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Ok(Activation::GeluTanh),
            "gelu" => Ok(Activation::Gelu),
            "relu" => Ok(Activation::Relu),
            other => Err(format!(
                "activation_function `{other}` is not supported \
                 (expected gelu_new, gelu_pytorch_tanh, gelu or relu)"
            )),
        }
    }

    /// Shape `[in, out]` of each adaptable module, by suffix.
    pub fn module_shape(&self, suffix: &str) -> Option<[usize; 2]> {
        let d = self.n_embd;
        match suffix {
            "attn.c_attn" => Some([d, 3 * d]),
            "attn.c_proj" => Some([d, d]),
            "mlp.c_fc" => Some([d, self.inner_dim()]),
            "mlp.c_proj" => Some([self.inner_dim(), d]),
            _ => None,
        }
    }
}

impl Gpt2Config {
    /// Trainable adapter parameters for `method` at `rank` on `targets` in every block,
    /// computed from shapes alone (no weights needed). Heads are excluded, as in the paper.
    pub fn adapter_params(
        &self,
        method: crate::adapters::Method,
        rank: usize,
        targets: &[String],
    ) -> usize {
        targets
            .iter()
            .filter_map(|t| self.module_shape(t))
            .map(|s| crate::adapters::trainable_params_for(method, rank, s))
            .sum::<usize>()
            * self.n_layer
    }
}
