//! The plots themselves (see [`super`]). Text uses the Ubuntu Light font that egui ships (no
//! system fonts needed).

use crate::core::error::{Error, Result};
use crate::experiment::report::{Report, RunReport};
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Once;

pub(super) const FONT: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(
            FONT,
            FontStyle::Normal,
            epaint_default_fonts::UBUNTU_LIGHT,
        );
    });
}

fn err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::format(path, format!("cannot draw plot: {e}"))
}

/// Runs grouped by method label (e.g. `curlora-8`), in first-seen order.
fn groups(report: &Report) -> Vec<(String, Vec<&RunReport>)> {
    let mut order: Vec<String> = Vec::new();
    let mut map: BTreeMap<String, Vec<&RunReport>> = BTreeMap::new();
    for r in &report.runs {
        let k = r.label();
        if !map.contains_key(&k) {
            order.push(k.clone());
        }
        map.entry(k).or_default().push(r);
    }
    order
        .into_iter()
        .map(|k| {
            let v = map.remove(&k).unwrap_or_default();
            (k, v)
        })
        .collect()
}

fn mean(v: impl Iterator<Item = f64>) -> Option<f64> {
    let v: Vec<f64> = v.filter(|x| x.is_finite()).collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Draws into a temp file next to `path` and renames it into place (atomic).
pub(super) fn draw(
    path: &Path,
    size: (u32, u32),
    f: impl FnOnce(
        &DrawingArea<BitMapBackend, plotters::coord::Shift>,
    ) -> std::result::Result<(), Box<dyn std::error::Error>>,
) -> Result<()> {
    register_font();
    let tmp = path.with_extension("tmp.png");
    let drawn = (|| {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(path, e))?;
        f(&root).map_err(|e| err(path, e))?;
        root.present().map_err(|e| err(path, e))
    })();
    // A failed write (a full disk) leaves the previous plot and no temporary file.
    let renamed =
        drawn.and_then(|()| std::fs::rename(&tmp, path).map_err(|e| Error::write(path, e)));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    renamed
}

