//! One type for every supported language model, so that the engine, the evaluation, the CLI and
//! the apps take GPT-2 and Llama-family checkpoints alike.
//!
//! The family comes from `config.json`'s `model_type` (`gpt2`, `llama`, `mistral`); a `.gguf`
//! file is first imported into an HF-style folder in the user's cache (see
//! [`super::gguf::import`]) and then loaded like any other folder.

use super::HostWeights;
use super::arch::{Architecture, Selections};
use super::gpt2::Gpt2;
use super::llama::Llama;
use super::weights::Checkpoint;
use crate::adapters::{AdaptedLinear, AdapterConfig, Method};
use crate::core::error::{Error, Result};
use burn::module::Module;
use burn::tensor::{Device, Int, Tensor};
use std::path::{Path, PathBuf};

/// Declares the model families: a [`LanguageModel`] and a [`Family`] variant for each, and
/// everything that needs the concrete type (loading, attaching). Every other method goes
/// through [`LanguageModel::architecture`].
macro_rules! families {
    ($($family:ident($ty:ty)),+ $(,)?) => {
        #[derive(Module, Debug)]
        pub enum LanguageModel {
            $($family($ty),)+
        }

        /// Which architecture a folder holds, from `config.json`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Family {
            $($family,)+
        }

        impl Family {
            /// Every family with the `model_type`s it loads, in registry order.
            fn all() -> Vec<(Family, &'static [&'static str])> {
                vec![$((Family::$family, <$ty as Architecture>::model_types()),)+]
            }
        }

        impl LanguageModel {
            /// The model as its family's [`Architecture`].
            pub fn architecture(&self) -> &dyn Architecture {
                match self {
                    $(Self::$family(m) => m,)+
                }
            }

            pub fn architecture_mut(&mut self) -> &mut dyn Architecture {
                match self {
                    $(Self::$family(m) => m,)+
                }
            }

            pub fn family(&self) -> Family {
                match self {
                    $(Self::$family(_) => Family::$family,)+
                }
            }

            fn load_family(family: Family, dir: &Path, device: &Device) -> Result<Self> {
                match family {
                    $(Family::$family => Ok(Self::$family(<$ty as Architecture>::load(dir, device)?)),)+
                }
            }

            /// The same architecture with the weights of `ckpt` (a full fine-tune's saved
            /// weights).
            pub fn with_weights(&self, ckpt: &Checkpoint, device: &Device) -> Result<Self> {
                match self {
                    $(Self::$family(m) => Ok(Self::$family(m.with_weights(ckpt, device)?)),)+
                }
            }

            /// [`with_adapters`](Self::with_adapters) with host copies of the weights CUR
            /// selects from (see [`target_weights`](Self::target_weights)).
            pub fn with_adapters_host(
                self,
                config: &AdapterConfig,
                host: &HostWeights,
            ) -> Result<(Self, Selections)> {
                match self {
                    $(Self::$family(m) => {
                        let (m, s) = super::attach::adapt(m, config, host)?;
                        Ok((Self::$family(m), s))
                    })+
                }
            }
        }
    };
}

// The registry of families: one line each.
families! {
    Gpt2(Gpt2),
    Llama(Llama),
}

