//! Inputs the fuzzers (fuzz/) made crash, each now a clear error that names the file. The
//! fuzzers replay their copies too (fuzz/regressions/<target>/); these run in the plain suite,
//! without nightly.

use curlora::model::load_tokenizer;
use std::path::PathBuf;

/// A model folder holding `tokenizer.json` = the tiny GPT-2 fixture's, changed by `edit`.
fn tokenizer_folder(name: &str, edit: impl Fn(&str) -> String) -> PathBuf {
    let good = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tiny-gpt2/tokenizer.json"
    ))
    .unwrap();
    let bad = edit(&good);
    assert_ne!(bad, good, "the edit changed nothing");
    let dir = std::env::temp_dir().join(format!("curlora-fuzzreg-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tokenizer.json"), bad).unwrap();
    dir
}

fn refused(dir: &std::path::Path, expected: &str) {
    let err = match load_tokenizer(dir) {
        Ok(_) => panic!("a broken tokenizer.json loaded"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("tokenizer.json"),
        "the error names no file: {err}"
    );
    assert!(err.contains(expected), "expected {expected:?} in: {err}");
}

/// fuzz/artifacts/tokenizer/timeout-4f64c279… (CI, stop 25): a stray `d da` inside `decoder`.
/// tokenizers 0.22 `expect`s the decoder to parse and panicked; the file's syntax error is now
/// reported with its line and column.
#[test]
fn a_syntax_error_inside_the_decoder_is_an_error_not_a_panic() {
    let dir = tokenizer_folder("decoder", |good| {
        let at = good.find("\"decoder\"").expect("the fixture has a decoder");
        let brace = at + good[at..].find('{').unwrap() + 1;
        format!("{} d da {}", &good[..brace], &good[brace..])
    });
    refused(&dir, "not valid JSON");
    refused(&dir, "line");
}

/// The same crate panic from valid JSON: a `Precompiled` normalizer whose charsmap does not
/// parse (tokenizers `expect`s it, in 0.23 too). The panic is caught and named.
#[test]
fn an_unreadable_precompiled_charsmap_is_an_error_not_a_panic() {
    let dir = tokenizer_folder("precompiled", |good| {
        let v: serde_json::Value = serde_json::from_str(good).unwrap();
        let mut v = v.as_object().unwrap().clone();
        v.insert(
            "normalizer".into(),
            serde_json::json!({"type": "Precompiled", "precompiled_charsmap": "AAAA"}),
        );
        serde_json::to_string(&v).unwrap()
    });
    refused(&dir, "the tokenizers library failed on it");
    refused(&dir, "precompiled");
}

/// fuzz/artifacts/gguf/timeout-c26de4e0… (the long campaign, stop 26): a GGUF whose
/// `llama.block_count` is huge. The import listed the 9 tensor names of every layer before
/// checking one (2 GB, 17 s); the names are now made one at a time, and the first missing one
/// is named with the block count, at once.
#[test]
fn a_gguf_claiming_more_layers_than_it_holds_is_refused_at_once() {
    let src = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/fuzz/huge-block-count.gguf"
    );
    let out = std::env::temp_dir().join(format!("curlora-fuzzreg-gguf-{}", std::process::id()));
    let err = match curlora::model::gguf::import(std::path::Path::new(src), &out) {
        Ok(_) => panic!("the hostile GGUF imported"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("llama.block_count"), "{err}");
    assert!(
        err.contains("huge-block-count.gguf"),
        "the error names no file: {err}"
    );
}
