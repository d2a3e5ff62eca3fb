//! What the engine reports while it works: a stream of messages that the CLI, the desktop app
//! and the web app consume (and that a recorded run replays). The engine never imports UI code.

use crate::adapters::{CurSelection, Method};
use crate::metrics::ContinualSummary;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunStart {
        run: usize,
        method: Method,
        rank: usize,
        alpha: f64,
        seed: u64,
        trainable_params: usize,
        device: String,
        tasks: Vec<String>,
    },
    /// The columns and rows CURLoRA sampled for one module.
    Selection {
        run: usize,
        module: String,
        selection: CurSelection,
    },
    /// Held-out perplexity: before training (`after_task` = None) or after a task.
    Perplexity {
        run: usize,
        after_task: Option<usize>,
        perplexity: f64,
    },
    TaskStart {
        run: usize,
        task: usize,
        name: String,
        steps: usize,
    },
    Step {
        run: usize,
        task: usize,
        /// Step within the task (0-based).
        step: usize,
        /// Step over the whole sequence of tasks.
        global_step: usize,
        loss: f64,
        lr: f64,
    },
    /// `U` of one CURLoRA module (row-major `rank×rank`), or ‖A·B‖_F for LoRA.
    AdapterSnapshot {
        run: usize,
        task: usize,
        global_step: usize,
        module: String,
        u: Option<Vec<f32>>,
        norm: f64,
    },
    /// Accuracy on task `task` after training task `after_task`.
    Eval {
        run: usize,
        after_task: usize,
        task: usize,
        global_step: usize,
        accuracy: f64,
        majority_baseline: f64,
        /// `(class, fraction)` when one class is ≥ 95% of the predictions.
        constant_predictor: Option<(usize, f64)>,
    },
    /// Accuracy on every task seen so far (each with its own head; the current task with its
    /// head as trained so far), measured every `eval_every` steps during training: the curves
    /// across the whole sequence. `(task, accuracy)` pairs.
    Progress {
        run: usize,
        task: usize,
        global_step: usize,
        accuracies: Vec<(usize, f64)>,
    },
    TaskEnd {
        run: usize,
        task: usize,
    },
    RunEnd {
        run: usize,
        metrics: ContinualSummary,
    },
    Error {
        run: usize,
        message: String,
    },
}

/// Where events go. A closed receiver is not an error: the engine keeps working.
pub trait EventSink {
    fn emit(&self, event: Event);
}

impl EventSink for std::sync::mpsc::Sender<Event> {
    fn emit(&self, event: Event) {
        let _ = self.send(event);
    }
}

/// Discards events.
pub struct NoEvents;

impl EventSink for NoEvents {
    fn emit(&self, _: Event) {}
}
