//! Adapter files: the header and `curlora` metadata, then the tensors attached to the embedded
//! base model (the seed corpus holds real adapter files of that base, so the fuzzer starts past
//! the base-hash check).
#![no_main]

use curlora::model::LanguageModel;
use curlora::model::store;
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use std::sync::OnceLock;

fn base() -> &'static LanguageModel {
    static BASE: OnceLock<LanguageModel> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = curlora::core::embedded::materialize().expect("embedded files");
        let device = curlora::core::device::cpu().device;
        LanguageModel::load(&dir.join("model"), &device).expect("embedded model")
    })
}

fuzz_target!(|data: &[u8]| {
    let base = base();
    let hash = base.weights_hash().to_string();
    let _ = store::load_bytes(data, Path::new("fuzz.safetensors"), base.clone(), &hash);
});
