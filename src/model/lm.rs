//! One type for every supported language model, so that the engine, the evaluation, the CLI and
//! the apps take GPT-2 and Llama-family checkpoints alike.
//!
//! The family comes from `config.json`'s `model_type` (`gpt2`, `llama`, `mistral`); a `.gguf`
//! file is first imported into an HF-style folder in the user's cache (see
//! [`super::gguf::import`]) and then loaded like any other folder.

use super::HostWeights;
use super::gpt2::{self, Gpt2};
use super::llama::{self, Llama};
use super::weights::Checkpoint;
use crate::adapters::{AdaptedLinear, AdapterConfig, CurSelection, Method};
use crate::core::error::{Error, Result};
use burn::module::Module;
use burn::tensor::{Device, Int, Tensor};
use std::path::{Path, PathBuf};

#[derive(Module, Debug)]
pub enum LanguageModel {
    Gpt2(Gpt2),
    Llama(Llama),
}

/// Which architecture a folder holds, from `config.json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Gpt2,
    Llama,
}

/// Reads `model_type` from `dir/config.json` (a missing `model_type` means GPT-2, as in the
/// oldest hub checkpoints).
pub fn family(dir: &Path) -> Result<Family> {
    let path = dir.join("config.json");
    let text = crate::core::fsutil::read_to_string(&path)?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::format(&path, format!("not valid JSON: {e}")))?;
    match json.get("model_type").and_then(|t| t.as_str()) {
        None | Some("gpt2") => Ok(Family::Gpt2),
        Some("llama" | "mistral") => Ok(Family::Llama),
        Some(other) => Err(Error::format(
            &path,
            format!(
                "model_type is `{other}`; supported: gpt2, llama, mistral \
                 (Llama-architecture models such as SmolLM2 have model_type llama)"
            ),
        )),
    }
}

