//! `report.md`: the tables a paper would print, mean ± sd over seeds, with the baselines next
//! to every accuracy and what each metric means.

use super::{Report, RunReport, fmt_ms};
use crate::train::engine::RunStatus;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A summary metric of one run.
type Metric = fn(&RunReport) -> Option<f64>;

impl Report {
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
        if !self
            .runs
            .iter()
            .any(|r| r.method == crate::adapters::Method::Frozen)
        {
            let _ = writeln!(
                s,
                "- no head-only baseline in this experiment: add `frozen` to the methods to read each accuracy against a head on the untouched model (and to get FWT)"
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
        row(
            &mut s,
            "plasticity",
            &|r| r.metrics.plasticity.unwrap_or(f64::NAN),
            4,
        );
        row(
            &mut s,
            "FWT (vs head-only)",
            &|r| r.fwt.unwrap_or(f64::NAN),
            4,
        );
        row(
            &mut s,
            "perplexity change",
            &|r| match (r.perplexity.first(), r.perplexity.last()) {
                (Some(a), Some(b)) if r.perplexity.len() > 1 => b - a,
                _ => f64::NAN,
            },
            2,
        );
        row(&mut s, "steps per second", &|r| r.steps_per_second, 2);
        let _ = writeln!(s);
        self.metric_tables(&mut s);
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
            "- plasticity = (1/T) Σ_j R[j][j]: how well each task is learned when it is trained (a method that forgets nothing because it learns nothing scores low here)."
        );
        let _ = writeln!(
            s,
            "- FWT (vs head-only) = 1/(T−1) Σ_{{j≥1}} (R[j][j] − b_j), b_j = the head-only (`frozen`) run's accuracy on task j with the same seed: how much better each later task is learned than a fresh head on the untouched model learns it. (Lopez-Paz & Ranzato's FWT uses R[j−1][j], which a new head per task cannot have.) It needs `frozen` among the methods."
        );
        let _ = writeln!(
            s,
            "- perplexity change: held-out perplexity after the last task minus before training."
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

    /// One table per summary metric: a row per method, a column per rank (`–` where a method
    /// has no rank), each cell mean ± sd over seeds.
    fn metric_tables(&self, s: &mut String) {
        // A row per method and study variant (ablation settings).
        let row_of = |r: &RunReport| (r.method, r.variant.clone());
        let mut methods = Vec::new();
        let mut ranks = Vec::new();
        for r in &self.runs {
            if !methods.contains(&row_of(r)) {
                methods.push(row_of(r));
            }
            let rank = r.method.uses_rank().then_some(r.rank);
            if !ranks.contains(&rank) {
                ranks.push(rank);
            }
        }
        let metrics: [(&str, Metric); 6] = [
            ("ACC", |r| r.metrics.acc),
            ("BWT", |r| r.metrics.bwt),
            ("forgetting", |r| r.metrics.forgetting),
            ("plasticity", |r| r.metrics.plasticity),
            ("FWT (vs head-only)", |r| r.fwt),
            ("perplexity change", |r| {
                (r.perplexity.len() > 1)
                    .then(|| r.perplexity[r.perplexity.len() - 1] - r.perplexity[0])
            }),
        ];
        let _ = writeln!(s, "## One table per metric\n");
        for (name, f) in metrics {
            let _ = write!(s, "**{name}**\n\n| method |");
            for rank in &ranks {
                match rank {
                    Some(k) => {
                        let _ = write!(s, " r = {k} |");
                    }
                    None => {
                        let _ = write!(s, " (no rank) |");
                    }
                }
            }
            let _ = write!(s, "\n|---|");
            for _ in &ranks {
                let _ = write!(s, "---:|");
            }
            let _ = writeln!(s);
            for m in &methods {
                match &m.1 {
                    Some(v) => {
                        let _ = write!(s, "| {} [{v}] |", m.0.label());
                    }
                    None => {
                        let _ = write!(s, "| {} |", m.0.label());
                    }
                }
                for rank in &ranks {
                    let v: Vec<f64> = self
                        .runs
                        .iter()
                        .filter(|r| {
                            row_of(r) == *m && r.method.uses_rank().then_some(r.rank) == *rank
                        })
                        .map(|r| f(r).unwrap_or(f64::NAN))
                        .collect();
                    let cell = if v.is_empty() {
                        "".to_string()
                    } else {
                        fmt_ms(&v, 4)
                    };
                    let _ = write!(s, " {cell} |");
                }
                let _ = writeln!(s);
            }
            let _ = writeln!(s);
        }
    }
}
