//! Launching the WGSL sources of `shaders/` on burn's Cube backend (burn's `template` route).
//!
//! A [`SourceKernel`] hands the text straight to wgpu (naga), so it runs only where the runtime
//! compiles WGSL: the `wgpu` feature without `vulkan`/`metal` (this crate), and WebGPU. Every
//! wrapper checks [`runs_wgsl`] first and otherwise falls back to burn's own tensor ops, which
//! is also what happens on CUDA/ROCm should those runtimes ever be compiled in.

use burn::backend::wgpu::{CubeTensor, KernelSource, SourceKernel, SourceTemplate};
use burn::cubecl::prelude::{BufferIOAttr, CubeCount, CubeDim, KernelId};
use burn::cubecl::server::{Handle, KernelArguments};
use burn::tensor::{DType, Shape};

/// Largest dispatch extent in one dimension that WebGPU guarantees
/// (`maxComputeWorkgroupsPerDimension`).
pub const MAX_GROUPS: u32 = 65_535;

/// One WGSL file, plus the values of its `{{ name }}` placeholders.
pub struct Wgsl {
    /// Distinguishes the kernels in burn's pipeline cache (all share this Rust type).
    pub name: &'static str,
    pub source: &'static str,
    /// `(placeholder, value)` pairs; also part of the cache key.
    pub params: Vec<(&'static str, u32)>,
}

impl KernelSource for Wgsl {
    fn source(&self) -> SourceTemplate {
        self.params
            .iter()
            .fold(SourceTemplate::new(self.source), |t, (k, v)| {
                t.register(*k, v.to_string())
            })
    }

    fn id(&self) -> KernelId {
        KernelId::new::<Self>().info((self.name, self.params.clone()))
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// Whether `t` lives on a runtime that compiles WGSL (the template route's precondition).
pub fn runs_wgsl(t: &CubeTensor) -> bool {
    matches!(t.device, burn::cubecl::Device::Wgpu(_)) && !t.meta.is_tiled() && t.qparams.is_none()
}

/// A launch: buffers bound in order as `@group(0) @binding(i)`, then `info` (a storage buffer
/// of `u32`s) as the last binding.
pub struct Launch<'a> {
    pub kernel: Wgsl,
    pub workgroup: u32,
    pub count: CubeCount,
    pub inputs: Vec<&'a Handle>,
    pub outputs: Vec<&'a Handle>,
    pub info: Vec<u32>,
}

impl Launch<'_> {
    /// Binding order: inputs, outputs, info — as each shader declares them.
    pub fn run(self, client: &burn::cubecl::client::Client) {
        let info = client.create_from_slice(bytemuck::cast_slice(&self.info));
        let mut args = KernelArguments::new();
        for h in self.inputs {
            args = args.with_buffer_io(h.clone().binding(), BufferIOAttr::ReadOnly);
        }
        for h in self.outputs {
            args = args.with_buffer_io(h.clone().binding(), BufferIOAttr::WriteOnly);
        }
        args = args.with_buffer_io(info.binding(), BufferIOAttr::ReadOnly);
        let name = self.kernel.name;
        let kernel = SourceKernel::new(self.kernel, CubeDim::new_1d(self.workgroup));
        client.launch(Box::new(kernel), self.count, args);
        LAUNCHES.with_borrow_mut(|m| *m.entry(name).or_default() += 1);
    }
}

thread_local! {
    /// WGSL launches per kernel name, on this thread (the one that issues them).
    static LAUNCHES: std::cell::RefCell<std::collections::HashMap<&'static str, u64>> =
        Default::default();
}

/// How many times this thread has launched the WGSL kernel `name` (`cur_adapter_project`,
/// `cur_adapter_expand`, `sq_norms`, `colormap`). Lets tests and benchmarks tell the shader
/// from the tensor-op fallback, which gives the same numbers.
pub fn launches(name: &str) -> u64 {
    LAUNCHES.with_borrow(|m| m.get(name).copied().unwrap_or(0))
}

/// An uninitialised contiguous f32/u32 tensor next to `like` (the kernel writes every element).
pub fn empty(like: &CubeTensor, shape: Shape, dtype: DType) -> CubeTensor {
    let bytes = shape.num_elements() * dtype.size();
    let handle = like.client.empty(bytes.max(4));
    CubeTensor::new_contiguous(
        like.client.clone(),
        like.device.clone(),
        shape,
        handle,
        dtype,
    )
}

/// Spreads `groups` workgroups over x and y so that neither exceeds [`MAX_GROUPS`]; the shader
/// recovers the linear index as `wid.x + wid.y·gx`. `None` when even that is not enough.
pub fn linear_count(groups: u32) -> Option<CubeCount> {
    if groups <= MAX_GROUPS {
        return Some(CubeCount::Static(groups.max(1), 1, 1));
    }
    let gy = groups.div_ceil(MAX_GROUPS);
    (gy <= MAX_GROUPS).then_some(CubeCount::Static(MAX_GROUPS, gy, 1))
}

/// Element strides of a 2-D tensor, as `u32` (the shaders index in `u32`).
pub fn strides2(t: &CubeTensor) -> Option<[u32; 2]> {
    let s = t.meta.strides();
    Some([u32::try_from(s[0]).ok()?, u32::try_from(s[1]).ok()?])
}

/// Dims of a 2-D tensor.
pub fn dims2(t: &CubeTensor) -> [usize; 2] {
    let s = t.meta.shape();
    [s[0], s[1]]
}

/// Whether an `n`-element buffer is indexable in `u32` by the shaders.
pub fn fits_u32(n: usize) -> bool {
    u32::try_from(n).is_ok()
}
