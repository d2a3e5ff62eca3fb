//! `curlora study` end to end, through the binary, with real engines: GNU parallel running two
//! shards at once on one folder, a study killed mid-cell and resumed, the Kubernetes and Slurm
//! job files, and `merge` naming missing cells. Every comparison is against the same study run
//! unsharded in one process, bitwise (the CPU backend is deterministic for a fixed thread
//! count). The real Slurm cluster test is `tests/slurm/run.sh` (`.ci/run` calls it).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const STUDY: &str = r#"
name = "tiny"
preset = "default"
methods = ["frozen", "lora", "curlora"]
ranks = [4]
seeds = [1, 2]
max_train = 16
max_eval = 16
epochs = 1
"#;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_curlora")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("curlora-study-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("study.toml"), STUDY).unwrap();
    d
}

fn curlora(args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    // One thread count for every process, so that results are bitwise comparable however
    // many processes share the machine.
    c.env("RAYON_NUM_THREADS", "2")
        .args(["--device", "cpu"])
        .args(args);
    c
}

fn ok(mut c: Command) -> String {
    let out = c.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{c:?} failed:\n{text}");
    text
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The study run unsharded in one process, then merged: the reference every test compares to.
fn reference() -> &'static (Vec<u8>, Vec<u8>) {
    static REF: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    REF.get_or_init(|| {
        let d = scratch("reference");
        let out = d.join("out");
        ok(curlora(&[
            "study",
            "--config",
            path(&d.join("study.toml")),
            "--out",
            path(&out),
            "--merge",
        ]));
        (
            std::fs::read(out.join("report.json")).unwrap(),
            std::fs::read(out.join("report.csv")).unwrap(),
        )
    })
}

fn report(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap()
}

/// Whether a program is installed; CI (`CURLORA_REQUIRE_ENGINES=1`) must have it.
fn have(program: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("CURLORA_REQUIRE_ENGINES").is_err(),
            "`{program}` is not installed, and CURLORA_REQUIRE_ENGINES is set (.ci/run installs it)"
        );
        eprintln!("skipped: `{program}` is not installed (Debian: apt-get install {program})");
    }
    found
}

/// The merged report is a mean ± sd with a t-interval per group, checked by hand on one metric.
#[test]
fn the_merge_reports_mean_sd_and_interval_per_group() {
    let r: serde_json::Value = serde_json::from_slice(&reference().0).unwrap();
    assert_eq!(r["cells_total"], 6);
    assert_eq!(r["missing"].as_array().unwrap().len(), 0);
    let cells = r["cells"].as_array().unwrap();
    let g = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["label"] == "lora-4")
        .unwrap();
    let acc: Vec<f64> = cells
        .iter()
        .filter(|c| c["method"] == "lora")
        .map(|c| c["metrics"]["acc"].as_f64().unwrap())
        .collect();
    assert_eq!(acc.len(), 2);
    let mean = (acc[0] + acc[1]) / 2.0;
    let sd = (acc[0] - acc[1]).abs() / 2f64.sqrt();
    let half = 12.706_204 * sd / 2f64.sqrt();
    let stat = &g["acc"];
    assert!((stat["mean"].as_f64().unwrap() - mean).abs() < 1e-12);
    assert!((stat["sd"].as_f64().unwrap() - sd).abs() < 1e-12);
    assert!((stat["ci95"][1].as_f64().unwrap() - (mean + half)).abs() < 1e-5);
    // No wall time in report.json: it must not depend on how the study was scheduled.
    let text = String::from_utf8_lossy(&reference().0);
    assert!(!text.contains("seconds"), "report.json carries a wall time");
}

