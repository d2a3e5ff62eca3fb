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

use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, PreTokenizerWrapper, Tokenizer};

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

/// A metadata value (`gguf_metadata_value_type`); variants in the order of their type ids 0..=12,
/// except that the 64-bit ones (ids 10..=12) come last as in the spec.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    Str(String),
    Array(Vec<MetaValue>),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl MetaValue {
    /// The spec's value type id, as stored in the file.
    pub fn type_id(&self) -> u32 {
        match self {
            MetaValue::U8(_) => 0,
            MetaValue::I8(_) => 1,
            MetaValue::U16(_) => 2,
            MetaValue::I16(_) => 3,
            MetaValue::U32(_) => 4,
            MetaValue::I32(_) => 5,
            MetaValue::F32(_) => 6,
            MetaValue::Bool(_) => 7,
            MetaValue::Str(_) => 8,
            MetaValue::Array(_) => 9,
            MetaValue::U64(_) => 10,
            MetaValue::I64(_) => 11,
            MetaValue::F64(_) => 12,
        }
    }

    /// The spec's name of the value type, for error messages.
    pub fn type_name(&self) -> &'static str {
        value_type_name(self.type_id())
    }

    /// Any integer that is not negative: writers pick different widths for the same key
    /// (`general.alignment` is u32, some token ids are i32), so callers should not care.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            MetaValue::U8(v) => Some(v.into()),
            MetaValue::U16(v) => Some(v.into()),
            MetaValue::U32(v) => Some(v.into()),
            MetaValue::U64(v) => Some(v),
            MetaValue::I8(v) => u64::try_from(v).ok(),
            MetaValue::I16(v) => u64::try_from(v).ok(),
            MetaValue::I32(v) => u64::try_from(v).ok(),
            MetaValue::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// Any integer that fits an i64 (token types are i32, but some writers use other widths).
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            MetaValue::I8(v) => Some(v.into()),
            MetaValue::I16(v) => Some(v.into()),
            MetaValue::I32(v) => Some(v.into()),
            MetaValue::I64(v) => Some(v),
            _ => self.as_u64().and_then(|v| i64::try_from(v).ok()),
        }
    }

    /// Floats and integers. An f32 converts through its shortest decimal form, so that the
    /// `1e-5` a converter stored as f32 comes back as 1e-5 rather than 9.99999974e-6 in
    /// `config.json`.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            MetaValue::F32(v) => v.to_string().parse().ok(),
            MetaValue::F64(v) => Some(v),
            _ => self.as_i64().map(|v| v as f64),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            MetaValue::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[MetaValue]> {
        match self {
            MetaValue::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// A value for an error message: type and value, but never a whole 50k-token array.
fn describe(value: &MetaValue) -> String {
    match value {
        MetaValue::Array(items) => {
            let elem = items.first().map_or("empty", MetaValue::type_name);
            format!("an array of {} ({elem})", items.len())
        }
        MetaValue::Str(s) if s.chars().count() > 40 => {
            format!("string {:?}…", s.chars().take(40).collect::<String>())
        }
        other => format!("{} {other:?}", other.type_name()),
    }
}

fn value_type_name(id: u32) -> &'static str {
    match id {
        0 => "uint8",
        1 => "int8",
        2 => "uint16",
        3 => "int16",
        4 => "uint32",
        5 => "int32",
        6 => "float32",
        7 => "bool",
        8 => "string",
        9 => "array",
        10 => "uint64",
        11 => "int64",
        12 => "float64",
        _ => "unknown",
    }
}

/// The fewest bytes a value of type `id` takes, so that a count can be checked against the bytes
/// left before anything is allocated for it.
fn min_value_size(id: u32) -> Option<u64> {
    match id {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        // A string is at least its u64 length.
        8 | 10..=12 => Some(8),
        // An array is at least its u32 element type and u64 length.
        9 => Some(12),
        _ => None,
    }
}

/// One entry of the tensor info section.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    /// GGUF order: `dims[0]` (ggml's `ne[0]`) varies fastest, the reverse of PyTorch's shape.
    pub dims: Vec<u64>,
    pub ggml_type: u32,
    /// Byte offset from the start of the data section.
    pub offset: u64,
}

impl TensorInfo {
    /// Number of values, or None when the dims overflow u64.
    pub fn n_elements(&self) -> Option<u64> {
        self.dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
    }

    /// The HF/PyTorch shape: the dims reversed (GGUF `[576, 49152]` is `[49152, 576]`).
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }

    /// The type's ggml name (`Q4_1`), or `type N` for an id this module does not know.
    pub fn type_name(&self) -> String {
        type_label(self.ggml_type)
    }
}

/// ggml's name for a tensor type id (ggml.c `type_traits`); None for ids it does not define.
pub fn ggml_type_name(ggml_type: u32) -> Option<&'static str> {
    Some(match ggml_type {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        6 => "Q5_0",
        7 => "Q5_1",
        8 => "Q8_0",
        9 => "Q8_1",
        10 => "Q2_K",
        11 => "Q3_K",
        12 => "Q4_K",
        13 => "Q5_K",
        14 => "Q6_K",
        15 => "Q8_K",
        16 => "IQ2_XXS",
        17 => "IQ2_XS",
        18 => "IQ3_XXS",
        19 => "IQ1_S",
        20 => "IQ4_NL",
        21 => "IQ3_S",
        22 => "IQ2_S",
        23 => "IQ4_XS",
        24 => "I8",
        25 => "I16",
        26 => "I32",
        27 => "I64",
        28 => "F64",
        29 => "IQ1_M",
        30 => "BF16",
        34 => "TQ1_0",
        35 => "TQ2_0",
        39 => "MXFP4",
        _ => return None,
    })
}

fn type_label(ggml_type: u32) -> String {
    ggml_type_name(ggml_type).map_or_else(|| format!("type {ggml_type}"), String::from)
}

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

