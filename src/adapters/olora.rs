//! O-LoRA (Wang et al. 2023, "Orthogonal Subspace Learning for Language Model Continual
//! Learning", arXiv 2310.14152): a new LoRA per task, the earlier tasks' LoRAs frozen, and a
//! penalty `λ·Σ_{i<t} ‖A_iᵀ·A_t‖²_F` that keeps the new task's input subspace orthogonal to the
//! earlier ones. The standard continual-learning LoRA baseline. (Not PEFT's `olora`, which is
//! an orthonormal initialisation.)
//!
//! In the forward frame `[in, out]`: `y = x·W + b + s·Σ_{i≤t} x·A_i·B_i`, `A_i: [in, r]` (its
//! columns span the input directions task `i` uses), `B_i: [r, out]`. Each new task's `A` is
//! drawn as LoRA's (`U(−1/√r, 1/√r)`, a per-module, per-task seeded stream) and `B = 0`, so a
//! new task starts where the previous one ended. The paper's λ₁ = 0.5 is the default
//! (`olora_lambda`); its λ₂ (an L2 term on the new LoRA) is left out.

use super::adapter::{Adapter, Attach, Kind, Snapshot};
use super::cur::{self, CurSelection};
use super::linear::AdaptedLinear;
use super::AdapterConfig;
use crate::core::error::Result;
use crate::core::rng::Rng;
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};

/// The paper's λ₁: the default weight of the orthogonality penalty.
pub const PAPER_LAMBDA: f64 = 0.5;

#[derive(Module, Debug)]
pub struct OLora {
    /// The current task's `A [in, r]` (trained).
    pub a: Param<Tensor<2>>,
    /// The current task's `B [r, out]` (trained, zero at the task's start).
    pub b: Param<Tensor<2>>,
    /// Earlier tasks' `A_i`, frozen, oldest first.
    pub earlier_a: Vec<Param<Tensor<2>>>,
    /// Earlier tasks' `B_i`, frozen, oldest first.
    pub earlier_b: Vec<Param<Tensor<2>>>,
    /// LoRA's output scale `s` (α, or α/r with PEFT scaling).
    #[module(skip)]
    pub scale: f64,
    /// λ of the orthogonality penalty.
    #[module(skip)]
    pub lambda: f64,
    /// The task being trained (0 for the first).
    #[module(skip)]
    pub task: usize,
    /// Seed and module path, from which each task's `A` is drawn.
    #[module(skip)]
    seed: u64,
    #[module(skip)]
    name: String,
}

/// LoRA's `A` start for `task` of module `name`: `U(−1/√r, 1/√r)` from its own stream.
fn draw_a(seed: u64, name: &str, task: usize, [n_in, rank]: [usize; 2], device: &Device) -> Tensor<2> {
    let bound = 1.0 / (rank as f64).sqrt();
    let mut rng = Rng::for_name(seed, &format!("olora:{name}:{task}"));
    let a: Vec<f32> = (0..n_in * rank)
        .map(|_| rng.uniform(-bound, bound) as f32)
        .collect();
    Tensor::from_data(TensorData::new(a, [n_in, rank]), crate::core::dtype::F32(device))
}

impl OLora {
    /// `λ·Σ_{i<t} ‖A_iᵀ·A_t‖²_F`, `[1]`; `None` on the first task.
    pub fn penalty(&self) -> Option<Tensor<1>> {
        let a = self.a.val();
        self.earlier_a
            .iter()
            .map(|ai| ai.val().transpose().matmul(a.clone()).powi_scalar(2).sum())
            .reduce(|x, y| x.add(y))
            .map(|p| p.mul_scalar(self.lambda))
    }

    fn pairs(&self) -> impl Iterator<Item = (Tensor<2>, Tensor<2>)> + '_ {
        let earlier = self.earlier_a.iter().zip(&self.earlier_b);
        earlier
            .map(|(a, b)| (a.val(), b.val()))
            .chain(std::iter::once((self.a.val(), self.b.val())))
    }
}

