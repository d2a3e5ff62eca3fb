//! The continual-learning engine: one model, a sequence of tasks, one method. It trains a fresh
//! head per task (with the adapter), evaluates every task seen so far with its own head, tracks
//! held-out perplexity with the original LM head, and reports everything as [`Event`]s.
//!
//! This file is the algorithm: the task loop and the batch loop of one task. One optimizer
//! step is in [`super::step`], accuracy evaluation in [`super::evaluate`], the types a run
//! takes and gives in [`super::run_types`].

use super::adapter_state::{set_alpha, snapshots};
use super::evaluate;
use super::events::{Event, Thumbnail};
use super::step::{Stepped, TaskTraining};
pub(super) use super::trace::Trace;
use crate::adapters::linear::{Layout, transpose};
use crate::adapters::{AdapterConfig, CurSelection, Method, WeightRead};
use crate::core::error::{Error, Result};
use crate::core::rng::Rng;
use crate::model::LanguageModel;
use crate::model::head::Head;
use crate::train::metrics;
use burn::module::Module;
use std::sync::atomic::Ordering;

pub use super::evaluate::{predict, predict_async};
pub use super::run_types::{RunContext, RunOutcome, RunStatus, TaskData, TaskModel, TrainConfig};

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
    if tasks.is_empty() {
        return Err(Error::config("a run needs at least one task"));
    }
    if cfg.batch_size == 0 || cfg.eval_batch_size == 0 {
        return Err(Error::config("batch sizes must be ≥ 1"));
    }
    let resume = ctx.resume;
    let r = Run {
        tasks,
        adapter,
        cfg,
        ctx,
        pad_id: base.pad_id(),
        device: base.device(),
        lr_scale: resume.map_or(1.0, |f| f.lr_scale),
    };
    // A resumed run attaches as the first time did (the same selections, from the same seed),
    // silently: its announcements are among the events it restores.
    let (mut lm, selections, trainable_params) = attach(base, &r, resume.is_none()).await?;
    let mut trace = Trace::new(tasks.len(), ctx);
    let first_task = match resume {
        None => {
            let ppl = cfg.perplexity.evaluate_async(&lm.valid(), heldout).await?;
            trace.perplexity(&r, None, ppl.perplexity);
            0
        }
        Some(from) => {
            let name = std::path::Path::new("checkpoint adapter");
            let loaded = crate::model::store::load_bytes(
                &from.adapter,
                name,
                base.clone(),
                base.weights_hash(),
            )?;
            lm = loaded.model;
            trace.restore(from, loaded.heads.into_iter().map(|(_, h)| h).collect())?;
            if from.lr_scale != 1.0 {
                r.emit(Event::Control {
                    run: ctx.run,
                    global_step: trace.global_step,
                    change: format!("resumed with the learning rate × {}", from.lr_scale),
                });
            }
            from.after_task + 1
        }
    };
    for (ti, task) in tasks.iter().enumerate().skip(first_task) {
        if task.train.is_empty() || task.eval.is_empty() {
            return Err(Error::config(format!(
                "task `{}` has an empty split",
                task.name
            )));
        }
        // A fresh head per task, from its own seeded generator.
        let mut head_rng = Rng::for_name(adapter.seed, &format!("head:{ti}"));
        let head = Head::new(
            base.hidden_size(),
            task.num_classes,
            &mut head_rng,
            &r.device,
        );
        let model = match train_task(&r, &mut trace, ti, TaskModel { lm, head }).await? {
            TaskEnd::Trained(model) => model,
            TaskEnd::Stopped {
                lm: kept,
                head,
                status,
            } => {
                lm = kept;
                trace.heads.extend(head);
                trace.status = status;
                break;
            }
        };
        lm = finish_task(&r, &mut trace, ti, model, heldout).await?;
    }
    let metrics = metrics::summarize(&trace.accuracy);
    if !resume.is_some_and(|f| f.finished) {
        r.emit(Event::RunEnd {
            run: ctx.run,
            metrics,
        });
    }
    Ok(RunOutcome {
        status: trace.status,
        trainable_params,
        accuracy: trace.accuracy,
        majority_baseline: tasks.iter().map(|t| t.majority_baseline).collect(),
        perplexity: trace.perplexities,
        metrics,
        losses: trace.losses,
        constant_predictor: trace.constant,
        selections,
        model: lm,
        heads: trace.heads,
        seconds: start.elapsed().as_secs_f64() + resume.map_or(0.0, |f| f.seconds),
        steps: trace.global_step,
    })
}

