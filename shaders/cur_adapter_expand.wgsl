// CURLoRA adapter path, pass 2: Y = base + α·(T·M)·E, fused.
//
//   T:    [n, RANK], row-major, contiguous  (t = x·C from pass 1; G·Rᵀ in the backward pass)
//   M:    [RANK, RANK], any element strides (U forward; Uᵀ backward)
//   E:    [RANK, m], any element strides    (R forward; Cᵀ backward)
//   base: [n, m], row-major, contiguous     (x·W + b forward; unused when has_base = 0)
//   Y:    [n, m], row-major
//
// Each workgroup owns ROWS rows × 64 columns. It first computes S = T·M for its ROWS rows
// (ROWS·RANK values) into workgroup memory, then every thread loads its column of E once into
// registers and writes ROWS outputs. Only `base` and `Y` are full size: each is touched exactly
// once, x is not read at all, and the in×out matrix C·U·R never exists.
//
// Bindings (group 0), all `read_write` even when only read (shaders/README.md says why):
//   0  t     storage, read_write  f32[n·RANK]
//   1  mm    storage, read_write  f32 (strided [RANK, RANK])
//   2  e     storage, read_write  f32 (strided [RANK, m])
//   3  base  storage, read_write  f32[n·m] (any buffer when has_base = 0; it is then not read)
//   4  y     storage, read_write  f32[n·m]
//   5  info  storage, read_write  u32[8] = n, m, m_stride_row, m_stride_col,
//                                          e_stride_row, e_stride_col, has_base, bits(α)
// Dispatch: (ceil(m / 64), ceil(n / ROWS), 1).

const WG: u32 = 64u;
const ROWS: u32 = 16u;
const RANK: u32 = {{ rank }}u;

@group(0) @binding(0) var<storage, read_write> t: array<f32>;
@group(0) @binding(1) var<storage, read_write> mm: array<f32>;
@group(0) @binding(2) var<storage, read_write> e: array<f32>;
@group(0) @binding(3) var<storage, read_write> base: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> info: array<u32>;

var<workgroup> s: array<f32, ROWS * RANK>;

@compute @workgroup_size(64, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let n = info[0];
    let m = info[1];
    let ms_row = info[2];
    let ms_col = info[3];
    let es_row = info[4];
    let es_col = info[5];
    let has_base = info[6] != 0u;
    let alpha = bitcast<f32>(info[7]);

    let row0 = wid.y * ROWS;
    let col = wid.x * WG + lid;

    // S = T·M for this workgroup's rows.
    for (var idx = lid; idx < ROWS * RANK; idx += WG) {
        let q = idx / RANK;
        let j = idx % RANK;
        let row = row0 + q;
        var acc = 0.0;
        if row < n {
            for (var i = 0u; i < RANK; i++) {
                acc += t[row * RANK + i] * mm[i * ms_row + j * ms_col];
            }
        }
        s[idx] = acc;
    }
    workgroupBarrier();

    if col < m {
        var ec: array<f32, RANK>;
        for (var j = 0u; j < RANK; j++) {
            ec[j] = e[j * es_row + col * es_col];
        }
        for (var q = 0u; q < ROWS; q++) {
            let row = row0 + q;
            if row < n {
                var acc = 0.0;
                for (var j = 0u; j < RANK; j++) {
                    acc += s[q * RANK + j] * ec[j];
                }
                var v = alpha * acc;
                if has_base {
                    v += base[row * m + col];
                }
                y[row * m + col] = v;
            }
        }
    }
}
