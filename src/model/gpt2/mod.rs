//! GPT-2 (Radford et al. 2019, "Language Models are Unsupervised Multitask Learners"), as HF
//! transformers implements it, in one readable file.
//!
//! Pre-norm blocks `x + attn(ln_1(x))`, `x + mlp(ln_2(x))`, learned position embeddings, a final
//! `ln_f`, and an LM head tied to the token embedding. Linear weights keep HF's `Conv1D` layout
//! `[in, out]` (`y = x·W + b`), which is also the orientation CUR selection uses (columns =
//! outputs, rows = inputs). The four linear modules of every block are [`AdaptedLinear`]s, so a
//! CURLoRA or LoRA adapter can be attached to any of them by name.
//!
//! Weights load from `model.safetensors` with or without the `transformer.` key prefix; the
//! `attn.bias` / `attn.masked_bias` buffers of older checkpoints are ignored (the causal mask
//! is built here).

mod config;
mod load;

pub use config::{Activation, Gpt2Config};

use super::arch::Architecture;
use super::cache::KvCache;
use super::weights::Checkpoint;
use crate::adapters::{AdaptedLinear, AdapterConfig};
use crate::core::dtype;
use crate::core::error::{Error, Result};
use burn::module::{Module, Param};
use burn::tensor::activation::{gelu, relu, sigmoid, softmax};
use burn::tensor::{Device, Int, Tensor};
use std::path::Path;

/// Module suffixes of a block that can carry an adapter.
pub const TARGET_MODULES: [&str; 4] = ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"];

/// GPT-2's GELU, `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` (HF `gelu_new`), written as
/// `x·σ(2·√(2/π)·(x + 0.044715·x³))`, which is the same function (`(1 + tanh u)/2 = σ(2u)`).
/// burn's `gelu_approximate` computes `x³` with `powf` and then `tanh`, both scalar libm calls
/// on Flex: 28 % of a GPT-2-small classify step in `perf`. Here `x³` is two multiplications
/// and `σ` one fused op with one `expf` per element (BENCHMARKS.md §4).
pub fn gelu_tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    const TWO_SQRT_2_OVER_PI: f64 = 2.0 * 0.797_884_560_802_865_4;
    let x2 = x.clone().mul(x.clone());
    let inner = x2.mul_scalar(0.044715).add_scalar(1.0).mul(x.clone());
    x.mul(sigmoid(inner.mul_scalar(TWO_SQRT_2_OVER_PI)))
}

#[derive(Module, Debug)]
pub struct LayerNorm {
    pub gamma: Param<Tensor<1>>,
    pub beta: Param<Tensor<1>>,
    #[module(skip)]
    pub eps: f64,
}

impl LayerNorm {
    /// In f32 whatever the model computes in (the variance of f16 activations overflows).
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let dtype = x.dtype();
        let x = dtype::to_f32(x);
        let mean = x.clone().mean_dim(2);
        let centered = x.sub(mean);
        let var = centered.clone().powi_scalar(2).mean_dim(2);
        let normed = centered.div(var.add_scalar(self.eps).sqrt());
        dtype::to(normed, dtype)
            .mul(self.gamma.val().unsqueeze::<3>())
            .add(self.beta.val().unsqueeze::<3>())
    }
}

#[derive(Module, Debug)]
pub struct Attention {
    pub c_attn: AdaptedLinear,
    pub c_proj: AdaptedLinear,
    #[module(skip)]
    pub n_head: usize,
}

impl Attention {
    /// `x: [B, T, D]`, `mask`: additive `[B or 1, 1, T, past + T]`; with a cache, this pass's
    /// keys and values are appended to layer `i`'s and attention reads them all.
    pub fn forward(
        &self,
        x: Tensor<3>,
        mask: Tensor<4>,
        cache: Option<(&mut KvCache, usize)>,
    ) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let h = self.n_head;
        let hd = d / h;
        let qkv = self
            .c_attn
            .forward(x.reshape([b * t, d]))
            .reshape([b, t, 3 * d]);
        let split = |i: usize| {
            qkv.clone()
                .narrow(2, i * d, d)
                .reshape([b, t, h, hd])
                .swap_dims(1, 2)
        };
        let (q, k, v) = (split(0), split(1), split(2));
        let (k, v) = match cache {
            Some((c, i)) => c.extend(i, k, v),
            None => (k, v),
        };
        let scores = q
            .matmul(k.swap_dims(2, 3))
            .mul_scalar(1.0 / (hd as f64).sqrt())
            .add(mask);
        // The softmax in f32, as HF's eager attention does in f16.
        let dtype = scores.dtype();
        let y = dtype::to(softmax(dtype::to_f32(scores), 3), dtype).matmul(v); // [B, H, T, hd]
        let y = y.swap_dims(1, 2).reshape([b * t, d]);
        self.c_proj.forward(y).reshape([b, t, d])
    }
}

