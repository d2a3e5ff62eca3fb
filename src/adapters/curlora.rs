//! The CURLoRA adapter (Fawi 2024, arXiv 2408.14572): `ΔW = α·C·U·R` with `C`, `R` taken
//! from the frozen weight itself and `U` (`r×r`, zero at start) the only trained tensor.
//!
//! The forward pass is `α·((x·C)·U)·R`: three thin matmuls of cost `O(N·r·(in+out) + N·r²)`.
//! `C·U·R` (an `in×out` matrix) is never formed, neither forward nor backward — the reference
//! code rebuilds it on every call (kept here only as the benchmarks' `materialize` baseline). Because `C` and `R` are plain tensors (module constants,
//! not parameters), autodiff produces a gradient for `U` only:
//! `∂L/∂U = α·(x·C)ᵀ·G·Rᵀ` where `G = ∂L/∂y`.

use burn::module::{Module, Param};
use burn::tensor::Tensor;

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
    /// Form `C·U·R` (`in×out`) on every call and multiply by it, as the reference code does.
    /// Same result, far more work: kept only as the benchmarks' baseline.
    #[module(skip)]
    pub materialize: bool,
}

impl CurLora {
    /// The adapter's contribution for a `[N, in]` input: `[N, out]`.
    pub fn delta(&self, x: Tensor<2>) -> Tensor<2> {
        if self.materialize {
            let dw = self.c.clone().matmul(self.u.val()).matmul(self.r.clone());
            return x.matmul(dw).mul_scalar(self.alpha);
        }
        x.matmul(self.c.clone())
            .matmul(self.u.val())
            .matmul(self.r.clone())
            .mul_scalar(self.alpha)
    }

    pub fn rank(&self) -> usize {
        self.cols.len()
    }

    /// Trainable parameters: `r²`.
    pub fn trainable_params(&self) -> usize {
        self.rank() * self.rank()
    }
}
