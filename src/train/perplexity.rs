//! Language-model evaluation: mean next-token cross-entropy and perplexity.

use crate::core::error::{Error, Result};
use crate::model::LanguageModel;
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

impl LmEval {
    /// The result for a mean loss over `tokens` tokens; a non-finite loss is an error.
    fn from_loss(tokens: usize, loss: f64) -> Result<Self> {
        if !loss.is_finite() {
            return Err(Error::Numeric(format!("loss is {loss}")));
        }
        Ok(LmEval {
            tokens,
            loss,
            perplexity: loss.exp(),
        })
    }
}

/// Every id must index the model's vocabulary (a tokenizer from another model would not).
fn check_vocab(model: &LanguageModel, ids: &[u32]) -> Result<()> {
    let vocab = model.vocab_size();
    match ids.iter().find(|&&i| i as usize >= vocab) {
        Some(bad) => Err(Error::config(format!(
            "token id {bad} is outside the model's vocabulary of {vocab}: \
             tokenizer and model do not match"
        ))),
        None => Ok(()),
    }
}

/// The reference code's perplexity: one forward pass over the first `max_tokens` ids
/// (no stride, no sliding window), `exp` of the mean next-token loss.
pub fn first_window(model: &LanguageModel, ids: &[u32], max_tokens: usize) -> Result<LmEval> {
    crate::core::runtime::block_on(first_window_async(model, ids, max_tokens))
}

/// [`first_window`] with an asynchronous read (the only kind WebGPU allows).
pub async fn first_window_async(
    model: &LanguageModel,
    ids: &[u32],
    max_tokens: usize,
) -> Result<LmEval> {
    let n = ids.len().min(max_tokens);
    if n < 2 {
        return Err(Error::config(format!(
            "need at least 2 tokens to measure a next-token loss, got {n}"
        )));
    }
    let ctx = model.max_positions();
    if n > ctx {
        return Err(Error::config(format!(
            "{n} tokens do not fit in one window: the model's context (n_positions) is {ctx}; \
             pass --max-tokens {ctx} or less"
        )));
    }
    let device = model.device();
    let data: Vec<i64> = ids[..n].iter().map(|&i| i64::from(i)).collect();
    check_vocab(model, &ids[..n])?;
    let x = Tensor::<2, Int>::from_data(TensorData::new(data, [1, n]), &device);
    let loss = f64::from(crate::core::runtime::read_scalar(model.lm_loss(x)).await?);
    LmEval::from_loss(n, loss)
}

/// How held-out perplexity is measured.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum PerplexityMode {
    /// The reference code: one window over the first `max_tokens` tokens.
    FirstWindow { max_tokens: usize },
    /// The standard sliding window (HF's perplexity guide): windows of `window` tokens moved
    /// by `stride`; each window scores only the tokens no earlier window scored, with up to
    /// `window − stride` tokens of context carried over (as in HF, a window's first token is
    /// never scored, so with `stride = window` one token per window goes unscored). Over the
    /// first `max_tokens` tokens.
    Sliding {
        window: usize,
        stride: usize,
        max_tokens: usize,
    },
}

impl PerplexityMode {
    pub fn evaluate(&self, model: &LanguageModel, ids: &[u32]) -> Result<LmEval> {
        crate::core::runtime::block_on(self.evaluate_async(model, ids))
    }

    /// [`evaluate`](Self::evaluate) with asynchronous reads.
    pub async fn evaluate_async(&self, model: &LanguageModel, ids: &[u32]) -> Result<LmEval> {
        match *self {
            // A model with a shorter context than the preset asks for evaluates its whole
            // context instead (GPT-2 small to large have 1,024 positions; tiny models fewer).
            PerplexityMode::FirstWindow { max_tokens } => {
                first_window_async(model, ids, max_tokens.min(model.max_positions())).await
            }
            PerplexityMode::Sliding {
                window,
                stride,
                max_tokens,
            } => {
                let ids = &ids[..ids.len().min(max_tokens)];
                sliding_window_async(model, ids, window, stride).await
            }
        }
    }
}

/// Sliding-window perplexity (see [`PerplexityMode::Sliding`]).
pub fn sliding_window(
    model: &LanguageModel,
    ids: &[u32],
    window: usize,
    stride: usize,
) -> Result<LmEval> {
    crate::core::runtime::block_on(sliding_window_async(model, ids, window, stride))
}

/// [`sliding_window`] with asynchronous reads.
pub async fn sliding_window_async(
    model: &LanguageModel,
    ids: &[u32],
    window: usize,
    stride: usize,
) -> Result<LmEval> {
    let n = ids.len();
    // A model with a shorter context than asked for keeps the same overlap ratio.
    let ctx = model.max_positions();
    let (window, stride) = if window > ctx {
        (ctx, (stride * ctx / window).max(1))
    } else {
        (window, stride)
    };
    if n < 2 || window < 2 || stride == 0 || stride > window {
        return Err(Error::config(format!(
            "sliding window needs ≥ 2 tokens (got {n}), window ≥ 2 (got {window}) and \
             1 ≤ stride ≤ window (got {stride})"
        )));
    }
    check_vocab(model, ids)?;
    let device = model.device();
    let mut total = 0f64;
    let mut count = 0usize;
    let mut predicted_up_to = 1; // tokens [1, predicted_up_to) are done
    let mut begin = 0;
    loop {
        let end = (begin + window).min(n);
        if end - begin < 2 {
            // A one-token tail: its only token is a window's first, which is never scored.
            break;
        }
        let data: Vec<i64> = ids[begin..end].iter().map(|&i| i64::from(i)).collect();
        let t = end - begin;
        let x = Tensor::<2, Int>::from_data(TensorData::new(data, [1, t]), &device);
        let logits = crate::core::dtype::to_f32(model.logits(x.clone()));
        let v = logits.dims()[2];
        let lp = burn::tensor::activation::log_softmax(
            logits.narrow(1, 0, t - 1).reshape([t - 1, v]),
            1,
        );
        let nll = crate::core::runtime::read_f32(
            lp.gather(1, x.narrow(1, 1, t - 1).reshape([t - 1, 1]))
                .neg(),
        )
        .await?;
        // Position k of this window predicts token begin + k + 1.
        for (k, &l) in nll.iter().enumerate() {
            let tok = begin + k + 1;
            if tok >= predicted_up_to {
                total += f64::from(l);
                count += 1;
            }
        }
        predicted_up_to = end;
        if end == n {
            break;
        }
        begin += stride;
    }
    let loss = total / count as f64;
    LmEval::from_loss(n, loss)
}