#[derive(Module, Debug)]
pub struct Mlp {
    pub c_fc: AdaptedLinear,
    pub c_proj: AdaptedLinear,
}

#[derive(Module, Debug)]
pub struct Block {
    pub ln_1: LayerNorm,
    pub attn: Attention,
    pub ln_2: LayerNorm,
    pub mlp: Mlp,
}

#[derive(Module, Debug)]
pub struct Gpt2 {
    /// Token embedding `[vocab, D]`, also the LM head when tied.
    pub wte: Param<Tensor<2>>,
    /// Position embedding `[n_positions, D]`.
    pub wpe: Param<Tensor<2>>,
    pub blocks: Vec<Block>,
    pub ln_f: LayerNorm,
    /// Untied LM head `[vocab, D]` (HF `lm_head.weight`), when the config does not tie it.
    pub lm_head: Option<Param<Tensor<2>>>,
    #[module(skip)]
    pub config: Gpt2Config,
    /// SHA-256 over the base weights as loaded (names and f32 values, in load order): adapters
    /// record it so they are never applied to other weights.
    #[module(skip)]
    pub weights_hash: String,
}

impl Architecture for Gpt2 {
    fn model_types() -> &'static [&'static str] {
        &["gpt2"]
    }

    fn load(dir: &Path, device: &Device) -> Result<Self> {
        Gpt2::load(dir, device)
    }

    fn with_weights(&self, ckpt: &Checkpoint, device: &Device) -> Result<Self> {
        Gpt2::from_checkpoint(self.config.clone(), ckpt, device)
    }

    fn with_base_trainable(self, trainable: bool) -> Self {
        let blocks = self
            .blocks
            .into_iter()
            .map(|b| Block {
                ln_1: set_ln(b.ln_1, trainable),
                ln_2: set_ln(b.ln_2, trainable),
                ..b
            })
            .collect();
        Self {
            wte: self.wte.set_require_grad(trainable),
            wpe: self.wpe.set_require_grad(trainable),
            blocks,
            ln_f: set_ln(self.ln_f, trainable),
            lm_head: self.lm_head.map(|h| h.set_require_grad(trainable)),
            config: self.config,
            weights_hash: self.weights_hash,
        }
    }

    /// After `ln_f`.
    ///
    /// `keep` marks real tokens (1) and padding (0), `[B, T]`; padded keys are masked out of
    /// attention. Positions are 0..T (right padding, as HF GPT-2).
    fn hidden(&self, ids: Tensor<2, Int>, keep: Option<Tensor<2>>) -> Tensor<3> {
        self.forward(ids, keep, None)
    }

    fn hidden_cached(&self, ids: Tensor<2, Int>, cache: &mut KvCache) -> Tensor<3> {
        self.forward(ids, None, Some(cache))
    }

    /// LM logits for hidden states: `[B, T, D]` → `[B, T, vocab]`.
    fn lm_logits(&self, hidden: Tensor<3>) -> Tensor<3> {
        let head = match &self.lm_head {
            Some(h) => h.val(),
            None => self.wte.val(),
        };
        super::head_logits(hidden, head)
    }

    /// The linear module at a path such as `h.0.attn.c_attn`.
    fn module(&self, path: &str) -> Result<&AdaptedLinear> {
        let err = || {
            Error::config(format!(
                "unknown module `{path}`: expected h.N.<module> with N in 0..{} and <module> one of {}",
                self.blocks.len(),
                TARGET_MODULES.join(", ")
            ))
        };
        let rest = path.strip_prefix("transformer.").unwrap_or(path);
        let rest = rest.strip_prefix("h.").ok_or_else(err)?;
        let (idx, suffix) = rest.split_once('.').ok_or_else(err)?;
        let i: usize = idx.parse().map_err(|_| err())?;
        let block = self.blocks.get(i).ok_or_else(err)?;
        match suffix {
            "attn.c_attn" => Ok(&block.attn.c_attn),
            "attn.c_proj" => Ok(&block.attn.c_proj),
            "mlp.c_fc" => Ok(&block.mlp.c_fc),
            "mlp.c_proj" => Ok(&block.mlp.c_proj),
            _ => Err(err()),
        }
    }

    /// Every linear module with its path.
    fn modules(&self) -> Vec<(String, &AdaptedLinear)> {
        let mut out = Vec::new();
        for (i, b) in self.blocks.iter().enumerate() {
            out.push((format!("h.{i}.attn.c_attn"), &b.attn.c_attn));
            out.push((format!("h.{i}.attn.c_proj"), &b.attn.c_proj));
            out.push((format!("h.{i}.mlp.c_fc"), &b.mlp.c_fc));
            out.push((format!("h.{i}.mlp.c_proj"), &b.mlp.c_proj));
        }
        out
    }

    /// Every linear module with its path, mutably (adapter loading).
    fn modules_mut(&mut self) -> Vec<(String, &mut AdaptedLinear)> {
        let mut out = Vec::new();
        for (i, b) in self.blocks.iter_mut().enumerate() {
            out.push((format!("h.{i}.attn.c_attn"), &mut b.attn.c_attn));
            out.push((format!("h.{i}.attn.c_proj"), &mut b.attn.c_proj));
            out.push((format!("h.{i}.mlp.c_fc"), &mut b.mlp.c_fc));
            out.push((format!("h.{i}.mlp.c_proj"), &mut b.mlp.c_proj));
        }
        out
    }

    fn target_modules(&self) -> &'static [&'static str] {
        &TARGET_MODULES
    }

    fn check_targets(&self, targets: &[String]) -> Result<()> {
        check_targets(targets)
    }

    /// Paths are `h.N.<module>`.
    fn is_target(&self, path: &str, config: &AdapterConfig) -> bool {
        let suffix = path.splitn(3, '.').nth(2).unwrap_or("");
        config.targets.iter().any(|t| t == suffix)
    }

    fn named_tensors(&self) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        load::named_tensors(self)
    }

    fn weights_hash(&self) -> &str {
        &self.weights_hash
    }

    fn set_weights_hash(&mut self, hash: String) {
        self.weights_hash = hash;
    }

    fn hf_prefix(&self) -> &'static str {
        "transformer."
    }

    fn arch(&self) -> &'static str {
        "gpt2"
    }

    fn hidden_size(&self) -> usize {
        self.config.n_embd
    }

    fn vocab_size(&self) -> usize {
        self.config.vocab_size
    }

    fn max_positions(&self) -> usize {
        self.config.n_positions
    }

    fn pad_id(&self) -> u32 {
        self.config.eos_token_id.unwrap_or(0)
    }

    fn eos_id(&self) -> Option<u32> {
        self.config.eos_token_id
    }

    fn num_layers(&self) -> usize {
        self.config.n_layer
    }

    fn device(&self) -> Device {
        self.wte.val().device()
    }
}

