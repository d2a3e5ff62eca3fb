//! Adapters: CURLoRA, LoRA and full fine-tuning, attached to named linear modules.

pub mod cur;
pub mod curlora;
pub mod linear;
pub mod lora;

pub use cur::{CurSelection, SelectionConfig, SelectionMode};
pub use curlora::CurPath;
pub use linear::AdaptedLinear;
pub use lora::LoraScaling;

use serde::{Deserialize, Serialize};

/// How a model is fine-tuned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// `W + α·C·U·R`, only `U` trained.
    #[value(name = "curlora")]
    CurLora,
    /// `W + s·A·B`, `A` and `B` trained.
    Lora,
    /// Every weight trained.
    Full,
    /// Nothing trained (the base model).
    Frozen,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::CurLora => "curlora",
            Method::Lora => "lora",
            Method::Full => "full",
            Method::Frozen => "frozen",
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
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

/// Trainable parameters of one adapted `[in, out]` matrix: `r²` for CURLoRA, `r·(in + out)`
/// for LoRA, `in·out + out` (weight and bias) for a full fine-tune, 0 when frozen.
pub fn trainable_params_for(method: Method, rank: usize, shape: [usize; 2]) -> usize {
    let [n_in, n_out] = shape;
    match method {
        Method::CurLora => rank * rank,
        Method::Lora => rank * (n_in + n_out),
        Method::Full => n_in * n_out + n_out,
        Method::Frozen => 0,
    }
}
