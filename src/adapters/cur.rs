//! CUR column/row selection for CURLoRA (Fawi 2024, arXiv 2408.14572, §3–4).
//!
//! A frozen weight `W` is stored `[in, out]` (HF GPT-2 `Conv1D` and burn `Linear` layout), so
//! `y = x·W`. Following the reference code's GPT-2 `c_attn` path:
//!
//! * **columns** index the `out` dimension: `C = W[:, cols]` has shape `[in, r]`;
//! * **rows** index the `in` dimension: `R = W[rows, :]` has shape `[r, out]`.
//!
//! The probability of column `j` is its share of the Frobenius energy,
//! `p_j = Σ_i W_ij² / ‖W‖²_F`, and likewise for rows. CURLoRA *inverts* these so that
//! low-energy columns and rows are likelier: `p̃_j ∝ 1 / (p_j + ε)`. The reference code uses
//! ε = 0.001 (which, for large matrices where `p_j ≈ 1/n ≪ ε`, makes sampling nearly uniform);
//! ε = 0 gives the paper's Eq. 4. Sampling is with replacement by default, as in the reference
//! (duplicates are kept as repeated columns); `standard` mode samples proportionally to `p`
//! (classic CUR, for ablations).
//!
//! Everything is computed in f64 from the f32 weights, so no sum can overflow or lose the
//! small probabilities (the reference's issue #1 was an `inf` sum in half precision).

use crate::core::error::{Error, Result};
use crate::core::rng::Rng;
use serde::{Deserialize, Serialize};

/// How selection probabilities are derived from the energies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SelectionMode {
    /// CURLoRA: `p̃ ∝ 1/(p + ε)`, low-energy columns and rows are likelier.
    #[default]
    Inverted,
    /// Classic CUR: proportional to the squared norms.
    Standard,
    /// Every column and row equally likely (the ablation that ignores `W`'s energies).
    Uniform,
}

/// Settings for one selection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SelectionConfig {
    pub rank: usize,
    pub mode: SelectionMode,
    /// ε added before inversion (0.001 in the reference; 0 = the paper's formula).
    pub epsilon: f64,
    /// Sample with replacement (reference behaviour) or without.
    pub replacement: bool,
}

impl Default for SelectionConfig {
    fn default() -> Self {
        Self {
            rank: 8,
            mode: SelectionMode::Inverted,
            epsilon: 0.001,
            replacement: true,
        }
    }
}

/// The outcome of a selection: everything needed to redraw it and to show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurSelection {
    /// `[in, out]`.
    pub shape: [usize; 2],
    pub seed: u64,
    pub config: SelectionConfig,
    /// Energy share of each column (length `out`), before any inversion.
    pub col_energy: Vec<f64>,
    /// Energy share of each row (length `in`), before any inversion.
    pub row_energy: Vec<f64>,
    /// Sampling distribution over columns (after inversion in inverted mode).
    pub col_probs: Vec<f64>,
    /// Sampling distribution over rows (after inversion in inverted mode).
    pub row_probs: Vec<f64>,
    /// Selected columns (indices into `out`), in draw order; may repeat with replacement.
    pub cols: Vec<usize>,
    /// Selected rows (indices into `in`), in draw order; may repeat with replacement.
    pub rows: Vec<usize>,
}

/// Squared-norm energy shares of the columns and rows of a row-major `[rows_n, cols_n]` matrix,
/// accumulated in f64. Returns `(col_energy, row_energy)`.
pub fn energies(w: &[f32], rows_n: usize, cols_n: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    if w.len() != rows_n * cols_n {
        return Err(Error::config(format!(
            "weight has {} values, expected {rows_n}×{cols_n}",
            w.len()
        )));
    }
    let mut col = vec![0f64; cols_n];
    let mut row = vec![0f64; rows_n];
    for (i, r) in w.chunks_exact(cols_n).enumerate() {
        let mut acc = 0f64;
        for (j, &v) in r.iter().enumerate() {
            let v = f64::from(v);
            let sq = v * v;
            col[j] += sq;
            acc += sq;
        }
        row[i] = acc;
    }
    shares(col, row)
}

