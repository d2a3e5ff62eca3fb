//! The run driver: every configuration of a loaded experiment, one after another (the CLI) or
//! side by side (the app, natively one thread per run, in the browser futures polled together).
//! Every path trains a run through one function (`Experiment::run_one`) and reports it through
//! another (`finish_run`); the synchronous entry points block on the asynchronous ones.

use crate::adapters::AdapterConfig;
use crate::core::error::{Error, Result};
use crate::core::runtime::{block_on, join_all};
use crate::experiment::Experiment;
use crate::experiment::report::{Report, RunReport};
use crate::train::{Control, EventSink, RunContext, RunOutcome, RunStatus, run_sequence_async};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// A boxed run future, so that runs of one experiment can be polled together.
type RunFuture<'a> = Pin<Box<dyn Future<Output = Result<RunReport>> + 'a>>;

impl Experiment {
    /// Runs every configuration in turn, blocking this thread. Each finished run is passed to
    /// `on_run` (to save its adapter) before the next starts.
    pub fn run(
        &self,
        device_name: &str,
        events: &dyn EventSink,
        cancel: Arc<AtomicBool>,
        on_run: impl FnMut(&AdapterConfig, &RunOutcome) -> Result<Option<u64>>,
    ) -> Result<Report> {
        block_on(self.run_async(device_name, events, cancel, on_run))
    }

    /// [`run`](Self::run) as a future. A cancelled run is reported and ends the sequence.
    pub async fn run_async(
        &self,
        device_name: &str,
        events: &dyn EventSink,
        cancel: Arc<AtomicBool>,
        on_run: impl FnMut(&AdapterConfig, &RunOutcome) -> Result<Option<u64>>,
    ) -> Result<Report> {
        let configs = self.spec.adapter_configs();
        let runs = self
            .run_configs_async(&configs, 0, device_name, events, cancel, on_run)
            .await?;
        Ok(self.report(device_name, runs))
    }

    /// [`run_configs_async`](Self::run_configs_async), blocking this thread.
    pub fn run_configs(
        &self,
        configs: &[AdapterConfig],
        first: usize,
        device_name: &str,
        events: &dyn EventSink,
        cancel: Arc<AtomicBool>,
        on_run: impl FnMut(&AdapterConfig, &RunOutcome) -> Result<Option<u64>>,
    ) -> Result<Vec<RunReport>> {
        block_on(self.run_configs_async(configs, first, device_name, events, cancel, on_run))
    }

    /// Trains the given configurations in turn on this experiment's model and tasks (a study
    /// cell is one); their events are numbered from run `first`. A cancelled run is reported
    /// and ends the list.
    pub async fn run_configs_async(
        &self,
        configs: &[AdapterConfig],
        first: usize,
        device_name: &str,
        events: &dyn EventSink,
        cancel: Arc<AtomicBool>,
        mut on_run: impl FnMut(&AdapterConfig, &RunOutcome) -> Result<Option<u64>>,
    ) -> Result<Vec<RunReport>> {
        let mut runs = Vec::new();
        for (i, cfg) in configs.iter().enumerate() {
            let outcome = self
                .run_one(first + i, cfg, events, cancel.clone(), None, device_name)
                .await?;
            let cancelled = outcome.status == RunStatus::Cancelled;
            runs.push(finish_run(cfg, &outcome, &mut on_run)?);
            if cancelled {
                break;
            }
        }
        Ok(runs)
    }

