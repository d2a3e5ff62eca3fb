//! The precision the frozen model computes in, and the f32 islands that stay f32 whatever it is.
//!
//! On a GPU with `SHADER_F16`, the frozen weights and activations can be f16: a 7B model then
//! needs 14 GB instead of 28. What is *trained* stays f32, as mixed-precision training does
//! (Micikevicius et al. 2018, arXiv 1710.03740): the adapters (`U`, or `A` and `B`), the task
//! heads and therefore AdamW's moments, which are made like the gradients. Where precision
//! matters more than bandwidth the computation is widened to f32 and narrowed back, as HF
//! transformers does in f16: the norms, the attention softmax, the adapter's update and the
//! losses. burn sets the float type per device, before any tensor exists
//! (`Device::configure`); everything made without an explicit type then has it, and the f32
//! islands ask for f32 explicitly ([`F32`], [`to_f32`]).

use burn::tensor::{DType, Device, FloatDType, Tensor, TensorCreationOptions};

/// What the user asked for (`--dtype`).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// f16 on a hardware GPU that supports it, f32 elsewhere (the CPU, software adapters).
    #[default]
    Auto,
    /// f32 everywhere.
    F32,
    /// f16 for the frozen model where the device supports it (with a notice and f32 where not).
    F16,
}

/// What a device will compute in, and why when it is not what was asked.
#[derive(Clone, Debug, PartialEq)]
pub struct Chosen {
    pub dtype: FloatDType,
    /// Set when `f16` was asked for and could not be given.
    pub notice: Option<String>,
}

/// The float type for `asked` on a device that does (`supports_f16`) or does not support f16
/// arithmetic, hardware or software. Pure, so that the policy is tested without a GPU.
pub fn choose(asked: Precision, supports_f16: bool, hardware_gpu: bool) -> Chosen {
    match asked {
        Precision::F32 => Chosen {
            dtype: FloatDType::F32,
            notice: None,
        },
        Precision::Auto => Chosen {
            dtype: if supports_f16 && hardware_gpu {
                FloatDType::F16
            } else {
                FloatDType::F32
            },
            notice: None,
        },
        Precision::F16 if supports_f16 => Chosen {
            dtype: FloatDType::F16,
            notice: None,
        },
        Precision::F16 => Chosen {
            dtype: FloatDType::F32,
            notice: Some(
                "--dtype f16: this device has no f16 arithmetic (wgpu feature SHADER_F16); \
                 computing in f32 instead"
                    .into(),
            ),
        },
    }
}

/// Sets `device`'s float type to `dtype`; it fails once a tensor exists on the device.
pub fn configure(device: &mut Device, dtype: FloatDType) -> crate::Result<()> {
    device.configure(dtype).map_err(|e| {
        crate::Error::Device(format!(
            "could not set the device's float type to {dtype:?}: {e:?} (it must be chosen \
             before the first tensor is made)"
        ))
    })
}

/// Whether the device can compute in f16.
pub fn supports_f16(device: &Device) -> bool {
    device.supports_dtype(FloatDType::F16)
}

/// The float type tensors made on `device` without an explicit type get.
pub fn default_float(device: &Device) -> FloatDType {
    device.settings().float_dtype
}

/// Creation options for a tensor that is f32 whatever the device's default: what trains.
#[allow(non_snake_case)]
pub fn F32(device: &Device) -> TensorCreationOptions {
    (device, DType::F32).into()
}

/// `t` in f32 (a no-op when it already is).
pub fn to_f32<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    to(t, DType::F32)
}

/// `t` in `dtype` (a no-op when it already is).
pub fn to<const D: usize>(t: Tensor<D>, dtype: DType) -> Tensor<D> {
    if t.dtype() == dtype {
        return t;
    }
    t.cast(FloatDType::from(dtype))
}

/// A short name for reports: `f32`, `f16`.
pub fn name(dtype: FloatDType) -> &'static str {
    match dtype {
        FloatDType::F16 => "f16",
        FloatDType::BF16 => "bf16",
        FloatDType::F64 => "f64",
        _ => "f32",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy() {
        let f = |a, s, h| choose(a, s, h).dtype;
        // auto: f16 only on a hardware GPU that has it.
        assert_eq!(f(Precision::Auto, true, true), FloatDType::F16);
        assert_eq!(f(Precision::Auto, true, false), FloatDType::F32);
        assert_eq!(f(Precision::Auto, false, true), FloatDType::F32);
        // f16 where supported, software or not; else f32 with a notice.
        assert_eq!(f(Precision::F16, true, false), FloatDType::F16);
        let c = choose(Precision::F16, false, true);
        assert_eq!(c.dtype, FloatDType::F32);
        assert!(c.notice.unwrap().contains("SHADER_F16"));
        assert_eq!(f(Precision::F32, true, true), FloatDType::F32);
        assert!(choose(Precision::Auto, false, false).notice.is_none());
    }
}
