//! View: CUR selection — for each adapted matrix, the sampling probability of every column
//! (inverted: low-energy columns are likelier) with the sampled ones highlighted.

use super::state::Session;
use egui_plot::{Bar, BarChart, Plot};

pub const WHAT: &str = "CURLoRA builds C and R from columns and rows of W itself, drawn with inverted \
     probabilities ∝ 1/(energy + ε). Grey bars: each column's probability; orange: the columns drawn.";

pub fn show(ui: &mut egui::Ui, session: &Session) {
    ui.label(WHAT);
    let Some(run) = session.runs.iter().find(|r| !r.selections.is_empty()) else {
        ui.label("No CURLoRA run yet.");
        return;
    };
    egui::ScrollArea::vertical().show(ui, |ui| {
        for (module, sel) in &run.selections {
            let mut counts = std::collections::BTreeMap::new();
            for c in &sel.cols {
                *counts.entry(*c).or_insert(0usize) += 1;
            }
            let dups: Vec<String> = counts
                .iter()
                .filter(|(_, n)| **n > 1)
                .map(|(c, n)| format!("{c}×{n}"))
                .collect();
            ui.label(format!(
                "{module}: W is {}×{} (in×out); columns drawn {:?}{}; rows drawn {:?}",
                sel.shape[0],
                sel.shape[1],
                sel.cols,
                if dups.is_empty() {
                    String::new()
                } else {
                    format!(" (duplicates: {})", dups.join(", "))
                },
                sel.rows
            ));
            let bars: Vec<Bar> = sel
                .col_probs
                .iter()
                .enumerate()
                .map(|(j, p)| {
                    let b = Bar::new(j as f64, *p);
                    if counts.contains_key(&j) {
                        b.fill(egui::Color32::from_rgb(255, 140, 0))
                    } else {
                        b.fill(egui::Color32::GRAY)
                    }
                })
                .collect();
            Plot::new(format!("sel-{module}"))
                .height(110.0)
                .show(ui, |plot| {
                    plot.bar_chart(BarChart::new("column probability", bars))
                });
        }
    });
}