/// A bounds-checked little-endian cursor over the file; `what` names the field being read so
/// that a truncation error says where it happened.
struct Reader<'a> {
    path: &'a Path,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(path: &'a Path, bytes: &'a [u8]) -> Self {
        Self {
            path,
            bytes,
            pos: 0,
        }
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8]> {
        if n > self.remaining() as u64 {
            return Err(Error::format(
                self.path,
                format!(
                    "truncated file: {what} at byte {} needs {n} bytes, only {} remain",
                    self.pos,
                    self.remaining()
                ),
            ));
        }
        let start = self.pos;
        self.pos += n as usize;
        Ok(&self.bytes[start..self.pos])
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N as u64, what)?);
        Ok(out)
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        self.array(what).map(u64::from_le_bytes)
    }

    fn string(&mut self, what: &str) -> Result<String> {
        let len = self.u64(what)?;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|e| Error::format(self.path, format!("{what} is not valid UTF-8: {e}")))
    }

    /// A u64 count of items that take at least `min_size` bytes each, rejected when they could
    /// not fit in the rest of the file (so a corrupt count never sizes an allocation).
    fn count(&mut self, what: &str, min_size: u64) -> Result<u64> {
        let n = self.u64(what)?;
        if n.saturating_mul(min_size) > self.remaining() as u64 {
            return Err(Error::format(
                self.path,
                format!(
                    "{what} is {n}, but only {} bytes follow (at least {min_size} per item): \
                     truncated or corrupt file",
                    self.remaining()
                ),
            ));
        }
        Ok(n)
    }

    fn value(&mut self, value_type: u32, what: &str, depth: usize) -> Result<MetaValue> {
        Ok(match value_type {
            0 => MetaValue::U8(u8::from_le_bytes(self.array(what)?)),
            1 => MetaValue::I8(i8::from_le_bytes(self.array(what)?)),
            2 => MetaValue::U16(u16::from_le_bytes(self.array(what)?)),
            3 => MetaValue::I16(i16::from_le_bytes(self.array(what)?)),
            4 => MetaValue::U32(u32::from_le_bytes(self.array(what)?)),
            5 => MetaValue::I32(i32::from_le_bytes(self.array(what)?)),
            6 => MetaValue::F32(f32::from_le_bytes(self.array(what)?)),
            7 => MetaValue::Bool(self.bool(what)?),
            8 => MetaValue::Str(self.string(what)?),
            9 => MetaValue::Array(self.value_array(what, depth)?),
            10 => MetaValue::U64(u64::from_le_bytes(self.array(what)?)),
            11 => MetaValue::I64(i64::from_le_bytes(self.array(what)?)),
            12 => MetaValue::F64(f64::from_le_bytes(self.array(what)?)),
            other => return Err(self.bad_value_type(what, other)),
        })
    }

    fn bool(&mut self, what: &str) -> Result<bool> {
        match self.array::<1>(what)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(Error::format(
                self.path,
                format!("{what} is a bool stored as {b}, expected 0 or 1"),
            )),
        }
    }

    fn value_array(&mut self, what: &str, depth: usize) -> Result<Vec<MetaValue>> {
        if depth >= MAX_ARRAY_DEPTH {
            return Err(Error::format(
                self.path,
                format!("{what} nests arrays deeper than {MAX_ARRAY_DEPTH} levels"),
            ));
        }
        let elem_type = self.u32(what)?;
        let min_size =
            min_value_size(elem_type).ok_or_else(|| self.bad_value_type(what, elem_type))?;
        let n = self.count(&format!("{what} array length"), min_size)?;
        (0..n)
            .map(|_| self.value(elem_type, what, depth + 1))
            .collect()
    }

    fn bad_value_type(&self, what: &str, value_type: u32) -> Error {
        Error::format(
            self.path,
            format!("{what} has value type {value_type}, expected a GGUF value type 0..=12"),
        )
    }
}

/// How a decodable type packs values: `values` per block of `bytes`, decoded by `decode`.
struct BlockFormat {
    values: usize,
    bytes: usize,
    decode: DecodeBlock,
}

/// Decodes one block into its values.
type DecodeBlock = fn(&[u8], &mut [f32]);

/// The block format of the types [`dequantize`] supports (ggml-common.h `block_*` structs).
fn block_format(ggml_type: u32) -> Option<BlockFormat> {
    let (values, bytes, decode): (usize, usize, DecodeBlock) = match ggml_type {
        GGML_TYPE_F32 => (1, 4, decode_f32),
        GGML_TYPE_F16 => (1, 2, decode_f16),
        GGML_TYPE_BF16 => (1, 2, decode_bf16),
        GGML_TYPE_Q4_0 => (32, 18, decode_q4_0),
        GGML_TYPE_Q4_1 => (32, 20, decode_q4_1),
        GGML_TYPE_Q8_0 => (32, 34, decode_q8_0),
        _ => return None,
    };
    Some(BlockFormat {
        values,
        bytes,
        decode,
    })
}

fn unsupported(ggml_type: u32) -> String {
    format!(
        "ggml type {} is not supported; supported types: {SUPPORTED_TYPES} \
         (re-quantize the file with llama-quantize to one of them)",
        type_label(ggml_type)
    )
}

/// Bytes that `n` values of `ggml_type` take.
fn byte_len(ggml_type: u32, n: usize) -> std::result::Result<usize, String> {
    let f = block_format(ggml_type).ok_or_else(|| unsupported(ggml_type))?;
    if !n.is_multiple_of(f.values) {
        return Err(format!(
            "{n} values is not a multiple of the {} block size {}",
            type_label(ggml_type),
            f.values
        ));
    }
    (n / f.values)
        .checked_mul(f.bytes)
        .ok_or_else(|| format!("{n} values of {} overflow", type_label(ggml_type)))
}

/// Decodes `n` values of `ggml_type` from exactly the bytes they take.
pub fn dequantize(ggml_type: u32, bytes: &[u8], n: usize) -> std::result::Result<Vec<f32>, String> {
    let expected = byte_len(ggml_type, n)?;
    if bytes.len() != expected {
        return Err(format!(
            "{n} values of {} take {expected} bytes, got {}",
            type_label(ggml_type),
            bytes.len()
        ));
    }
    let Some(f) = block_format(ggml_type) else {
        return Err(unsupported(ggml_type));
    };
    let mut out = vec![0f32; n];
    for (block, values) in bytes
        .chunks_exact(f.bytes)
        .zip(out.chunks_exact_mut(f.values))
    {
        (f.decode)(block, values);
    }
    Ok(out)
}

fn f16_at(b: &[u8]) -> f32 {
    half::f16::from_le_bytes([b[0], b[1]]).to_f32()
}

fn decode_f32(b: &[u8], out: &mut [f32]) {
    out[0] = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
}

fn decode_f16(b: &[u8], out: &mut [f32]) {
    out[0] = f16_at(b);
}

fn decode_bf16(b: &[u8], out: &mut [f32]) {
    out[0] = half::bf16::from_le_bytes([b[0], b[1]]).to_f32();
}

/// `block_q4_0`: f16 scale `d`, then 16 bytes whose low nibbles are values 0..16 and high
/// nibbles values 16..32, each stored with an offset of 8: `x = (q - 8) * d`.
fn decode_q4_0(b: &[u8], out: &mut [f32]) {
    let d = f16_at(&b[0..2]);
    for (j, &q) in b[2..18].iter().enumerate() {
        out[j] = ((q & 0x0F) as i32 - 8) as f32 * d;
        out[j + 16] = ((q >> 4) as i32 - 8) as f32 * d;
    }
}

/// `block_q4_1`: f16 scale `d`, f16 minimum `m`, then nibbles as in Q4_0 but unsigned:
/// `x = q * d + m`.
fn decode_q4_1(b: &[u8], out: &mut [f32]) {
    let d = f16_at(&b[0..2]);
    let m = f16_at(&b[2..4]);
    for (j, &q) in b[4..20].iter().enumerate() {
        out[j] = (q & 0x0F) as f32 * d + m;
        out[j + 16] = (q >> 4) as f32 * d + m;
    }
}

/// `block_q8_0`: f16 scale `d`, then 32 signed bytes: `x = q * d`.
fn decode_q8_0(b: &[u8], out: &mut [f32]) {
    let d = f16_at(&b[0..2]);
    for (x, &q) in out.iter_mut().zip(&b[2..34]) {
        *x = q as i8 as f32 * d;
    }
}

/// Undoes llama.cpp's permutation of the Q and K projection rows.
///
/// `convert_hf_to_gguf.py` reorders each head's rows from HF's "rotate half" RoPE layout (first
/// half of the head's dims, then second half) to ggml's interleaved pairs:
/// `w.reshape(n_head, 2, rows // n_head // 2, cols).swapaxes(1, 2).reshape(rows, cols)`.
/// The inverse is the same reshape with the middle axes the other way round:
/// `w.reshape(n_head, rows // n_head // 2, 2, cols).swapaxes(1, 2).reshape(rows, cols)`.
pub fn unpermute_qk(
    w: &[f32],
    rows: usize,
    cols: usize,
    n_head: usize,
) -> std::result::Result<Vec<f32>, String> {
    check_qk(w, rows, cols, n_head)?;
    let half = rows / n_head / 2;
    let mut out = vec![0f32; w.len()];
    for h in 0..n_head {
        for t in 0..2 {
            for i in 0..half {
                let gguf_row = h * 2 * half + i * 2 + t;
                let hf_row = h * 2 * half + t * half + i;
                out[hf_row * cols..][..cols].copy_from_slice(&w[gguf_row * cols..][..cols]);
            }
        }
    }
    Ok(out)
}

