//! A linear layer `y = x·W + b` (`W: [in, out]`) that carries one adapter of any registered
//! method ([`AnyAdapter`]): CURLoRA, LoRA, or none (frozen, or fully trainable for a full
//! fine-tune).
//!
//! `W` is always held `[in, out]` for the forward pass. Checkpoints store it either way round
//! (GPT-2's `Conv1D` as `[in, out]`, `nn.Linear` as `[out, in]`), and CUR selection follows the
//! checkpoint's own orientation, as the reference code does: see [`Layout`].

use super::adapter::Attach;
use super::cur::{self, CurSelection};
use super::methods::Registered;
use super::{AdapterConfig, AnyAdapter, Frozen, Method, WeightRead};
use crate::core::dtype;
use crate::core::error::Result;
use burn::module::{Module, Param};
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// How the checkpoint stores a weight, which decides what CUR calls a column and a row.
///
/// * `InOut` (GPT-2 `Conv1D`, `W: [in, out]`): columns are outputs, rows are inputs — the
///   reference's GPT-2 path.
/// * `OutIn` (`nn.Linear`, `W_hf: [out, in]`; Llama, Mistral): selection runs on `W_hf` as the
///   reference's Mistral path does, so columns are *inputs* and rows are *outputs*. With
///   `W = W_hfᵀ` held for the forward pass, the reference's `ΔW_hf = C·U_ref·R` becomes
///   `ΔW = W[:, rows]·U·W[cols, :]` with `U = U_refᵀ`: the same update, the indices of the
///   reference, and `U` stored in the `[in, out]` frame (the transpose of the reference's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    #[default]
    InOut,
    OutIn,
}

#[derive(Module, Debug)]
pub struct AdaptedLinear {
    /// `[in, out]`.
    pub weight: Param<Tensor<2>>,
    /// `[out]`; Llama-family projections have none.
    pub bias: Option<Param<Tensor<1>>>,
    /// The method's adapter ([`Frozen`] until one is attached).
    pub adapter: AnyAdapter,
    /// The checkpoint's orientation of `weight`, for CUR selection.
    #[module(skip)]
    pub layout: Layout,
}

impl AdaptedLinear {
    /// A frozen `Conv1D`-style layer (no gradient for `W` or `b`).
    pub fn frozen(weight: Tensor<2>, bias: Tensor<1>) -> Self {
        Self {
            weight: Param::from_tensor(weight).set_require_grad(false),
            bias: Some(Param::from_tensor(bias).set_require_grad(false)),
            adapter: AnyAdapter::Frozen(Frozen {}),
            layout: Layout::InOut,
        }
    }

    /// A frozen `nn.Linear` layer: `weight_t` is `W_hfᵀ` (`[in, out]`), `bias` optional.
    pub fn frozen_linear(weight_t: Tensor<2>, bias: Option<Tensor<1>>) -> Self {
        Self {
            weight: Param::from_tensor(weight_t).set_require_grad(false),
            bias: bias.map(|b| Param::from_tensor(b).set_require_grad(false)),
            adapter: AnyAdapter::Frozen(Frozen {}),
            layout: Layout::OutIn,
        }
    }

    fn add_bias(&self, y: Tensor<2>) -> Tensor<2> {
        match &self.bias {
            Some(b) => y.add(b.val().unsqueeze::<2>()),
            None => y,
        }
    }

    /// `[in, out]`.
    pub fn shape(&self) -> [usize; 2] {
        self.weight.shape().dims::<2>()
    }

