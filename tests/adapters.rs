//! CURLoRA and LoRA layers on the Flex backend against independent references: the dense
//! formula in f64, the analytic gradient of U, finite differences, and the reference code's
//! parameter counts.

mod common;

use burn::module::Param;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};
use common::*;
use curlora::adapters::{AdaptedLinear, AdapterConfig, CurLora, Lora, LoraScaling, Method, cur};
use curlora::core::rng::Rng;
use curlora::model::Gpt2Config;

const N_IN: usize = 12;
const N_OUT: usize = 20;
const N: usize = 7;
const RANK: usize = 4;

/// A layer with random W, b on `device`, and its host copies.
fn layer(device: &Device, seed: u64) -> (AdaptedLinear, Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(seed);
    let w = random_vec(&mut rng, N_IN * N_OUT, 0.5);
    let b = random_vec(&mut rng, N_OUT, 0.5);
    let l = AdaptedLinear::frozen(
        Tensor::<2>::from_data(TensorData::new(w.clone(), [N_IN, N_OUT]), device),
        Tensor::<1>::from_data(TensorData::new(b.clone(), [N_OUT]), device),
    );
    (l, w, b)
}

fn curlora_layer(device: &Device, alpha: f64) -> (AdaptedLinear, Vec<f32>, Vec<f32>, Vec<f32>) {
    let (l, w, b) = layer(device, 1);
    let mut cfg = AdapterConfig::new(Method::CurLora, RANK, 11);
    cfg.alpha = alpha;
    let (mut l, sel) = l.attach("test", &cfg).unwrap();
    assert!(sel.is_some());
    let mut rng = Rng::new(5);
    let u = random_vec(&mut rng, RANK * RANK, 0.3);
    l.adapter_as_mut::<CurLora>().unwrap().u = Param::from_tensor(Tensor::<2>::from_data(
        TensorData::new(u.clone(), [RANK, RANK]),
        device,
    ));
    (l, w, b, u)
}

/// `x·(W + α·C·U·R) + b` in f64 on the host.
fn dense_reference(
    x: &[f32],
    w: &[f32],
    b: &[f32],
    c: &cur::CurSelection,
    u: &[f32],
    alpha: f64,
) -> Vec<f64> {
    let (cm, rm) = cur::gather(w, [N_IN, N_OUT], &c.cols, &c.rows);
    let cu = matmul(&f64s(&cm), &f64s(u), N_IN, RANK, RANK);
    let cur_ = matmul(&cu, &f64s(&rm), N_IN, RANK, N_OUT);
    let weff: Vec<f64> = f64s(w)
        .iter()
        .zip(&cur_)
        .map(|(w, d)| w + alpha * d)
        .collect();
    let y = matmul(&f64s(x), &weff, N, N_IN, N_OUT);
    y.iter()
        .enumerate()
        .map(|(i, v)| v + f64::from(b[i % N_OUT]))
        .collect()
}

fn selection() -> cur::CurSelection {
    let (_, w, _) = layer(&Device::flex(), 1);
    let cfg = AdapterConfig::new(Method::CurLora, RANK, 11);
    cur::select(
        &w,
        [N_IN, N_OUT],
        &cfg.selection_config(),
        curlora::core::rng::derive_seed(11, "test"),
    )
    .unwrap()
}

#[test]
fn curlora_forward_equals_dense_reference() {
    let device = Device::flex();
    for alpha in [1.0, 2.5] {
        let (l, w, b, u) = curlora_layer(&device, alpha);
        let mut rng = Rng::new(9);
        let x = random_vec(&mut rng, N * N_IN, 1.0);
        let xt = Tensor::<2>::from_data(TensorData::new(x.clone(), [N, N_IN]), &device);
        let got = to_vec(l.forward(xt.clone()));
        let expected = dense_reference(&x, &w, &b, &selection(), &u, alpha);
        let exp32: Vec<f32> = expected.iter().map(|&v| v as f32).collect();
        let d = max_abs_diff(&got, &exp32);
        assert!(d < 1e-4, "alpha {alpha}: max |Δ| = {d}");
        // The materialized path (reference code's way) agrees too.
        let d2 = max_abs_diff(&to_vec(l.forward_materialized(xt)), &exp32);
        assert!(d2 < 1e-4, "materialized: max |Δ| = {d2}");
        // The adapter really contributes (U non-zero).
        let base = dense_reference(&x, &w, &b, &selection(), &[0.0; RANK * RANK], alpha);
        let moved = expected
            .iter()
            .zip(&base)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(moved > 1e-2, "adapter had no effect: {moved}");
    }
}

