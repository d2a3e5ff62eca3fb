//! The continual-learning engine end to end on the tiny fixture model and three synthetic
//! tasks: the report's contents, metrics recomputed from its own matrix, adapter save → load,
//! refusal on other weights, and a diverging run keeping its last good adapter.

mod common;

use burn::tensor::Device;
use common::*;
use curlora::adapters::{AdapterConfig, CurLora, Method};
use curlora::experiment::{Experiment, ExperimentSpec};
use curlora::model::LanguageModel;
use curlora::model::store;
use curlora::train::{NoEvents, RunContext, RunStatus, TaskModel, run_sequence};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("curlora-engine-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn spec() -> ExperimentSpec {
    tiny_experiment()
}

#[test]
fn cli_run_writes_a_complete_report_whose_metrics_recompute() {
    let dir = tmp("cli");
    let cfg = dir.join("exp.toml");
    std::fs::write(&cfg, spec().to_toml()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_curlora"))
        .args(["--device", "cpu", "run", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.join("out/report.json")).unwrap();
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    for k in ["model", "device", "tasks", "runs"] {
        assert!(!r[k].is_null(), "report.json lacks `{k}`");
    }
    assert_eq!(r["tasks"], serde_json::json!(["fruit", "mood", "count"]));
    let runs = r["runs"].as_array().unwrap();
    assert_eq!(
        runs.len(),
        4,
        "the three methods and the head-only baseline"
    );
    assert_eq!(runs[3]["method"], "frozen");
    let head_only: Vec<Vec<Option<f64>>> =
        serde_json::from_value(runs[3]["accuracy_matrix"].clone()).unwrap();
    for run in runs {
        for k in [
            "method",
            "rank",
            "alpha",
            "seed",
            "trainable_params",
            "accuracy_matrix",
            "majority_baseline",
            "perplexity",
            "metrics",
        ] {
            assert!(!run[k].is_null(), "run lacks `{k}`");
        }
        let m: Vec<Vec<Option<f64>>> =
            serde_json::from_value(run["accuracy_matrix"].clone()).unwrap();
        assert_eq!(m.len(), 3);
        for (i, row) in m.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                assert_eq!(v.is_some(), j <= i, "cell [{i}][{j}]");
            }
        }
        assert_eq!(run["perplexity"].as_array().unwrap().len(), 4);
        assert_eq!(run["majority_baseline"], serde_json::json!([0.5, 0.5, 0.5]));
        // ACC, BWT and forgetting recomputed by hand from the matrix.
        let f = |i: usize, j: usize| m[i][j].unwrap();
        let acc = (f(2, 0) + f(2, 1) + f(2, 2)) / 3.0;
        let bwt = ((f(2, 0) - f(0, 0)) + (f(2, 1) - f(1, 1))) / 2.0;
        let forg = ((f(0, 0).max(f(1, 0)) - f(2, 0)) + (f(1, 1) - f(2, 1))) / 2.0;
        // Plasticity and FWT (against the head-only run's diagonal) by hand.
        let plasticity = (f(0, 0) + f(1, 1) + f(2, 2)) / 3.0;
        let b = |j: usize| head_only[j][j].unwrap();
        let fwt = ((f(1, 1) - b(1)) + (f(2, 2) - b(2))) / 2.0;
        let got = &run["metrics"];
        assert!((got["acc"].as_f64().unwrap() - acc).abs() < 1e-12);
        assert!((got["bwt"].as_f64().unwrap() - bwt).abs() < 1e-12);
        assert!((got["forgetting"].as_f64().unwrap() - forg).abs() < 1e-12);
        assert!((got["plasticity"].as_f64().unwrap() - plasticity).abs() < 1e-12);
        assert!((run["fwt"].as_f64().unwrap() - fwt).abs() < 1e-12);
    }
    assert_eq!(runs[1]["method"], "curlora");
    assert_eq!(runs[1]["trainable_params"], 2 * 4 * 4);
    assert_eq!(runs[0]["trainable_params"], 2 * 4 * (32 + 96));
    for f in [
        "report.csv",
        "report.md",
        "adapters/curlora-4-seed1.safetensors",
    ] {
        assert!(dir.join("out").join(f).exists(), "{f} missing");
    }
    let md = std::fs::read_to_string(dir.join("out/report.md")).unwrap();
    assert!(md.contains("majority-class baseline 0.5000"));
    // One table per metric, a row per method, the head-only baseline among them.
    for t in [
        "## One table per metric",
        "**plasticity**",
        "**FWT (vs head-only)**",
        "| frozen |",
    ] {
        assert!(md.contains(t), "report.md lacks `{t}`");
    }
}

