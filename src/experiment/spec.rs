//! What an experiment is, as written in its TOML file: the model, the tasks in order, and the
//! methods × ranks × seeds to compare.

use crate::adapters::{AdapterConfig, CurSource, LoraScaling, Method, SelectionMode, UInit};
use crate::core::error::{Error, Result};
use crate::train::perplexity::PerplexityMode;
use crate::train::{Schedule, TrainConfig};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// File formats a task can be read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskFormat {
    Mrpc,
    Sst2,
    Sentiment140,
    Csv,
    Tsv,
    Jsonl,
}

/// One task of the sequence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    pub name: String,
    pub format: TaskFormat,
    pub train: PathBuf,
    pub eval: PathBuf,
    /// Use only the first N training rows (file order).
    #[serde(default)]
    pub train_rows: Option<usize>,
    /// Use only the first N evaluation rows (file order).
    #[serde(default)]
    pub eval_rows: Option<usize>,
    /// Skip the first N evaluation rows (file order) before taking `eval_rows`: how an
    /// evaluation set drawn from the training file is kept out of training. When `train` and
    /// `eval` are one file, loading checks that the two ranges do not overlap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_skip: Option<usize>,
    /// Take `train_rows` and `eval_rows` balanced: the first `n / k` rows of each of the `k`
    /// classes, in file order (so the majority baseline is 1/k and a constant predictor shows).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub balanced: bool,
    pub epochs: usize,
    pub schedule: Schedule,
    /// Sentiment140 label map: `reference` (polarity // 4, 3-way head), `three-class` or
    /// `binary` (negative / positive, 2-way head).
    #[serde(default)]
    pub sentiment140_labels: Option<String>,
    /// Generic formats: text, optional second text, and label columns.
    #[serde(default)]
    pub text_column: Option<String>,
    #[serde(default)]
    pub text_b_column: Option<String>,
    #[serde(default)]
    pub label_column: Option<String>,
}

impl TaskSpec {
    /// A task trained on `train` and evaluated on `eval`, every row of each, for one epoch at a
    /// constant learning rate; the `with_*` setters change the rest. The generic formats
    /// (CSV, TSV, JSONL) also need [`with_columns`](Self::with_columns).
    pub fn new(
        name: impl Into<String>,
        format: TaskFormat,
        train: impl Into<PathBuf>,
        eval: impl Into<PathBuf>,
    ) -> Self {
        Self {
            name: name.into(),
            format,
            train: train.into(),
            eval: eval.into(),
            train_rows: None,
            eval_rows: None,
            eval_skip: None,
            balanced: false,
            epochs: 1,
            schedule: Schedule::Constant,
            sentiment140_labels: None,
            text_column: None,
            text_b_column: None,
            label_column: None,
        }
    }

    pub fn with_epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    pub fn with_schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// Use only the first `n` training rows (file order).
    pub fn with_train_rows(mut self, n: usize) -> Self {
        self.train_rows = Some(n);
        self
    }

    /// Use only the first `n` evaluation rows (file order).
    pub fn with_eval_rows(mut self, n: usize) -> Self {
        self.eval_rows = Some(n);
        self
    }

    /// Evaluate on rows of the file after its first `n` (a held-out split of one file).
    pub fn with_eval_skip(mut self, n: usize) -> Self {
        self.eval_skip = Some(n);
        self
    }

    /// Balanced training and evaluation rows (the first `n / k` of each class).
    pub fn balanced(mut self) -> Self {
        self.balanced = true;
        self
    }

    /// The text and label columns of a generic (CSV, TSV, JSONL) file.
    pub fn with_columns(mut self, text: impl Into<String>, label: impl Into<String>) -> Self {
        self.text_column = Some(text.into());
        self.label_column = Some(label.into());
        self
    }

    /// A second text column (sentence pairs) of a generic file.
    pub fn with_text_b_column(mut self, column: impl Into<String>) -> Self {
        self.text_b_column = Some(column.into());
        self
    }

    /// Sentiment140's label map: `reference`, `three-class` or `binary`.
    pub fn with_sentiment140_labels(mut self, labels: impl Into<String>) -> Self {
        self.sentiment140_labels = Some(labels.into());
        self
    }
}

