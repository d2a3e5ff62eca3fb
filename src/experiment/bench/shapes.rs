//! The model shapes the benchmarks time, with random weights (no checkpoint needed): GPT-2
//! small, the paper's first model family, and SmolLM2-135M, the real Llama-family model the
//! tool is tested on. Each comes with the adapter setting users run on it.

use crate::core::error::Result;
use crate::core::rng::Rng;
use crate::model::weights::Checkpoint;
use crate::model::{Gpt2, Gpt2Config, LanguageModel, Llama, LlamaConfig};
use burn::tensor::Device;
use std::path::Path;

/// A benchmarked model shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BenchModel {
    /// GPT-2 small (124M): 12 layers, d 768, 12 heads, vocab 50,257; adapters on `attn.c_attn`
    /// at r = 8 (the paper's GPT-2 setting).
    #[value(name = "gpt2-small")]
    Gpt2Small,
    /// SmolLM2-135M: 30 layers, d 576, 9 heads (3 key/value heads), SwiGLU 1,536, vocab 49,152,
    /// tied embeddings; adapters on `q_proj k_proj v_proj` at r = 16 (the paper's Mistral
    /// setting).
    #[value(name = "smollm2-135m")]
    Smollm2_135m,
}

impl BenchModel {
    pub const ALL: [BenchModel; 2] = [BenchModel::Gpt2Small, BenchModel::Smollm2_135m];

    /// The name in reports and `--json` lines (`gpt2-small`, `smollm2-135m`).
    pub fn name(self) -> &'static str {
        match self {
            BenchModel::Gpt2Small => "gpt2-small",
            BenchModel::Smollm2_135m => "smollm2-135m",
        }
    }

    /// The adapter rank users run on this model.
    pub fn default_rank(self) -> usize {
        match self {
            BenchModel::Gpt2Small => 8,
            BenchModel::Smollm2_135m => 16,
        }
    }

    /// The modules adapted (the paper's targets for the family).
    pub fn targets(self) -> Vec<String> {
        match self {
            BenchModel::Gpt2Small => vec!["attn.c_attn".into()],
            BenchModel::Smollm2_135m => ["q_proj", "k_proj", "v_proj"].map(String::from).to_vec(),
        }
    }

    /// The shape of the first adapted module, `[in, out]` (for the adapter-path-alone timing).
    pub fn first_target_shape(self) -> [usize; 2] {
        match self {
            BenchModel::Gpt2Small => [768, 2304],
            BenchModel::Smollm2_135m => [576, 576],
        }
    }

    /// A model of this shape with random weights, with `layers` blocks and `vocab` tokens
    /// when given (smaller runs; software GPUs that bind ≤ 128 MiB per buffer).
    pub fn build(
        self,
        layers: Option<usize>,
        vocab: Option<usize>,
        device: &Device,
    ) -> Result<LanguageModel> {
        match self {
            BenchModel::Gpt2Small => {
                let mut c = gpt2_small();
                c.n_layer = layers.unwrap_or(c.n_layer);
                c.vocab_size = vocab.unwrap_or(c.vocab_size);
                let m: Gpt2 = crate::train::pretrain::init_model(&c, 0, device)?;
                Ok(LanguageModel::Gpt2(m))
            }
            BenchModel::Smollm2_135m => {
                let mut c = smollm2_135m();
                c.num_hidden_layers = layers.unwrap_or(c.num_hidden_layers);
                c.vocab_size = vocab.unwrap_or(c.vocab_size);
                Ok(LanguageModel::Llama(random_llama(c, 0, device)?))
            }
        }
    }
}

impl std::fmt::Display for BenchModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// GPT-2 small (124M): 12 layers, d 768, 12 heads, 1024 positions, vocab 50257.
pub fn gpt2_small() -> Gpt2Config {
    Gpt2Config {
        model_type: Some("gpt2".into()),
        vocab_size: 50257,
        n_positions: 1024,
        n_embd: 768,
        n_layer: 12,
        n_head: 12,
        n_inner: None,
        activation_function: "gelu_new".into(),
        layer_norm_epsilon: 1e-5,
        tie_word_embeddings: true,
        eos_token_id: Some(50256),
    }
}

/// SmolLM2-135M's `config.json` (HuggingFaceTB/SmolLM2-135M-Instruct).
pub fn smollm2_135m() -> LlamaConfig {
    let json = serde_json::json!({
        "model_type": "llama",
        "vocab_size": 49152,
        "hidden_size": 576,
        "intermediate_size": 1536,
        "num_hidden_layers": 30,
        "num_attention_heads": 9,
        "num_key_value_heads": 3,
        "max_position_embeddings": 8192,
        "rms_norm_eps": 1e-5,
        "rope_theta": 100000.0,
        "tie_word_embeddings": true,
        "hidden_act": "silu",
        "eos_token_id": 2,
        "pad_token_id": 2
    });
    serde_json::from_value(json).expect("a valid Llama config")
}

/// A Llama-family model of `config` with random weights (see [`llama_weights`]).
pub fn random_llama(config: LlamaConfig, seed: u64, device: &Device) -> Result<Llama> {
    let bytes = crate::train::pretrain::to_safetensors(&llama_weights(&config, seed), false);
    let ckpt = Checkpoint::from_bytes(Path::new("<random llama>"), bytes)?;
    Llama::from_checkpoint(config, &ckpt, device)
}

/// Random Llama weights under their HF names (`[out, in]` projections): N(0, 0.02), norms 1.
fn llama_weights(c: &LlamaConfig, seed: u64) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let mut rng = Rng::for_name(seed, "bench:llama");
    let mut normal =
        |n: usize| -> Vec<f32> { (0..n).map(|_| (rng.normal() * 0.02) as f32).collect() };
    let d = c.hidden_size;
    let mut out = vec![(
        "model.embed_tokens.weight".to_string(),
        vec![c.vocab_size, d],
        normal(c.vocab_size * d),
    )];
    for i in 0..c.num_hidden_layers {
        for (group, name) in [
            ("self_attn", "q_proj"),
            ("self_attn", "k_proj"),
            ("self_attn", "v_proj"),
            ("self_attn", "o_proj"),
            ("mlp", "gate_proj"),
            ("mlp", "up_proj"),
            ("mlp", "down_proj"),
        ] {
            let [n_in, n_out] = c.module_shape(name).expect("known projection");
            out.push((
                format!("model.layers.{i}.{group}.{name}.weight"),
                vec![n_out, n_in],
                normal(n_in * n_out),
            ));
        }
        for norm in ["input_layernorm", "post_attention_layernorm"] {
            out.push((
                format!("model.layers.{i}.{norm}.weight"),
                vec![d],
                vec![1.0; d],
            ));
        }
    }
    out.push(("model.norm.weight".into(), vec![d], vec![1.0; d]));
    if !c.tie_word_embeddings {
        out.push((
            "lm_head.weight".into(),
            vec![c.vocab_size, d],
            normal(c.vocab_size * d),
        ));
    }
    out
}
