//! The continual-learning engine: one model, a sequence of tasks, one method. It trains a fresh
//! head per task (with the adapter), evaluates every task seen so far with its own head, tracks
//! held-out perplexity with the original LM head, and reports everything as [`Event`]s.

use super::adapter_state::{set_alpha, snapshots};
use super::batch::{Batch, Encoded};
use super::control::{Control, Cursor};
use super::events::{Event, EventSink, Thumbnail};
use super::schedule::Schedule;
use crate::adapters::linear::{Layout, transpose};
use crate::adapters::{AdapterConfig, CurSelection, Method};
use crate::core::error::{Error, Result};
use crate::core::rng::Rng;
use crate::model::LanguageModel;
use crate::model::head::{Head, Pooling, pool};
use crate::train::metrics::{self, AccuracyMatrix, ContinualSummary};
use crate::train::perplexity::PerplexityMode;
use burn::module::Module;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::Tensor;
use burn::tensor::activation::log_softmax;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A task ready to train on: tokenized splits and its schedule.
#[derive(Clone, Debug)]
pub struct TaskData {
    pub name: String,
    pub train: Vec<Encoded>,
    pub eval: Vec<Encoded>,
    pub num_classes: usize,
    /// Accuracy of always predicting the eval split's most frequent class.
    pub majority_baseline: f64,
    pub epochs: usize,
    pub schedule: Schedule,
}

/// Optimisation and evaluation settings shared by all tasks of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub batch_size: usize,
    pub eval_batch_size: usize,
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// Clip each parameter's gradient to this L2 norm (burn's `GradientClipping::Norm`, which
    /// works per parameter tensor, not on the global norm).
    pub grad_clip: Option<f64>,
    pub pooling: Pooling,
    /// Shuffle training examples each epoch (seeded); the reference walks them in file order.
    pub shuffle: bool,
    /// Emit adapter snapshots every this many steps (0 = only at task ends).
    pub snapshot_every: usize,
    /// Evaluate every task seen so far every this many steps (0 = only at task ends).
    #[serde(default)]
    pub eval_every: usize,
    pub perplexity: PerplexityMode,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            batch_size: 16,
            eval_batch_size: 64,
            lr: 2.5e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-6,
            weight_decay: 0.0,
            grad_clip: Some(1.0),
            pooling: Pooling::LastNonPad,
            shuffle: true,
            snapshot_every: 0,
            eval_every: 0,
            perplexity: PerplexityMode::FirstWindow { max_tokens: 256 },
        }
    }
}

/// The base model plus the current task's head: what the optimizer updates.
#[derive(Module, Debug)]
pub struct TaskModel {
    pub lm: LanguageModel,
    pub head: Head,
}