/// Squared norms → energy shares (each divided by the total, `Σ rows`).
fn shares(mut col: Vec<f64>, mut row: Vec<f64>) -> Result<(Vec<f64>, Vec<f64>)> {
    let total: f64 = row.iter().sum();
    if !total.is_finite() {
        return Err(Error::Numeric(
            "weight contains NaN or infinite values".into(),
        ));
    }
    if total == 0.0 {
        return Err(Error::Numeric(
            "weight is all zeros: CUR probabilities are undefined".into(),
        ));
    }
    col.iter_mut().for_each(|c| *c /= total);
    row.iter_mut().for_each(|r| *r /= total);
    Ok((col, row))
}

/// Turns energy shares into a sampling distribution for the given mode.
pub fn sampling_probs(energy: &[f64], mode: SelectionMode, epsilon: f64) -> Result<Vec<f64>> {
    sampling_probs_named(energy, mode, epsilon, "index")
}

fn sampling_probs_named(
    energy: &[f64],
    mode: SelectionMode,
    epsilon: f64,
    what: &str,
) -> Result<Vec<f64>> {
    let raw: Vec<f64> = match mode {
        SelectionMode::Standard => energy.to_vec(),
        SelectionMode::Uniform => vec![1.0; energy.len()],
        SelectionMode::Inverted => {
            if epsilon < 0.0 || !epsilon.is_finite() {
                return Err(Error::config(format!(
                    "epsilon must be finite and ≥ 0, got {epsilon}"
                )));
            }
            let mut v = Vec::with_capacity(energy.len());
            for (j, &p) in energy.iter().enumerate() {
                let d = p + epsilon;
                if d <= 0.0 {
                    return Err(Error::Numeric(format!(
                        "{what} {j} has zero energy, so 1/p is infinite with epsilon = 0; \
                         use an epsilon > 0"
                    )));
                }
                v.push(1.0 / d);
            }
            v
        }
    };
    let s: f64 = raw.iter().sum();
    Ok(raw.into_iter().map(|x| x / s).collect())
}

/// Draws `k` indices from `probs` with a seeded generator.
pub fn sample(probs: &[f64], k: usize, replacement: bool, rng: &mut Rng) -> Result<Vec<usize>> {
    let support = probs.iter().filter(|&&p| p > 0.0).count();
    if !replacement && k > support {
        return Err(Error::config(format!(
            "cannot draw {k} distinct indices from {support} with non-zero probability"
        )));
    }
    let mut p = probs.to_vec();
    let mut out = Vec::with_capacity(k);
    let mut cdf = vec![0f64; p.len()];
    for _ in 0..k {
        let mut acc = 0f64;
        for (c, &pi) in cdf.iter_mut().zip(&p) {
            acc += pi;
            *c = acc;
        }
        let i = rng.sample_cdf(&cdf);
        out.push(i);
        if !replacement {
            p[i] = 0.0;
        }
    }
    Ok(out)
}

/// Selects `rank` columns and rows of a row-major `[in, out]` weight.
///
/// Columns are drawn first, then rows, from one generator seeded with `seed` (callers that
/// adapt several matrices pass a per-module seed from [`crate::core::rng::derive_seed`]).
pub fn select(
    w: &[f32],
    shape: [usize; 2],
    config: &SelectionConfig,
    seed: u64,
) -> Result<CurSelection> {
    let [n_in, n_out] = shape;
    check_rank(config.rank, shape)?;
    let (col_energy, row_energy) = energies(w, n_in, n_out)?;
    select_from_energies(col_energy, row_energy, shape, config, seed)
}

/// [`select`] from squared norms computed elsewhere (on the device that holds `W`):
/// `col_sq[j] = Σ_i W[i, j]²` (length `out`), `row_sq[i] = Σ_j W[i, j]²` (length `in`).
pub fn select_from_sq_norms(
    col_sq: Vec<f64>,
    row_sq: Vec<f64>,
    shape: [usize; 2],
    config: &SelectionConfig,
    seed: u64,
) -> Result<CurSelection> {
    check_rank(config.rank, shape)?;
    if col_sq.len() != shape[1] || row_sq.len() != shape[0] {
        return Err(Error::config(format!(
            "norms of lengths {} and {} do not fit a {}×{} weight",
            col_sq.len(),
            row_sq.len(),
            shape[0],
            shape[1]
        )));
    }
    let (col_energy, row_energy) = shares(col_sq, row_sq)?;
    select_from_energies(col_energy, row_energy, shape, config, seed)
}

