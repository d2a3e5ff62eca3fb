//! Plots that never hide their data: every plot in the app goes through [`with_legend`], which
//! puts the legend on a strip beside the plotting area (egui_plot's own legend floats over the
//! data, where LoRA's accuracy falls after the last boundary); an empty plot is a sentence
//! ([`empty`]), not an axis from −0.5 to 0.5; task boundaries are labelled with the task that
//! starts there ([`boundaries`]).
//!
//! Each frame records where every plot's data and its legend were drawn ([`layouts`]), so that
//! a test can check that they never overlap.

use egui::{Color32, Rect, Stroke, Vec2};
use egui_plot::{PlotPoint, PlotUi, Text, VLine};

/// How a legend entry is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mark {
    Line,
    Dashed,
    /// A vertical rule (task boundaries).
    Rule,
    Dot,
}

/// One legend entry.
#[derive(Clone, Debug)]
pub struct Key {
    pub name: String,
    pub color: Color32,
    pub mark: Mark,
}

impl Key {
    pub fn new(name: impl Into<String>, color: Color32, mark: Mark) -> Self {
        Self {
            name: name.into(),
            color,
            mark,
        }
    }
}

/// One plot drawn this frame: its data rectangle and its legend strip.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub data: Rect,
    pub legend: Rect,
}

#[derive(Clone, Default)]
struct Layouts(Vec<Layout>);

fn layouts_id() -> egui::Id {
    egui::Id::unique("curlora-plot-layouts")
}

/// Every plot drawn in the last frame, in drawing order.
pub fn layouts(ctx: &egui::Context) -> Vec<Layout> {
    ctx.data(|d| d.get_temp::<Layouts>(layouts_id()).unwrap_or_default().0)
}

/// Forgets the last frame's plots (the app calls it as a frame starts).
pub fn clear_layouts(ctx: &egui::Context) {
    ctx.data_mut(|d| d.insert_temp(layouts_id(), Layouts::default()));
}

const SWATCH: f32 = 22.0;

/// Draws `plot` (built without a legend; this sets its size) `height` high and at most
/// `max_width` wide with its legend, filling the width but for a strip on its right that lists
/// `keys`.
pub fn with_legend<'a>(
    ui: &mut egui::Ui,
    plot: egui_plot::Plot<'a>,
    [max_width, height]: [f32; 2],
    keys: &[Key],
    body: impl FnOnce(&mut PlotUi<'a>) + 'a,
) -> egui::Response {
    let font = egui::TextStyle::Small.resolve(ui.style());
    let text_w = keys
        .iter()
        .map(|k| {
            ui.fonts_mut(|f| {
                f.layout_no_wrap(k.name.clone(), font.clone(), Color32::WHITE)
                    .size()
                    .x
            })
        })
        .fold(0.0_f32, f32::max);
    let strip_w = (text_w + SWATCH + 12.0).clamp(90.0, 260.0);
    let gap = ui.spacing().item_spacing.x;
    let plot_w = (ui.available_width().min(max_width) - strip_w - gap).max(160.0);
    ui.horizontal_top(|ui| {
        let shown = plot.width(plot_w).height(height).show(ui, body);
        let strip = ui
            .allocate_ui(Vec2::new(strip_w, height), |ui| {
                ui.vertical(|ui| {
                    for k in keys {
                        key_row(ui, k, &font);
                    }
                })
            })
            .response;
        let layout = Layout {
            data: *shown.transform.frame(),
            legend: strip.rect,
        };
        ui.ctx().data_mut(|d| {
            d.get_temp_mut_or_default::<Layouts>(layouts_id())
                .0
                .push(layout)
        });
        shown.response
    })
    .inner
}

fn key_row(ui: &mut egui::Ui, k: &Key, font: &egui::FontId) {
    ui.horizontal(|ui| {
        let (rect, _) = ui.allocate_exact_size(Vec2::new(SWATCH, 12.0), egui::Sense::hover());
        let p = ui.painter_at(rect);
        let (l, r, c) = (rect.left_center(), rect.right_center(), rect.center());
        let stroke = Stroke::new(2.0, k.color);
        match k.mark {
            Mark::Line => {
                p.line_segment([l, r], stroke);
            }
            Mark::Dashed => {
                p.extend(egui::Shape::dashed_line(&[l, r], stroke, 4.0, 3.0));
            }
            Mark::Rule => {
                p.line_segment([c - Vec2::new(0.0, 6.0), c + Vec2::new(0.0, 6.0)], stroke);
            }
            Mark::Dot => {
                p.circle_filled(c, 4.0, k.color);
            }
        }
        ui.label(egui::RichText::new(&k.name).font(font.clone()));
    });
}

/// In place of a plot that has nothing to show yet: a frame of the same height with `sentence`.
pub fn empty(ui: &mut egui::Ui, height: f32, sentence: &str) {
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.set_min_size(Vec2::new(ui.available_width(), height - 12.0));
        ui.centered_and_justified(|ui| {
            ui.weak(sentence);
        });
    });
}

/// Task boundaries as grey rules, each labelled at the top with the task that starts there (the
/// first task's name at step 0, without a rule). `top` is the data's upper edge, where labels go.
pub fn boundaries(plot: &mut PlotUi<'_>, starts: &[usize], tasks: &[String], top: f64) {
    for (k, (s, name)) in starts.iter().zip(tasks).enumerate() {
        let x = *s as f64;
        if k > 0 {
            plot.vline(
                VLine::new(format!("boundary {k}"), x).stroke(Stroke::new(1.0, Color32::GRAY)),
            );
        }
        plot.text(
            Text::new(
                format!("task {k}"),
                PlotPoint::new(x, top),
                egui::RichText::new(format!(" {name}")).small(),
            )
            .anchor(egui::Align2::LEFT_BOTTOM),
        );
    }
}
