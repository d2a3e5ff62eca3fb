//! `curlora study merge DIR`: every finished cell aggregated per method, rank and ablation,
//! with mean ± sd and a 95% t-interval over seeds, and the cells still missing named.
//!
//! `report.json` holds only what the runs computed (no wall times), so a study run in shards
//! on the CPU merges to the same bytes as one run in a single process; times go to
//! `timing.csv` and `report.md`.

use super::cells::{read_cell, read_study};
use super::stats::Stat;
use crate::adapters::Method;
use crate::core::error::{Error, Result};
use crate::core::fsutil::write_atomic;
use crate::experiment::ExperimentSpec;
use crate::experiment::report::{Report, RunReport, fill_forward_transfer};
use crate::train::RunStatus;
use crate::train::metrics::ContinualSummary;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The merged study (`report.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StudyReport {
    pub study: String,
    pub model: String,
    pub device: String,
    pub tasks: Vec<String>,
    /// `(train, eval)` examples per task.
    pub task_sizes: Vec<(usize, usize)>,
    pub cells_total: usize,
    pub cells_finished: usize,
    /// Ids of the cells that have not finished (not averaged in: the groups say how many seeds
    /// they hold).
    pub missing: Vec<String>,
    pub groups: Vec<GroupSummary>,
    pub cells: Vec<CellResult>,
    pub experiment: ExperimentSpec,
}

/// One method, rank and ablation over its seeds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GroupSummary {
    pub label: String,
    pub method: Method,
    pub rank: usize,
    pub variant: Option<String>,
    /// Seeds finished, and seeds of the grid still missing.
    pub seeds: Vec<u64>,
    pub missing_seeds: Vec<u64>,
    pub trainable_params: usize,
    pub adapter_bytes: Option<u64>,
    pub acc: Option<Stat>,
    pub bwt: Option<Stat>,
    pub forgetting: Option<Stat>,
    pub plasticity: Option<Stat>,
    pub fwt: Option<Stat>,
    /// Accuracy on each task right after training it (R[i][i]) and at the end (R[T−1][i]).
    pub accuracy_after_own_task: Vec<Option<Stat>>,
    pub accuracy_at_end: Vec<Option<Stat>>,
    /// Held-out perplexity before training, then after each task.
    pub perplexity: Vec<Option<Stat>>,
    /// Relative change of perplexity over the sequence, in percent.
    pub perplexity_change_percent: Option<Stat>,
    /// Per task: the majority-class baseline of its evaluation set.
    pub majority_baseline: Vec<f64>,
    /// Cells of this group flagged as a constant predictor somewhere, and diverged cells.
    pub constant_predictor_cells: usize,
    pub diverged_cells: usize,
}

/// One finished cell, without its wall time and loss curve.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CellResult {
    pub id: String,
    pub method: Method,
    pub rank: usize,
    pub seed: u64,
    pub variant: Option<String>,
    pub trainable_params: usize,
    pub accuracy_matrix: Vec<Vec<Option<f64>>>,
    pub perplexity: Vec<f64>,
    pub metrics: ContinualSummary,
    pub fwt: Option<f64>,
    pub constant_predictor: Vec<Vec<Option<(usize, f64)>>>,
    pub status: RunStatus,
    pub steps: usize,
    pub adapter_bytes: Option<u64>,
}

/// The merge of `dir`: the study report and the finished runs as one [`Report`] (for the
/// per-run tables and the plots).
pub fn merge(dir: &Path) -> Result<(StudyReport, Report)> {
    let study = read_study(dir)?;
    let mut runs: Vec<(String, RunReport)> = Vec::new();
    let mut missing = Vec::new();
    let mut first: Option<Report> = None;
    for entry in &study.cells {
        match read_cell(dir, entry)? {
            Some(mut report) => {
                let run = report.runs.remove(0);
                if first.is_none() {
                    first = Some(report);
                }
                runs.push((entry.id.clone(), run));
            }
            None => missing.push(entry.id.clone()),
        }
    }
    let Some(first) = first else {
        return Err(Error::config(format!(
            "{}: no cell has finished yet ({} missing); run `curlora study` first",
            dir.display(),
            missing.len()
        )));
    };
    let (ids, mut reports): (Vec<String>, Vec<RunReport>) = runs.into_iter().unzip();
    fill_forward_transfer(&mut reports);
    let combined = Report {
        runs: reports,
        notes: first.notes.clone(),
        experiment: study.experiment.clone(),
        preset: study.experiment.preset.clone(),
        ..first
    };
    let mut groups: Vec<GroupSummary> = Vec::new();
    for entry in &study.cells {
        let label = group_label(entry.method, entry.rank, &entry.variant);
        if groups.iter().any(|g| g.label == label) {
            continue;
        }
        let members: Vec<&RunReport> = combined
            .runs
            .iter()
            .filter(|r| r.label() == label)
            .collect();
        let missing_seeds = study
            .cells
            .iter()
            .filter(|c| group_label(c.method, c.rank, &c.variant) == label)
            .filter(|c| missing.contains(&c.id))
            .map(|c| c.seed)
            .collect();
        groups.push(summarize(entry, label, &members, missing_seeds));
    }
    let cells = ids
        .iter()
        .zip(&combined.runs)
        .map(|(id, r)| CellResult {
            id: id.clone(),
            method: r.method,
            rank: r.rank,
            seed: r.seed,
            variant: r.variant.clone(),
            trainable_params: r.trainable_params,
            accuracy_matrix: r.accuracy_matrix.clone(),
            perplexity: r.perplexity.clone(),
            metrics: r.metrics,
            fwt: r.fwt,
            constant_predictor: r.constant_predictor.clone(),
            status: r.status.clone(),
            steps: r.steps,
            adapter_bytes: r.adapter_bytes,
        })
        .collect();
    let report = StudyReport {
        study: study.name.clone(),
        model: combined.model.clone(),
        device: combined.device.clone(),
        tasks: combined.tasks.clone(),
        task_sizes: combined.task_sizes.clone(),
        cells_total: study.cells.len(),
        cells_finished: ids.len(),
        missing,
        groups,
        cells,
        experiment: study.experiment,
    };
    Ok((report, combined))
}

/// The label of a group: the run label of its method and rank, and its variant.
fn group_label(method: Method, rank: usize, variant: &Option<String>) -> String {
    let base = crate::train::engine::label(method, rank);
    match variant {
        Some(v) => format!("{base} [{v}]"),
        None => base,
    }
}

fn summarize(
    entry: &super::cells::CellEntry,
    label: String,
    runs: &[&RunReport],
    missing_seeds: Vec<u64>,
) -> GroupSummary {
    let stat = |f: &dyn Fn(&RunReport) -> Option<f64>| {
        Stat::of(
            &runs
                .iter()
                .map(|r| f(r).unwrap_or(f64::NAN))
                .collect::<Vec<_>>(),
        )
    };
    let t = runs.first().map_or(0, |r| r.accuracy_matrix.len());
    let p = runs.first().map_or(0, |r| r.perplexity.len());
    GroupSummary {
        label,
        method: entry.method,
        rank: entry.rank,
        variant: entry.variant.clone(),
        seeds: runs.iter().map(|r| r.seed).collect(),
        missing_seeds,
        trainable_params: runs.first().map_or(0, |r| r.trainable_params),
        adapter_bytes: runs.first().and_then(|r| r.adapter_bytes),
        acc: stat(&|r| r.metrics.acc),
        bwt: stat(&|r| r.metrics.bwt),
        forgetting: stat(&|r| r.metrics.forgetting),
        plasticity: stat(&|r| r.metrics.plasticity),
        fwt: stat(&|r| r.fwt),
        accuracy_after_own_task: (0..t).map(|i| stat(&|r| r.accuracy_matrix[i][i])).collect(),
        accuracy_at_end: (0..t)
            .map(|i| stat(&|r| r.accuracy_matrix[t - 1][i]))
            .collect(),
        perplexity: (0..p)
            .map(|i| stat(&|r| r.perplexity.get(i).copied()))
            .collect(),
        perplexity_change_percent: stat(&|r| {
            let (a, b) = (r.perplexity.first()?, r.perplexity.last()?);
            (r.perplexity.len() > 1).then(|| 100.0 * (b - a) / a)
        }),
        majority_baseline: runs
            .first()
            .map(|r| r.majority_baseline.clone())
            .unwrap_or_default(),
        constant_predictor_cells: runs
            .iter()
            .filter(|r| r.constant_predictor.iter().flatten().any(Option::is_some))
            .count(),
        diverged_cells: runs
            .iter()
            .filter(|r| matches!(r.status, RunStatus::Diverged { .. }))
            .count(),
    }
}

/// Writes the merge of `dir` into `dir`: report.json, report.csv (one row per group),
/// cells.csv (one row per cell), timing.csv, report.md and the PNG plots. Returns the report
/// and the number of plots.
pub fn write_merge(dir: &Path) -> Result<(StudyReport, usize)> {
    let (report, combined) = merge(dir)?;
    let json = serde_json::to_string_pretty(&report).expect("serializable");
    write_atomic(&dir.join("report.json"), json.as_bytes())?;
    write_atomic(
        &dir.join("report.csv"),
        super::tables::groups_csv(&report).as_bytes(),
    )?;
    write_atomic(
        &dir.join("cells.csv"),
        super::tables::cells_csv(&report, &combined).as_bytes(),
    )?;
    write_atomic(
        &dir.join("timing.csv"),
        super::tables::timing_csv(&report, &combined).as_bytes(),
    )?;
    write_atomic(
        &dir.join("report.md"),
        super::tables::markdown(&report, &combined).as_bytes(),
    )?;
    let plots = write_plots(&report, &combined, dir)?;
    Ok((report, plots))
}

#[cfg(feature = "plots")]
fn write_plots(report: &StudyReport, combined: &Report, dir: &Path) -> Result<usize> {
    let mut n = crate::experiment::plots::write_all(combined, &dir.join("plots"))?.len();
    let points: Vec<crate::experiment::plots::TradeOff> = report
        .groups
        .iter()
        .filter_map(|g| {
            Some(crate::experiment::plots::TradeOff {
                label: g.label.clone(),
                plasticity: (g.plasticity?.mean, g.plasticity?.sd),
                forgetting: (g.forgetting?.mean, g.forgetting?.sd),
            })
        })
        .collect();
    crate::experiment::plots::trade_off(&points, &dir.join("plots/forgetting-vs-plasticity.png"))?;
    n += 1;
    Ok(n)
}

#[cfg(not(feature = "plots"))]
fn write_plots(_: &StudyReport, _: &Report, _: &Path) -> Result<usize> {
    Ok(0)
}
