//! Core services every layer uses and that use nothing above them: errors, seeded randomness,
//! atomic file writes, the compute device, the async runtime shim, and the embedded files with
//! the cache folder.

pub mod device;
pub mod dtype;
pub mod embedded;
pub mod error;
pub mod fsutil;
pub mod rng;
pub mod runtime;
