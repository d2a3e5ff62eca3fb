//! The results of an experiment, written as `report.json`, `report.csv` and `report.md`.
//!
//! Metrics (Lopez-Paz & Ranzato 2017; Chaudhry et al. 2018), with `R[i][j]` the accuracy on
//! task j after training task i and T tasks:
//! * ACC = (1/T) Σ_j R[T−1][j]: average accuracy at the end;
//! * BWT = 1/(T−1) Σ_{j<T−1} (R[T−1][j] − R[j][j]): negative when training later tasks hurt
//!   earlier ones;
//! * forgetting = 1/(T−1) Σ_{j<T−1} max_{l<T−1} (R[l][j] − R[T−1][j]): the average drop from
//!   each earlier task's best accuracy.

use crate::adapters::{AdapterConfig, Method};
use crate::core::error::Result;
use crate::core::fsutil::write_atomic;
use crate::experiment::ExperimentSpec;
use crate::train::RunOutcome;
use crate::train::engine::{RunStatus, label};
use crate::train::metrics::ContinualSummary;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunReport {
    pub method: Method,
    pub rank: usize,
    pub alpha: f64,
    pub seed: u64,
    pub trainable_params: usize,
    /// T×T; row i = after training task i+1; `null` = not trained yet.
    pub accuracy_matrix: Vec<Vec<Option<f64>>>,
    /// Per task: accuracy of always predicting the eval split's most frequent class.
    pub majority_baseline: Vec<f64>,
    /// Held-out perplexity before training, then after each task.
    pub perplexity: Vec<f64>,
    pub metrics: ContinualSummary,
    /// `[after_task][task]`: `(class, share)` where one class is ≥ 95% of the predictions.
    pub constant_predictor: Vec<Vec<Option<(usize, f64)>>>,
    /// Training loss of every optimizer step, per task.
    pub losses: Vec<Vec<f64>>,
    pub status: RunStatus,
    pub steps: usize,
    pub seconds: f64,
    pub steps_per_second: f64,
    /// Size of the saved adapter file, when one was written.
    pub adapter_bytes: Option<u64>,
}

impl RunReport {
    pub fn new(cfg: &AdapterConfig, o: &RunOutcome, adapter_bytes: Option<u64>) -> Self {
        let t = o.accuracy.num_tasks();
        let mut losses = vec![Vec::new(); t];
        for &(task, _, l) in &o.losses {
            losses[task].push(l);
        }
        Self {
            method: cfg.method,
            rank: cfg.rank,
            alpha: cfg.alpha,
            seed: cfg.seed,
            trainable_params: o.trainable_params,
            accuracy_matrix: o.accuracy.rows().to_vec(),
            majority_baseline: o.majority_baseline.clone(),
            perplexity: o.perplexity.clone(),
            metrics: o.metrics,
            constant_predictor: o.constant_predictor.clone(),
            losses,
            status: o.status.clone(),
            steps: o.steps,
            seconds: o.seconds,
            steps_per_second: o.steps as f64 / o.seconds.max(1e-9),
            adapter_bytes,
        }
    }

    pub fn label(&self) -> String {
        label(self.method, self.rank)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub model: String,
    pub device: String,
    pub preset: Option<String>,
    pub tasks: Vec<String>,
    /// `(train, eval)` examples per task.
    pub task_sizes: Vec<(usize, usize)>,
    pub runs: Vec<RunReport>,
    pub notes: Vec<String>,
    pub experiment: ExperimentSpec,
}

/// RFC 4180 quoting when a field needs it.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let sd = if v.len() > 1 {
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (m, sd)
}

fn fmt_ms(v: &[f64], digits: usize) -> String {
    let all = v.len();
    let v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return "–".into();
    }
    let (m, sd) = mean_sd(&v);
    // Say so when some seeds have no value (a diverged or cancelled run).
    let missing = if v.len() < all {
        format!(" ({} of {all} seeds)", v.len())
    } else {
        String::new()
    };
    if v.len() > 1 {
        format!("{m:.digits$} ± {sd:.digits$}{missing}")
    } else {
        format!("{m:.digits$}{missing}")
    }
}

impl Report {
    /// Writes report.json, report.csv and report.md into `dir` (atomically, each).
    pub fn write(&self, dir: &Path) -> Result<()> {
        write_atomic(
            &dir.join("report.json"),
            serde_json::to_string_pretty(self)
                .expect("serializable")
                .as_bytes(),
        )?;
        write_atomic(&dir.join("report.csv"), self.csv().as_bytes())?;
        write_atomic(&dir.join("report.md"), self.markdown().as_bytes())?;
        Ok(())
    }

