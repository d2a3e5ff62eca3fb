//! The CURLoRA adapter (Fawi 2024, arXiv 2408.14572): `ΔW = α·C·U·R` with `C`, `R` taken
//! from the frozen weight itself and `U` (`r×r`, zero at start) the only trained tensor.
//!
//! The forward pass is `α·((x·C)·U)·R`: three thin matmuls of cost `O(N·r·(in+out) + N·r²)`.
//! `C·U·R` (an `in×out` matrix) is never formed, neither forward nor backward — the reference
//! code rebuilds it on every call (kept here only as the [`CurPath::Materialized`] baseline of the
//! benchmarks). Because `C` and `R` are plain tensors (module constants, not parameters),
//! autodiff produces a gradient for `U` only: `∂L/∂U = α·(x·C)ᵀ·G·Rᵀ` where `G = ∂L/∂y`.
//!
//! [`CurPath`] picks how the product is evaluated; all three give the same values and gradients.

use super::adapter::{Adapter, Attach, Kind, LowRank, Snapshot};
use super::cur::{self, CurSelection};
use super::linear::{AdaptedLinear, Layout};
use super::ablation::{self, CurSource};
use super::weight_read::{Reads, WeightRead};
use super::AdapterConfig;
use crate::core::error::Result;
use burn::module::{Module, Param};
use burn::tensor::{FloatDType, Int, Tensor, TensorData};

/// How the adapter's `α·x·C·U·R` is evaluated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CurPath {
    /// `((x·C)·U)·R` with burn's tensor ops and autodiff: the default everywhere.
    #[default]
    Factorized,
    /// `x·(C·U·R)`, forming the `in×out` matrix on every call as the reference code does.
    /// Same result, far more work: the benchmarks' baseline.
    Materialized,
    /// The custom op of [`crate::kernels::cur_adapter`]: the WGSL kernels on wgpu (two passes,
    /// the add into the base output fused), tensor ops on Flex, handwritten backward.
    Kernel,
}

#[derive(Module, Debug)]
pub struct CurLora {
    /// `C = W[:, cols]`, shape `[in, r]`; frozen.
    pub c: Tensor<2>,
    /// `U`, shape `[r, r]`; trainable, starts at zero so the adapted model equals the base.
    pub u: Param<Tensor<2>>,
    /// `R = W[rows, :]`, shape `[r, out]`; frozen.
    pub r: Tensor<2>,
    /// Scale on the adapter output (1 in the reference, no division by r).
    #[module(skip)]
    pub alpha: f64,
    /// Selected column indices, in the checkpoint's orientation (see
    /// [`Layout`](super::linear::Layout)): outputs for GPT-2, inputs for `nn.Linear` models.
    #[module(skip)]
    pub cols: Vec<usize>,
    /// Selected row indices, in the checkpoint's orientation: inputs for GPT-2, outputs for
    /// `nn.Linear` models.
    #[module(skip)]
    pub rows: Vec<usize>,
    /// How the product is evaluated (not saved: a run-time choice).
    #[module(skip)]
    pub path: CurPath,
}

impl CurLora {
    /// The adapter's contribution for a `[N, in]` input: `[N, out]`.
    pub fn delta(&self, x: Tensor<2>) -> Tensor<2> {
        match self.path {
            CurPath::Materialized => {
                let dw = self.c.clone().matmul(self.u.val()).matmul(self.r.clone());
                x.matmul(dw).mul_scalar(self.alpha)
            }
            CurPath::Factorized => x
                .matmul(self.c.clone())
                .matmul(self.u.val())
                .matmul(self.r.clone())
                .mul_scalar(self.alpha),
            CurPath::Kernel => {
                let [n, _] = x.dims();
                let out = self.r.dims()[1];
                let zeros = Tensor::<2>::zeros([n, out], &x.device());
                self.add_to(zeros, x)
            }
        }
    }

    /// `base + delta(x)`: the adapted layer's output from its base output `base = x·W + b`.
    /// The kernel path adds inside its second pass instead of making another full-size pass.
    pub fn add_to(&self, base: Tensor<2>, x: Tensor<2>) -> Tensor<2> {
        match self.path {
            CurPath::Kernel => crate::kernels::cur_adapter(
                base,
                x,
                self.c.clone(),
                self.u.val(),
                self.r.clone(),
                self.alpha,
            ),
            CurPath::Factorized | CurPath::Materialized => base.add(self.delta(x)),
        }
    }

    pub fn rank(&self) -> usize {
        self.cols.len()
    }

    /// Trainable parameters: `r²`.
    pub fn trainable_params(&self) -> usize {
        self.rank() * self.rank()
    }
}

