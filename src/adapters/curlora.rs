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

use burn::module::{Module, Param};
use burn::tensor::Tensor;

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
