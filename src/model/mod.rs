//! Language models and their tokenizers, loaded from HF model folders.
//!
//! * [`arch`]: the [`Architecture`] trait every family implements; [`lm`]: [`LanguageModel`],
//!   one type over the families (registered there, one line each), loading by `model_type`;
//! * [`attach`]: the one loop that attaches adapters to a model's target modules;
//! * [`gpt2`], [`llama`]: each family's architecture, config and checkpoint loading;
//! * [`weights`] (safetensors checkpoints), [`gguf`] (GGUF import), [`head`] (task heads),
//!   [`store`] (adapter files).

pub mod arch;
pub mod attach;
pub mod cache;
pub mod generate;
pub mod gguf;
pub mod gpt2;
pub mod head;
pub mod llama;
pub mod lm;
pub mod merge;
pub mod peft;
pub mod store;
pub mod weights;

pub use arch::{Architecture, Selections};
pub use cache::KvCache;
pub use gpt2::{Gpt2, Gpt2Config};
pub use head::{Head, Pooling};
pub use llama::{Llama, LlamaConfig};
pub use lm::{Family, LanguageModel};

/// What attaching reads of each target weight, by module path (see
/// [`LanguageModel::target_weights`]): host copies on the CPU, squared norms on a GPU.
pub type HostWeights = std::collections::HashMap<String, crate::adapters::WeightRead>;

use crate::core::error::{Error, Result};
use std::path::Path;
use tokenizers::Tokenizer;

/// LM logits `[B, T, vocab]` from hidden states `[B, T, D]` and a head `[vocab, D]` (the tied
/// token embedding or an untied `lm_head`).
pub fn head_logits(
    hidden: burn::tensor::Tensor<3>,
    head: burn::tensor::Tensor<2>,
) -> burn::tensor::Tensor<3> {
    let [b, t, d] = hidden.dims();
    let v = head.dims()[0];
    hidden
        .reshape([b * t, d])
        .matmul(head.transpose())
        .reshape([b, t, v])
}

/// Mean next-token cross-entropy of `logits` (`[B, T, vocab]`) against `ids` (`[B, T]`) shifted
/// by one: HF's `labels=input_ids` loss.
pub fn next_token_loss(
    logits: burn::tensor::Tensor<3>,
    ids: burn::tensor::Tensor<2, burn::tensor::Int>,
) -> burn::tensor::Tensor<1> {
    let [b, t, v] = logits.dims();
    let n = b * (t - 1);
    let pred = logits.narrow(1, 0, t - 1).reshape([n, v]);
    let target = ids.narrow(1, 1, t - 1).reshape([n, 1]);
    burn::tensor::activation::log_softmax(crate::core::dtype::to_f32(pred), 1)
        .gather(1, target)
        .mean()
        .neg()
}

/// Loads `tokenizer.json` from a model folder.
pub fn load_tokenizer(dir: &Path) -> Result<Tokenizer> {
    let path = dir.join("tokenizer.json");
    if !crate::core::fsutil::exists(&path) {
        return Err(Error::io(
            &path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "file not found"),
        ));
    }
    let bytes = crate::core::fsutil::read(&path)?;
    // The tokenizers crate (0.22, and 0.23 still) panics on some malformed files instead of
    // returning an error: a syntax error inside `decoder`, an unreadable
    // `precompiled_charsmap` (both found by fuzz/fuzz_targets/tokenizer.rs). The syntax is
    // checked here first, for an error with its line and column, and any panic left is caught.
    serde_json::from_slice::<serde::de::IgnoredAny>(&bytes)
        .map_err(|e| Error::format(&path, format!("not valid JSON: {e}")))?;
    let parsed = std::panic::catch_unwind(|| Tokenizer::from_bytes(&bytes)).map_err(|panic| {
        let why = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "no message".into());
        Error::format(
            &path,
            format!("not a valid tokenizers file: the tokenizers library failed on it ({why})"),
        )
    })?;
    let mut tok =
        parsed.map_err(|e| Error::format(&path, format!("not a valid tokenizers file: {e}")))?;
    // Batching and windows are ours: padding or truncation saved in the file would turn pads
    // into real tokens or silently cut texts.
    tok.with_padding(None);
    tok.with_truncation(None)
        .map_err(|e| Error::format(&path, format!("cannot disable truncation: {e}")))?;
    Ok(tok)
}

/// Token ids of `text` as is (no special tokens added), as `tokenizer(text)` does for GPT-2.
pub fn encode(tokenizer: &Tokenizer, text: &str, source: &Path) -> Result<Vec<u32>> {
    let enc = tokenizer
        .encode(text, false)
        .map_err(|e| Error::format(source, format!("tokenization failed: {e}")))?;
    Ok(enc.get_ids().to_vec())
}

/// Added to attention scores that must be ignored (causal future, padding).
const MASKED: f32 = -1e9;
/// The same in f16, whose largest finite magnitude is 65,504.
const MASKED_F16: f32 = -3e4;

/// Additive attention mask `[B or 1, 1, t, past + t]` for `t` new queries after `past` cached
/// positions (query `i` is position `past + i`): causal (a query sees keys `j ≤ i`, and only
/// `j > i - window` with a sliding window), plus padded keys when `keep` is given (only for a
/// pass without a cache).
pub(crate) fn attention_mask_at(
    t: usize,
    past: usize,
    keep: Option<burn::tensor::Tensor<2>>,
    window: Option<usize>,
    device: &burn::tensor::Device,
) -> burn::tensor::Tensor<4> {
    // Causally masked scores are −∞ on the CPU: libm's `expf` takes a slow path that sets
    // `errno` for every finite input that underflows (`xflowf`: 2.5 % of a SmolLM2 step in
    // `perf`), but returns 0 at once for −∞. The result is the same 0. Every row keeps its
    // diagonal, so no row is all −∞. WGSL does not promise IEEE infinities, so the GPU keeps a
    // large finite value; padding stays finite everywhere (a padded query may see only pads).
    // In f16 (`--dtype f16`) the masks are made in f16: −1e9 would be −∞ there and `0·(−∞)` in
    // the padding term NaN, so both use a finite value f16 holds even when added twice.
    let half = crate::core::dtype::default_float(device) != burn::tensor::FloatDType::F32;
    let masked = if half { MASKED_F16 } else { MASKED };
    let future_value = if half {
        MASKED_F16
    } else if crate::core::device::is_host_device(device) {
        f32::NEG_INFINITY
    } else {
        MASKED
    };
    let keys = past + t;
    let mut causal = vec![0f32; t * keys];
    for q in 0..t {
        let i = past + q;
        for j in 0..keys {
            let future = j > i;
            let too_far = window.is_some_and(|w| i >= j + w);
            if future || too_far {
                causal[q * keys + j] = future_value;
            }
        }
    }
    let causal = burn::tensor::Tensor::<2>::from_data(
        burn::tensor::TensorData::new(causal, [t, keys]),
        device,
    )
    .reshape([1, 1, t, keys]);
    match keep {
        None => causal,
        Some(keep) => {
            assert_eq!(past, 0, "padding masks are for passes without a cache");
            let [b, _] = keep.dims();
            let pad = keep
                .neg()
                .add_scalar(1.0)
                .mul_scalar(masked)
                .reshape([b, 1, 1, t]);
            causal.add(pad)
        }
    }
}
