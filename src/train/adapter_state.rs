//! What the engine asks of the attached adapters while it trains: a new α mid-run, and the
//! snapshots the views draw (U for CURLoRA, ‖ΔW‖ for LoRA).

use super::events::{Event, EventSink};
use crate::adapters::AdapterConfig;
use crate::model::LanguageModel;

/// Applies a new α to every adapter of `lm`: CURLoRA's scale directly, LoRA's through its
/// scaling rule (α or α/r).
pub(crate) fn set_alpha(lm: &mut LanguageModel, alpha: f64, adapter: &AdapterConfig) {
    for (_, layer) in lm.modules_mut() {
        if let Some(c) = layer.cur.as_mut() {
            c.alpha = alpha;
        }
        if let Some(l) = layer.lora.as_mut() {
            l.scale = adapter.lora_scaling.factor(alpha, adapter.rank);
        }
    }
}

/// Emits each adapter's current state: U for CURLoRA, ‖A·B‖ for LoRA.
pub(crate) async fn snapshots(
    lm: &LanguageModel,
    run: usize,
    task: usize,
    global_step: usize,
    events: &dyn EventSink,
) {
    for (module, layer) in lm.modules() {
        if let Some(c) = &layer.cur {
            let u = crate::core::runtime::read_f32(c.u.val())
                .await
                .unwrap_or_default();
            let norm = u.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
            events.emit(Event::AdapterSnapshot {
                run,
                task,
                global_step,
                module,
                u: Some(u),
                norm,
            });
        } else if let Some(l) = &layer.lora {
            let ab = l.a.val().matmul(l.b.val()).mul_scalar(l.scale);
            let norm = crate::core::runtime::read_scalar(ab.powi_scalar(2).sum().sqrt())
                .await
                .map(f64::from)
                .unwrap_or(f64::NAN);
            events.emit(Event::AdapterSnapshot {
                run,
                task,
                global_step,
                module,
                u: None,
                norm,
            });
        }
    }
}
