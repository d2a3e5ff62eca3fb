//! Text generation: a prompt's one forward pass fills the [`KvCache`], then one position per
//! new token, each picked from the last position's logits by [`Sampling`].
//!
//! Greedy decoding (temperature 0, the default) is transformers' `generate(do_sample=False)`:
//! the argmax, the first index on ties, as `torch.argmax`. Sampling follows transformers'
//! order of logits processors: temperature, then top-k, then top-p (the smallest set of most
//! likely tokens whose probability reaches p, never empty), from a seeded stream.

use super::{KvCache, LanguageModel};
use crate::core::error::{Error, Result};
use crate::core::rng::Rng;
use burn::tensor::{Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// How each next token is chosen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// 0: greedy; otherwise logits are divided by it before sampling.
    pub temperature: f64,
    /// Keep only the k most likely tokens (0 or `None`: all).
    pub top_k: Option<usize>,
    /// Keep the smallest set of most likely tokens whose probability reaches p.
    pub top_p: Option<f64>,
    pub seed: u64,
}

impl Default for Sampling {
    fn default() -> Self {
        Self {
            temperature: 0.0,
            top_k: None,
            top_p: None,
            seed: 0,
        }
    }
}

/// Why generation stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// The end-of-text token came (it is not part of [`Generation::tokens`], unlike
    /// transformers' `sequences`, which end with it).
    Eos,
    /// `max_new_tokens` were generated.
    Length,
    /// The model's context is full.
    Context,
}

/// A generation's tokens and what happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    /// The new tokens only.
    pub tokens: Vec<u32>,
    /// Prompt tokens read (after any truncation).
    pub prompt_tokens: usize,
    /// Prompt tokens dropped from the front because the context could not hold them.
    pub truncated: usize,
    pub stop: Stop,
    /// Seconds of the prompt's forward pass (time to the first token).
    pub prefill_seconds: f64,
    /// Seconds of the rest.
    pub decode_seconds: f64,
}

impl Generation {
    /// New tokens per second over the whole call, prompt included (what a user waits for).
    pub fn tokens_per_second(&self) -> f64 {
        self.tokens.len() as f64 / (self.prefill_seconds + self.decode_seconds).max(1e-9)
    }
}

/// The options of one generation.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub max_new_tokens: usize,
    pub sampling: Sampling,
    /// Keep going past the end-of-text token (benchmarks: a fixed number of tokens).
    pub ignore_eos: bool,
}

/// The prompt tokens that fit: the last ones, leaving room for at least half the context or
/// `max_new` tokens, whichever is less. Returns the kept tokens and how many were dropped.
pub fn fit_prompt(prompt: &[u32], max_new: usize, context: usize) -> (&[u32], usize) {
    let room = context.saturating_sub(max_new.min(context / 2)).max(1);
    let drop = prompt.len().saturating_sub(room);
    (&prompt[drop..], drop)
}

/// The index of the largest value, the first one on ties (`torch.argmax`).
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Picks the next token from `logits` (`[vocab]`).
pub fn pick(logits: &[f32], s: &Sampling, rng: &mut Rng) -> usize {
    if s.temperature <= 0.0 {
        return argmax(logits);
    }
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    if let Some(k) = s.top_k.filter(|&k| k > 0) {
        order.truncate(k.max(1));
    }
    let top = f64::from(logits[order[0]]);
    let mut p: Vec<f64> = order
        .iter()
        .map(|&i| ((f64::from(logits[i]) - top) / s.temperature).exp())
        .collect();
    let z: f64 = p.iter().sum();
    p.iter_mut().for_each(|x| *x /= z);
    if let Some(top_p) = s.top_p.filter(|&q| q < 1.0) {
        let mut cum = 0.0;
        let mut keep = p.len();
        for (i, x) in p.iter().enumerate() {
            cum += x;
            if cum >= top_p {
                keep = i + 1;
                break;
            }
        }
        order.truncate(keep);
        p.truncate(keep);
        let z: f64 = p.iter().sum();
        p.iter_mut().for_each(|x| *x /= z);
    }
    let mut cdf = Vec::with_capacity(p.len());
    let mut acc = 0.0;
    for x in &p {
        acc += x;
        cdf.push(acc);
    }
    order[rng.sample_cdf(&cdf).min(order.len() - 1)]
}

