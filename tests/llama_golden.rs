//! Llama-family models on the Flex CPU backend against HF transformers (fixtures from
//! `tests/fixtures/make_llama_fixtures.py`): a tiny Llama with GQA and tied embeddings, one with
//! MQA, untied head, bf16 shards and the transformers-4 `rope_theta` key, and a tiny Mistral
//! whose sliding window (5) is shorter than the inputs (12). Plus the adapter orientation on
//! `nn.Linear` weights, the paper's Mistral-7B parameter counts, and adapters end to end.

mod common;

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};
use common::*;
use curlora::adapters::{AdapterConfig, CurLora, Lora, Method};
use curlora::core::rng::Rng;
use curlora::model::store;
use curlora::model::{self, LanguageModel, LlamaConfig};

const TOL: f32 = 1e-4;

fn check_logits(dir: &str) {
    check_golden_logits(dir, dir);
}

#[test]
fn llama_gqa_tied_matches_transformers() {
    check_logits("tiny-llama");
}

#[test]
fn llama_mqa_untied_bf16_shards_old_rope_key_matches_transformers() {
    check_logits("tiny-llama-untied");
    let c = LlamaConfig::from_file(&fixture("tiny-llama-untied/config.json")).unwrap();
    assert_eq!(
        c.rope_theta(),
        500_000.0,
        "top-level rope_theta must be read"
    );
    assert_eq!(c.kv_heads(), 1);
}

#[test]
fn mistral_sliding_window_matches_transformers() {
    check_logits("tiny-mistral");
    // Without the window the logits are far off (the fixture measured 6.4): the window is
    // really exercised, not just tolerated.
    let g = golden_in("tiny-mistral");
    let dir = std::env::temp_dir().join(format!("curlora-mistral-nowin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["model.safetensors", "tokenizer.json"] {
        std::fs::copy(fixture("tiny-mistral").join(f), dir.join(f)).unwrap();
    }
    let cfg = std::fs::read_to_string(fixture("tiny-mistral/config.json")).unwrap();
    let cfg = cfg.replace("\"sliding_window\": 5", "\"sliding_window\": null");
    std::fs::write(dir.join("config.json"), cfg).unwrap();
    let device = Device::flex();
    let model = LanguageModel::load(&dir, &device).unwrap();
    let logits = to_vec(model.logits(ids_tensor(&g.input_ids, &device)));
    assert!(max_abs_diff(&logits, &g.logits) > 0.1);
}

#[test]
fn tokenizer_and_eval_match_transformers() {
    for dir in ["tiny-llama", "tiny-mistral"] {
        let g = golden_in(dir);
        let d = fixture(dir);
        let tok = model::load_tokenizer(&d).unwrap();
        let sample = fixture("tiny-gpt2/sample.txt");
        let text = std::fs::read_to_string(&sample).unwrap();
        let ids = model::encode(&tok, &text, &sample).unwrap();
        assert_eq!(&ids[..g.eval_ids.len()], &g.eval_ids[..]);
        let m = LanguageModel::load(&d, &Device::flex()).unwrap();
        let r = curlora::train::perplexity::first_window(&m, &ids, g.eval_max_tokens).unwrap();
        assert!(
            (r.loss - g.eval_loss).abs() < 1e-4,
            "{dir}: {} vs {}",
            r.loss,
            g.eval_loss
        );
    }
}

/// The paper's Mistral-7B setting (q, k, v at r = 16): 24,576 trainable for CURLoRA and
/// 9,437,184 for LoRA, from the shapes alone.
#[test]
fn mistral_7b_parameter_counts_match_the_paper() {
    let json = r#"{"model_type":"mistral","vocab_size":32000,"hidden_size":4096,
        "intermediate_size":14336,"num_hidden_layers":32,"num_attention_heads":32,
        "num_key_value_heads":8,"max_position_embeddings":32768,"rms_norm_eps":1e-5,
        "rope_theta":1000000.0,"sliding_window":4096,"tie_word_embeddings":false}"#;
    let c: LlamaConfig = serde_json::from_str(json).unwrap();
    let qkv: Vec<String> = ["q_proj", "k_proj", "v_proj"].map(String::from).into();
    assert_eq!(c.adapter_params(Method::CurLora, 16, &qkv), 24_576);
    assert_eq!(c.adapter_params(Method::Lora, 16, &qkv), 9_437_184);
}