    /// Runs every configuration at the same time, one thread each, so that the app can show
    /// them learning (and forgetting) side by side; `control` steers all of them at once.
    /// Each finished run is passed to `on_run`. Runs are reported in configuration order.
    ///
    /// Natively each run needs a thread of its own: a paused run waits by sleeping its thread
    /// ([`crate::core::runtime::sleep`]), which would stop every run polled on the same one.
    pub fn run_side_by_side(
        &self,
        device_name: &str,
        events: &(dyn EventSink + Sync),
        cancel: Arc<AtomicBool>,
        control: Arc<Control>,
        on_run: impl Fn(&AdapterConfig, &RunOutcome) -> Result<Option<u64>> + Sync,
    ) -> Result<Report> {
        let configs = self.spec.adapter_configs();
        let results: Vec<Result<RunReport>> = std::thread::scope(|scope| {
            let handles: Vec<_> = configs
                .iter()
                .enumerate()
                .map(|(i, cfg)| {
                    let (cancel, control, on_run) = (cancel.clone(), control.clone(), &on_run);
                    scope.spawn(move || {
                        let stop = cancel.clone();
                        let result = block_on(self.run_steered(
                            i,
                            cfg,
                            events,
                            cancel,
                            control,
                            device_name,
                            on_run,
                        ));
                        // One run that fails (the GPU out of memory) stops the session: the
                        // others end at their next batch, resumable from their checkpoints.
                        if result.is_err() {
                            stop.store(true, std::sync::atomic::Ordering::Relaxed);
                        }
                        result
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(Error::config("a training thread panicked")))
                })
                .collect()
        });
        let runs = results.into_iter().collect::<Result<Vec<_>>>()?;
        Ok(self.report(device_name, runs))
    }

    /// [`run_side_by_side`](Self::run_side_by_side) on one thread: the runs' futures are polled
    /// together, each advancing while the others wait for the device or yield to the page. This
    /// is how the browser, which has no threads, trains every method at once. Adapters are not
    /// saved (the reports carry no file sizes).
    pub async fn run_side_by_side_async(
        &self,
        device_name: &str,
        events: &dyn EventSink,
        cancel: Arc<AtomicBool>,
        control: Arc<Control>,
    ) -> Result<Report> {
        let configs = self.spec.adapter_configs();
        let no_files = |_: &AdapterConfig, _: &RunOutcome| Ok(None);
        let runs: Vec<RunFuture> = configs
            .iter()
            .enumerate()
            .map(|(i, cfg)| {
                let (cancel, control) = (cancel.clone(), control.clone());
                Box::pin(async move {
                    let stop = cancel.clone();
                    let result = self
                        .run_steered(i, cfg, events, cancel, control, device_name, &no_files)
                        .await;
                    // As natively: a failed run stops the others.
                    if result.is_err() {
                        stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    result
                }) as RunFuture
            })
            .collect();
        let runs = join_all(runs)
            .await
            .into_iter()
            .collect::<Result<Vec<_>>>()?;
        Ok(self.report(device_name, runs))
    }

    /// Run number `run` of a side-by-side session, steered by `control` and reported through
    /// `on_run`.
    #[allow(clippy::too_many_arguments)]
    async fn run_steered(
        &self,
        run: usize,
        cfg: &AdapterConfig,
        events: &dyn EventSink,
        cancel: Arc<AtomicBool>,
        control: Arc<Control>,
        device_name: &str,
        on_run: &impl Fn(&AdapterConfig, &RunOutcome) -> Result<Option<u64>>,
    ) -> Result<RunReport> {
        let outcome = self
            .run_one(run, cfg, events, cancel, Some(control), device_name)
            .await?;
        finish_run(cfg, &outcome, &mut |c, o| on_run(c, o))
    }

    /// Trains configuration number `run`: the one place every path starts a run.
    async fn run_one(
        &self,
        run: usize,
        cfg: &AdapterConfig,
        events: &dyn EventSink,
        cancel: Arc<AtomicBool>,
        control: Option<Arc<Control>>,
        device_name: &str,
    ) -> Result<RunOutcome> {
        let ctx = RunContext {
            run,
            events,
            cancel,
            device_name: device_name.to_string(),
            control,
            resume: self.resume.get(run).and_then(Option::as_ref),
            checkpoint_base: self.checkpoint_base,
        };
        run_sequence_async(
            &self.base,
            &self.tasks,
            &self.heldout,
            cfg,
            &self.spec.train,
            &ctx,
        )
        .await
    }

    /// Writes a finished run's adapter and task heads to `dir/<method>-<rank>-seed<seed>.safetensors`
    /// and returns the file's size: what the CLI and the app both keep of a run.
    pub fn save_adapter(
        &self,
        dir: &Path,
        cfg: &AdapterConfig,
        outcome: &RunOutcome,
    ) -> Result<u64> {
        let name = format!(
            "{}-seed{}.safetensors",
            crate::train::engine::label(cfg.method, cfg.rank),
            cfg.seed
        );
        let heads: Vec<_> = self
            .tasks
            .iter()
            .zip(&outcome.heads)
            .map(|(t, h)| (t.name.clone(), h.clone()))
            .collect();
        let info = crate::model::store::HeadsInfo {
            labels: self.tasks.iter().map(|t| t.label_names.clone()).collect(),
            pooling: self.spec.train.pooling,
            max_len: self.spec.max_len,
            pair_separator: self.spec.pair_separator.clone(),
        };
        let bytes = crate::model::store::save_with_info(
            &dir.join(name),
            &outcome.model,
            cfg,
            self.base.weights_hash(),
            &heads,
            Some(&info),
        )?;
        Ok(bytes as u64)
    }

    /// The report of `runs` of this experiment (forward transfer filled in where a head-only
    /// run of the same seed is among them).
    pub fn report(&self, device_name: &str, mut runs: Vec<RunReport>) -> Report {
        super::report::fill_forward_transfer(&mut runs);
        Report {
            model: self.model_dir.display().to_string(),
            device: device_name.to_string(),
            preset: self.spec.preset.clone(),
            tasks: self.tasks.iter().map(|t| t.name.clone()).collect(),
            task_sizes: self
                .tasks
                .iter()
                .map(|t| (t.train.len(), t.eval.len()))
                .collect(),
            runs,
            notes: self
                .spec
                .notes
                .iter()
                .cloned()
                .chain(self.warnings.iter().cloned())
                .chain(self.skipped.iter().map(|(p, n, first)| {
                    format!(
                        "{}: {n} malformed rows skipped (first: {})",
                        p.display(),
                        first.as_deref().unwrap_or("?")
                    )
                }))
                .collect(),
            experiment: self.spec.clone(),
        }
    }
}

/// A finished run's report, after `on_run` has kept what it wants of it (its adapter file's
/// size goes into the report).
fn finish_run(
    cfg: &AdapterConfig,
    outcome: &RunOutcome,
    on_run: &mut impl FnMut(&AdapterConfig, &RunOutcome) -> Result<Option<u64>>,
) -> Result<RunReport> {
    let bytes = on_run(cfg, outcome)?;
    Ok(RunReport::new(cfg, outcome, bytes))
}
