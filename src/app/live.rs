//! A live training session for the app: the engine on a background thread, every configured
//! method training side by side, events streamed back over a channel, and the results (report,
//! plots, adapters, the recording of every event) written to a session folder as they finish.
//!
//! In the browser there are no threads and no files: the runs are futures on the page's event
//! loop (yielding between optimizer steps), and the results stay in memory.

use super::setup::Setup;
use crate::core::device::DeviceChoice;
use crate::core::error::Result;
use crate::experiment::{Experiment, ExperimentSpec};
use crate::train::{Control, Event, EventSink};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

/// What the training thread tells the app.
pub enum Msg {
    /// The device the run uses, once chosen.
    Device(String),
    Event(Box<Event>),
    /// A finished run's adapter was written: `(run, bytes)`.
    Saved(usize, u64),
    /// The finished experiment's report (the browser offers it for download).
    Report(Box<crate::experiment::report::Report>),
    /// Everything is written to the session folder.
    Done(PathBuf),
    /// Training stopped on an error; `device` when the GPU could not do the work (out of
    /// memory, a buffer over its limit), so that the app can offer the CPU instead.
    Failed {
        message: String,
        device: bool,
    },
}

impl Msg {
    fn failed(e: &crate::Error) -> Self {
        Msg::Failed {
            message: e.to_string(),
            device: matches!(e, crate::Error::Device(_)),
        }
    }
}

struct Forward(Mutex<Sender<Msg>>);

impl EventSink for Forward {
    fn emit(&self, event: Event) {
        if let Ok(tx) = self.0.lock() {
            let _ = tx.send(Msg::Event(Box::new(event)));
        }
    }
}

pub struct Live {
    pub rx: Receiver<Msg>,
    pub cancel: Arc<AtomicBool>,
    pub control: Arc<Control>,
    /// Where the report, plots, adapters and `events.jsonl` go.
    pub out: PathBuf,
    pub status: String,
    pub device: String,
    pub done: bool,
    /// It stopped because the GPU could not do the work: the app offers the CPU.
    pub device_fault: bool,
    /// The report, once every run has finished.
    pub report: Option<Box<crate::experiment::report::Report>>,
}

impl Live {
    /// Starts training `setup` into the session folder `out` (settings are copied: later edits
    /// do not affect this run).
    pub fn start(setup: &Setup, control: Arc<Control>, out: PathBuf) -> Self {
        Self::spawn(Plan::Fresh(setup.clone()), control, out)
    }

    /// Continues the interrupted session in `out` from its checkpoint (natively only: the
    /// browser keeps no files), on `device`.
    pub fn resume(out: PathBuf, device: DeviceChoice, control: Arc<Control>) -> Self {
        Self::spawn(Plan::Resume(device), control, out)
    }

    fn spawn(plan: Plan, control: Arc<Control>, out: PathBuf) -> Self {
        let (tx, rx) = channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let (stop, dir, ctl) = (cancel.clone(), out.clone(), control.clone());
        #[cfg(not(target_arch = "wasm32"))]
        std::thread::spawn(move || {
            let result = train(plan, &tx, stop, ctl, &dir);
            let _ = tx.send(match result {
                Ok(()) => Msg::Done(dir),
                Err(e) => Msg::failed(&e),
            });
        });
        #[cfg(target_arch = "wasm32")]
        wasm_bindgen_futures::spawn_local(async move {
            let result = match plan {
                Plan::Fresh(setup) => train_in_browser(&setup, &tx, stop, ctl).await,
                Plan::Resume(_) => Err(crate::Error::config(
                    "the browser keeps no checkpoints to resume from",
                )),
            };
            let _ = tx.send(match result {
                Ok(()) => Msg::Done(dir),
                Err(e) => Msg::failed(&e),
            });
        });
        Self {
            rx,
            cancel,
            control,
            out,
            status: "loading…".into(),
            device: "…".into(),
            done: false,
            device_fault: false,
            report: None,
        }
    }

