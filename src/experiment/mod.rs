//! An experiment: a model, a sequence of tasks read from files, and the methods × ranks × seeds
//! to compare. Serializable as TOML (`curlora run --config FILE.toml`); the presets are values
//! of this type. The CLI and the apps run experiments through [`Experiment::run`].

pub mod bench;
mod default;
#[cfg(not(target_arch = "wasm32"))]
pub mod plots;
pub mod presets;
pub mod report;

pub use default::default_experiment;

use crate::adapters::{AdapterConfig, LoraScaling, Method, SelectionMode};
use crate::core::error::{Error, Result};
use crate::data::{self, Dataset, LoadOptions, PairEncoding, Sentiment140Labels};
use crate::experiment::report::{Report, RunReport};
use crate::model::{self, LanguageModel};
use crate::train::batch::encode_dataset;
use crate::train::perplexity::PerplexityMode;
use crate::train::{EventSink, RunContext, Schedule, TaskData, TrainConfig, run_sequence};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

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
    pub epochs: usize,
    pub schedule: Schedule,
    /// Sentiment140 label map: `reference` (polarity // 4, 3-way head) or `three-class`.
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
                    out.push(c);
                }
            }
        }
        out
    }
}

/// Reads one task's split.
fn read_split(
    spec: &TaskSpec,
    path: &Path,
    rows: Option<usize>,
    opts: LoadOptions,
    label_names: Option<Vec<String>>,
) -> Result<(Dataset, data::LoadReport)> {
    let opts = &opts;
    let (ds, report) = match spec.format {
        TaskFormat::Mrpc => data::read_mrpc(path, opts)?,
        TaskFormat::Sst2 => data::read_sst2(path, opts)?,
        TaskFormat::Sentiment140 => {
            let labels = match spec.sentiment140_labels.as_deref() {
                None | Some("reference") => Sentiment140Labels::Reference,
                Some("three-class") => Sentiment140Labels::ThreeClass,
                Some(other) => {
                    return Err(Error::config(format!(
                        "task `{}`: sentiment140_labels `{other}`: expected reference or three-class",
                        spec.name
                    )));
                }
            };
            data::read_sentiment140(path, labels, opts)?
        }
        TaskFormat::Csv | TaskFormat::Tsv | TaskFormat::Jsonl => {
            let format = match spec.format {
                TaskFormat::Csv => data::TableFormat::Csv,
                TaskFormat::Tsv => data::TableFormat::Tsv,
                _ => data::TableFormat::Jsonl,
            };
            let col = |c: &Option<String>, what: &str| {
                c.clone().ok_or_else(|| {
                    Error::config(format!(
                        "task `{}`: `{what}` is required for this format",
                        spec.name
                    ))
                })
            };
            let mut g = data::GenericSpec::new(
                format,
                col(&spec.text_column, "text_column")?.as_str(),
                col(&spec.label_column, "label_column")?.as_str(),
            );
            g.text_b = spec.text_b_column.as_deref().map(Into::into);
            // The eval split must use the train split's class ids (labels are numbered in
            // order of first appearance otherwise, which may differ between files).
            g.label_names = label_names;
            data::read_generic(path, &g, opts)?
        }
    };
    let ds = match rows {
        Some(n) => ds.take(n),
        None => ds,
    };
    Ok((ds, report))
}

/// An experiment with its model, tokenizer, tasks and held-out text loaded.
pub struct Experiment {
    pub spec: ExperimentSpec,
    pub model_dir: PathBuf,
    pub base: LanguageModel,
    pub tasks: Vec<TaskData>,
    pub heldout: Vec<u32>,
    /// Malformed rows skipped per file (only with `skip_bad_rows`), with the first problem.
    pub skipped: Vec<(PathBuf, usize, Option<String>)>,
}