/// Where held-out perplexity text comes from and how it is measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PerplexitySpec {
    pub text: PathBuf,
    /// Apply WikiText's reference rule (drop empty rows, join the rest with "").
    #[serde(default)]
    pub wikitext_rule: bool,
    pub mode: PerplexityMode,
}

/// A whole experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExperimentSpec {
    /// Preset this came from, if any.
    #[serde(default)]
    pub preset: Option<String>,
    /// HF model folder.
    #[serde(default)]
    pub model: Option<PathBuf>,
    pub methods: Vec<Method>,
    pub ranks: Vec<usize>,
    pub seeds: Vec<u64>,
    pub alpha: f64,
    pub targets: Vec<String>,
    #[serde(default)]
    pub selection_mode: SelectionMode,
    #[serde(default = "default_epsilon")]
    pub epsilon: f64,
    #[serde(default = "default_true")]
    pub replacement: bool,
    #[serde(default)]
    pub lora_scaling: LoraScaling,
    /// CURLoRA's `U` at the start: `zero` (the method) or `normal:σ` (an ablation).
    #[serde(default)]
    pub u_init: UInit,
    /// CURLoRA's `C` and `R`: `weights` (the method) or `gaussian` (an ablation).
    #[serde(default)]
    pub cur_source: CurSource,
    /// O-LoRA's λ (orthogonality penalty weight; the paper's 0.5).
    #[serde(default = "crate::adapters::default_olora_lambda")]
    pub olora_lambda: f64,
    /// Truncate every example to this many tokens.
    pub max_len: usize,
    /// `concat` (reference) or a separator string.
    #[serde(default)]
    pub pair_separator: Option<String>,
    pub train: TrainConfig,
    pub perplexity: PerplexitySpec,
    pub tasks: Vec<TaskSpec>,
    /// Skip malformed data rows (and report how many) instead of stopping at the first.
    #[serde(default)]
    pub skip_bad_rows: bool,
    /// How this set-up differs from the reference protocol (printed in report.md).
    #[serde(default)]
    pub notes: Vec<String>,
}

fn default_epsilon() -> f64 {
    0.001
}
fn default_true() -> bool {
    true
}

impl ExperimentSpec {
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        toml::from_str(&text).map_err(|e| Error::format(path, format!("invalid experiment: {e}")))
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("serializable")
    }

    /// Sets every task's epochs and caps its training and evaluation rows (`curlora run`'s and
    /// a study's `epochs`, `max_train`, `max_eval`; a cap never raises a preset's own limit).
    pub fn limit_tasks(
        &mut self,
        epochs: Option<usize>,
        max_train: Option<usize>,
        max_eval: Option<usize>,
    ) {
        for t in &mut self.tasks {
            if let Some(e) = epochs {
                t.epochs = e;
            }
            if let Some(n) = max_train {
                t.train_rows = Some(t.train_rows.map_or(n, |r| r.min(n)));
            }
            if let Some(n) = max_eval {
                t.eval_rows = Some(t.eval_rows.map_or(n, |r| r.min(n)));
            }
        }
    }

    /// The adapter configurations of every run, in order (method × rank × seed; full
    /// fine-tuning and frozen once per seed, ranks do not apply).
    pub fn adapter_configs(&self) -> Vec<AdapterConfig> {
        let mut out = Vec::new();
        for &method in &self.methods {
            let ranks: &[usize] = if method.uses_rank() {
                &self.ranks
            } else {
                &[0]
            };
            for &rank in ranks {
                for &seed in &self.seeds {
                    let mut c = AdapterConfig::new(method, rank, seed);
                    c.alpha = self.alpha;
                    c.targets = self.targets.clone();
                    c.mode = self.selection_mode;
                    c.epsilon = self.epsilon;
                    c.replacement = self.replacement;
                    c.lora_scaling = self.lora_scaling;
                    c.u_init = self.u_init;
                    c.cur_source = self.cur_source;
                    c.olora_lambda = self.olora_lambda;
                    out.push(c);
                }
            }
        }
        out
    }
}
