//! What a run takes and gives: the tasks and settings going in, the model being trained, the
//! context it reports into, and what comes out.

use super::batch::{Batch, Encoded};
use super::control::Control;
use super::events::EventSink;
use super::schedule::Schedule;
use crate::adapters::CurSelection;
use crate::model::LanguageModel;
use crate::model::head::{Head, Pooling, pool};
use crate::train::metrics::{AccuracyMatrix, ContinualSummary};
use crate::train::perplexity::PerplexityMode;
use burn::module::Module;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// A task ready to train on: tokenized splits and its schedule.
#[derive(Clone, Debug)]
pub struct TaskData {
    pub name: String,
    pub train: Vec<Encoded>,
    pub eval: Vec<Encoded>,
    pub num_classes: usize,
    /// `label_names[id]` names class `id` (`num_classes` long).
    pub label_names: Vec<String>,
    /// Accuracy of always predicting the eval split's most frequent class.
    pub majority_baseline: f64,
    pub epochs: usize,
    pub schedule: Schedule,
}

/// Optimisation and evaluation settings shared by all tasks of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub batch_size: usize,
    pub eval_batch_size: usize,
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// Clip each parameter's gradient to this L2 norm (burn's `GradientClipping::Norm`, which
    /// works per parameter tensor, not on the global norm).
    pub grad_clip: Option<f64>,
    pub pooling: Pooling,
    /// Shuffle training examples each epoch (seeded); the reference walks them in file order.
    pub shuffle: bool,
    /// Emit adapter snapshots every this many steps (0 = only at task ends).
    pub snapshot_every: usize,
    /// Evaluate every task seen so far every this many steps (0 = only at task ends).
    #[serde(default)]
    pub eval_every: usize,
    pub perplexity: PerplexityMode,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            batch_size: 16,
            eval_batch_size: 64,
            lr: 2.5e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-6,
            weight_decay: 0.0,
            grad_clip: Some(1.0),
            pooling: Pooling::LastNonPad,
            shuffle: true,
            snapshot_every: 0,
            eval_every: 0,
            perplexity: PerplexityMode::FirstWindow { max_tokens: 256 },
        }
    }
}

/// The base model plus the current task's head: what the optimizer updates.
#[derive(Module, Debug)]
pub struct TaskModel {
    pub lm: LanguageModel,
    pub head: Head,
}

impl TaskModel {
    /// Class logits `[B, C]` for a batch.
    pub fn forward(&self, batch: &Batch) -> Tensor<2> {
        let hidden = self.lm.hidden(batch.ids.clone(), Some(batch.keep.clone()));
        self.head.forward(pool(hidden, &batch.positions))
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum RunStatus {
    Completed,
    Cancelled,
    /// A non-finite loss stopped the run; the model kept is the last one with a finite loss.
    Diverged {
        task: usize,
        step: usize,
        message: String,
    },
}

/// Everything a run produced.
pub struct RunOutcome {
    pub status: RunStatus,
    pub trainable_params: usize,
    pub accuracy: AccuracyMatrix,
    pub majority_baseline: Vec<f64>,
    /// Before training, then after each completed task.
    pub perplexity: Vec<f64>,
    pub metrics: ContinualSummary,
    /// `(task, step, loss)` for every optimizer step.
    pub losses: Vec<(usize, usize, f64)>,
    /// `[after_task][task]` constant-predictor flags.
    pub constant_predictor: Vec<Vec<Option<(usize, f64)>>>,
    pub selections: Vec<(String, CurSelection)>,
    /// The adapted model (last good state) and the head of every trained task.
    pub model: LanguageModel,
    pub heads: Vec<Head>,
    pub seconds: f64,
    pub steps: usize,
}

/// Context a run reports into.
pub struct RunContext<'a> {
    pub run: usize,
    pub events: &'a dyn EventSink,
    pub cancel: Arc<AtomicBool>,
    pub device_name: String,
    /// Live steering (pause, single steps, skip, lr and α changes); `None` runs straight.
    pub control: Option<Arc<Control>>,
    /// Continue from a task boundary instead of from the start ([`super::resume`]).
    pub resume: Option<&'a super::resume::ResumeFrom>,
    /// Send [`super::Event::Checkpoint`] for full fine-tunes too (every weight, megabytes at
    /// each boundary): set when the run is checkpointed to disk, so that it can resume.
    pub checkpoint_base: bool,
}
