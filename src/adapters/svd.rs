//! The SVD-initialised LoRA family (PiSSA, MiLoRA): a LoRA whose factors start as `r` singular
//! components of `W` and whose frozen base becomes the residual, so the adapted model starts
//! exactly equal to the base. Written once here; each method is its own file that picks which
//! components.
//!
//! In the forward frame `[in, out]`, with `W = U·Σ·Vᵀ` and the chosen components `i ∈ I`:
//! `A = U_I·(Σ_I/s)^½` (`[in, r]`), `B = (Σ_I/s)^½·V_Iᵀ` (`[r, out]`), `W_res = W − s·A·B =
//! W − U_I·Σ_I·V_Iᵀ`, where `s` is LoRA's output scale (α, or α/r with PEFT scaling). Dividing
//! Σ by `s` is PEFT's own PiSSA initialisation, so `s` does not change the starting point. The
//! SVD is burn's (`burn::linalg::svd`: Householder bidiagonalisation and implicit QR, on the
//! host, deterministic and the same on every device), in f64.

use super::AdapterConfig;
use super::adapter::Attach;
use super::cur;
use super::linear::AdaptedLinear;
use super::lora::Lora;
use super::weight_read::Reads;
use crate::core::error::{Error, Result};
use burn::module::Param;
use burn::tensor::{Device, FloatDType, Tensor, TensorData};
use std::sync::{Arc, Mutex};

/// QR sweeps allowed per singular value before the SVD gives up (LAPACK uses 6; this is slack).
const SWEEPS: usize = 64;

/// Which singular components start the adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Components {
    /// The `r` largest (PiSSA): the adapter starts on the directions `W` uses most.
    Principal,
    /// The `r` smallest (MiLoRA): the adapter starts on the directions `W` barely uses.
    Minor,
}

/// The reduced SVD of a row-major `[n, m]` matrix in f64: `(U [n, k], σ [k], Vᵀ [k, m])`,
/// `k = min(n, m)`, σ descending.
pub fn svd(w: &[f32], [n, m]: [usize; 2]) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    if w.len() != n * m || n == 0 || m == 0 {
        return Err(Error::config(format!(
            "SVD: {} values do not make a {n}×{m} matrix",
            w.len()
        )));
    }
    if w.iter().any(|v| !v.is_finite()) {
        return Err(Error::Numeric(
            "weight contains NaN or infinite values".into(),
        ));
    }
    let t = Tensor::<2>::from_data(TensorData::new(w.to_vec(), [n, m]), &Device::flex())
        .cast(FloatDType::F64);
    let (u, s, vt) = burn::linalg::svd::<2, 1>(t, SWEEPS);
    let host = |t: TensorData| {
        t.convert::<f64>()
            .try_into_vec::<f64>()
            .expect("f64 factors")
    };
    Ok((
        host(u.into_data()),
        host(s.into_data()),
        host(vt.into_data()),
    ))
}

/// The chosen `r` singular components of one matrix: `u [in, r]`, `σ [r]`, `vᵀ [r, out]`.
struct Parts {
    u: Vec<f64>,
    sigma: Vec<f64>,
    vt: Vec<f64>,
}

/// Components already computed in this process, by (SHA-256 of `W`'s bytes, shape, rank,
/// which): a grid over seeds (and the two methods' reloads) runs each SVD once. Only the `r`
/// chosen components are kept, so the cache is as small as the adapters.
type Cache = std::collections::HashMap<([u8; 32], [usize; 2], usize, Components), Arc<Parts>>;
static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

fn components(w: &[f32], shape: [usize; 2], rank: usize, which: Components) -> Result<Arc<Parts>> {
    use sha2::{Digest, Sha256};
    let digest: [u8; 32] = Sha256::digest(bytemuck::cast_slice::<f32, u8>(w)).into();
    let key = (digest, shape, rank, which);
    if let Some(p) = CACHE
        .lock()
        .ok()
        .and_then(|c| c.as_ref()?.get(&key).cloned())
    {
        return Ok(p);
    }
    let [n_in, n_out] = shape;
    let (u, s, vt) = svd(w, shape)?;
    let k = s.len();
    let picked: Vec<usize> = match which {
        Components::Principal => (0..rank).collect(),
        Components::Minor => (k - rank..k).collect(),
    };
    let parts = Arc::new(Parts {
        u: (0..n_in * rank)
            .map(|x| u[(x / rank) * k + picked[x % rank]])
            .collect(),
        sigma: picked.iter().map(|&i| s[i]).collect(),
        vt: picked
            .iter()
            .flat_map(|&i| vt[i * n_out..(i + 1) * n_out].iter().copied())
            .collect(),
    });
    if let Ok(mut c) = CACHE.lock() {
        c.get_or_insert_with(Default::default)
            .insert(key, parts.clone());
    }
    Ok(parts)
}

