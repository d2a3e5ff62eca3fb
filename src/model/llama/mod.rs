//! Llama-family decoders — Llama (Touvron et al. 2023, arXiv 2302.13971), Mistral (Jiang et al.
//! 2023, arXiv 2310.06825) and the models built like them (SmolLM2) — as HF transformers
//! implements `LlamaForCausalLM` / `MistralForCausalLM`, in one readable file.
//!
//! Pre-norm blocks `x + attn(rms_1(x))`, `x + mlp(rms_2(x))` with RMSNorm, rotary position
//! embeddings (HF's rotate-half form), grouped-query attention (`num_key_value_heads` ≤
//! `num_attention_heads`; each key/value head serves `H / KV` query heads), a SwiGLU MLP
//! `down(silu(gate(x)) ⊙ up(x))`, a final norm and an LM head tied to the embedding or not.
//! Mistral adds a sliding attention window: query `i` sees keys `j` with `i - window < j ≤ i`.
//!
//! **Orientation.** HF stores every projection as `nn.Linear`, `W_hf: [out, in]`. We hold
//! `W = W_hfᵀ` (`[in, out]`, `y = x·W`) for the forward pass, and CUR selection runs on `W_hf`
//! itself, as the reference code does for Mistral: columns are *inputs*, rows are *outputs*
//! (see [`Layout::OutIn`](crate::adapters::linear::Layout)). The adapter targets are named as in
//! PEFT: `q_proj k_proj v_proj o_proj gate_proj up_proj down_proj`; the paper's Mistral
//! setting is `q_proj k_proj v_proj` at r = 16.

mod config;
mod load;
mod rope;

pub use config::LlamaConfig;
use config::short_name;

use super::arch::Architecture;
use super::cache::KvCache;
use super::weights::Checkpoint;
use crate::adapters::{AdaptedLinear, AdapterConfig};
use crate::core::dtype;
use crate::core::error::{Error, Result};
use burn::module::{Module, Param};
use burn::tensor::activation::{silu, softmax};
use burn::tensor::{Device, Int, Tensor};
use std::path::Path;

/// Projections of a block that can carry an adapter, in block order.
pub const TARGET_MODULES: [&str; 7] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
];

#[derive(Module, Debug)]
pub struct RmsNorm {
    pub weight: Param<Tensor<1>>,
    #[module(skip)]
    pub eps: f64,
}

impl RmsNorm {
    /// `x / √(mean(x²) + ε) · w` over the last dimension.
    ///
    /// In f32 whatever the model computes in, as HF's `LlamaRMSNorm` (`x²` of f16 activations
    /// overflows).
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let dtype = x.dtype();
        let x = dtype::to_f32(x);
        let rms = x
            .clone()
            .powi_scalar(2)
            .mean_dim(2)
            .add_scalar(self.eps)
            .sqrt();
        dtype::to(x.div(rms), dtype).mul(self.weight.val().unsqueeze::<3>())
    }
}

#[derive(Module, Debug)]
pub struct Attention {
    pub q_proj: AdaptedLinear,
    pub k_proj: AdaptedLinear,
    pub v_proj: AdaptedLinear,
    pub o_proj: AdaptedLinear,
    #[module(skip)]
    pub n_head: usize,
    #[module(skip)]
    pub n_kv: usize,
    #[module(skip)]
    pub head_dim: usize,
}

impl Attention {
    /// `x: [B, T, D]`; `rope`: `(cos, sin)` as `[1, 1, T, hd]`; `mask`: additive
    /// `[B or 1, 1, T, past + T]`; with a cache, keys and values are appended to layer `i`'s.
    fn forward(
        &self,
        x: Tensor<3>,
        rope: &(Tensor<4>, Tensor<4>),
        mask: Tensor<4>,
        cache: Option<(&mut KvCache, usize)>,
    ) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let (h, kv, hd) = (self.n_head, self.n_kv, self.head_dim);
        let x = x.reshape([b * t, d]);
        let heads = |y: Tensor<2>, n: usize| y.reshape([b, t, n, hd]).swap_dims(1, 2);
        let q = apply_rope(heads(self.q_proj.forward(x.clone()), h), rope);
        let k = apply_rope(heads(self.k_proj.forward(x.clone()), kv), rope);
        let v = heads(self.v_proj.forward(x), kv);
        let (k, v) = match cache {
            Some((c, i)) => c.extend(i, k, v),
            None => (k, v),
        };
        // Grouped-query attention: query head i reads key/value head i / (H / KV).
        let (k, v) = (repeat_kv(k, h / kv), repeat_kv(v, h / kv));
        let scores = q
            .matmul(k.swap_dims(2, 3))
            .mul_scalar(1.0 / (hd as f64).sqrt())
            .add(mask);
        // The softmax in f32, as HF's eager attention does in f16.
        let dtype = scores.dtype();
        let y = dtype::to(softmax(dtype::to_f32(scores), 3), dtype).matmul(v); // [B, H, T, hd]
        let y = y.swap_dims(1, 2).reshape([b * t, h * hd]);
        self.o_proj.forward(y).reshape([b, t, d])
    }
}