fn trained(method: Method, lr: f64) -> (Experiment, AdapterConfig, curlora::train::RunOutcome) {
    let device = Device::flex().autodiff();
    let mut s = spec();
    s.tasks.truncate(1);
    s.train.lr = lr;
    let exp = Experiment::load(s, &device).unwrap();
    let mut cfg = AdapterConfig::new(method, 4, 3);
    cfg.targets = vec!["attn.c_attn".into(), "mlp.c_fc".into()];
    let ctx = RunContext {
        run: 0,
        events: &NoEvents,
        cancel: Arc::new(AtomicBool::new(false)),
        device_name: "test".into(),
        control: None,
        resume: None,
        checkpoint_base: false,
    };
    let out = run_sequence(
        &exp.base,
        &exp.tasks,
        &exp.heldout,
        &cfg,
        &exp.spec.train,
        &ctx,
    )
    .unwrap();
    (exp, cfg, out)
}

#[test]
fn adapters_save_and_load_to_identical_outputs() {
    for method in [
        Method::CurLora,
        Method::Lora,
        Method::Full,
        Method::Pissa,
        Method::Milora,
        Method::OLora,
    ] {
        let (exp, cfg, out) = trained(method, 1e-2);
        assert_eq!(out.status, RunStatus::Completed);
        let path = tmp(&format!("save-{method}")).join("a.safetensors");
        let heads = vec![("fruit".to_string(), out.heads[0].clone())];
        store::save(&path, &out.model, &cfg, exp.base.weights_hash(), &heads).unwrap();
        let device = Device::flex();
        let base = LanguageModel::load(&fixture("tiny-gpt2"), &device).unwrap();
        let hash = base.weights_hash().to_string();
        let loaded = store::load(&path, base, &hash).unwrap();
        assert_eq!(loaded.meta.config, cfg);
        let g = golden();
        let ids = ids_tensor(&g.input_ids, &device);
        let trained_model = TaskModel {
            lm: out.model.clone(),
            head: out.heads[0].clone(),
        };
        use burn::module::Module;
        let a = to_vec(trained_model.lm.valid().logits(ids.clone()));
        let b = to_vec(loaded.model.logits(ids.clone()));
        assert!(
            a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "{method}: outputs differ after reload"
        );
        // The adapter really trained (so the comparison means something).
        let base = LanguageModel::load(&fixture("tiny-gpt2"), &device).unwrap();
        let c = to_vec(base.logits(ids));
        assert!(
            max_abs_diff(&a, &c) > 1e-6,
            "{method}: adapter had no effect"
        );
        let h1 = to_vec(out.heads[0].weight.val());
        let h2 = to_vec(loaded.heads[0].1.weight.val());
        assert_eq!(h1, h2);
    }
}

#[test]
fn adapter_is_refused_on_other_weights_and_accepted_on_the_same_weights_in_another_layout() {
    for method in [
        Method::CurLora,
        Method::Pissa,
        Method::Milora,
        Method::OLora,
    ] {
        refused_on_other_weights(method);
    }
}

fn refused_on_other_weights(method: Method) {
    let (exp, cfg, out) = trained(method, 1e-2);
    let path = tmp(&format!("refuse-{method}")).join("a.safetensors");
    store::save(&path, &out.model, &cfg, exp.base.weights_hash(), &[]).unwrap();
    // Same weights, other key layout: same hash, accepted.
    let device = Device::flex();
    let same = LanguageModel::load(&fixture("tiny-gpt2-noprefix"), &device).unwrap();
    let h = same.weights_hash().to_string();
    assert_eq!(h, exp.base.weights_hash());
    assert!(store::load(&path, same, &h).is_ok());
    // One weight changed: refused, naming the file.
    let dir = tmp(&format!("other-weights-{method}"));
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(fixture("tiny-gpt2").join(f), dir.join(f)).unwrap();
    }
    let bytes = std::fs::read(fixture("tiny-gpt2/model.safetensors")).unwrap();
    let mut changed = bytes.clone();
    let n = changed.len();
    changed[n - 3] ^= 0x01; // a low mantissa bit of the last tensor's last value
    std::fs::write(dir.join("model.safetensors"), changed).unwrap();
    let other = LanguageModel::load(&dir, &device).unwrap();
    let h = other.weights_hash().to_string();
    let err = store::load(&path, other, &h)
        .err()
        .expect("must refuse")
        .to_string();
    assert!(
        err.contains("a.safetensors") && err.contains("other base weights"),
        "{method}: {err}"
    );
}

