//! What the app shows, rebuilt from the engine's events: the same state whether the events come
//! from a live run or from a recording. Pure data, no UI.

use crate::adapters::{CurSelection, Method};
use crate::train::Event;
use crate::train::events::Thumbnail;
use crate::train::metrics::{AccuracyMatrix, ContinualSummary};
use std::collections::BTreeMap;

/// One adapted module over a run: its latest `U` (empty for LoRA), the norm history
/// `(global_step, ‖U‖ or ‖A·B‖)`, and every snapshot of `U` (to follow one cell).
#[derive(Clone, Debug, Default)]
pub struct AdapterTrace {
    pub latest: Vec<f32>,
    pub norms: Vec<(usize, f64)>,
    pub history: Vec<(usize, Vec<f32>)>,
}

impl AdapterTrace {
    /// `(global_step, U[i, j])` over the run.
    pub fn cell_history(&self, i: usize, j: usize) -> Vec<(usize, f32)> {
        let r = (self.latest.len() as f64).sqrt() as usize;
        self.history
            .iter()
            .filter_map(|(s, u)| u.get(i * r + j).map(|v| (*s, *v)))
            .collect()
    }
}

/// One run (one method × rank × seed) as seen through its events.
#[derive(Clone, Debug)]
pub struct RunView {
    pub method: Method,
    pub rank: usize,
    pub seed: u64,
    pub trainable_params: usize,
    pub tasks: Vec<String>,
    /// `(global_step, loss)`.
    pub losses: Vec<(usize, f64)>,
    /// Held-out perplexity: before training, then after each task.
    pub perplexity: Vec<f64>,
    pub accuracy: AccuracyMatrix,
    pub baselines: Vec<f64>,
    /// `(global_step, task, accuracy)` from progress and final evaluations.
    pub curves: Vec<(usize, usize, f64)>,
    /// Global step at which each task started.
    pub task_starts: Vec<usize>,
    /// Latest `U` per CURLoRA module, with the history of its norm `(global_step, ‖U‖)`.
    pub u: BTreeMap<String, AdapterTrace>,
    pub selections: Vec<(String, CurSelection)>,
    /// A small picture of each selected-from matrix (recordings made before it existed have
    /// none).
    pub thumbnails: BTreeMap<String, Thumbnail>,
    pub metrics: Option<ContinualSummary>,
    pub steps: usize,
    pub error: Option<String>,
    /// Settings changed during the run: `(global_step, what)`.
    pub controls: Vec<(usize, String)>,
    /// Clock times (seconds, the app's clock) of the first and latest step seen live.
    pub step_clock: Option<(f64, f64, usize)>,
    /// α at the start of the run.
    pub alpha: f64,
    /// Size of the saved adapter file (live runs, once saved).
    pub adapter_file_bytes: Option<u64>,
    /// The adapter and heads at the end of each task, as adapter-file bytes (the Try-it
    /// panel's models); recordings made before they were sent have none, and a resumed
    /// session has only its checkpoint's last one before the boundaries it trains on.
    pub checkpoints: Vec<Option<std::sync::Arc<Vec<u8>>>>,
    pub device: String,
}

impl RunView {
    pub fn label(&self) -> String {
        crate::train::engine::label(self.method, self.rank)
    }

    /// Optimizer steps per second over the steps seen live (None for a replay).
    pub fn steps_per_second(&self) -> Option<f64> {
        let (t0, t1, n) = self.step_clock?;
        (t1 > t0 && n > 1).then(|| (n - 1) as f64 / (t1 - t0))
    }
}

/// All runs of a session.
#[derive(Clone, Debug, Default)]
pub struct Session {
    pub runs: Vec<RunView>,
    /// Events applied so far.
    pub events: usize,
}

impl Session {
    /// Folds one event into the state (a replay: no clock).
    pub fn apply(&mut self, event: &Event) {
        self.apply_at(event, None);
    }

