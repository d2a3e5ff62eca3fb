// CURLoRA adapter path, pass 1: P = A·B for a thin B.
//
//   A: [n, k], row-major, contiguous   (x in the forward pass; G = dL/dy in the backward pass)
//   B: [k, RANK], any element strides  (C forward; Rᵀ, a transposed view of R, backward)
//   P: [n, RANK], row-major            (t = x·C forward; G·Rᵀ backward)
//
// One workgroup per row of A. Its 64 threads stride over the row, so A is read exactly once and
// coalesced; each thread keeps RANK partial sums in registers, and a tree reduction in workgroup
// memory adds them up (pairwise: better f32 accuracy than one long running sum).
//
// RANK is baked in by the Rust wrapper (template placeholder), so the per-thread accumulators
// are a fixed-size array and no barrier sits in control flow that depends on a buffer value.
// The wrapper only launches this for 1 <= RANK <= 64 (the reduction's final write and the
// 16 KiB workgroup-memory limit both need that) and falls back to burn's matmul otherwise.
//
// Bindings (group 0), all `read_write` even when only read (shaders/README.md says why):
//   0  a     storage, read_write  f32[n·k]
//   1  b     storage, read_write  f32[k·RANK] (strided)
//   2  p     storage, read_write  f32[n·RANK]
//   3  info  storage, read_write  u32[4] = n, k, b_stride_row, b_stride_col
// Dispatch: (gx, gy, 1) workgroups with gx·gy >= n; row = wid.x + wid.y·gx.

const WG: u32 = 64u;
const RANK: u32 = {{ rank }}u;

@group(0) @binding(0) var<storage, read_write> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> p: array<f32>;
@group(0) @binding(3) var<storage, read_write> info: array<u32>;

var<workgroup> partial: array<f32, WG * RANK>;

@compute @workgroup_size(64, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let n = info[0];
    let k = info[1];
    let bs_row = info[2];
    let bs_col = info[3];
    let row = wid.x + wid.y * nwg.x;
    // Rows past the end still take part in the barriers below; they only skip loads and stores.
    let valid = row < n;

    var acc: array<f32, RANK>;
    if valid {
        let start = row * k;
        for (var i = lid; i < k; i += WG) {
            let av = a[start + i];
            for (var j = 0u; j < RANK; j++) {
                acc[j] += av * b[i * bs_row + j * bs_col];
            }
        }
    }
    for (var j = 0u; j < RANK; j++) {
        partial[lid * RANK + j] = acc[j];
    }
    workgroupBarrier();

    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if lid < s {
            for (var j = 0u; j < RANK; j++) {
                partial[lid * RANK + j] += partial[(lid + s) * RANK + j];
            }
        }
        workgroupBarrier();
    }

    if valid && lid < RANK {
        p[row * RANK + lid] = partial[lid];
    }
}