#[test]
fn selected_c_and_r_are_columns_and_rows_of_w() {
    let device = Device::flex();
    let (l, w, _, _) = curlora_layer(&device, 1.0);
    let sel = selection();
    let c = to_vec(l.adapter_as::<CurLora>().unwrap().c.clone());
    let r = to_vec(l.adapter_as::<CurLora>().unwrap().r.clone());
    for i in 0..N_IN {
        for (k, &j) in sel.cols.iter().enumerate() {
            assert_eq!(c[i * RANK + k], w[i * N_OUT + j]);
        }
    }
    for (k, &i) in sel.rows.iter().enumerate() {
        assert_eq!(
            &r[k * N_OUT..(k + 1) * N_OUT],
            &w[i * N_OUT..(i + 1) * N_OUT]
        );
    }
    assert_eq!(l.adapter_as::<CurLora>().unwrap().cols, sel.cols);
}

/// Loss `L = ½ Σ y²`, so `G = ∂L/∂y = y` and `∂L/∂U = α·(x·C)ᵀ·G·Rᵀ`.
#[test]
fn gradient_of_u_equals_analytic_formula_and_finite_difference() {
    let device = Device::flex().autodiff();
    let alpha = 1.5;
    let (l, w, b, u) = curlora_layer(&device, alpha);
    let mut rng = Rng::new(21);
    let x = random_vec(&mut rng, N * N_IN, 1.0);
    let xt = Tensor::<2>::from_data(TensorData::new(x.clone(), [N, N_IN]), &device);
    let y = l.forward(xt.clone());
    let loss = y.powi_scalar(2).sum().mul_scalar(0.5);
    let grads = loss.backward();
    let cur_ad = l.adapter_as::<CurLora>().unwrap();
    let gu = to_vec(cur_ad.u.val().grad(&grads).expect("U has a gradient"));

    // Analytic, in f64.
    let sel = selection();
    let g = dense_reference(&x, &w, &b, &sel, &u, alpha); // G = y
    let (cm, rm) = cur::gather(&w, [N_IN, N_OUT], &sel.cols, &sel.rows);
    let xc = matmul(&f64s(&x), &f64s(&cm), N, N_IN, RANK);
    let xct_g = matmul(&transpose(&xc, N, RANK), &g, RANK, N, N_OUT);
    let analytic: Vec<f64> = matmul(
        &xct_g,
        &transpose(&f64s(&rm), RANK, N_OUT),
        RANK,
        N_OUT,
        RANK,
    )
    .into_iter()
    .map(|v| alpha * v)
    .collect();
    for (k, (&got, &exp)) in gu.iter().zip(&analytic).enumerate() {
        assert!(
            (f64::from(got) - exp).abs() <= 1e-3 * exp.abs().max(1.0),
            "dL/dU[{k}] = {got}, analytic {exp}"
        );
    }

    // Central finite differences through the f64 dense model (L is quadratic in U, so the
    // central difference is exact up to rounding).
    let loss_at = |uu: &[f32]| -> f64 {
        dense_reference(&x, &w, &b, &sel, uu, alpha)
            .iter()
            .map(|v| 0.5 * v * v)
            .sum()
    };
    let h = 1e-3f32;
    for k in 0..RANK * RANK {
        let mut up = u.clone();
        up[k] += h;
        let mut dn = u.clone();
        dn[k] -= h;
        let fd = (loss_at(&up) - loss_at(&dn)) / (2.0 * f64::from(h));
        assert!(
            (f64::from(gu[k]) - fd).abs() <= 2e-3 * fd.abs().max(1.0),
            "dL/dU[{k}] = {}, finite difference {fd}",
            gu[k]
        );
    }
}