    /// `x: [N, in]` → `[N, out]`.
    ///
    /// In f16 the adapter's update is computed in f32 (its tensors are f32) and added in f32,
    /// then narrowed back: an update of U's first steps is far below f16's resolution of `x·W`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let base = self.add_bias(x.clone().matmul(self.weight.val()));
        let adapter = self.adapter.get();
        let dtype = x.dtype();
        if dtype == burn::tensor::DType::F32 || adapter.tensors().is_empty() {
            return adapter.add_to(base, x);
        }
        let out = adapter.add_to(dtype::to_f32(base), dtype::to_f32(x));
        dtype::to(out, dtype)
    }

    /// Forward with the dense update `x·(W + α·C·U·R) + b` (or `W + s·A·B`): the plain
    /// reference path the factorized one is tested against, and the "materialized" baseline
    /// of the benchmarks (the reference code's way).
    pub fn forward_materialized(&self, x: Tensor<2>) -> Tensor<2> {
        let mut w = self.weight.val();
        if let Some(dw) = self.adapter.get().delta_weight() {
            let dtype = w.dtype();
            w = w.add(dtype::to(dw, dtype));
        }
        self.add_bias(x.matmul(w))
    }

    /// Host copy of `W` (row-major `[in, out]`).
    pub fn weight_host(&self) -> Vec<f32> {
        self.weight
            .val()
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("f32 weight")
    }

    /// Attaches the adapter described by `config` (replacing any previous one) and returns the
    /// CUR selection when the method draws one. `name` is the module path, from which the
    /// per-module seed is derived.
    pub fn attach(
        self,
        name: &str,
        config: &AdapterConfig,
    ) -> Result<(Self, Option<CurSelection>)> {
        self.attach_with(name, config, None)
    }

    /// [`attach`](Self::attach) with what the method reads of `W` already read
    /// ([`WeightRead::read`]), so that nothing is read back synchronously (WebGPU cannot).
    pub fn attach_with(
        mut self,
        name: &str,
        config: &AdapterConfig,
        host: Option<&WeightRead>,
    ) -> Result<(Self, Option<CurSelection>)> {
        let sel = self.attach_method(config.method, name, config, host)?;
        Ok((self, sel))
    }

    /// Attaches `method` (which may differ from `config.method`: untargeted modules get
    /// [`Method::Frozen`]) in place: sets whether `W` and `b` train, then lets the method build
    /// its adapter.
    pub fn attach_method(
        &mut self,
        method: Method,
        name: &str,
        config: &AdapterConfig,
        host: Option<&WeightRead>,
    ) -> Result<Option<CurSelection>> {
        let trains = method.trains_base();
        self.weight = self.weight.clone().set_require_grad(trains);
        self.bias = self.bias.take().map(|b| b.set_require_grad(trains));
        self.adapter = AnyAdapter::Frozen(Frozen {});
        let ctx = Attach { name, config, host };
        let (adapter, sel) = method.attach_to(self, &ctx)?;
        self.adapter = adapter;
        Ok(sel)
    }

    /// The adapter as its own type, if it is one (`layer.adapter_as::<CurLora>()`).
    pub fn adapter_as<K: Registered>(&self) -> Option<&K> {
        K::from_any(&self.adapter)
    }

    /// [`adapter_as`](Self::adapter_as), mutably.
    pub fn adapter_as_mut<K: Registered>(&mut self) -> Option<&mut K> {
        K::from_any_mut(&mut self.adapter)
    }

    /// Draws a CUR selection for this layer's weight, in the checkpoint's orientation (see
    /// [`Layout`]): exactly what attaching a CURLoRA adapter with this seed draws.
    pub fn select(&self, config: &cur::SelectionConfig, seed: u64) -> Result<CurSelection> {
        self.select_on(&self.weight_host(), config, seed)
    }

    /// [`select`](Self::select) on a host copy `w` of the weight.
    pub fn select_on(
        &self,
        w: &[f32],
        config: &cur::SelectionConfig,
        seed: u64,
    ) -> Result<CurSelection> {
        let shape = self.shape();
        match self.layout {
            Layout::InOut => cur::select(w, shape, config, seed),
            // Select on W_hf = Wᵀ (`[out, in]`).
            Layout::OutIn => cur::select(&transpose(w, shape), [shape[1], shape[0]], config, seed),
        }
    }

    /// [`select`](Self::select) on what was read of the weight: the host copy, or the squared
    /// norms computed on the device (the same draw, up to the device's f32 summation order).
    pub fn select_read(
        &self,
        read: &WeightRead,
        config: &cur::SelectionConfig,
        seed: u64,
    ) -> Result<CurSelection> {
        let (cols, rows) = match read {
            WeightRead::Host(w) => return self.select_on(w, config, seed),
            WeightRead::Norms { cols, rows } => (cols.clone(), rows.clone()),
        };
        let [n_in, n_out] = self.shape();
        match self.layout {
            Layout::InOut => cur::select_from_sq_norms(cols, rows, [n_in, n_out], config, seed),
            // Wᵀ's columns are W's rows.
            Layout::OutIn => cur::select_from_sq_norms(rows, cols, [n_out, n_in], config, seed),
        }
    }

    /// Parameters this layer trains under its current adapter (`W` and `b` too when the
    /// method trains the base weights).
    pub fn trainable_params(&self) -> usize {
        let own = if self.adapter.method().trains_base() {
            let [n_in, n_out] = self.shape();
            n_in * n_out + if self.bias.is_some() { n_out } else { 0 }
        } else {
            0
        };
        own + self.adapter.get().trainable_params()
    }
}

/// Row-major `[rows, cols]` → `[cols, rows]`.
pub fn transpose(w: &[f32], shape: [usize; 2]) -> Vec<f32> {
    let [n, m] = shape;
    let mut out = vec![0f32; w.len()];
    for i in 0..n {
        for j in 0..m {
            out[j * n + i] = w[i * m + j];
        }
    }
    out
}
