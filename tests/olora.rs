//! O-LoRA: a LoRA per task, earlier ones frozen, and the orthogonality penalty
//! `λ·Σ_i ‖A_iᵀ·A_t‖²` with its gradient `2λ·Σ_i A_i·A_iᵀ·A_t`, against host arithmetic in f64.

mod common;

use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};
use common::*;
use curlora::adapters::{AdaptedLinear, AdapterConfig, Method, OLora};
use curlora::core::rng::Rng;

const N_IN: usize = 5;
const N_OUT: usize = 7;
const R: usize = 2;

fn layer(device: &Device, lambda: f64) -> AdaptedLinear {
    let mut rng = Rng::new(4);
    let w = random_tensor(&mut rng, [N_IN, N_OUT], 0.5, device);
    let b = random_tensor::<1>(&mut rng, [N_OUT], 0.5, device);
    let mut cfg = AdapterConfig::new(Method::OLora, R, 3);
    cfg.olora_lambda = lambda;
    AdaptedLinear::frozen(w, b).attach("m", &cfg).unwrap().0
}

fn values(t: Tensor<2>) -> Vec<f64> {
    to_vec(t).into_iter().map(f64::from).collect()
}

/// `[n, k]ᵀ·[n, m]` in f64, row-major.
fn at_b(a: &[f64], b: &[f64], n: usize, k: usize, m: usize) -> Vec<f64> {
    let mut out = vec![0.0; k * m];
    for i in 0..k {
        for j in 0..m {
            out[i * m + j] = (0..n).map(|t| a[t * k + i] * b[t * m + j]).sum();
        }
    }
    out
}

/// A new task freezes the current LoRA and starts a fresh one with `B = 0`, so the layer's
/// output is unchanged at the task boundary; only the new factors get gradients.
#[test]
fn a_new_task_freezes_the_old_lora_and_starts_where_it_ended() {
    let device = Device::flex().autodiff();
    let mut l = layer(&device, 0.5);
    let mut rng = Rng::new(8);
    let o = l.adapter_as_mut::<OLora>().unwrap();
    o.b = Param::from_tensor(random_tensor(&mut rng, [R, N_OUT], 0.5, &device));
    let x = random_tensor(&mut rng, [3, N_IN], 1.0, &device);
    let before = to_vec(l.forward(x.clone()));
    let (a0, b0) = {
        let o = l.adapter_as::<OLora>().unwrap();
        (to_vec(o.a.val()), to_vec(o.b.val()))
    };
    l.adapter.get_mut().start_task(1);
    let o = l.adapter_as::<OLora>().unwrap();
    assert_eq!(o.earlier_a.len(), 1);
    assert_eq!(
        (to_vec(o.earlier_a[0].val()), to_vec(o.earlier_b[0].val())),
        (a0.clone(), b0)
    );
    assert!(
        to_vec(o.b.val()).iter().all(|v| *v == 0.0),
        "the new B starts at zero"
    );
    assert_ne!(to_vec(o.a.val()), a0, "the new A is a new draw");
    assert_eq!(l.adapter.get().task(), 1);
    let after = to_vec(l.forward(x.clone()));
    assert!(
        max_abs_diff(&before, &after) < 1e-6,
        "the output jumped at the task boundary"
    );
    // Only the current factors train.
    let grads = l.forward(x).sum().backward();
    let o = l.adapter_as::<OLora>().unwrap();
    assert!(o.earlier_a[0].val().grad(&grads).is_none());
    assert!(o.earlier_b[0].val().grad(&grads).is_none());
    assert!(o.b.val().grad(&grads).is_some());
    assert_eq!(
        l.trainable_params(),
        R * (N_IN + N_OUT),
        "one task's LoRA trains"
    );
}

/// The penalty and its gradient by hand, after two task starts (two frozen `A_i`).
#[test]
fn penalty_and_gradient_match_the_hand_computation() {
    let device = Device::flex().autodiff();
    let lambda = 0.7;
    let mut l = layer(&device, lambda);
    assert!(
        l.adapter.get().loss().is_none(),
        "no penalty on the first task"
    );
    l.adapter.get_mut().start_task(2);
    let o = l.adapter_as::<OLora>().unwrap();
    assert_eq!(o.earlier_a.len(), 2);
    let a_t = values(o.a.val());
    let earlier: Vec<Vec<f64>> = o.earlier_a.iter().map(|a| values(a.val())).collect();
    let mut want = 0.0;
    let mut grad = vec![0.0; N_IN * R];
    for ai in &earlier {
        let m = at_b(ai, &a_t, N_IN, R, R); // A_iᵀ·A_t, [r, r]
        want += lambda * m.iter().map(|v| v * v).sum::<f64>();
        // 2λ·A_i·(A_iᵀ·A_t): [in, r]
        for p in 0..N_IN {
            for q in 0..R {
                grad[p * R + q] +=
                    2.0 * lambda * (0..R).map(|k| ai[p * R + k] * m[k * R + q]).sum::<f64>();
            }
        }
    }
    let penalty = l.adapter.get().loss().unwrap();
    let got = f64::from(to_vec(penalty.clone())[0]);
    assert!(
        (got - want).abs() < 1e-5 * want.max(1.0),
        "penalty {got} vs {want}"
    );
    let grads = penalty.backward();
    let g: Vec<f64> = values(o.a.val().grad(&grads).expect("∂/∂A_t"));
    let d = g
        .iter()
        .zip(&grad)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(d < 1e-5, "gradient max |Δ| = {d}");
    // Orthogonal subspaces cost nothing.
    let mut l = layer(&device, lambda);
    l.adapter.get_mut().start_task(1);
    let o = l.adapter_as_mut::<OLora>().unwrap();
    let e = |i: usize, j: usize| {
        let mut v = vec![0f32; N_IN * R];
        v[i * R] = 1.0;
        v[j * R + 1] = 1.0;
        Param::from_tensor(Tensor::<2>::from_data(
            TensorData::new(v, [N_IN, R]),
            &device,
        ))
    };
    o.earlier_a[0] = e(0, 1);
    o.a = e(2, 3);
    let p = to_vec(l.adapter.get().loss().unwrap())[0];
    assert_eq!(p, 0.0, "orthogonal A's: no penalty");
}
