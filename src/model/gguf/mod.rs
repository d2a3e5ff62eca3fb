//! GGUF import: reads llama.cpp's single-file model format and turns a Llama GGUF into the
//! HF-style folder (`config.json`, `model.safetensors`, `tokenizer.json`) the rest of the crate
//! loads.
//!
//! Format: the GGUF spec, <https://github.com/ggml-org/ggml/blob/master/docs/gguf.md>,
//! versions 2 and 3, little-endian. A file is
//!
//! ```text
//! header:   magic "GGUF" · u32 version · u64 tensor_count · u64 metadata_kv_count
//! metadata: metadata_kv_count × (string key · u32 value_type · value)
//! infos:    tensor_count × (string name · u32 n_dims · u64 dims[n_dims] · u32 type · u64 offset)
//! padding:  up to a multiple of `general.alignment` (32 when absent)
//! data:     tensor bytes; each tensor at `offset` from the start of this section
//! ```
//!
//! with strings stored as a u64 byte length followed by UTF-8 bytes. Block layouts of the
//! quantized types follow ggml's `ggml-common.h`; the Q/K row permutation that import undoes is
//! the one in llama.cpp's `convert_hf_to_gguf.py`.
//!
//! The whole file is read into memory: the models we fine-tune are small (~100 MB quantized),
//! and one buffer turns every bounds check into a comparison with its length. Every count and
//! offset is checked against that length before it is used, so a corrupt file yields an error
//! that names the field, never a panic or a huge allocation.

use crate::core::error::{Error, Result};
use crate::core::fsutil::write_atomic;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, PreTokenizerWrapper, Tokenizer};

mod dequant;
mod import;
mod meta;
mod reader;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_import;
mod tokenizer;

#[allow(unused_imports)]
use dequant::*;
pub use dequant::{dequantize, unpermute_qk};
#[allow(unused_imports)]
use import::*;
pub use import::{ImportSummary, import};
#[allow(unused_imports)]
use meta::*;
pub use meta::{MetaValue, TensorInfo, ggml_type_name};
use reader::Reader;
pub use tokenizer::tokenizer;
#[allow(unused_imports)]
use tokenizer::*;

const MAGIC: &[u8; 4] = b"GGUF";
const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml tensors have at most 4 dimensions (`GGML_MAX_DIMS`).
const MAX_DIMS: u32 = 4;
/// Arrays of arrays are legal but unused in practice; the bound keeps a corrupt file from
/// recursing until the stack overflows.
const MAX_ARRAY_DEPTH: usize = 8;

/// ggml tensor type ids (`enum ggml_type` in ggml.h) that [`dequantize`] decodes.
pub const GGML_TYPE_F32: u32 = 0;
pub const GGML_TYPE_F16: u32 = 1;
pub const GGML_TYPE_Q4_0: u32 = 2;
pub const GGML_TYPE_Q4_1: u32 = 3;
pub const GGML_TYPE_Q8_0: u32 = 8;
pub const GGML_TYPE_BF16: u32 = 30;

const SUPPORTED_TYPES: &str = "F32, F16, BF16, Q4_0, Q4_1, Q8_0";

/// A GGUF file held in memory, with its header, metadata and tensor infos parsed and checked.
pub struct GgufFile {
    path: PathBuf,
    version: u32,
    metadata: BTreeMap<String, MetaValue>,
    tensors: Vec<TensorInfo>,
    index: HashMap<String, usize>,
    alignment: u64,
    /// Start of the data section in `bytes`.
    data_offset: usize,
    bytes: Vec<u8>,
}

