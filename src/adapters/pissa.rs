//! PiSSA (Meng, Wang & Zhang 2024, "PiSSA: Principal Singular Values and Singular Vectors
//! Adaptation of Large Language Models", arXiv 2404.02948): a LoRA whose factors start as the
//! `r` largest singular components of `W`, with `W` replaced by the frozen residual. The
//! adapter trains the directions `W` uses most: the opposite bet to CURLoRA's low-energy
//! columns, and the baseline that says whether "minor" matters. See [`super::svd`].

use super::adapter::{Attach, Kind};
use super::cur::CurSelection;
use super::linear::AdaptedLinear;
use super::lora::Lora;
use super::svd::{self, Components};
use super::weight_read::Reads;
use crate::core::error::Result;
use burn::module::Module;

#[derive(Module, Debug)]
pub struct Pissa {
    /// The factors (`A [in, r]`, `B [r, out]`, both trained) and the output scale.
    pub lora: Lora,
}

impl Kind for Pissa {
    const NAME: &'static str = "pissa";
    const LABEL: &'static str = "PiSSA";
    const HELP: &'static str = "LoRA started on W's r largest singular components, W → residual";
    const READS: Reads = Reads::Whole;

    /// `r·(in + out)`, as LoRA.
    fn trainable_params(rank: usize, [n_in, n_out]: [usize; 2], _bias: bool) -> usize {
        rank * (n_in + n_out)
    }

    fn attach(layer: &mut AdaptedLinear, ctx: &Attach<'_>) -> Result<(Self, Option<CurSelection>)> {
        let lora = svd::attach(layer, ctx, Components::Principal)?;
        Ok((Pissa { lora }, None))
    }
}

svd::adapter_via_lora!(Pissa);
