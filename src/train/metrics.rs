//! Continual-learning metrics: pure functions of an accuracy matrix and of predictions.
//!
//! Tasks are trained in order `0..T`. After training task `i`, every task `j ≤ i` is evaluated,
//! giving the accuracy matrix `R[i][j]` (row = "after training task i", column = "task j").
//! Entries with `j > i` (not yet trained) are `None`; the reference protocol (MRPC → SST-2 →
//! Sentiment140) fills exactly the lower triangle.
//!
//! Accuracies may be fractions or percentages; the metrics are in the same unit.

use serde::{Deserialize, Serialize};

use crate::core::error::{Error, Result};

/// Share of predictions above which a classifier counts as constant (see
/// [`constant_predictor`]).
pub const CONSTANT_PREDICTOR_THRESHOLD: f64 = 0.95;

/// The T×T accuracy matrix `R[i][j]` = accuracy on task `j` after training task `i`.
/// Every row has T entries; `None` means "not evaluated" (normally `j > i`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracyMatrix {
    rows: Vec<Vec<Option<f64>>>,
}

impl AccuracyMatrix {
    /// A T×T matrix with nothing evaluated yet.
    pub fn new(num_tasks: usize) -> Self {
        AccuracyMatrix {
            rows: vec![vec![None; num_tasks]; num_tasks],
        }
    }

    /// From dense rows, where NaN means "not evaluated". Rows must form a square matrix.
    pub fn from_rows(rows: Vec<Vec<f64>>) -> Result<Self> {
        let t = rows.len();
        if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != t) {
            return Err(Error::config(format!(
                "accuracy matrix must be {t}×{t}: row {i} has {} entries",
                r.len()
            )));
        }
        Ok(AccuracyMatrix {
            rows: rows
                .into_iter()
                .map(|r| r.into_iter().map(|v| (!v.is_nan()).then_some(v)).collect())
                .collect(),
        })
    }

    /// Number of tasks T.
    pub fn num_tasks(&self) -> usize {
        self.rows.len()
    }

    /// Records the accuracy on task `task` after training task `after_task`.
    pub fn set(&mut self, after_task: usize, task: usize, accuracy: f64) -> Result<()> {
        let t = self.num_tasks();
        let cell = self
            .rows
            .get_mut(after_task)
            .and_then(|r| r.get_mut(task))
            .ok_or_else(|| {
                Error::config(format!(
                    "accuracy matrix entry ({after_task}, {task}) is outside the {t}×{t} matrix"
                ))
            })?;
        *cell = Some(accuracy);
        Ok(())
    }

    /// `R[after_task][task]`, if evaluated.
    pub fn get(&self, after_task: usize, task: usize) -> Option<f64> {
        self.rows.get(after_task)?.get(task).copied().flatten()
    }

    /// The rows, `None` where not evaluated.
    pub fn rows(&self) -> &[Vec<Option<f64>>] {
        &self.rows
    }
}

/// ACC, the average final accuracy: `ACC = (1/T) Σ_{j=0}^{T−1} R[T−1][j]`.
/// `None` if T = 0 or an entry of the last row is missing.
pub fn acc(r: &AccuracyMatrix) -> Option<f64> {
    let t = r.num_tasks();
    if t == 0 {
        return None;
    }
    let mut sum = 0.0;
    for j in 0..t {
        sum += r.get(t - 1, j)?;
    }
    Some(sum / t as f64)
}

/// Backward transfer (Lopez-Paz & Ranzato 2017, GEM):
/// `BWT = 1/(T−1) Σ_{j=0}^{T−2} (R[T−1][j] − R[j][j])`.
/// Negative means forgetting. `None` if T ≤ 1 (no task was trained before another, so it is
/// undefined rather than 0) or a needed entry is missing.
pub fn bwt(r: &AccuracyMatrix) -> Option<f64> {
    let t = r.num_tasks();
    if t <= 1 {
        return None;
    }
    let mut sum = 0.0;
    for j in 0..t - 1 {
        sum += r.get(t - 1, j)? - r.get(j, j)?;
    }
    Some(sum / (t - 1) as f64)
}