/// Leaves out the metadata values and the bytes: a tokenizer array alone is 50k strings.
impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("path", &self.path)
            .field("version", &self.version)
            .field("metadata_keys", &self.metadata.len())
            .field("tensors", &self.tensors.len())
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl GgufFile {
    /// Reads and parses a GGUF file.
    pub fn open(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(path, bytes)
    }

    /// Parses GGUF bytes; `path` only names the source in errors.
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self> {
        let Parsed {
            version,
            metadata,
            tensors,
            alignment,
            data_offset,
        } = parse(&mut Reader::new(path, &bytes))?;
        let mut index = HashMap::with_capacity(tensors.len());
        for (i, t) in tensors.iter().enumerate() {
            if index.insert(t.name.clone(), i).is_some() {
                return Err(Error::tensor(
                    path,
                    &t.name,
                    "appears twice in the tensor infos",
                ));
            }
        }
        check_tensor_data(path, &tensors, data_offset, alignment, bytes.len())?;
        Ok(Self {
            path: path.to_path_buf(),
            version,
            metadata,
            tensors,
            index,
            alignment,
            // check_tensor_data has shown it lies within the file (or that there is no data).
            data_offset: usize::try_from(data_offset).unwrap_or(usize::MAX),
            bytes,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The GGUF version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    pub fn metadata(&self) -> &BTreeMap<String, MetaValue> {
        &self.metadata
    }

    /// Tensor infos in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.index.get(name).map(|&i| &self.tensors[i])
    }

    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.metadata.get(key)
    }

    /// Metadata `key` as a non-negative integer of any width.
    pub fn get_u64(&self, key: &str) -> Result<u64> {
        self.typed(key, "a non-negative integer", MetaValue::as_u64)
    }

    /// Metadata `key` as a number (float or integer).
    pub fn get_f64(&self, key: &str) -> Result<f64> {
        self.typed(key, "a number", MetaValue::as_f64)
    }

    pub fn get_str(&self, key: &str) -> Result<&str> {
        self.typed(key, "a string", MetaValue::as_str)
    }

    pub fn get_array(&self, key: &str) -> Result<&[MetaValue]> {
        self.typed(key, "an array", MetaValue::as_array)
    }

    /// Like [`Self::get_u64`], but a missing key is `None` (a present key of the wrong type is
    /// still an error).
    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>> {
        self.optional(key, Self::get_u64)
    }

    pub fn opt_f64(&self, key: &str) -> Result<Option<f64>> {
        self.optional(key, Self::get_f64)
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<&str>> {
        self.optional(key, Self::get_str)
    }

    fn optional<'a, T>(
        &'a self,
        key: &str,
        get: impl FnOnce(&'a Self, &str) -> Result<T>,
    ) -> Result<Option<T>> {
        if self.metadata.contains_key(key) {
            get(self, key).map(Some)
        } else {
            Ok(None)
        }
    }

    fn typed<'a, T>(
        &'a self,
        key: &str,
        expected: &str,
        convert: impl FnOnce(&'a MetaValue) -> Option<T>,
    ) -> Result<T> {
        let value = self
            .metadata
            .get(key)
            .ok_or_else(|| self.field_error(key, format!("is missing, expected {expected}")))?;
        convert(value).ok_or_else(|| {
            self.field_error(key, format!("is {}, expected {expected}", describe(value)))
        })
    }

    /// An error about metadata `key` of this file.
    fn field_error(&self, key: &str, detail: impl std::fmt::Display) -> Error {
        Error::format(&self.path, format!("metadata `{key}` {detail}"))
    }

    /// The raw bytes of tensor `info` (a type with a known size; see [`byte_len`]).
    fn tensor_bytes(&self, info: &TensorInfo, len: usize) -> Result<&[u8]> {
        let start = usize::try_from(info.offset)
            .ok()
            .and_then(|o| o.checked_add(self.data_offset));
        start
            .and_then(|s| self.bytes.get(s..s.checked_add(len)?))
            .ok_or_else(|| Error::tensor(&self.path, &info.name, "data lies beyond end of file"))
    }

    /// Tensor `name` as f32 values in row-major order with its HF/PyTorch shape (the GGUF dims
    /// reversed: `ne = [576, 49152]` gives shape `[49152, 576]`).
    pub fn read_f32(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>)> {
        let info = self
            .tensor(name)
            .ok_or_else(|| Error::tensor(&self.path, name, "missing from the file"))?;
        let tensor_error = |detail: String| Error::tensor(&self.path, name, detail);
        let n = info
            .n_elements()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| tensor_error(format!("dims {:?} overflow", info.dims)))?;
        let len = byte_len(info.ggml_type, n).map_err(tensor_error)?;
        let bytes = self.tensor_bytes(info, len)?;
        let values = dequantize(info.ggml_type, bytes, n).map_err(tensor_error)?;
        Ok((info.shape(), values))
    }
}

/// Everything before the tensor data.
struct Parsed {
    version: u32,
    metadata: BTreeMap<String, MetaValue>,
    tensors: Vec<TensorInfo>,
    alignment: u64,
    /// Offset of the data section: the end of the tensor infos, padded to the alignment.
    data_offset: u64,
}

fn parse(r: &mut Reader) -> Result<Parsed> {
    let version = read_magic_and_version(r)?;
    // A tensor info is at least an empty name (8), n_dims (4), type (4) and offset (8); a
    // key/value pair at least an empty key (8), a type (4) and a one-byte value.
    let n_tensors = r.count("header field tensor_count", 24)?;
    let n_kv = r.count("header field metadata_kv_count", 13)?;
    let metadata = read_metadata(r, n_kv)?;
    let alignment = alignment(r.path, &metadata)?;
    let tensors = (0..n_tensors)
        .map(|i| read_tensor_info(r, i))
        .collect::<Result<Vec<_>>>()?;
    let data_offset = (r.pos as u64).next_multiple_of(alignment);
    Ok(Parsed {
        version,
        metadata,
        tensors,
        alignment,
        data_offset,
    })
}

fn read_magic_and_version(r: &mut Reader) -> Result<u32> {
    let magic = r.array::<4>("header magic")?;
    if &magic != MAGIC {
        return Err(Error::format(
            r.path,
            format!("not a GGUF file: magic is {magic:?}, expected the bytes \"GGUF\""),
        ));
    }
    let version = r.u32("header field version")?;
    match version {
        2 | 3 => Ok(version),
        1 => Err(Error::format(
            r.path,
            "GGUF version 1 is not supported (only 2 and 3); \
             re-convert the model with a current llama.cpp",
        )),
        v if matches!(v.swap_bytes(), 2 | 3) => Err(Error::format(
            r.path,
            "big-endian GGUF files are not supported (header field version reads byte-swapped)",
        )),
        v => Err(Error::format(
            r.path,
            format!("header field version is {v}, expected GGUF version 2 or 3"),
        )),
    }
}

fn read_metadata(r: &mut Reader, n_kv: u64) -> Result<BTreeMap<String, MetaValue>> {
    let mut metadata = BTreeMap::new();
    for i in 0..n_kv {
        let key = r.string(&format!("metadata key #{i}"))?;
        let what = format!("metadata `{key}`");
        let value_type = r.u32(&what)?;
        let value = r.value(value_type, &what, 0)?;
        if metadata.insert(key, value).is_some() {
            return Err(Error::format(r.path, format!("{what} appears twice")));
        }
    }
    Ok(metadata)
}

/// `general.alignment`, which must be a power of two so that offsets can be padded to it.
fn alignment(path: &Path, metadata: &BTreeMap<String, MetaValue>) -> Result<u64> {
    let Some(value) = metadata.get("general.alignment") else {
        return Ok(DEFAULT_ALIGNMENT);
    };
    match value.as_u64() {
        Some(a) if a.is_power_of_two() => Ok(a),
        _ => Err(Error::format(
            path,
            format!(
                "metadata `general.alignment` is {}, expected a power of two",
                describe(value)
            ),
        )),
    }
}

fn read_tensor_info(r: &mut Reader, index: u64) -> Result<TensorInfo> {
    let name = r.string(&format!("tensor info #{index} name"))?;
    let what = format!("tensor info `{name}`");
    let n_dims = r.u32(&format!("{what} n_dimensions"))?;
    if n_dims > MAX_DIMS {
        return Err(Error::tensor(
            r.path,
            &name,
            format!("n_dimensions is {n_dims}, expected at most {MAX_DIMS}"),
        ));
    }
    let dims = (0..n_dims)
        .map(|_| r.u64(&format!("{what} dimensions")))
        .collect::<Result<Vec<_>>>()?;
    let ggml_type = r.u32(&format!("{what} type"))?;
    let offset = r.u64(&format!("{what} offset"))?;
    Ok(TensorInfo {
        name,
        dims,
        ggml_type,
        offset,
    })
}

/// Checks that each tensor's data is aligned and lies within the file. Types this module cannot
/// decode have no known size, so only their start is checked; reading them fails anyway.
fn check_tensor_data(
    path: &Path,
    tensors: &[TensorInfo],
    data_offset: u64,
    alignment: u64,
    file_len: usize,
) -> Result<()> {
    let file_len = file_len as u64;
    for t in tensors {
        let error = |detail: String| Error::tensor(path, &t.name, detail);
        if !t.offset.is_multiple_of(alignment) {
            return Err(error(format!(
                "data offset {} is not a multiple of general.alignment {alignment}",
                t.offset
            )));
        }
        let n = t
            .n_elements()
            .ok_or_else(|| error(format!("dims {:?} overflow", t.dims)))?;
        let len = match block_format(t.ggml_type) {
            Some(_) => usize::try_from(n)
                .map_err(|e| e.to_string())
                .and_then(|n| byte_len(t.ggml_type, n))
                .map_err(&error)? as u64,
            None => 0,
        };
        let start = data_offset.saturating_add(t.offset);
        let end = start.saturating_add(len);
        if end > file_len {
            return Err(error(format!(
                "data [{start}, {end}) of {} {:?} lies beyond the end of the file \
                 ({file_len} bytes): truncated file",
                t.type_name(),
                t.dims
            )));
        }
    }
    Ok(())
}
