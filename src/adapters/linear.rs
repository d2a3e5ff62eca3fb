//! A linear layer `y = x·W + b` (`W: [in, out]`) that can carry one adapter: CURLoRA, LoRA, or
//! none (frozen, or fully trainable for a full fine-tune).
//!
//! `W` is always held `[in, out]` for the forward pass. Checkpoints store it either way round
//! (GPT-2's `Conv1D` as `[in, out]`, `nn.Linear` as `[out, in]`), and CUR selection follows the
//! checkpoint's own orientation, as the reference code does: see [`Layout`].

use super::cur::{self, CurSelection};
use super::curlora::CurLora;
use super::lora::Lora;
use super::{AdapterConfig, Method};
use crate::core::error::Result;
use crate::core::rng::Rng;
use burn::module::{Module, Param};
use burn::tensor::{Tensor, TensorData};
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
    pub cur: Option<CurLora>,
    pub lora: Option<Lora>,
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
            cur: None,
            lora: None,
            layout: Layout::InOut,
        }
    }

    /// A frozen `nn.Linear` layer: `weight_t` is `W_hfᵀ` (`[in, out]`), `bias` optional.
    pub fn frozen_linear(weight_t: Tensor<2>, bias: Option<Tensor<1>>) -> Self {
        Self {
            weight: Param::from_tensor(weight_t).set_require_grad(false),
            bias: bias.map(|b| Param::from_tensor(b).set_require_grad(false)),
            cur: None,
            lora: None,
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
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let base = self.add_bias(x.clone().matmul(self.weight.val()));
        match (&self.cur, &self.lora) {
            (Some(c), _) => c.add_to(base, x),
            (None, Some(l)) => base.add(l.delta(x)),
            (None, None) => base,
        }
    }

    /// Forward with the dense update `x·(W + α·C·U·R) + b` (or `W + s·A·B`): the plain
    /// reference path the factorized one is tested against, and the "materialized" baseline
    /// of the benchmarks (the reference code's way).
    pub fn forward_materialized(&self, x: Tensor<2>) -> Tensor<2> {
        let mut w = self.weight.val();
        if let Some(c) = &self.cur {
            let dw = c.c.clone().matmul(c.u.val()).matmul(c.r.clone());
            w = w.add(dw.mul_scalar(c.alpha));
        } else if let Some(l) = &self.lora {
            w = w.add(l.a.val().matmul(l.b.val()).mul_scalar(l.scale));
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
    /// CUR selection when the method is CURLoRA. `name` is the module path, from which the
    /// per-module seed is derived.
    pub fn attach(
        self,
        name: &str,
        config: &AdapterConfig,
    ) -> Result<(Self, Option<CurSelection>)> {
        self.attach_with(name, config, None)
    }

    /// [`attach`](Self::attach) with `W` already on the host (`host`, as [`weight_host`]
    /// returns it), so that nothing is read back synchronously (WebGPU cannot).
    ///
    /// [`weight_host`]: Self::weight_host
    pub fn attach_with(
        self,
        name: &str,
        config: &AdapterConfig,
        host: Option<&[f32]>,
    ) -> Result<(Self, Option<CurSelection>)> {
        let shape = self.shape();
        let device = self.weight.val().device();
        let full = config.method == Method::Full;
        let mut layer = Self {
            weight: self.weight.set_require_grad(full),
            bias: self.bias.map(|b| b.set_require_grad(full)),
            cur: None,
            lora: None,
            layout: self.layout,
        };
        match config.method {
            Method::Full | Method::Frozen => Ok((layer, None)),
            Method::CurLora => {
                cur::check_rank(config.rank, shape)?;
                let w = match host {
                    Some(w) => w.to_vec(),
                    None => layer.weight_host(),
                };
                let seed = crate::core::rng::derive_seed(config.seed, name);
                let sel = layer
                    .select_on(&w, &config.selection_config(), seed)
                    .map_err(|e| crate::Error::config(format!("module {name}: {e}")))?;
                // C and R in the `[in, out]` frame of the forward pass (see `Layout`).
                let (c_idx, r_idx) = match layer.layout {
                    Layout::InOut => (sel.cols.clone(), sel.rows.clone()),
                    Layout::OutIn => (sel.rows.clone(), sel.cols.clone()),
                };
                let (c, r) = cur::gather(&w, shape, &c_idx, &r_idx);
                let rank = config.rank;
                let c = Tensor::<2>::from_data(TensorData::new(c, [shape[0], rank]), &device);
                let r = Tensor::<2>::from_data(TensorData::new(r, [rank, shape[1]]), &device);
                let u = Tensor::<2>::zeros([rank, rank], &device);
                layer.cur = Some(CurLora {
                    c,
                    u: Param::from_tensor(u),
                    r,
                    alpha: config.alpha,
                    cols: sel.cols.clone(),
                    rows: sel.rows.clone(),
                    path: Default::default(),
                });
                Ok((layer, Some(sel)))
            }
            Method::Lora => {
                cur::check_rank(config.rank, shape)?;
                let rank = config.rank;
                let bound = 1.0 / (rank as f64).sqrt();
                let mut rng = Rng::for_name(config.seed, &format!("lora:{name}"));
                let a: Vec<f32> = (0..shape[0] * rank)
                    .map(|_| rng.uniform(-bound, bound) as f32)
                    .collect();
                let a = Tensor::<2>::from_data(TensorData::new(a, [shape[0], rank]), &device);
                let b = Tensor::<2>::zeros([rank, shape[1]], &device);
                layer.lora = Some(Lora {
                    a: Param::from_tensor(a),
                    b: Param::from_tensor(b),
                    scale: config.lora_scaling.factor(config.alpha, rank),
                });
                Ok((layer, None))
            }
        }
    }

    /// Draws a CUR selection for this layer's weight, in the checkpoint's orientation (see
    /// [`Layout`]): exactly what attaching a CURLoRA adapter with this seed draws.
    pub fn select(&self, config: &cur::SelectionConfig, seed: u64) -> Result<CurSelection> {
        self.select_on(&self.weight_host(), config, seed)
    }

    fn select_on(
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

    /// Parameters this layer trains under its current set-up.
    pub fn trainable_params(&self, full: bool) -> usize {
        let [n_in, n_out] = self.shape();
        let bias = if self.bias.is_some() { n_out } else { 0 };
        let own = if full { n_in * n_out + bias } else { 0 };
        own + self.cur.as_ref().map_or(0, |c| c.trainable_params())
            + self.lora.as_ref().map_or(0, |l| l.trainable_params())
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
