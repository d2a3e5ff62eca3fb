//! A linear layer `y = x·W + b` (`W: [in, out]`, GPT-2 `Conv1D` layout) that can carry one
//! adapter: CURLoRA, LoRA, or none (frozen, or fully trainable for a full fine-tune).

use super::cur::{self, CurSelection};
use super::curlora::CurLora;
use super::lora::Lora;
use super::{AdapterConfig, Method};
use crate::error::Result;
use crate::rng::Rng;
use burn::module::{Module, Param};
use burn::tensor::{Tensor, TensorData};

#[derive(Module, Debug)]
pub struct AdaptedLinear {
    /// `[in, out]`.
    pub weight: Param<Tensor<2>>,
    /// `[out]`.
    pub bias: Param<Tensor<1>>,
    pub cur: Option<CurLora>,
    pub lora: Option<Lora>,
}

impl AdaptedLinear {
    /// A frozen layer (no gradient for `W` or `b`).
    pub fn frozen(weight: Tensor<2>, bias: Tensor<1>) -> Self {
        Self {
            weight: Param::from_tensor(weight).set_require_grad(false),
            bias: Param::from_tensor(bias).set_require_grad(false),
            cur: None,
            lora: None,
        }
    }

    /// `[in, out]`.
    pub fn shape(&self) -> [usize; 2] {
        self.weight.shape().dims::<2>()
    }

    /// `x: [N, in]` → `[N, out]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let base = x
            .clone()
            .matmul(self.weight.val())
            .add(self.bias.val().unsqueeze::<2>());
        match (&self.cur, &self.lora) {
            (Some(c), _) => base.add(c.delta(x)),
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
        x.matmul(w).add(self.bias.val().unsqueeze::<2>())
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
        let shape = self.shape();
        let device = self.weight.val().device();
        let mut layer = Self {
            weight: self.weight.set_require_grad(config.method == Method::Full),
            bias: self.bias.set_require_grad(config.method == Method::Full),
            cur: None,
            lora: None,
        };
        match config.method {
            Method::Full | Method::Frozen => Ok((layer, None)),
            Method::CurLora => {
                cur::check_rank(config.rank, shape)?;
                let w = layer.weight_host();
                let sel = cur::select(
                    &w,
                    shape,
                    &config.selection_config(),
                    crate::rng::derive_seed(config.seed, name),
                )
                .map_err(|e| crate::Error::config(format!("module {name}: {e}")))?;
                let (c, r) = cur::gather(&w, shape, &sel.cols, &sel.rows);
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
                    materialize: false,
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

    /// Parameters this layer trains under its current set-up.
    pub fn trainable_params(&self, full: bool) -> usize {
        let [n_in, n_out] = self.shape();
        let own = if full { n_in * n_out + n_out } else { 0 };
        own + self.cur.as_ref().map_or(0, |c| c.trainable_params())
            + self.lora.as_ref().map_or(0, |l| l.trainable_params())
    }
}