#[test]
fn frozen_tensors_get_no_gradient_and_stay_bitwise_unchanged() {
    let device = Device::flex().autodiff();
    let (mut l, w, b, u0) = curlora_layer(&device, 1.0);
    let c0 = to_vec(l.adapter_as::<CurLora>().unwrap().c.clone());
    let r0 = to_vec(l.adapter_as::<CurLora>().unwrap().r.clone());
    let mut optim = AdamWConfig::new().with_weight_decay(0.01).init();
    let mut rng = Rng::new(3);
    let x = random_tensor(&mut rng, [N, N_IN], 1.0, &device);
    for step in 0..3 {
        let loss = l.forward(x.clone()).powi_scalar(2).mean();
        let grads = loss.backward();
        let cur_ = l.adapter_as::<CurLora>().unwrap();
        assert!(l.weight.val().grad(&grads).is_none(), "W got a gradient");
        assert!(
            l.bias.as_ref().unwrap().val().grad(&grads).is_none(),
            "b got a gradient"
        );
        assert!(cur_.c.grad(&grads).is_none(), "C got a gradient");
        assert!(cur_.r.grad(&grads).is_none(), "R got a gradient");
        assert!(
            cur_.u.val().grad(&grads).is_some(),
            "step {step}: U got no gradient"
        );
        let gp = GradientsParams::from_grads(grads, &l);
        l = optim.step(1e-2, l, gp);
    }
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&to_vec(l.weight.val())), bits(&w), "W changed");
    assert_eq!(
        bits(&to_vec(l.bias.as_ref().unwrap().val())),
        bits(&b),
        "b changed"
    );
    assert_eq!(
        bits(&to_vec(l.adapter_as::<CurLora>().unwrap().c.clone())),
        bits(&c0),
        "C changed"
    );
    assert_eq!(
        bits(&to_vec(l.adapter_as::<CurLora>().unwrap().r.clone())),
        bits(&r0),
        "R changed"
    );
    let u1 = to_vec(l.adapter_as::<CurLora>().unwrap().u.val());
    assert!(max_abs_diff(&u1, &u0) > 1e-3, "U did not train");
}

#[test]
fn lora_init_forward_and_gradients() {
    let device = Device::flex().autodiff();
    let (base, w, b) = layer(&device, 2);
    for scaling in [LoraScaling::Reference, LoraScaling::Peft] {
        let mut cfg = AdapterConfig::new(Method::Lora, RANK, 4);
        cfg.alpha = 2.0;
        cfg.lora_scaling = scaling;
        let (l, _) = AdaptedLinear::frozen(base.weight.val(), base.bias.as_ref().unwrap().val())
            .attach("lora-test", &cfg)
            .unwrap();
        let lora = l.adapter_as::<Lora>().unwrap();
        let bound = 1.0 / (RANK as f32).sqrt();
        let a = to_vec(lora.a.val());
        assert!(a.iter().all(|v| v.abs() <= bound), "A outside ±1/√r");
        assert!(
            a.iter().any(|v| v.abs() > bound * 0.5),
            "A suspiciously small"
        );
        assert!(to_vec(lora.b.val()).iter().all(|&v| v == 0.0), "B not zero");
        let expected_scale = match scaling {
            LoraScaling::Reference => 2.0,
            LoraScaling::Peft => 2.0 / RANK as f64,
        };
        assert_eq!(lora.scale, expected_scale);
        // Forward with a non-zero B equals x·(W + s·A·B) + b.
        let mut rng = Rng::new(8);
        let bm = random_vec(&mut rng, RANK * N_OUT, 0.3);
        let mut l = l;
        l.adapter_as_mut::<Lora>().unwrap().b = Param::from_tensor(Tensor::<2>::from_data(
            TensorData::new(bm.clone(), [RANK, N_OUT]),
            &device,
        ));
        let x = random_vec(&mut rng, N * N_IN, 1.0);
        let xt = Tensor::<2>::from_data(TensorData::new(x.clone(), [N, N_IN]), &device);
        let ab = matmul(&f64s(&a), &f64s(&bm), N_IN, RANK, N_OUT);
        let weff: Vec<f64> = f64s(&w)
            .iter()
            .zip(&ab)
            .map(|(w, d)| w + expected_scale * d)
            .collect();
        let y: Vec<f32> = matmul(&f64s(&x), &weff, N, N_IN, N_OUT)
            .iter()
            .enumerate()
            .map(|(i, v)| (v + f64::from(b[i % N_OUT])) as f32)
            .collect();
        let y_t = l.forward(xt);
        assert!(max_abs_diff(&to_vec(y_t.clone()), &y) < 1e-4);
        let grads = y_t.sum().backward();
        let lora = l.adapter_as::<Lora>().unwrap();
        assert!(lora.a.val().grad(&grads).is_some() && lora.b.val().grad(&grads).is_some());
        assert!(l.weight.val().grad(&grads).is_none());
        assert_eq!(l.trainable_params(), RANK * (N_IN + N_OUT));
    }
}

#[test]
fn full_fine_tune_trains_the_weight() {
    let device = Device::flex().autodiff();
    let (l, _, _) = layer(&device, 3);
    let (l, _) = l
        .attach("full", &AdapterConfig::new(Method::Full, 1, 0))
        .unwrap();
    let mut rng = Rng::new(1);
    let x = random_tensor(&mut rng, [N, N_IN], 1.0, &device);
    let grads = l.forward(x).sum().backward();
    assert!(l.weight.val().grad(&grads).is_some());
    assert!(l.bias.as_ref().unwrap().val().grad(&grads).is_some());
}

