//! Panel: what to train — model, task sequence, methods side by side, rank, α, learning rate,
//! epochs, seed, target modules, device. Saved between launches (eframe storage).

use super::files;
use super::setup_advanced as advanced;
use crate::adapters::{CurSource, Method, SelectionMode, UInit};
use crate::core::device::DeviceChoice;
use crate::experiment::{ExperimentSpec, TaskFormat, TaskSpec};
use crate::model::lm::{self, Family};
use crate::train::Schedule;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const WHAT: &str = "Choose a model and a sequence of tasks, then train LoRA and CURLoRA side by side \
     from the same seed. Settings are remembered.";

/// A dataset file added as a task (CSV, TSV or JSONL with a text and a label column).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomTask {
    pub name: String,
    pub train: PathBuf,
    /// Evaluation file; `None` evaluates on the training file (shown as such).
    pub eval: Option<PathBuf>,
    pub text_column: String,
    pub label_column: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Setup {
    /// `None`: the embedded model. Otherwise an HF folder or a `.gguf` file.
    pub model: Option<PathBuf>,
    /// Empty: the embedded three tasks.
    pub tasks: Vec<CustomTask>,
    /// Methods trained side by side, in this order (any registered method, each once).
    pub methods: Vec<Method>,
    pub rank: usize,
    pub alpha: f64,
    pub lr: f64,
    pub epochs: usize,
    pub seed: u64,
    pub targets: Vec<String>,
    pub device: DeviceChoice,
    /// Hide the advanced controls (for a class).
    pub classroom: bool,
    /// Use only the first N rows of each task's splits (a quick look).
    pub max_rows: Option<usize>,
    /// CURLoRA ablation: how columns and rows are sampled (inverted is the method).
    pub selection_mode: SelectionMode,
    /// CURLoRA ablation: `U ~ N(0, σ²)` at the start instead of zero.
    pub u_init_sigma: Option<f64>,
    /// CURLoRA ablation: Gaussian `C` and `R` instead of columns and rows of `W`.
    pub gaussian_cur: bool,
    /// Rows per training batch (`None`: the experiment's); evaluation batches are capped at
    /// it too, so that a GPU short of memory can be given smaller ones.
    pub batch_size: Option<usize>,
    /// The app's look, saved with the setup: white on black, thick lines (a projector).
    pub high_contrast: bool,
    /// The guided tour was seen (it opens by itself on the first start only).
    pub tour_seen: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            model: None,
            tasks: Vec::new(),
            methods: vec![Method::Lora, Method::CurLora],
            rank: 8,
            alpha: 1.0,
            lr: 6e-3,
            epochs: 2,
            seed: 1,
            targets: vec!["attn.c_attn".into(), "mlp.c_fc".into()],
            device: DeviceChoice::Cpu,
            classroom: false,
            max_rows: None,
            selection_mode: SelectionMode::Inverted,
            u_init_sigma: None,
            gaussian_cur: false,
            batch_size: None,
            high_contrast: false,
            tour_seen: false,
        }
    }
}

impl Setup {
    /// The chosen methods in order, each once.
    pub fn methods(&self) -> Vec<Method> {
        let mut m: Vec<Method> = Vec::new();
        for &x in &self.methods {
            if !m.contains(&x) {
                m.push(x);
            }
        }
        m
    }

    /// Turns `method` on (appended, so the side-by-side order is the order of choosing) or off.
    pub fn set_method(&mut self, method: Method, on: bool) {
        self.methods.retain(|m| *m != method);
        if on {
            self.methods.push(method);
        }
    }

    /// The model's family (for its target names); the embedded model is a GPT-2.
    pub fn family(&self) -> Result<Family, String> {
        match &self.model {
            None => Ok(Family::Gpt2),
            Some(p) if p.extension().and_then(|e| e.to_str()) == Some("gguf") => Ok(Family::Llama),
            Some(p) => lm::family(p).map_err(|e| e.to_string()),
        }
    }

    /// The experiment these settings describe, on the embedded assets unpacked in `assets`.
    pub fn to_spec(&self, assets: &Path) -> Result<ExperimentSpec, String> {
        let mut spec = crate::experiment::default_experiment(assets);
        if let Some(m) = &self.model {
            spec.model = Some(m.clone());
            spec.preset = Some("custom".into());
        }
        spec.methods = self.methods();
        if spec.methods.is_empty() {
            return Err("pick at least one method".into());
        }
        if self.rank == 0 {
            return Err("the rank must be ≥ 1".into());
        }
        if self.targets.is_empty() {
            return Err("pick at least one target module".into());
        }
        spec.ranks = vec![self.rank];
        spec.alpha = self.alpha;
        spec.train.lr = self.lr;
        spec.seeds = vec![self.seed];
        spec.targets = self.targets.clone();
        spec.selection_mode = self.selection_mode;
        spec.u_init = self.u_init_sigma.map_or(UInit::Zero, UInit::Normal);
        spec.cur_source = if self.gaussian_cur {
            CurSource::Gaussian
        } else {
            CurSource::Weights
        };
        if !self.tasks.is_empty() {
            spec.preset = Some("custom".into());
            spec.tasks = self.tasks.iter().map(task_spec).collect();
        }
        if let Some(b) = self.batch_size {
            if b == 0 {
                return Err("the batch size must be ≥ 1".into());
            }
            spec.train.batch_size = b;
            spec.train.eval_batch_size = spec.train.eval_batch_size.min(b);
        }
        for t in &mut spec.tasks {
            t.epochs = self.epochs.max(1);
            if let Some(n) = self.max_rows {
                t.train_rows = Some(n);
                t.eval_rows = Some(n);
            }
        }
        Ok(spec)
    }
}