fn select_from_energies(
    col_energy: Vec<f64>,
    row_energy: Vec<f64>,
    shape: [usize; 2],
    config: &SelectionConfig,
    seed: u64,
) -> Result<CurSelection> {
    let col_probs = sampling_probs_named(&col_energy, config.mode, config.epsilon, "column")?;
    let row_probs = sampling_probs_named(&row_energy, config.mode, config.epsilon, "row")?;
    let mut rng = Rng::new(seed);
    let cols = sample(&col_probs, config.rank, config.replacement, &mut rng)?;
    let rows = sample(&row_probs, config.rank, config.replacement, &mut rng)?;
    Ok(CurSelection {
        shape,
        seed,
        config: config.clone(),
        col_energy,
        row_energy,
        col_probs,
        row_probs,
        cols,
        rows,
    })
}

/// Rank must be in `1..=min(in, out)`.
pub fn check_rank(rank: usize, shape: [usize; 2]) -> Result<()> {
    let max = shape[0].min(shape[1]);
    if rank == 0 || rank > max {
        return Err(Error::config(format!(
            "rank {rank} is out of range for a {}×{} weight: expected 1 ≤ rank ≤ {max}",
            shape[0], shape[1]
        )));
    }
    Ok(())
}

/// Gathers `C = W[:, cols]` (`[in, r]`) and `R = W[rows, :]` (`[r, out]`) on the host.
pub fn gather(
    w: &[f32],
    shape: [usize; 2],
    cols: &[usize],
    rows: &[usize],
) -> (Vec<f32>, Vec<f32>) {
    let [n_in, n_out] = shape;
    let r = cols.len();
    let mut c = Vec::with_capacity(n_in * r);
    for i in 0..n_in {
        for &j in cols {
            c.push(w[i * n_out + j]);
        }
    }
    let mut rm = Vec::with_capacity(rows.len() * n_out);
    for &i in rows {
        rm.extend_from_slice(&w[i * n_out..(i + 1) * n_out]);
    }
    (c, rm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn energies_sum_to_one() {
        let w = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let (c, r) = energies(&w, 2, 3).unwrap();
        assert!((c.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert!((r.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        // Column 0: 1² + 4² = 17 of 91.
        assert!((c[0] - 17.0 / 91.0).abs() < 1e-15);
        // Row 1: 16 + 25 + 36 = 77 of 91.
        assert!((r[1] - 77.0 / 91.0).abs() < 1e-15);
    }

    #[test]
    fn zero_epsilon_with_zero_column_is_an_error() {
        let e = sampling_probs(&[0.5, 0.5, 0.0], SelectionMode::Inverted, 0.0).unwrap_err();
        assert!(e.to_string().contains("index 2"), "{e}");
    }

    #[test]
    fn without_replacement_gives_distinct_indices() {
        let mut rng = Rng::new(3);
        let p = vec![0.25; 4];
        let mut s = sample(&p, 4, false, &mut rng).unwrap();
        s.sort();
        assert_eq!(s, vec![0, 1, 2, 3]);
        assert!(sample(&p, 5, false, &mut rng).is_err());
    }

    /// Selecting from norms computed elsewhere (the GPU path) is the host selection when the
    /// norms are the same numbers; wrong lengths are refused.
    #[test]
    fn selection_from_norms_equals_selection_from_the_matrix() {
        let mut rng = Rng::new(9);
        let (n, m) = (13usize, 21usize);
        let w: Vec<f32> = (0..n * m).map(|_| rng.next_f64() as f32 - 0.5).collect();
        let config = SelectionConfig {
            rank: 5,
            ..SelectionConfig::default()
        };
        let (mut cols, mut rows) = (vec![0f64; m], vec![0f64; n]);
        for (i, r) in w.chunks_exact(m).enumerate() {
            let mut acc = 0f64;
            for (j, &v) in r.iter().enumerate() {
                let sq = f64::from(v) * f64::from(v);
                cols[j] += sq;
                acc += sq;
            }
            rows[i] = acc;
        }
        let a = select(&w, [n, m], &config, 4).unwrap();
        let b = select_from_sq_norms(cols.clone(), rows.clone(), [n, m], &config, 4).unwrap();
        assert_eq!(
            (&a.cols, &a.rows, &a.col_probs),
            (&b.cols, &b.rows, &b.col_probs)
        );
        let e = select_from_sq_norms(rows, cols, [n, m], &config, 4).unwrap_err();
        assert!(e.to_string().contains("do not fit a 13×21"), "{e}");
    }
}
