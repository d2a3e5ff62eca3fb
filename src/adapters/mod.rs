//! Adapters: CURLoRA, LoRA and full fine-tuning, attached to named linear modules.
//!
//! Every method is one type in its own file implementing [`Kind`] and [`Adapter`] (see
//! [`adapter`]), registered by one line in the `register_methods!` list below; the layer
//! ([`AdaptedLinear`]), the models, the engine, the adapter files and the UI go through
//! [`Method`] and [`AnyAdapter`] only. To add a method `foo`: write `adapters/foo.rs` with a
//! type `Foo: Kind + Adapter` and add the line `foo::Foo,` to the list.

pub mod ablation;
pub mod adapter;
pub mod cur;
pub mod linear;
mod methods;
pub mod svd;
pub mod weight_read;

pub use self::curlora::CurPath;
pub use self::lora::LoraScaling;
pub use ablation::{CurSource, UInit};
pub use adapter::{Adapter, Attach, Kind, LowRank, Snapshot};
pub use cur::{CurSelection, SelectionConfig, SelectionMode};
pub use linear::AdaptedLinear;
pub use methods::Registered;
pub use weight_read::{Reads, WeightRead};

use serde::{Deserialize, Serialize};

// The registry: one line per method, in the order the CLI and the app list them.
methods::register_methods! {
    curlora::CurLora,
    lora::Lora,
    full::Full,
    frozen::Frozen,
    pissa::Pissa,
    milora::Milora,
    olora::OLora,
}

/// Everything that decides an adapter: saved with it so that it can be rebuilt exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdapterConfig {
    pub method: Method,
    pub rank: usize,
    pub alpha: f64,
    /// Module suffixes to adapt, e.g. `attn.c_attn` (GPT-2).
    pub targets: Vec<String>,
    pub seed: u64,
    /// CUR sampling mode.
    pub mode: SelectionMode,
    /// ε of the inverted probabilities.
    pub epsilon: f64,
    /// CUR sampling with replacement (reference) or without.
    pub replacement: bool,
    pub lora_scaling: LoraScaling,
    /// CURLoRA's `U` at the start: `zero` (the method) or `normal:σ` (an ablation).
    #[serde(default)]
    pub u_init: UInit,
    /// CURLoRA's `C` and `R`: `weights` (the method) or `gaussian` (an ablation).
    #[serde(default)]
    pub cur_source: CurSource,
    /// O-LoRA's λ: the weight of its orthogonality penalty (0.5 in the paper).
    #[serde(default = "default_olora_lambda")]
    pub olora_lambda: f64,
}

/// O-LoRA's λ when none is given (serde default for adapter and experiment files).
pub fn default_olora_lambda() -> f64 {
    olora::PAPER_LAMBDA
}

impl AdapterConfig {
    /// The reference code's settings for a method: `attn.c_attn`, α = 1, ε = 0.001, sampling
    /// with replacement, LoRA scaled by α.
    pub fn new(method: Method, rank: usize, seed: u64) -> Self {
        Self {
            method,
            rank,
            alpha: 1.0,
            targets: vec!["attn.c_attn".to_string()],
            seed,
            mode: SelectionMode::Inverted,
            epsilon: 0.001,
            replacement: true,
            lora_scaling: LoraScaling::Reference,
            u_init: UInit::Zero,
            cur_source: CurSource::Weights,
            olora_lambda: default_olora_lambda(),
        }
    }

    pub fn selection_config(&self) -> SelectionConfig {
        SelectionConfig {
            rank: self.rank,
            mode: self.mode,
            epsilon: self.epsilon,
            replacement: self.replacement,
        }
    }
}

/// Trainable parameters of one adapted `[in, out]` matrix with a bias (GPT-2's `Conv1D`):
/// [`Method::trainable_params`] with `bias = true`.
pub fn trainable_params_for(method: Method, rank: usize, shape: [usize; 2]) -> usize {
    method.trainable_params(rank, shape, true)
}

#[cfg(test)]
mod tests;
