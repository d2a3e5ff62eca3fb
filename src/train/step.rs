//! One task's optimizer: a fresh AdamW per task (as the reference does), one step at a time
//! (batch, loss, backward, clipping and AdamW), and the checks that stop a diverging run.

use super::batch::{Batch, Encoded};
use super::engine::Run;
use super::events::Event;
use super::run_types::{TaskData, TaskModel};
use crate::core::error::Result;
use burn::module::Module;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::Tensor;

/// Training one task: the model, its optimizer, and the model before the last update (what
/// a run that diverges keeps).
pub(super) struct TaskTraining<'a> {
    pub model: TaskModel,
    pub last_good: TaskModel,
    /// Optimizer steps taken on this task.
    pub step: usize,
    pub total_steps: usize,
    total_examples: usize,
    optim: ModuleOptimizer,
    task: &'a TaskData,
    ti: usize,
    r: &'a Run<'a>,
}

/// What one step did.
pub(super) enum Stepped {
    /// The model was updated; the loss of step `step` before the update.
    Updated { step: usize, loss: f64 },
    /// The loss was not finite: nothing was updated. The message says so to the user.
    Diverged(String),
}

impl<'a> TaskTraining<'a> {
    /// Task number `ti` starting from `model` (the adapted LM and the task's fresh head).
    pub fn new(r: &'a Run<'a>, ti: usize, model: TaskModel) -> Self {
        let (task, cfg) = (&r.tasks[ti], r.cfg);
        let optim = AdamWConfig::new()
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
        Self {
            last_good: model.clone(),
            model,
            step: 0,
            total_steps: per_epoch * task.epochs,
            total_examples: task.train.len() * task.epochs,
            optim,
            task,
            ti,
            r,
        }
    }

    /// One optimizer step on the training examples `chunk`, at the schedule's learning rate
    /// times `lr_scale`. Emits [`Event::Step`] once the loss is known to be finite.
    pub async fn step(
        &mut self,
        chunk: &[usize],
        lr_scale: f64,
        global_step: usize,
    ) -> Result<Stepped> {
        let (task, step, r) = (self.task, self.step, self.r);
        let device = &r.device;
        let items: Vec<&Encoded> = chunk.iter().map(|&i| &task.train[i]).collect();
        let batch = Batch::new(&items, r.pad_id, r.cfg.pooling, device);
        let lr = task
            .schedule
            .lr(r.cfg.lr, step, self.total_steps, self.total_examples)
            * lr_scale;
        let logits = self.model.forward(&batch);
        let labels = batch.labels_tensor(device);
        let loss = crate::model::head::class_loss(logits, labels);
        // The step's loss is the task's cross-entropy (comparable across methods); a method's
        // own term (O-LoRA's penalty) joins the objective and the finiteness check.
        let (loss, loss_value) = match self.model.lm.adapter_loss() {
            None => {
                let v = crate::core::runtime::read_scalar(loss.clone()).await?;
                (loss, f64::from(v))
            }
            Some(penalty) => {
                let ce = f64::from(crate::core::runtime::read_scalar(loss.clone()).await?);
                let total = loss.add(penalty);
                let t = f64::from(crate::core::runtime::read_scalar(total.clone()).await?);
                (total, if t.is_finite() { ce } else { t })
            }
        };
        if !loss_value.is_finite() {
            return Ok(Stepped::Diverged(format!(
                "task `{}` step {step}: the loss is {loss_value}; training stopped \
                 and the adapter keeps its last good values (those that gave the \
                 last finite loss, before the previous update). Try a lower \
                 learning rate.",
                task.name
            )));
        }
        r.emit(Event::Step {
            run: r.ctx.run,
            task: self.ti,
            step,
            global_step,
            loss: loss_value,
            lr,
        });
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        // The previous good model is dropped before the update, so that a full fine-tune holds
        // two copies of the weights at most, not three.
        self.last_good = self.model.clone();
        self.model = self.optim.step(lr, self.model.clone(), grads);
        self.step += 1;
        Ok(Stepped::Updated {
            step,
            loss: loss_value,
        })
    }

    /// The loss is checked before each update; this checks the result of the last one. `Some`
    /// message when it made the weights non-finite.
    pub async fn check_last_update(&self) -> Result<Option<String>> {
        if params_finite(&self.model).await? {
            return Ok(None);
        }
        Ok(Some(format!(
            "task `{}`: the last update made the weights non-finite; training stopped \
             and the adapter keeps its last good values. Try a lower learning rate.",
            self.task.name
        )))
    }
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