#[test]
fn rank_must_fit_the_matrix() {
    let device = Device::flex();
    for rank in [0, N_IN + 1] {
        let (l, _, _) = layer(&device, 1);
        let err = l
            .attach("x", &AdapterConfig::new(Method::CurLora, rank, 0))
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("rank {rank}")) && msg.contains("1 ≤ rank ≤ 12"),
            "{msg}"
        );
        let (l, _, _) = layer(&device, 1);
        assert!(
            l.attach("x", &AdapterConfig::new(Method::Lora, rank, 0))
                .is_err()
        );
    }
}

/// The reference code's counts (notebook outputs and the paper): GPT-2 Large `c_attn`.
#[test]
fn trainable_counts_match_the_paper_for_gpt2_large() {
    let large = Gpt2Config {
        model_type: Some("gpt2".into()),
        vocab_size: 50257,
        n_positions: 1024,
        n_embd: 1280,
        n_layer: 36,
        n_head: 20,
        n_inner: None,
        activation_function: "gelu_new".into(),
        layer_norm_epsilon: 1e-5,
        tie_word_embeddings: true,
        eos_token_id: Some(50256),
    };
    let t = vec!["attn.c_attn".to_string()];
    assert_eq!(large.adapter_params(Method::CurLora, 8, &t), 2_304);
    assert_eq!(large.adapter_params(Method::CurLora, 16, &t), 9_216);
    assert_eq!(large.adapter_params(Method::CurLora, 24, &t), 20_736);
    assert_eq!(large.adapter_params(Method::Lora, 8, &t), 1_474_560);
    assert_eq!(large.adapter_params(Method::Lora, 16, &t), 2_949_120);
    assert_eq!(large.adapter_params(Method::Lora, 24, &t), 4_423_680);
}

#[test]
fn model_trainable_count_equals_shape_formula() {
    let device = Device::flex();
    let dir = fixture("tiny-gpt2");
    let cfg_model = Gpt2Config::from_file(&dir.join("config.json")).unwrap();
    for method in [
        Method::CurLora,
        Method::Lora,
        Method::Pissa,
        Method::Milora,
        Method::OLora,
    ] {
        let mut cfg = AdapterConfig::new(method, 4, 1);
        cfg.targets = vec!["attn.c_attn".into(), "mlp.c_fc".into()];
        let model = curlora::model::LanguageModel::load(&dir, &device).unwrap();
        let (model, sels) = model.with_adapters(&cfg).unwrap();
        assert_eq!(
            model.trainable_params(method),
            cfg_model.adapter_params(method, 4, &cfg.targets)
        );
        if method == Method::CurLora {
            assert_eq!(sels.len(), 2 * cfg_model.n_layer);
        }
    }
}

