//! What a run has produced so far (accuracy matrix, flags, perplexities, losses, heads): built
//! up by the engine as it trains, rebuilt from a checkpoint's events by [`super::resume`].

use super::control::Cursor;
use super::engine::Run;
use super::events::Event;
use super::run_types::{RunContext, RunStatus};
use crate::model::head::Head;
use crate::train::metrics::AccuracyMatrix;

/// What a run has produced so far.
pub(super) struct Trace {
    pub accuracy: AccuracyMatrix,
    /// `[after_task][task]` constant-predictor flags.
    pub constant: Vec<Vec<Option<(usize, f64)>>>,
    /// Before training, then after each completed task.
    pub perplexities: Vec<f64>,
    /// The head of every task trained so far.
    pub heads: Vec<Head>,
    pub losses: Vec<(usize, usize, f64)>,
    pub status: RunStatus,
    pub global_step: usize,
    /// What this run has acted on of the live control, if it has one.
    pub cursor: Option<Cursor>,
}

impl Trace {
    pub(super) fn new(task_count: usize, ctx: &RunContext) -> Self {
        Self {
            accuracy: AccuracyMatrix::new(task_count),
            constant: vec![vec![None; task_count]; task_count],
            perplexities: Vec::new(),
            heads: Vec::new(),
            losses: Vec::new(),
            status: RunStatus::Completed,
            global_step: 0,
            cursor: ctx.control.as_deref().map(Cursor::now),
        }
    }

    /// Records held-out perplexity before training (`after_task: None`) or after a task.
    pub(super) fn perplexity(&mut self, r: &Run, after_task: Option<usize>, perplexity: f64) {
        self.perplexities.push(perplexity);
        r.emit(Event::Perplexity {
            run: r.ctx.run,
            after_task,
            perplexity,
        });
    }
}
