//! CURLoRA's ablations: which part of the method protects against forgetting?
//!
//! The paper credits two choices and tests neither: that `C` and `R` are columns and rows *of
//! `W`* (sampled with inverted probabilities), and that `U` starts at zero. These switches undo
//! one choice each, everything else equal (the selection modes `standard` and `uniform` and ε
//! live in [`super::cur`]):
//!
//! * [`UInit::Normal`]: `U` starts from `N(0, σ²)` instead of zero, so the adapted model no
//!   longer starts at the base model;
//! * [`CurSource::Gaussian`]: `C` and `R` are seeded Gaussian matrices of the same shapes and
//!   the same Frobenius norms as the `W` columns and rows they replace: the adapter keeps its
//!   size and its `r²` parameters but loses its anchoring in `W`.
//!
//! Both are seeded per module from the adapter's seed (saved in the adapter file), so a loaded
//! adapter rebuilds them bitwise.

use crate::core::rng::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How CURLoRA's `U` starts. Written `zero` or `normal:σ` (CLI, experiment files, reports).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum UInit {
    /// The method: `U = 0`, so training starts at the base model.
    #[default]
    Zero,
    /// `U ~ N(0, σ²)` entrywise (σ > 0).
    Normal(f64),
}

impl fmt::Display for UInit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UInit::Zero => write!(f, "zero"),
            UInit::Normal(s) => write!(f, "normal:{s}"),
        }
    }
}

impl FromStr for UInit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("U init `{s}`: expected `zero` or `normal:σ` with σ > 0 (e.g. normal:0.01)");
        match s.split_once(':') {
            None if s == "zero" => Ok(UInit::Zero),
            Some(("normal", sigma)) => match sigma.parse::<f64>() {
                Ok(v) if v > 0.0 && v.is_finite() => Ok(UInit::Normal(v)),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }
}

impl Serialize for UInit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UInit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl UInit {
    /// `U`'s starting values (`[r, r]`, row-major) for module `name`.
    pub fn values(self, rank: usize, seed: u64, name: &str) -> Vec<f32> {
        match self {
            UInit::Zero => vec![0.0; rank * rank],
            UInit::Normal(sigma) => {
                let mut rng = Rng::for_name(seed, &format!("cur-u:{name}"));
                (0..rank * rank)
                    .map(|_| (rng.normal() * sigma) as f32)
                    .collect()
            }
        }
    }
}

/// Where CURLoRA's `C` and `R` come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CurSource {
    /// The method: columns and rows of `W`.
    #[default]
    Weights,
    /// Seeded Gaussian matrices with the shapes and Frobenius norms of the `W` columns and rows
    /// they replace.
    Gaussian,
}

/// A seeded Gaussian matrix of `len` values scaled to Frobenius norm `norm` (module `name`,
/// `which` = `"c"` or `"r"`).
pub fn gaussian_like(len: usize, norm: f64, seed: u64, name: &str, which: &str) -> Vec<f32> {
    let mut rng = Rng::for_name(seed, &format!("cur-gauss-{which}:{name}"));
    let v: Vec<f64> = (0..len).map(|_| rng.normal()).collect();
    let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let k = if n > 0.0 { norm / n } else { 0.0 };
    v.into_iter().map(|x| (x * k) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u_init_parses_prints_and_refuses_nonsense() {
        for (text, want) in [("zero", UInit::Zero), ("normal:0.01", UInit::Normal(0.01))] {
            let got: UInit = text.parse().unwrap();
            assert_eq!(got, want);
            assert_eq!(got.to_string(), text);
            let json = serde_json::to_string(&got).unwrap();
            assert_eq!(serde_json::from_str::<UInit>(&json).unwrap(), got);
        }
        for bad in [
            "",
            "normal",
            "normal:-1",
            "normal:0",
            "normal:x",
            "uniform:1",
        ] {
            let e = bad.parse::<UInit>().unwrap_err();
            assert!(e.contains("expected `zero` or `normal:σ`"), "{bad}: {e}");
        }
    }

    /// Seeded (same seed and module, same values; another module, others) and of the
    /// requested scale.
    #[test]
    fn starts_are_seeded_and_scaled() {
        let u = UInit::Normal(0.5).values(40, 7, "h.0.attn.c_attn");
        assert_eq!(u, UInit::Normal(0.5).values(40, 7, "h.0.attn.c_attn"));
        assert_ne!(u, UInit::Normal(0.5).values(40, 7, "h.1.attn.c_attn"));
        let sd = (u.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / 1600.0).sqrt();
        assert!((sd - 0.5).abs() < 0.05, "sd {sd}");
        assert!(UInit::Zero.values(3, 7, "m").iter().all(|x| *x == 0.0));
        let g = gaussian_like(300, 2.0, 1, "m", "c");
        let norm = g.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
        assert!((norm - 2.0).abs() < 1e-5, "norm {norm}");
        assert_ne!(g, gaussian_like(300, 2.0, 1, "m", "r"));
    }
}
