//! The default experiment: what `curlora` runs (and the app replays) on the embedded assets.

use crate::adapters::{CurSource, LoraScaling, Method, SelectionMode, UInit};
use crate::experiment::{ExperimentSpec, PerplexitySpec, TaskFormat, TaskSpec};
use crate::train::perplexity::PerplexityMode;
use crate::train::{Schedule, TrainConfig};
use std::path::Path;

/// The default experiment on the embedded assets in `dir` (from [`materialize`]): movie
/// reviews → Shakespeare-or-Wikipedia → tweets, LoRA and CURLoRA side by side at rank 8 with
/// the same seed, held-out perplexity before and after each task.
pub fn default_experiment(dir: &Path) -> ExperimentSpec {
    let task = |name: &str, epochs: usize| {
        TaskSpec::new(
            name,
            TaskFormat::Csv,
            dir.join(format!("tasks/{name}-train.csv")),
            dir.join(format!("tasks/{name}-eval.csv")),
        )
        .with_epochs(epochs)
        .with_schedule(Schedule::WarmupCosine {
            warmup_fraction: 0.1,
        })
        .with_columns("text", "label")
    };
    let ppl = PerplexityMode::Sliding {
        window: 128,
        stride: 64,
        max_tokens: 4096,
    };
    ExperimentSpec {
        preset: Some("default".into()),
        model: Some(dir.join("model")),
        methods: vec![Method::Lora, Method::CurLora],
        ranks: vec![8],
        seeds: vec![1],
        alpha: 1.0,
        targets: vec!["attn.c_attn".into(), "mlp.c_fc".into()],
        selection_mode: SelectionMode::Inverted,
        epsilon: 0.001,
        replacement: true,
        lora_scaling: LoraScaling::Reference,
        u_init: UInit::Zero,
        cur_source: CurSource::Weights,
        olora_lambda: crate::adapters::default_olora_lambda(),
        max_len: 64,
        pair_separator: None,
        train: TrainConfig {
            eval_batch_size: 100,
            lr: 6e-3,
            snapshot_every: 10,
            eval_every: 25,
            perplexity: ppl.clone(),
            ..TrainConfig::default()
        },
        perplexity: PerplexitySpec {
            text: dir.join("model/heldout.txt"),
            wikitext_rule: false,
            mode: ppl,
        },
        tasks: vec![task("movies", 2), task("style", 2), task("tweets", 2)],
        skip_bad_rows: false,
        notes: vec![
            "Embedded default: a 1.3M-parameter GPT-2 pretrained from scratch on Tiny Shakespeare and WikiText-2 (assets/README.md), three small two-class tasks, perplexity on a held-out WikiText-2 slice the model never saw (sliding window 128, stride 64, first 4,096 tokens).".into(),
        ],
    }
}
