//! The results of an experiment, written as `report.json`, `report.csv` and `report.md`.
//!
//! Metrics (Lopez-Paz & Ranzato 2017; Chaudhry et al. 2018), with `R[i][j]` the accuracy on
//! task j after training task i and T tasks:
//! * ACC = (1/T) Σ_j R[T−1][j]: average accuracy at the end;
//! * BWT = 1/(T−1) Σ_{j<T−1} (R[T−1][j] − R[j][j]): negative when training later tasks hurt
//!   earlier ones;
//! * forgetting = 1/(T−1) Σ_{j<T−1} max_{l<T−1} (R[l][j] − R[T−1][j]): the average drop from
//!   each earlier task's best accuracy.

mod markdown;

use crate::adapters::{AdapterConfig, Method};
use crate::core::error::Result;
use crate::core::fsutil::write_atomic;
use crate::experiment::ExperimentSpec;
use crate::train::RunOutcome;
use crate::train::engine::{RunStatus, label};
use crate::train::metrics::{self, AccuracyMatrix, ContinualSummary};
use serde::{Deserialize, Serialize};
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
    /// Forward transfer against the head-only (`frozen`) run of the same seed
    /// ([`metrics::fwt`]); `None` without one.
    #[serde(default)]
    pub fwt: Option<f64>,
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
    /// A study's ablation settings for this run (`u_init=normal:0.01`), which set it apart
    /// from runs of the same method and rank; part of its [`label`](Self::label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
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
            fwt: None,
            constant_predictor: o.constant_predictor.clone(),
            losses,
            status: o.status.clone(),
            steps: o.steps,
            seconds: o.seconds,
            steps_per_second: o.steps as f64 / o.seconds.max(1e-9),
            adapter_bytes,
            variant: None,
        }
    }

    /// `curlora-16`, or `curlora-16 [u_init=normal:0.01]` for a study's ablation.
    pub fn label(&self) -> String {
        match &self.variant {
            Some(v) => format!("{} [{v}]", label(self.method, self.rank)),
            None => label(self.method, self.rank),
        }
    }
}

/// Fills every run's [`RunReport::fwt`] from the head-only (`frozen`) run with the same seed,
/// when the experiment has one.
pub fn fill_forward_transfer(runs: &mut [RunReport]) {
    let baselines: Vec<(u64, Vec<f64>)> = runs
        .iter()
        .filter(|r| r.method == Method::Frozen)
        .filter_map(|r| {
            let diag: Option<Vec<f64>> = metrics::diagonal(&r.matrix()?).into_iter().collect();
            Some((r.seed, diag?))
        })
        .collect();
    for r in runs.iter_mut() {
        if let Some((_, b)) = baselines.iter().find(|(seed, _)| *seed == r.seed) {
            r.fwt = r.matrix().and_then(|m| metrics::fwt(&m, b));
        }
    }
}

impl RunReport {
    /// The accuracy matrix as the metrics take it.
    fn matrix(&self) -> Option<AccuracyMatrix> {
        let rows = self.accuracy_matrix.iter();
        let rows = rows.map(|row| row.iter().map(|v| v.unwrap_or(f64::NAN)).collect());
        AccuracyMatrix::from_rows(rows.collect()).ok()
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
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub(crate) fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let sd = if v.len() > 1 {
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (m, sd)
}

pub(super) fn fmt_ms(v: &[f64], digits: usize) -> String {
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
            "method,rank,alpha,seed,trainable_params,acc,bwt,forgetting,plasticity,fwt,ppl_before,ppl_after,status",
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
                "{},{},{},{},{},{},{},{},{},{},{:.4},{:.4},{status}",
                r.method,
                r.rank,
                r.alpha,
                r.seed,
                r.trainable_params,
                opt(r.metrics.acc),
                opt(r.metrics.bwt),
                opt(r.metrics.forgetting),
                opt(r.metrics.plasticity),
                opt(r.fwt),
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(method: Method, seed: u64, rows: Vec<Vec<Option<f64>>>) -> RunReport {
        RunReport {
            method,
            rank: 4,
            alpha: 1.0,
            seed,
            trainable_params: 0,
            accuracy_matrix: rows,
            majority_baseline: vec![0.5, 0.5],
            perplexity: vec![10.0, 11.0, 12.5],
            metrics: ContinualSummary {
                acc: None,
                bwt: None,
                forgetting: None,
                plasticity: None,
            },
            fwt: None,
            constant_predictor: Vec::new(),
            losses: Vec::new(),
            status: RunStatus::Completed,
            steps: 0,
            seconds: 1.0,
            steps_per_second: 0.0,
            adapter_bytes: None,
            variant: None,
        }
    }

    /// FWT by hand: LoRA's R[1][1] = 0.9 against the head-only run's 0.7 of the same seed
    /// gives 0.2; a seed without a head-only run gets none.
    #[test]
    fn forward_transfer_reads_the_head_only_run_of_the_same_seed() {
        let mut runs = vec![
            run(
                Method::Lora,
                1,
                vec![vec![Some(0.8), None], vec![Some(0.6), Some(0.9)]],
            ),
            run(
                Method::Frozen,
                1,
                vec![vec![Some(0.65), None], vec![Some(0.65), Some(0.7)]],
            ),
            run(
                Method::Lora,
                2,
                vec![vec![Some(0.8), None], vec![Some(0.6), Some(0.9)]],
            ),
        ];
        fill_forward_transfer(&mut runs);
        assert!((runs[0].fwt.unwrap() - 0.2).abs() < 1e-12);
        assert!(
            runs[1].fwt.unwrap().abs() < 1e-12,
            "head-only against itself"
        );
        assert_eq!(runs[2].fwt, None);
    }
}
