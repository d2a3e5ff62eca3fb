//! The merged study as CSV and Markdown: one row per method, rank and ablation, with mean ±
//! sd and the 95% t-interval over seeds, then the paper's tables and every cell.

use super::merge::{GroupSummary, StudyReport};
use super::stats::Stat;
use crate::experiment::report::{Report, csv_field as field};
use std::fmt::Write as _;

/// A group's summary metrics, named as in the CSV header.
fn metrics(g: &GroupSummary) -> Vec<(String, Option<Stat>)> {
    let mut m = vec![
        ("acc".to_string(), g.acc),
        ("bwt".into(), g.bwt),
        ("forgetting".into(), g.forgetting),
        ("plasticity".into(), g.plasticity),
        ("fwt".into(), g.fwt),
        ("ppl_change_percent".into(), g.perplexity_change_percent),
    ];
    for (i, p) in g.perplexity.iter().enumerate() {
        m.push((format!("ppl_{i}"), *p));
    }
    m
}

/// `report.csv`: one row per group; for each metric its n, mean, sd and interval.
pub fn groups_csv(r: &StudyReport) -> String {
    let mut s = String::from("label,method,rank,variant,seeds,missing_seeds,trainable_params");
    if let Some(g) = r.groups.first() {
        for (name, _) in metrics(g) {
            let _ = write!(
                s,
                ",{name}_n,{name}_mean,{name}_sd,{name}_ci_low,{name}_ci_high"
            );
        }
    }
    s.push('\n');
    let num = |v: Option<f64>| v.map(|x| format!("{x:.6}")).unwrap_or_default();
    for g in &r.groups {
        let _ = write!(
            s,
            "{},{},{},{},{},{},{}",
            field(&g.label),
            g.method,
            g.rank,
            field(g.variant.as_deref().unwrap_or("")),
            g.seeds.len(),
            g.missing_seeds.len(),
            g.trainable_params
        );
        for (_, st) in metrics(g) {
            let _ = write!(
                s,
                ",{},{},{},{},{}",
                st.map_or(0, |x| x.n),
                num(st.map(|x| x.mean)),
                num(st.map(|x| x.sd)),
                num(st.and_then(|x| x.ci95).map(|c| c[0])),
                num(st.and_then(|x| x.ci95).map(|c| c[1])),
            );
        }
        s.push('\n');
    }
    s
}

/// `cells.csv`: the per-run CSV of `curlora run` with the cell id and variant first.
pub fn cells_csv(r: &StudyReport, combined: &Report) -> String {
    let csv = combined.csv();
    let mut lines = csv.lines();
    let mut s = format!("id,variant,{}\n", lines.next().unwrap_or(""));
    for (c, line) in r.cells.iter().zip(lines) {
        let _ = writeln!(
            s,
            "{},{},{line}",
            field(&c.id),
            field(c.variant.as_deref().unwrap_or(""))
        );
    }
    s
}

/// `timing.csv`: wall time and speed of every cell (kept out of report.json, which must not
/// depend on the machine's load).
pub fn timing_csv(r: &StudyReport, combined: &Report) -> String {
    let mut s = String::from("id,steps,seconds,steps_per_second\n");
    for (c, run) in r.cells.iter().zip(&combined.runs) {
        let _ = writeln!(
            s,
            "{},{},{:.3},{:.4}",
            field(&c.id),
            run.steps,
            run.seconds,
            run.steps_per_second
        );
    }
    s
}

fn cell(st: &Option<Stat>, digits: usize) -> String {
    st.map_or("–".into(), |x| x.show(digits))
}

