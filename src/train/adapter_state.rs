//! What the engine asks of the attached adapters while it trains: a new α mid-run, and the
//! snapshots the views draw (U for CURLoRA, ‖ΔW‖ for LoRA). Each method says what it has
//! through [`Adapter`](crate::adapters::Adapter); nothing here names a method.

use super::events::{Event, EventSink};
use crate::adapters::{AdapterConfig, Snapshot};
use crate::model::LanguageModel;

/// Applies a new α to every adapter of `lm` (each by its own rule: CURLoRA's scale directly,
/// LoRA's through its scaling rule, α or α/r).
pub(crate) fn set_alpha(lm: &mut LanguageModel, alpha: f64, adapter: &AdapterConfig) {
    for (_, layer) in lm.modules_mut() {
        layer.adapter.get_mut().set_alpha(alpha, adapter);
    }
}

/// Emits each adapter's current state: a matrix with its norm (U for CURLoRA) or a norm alone
/// (‖A·B‖ for LoRA).
pub(crate) async fn snapshots(
    lm: &LanguageModel,
    run: usize,
    task: usize,
    global_step: usize,
    events: &dyn EventSink,
) {
    for (module, layer) in lm.modules() {
        let (u, norm) = match layer.adapter.get().snapshot() {
            None => continue,
            Some(Snapshot::Matrix(m)) => {
                let u = crate::core::runtime::read_f32(m).await.unwrap_or_default();
                let norm = u.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
                (Some(u), norm)
            }
            Some(Snapshot::Norm(n)) => {
                let norm = crate::core::runtime::read_scalar(n)
                    .await
                    .map(f64::from)
                    .unwrap_or(f64::NAN);
                (None, norm)
            }
        };
        events.emit(Event::AdapterSnapshot {
            run,
            task,
            global_step,
            module,
            u,
            norm,
        });
    }
}
