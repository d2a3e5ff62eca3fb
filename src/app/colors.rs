//! Colours: one per method and one per task from the Okabe–Ito palette (told apart under the
//! common colour-vision deficiencies: `tests/palette.rs` simulates them), a sequential ramp for
//! accuracies in [0, 1] (viridis: perceptually uniform, readable without red–green) and a
//! symmetric diverging map for U; and the high-contrast look for projectors.

use crate::adapters::Method;
use egui::Color32;

/// Okabe & Ito (2008), *Color Universal Design*: orange, sky blue, bluish green, yellow, blue,
/// vermillion, reddish purple, and a near-white in place of their black (the app is dark).
pub const OKABE_ITO: [Color32; 8] = [
    Color32::from_rgb(230, 159, 0),
    Color32::from_rgb(86, 180, 233),
    Color32::from_rgb(0, 158, 115),
    Color32::from_rgb(240, 228, 66),
    Color32::from_rgb(0, 114, 178),
    Color32::from_rgb(213, 94, 0),
    Color32::from_rgb(204, 121, 167),
    Color32::from_rgb(230, 230, 230),
];

/// A method's colour, the same in every plot: CURLoRA bluish green, LoRA vermillion, full
/// fine-tuning reddish purple, head-only grey, PiSSA sky blue, MiLoRA yellow, O-LoRA blue (a
/// method registered later takes the next free colour).
pub fn method(m: Method) -> Color32 {
    const BY_REGISTRY: [usize; 8] = [2, 5, 6, 7, 1, 3, 4, 0];
    let i = Method::ALL.iter().position(|x| *x == m).unwrap_or(0);
    OKABE_ITO[BY_REGISTRY[i % BY_REGISTRY.len()]]
}

/// Task `t`'s colour, the same in every run's plot (tasks and methods never share a plot).
pub fn task(t: usize) -> Color32 {
    const ORDER: [usize; 7] = [0, 1, 2, 6, 3, 4, 5];
    OKABE_ITO[ORDER[t % ORDER.len()]]
}

/// Line width in plots: thicker in high contrast.
pub fn line_width(high_contrast: bool) -> f32 {
    if high_contrast { 3.0 } else { 1.5 }
}

/// The look for a projector in a lit room: white text on black, strong widget outlines.
pub fn high_contrast_visuals() -> egui::Visuals {
    let mut v = egui::Visuals::dark();
    v.override_text_color = Some(Color32::WHITE);
    v.panel_fill = Color32::BLACK;
    v.window_fill = Color32::BLACK;
    v.extreme_bg_color = Color32::BLACK;
    v.faint_bg_color = Color32::from_gray(30);
    for w in [
        &mut v.widgets.noninteractive,
        &mut v.widgets.inactive,
        &mut v.widgets.hovered,
        &mut v.widgets.active,
        &mut v.widgets.open,
    ] {
        w.fg_stroke = egui::Stroke::new(w.fg_stroke.width.max(1.5), Color32::WHITE);
        w.bg_stroke = egui::Stroke::new(w.bg_stroke.width.max(1.0), Color32::from_gray(200));
    }
    v.selection.bg_fill = Color32::from_rgb(0, 114, 178);
    v.selection.stroke = egui::Stroke::new(2.0, Color32::WHITE);
    v
}

/// Viridis-like ramp, `t` in [0, 1].
pub fn sequential(t: f64) -> Color32 {
    const STOPS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let x = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |p: f64, q: f64| (p + (q - p) * f).round() as u8;
    Color32::from_rgb(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Blue (negative) – white (0) – red (positive), for `v` in [−scale, scale].
pub fn diverging(v: f64, scale: f64) -> Color32 {
    let t = if scale > 0.0 {
        (v / scale).clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let (r, g, b) = if t >= 0.0 {
        (255.0, 255.0 * (1.0 - t), 255.0 * (1.0 - t))
    } else {
        (255.0 * (1.0 + t), 255.0 * (1.0 + t), 255.0)
    };
    Color32::from_rgb(r as u8, g as u8, b as u8)
}

/// Readable text on a background.
pub fn text_on(bg: Color32) -> Color32 {
    let l = 0.299 * f32::from(bg.r()) + 0.587 * f32::from(bg.g()) + 0.114 * f32::from(bg.b());
    if l < 140.0 {
        Color32::WHITE
    } else {
        Color32::BLACK
    }
}
