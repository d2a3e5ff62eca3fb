//! View: try the trained models on your own words. Type a sentence: every method's prediction
//! on every task head, at the latest state or back at any task boundary (from the checkpoints
//! the engine sends, which a recording carries). Continue a text: the base model and each
//! method's adapted model side by side, greedy, so that forgetting reads as broken text.
//!
//! The models run on the CPU (Flex) on the UI thread: the embedded model answers in
//! milliseconds; a larger live model makes "Continue" take a moment, on request only.

use super::state::{RunView, Session};
use super::views::{View, ViewContext};
use crate::model::generate::{self, Options, Sampling};
use crate::model::{LanguageModel, store};
use crate::train::classify::{self, Reading};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const WHAT: &str = "What am I looking at? Your own text through every trained model: each \
     task head's answer (and its probability) per method, now or back at the end of any task; \
     and each model continuing a text. A method that forgets changes its answers on old tasks \
     and writes worse text as tasks go by.";

/// Greedy tokens per continuation.
const CONTINUE_TOKENS: usize = 24;

/// One run's model at one task boundary, rebuilt from its checkpoint.
struct Built {
    loaded: store::Loaded,
}

/// The base model the runs were trained on, with its tokenizer.
struct Base {
    dir: PathBuf,
    model: LanguageModel,
    tokenizer: tokenizers::Tokenizer,
}

/// A run's model at a boundary in `built`: (run, boundary, checkpoint identity).
type Key = (usize, usize, usize);

/// What one text got: per run, per head, `(label, probability)`.
type Answers = Vec<Vec<Option<(String, f32)>>>;

pub struct TryIt {
    text: String,
    prompt: String,
    /// `None`: each run's latest checkpoint; `Some(k)`: after task k.
    boundary: Option<usize>,
    base: Option<Base>,
    built: HashMap<Key, Built>,
    /// The inputs the answers were computed for: (text, boundary, checkpoints seen).
    answered: Option<(String, Option<usize>, usize)>,
    answers: Answers,
    continuations: Vec<(String, String)>,
    error: Option<String>,
}

impl Default for TryIt {
    fn default() -> Self {
        Self {
            text: "a gentle, moving film with a wonderful cast".into(),
            prompt: "The river that ran through the valley".into(),
            boundary: None,
            base: None,
            built: HashMap::new(),
            answered: None,
            answers: Vec::new(),
            continuations: Vec::new(),
            error: None,
        }
    }
}

impl View for TryIt {
    fn name(&self) -> &'static str {
        "try"
    }
    fn title(&self) -> &'static str {
        "Try it"
    }
    fn about(&self) -> &'static str {
        WHAT
    }
    fn show(&mut self, ui: &mut egui::Ui, ctx: &ViewContext<'_>) {
        self.draw(ui, ctx.session, ctx.model_dir.as_deref());
    }
}

/// The checkpoint of `run` at `boundary` (its latest when `None`), with its task index.
fn checkpoint(run: &RunView, boundary: Option<usize>) -> Option<(usize, &std::sync::Arc<Vec<u8>>)> {
    match boundary {
        None => run
            .checkpoints
            .iter()
            .enumerate()
            .rev()
            .find_map(|(k, c)| c.as_ref().map(|c| (k, c))),
        Some(k) => run.checkpoints.get(k)?.as_ref().map(|c| (k, c)),
    }
}

impl TryIt {
    fn base(&mut self, dir: &Path) -> Result<&Base, String> {
        if self.base.as_ref().is_none_or(|b| b.dir != dir) {
            let device = burn::tensor::Device::flex();
            let model = LanguageModel::load(dir, &device).map_err(|e| e.to_string())?;
            let tokenizer = crate::model::load_tokenizer(
                &crate::model::lm::resolve(dir).map_err(|e| e.to_string())?,
            )
            .map_err(|e| e.to_string())?;
            self.built.clear();
            self.base = Some(Base {
                dir: dir.to_path_buf(),
                model,
                tokenizer,
            });
        }
        Ok(self.base.as_ref().expect("just set"))
    }

    /// Builds (once) each run's model at its boundary; returns keys into `built`.
    fn build(&mut self, session: &Session) -> Result<Vec<Option<Key>>, String> {
        let base = self.base.as_ref().ok_or("no base model")?;
        let mut keys = Vec::new();
        for (i, run) in session.runs.iter().enumerate() {
            let Some((k, bytes)) = checkpoint(run, self.boundary) else {
                keys.push(None);
                continue;
            };
            let key = (i, k, std::sync::Arc::as_ptr(bytes) as usize);
            if let std::collections::hash_map::Entry::Vacant(slot) = self.built.entry(key) {
                let hash = base.model.weights_hash().to_string();
                let loaded = store::load_bytes(
                    bytes,
                    Path::new("the run's checkpoint"),
                    base.model.clone(),
                    &hash,
                )
                .map_err(|e| format!("{}: {e}", run.label()))?;
                slot.insert(Built { loaded });
            }
            keys.push(Some(key));
        }
        Ok(keys)
    }

