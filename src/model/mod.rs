//! Language models and their tokenizers, loaded from HF model folders.

pub mod config;
pub mod gpt2;
pub mod weights;

pub use config::Gpt2Config;
pub use gpt2::Gpt2;

use crate::error::{Error, Result};
use std::path::Path;
use tokenizers::Tokenizer;

/// Loads `tokenizer.json` from a model folder.
pub fn load_tokenizer(dir: &Path) -> Result<Tokenizer> {
    let path = dir.join("tokenizer.json");
    if !path.exists() {
        return Err(Error::io(
            &path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "file not found"),
        ));
    }
    Tokenizer::from_file(&path)
        .map_err(|e| Error::format(&path, format!("not a valid tokenizers file: {e}")))
}

/// Token ids of `text` as is (no special tokens added), as `tokenizer(text)` does for GPT-2.
pub fn encode(tokenizer: &Tokenizer, text: &str, source: &Path) -> Result<Vec<u32>> {
    let enc = tokenizer
        .encode(text, false)
        .map_err(|e| Error::format(source, format!("tokenization failed: {e}")))?;
    Ok(enc.get_ids().to_vec())
}
