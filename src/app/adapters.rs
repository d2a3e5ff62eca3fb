//! View: every adapted layer's U, live, on a symmetric diverging scale; ‖U‖ (or ‖A·B‖ for
//! LoRA) over training.

use super::colors::diverging;
use super::state::Session;
use egui::{Sense, Vec2};
use egui_plot::{Line, Plot, PlotPoints};

pub const WHAT: &str = "CURLoRA trains only U (r×r, starting at zero). Red = positive, blue = negative, \
     one colour scale for all layers. LoRA has no U: its ‖A·B‖ is plotted for comparison.";

pub fn show(ui: &mut egui::Ui, session: &Session) {
    ui.label(WHAT);
    for run in &session.runs {
        ui.separator();
        ui.strong(format!("{} seed {}", run.label(), run.seed));
        let scale = run
            .u
            .values()
            .flat_map(|(u, _)| u.iter())
            .fold(0f32, |m, v| m.max(v.abs())) as f64;
        if scale > 0.0 {
            ui.label(format!("colour scale ±{scale:.4}"));
            ui.horizontal_wrapped(|ui| {
                for (module, (u, _)) in &run.u {
                    let r = (u.len() as f64).sqrt() as usize;
                    if r == 0 {
                        continue;
                    }
                    ui.vertical(|ui| {
                        ui.small(module);
                        let px = (96.0 / r as f32).max(4.0);
                        let (rect, resp) =
                            ui.allocate_exact_size(Vec2::splat(px * r as f32), Sense::hover());
                        let p = ui.painter_at(rect);
                        for i in 0..r {
                            for j in 0..r {
                                let cell = egui::Rect::from_min_size(
                                    rect.min + Vec2::new(px * j as f32, px * i as f32),
                                    Vec2::splat(px),
                                );
                                p.rect_filled(cell, 0.0, diverging(f64::from(u[i * r + j]), scale));
                            }
                        }
                        if let Some(pos) = resp.hover_pos() {
                            let j = ((pos.x - rect.min.x) / px) as usize;
                            let i = ((pos.y - rect.min.y) / px) as usize;
                            if i < r && j < r {
                                resp.on_hover_text(format!("U[{i},{j}] = {:.5}", u[i * r + j]));
                            }
                        }
                    });
                }
            });
        }
        Plot::new(format!("norms-{}-{}", run.label(), run.seed))
            .height(140.0)
            .legend(egui_plot::Legend::default())
            .show(ui, |plot| {
                for (module, (_, hist)) in &run.u {
                    let pts: Vec<[f64; 2]> = hist.iter().map(|(s, n)| [*s as f64, *n]).collect();
                    plot.line(Line::new(module.clone(), PlotPoints::from(pts)));
                }
            });
    }
}
