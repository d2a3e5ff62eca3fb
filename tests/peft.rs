//! Adapters that leave the tool, against HF transformers + peft (fixtures made by
//! `tests/fixtures/make_peft_fixtures.py`): the PEFT export gives peft the logits we compute,
//! the merged folder gives transformers the same, a LoRA made by peft imports to peft's
//! logits (generation: `tests/generate.rs`).

mod common;

use burn::tensor::Device;
use common::peft::{FAMILIES, adapted, base, floats, golden, ids};
use common::{fixture, ids_tensor, max_abs_diff, to_vec};
use curlora::model::{LanguageModel, merge, peft, store};
use std::path::{Path, PathBuf};

const METHODS: [&str; 2] = ["curlora", "lora"];

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("curlora-peft-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Our hidden states and logits of each golden sequence against the golden ones.
fn check_outputs(
    lm: &LanguageModel,
    g: &serde_json::Value,
    hidden: Option<&serde_json::Value>,
    logits: &serde_json::Value,
    what: &str,
) {
    let device = Device::flex();
    for (i, seq) in g["sequences"].as_array().unwrap().iter().enumerate() {
        let x = ids_tensor(&[ids(seq)], &device);
        let h = lm.hidden(x, None);
        if let Some(hg) = hidden {
            let d = max_abs_diff(&to_vec(h.clone()), &floats(&hg[i]));
            assert!(
                d < 1e-4,
                "{what}: sequence {i}: hidden states differ by {d}"
            );
        }
        let d = max_abs_diff(&to_vec(lm.lm_logits(h)), &floats(&logits[i]));
        assert!(d < 1e-4, "{what}: sequence {i}: logits differ by {d}");
    }
}

fn read_tensors(path: &Path) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let data = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&data).unwrap();
    let mut out: Vec<_> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| {
            let f: Vec<f32> = v
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (n, v.shape().to_vec(), f)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn peft_loading_our_export_computes_what_we_compute() {
    for (fam, model) in FAMILIES {
        let g = golden(fam);
        for method in METHODS {
            let what = format!("{fam} {method}");
            let loaded = adapted(fam, model, method);
            // Ours, with the adapter applied, against peft's of the committed export.
            let p = &g["peft_export"][method];
            check_outputs(&loaded.model, &g, Some(&p["hidden"]), &p["logits"], &what);
            // The export made now is the committed one that peft read.
            let out = tmp(&format!("export-{fam}-{method}"));
            let name = format!("tests/fixtures/{model}");
            let e = peft::export::export(&loaded, &base(model), &name, &out).unwrap();
            assert_eq!(e.rank, 4, "{what}");
            let committed = fixture(&format!("peft/{fam}-{method}-peft"));
            for file in [peft::export::WEIGHTS, peft::export::HEADS] {
                let (a, b) = (
                    read_tensors(&out.join(file)),
                    read_tensors(&committed.join(file)),
                );
                assert_eq!(a.len(), b.len(), "{what}: {file}");
                for ((na, sa, va), (nb, sb, vb)) in a.iter().zip(&b) {
                    assert_eq!((na, sa), (nb, sb), "{what}: {file}");
                    assert!(max_abs_diff(va, vb) < 1e-6, "{what}: {file}: {na}");
                }
            }
            let cfg = |d: &Path| -> serde_json::Value {
                serde_json::from_str(
                    &std::fs::read_to_string(d.join(peft::export::CONFIG)).unwrap(),
                )
                .unwrap()
            };
            assert_eq!(cfg(&out), cfg(&committed), "{what}: adapter_config.json");
            assert_eq!(
                cfg(&out)["fan_in_fan_out"],
                serde_json::json!(fam == "gpt2")
            );
            let _ = std::fs::remove_dir_all(&out);
        }
    }
}

#[test]
fn the_heads_beside_the_export_give_our_class_probabilities() {
    use curlora::train::classify::{self, Reading};
    for (fam, model) in FAMILIES {
        let g = golden(fam);
        for method in METHODS {
            let loaded = adapted(fam, model, method);
            let info = loaded
                .meta
                .heads_info
                .clone()
                .expect("saved by curlora run");
            assert_eq!(
                info.labels,
                vec![vec!["no".to_string(), "yes".to_string()]; 2]
            );
            let reading = Reading {
                max_len: 64,
                pair: Default::default(),
                pooling: info.pooling,
            };
            let data: Vec<_> = g["sequences"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| curlora::train::batch::Encoded {
                    ids: ids(s),
                    label: 0,
                })
                .collect();
            let _ = reading;
            for (task, head) in &loaded.heads {
                let p = curlora::core::runtime::block_on(classify::probabilities(
                    &loaded.model,
                    head,
                    &data,
                    info.pooling,
                    8,
                ))
                .unwrap();
                let want = &g["heads"][method][task];
                for (i, row) in p.iter().enumerate() {
                    let d = max_abs_diff(row, &floats(&want[i]));
                    assert!(d < 1e-5, "{fam} {method} {task}: sequence {i}: {d}");
                }
            }
        }
    }
}

#[test]
fn a_merged_folder_gives_transformers_our_logits() {
    for (fam, model) in FAMILIES {
        let g = golden(fam);
        for method in METHODS {
            let loaded = adapted(fam, model, method);
            let out = tmp(&format!("merge-{fam}-{method}"));
            let m = merge::merge(loaded.model, &fixture(model), &out).unwrap();
            assert!(m.modules > 0);
            assert_eq!(m.dtype, "F32", "the fixture is stored in f32");
            let merged = LanguageModel::load(&out, &Device::flex()).unwrap();
            // Ours of the merged folder against transformers' of the folder the script merged.
            check_outputs(
                &merged,
                &g,
                None,
                &g["merged"][method],
                &format!("{fam} {method} merged"),
            );
            for f in ["config.json", "tokenizer.json"] {
                assert!(out.join(f).exists(), "{f}");
            }
            let _ = std::fs::remove_dir_all(&out);
        }
    }
}

#[test]
fn a_merge_keeps_the_sources_dtype() {
    // tiny-llama-untied is stored in bf16 shards: its merge is one bf16 file.
    let b = base("tiny-llama-untied");
    let mut cfg = curlora::adapters::AdapterConfig::new(curlora::adapters::Method::Lora, 2, 3);
    cfg.targets = vec!["q_proj".into()];
    let (lm, _) = b.with_adapters(&cfg).unwrap();
    let out = tmp("merge-bf16");
    let m = merge::merge(lm, &fixture("tiny-llama-untied"), &out).unwrap();
    assert_eq!(m.dtype, "BF16");
    let data = std::fs::read(out.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&data).unwrap();
    assert!(
        st.tensors()
            .iter()
            .all(|(_, v)| v.dtype() == safetensors::Dtype::BF16)
    );
    assert!(
        st.names().contains(&"lm_head.weight"),
        "the untied head is kept"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_lora_made_by_peft_imports_to_peft_s_logits() {
    for (fam, model) in FAMILIES {
        let g = golden(fam);
        let imp = peft::import::import(&fixture(&format!("peft/{fam}-peft-made")), base(model), 0)
            .unwrap();
        assert!(imp.modules > 0);
        check_outputs(
            &imp.model,
            &g,
            None,
            &g["peft_made"],
            &format!("{fam} peft-made"),
        );
        // Saved as our adapter, it loads back to the same model.
        let out = tmp(&format!("import-{fam}"));
        let path = out.join("imported.safetensors");
        let b = base(model);
        let hash = b.weights_hash().to_string();
        store::save(&path, &imp.model, &imp.config, &hash, &[]).unwrap();
        let back = store::load(&path, b, &hash).unwrap();
        check_outputs(
            &back.model,
            &g,
            None,
            &g["peft_made"],
            &format!("{fam} peft-made reloaded"),
        );
        let _ = std::fs::remove_dir_all(&out);
    }
}

/// A copy of a PEFT folder with `edit` applied to its config.
fn edited(fam: &str, name: &str, edit: impl Fn(&mut serde_json::Value)) -> PathBuf {
    let src = fixture(&format!("peft/{fam}-peft-made"));
    let out = tmp(name);
    for f in [peft::export::CONFIG, peft::export::WEIGHTS] {
        std::fs::copy(src.join(f), out.join(f)).unwrap();
    }
    let p = out.join(peft::export::CONFIG);
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&p, v.to_string()).unwrap();
    out
}

#[test]
fn unsupported_peft_adapters_are_refused_by_name() {
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "dora",
            Box::new(|v| v["use_dora"] = true.into()),
            "use_dora",
        ),
        ("bias", Box::new(|v| v["bias"] = "all".into()), "`bias`"),
        (
            "rank-pattern",
            Box::new(|v| v["rank_pattern"] = serde_json::json!({"q_proj": 8})),
            "rank_pattern",
        ),
        (
            "save",
            Box::new(|v| v["modules_to_save"] = serde_json::json!(["score"])),
            "modules_to_save",
        ),
        (
            "ia3",
            Box::new(|v| v["peft_type"] = "IA3".into()),
            "only LORA",
        ),
        (
            "layers",
            Box::new(|v| v["layers_to_transform"] = serde_json::json!([0])),
            "layers_to_transform",
        ),
    ];
    for (name, edit, want) in cases {
        let dir = edited("llama", name, edit);
        let e = peft::import::import(&dir, base("tiny-llama"), 0)
            .err()
            .expect(name)
            .to_string();
        assert!(
            e.contains(want) && e.contains("adapter_config.json"),
            "{name}: {e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    // A rank in the config that the tensors do not have names the tensor.
    let dir = edited("gpt2", "rank", |v| v["r"] = 8.into());
    let e = peft::import::import(&dir, base("tiny-gpt2"), 0)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("lora_A.weight") && e.contains("expected [8, 32]"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    // A GPT-2 adapter onto a Llama names the first key that has no module there.
    let e = peft::import::import(&fixture("peft/gpt2-peft-made"), base("tiny-llama"), 0)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("no such module") && e.contains("transformer.h.0.attn.c_attn.lora_A.weight"),
        "{e}"
    );
}

#[test]
fn methods_without_a_low_rank_form_are_refused_with_the_way_out() {
    for (method, want) in [("full", "curlora merge"), ("frozen", "only its task heads")] {
        let b = base("tiny-gpt2");
        let hash = b.weights_hash().to_string();
        let m: curlora::adapters::Method = method.parse().unwrap();
        let cfg = curlora::adapters::AdapterConfig::new(m, 4, 1);
        let (lm, _) = b.with_adapters(&cfg).unwrap();
        let dir = tmp(&format!("refuse-{method}"));
        let path = dir.join("a.safetensors");
        store::save(&path, &lm, &cfg, &hash, &[]).unwrap();
        let loaded = store::load(&path, base("tiny-gpt2"), &hash).unwrap();
        let Err(e) = peft::export::export(&loaded, &base("tiny-gpt2"), "x", &dir.join("out"))
        else {
            panic!("{method}: exported");
        };
        let e = e.to_string();
        assert!(e.contains(want), "{method}: {e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// PiSSA trains on a residual `W − s·A₀·B₀`: its export is the rank-2r LoRA `[A, A₀]·[B; −B₀]`
/// on the original weights, which read back (`import-peft`) onto the original base computes
/// what the PiSSA model computes.
#[test]
fn pissa_exports_as_a_rank_2r_lora_on_the_original_weights() {
    use curlora::adapters::{AdapterConfig, Method, pissa::Pissa};
    let device = Device::flex();
    for (fam, model) in FAMILIES {
        let mut cfg = AdapterConfig::new(Method::Pissa, 3, 5);
        cfg.targets = vec![
            if fam == "gpt2" {
                "attn.c_attn"
            } else {
                "q_proj"
            }
            .into(),
        ];
        let b = base(model);
        let hash = b.weights_hash().to_string();
        let (mut lm, _) = b.with_adapters(&cfg).unwrap();
        // As if trained: A and B moved away from their start.
        let mut rng = curlora::core::rng::Rng::new(9);
        for (_, layer) in lm.modules_mut() {
            if let Some(p) = layer.adapter_as_mut::<Pissa>() {
                let [n_in, r] = p.lora.a.val().dims();
                let [_, n_out] = p.lora.b.val().dims();
                let a =
                    p.lora
                        .a
                        .val()
                        .add(common::random_tensor(&mut rng, [n_in, r], 0.2, &device));
                let b =
                    p.lora
                        .b
                        .val()
                        .add(common::random_tensor(&mut rng, [r, n_out], 0.2, &device));
                p.lora.a = burn::module::Param::from_tensor(a);
                p.lora.b = burn::module::Param::from_tensor(b);
            }
        }
        let dir = tmp(&format!("pissa-{fam}"));
        let path = dir.join("pissa.safetensors");
        store::save(&path, &lm, &cfg, &hash, &[]).unwrap();
        let loaded = store::load(&path, base(model), &hash).unwrap();
        let e = peft::export::export(&loaded, &base(model), "x", &dir.join("peft")).unwrap();
        assert_eq!(e.rank, 6, "{fam}: 2r");
        let back = peft::import::import(&dir.join("peft"), base(model), 0).unwrap();
        let x = ids_tensor(&[vec![3, 41, 7, 200, 12, 99, 5]], &device);
        let (want, got) = (
            to_vec(loaded.model.logits(x.clone())),
            to_vec(back.model.logits(x.clone())),
        );
        let moved = max_abs_diff(&want, &to_vec(base(model).logits(x)));
        assert!(
            moved > 1e-2,
            "{fam}: the adapter changes the logits ({moved})"
        );
        let d = max_abs_diff(&want, &got);
        assert!(
            d < 1e-4,
            "{fam}: PiSSA vs its export on the original weights: {d}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