impl Kind for OLora {
    const NAME: &'static str = "o-lora";
    const SETTINGS: &'static [&'static str] = &["lora_scaling", "olora_lambda"];
    const LABEL: &'static str = "O-LoRA";
    const HELP: &'static str = "a LoRA per task, earlier ones frozen, λ·Σ‖A_iᵀ·A_t‖² keeps them orthogonal";

    /// `r·(in + out)` per task: only the current task's LoRA trains.
    fn trainable_params(rank: usize, [n_in, n_out]: [usize; 2], _bias: bool) -> usize {
        rank * (n_in + n_out)
    }

    fn attach(layer: &mut AdaptedLinear, ctx: &Attach<'_>) -> Result<(Self, Option<CurSelection>)> {
        let (name, config): (&str, &AdapterConfig) = (ctx.name, ctx.config);
        let shape = layer.shape();
        cur::check_rank(config.rank, shape)?;
        let device = layer.weight.val().device();
        let rank = config.rank;
        let a = draw_a(config.seed, name, 0, [shape[0], rank], &device);
        Ok((
            OLora {
                a: Param::from_tensor(a),
                b: Param::from_tensor(Tensor::zeros([rank, shape[1]], crate::core::dtype::F32(&device))),
                earlier_a: Vec::new(),
                earlier_b: Vec::new(),
                scale: config.lora_scaling.factor(config.alpha, rank),
                lambda: config.olora_lambda,
                task: 0,
                seed: config.seed,
                name: name.to_string(),
            },
            None,
        ))
    }
}

impl Adapter for OLora {
    fn add_to(&self, base: Tensor<2>, x: Tensor<2>) -> Tensor<2> {
        self.pairs().fold(base, |y, (a, b)| {
            y.add(x.clone().matmul(a).matmul(b).mul_scalar(self.scale))
        })
    }

    fn delta_weight(&self) -> Option<Tensor<2>> {
        self.pairs()
            .map(|(a, b)| a.matmul(b).mul_scalar(self.scale))
            .reduce(|x, y| x.add(y))
    }

    /// Every task's LoRA side by side: `P = [A_1 … A_t]`, `Q = [B_1; …; B_t]` (rank t·r).
    fn low_rank(&self) -> Option<super::LowRank> {
        let (ps, qs): (Vec<_>, Vec<_>) = self.pairs().unzip();
        Some(super::LowRank {
            p: Tensor::cat(ps, 1),
            q: Tensor::cat(qs, 0),
            scale: self.scale,
        })
    }

    fn trainable_params(&self) -> usize {
        let [n_in, r] = self.a.shape().dims::<2>();
        let [_, n_out] = self.b.shape().dims::<2>();
        r * (n_in + n_out)
    }

    fn set_alpha(&mut self, alpha: f64, config: &AdapterConfig) {
        self.scale = config.lora_scaling.factor(alpha, config.rank);
    }

    /// `‖ΔW‖` of all tasks' LoRAs together.
    fn snapshot(&self) -> Option<Snapshot> {
        let dw = self.delta_weight()?;
        Some(Snapshot::Norm(dw.powi_scalar(2).sum().sqrt()))
    }

    /// Earlier tasks' factors (`olora_a.{i}`, `olora_b.{i}`), then the current ones.
    fn tensors(&self) -> Vec<(String, &Param<Tensor<2>>)> {
        let mut out = Vec::new();
        for (i, (a, b)) in self.earlier_a.iter().zip(&self.earlier_b).enumerate() {
            out.push((format!("olora_a.{i}"), a));
            out.push((format!("olora_b.{i}"), b));
        }
        out.push(("lora_a".into(), &self.a));
        out.push(("lora_b".into(), &self.b));
        out
    }

    fn tensors_mut(&mut self) -> Vec<(String, &mut Param<Tensor<2>>)> {
        let mut out = Vec::new();
        for (i, (a, b)) in self.earlier_a.iter_mut().zip(self.earlier_b.iter_mut()).enumerate() {
            out.push((format!("olora_a.{i}"), a));
            out.push((format!("olora_b.{i}"), b));
        }
        out.push(("lora_a".into(), &mut self.a));
        out.push(("lora_b".into(), &mut self.b));
        out
    }

    fn loss(&self) -> Option<Tensor<1>> {
        self.penalty()
    }

    /// A new task: the current LoRA is frozen and joins the earlier ones; a fresh one starts.
    fn start_task(&mut self, task: usize) {
        if task <= self.task {
            return;
        }
        let device = self.a.val().device();
        let [n_in, rank] = self.a.shape().dims::<2>();
        let [_, n_out] = self.b.shape().dims::<2>();
        for t in self.task + 1..=task {
            let a = std::mem::replace(
                &mut self.a,
                Param::from_tensor(draw_a(self.seed, &self.name, t, [n_in, rank], &device)),
            );
            let b = std::mem::replace(
                &mut self.b,
                Param::from_tensor(Tensor::zeros([rank, n_out], crate::core::dtype::F32(&device))),
            );
            self.earlier_a.push(Param::from_tensor(a.val().detach()).set_require_grad(false));
            self.earlier_b.push(Param::from_tensor(b.val().detach()).set_require_grad(false));
        }
        self.task = task;
    }

    fn task(&self) -> usize {
        self.task
    }
}
