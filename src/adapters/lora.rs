//! The LoRA baseline (Hu et al. 2021) as the CURLoRA reference code implements it:
//! `ΔW = s·A·B` with `A: [in, r] ~ U(−1/√r, 1/√r)` (torch's Kaiming-uniform with a = √5 on an
//! `(in, r)` tensor, whose fan-in is `r`), `B: [r, out] = 0`, and `s = α` (no division by r).
//! The PEFT convention `s = α/r` is an option. Both factors are trained: `r·(in + out)`
//! parameters.

use super::AdapterConfig;
use super::adapter::{Adapter, Attach, Kind, LowRank, Snapshot};
use super::cur::{self, CurSelection};
use super::linear::AdaptedLinear;
use crate::core::error::Result;
use crate::core::rng::Rng;
use burn::module::{Module, Param};
use burn::tensor::{Tensor, TensorData};
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

impl Kind for Lora {
    const NAME: &'static str = "lora";
    const LABEL: &'static str = "LoRA";
    const HELP: &'static str = "`W + s·A·B`, `A` and `B` trained";
    const SETTINGS: &'static [&'static str] = &["lora_scaling"];

    /// `r·(in + out)`.
    fn trainable_params(rank: usize, [n_in, n_out]: [usize; 2], _bias: bool) -> usize {
        rank * (n_in + n_out)
    }

    /// `A` from a per-module stream (`lora:{module}`), `B` zero.
    fn attach(layer: &mut AdaptedLinear, ctx: &Attach<'_>) -> Result<(Self, Option<CurSelection>)> {
        let (name, config) = (ctx.name, ctx.config);
        let shape = layer.shape();
        let device = layer.weight.val().device();
        cur::check_rank(config.rank, shape)?;
        let rank = config.rank;
        let bound = 1.0 / (rank as f64).sqrt();
        let mut rng = Rng::for_name(config.seed, &format!("lora:{name}"));
        let a: Vec<f32> = (0..shape[0] * rank)
            .map(|_| rng.uniform(-bound, bound) as f32)
            .collect();
        // Trained, so f32 whatever the model computes in (see `core::dtype`).
        let f32 = crate::core::dtype::F32(&device);
        let a = Tensor::<2>::from_data(TensorData::new(a, [shape[0], rank]), f32.clone());
        let b = Tensor::<2>::zeros([rank, shape[1]], f32);
        let adapter = Lora {
            a: Param::from_tensor(a),
            b: Param::from_tensor(b),
            scale: config.lora_scaling.factor(config.alpha, rank),
        };
        Ok((adapter, None))
    }
}

impl Adapter for Lora {
    fn add_to(&self, base: Tensor<2>, x: Tensor<2>) -> Tensor<2> {
        base.add(self.delta(x))
    }

    fn delta_weight(&self) -> Option<Tensor<2>> {
        Some(self.a.val().matmul(self.b.val()).mul_scalar(self.scale))
    }

    fn low_rank(&self) -> Option<LowRank> {
        Some(LowRank {
            p: self.a.val(),
            q: self.b.val(),
            scale: self.scale,
        })
    }

    fn trainable_params(&self) -> usize {
        Lora::trainable_params(self)
    }

    /// Through the scaling rule (α or α/r).
    fn set_alpha(&mut self, alpha: f64, config: &AdapterConfig) {
        self.scale = config.lora_scaling.factor(alpha, config.rank);
    }

    /// `‖s·A·B‖` only: the product is as large as `W`.
    fn snapshot(&self) -> Option<Snapshot> {
        let ab = self.a.val().matmul(self.b.val()).mul_scalar(self.scale);
        Some(Snapshot::Norm(ab.powi_scalar(2).sum().sqrt()))
    }

    fn tensors(&self) -> Vec<(String, &Param<Tensor<2>>)> {
        vec![("lora_a".into(), &self.a), ("lora_b".into(), &self.b)]
    }

    fn tensors_mut(&mut self) -> Vec<(String, &mut Param<Tensor<2>>)> {
        vec![("lora_a".into(), &mut self.a), ("lora_b".into(), &mut self.b)]
    }
}
