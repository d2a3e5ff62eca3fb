//! Resumable runs. In the engine: every method, resumed at each task boundary from what it
//! reported there (its events and adapter file), sends the same events and ends with the same
//! adapter as the run that was never interrupted, bit for bit on the CPU. Through the CLI:
//! `curlora run` killed with SIGKILL at five points and aborted once in the middle of a save,
//! then `--resume`d, writes the uninterrupted run's report and adapters; a diverged run is
//! refused until `--lr-scale` is given.

mod common;

use burn::module::Module;
use burn::tensor::Device;
use common::*;
use curlora::adapters::{AdapterConfig, Method};
use curlora::experiment::Experiment;
use curlora::model::store;
use curlora::train::{Event, ResumeFrom, RunContext, RunOutcome, run_sequence};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("curlora-resume-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(
    exp: &Experiment,
    cfg: &AdapterConfig,
    resume: Option<&ResumeFrom>,
) -> (RunOutcome, Vec<Event>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let ctx = RunContext {
        run: 0,
        events: &tx,
        cancel: Arc::new(AtomicBool::new(false)),
        device_name: "test".into(),
        control: None,
        resume,
        checkpoint_base: true,
    };
    let out = run_sequence(
        &exp.base,
        &exp.tasks,
        &exp.heldout,
        cfg,
        &exp.spec.train,
        &ctx,
    )
    .unwrap();
    drop(ctx);
    drop(tx);
    (out, rx.into_iter().collect())
}

fn json(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect()
}

fn adapter_bytes(exp: &Experiment, cfg: &AdapterConfig, out: &RunOutcome) -> Vec<u8> {
    let heads: Vec<_> = exp
        .tasks
        .iter()
        .zip(&out.heads)
        .map(|(t, h)| (t.name.clone(), h.valid()))
        .collect();
    store::to_bytes(
        &out.model.valid(),
        cfg,
        exp.base.weights_hash(),
        &heads,
        None,
    )
    .unwrap()
}

#[test]
fn every_method_resumed_at_every_boundary_equals_the_uninterrupted_run() {
    let exp = Experiment::load(tiny_experiment(), &Device::flex().autodiff()).unwrap();
    for &method in Method::ALL {
        let mut cfg = AdapterConfig::new(method, 4, 3);
        cfg.targets = vec!["attn.c_attn".into(), "mlp.c_fc".into()];
        let (whole, events) = run(&exp, &cfg, None);
        let whole_adapter = adapter_bytes(&exp, &cfg, &whole);
        for boundary in 0..exp.tasks.len() {
            let end = events
                .iter()
                .position(|e| matches!(e, Event::TaskEnd { task, .. } if *task == boundary))
                .unwrap();
            let adapter = events[..end]
                .iter()
                .find_map(|e| match e {
                    Event::Checkpoint {
                        after_task,
                        adapter,
                        ..
                    } if *after_task == boundary => Some(adapter.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| panic!("{method:?}: no checkpoint after task {boundary}"));
            let last = boundary + 1 == exp.tasks.len();
            let kept = if last { events.len() } else { end + 1 };
            let from = ResumeFrom {
                after_task: boundary,
                events: events[..kept].to_vec(),
                adapter,
                finished: last,
                seconds: 0.0,
                lr_scale: 1.0,
            };
            let (resumed, after) = run(&exp, &cfg, Some(&from));
            let what = format!("{method:?} resumed after task {boundary}");
            assert_eq!(
                json(&after),
                json(&events[kept..]),
                "{what}: the events that follow"
            );
            assert_eq!(
                format!("{:?}", resumed.accuracy),
                format!("{:?}", whole.accuracy),
                "{what}"
            );
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&resumed.perplexity),
                bits(&whole.perplexity),
                "{what}: perplexity"
            );
            assert_eq!(
                format!("{:?}", resumed.losses),
                format!("{:?}", whole.losses),
                "{what}: losses"
            );
            assert_eq!(
                resumed.constant_predictor, whole.constant_predictor,
                "{what}"
            );
            assert_eq!(resumed.steps, whole.steps, "{what}: steps");
            assert!(
                adapter_bytes(&exp, &cfg, &resumed) == whole_adapter,
                "{what}: the final adapter file differs"
            );
        }
    }
}

/// The tiny experiment as a file, and the CLI's arguments to run it into `out`.
fn cli(dir: &Path) -> PathBuf {
    let mut spec = tiny_experiment();
    spec.methods = vec![Method::Lora, Method::CurLora];
    // Longer tasks, so that the kills below fall between saves and not only at the end.
    for t in &mut spec.tasks {
        t.epochs = 6;
    }
    let cfg = dir.join("exp.toml");
    std::fs::write(&cfg, spec.to_toml()).unwrap();
    cfg
}

