//! Custom compute kernels: the WGSL sources in `shaders/`, wired into `burn::tensor::Tensor`
//! through burn's backend-extension mechanism (`#[backend_extension]`).
//!
//! Each kernel is an extension trait with three implementations:
//! * `Cube` (wgpu): launches the WGSL through burn's `template` route ([`wgsl`]), falling back
//!   to burn's own tensor ops where WGSL cannot run (a non-WGSL runtime, unsupported sizes);
//! * `Flex`: plain tensor ops — the CPU reference the GPU results are tested against;
//! * `Autodiff` (the adapter op only): a handwritten backward pass.
//!
//! | kernel | shader(s) | entry point here |
//! |---|---|---|
//! | CURLoRA adapter path | `cur_adapter_project.wgsl`, `cur_adapter_expand.wgsl` | [`cur_adapter`] |
//! | squared column / row norms | `sq_norms.wgsl` | [`sq_norms`] |
//! | diverging colormap → RGBA8 | `colormap.wgsl` | [`colormap()`] |

pub mod colormap;
pub mod cur_adapter;
pub mod norms;
mod wgsl;

pub use colormap::colormap;
pub use cur_adapter::cur_adapter;
pub use norms::sq_norms;
pub use wgsl::launches as wgsl_launches;
