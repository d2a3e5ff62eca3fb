//! Picking a run up at a task boundary. Everything a run carries from one task into the next
//! is in what it already reported, so a checkpoint is its events and its adapter file:
//! - the adapter's parameters and every head trained so far: the [`Event::Checkpoint`] bytes
//!   (an adapter file, [`crate::model::store`]);
//! - the accuracy matrix, the constant-predictor flags, the perplexities, the losses and the
//!   global step: the [`Event::Eval`], [`Event::Perplexity`] and [`Event::Step`] events (JSON
//!   writes f64 in the shortest form that reads back to the same bits);
//! - the optimizer: nothing. Each task starts a fresh AdamW (as the reference does), so no
//!   moment estimate crosses a boundary;
//! - the random streams: nothing either. Each is drawn by name from the run's seed (`head:{t}`,
//!   `shuffle:{t}:{epoch}`, CUR's and LoRA's per-module streams), never carried over.
//!
//! So a resumed run computes, from the next task on, exactly what the uninterrupted one does.

use super::engine::Trace;
use super::events::Event;
use crate::core::error::{Error, Result};
use crate::model::head::Head;
use std::sync::Arc;

/// Where one run picks up.
#[derive(Clone, Debug)]
pub struct ResumeFrom {
    /// The task the run had finished last.
    pub after_task: usize,
    /// This run's events up to and including its `TaskEnd { task: after_task }` (and its
    /// `RunEnd` when it had finished).
    pub events: Vec<Event>,
    /// The adapter file at that boundary: the adapter and the heads of tasks `0..=after_task`.
    pub adapter: Arc<Vec<u8>>,
    /// The run had sent `RunEnd`: nothing is left to train, only the outcome to rebuild.
    pub finished: bool,
    /// Seconds the run had trained before the interruption (added to its time).
    pub seconds: f64,
    /// Multiplies the learning rate from here on (`curlora run --resume --lr-scale`, after a
    /// divergence); 1 otherwise.
    pub lr_scale: f64,
}

impl Trace {
    /// The trace as it stood after task `from.after_task`, from that run's events and heads.
    pub(super) fn restore(&mut self, from: &ResumeFrom, heads: Vec<Head>) -> Result<()> {
        let bad =
            |detail: String| Error::config(format!("cannot resume from the checkpoint: {detail}"));
        if heads.len() != from.after_task + 1 {
            return Err(bad(format!(
                "its adapter file holds {} heads, but {} tasks had finished",
                heads.len(),
                from.after_task + 1
            )));
        }
        for e in &from.events {
            match e {
                Event::Perplexity { perplexity, .. } => self.perplexities.push(*perplexity),
                Event::Step {
                    task, step, loss, ..
                } => {
                    self.losses.push((*task, *step, *loss));
                    self.global_step += 1;
                }
                Event::Eval {
                    after_task,
                    task,
                    accuracy,
                    constant_predictor,
                    ..
                } => {
                    self.accuracy.set(*after_task, *task, *accuracy)?;
                    let row = self
                        .constant
                        .get_mut(*after_task)
                        .and_then(|r| r.get_mut(*task))
                        .ok_or_else(|| bad(format!("an evaluation of task {task} after task {after_task} is out of range")))?;
                    *row = *constant_predictor;
                }
                _ => {}
            }
        }
        if self.perplexities.len() != from.after_task + 2 {
            return Err(bad(format!(
                "{} perplexities for {} finished tasks (expected one before training and one \
                 after each task)",
                self.perplexities.len(),
                from.after_task + 1
            )));
        }
        self.heads = heads;
        Ok(())
    }
}
