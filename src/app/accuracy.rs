//! View: accuracy across tasks — each method's accuracy matrix, and every task's accuracy as a
//! curve over the whole sequence with task boundaries and the majority baseline.

use super::colors::{self, sequential, text_on};
use super::plot::{self, Key, Mark};
use super::state::Session;
use super::views::{View, ViewContext};
use egui::{Align2, FontId, Sense, Vec2};
use egui_plot::{Line, Plot, PlotPoints};

pub const WHAT: &str = "What am I looking at? Rows: after training a task. Columns: accuracy on each task, with its own head. \
     A drop down a column is forgetting; grey cells are tasks not trained yet.";

/// The accuracy view (see [`super::views`]).
pub struct Accuracy;

impl View for Accuracy {
    fn name(&self) -> &'static str {
        "accuracy"
    }
    fn title(&self) -> &'static str {
        "Accuracy across tasks"
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
    ui.add_space(6.0);
    ui.horizontal_wrapped(|ui| {
        for run in &session.runs {
            ui.vertical(|ui| {
                ui.strong(format!("{} (seed {})", run.label(), run.seed));
                matrix(ui, run);
            });
            ui.add_space(24.0);
        }
    });
    ui.separator();
    ui.label("Accuracy of each task over training (dashed: majority-class baseline; vertical: task boundaries)");
    let width = colors::line_width(high_contrast);
    for run in &session.runs {
        ui.small(format!("{} seed {}", run.label(), run.seed));
        if run.curves.is_empty() {
            plot::empty(
                ui,
                170.0,
                "No accuracy yet: every task is evaluated every few optimizer steps once training \
                 starts (press Play, or Train in the setup).",
            );
            continue;
        }
        let mut keys: Vec<Key> = run
            .tasks
            .iter()
            .enumerate()
            .map(|(t, name)| Key::new(name.clone(), colors::task(t), Mark::Line))
            .collect();
        keys.push(Key::new(
            "majority baseline",
            egui::Color32::GRAY,
            Mark::Dashed,
        ));
        keys.push(Key::new("task boundary", egui::Color32::GRAY, Mark::Rule));
        let chart = Plot::new(format!("curves-{}-{}", run.label(), run.seed))
            .include_y(0.0)
            .include_y(1.15)
            .x_axis_label("optimizer step")
            .y_axis_label("accuracy");
        plot::with_legend(ui, chart, [f32::INFINITY, 170.0], &keys, move |plot| {
            for (t, name) in run.tasks.iter().enumerate() {
                let color = colors::task(t);
                let pts: Vec<[f64; 2]> = run
                    .curves
                    .iter()
                    .filter(|(_, task, _)| *task == t)
                    .map(|(s, _, a)| [*s as f64, *a])
                    .collect();
                if !pts.is_empty() {
                    plot.line(
                        Line::new(name.clone(), PlotPoints::from(pts))
                            .color(color)
                            .width(width),
                    );
                }
                if let Some(b) = run.baselines.get(t).filter(|b| b.is_finite()) {
                    let end = run.steps.max(1) as f64;
                    plot.line(
                        Line::new(
                            format!("{name} majority baseline"),
                            PlotPoints::from(vec![[0.0, *b], [end, *b]]),
                        )
                        .color(color.gamma_multiply(0.6))
                        .width(width * 0.8)
                        .style(egui_plot::LineStyle::dashed_loose()),
                    );
                }
            }
            plot::boundaries(plot, &run.task_starts, &run.tasks, 1.02);
        });
    }
}

fn matrix(ui: &mut egui::Ui, run: &super::state::RunView) {
    let t = run.tasks.len();
    let cell = Vec2::new(92.0, 40.0);
    let label_w = 110.0;
    let (rect, _) = ui.allocate_exact_size(
        Vec2::new(
            label_w + cell.x * t as f32,
            22.0 + cell.y * (t as f32 + 1.0),
        ),
        Sense::hover(),
    );
    let p = ui.painter_at(rect);
    let font = FontId::proportional(13.0);
    let origin = rect.min + Vec2::new(label_w, 22.0);
    for (j, name) in run.tasks.iter().enumerate() {
        p.text(
            origin + Vec2::new(cell.x * (j as f32 + 0.5), -11.0),
            Align2::CENTER_CENTER,
            format!("on {name}"),
            font.clone(),
            ui.visuals().text_color(),
        );
    }
    for i in 0..t {
        p.text(
            origin + Vec2::new(-6.0, cell.y * (i as f32 + 0.5)),
            Align2::RIGHT_CENTER,
            format!("after {}", run.tasks[i]),
            font.clone(),
            ui.visuals().text_color(),
        );
        for j in 0..t {
            let r = egui::Rect::from_min_size(
                origin + Vec2::new(cell.x * j as f32, cell.y * i as f32),
                cell,
            )
            .shrink(1.0);
            match run.accuracy.get(i, j).filter(|_| j <= i) {
                Some(a) => {
                    let c = sequential(a);
                    p.rect_filled(r, 2.0, c);
                    // A label, not painted text, so that screen readers and UI tests see it.
                    ui.put(
                        r,
                        egui::Label::new(
                            egui::RichText::new(format!("{a:.3}"))
                                .color(text_on(c))
                                .size(13.0),
                        )
                        .selectable(false),
                    )
                    .on_hover_text(format!(
                        "accuracy on {} after training {}",
                        run.tasks[j], run.tasks[i]
                    ));
                }
                None => {
                    p.rect_filled(
                        r,
                        2.0,
                        egui::Color32::from_gray(if ui.visuals().dark_mode { 60 } else { 225 }),
                    );
                }
            }
        }
    }
    let y = origin.y + cell.y * t as f32;
    p.text(
        egui::pos2(origin.x - 6.0, y + cell.y * 0.5),
        Align2::RIGHT_CENTER,
        "majority",
        font.clone(),
        ui.visuals().weak_text_color(),
    );
    for j in 0..t {
        if let Some(b) = run.baselines.get(j).filter(|b| b.is_finite()) {
            p.text(
                egui::pos2(origin.x + cell.x * (j as f32 + 0.5), y + cell.y * 0.5),
                Align2::CENTER_CENTER,
                format!("{b:.3}"),
                font.clone(),
                ui.visuals().weak_text_color(),
            );
        }
    }
}