/// Average forgetting (Chaudhry et al. 2018, RWalk, max-based):
/// `F = 1/(T−1) Σ_{j=0}^{T−2} max_{l∈[j, T−2]} (R[l][j] − R[T−1][j])`,
/// the drop from the best accuracy task `j` ever had to its final accuracy. It can be negative
/// when a task ends better than it ever was. `None` if T ≤ 1 or a needed entry is missing.
pub fn forgetting(r: &AccuracyMatrix) -> Option<f64> {
    let t = r.num_tasks();
    if t <= 1 {
        return None;
    }
    let mut sum = 0.0;
    for j in 0..t - 1 {
        let last = r.get(t - 1, j)?;
        let mut best = f64::NEG_INFINITY;
        for l in j..t - 1 {
            best = best.max(r.get(l, j)?);
        }
        sum += best - last;
    }
    Some(sum / (t - 1) as f64)
}

/// Plasticity: the mean accuracy on each task just after training it,
/// `(1/T) Σ_j R[j][j]`. A method that forgets nothing but learns nothing scores low here.
/// `None` if T = 0 or a diagonal entry is missing.
pub fn plasticity(r: &AccuracyMatrix) -> Option<f64> {
    let t = r.num_tasks();
    if t == 0 {
        return None;
    }
    let mut sum = 0.0;
    for j in 0..t {
        sum += r.get(j, j)?;
    }
    Some(sum / t as f64)
}

/// Forward transfer in the multi-head form: `FWT = 1/(T−1) Σ_{j=1}^{T−1} (R[j][j] − b_j)`,
/// where `b_j` is the accuracy on task `j` of the untrained model with a fresh head trained on
/// `j` (the head-only `frozen` run of the same seed: its `R[j][j]`).
///
/// Lopez-Paz & Ranzato (2017) use `R[j−1][j]`, the accuracy on task `j` before training it,
/// which a model with a new head per task cannot have (the head does not exist yet). Here each
/// later task is scored by how much better the method learns it, after the earlier tasks, than
/// a head on the untouched model does. `None` if T ≤ 1, if `baseline` has fewer than T
/// entries, or if an entry is missing.
pub fn fwt(r: &AccuracyMatrix, baseline: &[f64]) -> Option<f64> {
    let t = r.num_tasks();
    if t <= 1 || baseline.len() < t {
        return None;
    }
    let mut sum = 0.0;
    for (j, b) in baseline.iter().enumerate().take(t).skip(1) {
        sum += r.get(j, j)? - b;
    }
    Some(sum / (t - 1) as f64)
}

/// The diagonal `R[j][j]`, `None` where missing: a head-only run's diagonal is the baseline
/// of [`fwt`].
pub fn diagonal(r: &AccuracyMatrix) -> Vec<Option<f64>> {
    (0..r.num_tasks()).map(|j| r.get(j, j)).collect()
}

/// ACC, BWT, forgetting and plasticity together, for reports. (FWT needs the head-only run
/// too, so the report adds it.)
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ContinualSummary {
    pub acc: Option<f64>,
    pub bwt: Option<f64>,
    pub forgetting: Option<f64>,
    /// Recordings made before plasticity was reported lack it.
    #[serde(default)]
    pub plasticity: Option<f64>,
}

/// [`acc`], [`bwt`], [`forgetting`] and [`plasticity`] of `r`.
pub fn summarize(r: &AccuracyMatrix) -> ContinualSummary {
    ContinualSummary {
        acc: acc(r),
        bwt: bwt(r),
        forgetting: forgetting(r),
        plasticity: plasticity(r),
    }
}

/// Accuracy = `#{k : preds[k] = labels[k]} / n`. Errors if the lengths differ or n = 0.
pub fn accuracy(preds: &[usize], labels: &[usize]) -> Result<f64> {
    if preds.len() != labels.len() {
        return Err(Error::config(format!(
            "accuracy: {} predictions for {} labels",
            preds.len(),
            labels.len()
        )));
    }
    if preds.is_empty() {
        return Err(Error::config("accuracy: no predictions"));
    }
    let correct = preds.iter().zip(labels).filter(|(p, l)| p == l).count();
    Ok(correct as f64 / preds.len() as f64)
}

