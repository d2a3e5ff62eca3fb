//! Adapters that leave the tool: HF PEFT's LoRA format (`adapter_config.json` +
//! `adapter_model.safetensors`), both ways.
//!
//! * [`export`]: any adapter whose update is exactly low-rank ([`Adapter::low_rank`]) as a PEFT
//!   LoRA, with the task heads beside it (PEFT has no per-task heads);
//! * [`import`]: a LoRA made by peft itself, as our [`Lora`](crate::adapters::lora::Lora).
//!
//! PEFT's LoRA computes `y = base(x) + scaling·(x·A_peftᵀ)·B_peftᵀ` with `lora_A.weight`
//! `[r, in]`, `lora_B.weight` `[out, r]` and `scaling = lora_alpha / r` (`/ √r` with rsLoRA),
//! for `nn.Linear` and GPT-2's `Conv1D` alike (only the merge into a `Conv1D` weight needs
//! `fan_in_fan_out`). In our `[in, out]` frame `ΔW = s·P·Q`, so `A_peft = Pᵀ`, `B_peft = Qᵀ`
//! and `lora_alpha = s·r`: the same numbers, no approximation.
//!
//! [`Adapter::low_rank`]: crate::adapters::Adapter::low_rank

pub mod export;
pub mod import;

use crate::core::error::Result;
use std::collections::HashMap;
use std::path::Path;

/// The key prefix PEFT's `PeftModel` gives every tensor of a saved adapter.
pub const KEY_PREFIX: &str = "base_model.model.";

/// PEFT's key of `module`'s factor (`"A"` or `"B"`): `base_model.model.{hf_prefix}{path}.lora_A.weight`.
pub fn key(hf_prefix: &str, module: &str, factor: &str) -> String {
    format!("{KEY_PREFIX}{hf_prefix}{module}.lora_{factor}.weight")
}

/// Writes f32 tensors `(name, shape, values)` as one safetensors file (atomically).
pub fn write_f32(
    path: &Path,
    tensors: &[(String, Vec<usize>, Vec<f32>)],
    metadata: Option<HashMap<String, String>>,
) -> Result<usize> {
    let out = crate::model::weights::serialize(tensors, safetensors::Dtype::F32, metadata)?;
    crate::core::fsutil::write_atomic(path, &out)?;
    Ok(out.len())
}

/// `[rows, cols]` row-major → `[cols, rows]`.
pub(crate) fn transposed(v: &[f32], [rows, cols]: [usize; 2]) -> Vec<f32> {
    crate::adapters::linear::transpose(v, [rows, cols])
}
