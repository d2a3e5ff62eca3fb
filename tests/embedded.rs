//! The embedded default: its files match the recorded hashes, the model gives the held-out
//! perplexity recorded in `assets/README.md`, and a shortened default run writes a full report.

use burn::tensor::Device;
use curlora::core::embedded as assets;
use curlora::experiment::default_experiment;
use curlora::model::{self, LanguageModel};
use std::path::Path;

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/README.md")).unwrap()
}

#[test]
fn embedded_files_match_their_recorded_hashes() {
    let sums =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/SHA256SUMS"))
            .unwrap();
    for &(name, bytes) in assets::FILES.iter() {
        let line = sums
            .lines()
            .find(|l| l.ends_with(&format!(" {name}")))
            .unwrap_or_else(|| panic!("{name} is not listed in assets/SHA256SUMS"));
        assert_eq!(
            line.split_whitespace().next().unwrap(),
            assets::sha256(bytes),
            "{name}"
        );
    }
}

#[test]
fn embedded_model_gives_the_recorded_perplexity() {
    let text = readme();
    let recorded: f64 = text
        .lines()
        .find_map(|l| l.split("held-out perplexity of the base model: ").nth(1))
        .expect("assets/README.md records the held-out perplexity")
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let dir = assets::materialize().unwrap();
    let spec = default_experiment(&dir);
    let m = LanguageModel::load(&dir.join("model"), &Device::flex()).unwrap();
    let tok = model::load_tokenizer(&dir.join("model")).unwrap();
    let held = std::fs::read_to_string(&spec.perplexity.text).unwrap();
    let ids = model::encode(&tok, &held, &spec.perplexity.text).unwrap();
    let got = spec.perplexity.mode.evaluate(&m, &ids).unwrap().perplexity;
    assert!(
        (got - recorded).abs() <= 0.01 * recorded.max(1.0) / 10.0 + 0.005,
        "perplexity {got:.3}, README says {recorded}"
    );
    // A pretrained model: far better than uniform over its vocabulary.
    assert!(
        got < m.vocab_size() as f64 / 4.0,
        "perplexity {got} vs vocab {}",
        m.vocab_size()
    );
}

#[test]
fn a_shortened_default_run_writes_a_full_report() {
    let out = std::env::temp_dir().join(format!("curlora-default-{}", std::process::id()));
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_curlora"))
        .args([
            "--device",
            "cpu",
            "run",
            "--max-train",
            "32",
            "--max-eval",
            "32",
            "--epochs",
            "1",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(r["tasks"], serde_json::json!(["movies", "style", "tweets"]));
    let runs = r["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3, "LoRA, CURLoRA and the head-only baseline");
    assert_eq!(runs[0]["method"], "lora");
    assert_eq!(runs[1]["method"], "curlora");
    assert_eq!(runs[2]["method"], "frozen");
    assert_eq!(runs[0]["seed"], runs[1]["seed"], "same seed side by side");
    for run in runs {
        assert_eq!(run["perplexity"].as_array().unwrap().len(), 4);
        assert!(run["metrics"]["acc"].as_f64().is_some());
    }
    for f in [
        "report.md",
        "report.csv",
        "perplexity.png",
        "accuracy-curlora-8.png",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
}

/// The recorded run (`assets/recorded-run.jsonl`, events of the default run for seed 1) parses
/// into engine events, holds LoRA and CURLoRA, and its accuracy matrices rebuilt from the
/// `eval` events give the metrics its `run_end` events report.
#[test]
fn the_recorded_run_replays_consistently() {
    use curlora::train::Event;
    use curlora::train::metrics::{AccuracyMatrix, summarize};
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/recorded-run.jsonl"),
    )
    .unwrap();
    let events: Vec<Event> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut methods = Vec::new();
    let mut matrices = [AccuracyMatrix::new(3), AccuracyMatrix::new(3)];
    let mut ends = 0;
    for e in &events {
        match e {
            Event::RunStart { method, tasks, .. } => {
                methods.push(method.name());
                assert_eq!(tasks.len(), 3);
            }
            Event::Eval {
                run,
                after_task,
                task,
                accuracy,
                ..
            } => {
                matrices[*run].set(*after_task, *task, *accuracy).unwrap();
            }
            Event::RunEnd { run, metrics } => {
                let m = summarize(&matrices[*run]);
                assert!((m.acc.unwrap() - metrics.acc.unwrap()).abs() < 1e-9);
                assert!((m.bwt.unwrap() - metrics.bwt.unwrap()).abs() < 1e-9);
                ends += 1;
            }
            _ => {}
        }
    }
    assert_eq!(methods, vec!["lora", "curlora"]);
    assert_eq!(ends, 2);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::AdapterSnapshot { u: Some(_), .. }))
    );
}
