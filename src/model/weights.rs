//! Reading tensors from HF checkpoints — `model.safetensors`, or shards listed in
//! `model.safetensors.index.json` — with errors that name the file, the key and what was
//! expected.
//!
//! Files are memory-mapped, not read: a 7B model in bf16 is 14 GB on disk, and copying it into
//! memory before converting each tensor would hold two copies of the model at once. Each tensor
//! is converted to f32 on its own when the model asks for it.

use crate::core::error::{Error, Result};
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The bytes of one safetensors file: mapped from disk, or owned (built in memory).
enum Bytes {
    #[cfg(not(target_arch = "wasm32"))]
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Bytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            #[cfg(not(target_arch = "wasm32"))]
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

struct File {
    path: PathBuf,
    bytes: Bytes,
}

impl File {
    fn tensors(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(self.bytes.as_slice()).expect("validated when opened")
    }
}

/// One or more safetensors files seen as a single set of named tensors.
pub struct Checkpoint {
    /// What errors about missing tensors name: the file, or the index of a sharded checkpoint.
    path: PathBuf,
    files: Vec<File>,
    /// Tensor name → index into `files`.
    index: HashMap<String, usize>,
}

fn open_file(path: &Path) -> Result<File> {
    // The embedded files, and every file in the browser (no mmap there), are read into memory.
    if cfg!(target_arch = "wasm32") || crate::core::embedded::embedded(path).is_some() {
        let bytes = crate::core::fsutil::read(path)?;
        check(path, &bytes)?;
        return Ok(File {
            path: path.to_path_buf(),
            bytes: Bytes::Owned(bytes),
        });
    }
    open_mapped(path)
}

#[cfg(target_arch = "wasm32")]
fn open_mapped(path: &Path) -> Result<File> {
    Err(Error::config(format!(
        "{}: cannot map files in the browser",
        path.display()
    )))
}

#[cfg(not(target_arch = "wasm32"))]
fn open_mapped(path: &Path) -> Result<File> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    // SAFETY: the map is read-only; a checkpoint modified on disk while we read it is outside
    // what any loader can guard against (transformers and candle map files the same way).
    let map = unsafe { memmap2::Mmap::map(&f) }.map_err(|e| Error::io(path, e))?;
    check(path, &map)?;
    Ok(File {
        path: path.to_path_buf(),
        bytes: Bytes::Mapped(map),
    })
}

fn check(path: &Path, bytes: &[u8]) -> Result<()> {
    SafeTensors::deserialize(bytes)
        .map_err(|e| Error::format(path, format!("not a valid safetensors file: {e}")))?;
    Ok(())
}

impl Checkpoint {
    /// Maps and validates one safetensors file.
    pub fn open(path: &Path) -> Result<Self> {
        Ok(Self::from_files(path, vec![open_file(path)?]))
    }

