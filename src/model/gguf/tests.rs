//! GGUF tests: the file writer they build inputs with, dequantization, parsing and its errors
//! (tokenizers and import are in `tests_import.rs`).

use super::*;

/// Serializes a GGUF file, so that tests can build inputs byte by byte.
pub(super) struct GgufWriter {
    version: u32,
    alignment: usize,
    metadata: Vec<(String, MetaValue)>,
    tensors: Vec<(String, Vec<u64>, u32, Vec<u8>)>,
}

impl GgufWriter {
    pub(super) fn new() -> Self {
        Self {
            version: 3,
            alignment: 32,
            metadata: Vec::new(),
            tensors: Vec::new(),
        }
    }

    pub(super) fn kv(mut self, key: &str, value: MetaValue) -> Self {
        if key == "general.alignment" {
            self.alignment = value.as_u64().unwrap() as usize;
        }
        self.metadata.push((key.into(), value));
        self
    }

    pub(super) fn tensor(
        mut self,
        name: &str,
        dims: &[u64],
        ggml_type: u32,
        data: Vec<u8>,
    ) -> Self {
        self.tensors
            .push((name.into(), dims.to_vec(), ggml_type, data));
        self
    }

    pub(super) fn f32_tensor(self, name: &str, dims: &[u64], values: &[f32]) -> Self {
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.tensor(name, dims, GGML_TYPE_F32, data)
    }

    pub(super) fn bytes(&self) -> Vec<u8> {
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

pub(super) fn strs(items: &[&str]) -> MetaValue {
    MetaValue::Array(
        items
            .iter()
            .map(|s| MetaValue::Str(s.to_string()))
            .collect(),
    )
}

pub(super) fn path() -> &'static Path {
    Path::new("test.gguf")
}

fn f16_bytes(x: f32) -> [u8; 2] {
    half::f16::from_f32(x).to_le_bytes()
}

/// The forward permutation of convert_hf_to_gguf.py, to check that import inverts it.
pub(super) fn permute_qk(w: &[f32], rows: usize, cols: usize, n_head: usize) -> Vec<f32> {
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