fn curlora() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_curlora"));
    c.args(["--device", "cpu"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

fn fresh(cfg: &Path, out: &Path) -> Command {
    let mut c = curlora();
    c.arg("run").arg("--config").arg(cfg).arg("--out").arg(out);
    c
}

fn resume(out: &Path) -> Command {
    let mut c = curlora();
    c.arg("run").arg("--resume").arg(out);
    c
}

/// report.json without what measures time, which no two runs share.
fn report(out: &Path) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.retain(|k, _| k != "seconds" && k != "steps_per_second");
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let text = std::fs::read_to_string(out.join("report.json")).unwrap();
    let mut v = serde_json::from_str(&text).unwrap();
    strip(&mut v);
    v
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

fn saves(out: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(out.join("checkpoint/checkpoint.json")).ok()?;
    serde_json::from_str::<serde_json::Value>(&text).ok()?["save"].as_u64()
}

#[test]
fn killed_five_times_and_once_in_a_save_the_resumed_run_writes_the_same_report() {
    let dir = tmp("kill");
    let cfg = cli(&dir);
    let reference = dir.join("reference");
    let t0 = Instant::now();
    let out = fresh(&cfg, &reference).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let whole = t0.elapsed();

    let target = dir.join("interrupted");
    // Each process is killed a little after its next save (0 to 60 ms later, fixed so that
    // the test repeats): every kill lands at another point of the work, and each resume has
    // made progress.
    let mut kills = 0;
    for delay_ms in [0u64, 15, 30, 45, 60] {
        let before = saves(&target);
        let mut child = match before {
            None => fresh(&cfg, &target).spawn().unwrap(),
            Some(_) => resume(&target).spawn().unwrap(),
        };
        let deadline = Instant::now() + whole * 4;
        while saves(&target) == before
            && child.try_wait().unwrap().is_none()
            && Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert_eq!(kills, 5, "the run finished before it was killed five times");
    // Abort in the middle of the next save: its files are written, checkpoint.json is not.
    let next = saves(&target).unwrap_or(0) + 1;
    let mut c = if next == 1 {
        fresh(&cfg, &target)
    } else {
        resume(&target)
    };
    let aborted = c
        .env("CURLORA_FAULT_AT_SAVE", next.to_string())
        .output()
        .unwrap();
    assert!(!aborted.status.success(), "the fault point did not fire");
    assert_eq!(
        saves(&target),
        Some(next - 1).filter(|&n| n > 0),
        "a half-done save committed"
    );
    let done = resume(&target).output().unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );

    assert_eq!(
        report(&target),
        report(&reference),
        "report.json differs from the uninterrupted run's"
    );
    assert!(
        files(&target.join("adapters")) == files(&reference.join("adapters")),
        "the saved adapters differ"
    );
    // Only what checkpoint.json names is left in the folder: no temporary files.
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(target.join("checkpoint/checkpoint.json")).unwrap())
            .unwrap();
    let mut named: Vec<String> = state["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["adapter"].as_str().unwrap().to_string())
        .collect();
    named.push(state["events"].as_str().unwrap().to_string());
    named.push("checkpoint.json".into());
    named.sort();
    let left: Vec<String> = files(&target.join("checkpoint"))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(left, named);
}

#[test]
fn a_diverged_run_is_refused_until_a_lower_learning_rate_is_asked_for() {
    let dir = tmp("diverged");
    let cfg = cli(&dir);
    let out = dir.join("out");
    // Stop in the second save: the checkpoint holds run 0 after its first task.
    let first = fresh(&cfg, &out)
        .env("CURLORA_FAULT_AT_SAVE", "2")
        .output()
        .unwrap();
    assert!(!first.status.success());
    // As the writer records a run that diverged on its next task (a real divergence needs a
    // learning rate that also breaks the first task, before any boundary).
    let path = out.join("checkpoint/checkpoint.json");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(state["runs"][0]["after_task"], 0);
    state["runs"][0]["diverged"] = "task `mood`: the loss is not finite (NaN) at step 3".into();
    std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();

    let refused = resume(&out).output().unwrap();
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("run 0 diverged after task 0") && err.contains("--lr-scale"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    let record = dir.join("events.jsonl");
    let retried = resume(&out)
        .args(["--lr-scale", "0.5", "--record"])
        .arg(&record)
        .output()
        .unwrap();
    assert!(
        retried.status.success(),
        "{}",
        String::from_utf8_lossy(&retried.stderr)
    );
    let events = std::fs::read_to_string(&record).unwrap();
    assert!(
        events.contains("resumed with the learning rate × 0.5"),
        "no Control event"
    );
    // The record is whole: run 0's start (sent again from the checkpoint) and both runs' ends.
    assert!(events.lines().next().unwrap().contains("\"run_start\""));
    assert_eq!(
        events.matches("\"run_end\"").count(),
        3,
        "lora, curlora and head-only"
    );
    assert!(out.join("report.json").exists());
}
