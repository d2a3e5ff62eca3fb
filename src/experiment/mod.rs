//! An experiment: a model, a sequence of tasks read from files, and the methods × ranks × seeds
//! to compare. Serializable as TOML (`curlora run --config FILE.toml`); the presets are values
//! of this type. The CLI and the apps run experiments through [`Experiment::run`] and its
//! side-by-side variants.
//!
//! [`spec`] is what the file says, [`load`] reads what it names, [`run`] drives the runs,
//! [`report`] and `plots` write what came out.

pub mod bench;
#[cfg(not(target_arch = "wasm32"))]
pub mod checkpoint;
mod default;
pub mod load;
#[cfg(not(target_arch = "wasm32"))]
pub mod plots;
pub mod presets;
pub mod report;
pub mod run;
pub mod spec;
#[cfg(not(target_arch = "wasm32"))]
pub mod study;

pub use default::default_experiment;
pub use load::Experiment;
pub use spec::{ExperimentSpec, PerplexitySpec, TaskFormat, TaskSpec};
