//! Bad input gets a clear error naming the file, key or field and what was expected, a
//! non-zero exit, and never a panic or a backtrace.

mod common;

use common::fixture;
use safetensors::{Dtype, tensor::TensorView};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh copy of the tiny fixture model in a temp dir, to break on purpose.
fn model_copy(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("curlora-bad-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "sample.txt",
    ] {
        std::fs::copy(fixture("tiny-gpt2").join(f), dir.join(f)).unwrap();
    }
    dir
}

/// Runs the CLI and returns (success, stderr).
fn run(args: &[&str], model: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_curlora"))
        .args(["--device", "cpu"])
        .args(args)
        .arg("--model")
        .arg(model)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !err.contains("panicked"),
        "panic instead of an error:\n{err}"
    );
    assert!(
        !err.contains("stack backtrace"),
        "backtrace printed:\n{err}"
    );
    (out.status.success(), err)
}

fn eval(model: &Path) -> (bool, String) {
    let text = model.join("sample.txt");
    run(
        &[
            "eval",
            "--max-tokens",
            "20",
            "--text",
            text.to_str().unwrap(),
        ],
        model,
    )
}

fn select(model: &Path, module: &str, rank: &str) -> (bool, String) {
    run(&["select", "--module", module, "--rank", rank], model)
}

fn expect_error(result: (bool, String), needles: &[&str]) {
    let (ok, err) = result;
    assert!(!ok, "expected failure, got success");
    for n in needles {
        assert!(err.contains(n), "error should mention `{n}`:\n{err}");
    }
}

/// Rewrites model.safetensors with `edit` applied to the (name, dtype, shape, bytes) list.
fn rewrite(dir: &Path, edit: impl FnOnce(&mut Vec<(String, Dtype, Vec<usize>, Vec<u8>)>)) {
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut items: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
        .collect();
    edit(&mut items);
    let views: Vec<(String, TensorView)> = items
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    let out = safetensors::serialize(views, None).unwrap();
    std::fs::write(&path, out).unwrap();
}

#[test]
fn good_model_works() {
    let dir = model_copy("good");
    let (ok, err) = eval(&dir);
    assert!(ok, "{err}");
}

#[test]
fn missing_config() {
    let dir = model_copy("noconfig");
    std::fs::remove_file(dir.join("config.json")).unwrap();
    expect_error(eval(&dir), &["config.json"]);
}

#[test]
fn corrupt_config() {
    let dir = model_copy("badconfig");
    std::fs::write(dir.join("config.json"), "{ \"n_embd\": 32, ").unwrap();
    expect_error(eval(&dir), &["config.json", "line"]);
}

#[test]
fn config_missing_a_field() {
    let dir = model_copy("configfield");
    let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v.as_object_mut().unwrap().remove("n_head");
    std::fs::write(dir.join("config.json"), v.to_string()).unwrap();
    expect_error(eval(&dir), &["config.json", "n_head"]);
}

#[test]
fn missing_weights() {
    let dir = model_copy("noweights");
    std::fs::remove_file(dir.join("model.safetensors")).unwrap();
    expect_error(eval(&dir), &["model.safetensors"]);
}

#[test]
fn corrupt_safetensors() {
    let dir = model_copy("corrupt");
    std::fs::write(
        dir.join("model.safetensors"),
        b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!",
    )
    .unwrap();
    expect_error(
        eval(&dir),
        &["model.safetensors", "not a valid safetensors file"],
    );
}

#[test]
fn truncated_safetensors() {
    let dir = model_copy("truncated");
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    std::fs::write(dir.join("model.safetensors"), &bytes[..bytes.len() / 2]).unwrap();
    expect_error(
        eval(&dir),
        &["model.safetensors", "not a valid safetensors file"],
    );
}

#[test]
fn missing_tensor() {
    let dir = model_copy("missingtensor");
    rewrite(&dir, |items| {
        items.retain(|(n, ..)| n != "transformer.h.1.mlp.c_fc.weight")
    });
    expect_error(
        eval(&dir),
        &[
            "model.safetensors",
            "h.1.mlp.c_fc.weight",
            "missing",
            "[32, 128]",
        ],
    );
}

#[test]
fn wrong_shape() {
    let dir = model_copy("shape");
    rewrite(&dir, |items| {
        let t = items
            .iter_mut()
            .find(|(n, ..)| n == "transformer.h.0.attn.c_attn.weight")
            .unwrap();
        t.2 = vec![96, 32]; // transposed
    });
    expect_error(
        eval(&dir),
        &["h.0.attn.c_attn.weight", "[96, 32]", "expected [32, 96]"],
    );
}

#[test]
fn wrong_dtype() {
    let dir = model_copy("dtype");
    rewrite(&dir, |items| {
        let t = items
            .iter_mut()
            .find(|(n, ..)| n == "transformer.ln_f.bias")
            .unwrap();
        t.1 = Dtype::I32; // same byte size as F32
    });
    expect_error(eval(&dir), &["ln_f.bias", "I32", "expected a float type"]);
}

#[test]
fn missing_tokenizer() {
    let dir = model_copy("notok");
    std::fs::remove_file(dir.join("tokenizer.json")).unwrap();
    expect_error(eval(&dir), &["tokenizer.json"]);
}

#[test]
fn corrupt_tokenizer() {
    let dir = model_copy("badtok");
    std::fs::write(dir.join("tokenizer.json"), "{\"model\": 3}").unwrap();
    expect_error(
        eval(&dir),
        &["tokenizer.json", "not a valid tokenizers file"],
    );
}

#[test]
fn non_utf8_text() {
    let dir = model_copy("latin1");
    std::fs::write(dir.join("sample.txt"), b"caf\xe9 au lait").unwrap();
    expect_error(eval(&dir), &["sample.txt", "UTF-8", "offset 3"]);
}

#[test]
fn too_many_tokens_for_one_window() {
    let dir = model_copy("window");
    let text = dir.join("sample.txt");
    expect_error(
        run(
            &[
                "eval",
                "--max-tokens",
                "100",
                "--text",
                text.to_str().unwrap(),
            ],
            &dir,
        ),
        &["n_positions", "64"],
    );
}

#[test]
fn rank_zero_and_too_large() {
    let dir = model_copy("rank");
    expect_error(
        select(&dir, "h.0.attn.c_attn", "0"),
        &["rank 0", "1 ≤ rank ≤ 32"],
    );
    expect_error(select(&dir, "h.0.attn.c_attn", "33"), &["rank 33", "32×96"]);
}

#[test]
fn unknown_module() {
    let dir = model_copy("module");
    expect_error(
        select(&dir, "h.0.attn.q_proj", "4"),
        &["unknown module `h.0.attn.q_proj`", "attn.c_attn"],
    );
    expect_error(
        select(&dir, "h.9.attn.c_attn", "4"),
        &["unknown module", "0..2"],
    );
}

#[test]
fn wrong_model_type() {
    let dir = model_copy("llama");
    let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["model_type"] = "llama".into();
    std::fs::write(dir.join("config.json"), v.to_string()).unwrap();
    expect_error(eval(&dir), &["config.json", "llama"]);
}