/// The folder to load for `path`: the folder itself, or for a `.gguf` file the HF-style
/// folder it imports to (made once, then reused from the cache).
pub fn resolve(path: &Path) -> Result<PathBuf> {
    if path.extension().and_then(|e| e.to_str()) != Some("gguf") {
        return Ok(path.to_path_buf());
    }
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let stamp = format!(
        "{}:{}:{:?}",
        std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display(),
        meta.len(),
        meta.modified().ok()
    );
    let key = {
        use sha2::{Digest, Sha256};
        format!("{:x}", Sha256::digest(stamp.as_bytes()))
    };
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = crate::core::embedded::cache_root().join(format!("gguf-{stem}-{}", &key[..12]));
    // `import` writes config.json last, so a folder that has one is complete.
    if dir.join("config.json").exists() {
        return Ok(dir);
    }
    // Import into a private folder and move it into place, so that concurrent loads (threads or
    // processes) never see, or write into, a half-imported folder.
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if dir.join("config.json").exists() {
        return Ok(dir);
    }
    let tmp = dir.with_file_name(format!(
        ".{}.tmp-{}",
        dir.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    super::gguf::import(path, &tmp)?;
    if std::fs::rename(&tmp, &dir).is_err() {
        // Another process finished first (or left a broken folder behind): use or replace it.
        if !dir.join("config.json").exists() {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::rename(&tmp, &dir).map_err(|e| Error::write(&dir, e))?;
        } else {
            let _ = std::fs::remove_dir_all(&tmp);
        }
    }
    Ok(dir)
}

impl LanguageModel {
    /// Loads an HF model folder (GPT-2, Llama or Mistral) or a `.gguf` file.
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let dir = resolve(path)?;
        match family(&dir)? {
            Family::Gpt2 => Ok(Self::Gpt2(Gpt2::load(&dir, device)?)),
            Family::Llama => Ok(Self::Llama(Llama::load(&dir, device)?)),
        }
    }

    /// The same architecture with the weights of `ckpt` (a full fine-tune's saved weights).
    pub fn with_weights(&self, ckpt: &Checkpoint, device: &Device) -> Result<Self> {
        Ok(match self {
            Self::Gpt2(m) => Self::Gpt2(Gpt2::from_checkpoint(m.config.clone(), ckpt, device)?),
            Self::Llama(m) => Self::Llama(Llama::from_checkpoint(m.config.clone(), ckpt, device)?),
        })
    }

    pub fn family(&self) -> Family {
        match self {
            Self::Gpt2(_) => Family::Gpt2,
            Self::Llama(_) => Family::Llama,
        }
    }

    /// Short architecture name for reports.
    pub fn arch(&self) -> &'static str {
        match self {
            Self::Gpt2(_) => "gpt2",
            Self::Llama(m) if m.config.model_type.as_deref() == Some("mistral") => "mistral",
            Self::Llama(_) => "llama",
        }
    }

    pub fn hidden(&self, ids: Tensor<2, Int>, keep: Option<Tensor<2>>) -> Tensor<3> {
        match self {
            Self::Gpt2(m) => m.hidden(ids, keep),
            Self::Llama(m) => m.hidden(ids, keep),
        }
    }

    pub fn lm_logits(&self, hidden: Tensor<3>) -> Tensor<3> {
        match self {
            Self::Gpt2(m) => m.lm_logits(hidden),
            Self::Llama(m) => m.lm_logits(hidden),
        }
    }

    pub fn logits(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        self.lm_logits(self.hidden(ids, None))
    }

    /// Mean next-token cross-entropy over all positions of `ids` (HF's `labels=input_ids`).
    pub fn lm_loss(&self, ids: Tensor<2, Int>) -> Tensor<1> {
        super::next_token_loss(self.logits(ids.clone()), ids)
    }

    pub fn with_adapters(
        self,
        config: &AdapterConfig,
    ) -> Result<(Self, Vec<(String, CurSelection)>)> {
        self.with_adapters_host(config, &HostWeights::new())
    }

    /// [`with_adapters`](Self::with_adapters) with host copies of the weights CUR selects from
    /// (see [`target_weights`](Self::target_weights)).
    pub fn with_adapters_host(
        self,
        config: &AdapterConfig,
        host: &HostWeights,
    ) -> Result<(Self, Vec<(String, CurSelection)>)> {
        Ok(match self {
            Self::Gpt2(m) => {
                let (m, s) = m.with_adapters_host(config, host)?;
                (Self::Gpt2(m), s)
            }
            Self::Llama(m) => {
                let (m, s) = m.with_adapters_host(config, host)?;
                (Self::Llama(m), s)
            }
        })
    }

    /// Host copies (`[in, out]` as stored) of the weights a CURLoRA adapter under `config` draws
    /// its columns and rows from, read asynchronously: nothing for other methods, and only the
    /// targeted modules (a 7B model is never copied whole).
    pub async fn target_weights(&self, config: &AdapterConfig) -> Result<HostWeights> {
        let mut out = HostWeights::new();
        if config.method != Method::CurLora {
            return Ok(out);
        }
        for (path, layer) in self.modules() {
            let targeted = match self {
                Self::Gpt2(_) => Gpt2::is_target(&path, config),
                Self::Llama(_) => Llama::is_target(&path, config),
            };
            if targeted {
                let w = crate::core::runtime::read_f32(layer.weight.val()).await?;
                out.insert(path, w);
            }
        }
        Ok(out)
    }

    pub fn module(&self, path: &str) -> Result<&AdaptedLinear> {
        match self {
            Self::Gpt2(m) => m.module(path),
            Self::Llama(m) => m.module(path),
        }
    }

    pub fn modules(&self) -> Vec<(String, &AdaptedLinear)> {
        match self {
            Self::Gpt2(m) => m.modules(),
            Self::Llama(m) => m.modules(),
        }
    }

    pub fn modules_mut(&mut self) -> Vec<(String, &mut AdaptedLinear)> {
        match self {
            Self::Gpt2(m) => m.modules_mut(),
            Self::Llama(m) => m.modules_mut(),
        }
    }

    /// Trained parameters under the current adapters (heads excluded, as in the paper).
    pub fn trainable_params(&self, method: Method) -> usize {
        match method {
            Method::Full => self.num_params(),
            _ => self
                .modules()
                .iter()
                .map(|(_, m)| m.trainable_params(false))
                .sum(),
        }
    }

    pub fn named_tensors(&self) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        match self {
            Self::Gpt2(m) => m.named_tensors(),
            Self::Llama(m) => m.named_tensors(),
        }
    }

    pub fn weights_hash(&self) -> &str {
        match self {
            Self::Gpt2(m) => &m.weights_hash,
            Self::Llama(m) => &m.weights_hash,
        }
    }

    /// Width of the hidden states the classification heads read.
    pub fn hidden_size(&self) -> usize {
        match self {
            Self::Gpt2(m) => m.config.n_embd,
            Self::Llama(m) => m.config.hidden_size,
        }
    }

    pub fn vocab_size(&self) -> usize {
        match self {
            Self::Gpt2(m) => m.config.vocab_size,
            Self::Llama(m) => m.config.vocab_size,
        }
    }

    /// The longest sequence one forward pass takes.
    pub fn max_positions(&self) -> usize {
        match self {
            Self::Gpt2(m) => m.config.n_positions,
            Self::Llama(m) => m.config.max_position_embeddings,
        }
    }

    /// The id used to pad classification batches (end-of-text for GPT-2, pad or EOS else).
    pub fn pad_id(&self) -> u32 {
        match self {
            Self::Gpt2(m) => m.config.eos_token_id.unwrap_or(0),
            Self::Llama(m) => m.config.eos_id().unwrap_or(0),
        }
    }

    pub fn num_layers(&self) -> usize {
        match self {
            Self::Gpt2(m) => m.config.n_layer,
            Self::Llama(m) => m.config.num_hidden_layers,
        }
    }

    /// The module names adapters can target on this architecture.
    pub fn target_modules(&self) -> &'static [&'static str] {
        match self {
            Self::Gpt2(_) => &gpt2::TARGET_MODULES,
            Self::Llama(_) => &llama::TARGET_MODULES,
        }
    }

    pub fn device(&self) -> Device {
        match self {
            Self::Gpt2(m) => m.wte.val().device(),
            Self::Llama(m) => m.embed_tokens.val().device(),
        }
    }
}