#[test]
fn a_diverging_run_stops_with_a_clear_error_and_keeps_its_last_good_adapter() {
    let (_, _, out) = trained(Method::CurLora, 1e30);
    match &out.status {
        RunStatus::Diverged { message, .. } => {
            assert!(
                message.contains("loss is") && message.contains("last good"),
                "{message}"
            )
        }
        other => panic!("expected divergence, got {other:?}"),
    }
    for (_, layer) in out.model.modules() {
        if let Some(c) = layer.adapter_as::<CurLora>() {
            assert!(
                to_vec(c.u.val()).iter().all(|v| v.is_finite()),
                "kept U is not finite"
            );
        }
    }
}

#[test]
fn malformed_rows_stop_the_run_unless_skipped_and_reported() {
    let dir = tmp("badrows");
    let mut text = std::fs::read_to_string(fixture("tasks/fruit.csv")).unwrap();
    text.push_str("a row without a label field\n");
    let bad = dir.join("fruit-bad.csv");
    std::fs::write(&bad, text).unwrap();
    let mut s = spec();
    s.methods = vec![Method::CurLora];
    s.tasks.truncate(1);
    s.tasks[0].train = bad.clone();
    let cfg = dir.join("exp.toml");
    std::fs::write(&cfg, s.to_toml()).unwrap();
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_curlora"))
            .args(["--device", "cpu", "run", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(dir.join("out"))
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("fruit-bad.csv") && err.contains("line 34"),
        "{err}"
    );
    assert!(!err.contains("panicked"));
    let out = run(&["--skip-bad-rows"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(dir.join("out/report.md")).unwrap();
    assert!(md.contains("1 malformed rows skipped"), "{md}");
}

/// The event stream alone describes the run: starts, every step, selections, snapshots,
/// progress evaluations and the final matrix, in order.
#[test]
fn the_event_stream_describes_the_run() {
    use curlora::train::Event;
    let device = Device::flex().autodiff();
    let mut s = spec();
    s.tasks.truncate(2);
    s.train.eval_every = 2;
    let exp = Experiment::load(s, &device).unwrap();
    let cfg = AdapterConfig::new(Method::CurLora, 4, 3);
    let (tx, rx) = std::sync::mpsc::channel();
    let ctx = RunContext {
        run: 7,
        events: &tx,
        cancel: Arc::new(AtomicBool::new(false)),
        device_name: "test".into(),
        control: None,
        resume: None,
        checkpoint_base: false,
    };
    let out = run_sequence(
        &exp.base,
        &exp.tasks,
        &exp.heldout,
        &cfg,
        &exp.spec.train,
        &ctx,
    )
    .unwrap();
    drop(tx);
    let events: Vec<Event> = rx.iter().collect();
    assert!(matches!(events[0], Event::RunStart { run: 7, .. }));
    assert!(matches!(
        events.last().unwrap(),
        Event::RunEnd { run: 7, .. }
    ));
    let steps = events
        .iter()
        .filter(|e| matches!(e, Event::Step { .. }))
        .count();
    assert_eq!(steps, out.steps);
    // 32 examples, batch 8, 2 epochs: 8 steps per task.
    assert_eq!(steps, 16);
    let selections = events
        .iter()
        .filter(|e| matches!(e, Event::Selection { .. }))
        .count();
    assert_eq!(selections, 2, "one c_attn per layer");
    let progress: Vec<&Vec<(usize, f64)>> = events
        .iter()
        .filter_map(|e| match e {
            Event::Progress { accuracies, .. } => Some(accuracies),
            _ => None,
        })
        .collect();
    // Steps 2, 4, 6, 8 of each task; the second task also reports the first.
    assert_eq!(progress.len(), 8);
    assert!(progress[..4].iter().all(|a| a.len() == 1));
    assert!(
        progress[4..]
            .iter()
            .all(|a| a.len() == 2 && a[0].0 == 0 && a[1].0 == 1)
    );
    let snapshots = events
        .iter()
        .filter(|e| matches!(e, Event::AdapterSnapshot { u: Some(u), .. } if u.len() == 16))
        .count();
    assert!(snapshots >= 2 * 4, "U snapshots: {snapshots}");
    let evals = events
        .iter()
        .filter(|e| matches!(e, Event::Eval { .. }))
        .count();
    assert_eq!(evals, 1 + 2, "R[0][0], then R[1][0] and R[1][1]");
    // Events serialize and parse back (a recorded run is JSON lines); floats may differ in
    // the last printed digit, so compare the event kinds and the integer fields.
    for e in &events {
        let line = serde_json::to_string(e).unwrap();
        let back: Event = serde_json::from_str(&line).unwrap();
        let (a, b): (serde_json::Value, serde_json::Value) = (
            serde_json::from_str(&line).unwrap(),
            serde_json::to_value(&back).unwrap(),
        );
        assert_eq!(a["event"], b["event"]);
        assert_eq!(a["global_step"], b["global_step"]);
        assert_eq!(a["selection"]["cols"], b["selection"]["cols"]);
    }
}

/// Class ids come from the training file: an evaluation file whose first label differs still
/// gets the same ids (labels are otherwise numbered in order of first appearance).
#[test]
fn eval_labels_use_the_training_files_class_ids() {
    let dir = tmp("labels");
    std::fs::write(
        dir.join("train.csv"),
        "text,label\napple pie,no\nstone wall,yes\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("eval.csv"),
        "text,label\nstone wall,yes\napple pie,no\n",
    )
    .unwrap();
    let mut s = spec();
    s.tasks.truncate(1);
    s.tasks[0].train = dir.join("train.csv");
    s.tasks[0].eval = dir.join("eval.csv");
    let exp = Experiment::load(s, &Device::flex()).unwrap();
    let t = &exp.tasks[0];
    // "no" is class 0 and "yes" class 1 in both splits.
    assert_eq!(
        t.train.iter().map(|e| e.label).collect::<Vec<_>>(),
        vec![0, 1]
    );
    assert_eq!(
        t.eval.iter().map(|e| e.label).collect::<Vec<_>>(),
        vec![1, 0]
    );
    assert_eq!(t.train[1].ids, t.eval[0].ids);
}

/// Evaluation batches examples in order of length (less padding) and puts the predictions back
/// in data order: they equal one-at-a-time predictions, which no batching can influence.
#[test]
fn length_sorted_evaluation_predicts_as_one_example_at_a_time() {
    use curlora::core::rng::Rng;
    use curlora::train::batch::Encoded;
    use curlora::train::{Head, Pooling};
    let device = Device::flex();
    let lm = LanguageModel::load(&fixture("tiny-gpt2"), &device).unwrap();
    let mut rng = Rng::new(7);
    let head = Head::new(lm.hidden_size(), 3, &mut rng, &device);
    let model = TaskModel { lm, head };
    let data: Vec<Encoded> = (0..23)
        .map(|i| Encoded {
            ids: (0..1 + (i * 7) % 13)
                .map(|k| ((i * 31 + k * 17) % 90) as u32 + 1)
                .collect(),
            label: 0,
        })
        .collect();
    let mut cfg = spec().train;
    cfg.pooling = Pooling::LastNonPad;
    cfg.eval_batch_size = 1;
    let one = curlora::train::predict(&model, &data, 0, &cfg).unwrap();
    cfg.eval_batch_size = 8;
    let batched = curlora::train::predict(&model, &data, 0, &cfg).unwrap();
    assert_eq!(one, batched);
    let mut classes = one.clone();
    classes.sort();
    classes.dedup();
    assert!(
        classes.len() > 1,
        "a constant prediction would test nothing: {one:?}"
    );
}

/// A task evaluated on rows it trains on is flagged (in the report's notes); holding the rows
/// out with `eval_skip` clears the flag, and balanced selection gives a 1/k majority baseline.
#[test]
fn evaluation_on_training_rows_is_flagged_and_eval_skip_holds_them_out() {
    let device = Device::flex().autodiff();
    let mut s = spec();
    s.tasks.truncate(1);
    let exp = Experiment::load(s.clone(), &device).unwrap();
    assert_eq!(exp.warnings.len(), 1, "{:?}", exp.warnings);
    assert!(exp.warnings[0].contains("`fruit`") && exp.warnings[0].contains("eval_skip"));
    // 32 rows alternating no/yes: 8 balanced training rows are the first 8; evaluation takes
    // 8 balanced rows after row 16.
    s.tasks[0].train_rows = Some(8);
    s.tasks[0].eval_skip = Some(16);
    s.tasks[0].eval_rows = Some(8);
    s.tasks[0].balanced = true;
    let exp = Experiment::load(s, &device).unwrap();
    assert!(exp.warnings.is_empty(), "{:?}", exp.warnings);
    let t = &exp.tasks[0];
    assert_eq!((t.train.len(), t.eval.len()), (8, 8));
    assert!(
        (t.majority_baseline - 1.0 / t.num_classes as f64).abs() < 1e-12,
        "{}",
        t.majority_baseline
    );
}
