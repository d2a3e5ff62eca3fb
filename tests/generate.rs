//! Generation against transformers: greedy decoding with the KV cache equals
//! `generate(do_sample=False)` token for token on the tiny GPT-2 and Llama fixtures, base and
//! adapted (`tests/fixtures/make_peft_fixtures.py`); cached logits equal full passes at every
//! position; long prompts are cut from the front.

mod common;

use burn::tensor::Device;
use common::peft::{FAMILIES, adapted, base, golden, ids};
use common::{ids_tensor, max_abs_diff, to_vec};
use curlora::model::generate::{self, Options, Sampling, Stop};

fn greedy(n: usize) -> Options {
    Options {
        max_new_tokens: n,
        sampling: Sampling::default(),
        ignore_eos: false,
    }
}

#[test]
fn greedy_generation_is_transformers_token_for_token() {
    for (fam, model) in FAMILIES {
        let g = golden(fam);
        let prompt = ids(&g["prompt"]);
        let want_base = ids(&g["generate_base"]["tokens"]);
        let want_adapted = ids(&g["generate_adapted"]["tokens"]);
        let adapted = adapted(fam, model, "curlora").model;
        for (lm, want, what) in [
            (&base(model), &want_base, "base"),
            (&adapted, &want_adapted, "curlora"),
        ] {
            // transformers' sequences end with the end-of-text token when it came; ours stop
            // before it and say so.
            let eos = lm.eos_id().unwrap();
            let ended = want.last() == Some(&eos);
            let want = &want[..want.len() - usize::from(ended)].to_vec();
            let mut streamed = Vec::new();
            let out = curlora::core::runtime::block_on(generate::generate(
                lm,
                &prompt,
                &greedy(16),
                &mut |t| streamed.push(t),
            ))
            .unwrap();
            assert_eq!(
                &out.tokens, want,
                "{fam} {what}: cached greedy vs transformers"
            );
            assert_eq!(
                streamed, out.tokens,
                "every token is streamed once, in order"
            );
            let plain = curlora::core::runtime::block_on(generate::generate_uncached(
                lm,
                &prompt,
                &greedy(16),
            ))
            .unwrap();
            assert_eq!(
                &plain, want,
                "{fam} {what}: uncached greedy vs transformers"
            );
            assert_eq!(out.stop == Stop::Eos, ended, "{fam} {what}: {:?}", out.stop);
        }
        assert_ne!(
            want_base, want_adapted,
            "{fam}: the adapter changes the continuation"
        );
    }
}

#[test]
fn cached_decoding_equals_full_passes_at_every_position() {
    // Logits of each position, decoded one token at a time with the cache, against one pass
    // over the whole sequence (Mistral included: its sliding window of 6 is crossed).
    let device = Device::flex();
    let seq: Vec<u32> = (0..20).map(|i| (i * 37 + 11) % 300).collect();
    for model in ["tiny-gpt2", "tiny-llama", "tiny-mistral"] {
        let lm = base(model);
        let full = to_vec(lm.logits(ids_tensor(std::slice::from_ref(&seq), &device)));
        let v = lm.vocab_size();
        let mut cache = curlora::model::KvCache::new(lm.num_layers());
        // A prompt of 5 at once, then one at a time.
        let first = lm.hidden_cached(ids_tensor(&[seq[..5].to_vec()], &device), &mut cache);
        let mut got = to_vec(lm.lm_logits(first));
        for &t in &seq[5..] {
            let h = lm.hidden_cached(ids_tensor(&[vec![t]], &device), &mut cache);
            got.extend(to_vec(lm.lm_logits(h)));
        }
        assert_eq!(cache.len(), seq.len());
        assert_eq!(got.len(), seq.len() * v);
        let d = max_abs_diff(&got, &full);
        assert!(d < 1e-4, "{model}: cached vs full logits differ by {d}");
    }
}

#[test]
fn a_prompt_longer_than_the_context_is_cut_from_the_front() {
    let lm = base("tiny-gpt2"); // 64 positions
    let prompt: Vec<u32> = (0..100).map(|i| (i * 7 + 3) % 300).collect();
    let out = curlora::core::runtime::block_on(generate::generate(
        &lm,
        &prompt,
        &Options {
            ignore_eos: true,
            ..greedy(10)
        },
        &mut |_| {},
    ))
    .unwrap();
    assert_eq!(out.truncated, 100 - 54);
    assert_eq!(out.prompt_tokens, 54);
    assert_eq!(out.tokens.len(), 10);
    // Asking for more than the context holds keeps half of it for the prompt and stops when
    // the context is full.
    let out = curlora::core::runtime::block_on(generate::generate(
        &lm,
        &prompt[..60],
        &Options {
            ignore_eos: true,
            ..greedy(1000)
        },
        &mut |_| {},
    ))
    .unwrap();
    assert_eq!(out.stop, Stop::Context);
    assert_eq!((out.prompt_tokens, out.tokens.len()), (32, 32));
}
