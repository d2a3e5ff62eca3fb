//! GGUF metadata values and tensor descriptions, and the names of ggml types.

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
pub(super) fn describe(value: &MetaValue) -> String {
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

pub(super) fn value_type_name(id: u32) -> &'static str {
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
pub(super) fn min_value_size(id: u32) -> Option<u64> {
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

pub(super) fn type_label(ggml_type: u32) -> String {
    ggml_type_name(ggml_type).map_or_else(|| format!("type {ggml_type}"), String::from)
}
