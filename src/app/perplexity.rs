//! View: held-out perplexity after each task and the training loss, per method.

use super::colors;
use super::plot::{self, Key, Mark};
use super::state::Session;
use super::views::{View, ViewContext};
use egui_plot::{Line, Plot, PlotPoints, Points};

pub const WHAT: &str = "What am I looking at? Held-out perplexity of the language model (its own LM head) before training and \
     after each task: a rise means the model is forgetting language it knew.";

/// The perplexity view (see [`super::views`]).
pub struct Perplexity;

impl View for Perplexity {
    fn name(&self) -> &'static str {
        "perplexity"
    }
    fn title(&self) -> &'static str {
        "Perplexity and loss"
    }
    fn about(&self) -> &'static str {
        WHAT
    }
    fn show(&mut self, ui: &mut egui::Ui, ctx: &ViewContext<'_>) {
        show(ui, ctx.session, ctx.high_contrast)
    }
}

/// Draws the view below its "What am I looking at?" line.
pub fn show(ui: &mut egui::Ui, session: &Session, high_contrast: bool) {
    let width = colors::line_width(high_contrast);
    let keys: Vec<Key> = session
        .runs
        .iter()
        .map(|r| Key::new(label(r), colors::method(r.method), Mark::Line))
        .collect();
    let tasks = session
        .runs
        .first()
        .map(|r| r.tasks.clone())
        .unwrap_or_default();
    if session.runs.iter().all(|r| r.perplexity.is_empty()) {
        plot::empty(
            ui,
            220.0,
            "No perplexity yet: it is measured on held-out text before training and after each \
             task.",
        );
    } else {
        // On a log scale: LoRA's rise (×80 on the recording) and CURLoRA's 1% both show.
        let chart = Plot::new("perplexity")
            .x_axis_label("before training, then after each task")
            .y_axis_label("perplexity (log scale)")
            .label_formatter(|pos| {
                let p = match pos {
                    egui_plot::HoverPosition::NearDataPoint { position, .. }
                    | egui_plot::HoverPosition::Elsewhere { position } => position,
                };
                Some(format!("perplexity {:.1}", 10f64.powf(p.y)))
            })
            .y_axis_formatter(|mark, _| {
                let v = 10f64.powf(mark.value);
                if v >= 100.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.3}")
                        .trim_end_matches('0')
                        .trim_end_matches('.')
                        .into()
                }
            })
            .x_axis_formatter(move |mark, _| {
                let k = mark.value.round();
                if (mark.value - k).abs() > 1e-6 || k < 0.0 {
                    return String::new();
                }
                match k as usize {
                    0 => "before".into(),
                    k => tasks
                        .get(k - 1)
                        .map_or_else(String::new, |t| format!("after {t}")),
                }
            });
        plot::with_legend(ui, chart, [f32::INFINITY, 220.0], &keys, move |plot| {
            for run in &session.runs {
                let pts: Vec<[f64; 2]> = run
                    .perplexity
                    .iter()
                    .enumerate()
                    .map(|(k, p)| [k as f64, p.max(1e-9).log10()])
                    .collect();
                let color = colors::method(run.method);
                plot.line(
                    Line::new(label(run), PlotPoints::from(pts.clone()))
                        .color(color)
                        .width(width),
                );
                plot.points(
                    Points::new(format!("{} points", label(run)), PlotPoints::from(pts))
                        .color(color)
                        .radius(if high_contrast { 6.0 } else { 4.0 }),
                );
            }
        });
    }
    ui.label("Training loss (cross-entropy of each task's head)");
    if session.runs.iter().all(|r| r.losses.is_empty()) {
        plot::empty(
            ui,
            200.0,
            "No loss yet: it is logged at every optimizer step once training starts.",
        );
        return;
    }
    let top = session
        .runs
        .iter()
        .flat_map(|r| r.losses.iter().map(|(_, l)| *l))
        .filter(|l| l.is_finite())
        .fold(0.0_f64, f64::max);
    let mut keys = keys;
    keys.push(Key::new("task boundary", egui::Color32::GRAY, Mark::Rule));
    let chart = Plot::new("loss")
        .include_y(0.0)
        .include_y(top * 1.15)
        .x_axis_label("optimizer step")
        .y_axis_label("loss");
    plot::with_legend(ui, chart, [f32::INFINITY, 200.0], &keys, move |plot| {
        for run in &session.runs {
            let pts: Vec<[f64; 2]> = run.losses.iter().map(|(s, l)| [*s as f64, *l]).collect();
            plot.line(
                Line::new(label(run), PlotPoints::from(pts))
                    .color(colors::method(run.method))
                    .width(width),
            );
        }
        if let Some(first) = session.runs.first() {
            plot::boundaries(plot, &first.task_starts, &first.tasks, top * 1.02);
        }
    });
}

fn label(run: &super::state::RunView) -> String {
    format!("{} seed {}", run.label(), run.seed)
}
