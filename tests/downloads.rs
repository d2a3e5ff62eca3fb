//! What the browser's Download menu offers (`app::download::available`), checked natively: the
//! recording's adapter files (each loads onto the embedded model with one head per task, and
//! CURLoRA's is kilobytes), and a finished run's report as JSON, Markdown and CSV. The Blob hand-
//! over itself is the browser's (`web/e2e.mjs` builds it; wasm32 `cargo check`).

mod common;

use curlora::app::download::available;
use curlora::app::state::{RECORDED_RUN, Session, parse_recording};
use curlora::experiment::Experiment;
use curlora::model::store;

#[test]
fn the_recordings_adapters_are_offered_and_load() {
    let mut session = Session::default();
    for e in parse_recording(RECORDED_RUN).unwrap() {
        session.apply(&e);
    }
    let files = available(&session, None);
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["lora-8-seed1.safetensors", "curlora-8-seed1.safetensors"]
    );
    let dir = curlora::core::embedded::materialize().unwrap();
    let spec = curlora::experiment::default_experiment(&dir);
    let exp = Experiment::load(spec, &burn::tensor::Device::flex()).unwrap();
    let hash = exp.base.weights_hash().to_string();
    for (f, run) in files.iter().zip(&session.runs) {
        let loaded = store::load_bytes(
            &f.bytes,
            std::path::Path::new(&f.name),
            exp.base.clone(),
            &hash,
        )
        .unwrap();
        assert_eq!(loaded.meta.config.method, run.method);
        assert_eq!(loaded.heads.len(), 3, "{}: a head per task", f.name);
        assert!(f.label.contains("after tweets"), "{}", f.label);
    }
    let curlora = &files[1];
    assert!(
        curlora.bytes.len() < 100_000,
        "{} bytes",
        curlora.bytes.len()
    );
}

#[test]
fn a_finished_runs_report_is_offered_in_three_formats() {
    let mut spec = common::tiny_experiment();
    spec.methods = vec![curlora::adapters::Method::CurLora];
    let exp = Experiment::load(spec, &burn::tensor::Device::flex().autodiff()).unwrap();
    let report = common::run_quietly(&exp);
    let files = available(&Session::default(), Some(&report));
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["report.json", "report.md", "report.csv"]);
    // The same text `curlora run` writes to report.json (compared as text: serde_json's float
    // parser does not round-trip every f64 without its `float_roundtrip` feature).
    assert_eq!(
        files[0].bytes,
        serde_json::to_string_pretty(&report).unwrap().into_bytes()
    );
    let json: serde_json::Value = serde_json::from_slice(&files[0].bytes).unwrap();
    assert_eq!(json["runs"][0]["method"], "curlora");
    assert_eq!(files[1].bytes, report.markdown().into_bytes());
    assert_eq!(files[2].bytes, report.csv().into_bytes());
}
