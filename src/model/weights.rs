//! Reading tensors from an HF `model.safetensors`, with errors that name the file, the key and
//! what was expected.

use crate::error::{Error, Result};
use safetensors::{Dtype, SafeTensors};
use std::path::{Path, PathBuf};

/// A safetensors file held in memory.
pub struct Checkpoint {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl Checkpoint {
    /// Reads and validates the header of a safetensors file.
    pub fn open(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(path, bytes)
    }

    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self> {
        SafeTensors::deserialize(&bytes)
            .map_err(|e| Error::format(path, format!("not a valid safetensors file: {e}")))?;
        Ok(Self {
            path: path.to_path_buf(),
            bytes,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn tensors(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.bytes).expect("validated in open")
    }

    /// Names of all tensors in the file.
    pub fn keys(&self) -> Vec<String> {
        self.tensors()
            .names()
            .into_iter()
            .map(String::from)
            .collect()
    }

    /// The first of `candidates` present in the file.
    pub fn find(&self, candidates: &[String]) -> Option<String> {
        let st = self.tensors();
        candidates.iter().find(|k| st.tensor(k).is_ok()).cloned()
    }

    /// Reads tensor `key` as f32 (from F32, F16, BF16 or F64), checking its shape.
    pub fn read_f32(&self, key: &str, expected_shape: &[usize]) -> Result<Vec<f32>> {
        let st = self.tensors();
        let view = st
            .tensor(key)
            .map_err(|_| Error::tensor(&self.path, key, "missing from the file"))?;
        if view.shape() != expected_shape {
            return Err(Error::tensor(
                &self.path,
                key,
                format!("shape {:?}, expected {:?}", view.shape(), expected_shape),
            ));
        }
        let data = view.data();
        let out = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F16 => data
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::BF16 => data
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::F64 => data
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32)
                .collect(),
            other => {
                return Err(Error::tensor(
                    &self.path,
                    key,
                    format!("dtype {other:?}, expected a float type (F32, F16, BF16 or F64)"),
                ));
            }
        };
        Ok(out)
    }
}
