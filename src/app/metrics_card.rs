//! View: the metrics card — ACC, BWT, forgetting, trainable parameters, steps — each with its
//! formula in a tooltip.

use super::state::Session;

pub const WHAT: &str = "One line per run. Hover a column name for its formula.";

pub fn show(ui: &mut egui::Ui, session: &Session) {
    ui.label(WHAT);
    egui::Grid::new("metrics").striped(true).num_columns(7).show(ui, |ui| {
        ui.strong("run");
        ui.strong("ACC").on_hover_text("ACC = (1/T) Σ_j R[T−1][j]: average accuracy at the end");
        ui.strong("BWT").on_hover_text("BWT = 1/(T−1) Σ_{j<T−1} (R[T−1][j] − R[j][j]): negative = forgetting");
        ui.strong("forgetting").on_hover_text("1/(T−1) Σ_{j<T−1} max_l (R[l][j] − R[T−1][j])");
        ui.strong("perplexity").on_hover_text("held-out perplexity: before → now");
        ui.strong("trainable").on_hover_text("parameters trained besides the heads: r² per matrix for CURLoRA, r·(in+out) for LoRA");
        ui.strong("steps");
        ui.end_row();
        for run in &session.runs {
            let f = |v: Option<f64>| v.map(|x| format!("{x:+.3}")).unwrap_or_else(|| "…".into());
            ui.label(format!("{} seed {}", run.label(), run.seed));
            let m = run.metrics;
            ui.label(m.and_then(|m| m.acc).map(|x| format!("{x:.3}")).unwrap_or_else(|| "…".into()));
            ui.label(f(m.and_then(|m| m.bwt)));
            ui.label(f(m.and_then(|m| m.forgetting)));
            ui.label(match (run.perplexity.first(), run.perplexity.last()) {
                (Some(a), Some(b)) => format!("{a:.1} → {b:.1}"),
                _ => "…".into(),
            });
            ui.label(run.trainable_params.to_string());
            ui.label(run.steps.to_string());
            ui.end_row();
        }
    });
}