impl Experiment {
    /// Loads everything `spec` names onto `device` (an autodiff device).
    pub fn load(spec: ExperimentSpec, device: &burn::tensor::Device) -> Result<Self> {
        let mut spec = spec;
        let model_dir = spec.model.clone().ok_or_else(|| {
            Error::config(
                "no model given: pass --model DIR or set `model` in the experiment file \
                 (an HF GPT-2 folder)",
            )
        })?;
        if spec.methods.is_empty() || spec.seeds.is_empty() {
            return Err(Error::config(
                "the experiment needs at least one method and one seed",
            ));
        }
        if spec.ranks.is_empty() && spec.methods.iter().any(|m| m.uses_rank()) {
            return Err(Error::config("LoRA and CURLoRA need at least one rank"));
        }
        if spec.max_len == 0 {
            return Err(Error::config("max_len must be ≥ 1"));
        }
        // One source of truth for how perplexity is measured.
        spec.train.perplexity = spec.perplexity.mode.clone();
        let base = LanguageModel::load(&model_dir, device)?;
        let tokenizer = model::load_tokenizer(&model::lm::resolve(&model_dir)?)?;
        let pad = base.pad_id();
        let pair = match &spec.pair_separator {
            None => PairEncoding::Concat,
            Some(s) => PairEncoding::Separator(s.clone()),
        };
        let vocab = base.vocab_size();
        let mut tasks = Vec::new();
        let mut skipped = Vec::new();
        let opts = if spec.skip_bad_rows {
            LoadOptions::skip_bad_rows()
        } else {
            LoadOptions::strict()
        };
        for t in &spec.tasks {
            let (train, r1) = read_split(t, &t.train, t.train_rows, opts, None)?;
            let (eval, r2) = read_split(
                t,
                &t.eval,
                t.eval_rows,
                opts,
                Some(train.label_names.clone()),
            )?;
            for (path, r) in [(&t.train, r1), (&t.eval, r2)] {
                if r.skipped > 0 {
                    skipped.push((path.clone(), r.skipped, r.first_error));
                }
            }
            let max_len = spec.max_len.min(base.max_positions());
            tasks.push(TaskData {
                name: t.name.clone(),
                train: encode_dataset(&tokenizer, &train, &pair, max_len, pad, vocab)?,
                eval: encode_dataset(&tokenizer, &eval, &pair, max_len, pad, vocab)?,
                num_classes: train.num_classes.max(eval.num_classes),
                majority_baseline: eval.majority_baseline(),
                epochs: t.epochs,
                schedule: t.schedule.clone(),
            });
        }
        let p = &spec.perplexity;
        let text = if p.wikitext_rule {
            data::read_wikitext_reference(&p.text)?
        } else {
            data::read_text(&p.text)?
        };
        let heldout = model::encode(&tokenizer, &text, &p.text)?;
        Ok(Self {
            spec,
            model_dir,
            base,
            tasks,
            heldout,
            skipped,
        })
    }

    /// Runs every configuration in turn. Each finished run is passed to `on_run` (to save its
    /// adapter) before the next starts.
    pub fn run(
        &self,
        device_name: &str,
        events: &dyn EventSink,
        cancel: Arc<AtomicBool>,
        mut on_run: impl FnMut(&AdapterConfig, &crate::train::RunOutcome) -> Result<Option<u64>>,
    ) -> Result<Report> {
        let mut runs = Vec::new();
        for (i, cfg) in self.spec.adapter_configs().into_iter().enumerate() {
            let ctx = RunContext {
                run: i,
                events,
                cancel: cancel.clone(),
                device_name: device_name.to_string(),
                control: None,
            };
            let outcome = run_sequence(
                &self.base,
                &self.tasks,
                &self.heldout,
                &cfg,
                &self.spec.train,
                &ctx,
            )?;
            let adapter_bytes = on_run(&cfg, &outcome)?;
            let cancelled = outcome.status == crate::train::RunStatus::Cancelled;
            runs.push(RunReport::new(&cfg, &outcome, adapter_bytes));
            if cancelled {
                break;
            }
        }
        Ok(self.report(device_name, runs))
    }

    /// Writes a finished run's adapter and task heads to `dir/<method>-<rank>-seed<seed>.safetensors`
    /// and returns the file's size: what the CLI and the app both keep of a run.
    pub fn save_adapter(
        &self,
        dir: &Path,
        cfg: &AdapterConfig,
        outcome: &crate::train::RunOutcome,
    ) -> Result<u64> {
        let name = format!(
            "{}-seed{}.safetensors",
            crate::train::engine::label(cfg.method, cfg.rank),
            cfg.seed
        );
        let heads: Vec<_> = self
            .tasks
            .iter()
            .zip(&outcome.heads)
            .map(|(t, h)| (t.name.clone(), h.clone()))
            .collect();
        let bytes = crate::model::store::save(
            &dir.join(name),
            &outcome.model,
            cfg,
            self.base.weights_hash(),
            &heads,
        )?;
        Ok(bytes as u64)
    }

