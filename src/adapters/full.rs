//! A full fine-tune: every weight of the model trains, no adapter tensors.

use super::adapter::{Adapter, Attach, Kind};
use super::cur::CurSelection;
use super::linear::AdaptedLinear;
use crate::core::error::Result;
use burn::module::Module;

/// Nothing beside the base weights, which train.
#[derive(Module, Debug)]
pub struct Full {}

impl Kind for Full {
    const NAME: &'static str = "full";
    const LABEL: &'static str = "full fine-tune";
    const HELP: &'static str = "Every weight trained";
    const TRAINS_BASE: bool = true;
    const RANKED: bool = false;

    /// `in·out`, plus `out` with a bias.
    fn trainable_params(_rank: usize, [n_in, n_out]: [usize; 2], bias: bool) -> usize {
        n_in * n_out + if bias { n_out } else { 0 }
    }

    fn attach(layer: &mut AdaptedLinear, ctx: &Attach<'_>) -> Result<(Self, Option<CurSelection>)> {
        // Mixed precision keeps what trains in f32; here that is the model itself.
        let dtype = layer.weight.val().dtype();
        if dtype != burn::tensor::DType::F32 {
            return Err(crate::Error::config(format!(
                "module {}: a full fine-tune trains the model's own weights, which are {dtype:?} \
                 here; AdamW's small updates vanish in f16: use --dtype f32",
                ctx.name
            )));
        }
        Ok((Full {}, None))
    }
}

impl Adapter for Full {}