fn task_spec(t: &CustomTask) -> TaskSpec {
    let format = match t.train.extension().and_then(|e| e.to_str()) {
        Some("tsv") => TaskFormat::Tsv,
        Some("jsonl") => TaskFormat::Jsonl,
        _ => TaskFormat::Csv,
    };
    let eval = t.eval.clone().unwrap_or_else(|| t.train.clone());
    TaskSpec::new(&t.name, format, t.train.clone(), eval)
        .with_epochs(2)
        .with_schedule(Schedule::WarmupCosine {
            warmup_fraction: 0.1,
        })
        .with_columns(&t.text_column, &t.label_column)
}

/// What the panel asks the app to do.
pub enum Action {
    None,
    Train,
}

/// Draws the panel. `busy` disables "train" while a run is going.
pub fn show(ui: &mut egui::Ui, s: &mut Setup, busy: bool) -> Action {
    ui.label(WHAT);
    ui.add_space(4.0);
    egui::Grid::new("setup").num_columns(2).show(ui, |ui| {
        model_row(ui, s);
        tasks_row(ui, s);
        methods_row(ui, s);
    });
    hyper_parameters(ui, s);
    egui::Grid::new("setup-advanced")
        .num_columns(2)
        .show(ui, |ui| {
            if !s.classroom {
                advanced::targets_and_rows(ui, s);
                advanced::ablation_row(ui, s);
                advanced::device_row(ui, s);
            }
        });
    buttons(ui, s, busy)
}

/// Grid row: the model (embedded, an HF folder or a GGUF file).
fn model_row(ui: &mut egui::Ui, s: &mut Setup) {
    ui.label("model");
    ui.vertical(|ui| {
        let name = match &s.model {
            None => "embedded tiny GPT-2 (1.3M parameters)".to_string(),
            Some(p) => p.display().to_string(),
        };
        ui.label(name);
        ui.horizontal(|ui| {
            if ui.button("embedded").clicked() {
                s.model = None;
                s.targets = vec!["attn.c_attn".into(), "mlp.c_fc".into()];
            }
            if files::AVAILABLE
                && ui.button("open HF folder…").clicked()
                && let Some(dir) = files::pick_folder()
            {
                s.model = Some(dir);
                s.targets = default_targets(s);
            }
            if files::AVAILABLE
                && ui.button("open .gguf…").clicked()
                && let Some(f) = files::pick_file("GGUF", &["gguf"])
            {
                s.model = Some(f);
                s.targets = default_targets(s);
            }
        });
    });
    ui.end_row();
}

/// Grid row: the task sequence (embedded, or dataset files with their columns).
fn tasks_row(ui: &mut egui::Ui, s: &mut Setup) {
    ui.label("tasks");
    ui.vertical(|ui| {
        if s.tasks.is_empty() {
            ui.label("embedded: movies → style → tweets");
        }
        let mut remove = None;
        for (i, t) in s.tasks.iter_mut().enumerate() {
            ui.horizontal(|ui| {
                let l = ui.label(format!("{}.", i + 1));
                ui.add(egui::TextEdit::singleline(&mut t.name).desired_width(80.0))
                    .labelled_by(l.id);
                ui.label(
                    t.train
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                );
                let l = ui.label("text");
                ui.add(egui::TextEdit::singleline(&mut t.text_column).desired_width(60.0))
                    .labelled_by(l.id);
                let l = ui.label("label");
                ui.add(egui::TextEdit::singleline(&mut t.label_column).desired_width(60.0))
                    .labelled_by(l.id);
                if t.eval.is_none() {
                    ui.weak("(evaluated on its training file)");
                }
                if ui.small_button("remove").on_hover_text("remove").clicked() {
                    remove = Some(i);
                }
            });
        }
        if let Some(i) = remove {
            s.tasks.remove(i);
        }
        ui.horizontal(|ui| {
            if files::AVAILABLE
                && ui.button("add dataset file…").clicked()
                && let Some(f) = files::pick_file("table", &["csv", "tsv", "jsonl"])
            {
                let name = f
                    .file_stem()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| format!("task{}", s.tasks.len() + 1));
                s.tasks.push(CustomTask {
                    name,
                    train: f,
                    eval: None,
                    text_column: "text".into(),
                    label_column: "label".into(),
                });
            }
            if !s.tasks.is_empty() && ui.button("embedded tasks").clicked() {
                s.tasks.clear();
            }
        });
    });
    ui.end_row();
}