/// PiSSA and MiLoRA start exactly at the base model (the residual plus the factors is `W`),
/// on both layouts; their factors are the chosen singular components (`A`'s columns orthogonal,
/// `s·A·B` of the expected energy); and both factors get a gradient.
#[test]
fn svd_baselines_start_at_the_base_model_and_train_both_factors() {
    use curlora::adapters::{Milora, Pissa};
    use curlora::model::LanguageModel;
    let device = Device::flex().autodiff();
    for (name, targets) in [
        ("tiny-gpt2", vec!["attn.c_attn", "mlp.c_proj"]),
        ("tiny-llama", vec!["q_proj", "down_proj"]),
    ] {
        let base = LanguageModel::load(&fixture(name), &device).unwrap();
        let ids = ids_tensor(&[vec![3u32, 17, 4, 9, 22, 5]], &device);
        let want = to_vec(base.logits(ids.clone()));
        for method in [Method::Pissa, Method::Milora] {
            let mut cfg = AdapterConfig::new(method, 3, 2);
            cfg.alpha = 2.0;
            cfg.targets = targets.iter().map(|t| t.to_string()).collect();
            let (model, _) = base.clone().with_adapters(&cfg).unwrap();
            let got = to_vec(model.logits(ids.clone()));
            let d = max_abs_diff(&got, &want);
            assert!(
                d < 1e-4,
                "{name} {method}: starts {d} away from the base model"
            );
            let path = layer_path(&model, &targets);
            let layer = model.module(&path).unwrap();
            let lora = match method {
                Method::Pissa => &layer.adapter_as::<Pissa>().unwrap().lora,
                _ => &layer.adapter_as::<Milora>().unwrap().lora,
            };
            // The base W of this layer, and its energy ‖W‖²; ‖s·A·B‖² is the chosen σ².
            let w0 = to_vec(base.module(&path).unwrap().weight.val());
            let w_res = to_vec(layer.weight.val());
            let ab = to_vec(lora.a.val().matmul(lora.b.val()).mul_scalar(lora.scale));
            let rebuilt: Vec<f32> = w_res.iter().zip(&ab).map(|(r, d)| r + d).collect();
            assert!(
                max_abs_diff(&rebuilt, &w0) < 1e-5,
                "{name} {method}: W_res + s·A·B ≠ W"
            );
            let energy = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>();
            let (e_w, e_ab) = (energy(&w0), energy(&ab));
            // Orthogonal pieces: ‖W‖² = ‖W_res‖² + ‖s·A·B‖².
            assert!(
                ((energy(&w_res) + e_ab) / e_w - 1.0).abs() < 1e-4,
                "{name} {method}"
            );
            let share = e_ab / e_w;
            match method {
                // The top 3 of ≥ 32 components hold more than 3/32 of the energy, the bottom
                // 3 less.
                Method::Pissa => assert!(share > 3.0 / 32.0, "{name}: PiSSA share {share}"),
                _ => assert!(share < 3.0 / 32.0, "{name}: MiLoRA share {share}"),
            }
            let [_, r] = lora.a.shape().dims::<2>();
            let ata = to_vec(lora.a.val().transpose().matmul(lora.a.val()));
            for i in 0..r {
                for j in 0..r {
                    if i != j {
                        let scale = (ata[i * r + i] * ata[j * r + j]).sqrt();
                        assert!(
                            ata[i * r + j].abs() < 1e-4 * scale,
                            "{name}: Aᵀ·A not diagonal"
                        );
                    }
                }
            }
            let loss = model.lm_loss(ids.clone());
            let grads = loss.backward();
            for (which, p) in [("A", &lora.a), ("B", &lora.b)] {
                let g = to_vec(p.val().grad(&grads).expect("a gradient"));
                assert!(
                    g.iter().any(|v| v.abs() > 0.0),
                    "{name} {method}: {which} has none"
                );
            }
        }
    }
}

/// The first adapted module's path.
fn layer_path(model: &curlora::model::LanguageModel, targets: &[&str]) -> String {
    model
        .modules()
        .into_iter()
        .map(|(p, _)| p)
        .find(|p| targets.iter().any(|t| p.ends_with(t)))
        .unwrap()
}

/// PiSSA's and MiLoRA's starting updates are numpy's SVD components (the fixture is made by
/// `tests/fixtures/make_svd_fixtures.py`): `s·A·B` is numpy's top-3 / bottom-3 part of
/// `h.0.attn.c_attn`, and our singular values are numpy's.
#[test]
fn svd_factors_match_numpy() {
    use curlora::adapters::svd;
    use curlora::model::LanguageModel;
    let text = std::fs::read_to_string(fixture("svd").join("c_attn0.json")).unwrap();
    let fx: serde_json::Value = serde_json::from_str(&text).unwrap();
    let values = |k: &str| -> Vec<f64> {
        let a = fx[k].as_array().unwrap();
        a.iter().map(|v| v.as_f64().unwrap()).collect()
    };
    let device = Device::flex();
    let base = LanguageModel::load(&fixture("tiny-gpt2"), &device).unwrap();
    let w = base.module("h.0.attn.c_attn").unwrap().weight_host();
    let (_, s, _) = svd::svd(&w, [32, 96]).unwrap();
    let want = values("singular_values");
    assert_eq!(s.len(), want.len());
    for (a, b) in s.iter().zip(&want) {
        assert!((a - b).abs() < 1e-9, "σ {a} vs numpy {b}");
    }
    for (method, key) in [(Method::Pissa, "principal_3"), (Method::Milora, "minor_3")] {
        for alpha in [1.0, 4.0] {
            let mut cfg = AdapterConfig::new(method, 3, 1);
            cfg.alpha = alpha;
            cfg.targets = vec!["attn.c_attn".into()];
            let (m, _) = base.clone().with_adapters(&cfg).unwrap();
            let layer = m.module("h.0.attn.c_attn").unwrap();
            let delta = to_vec(layer.adapter.get().delta_weight().unwrap());
            let want = values(key);
            let d = delta
                .iter()
                .zip(&want)
                .map(|(a, b)| (f64::from(*a) - b).abs())
                .fold(0.0, f64::max);
            assert!(d < 1e-5, "{method} α={alpha}: s·A·B is {d} from numpy's");
        }
    }
}
