//! What a model family provides, so that attaching adapters ([`super::attach`]), saving,
//! evaluating and training are written once for all of them.
//!
//! A family (GPT-2, Llama) implements [`Architecture`] in its folder and is listed once in
//! [`super::lm`]; [`LanguageModel`](super::LanguageModel) then dispatches to it.

use super::HostWeights;
use super::weights::Checkpoint;
use crate::adapters::{AdaptedLinear, AdapterConfig, CurSelection, Method};
use crate::core::error::Result;
use burn::module::Module;
use burn::tensor::{Device, Int, Tensor};
use std::path::Path;

/// Adapter selections by module path, in module order.
pub type Selections = Vec<(String, CurSelection)>;

/// One model family: its forward pass, its adaptable linear modules by path, and its loading.
///
/// The methods without `Self: Sized` are dyn-compatible, so [`LanguageModel`] reaches them
/// through one `&dyn Architecture`.
///
/// [`LanguageModel`]: super::LanguageModel
pub trait Architecture {
    /// `config.json` `model_type`s this family loads (the first is its report name).
    fn model_types() -> &'static [&'static str]
    where
        Self: Sized;

    /// Loads the family's HF model folder.
    fn load(dir: &Path, device: &Device) -> Result<Self>
    where
        Self: Sized;

    /// The same architecture with the weights of `ckpt` (a full fine-tune's saved weights).
    fn with_weights(&self, ckpt: &Checkpoint, device: &Device) -> Result<Self>
    where
        Self: Sized;

    /// Sets whether the weights outside the adaptable modules (embeddings, norms, LM head)
    /// train: a full fine-tune trains them.
    fn with_base_trainable(self, trainable: bool) -> Self
    where
        Self: Sized;

    /// Final hidden states: `ids: [B, T]` → `[B, T, D]`. `keep` marks real tokens (1) and right
    /// padding (0), `[B, T]`; padded keys are masked out of attention.
    fn hidden(&self, ids: Tensor<2, Int>, keep: Option<Tensor<2>>) -> Tensor<3>;

    /// [`hidden`](Self::hidden) of `ids` continuing what `cache` holds (positions `len..len+T`,
    /// no padding), appending this pass's keys and values to it: incremental decoding.
    fn hidden_cached(&self, ids: Tensor<2, Int>, cache: &mut super::KvCache) -> Tensor<3>;

    /// The id that ends a generated text, if the config names one.
    fn eos_id(&self) -> Option<u32>;

    /// LM logits for hidden states: `[B, T, D]` → `[B, T, vocab]`.
    fn lm_logits(&self, hidden: Tensor<3>) -> Tensor<3>;

    /// Every adaptable linear module with its path, in block order.
    fn modules(&self) -> Vec<(String, &AdaptedLinear)>;

    /// [`modules`](Self::modules), mutably (attaching and loading adapters).
    fn modules_mut(&mut self) -> Vec<(String, &mut AdaptedLinear)>;

    /// The module at `path` (the family's path syntax), or an error naming the valid paths.
    fn module(&self, path: &str) -> Result<&AdaptedLinear>;

    /// The module names adapters can target.
    fn target_modules(&self) -> &'static [&'static str];

    /// Accepts the module names this family has; anything else is an error listing them.
    fn check_targets(&self, targets: &[String]) -> Result<()>;

    /// Whether `config` targets the module at `path`.
    fn is_target(&self, path: &str, config: &AdapterConfig) -> bool;

    /// Every base weight under its HF name, so that a saved set loads back.
    fn named_tensors(&self) -> Vec<(String, Vec<usize>, Vec<f32>)>;

    /// SHA-256 over the base weights as loaded: adapters record it so they are never applied to
    /// other weights.
    fn weights_hash(&self) -> &str;

    fn set_weights_hash(&mut self, hash: String);

    /// What transformers' `…ForCausalLM` puts before a module path (`transformer.` for GPT-2,
    /// `model.` for Llama): PEFT's keys and merged checkpoints name modules with it.
    fn hf_prefix(&self) -> &'static str;

    /// Short architecture name for reports (`gpt2`, `llama`, `mistral`).
    fn arch(&self) -> &'static str;

    /// Width of the hidden states the classification heads read.
    fn hidden_size(&self) -> usize;

    fn vocab_size(&self) -> usize;

    /// The longest sequence one forward pass takes.
    fn max_positions(&self) -> usize;

    /// The id used to pad classification batches.
    fn pad_id(&self) -> u32;

    fn num_layers(&self) -> usize;

    fn device(&self) -> Device;

    fn logits(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        self.lm_logits(self.hidden(ids, None))
    }

    /// Mean next-token cross-entropy over all positions of `ids` (HF's `labels=input_ids`).
    fn lm_loss(&self, ids: Tensor<2, Int>) -> Tensor<1> {
        super::next_token_loss(self.logits(ids.clone()), ids)
    }

    /// Attaches adapters to the target modules and sets which parameters train. Returns the
    /// CUR selections by module path (empty for other methods).
    fn with_adapters(self, config: &AdapterConfig) -> Result<(Self, Selections)>
    where
        Self: Sized + Module,
    {
        super::attach::adapt(self, config, &HostWeights::new())
    }

    /// [`with_adapters`](Self::with_adapters) with the weights CUR selects from already on the
    /// host (by module path); modules missing from `host` are read back synchronously.
    fn with_adapters_host(
        self,
        config: &AdapterConfig,
        host: &HostWeights,
    ) -> Result<(Self, Selections)>
    where
        Self: Sized + Module,
    {
        super::attach::adapt(self, config, host)
    }

    /// Trained parameters under the current adapters (heads excluded, as in the paper's
    /// counts); for a method that trains the base weights, every weight of the model.
    fn trainable_params(&self, method: Method) -> usize
    where
        Self: Sized + Module,
    {
        super::attach::trainable_params(self, method)
    }
}