    /// Folds one event into the state; `now` (seconds on the app's clock) times live steps.
    pub fn apply_at(&mut self, event: &Event, now: Option<f64>) {
        self.events += 1;
        match event {
            Event::RunStart {
                run,
                method,
                rank,
                seed,
                trainable_params,
                tasks,
                alpha,
                device,
            } => {
                // Runs train side by side, so their starts can arrive in any order.
                let view = RunView {
                    method: *method,
                    rank: *rank,
                    seed: *seed,
                    trainable_params: *trainable_params,
                    tasks: tasks.clone(),
                    losses: Vec::new(),
                    perplexity: Vec::new(),
                    accuracy: AccuracyMatrix::new(tasks.len()),
                    baselines: vec![f64::NAN; tasks.len()],
                    curves: Vec::new(),
                    task_starts: Vec::new(),
                    u: BTreeMap::new(),
                    selections: Vec::new(),
                    thumbnails: BTreeMap::new(),
                    metrics: None,
                    steps: 0,
                    error: None,
                    controls: Vec::new(),
                    step_clock: None,
                    alpha: *alpha,
                    adapter_file_bytes: None,
                    checkpoints: Vec::new(),
                    device: device.clone(),
                };
                while self.runs.len() <= *run {
                    self.runs.push(view.clone());
                }
                self.runs[*run] = view;
            }
            other => {
                let Some(run) = run_of(other).and_then(|r| self.runs.get_mut(r)) else {
                    return;
                };
                match other {
                    Event::Selection {
                        module,
                        selection,
                        thumbnail,
                        ..
                    } => {
                        run.selections.push((module.clone(), selection.clone()));
                        if let Some(t) = thumbnail {
                            run.thumbnails.insert(module.clone(), t.clone());
                        }
                    }
                    Event::Perplexity { perplexity, .. } => run.perplexity.push(*perplexity),
                    Event::TaskStart { .. } => run.task_starts.push(run.steps),
                    Event::Step {
                        global_step, loss, ..
                    } => {
                        run.losses.push((*global_step, *loss));
                        run.steps = global_step + 1;
                        if let Some(t) = now {
                            run.step_clock = Some(match run.step_clock {
                                None => (t, t, 1),
                                Some((t0, _, n)) => (t0, t, n + 1),
                            });
                        }
                    }
                    Event::AdapterSnapshot {
                        module,
                        u,
                        norm,
                        global_step,
                        ..
                    } => {
                        let entry = run.u.entry(module.clone()).or_default();
                        if let Some(u) = u {
                            entry.latest = u.clone();
                            entry.history.push((*global_step, u.clone()));
                        }
                        entry.norms.push((*global_step, *norm));
                    }
                    Event::Progress {
                        global_step,
                        accuracies,
                        ..
                    } => {
                        for (t, a) in accuracies {
                            run.curves.push((*global_step, *t, *a));
                        }
                    }
                    Event::Eval {
                        after_task,
                        task,
                        accuracy,
                        majority_baseline,
                        global_step,
                        ..
                    } => {
                        let _ = run.accuracy.set(*after_task, *task, *accuracy);
                        if let Some(b) = run.baselines.get_mut(*task) {
                            *b = *majority_baseline;
                        }
                        run.curves.push((*global_step, *task, *accuracy));
                    }
                    Event::RunEnd { metrics, .. } => run.metrics = Some(*metrics),
                    Event::Checkpoint {
                        after_task,
                        adapter,
                        ..
                    } => {
                        run.checkpoints.truncate(*after_task);
                        run.checkpoints.resize(*after_task, None);
                        run.checkpoints.push(Some(adapter.clone()));
                    }
                    Event::Error { message, .. } => run.error = Some(message.clone()),
                    Event::Control {
                        global_step,
                        change,
                        ..
                    } => run.controls.push((*global_step, change.clone())),
                    _ => {}
                }
            }
        }
    }
}

fn run_of(e: &Event) -> Option<usize> {
    Some(e.run())
}

/// The recorded default run shipped with the binary.
pub static RECORDED_RUN: &str = include_str!("../../assets/recorded-run.jsonl");

/// Parses a recording (one JSON event per line).
pub fn parse_recording(text: &str) -> Result<Vec<Event>, String> {
    crate::train::events::parse_jsonl(text)
}
