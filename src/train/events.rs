//! What the engine reports while it works: a stream of messages that the CLI, the desktop app
//! and the web app consume (and that a recorded run replays). The engine never imports UI code.

use crate::adapters::{CurSelection, Method};
use crate::core::error::Result;
use crate::train::metrics::ContinualSummary;
use burn::tensor::{FloatDType, Tensor};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunStart {
        run: usize,
        method: Method,
        rank: usize,
        alpha: f64,
        seed: u64,
        trainable_params: usize,
        device: String,
        tasks: Vec<String>,
    },
    /// The columns and rows CURLoRA sampled for one module, and a small picture of the matrix
    /// they were sampled from.
    Selection {
        run: usize,
        module: String,
        selection: CurSelection,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thumbnail: Option<Thumbnail>,
    },
    /// Held-out perplexity: before training (`after_task` = None) or after a task.
    Perplexity {
        run: usize,
        after_task: Option<usize>,
        perplexity: f64,
    },
    TaskStart {
        run: usize,
        task: usize,
        name: String,
        steps: usize,
    },
    Step {
        run: usize,
        task: usize,
        /// Step within the task (0-based).
        step: usize,
        /// Step over the whole sequence of tasks.
        global_step: usize,
        loss: f64,
        lr: f64,
    },
    /// `U` of one CURLoRA module (row-major `rank×rank`), or ‖A·B‖_F for LoRA.
    AdapterSnapshot {
        run: usize,
        task: usize,
        global_step: usize,
        module: String,
        u: Option<Vec<f32>>,
        norm: f64,
    },
    /// Accuracy on task `task` after training task `after_task`.
    Eval {
        run: usize,
        after_task: usize,
        task: usize,
        global_step: usize,
        accuracy: f64,
        majority_baseline: f64,
        /// `(class, fraction)` when one class is ≥ 95% of the predictions.
        constant_predictor: Option<(usize, f64)>,
    },
    /// Accuracy on every task seen so far (each with its own head; the current task with its
    /// head as trained so far), measured every `eval_every` steps during training: the curves
    /// across the whole sequence. `(task, accuracy)` pairs.
    Progress {
        run: usize,
        task: usize,
        global_step: usize,
        accuracies: Vec<(usize, f64)>,
    },
    TaskEnd {
        run: usize,
        task: usize,
    },
    /// The adapter and every head so far at the end of task `after_task`, as an adapter file's
    /// bytes ([`crate::model::store::to_bytes`]): kilobytes for CURLoRA. The app's Try-it
    /// panel rebuilds each method's model at each task boundary from these, live and in a
    /// replayed recording. Not sent for methods that train every weight (megabytes each).
    Checkpoint {
        run: usize,
        after_task: usize,
        #[serde(with = "base64_bytes")]
        adapter: std::sync::Arc<Vec<u8>>,
    },
    RunEnd {
        run: usize,
        metrics: ContinualSummary,
    },
    /// A setting changed while training (from the app's controls), effective from
    /// `global_step` on.
    Control {
        run: usize,
        global_step: usize,
        change: String,
    },
    Error {
        run: usize,
        message: String,
    },
}

impl Event {
    /// The run this event belongs to.
    pub fn run(&self) -> usize {
        match self {
            Event::RunStart { run, .. }
            | Event::Selection { run, .. }
            | Event::Perplexity { run, .. }
            | Event::TaskStart { run, .. }
            | Event::Step { run, .. }
            | Event::AdapterSnapshot { run, .. }
            | Event::Eval { run, .. }
            | Event::Progress { run, .. }
            | Event::TaskEnd { run, .. }
            | Event::Checkpoint { run, .. }
            | Event::RunEnd { run, .. }
            | Event::Control { run, .. }
            | Event::Error { run, .. } => *run,
        }
    }
}

/// Events from JSON lines (a recording, a checkpoint); blank lines are skipped, and an error
/// names the line.
pub fn parse_jsonl(text: &str) -> std::result::Result<Vec<Event>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

/// Bytes as one base64 string in JSON (a third larger than the bytes; a number array is 3–4×).
mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};
    use std::sync::Arc;

    pub fn serialize<S: Serializer>(v: &Arc<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v.as_slice()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<Vec<u8>>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD
            .decode(text.as_bytes())
            .map(Arc::new)
            .map_err(serde::de::Error::custom)
    }
}

