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

use super::HostWeights;
use super::config::{Activation, Gpt2Config};
use super::weights::Checkpoint;
use crate::adapters::{AdaptedLinear, AdapterConfig, CurSelection, Method};
use crate::core::error::{Error, Result};
use burn::module::{Module, Param};
use burn::tensor::activation::{gelu, gelu_approximate, relu, softmax};
use burn::tensor::{Device, Int, Tensor, TensorData};
use sha2::{Digest, Sha256};
use std::path::Path;

/// Module suffixes of a block that can carry an adapter.
pub const TARGET_MODULES: [&str; 4] = ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"];

/// Added to attention scores that must be ignored (causal future, padding).
const MASKED: f32 = -1e9;

#[derive(Module, Debug)]
pub struct LayerNorm {
    pub gamma: Param<Tensor<1>>,
    pub beta: Param<Tensor<1>>,
    #[module(skip)]
    pub eps: f64,
}

impl LayerNorm {
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let mean = x.clone().mean_dim(2);
        let centered = x.sub(mean);
        let var = centered.clone().powi_scalar(2).mean_dim(2);
        let normed = centered.div(var.add_scalar(self.eps).sqrt());
        normed
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
    /// `x: [B, T, D]`, `mask`: additive `[B or 1, 1, T, T]`.
    pub fn forward(&self, x: Tensor<3>, mask: Tensor<4>) -> Tensor<3> {
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
        let scores = q
            .matmul(k.swap_dims(2, 3))
            .mul_scalar(1.0 / (hd as f64).sqrt())
            .add(mask);
        let y = softmax(scores, 3).matmul(v); // [B, H, T, hd]
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

impl Gpt2 {
    /// Loads `config.json` and `model.safetensors` from an HF model folder.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let config = Gpt2Config::from_file(&dir.join("config.json"))?;
        let ckpt = Checkpoint::open(&dir.join("model.safetensors"))?;
        Self::from_checkpoint(config, &ckpt, device)
    }

    pub fn from_checkpoint(config: Gpt2Config, ckpt: &Checkpoint, device: &Device) -> Result<Self> {
        let c = &config;
        let d = c.n_embd;
        let hasher = std::cell::RefCell::new(Sha256::new());
        let read = |ckpt: &Checkpoint, key: &str, shape: &[usize]| -> Result<Vec<f32>> {
            let v = read(ckpt, key, shape)?;
            let mut h = hasher.borrow_mut();
            h.update(key.as_bytes());
            for x in &v {
                h.update(x.to_le_bytes());
            }
            Ok(v)
        };
        let frozen1 = |key: &str, n: usize| -> Result<Param<Tensor<1>>> {
            let v = read(ckpt, key, &[n])?;
            Ok(
                Param::from_tensor(Tensor::<1>::from_data(TensorData::new(v, [n]), device))
                    .set_require_grad(false),
            )
        };
        let frozen2 = |key: &str, shape: [usize; 2]| -> Result<Tensor<2>> {
            let v = read(ckpt, key, &shape)?;
            Ok(Tensor::<2>::from_data(TensorData::new(v, shape), device))
        };
        let ln = |prefix: &str| -> Result<LayerNorm> {
            Ok(LayerNorm {
                gamma: frozen1(&format!("{prefix}.weight"), d)?,
                beta: frozen1(&format!("{prefix}.bias"), d)?,
                eps: c.layer_norm_epsilon,
            })
        };
        let linear = |prefix: &str, shape: [usize; 2]| -> Result<AdaptedLinear> {
            let w = frozen2(&format!("{prefix}.weight"), shape)?;
            let b = read(ckpt, &format!("{prefix}.bias"), &[shape[1]])?;
            let b = Tensor::<1>::from_data(TensorData::new(b, [shape[1]]), device);
            Ok(AdaptedLinear::frozen(w, b))
        };
        let mut blocks = Vec::with_capacity(c.n_layer);
        for i in 0..c.n_layer {
            let p = format!("h.{i}");
            let shape = |s: &str| c.module_shape(s).expect("known module");
            blocks.push(Block {
                ln_1: ln(&format!("{p}.ln_1"))?,
                attn: Attention {
                    c_attn: linear(&format!("{p}.attn.c_attn"), shape("attn.c_attn"))?,
                    c_proj: linear(&format!("{p}.attn.c_proj"), shape("attn.c_proj"))?,
                    n_head: c.n_head,
                },
                ln_2: ln(&format!("{p}.ln_2"))?,
                mlp: Mlp {
                    c_fc: linear(&format!("{p}.mlp.c_fc"), shape("mlp.c_fc"))?,
                    c_proj: linear(&format!("{p}.mlp.c_proj"), shape("mlp.c_proj"))?,
                },
            });
        }
        let frozen_param2 = |key: &str, shape: [usize; 2]| -> Result<Param<Tensor<2>>> {
            Ok(Param::from_tensor(frozen2(key, shape)?).set_require_grad(false))
        };
        let lm_head = if c.tie_word_embeddings {
            None
        } else {
            let v = read(ckpt, "lm_head.weight", &[c.vocab_size, d])?;
            Some(
                Param::from_tensor(Tensor::<2>::from_data(
                    TensorData::new(v, [c.vocab_size, d]),
                    device,
                ))
                .set_require_grad(false),
            )
        };
        let wte = frozen_param2("wte.weight", [c.vocab_size, d])?;
        let wpe = frozen_param2("wpe.weight", [c.n_positions, d])?;
        let ln_f = ln("ln_f")?;
        let weights_hash = format!("{:x}", hasher.into_inner().finalize());
        Ok(Self {
            wte,
            wpe,
            blocks,
            ln_f,
            lm_head,
            config,
            weights_hash,
        })
    }

    /// Final hidden states after `ln_f`: `ids: [B, T]` → `[B, T, D]`.
    ///
    /// `keep` marks real tokens (1) and padding (0), `[B, T]`; padded keys are masked out of
    /// attention. Positions are 0..T (right padding, as HF GPT-2).
    pub fn hidden(&self, ids: Tensor<2, Int>, keep: Option<Tensor<2>>) -> Tensor<3> {
        let [b, t] = ids.dims();
        let device = ids.device();
        let d = self.config.n_embd;
        assert!(
            t <= self.config.n_positions,
            "sequence of {t} tokens exceeds n_positions = {}",
            self.config.n_positions
        );
        let tok = self
            .wte
            .val()
            .select(0, ids.reshape([b * t]))
            .reshape([b, t, d]);
        let pos = self.wpe.val().narrow(0, 0, t).unsqueeze::<3>();
        let mut x = tok.add(pos);
        let mask = attention_mask(t, keep, None, &device);
        let act = self.config.activation().expect("validated");
        for block in &self.blocks {
            x = x.clone().add(
                block
                    .attn
                    .forward(block.ln_1.forward(x.clone()), mask.clone()),
            );
            let h = block.ln_2.forward(x.clone());
            let inner = block.mlp.c_fc.forward(h.reshape([b * t, d]));
            let inner = match act {
                Activation::GeluTanh => gelu_approximate(inner),
                Activation::Gelu => gelu(inner),
                Activation::Relu => relu(inner),
            };
            x = x.add(block.mlp.c_proj.forward(inner).reshape([b, t, d]));
        }
        self.ln_f.forward(x)
    }

    /// LM logits for hidden states: `[B, T, D]` → `[B, T, vocab]`.
    pub fn lm_logits(&self, hidden: Tensor<3>) -> Tensor<3> {
        let head = match &self.lm_head {
            Some(h) => h.val(),
            None => self.wte.val(),
        };
        super::head_logits(hidden, head)
    }

    pub fn logits(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        self.lm_logits(self.hidden(ids, None))
    }

    /// Mean next-token cross-entropy over all positions of `ids` (HF's `labels=input_ids`).
    pub fn lm_loss(&self, ids: Tensor<2, Int>) -> Tensor<1> {
        super::next_token_loss(self.logits(ids.clone()), ids)
    }

    /// Attaches adapters to every block's target modules and sets which parameters train.
    /// Returns the CUR selections by module path (empty for other methods).
    pub fn with_adapters(
        self,
        config: &AdapterConfig,
    ) -> Result<(Self, Vec<(String, CurSelection)>)> {
        self.with_adapters_host(config, &HostWeights::new())
    }

    /// Whether `with_adapters(config)` puts an adapter on the module at `path` (`h.N.<module>`).
    pub fn is_target(path: &str, config: &AdapterConfig) -> bool {
        let suffix = path.splitn(3, '.').nth(2).unwrap_or("");
        config.targets.iter().any(|t| t == suffix)
    }

    /// [`with_adapters`](Self::with_adapters) with the weights CUR selects from already on the
    /// host (by module path); modules missing from `host` are read back synchronously.
    pub fn with_adapters_host(
        self,
        config: &AdapterConfig,
        host: &HostWeights,
    ) -> Result<(Self, Vec<(String, CurSelection)>)> {
        check_targets(&config.targets)?;
        let full = config.method == Method::Full;
        let mut selections = Vec::new();
        let mut blocks = Vec::with_capacity(self.blocks.len());
        for (i, block) in self.blocks.into_iter().enumerate() {
            let Block {
                ln_1,
                attn,
                ln_2,
                mlp,
            } = block;
            let mut apply = |suffix: &str, layer: AdaptedLinear| -> Result<AdaptedLinear> {
                let targeted = full || config.targets.iter().any(|t| t == suffix);
                let name = format!("h.{i}.{suffix}");
                let mut cfg = config.clone();
                if !targeted {
                    cfg.method = Method::Frozen;
                }
                let (layer, sel) =
                    layer.attach_with(&name, &cfg, host.get(&name).map(Vec::as_slice))?;
                if let Some(sel) = sel {
                    selections.push((name, sel));
                }
                Ok(layer)
            };
            let attn = Attention {
                c_attn: apply("attn.c_attn", attn.c_attn)?,
                c_proj: apply("attn.c_proj", attn.c_proj)?,
                n_head: attn.n_head,
            };
            let mlp = Mlp {
                c_fc: apply("mlp.c_fc", mlp.c_fc)?,
                c_proj: apply("mlp.c_proj", mlp.c_proj)?,
            };
            blocks.push(Block {
                ln_1: set_ln(ln_1, full),
                attn,
                ln_2: set_ln(ln_2, full),
                mlp,
            });
        }
        let model = Self {
            wte: self.wte.set_require_grad(full),
            wpe: self.wpe.set_require_grad(full),
            blocks,
            ln_f: set_ln(self.ln_f, full),
            lm_head: self.lm_head.map(|h| h.set_require_grad(full)),
            config: self.config,
            weights_hash: self.weights_hash,
        };
        Ok((model, selections))
    }

    /// The linear module at a path such as `h.0.attn.c_attn`.
    pub fn module(&self, path: &str) -> Result<&AdaptedLinear> {
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
    pub fn modules(&self) -> Vec<(String, &AdaptedLinear)> {
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
    pub fn modules_mut(&mut self) -> Vec<(String, &mut AdaptedLinear)> {
        let mut out = Vec::new();
        for (i, b) in self.blocks.iter_mut().enumerate() {
            out.push((format!("h.{i}.attn.c_attn"), &mut b.attn.c_attn));
            out.push((format!("h.{i}.attn.c_proj"), &mut b.attn.c_proj));
            out.push((format!("h.{i}.mlp.c_fc"), &mut b.mlp.c_fc));
            out.push((format!("h.{i}.mlp.c_proj"), &mut b.mlp.c_proj));
        }
        out
    }

    /// Number of trained parameters under the current adapters (classification heads excluded,
    /// as in the paper's counts). For a full fine-tune: every weight of the model, including
    /// the token embedding that also serves as the tied LM head.
    pub fn trainable_params(&self, method: Method) -> usize {
        match method {
            Method::Full => self.num_params(),
            _ => self
                .modules()
                .iter()
                .map(|(_, m)| m.trainable_params(false))
                .sum(),
        }
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

/// Reads `key` (or `transformer.key`) from the checkpoint.
fn read(ckpt: &Checkpoint, key: &str, shape: &[usize]) -> Result<Vec<f32>> {
    let candidates = [key.to_string(), format!("transformer.{key}")];
    match ckpt.find(&candidates) {
        Some(k) => ckpt.read_f32(&k, shape),
        None => Err(Error::tensor(
            ckpt.path(),
            key,
            format!(
                "missing (looked for `{key}` and `transformer.{key}`; expected shape {shape:?})"
            ),
        )),
    }
}

/// Additive attention mask `[B or 1, 1, T, T]`: causal (query `i` sees keys `j ≤ i`, and only
/// `j > i - window` with a sliding window), plus padded keys when `keep` is given.
pub(crate) fn attention_mask(
    t: usize,
    keep: Option<Tensor<2>>,
    window: Option<usize>,
    device: &Device,
) -> Tensor<4> {
    let mut causal = vec![0f32; t * t];
    for i in 0..t {
        for j in 0..t {
            let future = j > i;
            let too_far = window.is_some_and(|w| i >= j + w);
            if future || too_far {
                causal[i * t + j] = MASKED;
            }
        }
    }
    let causal =
        Tensor::<2>::from_data(TensorData::new(causal, [t, t]), device).reshape([1, 1, t, t]);
    match keep {
        None => causal,
        Some(keep) => {
            let [b, _] = keep.dims();
            let pad = keep
                .neg()
                .add_scalar(1.0)
                .mul_scalar(MASKED)
                .reshape([b, 1, 1, t]);
            causal.add(pad)
        }
    }
}

/// A tensor's shape and f32 values on the host.
pub fn host<const D: usize>(t: Tensor<D>) -> (Vec<usize>, Vec<f32>) {
    let shape = t.dims().to_vec();
    let v = t
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 tensor");
    (shape, v)
}

impl Gpt2 {
    /// Every base weight under its HF name (no `transformer.` prefix), so that a saved set
    /// loads back through [`Gpt2::from_checkpoint`].
    pub fn named_tensors(&self) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        let mut out = Vec::new();
        let push1 = |out: &mut Vec<_>, name: String, t: Tensor<1>| {
            let (s, v) = host(t);
            out.push((name, s, v));
        };
        for (i, b) in self.blocks.iter().enumerate() {
            for (ln, n) in [(&b.ln_1, "ln_1"), (&b.ln_2, "ln_2")] {
                push1(&mut out, format!("h.{i}.{n}.weight"), ln.gamma.val());
                push1(&mut out, format!("h.{i}.{n}.bias"), ln.beta.val());
            }
        }
        push1(&mut out, "ln_f.weight".into(), self.ln_f.gamma.val());
        push1(&mut out, "ln_f.bias".into(), self.ln_f.beta.val());
        for (name, layer) in self.modules() {
            if let Some(b) = &layer.bias {
                push1(&mut out, format!("{name}.bias"), b.val());
            }
            let (s, v) = host(layer.weight.val());
            out.push((format!("{name}.weight"), s, v));
        }
        let (s, v) = host(self.wte.val());
        out.push(("wte.weight".into(), s, v));
        let (s, v) = host(self.wpe.val());
        out.push(("wpe.weight".into(), s, v));
        if let Some(h) = &self.lm_head {
            let (s, v) = host(h.val());
            out.push(("lm_head.weight".into(), s, v));
        }
        out
    }
}
