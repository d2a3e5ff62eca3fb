//! curlora: fine-tune language models with CURLoRA (Fawi 2024, arXiv 2408.14572) on any GPU,
//! and measure how it prevents catastrophic forgetting.
//!
//! The map, lowest layer first; each module uses only those above it in this list:
//!
//! * [`core`]: errors, seeded randomness, atomic writes, the device (wgpu or Flex), the async
//!   runtime shim, the embedded files and the cache folder.
//! * [`kernels`]: custom WGSL kernels (adapter path, norms, colormap) with CPU references.
//! * [`data`]: task readers (GLUE, Sentiment140, CSV/TSV/JSONL) and held-out text.
//! * [`adapters`]: CUR selection, the adapter methods (CURLoRA, LoRA, full, frozen, PiSSA,
//!   MiLoRA), each one file implementing `Kind` + `Adapter`, and their one registry.
//! * [`model`]: GPT-2 and Llama-family models from HF folders and GGUF, task heads, adapter
//!   files.
//! * [`train`]: the continual-learning engine, its events and control, perplexity, metrics,
//!   pretraining.
//! * [`experiment`]: experiment specs, presets, the default experiment, the run driver, reports,
//!   plots and benchmarks.
//! * [`app`] (desktop and browser UI) and [`web`] (the browser shell) on top; the CLI lives in
//!   the binary.
//!
//! Cargo features: `app` (egui, eframe, rfd, egui_plot, image), `plots` (plotters: the report's
//! PNGs) and `web` (the browser shell, needs `app`), all on by default.
//! `--no-default-features` builds the library and a headless CLI.

pub mod adapters;
#[cfg(feature = "app")]
pub mod app;
pub mod core;
pub mod data;
pub mod experiment;
pub mod kernels;
pub mod model;
pub mod train;
#[cfg(feature = "web")]
pub mod web;

pub use crate::core::error::{Error, Result};
