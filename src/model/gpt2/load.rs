//! Loading GPT-2 from an HF checkpoint, and writing its weights back under their HF names.

use super::{Attention, Block, Gpt2, Gpt2Config, LayerNorm, Mlp};
use crate::adapters::AdaptedLinear;
use crate::core::error::{Error, Result};
use crate::model::arch::Architecture;
use crate::model::weights::{Checkpoint, host};
use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};
use sha2::{Digest, Sha256};
use std::path::Path;

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

/// Every base weight under its HF name (no `transformer.` prefix), so that a saved set loads
/// back through [`Gpt2::from_checkpoint`].
pub(super) fn named_tensors(m: &Gpt2) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let mut out = Vec::new();
    let push1 = |out: &mut Vec<_>, name: String, t: Tensor<1>| {
        let (s, v) = host(t);
        out.push((name, s, v));
    };
    for (i, b) in m.blocks.iter().enumerate() {
        for (ln, n) in [(&b.ln_1, "ln_1"), (&b.ln_2, "ln_2")] {
            push1(&mut out, format!("h.{i}.{n}.weight"), ln.gamma.val());
            push1(&mut out, format!("h.{i}.{n}.bias"), ln.beta.val());
        }
    }
    push1(&mut out, "ln_f.weight".into(), m.ln_f.gamma.val());
    push1(&mut out, "ln_f.bias".into(), m.ln_f.beta.val());
    for (name, layer) in m.modules() {
        if let Some(b) = &layer.bias {
            push1(&mut out, format!("{name}.bias"), b.val());
        }
        let (s, v) = host(layer.weight.val());
        out.push((format!("{name}.weight"), s, v));
    }
    let (s, v) = host(m.wte.val());
    out.push(("wte.weight".into(), s, v));
    let (s, v) = host(m.wpe.val());
    out.push(("wpe.weight".into(), s, v));
    if let Some(h) = &m.lm_head {
        let (s, v) = host(h.val());
        out.push(("lm_head.weight".into(), s, v));
    }
    out
}
