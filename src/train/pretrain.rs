//! Pretraining a small GPT-2 from scratch: a byte-level BPE tokenizer trained with the
//! tokenizers crate, then next-token training on a text corpus. The result is an ordinary HF
//! model folder (`config.json`, `model.safetensors`, `tokenizer.json`) that every other command
//! loads like any GPT-2. This is how the embedded default model in `assets/` is made.

use crate::core::error::{Error, Result};
use crate::core::fsutil::write_atomic;
use crate::core::rng::Rng;
use crate::model::weights::Checkpoint;
use crate::model::{Architecture, Gpt2, Gpt2Config};
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use safetensors::Dtype;
use serde::{Deserialize, Serialize};
use std::path::Path;
use tokenizers::models::TrainerWrapper;
use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, Tokenizer};

/// The end-of-text token, id 0 in tokenizers we train.
pub const EOS: &str = "<|endoftext|>";

/// Trains a GPT-2-style byte-level BPE tokenizer (no prefix space, `<|endoftext|>` = id 0)
/// on the lines of `texts`.
pub fn train_tokenizer(texts: &[String], vocab_size: usize) -> Result<Tokenizer> {
    let mut trainer: TrainerWrapper = BpeTrainerBuilder::new()
        .vocab_size(vocab_size)
        .min_frequency(2)
        .show_progress(false)
        .special_tokens(vec![AddedToken::from(EOS, true)])
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .build()
        .into();
    let mut tok = Tokenizer::new(BPE::default());
    tok.with_pre_tokenizer(Some(ByteLevel::default().add_prefix_space(false)));
    tok.with_decoder(Some(ByteLevel::default()));
    tok.with_post_processor(Some(ByteLevel::default().trim_offsets(false)));
    let lines = texts
        .iter()
        .flat_map(|t| t.lines())
        .filter(|l| !l.trim().is_empty());
    tok.train(&mut trainer, lines)
        .map_err(|e| Error::config(format!("tokenizer training failed: {e}")))?;
    Ok(tok)
}

/// GPT-2's initialisation (Radford et al. 2019): weights ~ N(0, 0.02), residual projections
/// scaled by 1/√(2·n_layer), biases 0, LayerNorm 1/0; drawn from a seeded stream.
pub fn init_weights(c: &Gpt2Config, seed: u64) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let mut rng = Rng::for_name(seed, "pretrain:init");
    let mut normal =
        |n: usize, std: f64| -> Vec<f32> { (0..n).map(|_| (rng.normal() * std) as f32).collect() };
    let d = c.n_embd;
    let resid = 0.02 / (2.0 * c.n_layer as f64).sqrt();
    let mut out = vec![
        (
            "wte.weight".to_string(),
            vec![c.vocab_size, d],
            normal(c.vocab_size * d, 0.02),
        ),
        (
            "wpe.weight".to_string(),
            vec![c.n_positions, d],
            normal(c.n_positions * d, 0.01),
        ),
    ];
    for i in 0..c.n_layer {
        for (name, std) in [
            ("attn.c_attn", 0.02),
            ("attn.c_proj", resid),
            ("mlp.c_fc", 0.02),
            ("mlp.c_proj", resid),
        ] {
            let [n_in, n_out] = c.module_shape(name).expect("known module");
            out.push((
                format!("h.{i}.{name}.weight"),
                vec![n_in, n_out],
                normal(n_in * n_out, std),
            ));
            out.push((format!("h.{i}.{name}.bias"), vec![n_out], vec![0.0; n_out]));
        }
        for ln in ["ln_1", "ln_2"] {
            out.push((format!("h.{i}.{ln}.weight"), vec![d], vec![1.0; d]));
            out.push((format!("h.{i}.{ln}.bias"), vec![d], vec![0.0; d]));
        }
    }
    out.push(("ln_f.weight".into(), vec![d], vec![1.0; d]));
    out.push(("ln_f.bias".into(), vec![d], vec![0.0; d]));
    out
}

/// Serializes named tensors to safetensors bytes, as F32 or F16.
pub fn to_safetensors(tensors: &[(String, Vec<usize>, Vec<f32>)], f16: bool) -> Vec<u8> {
    let dtype = if f16 { Dtype::F16 } else { Dtype::F32 };
    crate::model::weights::serialize(tensors, dtype, None).expect("serializable")
}