/// `A [in, r]`, `B [r, out]` and the residual `W − s·A·B` (`[in, out]`), all row-major f32, for
/// the chosen components of `w` (row-major `[in, out]`) at output scale `scale`.
pub fn factors(
    w: &[f32],
    [n_in, n_out]: [usize; 2],
    rank: usize,
    which: Components,
    scale: f64,
) -> Result<(Vec<f32>, Vec<f32>, Vec<f32>)> {
    cur::check_rank(rank, [n_in, n_out])?;
    if scale == 0.0 || !scale.is_finite() {
        return Err(Error::config(format!(
            "an SVD-initialised adapter needs a finite, non-zero scale (α), got {scale}"
        )));
    }
    let parts = components(w, [n_in, n_out], rank, which)?;
    let mut a = vec![0f64; n_in * rank];
    let mut b = vec![0f64; rank * n_out];
    for c in 0..rank {
        // s·A·B = σ_c·u_c·v_cᵀ for either sign of s: the sign goes into A.
        let root = (parts.sigma[c] / scale.abs()).sqrt();
        for row in 0..n_in {
            a[row * rank + c] = parts.u[row * rank + c] * root * scale.signum();
        }
        for col in 0..n_out {
            b[c * n_out + col] = parts.vt[c * n_out + col] * root;
        }
    }
    // W_res = W − s·A·B, accumulated in f64.
    let mut res: Vec<f64> = w.iter().map(|&v| f64::from(v)).collect();
    for row in 0..n_in {
        for c in 0..rank {
            let av = scale * a[row * rank + c];
            if av == 0.0 {
                continue;
            }
            let out = &mut res[row * n_out..(row + 1) * n_out];
            for (o, bv) in out.iter_mut().zip(&b[c * n_out..(c + 1) * n_out]) {
                *o -= av * bv;
            }
        }
    }
    let f32s = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
    Ok((f32s(a), f32s(b), f32s(res)))
}

/// Attaches an SVD-initialised LoRA to `layer`: reads all of `W`, replaces it with the frozen
/// residual, and returns the trainable factors as a [`Lora`].
pub fn attach(layer: &mut AdaptedLinear, ctx: &Attach<'_>, which: Components) -> Result<Lora> {
    let config: &AdapterConfig = ctx.config;
    let shape = layer.shape();
    let device = layer.weight.val().device();
    let rank = config.rank;
    let scale = config.lora_scaling.factor(config.alpha, rank);
    let read = ctx.weight_read(layer, Reads::Whole);
    let w = read.host().expect("a whole read is on the host");
    let (a, b, res) = factors(w, shape, rank, which, scale)
        .map_err(|e| Error::config(format!("module {}: {e}", ctx.name)))?;
    // The residual stays in the model's float type; A and B train, so they are f32.
    let res = Tensor::<2>::from_data(TensorData::new(res, shape), &device);
    layer.weight = Param::from_tensor(res).set_require_grad(false);
    let tensor = |v: Vec<f32>, dims: [usize; 2]| {
        Tensor::<2>::from_data(TensorData::new(v, dims), crate::core::dtype::F32(&device))
    };
    Ok(Lora {
        a: Param::from_tensor(tensor(a, [shape[0], rank])),
        b: Param::from_tensor(tensor(b, [rank, shape[1]])),
        scale,
    })
}

/// The [`Adapter`](super::Adapter) of a method that is a [`Lora`] in a field `lora` once
/// attached (only its start differs from LoRA's): every call goes to the factors.
macro_rules! adapter_via_lora {
    ($t:ty) => {
        impl $crate::adapters::Adapter for $t {
            fn add_to(
                &self,
                base: burn::tensor::Tensor<2>,
                x: burn::tensor::Tensor<2>,
            ) -> burn::tensor::Tensor<2> {
                $crate::adapters::Adapter::add_to(&self.lora, base, x)
            }
            fn delta_weight(&self) -> Option<burn::tensor::Tensor<2>> {
                $crate::adapters::Adapter::delta_weight(&self.lora)
            }
            fn trainable_params(&self) -> usize {
                $crate::adapters::Adapter::trainable_params(&self.lora)
            }
            fn low_rank(&self) -> Option<$crate::adapters::LowRank> {
                $crate::adapters::Adapter::low_rank(&self.lora)
            }
            fn replaces_base(&self) -> bool {
                true
            }
            fn set_alpha(&mut self, alpha: f64, config: &$crate::adapters::AdapterConfig) {
                $crate::adapters::Adapter::set_alpha(&mut self.lora, alpha, config)
            }
            fn snapshot(&self) -> Option<$crate::adapters::Snapshot> {
                $crate::adapters::Adapter::snapshot(&self.lora)
            }
            fn tensors(&self) -> Vec<(String, &burn::module::Param<burn::tensor::Tensor<2>>)> {
                $crate::adapters::Adapter::tensors(&self.lora)
            }
            fn tensors_mut(
                &mut self,
            ) -> Vec<(String, &mut burn::module::Param<burn::tensor::Tensor<2>>)> {
                $crate::adapters::Adapter::tensors_mut(&mut self.lora)
            }
        }
    };
}

