//! A batch too large for the GPU is an error that says what to change, never a panic: one
//! training batch of 20,000 rows of the tiny fixture GPT-2 needs a 164 MB buffer, over lavapipe's
//! limit (128 MiB per binding) and on any GPU more than this model should ever ask for. Skipped
//! without a wgpu adapter, unless `CURLORA_REQUIRE_GPU=1`.

mod common;

use common::tiny_experiment;
use curlora::adapters::Method;
use curlora::experiment::{TaskFormat, TaskSpec};
use curlora::train::Schedule;
use std::process::Command;

#[test]
fn a_batch_over_the_gpu_limit_is_an_error_that_says_what_to_change() {
    let dir = std::env::temp_dir().join(format!("curlora-gpu-fault-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("big.csv");
    common::big_csv(&data, 20_000);
    let mut spec = tiny_experiment();
    spec.methods = vec![Method::Lora];
    spec.train.batch_size = 20_000;
    spec.tasks = vec![
        TaskSpec::new("big", TaskFormat::Csv, data.clone(), data)
            .with_epochs(1)
            .with_eval_rows(64)
            .with_schedule(Schedule::Constant)
            .with_columns("text", "label"),
    ];
    let cfg = dir.join("exp.toml");
    std::fs::write(&cfg, spec.to_toml()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_curlora"))
        .args(["--device", "gpu", "run", "--no-head-only", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(dir.join("out"))
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("no GPU adapter found") || err.contains("could not start the wgpu device") {
        assert!(
            std::env::var("CURLORA_REQUIRE_GPU").as_deref() != Ok("1"),
            "CURLORA_REQUIRE_GPU=1 but there is no wgpu adapter:\n{err}"
        );
        eprintln!("skipped: no wgpu adapter");
        return;
    }
    assert!(!out.status.success(), "the run succeeded:\n{err}");
    assert!(!err.contains("panicked"), "a panic, not an error:\n{err}");
    assert!(
        err.contains("could not allocate a buffer of 164 MB"),
        "{err}"
    );
    for advice in ["--batch-size", "--dtype f16", "--device cpu"] {
        assert!(
            err.contains(advice),
            "the error does not suggest {advice}:\n{err}"
        );
    }
}
