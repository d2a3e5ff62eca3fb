//! The embedded default: a tiny GPT-2 pretrained by `curlora pretrain`, three small task files
//! and a held-out text, compiled into the binary so that `curlora` teaches offline, out of the
//! box. See `assets/README.md` for where each file comes from and how it was made.

use super::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// `(relative path, bytes)` of every embedded file.
pub static FILES: [(&str, &[u8]); 10] = [
    (
        "model/config.json",
        include_bytes!("../../assets/model/config.json"),
    ),
    (
        "model/model.safetensors",
        include_bytes!("../../assets/model/model.safetensors"),
    ),
    (
        "model/tokenizer.json",
        include_bytes!("../../assets/model/tokenizer.json"),
    ),
    (
        "model/heldout.txt",
        include_bytes!("../../assets/model/heldout.txt"),
    ),
    (
        "tasks/movies-train.csv",
        include_bytes!("../../assets/tasks/movies-train.csv"),
    ),
    (
        "tasks/movies-eval.csv",
        include_bytes!("../../assets/tasks/movies-eval.csv"),
    ),
    (
        "tasks/style-train.csv",
        include_bytes!("../../assets/tasks/style-train.csv"),
    ),
    (
        "tasks/style-eval.csv",
        include_bytes!("../../assets/tasks/style-eval.csv"),
    ),
    (
        "tasks/tweets-train.csv",
        include_bytes!("../../assets/tasks/tweets-train.csv"),
    ),
    (
        "tasks/tweets-eval.csv",
        include_bytes!("../../assets/tasks/tweets-eval.csv"),
    ),
];

/// The virtual folder the embedded files live under (see [`crate::core::fsutil::read`]).
pub const EMBEDDED_ROOT: &str = "<embedded>";

/// The embedded file at `path`, when `path` is `EMBEDDED_ROOT/<name>`.
pub fn embedded(path: &Path) -> Option<&'static [u8]> {
    let rest = path.strip_prefix(EMBEDDED_ROOT).ok()?;
    let rest = rest.to_str()?.replace('\\', "/");
    FILES.iter().find(|(n, _)| *n == rest).map(|(_, b)| *b)
}

/// SHA-256 of an embedded file, hex.
pub fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// A short fingerprint of all embedded files (names the cache folder).
pub fn fingerprint() -> String {
    let mut h = Sha256::new();
    for &(name, bytes) in FILES.iter() {
        h.update(name.as_bytes());
        h.update(bytes);
    }
    format!("{:x}", h.finalize())[..16].to_string()
}

/// `$XDG_CACHE_HOME/curlora`, else `~/.cache/curlora`: where unpacked assets and imported
/// GGUF models live.
pub fn cache_root() -> PathBuf {
    // The browser has no file system (and `temp_dir` panics there): nothing is cached.
    if cfg!(target_arch = "wasm32") {
        return PathBuf::from(EMBEDDED_ROOT);
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("curlora")
}

/// Writes the embedded files to a cache folder (once) and returns it, so the default
/// experiment loads through the same code as any model folder and data file.
///
/// In the browser there is no file system: the embedded files are served from memory under
/// [`EMBEDDED_ROOT`] instead.
pub fn materialize() -> Result<PathBuf> {
    if cfg!(target_arch = "wasm32") {
        return Ok(PathBuf::from(EMBEDDED_ROOT));
    }
    let dir = cache_root().join(format!("embedded-{}", fingerprint()));
    for &(name, bytes) in FILES.iter() {
        let path = dir.join(name);
        let fresh = std::fs::read(&path).map(|b| b == bytes).unwrap_or(false);
        if !fresh {
            crate::core::fsutil::write_atomic(&path, bytes)?;
        }
    }
    if !dir.join("model/config.json").exists() {
        return Err(Error::config(format!(
            "could not unpack the embedded assets into {}",
            dir.display()
        )));
    }
    Ok(dir)
}