/// Grid row: which methods train side by side.
fn methods_row(ui: &mut egui::Ui, s: &mut Setup) {
    ui.label("methods");
    // Wrapped: the registry grows, the panel must not.
    ui.horizontal_wrapped(|ui| {
        // Every registered method, in registry order.
        for &m in Method::ALL {
            let mut on = s.methods.contains(&m);
            if ui
                .checkbox(&mut on, m.label())
                .on_hover_text(m.help())
                .changed()
            {
                s.set_method(m, on);
            }
        }
    });
    ui.end_row();
}

/// Rank, α, learning rate, epochs and seed.
fn hyper_parameters(ui: &mut egui::Ui, s: &mut Setup) {
    ui.add(egui::Slider::new(&mut s.rank, 1..=64).text("rank r"));
    ui.add(egui::Slider::new(&mut s.alpha, 0.0..=8.0).text("α (adapter scale)"));
    ui.add(
        egui::Slider::new(&mut s.lr, 1e-5..=5e-2)
            .logarithmic(true)
            .text("learning rate"),
    );
    ui.add(egui::Slider::new(&mut s.epochs, 1..=10).text("epochs per task"));
    ui.horizontal(|ui| {
        let l = ui.label("seed");
        ui.add(egui::DragValue::new(&mut s.seed)).labelled_by(l.id);
    });
}

/// Train, defaults and classroom mode.
fn buttons(ui: &mut egui::Ui, s: &mut Setup, busy: bool) -> Action {
    let mut action = Action::None;
    ui.add_space(6.0);
    ui.horizontal(|ui| {
        let ok = !s.methods().is_empty() && !s.targets.is_empty();
        if ui
            .add_enabled(ok && !busy, egui::Button::new("Train"))
            .clicked()
        {
            action = Action::Train;
        }
        if ui.button("defaults").clicked() {
            let (classroom, high_contrast, seen) = (s.classroom, s.high_contrast, s.tour_seen);
            *s = Setup::default();
            s.classroom = classroom;
            s.high_contrast = high_contrast;
            s.tour_seen = seen;
        }
        ui.checkbox(&mut s.classroom, "classroom mode");
    });
    ui.checkbox(&mut s.high_contrast, "high contrast (projector)")
        .on_hover_text("white on black, thicker lines and marks");
    action
}

fn default_targets(s: &Setup) -> Vec<String> {
    match s.family() {
        Ok(Family::Llama) => vec!["q_proj".into(), "v_proj".into()],
        _ => vec!["attn.c_attn".into()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_become_the_experiment() {
        let dir = PathBuf::from("/assets");
        let s = Setup {
            rank: 4,
            alpha: 2.0,
            lr: 1e-3,
            epochs: 3,
            seed: 9,
            methods: vec![Method::Lora, Method::CurLora, Method::Full, Method::Lora],
            ..Setup::default()
        };
        let spec = s.to_spec(&dir).unwrap();
        assert_eq!(
            spec.methods,
            vec![Method::Lora, Method::CurLora, Method::Full]
        );
        assert_eq!((spec.ranks[0], spec.alpha, spec.train.lr), (4, 2.0, 1e-3));
        assert_eq!(spec.seeds, vec![9]);
        assert!(spec.tasks.iter().all(|t| t.epochs == 3));
        // The defaults are the method; the ablation controls reach the experiment.
        assert_eq!(
            (spec.selection_mode, spec.u_init, spec.cur_source),
            (SelectionMode::Inverted, UInit::Zero, CurSource::Weights)
        );
        let ablated = Setup {
            selection_mode: SelectionMode::Uniform,
            u_init_sigma: Some(0.05),
            gaussian_cur: true,
            ..Setup::default()
        };
        let spec = ablated.to_spec(&dir).unwrap();
        assert_eq!(
            (spec.selection_mode, spec.u_init, spec.cur_source),
            (
                SelectionMode::Uniform,
                UInit::Normal(0.05),
                CurSource::Gaussian
            )
        );
        let none = Setup {
            methods: Vec::new(),
            ..Setup::default()
        };
        assert!(none.to_spec(&dir).is_err());
    }

    #[test]
    fn settings_round_trip_through_storage_format() {
        let s = Setup {
            model: Some("/m".into()),
            ..Setup::default()
        };
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Setup>(&text).unwrap(), s);
        // Older saved settings with missing fields still load.
        let old: Setup = serde_json::from_str(r#"{"rank": 3}"#).unwrap();
        assert_eq!(old.rank, 3);
        assert_eq!(old.methods(), vec![Method::Lora, Method::CurLora]);
    }
}
