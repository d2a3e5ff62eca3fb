//! View: every adapted layer's U, live, on one symmetric diverging scale with a legend; ‖U‖
//! (and LoRA's ‖A·B‖ for comparison) over training; click a cell to follow its history.

use super::colors::{self, diverging};
use super::heatmap::{GpuColors, Textures};
use super::plot::{self, Key, Mark};
use super::state::{RunView, Session};
use super::views::{View, ViewContext};
use egui::{Align2, FontId, Sense, Vec2};
use egui_plot::{Line, Plot, PlotPoints};

pub const WHAT: &str = "What am I looking at? CURLoRA trains only U (r×r, zero at the start). \
     Red = positive, blue = negative, white = 0, one scale for all layers of a run. \
     LoRA has no U: its ‖A·B‖ is plotted next to ‖U‖. Click a cell to see its history.";

/// The cell whose history is shown: `(run, module, i, j)`.
#[derive(Clone, Debug, Default)]
pub struct ViewState {
    pub selected: Option<(usize, String, usize, usize)>,
}

/// The adapters view (see [`super::views`]): the selected cell and the GPU-coloured heatmaps.
#[derive(Default)]
pub struct Adapters {
    pub state: ViewState,
    textures: Textures,
}

impl View for Adapters {
    fn name(&self) -> &'static str {
        "adapters"
    }
    fn title(&self) -> &'static str {
        "U heatmaps"
    }
    fn about(&self) -> &'static str {
        WHAT
    }
    fn show(&mut self, ui: &mut egui::Ui, ctx: &ViewContext<'_>) {
        let mut paint = Paint {
            gpu: ctx.gpu,
            textures: &mut self.textures,
        };
        show(ui, ctx.session, &mut self.state, &mut paint);
    }
}

/// How the heatmaps are coloured (see [`super::heatmap`]).
struct Paint<'a> {
    gpu: Option<&'a GpuColors>,
    textures: &'a mut Textures,
}

/// Draws the view below its "What am I looking at?" line.
fn show(ui: &mut egui::Ui, session: &Session, view: &mut ViewState, paint: &mut Paint<'_>) {
    if session.runs.is_empty() {
        ui.label("Waiting for the first run…");
    }
    for (ri, run) in session.runs.iter().enumerate() {
        ui.separator();
        ui.strong(format!("{} seed {}", run.label(), run.seed));
        let scale = run
            .u
            .values()
            .flat_map(|t| t.latest.iter())
            .fold(0f32, |m, v| m.max(v.abs())) as f64;
        if scale > 0.0 {
            legend(ui, scale);
            ui.horizontal_wrapped(|ui| {
                for (module, trace) in &run.u {
                    heatmap(ui, ri, module, &trace.latest, scale, view, paint);
                }
            });
        } else if run.u.values().any(|t| !t.latest.is_empty()) {
            ui.label("U is still exactly zero: the adapted model equals the base model.");
        }
        norms(ui, run);
        if let Some((r, module, i, j)) = &view.selected
            && *r == ri
            && let Some(trace) = run.u.get(module)
        {
            let pts: Vec<[f64; 2]> = trace
                .cell_history(*i, *j)
                .iter()
                .map(|(s, v)| [*s as f64, f64::from(*v)])
                .collect();
            ui.label(format!(
                "history of U[{i},{j}] in {module} (optimizer step → value)"
            ));
            Plot::new(format!("cell-{ri}"))
                .height(120.0)
                .show(ui, |plot| {
                    plot.line(Line::new(format!("U[{i},{j}]"), PlotPoints::from(pts)))
                });
        }
    }
}

