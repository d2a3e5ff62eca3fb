//! The fixtures of `tests/fixtures/make_peft_fixtures.py` (tests/peft.rs, tests/generate.rs).

use super::fixture;
use burn::tensor::Device;
use curlora::model::{LanguageModel, store};

/// The tiny fixture models, by family.
pub const FAMILIES: [(&str, &str); 2] = [("gpt2", "tiny-gpt2"), ("llama", "tiny-llama")];

/// `peft/<fam>-golden.json`: what transformers + peft computed.
pub fn golden(fam: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixture(&format!("peft/{fam}-golden.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

pub fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

pub fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// A fixture model on Flex.
pub fn base(model: &str) -> LanguageModel {
    LanguageModel::load(&fixture(model), &Device::flex()).unwrap()
}

/// `peft/<fam>-<method>.safetensors` (trained by `curlora run`) on its fixture model.
pub fn adapted(fam: &str, model: &str, method: &str) -> store::Loaded {
    let b = base(model);
    let hash = b.weights_hash().to_string();
    store::load(
        &fixture(&format!("peft/{fam}-{method}.safetensors")),
        b,
        &hash,
    )
    .unwrap()
}