/// `[B, KV, T, hd]` → `[B, KV·n, T, hd]`, each head repeated `n` times in place.
fn repeat_kv(x: Tensor<4>, n: usize) -> Tensor<4> {
    if n == 1 {
        return x;
    }
    let [b, kv, t, hd] = x.dims();
    x.unsqueeze_dim::<5>(2)
        .repeat_dim(2, n)
        .reshape([b, kv * n, t, hd])
}

/// HF's rotate-half RoPE: `x·cos + rotate_half(x)·sin`, `rotate_half([a, b]) = [-b, a]`.
fn apply_rope(x: Tensor<4>, (cos, sin): &(Tensor<4>, Tensor<4>)) -> Tensor<4> {
    let hd = x.dims()[3];
    let half = hd / 2;
    let a = x.clone().narrow(3, 0, half);
    let b2 = x.clone().narrow(3, half, half);
    let rotated = Tensor::cat(vec![b2.neg(), a], 3);
    x.mul(cos.clone()).add(rotated.mul(sin.clone()))
}

#[derive(Module, Debug)]
pub struct Mlp {
    pub gate_proj: AdaptedLinear,
    pub up_proj: AdaptedLinear,
    pub down_proj: AdaptedLinear,
}

#[derive(Module, Debug)]
pub struct Block {
    pub input_layernorm: RmsNorm,
    pub self_attn: Attention,
    pub post_attention_layernorm: RmsNorm,
    pub mlp: Mlp,
}

#[derive(Module, Debug)]
pub struct Llama {
    /// Token embedding `[vocab, D]`, also the LM head when tied.
    pub embed_tokens: Param<Tensor<2>>,
    pub layers: Vec<Block>,
    pub norm: RmsNorm,
    /// Untied LM head `[vocab, D]`.
    pub lm_head: Option<Param<Tensor<2>>>,
    #[module(skip)]
    pub config: LlamaConfig,
    /// SHA-256 over the base weights as loaded (names and f32 values), as for GPT-2.
    #[module(skip)]
    pub weights_hash: String,
}

impl Llama {
    fn block_modules<'a>(&self, b: &'a Block) -> [(&'static str, &'a AdaptedLinear); 7] {
        [
            ("q_proj", &b.self_attn.q_proj),
            ("k_proj", &b.self_attn.k_proj),
            ("v_proj", &b.self_attn.v_proj),
            ("o_proj", &b.self_attn.o_proj),
            ("gate_proj", &b.mlp.gate_proj),
            ("up_proj", &b.mlp.up_proj),
            ("down_proj", &b.mlp.down_proj),
        ]
    }
}

impl Llama {
    /// The blocks over `ids` at positions `past..past + T` (`past` = what `cache` holds).
    fn forward(
        &self,
        ids: Tensor<2, Int>,
        keep: Option<Tensor<2>>,
        mut cache: Option<&mut KvCache>,
    ) -> Tensor<3> {
        let [b, t] = ids.dims();
        let device = ids.device();
        let d = self.config.hidden_size;
        let past = cache.as_ref().map_or(0, |c| c.len());
        let mut x = self
            .embed_tokens
            .val()
            .select(0, ids.reshape([b * t]))
            .reshape([b, t, d]);
        let window = if self.config.model_type.as_deref() == Some("mistral") {
            self.config.sliding_window
        } else {
            None
        };
        let mask = super::attention_mask_at(t, past, keep, window, &device);
        let rope = rope::rope_tables(&self.config, past, t, &device);
        for (i, block) in self.layers.iter().enumerate() {
            let h = block.input_layernorm.forward(x.clone());
            let layer_cache = cache.as_deref_mut().map(|c| (c, i));
            x = x.add(block.self_attn.forward(h, &rope, mask.clone(), layer_cache));
            let h = block
                .post_attention_layernorm
                .forward(x.clone())
                .reshape([b * t, d]);
            let mlp = &block.mlp;
            let inner = silu(mlp.gate_proj.forward(h.clone())).mul(mlp.up_proj.forward(h));
            x = x.add(mlp.down_proj.forward(inner).reshape([b, t, d]));
        }
        self.norm.forward(x)
    }
}