/// Generates after `prompt`, calling `on_token` with each new token as it comes.
pub async fn generate(
    model: &LanguageModel,
    prompt: &[u32],
    opts: &Options,
    on_token: &mut dyn FnMut(u32),
) -> Result<Generation> {
    if prompt.is_empty() {
        return Err(Error::config(
            "the prompt is empty: generation needs at least one token to continue",
        ));
    }
    let context = model.max_positions();
    let (prompt, truncated) = fit_prompt(prompt, opts.max_new_tokens, context);
    let device = model.device();
    let mut rng = Rng::for_name(opts.sampling.seed, "generate");
    let mut cache = KvCache::new(model.num_layers());
    let eos = if opts.ignore_eos {
        None
    } else {
        model.eos_id()
    };
    let started = web_time::Instant::now();
    let mut prefill_seconds = 0.0;
    let mut tokens = Vec::new();
    let mut input: Vec<u32> = prompt.to_vec();
    let stop = loop {
        if tokens.len() >= opts.max_new_tokens {
            break Stop::Length;
        }
        if cache.len() + input.len() > context {
            break Stop::Context;
        }
        let t = input.len();
        let ids: Vec<i64> = input.iter().map(|&i| i64::from(i)).collect();
        let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, t]), &device);
        let hidden = model.hidden_cached(ids, &mut cache).narrow(1, t - 1, 1);
        let logits = crate::core::runtime::read_f32(model.lm_logits(hidden)).await?;
        if tokens.is_empty() {
            prefill_seconds = started.elapsed().as_secs_f64();
        }
        let next = pick(&logits, &opts.sampling, &mut rng) as u32;
        if Some(next) == eos {
            break Stop::Eos;
        }
        tokens.push(next);
        on_token(next);
        // As transformers' `max_length`: the prompt and the new tokens fill the context.
        if tokens.len() < opts.max_new_tokens && prompt.len() + tokens.len() >= context {
            break Stop::Context;
        }
        input = vec![next];
    };
    let total = started.elapsed().as_secs_f64();
    Ok(Generation {
        tokens,
        prompt_tokens: prompt.len(),
        truncated,
        stop,
        prefill_seconds,
        decode_seconds: (total - prefill_seconds).max(0.0),
    })
}

/// [`generate`] without a cache: every step reads the whole sequence again. The plain
/// reference the cached path is tested against (same tokens), and the benchmark's baseline.
pub async fn generate_uncached(
    model: &LanguageModel,
    prompt: &[u32],
    opts: &Options,
) -> Result<Vec<u32>> {
    let context = model.max_positions();
    let (prompt, _) = fit_prompt(prompt, opts.max_new_tokens, context);
    let device = model.device();
    let mut rng = Rng::for_name(opts.sampling.seed, "generate");
    let eos = if opts.ignore_eos {
        None
    } else {
        model.eos_id()
    };
    let mut seq: Vec<u32> = prompt.to_vec();
    let mut out = Vec::new();
    while out.len() < opts.max_new_tokens && seq.len() < context {
        let t = seq.len();
        let ids: Vec<i64> = seq.iter().map(|&i| i64::from(i)).collect();
        let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, t]), &device);
        let hidden = model.hidden(ids, None).narrow(1, t - 1, 1);
        let logits = crate::core::runtime::read_f32(model.lm_logits(hidden)).await?;
        let next = pick(&logits, &opts.sampling, &mut rng) as u32;
        if Some(next) == eos {
            break;
        }
        out.push(next);
        seq.push(next);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_first_of_ties() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, -1.0]), 1);
    }

    #[test]
    fn top_k_one_and_tiny_top_p_are_greedy() {
        let logits = [0.1f32, 2.0, 1.9, -3.0];
        let mut rng = Rng::new(7);
        for s in [
            Sampling {
                temperature: 1.0,
                top_k: Some(1),
                ..Default::default()
            },
            Sampling {
                temperature: 1.0,
                top_p: Some(1e-6),
                ..Default::default()
            },
        ] {
            for _ in 0..20 {
                assert_eq!(pick(&logits, &s, &mut rng), 1);
            }
        }
    }

    #[test]
    fn sampling_follows_the_softmax() {
        // p = softmax([0, ln 3]) = [1/4, 3/4] at temperature 1.
        let logits = [0.0f32, 3f32.ln()];
        let s = Sampling {
            temperature: 1.0,
            seed: 3,
            ..Default::default()
        };
        let mut rng = Rng::new(3);
        let n = 20_000;
        let ones = (0..n).filter(|_| pick(&logits, &s, &mut rng) == 1).count();
        let f = ones as f64 / n as f64;
        assert!((f - 0.75).abs() < 0.015, "{f}");
        // Temperature 2 flattens it to softmax([0, ln 3 / 2]) = [1/(1+√3), √3/(1+√3)].
        let s2 = Sampling {
            temperature: 2.0,
            ..s
        };
        let ones = (0..n).filter(|_| pick(&logits, &s2, &mut rng) == 1).count();
        let want = 3f64.sqrt() / (1.0 + 3f64.sqrt());
        assert!((ones as f64 / n as f64 - want).abs() < 0.015);
    }

    #[test]
    fn a_long_prompt_keeps_its_end_and_room_to_generate() {
        let p: Vec<u32> = (0..100).collect();
        let (kept, dropped) = fit_prompt(&p, 20, 64);
        assert_eq!((kept.len(), dropped), (44, 56));
        assert_eq!(kept[0], 56);
        let (kept, dropped) = fit_prompt(&p[..10], 20, 64);
        assert_eq!((kept.len(), dropped), (10, 0));
        // Asking for more than the context keeps half of it for the prompt.
        assert_eq!(fit_prompt(&p, 1000, 64).0.len(), 32);
    }
}
