//! CUR selection: probabilities against a direct f64 computation, reproducibility, and the
//! statistical direction of inverted vs standard sampling.

mod common;

use burn::tensor::Device;
use common::fixture;
use curlora::adapters::cur::{self, SelectionConfig, SelectionMode};
use curlora::adapters::{AdapterConfig, CurLora, Method};
use curlora::core::rng::{Rng, derive_seed};
use curlora::model::LanguageModel;

/// `[in, out]` = `[6, 10]` with columns 0..3 and row 0 scaled down (low energy).
fn weight() -> Vec<f32> {
    let mut rng = Rng::new(42);
    let (n_in, n_out) = (6, 10);
    let mut w = vec![0f32; n_in * n_out];
    for i in 0..n_in {
        for j in 0..n_out {
            let mut v = 1.0 + 0.2 * rng.normal();
            if j < 3 {
                v *= 0.2;
            }
            if i == 0 {
                v *= 0.3;
            }
            w[i * n_out + j] = v as f32;
        }
    }
    w
}

#[test]
fn probabilities_equal_a_direct_f64_computation() {
    let w = weight();
    let (n_in, n_out) = (6, 10);
    // Direct: ‖W‖²_F, then each column's and row's squared norm over it.
    let total: f64 = w.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
    let col: Vec<f64> = (0..n_out)
        .map(|j| {
            (0..n_in)
                .map(|i| f64::from(w[i * n_out + j]).powi(2))
                .sum::<f64>()
                / total
        })
        .collect();
    let row: Vec<f64> = (0..n_in)
        .map(|i| {
            (0..n_out)
                .map(|j| f64::from(w[i * n_out + j]).powi(2))
                .sum::<f64>()
                / total
        })
        .collect();
    for eps in [0.001, 0.0, 0.05] {
        let cfg = SelectionConfig {
            rank: 3,
            mode: SelectionMode::Inverted,
            epsilon: eps,
            replacement: true,
        };
        let sel = cur::select(&w, [n_in, n_out], &cfg, 1).unwrap();
        let inv = |p: &[f64]| {
            let q: Vec<f64> = p.iter().map(|x| 1.0 / (x + eps)).collect();
            let s: f64 = q.iter().sum();
            q.into_iter().map(|x| x / s).collect::<Vec<_>>()
        };
        let close = |a: &[f64], b: &[f64]| {
            a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() <= 1e-14 * y.abs().max(1e-3))
        };
        assert!(close(&sel.col_energy, &col));
        assert!(close(&sel.row_energy, &row));
        assert!(close(&sel.col_probs, &inv(&col)), "eps {eps}");
        assert!(close(&sel.row_probs, &inv(&row)), "eps {eps}");
        assert_eq!(sel.cols.len(), 3);
        assert!(sel.cols.iter().all(|&c| c < n_out) && sel.rows.iter().all(|&r| r < n_in));
    }
    let std_cfg = SelectionConfig {
        rank: 3,
        mode: SelectionMode::Standard,
        epsilon: 0.001,
        replacement: true,
    };
    let sel = cur::select(&w, [n_in, n_out], &std_cfg, 1).unwrap();
    assert_eq!(sel.col_probs, sel.col_energy);
}

#[test]
fn same_seed_same_indices_and_seeds_matter() {
    let w = weight();
    let cfg = SelectionConfig {
        rank: 5,
        ..Default::default()
    };
    let a = cur::select(&w, [6, 10], &cfg, 123).unwrap();
    let b = cur::select(&w, [6, 10], &cfg, 123).unwrap();
    assert_eq!(a, b);
    let differs = (0..20u64).any(|s| {
        let c = cur::select(&w, [6, 10], &cfg, 1000 + s).unwrap();
        c.cols != a.cols || c.rows != a.rows
    });
    assert!(differs, "20 other seeds all drew the same indices");
}

/// Over many seeded draws, the low-energy columns 0..3 are chosen more often than their
/// uniform share (3/10) in inverted mode and less often in standard mode; the same for row 0.
#[test]
fn inverted_mode_prefers_low_norm_columns_and_standard_avoids_them() {
    let w = weight();
    let draws = 2000u64;
    let share = |mode| {
        let cfg = SelectionConfig {
            rank: 4,
            mode,
            epsilon: 0.001,
            replacement: true,
        };
        let (mut low_c, mut low_r, mut total) = (0usize, 0usize, 0usize);
        for s in 0..draws {
            let sel = cur::select(&w, [6, 10], &cfg, s).unwrap();
            low_c += sel.cols.iter().filter(|&&c| c < 3).count();
            low_r += sel.rows.iter().filter(|&&r| r == 0).count();
            total += sel.cols.len();
        }
        (low_c as f64 / total as f64, low_r as f64 / total as f64)
    };
    let (inv_c, inv_r) = share(SelectionMode::Inverted);
    let (std_c, std_r) = share(SelectionMode::Standard);
    assert!(
        inv_c > 0.5,
        "inverted: low-norm columns drawn {inv_c:.3} of the time (uniform 0.3)"
    );
    assert!(
        std_c < 0.1,
        "standard: low-norm columns drawn {std_c:.3} of the time (uniform 0.3)"
    );
    assert!(
        inv_r > 0.3,
        "inverted: low-norm row drawn {inv_r:.3} (uniform 0.167)"
    );
    assert!(
        std_r < 0.05,
        "standard: low-norm row drawn {std_r:.3} (uniform 0.167)"
    );
}