    /// One row per run: settings, metrics, perplexities and every accuracy cell.
    pub fn csv(&self) -> String {
        let t = self.tasks.len();
        let mut s = String::from(
            "method,rank,alpha,seed,trainable_params,acc,bwt,forgetting,ppl_before,ppl_after,status",
        );
        for i in 0..t {
            for j in 0..=i {
                let col = format!("acc_after_{}_on_{}", self.tasks[i], self.tasks[j]);
                let _ = write!(s, ",{}", csv_field(&col));
            }
        }
        s.push('\n');
        let opt = |v: Option<f64>| v.map(|x| format!("{x:.6}")).unwrap_or_default();
        for r in &self.runs {
            let status = match &r.status {
                RunStatus::Completed => "completed",
                RunStatus::Cancelled => "cancelled",
                RunStatus::Diverged { .. } => "diverged",
            };
            let _ = write!(
                s,
                "{},{},{},{},{},{},{},{},{:.4},{:.4},{status}",
                r.method,
                r.rank,
                r.alpha,
                r.seed,
                r.trainable_params,
                opt(r.metrics.acc),
                opt(r.metrics.bwt),
                opt(r.metrics.forgetting),
                r.perplexity.first().copied().unwrap_or(f64::NAN),
                r.perplexity.last().copied().unwrap_or(f64::NAN),
            );
            for i in 0..t {
                for j in 0..=i {
                    let _ = write!(
                        s,
                        ",{}",
                        opt(r.accuracy_matrix.get(i).and_then(|row| row[j]))
                    );
                }
            }
            s.push('\n');
        }
        s
    }

