//! Training: per-task heads, batching, schedules, the continual-learning engine (the task loop
//! in `engine`, one optimizer step in `step`, accuracy in `evaluate`) and the events it emits.

mod adapter_state;
pub mod batch;
pub mod classify;
pub mod control;
pub mod engine;
mod evaluate;
pub mod events;
pub mod metrics;
pub mod perplexity;
pub mod pretrain;
pub mod resume;
pub mod run_types;
pub mod schedule;
mod step;
mod trace;

pub use crate::model::head::{Head, Pooling};
pub use control::Control;
pub use engine::{
    RunContext, RunOutcome, RunStatus, TaskData, TaskModel, TrainConfig, run_sequence,
    run_sequence_async,
};
pub use evaluate::predict;
pub use events::{Event, EventSink, NoEvents};
pub use resume::ResumeFrom;
pub use schedule::Schedule;