/// A perceptual blue→yellow ramp for accuracies in [0, 1].
fn ramp(v: f64) -> RGBColor {
    let t = v.clamp(0.0, 1.0);
    let stops = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let x = t * (stops.len() - 1) as f64;
    let i = (x.floor() as usize).min(stops.len() - 2);
    let f = x - i as f64;
    let (a, b) = (stops[i], stops[i + 1]);
    let mix = |p: f64, q: f64| (p + (q - p) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Writes every plot into `dir` and returns the files written.
pub fn write_all(report: &Report, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut out = Vec::new();
    for (label, runs) in groups(report) {
        let file: String = label
            .chars()
            .map(|c| match c {
                'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '.' | '=' => c,
                _ => '_',
            })
            .collect();
        let p = dir.join(format!("accuracy-{}.png", file.trim_end_matches('_')));
        accuracy_heatmap(report, &label, &runs, &p)?;
        out.push(p);
    }
    let p = dir.join("perplexity.png");
    perplexity(report, &p)?;
    out.push(p);
    let p = dir.join("loss.png");
    loss(report, &p)?;
    out.push(p);
    Ok(out)
}

/// The accuracy matrix (mean over seeds): rows = after training task i, columns = task j;
/// the untrained upper triangle is grey. Each trained cell also shows the majority baseline.
pub fn accuracy_heatmap(
    report: &Report,
    label: &str,
    runs: &[&RunReport],
    path: &Path,
) -> Result<()> {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    let t = report.tasks.len();
    let tasks = report.tasks.clone();
    let cell = |i: usize, j: usize| mean(runs.iter().filter_map(|r| r.accuracy_matrix[i][j]));
    let baselines = runs
        .first()
        .map(|r| r.majority_baseline.clone())
        .unwrap_or_default();
    draw(path, (180 + 170 * t as u32, 110 + 110 * t as u32), |root| {
        let title = format!(
            "{label}: accuracy on task j after training task i ({} seed(s))",
            runs.len()
        );
        let area = root.titled(&title, (FONT, 18))?;
        let mut chart = ChartBuilder::on(&area)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(150)
            .build_cartesian_2d((0..t - 1).into_segmented(), (0..t - 1).into_segmented())?;
        let (xn, yn) = (tasks.clone(), tasks.clone());
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(t + 1)
            .y_labels(t + 1)
            .x_label_formatter(&move |v| match v {
                SegmentValue::CenterOf(j) => {
                    xn.get(*j).map(|n| format!("on {n}")).unwrap_or_default()
                }
                _ => String::new(),
            })
            .y_label_formatter(&move |v| match v {
                SegmentValue::CenterOf(k) if *k < t => format!("after {}", yn[t - 1 - k]),
                _ => String::new(),
            })
            .label_style((FONT, 14))
            .draw()?;
        let center = Pos::new(HPos::Center, VPos::Center);
        for i in 0..t {
            for j in 0..t {
                let y = t - 1 - i;
                let v = if j <= i { cell(i, j) } else { None };
                let color = v.map_or(RGBColor(225, 225, 225), ramp);
                chart.draw_series(std::iter::once(Rectangle::new(
                    [
                        (SegmentValue::Exact(j), SegmentValue::Exact(y)),
                        (SegmentValue::Exact(j + 1), SegmentValue::Exact(y + 1)),
                    ],
                    color.filled(),
                )))?;
                let fg = if matches!(v, Some(a) if a < 0.6) {
                    WHITE
                } else {
                    BLACK
                };
                let (main, sub) = match v {
                    Some(a) => (
                        format!("{a:.3}"),
                        baselines
                            .get(j)
                            .map(|b| format!("majority {b:.3}"))
                            .unwrap_or_default(),
                    ),
                    None => ("not trained yet".to_string(), String::new()),
                };
                let (px, py) =
                    chart.backend_coord(&(SegmentValue::CenterOf(j), SegmentValue::CenterOf(y)));
                root.draw(&Text::new(
                    main,
                    (px, py - 8),
                    (FONT, 18).into_font().color(&fg).pos(center),
                ))?;
                root.draw(&Text::new(
                    sub,
                    (px, py + 14),
                    (FONT, 12).into_font().color(&fg).pos(center),
                ))?;
            }
        }
        Ok(())
    })
}

pub(super) const PALETTE: [RGBColor; 6] = [
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

/// Held-out perplexity before training and after each task, one line per method (mean over
/// seeds).
pub fn perplexity(report: &Report, path: &Path) -> Result<()> {
    let t = report.tasks.len();
    let series: Vec<(String, Vec<f64>)> = groups(report)
        .into_iter()
        .map(|(label, runs)| {
            let v = (0..=t)
                .map(|k| {
                    mean(runs.iter().filter_map(|r| r.perplexity.get(k).copied()))
                        .unwrap_or(f64::NAN)
                })
                .collect();
            (label, v)
        })
        .collect();
    let all: Vec<f64> = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|x| x.is_finite())
        .collect();
    let (lo, hi) = all
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    let pad = ((hi - lo) * 0.1).max(hi.abs() * 0.01).max(1e-6);
    let mut labels = vec!["before".to_string()];
    labels.extend(report.tasks.iter().map(|n| format!("after {n}")));
    draw(path, (800, 480), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Held-out perplexity (lower is better; a rise = forgetting)",
                (FONT, 18),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.2f64..(t as f64 + 0.2), (lo - pad)..(hi + pad))?;
        chart
            .configure_mesh()
            .x_labels(t + 1)
            .x_label_formatter(&|x| {
                let k = x.round() as usize;
                if (x - k as f64).abs() < 1e-6 {
                    labels.get(k).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc("perplexity")
            .label_style((FONT, 13))
            .draw()?;
        for (n, (label, v)) in series.iter().enumerate() {
            let color = PALETTE[n % PALETTE.len()];
            let pts: Vec<(f64, f64)> = v
                .iter()
                .enumerate()
                .filter(|(_, y)| y.is_finite())
                .map(|(k, &y)| (k as f64, y))
                .collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                .label(label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 4, color.filled())))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 13))
            .draw()?;
        Ok(())
    })
}

/// Training loss over optimizer steps for every run, with task boundaries.
pub fn loss(report: &Report, path: &Path) -> Result<()> {
    let curves: Vec<(String, Vec<f64>, Vec<usize>)> = report
        .runs
        .iter()
        .map(|r| {
            let mut bounds = Vec::new();
            let mut all = Vec::new();
            for task in &r.losses {
                all.extend_from_slice(task);
                bounds.push(all.len());
            }
            (format!("{} seed {}", r.label(), r.seed), all, bounds)
        })
        .collect();
    let steps = curves.iter().map(|c| c.1.len()).max().unwrap_or(1).max(2);
    let hi = curves
        .iter()
        .flat_map(|c| c.1.iter().copied())
        .filter(|x| x.is_finite())
        .fold(0f64, f64::max)
        .max(1e-3);
    draw(path, (900, 480), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Training loss (task boundaries dashed)", (FONT, 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..steps as f64, 0f64..hi * 1.05)?;
        chart
            .configure_mesh()
            .x_desc("optimizer step")
            .y_desc("cross-entropy")
            .label_style((FONT, 13))
            .draw()?;
        if let Some((_, _, bounds)) = curves.first() {
            for &b in &bounds[..bounds.len().saturating_sub(1)] {
                let x = b as f64;
                chart.draw_series(DashedLineSeries::new(
                    vec![(x, 0.0), (x, hi * 1.05)],
                    6,
                    4,
                    BLACK.mix(0.5).stroke_width(1),
                ))?;
            }
        }
        for (n, (label, v, _)) in curves.iter().enumerate() {
            let color = PALETTE[n % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(
                    v.iter().enumerate().map(|(k, &y)| (k as f64, y)),
                    color.stroke_width(1),
                ))?
                .label(label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 12))
            .draw()?;
        Ok(())
    })
}