    /// The tables a paper would print: per method and rank, mean ± sd over seeds.
    pub fn markdown(&self) -> String {
        let mut groups: BTreeMap<String, Vec<&RunReport>> = BTreeMap::new();
        let mut order = Vec::new();
        for r in &self.runs {
            let k = r.label();
            if !groups.contains_key(&k) {
                order.push(k.clone());
            }
            groups.entry(k).or_default().push(r);
        }
        let t = self.tasks.len();
        let mut s = String::new();
        let _ = writeln!(s, "# curlora report\n");
        let _ = writeln!(s, "- model: `{}`", self.model);
        let _ = writeln!(s, "- device: {}", self.device);
        if let Some(p) = &self.preset {
            let _ = writeln!(s, "- preset: `{p}`");
        }
        let seeds: Vec<String> = self
            .experiment
            .seeds
            .iter()
            .map(|x| x.to_string())
            .collect();
        let _ = writeln!(
            s,
            "- seeds: {} (tables show mean ± sd over seeds)",
            seeds.join(", ")
        );
        for (k, name) in self.tasks.iter().enumerate() {
            let (tr, ev) = self.task_sizes[k];
            let base = self
                .runs
                .first()
                .map(|r| r.majority_baseline[k])
                .unwrap_or(0.0);
            let _ = writeln!(
                s,
                "- task {}: `{name}`: {tr} training / {ev} evaluation examples, majority-class baseline {base:.4}",
                k + 1
            );
        }
        let _ = writeln!(s);
        // Main table: one column per method-rank.
        let _ = write!(s, "| metric |");
        for k in &order {
            let _ = write!(s, " {k} |");
        }
        let _ = write!(s, "\n|---|");
        for _ in &order {
            let _ = write!(s, "---:|");
        }
        let _ = writeln!(s);
        let row = |s: &mut String, name: &str, f: &dyn Fn(&RunReport) -> f64, digits: usize| {
            let _ = write!(s, "| {name} |");
            for k in &order {
                let v: Vec<f64> = groups[k].iter().map(|r| f(r)).collect();
                let _ = write!(s, " {} |", fmt_ms(&v, digits));
            }
            let _ = writeln!(s);
        };
        row(
            &mut s,
            "trainable parameters",
            &|r| r.trainable_params as f64,
            0,
        );
        row(&mut s, "initial perplexity", &|r| r.perplexity[0], 2);
        for i in 0..t {
            for j in 0..=i {
                let name = if i == j {
                    format!("{} (after {})", self.tasks[j], self.tasks[i])
                } else {
                    format!("{} (after {}) — earlier task", self.tasks[j], self.tasks[i])
                };
                row(
                    &mut s,
                    &name,
                    &|r| r.accuracy_matrix[i][j].unwrap_or(f64::NAN),
                    4,
                );
            }
            row(
                &mut s,
                &format!("perplexity after {}", self.tasks[i]),
                &|r| r.perplexity.get(i + 1).copied().unwrap_or(f64::NAN),
                2,
            );
        }
        row(&mut s, "ACC", &|r| r.metrics.acc.unwrap_or(f64::NAN), 4);
        row(&mut s, "BWT", &|r| r.metrics.bwt.unwrap_or(f64::NAN), 4);
        row(
            &mut s,
            "forgetting",
            &|r| r.metrics.forgetting.unwrap_or(f64::NAN),
            4,
        );
        row(&mut s, "steps per second", &|r| r.steps_per_second, 2);
        let _ = writeln!(s);
        // Each method's accuracy matrix, as the continual-learning papers print it.
        let _ = writeln!(s, "## Accuracy matrices\n");
        let _ = writeln!(
            s,
            "Row: after training that task; column: accuracy on that task (mean over seeds); \
             – = not trained yet.\n"
        );
        for k in &order {
            let _ = write!(s, "**{k}**\n\n| after \\ on |");
            for name in &self.tasks {
                let _ = write!(s, " {name} |");
            }
            let _ = write!(s, "\n|---|");
            for _ in 0..t {
                let _ = write!(s, "---:|");
            }
            let _ = writeln!(s);
            for i in 0..t {
                let _ = write!(s, "| {} |", self.tasks[i]);
                for j in 0..t {
                    let v: Vec<f64> = groups[k]
                        .iter()
                        .filter_map(|r| r.accuracy_matrix[i][j])
                        .collect();
                    let cell = if j > i || v.is_empty() {
                        "–".to_string()
                    } else {
                        format!("{:.4}", v.iter().sum::<f64>() / v.len() as f64)
                    };
                    let _ = write!(s, " {cell} |");
                }
                let _ = writeln!(s);
            }
            let _ = write!(s, "| *majority baseline* |");
            for j in 0..t {
                let b = groups[k][0]
                    .majority_baseline
                    .get(j)
                    .copied()
                    .unwrap_or(f64::NAN);
                let _ = write!(s, " *{b:.4}* |");
            }
            let _ = writeln!(s, "\n");
        }
        // Constant predictors.
        let mut flags = Vec::new();
        for r in &self.runs {
            for (i, row) in r.constant_predictor.iter().enumerate() {
                for (j, f) in row.iter().enumerate() {
                    if let Some((class, share)) = f {
                        flags.push(format!(
                            "- {} seed {}: after `{}`, `{}` predicts class {class} for {:.1}% of inputs (a constant predictor: compare with the majority baseline)",
                            r.label(), r.seed, self.tasks[i], self.tasks[j], share * 100.0
                        ));
                    }
                }
            }
        }
        if !flags.is_empty() {
            let _ = writeln!(s, "## Constant predictors\n");
            for f in flags {
                let _ = writeln!(s, "{f}");
            }
            let _ = writeln!(s);
        }
        for r in &self.runs {
            if let RunStatus::Diverged { message, .. } = &r.status {
                let _ = writeln!(s, "- **{} seed {} diverged**: {message}", r.label(), r.seed);
            }
        }
        let _ = writeln!(s, "## What the metrics mean\n");
        let _ = writeln!(
            s,
            "- Accuracy cells: accuracy on a task's evaluation split, using that task's own head, after training the task named in brackets. Compare with the majority-class baseline above."
        );
        let _ = writeln!(
            s,
            "- ACC = (1/T) Σ_j R[T−1][j]: average accuracy over all tasks at the end."
        );
        let _ = writeln!(
            s,
            "- BWT = 1/(T−1) Σ_{{j<T−1}} (R[T−1][j] − R[j][j]): negative means later tasks hurt earlier ones (Lopez-Paz & Ranzato 2017)."
        );
        let _ = writeln!(
            s,
            "- forgetting = 1/(T−1) Σ_{{j<T−1}} max_{{l<T−1}} (R[l][j] − R[T−1][j]) (Chaudhry et al. 2018)."
        );
        let _ = writeln!(
            s,
            "- Perplexity: held-out next-token perplexity of the language model with its original LM head; its rise measures forgetting of general language ability."
        );
        if !self.notes.is_empty() {
            let _ = writeln!(s, "\n## Protocol notes\n");
            for n in &self.notes {
                let _ = writeln!(s, "- {n}");
            }
        }
        s
    }
}
