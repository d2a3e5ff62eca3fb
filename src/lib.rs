//! curlora: fine-tune language models with CURLoRA (Fawi 2024, arXiv 2408.14572) on any GPU,
//! and measure how it prevents catastrophic forgetting.
//!
//! * [`adapters`]: CUR selection, the CURLoRA and LoRA adapters, full fine-tuning.
//! * [`model`]: GPT-2 loaded from HF checkpoints.
//! * [`device`]: wgpu GPU or Flex CPU, chosen at run time.
//! * [`kernels`]: custom WGSL kernels (adapter path, norms, colormap) with CPU references.

pub mod adapters;
pub mod app;
pub mod assets;
pub mod bench;
pub mod data;
pub mod device;
pub mod error;
pub mod eval;
pub mod experiment;
pub mod fsutil;
pub mod kernels;
pub mod metrics;
pub mod model;
#[cfg(not(target_arch = "wasm32"))]
pub mod plots;
pub mod presets;
pub mod pretrain;
pub mod report;
pub mod rng;
pub mod rt;
pub mod train;
pub mod web;

pub use error::{Error, Result};
