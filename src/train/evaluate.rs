//! Accuracy evaluation: every task seen so far, each with its own head, during a task (the
//! progress the app plots) and after it (the accuracy matrix); class predictions in batches.

use super::batch::{Batch, Encoded};
use super::engine::{Run, Trace};
use super::events::Event;
use super::run_types::{TaskData, TaskModel, TrainConfig};
use crate::core::error::Result;
use crate::model::LanguageModel;
use crate::train::metrics;
use burn::module::Module;

/// Accuracy on every task up to `ti` with the model as it is mid-task: earlier tasks with their
/// finished heads, task `ti` with the head being trained. Emits [`Event::Progress`].
pub(super) async fn progress(
    r: &Run<'_>,
    trace: &Trace,
    ti: usize,
    model: &TaskModel,
) -> Result<()> {
    let lm_now = model.lm.valid();
    let mut accuracies = Vec::with_capacity(ti + 1);
    for (tj, other) in r.tasks.iter().enumerate().take(ti + 1) {
        let head = if tj == ti {
            model.head.valid()
        } else {
            trace.heads[tj].valid()
        };
        let m = TaskModel {
            lm: lm_now.clone(),
            head,
        };
        let (acc, _) = evaluate(&m, other, r.pad_id, r.cfg).await?;
        accuracies.push((tj, acc));
    }
    r.emit(Event::Progress {
        run: r.ctx.run,
        task: ti,
        global_step: trace.global_step,
        accuracies,
    });
    Ok(())
}

/// After task `ti`: every task trained so far, each with its own head, into row `ti` of the
/// accuracy matrix and the constant-predictor flags. Emits an [`Event::Eval`] per task.
pub(super) async fn after_task(
    r: &Run<'_>,
    trace: &mut Trace,
    ti: usize,
    valid_lm: &LanguageModel,
) -> Result<()> {
    for (tj, other) in r.tasks.iter().enumerate().take(ti + 1) {
        let eval_model = TaskModel {
            lm: valid_lm.clone(),
            head: trace.heads[tj].valid(),
        };
        let (acc, preds) = evaluate(&eval_model, other, r.pad_id, r.cfg).await?;
        let flag = metrics::constant_predictor(&preds, other.num_classes);
        trace.accuracy.set(ti, tj, acc)?;
        trace.constant[ti][tj] = flag;
        r.emit(Event::Eval {
            run: r.ctx.run,
            after_task: ti,
            task: tj,
            global_step: trace.global_step,
            accuracy: acc,
            majority_baseline: other.majority_baseline,
            constant_predictor: flag,
        });
    }
    Ok(())
}

/// Accuracy on a task's evaluation split, and the predictions.
pub(super) async fn evaluate(
    model: &TaskModel,
    task: &TaskData,
    pad_id: u32,
    cfg: &TrainConfig,
) -> Result<(f64, Vec<usize>)> {
    let preds = predict_async(model, &task.eval, pad_id, cfg).await?;
    let labels: Vec<usize> = task.eval.iter().map(|e| e.label).collect();
    Ok((metrics::accuracy(&preds, &labels)?, preds))
}

/// Argmax class of every example, in batches, without autodiff.
pub fn predict(
    model: &TaskModel,
    data: &[Encoded],
    pad_id: u32,
    cfg: &TrainConfig,
) -> Result<Vec<usize>> {
    crate::core::runtime::block_on(predict_async(model, data, pad_id, cfg))
}

/// [`predict`] with asynchronous reads.
pub async fn predict_async(
    model: &TaskModel,
    data: &[Encoded],
    pad_id: u32,
    cfg: &TrainConfig,
) -> Result<Vec<usize>> {
    let device = model.lm.device();
    // Batches of similar lengths pad less: with last-real-token pooling a prediction does not
    // depend on its batch, so the examples are batched in order of length (stable) and the
    // predictions put back in data order. The reference's last-position pooling reads a pad
    // token whose position depends on the batch, so there file order is kept.
    let mut order: Vec<usize> = (0..data.len()).collect();
    if cfg.pooling == crate::model::head::Pooling::LastNonPad {
        order.sort_by_key(|&i| data[i].ids.len());
    }
    let mut sorted_preds = Vec::with_capacity(data.len());
    for chunk in order.chunks(cfg.eval_batch_size.max(1)) {
        let items: Vec<&Encoded> = chunk.iter().map(|&i| &data[i]).collect();
        let batch = Batch::new(&items, pad_id, cfg.pooling, &device);
        let logits = model.forward(&batch);
        let [b, c] = logits.dims();
        let v = crate::core::runtime::read_f32(logits).await?;
        for i in 0..b {
            let row = &v[i * c..(i + 1) * c];
            let best = row
                .iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |acc, (k, &x)| if x > acc.1 { (k, x) } else { acc },
                );
            sorted_preds.push(best.0);
        }
    }
    let mut preds = vec![0; data.len()];
    for (&i, p) in order.iter().zip(sorted_preds) {
        preds[i] = p;
    }
    Ok(preds)
}
