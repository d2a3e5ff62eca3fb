//! Loading a Llama-family model from HF safetensors (one file or shards), and writing its
//! weights back under their HF names.

use super::{Attention, Block, Llama, LlamaConfig, Mlp, RmsNorm, bias_group_attn};
use crate::adapters::AdaptedLinear;
use crate::core::error::{Error, Result};
use crate::model::arch::Architecture;
use crate::model::weights::{Checkpoint, host};
use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};
use sha2::{Digest, Sha256};
use std::path::Path;

impl Llama {
    /// Loads `config.json` and the safetensors weights (single file or shards) of a folder.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let config = LlamaConfig::from_file(&dir.join("config.json"))?;
        let ckpt = Checkpoint::open_dir(dir)?;
        Self::from_checkpoint(config, &ckpt, device)
    }

    pub fn from_checkpoint(
        config: LlamaConfig,
        ckpt: &Checkpoint,
        device: &Device,
    ) -> Result<Self> {
        let c = &config;
        let d = c.hidden_size;
        let mut hasher = Sha256::new();
        let mut read = |key: &str, shape: &[usize]| -> Result<Vec<f32>> {
            let v = read(ckpt, key, shape)?;
            hasher.update(key.as_bytes());
            for x in &v {
                hasher.update(x.to_le_bytes());
            }
            Ok(v)
        };
        let embed = matrix(
            &mut read,
            "model.embed_tokens.weight",
            [c.vocab_size, d],
            device,
        )?;
        let mut layers = Vec::with_capacity(c.num_hidden_layers);
        for i in 0..c.num_hidden_layers {
            let p = format!("model.layers.{i}");
            let mut linear = |name: &str, bias: bool| -> Result<AdaptedLinear> {
                let [n_in, n_out] = c.module_shape(name).expect("known projection");
                let group = if bias_group_attn(name) {
                    "self_attn"
                } else {
                    "mlp"
                };
                let key = format!("{p}.{group}.{name}");
                let w = read(&format!("{key}.weight"), &[n_out, n_in])?;
                let wt = crate::adapters::linear::transpose(&w, [n_out, n_in]);
                drop(w);
                let wt = Tensor::<2>::from_data(TensorData::new(wt, [n_in, n_out]), device);
                let b = if bias {
                    let v = read(&format!("{key}.bias"), &[n_out])?;
                    Some(Tensor::<1>::from_data(TensorData::new(v, [n_out]), device))
                } else {
                    None
                };
                Ok(AdaptedLinear::frozen_linear(wt, b))
            };
            let self_attn = Attention {
                q_proj: linear("q_proj", c.attention_bias)?,
                k_proj: linear("k_proj", c.attention_bias)?,
                v_proj: linear("v_proj", c.attention_bias)?,
                o_proj: linear("o_proj", c.attention_bias)?,
                n_head: c.num_attention_heads,
                n_kv: c.kv_heads(),
                head_dim: c.head_dim(),
            };
            let mlp = Mlp {
                gate_proj: linear("gate_proj", c.mlp_bias)?,
                up_proj: linear("up_proj", c.mlp_bias)?,
                down_proj: linear("down_proj", c.mlp_bias)?,
            };
            let eps = c.rms_norm_eps;
            let input_layernorm = rms_norm(
                &mut read,
                &format!("{p}.input_layernorm.weight"),
                d,
                eps,
                device,
            )?;
            let post = format!("{p}.post_attention_layernorm.weight");
            layers.push(Block {
                input_layernorm,
                self_attn,
                post_attention_layernorm: rms_norm(&mut read, &post, d, eps, device)?,
                mlp,
            });
        }
        let final_norm = rms_norm(&mut read, "model.norm.weight", d, c.rms_norm_eps, device)?;
        // Some tied checkpoints still carry `lm_head.weight`; the config decides.
        let lm_head = if c.tie_word_embeddings {
            None
        } else {
            Some(matrix(
                &mut read,
                "lm_head.weight",
                [c.vocab_size, d],
                device,
            )?)
        };
        let weights_hash = format!("{:x}", hasher.finalize());
        Ok(Self {
            embed_tokens: embed,
            layers,
            norm: final_norm,
            lm_head,
            config,
            weights_hash,
        })
    }
}

fn frozen_param<const D: usize>(t: Tensor<D>) -> Param<Tensor<D>> {
    Param::from_tensor(t).set_require_grad(false)
}

fn matrix(
    read: &mut impl FnMut(&str, &[usize]) -> Result<Vec<f32>>,
    key: &str,
    shape: [usize; 2],
    device: &Device,
) -> Result<Param<Tensor<2>>> {
    let v = read(key, &shape)?;
    Ok(frozen_param(Tensor::from_data(
        TensorData::new(v, shape),
        device,
    )))
}

fn rms_norm(
    read: &mut impl FnMut(&str, &[usize]) -> Result<Vec<f32>>,
    key: &str,
    d: usize,
    eps: f64,
    device: &Device,
) -> Result<RmsNorm> {
    let v = read(key, &[d])?;
    Ok(RmsNorm {
        weight: frozen_param(Tensor::from_data(TensorData::new(v, [d]), device)),
        eps,
    })
}

fn read(ckpt: &Checkpoint, key: &str, shape: &[usize]) -> Result<Vec<f32>> {
    if !ckpt.contains(key) {
        return Err(Error::tensor(
            ckpt.path(),
            key,
            format!("missing (expected shape {shape:?})"),
        ));
    }
    ckpt.read_f32(key, shape)
}

/// Every base weight under its HF name (`nn.Linear` weights back in `[out, in]`), so that a
/// saved set loads back through [`Llama::from_checkpoint`].
pub(super) fn named_tensors(m: &Llama) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let mut out = Vec::new();
    let mut push1 = |name: String, t: Tensor<1>| {
        let (s, v) = host(t);
        out.push((name, s, v));
    };
    for (i, b) in m.layers.iter().enumerate() {
        push1(
            format!("model.layers.{i}.input_layernorm.weight"),
            b.input_layernorm.weight.val(),
        );
        push1(
            format!("model.layers.{i}.post_attention_layernorm.weight"),
            b.post_attention_layernorm.weight.val(),
        );
    }
    push1("model.norm.weight".into(), m.norm.weight.val());
    for (path, layer) in m.modules() {
        let name = format!("model.{path}");
        if let Some(b) = &layer.bias {
            let (s, v) = host(b.val());
            out.push((format!("{name}.bias"), s, v));
        }
        let ([n_in, n_out], w) = (layer.shape(), layer.weight_host());
        let w = crate::adapters::linear::transpose(&w, [n_in, n_out]);
        out.push((format!("{name}.weight"), vec![n_out, n_in], w));
    }
    let (s, v) = host(m.embed_tokens.val());
    out.push(("model.embed_tokens.weight".into(), s, v));
    if let Some(h) = &m.lm_head {
        let (s, v) = host(h.val());
        out.push(("lm_head.weight".into(), s, v));
    }
    out
}