    fn classify(&mut self, session: &Session) -> Result<(), String> {
        let keys = self.build(session)?;
        let base = self.base.as_ref().expect("built");
        let mut answers = Vec::new();
        for key in keys {
            let Some(key) = key else {
                answers.push(Vec::new());
                continue;
            };
            let b = &self.built[&key];
            let info = b.loaded.meta.heads_info.as_ref();
            let reading = Reading::from_info(info);
            let data = classify::encode_texts(
                &base.tokenizer,
                &[(self.text.clone(), None)],
                &reading,
                base.model.pad_id(),
            )
            .map_err(|e| e.to_string())?;
            let mut row = Vec::new();
            for (h, (_, head)) in b.loaded.heads.iter().enumerate() {
                let p = crate::core::runtime::block_on(classify::probabilities(
                    &b.loaded.model,
                    head,
                    &data,
                    reading.pooling,
                    1,
                ))
                .map_err(|e| e.to_string())?;
                let best = generate::argmax(&p[0]);
                let name = info
                    .and_then(|i| i.labels.get(h))
                    .and_then(|l| l.get(best).cloned())
                    .unwrap_or_else(|| best.to_string());
                row.push(Some((name, p[0][best])));
            }
            answers.push(row);
        }
        self.answers = answers;
        Ok(())
    }

    fn continue_text(&mut self, session: &Session) -> Result<(), String> {
        let keys = self.build(session)?;
        let base = self.base.as_ref().expect("built");
        let prompt = crate::model::encode(&base.tokenizer, &self.prompt, Path::new("the prompt"))
            .map_err(|e| e.to_string())?;
        let opts = Options {
            max_new_tokens: CONTINUE_TOKENS,
            sampling: Sampling::default(),
            ignore_eos: false,
        };
        let run = |lm: &LanguageModel| -> Result<String, String> {
            let g =
                crate::core::runtime::block_on(generate::generate(lm, &prompt, &opts, &mut |_| {}))
                    .map_err(|e| e.to_string())?;
            base.tokenizer
                .decode(&g.tokens, false)
                .map_err(|e| e.to_string())
        };
        let mut out = vec![("base model".to_string(), run(&base.model)?)];
        for (r, key) in session.runs.iter().zip(keys) {
            if let Some(key) = key {
                out.push((r.label(), run(&self.built[&key].loaded.model)?));
            }
        }
        self.continuations = out;
        Ok(())
    }

    fn draw(&mut self, ui: &mut egui::Ui, session: &Session, model_dir: Option<&Path>) {
        let tasks: Vec<String> = session
            .runs
            .first()
            .map(|r| r.tasks.clone())
            .unwrap_or_default();
        let boundaries = session
            .runs
            .iter()
            .map(|r| r.checkpoints.len())
            .max()
            .unwrap_or(0);
        if boundaries == 0 {
            ui.label("No checkpoints yet: they arrive at the end of each task (recordings made before they existed have none).");
            return;
        }
        let Some(dir) = model_dir else {
            ui.label("The base model of these runs is not known here.");
            return;
        };
        if let Err(e) = self.base(dir) {
            ui.colored_label(
                egui::Color32::RED,
                format!("cannot load the base model: {e}"),
            );
            return;
        }
        ui.horizontal(|ui| {
            ui.label("Models as they were:");
            ui.radio_value(&mut self.boundary, None, "latest");
            for k in 0..boundaries {
                let name = tasks
                    .get(k)
                    .cloned()
                    .unwrap_or_else(|| format!("task {}", k + 1));
                ui.radio_value(
                    &mut self.boundary,
                    Some(k),
                    format!("after {} ({name})", k + 1),
                );
            }
        });
        ui.horizontal(|ui| {
            let label = ui.label("Type a sentence:");
            ui.add(egui::TextEdit::singleline(&mut self.text).desired_width(520.0))
                .labelled_by(label.id);
        });
        let seen: usize = session
            .runs
            .iter()
            .map(|r| r.checkpoints.iter().flatten().count())
            .sum();
        let inputs = (self.text.clone(), self.boundary, seen);
        if self.answered.as_ref() != Some(&inputs) {
            self.error = self.classify(session).err();
            self.answered = Some(inputs);
        }
        egui::Grid::new("try-answers")
            .striped(true)
            .spacing([18.0, 4.0])
            .show(ui, |ui| {
                ui.strong("method");
                for t in &tasks {
                    ui.strong(format!("{t} head"));
                }
                ui.end_row();
                for (run, row) in session.runs.iter().zip(&self.answers) {
                    ui.label(format!("{} seed {}", run.label(), run.seed));
                    for k in 0..tasks.len() {
                        match row.get(k).cloned().flatten() {
                            Some((label, p)) => ui.label(format!("{label}  ({:.0} %)", p * 100.0)),
                            None => ui.weak("not trained yet"),
                        };
                    }
                    ui.end_row();
                }
            });
        ui.weak("Each head was trained on its own task; the percentage is that head's probability of its answer.");
        ui.separator();
        ui.horizontal(|ui| {
            let label = ui.label("Continue this text:");
            ui.add(egui::TextEdit::singleline(&mut self.prompt).desired_width(420.0))
                .labelled_by(label.id);
            if ui.button("Continue").clicked() {
                self.error = self.continue_text(session).err();
            }
        });
        if !self.continuations.is_empty() {
            egui::Grid::new("try-continue")
                .striped(true)
                .spacing([18.0, 6.0])
                .show(ui, |ui| {
                    for (who, text) in &self.continuations {
                        ui.strong(who);
                        // Line breaks shown as ⏎: a model that forgot may write nothing else.
                        ui.label(format!("{}{}", self.prompt, text.replace('\n', "⏎")));
                        ui.end_row();
                    }
                });
            ui.weak(format!(
                "Greedy decoding, {CONTINUE_TOKENS} new tokens, the same for every model."
            ));
        }
        if let Some(e) = &self.error {
            ui.colored_label(egui::Color32::RED, e);
        }
    }
}
