//! Shared by the fuzz targets: a scratch folder for readers that take a path.
#![allow(dead_code)]

use std::path::PathBuf;

/// A per-process scratch folder in memory (`/dev/shm`) when there is one.
pub fn scratch() -> PathBuf {
    let root = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = root.join(format!("curlora-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// Writes `bytes` to `name` in the scratch folder and returns its path.
pub fn file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch().join(name);
    std::fs::write(&path, bytes).expect("scratch file");
    path
}

/// Lets panics raised inside the crate whose source path contains `marker` unwind instead of
/// aborting (libfuzzer-sys's hook aborts on every panic, caught or not): for a dependency that
/// panics on bad input, which our wrapper catches and turns into an error. Any other panic
/// still aborts, and is a crash.
pub fn let_unwind_panics_from(marker: &'static str) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let inside = info.location().is_some_and(|l| l.file().contains(marker));
            if !inside {
                abort(info);
            }
        }));
    });
}
