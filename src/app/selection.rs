//! View: CUR selection — for each adapted matrix, the column and row probabilities (inverted,
//! as CURLoRA samples, and standard, as classic CUR would) as sorted curves with the sampled
//! indices marked (duplicates counted), and a small picture of W with the chosen columns and
//! rows highlighted. Hover for index, energy and probability.

use super::plot::{self, Key, Mark};
use super::state::{RunView, Session};
use super::views::{View, ViewContext};
use crate::adapters::CurSelection;
use crate::train::events::Thumbnail;
use egui::{Color32, Sense, Stroke, Vec2};
use egui_plot::{Line, Plot, PlotPoints, Points};
use std::collections::BTreeMap;

pub const WHAT: &str = "What am I looking at? CURLoRA builds C and R from columns and rows of W itself, \
     drawn with inverted probabilities ∝ 1/(energy + ε): low-energy columns are likelier. Curves: \
     every column's (or row's) probability, sorted; dots: the ones drawn (×k = drawn k times).";

/// Okabe–Ito orange (the inverted curve, the columns in C), blue (the rows in R) and sky blue
/// (the drawn indices): apart under the common colour-vision deficiencies.
const PICKED: Color32 = super::colors::OKABE_ITO[0];
const ROWS: Color32 = super::colors::OKABE_ITO[4];
const DRAWN: Color32 = super::colors::OKABE_ITO[1];

/// The selection view (see [`super::views`]).
pub struct Selection;

impl View for Selection {
    fn name(&self) -> &'static str {
        "selection"
    }
    fn title(&self) -> &'static str {
        "CUR selection"
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
    let Some(run) = session.runs.iter().find(|r| !r.selections.is_empty()) else {
        ui.label("No CURLoRA run yet.");
        return;
    };
    ui.label(format!(
        "{} seed {}: {} matrices, r = {}",
        run.label(),
        run.seed,
        run.selections.len(),
        run.rank
    ));
    for (module, sel) in &run.selections {
        ui.separator();
        module_view(ui, run, module, sel);
    }
}

fn module_view(ui: &mut egui::Ui, run: &RunView, module: &str, sel: &CurSelection) {
    let dup = |idx: &[usize]| {
        let mut c = BTreeMap::new();
        for i in idx {
            *c.entry(*i).or_insert(0usize) += 1;
        }
        c
    };
    let (cols, rows) = (dup(&sel.cols), dup(&sel.rows));
    let dups = |c: &BTreeMap<usize, usize>| {
        let d: Vec<String> = c
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(i, n)| format!("{i}×{n}"))
            .collect();
        if d.is_empty() {
            String::new()
        } else {
            format!(" (duplicates {})", d.join(", "))
        }
    };
    ui.strong(format!(
        "{module}: W is {}×{}; columns {:?}{}; rows {:?}{}",
        sel.shape[0],
        sel.shape[1],
        sel.cols,
        dups(&cols),
        sel.rows,
        dups(&rows)
    ));
    ui.horizontal(|ui| {
        if let Some(t) = run.thumbnails.get(module) {
            picture(ui, t, sel);
        } else {
            ui.weak("(no picture of W in this recording)");
        }
        ui.vertical(|ui| {
            curve(
                ui,
                &format!("{module}-cols"),
                "columns",
                &sel.col_energy,
                &sel.col_probs,
                &cols,
                sel.config.epsilon,
            );
            curve(
                ui,
                &format!("{module}-rows"),
                "rows",
                &sel.row_energy,
                &sel.row_probs,
                &rows,
                sel.config.epsilon,
            );
        });
    });
}

