//! Loading an experiment: the model and tokenizer, every task's splits (tokenized), and the
//! held-out perplexity text.

use crate::core::error::{Error, Result};
use crate::data::{self, Dataset, LoadOptions, PairEncoding, Sentiment140Labels};
use crate::experiment::{ExperimentSpec, TaskFormat, TaskSpec};
use crate::model::{self, LanguageModel};
use crate::train::TaskData;
use crate::train::batch::encode_dataset;
use std::path::{Path, PathBuf};

/// An experiment with its model, tokenizer, tasks and held-out text loaded.
pub struct Experiment {
    pub spec: ExperimentSpec,
    pub model_dir: PathBuf,
    pub base: LanguageModel,
    pub tasks: Vec<TaskData>,
    pub heldout: Vec<u32>,
    /// Malformed rows skipped per file (only with `skip_bad_rows`), with the first problem.
    pub skipped: Vec<(PathBuf, usize, Option<String>)>,
    /// Caveats about the evaluation sets (a task evaluated on rows it trains on), printed by
    /// the CLI and kept in the report's notes.
    pub warnings: Vec<String>,
    /// Where each run picks up (by run number), when resuming an interrupted experiment
    /// ([`super::checkpoint`]); empty for a fresh one.
    pub resume: Vec<Option<crate::train::ResumeFrom>>,
    /// Full fine-tunes send their weights at every task boundary too (set when checkpointing).
    pub checkpoint_base: bool,
}

impl Experiment {
    /// Loads everything `spec` names onto `device` (an autodiff device).
    pub fn load(spec: ExperimentSpec, device: &burn::tensor::Device) -> Result<Self> {
        let mut spec = spec;
        let model_dir = check(&spec)?;
        // One source of truth for how perplexity is measured.
        spec.train.perplexity = spec.perplexity.mode.clone();
        let base = LanguageModel::load(&model_dir, device)?;
        let tokenizer = model::load_tokenizer(&model::lm::resolve(&model_dir)?)?;
        let pair = match &spec.pair_separator {
            None => PairEncoding::Concat,
            Some(s) => PairEncoding::Separator(s.clone()),
        };
        let opts = if spec.skip_bad_rows {
            LoadOptions::skip_bad_rows()
        } else {
            LoadOptions::strict()
        };
        let encoding = Encoding {
            tokenizer: &tokenizer,
            pair: &pair,
            max_len: spec.max_len.min(base.max_positions()),
            pad: base.pad_id(),
            vocab: base.vocab_size(),
        };
        let mut tasks = Vec::new();
        let mut skipped = Vec::new();
        let mut warnings = Vec::new();
        for t in &spec.tasks {
            tasks.push(load_task(t, opts, &encoding, &mut skipped, &mut warnings)?);
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
            warnings,
            resume: Vec::new(),
            checkpoint_base: false,
        })
    }
}

/// Rejects specs that cannot run, before anything is loaded; returns the model folder.
fn check(spec: &ExperimentSpec) -> Result<PathBuf> {
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
        return Err(Error::config(
            "ranked methods (LoRA, CURLoRA) need at least one rank",
        ));
    }
    if spec.max_len == 0 {
        return Err(Error::config("max_len must be ≥ 1"));
    }
    Ok(model_dir)
}

/// How examples become token ids: the same for every task of an experiment.
struct Encoding<'a> {
    tokenizer: &'a tokenizers::Tokenizer,
    pair: &'a PairEncoding,
    max_len: usize,
    pad: u32,
    vocab: usize,
}

/// Reads and tokenizes one task's splits; rows skipped as malformed are added to `skipped`.
fn load_task(
    t: &TaskSpec,
    opts: LoadOptions,
    enc: &Encoding,
    skipped: &mut Vec<(PathBuf, usize, Option<String>)>,
    warnings: &mut Vec<String>,
) -> Result<TaskData> {
    let (train, r1) = read_split(t, &t.train, opts, None)?;
    let (train, train_used) = train
        .select(0, t.train_rows, t.balanced)
        .map_err(|e| Error::config(format!("task `{}`: training rows: {e}", t.name)))?;
    let (eval, r2) = read_split(t, &t.eval, opts, Some(train.label_names.clone()))?;
    let skip = t.eval_skip.unwrap_or(0);
    let (eval, _) = eval
        .select(skip, t.eval_rows, t.balanced)
        .map_err(|e| Error::config(format!("task `{}`: evaluation rows: {e}", t.name)))?;
    if same_file(&t.train, &t.eval) && skip < train_used {
        warnings.push(format!(
            "task `{}`: evaluated on rows of its training file {} from row {skip}, while \
             training reads its first {train_used} rows: its accuracy is (partly) training \
             accuracy, not held out (set `eval_skip` ≥ {train_used} to hold the rows out)",
            t.name,
            t.train.display()
        ));
    }
    if eval.is_empty() {
        return Err(Error::config(format!(
            "task `{}`: no evaluation rows in {} after row {skip}",
            t.name,
            t.eval.display()
        )));
    }
    for (path, r) in [(&t.train, r1), (&t.eval, r2)] {
        if r.skipped > 0 {
            skipped.push((path.clone(), r.skipped, r.first_error));
        }
    }
    let encode =
        |ds: &Dataset| encode_dataset(enc.tokenizer, ds, enc.pair, enc.max_len, enc.pad, enc.vocab);
    Ok(TaskData {
        name: t.name.clone(),
        train: encode(&train)?,
        eval: encode(&eval)?,
        num_classes: train.num_classes.max(eval.num_classes),
        label_names: if eval.label_names.len() > train.label_names.len() {
            eval.label_names.clone()
        } else {
            train.label_names.clone()
        },
        majority_baseline: eval.majority_baseline(),
        epochs: t.epochs,
        schedule: t.schedule.clone(),
    })
}

/// Whether two paths name one file (compared canonically when both exist).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Reads one task's split, every row of it.
fn read_split(
    spec: &TaskSpec,
    path: &Path,
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
                Some("binary") => Sentiment140Labels::Binary,
                Some(other) => {
                    return Err(Error::config(format!(
                        "task `{}`: sentiment140_labels `{other}`: expected reference, three-class or binary",
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
    Ok((ds, report))
}
