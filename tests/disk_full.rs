//! A full disk, as a file-size limit (`ulimit -f`, with SIGXFSZ ignored so that a write past it
//! fails with EFBIG as on a full file system): `curlora run` into a folder that holds an earlier
//! run's results stops with an error that names the file it could not write, every earlier
//! file is as it was, and no temporary file is left behind.

mod common;

use common::tiny_experiment;
use curlora::adapters::Method;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("curlora-full-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Every file under `dir`, by relative path.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// `curlora run` on `cfg` into `out`, under a file-size limit of `limit_kb` KiB (none: `None`).
fn run(cfg: &Path, out: &Path, limit_kb: Option<u64>) -> (bool, String) {
    let bin = env!("CARGO_BIN_EXE_curlora");
    let limit = limit_kb.map_or("unlimited".to_string(), |k| k.to_string());
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f {limit}; exec \"$0\" \"$@\""
        ))
        .arg(bin)
        .args(["--device", "cpu", "run", "--no-head-only", "--config"])
        .arg(cfg)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "a panic, not an error:\n{err}");
    (out.status.success(), err)
}

#[test]
fn a_full_disk_is_an_error_naming_the_file_and_loses_nothing() {
    if !cfg!(target_os = "linux") || Command::new("bash").arg("-c").arg("true").status().is_err() {
        eprintln!("skipped: needs Linux and bash");
        return;
    }
    let dir = tmp("run");
    let mut spec = tiny_experiment();
    spec.methods = vec![Method::Lora];
    let cfg = dir.join("exp.toml");
    std::fs::write(&cfg, spec.to_toml()).unwrap();
    let out = dir.join("out");
    let (ok, err) = run(&cfg, &out, None);
    assert!(ok, "{err}");
    let before = tree(&out);
    let adapter = before["adapters/lora-4-seed1.safetensors"].len() as u64;
    let report = before["report.json"].len() as u64;
    assert!(
        adapter > 2048,
        "the adapter ({adapter} bytes) must not fit under the limit"
    );

    // The same files again from other results (another learning rate), but no file may grow
    // past 1 KiB: the adapter (overwritten at the end of the run) is the first that cannot.
    spec.train.lr *= 3.0;
    std::fs::write(&cfg, spec.to_toml()).unwrap();
    let (ok, err) = run(&cfg, &out, Some(1));
    assert!(!ok, "the run succeeded under a 1 KiB file-size limit");
    let name = out.join("adapters/lora-4-seed1.safetensors");
    assert!(
        err.contains(&name.display().to_string()),
        "the error does not name the file:\n{err}"
    );
    assert!(
        err.contains("File too large"),
        "the error does not say why:\n{err}"
    );
    // The checkpoint could not be saved either, and said so.
    assert!(err.contains("could not save the checkpoint"), "{err}");

    let after = tree(&out);
    for (path, bytes) in &before {
        assert!(after.get(path) == Some(bytes), "{path} changed or vanished");
    }
    let extra: Vec<&String> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    assert!(extra.is_empty(), "files left behind: {extra:?}");
    assert!(
        report > 1024,
        "report.json ({report} bytes) would not have hit the limit"
    );
}
