//! `curlora merge`: an HF model folder whose weights are `W + ΔW`, loadable by transformers (and
//! so by vLLM and llama.cpp's converter) and by our own commands, in the source's dtype.
//!
//! Every method merges, whatever its form: each adapted module's `ΔW` is added to the weight
//! the layer holds (PiSSA's residual included), a full fine-tune's weights are written as
//! trained. The folder gets the source's `config.json` and tokenizer files unchanged.

use super::LanguageModel;
use super::weights::Checkpoint;
use crate::adapters::{AnyAdapter, Frozen};
use crate::core::error::{Error, Result};
use burn::module::Param;
use safetensors::Dtype;
use std::path::Path;

/// The files of an HF folder besides its weights that a merged folder keeps.
const COPIED: [&str; 7] = [
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
];

/// What a merge wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub modules: usize,
    pub tensors: usize,
    pub dtype: String,
    pub bytes: usize,
}

/// `model` with every adapter folded into its weight (`W ← W + ΔW`) and detached.
pub fn fold(mut model: LanguageModel) -> (LanguageModel, usize) {
    let mut merged = 0;
    for (_, layer) in model.modules_mut() {
        if let Some(dw) = layer.adapter.get().delta_weight() {
            let w = layer.weight.val();
            let dtype = w.dtype();
            let sum = w.add(crate::core::dtype::to(dw, dtype));
            layer.weight = Param::from_tensor(sum).set_require_grad(false);
            merged += 1;
        }
        layer.adapter = AnyAdapter::Frozen(Frozen {});
    }
    (model, merged)
}

/// The dtype most of the source's weights are stored in (F32 when it cannot be told).
fn source_dtype(src: &Path) -> Dtype {
    let Ok(ckpt) = Checkpoint::open_dir(src) else {
        return Dtype::F32;
    };
    let mut counts: Vec<(Dtype, usize)> = Vec::new();
    for k in ckpt.keys() {
        if let Some(d) = ckpt.dtype(&k) {
            match counts.iter_mut().find(|(x, _)| *x == d) {
                Some((_, n)) => *n += 1,
                None => counts.push((d, 1)),
            }
        }
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(d, _)| d)
        .filter(|d| matches!(d, Dtype::F32 | Dtype::F16 | Dtype::BF16))
        .unwrap_or(Dtype::F32)
}

/// Writes `model` (adapters attached) merged into the HF folder `out`; `src` is the base's
/// folder, whose config, tokenizer and dtype the merged folder takes.
pub fn merge(model: LanguageModel, src: &Path, out: &Path) -> Result<Merged> {
    let dtype = source_dtype(src);
    let (model, modules) = fold(model);
    let prefix = model.hf_prefix();
    let tensors: Vec<(String, Vec<usize>, Vec<f32>)> = model
        .named_tensors()
        .into_iter()
        .map(|(name, shape, v)| {
            // transformers' own names: `transformer.h.0…` for GPT-2, as save_pretrained writes.
            let name = if name.starts_with(prefix) || name.starts_with("lm_head.") {
                name
            } else {
                format!("{prefix}{name}")
            };
            (name, shape, v)
        })
        .collect();
    let mut md = std::collections::HashMap::new();
    md.insert("format".to_string(), "pt".to_string());
    let bytes = super::weights::serialize(&tensors, dtype, Some(md))?;
    std::fs::create_dir_all(out).map_err(|e| Error::write(out, e))?;
    // The weights first and config.json last: a folder with a config is complete.
    crate::core::fsutil::write_atomic(&out.join("model.safetensors"), &bytes)?;
    for name in COPIED.iter().rev() {
        let from = src.join(name);
        if from.exists() {
            let data = crate::core::fsutil::read(&from)?;
            crate::core::fsutil::write_atomic(&out.join(name), &data)?;
        }
    }
    Ok(Merged {
        modules,
        tensors: tensors.len(),
        dtype: format!("{dtype:?}"),
        bytes: bytes.len(),
    })
}