/// GNU parallel runs the emitted command line (two shards at once on one folder); the merge
/// equals the unsharded study's, bitwise.
#[test]
fn gnu_parallel_shards_merge_to_the_unsharded_report() {
    if !have("parallel") {
        return;
    }
    let d = scratch("parallel");
    let out = d.join("out");
    let mut emit = curlora(&[
        "study",
        "emit",
        "parallel",
        "--config",
        path(&d.join("study.toml")),
        "--out",
        path(&out),
        "--shards",
        "2",
    ]);
    emit.arg("--binary").arg(bin());
    let line = ok(emit);
    assert!(line.contains("--shard '{}/2' ::: $(seq 0 1)"), "{line}");
    let script = d.join("parallel.sh");
    std::fs::write(&script, &line).unwrap();
    let mut sh = Command::new("bash");
    sh.arg(&script).env("RAYON_NUM_THREADS", "2");
    ok(sh);
    assert_eq!(
        std::fs::read(out.join("report.json")).unwrap(),
        reference().0
    );
    assert_eq!(
        std::fs::read(out.join("report.csv")).unwrap(),
        reference().1
    );
}

/// A study killed (SIGKILL) in the middle of a cell leaves a `.partial-` folder, never a cell;
/// the same command again removes it, redoes that cell, skips the finished ones, and the merge
/// equals an uninterrupted study's.
#[test]
fn a_study_killed_mid_cell_resumes_to_the_same_report() {
    let d = scratch("resume");
    let out = d.join("out");
    let study = d.join("study.toml");
    let args = ["study", "--config", path(&study), "--out", path(&out)];
    let mut child = curlora(&args).stderr(Stdio::null()).spawn().unwrap();
    let cells = out.join("cells");
    let start = Instant::now();
    // Wait until one cell has finished and the next one is being trained.
    let killed_during = loop {
        if start.elapsed() > Duration::from_secs(300) {
            break None;
        }
        let names: Vec<String> = std::fs::read_dir(&cells)
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let done = names.iter().filter(|n| !n.starts_with('.')).count();
        if let Some(p) = names.iter().find(|n| n.starts_with(".partial-"))
            && done >= 1
        {
            break Some(p.clone());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let killed_during = killed_during.expect("the study never got to its second cell");
    let finished: Vec<String> = std::fs::read_dir(&cells)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    for f in &finished {
        assert!(
            cells.join(f).join("report.json").is_file(),
            "{f} is not a finished cell"
        );
    }
    let log = ok(curlora(&args));
    assert!(
        log.contains(&format!("({} finished already", finished.len())),
        "the rerun did not skip the finished cells:\n{log}"
    );
    assert!(
        !cells.join(&killed_during).exists(),
        "the partial cell was not removed"
    );
    ok(curlora(&["study", "merge", path(&out)]));
    assert_eq!(
        std::fs::read(out.join("report.json")).unwrap(),
        reference().0
    );
}

/// `merge` names what is missing instead of averaging fewer seeds silently, and a folder reused
/// with a changed experiment is refused with the cell and file named.
#[test]
fn missing_cells_are_named_and_a_changed_grid_is_refused() {
    let d = scratch("missing");
    let out = d.join("out");
    let study = d.join("study.toml");
    ok(curlora(&[
        "study",
        "--config",
        path(&study),
        "--out",
        path(&out),
        "--shard",
        "0/2",
    ]));
    ok(curlora(&["study", "merge", path(&out)]));
    let r = report(&out);
    let missing: Vec<&str> = r["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(missing, ["frozen-seed2", "lora-4-seed2", "curlora-4-seed2"]);
    let lora = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["label"] == "lora-4")
        .unwrap();
    assert_eq!(lora["seeds"], serde_json::json!([1]));
    assert_eq!(lora["missing_seeds"], serde_json::json!([2]));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("missing cells") && md.contains("`lora-4-seed2`"),
        "{md}"
    );
    std::fs::write(&study, STUDY.replace("epochs = 1", "epochs = 2")).unwrap();
    let o = curlora(&["study", "--config", path(&study), "--out", path(&out)])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("frozen-seed1")
            && err.contains("config.toml")
            && err.contains("different experiment"),
        "{err}"
    );
}