fn check_qk(w: &[f32], rows: usize, cols: usize, n_head: usize) -> std::result::Result<(), String> {
    if n_head == 0 || !rows.is_multiple_of(2 * n_head) {
        return Err(format!(
            "{rows} rows cannot be split into {n_head} heads of an even size"
        ));
    }
    if rows.checked_mul(cols) != Some(w.len()) {
        return Err(format!("{} values, expected {rows}×{cols}", w.len()));
    }
    Ok(())
}

/// Builds the tokenizer described by the `tokenizer.ggml.*` metadata.
///
/// Only `gpt2` (byte-level BPE) vocabularies convert exactly: the pre-tokenizer is GPT-2's
/// ByteLevel regex, preceded by a split into single digits for the `tokenizer.ggml.pre` families
/// that llama.cpp gives the `\p{N}` rule (SmolLM, StarCoder, …), which is the
/// `Sequence[Digits(individual_digits), ByteLevel]` of their HF `tokenizer.json`. Control tokens
/// (token_type 3) become special added tokens and user-defined ones (4) plain added tokens, as
/// the HF converter had them. No BOS is added: the GGUF says whether to add one
/// (`tokenizer.ggml.add_bos_token`), and our callers add what they need themselves.
pub fn tokenizer(file: &GgufFile) -> Result<Tokenizer> {
    let model = file.get_str("tokenizer.ggml.model")?;
    if model != "gpt2" {
        return Err(file.field_error(
            "tokenizer.ggml.model",
            format!(
                "is `{model}`; only `gpt2` (byte-level BPE) is supported, \
                 not SentencePiece (`llama`) or other vocabularies"
            ),
        ));
    }
    let split_digits = splits_digits(file)?;
    let tokens = string_array(file, "tokenizer.ggml.tokens")?;
    let merges = merges(file)?;
    let mut vocab = Vocab::default();
    for (id, token) in tokens.iter().enumerate() {
        vocab.entry(token.to_string()).or_insert(id as u32);
    }
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| {
            file.field_error(
                "tokenizer.ggml.merges",
                format!("do not fit the vocabulary: {e}"),
            )
        })?;
    let mut tok = Tokenizer::new(bpe);
    tok.with_pre_tokenizer(Some(pre_tokenizer(split_digits)));
    // As in the HF files: offsets keep the leading space, decoding maps bytes back.
    tok.with_post_processor(Some(ByteLevel::new(true, false, true)));
    tok.with_decoder(Some(ByteLevel::default()));
    add_added_tokens(file, &tokens, &mut tok)?;
    Ok(tok)
}

/// Whether `tokenizer.ggml.pre` names a family that splits numbers into single digits; other
/// pre-tokenizers (Llama 3, Qwen, …) use regexes we cannot reproduce, so they are refused
/// rather than tokenized slightly wrong.
fn splits_digits(file: &GgufFile) -> Result<bool> {
    const DIGITS: [&str; 7] = [
        "smollm",
        "starcoder",
        "refact",
        "command-r",
        "codeshell",
        "exaone",
        "minerva-7b",
    ];
    match file.opt_str("tokenizer.ggml.pre")? {
        Some("gpt-2") => Ok(false),
        Some(pre) if DIGITS.contains(&pre) => Ok(true),
        other => Err(file.field_error(
            "tokenizer.ggml.pre",
            format!(
                "is {}; supported: gpt-2, {}",
                other.map_or("missing".to_string(), |p| format!("`{p}`")),
                DIGITS.join(", ")
            ),
        )),
    }
}

fn pre_tokenizer(split_digits: bool) -> PreTokenizerWrapper {
    let byte_level = ByteLevel::new(false, true, true);
    if split_digits {
        PreTokenizerWrapper::Sequence(Sequence::new(vec![
            PreTokenizerWrapper::Digits(Digits::new(true)),
            PreTokenizerWrapper::ByteLevel(byte_level),
        ]))
    } else {
        PreTokenizerWrapper::ByteLevel(byte_level)
    }
}

fn string_array<'a>(file: &'a GgufFile, key: &str) -> Result<Vec<&'a str>> {
    file.get_array(key)?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_str().ok_or_else(|| {
                file.field_error(
                    key,
                    format!("element {i} is {}, expected a string", v.type_name()),
                )
            })
        })
        .collect()
}

/// `tokenizer.ggml.merges`: "left right" pairs, highest priority first. Byte-level tokens never
/// contain a plain space, so the first space separates the pair.
fn merges(file: &GgufFile) -> Result<Vec<(String, String)>> {
    let key = "tokenizer.ggml.merges";
    string_array(file, key)?
        .iter()
        .enumerate()
        .map(|(i, m)| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| {
                    file.field_error(
                        key,
                        format!("element {i} `{m}` is not two tokens split by a space"),
                    )
                })
        })
        .collect()
}

fn add_added_tokens(file: &GgufFile, tokens: &[&str], tok: &mut Tokenizer) -> Result<()> {
    const CONTROL: i64 = 3;
    const USER_DEFINED: i64 = 4;
    let key = "tokenizer.ggml.token_type";
    if file.get(key).is_none() {
        return Ok(());
    }
    let types = file.get_array(key)?;
    if types.len() != tokens.len() {
        return Err(file.field_error(
            key,
            format!(
                "has {} entries, expected one per token ({})",
                types.len(),
                tokens.len()
            ),
        ));
    }
    let mut special = Vec::new();
    let mut added = Vec::new();
    for (i, (t, token)) in types.iter().zip(tokens).enumerate() {
        match t.as_i64() {
            Some(CONTROL) => special.push(AddedToken::from(token.to_string(), true)),
            Some(USER_DEFINED) => added.push(AddedToken::from(token.to_string(), false)),
            Some(_) => {}
            None => {
                return Err(file.field_error(
                    key,
                    format!("element {i} is {}, expected an integer", t.type_name()),
                ));
            }
        }
    }
    tok.add_special_tokens(&special);
    tok.add_tokens(&added);
    Ok(())
}

/// What [`import`] converted.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportSummary {
    /// `general.architecture`.
    pub architecture: String,
    pub n_tensors: usize,
    /// Count of tensors per ggml type name, e.g. `"Q4_1" -> 210`.
    pub types: BTreeMap<String, usize>,
    /// Total number of values over all tensors.
    pub params: usize,
}

/// Llama hyperparameters from the `llama.*` and `tokenizer.ggml.*` metadata.
#[derive(Debug, Clone)]
struct LlamaParams {
    hidden: usize,
    intermediate: usize,
    layers: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    /// `llama.attention.key_length`, written to config.json as `head_dim` when set.
    key_length: Option<usize>,
    context: usize,
    rms_eps: f64,
    rope_theta: f64,
    vocab: usize,
    tied: bool,
    bos: Option<u64>,
    eos: Option<u64>,
    pad: Option<u64>,
}