/// `report.md`.
pub fn markdown(r: &StudyReport, combined: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Study `{}`\n", r.study);
    let _ = writeln!(s, "- model: `{}`; device: {}", r.model, r.device);
    let _ = writeln!(
        s,
        "- cells: {} of {} finished",
        r.cells_finished, r.cells_total
    );
    if !r.missing.is_empty() {
        let _ = writeln!(
            s,
            "- **missing cells (not averaged in; rerun `curlora study` to finish them)**: {}",
            r.missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for (k, name) in r.tasks.iter().enumerate() {
        let (tr, ev) = r.task_sizes[k];
        let base = r
            .groups
            .first()
            .and_then(|g| g.majority_baseline.get(k))
            .copied()
            .unwrap_or(f64::NAN);
        // Binomial sd of an accuracy p measured on n rows: √(p(1−p)/n), at p = 0.5.
        let noise = (0.25 / ev.max(1) as f64).sqrt();
        let _ = writeln!(
            s,
            "- task {}: `{name}`: {tr} training / {ev} evaluation rows, majority-class baseline \
             {base:.4}; one run's accuracy has a binomial sd of about {noise:.3} from the \
             evaluation set's size alone",
            k + 1
        );
    }
    let _ = writeln!(
        s,
        "\nEach cell: mean ± sd over seeds [95% t-interval of the mean, t(0.975, n−1)·sd/√n]; \
         n seeds in the `seeds` column. Two methods differ only where their intervals do not \
         overlap.\n"
    );
    let _ = writeln!(
        s,
        "| method | seeds | trainable params | ACC | BWT | forgetting | plasticity | FWT (vs head-only) | perplexity change % |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for g in &r.groups {
        let seeds = if g.missing_seeds.is_empty() {
            g.seeds.len().to_string()
        } else {
            format!("{} (+{} missing)", g.seeds.len(), g.missing_seeds.len())
        };
        let params = if g.seeds.is_empty() {
            "–".to_string()
        } else {
            g.trainable_params.to_string()
        };
        let _ = writeln!(
            s,
            "| {} | {seeds} | {params} | {} | {} | {} | {} | {} | {} |",
            g.label,
            cell(&g.acc, 4),
            cell(&g.bwt, 4),
            cell(&g.forgetting, 4),
            cell(&g.plasticity, 4),
            cell(&g.fwt, 4),
            cell(&g.perplexity_change_percent, 1),
        );
    }
    verdicts(&mut s, r);
    paper_tables(&mut s, r);
    let flagged: Vec<String> = r
        .groups
        .iter()
        .filter(|g| g.constant_predictor_cells > 0 || g.diverged_cells > 0)
        .map(|g| {
            format!(
                "- {}: {} cell(s) with a constant predictor somewhere, {} diverged",
                g.label, g.constant_predictor_cells, g.diverged_cells
            )
        })
        .collect();
    if !flagged.is_empty() {
        let _ = writeln!(s, "## Flags\n");
        for f in flagged {
            let _ = writeln!(s, "{f}");
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "## Every run\n");
    let per_run = combined.markdown();
    // The per-run report's own title is replaced by this section's.
    let _ = writeln!(s, "{}", per_run.trim_start_matches("# curlora report\n"));
    let total: f64 = combined.runs.iter().map(|r| r.seconds).sum();
    let _ = writeln!(
        s,
        "\n## Wall time\n\n{:.1} min of training and evaluation over {} cells (per cell: timing.csv).",
        total / 60.0,
        combined.runs.len()
    );
    s
}

/// How two intervals compare: what a reader may claim.
fn compare(a: &Stat, b: &Stat) -> &'static str {
    match (a.ci95, b.ci95) {
        (Some([alo, _]), Some([_, bhi])) if alo > bhi => "higher",
        (Some([_, ahi]), Some([blo, _])) if ahi < blo => "lower",
        (Some(_), Some(_)) => "not distinguishable (intervals overlap)",
        _ => "not testable (one seed)",
    }
}

/// Each method against the head-only baseline, by the intervals: ACC, plasticity, and the
/// perplexity change (the baseline's is 0: it does not touch the model).
fn verdicts(s: &mut String, r: &StudyReport) {
    let Some(frozen) = r
        .groups
        .iter()
        .find(|g| g.method == crate::adapters::Method::Frozen)
    else {
        return;
    };
    let _ = writeln!(
        s,
        "\n## Against the head-only baseline, by the 95% intervals\n\n| method | ACC vs head-only | plasticity vs head-only | perplexity change |\n|---|---|---|---|"
    );
    for g in r.groups.iter().filter(|g| g.method != frozen.method) {
        if g.seeds.is_empty() {
            let _ = writeln!(s, "| {} | no finished cell | | |", g.label);
            continue;
        }
        let vs = |a: Option<Stat>, b: Option<Stat>| match (a, b) {
            (Some(a), Some(b)) => compare(&a, &b),
            _ => "–",
        };
        let ppl = match g.perplexity_change_percent.and_then(|p| p.ci95) {
            Some([lo, _]) if lo > 0.0 => "rises (interval above 0)",
            Some([_, hi]) if hi < 0.0 => "falls (interval below 0)",
            Some(_) => "no change shown (interval covers 0)",
            None => "not testable (one seed)",
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {ppl} |",
            g.label,
            vs(g.acc, frozen.acc),
            vs(g.plasticity, frozen.plasticity)
        );
    }
}

/// The paper's tables: accuracy after each task, perplexity after each task.
fn paper_tables(s: &mut String, r: &StudyReport) {
    let _ = writeln!(
        s,
        "\n## Accuracy on each task right after training it, and at the end\n"
    );
    let _ = write!(s, "| method |");
    for t in &r.tasks {
        let _ = write!(s, " {t} (after it) | {t} (at the end) |");
    }
    let _ = write!(s, "\n|---|");
    for _ in &r.tasks {
        let _ = write!(s, "---:|---:|");
    }
    let _ = writeln!(s);
    for g in &r.groups {
        let _ = write!(s, "| {} |", g.label);
        for i in 0..r.tasks.len() {
            let _ = write!(
                s,
                " {} | {} |",
                cell(&g.accuracy_after_own_task.get(i).copied().flatten(), 4),
                cell(&g.accuracy_at_end.get(i).copied().flatten(), 4)
            );
        }
        let _ = writeln!(s);
    }
    if let Some(g) = r.groups.first() {
        let _ = write!(s, "| *majority class* |");
        for b in &g.majority_baseline {
            let _ = write!(s, " *{b:.4}* | *{b:.4}* |");
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(
        s,
        "\n## Held-out perplexity before training and after each task\n"
    );
    let _ = write!(s, "| method | before |");
    for t in &r.tasks {
        let _ = write!(s, " after {t} |");
    }
    let _ = write!(s, "\n|---|---:|");
    for _ in &r.tasks {
        let _ = write!(s, "---:|");
    }
    let _ = writeln!(s);
    for g in &r.groups {
        let _ = write!(s, "| {} |", g.label);
        for p in &g.perplexity {
            let _ = write!(s, " {} |", cell(p, 2));
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s);
}
