//! View: the metrics card — ACC, BWT, forgetting, held-out perplexity, trainable parameters,
//! adapter size, steps per second — each with its formula in a tooltip.

use super::state::{RunView, Session};
use super::views::{View, ViewContext};

pub const WHAT: &str = "What am I looking at? One line per method. Hover a column name for its formula. \
     R[i][j] is the accuracy on task j after training task i (the accuracy view's matrix).";

/// The metrics view (see [`super::views`]).
pub struct MetricsCard;

impl View for MetricsCard {
    fn name(&self) -> &'static str {
        "metrics"
    }
    fn title(&self) -> &'static str {
        "Metrics"
    }
    fn about(&self) -> &'static str {
        WHAT
    }
    fn show(&mut self, ui: &mut egui::Ui, ctx: &ViewContext<'_>) {
        show(ui, ctx.session)
    }
}

/// Draws the view below its "What am I looking at?" line.
pub fn show(ui: &mut egui::Ui, session: &Session) {
    ui.add_space(6.0);
    ui.horizontal_wrapped(|ui| {
        for run in &session.runs {
            card(ui, run);
        }
    });
    ui.add_space(8.0);
    table(ui, session);
    for run in &session.runs {
        if let Some(e) = &run.error {
            ui.colored_label(egui::Color32::RED, format!("{}: {e}", run.label()));
        }
        for (step, change) in &run.controls {
            ui.small(format!("{} · step {step}: {change}", run.label()));
        }
    }
}

const ACC: &str = "ACC = (1/T) Σ_j R[T−1][j]: mean accuracy over all tasks at the end";
const BWT: &str = "BWT = 1/(T−1) Σ_{j<T−1} (R[T−1][j] − R[j][j]): how much later tasks changed \
                   earlier ones; negative = forgetting";
const FGT: &str = "F = 1/(T−1) Σ_{j<T−1} max_{l<T−1} (R[l][j] − R[T−1][j]): the average drop from \
                   each task's best accuracy";
const PPL: &str = "exp(mean next-token loss) on held-out text, before training → now: a rise means \
                   the model lost language it knew";
const TRAIN: &str = "parameters trained besides the heads: r² per matrix for CURLoRA, r·(in + out) \
                     for LoRA, every weight for a full fine-tune";
const BYTES: &str = "bytes of trained values (4 per f32 parameter); the saved file adds the task \
                     heads and a JSON header";
const SPS: &str = "optimizer steps per second, measured live (not in a replay)";

/// The headline numbers of one run, large.
fn card(ui: &mut egui::Ui, run: &RunView) {
    egui::Frame::group(ui.style())
        .inner_margin(10.0)
        .show(ui, |ui| {
            ui.vertical(|ui| card_body(ui, run));
        });
}

fn card_body(ui: &mut egui::Ui, run: &RunView) {
    {
        ui.set_width(360.0);
        ui.heading(format!("{} · seed {}", run.label(), run.seed));
        let m = run.metrics;
        let big = |ui: &mut egui::Ui, name: &str, value: String, tip: &str| {
            ui.vertical(|ui| {
                ui.label(egui::RichText::new(value).size(24.0).strong())
                    .on_hover_text(tip);
                ui.small(name).on_hover_text(tip);
            });
        };
        ui.horizontal(|ui| {
            big(ui, "ACC", opt(m.and_then(|m| m.acc), false), ACC);
            big(ui, "BWT", opt(m.and_then(|m| m.bwt), true), BWT);
            big(
                ui,
                "forgetting",
                opt(m.and_then(|m| m.forgetting), true),
                FGT,
            );
        });
        ui.horizontal(|ui| {
            let ppl = match (run.perplexity.first(), run.perplexity.last()) {
                (Some(a), Some(b)) => format!("{a:.1} → {b:.1}"),
                _ => "…".into(),
            };
            big(ui, "held-out perplexity", ppl, PPL);
        });
        ui.horizontal(|ui| {
            big(ui, "trainable", thousands(run.trainable_params), TRAIN);
            big(
                ui,
                "adapter bytes",
                thousands(run.trainable_params * 4),
                BYTES,
            );
            let sps = run
                .steps_per_second()
                .map(|s| format!("{s:.1}"))
                .unwrap_or_else(|| "—".into());
            big(ui, "steps/s", sps, SPS);
        });
    }
}

fn opt(v: Option<f64>, signed: bool) -> String {
    match v {
        Some(x) if signed => format!("{x:+.3}"),
        Some(x) => format!("{x:.3}"),
        None => "…".into(),
    }
}

/// Every number in one table, including the saved file's size.
fn table(ui: &mut egui::Ui, session: &Session) {
    egui::Grid::new("metrics")
        .striped(true)
        .num_columns(9)
        .show(ui, |ui| {
            for (name, tip) in [
                ("run", "method, rank and seed"),
                ("ACC", ACC),
                ("BWT", BWT),
                ("forgetting", FGT),
                ("perplexity", PPL),
                ("trainable", TRAIN),
                ("adapter", BYTES),
                ("steps/s", SPS),
                ("steps", "optimizer steps taken so far"),
            ] {
                ui.strong(name).on_hover_text(tip);
            }
            ui.end_row();
            for run in &session.runs {
                let m = run.metrics;
                ui.label(format!("{} seed {}", run.label(), run.seed));
                ui.label(opt(m.and_then(|m| m.acc), false));
                ui.label(opt(m.and_then(|m| m.bwt), true));
                ui.label(opt(m.and_then(|m| m.forgetting), true));
                ui.label(match (run.perplexity.first(), run.perplexity.last()) {
                    (Some(a), Some(b)) => format!("{a:.1} → {b:.1}"),
                    _ => "…".into(),
                });
                ui.label(thousands(run.trainable_params));
                let values = format!("{} B", thousands(run.trainable_params * 4));
                match run.adapter_file_bytes {
                    Some(b) => ui.label(format!("{values} (file {})", thousands(b as usize))),
                    None => ui.label(values),
                };
                ui.label(
                    run.steps_per_second()
                        .map(|s| format!("{s:.1}"))
                        .unwrap_or_else(|| "—".into()),
                );
                ui.label(run.steps.to_string());
                ui.end_row();
            }
        });
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (k, c) in s.chars().enumerate() {
        if k > 0 && (s.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
