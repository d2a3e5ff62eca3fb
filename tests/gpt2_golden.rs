//! GPT-2 on the Flex CPU backend against HF transformers (fixtures from
//! `tests/fixtures/make_gpt2_fixtures.py`): logits, hidden states, loss, tokenizer, eval.

mod common;

use burn::tensor::Device;
use common::*;
use curlora::adapters::{AdapterConfig, Method};
use curlora::model::{self, LanguageModel};

fn check_logits(dir: &str) {
    // Both layouts hold the same weights: tiny-gpt2's golden numbers apply to each.
    check_golden_logits(dir, "tiny-gpt2");
}

#[test]
fn logits_match_transformers_with_transformer_prefix() {
    check_logits("tiny-gpt2");
}

#[test]
fn logits_match_transformers_without_prefix_and_with_attn_buffers() {
    check_logits("tiny-gpt2-noprefix");
}

#[test]
fn tokenizer_and_eval_match_transformers() {
    let g = golden();
    let dir = fixture("tiny-gpt2");
    let tok = model::load_tokenizer(&dir).unwrap();
    let sample = dir.join("sample.txt");
    let text = std::fs::read_to_string(&sample).unwrap();
    let ids = model::encode(&tok, &text, &sample).unwrap();
    assert_eq!(&ids[..g.eval_ids.len()], &g.eval_ids[..]);
    let model = LanguageModel::load(&dir, &Device::flex()).unwrap();
    let r = curlora::train::perplexity::first_window(&model, &ids, g.eval_max_tokens).unwrap();
    assert_eq!(r.tokens, g.eval_max_tokens);
    assert!(
        (r.loss - g.eval_loss).abs() < 1e-4,
        "{} vs {}",
        r.loss,
        g.eval_loss
    );
    assert!((r.perplexity / g.eval_perplexity - 1.0).abs() < 1e-4);
}

#[test]
fn zero_adapters_give_exactly_the_base_model() {
    let g = golden();
    let device = Device::flex();
    let base = LanguageModel::load(&fixture("tiny-gpt2"), &device).unwrap();
    let ids = ids_tensor(&g.input_ids, &device);
    let expected = to_vec(base.logits(ids.clone()));
    for method in [Method::CurLora, Method::Lora] {
        let mut cfg = AdapterConfig::new(method, 4, 7);
        cfg.targets = curlora::model::gpt2::TARGET_MODULES
            .iter()
            .map(|s| s.to_string())
            .collect();
        let model = LanguageModel::load(&fixture("tiny-gpt2"), &device).unwrap();
        let (model, _) = model.with_adapters(&cfg).unwrap();
        let got = to_vec(model.logits(ids.clone()));
        // U = 0 (CURLoRA) and B = 0 (LoRA) add exact zeros: bitwise equal.
        assert!(
            got.iter()
                .zip(&expected)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{method}: adapted output differs from the base model"
        );
    }
}

/// Sliding-window perplexity against the single-window one: one window covering everything
/// equals it exactly, and non-overlapping windows average the per-window losses weighted by
/// the tokens each one scores.
#[test]
fn sliding_window_perplexity_matches_hand_computation() {
    let g = golden();
    let model = LanguageModel::load(&fixture("tiny-gpt2"), &Device::flex()).unwrap();
    let ids = &g.eval_ids[..40];
    let one = curlora::train::perplexity::first_window(&model, ids, 40).unwrap();
    let s = curlora::train::perplexity::sliding_window(&model, ids, 64, 32).unwrap();
    assert!(
        (s.loss - one.loss).abs() < 1e-6,
        "{} vs {}",
        s.loss,
        one.loss
    );
    let chunk = |a: usize, b: usize| {
        curlora::train::perplexity::first_window(&model, &ids[a..b], 64)
            .unwrap()
            .loss
    };
    let expected = (15.0 * chunk(0, 16) + 15.0 * chunk(16, 32) + 7.0 * chunk(32, 40)) / 37.0;
    let s = curlora::train::perplexity::sliding_window(&model, ids, 16, 16).unwrap();
    assert!((s.loss - expected).abs() < 1e-5, "{} vs {expected}", s.loss);
    // Overlapping windows give each scored token more context than disjoint ones.
    let overlap = curlora::train::perplexity::sliding_window(&model, ids, 16, 8).unwrap();
    assert!(overlap.loss.is_finite() && overlap.tokens == 40);
}
