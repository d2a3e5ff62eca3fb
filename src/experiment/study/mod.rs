//! A study: a grid of runs (methods × ranks × seeds × ablation settings), one folder per cell,
//! resumable and sharded onto the engine a cluster already has (Slurm job arrays, Kubernetes
//! Indexed Jobs, GNU parallel), then merged into one report with mean ± sd and 95% intervals.
//!
//! [`grid`] reads the study file and expands it, [`shard`] says which cells a process runs,
//! [`cells`] runs them into `DIR/cells/<id>/`, [`merge`] and [`tables`] aggregate them, and
//! [`emit`] writes the job files.

pub mod cells;
pub mod emit;
pub mod grid;
pub mod merge;
pub mod shard;
pub mod stats;
pub mod tables;

pub use cells::{CellStatus, Study};
pub use grid::{Axes, Cell, StudySpec};
pub use merge::{StudyReport, merge, write_merge};
pub use shard::Shard;
