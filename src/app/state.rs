//! What the app shows, rebuilt from the engine's events: the same state whether the events come
//! from a live run or from a recording. Pure data, no UI.

use crate::adapters::{CurSelection, Method};
use crate::metrics::{AccuracyMatrix, ContinualSummary};
use crate::train::Event;
use std::collections::BTreeMap;

/// A module's latest `U` (empty for LoRA) and its norm history `(global_step, norm)`.
pub type AdapterTrace = (Vec<f32>, Vec<(usize, f64)>);

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
    pub metrics: Option<ContinualSummary>,
    pub steps: usize,
    pub error: Option<String>,
}

impl RunView {
    pub fn label(&self) -> String {
        crate::train::engine::label(self.method, self.rank)
    }
}

/// All runs of a session.
#[derive(Clone, Debug, Default)]
pub struct Session {
    pub runs: Vec<RunView>,
}

impl Session {
    /// Folds one event into the state.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::RunStart {
                run,
                method,
                rank,
                seed,
                trainable_params,
                tasks,
                ..
            } => {
                while self.runs.len() <= *run {
                    self.runs.push(RunView {
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
                        metrics: None,
                        steps: 0,
                        error: None,
                    });
                }
            }
            other => {
                let Some(run) = run_of(other).and_then(|r| self.runs.get_mut(r)) else {
                    return;
                };
                match other {
                    Event::Selection {
                        module, selection, ..
                    } => run.selections.push((module.clone(), selection.clone())),
                    Event::Perplexity { perplexity, .. } => run.perplexity.push(*perplexity),
                    Event::TaskStart { .. } => run.task_starts.push(run.steps),
                    Event::Step {
                        global_step, loss, ..
                    } => {
                        run.losses.push((*global_step, *loss));
                        run.steps = global_step + 1;
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
                            entry.0 = u.clone();
                        }
                        entry.1.push((*global_step, *norm));
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
                    Event::Error { message, .. } => run.error = Some(message.clone()),
                    _ => {}
                }
            }
        }
    }
}

fn run_of(e: &Event) -> Option<usize> {
    Some(match e {
        Event::RunStart { run, .. }
        | Event::Selection { run, .. }
        | Event::Perplexity { run, .. }
        | Event::TaskStart { run, .. }
        | Event::Step { run, .. }
        | Event::AdapterSnapshot { run, .. }
        | Event::Eval { run, .. }
        | Event::Progress { run, .. }
        | Event::TaskEnd { run, .. }
        | Event::RunEnd { run, .. }
        | Event::Error { run, .. } => *run,
    })
}

/// The recorded default run shipped with the binary.
pub const RECORDED_RUN: &str = include_str!("../../assets/recorded-run.jsonl");

/// Parses a recording (one JSON event per line).
pub fn parse_recording(text: &str) -> Result<Vec<Event>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}