impl LlamaParams {
    fn from_gguf(file: &GgufFile) -> Result<Self> {
        let count = |key: &str| -> Result<usize> {
            let v = file.get_u64(key)?;
            usize::try_from(v)
                .ok()
                .filter(|&v| v > 0)
                .ok_or_else(|| file.field_error(key, format!("is {v}, expected a positive count")))
        };
        reject_unsupported_llama_variants(file)?;
        let hidden = count("llama.embedding_length")?;
        let heads = count("llama.attention.head_count")?;
        let kv_heads = match file.get("llama.attention.head_count_kv") {
            Some(_) => count("llama.attention.head_count_kv")?,
            None => heads,
        };
        let key_length = match file.get("llama.attention.key_length") {
            Some(_) => Some(count("llama.attention.key_length")?),
            None => None,
        };
        let head_dim = key_length.unwrap_or(hidden / heads);
        check_heads(
            file,
            hidden,
            heads,
            kv_heads,
            head_dim,
            key_length.is_some(),
        )?;
        Ok(Self {
            hidden,
            intermediate: count("llama.feed_forward_length")?,
            layers: count("llama.block_count")?,
            heads,
            kv_heads,
            head_dim,
            key_length,
            context: count("llama.context_length")?,
            rms_eps: file.get_f64("llama.attention.layer_norm_rms_epsilon")?,
            // llama.cpp's default when the converter left it out.
            rope_theta: file.opt_f64("llama.rope.freq_base")?.unwrap_or(10000.0),
            vocab: vocab_size(file)?,
            tied: file.tensor("output.weight").is_none(),
            bos: file.opt_u64("tokenizer.ggml.bos_token_id")?,
            eos: file.opt_u64("tokenizer.ggml.eos_token_id")?,
            pad: file.opt_u64("tokenizer.ggml.padding_token_id")?,
        })
    }

    fn config_json(&self) -> serde_json::Value {
        let mut c = serde_json::json!({
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "hidden_act": "silu",
            "hidden_size": self.hidden,
            "intermediate_size": self.intermediate,
            "num_hidden_layers": self.layers,
            "num_attention_heads": self.heads,
            "num_key_value_heads": self.kv_heads,
            "max_position_embeddings": self.context,
            "rms_norm_eps": self.rms_eps,
            "rope_theta": self.rope_theta,
            "rope_scaling": null,
            "attention_bias": false,
            "mlp_bias": false,
            "vocab_size": self.vocab,
            "tie_word_embeddings": self.tied,
            "torch_dtype": "float32",
        });
        let extra = [
            ("bos_token_id", self.bos),
            ("eos_token_id", self.eos),
            ("pad_token_id", self.pad),
            ("head_dim", self.key_length.map(|v| v as u64)),
        ];
        for (key, value) in extra {
            if let Some(v) = value {
                c[key] = v.into();
            }
        }
        c
    }
}

/// Refuses Llama variants whose HF equivalent needs more than the plain config we write:
/// mixture of experts, scaled or partial RoPE.
fn reject_unsupported_llama_variants(file: &GgufFile) -> Result<()> {
    if file.opt_u64("llama.expert_count")?.unwrap_or(0) > 0 {
        return Err(file.field_error(
            "llama.expert_count",
            "is set: mixture-of-experts models are not supported",
        ));
    }
    if let Some(kind) = file.opt_str("llama.rope.scaling.type")?
        && kind != "none"
    {
        return Err(file.field_error(
            "llama.rope.scaling.type",
            format!("is `{kind}`: scaled RoPE is not supported"),
        ));
    }
    if file.tensor("rope_freqs.weight").is_some() {
        return Err(Error::tensor(
            &file.path,
            "rope_freqs.weight",
            "Llama 3.1-style RoPE frequency scaling is not supported",
        ));
    }
    Ok(())
}

fn check_heads(
    file: &GgufFile,
    hidden: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    explicit_head_dim: bool,
) -> Result<()> {
    if !explicit_head_dim && !hidden.is_multiple_of(heads) {
        return Err(file.field_error(
            "llama.attention.head_count",
            format!("is {heads}, which does not divide llama.embedding_length {hidden}"),
        ));
    }
    if !heads.is_multiple_of(kv_heads) {
        return Err(file.field_error(
            "llama.attention.head_count_kv",
            format!("is {kv_heads}, which does not divide llama.attention.head_count {heads}"),
        ));
    }
    if !head_dim.is_multiple_of(2) {
        return Err(file.field_error(
            "llama.attention.head_count",
            format!("gives an odd head size {head_dim}; RoPE needs an even one"),
        ));
    }
    if let Some(rot) = file.opt_u64("llama.rope.dimension_count")?
        && rot != head_dim as u64
    {
        return Err(file.field_error(
            "llama.rope.dimension_count",
            format!("is {rot}, but partial RoPE is not supported (head size {head_dim})"),
        ));
    }
    Ok(())
}

/// `llama.vocab_size` when present, else the rows of the embedding (converters before 2024
/// did not write the key).
fn vocab_size(file: &GgufFile) -> Result<usize> {
    if let Some(v) = file.opt_u64("llama.vocab_size")? {
        return Ok(v as usize);
    }
    let embed = file
        .tensor("token_embd.weight")
        .ok_or_else(|| Error::tensor(&file.path, "token_embd.weight", "missing from the file"))?;
    Ok(embed.shape().first().copied().unwrap_or(0))
}

/// Where a GGUF llama tensor goes in the HF checkpoint.
struct Target {
    hf_name: String,
    shape: Vec<usize>,
    /// For Q and K: the head count whose permutation to undo.
    unpermute_heads: Option<usize>,
}

/// The HF name and expected shape of GGUF tensor `name`; None for names a plain Llama does
/// not have.
fn target(name: &str, p: &LlamaParams) -> Option<Target> {
    let t = |hf: &str, shape: Vec<usize>| Target {
        hf_name: hf.to_string(),
        shape,
        unpermute_heads: None,
    };
    match name {
        "token_embd.weight" => {
            return Some(t("model.embed_tokens.weight", vec![p.vocab, p.hidden]));
        }
        "output_norm.weight" => return Some(t("model.norm.weight", vec![p.hidden])),
        "output.weight" => return Some(t("lm_head.weight", vec![p.vocab, p.hidden])),
        _ => {}
    }
    let (layer, part) = name.strip_prefix("blk.")?.split_once('.')?;
    let n: usize = layer.parse().ok()?;
    if n >= p.layers || n.to_string() != layer {
        return None;
    }
    let (q, kv) = (p.heads * p.head_dim, p.kv_heads * p.head_dim);
    let (hf, shape, heads) = match part {
        "attn_norm.weight" => ("input_layernorm", vec![p.hidden], None),
        "attn_q.weight" => ("self_attn.q_proj", vec![q, p.hidden], Some(p.heads)),
        "attn_k.weight" => ("self_attn.k_proj", vec![kv, p.hidden], Some(p.kv_heads)),
        "attn_v.weight" => ("self_attn.v_proj", vec![kv, p.hidden], None),
        "attn_output.weight" => ("self_attn.o_proj", vec![p.hidden, q], None),
        "ffn_norm.weight" => ("post_attention_layernorm", vec![p.hidden], None),
        "ffn_gate.weight" => ("mlp.gate_proj", vec![p.intermediate, p.hidden], None),
        "ffn_up.weight" => ("mlp.up_proj", vec![p.intermediate, p.hidden], None),
        "ffn_down.weight" => ("mlp.down_proj", vec![p.hidden, p.intermediate], None),
        _ => return None,
    };
    Some(Target {
        hf_name: format!("model.layers.{n}.{hf}.weight"),
        shape,
        unpermute_heads: heads,
    })
}

/// GGUF names every Llama file must have (`output.weight` is optional: absent means tied).
fn required_tensors(layers: usize) -> Vec<String> {
    const PER_LAYER: [&str; 9] = [
        "attn_norm",
        "attn_q",
        "attn_k",
        "attn_v",
        "attn_output",
        "ffn_norm",
        "ffn_gate",
        "ffn_up",
        "ffn_down",
    ];
    let mut names = vec![
        "token_embd.weight".to_string(),
        "output_norm.weight".to_string(),
    ];
    for n in 0..layers {
        names.extend(
            PER_LAYER
                .iter()
                .map(|part| format!("blk.{n}.{part}.weight")),
        );
    }
    names
}