/// Flags a classifier that (almost) always predicts one class: returns `(class, share)` when
/// the most frequent predicted class has `share = count(class) / n ≥ 0.95`
/// ([`CONSTANT_PREDICTOR_THRESHOLD`]). The paper's degenerate cells (MRPC 0.6838 or 0.3162,
/// SST-2 0.5092 or 0.4908, Sentiment140 1.00) are such classifiers; an accuracy is only
/// meaningful next to this check. Predictions ≥ `num_classes` are counted too. `None` for no
/// predictions or when no class reaches the threshold. Ties go to the lowest class id.
pub fn constant_predictor(predictions: &[usize], num_classes: usize) -> Option<(usize, f64)> {
    constant_predictor_at(predictions, num_classes, CONSTANT_PREDICTOR_THRESHOLD)
}

/// [`constant_predictor`] with a chosen threshold (a share in `[0, 1]`).
pub fn constant_predictor_at(
    predictions: &[usize],
    num_classes: usize,
    threshold: f64,
) -> Option<(usize, f64)> {
    if predictions.is_empty() {
        return None;
    }
    let mut counts = vec![0usize; num_classes];
    for &p in predictions {
        if p >= counts.len() {
            counts.resize(p + 1, 0);
        }
        counts[p] += 1;
    }
    let (class, &count) = counts
        .iter()
        .enumerate()
        .max_by(|(ia, a), (ib, b)| a.cmp(b).then(ib.cmp(ia)))?;
    let share = count as f64 / predictions.len() as f64;
    (share >= threshold).then_some((class, share))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_tasks() {
        // R = [[0.8, -], [0.6, 0.9]]: ACC = 0.75, BWT = 0.6 − 0.8 = −0.2, F = 0.8 − 0.6 = 0.2.
        let r = AccuracyMatrix::from_rows(vec![vec![0.8, f64::NAN], vec![0.6, 0.9]]).unwrap();
        assert!((acc(&r).unwrap() - 0.75).abs() < 1e-12);
        assert!((bwt(&r).unwrap() + 0.2).abs() < 1e-12);
        assert!((forgetting(&r).unwrap() - 0.2).abs() < 1e-12);
    }

    /// Three tasks by hand: R = [[0.9, –, –], [0.7, 0.8, –], [0.6, 0.75, 0.95]], head-only
    /// diagonal b = [0.6, 0.7, 0.85].
    #[test]
    fn plasticity_and_forward_transfer_by_hand() {
        let n = f64::NAN;
        let r = AccuracyMatrix::from_rows(vec![
            vec![0.9, n, n],
            vec![0.7, 0.8, n],
            vec![0.6, 0.75, 0.95],
        ])
        .unwrap();
        // (0.9 + 0.8 + 0.95) / 3
        assert!((plasticity(&r).unwrap() - 2.65 / 3.0).abs() < 1e-12);
        // ((0.8 − 0.7) + (0.95 − 0.85)) / 2 = 0.1
        assert!((fwt(&r, &[0.6, 0.7, 0.85]).unwrap() - 0.1).abs() < 1e-12);
        assert_eq!(fwt(&r, &[0.6, 0.7]), None, "a short baseline");
        let one = AccuracyMatrix::from_rows(vec![vec![0.5]]).unwrap();
        assert_eq!(fwt(&one, &[0.5]), None, "undefined for one task");
        assert_eq!(diagonal(&r), vec![Some(0.9), Some(0.8), Some(0.95)]);
        let s = summarize(&r);
        assert_eq!(s.plasticity, plasticity(&r));
        // An old recording without the field still reads.
        let old: ContinualSummary =
            serde_json::from_str(r#"{"acc": 0.5, "bwt": null, "forgetting": null}"#).unwrap();
        assert_eq!(old.plasticity, None);
    }

    #[test]
    fn tie_goes_to_lowest_class() {
        assert_eq!(constant_predictor_at(&[1, 0], 2, 0.5), Some((0, 0.5)));
    }
}
