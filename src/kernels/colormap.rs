//! Kernel 3: a diverging blue–white–red colormap from any 2-D tensor to RGBA8 pixels (one `u32`
//! per value, bytes R, G, B, A), on the tensor's own device — the GPU image of `U` or of an
//! accuracy matrix that egui draws, without a round trip through the CPU natively.
//!
//! The formula (`shaders/colormap.wgsl`) is that of `app::colors::diverging`, evaluated in f32
//! with a multiplication by `1/s` so that the GPU and the CPU reference give identical bytes.
//! Flex (the CPU reference) evaluates the same steps with tensor ops.

use super::wgsl::{self, Launch, Wgsl};
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::wgpu::into_contiguous;
use burn::backend::{Backend, Cube, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::tensor::{DType, FloatDType, Int, IntDType, Tensor};

const SOURCE: &str = include_str!("../../shaders/colormap.wgsl");
/// Threads per workgroup (`@workgroup_size` of the shader).
const WG: usize = 256;

#[backend_extension(Cube, Flex)]
pub trait ColormapBackend: Backend {
    /// `values [h, w]` (f32) → packed RGBA8 `u32` `[h, w]`, for `t = v·inv_scale`.
    fn colormap(values: FloatTensor<Self>, inv_scale: f32) -> IntTensor<Self>;
}

impl ColormapBackend for Flex {
    fn colormap(values: FloatTensor<Self>, inv_scale: f32) -> IntTensor<Self> {
        reference(Tensor::from_primitive::<Flex>(values), inv_scale)
            .try_into_primitive::<Flex>()
            .expect("a Flex tensor stays on Flex")
    }
}

/// The colormap with burn tensor ops, on any device: Flex's implementation (the CPU
/// reference) and the Cube fallback where WGSL does not run.
fn reference(values: Tensor<2>, inv_scale: f32) -> Tensor<2, Int> {
    let t = values.cast(FloatDType::F32).mul_scalar(inv_scale);
    let t = t.clone().mask_fill(t.is_nan(), 0.0).clamp(-1.0, 1.0);
    // Same operations, in the same order, as the shader.
    let r = t.clone().clamp_max(0.0).add_scalar(1.0).mul_scalar(255.0);
    let g = t.clone().abs().neg().add_scalar(1.0).mul_scalar(255.0);
    let b = t.clamp_min(0.0).neg().add_scalar(1.0).mul_scalar(255.0);
    // Truncation (values are in [0, 255]), then packing in i64, where A·2²⁴ fits.
    let byte = |x: Tensor<2>| x.cast(IntDType::I64);
    byte(r)
        .add(byte(g).mul_scalar(1 << 8))
        .add(byte(b).mul_scalar(1 << 16))
        .add_scalar(255i64 << 24)
        .cast(IntDType::U32)
}

impl ColormapBackend for Cube {
    fn colormap(values: FloatTensor<Self>, inv_scale: f32) -> IntTensor<Self> {
        use burn::backend::ops::FloatTensorOps;
        let values = if values.dtype == DType::F32 {
            values
        } else {
            Cube::float_cast(values, FloatDType::F32)
        };
        let shape = values.shape();
        let len = shape.num_elements();
        let count = u32::try_from(len.div_ceil(WG))
            .ok()
            .and_then(wgsl::linear_count);
        let Some(count) = count.filter(|_| wgsl::runs_wgsl(&values) && wgsl::fits_u32(len)) else {
            return reference(Tensor::from_primitive::<Cube>(values), inv_scale)
                .try_into_primitive::<Cube>()
                .expect("stays on Cube");
        };
        let values = into_contiguous(values);
        let out = wgsl::empty(&values, shape, DType::U32);
        Launch {
            kernel: Wgsl {
                name: "colormap",
                source: SOURCE,
                params: Vec::new(),
            },
            workgroup: WG as u32,
            count,
            inputs: vec![&values.handle],
            outputs: vec![&out.handle],
            info: vec![len as u32, inv_scale.to_bits()],
        }
        .run(&values.client);
        out
    }
}

/// `1/s` for the symmetric scale `s = max(|vmin|, |vmax|)`; 0 when `s` is 0 or not finite, which
/// paints everything white, as `app::colors::diverging` does for a zero scale.
pub fn inv_scale(vmin: f64, vmax: f64) -> f32 {
    let s = vmin.abs().max(vmax.abs()) as f32;
    if s > 0.0 && s.is_finite() {
        1.0 / s
    } else {
        0.0
    }
}

/// Any 2-D tensor → packed RGBA8 pixels (`u32`, little-endian bytes R, G, B, A) on its own
/// device, blue (≤ −s) – white (0) – red (≥ s) with `s = max(|vmin|, |vmax|)`; NaN is white.
pub fn colormap(values: Tensor<2>, vmin: f64, vmax: f64) -> Tensor<2, Int> {
    let out = <Dispatch as ColormapBackend>::colormap(
        values.inner().into_dispatch(),
        inv_scale(vmin, vmax),
    );
    Tensor::from_dispatch(out)
}

/// The pixels of [`colormap`] as bytes (`[h·w·4]`, R, G, B, A), e.g. for `egui::ColorImage`.
pub fn to_rgba_bytes(pixels: Tensor<2, Int>) -> Vec<u8> {
    let words = pixels
        .into_data()
        .convert::<u32>()
        .try_into_vec::<u32>()
        .expect("u32 pixels");
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// The pure-Rust formula, one value at a time: what both backends must reproduce byte for byte
/// (used by the tests as the independent reference).
pub fn pixel(v: f32, inv_scale: f32) -> u32 {
    let mut t = v * inv_scale;
    if t.is_nan() {
        t = 0.0;
    }
    let t = t.clamp(-1.0, 1.0);
    let r = (255.0 * (1.0 + t.min(0.0))) as u32;
    let g = (255.0 * (1.0 - t.abs())) as u32;
    let b = (255.0 * (1.0 - t.max(0.0))) as u32;
    r | (g << 8) | (b << 16) | (255 << 24)
}

/// The wgpu buffer behind a pixel tensor from [`colormap`] on a wgpu device (native only), for
/// copying into an egui texture without a CPU round trip. `None` on any other device.
///
/// The returned resource pins the allocation: keep it alive while the buffer is in use. burn's
/// pending work on the tensor is submitted before this returns.
#[cfg(not(target_family = "wasm"))]
pub fn wgpu_buffer(pixels: &Tensor<2, Int>) -> Option<GpuPixels> {
    use burn::cubecl::wgpu::{AutoCompiler, WgpuServer};
    let t = pixels.clone().inner().try_into_primitive::<Cube>().ok()?;
    if !matches!(t.device, burn::cubecl::Device::Wgpu(_)) {
        return None;
    }
    let t = into_contiguous(t);
    let resource = t
        .client
        .get_resource::<WgpuServer<AutoCompiler>>(t.handle.clone())
        .ok()?;
    let r = resource.resource();
    Some(GpuPixels {
        buffer: r.buffer.clone(),
        offset: r.offset,
        size: r.size,
        _pin: Box::new(resource),
    })
}

/// A pixel buffer on the wgpu device: `size` bytes of `buffer` from `offset`.
#[cfg(not(target_family = "wasm"))]
pub struct GpuPixels {
    pub buffer: burn::tensor::wgpu::wgpu::Buffer,
    pub offset: u64,
    pub size: u64,
    /// Keeps burn from reusing the allocation while this is alive.
    _pin: Box<dyn std::any::Any + Send>,
}