/// CUR on an `nn.Linear` weight follows the reference's Mistral path: selection on
/// `W_hf [out, in]`, columns = inputs, rows = outputs, and the adapted layer computes
/// `x·(W_hf + α·C·U_ref·R)ᵀ` with `C = W_hf[:, cols]`, `R = W_hf[rows, :]`, `U_ref = Uᵀ`.
#[test]
fn curlora_on_linear_weights_uses_the_reference_orientation() {
    let device = Device::flex();
    let dir = fixture("tiny-llama");
    let mut cfg = AdapterConfig::new(Method::CurLora, 4, 11);
    cfg.targets = vec!["k_proj".into()];
    cfg.alpha = 0.7;
    let base = LanguageModel::load(&dir, &device).unwrap();
    let (mut m, sels) = base.with_adapters(&cfg).unwrap();
    let (name, sel) = &sels[0];
    assert_eq!(name, "layers.0.self_attn.k_proj");
    // k_proj: [out, in] = [16, 32] in HF (2 kv heads × head_dim 8, hidden 32).
    assert_eq!(sel.shape, [16, 32]);
    assert_eq!(sel.col_probs.len(), 32, "columns index the 32 inputs");
    assert_eq!(sel.row_probs.len(), 16, "rows index the 16 outputs");
    let mut rng = Rng::new(5);
    let u = random_vec(&mut rng, 16, 0.5);
    for (n, layer) in m.modules_mut() {
        if n == *name {
            layer.adapter_as_mut::<CurLora>().unwrap().u = Param::from_tensor(
                Tensor::<2>::from_data(TensorData::new(u.clone(), [4, 4]), &device),
            );
        }
    }
    let layer = m.module(name).unwrap();
    let x = random_vec(&mut rng, 3 * 32, 1.0);
    let got = to_vec(layer.forward(Tensor::<2>::from_data(
        TensorData::new(x.clone(), [3, 32]),
        &device,
    )));
    // Independent f64 computation straight from the HF checkpoint.
    let ckpt = curlora::model::weights::Checkpoint::open_dir(&dir).unwrap();
    let w = ckpt
        .read_f32("model.layers.0.self_attn.k_proj.weight", &[16, 32])
        .unwrap();
    let wf = |o: usize, i: usize| f64::from(w[o * 32 + i]);
    let mut delta = vec![0f64; 16 * 32]; // C·U_ref·R, [out, in]
    for o in 0..16 {
        for i in 0..32 {
            let mut s = 0.0;
            for a in 0..4 {
                for b in 0..4 {
                    // U_ref[a][b] = U[b][a]
                    s += wf(o, sel.cols[a]) * f64::from(u[b * 4 + a]) * wf(sel.rows[b], i);
                }
            }
            delta[o * 32 + i] = s;
        }
    }
    let mut want = vec![0f32; 3 * 16];
    for r in 0..3 {
        for o in 0..16 {
            let s: f64 = (0..32)
                .map(|i| f64::from(x[r * 32 + i]) * (wf(o, i) + 0.7 * delta[o * 32 + i]))
                .sum();
            want[r * 16 + o] = s as f32;
        }
    }
    let d = max_abs_diff(&got, &want);
    assert!(
        d < 1e-4,
        "adapted k_proj differs from the reference formula by {d}"
    );
}