impl Gpt2 {
    /// The blocks over `ids` at positions `past..past + T` (`past` = what `cache` holds).
    fn forward(
        &self,
        ids: Tensor<2, Int>,
        keep: Option<Tensor<2>>,
        mut cache: Option<&mut KvCache>,
    ) -> Tensor<3> {
        let [b, t] = ids.dims();
        let device = ids.device();
        let d = self.config.n_embd;
        let past = cache.as_ref().map_or(0, |c| c.len());
        assert!(
            past + t <= self.config.n_positions,
            "sequence of {} tokens exceeds n_positions = {}",
            past + t,
            self.config.n_positions
        );
        let tok = self
            .wte
            .val()
            .select(0, ids.reshape([b * t]))
            .reshape([b, t, d]);
        let pos = self.wpe.val().narrow(0, past, t).unsqueeze::<3>();
        let mut x = tok.add(pos);
        let mask = super::attention_mask_at(t, past, keep, None, &device);
        let act = self.config.activation().expect("validated");
        for (i, block) in self.blocks.iter().enumerate() {
            let layer_cache = cache.as_deref_mut().map(|c| (c, i));
            let attn = block
                .attn
                .forward(block.ln_1.forward(x.clone()), mask.clone(), layer_cache);
            x = x.add(attn);
            let h = block.ln_2.forward(x.clone());
            let inner = block.mlp.c_fc.forward(h.reshape([b * t, d]));
            let inner = match act {
                Activation::GeluTanh => gelu_tanh(inner),
                Activation::Gelu => gelu(inner),
                Activation::Relu => relu(inner),
            };
            x = x.add(block.mlp.c_proj.forward(inner).reshape([b, t, d]));
        }
        self.ln_f.forward(x)
    }
}

fn set_ln(ln: LayerNorm, trainable: bool) -> LayerNorm {
    LayerNorm {
        gamma: ln.gamma.set_require_grad(trainable),
        beta: ln.beta.set_require_grad(trainable),
        eps: ln.eps,
    }
}

/// Accepts the module suffixes GPT-2 has; anything else is an error listing them.
pub fn check_targets(targets: &[String]) -> Result<()> {
    if targets.is_empty() {
        return Err(Error::config("no target modules given"));
    }
    for t in targets {
        if !TARGET_MODULES.contains(&t.as_str()) {
            return Err(Error::config(format!(
                "unknown target module `{t}`: GPT-2 has {}",
                TARGET_MODULES.join(", ")
            )));
        }
    }
    Ok(())
}