impl Architecture for Llama {
    fn model_types() -> &'static [&'static str] {
        &["llama", "mistral"]
    }

    fn load(dir: &Path, device: &Device) -> Result<Self> {
        Llama::load(dir, device)
    }

    fn with_weights(&self, ckpt: &Checkpoint, device: &Device) -> Result<Self> {
        Llama::from_checkpoint(self.config.clone(), ckpt, device)
    }

    fn with_base_trainable(self, trainable: bool) -> Self {
        let layers = self
            .layers
            .into_iter()
            .map(|b| Block {
                input_layernorm: set_norm(b.input_layernorm, trainable),
                post_attention_layernorm: set_norm(b.post_attention_layernorm, trainable),
                ..b
            })
            .collect();
        Self {
            embed_tokens: self.embed_tokens.set_require_grad(trainable),
            layers,
            norm: set_norm(self.norm, trainable),
            lm_head: self.lm_head.map(|h| h.set_require_grad(trainable)),
            config: self.config,
            weights_hash: self.weights_hash,
        }
    }

    /// Final hidden states after the last norm: `ids: [B, T]` → `[B, T, D]`. `keep` marks real
    /// tokens (1) and right padding (0), `[B, T]`; padded keys are masked out of attention.
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
            None => self.embed_tokens.val(),
        };
        super::head_logits(hidden, head)
    }

    /// The projection at a path such as `layers.0.self_attn.q_proj` (a leading `model.` is
    /// accepted, as is the short form `layers.0.q_proj`).
    fn module(&self, path: &str) -> Result<&AdaptedLinear> {
        let err = || {
            Error::config(format!(
                "unknown module `{path}`: expected layers.N.self_attn.<q|k|v|o>_proj or \
                 layers.N.mlp.<gate|up|down>_proj with N in 0..{}",
                self.layers.len()
            ))
        };
        let rest = path.strip_prefix("model.").unwrap_or(path);
        let rest = rest.strip_prefix("layers.").ok_or_else(err)?;
        let (idx, name) = rest.split_once('.').ok_or_else(err)?;
        let i: usize = idx.parse().map_err(|_| err())?;
        let block = self.layers.get(i).ok_or_else(err)?;
        self.block_modules(block)
            .into_iter()
            .find(|(n, _)| *n == short_name(name))
            .map(|(_, m)| m)
            .ok_or_else(err)
    }

    /// Every projection with its path.
    fn modules(&self) -> Vec<(String, &AdaptedLinear)> {
        let mut out = Vec::new();
        for (i, b) in self.layers.iter().enumerate() {
            for (name, m) in self.block_modules(b) {
                out.push((module_path(i, name), m));
            }
        }
        out
    }

    /// Every projection with its path, mutably (adapter loading).
    fn modules_mut(&mut self) -> Vec<(String, &mut AdaptedLinear)> {
        let mut out = Vec::new();
        for (i, b) in self.layers.iter_mut().enumerate() {
            let a = &mut b.self_attn;
            let m = &mut b.mlp;
            for (name, l) in [
                ("q_proj", &mut a.q_proj),
                ("k_proj", &mut a.k_proj),
                ("v_proj", &mut a.v_proj),
                ("o_proj", &mut a.o_proj),
                ("gate_proj", &mut m.gate_proj),
                ("up_proj", &mut m.up_proj),
                ("down_proj", &mut m.down_proj),
            ] {
                out.push((module_path(i, name), l));
            }
        }
        out
    }

    fn target_modules(&self) -> &'static [&'static str] {
        &TARGET_MODULES
    }

    fn check_targets(&self, targets: &[String]) -> Result<()> {
        check_targets(targets)
    }

    /// Paths are `layers.N.<group>.<name>`; targets may omit the group.
    fn is_target(&self, path: &str, config: &AdapterConfig) -> bool {
        let name = path.rsplit('.').next().unwrap_or("");
        config.targets.iter().any(|t| short_name(t) == name)
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
        "model."
    }

    fn arch(&self) -> &'static str {
        if self.config.model_type.as_deref() == Some("mistral") {
            "mistral"
        } else {
            "llama"
        }
    }

    fn hidden_size(&self) -> usize {
        self.config.hidden_size
    }

    fn vocab_size(&self) -> usize {
        self.config.vocab_size
    }

    fn max_positions(&self) -> usize {
        self.config.max_position_embeddings
    }

    fn pad_id(&self) -> u32 {
        self.config.eos_id().unwrap_or(0)
    }

    fn eos_id(&self) -> Option<u32> {
        self.config.eos_id()
    }

    fn num_layers(&self) -> usize {
        self.config.num_hidden_layers
    }

    fn device(&self) -> Device {
        self.embed_tokens.val().device()
    }
}

fn module_path(layer: usize, name: &str) -> String {
    let group = if bias_group_attn(name) {
        "self_attn"
    } else {
        "mlp"
    };
    format!("layers.{layer}.{group}.{name}")
}

fn bias_group_attn(name: &str) -> bool {
    matches!(name, "q_proj" | "k_proj" | "v_proj" | "o_proj")
}

fn set_norm(n: RmsNorm, trainable: bool) -> RmsNorm {
    RmsNorm {
        weight: n.weight.set_require_grad(trainable),
        eps: n.eps,
    }
}

/// Accepts the projection names Llama has (with or without `self_attn.` / `mlp.`).
pub fn check_targets(targets: &[String]) -> Result<()> {
    if targets.is_empty() {
        return Err(Error::config("no target modules given"));
    }
    for t in targets {
        if !TARGET_MODULES.contains(&short_name(t)) {
            return Err(Error::config(format!(
                "unknown target module `{t}`: Llama-family models have {}",
                TARGET_MODULES.join(", ")
            )));
        }
    }
    Ok(())
}