/// One converted tensor: HF name, shape, little-endian f32 bytes.
struct Converted {
    name: String,
    shape: Vec<usize>,
    data: Vec<u8>,
}

fn convert_tensor(file: &GgufFile, info: &TensorInfo, target: &Target) -> Result<Converted> {
    let (shape, mut values) = file.read_f32(&info.name)?;
    if shape != target.shape {
        return Err(Error::tensor(
            &file.path,
            &info.name,
            format!(
                "shape {shape:?} (HF order), expected {:?} from the llama.* metadata",
                target.shape
            ),
        ));
    }
    if let Some(heads) = target.unpermute_heads {
        values = unpermute_qk(&values, shape[0], shape[1], heads)
            .map_err(|e| Error::tensor(&file.path, &info.name, e))?;
    }
    Ok(Converted {
        name: target.hf_name.clone(),
        shape,
        data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    })
}

fn convert_tensors(file: &GgufFile, p: &LlamaParams) -> Result<(Vec<Converted>, ImportSummary)> {
    for name in required_tensors(p.layers) {
        if file.tensor(&name).is_none() {
            return Err(Error::tensor(&file.path, &name, "missing from the file"));
        }
    }
    let mut summary = ImportSummary {
        architecture: "llama".into(),
        n_tensors: 0,
        types: BTreeMap::new(),
        params: 0,
    };
    let mut out = Vec::with_capacity(file.tensors().len());
    for info in file.tensors() {
        let target = target(&info.name, p).ok_or_else(|| {
            Error::tensor(
                &file.path,
                &info.name,
                format!(
                    "has no counterpart in an HF Llama with {} layers; cannot import it",
                    p.layers
                ),
            )
        })?;
        let converted = convert_tensor(file, info, &target)?;
        summary.n_tensors += 1;
        *summary.types.entry(info.type_name()).or_default() += 1;
        summary.params += converted.shape.iter().product::<usize>();
        out.push(converted);
    }
    Ok((out, summary))
}

fn safetensors_bytes(path: &Path, tensors: &[Converted]) -> Result<Vec<u8>> {
    let error =
        |e: safetensors::SafeTensorError| Error::format(path, format!("cannot serialize: {e}"));
    let views = tensors
        .iter()
        .map(|t| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, t.shape.clone(), &t.data)
                .map(|v| (t.name.as_str(), v))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(error)?;
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize(views, Some(metadata)).map_err(error)
}

