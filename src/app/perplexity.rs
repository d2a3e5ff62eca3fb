//! View: held-out perplexity after each task and the training loss, per method.

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
        show(ui, ctx.session)
    }
}

/// Draws the view below its "What am I looking at?" line.
pub fn show(ui: &mut egui::Ui, session: &Session) {
    Plot::new("perplexity")
        .height(220.0)
        .legend(egui_plot::Legend::default())
        .x_axis_label("0 = before training, k = after task k")
        .y_axis_label("perplexity")
        .show(ui, |plot| {
            for run in &session.runs {
                let pts: Vec<[f64; 2]> = run
                    .perplexity
                    .iter()
                    .enumerate()
                    .map(|(k, p)| [k as f64, *p])
                    .collect();
                let name = format!("{} seed {}", run.label(), run.seed);
                plot.line(Line::new(name.clone(), PlotPoints::from(pts.clone())));
                plot.points(Points::new(name, PlotPoints::from(pts)).radius(4.0));
            }
        });
    ui.label("Training loss (cross-entropy of each task's head)");
    Plot::new("loss")
        .height(200.0)
        .legend(egui_plot::Legend::default())
        .x_axis_label("optimizer step")
        .show(ui, |plot| {
            for run in &session.runs {
                let pts: Vec<[f64; 2]> = run.losses.iter().map(|(s, l)| [*s as f64, *l]).collect();
                plot.line(Line::new(
                    format!("{} seed {}", run.label(), run.seed),
                    PlotPoints::from(pts),
                ));
            }
        });
}