/// Trains task `ti` from `model`: its epochs of batches, each steered by the run's control.
async fn train_task(
    r: &Run<'_>,
    trace: &mut Trace,
    ti: usize,
    model: TaskModel,
) -> Result<TaskEnd> {
    let task = &r.tasks[ti];
    let mut model = model;
    // Methods with per-task state (O-LoRA's LoRA per task) start the task.
    model.lm.start_task(ti);
    let mut t = TaskTraining::new(r, ti, model);
    r.emit(Event::TaskStart {
        run: r.ctx.run,
        task: ti,
        name: task.name.clone(),
        steps: t.total_steps,
    });
    'epochs: for epoch in 0..task.epochs {
        let mut order: Vec<usize> = (0..task.train.len()).collect();
        if r.cfg.shuffle {
            Rng::for_name(r.adapter.seed, &format!("shuffle:{ti}:{epoch}")).shuffle(&mut order);
        }
        for chunk in order.chunks(r.cfg.batch_size) {
            let Some(lr_scale) = steer(r, trace, ti, &mut t.model.lm).await else {
                break 'epochs;
            };
            let lr_scale = lr_scale * r.lr_scale;
            if r.cancelled() {
                // Keep the head only if this task trained at all.
                let head = (t.step > 0).then_some(t.model.head);
                return Ok(TaskEnd::Stopped {
                    lm: t.model.lm,
                    head,
                    status: RunStatus::Cancelled,
                });
            }
            match t.step(chunk, lr_scale, trace.global_step).await? {
                Stepped::Diverged(message) => return Ok(r.diverged(t, ti, message)),
                Stepped::Updated { step, loss } => {
                    trace.losses.push((ti, step, loss));
                    trace.global_step += 1;
                }
            }
            let (cfg, step) = (r.cfg, t.step);
            if cfg.snapshot_every > 0 && step.is_multiple_of(cfg.snapshot_every) {
                snapshots(&t.model.lm, r.ctx.run, ti, trace.global_step, r.ctx.events).await;
            }
            if cfg.eval_every > 0 && step.is_multiple_of(cfg.eval_every) {
                evaluate::progress(r, trace, ti, &t.model).await?;
            }
            crate::core::runtime::yield_now().await;
        }
    }
    if let Some(message) = t.check_last_update().await? {
        return Ok(r.diverged(t, ti, message));
    }
    Ok(TaskEnd::Trained(t.model))
}

/// After task `ti` trained: the adapters' snapshots, its head kept, every task seen so far
/// evaluated with its own head, and held-out perplexity. Returns the model for the next task.
async fn finish_task(
    r: &Run<'_>,
    trace: &mut Trace,
    ti: usize,
    model: TaskModel,
    heldout: &[u32],
) -> Result<LanguageModel> {
    snapshots(&model.lm, r.ctx.run, ti, trace.global_step, r.ctx.events).await;
    trace.heads.push(model.head);
    let lm = model.lm;
    let valid_lm = lm.valid();
    checkpoint(r, trace, ti, &valid_lm).await?;
    evaluate::after_task(r, trace, ti, &valid_lm).await?;
    let ppl = r.cfg.perplexity.evaluate_async(&valid_lm, heldout).await?;
    trace.perplexity(r, Some(ti), ppl.perplexity);
    r.emit(Event::TaskEnd {
        run: r.ctx.run,
        task: ti,
    });
    Ok(lm)
}

/// Emits the adapter and the heads so far as an adapter file's bytes ([`Event::Checkpoint`]):
/// for a full fine-tune (every weight, megabytes) only when the run is checkpointed to disk.
async fn checkpoint(r: &Run<'_>, trace: &Trace, ti: usize, lm: &LanguageModel) -> Result<()> {
    if r.adapter.method.trains_base() && !r.ctx.checkpoint_base {
        return Ok(());
    }
    let heads: Vec<(String, Head)> = r
        .tasks
        .iter()
        .zip(&trace.heads)
        .map(|(t, h)| (t.name.clone(), h.valid()))
        .collect();
    let info = crate::model::store::HeadsInfo {
        labels: r.tasks.iter().map(|t| t.label_names.clone()).collect(),
        pooling: r.cfg.pooling,
        // The engine sees encoded examples only: their longest is the cut training used
        // whenever any example reached it.
        max_len: r
            .tasks
            .iter()
            .flat_map(|t| t.train.iter().chain(&t.eval))
            .map(|e| e.ids.len())
            .max()
            .unwrap_or(1),
        pair_separator: None,
    };
    let bytes =
        crate::model::store::to_bytes_async(lm, r.adapter, lm.weights_hash(), &heads, Some(&info))
            .await?;
    r.emit(Event::Checkpoint {
        run: r.ctx.run,
        after_task: ti,
        adapter: std::sync::Arc::new(bytes),
    });
    Ok(())
}