    /// The weights of an HF model folder: `model.safetensors`, or the shards named by
    /// `model.safetensors.index.json`.
    pub fn open_dir(dir: &Path) -> Result<Self> {
        let single = dir.join("model.safetensors");
        let index = dir.join("model.safetensors.index.json");
        if crate::core::fsutil::exists(&single) || !index.exists() {
            return Self::open(&single);
        }
        let text = crate::core::fsutil::read_to_string(&index)?;
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::format(&index, format!("not valid JSON: {e}")))?;
        let map = json
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| {
                Error::format(&index, "no `weight_map` object (tensor name → shard file)")
            })?;
        let mut names: Vec<String> = Vec::new();
        for (key, file) in map {
            let file = file.as_str().ok_or_else(|| {
                Error::format(&index, format!("weight_map[`{key}`] is not a file name"))
            })?;
            if !names.iter().any(|n| n == file) {
                names.push(file.to_string());
            }
        }
        names.sort();
        let files = names
            .iter()
            .map(|n| open_file(&dir.join(n)))
            .collect::<Result<Vec<_>>>()?;
        let mut ckpt = Self::from_files(&index, files);
        // Every tensor the index promises must be in the shard it names.
        for (key, file) in map {
            let file = file.as_str().unwrap_or_default();
            let at = ckpt.index.get(key).map(|&i| &ckpt.files[i].path);
            if at.and_then(|p| p.file_name()) != Some(std::ffi::OsStr::new(file)) {
                return Err(Error::tensor(
                    &index,
                    key,
                    format!("listed in shard `{file}`, which does not contain it"),
                ));
            }
        }
        ckpt.path = index;
        Ok(ckpt)
    }

    /// A checkpoint held in memory (adapter files carry full fine-tune weights this way).
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self> {
        check(path, &bytes)?;
        let file = File {
            path: path.to_path_buf(),
            bytes: Bytes::Owned(bytes),
        };
        Ok(Self::from_files(path, vec![file]))
    }

    fn from_files(path: &Path, files: Vec<File>) -> Self {
        let mut index = HashMap::new();
        for (i, f) in files.iter().enumerate() {
            for name in f.tensors().names() {
                index.insert(name.to_string(), i);
            }
        }
        Self {
            path: path.to_path_buf(),
            files,
            index,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Names of all tensors.
    pub fn keys(&self) -> Vec<String> {
        let mut k: Vec<String> = self.index.keys().cloned().collect();
        k.sort();
        k
    }

    /// The first of `candidates` present.
    pub fn find(&self, candidates: &[String]) -> Option<String> {
        candidates
            .iter()
            .find(|k| self.index.contains_key(k.as_str()))
            .cloned()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.index.contains_key(key)
    }

    /// Shape of tensor `key`, if present.
    pub fn shape(&self, key: &str) -> Option<Vec<usize>> {
        let f = &self.files[*self.index.get(key)?];
        f.tensors().tensor(key).ok().map(|v| v.shape().to_vec())
    }

    /// The stored dtype of tensor `key`, if present.
    pub fn dtype(&self, key: &str) -> Option<Dtype> {
        let f = &self.files[*self.index.get(key)?];
        f.tensors().tensor(key).ok().map(|v| v.dtype())
    }

    /// Reads tensor `key` as f32 (from F32, F16, BF16 or F64), checking its shape.
    pub fn read_f32(&self, key: &str, expected_shape: &[usize]) -> Result<Vec<f32>> {
        let Some(&i) = self.index.get(key) else {
            return Err(Error::tensor(
                &self.path,
                key,
                "missing from the checkpoint",
            ));
        };
        let file = &self.files[i];
        let st = file.tensors();
        let view = st
            .tensor(key)
            .map_err(|_| Error::tensor(&file.path, key, "missing from the file"))?;
        if view.shape() != expected_shape {
            return Err(Error::tensor(
                &file.path,
                key,
                format!("shape {:?}, expected {:?}", view.shape(), expected_shape),
            ));
        }
        let Some(out) = to_f32(view.dtype(), view.data()) else {
            return Err(Error::tensor(
                &file.path,
                key,
                format!(
                    "dtype {:?}, expected a float type (F32, F16, BF16 or F64)",
                    view.dtype()
                ),
            ));
        };
        Ok(out)
    }
}

/// Named f32 tensors as safetensors bytes, stored as `dtype` (F32, F16 or BF16; anything else
/// is stored as F32): what pretraining, merging, the PEFT export and adapter files write.
pub fn serialize(
    tensors: &[(String, Vec<usize>, Vec<f32>)],
    dtype: Dtype,
    metadata: Option<std::collections::HashMap<String, String>>,
) -> Result<Vec<u8>> {
    let dtype = match dtype {
        Dtype::F16 | Dtype::BF16 => dtype,
        _ => Dtype::F32,
    };
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, v)| match dtype {
            Dtype::F16 => v
                .iter()
                .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
                .collect(),
            Dtype::BF16 => v
                .iter()
                .flat_map(|x| half::bf16::from_f32(*x).to_le_bytes())
                .collect(),
            _ => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .zip(&bytes)
        .map(|((n, s, _), b)| {
            let view = safetensors::tensor::TensorView::new(dtype, s.clone(), b)
                .expect("shape matches the data");
            (n.clone(), view)
        })
        .collect();
    safetensors::serialize(views, metadata)
        .map_err(|e| Error::config(format!("cannot serialize tensors: {e}")))
}

/// Little-endian float data of `dtype` as f32 (`None` for a non-float dtype).
pub fn to_f32(dtype: Dtype, data: &[u8]) -> Option<Vec<f32>> {
    Some(match dtype {
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
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
            .collect(),
        _ => return None,
    })
}

/// A tensor's shape and f32 values on the host (saving weights and adapters).
pub fn host<const D: usize>(t: burn::tensor::Tensor<D>) -> (Vec<usize>, Vec<f32>) {
    let shape = t.dims().to_vec();
    let v = t
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 tensor");
    (shape, v)
}
