//! The `paper-gpt2`, `paper-gpt2-fixed` and `paper-mistral` presets on the real data in `../shared/data`, a few
//! steps per task on the tiny fixture model. Skipped (with a message) when the data directory
//! is absent; CI has it and `.ci/run` runs this target.

mod common;

use common::fixture;
use std::path::PathBuf;

fn data_dir() -> Option<PathBuf> {
    let d = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"));
    if d.join("mrpc/train.tsv").exists() {
        Some(d)
    } else {
        eprintln!("SKIPPED: {} not found", d.display());
        None
    }
}

fn run_preset(preset: &str) {
    run_preset_on(preset, "tiny-gpt2", 6);
}

/// Runs `preset` on a fixture model; `steps` is the expected number of optimizer steps.
fn run_preset_on(preset: &str, model: &str, steps: usize) {
    let Some(data) = data_dir() else { return };
    let out = std::env::temp_dir().join(format!("curlora-real-{preset}-{}", std::process::id()));
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_curlora"))
        .args(["--device", "cpu", "run", "--preset", preset, "--model"])
        .arg(fixture(model))
        .arg("--data-dir")
        .arg(&data)
        .args([
            "--max-train",
            "48",
            "--max-eval",
            "40",
            "--epochs",
            "1",
            "--ranks",
            "4",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(
        r["tasks"],
        serde_json::json!(["mrpc", "sst2", "sentiment140"])
    );
    let runs = r["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3, "lora, curlora and the head-only baseline");
    assert_eq!(runs[2]["method"], "frozen");
    for run in runs {
        assert_eq!(run["status"]["status"], "completed");
        // 48 rows at batch 32: 2 steps per task, 3 tasks (6 per task at batch 8).
        assert_eq!(run["steps"], steps);
        assert_eq!(run["perplexity"].as_array().unwrap().len(), 4);
    }
}

#[test]
fn paper_gpt2_runs_on_real_data() {
    run_preset("paper-gpt2");
}

#[test]
fn paper_gpt2_fixed_runs_on_real_data() {
    run_preset("paper-gpt2-fixed");
}

/// The Mistral protocol (q/k/v at rank 16, batch 8) on the tiny Mistral fixture.
#[test]
fn paper_mistral_runs_on_real_data() {
    run_preset_on("paper-mistral", "tiny-mistral", 18);
}