/// Waits for the run's turn under live control and applies what was asked since the last
/// step: a new α now, a skip (`None`: end this task). Returns the learning-rate scale.
async fn steer(r: &Run<'_>, trace: &mut Trace, ti: usize, lm: &mut LanguageModel) -> Option<f64> {
    let (Some(c), Some(cur)) = (r.ctx.control.as_deref(), trace.cursor.as_mut()) else {
        return Some(1.0);
    };
    if !c.wait_turn(cur, || r.cancelled()).await {
        return Some(1.0);
    }
    let control = |change: String| Event::Control {
        run: r.ctx.run,
        global_step: trace.global_step,
        change,
    };
    if c.take_skip(cur) {
        let name = &r.tasks[ti].name;
        r.emit(control(format!("skipped the rest of task `{name}`")));
        return None;
    }
    if let Some(alpha) = c.take_alpha(cur) {
        set_alpha(lm, alpha, r.adapter);
        r.emit(control(format!("α set to {alpha}")));
    }
    Some(c.lr_scale())
}

/// Attaches the adapters (CUR draws its rows and columns from what was read of the target
/// weights: host copies on the CPU, squared norms on a GPU) and announces the run:
/// [`Event::RunStart`], then one [`Event::Selection`] per CUR module. Returns the adapted
/// model, the selections and the trainable parameter count.
async fn attach(
    base: &LanguageModel,
    r: &Run<'_>,
    announce: bool,
) -> Result<(LanguageModel, Vec<(String, CurSelection)>, usize)> {
    let adapter = r.adapter;
    let host = base.target_weights(adapter).await?;
    let (lm, selections) = base.clone().with_adapters_host(adapter, &host)?;
    let trainable_params = lm.trainable_params(adapter.method);
    if !announce {
        return Ok((lm, selections, trainable_params));
    }
    r.emit(Event::RunStart {
        run: r.ctx.run,
        method: adapter.method,
        rank: adapter.rank,
        alpha: adapter.alpha,
        seed: adapter.seed,
        trainable_params,
        device: r.ctx.device_name.clone(),
        tasks: r.tasks.iter().map(|t| t.name.clone()).collect(),
    });
    for (module, selection) in &selections {
        let thumbnail = match (lm.module(module).ok(), host.get(module)) {
            (Some(layer), Some(WeightRead::Host(w))) => {
                let w = match layer.layout {
                    Layout::InOut => w.clone(),
                    Layout::OutIn => transpose(w, layer.shape()),
                };
                Some(Thumbnail::of(&w, selection.shape, 48))
            }
            // On a GPU the picture is pooled where W lives.
            (Some(layer), Some(WeightRead::Norms { .. })) => {
                let w = layer.weight.val();
                let w = match layer.layout {
                    Layout::InOut => w,
                    Layout::OutIn => w.transpose(),
                };
                Some(Thumbnail::of_tensor(w, 48).await?)
            }
            _ => None,
        };
        r.emit(Event::Selection {
            run: r.ctx.run,
            module: module.clone(),
            selection: selection.clone(),
            thumbnail,
        });
    }
    Ok((lm, selections, trainable_params))
}

/// What every part of a run reads: the tasks, the settings, and where it reports.
pub(super) struct Run<'a> {
    pub tasks: &'a [TaskData],
    pub adapter: &'a AdapterConfig,
    pub cfg: &'a TrainConfig,
    pub ctx: &'a RunContext<'a>,
    pub pad_id: u32,
    pub device: burn::tensor::Device,
    /// Multiplies every step's learning rate (1 unless resumed with `--lr-scale`).
    pub lr_scale: f64,
}

impl Run<'_> {
    pub fn emit(&self, e: Event) {
        self.ctx.events.emit(e);
    }

    pub fn cancelled(&self) -> bool {
        self.ctx.cancel.load(Ordering::Relaxed)
    }

    /// Reports a divergence on task `ti` and ends the run with the last good model.
    fn diverged(&self, t: TaskTraining, ti: usize, message: String) -> TaskEnd {
        self.emit(Event::Error {
            run: self.ctx.run,
            message: message.clone(),
        });
        let status = RunStatus::Diverged {
            task: ti,
            step: t.step,
            message,
        };
        TaskEnd::Stopped {
            lm: t.last_good.lm,
            head: Some(t.last_good.head),
            status,
        }
    }
}

/// How training a task ended.
enum TaskEnd {
    /// Every epoch ran (or the rest was skipped): the model with this task's head.
    Trained(TaskModel),
    /// The run stops here (cancelled, or diverged): the model it keeps, the task's head if it
    /// keeps one, and why.
    Stopped {
        lm: LanguageModel,
        head: Option<Head>,
        status: RunStatus,
    },
}

/// The method's name with its rank, e.g. `curlora-8`.
pub fn label(method: Method, rank: usize) -> String {
    method.run_label(rank)
}
