//! The method and task colours stay apart for viewers with the common colour-vision
//! deficiencies. Each colour is passed through Machado, Oliveira & Fernandes (2009), "A
//! physiologically-based model for simulation of color vision deficiency" (severity 1.0:
//! protanopia, deuteranopia, tritanopia; applied to linear RGB), then compared in CIELAB (D65,
//! ΔE*ab 1976). The bar, ΔE ≥ 15 between any two colours of a plot and ≥ 30 from the
//! background, is one the app's earlier palette failed (ΔE 10.9 under tritanopia between its
//! sky blue and its green).

use curlora::adapters::Method;
use curlora::app::colors::{OKABE_ITO, method, task};
use egui::Color32;

const MACHADO: [(&str, [[f64; 3]; 3]); 4] = [
    (
        "normal vision",
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
    ),
    (
        "protanopia",
        [
            [0.152286, 1.052583, -0.204868],
            [0.114503, 0.786281, 0.099216],
            [-0.003882, -0.048116, 1.051998],
        ],
    ),
    (
        "deuteranopia",
        [
            [0.367322, 0.860646, -0.227968],
            [0.280085, 0.672501, 0.047413],
            [-0.011820, 0.042940, 0.968881],
        ],
    ),
    (
        "tritanopia",
        [
            [1.255528, -0.076749, -0.178779],
            [-0.078411, 0.930809, 0.147602],
            [0.004733, 0.691367, 0.303900],
        ],
    ),
];

fn linear(c: u8) -> f64 {
    let c = f64::from(c) / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// CIELAB of `c` as seen through `m`.
fn lab(c: Color32, m: &[[f64; 3]; 3]) -> [f64; 3] {
    let l = [linear(c.r()), linear(c.g()), linear(c.b())];
    let s: Vec<f64> = m
        .iter()
        .map(|row| (row[0] * l[0] + row[1] * l[1] + row[2] * l[2]).clamp(0.0, 1.0))
        .collect();
    let x = 0.4124 * s[0] + 0.3576 * s[1] + 0.1805 * s[2];
    let y = 0.2126 * s[0] + 0.7152 * s[1] + 0.0722 * s[2];
    let z = 0.0193 * s[0] + 0.1192 * s[1] + 0.9505 * s[2];
    let f = |t: f64| {
        if t > 216.0 / 24389.0 {
            t.cbrt()
        } else {
            (24389.0 / 27.0 * t + 16.0) / 116.0
        }
    };
    let (fx, fy, fz) = (f(x / 0.95047), f(y), f(z / 1.08883));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

fn delta_e(a: [f64; 3], b: [f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// The smallest ΔE between two of `colors`, and from `background`, under every simulation.
fn check(what: &str, colors: &[(String, Color32)], backgrounds: &[Color32]) {
    for (vision, m) in &MACHADO {
        for (i, (a, ca)) in colors.iter().enumerate() {
            for (b, cb) in &colors[i + 1..] {
                let d = delta_e(lab(*ca, m), lab(*cb, m));
                assert!(
                    d >= 15.0,
                    "{what}: {a} and {b} are ΔE {d:.1} apart under {vision}"
                );
            }
            for bg in backgrounds {
                let d = delta_e(lab(*ca, m), lab(*bg, m));
                assert!(
                    d >= 30.0,
                    "{what}: {a} is ΔE {d:.1} from the background under {vision}"
                );
            }
        }
    }
}

const BACKGROUNDS: [Color32; 2] = [Color32::from_rgb(27, 27, 27), Color32::BLACK];

#[test]
fn method_colours_stay_apart_under_colour_vision_deficiencies() {
    let colors: Vec<(String, Color32)> = Method::ALL
        .iter()
        .map(|m| (m.label().to_string(), method(*m)))
        .collect();
    check("methods", &colors, &BACKGROUNDS);
}

#[test]
fn task_colours_stay_apart_under_colour_vision_deficiencies() {
    let colors: Vec<(String, Color32)> = (0..7).map(|t| (format!("task {t}"), task(t))).collect();
    check("tasks", &colors, &BACKGROUNDS);
}

#[test]
fn the_palette_is_okabe_ito_and_the_checker_rejects_a_weak_one() {
    // Okabe & Ito's published sRGB values (their black replaced by a near-white).
    assert_eq!(OKABE_ITO[0], Color32::from_rgb(230, 159, 0));
    assert_eq!(OKABE_ITO[2], Color32::from_rgb(0, 158, 115));
    assert_eq!(OKABE_ITO[5], Color32::from_rgb(213, 94, 0));
    // The app's former task colours: sky blue and green fall within ΔE 15 under tritanopia.
    let old = [
        ("sky blue".to_string(), Color32::from_rgb(102, 194, 255)),
        ("green".to_string(), Color32::from_rgb(102, 194, 165)),
    ];
    let failed = std::panic::catch_unwind(|| check("old", &old, &BACKGROUNDS));
    assert!(failed.is_err(), "the check let the old palette through");
}