impl Kind for CurLora {
    const NAME: &'static str = "curlora";
    const LABEL: &'static str = "CURLoRA";
    const HELP: &'static str = "`W + α·C·U·R`, only `U` trained";
    const READS: Reads = Reads::Norms;
    const SETTINGS: &'static [&'static str] =
        &["selection_mode", "epsilon", "replacement", "u_init", "cur_source"];

    /// `r²`.
    fn trainable_params(rank: usize, _shape: [usize; 2], _bias: bool) -> usize {
        rank * rank
    }

    /// Draws the columns and rows from `W` (per-module seed from the module path), gathers `C`
    /// and `R`, and starts `U` at zero (or as the ablation settings say, see
    /// [`super::ablation`]).
    fn attach(layer: &mut AdaptedLinear, ctx: &Attach<'_>) -> Result<(Self, Option<CurSelection>)> {
        let (name, config) = (ctx.name, ctx.config);
        let shape = layer.shape();
        let device = layer.weight.val().device();
        cur::check_rank(config.rank, shape)?;
        let read = ctx.weight_read(layer, Reads::Norms);
        let seed = crate::core::rng::derive_seed(config.seed, name);
        let sel = layer
            .select_read(&read, &config.selection_config(), seed)
            .map_err(|e| crate::Error::config(format!("module {name}: {e}")))?;
        // C and R in the `[in, out]` frame of the forward pass (see `Layout`).
        let (c_idx, r_idx) = match layer.layout {
            Layout::InOut => (sel.cols.clone(), sel.rows.clone()),
            Layout::OutIn => (sel.rows.clone(), sel.cols.clone()),
        };
        let rank = config.rank;
        // C, U and R are f32 whatever the model computes in (see `core::dtype`).
        let data = |v: Vec<f32>, dims: [usize; 2]| {
            Tensor::<2>::from_data(TensorData::new(v, dims), crate::core::dtype::F32(&device))
        };
        let (c, r) = match (config.cur_source, read.host()) {
            // The ablation: Gaussians with the norms of the columns and rows they replace.
            (CurSource::Gaussian, _) => {
                let (c_sq, r_sq) = replaced_sq_norms(&read, &sel, layer.layout);
                let c = ablation::gaussian_like(shape[0] * rank, c_sq.sqrt(), seed, name, "c");
                let r = ablation::gaussian_like(rank * shape[1], r_sq.sqrt(), seed, name, "r");
                (data(c, [shape[0], rank]), data(r, [rank, shape[1]]))
            }
            (CurSource::Weights, Some(w)) => {
                let (c, r) = cur::gather(w, shape, &c_idx, &r_idx);
                (data(c, [shape[0], rank]), data(r, [rank, shape[1]]))
            }
            // Gathered where W lives: nothing of W crosses to the host.
            (CurSource::Weights, None) => {
                let index = |i: &[usize]| {
                    let i: Vec<i64> = i.iter().map(|&i| i as i64).collect();
                    Tensor::<1, Int>::from_data(TensorData::new(i, [rank]), &device)
                };
                let w = layer.weight.val().detach();
                let c = w.clone().select(1, index(&c_idx)).cast(FloatDType::F32);
                let r = w.select(0, index(&r_idx)).cast(FloatDType::F32);
                (c, r)
            }
        };
        let u = data(config.u_init.values(rank, seed, name), [rank, rank]);
        let adapter = CurLora {
            c,
            u: Param::from_tensor(u),
            r,
            alpha: config.alpha,
            cols: sel.cols.clone(),
            rows: sel.rows.clone(),
            path: Default::default(),
        };
        Ok((adapter, Some(sel)))
    }
}

impl Adapter for CurLora {
    fn add_to(&self, base: Tensor<2>, x: Tensor<2>) -> Tensor<2> {
        CurLora::add_to(self, base, x)
    }

    fn delta_weight(&self) -> Option<Tensor<2>> {
        let dw = self.c.clone().matmul(self.u.val()).matmul(self.r.clone());
        Some(dw.mul_scalar(self.alpha))
    }

    /// `P = C·U`, `Q = R`, scale α: rank r, exactly the update (PEFT's LoRA of rank r).
    fn low_rank(&self) -> Option<LowRank> {
        let c = crate::core::dtype::to_f32(self.c.clone());
        Some(LowRank {
            p: c.matmul(self.u.val()),
            q: crate::core::dtype::to_f32(self.r.clone()),
            scale: self.alpha,
        })
    }

    fn trainable_params(&self) -> usize {
        CurLora::trainable_params(self)
    }

    fn set_alpha(&mut self, alpha: f64, _config: &AdapterConfig) {
        self.alpha = alpha;
    }

    fn snapshot(&self) -> Option<Snapshot> {
        Some(Snapshot::Matrix(self.u.val()))
    }

    fn tensors(&self) -> Vec<(String, &Param<Tensor<2>>)> {
        vec![("u".into(), &self.u)]
    }

    fn tensors_mut(&mut self) -> Vec<(String, &mut Param<Tensor<2>>)> {
        vec![("u".into(), &mut self.u)]
    }

    fn indices(&self) -> Option<(&[usize], &[usize])> {
        Some((&self.cols, &self.rows))
    }
}

/// `‖C‖²` and `‖R‖²` (forward frame) of the `W` columns and rows a selection picked, from what
/// was read of `W`: the Gaussian ablation keeps these sizes.
fn replaced_sq_norms(read: &WeightRead, sel: &CurSelection, layout: Layout) -> (f64, f64) {
    let total: f64 = match read {
        WeightRead::Host(w) => w.iter().map(|v| f64::from(*v).powi(2)).sum(),
        WeightRead::Norms { rows, .. } => rows.iter().sum(),
    };
    let c: f64 = sel.cols.iter().map(|&j| sel.col_energy[j]).sum::<f64>() * total;
    let r: f64 = sel.rows.iter().map(|&i| sel.row_energy[i]).sum::<f64>() * total;
    match layout {
        Layout::InOut => (c, r),
        // The forward pass's C holds the checkpoint's rows, its R the columns.
        Layout::OutIn => (r, c),
    }
}
