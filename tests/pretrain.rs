//! `curlora pretrain` on a tiny corpus: writes a model folder that `eval` loads, and
//! `--resume` continues where it stopped.

mod common;

use common::fixture;
use std::process::Command;

fn pretrain(out: &std::path::Path, steps: &str, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_curlora"))
        .args(["--device", "cpu", "pretrain", "--corpus"])
        .arg(fixture("tasks/fruit.csv"))
        .arg(fixture("tasks/mood.csv"))
        .arg(fixture("tiny-gpt2/sample.txt"))
        .arg("--holdout")
        .arg(fixture("tiny-gpt2/sample.txt"))
        .args([
            "--holdout-bytes",
            "120",
            "--vocab",
            "300",
            "--layers",
            "1",
            "--d-model",
            "16",
        ])
        .args([
            "--heads",
            "2",
            "--ctx",
            "16",
            "--batch-size",
            "4",
            "--checkpoint-every",
            "3",
        ])
        .args(["--steps", steps, "--seed", "4", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn state_step(out: &std::path::Path) -> u64 {
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("pretrain_state.json")).unwrap())
            .unwrap();
    s["step"].as_u64().unwrap()
}

#[test]
fn pretrain_writes_a_loadable_model_and_resume_continues() {
    let out = std::env::temp_dir().join(format!("curlora-pretrain-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let o = pretrain(&out, "6", &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "heldout.txt",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    assert_eq!(state_step(&out), 6);
    let held = std::fs::read_to_string(out.join("heldout.txt")).unwrap();
    assert!(
        !held.is_empty() && held.len() <= 200,
        "held-out slice: {} bytes",
        held.len()
    );
    let eval = Command::new(env!("CARGO_BIN_EXE_curlora"))
        .args([
            "--device",
            "cpu",
            "eval",
            "--json",
            "--max-tokens",
            "16",
            "--model",
        ])
        .arg(&out)
        .arg("--text")
        .arg(out.join("heldout.txt"))
        .output()
        .unwrap();
    assert!(
        eval.status.success(),
        "{}",
        String::from_utf8_lossy(&eval.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    let loss = r["loss"].as_f64().unwrap();
    // Better than uniform over the vocabulary would be ln(300) ≈ 5.7 only after real training;
    // here we only require a finite loss from the written folder.
    assert!(loss.is_finite() && loss > 0.0);
    let before = std::fs::read(out.join("model.safetensors")).unwrap();
    let o = pretrain(&out, "10", &["--resume"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("resuming at step 6"));
    assert_eq!(state_step(&out), 10);
    let after = std::fs::read(out.join("model.safetensors")).unwrap();
    assert_ne!(before, after, "resume did not train");
}
