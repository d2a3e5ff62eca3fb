//! A bounds-checked little-endian cursor over a GGUF file.

use super::*;

/// A bounds-checked little-endian cursor over the file; `what` names the field being read so
/// that a truncation error says where it happened.
pub(super) struct Reader<'a> {
    pub(super) path: &'a Path,
    pub(super) bytes: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(path: &'a Path, bytes: &'a [u8]) -> Self {
        Self {
            path,
            bytes,
            pos: 0,
        }
    }

    pub(super) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub(super) fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8]> {
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

    pub(super) fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N as u64, what)?);
        Ok(out)
    }

    pub(super) fn u32(&mut self, what: &str) -> Result<u32> {
        self.array(what).map(u32::from_le_bytes)
    }

    pub(super) fn u64(&mut self, what: &str) -> Result<u64> {
        self.array(what).map(u64::from_le_bytes)
    }

    pub(super) fn string(&mut self, what: &str) -> Result<String> {
        let len = self.u64(what)?;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|e| Error::format(self.path, format!("{what} is not valid UTF-8: {e}")))
    }

    /// A u64 count of items that take at least `min_size` bytes each, rejected when they could
    /// not fit in the rest of the file (so a corrupt count never sizes an allocation).
    pub(super) fn count(&mut self, what: &str, min_size: u64) -> Result<u64> {
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

    pub(super) fn value(&mut self, value_type: u32, what: &str, depth: usize) -> Result<MetaValue> {
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

    pub(super) fn bool(&mut self, what: &str) -> Result<bool> {
        match self.array::<1>(what)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(Error::format(
                self.path,
                format!("{what} is a bool stored as {b}, expected 0 or 1"),
            )),
        }
    }

    pub(super) fn value_array(&mut self, what: &str, depth: usize) -> Result<Vec<MetaValue>> {
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

    pub(super) fn bad_value_type(&self, what: &str, value_type: u32) -> Error {
        Error::format(
            self.path,
            format!("{what} has value type {value_type}, expected a GGUF value type 0..=12"),
        )
    }
}