/// A freshly initialised model on `device`.
pub fn init_model(config: &Gpt2Config, seed: u64, device: &Device) -> Result<Gpt2> {
    let bytes = to_safetensors(&init_weights(config, seed), false);
    let ckpt = Checkpoint::from_bytes(Path::new("<init>"), bytes)?;
    Gpt2::from_checkpoint(config.clone(), &ckpt, device)
}

/// Writes an HF-style model folder (atomically, file by file).
pub fn save_model(dir: &Path, model: &Gpt2, tokenizer: &Tokenizer, f16: bool) -> Result<()> {
    let mut cfg = serde_json::to_value(&model.config).expect("serializable");
    cfg["model_type"] = "gpt2".into();
    cfg["architectures"] = serde_json::json!(["GPT2LMHeadModel"]);
    cfg["bos_token_id"] = cfg["eos_token_id"].clone();
    cfg["torch_dtype"] = if f16 { "float16" } else { "float32" }.into();
    write_atomic(
        &dir.join("config.json"),
        serde_json::to_string_pretty(&cfg).expect("json").as_bytes(),
    )?;
    write_atomic(
        &dir.join("model.safetensors"),
        &to_safetensors(&model.named_tensors(), f16),
    )?;
    let json = tokenizer
        .to_string(true)
        .map_err(|e| Error::config(format!("cannot serialize tokenizer: {e}")))?;
    write_atomic(&dir.join("tokenizer.json"), json.as_bytes())
}

/// Pretraining settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PretrainConfig {
    pub steps: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub warmup_steps: usize,
    pub weight_decay: f64,
    pub seed: u64,
    pub checkpoint_every: usize,
    pub f16: bool,
}

/// Where a pretraining run stands (saved next to checkpoints, for `--resume`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PretrainState {
    pub step: usize,
    pub config: PretrainConfig,
    pub train_tokens: usize,
    pub last_loss: f64,
}

/// Trains `model` on random windows of `tokens` from step `start`, calling `progress(step,
/// loss, lr)` after each step and `checkpoint(step, model, loss)` every `checkpoint_every`
/// steps and at the end. The optimizer restarts on resume (its moments are not saved).
pub fn train(
    mut model: Gpt2,
    tokens: &[u32],
    cfg: &PretrainConfig,
    start: usize,
    mut progress: impl FnMut(usize, f64, f64),
    mut checkpoint: impl FnMut(usize, &Gpt2, f64) -> Result<()>,
) -> Result<Gpt2> {
    let ctx = model.config.n_positions;
    if tokens.len() < ctx + 2 {
        return Err(Error::config(format!(
            "the corpus has {} tokens, fewer than one context window of {ctx}",
            tokens.len()
        )));
    }
    let device = model.wte.val().device();
    let mut optim = AdamWConfig::new()
        .with_weight_decay(cfg.weight_decay as f32)
        .with_epsilon(1e-8)
        .with_beta_2(0.95)
        .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
        .init();
    let mut last = f64::NAN;
    for step in start..cfg.steps {
        let mut rng = Rng::for_name(cfg.seed, &format!("pretrain:batch:{step}"));
        let mut ids = Vec::with_capacity(cfg.batch_size * ctx);
        for _ in 0..cfg.batch_size {
            let off = rng.below(tokens.len() - ctx);
            ids.extend(tokens[off..off + ctx].iter().map(|&t| i64::from(t)));
        }
        let x = Tensor::<2, Int>::from_data(TensorData::new(ids, [cfg.batch_size, ctx]), &device);
        let lr =
            crate::train::schedule::cosine_with_warmup(cfg.lr, step, cfg.warmup_steps, cfg.steps);
        let loss = model.lm_loss(x);
        let value = f64::from(loss.clone().into_scalar::<f32>());
        if !value.is_finite() {
            return Err(Error::Numeric(format!(
                "pretraining step {step}: the loss is {value}; the last checkpoint is kept. \
                 Try a lower --lr."
            )));
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(lr, model, grads);
        last = value;
        progress(step, value, lr);
        if cfg.checkpoint_every > 0
            && (step + 1) % cfg.checkpoint_every == 0
            && step + 1 < cfg.steps
        {
            checkpoint(step + 1, &model, value)?;
        }
    }
    checkpoint(cfg.steps, &model, last)?;
    Ok(model)
}
