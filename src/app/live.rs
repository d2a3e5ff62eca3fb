//! A live training session for the app: the engine on a background thread, every configured
//! method training side by side, events streamed back over a channel, and the results (report,
//! plots, adapters, the recording of every event) written to a session folder as they finish.
//!
//! In the browser there are no threads and no files: the runs are futures on the page's event
//! loop (yielding between optimizer steps), and the results stay in memory.

use super::setup::Setup;
use crate::experiment::Experiment;
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
    /// Everything is written to the session folder.
    Done(PathBuf),
    Failed(String),
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
}

impl Live {
    /// Starts training `setup` (settings are copied: later edits do not affect this run).
    pub fn start(setup: &Setup, control: Arc<Control>) -> Self {
        let (tx, rx) = channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let stamp = web_time::SystemTime::now()
            .duration_since(web_time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let out = crate::core::embedded::cache_root().join(format!("sessions/{stamp}"));
        let (setup, stop, dir, ctl) = (setup.clone(), cancel.clone(), out.clone(), control.clone());
        #[cfg(not(target_arch = "wasm32"))]
        std::thread::spawn(move || {
            let result = train(&setup, &tx, stop, ctl, &dir);
            let _ = tx.send(match result {
                Ok(()) => Msg::Done(dir),
                Err(e) => Msg::Failed(e),
            });
        });
        #[cfg(target_arch = "wasm32")]
        wasm_bindgen_futures::spawn_local(async move {
            let result = train_in_browser(&setup, &tx, stop, ctl).await;
            let _ = tx.send(match result {
                Ok(()) => Msg::Done(dir),
                Err(e) => Msg::Failed(e),
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
        }
    }

    pub fn stop(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// The experiment a live session trains (with snapshots and evaluations often enough to watch)
/// and its device, which the app is told about at once.
fn session(
    setup: &Setup,
    tx: &Sender<Msg>,
) -> Result<
    (
        crate::experiment::ExperimentSpec,
        crate::core::device::ComputeDevice,
    ),
    String,
> {
    let assets = crate::core::embedded::materialize().map_err(|e| e.to_string())?;
    let mut spec = setup.to_spec(&assets)?;
    spec.train.snapshot_every = 5;
    spec.train.eval_every = 10;
    let dev = crate::core::device::select(setup.device).map_err(|e| e.to_string())?;
    let _ = tx.send(Msg::Device(dev.description.clone()));
    Ok((spec, dev))
}

/// The browser's session: the same experiment, every run polled together on the page's thread;
/// nothing is written (there is no file system).
#[cfg(target_arch = "wasm32")]
async fn train_in_browser(
    setup: &Setup,
    tx: &Sender<Msg>,
    cancel: Arc<AtomicBool>,
    control: Arc<Control>,
) -> Result<(), String> {
    let (spec, dev) = session(setup, tx)?;
    // Let the page draw "loading" before the (synchronous) load and tokenization.
    crate::core::runtime::yield_now().await;
    let exp = Experiment::load(spec, &dev.device.clone().autodiff()).map_err(|e| e.to_string())?;
    let sink = Forward(Mutex::new(tx.clone()));
    exp.run_side_by_side_async(&dev.description, &sink, cancel, control)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(not(target_arch = "wasm32"))]
fn train(
    setup: &Setup,
    tx: &Sender<Msg>,
    cancel: Arc<AtomicBool>,
    control: Arc<Control>,
    out: &std::path::Path,
) -> Result<(), String> {
    let (spec, dev) = session(setup, tx)?;
    let exp = Experiment::load(spec, &dev.device.clone().autodiff()).map_err(|e| e.to_string())?;
    let recording = Mutex::new(Vec::<String>::new());
    let sink = Recorder {
        inner: Forward(Mutex::new(tx.clone())),
        lines: &recording,
    };
    let saved = Mutex::new(tx.clone());
    let report = exp
        .run_side_by_side(&dev.description, &sink, cancel, control, |cfg, outcome| {
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
        })
        .map_err(|e| e.to_string())?;
    report.write(out).map_err(|e| e.to_string())?;
    crate::experiment::plots::write_all(&report, out).map_err(|e| e.to_string())?;
    let lines = recording.into_inner().unwrap_or_default();
    crate::core::fsutil::write_atomic(
        &out.join("events.jsonl"),
        (lines.join("\n") + "\n").as_bytes(),
    )
    .map_err(|e| e.to_string())?;
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
