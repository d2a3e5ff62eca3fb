//! PNG plots of a report (accuracy-matrix heatmaps, held-out perplexity after each task,
//! training-loss curves), drawn with plotters when the `plots` cargo feature is on. Without it
//! [`write_all`] writes nothing, and the report's JSON, CSV and Markdown are unchanged.

#[cfg(feature = "plots")]
mod draw;
#[cfg(feature = "plots")]
pub use draw::*;
#[cfg(feature = "plots")]
mod trade_off;
#[cfg(feature = "plots")]
pub use trade_off::*;

/// Without the `plots` feature: no PNGs (the caller reports the count, 0).
#[cfg(not(feature = "plots"))]
pub fn write_all(
    _report: &crate::experiment::report::Report,
    _dir: &std::path::Path,
) -> crate::core::error::Result<Vec<std::path::PathBuf>> {
    Ok(Vec::new())
}
