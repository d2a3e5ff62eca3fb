//! GGUF: the reader (header, metadata, tensor infos, bounds), dequantization of every tensor,
//! the embedded tokenizer, and the import into an HF folder.
#![no_main]

#[path = "common.rs"]
mod common;

use curlora::model::gguf::{self, GgufFile};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = GgufFile::from_bytes(Path::new("fuzz.gguf"), data.to_vec()) else {
        return;
    };
    for t in file.tensors() {
        // Bounded by the file (the reader checked every tensor lies within it).
        let _ = file.read_f32(&t.name);
    }
    if let Ok(tok) = gguf::tokenizer(&file) {
        let _ = tok.encode("The quick brown fox", false);
    }
    let path = common::file("in.gguf", data);
    let _ = gguf::import(&path, &common::scratch().join("out"));
});
