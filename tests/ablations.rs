//! CURLoRA's ablations (normal-initialised `U`, Gaussian `C`/`R`): what each changes, and that
//! both are seeded and saved, so a loaded adapter rebuilds its outputs bitwise.

mod common;

use burn::tensor::Device;
use common::*;
use curlora::adapters::{AdapterConfig, CurLora, CurSource, Method, UInit};
use curlora::model::{LanguageModel, store};

fn config(u_init: UInit, cur_source: CurSource) -> AdapterConfig {
    let mut cfg = AdapterConfig::new(Method::CurLora, 4, 5);
    cfg.targets = vec!["attn.c_attn".into(), "mlp.c_fc".into()];
    cfg.u_init = u_init;
    cfg.cur_source = cur_source;
    cfg
}

fn norm(v: &[f32]) -> f64 {
    v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt()
}

/// `normal:σ` moves the start away from the base model with `U ~ N(0, σ²)`; `gaussian` keeps
/// the base model at the start (U = 0) but replaces `C` and `R` with Gaussians of the same
/// shapes and norms, which are no longer columns and rows of `W`.
#[test]
fn each_ablation_changes_only_what_it_says() {
    let device = Device::flex();
    let base = LanguageModel::load(&fixture("tiny-gpt2"), &device).unwrap();
    let ids = ids_tensor(&golden().input_ids, &device);
    let want = to_vec(base.logits(ids.clone()));
    let module = "h.0.attn.c_attn";
    let cur = |m: &LanguageModel| {
        let a = m.module(module).unwrap().adapter_as::<CurLora>().unwrap();
        (to_vec(a.c.clone()), to_vec(a.u.val()), to_vec(a.r.clone()))
    };
    let (method, _) = base
        .clone()
        .with_adapters(&config(UInit::Zero, CurSource::Weights))
        .unwrap();
    let (c0, u0, r0) = cur(&method);
    assert!(u0.iter().all(|x| *x == 0.0));

    let (normal, _) = base
        .clone()
        .with_adapters(&config(UInit::Normal(0.05), CurSource::Weights))
        .unwrap();
    let (c1, u1, r1) = cur(&normal);
    assert_eq!((&c1, &r1), (&c0, &r0), "normal U must not change C and R");
    let sd = norm(&u1) / 4.0;
    assert!(sd > 0.02 && sd < 0.1, "U's sd {sd} for σ = 0.05");
    assert!(max_abs_diff(&to_vec(normal.logits(ids.clone())), &want) > 1e-6);

    let (gauss, sels) = base
        .clone()
        .with_adapters(&config(UInit::Zero, CurSource::Gaussian))
        .unwrap();
    let (c2, u2, r2) = cur(&gauss);
    assert!(u2.iter().all(|x| *x == 0.0));
    assert_eq!(
        to_vec(gauss.logits(ids)),
        want,
        "U = 0: still the base model"
    );
    assert!((norm(&c2) / norm(&c0) - 1.0).abs() < 1e-5, "‖C‖ kept");
    assert!((norm(&r2) / norm(&r0) - 1.0).abs() < 1e-5, "‖R‖ kept");
    // No column of the Gaussian C is a column of W.
    let w = base.module(module).unwrap().weight_host();
    let [n_in, n_out] = base.module(module).unwrap().shape();
    let rank = 4;
    for k in 0..rank {
        let col: Vec<f32> = (0..n_in).map(|i| c2[i * rank + k]).collect();
        for j in 0..n_out {
            let wj: Vec<f32> = (0..n_in).map(|i| w[i * n_out + j]).collect();
            assert!(
                max_abs_diff(&col, &wj) > 1e-3,
                "Gaussian C column {k} is W's column {j}"
            );
        }
    }
    assert!(!sels.is_empty(), "the selection is still drawn (and shown)");
}

/// Both ablations are rebuilt from the saved seed and settings: a trained-looking adapter
/// saved and loaded gives bitwise the same logits.
#[test]
fn ablated_adapters_save_and_load_bitwise() {
    use burn::module::Param;
    let device = Device::flex();
    let base = LanguageModel::load(&fixture("tiny-gpt2"), &device).unwrap();
    let hash = base.weights_hash().to_string();
    let ids = ids_tensor(&golden().input_ids, &device);
    for (i, cfg) in [
        config(UInit::Normal(0.02), CurSource::Weights),
        config(UInit::Zero, CurSource::Gaussian),
    ]
    .into_iter()
    .enumerate()
    {
        let (mut model, _) = base.clone().with_adapters(&cfg).unwrap();
        // Move U off its start so the saved values matter.
        let mut rng = curlora::core::rng::Rng::new(9);
        for (_, layer) in model.modules_mut() {
            if let Some(c) = layer.adapter_as_mut::<CurLora>() {
                c.u = Param::from_tensor(random_tensor(&mut rng, [4, 4], 0.3, &device));
            }
        }
        let dir = std::env::temp_dir().join(format!("curlora-ablation-{i}-{}", std::process::id()));
        let path = dir.join("a.safetensors");
        store::save(&path, &model, &cfg, &hash, &[]).unwrap();
        let loaded = store::load(&path, base.clone(), &hash).unwrap();
        assert_eq!(loaded.meta.config, cfg, "the ablation settings are saved");
        let a = to_vec(model.logits(ids.clone()));
        let b = to_vec(loaded.model.logits(ids.clone()));
        assert!(
            a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "{:?}/{:?}: outputs differ after reload",
            cfg.u_init,
            cfg.cur_source
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