/// U = 0 (CURLoRA) and B = 0 (LoRA) leave a Llama's logits bitwise unchanged; a trained
/// adapter saves and loads back to identical outputs, and refuses other base weights.
#[test]
fn adapters_on_llama_start_neutral_and_round_trip() {
    let device = Device::flex();
    let dir = fixture("tiny-llama");
    let g = golden_in("tiny-llama");
    let ids = ids_tensor(&g.input_ids, &device);
    let base = LanguageModel::load(&dir, &device).unwrap();
    let base_logits = to_vec(base.logits(ids.clone()));
    let hash = base.weights_hash().to_string();
    for method in [Method::CurLora, Method::Lora, Method::Full] {
        let mut cfg = AdapterConfig::new(method, 4, 2);
        cfg.targets = vec!["q_proj".into(), "v_proj".into(), "down_proj".into()];
        let (mut m, _) = base.clone().with_adapters(&cfg).unwrap();
        if method != Method::Full {
            let start = to_vec(m.logits(ids.clone()));
            assert!(
                start
                    .iter()
                    .zip(&base_logits)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{method}: a fresh adapter changed the logits"
            );
        }
        let expect_trainable = match method {
            Method::CurLora => 3 * 16 * 2,
            Method::Lora => 2 * 4 * ((32 + 32) + (32 + 16) + (48 + 32)),
            _ => m.num_params(),
        };
        assert_eq!(m.trainable_params(method), expect_trainable, "{method}");
        // Perturb every trained tensor, as training would.
        let mut rng = Rng::new(9);
        for (_, layer) in m.modules_mut() {
            if let Some(c) = layer.adapter_as_mut::<CurLora>() {
                c.u = Param::from_tensor(random_tensor(&mut rng, [4, 4], 0.3, &device));
            }
            if let Some(l) = layer.adapter_as_mut::<Lora>() {
                let out = l.b.shape().dims::<2>()[1];
                l.b = Param::from_tensor(random_tensor(&mut rng, [4, out], 0.3, &device));
            }
            if method == Method::Full {
                let [a, b] = layer.shape();
                let w = layer
                    .weight
                    .val()
                    .add(random_tensor(&mut rng, [a, b], 0.01, &device));
                layer.weight = Param::from_tensor(w);
            }
        }
        let trained = to_vec(m.logits(ids.clone()));
        assert!(
            max_abs_diff(&trained, &base_logits) > 1e-5,
            "{method}: no effect"
        );
        let path = std::env::temp_dir().join(format!(
            "curlora-llama-{method}-{}.safetensors",
            std::process::id()
        ));
        store::save(&path, &m.valid(), &cfg, &hash, &[]).unwrap();
        let loaded = store::load(&path, base.clone(), &hash).unwrap();
        let back = to_vec(loaded.model.logits(ids.clone()));
        assert!(
            back.iter()
                .zip(&trained)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{method}: outputs differ after reload"
        );
        let other = LanguageModel::load(&fixture("tiny-mistral"), &device).unwrap();
        let err = store::load(&path, other.clone(), other.weights_hash()).err();
        assert!(err.is_some(), "{method}: loaded onto other weights");
        let _ = std::fs::remove_file(&path);
    }
}

/// Unknown projection names are refused with the list of valid ones.
#[test]
fn unknown_llama_target_is_a_clear_error() {
    let base = LanguageModel::load(&fixture("tiny-llama"), &Device::flex()).unwrap();
    let mut cfg = AdapterConfig::new(Method::CurLora, 4, 0);
    cfg.targets = vec!["attn.c_attn".into()];
    let msg = base.with_adapters(&cfg).err().unwrap().to_string();
    assert!(
        msg.contains("attn.c_attn") && msg.contains("q_proj"),
        "{msg}"
    );
}

/// A tiny GGUF (Q8_0 embedding, Q4_0 and Q4_1 blocks, F16 and F32 tensors, permuted q/k as
/// llama.cpp writes them), loaded directly with `--model FILE.gguf`, gives transformers' logits
/// for the same file.
#[test]
fn gguf_file_loads_directly_and_matches_transformers() {
    let dir = std::env::temp_dir().join(format!("curlora-gguf-cache-{}", std::process::id()));
    // SAFETY: set before any other thread of this test reads it; the cache only moves here.
    unsafe { std::env::set_var("XDG_CACHE_HOME", &dir) };
    let g = golden_in("tiny-gguf");
    let device = Device::flex();
    // Two loads at once into an empty cache (as parallel tests or processes do) both succeed.
    let gguf = fixture("tiny-gguf/tiny-llama.gguf");
    let loads: Vec<_> = (0..2)
        .map(|_| {
            let (gguf, device) = (gguf.clone(), device.clone());
            std::thread::spawn(move || LanguageModel::load(&gguf, &device).map(|_| ()))
        })
        .collect();
    for l in loads {
        l.join().unwrap().unwrap();
    }
    let model = LanguageModel::load(&gguf, &device).unwrap();
    let ids = ids_tensor(&g.input_ids, &device);
    let logits = to_vec(model.logits(ids.clone()));
    let diff = max_abs_diff(&logits, &g.logits);
    eprintln!("tiny-llama.gguf: max |Δlogit| vs transformers {diff:.2e}");
    assert!(diff <= TOL, "gguf logits max |Δ| = {diff}");
    let loss = f64::from(model.lm_loss(ids).into_scalar::<f32>());
    assert!((loss - g.loss).abs() <= 1e-4, "{loss} vs {}", g.loss);
    let _ = std::fs::remove_dir_all(&dir);
}