/// Reads `model_type` from `dir/config.json` (a missing `model_type` means GPT-2, as in the
/// oldest hub checkpoints).
pub fn family(dir: &Path) -> Result<Family> {
    let path = dir.join("config.json");
    let text = crate::core::fsutil::read_to_string(&path)?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::format(&path, format!("not valid JSON: {e}")))?;
    let Some(model_type) = json.get("model_type").and_then(|t| t.as_str()) else {
        return Ok(Family::Gpt2);
    };
    let all = Family::all();
    if let Some((f, _)) = all.iter().find(|(_, types)| types.contains(&model_type)) {
        return Ok(*f);
    }
    let supported: Vec<&str> = all.iter().flat_map(|(_, t)| t.iter().copied()).collect();
    Err(Error::format(
        &path,
        format!(
            "model_type is `{model_type}`; supported: {} \
             (Llama-architecture models such as SmolLM2 have model_type llama)",
            supported.join(", ")
        ),
    ))
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
        Self::load_family(family(&dir)?, &dir, device)
    }

    /// What transformers puts before a module path (`transformer.`, `model.`).
    pub fn hf_prefix(&self) -> &'static str {
        self.architecture().hf_prefix()
    }

    /// Short architecture name for reports.
    pub fn arch(&self) -> &'static str {
        self.architecture().arch()
    }

    pub fn hidden(&self, ids: Tensor<2, Int>, keep: Option<Tensor<2>>) -> Tensor<3> {
        self.architecture().hidden(ids, keep)
    }

    /// Hidden states of `ids` after what `cache` holds, extending it (incremental decoding).
    pub fn hidden_cached(&self, ids: Tensor<2, Int>, cache: &mut super::KvCache) -> Tensor<3> {
        self.architecture().hidden_cached(ids, cache)
    }

    /// The id that ends a generated text, if the config names one.
    pub fn eos_id(&self) -> Option<u32> {
        self.architecture().eos_id()
    }

    pub fn lm_logits(&self, hidden: Tensor<3>) -> Tensor<3> {
        self.architecture().lm_logits(hidden)
    }

    pub fn logits(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        self.architecture().logits(ids)
    }

    /// Mean next-token cross-entropy over all positions of `ids` (HF's `labels=input_ids`).
    pub fn lm_loss(&self, ids: Tensor<2, Int>) -> Tensor<1> {
        self.architecture().lm_loss(ids)
    }

    /// Attaches adapters to the target modules and sets which parameters train. Returns the
    /// CUR selections by module path (empty for other methods).
    pub fn with_adapters(self, config: &AdapterConfig) -> Result<(Self, Selections)> {
        self.with_adapters_host(config, &HostWeights::new())
    }

    /// Host copies (`[in, out]` as stored) of the weights a CURLoRA adapter under `config` draws
    /// its columns and rows from, read asynchronously: nothing for other methods, and only the
    /// targeted modules (a 7B model is never copied whole).
    pub async fn target_weights(&self, config: &AdapterConfig) -> Result<HostWeights> {
        super::attach::target_weights(self.architecture(), config).await
    }

    pub fn module(&self, path: &str) -> Result<&AdaptedLinear> {
        self.architecture().module(path)
    }

    pub fn modules(&self) -> Vec<(String, &AdaptedLinear)> {
        self.architecture().modules()
    }

    pub fn modules_mut(&mut self) -> Vec<(String, &mut AdaptedLinear)> {
        self.architecture_mut().modules_mut()
    }

    /// Trained parameters under the current adapters (heads excluded, as in the paper).
    pub fn trainable_params(&self, method: Method) -> usize {
        if method.trains_base() {
            self.num_params()
        } else {
            super::attach::adapter_params(self.architecture())
        }
    }

    /// The extra training-loss term of the adapters, if any: the hook for a method with a
    /// penalty (O-LoRA's orthogonality term); the engine's step adds it to the task loss.
    pub fn adapter_loss(&self) -> Option<Tensor<1>> {
        super::attach::adapter_loss(self.architecture())
    }

    /// Tells every adapter that a task starts: the hook for per-task adapters (O-LoRA). The
    /// engine calls it before each task; adapter loading replays it.
    pub fn start_task(&mut self, task: usize) {
        super::attach::start_task(self.architecture_mut(), task)
    }

    pub fn named_tensors(&self) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        self.architecture().named_tensors()
    }

    /// Ties the model to other base weights' hash (a full fine-tune stays tied to its base).
    pub fn set_weights_hash(&mut self, hash: String) {
        self.architecture_mut().set_weights_hash(hash)
    }

    pub fn weights_hash(&self) -> &str {
        self.architecture().weights_hash()
    }

    /// Width of the hidden states the classification heads read.
    pub fn hidden_size(&self) -> usize {
        self.architecture().hidden_size()
    }

    pub fn vocab_size(&self) -> usize {
        self.architecture().vocab_size()
    }

    /// The longest sequence one forward pass takes.
    pub fn max_positions(&self) -> usize {
        self.architecture().max_positions()
    }

    /// The id used to pad classification batches (end-of-text for GPT-2, pad or EOS else).
    pub fn pad_id(&self) -> u32 {
        self.architecture().pad_id()
    }

    pub fn num_layers(&self) -> usize {
        self.architecture().num_layers()
    }

    /// The module names adapters can target on this architecture.
    pub fn target_modules(&self) -> &'static [&'static str] {
        self.architecture().target_modules()
    }

    pub fn device(&self) -> Device {
        self.architecture().device()
    }
}