impl TaskModel {
    /// Class logits `[B, C]` for a batch.
    pub fn forward(&self, batch: &Batch) -> Tensor<2> {
        let hidden = self.lm.hidden(batch.ids.clone(), Some(batch.keep.clone()));
        self.head.forward(pool(hidden, &batch.positions))
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum RunStatus {
    Completed,
    Cancelled,
    /// A non-finite loss stopped the run; the model kept is the last one with a finite loss.
    Diverged {
        task: usize,
        step: usize,
        message: String,
    },
}

/// Everything a run produced.
pub struct RunOutcome {
    pub status: RunStatus,
    pub trainable_params: usize,
    pub accuracy: AccuracyMatrix,
    pub majority_baseline: Vec<f64>,
    /// Before training, then after each completed task.
    pub perplexity: Vec<f64>,
    pub metrics: ContinualSummary,
    /// `(task, step, loss)` for every optimizer step.
    pub losses: Vec<(usize, usize, f64)>,
    /// `[after_task][task]` constant-predictor flags.
    pub constant_predictor: Vec<Vec<Option<(usize, f64)>>>,
    pub selections: Vec<(String, CurSelection)>,
    /// The adapted model (last good state) and the head of every trained task.
    pub model: LanguageModel,
    pub heads: Vec<Head>,
    pub seconds: f64,
    pub steps: usize,
}

/// Context a run reports into.
pub struct RunContext<'a> {
    pub run: usize,
    pub events: &'a dyn EventSink,
    pub cancel: Arc<AtomicBool>,
    pub device_name: String,
    /// Live steering (pause, single steps, skip, lr and α changes); `None` runs straight.
    pub control: Option<Arc<Control>>,
}

/// Trains `base` (on an autodiff device) on `tasks` in order with `adapter`, blocking this
/// thread until done (natively; see [`run_sequence_async`] for the browser).
pub fn run_sequence(
    base: &LanguageModel,
    tasks: &[TaskData],
    heldout: &[u32],
    adapter: &AdapterConfig,
    cfg: &TrainConfig,
    ctx: &RunContext,
) -> Result<RunOutcome> {
    crate::core::runtime::block_on(run_sequence_async(base, tasks, heldout, adapter, cfg, ctx))
}

/// [`run_sequence`] as a future. Every value it reads back from the device (losses,
/// predictions, perplexity, adapter snapshots, the weights CUR draws from) is read
/// asynchronously, so it also runs on WebGPU, where a blocking read is impossible; between
/// optimizer steps it yields to the browser so the page keeps drawing.
pub async fn run_sequence_async(
    base: &LanguageModel,
    tasks: &[TaskData],
    heldout: &[u32],
    adapter: &AdapterConfig,
    cfg: &TrainConfig,
    ctx: &RunContext<'_>,
) -> Result<RunOutcome> {
    let start = web_time::Instant::now();
    let run = ctx.run;
    let emit = |e| ctx.events.emit(e);
    if tasks.is_empty() {
        return Err(Error::config("a run needs at least one task"));
    }
    if cfg.batch_size == 0 || cfg.eval_batch_size == 0 {
        return Err(Error::config("batch sizes must be ≥ 1"));
    }
    let device = base.device();
    let host = base.target_weights(adapter).await?;
    let (lm, selections) = base.clone().with_adapters_host(adapter, &host)?;
    let trainable_params = lm.trainable_params(adapter.method);
    emit(Event::RunStart {
        run,
        method: adapter.method,
        rank: adapter.rank,
        alpha: adapter.alpha,
        seed: adapter.seed,
        trainable_params,
        device: ctx.device_name.clone(),
        tasks: tasks.iter().map(|t| t.name.clone()).collect(),
    });
    for (module, selection) in &selections {
        let thumbnail = match (lm.module(module).ok(), host.get(module)) {
            (Some(layer), Some(w)) => {
                let w = match layer.layout {
                    Layout::InOut => w.clone(),
                    Layout::OutIn => transpose(w, layer.shape()),
                };
                Some(Thumbnail::of(&w, selection.shape, 48))
            }
            _ => None,
        };
        emit(Event::Selection {
            run,
            module: module.clone(),
            selection: selection.clone(),
            thumbnail,
        });
    }
    let pad_id = base.pad_id();
    let t_count = tasks.len();
    let mut accuracy = AccuracyMatrix::new(t_count);
    let mut constant = vec![vec![None; t_count]; t_count];
    let mut perplexity = vec![
        cfg.perplexity
            .evaluate_async(&lm.valid(), heldout)
            .await?
            .perplexity,
    ];
    emit(Event::Perplexity {
        run,
        after_task: None,
        perplexity: perplexity[0],
    });
    let mut heads: Vec<Head> = Vec::new();
    let mut losses = Vec::new();
    let mut lm = lm;
    let mut status = RunStatus::Completed;
    let mut global_step = 0usize;
    let mut cursor = ctx.control.as_deref().map(Cursor::now);
    let cancelled = || ctx.cancel.load(Ordering::Relaxed);

    'tasks: for (ti, task) in tasks.iter().enumerate() {
        if task.train.is_empty() || task.eval.is_empty() {
            return Err(Error::config(format!(
                "task `{}` has an empty split",
                task.name
            )));
        }
        let mut head_rng = Rng::for_name(adapter.seed, &format!("head:{ti}"));
        let head = Head::new(base.hidden_size(), task.num_classes, &mut head_rng, &device);
        let mut model = TaskModel { lm, head };
        // A fresh optimizer per task, as the reference does.
        let mut optim = AdamWConfig::new()
            .with_beta_1(cfg.beta1 as f32)
            .with_beta_2(cfg.beta2 as f32)
            .with_epsilon(cfg.eps as f32)
            .with_weight_decay(cfg.weight_decay as f32)
            .with_grad_clipping(
                cfg.grad_clip
                    .map(|c| GradientClippingConfig::Norm(c as f32)),
            )
            .init();
        let per_epoch = task.train.len().div_ceil(cfg.batch_size);
        let total_steps = per_epoch * task.epochs;
        let total_examples = task.train.len() * task.epochs;
        emit(Event::TaskStart {
            run,
            task: ti,
            name: task.name.clone(),
            steps: total_steps,
        });
        let mut step = 0usize;
        let mut last_good = model.clone();
        // Reports a divergence and returns the run's status.
        let diverge = |message: String, step: usize| {
            emit(Event::Error {
                run,
                message: message.clone(),
            });
            RunStatus::Diverged {
                task: ti,
                step,
                message,
            }
        };
        'epochs: for epoch in 0..task.epochs {
            let mut order: Vec<usize> = (0..task.train.len()).collect();
            if cfg.shuffle {
                Rng::for_name(adapter.seed, &format!("shuffle:{ti}:{epoch}")).shuffle(&mut order);
            }
            for chunk in order.chunks(cfg.batch_size) {
                let mut lr_scale = 1.0;
                if let (Some(c), Some(cur)) = (ctx.control.as_deref(), cursor.as_mut())
                    && c.wait_turn(cur, cancelled).await
                {
                    if c.take_skip(cur) {
                        emit(Event::Control {
                            run,
                            global_step,
                            change: format!("skipped the rest of task `{}`", task.name),
                        });
                        break 'epochs;
                    }
                    if let Some(alpha) = c.take_alpha(cur) {
                        set_alpha(&mut model.lm, alpha, adapter);
                        emit(Event::Control {
                            run,
                            global_step,
                            change: format!("α set to {alpha}"),
                        });
                    }
                    lr_scale = c.lr_scale();
                }
                if cancelled() {
                    status = RunStatus::Cancelled;
                    lm = model.lm;
                    // Keep the head only if this task trained at all.
                    if step > 0 {
                        heads.push(model.head);
                    }
                    break 'tasks;
                }
                let items: Vec<&Encoded> = chunk.iter().map(|&i| &task.train[i]).collect();
                let batch = Batch::new(&items, pad_id, cfg.pooling, &device);
                let lr = task.schedule.lr(cfg.lr, step, total_steps, total_examples) * lr_scale;
                let logits = model.forward(&batch);
                let labels = batch.labels_tensor(&device);
                let loss = log_softmax(logits, 1).gather(1, labels).mean().neg();
                let loss_value = f64::from(crate::core::runtime::read_scalar(loss.clone()).await?);
                if !loss_value.is_finite() {
                    status = diverge(
                        format!(
                            "task `{}` step {step}: the loss is {loss_value}; training stopped \
                             and the adapter keeps its last good values (those that gave the \
                             last finite loss, before the previous update). Try a lower \
                             learning rate.",
                            task.name
                        ),
                        step,
                    );
                    lm = last_good.lm;
                    heads.push(last_good.head);
                    break 'tasks;
                }
                losses.push((ti, step, loss_value));
                emit(Event::Step {
                    run,
                    task: ti,
                    step,
                    global_step,
                    loss: loss_value,
                    lr,
                });
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                last_good = model.clone();
                model = optim.step(lr, model, grads);
                step += 1;
                global_step += 1;
                if cfg.snapshot_every > 0 && step.is_multiple_of(cfg.snapshot_every) {
                    snapshots(&model.lm, run, ti, global_step, ctx.events).await;
                }
                if cfg.eval_every > 0 && step.is_multiple_of(cfg.eval_every) {
                    let lm_now = model.lm.valid();
                    let mut accuracies = Vec::with_capacity(ti + 1);
                    for (tj, other) in tasks.iter().enumerate().take(ti + 1) {
                        let head = if tj == ti {
                            model.head.valid()
                        } else {
                            heads[tj].valid()
                        };
                        let m = TaskModel {
                            lm: lm_now.clone(),
                            head,
                        };
                        let (acc, _) = evaluate(&m, other, pad_id, cfg).await?;
                        accuracies.push((tj, acc));
                    }
                    emit(Event::Progress {
                        run,
                        task: ti,
                        global_step,
                        accuracies,
                    });
                }
                crate::core::runtime::yield_now().await;
            }
        }
        // The loss is checked before each update; check the result of the last one too.
        if !params_finite(&model).await? {
            status = diverge(
                format!(
                    "task `{}`: the last update made the weights non-finite; training stopped \
                     and the adapter keeps its last good values. Try a lower learning rate.",
                    task.name
                ),
                step,
            );
            lm = last_good.lm;
            heads.push(last_good.head);
            break 'tasks;
        }
        snapshots(&model.lm, run, ti, global_step, ctx.events).await;
        heads.push(model.head.clone());
        lm = model.lm;
        // Evaluate every task trained so far, each with its own head.
        let valid_lm = lm.valid();
        for (tj, other) in tasks.iter().enumerate().take(ti + 1) {
            let eval_model = TaskModel {
                lm: valid_lm.clone(),
                head: heads[tj].valid(),
            };
            let (acc, preds) = evaluate(&eval_model, other, pad_id, cfg).await?;
            let flag = metrics::constant_predictor(&preds, other.num_classes);
            accuracy.set(ti, tj, acc)?;
            constant[ti][tj] = flag;
            emit(Event::Eval {
                run,
                after_task: ti,
                task: tj,
                global_step,
                accuracy: acc,
                majority_baseline: other.majority_baseline,
                constant_predictor: flag,
            });
        }
        let ppl = cfg
            .perplexity
            .evaluate_async(&valid_lm, heldout)
            .await?
            .perplexity;
        perplexity.push(ppl);
        emit(Event::Perplexity {
            run,
            after_task: Some(ti),
            perplexity: ppl,
        });
        emit(Event::TaskEnd { run, task: ti });
    }
    let metrics = metrics::summarize(&accuracy);
    emit(Event::RunEnd { run, metrics });
    Ok(RunOutcome {
        status,
        trainable_params,
        accuracy,
        majority_baseline: tasks.iter().map(|t| t.majority_baseline).collect(),
        perplexity,
        metrics,
        losses,
        constant_predictor: constant,
        selections,
        model: lm,
        heads,
        seconds: start.elapsed().as_secs_f64(),
        steps: global_step,
    })
}