    pub fn stop(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// What a session trains: a setup from the start, or the checkpoint in its folder (natively).
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
enum Plan {
    Fresh(Setup),
    Resume(DeviceChoice),
}

/// The folder a new live session writes to: `sessions/<unix seconds>` under `root`.
pub fn new_session_dir(root: &std::path::Path) -> PathBuf {
    let stamp = web_time::SystemTime::now()
        .duration_since(web_time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut dir = root.join(stamp.to_string());
    // Two sessions started within a second (a quick Reset) get folders of their own.
    let mut n = 1;
    while crate::core::fsutil::exists(&dir) {
        dir = root.join(format!("{stamp}-{n}"));
        n += 1;
    }
    dir
}

/// The experiment a live session trains (with snapshots and evaluations often enough to watch).
fn session_spec(setup: &Setup) -> Result<ExperimentSpec> {
    let assets = crate::core::embedded::materialize()?;
    let mut spec = setup.to_spec(&assets).map_err(crate::Error::config)?;
    spec.train.snapshot_every = 5;
    spec.train.eval_every = 10;
    Ok(spec)
}

/// The device, which the app is told about at once.
fn device(choice: DeviceChoice, tx: &Sender<Msg>) -> Result<crate::core::device::ComputeDevice> {
    let dev = crate::core::device::select(choice)?;
    let _ = tx.send(Msg::Device(dev.description.clone()));
    Ok(dev)
}

/// The browser's session: the same experiment, every run polled together on the page's thread;
/// nothing is written (there is no file system).
#[cfg(target_arch = "wasm32")]
async fn train_in_browser(
    setup: &Setup,
    tx: &Sender<Msg>,
    cancel: Arc<AtomicBool>,
    control: Arc<Control>,
) -> Result<()> {
    let spec = session_spec(setup)?;
    let dev = device(setup.device, tx)?;
    // Let the page draw "loading" before the (synchronous) load and tokenization.
    crate::core::runtime::yield_now().await;
    let exp = Experiment::load(spec, &dev.device.clone().autodiff())?;
    let sink = Forward(Mutex::new(tx.clone()));
    let report = exp
        .run_side_by_side_async(&dev.description, &sink, cancel, control)
        .await?;
    let _ = tx.send(Msg::Report(Box::new(report)));
    Ok(())
}

/// The native session: a checkpoint at every task boundary (`out/checkpoint/`, as `curlora
/// run` keeps one), so that a session the app was closed on, or that the GPU could not finish,
/// picks up where it stopped; then the report, plots, adapters and recording.
#[cfg(not(target_arch = "wasm32"))]
fn train(
    plan: Plan,
    tx: &Sender<Msg>,
    cancel: Arc<AtomicBool>,
    control: Arc<Control>,
    out: &std::path::Path,
) -> Result<()> {
    use crate::experiment::checkpoint::{Resumed, Writer};
    let (spec, choice, resumed) = match plan {
        Plan::Fresh(setup) => (session_spec(&setup)?, setup.device, None),
        Plan::Resume(choice) => {
            let r = Resumed::read(out)?;
            (r.spec.clone(), choice, Some(r))
        }
    };
    let dev = device(choice, tx)?;
    let mut exp = Experiment::load(spec.clone(), &dev.device.clone().autodiff())?;
    exp.checkpoint_base = true;
    if let Some(r) = &resumed {
        // A run that diverged retries its task at half the rate (the app's choice of what
        // `curlora run --resume --lr-scale` asks the user for).
        exp.resume = r.resume_points(out, Some(0.5))?;
    }
    let recording = Mutex::new(Vec::<String>::new());
    let sink = Recorder {
        inner: Forward(Mutex::new(tx.clone())),
        lines: &recording,
    };
    // What the checkpoint holds comes first, so the views and the recording are whole.
    for e in resumed.iter().flat_map(|r| &r.events) {
        sink.emit(e.clone());
    }
    let writer = Writer::new(out, &spec, &sink, cancel.clone(), resumed.as_ref());
    let saved = Mutex::new(tx.clone());
    let report = exp.run_side_by_side(
        &dev.description,
        &writer,
        cancel,
        control,
        |cfg, outcome| {
            let bytes = exp.save_adapter(&out.join("adapters"), cfg, outcome)?;
            let run = exp
                .spec
                .adapter_configs()
                .iter()
                .position(|c| c == cfg)
                .unwrap_or(0);
            if let Ok(tx) = saved.lock() {
                let _ = tx.send(Msg::Saved(run, bytes));
            }
            Ok(Some(bytes))
        },
    )?;
    drop(writer);
    report.write(out)?;
    let _ = tx.send(Msg::Report(Box::new(report.clone())));
    crate::experiment::plots::write_all(&report, out)?;
    let lines = recording.into_inner().unwrap_or_default();
    crate::core::fsutil::write_atomic(
        &out.join("events.jsonl"),
        (lines.join("\n") + "\n").as_bytes(),
    )?;
    Ok(())
}

/// Forwards events and keeps them as JSON lines, so a live session can be replayed later.
#[cfg(not(target_arch = "wasm32"))]
struct Recorder<'a> {
    inner: Forward,
    lines: &'a Mutex<Vec<String>>,
}

#[cfg(not(target_arch = "wasm32"))]
impl EventSink for Recorder<'_> {
    fn emit(&self, event: Event) {
        if let (Ok(mut l), Ok(json)) = (self.lines.lock(), serde_json::to_string(&event)) {
            l.push(json);
        }
        self.inner.emit(event);
    }
}
