//! The adapter abstraction: what every fine-tuning method provides, so that the layer, the
//! model, the engine, the adapter files and the views never name a method.
//!
//! A method is one type in its own file that implements two traits:
//!
//! * [`Kind`]: what is known before attaching — the CLI/URL name, the human label, whether the
//!   base weights train, the parameter count from shapes — and how to attach it to one layer;
//! * [`Adapter`]: what an attached adapter does — its forward contribution, its trained
//!   tensors (saved as `{module}.{suffix}`), α, the snapshot the views draw.
//!
//! The type is then registered with one line in [`crate::adapters`] (`register_methods!`),
//! which gives it a [`Method`](super::Method) variant and an [`AnyAdapter`](super::AnyAdapter)
//! variant (the burn module a layer holds).

use super::AdapterConfig;
use super::cur::CurSelection;
use super::linear::AdaptedLinear;
use super::weight_read::{Reads, WeightRead};
use crate::core::error::Result;
use burn::module::{Module, Param};
use burn::tensor::Tensor;
use std::borrow::Cow;

/// What [`Kind::attach`] gets besides the layer.
pub struct Attach<'a> {
    /// Module path (e.g. `h.0.attn.c_attn`), from which per-module seeds are derived.
    pub name: &'a str,
    /// The whole adapter configuration (rank, α, seed, selection and scaling settings).
    pub config: &'a AdapterConfig,
    /// What attaching reads of `W` (see [`WeightRead`]), when the caller read it
    /// asynchronously; `None` reads it synchronously if the method needs it.
    pub host: Option<&'a WeightRead>,
}

impl<'a> Attach<'a> {
    /// What a method that `reads` gets of `layer`'s weight: the read given (borrowed, never
    /// copied: it can be a whole 4096×4096 matrix), or a synchronous one.
    pub fn weight_read(&self, layer: &AdaptedLinear, reads: Reads) -> Cow<'a, WeightRead> {
        match self.host {
            Some(w) if reads != Reads::Whole || w.host().is_some() => Cow::Borrowed(w),
            _ => Cow::Owned(WeightRead::read_sync(layer.weight.val(), reads)),
        }
    }
}

/// What the views are shown of an adapter's current state.
pub enum Snapshot {
    /// A small matrix the views draw as a heatmap (CURLoRA's `U`, `[r, r]`); its Frobenius
    /// norm is computed from the values.
    Matrix(Tensor<2>),
    /// Only a norm, `[1]` (e.g. LoRA's `‖s·A·B‖`, whose matrix is `in×out`).
    Norm(Tensor<1>),
}

/// An update in factored form, `ΔW = scale·P·Q` (see [`Adapter::low_rank`]).
pub struct LowRank {
    /// `[in, k]`.
    pub p: Tensor<2>,
    /// `[k, out]`.
    pub q: Tensor<2>,
    pub scale: f64,
}

/// A method as a type: its static description and how it attaches to one layer.
pub trait Kind: Adapter + Module + Sized {
    /// The name in the CLI, URLs, experiment files and events (`curlora`); never change one.
    const NAME: &'static str;
    /// The name people read (`CURLoRA`).
    const LABEL: &'static str;
    /// One line for `--help`.
    const HELP: &'static str;
    /// Whether every base weight trains (a full fine-tune): the model's embeddings and norms
    /// train too, and the adapter file carries all weights (`full.*`).
    const TRAINS_BASE: bool = false;
    /// Whether the rank applies (run labels `curlora-8`, one run per rank in a grid).
    const RANKED: bool = true;
    /// What attaching reads of `W` (CUR: its norms; an SVD: all of it), so that callers read
    /// the targeted weights asynchronously first.
    const READS: Reads = Reads::Nothing;
    /// Which of [`AdapterConfig`](super::AdapterConfig)'s method settings this method reads
    /// (`"selection_mode"`, `"lora_scaling"`, …), by field name, so that a study varies a
    /// setting only for the methods it changes instead of repeating identical runs.
    const SETTINGS: &'static [&'static str] = &[];

    /// Trainable parameters on one `[in, out]` matrix (`bias`: whether the layer has one), from
    /// the shape alone.
    fn trainable_params(rank: usize, shape: [usize; 2], bias: bool) -> usize;

    /// Builds the adapter for `layer`. The layer's weight and bias already have their
    /// `require_grad` set from [`TRAINS_BASE`](Self::TRAINS_BASE); a method may also replace
    /// the base weight here (e.g. with a frozen residual). Returns the CUR selection for methods
    /// that draw one (shown by the views and stored in the adapter file).
    fn attach(layer: &mut AdaptedLinear, ctx: &Attach<'_>) -> Result<(Self, Option<CurSelection>)>;
}

