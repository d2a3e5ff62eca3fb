//! The setup panel's advanced rows (hidden in classroom mode): target modules, rows per task,
//! CURLoRA's ablations and the device.

use super::setup::Setup;
use crate::adapters::SelectionMode;
use crate::core::device::DeviceChoice;
use crate::model::lm::Family;

/// Advanced grid rows (hidden in classroom mode): target modules and rows per task.
pub fn targets_and_rows(ui: &mut egui::Ui, s: &mut Setup) {
    ui.label("targets");
    ui.vertical(|ui| {
        for t in target_names(s).iter() {
            let mut on = s.targets.iter().any(|x| x == t);
            if ui.checkbox(&mut on, *t).changed() {
                if on {
                    s.targets.push(t.to_string());
                } else {
                    s.targets.retain(|x| x != t);
                }
            }
        }
    });
    ui.end_row();
    ui.label("rows per task");
    ui.horizontal(|ui| {
        let mut limit = s.max_rows.is_some();
        let l = ui.checkbox(&mut limit, "first");
        let mut n = s.max_rows.unwrap_or(200);
        ui.add_enabled(limit, egui::DragValue::new(&mut n).range(8..=100_000))
            .labelled_by(l.id);
        s.max_rows = limit.then_some(n);
    });
    ui.end_row();
}

/// Advanced grid rows: where to train, and how many rows a batch holds (what to lower when
/// the GPU runs out of memory).
pub fn device_row(ui: &mut egui::Ui, s: &mut Setup) {
    ui.label("device");
    ui.horizontal(|ui| {
        ui.selectable_value(&mut s.device, DeviceChoice::Auto, "auto");
        ui.selectable_value(&mut s.device, DeviceChoice::Gpu, "GPU (wgpu)");
        ui.selectable_value(&mut s.device, DeviceChoice::Cpu, "CPU");
    });
    ui.end_row();
    ui.label("batch size");
    ui.horizontal(|ui| {
        let mut set = s.batch_size.is_some();
        let l = ui
            .checkbox(&mut set, "rows")
            .on_hover_text("off: the experiment's (16 rows; evaluation 100)");
        let mut n = s
            .batch_size
            .unwrap_or(crate::train::TrainConfig::default().batch_size);
        ui.add_enabled(set, egui::DragValue::new(&mut n).range(1..=65_536))
            .labelled_by(l.id);
        s.batch_size = set.then_some(n);
    });
    ui.end_row();
}

/// Advanced grid row: CURLoRA's ablations, each undoing one choice of the method (see
/// `adapters::ablation`).
pub fn ablation_row(ui: &mut egui::Ui, s: &mut Setup) {
    ui.label("CURLoRA ablation");
    ui.vertical(|ui| {
        ui.horizontal(|ui| {
            ui.label("sampling")
                .on_hover_text("inverted is the method; the others are ablations");
            for (m, name) in [
                (SelectionMode::Inverted, "inverted"),
                (SelectionMode::Standard, "standard"),
                (SelectionMode::Uniform, "uniform"),
            ] {
                ui.selectable_value(&mut s.selection_mode, m, name);
            }
        });
        ui.horizontal(|ui| {
            let mut random = s.u_init_sigma.is_some();
            let l = ui.checkbox(&mut random, "U starts random, σ");
            let mut sigma = s.u_init_sigma.unwrap_or(0.01);
            ui.add_enabled(
                random,
                egui::DragValue::new(&mut sigma)
                    .range(1e-4..=1.0)
                    .speed(0.001),
            )
            .labelled_by(l.id);
            s.u_init_sigma = random.then_some(sigma);
        });
        ui.checkbox(&mut s.gaussian_cur, "C, R Gaussian (not from W)");
    });
    ui.end_row();
}

fn target_names(s: &Setup) -> &'static [&'static str] {
    match s.family() {
        Ok(Family::Llama) => &crate::model::llama::TARGET_MODULES,
        _ => &crate::model::gpt2::TARGET_MODULES,
    }
}