/// LoRA's gradients through a whole Llama (RoPE, grouped-query attention, the causal mask,
/// RMSNorm, SwiGLU) against central finite differences of the same loss: a wrong backward
/// anywhere on the path to q/k/v would make LoRA learn less (or more) than PyTorch's on the
/// same rows. The loss is next-token cross-entropy of the golden input.
#[test]
fn lora_gradients_through_llama_match_finite_differences() {
    use burn::tensor::activation::log_softmax;
    let device = Device::flex().autodiff();
    let g = golden_in("tiny-llama");
    let ids = ids_tensor(&g.input_ids, &device);
    let base = LanguageModel::load(&fixture("tiny-llama"), &device).unwrap();
    let mut cfg = AdapterConfig::new(Method::Lora, 4, 3);
    cfg.targets = vec!["q_proj".into(), "k_proj".into(), "v_proj".into()];
    let (mut m, _) = base.with_adapters(&cfg).unwrap();
    let mut rng = Rng::new(11);
    for (_, layer) in m.modules_mut() {
        if let Some(l) = layer.adapter_as_mut::<Lora>() {
            let out = l.b.shape().dims::<2>()[1];
            l.b = Param::from_tensor(random_tensor(&mut rng, [4, out], 0.3, &device));
        }
    }
    let (b, t) = (g.input_ids.len(), g.input_ids[0].len());
    let loss = |m: &LanguageModel| -> Tensor<1> {
        let logits = m.logits(ids.clone());
        let v = logits.dims()[2];
        let lp = log_softmax(logits.narrow(1, 0, t - 1).reshape([b * (t - 1), v]), 1);
        let next = ids.clone().narrow(1, 1, t - 1).reshape([b * (t - 1), 1]);
        lp.gather(1, next).mean().neg()
    };
    let grads = loss(&m).backward();
    let names: Vec<String> = m
        .modules_mut()
        .into_iter()
        .filter(|(_, l)| l.adapter_as::<Lora>().is_some())
        .map(|(n, _)| n)
        .collect();
    let mut checked = 0;
    let mut largest = 0f64;
    for name in names
        .iter()
        .filter(|n| n.contains("layers.0.") || n.contains("layers.1."))
    {
        for which in ["a", "b"] {
            let (param, shape) = {
                let mut mods = m.modules_mut();
                let layer = &mut mods.iter_mut().find(|(n, _)| n == name).unwrap().1;
                let l = layer.adapter_as::<Lora>().unwrap();
                let p = if which == "a" { l.a.val() } else { l.b.val() };
                (p.clone(), p.dims())
            };
            let analytic = to_vec(param.grad(&grads).unwrap());
            let values = to_vec(param.clone().inner());
            for k in [0, values.len() / 2, values.len() - 1] {
                let h = 1e-2f32;
                let mut at = |delta: f32| {
                    let mut v = values.clone();
                    v[k] += delta;
                    let tensor = Tensor::<2>::from_data(TensorData::new(v, shape), &device);
                    let mut mods = m.modules_mut();
                    let layer = &mut mods.iter_mut().find(|(n, _)| n == name).unwrap().1;
                    let l = layer.adapter_as_mut::<Lora>().unwrap();
                    if which == "a" {
                        l.a = Param::from_tensor(tensor);
                    } else {
                        l.b = Param::from_tensor(tensor);
                    }
                    drop(mods);
                    f64::from(to_vec(loss(&m))[0])
                };
                let fd = (at(h) - at(-h)) / (2.0 * f64::from(h));
                at(0.0);
                let an = f64::from(analytic[k]);
                largest = largest.max(an.abs());
                assert!(
                    (an - fd).abs() <= 1e-4 + 0.02 * fd.abs(),
                    "{name}.{which}[{k}]: autodiff {an:.6e}, finite difference {fd:.6e}"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(
        checked,
        2 * 3 * 2 * 3,
        "q/k/v of two layers, A and B, three entries each"
    );
    assert!(
        largest > 1e-2,
        "gradients too small to test anything: {largest:e}"
    );
}