/// Uniform mode ignores the energies: over 2,000 seeded draws every column and row comes up at
/// its uniform rate (within 5 standard errors), and standard mode draws each column at the rate
/// of its energy share.
#[test]
fn uniform_and_standard_frequencies_follow_their_distributions() {
    let w = weight();
    let draws = 2000u64;
    let counts = |mode| {
        let cfg = SelectionConfig {
            rank: 4,
            mode,
            epsilon: 0.001,
            replacement: true,
        };
        let (mut cols, mut rows) = (vec![0usize; 10], vec![0usize; 6]);
        for s in 0..draws {
            let sel = cur::select(&w, [6, 10], &cfg, s).unwrap();
            sel.cols.iter().for_each(|&c| cols[c] += 1);
            sel.rows.iter().for_each(|&r| rows[r] += 1);
        }
        (cols, rows)
    };
    let n = (draws * 4) as f64;
    let close = |count: usize, p: f64, what: &str| {
        let se = (p * (1.0 - p) / n).sqrt();
        let f = count as f64 / n;
        assert!(
            (f - p).abs() < 5.0 * se,
            "{what}: frequency {f:.4}, expected {p:.4}"
        );
    };
    let (cols, rows) = counts(SelectionMode::Uniform);
    cols.iter()
        .enumerate()
        .for_each(|(j, &c)| close(c, 0.1, &format!("uniform column {j}")));
    rows.iter()
        .enumerate()
        .for_each(|(i, &c)| close(c, 1.0 / 6.0, &format!("uniform row {i}")));
    let (energy, _) = cur::energies(&w, 6, 10).unwrap();
    let (cols, _) = counts(SelectionMode::Standard);
    for (j, &c) in cols.iter().enumerate() {
        close(c, energy[j], &format!("standard column {j}"));
    }
}

#[test]
fn without_replacement_never_repeats() {
    let w = weight();
    let cfg = SelectionConfig {
        rank: 6,
        mode: SelectionMode::Inverted,
        epsilon: 0.001,
        replacement: false,
    };
    for s in 0..50 {
        let sel = cur::select(&w, [6, 10], &cfg, s).unwrap();
        let mut c = sel.cols.clone();
        c.sort();
        c.dedup();
        assert_eq!(c.len(), 6);
        let mut r = sel.rows.clone();
        r.sort();
        r.dedup();
        assert_eq!(r.len(), 6);
    }
}

/// The model attaches exactly what a standalone selection with the derived per-module seed
/// draws, so `curlora select` shows the indices a run uses.
#[test]
fn model_selection_matches_standalone_selection() {
    let device = Device::flex();
    let dir = fixture("tiny-gpt2");
    let base = LanguageModel::load(&dir, &device).unwrap();
    let w = base.module("h.1.attn.c_attn").unwrap().weight_host();
    let shape = base.module("h.1.attn.c_attn").unwrap().shape();
    let cfg = AdapterConfig::new(Method::CurLora, 8, 77);
    let (model, sels) = base.with_adapters(&cfg).unwrap();
    let standalone = cur::select(
        &w,
        shape,
        &cfg.selection_config(),
        derive_seed(77, "h.1.attn.c_attn"),
    )
    .unwrap();
    let (name, sel) = &sels[1];
    assert_eq!(name, "h.1.attn.c_attn");
    assert_eq!(sel, &standalone);
    let layer = model.module("h.1.attn.c_attn").unwrap();
    assert_eq!(layer.adapter_as::<CurLora>().unwrap().cols, standalone.cols);
    assert_eq!(layer.adapter_as::<CurLora>().unwrap().rows, standalone.rows);
}

#[test]
fn select_cli_prints_the_documented_json() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_curlora"))
        .args(["--device", "cpu", "select", "--model"])
        .arg(fixture("tiny-gpt2"))
        .args([
            "--module",
            "h.0.attn.c_attn",
            "--rank",
            "4",
            "--seed",
            "5",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["shape"], serde_json::json!([32, 96]));
    assert_eq!(v["col_probs"].as_array().unwrap().len(), 96);
    assert_eq!(v["row_probs"].as_array().unwrap().len(), 32);
    let sum: f64 = v["col_probs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .sum();
    assert!((sum - 1.0).abs() < 1e-12);
    assert_eq!(v["cols"].as_array().unwrap().len(), 4);
    assert_eq!(v["rows"].as_array().unwrap().len(), 4);
    // Same indices as the library with the derived seed.
    let base = LanguageModel::load(&fixture("tiny-gpt2"), &Device::flex()).unwrap();
    let m = base.module("h.0.attn.c_attn").unwrap();
    let cfg = SelectionConfig {
        rank: 4,
        ..Default::default()
    };
    let sel = cur::select(
        &m.weight_host(),
        m.shape(),
        &cfg,
        derive_seed(5, "h.0.attn.c_attn"),
    )
    .unwrap();
    let cols: Vec<usize> = v["cols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(cols, sel.cols);
}
