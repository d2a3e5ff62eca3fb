// Diverging colormap: f32 values → one RGBA8 pixel per value, packed little-endian in a u32
// (byte 0 = R, 1 = G, 2 = B, 3 = A = 255), i.e. the bytes of an `Rgba8Unorm` texture / egui
// `Color32` image.
//
// Blue (negative) – white (0) – red (positive) on the symmetric scale [-s, s]:
//   t = clamp(v / s, -1, 1)   (NaN → 0, i.e. white)
//   R = 255·(1 + min(t, 0)),  G = 255·(1 − |t|),  B = 255·(1 − max(t, 0)),  truncated.
// The host passes 1/s (0 when s is 0 or not finite), so the shader multiplies instead of dividing:
// WGSL division is only accurate to 2.5 ULP, multiplication is correctly rounded, and the CPU
// reference must produce the same bytes. NaN is detected on the bits, because WGSL lets a compiler
// assume floats are never NaN.
//
// Bindings (group 0), all `read_write` even when only read (shaders/README.md says why):
//   0  v     storage, read_write  f32[len]
//   1  out   storage, read_write  u32[len]
//   2  info  storage, read_write  u32[2] = len, bits(1/s)
// Dispatch: (gx, gy, 1) with 256·gx·gy >= len; index = (wid.y·gx + wid.x)·256 + lid.

@group(0) @binding(0) var<storage, read_write> v: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<storage, read_write> info: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let len = info[0];
    let inv_scale = bitcast<f32>(info[1]);
    let idx = (wid.y * nwg.x + wid.x) * 256u + lid;
    if idx >= len {
        return;
    }
    var t = v[idx] * inv_scale;
    if (bitcast<u32>(t) & 0x7fffffffu) > 0x7f800000u {
        t = 0.0;
    }
    t = clamp(t, -1.0, 1.0);
    let r = u32(255.0 * (1.0 + min(t, 0.0)));
    let g = u32(255.0 * (1.0 - abs(t)));
    let b = u32(255.0 * (1.0 - max(t, 0.0)));
    out[idx] = r | (g << 8u) | (b << 16u) | (255u << 24u);
}
