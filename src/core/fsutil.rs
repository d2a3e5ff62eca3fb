//! File writes that never leave a half-written file behind: write a sibling temp file, then
//! rename it over the target (atomic on the same file system).

use crate::core::error::{Error, Result};
use std::path::Path;

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    // Unique per call, not just per process: two threads may write the same file at once.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()));
    // On a full disk (or a file-size limit) the write fails part-way: remove what it left,
    // so that the target keeps its previous contents and no temporary file stays behind.
    if let Err(e) = std::fs::write(&tmp, bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::write(path, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::write(path, e)
    })
}

/// Reads a file. Paths under [`crate::core::embedded::EMBEDDED_ROOT`] are the files compiled into the
/// binary: that is how the browser build (which has no file system) loads the embedded default
/// through the same loaders as any model folder and data file.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    if let Some(bytes) = crate::core::embedded::embedded(path) {
        return Ok(bytes.to_vec());
    }
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// [`read`] as UTF-8 text; invalid UTF-8 is an error that names the file.
pub fn read_to_string(path: &Path) -> Result<String> {
    String::from_utf8(read(path)?).map_err(|e| Error::format(path, format!("not valid UTF-8: {e}")))
}

/// Whether `path` exists, on disk or among the embedded files.
pub fn exists(path: &Path) -> bool {
    crate::core::embedded::embedded(path).is_some() || path.exists()
}
