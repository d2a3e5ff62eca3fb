//! The LoRA baseline (Hu et al. 2021) as the CURLoRA reference code implements it:
//! `ΔW = s·A·B` with `A: [in, r] ~ U(−1/√r, 1/√r)` (torch's Kaiming-uniform with a = √5 on an
//! `(in, r)` tensor, whose fan-in is `r`), `B: [r, out] = 0`, and `s = α` (no division by r).
//! The PEFT convention `s = α/r` is an option. Both factors are trained: `r·(in + out)`
//! parameters.

use burn::module::{Module, Param};
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// How LoRA scales its output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LoraScaling {
    /// `α` (the CURLoRA reference code).
    #[default]
    Reference,
    /// `α / r` (HF PEFT).
    Peft,
}

impl LoraScaling {
    pub fn factor(self, alpha: f64, rank: usize) -> f64 {
        match self {
            LoraScaling::Reference => alpha,
            LoraScaling::Peft => alpha / rank as f64,
        }
    }
}

#[derive(Module, Debug)]
pub struct Lora {
    /// `[in, r]`.
    pub a: Param<Tensor<2>>,
    /// `[r, out]`, zero at start.
    pub b: Param<Tensor<2>>,
    /// The effective output scale (already divided by r in PEFT mode).
    #[module(skip)]
    pub scale: f64,
}

impl Lora {
    pub fn delta(&self, x: Tensor<2>) -> Tensor<2> {
        x.matmul(self.a.val())
            .matmul(self.b.val())
            .mul_scalar(self.scale)
    }

    pub fn rank(&self) -> usize {
        self.a.shape().dims::<2>()[1]
    }

    pub fn trainable_params(&self) -> usize {
        let [n_in, r] = self.a.shape().dims::<2>();
        let [_, n_out] = self.b.shape().dims::<2>();
        r * (n_in + n_out)
    }
}