/// What an attached adapter does. Every method has a default that means "nothing here", so a
/// method only writes what it has.
pub trait Adapter {
    /// The adapted output from the base output `base = x·W + b` and the input `x` (`[N, in]`).
    fn add_to(&self, base: Tensor<2>, x: Tensor<2>) -> Tensor<2> {
        let _ = x;
        base
    }

    /// The dense update `ΔW` (`[in, out]`), for the materialized reference path.
    fn delta_weight(&self) -> Option<Tensor<2>> {
        None
    }

    /// The update as exact low-rank factors `ΔW = s·P·Q` (`P: [in, k]`, `Q: [k, out]`) on this
    /// layer's *current* base weight, for an export to PEFT's LoRA format. `None` where the
    /// method has no such form (a full fine-tune) or rides on a base it replaced (PiSSA's
    /// residual): those leave the tool through a merged model instead.
    fn low_rank(&self) -> Option<LowRank> {
        None
    }

    /// Whether attaching replaced the layer's weight by a residual `W − s·P₀·Q₀` (PiSSA,
    /// MiLoRA): then [`low_rank`](Self::low_rank) is relative to that residual, and the update
    /// of the original weight is `s·(P·Q − P₀·Q₀)`, with `P₀`, `Q₀` what attaching drew.
    fn replaces_base(&self) -> bool {
        false
    }

    /// Parameters this adapter trains (not counting a trained base weight).
    fn trainable_params(&self) -> usize {
        0
    }

    /// Applies a new α mid-run (the config gives the scaling rules).
    fn set_alpha(&mut self, alpha: f64, config: &AdapterConfig) {
        let _ = (alpha, config);
    }

    /// What the views show of this adapter now, if anything.
    fn snapshot(&self) -> Option<Snapshot> {
        None
    }

    /// The trained tensors with the suffix they are saved under (`{module}.{suffix}`), in a
    /// fixed order. Loading reads each back with the shape it has after attaching.
    fn tensors(&self) -> Vec<(String, &Param<Tensor<2>>)> {
        Vec::new()
    }

    /// [`tensors`](Self::tensors), mutably and in the same order (adapter loading).
    fn tensors_mut(&mut self) -> Vec<(String, &mut Param<Tensor<2>>)> {
        Vec::new()
    }

    /// The selected `(cols, rows)` stored in the adapter file's metadata, for methods that
    /// select them.
    fn indices(&self) -> Option<(&[usize], &[usize])> {
        None
    }

    /// A term this adapter adds to the training loss (e.g. an orthogonality penalty between
    /// task adapters). No method has one yet; the hook is [`LanguageModel::adapter_loss`].
    ///
    /// [`LanguageModel::adapter_loss`]: crate::model::LanguageModel::adapter_loss
    fn loss(&self) -> Option<Tensor<1>> {
        None
    }

    /// Called when a new task starts (e.g. to start a fresh stack per task). No method uses it
    /// yet; the hook is [`LanguageModel::start_task`].
    ///
    /// [`LanguageModel::start_task`]: crate::model::LanguageModel::start_task
    fn start_task(&mut self, task: usize) {
        let _ = task;
    }

    /// The last task [`start_task`](Self::start_task) was called with (0 before any): saved
    /// with the adapter, so that loading replays the task starts before reading the tensors.
    fn task(&self) -> usize {
        0
    }
}
