//! Mean, standard deviation and a 95% Student-t interval over seeds.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// A metric over the seeds of one group.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    /// Seeds with a finite value.
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (n − 1); 0 for one seed.
    pub sd: f64,
    /// 95% confidence interval of the mean, `mean ± t(0.975, n−1)·sd/√n`; `None` for one seed.
    pub ci95: Option<[f64; 2]>,
}

impl Stat {
    /// Over the finite values of `v`; `None` when there are none.
    pub fn of(v: &[f64]) -> Option<Stat> {
        let v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        let (mean, sd) = crate::experiment::report::mean_sd(&v);
        let n = v.len();
        let ci95 = (n > 1).then(|| {
            let h = t975(n - 1) * sd / (n as f64).sqrt();
            [mean - h, mean + h]
        });
        Some(Stat { n, mean, sd, ci95 })
    }

    /// `0.5523 ± 0.0100 [0.5275, 0.5771]` (one seed: the value alone).
    pub fn show(&self, digits: usize) -> String {
        match self.ci95 {
            Some([lo, hi]) => format!(
                "{:.d$} ± {:.d$} [{lo:.d$}, {hi:.d$}]",
                self.mean,
                self.sd,
                d = digits
            ),
            None => format!("{:.d$} (1 seed)", self.mean, d = digits),
        }
    }
}

/// The 97.5% quantile of Student's t with `df` degrees of freedom (12.706 for 1, 4.303 for 2).
pub fn t975(df: usize) -> f64 {
    StudentsT::new(0.0, 1.0, df as f64)
        .expect("df ≥ 1")
        .inverse_cdf(0.975)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the printed t table and a hand computation.
    #[test]
    fn t_quantiles_and_an_interval_by_hand() {
        for (df, table) in [(1, 12.706), (2, 4.303), (4, 2.776), (9, 2.262), (30, 2.042)] {
            assert!((t975(df) - table).abs() < 1e-3, "df {df}: {}", t975(df));
        }
        // 0.50, 0.52, 0.60: mean 0.54, sd = √((0.0016 + 0.0004 + 0.0036) / 2) = 0.052915;
        // half-width 4.3027 · 0.052915 / √3 = 0.131449.
        let s = Stat::of(&[0.50, 0.52, 0.60, f64::NAN]).unwrap();
        assert_eq!(s.n, 3);
        assert!((s.mean - 0.54).abs() < 1e-12);
        assert!((s.sd - 0.052915).abs() < 1e-6);
        let [lo, hi] = s.ci95.unwrap();
        assert!((hi - 0.54 - 0.131449).abs() < 1e-5 && (0.54 - lo - 0.131449).abs() < 1e-5);
        assert_eq!(Stat::of(&[0.7]).unwrap().ci95, None);
        assert_eq!(Stat::of(&[f64::NAN]), None);
    }
}