/// Probabilities sorted from most to least likely; inverted (CURLoRA) and standard (∝ energy).
fn curve(
    ui: &mut egui::Ui,
    id: &str,
    what: &str,
    energy: &[f64],
    probs: &[f64],
    picked: &BTreeMap<usize, usize>,
    epsilon: f64,
) {
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|a, b| probs[*b].total_cmp(&probs[*a]));
    let rank_of: BTreeMap<usize, usize> = order.iter().enumerate().map(|(k, i)| (*i, k)).collect();
    let inverted: Vec<[f64; 2]> = order
        .iter()
        .enumerate()
        .map(|(k, i)| [k as f64, probs[*i]])
        .collect();
    let total: f64 = energy.iter().sum();
    let standard: Vec<[f64; 2]> = order
        .iter()
        .enumerate()
        .map(|(k, i)| [k as f64, if total > 0.0 { energy[*i] / total } else { 0.0 }])
        .collect();
    let marks: Vec<[f64; 2]> = picked
        .keys()
        .map(|i| [rank_of[i] as f64, probs[*i]])
        .collect();
    let labels: Vec<(f64, f64, String)> = picked
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(i, n)| (rank_of[i] as f64, probs[*i], format!("×{n}")))
        .collect();
    ui.small(format!(
        "{what}: probability, sorted (orange: inverted, ε = {epsilon}; grey: standard CUR)"
    ));
    let (energy, probs) = (energy.to_vec(), probs.to_vec());
    let chart = Plot::new(id.to_string()).label_formatter(move |pos| {
        let p = match pos {
            egui_plot::HoverPosition::NearDataPoint { position, .. }
            | egui_plot::HoverPosition::Elsewhere { position } => position,
        };
        let k = p.x.round().max(0.0) as usize;
        order.get(k).map(|&i| {
            format!(
                "{what} {i}: energy share {:.2e}, probability {:.2e}",
                energy[i], probs[i]
            )
        })
    });
    let keys = [
        Key::new("inverted (CURLoRA)", PICKED, Mark::Line),
        Key::new("standard CUR", Color32::GRAY, Mark::Line),
        Key::new("drawn", DRAWN, Mark::Dot),
    ];
    plot::with_legend(ui, chart, [700.0, 110.0], &keys, move |plot| {
        plot.line(Line::new("standard", PlotPoints::from(standard)).color(Color32::GRAY));
        plot.line(Line::new("inverted", PlotPoints::from(inverted)).color(PICKED));
        plot.points(
            Points::new("drawn", PlotPoints::from(marks))
                .radius(4.0)
                .color(DRAWN),
        );
        for (x, y, t) in labels {
            plot.text(egui_plot::Text::new(
                "dup",
                egui_plot::PlotPoint::new(x, y),
                t,
            ));
        }
    });
}

/// |W| downsampled, with the chosen columns and rows drawn over it.
fn picture(ui: &mut egui::Ui, t: &Thumbnail, sel: &CurSelection) {
    let size = 200.0;
    let px = Vec2::new(size / t.cols as f32, size / t.rows as f32);
    let (rect, resp) = ui.allocate_exact_size(Vec2::splat(size), Sense::hover());
    let p = ui.painter_at(rect);
    let max = t.values.iter().fold(0f32, |m, v| m.max(*v)).max(1e-12);
    for i in 0..t.rows {
        for j in 0..t.cols {
            let v = (t.values[i * t.cols + j] / max).sqrt();
            let g = (255.0 * (1.0 - v)) as u8;
            let cell = egui::Rect::from_min_size(
                rect.min + Vec2::new(px.x * j as f32, px.y * i as f32),
                px,
            );
            p.rect_filled(cell, 0.0, Color32::from_gray(g));
        }
    }
    let stroke = Stroke::new(1.5, PICKED.gamma_multiply(0.8));
    for c in &sel.cols {
        let x = rect.min.x + px.x * (c / t.block[1]) as f32 + px.x / 2.0;
        p.line_segment(
            [egui::pos2(x, rect.min.y), egui::pos2(x, rect.max.y)],
            stroke,
        );
    }
    let stroke = Stroke::new(1.5, ROWS);
    for r in &sel.rows {
        let y = rect.min.y + px.y * (r / t.block[0]) as f32 + px.y / 2.0;
        p.line_segment(
            [egui::pos2(rect.min.x, y), egui::pos2(rect.max.x, y)],
            stroke,
        );
    }
    resp.on_hover_text(format!(
        "|W| ({}×{} shown as {}×{} blocks; darker = larger). Orange: the columns in C; blue: \
         the rows in R.",
        sel.shape[0], sel.shape[1], t.rows, t.cols
    ));
}
