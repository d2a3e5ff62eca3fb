//! `tokenizer.json` through our loader (padding and truncation switched off), then an encode
//! and a decode of a fixed text. The tokenizers crate panics on some malformed files;
//! `load_tokenizer` catches those (tests/fuzz_regressions.rs), so they may unwind here.
#![no_main]

#[path = "common.rs"]
mod common;

use curlora::model::load_tokenizer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    common::let_unwind_panics_from("/tokenizers-");
    let dir = common::scratch().join("tok");
    std::fs::create_dir_all(&dir).expect("scratch");
    std::fs::write(dir.join("tokenizer.json"), data).expect("scratch");
    let Ok(tok) = load_tokenizer(&dir) else {
        return;
    };
    if let Ok(enc) = tok.encode("Hello, world! The café isn't open.", false) {
        let _ = tok.decode(enc.get_ids(), false);
    }
});