/// Whether every trained tensor (adapters, head, and for a full fine-tune every weight) is
/// finite.
async fn params_finite(model: &TaskModel) -> Result<bool> {
    use burn::module::{ModuleVisitor, Param};
    /// `Σ|p|` of every trained tensor (finite exactly when every element is).
    struct Sums(Vec<Tensor<1>>);
    impl ModuleVisitor for Sums {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let t = param.val();
            if param.is_require_grad() && t.shape().num_elements() > 0 {
                self.0.push(t.abs().sum());
            }
        }
    }
    let mut sums = Sums(Vec::new());
    model.visit(&mut sums);
    if sums.0.is_empty() {
        return Ok(true);
    }
    let all = crate::core::runtime::read_f32(Tensor::cat(sums.0, 0)).await?;
    Ok(all.iter().all(|s| s.is_finite()))
}

/// Accuracy on a task's evaluation split, and the predictions.
async fn evaluate(
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
    let mut preds = Vec::with_capacity(data.len());
    for chunk in data.chunks(cfg.eval_batch_size) {
        let items: Vec<&Encoded> = chunk.iter().collect();
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
            preds.push(best.0);
        }
    }
    Ok(preds)
}

/// The method's name with its rank, e.g. `curlora-8`.
pub fn label(method: Method, rank: usize) -> String {
    method.run_label(rank)
}
