//! MiLoRA (Wang et al. 2024, "MiLoRA: Harnessing Minor Singular Components for
//! Parameter-Efficient LLM Finetuning", arXiv 2406.09044): a LoRA whose factors start as the
//! `r` smallest singular components of `W`, with `W` replaced by the frozen residual. It is the
//! SVD counterpart of CURLoRA's inverted (low-energy) sampling: if starting in `W`'s minor
//! subspace is what protects against forgetting, MiLoRA should keep as well. See
//! [`super::svd`].

use super::adapter::{Attach, Kind};
use super::cur::CurSelection;
use super::linear::AdaptedLinear;
use super::lora::Lora;
use super::svd::{self, Components};
use super::weight_read::Reads;
use crate::core::error::Result;
use burn::module::Module;

#[derive(Module, Debug)]
pub struct Milora {
    /// The factors (`A [in, r]`, `B [r, out]`, both trained) and the output scale.
    pub lora: Lora,
}

impl Kind for Milora {
    const NAME: &'static str = "milora";
    const LABEL: &'static str = "MiLoRA";
    const HELP: &'static str = "LoRA started on W's r smallest singular components, W → residual";
    const READS: Reads = Reads::Whole;

    /// `r·(in + out)`, as LoRA.
    fn trainable_params(rank: usize, [n_in, n_out]: [usize; 2], _bias: bool) -> usize {
        rank * (n_in + n_out)
    }

    fn attach(layer: &mut AdaptedLinear, ctx: &Attach<'_>) -> Result<(Self, Option<CurSelection>)> {
        let lora = svd::attach(layer, ctx, Components::Minor)?;
        Ok((Milora { lora }, None))
    }
}

svd::adapter_via_lora!(Milora);
