//! Dequantizing GGUF tensor data (ggml-common.h block layouts) and undoing llama.cpp's q/k row
//! permutation.

use super::*;

/// How a decodable type packs values: `values` per block of `bytes`, decoded by `decode`.
pub(super) struct BlockFormat {
    values: usize,
    bytes: usize,
    decode: DecodeBlock,
}

/// Decodes one block into its values.
pub(super) type DecodeBlock = fn(&[u8], &mut [f32]);

/// The block format of the types [`dequantize`] supports (ggml-common.h `block_*` structs).
pub(super) fn block_format(ggml_type: u32) -> Option<BlockFormat> {
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

pub(super) fn unsupported(ggml_type: u32) -> String {
    format!(
        "ggml type {} is not supported; supported types: {SUPPORTED_TYPES} \
         (re-quantize the file with llama-quantize to one of them)",
        type_label(ggml_type)
    )
}

/// Bytes that `n` values of `ggml_type` take.
pub(super) fn byte_len(ggml_type: u32, n: usize) -> std::result::Result<usize, String> {
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

pub(super) fn f16_at(b: &[u8]) -> f32 {
    half::f16::from_le_bytes([b[0], b[1]]).to_f32()
}

pub(super) fn decode_f32(b: &[u8], out: &mut [f32]) {
    out[0] = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
}

pub(super) fn decode_f16(b: &[u8], out: &mut [f32]) {
    out[0] = f16_at(b);
}

pub(super) fn decode_bf16(b: &[u8], out: &mut [f32]) {
    out[0] = half::bf16::from_le_bytes([b[0], b[1]]).to_f32();
}

/// `block_q4_0`: f16 scale `d`, then 16 bytes whose low nibbles are values 0..16 and high
/// nibbles values 16..32, each stored with an offset of 8: `x = (q - 8) * d`.
pub(super) fn decode_q4_0(b: &[u8], out: &mut [f32]) {
    let d = f16_at(&b[0..2]);
    for (j, &q) in b[2..18].iter().enumerate() {
        out[j] = ((q & 0x0F) as i32 - 8) as f32 * d;
        out[j + 16] = ((q >> 4) as i32 - 8) as f32 * d;
    }
}

/// `block_q4_1`: f16 scale `d`, f16 minimum `m`, then nibbles as in Q4_0 but unsigned:
/// `x = q * d + m`.
pub(super) fn decode_q4_1(b: &[u8], out: &mut [f32]) {
    let d = f16_at(&b[0..2]);
    let m = f16_at(&b[2..4]);
    for (j, &q) in b[4..20].iter().enumerate() {
        out[j] = (q & 0x0F) as f32 * d + m;
        out[j + 16] = (q >> 4) as f32 * d + m;
    }
}

/// `block_q8_0`: f16 scale `d`, then 32 signed bytes: `x = q * d`.
pub(super) fn decode_q8_0(b: &[u8], out: &mut [f32]) {
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

pub(super) fn check_qk(
    w: &[f32],
    rows: usize,
    cols: usize,
    n_head: usize,
) -> std::result::Result<(), String> {
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
