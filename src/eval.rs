//! Language-model evaluation: mean next-token cross-entropy and perplexity.

use crate::error::{Error, Result};
use crate::model::Gpt2;
use burn::tensor::{Int, Tensor, TensorData};
use serde::Serialize;

/// The result of evaluating a model on a token sequence.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LmEval {
    /// Number of tokens in the evaluated window.
    pub tokens: usize,
    /// Mean next-token cross-entropy (nats) over the `tokens − 1` predictions.
    pub loss: f64,
    /// `exp(loss)`.
    pub perplexity: f64,
}

/// The reference code's perplexity: one forward pass over the first `max_tokens` ids
/// (no stride, no sliding window), `exp` of the mean next-token loss.
pub fn first_window(model: &Gpt2, ids: &[u32], max_tokens: usize) -> Result<LmEval> {
    let n = ids.len().min(max_tokens);
    if n < 2 {
        return Err(Error::config(format!(
            "need at least 2 tokens to measure a next-token loss, got {n}"
        )));
    }
    let ctx = model.config.n_positions;
    if n > ctx {
        return Err(Error::config(format!(
            "{n} tokens do not fit in one window: the model's context (n_positions) is {ctx}; \
             pass --max-tokens {ctx} or less"
        )));
    }
    let device = model.wte.val().device();
    let data: Vec<i64> = ids[..n].iter().map(|&i| i64::from(i)).collect();
    let vocab = model.config.vocab_size;
    if let Some(bad) = ids[..n].iter().find(|&&i| i as usize >= vocab) {
        return Err(Error::config(format!(
            "token id {bad} is outside the model's vocabulary of {vocab}: \
             tokenizer and model do not match"
        )));
    }
    let x = Tensor::<2, Int>::from_data(TensorData::new(data, [1, n]), &device);
    let loss = model.lm_loss(x).into_scalar::<f32>() as f64;
    if !loss.is_finite() {
        return Err(Error::Numeric(format!("loss is {loss}")));
    }
    Ok(LmEval {
        tokens: n,
        loss,
        perplexity: loss.exp(),
    })
}