/// The colour legend: −scale … 0 … +scale.
fn legend(ui: &mut egui::Ui, scale: f64) {
    let (rect, _) = ui.allocate_exact_size(Vec2::new(260.0, 26.0), Sense::hover());
    let p = ui.painter_at(rect);
    let bar = egui::Rect::from_min_size(rect.min, Vec2::new(200.0, 12.0));
    let n = 50;
    for k in 0..n {
        let t = -1.0 + 2.0 * (k as f64 + 0.5) / n as f64;
        let x0 = bar.min.x + bar.width() * k as f32 / n as f32;
        let cell = egui::Rect::from_min_size(
            egui::pos2(x0, bar.min.y),
            Vec2::new(bar.width() / n as f32 + 0.5, bar.height()),
        );
        p.rect_filled(cell, 0.0, diverging(t * scale, scale));
    }
    let font = FontId::proportional(10.0);
    let color = ui.visuals().text_color();
    for (x, align, text) in [
        (bar.min.x, Align2::LEFT_TOP, format!("−{scale:.3}")),
        (bar.center().x, Align2::CENTER_TOP, "0".into()),
        (bar.max.x, Align2::RIGHT_TOP, format!("+{scale:.3}")),
    ] {
        p.text(
            egui::pos2(x, bar.max.y + 1.0),
            align,
            text,
            font.clone(),
            color,
        );
    }
}

fn heatmap(
    ui: &mut egui::Ui,
    run: usize,
    module: &str,
    u: &[f32],
    scale: f64,
    view: &mut ViewState,
    paint: &mut Paint<'_>,
) {
    let r = (u.len() as f64).sqrt() as usize;
    if r == 0 {
        return;
    }
    ui.vertical(|ui| {
        ui.small(module);
        let px = (96.0 / r as f32).max(4.0);
        let (rect, resp) = ui.allocate_exact_size(Vec2::splat(px * r as f32), Sense::click());
        let p = ui.painter_at(rect);
        paint
            .textures
            .paint(paint.gpu, (run, module), &p, rect, u, r, px, scale);
        let cell_at = |pos: egui::Pos2| {
            let j = ((pos.x - rect.min.x) / px) as usize;
            let i = ((pos.y - rect.min.y) / px) as usize;
            (i < r && j < r).then_some((i, j))
        };
        if let Some((run_s, m, i, j)) = &view.selected
            && *run_s == run
            && m == module
        {
            let cell = egui::Rect::from_min_size(
                rect.min + Vec2::new(px * *j as f32, px * *i as f32),
                Vec2::splat(px),
            );
            p.rect_stroke(
                cell,
                0.0,
                egui::Stroke::new(2.0, egui::Color32::BLACK),
                egui::StrokeKind::Inside,
            );
        }
        if resp.clicked()
            && let Some((i, j)) = resp.interact_pointer_pos().and_then(cell_at)
        {
            view.selected = Some((run, module.to_string(), i, j));
        }
        if let Some((i, j)) = resp.hover_pos().and_then(cell_at) {
            resp.on_hover_text(format!("U[{i},{j}] = {:.5} (click: history)", u[i * r + j]));
        }
    });
}

fn norms(ui: &mut egui::Ui, run: &RunView) {
    let what = if run.u.values().any(|t| !t.latest.is_empty()) {
        "‖U‖_F per module over training"
    } else {
        "‖A·B‖_F per module over training (LoRA's update, for comparison with ‖U‖)"
    };
    ui.small(what);
    if run.u.values().all(|t| t.norms.is_empty()) {
        plot::empty(
            ui,
            140.0,
            "No norms yet: they are logged with every snapshot of the adapter during training.",
        );
        return;
    }
    let keys: Vec<Key> = run
        .u
        .keys()
        .enumerate()
        .map(|(k, m)| Key::new(m.clone(), colors::task(k), Mark::Line))
        .collect();
    let chart =
        Plot::new(format!("norms-{}-{}", run.label(), run.seed)).x_axis_label("optimizer step");
    plot::with_legend(ui, chart, [f32::INFINITY, 140.0], &keys, move |plot| {
        for (k, (module, trace)) in run.u.iter().enumerate() {
            let pts: Vec<[f64; 2]> = trace.norms.iter().map(|(s, n)| [*s as f64, *n]).collect();
            plot.line(Line::new(module.clone(), PlotPoints::from(pts)).color(colors::task(k)));
        }
        plot::boundaries(
            plot,
            &run.task_starts,
            &run.tasks,
            plot.plot_bounds().max()[1],
        );
    });
}