/// Converts a Llama GGUF into an HF-style folder: `model.safetensors` (F32, HF key names, Q/K
/// rows un-permuted), `tokenizer.json` and `config.json`.
///
/// Each file is written atomically, and `config.json` last, so that a folder with a
/// `config.json` is complete even if an earlier import was interrupted.
pub fn import(gguf: &Path, out_dir: &Path) -> Result<ImportSummary> {
    let file = GgufFile::open(gguf)?;
    let arch = file.get_str("general.architecture")?;
    if arch != "llama" {
        return Err(file.field_error(
            "general.architecture",
            format!("is `{arch}`; only `llama` (Llama, SmolLM, Mistral-style) can be imported"),
        ));
    }
    let params = LlamaParams::from_gguf(&file)?;
    let tokenizer = tokenizer(&file)?;
    let (tensors, summary) = convert_tensors(&file, &params)?;
    drop(file);

    let weights_path = out_dir.join("model.safetensors");
    let bytes = safetensors_bytes(&weights_path, &tensors)?;
    drop(tensors);
    write_atomic(&weights_path, &bytes)?;
    drop(bytes);

    let tokenizer_path = out_dir.join("tokenizer.json");
    let json = tokenizer.to_string(false).map_err(|e| {
        Error::format(
            &tokenizer_path,
            format!("cannot serialize the tokenizer: {e}"),
        )
    })?;
    write_atomic(&tokenizer_path, json.as_bytes())?;

    let config_path = out_dir.join("config.json");
    let config = serde_json::to_string_pretty(&params.config_json())
        .map_err(|e| Error::format(&config_path, format!("cannot serialize: {e}")))?;
    write_atomic(&config_path, config.as_bytes())?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serializes a GGUF file, so that tests can build inputs byte by byte.
    struct GgufWriter {
        version: u32,
        alignment: usize,
        metadata: Vec<(String, MetaValue)>,
        tensors: Vec<(String, Vec<u64>, u32, Vec<u8>)>,
    }

    impl GgufWriter {
        fn new() -> Self {
            Self {
                version: 3,
                alignment: 32,
                metadata: Vec::new(),
                tensors: Vec::new(),
            }
        }

        fn kv(mut self, key: &str, value: MetaValue) -> Self {
            if key == "general.alignment" {
                self.alignment = value.as_u64().unwrap() as usize;
            }
            self.metadata.push((key.into(), value));
            self
        }

        fn tensor(mut self, name: &str, dims: &[u64], ggml_type: u32, data: Vec<u8>) -> Self {
            self.tensors
                .push((name.into(), dims.to_vec(), ggml_type, data));
            self
        }

        fn f32_tensor(self, name: &str, dims: &[u64], values: &[f32]) -> Self {
            let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            self.tensor(name, dims, GGML_TYPE_F32, data)
        }

        fn bytes(&self) -> Vec<u8> {
            let mut out = Vec::new();
            out.extend_from_slice(MAGIC);
            out.extend_from_slice(&self.version.to_le_bytes());
            out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
            out.extend_from_slice(&(self.metadata.len() as u64).to_le_bytes());
            for (key, value) in &self.metadata {
                put_str(&mut out, key);
                out.extend_from_slice(&value.type_id().to_le_bytes());
                put_value(&mut out, value);
            }
            let mut offset = 0usize;
            let mut offsets = Vec::new();
            for (name, dims, ggml_type, data) in &self.tensors {
                put_str(&mut out, name);
                out.extend_from_slice(&(dims.len() as u32).to_le_bytes());
                for d in dims {
                    out.extend_from_slice(&d.to_le_bytes());
                }
                out.extend_from_slice(&ggml_type.to_le_bytes());
                out.extend_from_slice(&(offset as u64).to_le_bytes());
                offsets.push(offset);
                offset = (offset + data.len()).next_multiple_of(self.alignment);
            }
            out.resize(out.len().next_multiple_of(self.alignment), 0);
            let data_start = out.len();
            for ((.., data), offset) in self.tensors.iter().zip(offsets) {
                out.resize(data_start + offset, 0);
                out.extend_from_slice(data);
            }
            out
        }
    }

    fn put_str(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u64).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }

    fn put_value(out: &mut Vec<u8>, v: &MetaValue) {
        match v {
            MetaValue::U8(x) => out.extend_from_slice(&x.to_le_bytes()),
            MetaValue::I8(x) => out.extend_from_slice(&x.to_le_bytes()),
            MetaValue::U16(x) => out.extend_from_slice(&x.to_le_bytes()),
            MetaValue::I16(x) => out.extend_from_slice(&x.to_le_bytes()),
            MetaValue::U32(x) => out.extend_from_slice(&x.to_le_bytes()),
            MetaValue::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
            MetaValue::F32(x) => out.extend_from_slice(&x.to_le_bytes()),
            MetaValue::Bool(x) => out.push(*x as u8),
            MetaValue::Str(s) => put_str(out, s),
            MetaValue::Array(items) => {
                let elem = items.first().map_or(0, MetaValue::type_id);
                out.extend_from_slice(&elem.to_le_bytes());
                out.extend_from_slice(&(items.len() as u64).to_le_bytes());
                items.iter().for_each(|item| put_value(out, item));
            }
            MetaValue::U64(x) => out.extend_from_slice(&x.to_le_bytes()),
            MetaValue::I64(x) => out.extend_from_slice(&x.to_le_bytes()),
            MetaValue::F64(x) => out.extend_from_slice(&x.to_le_bytes()),
        }
    }

    fn strs(items: &[&str]) -> MetaValue {
        MetaValue::Array(
            items
                .iter()
                .map(|s| MetaValue::Str(s.to_string()))
                .collect(),
        )
    }

    fn path() -> &'static Path {
        Path::new("test.gguf")
    }

    fn f16_bytes(x: f32) -> [u8; 2] {
        half::f16::from_f32(x).to_le_bytes()
    }

    /// The forward permutation of convert_hf_to_gguf.py, to check that import inverts it.
    fn permute_qk(w: &[f32], rows: usize, cols: usize, n_head: usize) -> Vec<f32> {
        let half = rows / n_head / 2;
        let mut out = vec![0f32; w.len()];
        for h in 0..n_head {
            for i in 0..half {
                for t in 0..2 {
                    let gguf_row = h * 2 * half + i * 2 + t;
                    let hf_row = h * 2 * half + t * half + i;
                    out[gguf_row * cols..][..cols].copy_from_slice(&w[hf_row * cols..][..cols]);
                }
            }
        }
        out
    }

    #[test]
    fn dequantizes_plain_floats() {
        let f32s: Vec<u8> = [1.5f32, -2.25]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(
            dequantize(GGML_TYPE_F32, &f32s, 2).unwrap(),
            vec![1.5, -2.25]
        );
        // f16 0x3C00 = 1.0, 0xC000 = -2.0, 0x3555 = (1 + 341/1024) / 4 = 1365/4096.
        let f16s = [0x00, 0x3C, 0x00, 0xC0, 0x55, 0x35];
        let v = dequantize(GGML_TYPE_F16, &f16s, 3).unwrap();
        assert_eq!(v, vec![1.0, -2.0, 1365.0 / 4096.0]);
        // bf16 is the top half of an f32: 0x3FC0 = 1.5, 0xC100 = -8.0.
        let bf16s = [0xC0, 0x3F, 0x00, 0xC1];
        assert_eq!(
            dequantize(GGML_TYPE_BF16, &bf16s, 2).unwrap(),
            vec![1.5, -8.0]
        );
    }

    #[test]
    fn dequantizes_q4_0() {
        // d = 0.5; byte j holds q = j in its low nibble and q = 15 - j in its high nibble.
        let mut block = f16_bytes(0.5).to_vec();
        block.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
        let v = dequantize(GGML_TYPE_Q4_0, &block, 32).unwrap();
        // Low nibbles are values 0..16: (j - 8) * 0.5; high nibbles values 16..32: (7 - j) * 0.5.
        assert_eq!(v[0], -4.0);
        assert_eq!(v[8], 0.0);
        assert_eq!(v[15], 3.5);
        assert_eq!(v[16], 3.5);
        assert_eq!(v[31], -4.0);
        for (j, (lo, hi)) in v[..16].iter().zip(&v[16..]).enumerate() {
            assert_eq!(*lo, (j as f32 - 8.0) * 0.5);
            assert_eq!(*hi, (7.0 - j as f32) * 0.5);
        }
    }

    #[test]
    fn dequantizes_q4_1() {
        // d = 0.25, m = -1; two blocks, the second with d = 2, m = 10 and every nibble 15.
        let mut bytes = f16_bytes(0.25).to_vec();
        bytes.extend(f16_bytes(-1.0));
        bytes.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
        bytes.extend(f16_bytes(2.0));
        bytes.extend(f16_bytes(10.0));
        bytes.extend([0xFF; 16]);
        let v = dequantize(GGML_TYPE_Q4_1, &bytes, 64).unwrap();
        assert_eq!(v[0], -1.0);
        assert_eq!(v[15], 2.75);
        assert_eq!(v[16], 2.75);
        assert_eq!(v[31], -1.0);
        for (j, (lo, hi)) in v[..16].iter().zip(&v[16..32]).enumerate() {
            assert_eq!(*lo, j as f32 * 0.25 - 1.0);
            assert_eq!(*hi, (15 - j) as f32 * 0.25 - 1.0);
        }
        assert!(v[32..].iter().all(|&x| x == 40.0));
    }

    #[test]
    fn dequantizes_q8_0() {
        // d = 2; q = -16..16 as signed bytes.
        let mut block = f16_bytes(2.0).to_vec();
        block.extend((-16i8..16).map(|q| q as u8));
        let v = dequantize(GGML_TYPE_Q8_0, &block, 32).unwrap();
        assert_eq!(v[0], -32.0);
        assert_eq!(v[16], 0.0);
        assert_eq!(v[31], 30.0);
        for (i, x) in v.iter().enumerate() {
            assert_eq!(*x, (i as f32 - 16.0) * 2.0);
        }
    }

    #[test]
    fn dequantize_rejects_bad_lengths_and_types() {
        let block = [0u8; 34];
        let err = dequantize(GGML_TYPE_Q8_0, &block, 31).unwrap_err();
        assert!(err.contains("block size 32"), "{err}");
        let err = dequantize(GGML_TYPE_Q8_0, &block[..33], 32).unwrap_err();
        assert!(err.contains("34 bytes, got 33"), "{err}");
        let err = dequantize(GGML_TYPE_F32, &[0u8; 5], 1).unwrap_err();
        assert!(err.contains("4 bytes, got 5"), "{err}");
        let err = dequantize(12, &[0u8; 144], 256).unwrap_err();
        assert!(
            err.contains("Q4_K") && err.contains("Q4_1") && err.contains("Q8_0"),
            "{err}"
        );
        let err = dequantize(99, &[], 0).unwrap_err();
        assert!(err.contains("type 99"), "{err}");
    }

    #[test]
    fn unpermute_inverts_the_llama_cpp_permutation() {
        // One head of 4 rows: llama.cpp interleaves the two halves [r0 r1 | r2 r3] -> r0 r2 r1 r3.
        let hf = [0.0, 0.1, 1.0, 1.1, 2.0, 2.1, 3.0, 3.1];
        let gguf = permute_qk(&hf, 4, 2, 1);
        assert_eq!(gguf, vec![0.0, 0.1, 2.0, 2.1, 1.0, 1.1, 3.0, 3.1]);
        assert_eq!(unpermute_qk(&gguf, 4, 2, 1).unwrap(), hf);

        let (rows, cols, heads) = (24, 5, 3);
        let w: Vec<f32> = (0..rows * cols).map(|i| i as f32).collect();
        let back = unpermute_qk(&permute_qk(&w, rows, cols, heads), rows, cols, heads).unwrap();
        assert_eq!(back, w);
        let forth = permute_qk(
            &unpermute_qk(&w, rows, cols, heads).unwrap(),
            rows,
            cols,
            heads,
        );
        assert_eq!(forth, w);
        assert!(unpermute_qk(&w, rows, cols, 5).is_err());
        assert!(unpermute_qk(&w[1..], rows, cols, heads).is_err());
    }

    fn small_file() -> GgufWriter {
        let q8: Vec<u8> = f16_bytes(0.5)
            .into_iter()
            .chain((0..32u8).map(|q| q.wrapping_sub(16)))
            .collect();
        GgufWriter::new()
            .kv("general.architecture", MetaValue::Str("llama".into()))
            .kv("u8", MetaValue::U8(7))
            .kv("i8", MetaValue::I8(-7))
            .kv("u16", MetaValue::U16(700))
            .kv("i16", MetaValue::I16(-700))
            .kv("u32", MetaValue::U32(70000))
            .kv("i32", MetaValue::I32(-70000))
            .kv("f32", MetaValue::F32(1e-5))
            .kv("bool", MetaValue::Bool(true))
            .kv("u64", MetaValue::U64(1 << 40))
            .kv("i64", MetaValue::I64(-(1 << 40)))
            .kv("f64", MetaValue::F64(0.125))
            .kv("names", strs(&["a", "bc"]))
            .kv(
                "nested",
                MetaValue::Array(vec![MetaValue::Array(vec![MetaValue::I32(1)])]),
            )
            .f32_tensor("w", &[3, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
            .tensor("q", &[32], GGML_TYPE_Q8_0, q8)
    }

    #[test]
    fn parses_a_hand_built_file() {
        let bytes = small_file().bytes();
        let file = GgufFile::from_bytes(path(), bytes).unwrap();
        assert_eq!(file.version(), 3);
        assert_eq!(file.alignment(), 32);
        assert_eq!(file.metadata().len(), 14);
        assert_eq!(file.get_str("general.architecture").unwrap(), "llama");
        assert_eq!(file.get_u64("u8").unwrap(), 7);
        assert_eq!(file.get_u64("u32").unwrap(), 70000);
        assert_eq!(file.get_u64("u64").unwrap(), 1 << 40);
        assert_eq!(file.get_f64("i16").unwrap(), -700.0);
        assert_eq!(file.get_f64("f32").unwrap(), 1e-5);
        assert_eq!(file.get_f64("f64").unwrap(), 0.125);
        assert_eq!(file.get("i64"), Some(&MetaValue::I64(-(1 << 40))));
        assert_eq!(file.get("bool"), Some(&MetaValue::Bool(true)));
        assert_eq!(file.get_array("names").unwrap().len(), 2);
        assert_eq!(
            file.get_array("nested").unwrap()[0]
                .as_array()
                .unwrap()
                .len(),
            1
        );

        let names: Vec<_> = file.tensors().iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["w", "q"]);
        assert_eq!(file.tensors()[1].offset, 32);
        let (shape, values) = file.read_f32("w").unwrap();
        assert_eq!(shape, vec![2, 3]);
        assert_eq!(values, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let (shape, values) = file.read_f32("q").unwrap();
        assert_eq!(shape, vec![32]);
        assert_eq!(values[0], -8.0);
        assert_eq!(values[31], 7.5);
    }

    #[test]
    fn metadata_errors_name_the_key_and_the_file() {
        let file = GgufFile::from_bytes(path(), small_file().bytes()).unwrap();
        let err = file.get_u64("i8").unwrap_err().to_string();
        assert!(
            err.contains("test.gguf") && err.contains("`i8`") && err.contains("int8"),
            "{err}"
        );
        let err = file.get_str("nope").unwrap_err().to_string();
        assert!(err.contains("`nope` is missing"), "{err}");
        let err = file.read_f32("nope").unwrap_err().to_string();
        assert!(err.contains("`nope`") && err.contains("missing"), "{err}");
    }

    #[test]
    fn reads_version_2_and_custom_alignment() {
        let mut w = small_file().kv("general.alignment", MetaValue::U32(64));
        w.version = 2;
        let file = GgufFile::from_bytes(path(), w.bytes()).unwrap();
        assert_eq!((file.version(), file.alignment()), (2, 64));
        assert_eq!(file.tensors()[1].offset, 64);
        assert_eq!(file.read_f32("q").unwrap().1[0], -8.0);
    }

    fn open_err(bytes: Vec<u8>) -> String {
        GgufFile::from_bytes(path(), bytes).unwrap_err().to_string()
    }

    #[test]
    fn rejects_bad_headers() {
        let good = small_file().bytes();
        let mut bad = good.clone();
        bad[0] = b'X';
        assert!(open_err(bad).contains("not a GGUF file"));
        for (version, expected) in [(1u32, "version 1"), (3 << 24, "big-endian"), (9, "is 9")] {
            let mut bad = good.clone();
            bad[4..8].copy_from_slice(&version.to_le_bytes());
            let err = open_err(bad);
            assert!(err.contains(expected), "{err}");
        }
        let w = GgufWriter::new().kv("general.alignment", MetaValue::U32(24));
        assert!(open_err(w.bytes()).contains("general.alignment"));
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let good = small_file().bytes();
        for len in 0..good.len() {
            let err = open_err(good[..len].to_vec());
            assert!(err.contains("test.gguf"), "cut at {len}: {err}");
            assert!(err.contains("truncated"), "cut at {len}: {err}");
        }
        // Cut inside the data of the last tensor: the error names it.
        let err = open_err(good[..good.len() - 1].to_vec());
        assert!(err.contains("tensor `q`"), "{err}");
    }

    #[test]
    fn corrupt_counts_are_rejected_before_allocating() {
        let good = small_file().bytes();
        let mut bad = good.clone();
        bad[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(open_err(bad).contains("tensor_count"));
        let mut bad = good.clone();
        bad[16..24].copy_from_slice(&(1u64 << 50).to_le_bytes());
        assert!(open_err(bad).contains("metadata_kv_count"));
        // The length of the first key.
        let mut bad = good.clone();
        bad[24..32].copy_from_slice(&(u64::MAX - 3).to_le_bytes());
        assert!(open_err(bad).contains("metadata key #0"));
        // An array that claims 2^40 strings.
        let w = GgufWriter::new().kv("names", strs(&["a"]));
        let mut bad = w.bytes();
        let len_at = 24 + 8 + "names".len() + 4 + 4;
        bad[len_at..len_at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
        let err = open_err(bad);
        assert!(err.contains("`names` array length"), "{err}");
    }

    #[test]
    fn unsupported_tensor_types_fail_on_read_with_their_name() {
        let w = GgufWriter::new().tensor("k", &[256], 12, vec![0; 144]);
        let file = GgufFile::from_bytes(path(), w.bytes()).unwrap();
        assert_eq!(file.tensors()[0].type_name(), "Q4_K");
        let err = file.read_f32("k").unwrap_err().to_string();
        assert!(
            err.contains("`k`") && err.contains("Q4_K") && err.contains("Q4_0"),
            "{err}"
        );
    }

    /// A byte-level vocabulary small enough to check by hand: " a", "ab" and "12" are merges, in
    /// that order of priority.
    fn tokenizer_kvs(w: GgufWriter, pre: &str) -> GgufWriter {
        let tokens = ["<|endoftext|>", "a", "b", "ab", "Ġ", "Ġa", "1", "2", "12"];
        w.kv("tokenizer.ggml.model", MetaValue::Str("gpt2".into()))
            .kv("tokenizer.ggml.pre", MetaValue::Str(pre.into()))
            .kv("tokenizer.ggml.tokens", strs(&tokens))
            .kv(
                "tokenizer.ggml.token_type",
                MetaValue::Array([3, 1, 1, 1, 1, 1, 1, 1, 1].map(MetaValue::I32).to_vec()),
            )
            .kv("tokenizer.ggml.merges", strs(&["Ġ a", "a b", "1 2"]))
            .kv("tokenizer.ggml.bos_token_id", MetaValue::U32(0))
            .kv("tokenizer.ggml.eos_token_id", MetaValue::U32(0))
    }

    fn encode(tok: &Tokenizer, text: &str) -> Vec<u32> {
        tok.encode(text, false).unwrap().get_ids().to_vec()
    }

    #[test]
    fn builds_a_byte_level_bpe_tokenizer() {
        let bytes = tokenizer_kvs(GgufWriter::new(), "smollm").bytes();
        let tok = tokenizer(&GgufFile::from_bytes(path(), bytes).unwrap()).unwrap();
        // "ab" merges; " ab" becomes Ġa + b; digits split before BPE, so "12" never merges;
        // the control token is matched whole, and no BOS is added.
        let ids = encode(&tok, "ab ab12<|endoftext|>");
        assert_eq!(ids, vec![3, 5, 2, 6, 7, 0]);
        assert_eq!(tok.decode(&ids, false).unwrap(), "ab ab12<|endoftext|>");
        assert_eq!(tok.decode(&ids, true).unwrap(), "ab ab12");

        let bytes = tokenizer_kvs(GgufWriter::new(), "gpt-2").bytes();
        let tok = tokenizer(&GgufFile::from_bytes(path(), bytes).unwrap()).unwrap();
        assert_eq!(encode(&tok, "ab12"), vec![3, 8]);
    }

    #[test]
    fn refuses_tokenizers_it_cannot_reproduce() {
        let bytes = tokenizer_kvs(GgufWriter::new(), "llama-bpe").bytes();
        let err = tokenizer(&GgufFile::from_bytes(path(), bytes).unwrap()).unwrap_err();
        let err = err.to_string();
        assert!(
            err.contains("tokenizer.ggml.pre") && err.contains("smollm"),
            "{err}"
        );

        let w = GgufWriter::new().kv("tokenizer.ggml.model", MetaValue::Str("llama".into()));
        let err = tokenizer(&GgufFile::from_bytes(path(), w.bytes()).unwrap()).unwrap_err();
        let err = err.to_string();
        assert!(
            err.contains("tokenizer.ggml.model") && err.contains("gpt2"),
            "{err}"
        );
    }

    /// Deterministic, distinct weights for a tensor of `n` values.
    fn weights(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7 + seed * 13) % 29) as f32 / 8.0 - 1.5)
            .collect()
    }

    #[test]
    fn imports_a_tiny_llama_into_an_hf_folder() {
        let (hidden, heads, kv_heads, inter, vocab) = (8usize, 2usize, 1usize, 6usize, 9usize);
        let head_dim = hidden / heads;
        let mut w = tokenizer_kvs(GgufWriter::new(), "smollm")
            .kv("general.architecture", MetaValue::Str("llama".into()))
            .kv("llama.block_count", MetaValue::U32(1))
            .kv("llama.context_length", MetaValue::U32(64))
            .kv("llama.embedding_length", MetaValue::U32(hidden as u32))
            .kv("llama.feed_forward_length", MetaValue::U32(inter as u32))
            .kv("llama.attention.head_count", MetaValue::U32(heads as u32))
            .kv(
                "llama.attention.head_count_kv",
                MetaValue::U32(kv_heads as u32),
            )
            .kv(
                "llama.attention.layer_norm_rms_epsilon",
                MetaValue::F32(1e-5),
            )
            .kv("llama.rope.freq_base", MetaValue::F32(100000.0));
        // (GGUF name, HF shape, permuted heads) of every tensor, untied.
        let q_rows = heads * head_dim;
        let kv_rows = kv_heads * head_dim;
        let specs: Vec<(&str, Vec<usize>, Option<usize>)> = vec![
            ("token_embd.weight", vec![vocab, hidden], None),
            ("blk.0.attn_norm.weight", vec![hidden], None),
            ("blk.0.attn_q.weight", vec![q_rows, hidden], Some(heads)),
            ("blk.0.attn_k.weight", vec![kv_rows, hidden], Some(kv_heads)),
            ("blk.0.attn_v.weight", vec![kv_rows, hidden], None),
            ("blk.0.attn_output.weight", vec![hidden, q_rows], None),
            ("blk.0.ffn_norm.weight", vec![hidden], None),
            ("blk.0.ffn_gate.weight", vec![inter, hidden], None),
            ("blk.0.ffn_up.weight", vec![inter, hidden], None),
            ("blk.0.ffn_down.weight", vec![hidden, inter], None),
            ("output_norm.weight", vec![hidden], None),
            ("output.weight", vec![vocab, hidden], None),
        ];
        let mut originals = Vec::new();
        for (seed, (name, shape, heads)) in specs.iter().enumerate() {
            let hf = weights(shape.iter().product(), seed);
            let stored = match heads {
                Some(h) => permute_qk(&hf, shape[0], shape[1], *h),
                None => hf.clone(),
            };
            let dims: Vec<u64> = shape.iter().rev().map(|&d| d as u64).collect();
            w = w.f32_tensor(name, &dims, &stored);
            originals.push(hf);
        }
        let dir = std::env::temp_dir().join(format!("curlora-gguf-import-{}", std::process::id()));
        let gguf = dir.join("tiny.gguf");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&gguf, w.bytes()).unwrap();
        let out = dir.join("hf");

        let summary = import(&gguf, &out).unwrap();
        assert_eq!(summary.architecture, "llama");
        assert_eq!(summary.n_tensors, 12);
        assert_eq!(summary.types, BTreeMap::from([("F32".to_string(), 12)]));

        let st_bytes = std::fs::read(out.join("model.safetensors")).unwrap();
        let st = safetensors::SafeTensors::deserialize(&st_bytes).unwrap();
        assert_eq!(st.names().len(), 12);
        let q = st.tensor("model.layers.0.self_attn.q_proj.weight").unwrap();
        assert_eq!(q.shape(), [q_rows, hidden]);
        let q: Vec<f32> = q
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(q, originals[2]);
        let k = st.tensor("model.layers.0.self_attn.k_proj.weight").unwrap();
        let k: Vec<f32> = k
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(k, originals[3]);
        assert_eq!(
            st.tensor("lm_head.weight").unwrap().shape(),
            [vocab, hidden]
        );

        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
        assert_eq!(config["model_type"], "llama");
        assert_eq!(config["num_key_value_heads"], 1);
        assert_eq!(config["rms_norm_eps"], 1e-5);
        assert_eq!(config["rope_theta"], 100000.0);
        assert_eq!(config["vocab_size"], 9);
        assert_eq!(config["tie_word_embeddings"], false);
        assert_eq!(config["bos_token_id"], 0);
        assert!(config.get("head_dim").is_none());

        let tok = crate::model::load_tokenizer(&out).unwrap();
        assert_eq!(encode(&tok, "ab ab12<|endoftext|>"), vec![3, 5, 2, 6, 7, 0]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn import_names_a_missing_tensor() {
        let w = tokenizer_kvs(GgufWriter::new(), "smollm")
            .kv("general.architecture", MetaValue::Str("llama".into()))
            .kv("llama.block_count", MetaValue::U32(1))
            .kv("llama.context_length", MetaValue::U32(64))
            .kv("llama.embedding_length", MetaValue::U32(8))
            .kv("llama.feed_forward_length", MetaValue::U32(6))
            .kv("llama.attention.head_count", MetaValue::U32(2))
            .kv(
                "llama.attention.layer_norm_rms_epsilon",
                MetaValue::F32(1e-5),
            )
            .f32_tensor("token_embd.weight", &[8, 9], &[0.0; 72]);
        let dir = std::env::temp_dir().join(format!("curlora-gguf-missing-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let gguf = dir.join("partial.gguf");
        std::fs::write(&gguf, w.bytes()).unwrap();
        let err = import(&gguf, &dir.join("hf")).unwrap_err().to_string();
        assert!(
            err.contains("partial.gguf") && err.contains("output_norm.weight"),
            "{err}"
        );
        assert!(!dir.join("hf").join("config.json").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
