// Squared column and row norms of a row-major W [n, m], in one pass over W.
//
// Each workgroup owns a tile of TR rows × 64 columns. Thread c walks its column down the tile
// (coalesced loads: the 64 threads read 64 consecutive floats of each row), summing squares into
// a column partial, and parks each square in workgroup memory; after one barrier, threads
// 0..TR-1 each sum one row of the tile. The partials
//
//   col_part [ceil(n / TR), m]   and   row_part [n, ceil(m / 64)]
//
// are 1/32 and 1/64 of W's size; the Rust wrapper adds them up with burn's sum (the second,
// small pass). Every sum is over at most 64 terms before that, so f32 accumulation stays within
// ~1e-6 relative of an f64 sum for matrices of any size.
//
// Bindings (group 0), all `read_write` even when only read (shaders/README.md says why):
//   0  w         storage, read_write  f32[n·m]
//   1  col_part  storage, read_write  f32[ceil(n / TR)·m]
//   2  row_part  storage, read_write  f32[n·ceil(m / 64)]
//   3  info      storage, read_write  u32[2] = n, m
// Dispatch: (ceil(m / 64), ceil(n / TR), 1).

const WG: u32 = 64u;
const TR: u32 = 32u;
const PITCH: u32 = 65u; // WG + 1: row reads of the tile do not all hit one bank

@group(0) @binding(0) var<storage, read_write> w: array<f32>;
@group(0) @binding(1) var<storage, read_write> col_part: array<f32>;
@group(0) @binding(2) var<storage, read_write> row_part: array<f32>;
@group(0) @binding(3) var<storage, read_write> info: array<u32>;

var<workgroup> tile: array<f32, TR * PITCH>;

@compute @workgroup_size(64, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let n = info[0];
    let m = info[1];
    let col = wid.x * WG + lid;
    let row0 = wid.y * TR;

    var csum = 0.0;
    for (var q = 0u; q < TR; q++) {
        let row = row0 + q;
        var v = 0.0;
        if row < n && col < m {
            let x = w[row * m + col];
            v = x * x;
        }
        csum += v;
        tile[q * PITCH + lid] = v;
    }
    if col < m {
        col_part[wid.y * m + col] = csum;
    }
    workgroupBarrier();

    if lid < TR {
        let row = row0 + lid;
        var rsum = 0.0;
        for (var c = 0u; c < WG; c++) {
            rsum += tile[lid * PITCH + c];
        }
        if row < n {
            row_part[row * nwg.x + wid.x] = rsum;
        }
    }
}
