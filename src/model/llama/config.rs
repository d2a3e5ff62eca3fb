//! Llama / Mistral hyper-parameters, read from an HF `config.json` (both the transformers-4
//! top-level `rope_theta` and the transformers-5 `rope_parameters`).

use crate::adapters::Method;
use crate::core::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

fn default_positions() -> usize {
    2048
}
fn default_eps() -> f64 {
    1e-6
}
fn default_act() -> String {
    "silu".into()
}

/// The fields of HF's `LlamaConfig` / `MistralConfig` the architecture needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LlamaConfig {
    #[serde(default)]
    pub model_type: Option<String>,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    /// `None` means multi-head attention (as many key/value heads as query heads).
    #[serde(default)]
    pub num_key_value_heads: Option<usize>,
    /// `None` means `hidden_size / num_attention_heads`.
    #[serde(default)]
    pub head_dim: Option<usize>,
    #[serde(default = "default_positions")]
    pub max_position_embeddings: usize,
    #[serde(default = "default_eps")]
    pub rms_norm_eps: f64,
    /// transformers ≤ 4 keeps θ at the top level …
    #[serde(default)]
    pub rope_theta: Option<f64>,
    /// … transformers 5 in `rope_parameters: {rope_theta, rope_type}`.
    #[serde(default)]
    pub rope_parameters: Option<serde_json::Value>,
    /// Older name of a non-default RoPE (`{type | rope_type, factor, …}`).
    #[serde(default)]
    pub rope_scaling: Option<serde_json::Value>,
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Mistral's attention window; `None` means full causal attention.
    #[serde(default)]
    pub sliding_window: Option<usize>,
    #[serde(default)]
    pub attention_bias: bool,
    #[serde(default)]
    pub mlp_bias: bool,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    /// An id or a list of ids.
    #[serde(default)]
    pub eos_token_id: Option<serde_json::Value>,
    #[serde(default)]
    pub pad_token_id: Option<serde_json::Value>,
}

impl LlamaConfig {
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = crate::core::fsutil::read_to_string(path)?;
        let config: Self = serde_json::from_str(&text).map_err(|e| {
            Error::format(path, format!("not a valid Llama/Mistral config.json: {e}"))
        })?;
        config.validate(path)?;
        Ok(config)
    }

    pub fn validate(&self, path: &Path) -> Result<()> {
        if let Some(t) = &self.model_type
            && t != "llama"
            && t != "mistral"
        {
            return Err(Error::format(
                path,
                format!("model_type is `{t}`; this loader expects `llama` or `mistral`"),
            ));
        }
        let positive = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.kv_heads()),
            ("head_dim", self.head_dim()),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(Error::format(path, format!("`{name}` must be > 0")));
            }
        }
        if !self.num_attention_heads.is_multiple_of(self.kv_heads()) {
            return Err(Error::format(
                path,
                format!(
                    "`num_attention_heads` ({}) must be a multiple of `num_key_value_heads` ({})",
                    self.num_attention_heads,
                    self.kv_heads()
                ),
            ));
        }
        if self.head_dim.is_none() && !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(Error::format(
                path,
                "`hidden_size` must be divisible by `num_attention_heads` when `head_dim` is not set",
            ));
        }
        if !self.head_dim().is_multiple_of(2) {
            return Err(Error::format(path, "`head_dim` must be even for RoPE"));
        }
        if self.hidden_act != "silu" {
            return Err(Error::format(
                path,
                format!(
                    "hidden_act `{}` is not supported (expected silu)",
                    self.hidden_act
                ),
            ));
        }
        let ty = self.rope_type();
        if ty != "default" {
            return Err(Error::format(
                path,
                format!(
                    "rope type `{ty}` is not supported yet (only the default RoPE; \
                     the field is `rope_parameters.rope_type` or `rope_scaling`)"
                ),
            ));
        }
        Ok(())
    }

    pub fn kv_heads(&self) -> usize {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    pub fn head_dim(&self) -> usize {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads.max(1))
    }

    /// RoPE base θ: `rope_parameters.rope_theta`, else top-level `rope_theta`, else 10 000.
    pub fn rope_theta(&self) -> f64 {
        self.rope_parameters
            .as_ref()
            .and_then(|p| p.get("rope_theta"))
            .and_then(|v| v.as_f64())
            .or(self.rope_theta)
            .unwrap_or(10_000.0)
    }

    fn rope_type(&self) -> String {
        let from = |v: &Option<serde_json::Value>| {
            v.as_ref().and_then(|p| {
                p.get("rope_type")
                    .or_else(|| p.get("type"))
                    .and_then(|t| t.as_str())
                    .map(String::from)
            })
        };
        from(&self.rope_parameters)
            .or_else(|| from(&self.rope_scaling))
            .unwrap_or_else(|| "default".into())
    }

    /// The first end-of-sequence id, used to pad classification batches.
    pub fn eos_id(&self) -> Option<u32> {
        let first = |v: &serde_json::Value| match v {
            serde_json::Value::Array(a) => a.first().and_then(|x| x.as_u64()),
            other => other.as_u64(),
        };
        self.pad_token_id
            .as_ref()
            .and_then(first)
            .or_else(|| self.eos_token_id.as_ref().and_then(first))
            .map(|x| x as u32)
    }

    /// Shape `[in, out]` of each adaptable projection.
    pub fn module_shape(&self, name: &str) -> Option<[usize; 2]> {
        let d = self.hidden_size;
        let q = self.num_attention_heads * self.head_dim();
        let kv = self.kv_heads() * self.head_dim();
        let f = self.intermediate_size;
        match short_name(name) {
            "q_proj" => Some([d, q]),
            "k_proj" | "v_proj" => Some([d, kv]),
            "o_proj" => Some([q, d]),
            "gate_proj" | "up_proj" => Some([d, f]),
            "down_proj" => Some([f, d]),
            _ => None,
        }
    }

    /// Trainable adapter parameters for `method` at `rank` on `targets` in every block, from
    /// shapes alone (no weights needed). Heads are excluded, as in the paper.
    pub fn adapter_params(&self, method: Method, rank: usize, targets: &[String]) -> usize {
        let bias = |name: &str| {
            let attn = matches!(short_name(name), "q_proj" | "k_proj" | "v_proj" | "o_proj");
            if attn {
                self.attention_bias
            } else {
                self.mlp_bias
            }
        };
        targets
            .iter()
            .filter_map(|t| Some((t, self.module_shape(t)?)))
            .map(|(t, shape)| method.trainable_params(rank, shape, bias(t)))
            .sum::<usize>()
            * self.num_hidden_layers
    }
}

/// `self_attn.q_proj` → `q_proj`: targets may be given with or without their parent.
pub(crate) fn short_name(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}