/// A small picture of a weight matrix in the orientation selection used (`CurSelection::shape`,
/// so that `cols` and `rows` index it): the mean |w| over blocks of `block` rows × columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Thumbnail {
    pub rows: usize,
    pub cols: usize,
    /// Matrix rows and columns per thumbnail cell.
    pub block: [usize; 2],
    /// Row-major `rows × cols`.
    pub values: Vec<f32>,
}

impl Thumbnail {
    /// Downsamples a row-major `[n, m]` matrix to at most `max × max` cells.
    pub fn of(w: &[f32], [n, m]: [usize; 2], max: usize) -> Self {
        let (bn, bm) = (n.div_ceil(max).max(1), m.div_ceil(max).max(1));
        let (rows, cols) = (n.div_ceil(bn), m.div_ceil(bm));
        let mut sum = vec![0f64; rows * cols];
        let mut count = vec![0u32; rows * cols];
        for i in 0..n {
            for j in 0..m {
                let k = (i / bn) * cols + j / bm;
                sum[k] += f64::from(w[i * m + j].abs());
                count[k] += 1;
            }
        }
        let values = sum
            .iter()
            .zip(&count)
            .map(|(s, c)| (s / f64::from((*c).max(1))) as f32)
            .collect();
        Self {
            rows,
            cols,
            block: [bn, bm],
            values,
        }
    }

    /// [`of`](Self::of) computed where `w [n, m]` lives: the blocks are summed on the device
    /// (zero-padded to whole blocks) and only the `max × max` sums are read back, so a GPU
    /// weight is never copied to the host for its picture.
    pub async fn of_tensor(w: Tensor<2>, max: usize) -> Result<Self> {
        let [n, m] = w.dims();
        let (bn, bm) = (n.div_ceil(max).max(1), m.div_ceil(max).max(1));
        let (rows, cols) = (n.div_ceil(bn), m.div_ceil(bm));
        let w = w.detach().cast(FloatDType::F32).abs();
        let padded =
            Tensor::<2>::zeros([rows * bn, cols * bm], &w.device()).slice_assign([0..n, 0..m], w);
        let sums = padded
            .reshape([rows, bn, cols, bm])
            .sum_dim(3)
            .sum_dim(1)
            .reshape([rows * cols]);
        let sums = crate::core::runtime::read_f32(sums).await?;
        let values = sums
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let (r, c) = (k / cols, k % cols);
                let count = (bn.min(n - r * bn) * bm.min(m - c * bm)).max(1);
                (f64::from(*s) / count as f64) as f32
            })
            .collect();
        Ok(Self {
            rows,
            cols,
            block: [bn, bm],
            values,
        })
    }
}

/// Where events go. A closed receiver is not an error: the engine keeps working.
pub trait EventSink {
    fn emit(&self, event: Event);
}

impl EventSink for std::sync::mpsc::Sender<Event> {
    fn emit(&self, event: Event) {
        let _ = self.send(event);
    }
}

/// Discards events.
pub struct NoEvents;

impl EventSink for NoEvents {
    fn emit(&self, _: Event) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    /// The device-pooled thumbnail (here on Flex) equals the host one, ragged edges included.
    #[test]
    fn thumbnail_of_tensor_equals_thumbnail_of_host_values() {
        for [n, m] in [[130usize, 97usize], [5, 5], [49, 200]] {
            let w: Vec<f32> = (0..n * m)
                .map(|k| ((k * 37 % 101) as f32 - 50.0) / 7.0)
                .collect();
            let t = Tensor::<2>::from_data(TensorData::new(w.clone(), [n, m]), &Device::flex());
            let dev = crate::core::runtime::block_on(Thumbnail::of_tensor(t, 48)).unwrap();
            let host = Thumbnail::of(&w, [n, m], 48);
            assert_eq!(
                (dev.rows, dev.cols, dev.block),
                (host.rows, host.cols, host.block)
            );
            for (a, b) in dev.values.iter().zip(&host.values) {
                assert!(
                    (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                    "[{n}, {m}]: {a} vs {b}"
                );
            }
        }
    }
}