/// Declares an SVD-initialised method: its type (a [`Lora`] in the field `lora`), its
/// [`Kind`](super::Kind) (names, help, `Reads::Whole`, which components start the adapter) and
/// its [`Adapter`](super::Adapter) (LoRA's). Each method's file is its header and one call.
macro_rules! svd_method {
    ($t:ident, $name:literal, $label:literal, $help:literal, $which:expr) => {
        #[derive(burn::module::Module, Debug)]
        pub struct $t {
            /// The factors (`A [in, r]`, `B [r, out]`, both trained) and the output scale.
            pub lora: $crate::adapters::lora::Lora,
        }

        impl $crate::adapters::Kind for $t {
            const NAME: &'static str = $name;
            const LABEL: &'static str = $label;
            const HELP: &'static str = $help;
            const READS: $crate::adapters::Reads = $crate::adapters::Reads::Whole;
            const SETTINGS: &'static [&'static str] = &["lora_scaling"];

            /// `r·(in + out)`, as LoRA.
            fn trainable_params(rank: usize, [n_in, n_out]: [usize; 2], _bias: bool) -> usize {
                rank * (n_in + n_out)
            }

            fn attach(
                layer: &mut $crate::adapters::AdaptedLinear,
                ctx: &$crate::adapters::Attach<'_>,
            ) -> $crate::Result<(Self, Option<$crate::adapters::CurSelection>)> {
                let lora = $crate::adapters::svd::attach(layer, ctx, $which)?;
                Ok(($t { lora }, None))
            }
        }

        $crate::adapters::svd::adapter_via_lora!($t);
    };
}
pub(crate) use adapter_via_lora;
pub(crate) use svd_method;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::rng::Rng;

    /// `k` orthonormal columns of length `n` (Gram–Schmidt on seeded normals), row-major `[n, k]`.
    fn orthonormal(n: usize, k: usize, rng: &mut Rng) -> Vec<f64> {
        let mut cols: Vec<Vec<f64>> = Vec::new();
        while cols.len() < k {
            let mut v: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
            for c in &cols {
                let d: f64 = v.iter().zip(c).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(c).for_each(|(a, b)| *a -= d * b);
            }
            let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
            v.iter_mut().for_each(|a| *a /= norm);
            cols.push(v);
        }
        (0..n * k).map(|i| cols[i % k][i / k]).collect()
    }

    /// A `[n, m]` matrix with known singular values: `Σ_i σ_i·q_i·p_iᵀ` over the given `idx`.
    fn part(q: &[f64], p: &[f64], sigma: &[f64], [n, m]: [usize; 2], idx: &[usize]) -> Vec<f64> {
        let k = sigma.len();
        let mut w = vec![0f64; n * m];
        for &i in idx {
            for r in 0..n {
                for c in 0..m {
                    w[r * m + c] += sigma[i] * q[r * k + i] * p[c * k + i];
                }
            }
        }
        w
    }

    /// On a matrix built from known singular components, PiSSA's `s·A·B` is exactly the top
    /// ones and MiLoRA's the bottom ones, for a positive and a negative scale; the residual is
    /// the rest.
    #[test]
    fn factors_are_the_chosen_singular_components() {
        let mut rng = Rng::new(21);
        let (n, m) = (6usize, 9usize);
        let sigma = [5.0, 4.0, 3.0, 2.0, 1.0, 0.5];
        let (q, p) = (orthonormal(n, 6, &mut rng), orthonormal(m, 6, &mut rng));
        let all: Vec<usize> = (0..6).collect();
        let w = part(&q, &p, &sigma, [n, m], &all);
        let w32: Vec<f32> = w.iter().map(|&x| x as f32).collect();
        let (_, s, _) = svd(&w32, [n, m]).unwrap();
        for (got, want) in s.iter().zip(sigma) {
            assert!((got - want).abs() < 1e-5, "σ {got} vs {want}");
        }
        for (which, idx) in [(Components::Principal, [0, 1]), (Components::Minor, [4, 5])] {
            for scale in [1.0, -2.5] {
                let (a, b, res) = factors(&w32, [n, m], 2, which, scale).unwrap();
                let want = part(&q, &p, &sigma, [n, m], &idx);
                for r in 0..n {
                    for c in 0..m {
                        let ab: f64 = (0..2)
                            .map(|j| f64::from(a[r * 2 + j]) * f64::from(b[j * m + c]))
                            .sum();
                        let (got, want) = (scale * ab, want[r * m + c]);
                        assert!(
                            (got - want).abs() < 1e-5,
                            "{which:?} s={scale}: {got} vs {want}"
                        );
                        let rest = w[r * m + c] - want;
                        assert!((f64::from(res[r * m + c]) - rest).abs() < 1e-5);
                    }
                }
            }
        }
        let e = factors(&w32, [n, m], 2, Components::Principal, 0.0).unwrap_err();
        assert!(e.to_string().contains("non-zero scale"), "{e}");
        assert!(factors(&w32, [n, m], 7, Components::Minor, 1.0).is_err());
    }
}
