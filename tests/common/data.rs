//! Helpers for the dataset-reader tests (`tests/data_parsers.rs`, `tests/data_generic.rs`).
#![allow(dead_code)]

use curlora::Error;
use curlora::data::LoadOptions;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/data");
pub const MRPC_HEADER: &str = "\u{feff}Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n";

/// Writes `content` to a fresh file named `<pid>-<n>-<name>` in the temp directory.
pub fn temp_file(name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join("curlora-data-parsers");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}-{n}-{name}", std::process::id()));
    std::fs::write(&path, content).unwrap();
    path
}

pub fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Asserts the error names the file and `line N:` and contains every `needle`.
pub fn assert_error(err: Error, path: &Path, line: usize, needles: &[&str]) {
    let msg = err.to_string();
    assert!(msg.contains(&file_name(path)), "no file name in: {msg}");
    assert!(
        msg.contains(&format!("line {line}:")),
        "no `line {line}:` in: {msg}"
    );
    for n in needles {
        assert!(msg.contains(n), "no `{n}` in: {msg}");
    }
}

pub fn strict() -> LoadOptions {
    LoadOptions::strict()
}

pub fn skip() -> LoadOptions {
    LoadOptions::skip_bad_rows()
}
