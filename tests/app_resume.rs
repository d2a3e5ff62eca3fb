//! The app's side of "nothing is lost": a live session the app was closed on is offered at the
//! next start and, resumed, ends with exactly the report an uninterrupted session writes; a GPU
//! that cannot hold a batch stops the session with the error in the status bar and an offer to
//! go on on the CPU. Driven headless with egui_kittest (no renderer needed).

mod common;

use common::app::{gpu_available, run_until};
use curlora::app::setup::{CustomTask, Setup};
use curlora::app::{Clock, CurloraApp, Source, interrupted};
use curlora::experiment::Experiment;
use curlora::experiment::checkpoint::Resumed;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn temp(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("curlora-app-resume-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn harness(app: CurloraApp) -> Harness<'static, CurloraApp> {
    Harness::builder()
        .with_size(egui::vec2(1360.0, 900.0))
        .with_context_setup(curlora::app::install_fonts)
        .build_ui_state(|ui, app: &mut CurloraApp| app.frame(ui), app)
}

fn live_out(app: &CurloraApp) -> PathBuf {
    match &app.source {
        Source::Live(l) => l.out.clone(),
        _ => panic!("not live"),
    }
}

fn finished(app: &CurloraApp) -> bool {
    matches!(&app.source, Source::Live(l) if l.done)
}

/// Starts a live session of `setup` under `root`, lets it train until its checkpoint satisfies
/// `enough`, then stops it as closing the app does; returns the session folder.
fn interrupted_session(root: &Path, setup: &Setup, enough: impl Fn(&Resumed) -> bool) -> PathBuf {
    let mut app = CurloraApp::new(setup.clone(), Clock::Fixed(0.0));
    app.sessions_root = root.to_path_buf();
    app.start_live();
    let mut h = harness(app);
    let out = live_out(h.state());
    run_until(&mut h, Duration::from_secs(300), |_| {
        Resumed::read(&out).is_ok_and(|r| enough(&r))
    });
    h.state_mut().stop_live();
    run_until(&mut h, Duration::from_secs(120), finished);
    out
}

/// Every run's accuracy matrix in a session folder's report.json.
fn matrices(out: &Path) -> Vec<serde_json::Value> {
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["accuracy_matrix"].clone())
        .collect()
}

#[test]
fn an_interrupted_session_is_offered_and_resumes_to_the_uninterrupted_report() {
    let root = temp("sessions");
    let setup = Setup {
        max_rows: Some(32),
        epochs: 1,
        rank: 4,
        ..Setup::default()
    };
    // Train until both runs have a checkpoint after their first task.
    let out = interrupted_session(&root, &setup, |r| r.state.runs.len() == 2);
    let state = Resumed::read(&out).unwrap().state;
    assert!(
        state.runs.iter().any(|r| !r.finished),
        "the session finished before it could be interrupted"
    );

    // The next start finds it and says where it stands.
    let found = interrupted::find(&root).expect("the interrupted session is found");
    assert_eq!(found.dir, out);
    assert!(found.summary.contains("after task"), "{}", found.summary);
    let mut app = CurloraApp::new(setup, Clock::Fixed(0.0));
    app.sessions_root = root.clone();
    app.interrupted = Some(found);
    let mut h = harness(app);
    h.step();
    assert!(
        h.query_by_label_contains("An interrupted live session")
            .is_some(),
        "no offer on screen"
    );
    h.get_by_label("Resume it").click();
    h.step();
    assert_eq!(
        live_out(h.state()),
        out,
        "the resume writes to the same folder"
    );
    run_until(&mut h, Duration::from_secs(600), finished);
    h.step();
    match &h.state().source {
        Source::Live(l) => assert!(l.status.starts_with("done"), "{}", l.status),
        _ => unreachable!(),
    }
    // The views were refilled from the checkpoint: every task's row is there.
    for run in &h.state().session.runs {
        assert!(run.metrics.is_some(), "{}: no final metrics", run.label());
    }
    assert!(
        interrupted::find(&root).is_none(),
        "a finished session is still offered"
    );

    // An uninterrupted session of the same experiment (the checkpoint's), on the same device.
    let spec = Resumed::read(&out).unwrap().spec;
    let exp = Experiment::load(spec, &burn::tensor::Device::flex().autodiff()).unwrap();
    let report = common::run_quietly(&exp);
    let whole = temp("whole");
    report.write(&whole).unwrap();
    assert_eq!(
        matrices(&out),
        matrices(&whole),
        "the resumed session's accuracies differ from an uninterrupted one's"
    );
}

#[test]
fn discarding_an_interrupted_session_removes_only_its_checkpoint() {
    let root = temp("discard");
    let setup = Setup {
        max_rows: Some(16),
        epochs: 1,
        rank: 2,
        methods: vec![curlora::adapters::Method::CurLora],
        ..Setup::default()
    };
    let out = interrupted_session(&root, &setup, |_| true);
    let mut app = CurloraApp::new(setup, Clock::Fixed(0.0));
    app.interrupted = interrupted::find(&root);
    assert!(app.interrupted.is_some(), "not offered");
    let mut h = harness(app);
    h.step();
    h.get_by_label("Discard").click();
    h.step();
    assert!(h.state().interrupted.is_none());
    assert!(
        !out.join("checkpoint").exists(),
        "the checkpoint is still there"
    );
    assert!(
        out.join("report.json").exists(),
        "the session's report went too"
    );
    assert!(interrupted::find(&root).is_none(), "offered again");
}

/// One training batch of 12,000 rows of the embedded model needs buffers over lavapipe's
/// 128 MiB binding limit. Skipped without a wgpu adapter, unless `CURLORA_REQUIRE_GPU=1`.
#[test]
fn a_gpu_that_cannot_hold_the_batch_stops_the_session_and_offers_the_cpu() {
    if !gpu_available() {
        return;
    }
    let dir = temp("gpu");
    let data = dir.join("big.csv");
    common::big_csv(&data, 12_000);
    let setup = Setup {
        tasks: vec![CustomTask {
            name: "big".into(),
            train: data.clone(),
            eval: Some(data),
            text_column: "text".into(),
            label_column: "label".into(),
        }],
        methods: vec![curlora::adapters::Method::Lora],
        epochs: 1,
        rank: 2,
        batch_size: Some(12_000),
        device: curlora::core::device::DeviceChoice::Gpu,
        ..Setup::default()
    };
    let mut app = CurloraApp::new(setup, Clock::Fixed(0.0));
    app.sessions_root = dir.join("sessions");
    app.start_live();
    let mut h = harness(app);
    run_until(&mut h, Duration::from_secs(600), finished);
    h.step();
    let status = h.state().status.lock().unwrap().clone().unwrap_or_default();
    assert!(!status.contains("panicked"), "a panic: {status}");
    assert!(
        status.contains("could not allocate a buffer"),
        "the status bar does not say what happened: {status}"
    );
    match &h.state().source {
        Source::Live(l) => assert!(l.device_fault, "not seen as a GPU fault: {}", l.status),
        _ => unreachable!(),
    }
    assert!(
        h.query_all_by_label_contains("could not allocate")
            .next()
            .is_some(),
        "the error is not on screen"
    );
    h.get_by_label("Continue on the CPU").click();
    h.step();
    assert_eq!(
        h.state().setup.device,
        curlora::core::device::DeviceChoice::Cpu
    );
    run_until(
        &mut h,
        Duration::from_secs(120),
        |a| matches!(&a.source, Source::Live(l) if l.device.contains("CPU")),
    );
    h.state_mut().stop_live();
    run_until(&mut h, Duration::from_secs(600), finished);
}