/// The Kubernetes Indexed Job: its structure, the index and count variables, and the command,
/// which, run with the variables Kubernetes sets, takes that shard's cells.
#[test]
fn the_kubernetes_job_is_an_indexed_job_running_this_study() {
    let d = scratch("k8s");
    let out = d.join("out");
    let yaml = ok(curlora(&[
        "study",
        "emit",
        "k8s",
        "--config",
        path(&d.join("study.toml")),
        "--out",
        path(&out),
        "--shards",
        "3",
    ]));
    let job: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(job["apiVersion"], "batch/v1");
    assert_eq!(job["kind"], "Job");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    assert_eq!(spec["completions"], 3);
    assert_eq!(spec["parallelism"], 3);
    let c = &spec["template"]["spec"]["containers"][0];
    let env = c["env"].as_sequence().unwrap();
    let shards = env.iter().find(|e| e["name"] == "CURLORA_SHARDS").unwrap();
    assert_eq!(shards["value"], "3");
    let argv: Vec<String> = c["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let at = argv.iter().position(|a| a == "study").unwrap();
    assert_eq!(
        argv[at + 1..at + 3],
        ["--config".to_string(), path(&d.join("study.toml")).into()]
    );
    assert_eq!(
        argv[at + 3..at + 5],
        ["--out".to_string(), path(&out).into()]
    );
    let mount = &c["volumeMounts"][0]["mountPath"];
    assert_eq!(mount.as_str().unwrap(), path(&out));
    // Pod 1 of 3: Kubernetes sets JOB_COMPLETION_INDEX; cells 1 and 4 of the grid's 6
    // (frozen s1, frozen s2, lora s1, lora s2, curlora s1, curlora s2).
    let mut list = Command::new(bin());
    list.args(&argv[1..])
        .arg("--list")
        .env("JOB_COMPLETION_INDEX", "1")
        .env("CURLORA_SHARDS", "3");
    let listed = ok(list);
    let ids: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(ids, ["frozen-seed2", "curlora-4-seed1"], "{listed}");
}

/// The Slurm script is an array of N tasks running this study; with the variables Slurm sets,
/// each task takes its shard.
#[test]
fn the_slurm_script_is_a_job_array_over_the_shards() {
    let d = scratch("slurm");
    let out = d.join("out");
    let script = ok(curlora(&[
        "study",
        "emit",
        "slurm",
        "--config",
        path(&d.join("study.toml")),
        "--out",
        path(&out),
        "--shards",
        "2",
    ]));
    assert!(script.starts_with("#!/bin/bash\n"), "{script}");
    assert!(script.contains("\n#SBATCH --array=0-1\n"), "{script}");
    let exec = script.lines().find(|l| l.starts_with("exec ")).unwrap();
    assert!(
        exec.contains(" study --config ") && exec.contains(path(&out)),
        "{exec}"
    );
    let mut list = Command::new("bash");
    list.args([
        "-c",
        &format!("{} --list", exec.trim_start_matches("exec ")),
    ])
    .env("SLURM_ARRAY_TASK_ID", "0")
    .env("SLURM_ARRAY_TASK_COUNT", "2");
    let listed = ok(list);
    let ids: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(
        ids,
        ["frozen-seed1", "lora-4-seed1", "curlora-4-seed1"],
        "{listed}"
    );
}

/// A piped `curlora run` prints plain lines while it trains: one when each task starts and
/// ends, and step lines with the loss and the time left (every CURLORA_PROGRESS_SECS).
#[test]
fn a_piped_run_prints_progress_lines() {
    let d = scratch("progress");
    let mut c = curlora(&[
        "run",
        "--methods",
        "lora",
        "--no-head-only",
        "--max-train",
        "16",
        "--max-eval",
        "8",
        "--out",
        path(&d.join("out")),
    ]);
    c.env("CURLORA_PROGRESS_SECS", "0");
    let log = ok(c);
    for want in [
        "lora-8 movies: training, 2 steps",
        "step 2/2, loss ",
        "eta ",
        "steps done in",
    ] {
        assert!(log.contains(want), "no `{want}` in:\n{log}");
    }
}