    /// Runs every configuration at the same time, one thread each, so that the app can show
    /// them learning (and forgetting) side by side; `control` steers all of them at once.
    /// Each finished run is passed to `on_run`. Runs are reported in configuration order.
    pub fn run_side_by_side(
        &self,
        device_name: &str,
        events: &(dyn EventSink + Sync),
        cancel: Arc<AtomicBool>,
        control: Arc<crate::train::Control>,
        on_run: impl Fn(&AdapterConfig, &crate::train::RunOutcome) -> Result<Option<u64>> + Sync,
    ) -> Result<Report> {
        let configs = self.spec.adapter_configs();
        let results: Vec<Result<RunReport>> = std::thread::scope(|scope| {
            let handles: Vec<_> = configs
                .iter()
                .enumerate()
                .map(|(i, cfg)| {
                    let (cancel, control, on_run) = (cancel.clone(), control.clone(), &on_run);
                    scope.spawn(move || -> Result<RunReport> {
                        let outcome = crate::core::runtime::block_on(self.run_steered(
                            i,
                            cfg,
                            events,
                            cancel,
                            control,
                            device_name,
                        ))?;
                        let bytes = on_run(cfg, &outcome)?;
                        Ok(RunReport::new(cfg, &outcome, bytes))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(Error::config("a training thread panicked")))
                })
                .collect()
        });
        let runs = results.into_iter().collect::<Result<Vec<_>>>()?;
        Ok(self.report(device_name, runs))
    }

    /// [`run_side_by_side`](Self::run_side_by_side) on one thread: the runs' futures are polled
    /// together, each advancing while the others wait for the device or yield to the page. This
    /// is how the browser, which has no threads, trains every method at once.
    pub async fn run_side_by_side_async(
        &self,
        device_name: &str,
        events: &dyn EventSink,
        cancel: Arc<AtomicBool>,
        control: Arc<crate::train::Control>,
    ) -> Result<Report> {
        let configs = self.spec.adapter_configs();
        let runs: Vec<
            std::pin::Pin<Box<dyn std::future::Future<Output = Result<RunReport>> + '_>>,
        > = configs
            .iter()
            .enumerate()
            .map(|(i, cfg)| {
                let (cancel, control) = (cancel.clone(), control.clone());
                let fut = async move {
                    let outcome = self
                        .run_steered(i, cfg, events, cancel, control, device_name)
                        .await?;
                    Ok(RunReport::new(cfg, &outcome, None))
                };
                Box::pin(fut) as std::pin::Pin<Box<dyn std::future::Future<Output = _>>>
            })
            .collect();
        let runs = crate::core::runtime::join_all(runs)
            .await
            .into_iter()
            .collect::<Result<Vec<_>>>()?;
        Ok(self.report(device_name, runs))
    }

    /// One run of a side-by-side session, steered by `control`.
    async fn run_steered(
        &self,
        run: usize,
        cfg: &AdapterConfig,
        events: &dyn EventSink,
        cancel: Arc<AtomicBool>,
        control: Arc<crate::train::Control>,
        device_name: &str,
    ) -> Result<crate::train::RunOutcome> {
        let ctx = RunContext {
            run,
            events,
            cancel,
            device_name: device_name.to_string(),
            control: Some(control),
        };
        crate::train::run_sequence_async(
            &self.base,
            &self.tasks,
            &self.heldout,
            cfg,
            &self.spec.train,
            &ctx,
        )
        .await
    }

    fn report(&self, device_name: &str, runs: Vec<RunReport>) -> Report {
        Report {
            model: self.model_dir.display().to_string(),
            device: device_name.to_string(),
            preset: self.spec.preset.clone(),
            tasks: self.tasks.iter().map(|t| t.name.clone()).collect(),
            task_sizes: self
                .tasks
                .iter()
                .map(|t| (t.train.len(), t.eval.len()))
                .collect(),
            runs,
            notes: self
                .spec
                .notes
                .iter()
                .cloned()
                .chain(self.skipped.iter().map(|(p, n, first)| {
                    format!(
                        "{}: {n} malformed rows skipped (first: {})",
                        p.display(),
                        first.as_deref().unwrap_or("?")
                    )
                }))
                .collect(),
            experiment: self.spec.clone(),
        }
    }
}
