//! No fine-tuning: the base model as it is. Also what every module a run does not target
//! carries.

use super::adapter::{Adapter, Attach, Kind};
use super::cur::CurSelection;
use super::linear::AdaptedLinear;
use crate::core::error::Result;
use burn::module::Module;

/// Nothing: the layer is `x·W + b` with `W` and `b` frozen.
#[derive(Module, Debug)]
pub struct Frozen {}

impl Kind for Frozen {
    const NAME: &'static str = "frozen";
    const LABEL: &'static str = "frozen";
    const HELP: &'static str = "Nothing trained (the base model)";
    const RANKED: bool = false;

    fn trainable_params(_rank: usize, _shape: [usize; 2], _bias: bool) -> usize {
        0
    }

    fn attach(_layer: &mut AdaptedLinear, _: &Attach<'_>) -> Result<(Self, Option<CurSelection>)> {
        Ok((Frozen {}, None))
    }
}

impl Adapter for Frozen {}
