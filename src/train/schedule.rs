//! Learning-rate schedules.

use serde::{Deserialize, Serialize};

/// How the learning rate moves over a task's optimizer steps (a fresh schedule per task).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Schedule {
    /// `lr` throughout.
    Constant,
    /// Linear warm-up over the first `warmup_fraction` of the steps, then cosine decay to 0.
    WarmupCosine { warmup_fraction: f64 },
    /// The reference code's `get_cosine_schedule_with_warmup(opt, 500, epochs·len(dataset))`:
    /// warm-up over `warmup_steps` optimizer steps, cosine over `total` counted in *examples*.
    /// Since every task in the paper has fewer than 500 steps, the rate never leaves warm-up:
    /// step k uses `lr·k/500`, and the first step has lr = 0. Kept to reproduce the paper.
    Reference { warmup_steps: usize },
}

impl Schedule {
    /// Learning rate at optimizer step `step` (0-based) of `total_steps`, where
    /// `total_examples` = epochs × dataset size (only the reference schedule uses it).
    pub fn lr(&self, base: f64, step: usize, total_steps: usize, total_examples: usize) -> f64 {
        match self {
            Schedule::Constant => base,
            Schedule::WarmupCosine { warmup_fraction } => {
                let warmup = ((total_steps as f64) * warmup_fraction).round() as usize;
                cosine_with_warmup(base, step, warmup, total_steps)
            }
            Schedule::Reference { warmup_steps } => {
                cosine_with_warmup(base, step, *warmup_steps, total_examples)
            }
        }
    }
}

/// transformers' `get_cosine_schedule_with_warmup` (0.5 cycles), evaluated at `step`.
pub fn cosine_with_warmup(base: f64, step: usize, warmup: usize, total: usize) -> f64 {
    if step < warmup {
        return base * step as f64 / warmup.max(1) as f64;
    }
    let progress = (step - warmup) as f64 / (total.saturating_sub(warmup)).max(1) as f64;
    base * (0.5 * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos())).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_schedule_never_leaves_warmup() {
        // GPT-2 MRPC: 115 steps × 3 epochs = 345 steps, 3668 × 3 examples.
        let s = Schedule::Reference { warmup_steps: 500 };
        assert_eq!(s.lr(2.5e-4, 0, 345, 11004), 0.0);
        let last = s.lr(2.5e-4, 344, 345, 11004);
        assert!((last - 2.5e-4 * 344.0 / 500.0).abs() < 1e-15);
        assert!((last - 1.72e-4).abs() < 1e-6);
    }

    #[test]
    fn warmup_cosine_shape() {
        let s = Schedule::WarmupCosine {
            warmup_fraction: 0.1,
        };
        assert_eq!(s.lr(1.0, 0, 100, 0), 0.0);
        assert!((s.lr(1.0, 10, 100, 0) - 1.0).abs() < 1e-12);
        assert!((s.lr(1.0, 55, 100, 0) - 0.5).abs() < 1e-12);
        assert!(s.lr(1.0, 99, 100, 0) < 0.01);
    }
}
