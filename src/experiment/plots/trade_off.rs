//! Forgetting against plasticity, one point per method with ±1 sd error bars on both axes: the
//! trade-off a continual-learning method is judged by (learning each task well, the x axis,
//! without losing the earlier ones, the y axis; the head-only run sits near zero forgetting
//! because it changes nothing that the earlier heads read).

use super::draw::{FONT, PALETTE, draw};
use crate::core::error::Result;
use plotters::prelude::*;
use std::path::Path;

/// One method: mean and sd of plasticity and of forgetting over seeds.
#[derive(Clone, Debug)]
pub struct TradeOff {
    pub label: String,
    pub plasticity: (f64, f64),
    pub forgetting: (f64, f64),
}

/// Draws `points` into `path` (PNG, written atomically).
pub fn trade_off(points: &[TradeOff], path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| crate::Error::write(dir, e))?;
    }
    let span = |f: &dyn Fn(&TradeOff) -> (f64, f64)| {
        let (lo, hi) = points
            .iter()
            .map(f)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (m, s)| {
                (a.min(m - s), b.max(m + s))
            });
        if lo.is_finite() {
            let pad = ((hi - lo) * 0.15).max(0.01);
            (lo - pad, hi + pad)
        } else {
            (0.0, 1.0)
        }
    };
    let (x0, x1) = span(&|p| p.plasticity);
    let (y0, y1) = span(&|p| p.forgetting);
    let (y0, y1) = (y0.min(-0.005), y1.max(0.005));
    draw(path, (800, 520), |root| {
        let (plot, legend) = root.split_horizontally(560);
        let mut chart = ChartBuilder::on(&plot)
            .caption(
                "Forgetting vs plasticity (mean ± 1 sd over seeds)",
                (FONT, 17),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_desc("plasticity: mean accuracy on each task right after it (higher: learns more)")
            .y_desc("forgetting (lower: keeps more)")
            .label_style((FONT, 12))
            .draw()?;
        for (n, p) in points.iter().enumerate() {
            let color = PALETTE[n % PALETTE.len()];
            let (x, sx) = p.plasticity;
            let (y, sy) = p.forgetting;
            chart.draw_series([ErrorBar::new_vertical(
                x,
                y - sy,
                y,
                y + sy,
                color.stroke_width(2),
                8,
            )])?;
            chart.draw_series([ErrorBar::new_horizontal(
                y,
                x - sx,
                x,
                x + sx,
                color.stroke_width(2),
                8,
            )])?;
            chart.draw_series([Circle::new((x, y), 5, color.filled())])?;
        }
        // The legend beside the plot, never over the data.
        for (n, p) in points.iter().enumerate() {
            let color = PALETTE[n % PALETTE.len()];
            let y = 50 + 22 * n as i32;
            legend.draw(&Circle::new((14, y), 5, color.filled()))?;
            legend.draw(&Text::new(p.label.clone(), (26, y - 8), (FONT, 13)))?;
        }
        Ok(())
    })
}
