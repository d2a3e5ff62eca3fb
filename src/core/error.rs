//! Errors that name what went wrong and where: the file, the key or line, and what was
//! expected. Every user-facing failure in the library is one of these; the CLI prints it and
//! exits non-zero, never with a panic or a backtrace.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file exists but its content is not what we expected.
    #[error("{path}: {detail}")]
    Format { path: PathBuf, detail: String },
    /// A tensor in a checkpoint is missing or does not have the expected shape or dtype.
    #[error("{path}: tensor `{key}`: {detail}")]
    Tensor {
        path: PathBuf,
        key: String,
        detail: String,
    },
    /// A setting (rank, module name, option) is invalid.
    #[error("{0}")]
    Config(String),
    /// The requested compute device is not available.
    #[error("{0}")]
    Device(String),
    /// Training produced a non-finite value.
    #[error("{0}")]
    Numeric(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub fn write(path: &Path, source: std::io::Error) -> Self {
        Error::Write {
            path: path.to_path_buf(),
            source,
        }
    }

    pub fn format(path: &Path, detail: impl Into<String>) -> Self {
        Error::Format {
            path: path.to_path_buf(),
            detail: detail.into(),
        }
    }

    pub fn tensor(path: &Path, key: &str, detail: impl Into<String>) -> Self {
        Error::Tensor {
            path: path.to_path_buf(),
            key: key.to_string(),
            detail: detail.into(),
        }
    }

    pub fn config(detail: impl Into<String>) -> Self {
        Error::Config(detail.into())
    }
}
