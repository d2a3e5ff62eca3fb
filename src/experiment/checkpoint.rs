//! Resumable experiments. `curlora run` keeps a checkpoint in `OUT/checkpoint/`, saved at every
//! task boundary of every run, and `curlora run --resume OUT` continues from it (see
//! [`crate::train::resume`] for why a boundary's events and adapter file are the whole state).
//!
//! The folder:
//! - `run{r}-task{t}-{n}.safetensors`: run `r`'s adapter file (adapter and heads) after task
//!   `t`, written by save `n`;
//! - `events-{n}.jsonl`: every event up to each run's last boundary (adapter bytes left out:
//!   they are the files above), which a resume sends again so its outputs are complete;
//! - `checkpoint.json`: the experiment, and per run where it stands. Written last and
//!   atomically: it is the commit point. A process killed at any moment leaves the previous
//!   `checkpoint.json` and the files it names intact (names are never reused), and the next
//!   save removes whatever it no longer names.

use crate::core::error::{Error, Result};
use crate::core::fsutil::write_atomic;
use crate::experiment::ExperimentSpec;
use crate::train::{Event, EventSink, ResumeFrom};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The checkpoint folder inside a run's output folder.
pub const FOLDER: &str = "checkpoint";
const STATE: &str = "checkpoint.json";
const FORMAT: u32 = 1;

/// `checkpoint.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    pub format: u32,
    /// The experiment (as `--print-config` writes it): a resume runs exactly this.
    pub spec: String,
    /// Saves so far; names the events file.
    pub save: usize,
    pub events: String,
    pub runs: Vec<RunState>,
    /// What else a resume needs, in words, for whoever reads the folder.
    pub optimizer: String,
    pub rng: String,
}

/// Where one run stands.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunState {
    pub run: usize,
    pub after_task: usize,
    /// The adapter file (in the folder).
    pub adapter: String,
    pub finished: bool,
    /// The run diverged after its boundary: the engine's message.
    pub diverged: Option<String>,
    /// Seconds it had trained.
    pub seconds: f64,
}

/// Per run, what the writer has seen.
#[derive(Default)]
struct Seen {
    /// Events (indices into `Pending::events`) through the last boundary.
    cut: usize,
    after_task: Option<usize>,
    adapter: Option<(usize, Arc<Vec<u8>>)>,
    saved_adapter: Option<String>,
    finished: bool,
    diverged: Option<String>,
    started: Option<web_time::Instant>,
    seconds_before: f64,
    seconds: f64,
}

struct Pending {
    events: Vec<Event>,
    runs: BTreeMap<usize, Seen>,
    save: usize,
    warned: bool,
}

/// An event sink that passes every event on to `inner` and saves the checkpoint at each task
/// boundary. A save that fails (a full disk) is reported once on stderr and training goes on:
/// the previous checkpoint stays as it was.
pub struct Writer<'a> {
    dir: PathBuf,
    spec: String,
    inner: &'a (dyn EventSink + Sync),
    pending: Mutex<Pending>,
    /// The run's Ctrl-C flag: a run that ends because of it has not finished.
    cancel: Arc<std::sync::atomic::AtomicBool>,
}

impl<'a> Writer<'a> {
    /// A writer into `out/checkpoint/` for `spec`, continuing `resumed` (the checkpoint a
    /// resume started from) when there is one.
    pub fn new(
        out: &Path,
        spec: &ExperimentSpec,
        inner: &'a (dyn EventSink + Sync),
        cancel: Arc<std::sync::atomic::AtomicBool>,
        resumed: Option<&Resumed>,
    ) -> Self {
        let mut pending = Pending {
            events: Vec::new(),
            runs: BTreeMap::new(),
            save: 0,
            warned: false,
        };
        // Save numbers go on from any checkpoint already in the folder, so that no file name
        // it holds is written again before its checkpoint.json is replaced.
        if resumed.is_none()
            && let Ok(r) = Resumed::read(out)
        {
            pending.save = r.state.save;
        }
        if let Some(r) = resumed {
            pending.events = r.events.clone();
            pending.save = r.state.save;
            for s in &r.state.runs {
                let seen = pending.runs.entry(s.run).or_default();
                seen.after_task = Some(s.after_task);
                seen.saved_adapter = Some(s.adapter.clone());
                seen.finished = s.finished;
                seen.seconds_before = s.seconds;
                seen.seconds = s.seconds;
            }
            for (i, e) in pending.events.iter().enumerate() {
                pending.runs.entry(e.run()).or_default().cut = i + 1;
            }
        }
        Self {
            dir: out.join(FOLDER),
            spec: spec.to_toml(),
            inner,
            pending: Mutex::new(pending),
            cancel,
        }
    }

    fn save(&self, p: &mut Pending) -> Result<()> {
        p.save += 1;
        let dir = &self.dir;
        std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
        let mut runs = Vec::new();
        for (&run, seen) in p.runs.iter_mut() {
            let Some(after_task) = seen.after_task else {
                continue;
            };
            if let Some((task, bytes)) = seen.adapter.take() {
                let name = format!("run{run}-task{task}-{}.safetensors", p.save);
                write_atomic(&dir.join(&name), &bytes)?;
                seen.saved_adapter = Some(name);
            }
            let Some(adapter) = seen.saved_adapter.clone() else {
                continue;
            };
            runs.push(RunState {
                run,
                after_task,
                adapter,
                finished: seen.finished,
                diverged: seen.diverged.clone(),
                seconds: seen.seconds,
            });
        }
        let events = format!("events-{}.jsonl", p.save);
        let mut text = String::new();
        for (i, e) in p.events.iter().enumerate() {
            if i < p.runs.get(&e.run()).map_or(0, |s| s.cut) {
                text.push_str(&serde_json::to_string(e).expect("events serialize"));
                text.push('\n');
            }
        }
        write_atomic(&dir.join(&events), text.as_bytes())?;
        fault_point(p.save);
        let state = State {
            format: FORMAT,
            spec: self.spec.clone(),
            save: p.save,
            events,
            runs,
            optimizer: "AdamW, a fresh one per task (as the reference): no optimizer state \
                        crosses a task boundary"
                .into(),
            rng: "every random stream is drawn by name from the run's seed (head:{task}, \
                  shuffle:{task}:{epoch}, CUR's and LoRA's per module): none carries state \
                  across a task boundary"
                .into(),
        };
        let json = serde_json::to_string_pretty(&state).expect("state serializes");
        write_atomic(&dir.join(STATE), json.as_bytes())?;
        remove_unnamed(dir, &state);
        Ok(())
    }
}

/// `CURLORA_FAULT_AT_SAVE=N` aborts the process in the middle of save number N (its files
/// written, `checkpoint.json` not yet), as a kill at the worst moment would: the kill -9 tests
/// use it.
fn fault_point(save: usize) {
    if std::env::var("CURLORA_FAULT_AT_SAVE")
        .ok()
        .and_then(|v| v.parse().ok())
        == Some(save)
    {
        std::process::abort();
    }
}

/// Removes the files of earlier saves (and temporary files of interrupted ones) that `state`
/// does not name.
fn remove_unnamed(dir: &Path, state: &State) {
    let keep: Vec<&str> = state
        .runs
        .iter()
        .map(|r| r.adapter.as_str())
        .chain([state.events.as_str(), STATE])
        .collect();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !keep.contains(&name.as_ref()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

impl EventSink for Writer<'_> {
    fn emit(&self, event: Event) {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let run = event.run();
        let cancelled = self.cancel.load(std::sync::atomic::Ordering::Relaxed);
        let boundary = {
            let seen = p.runs.entry(run).or_default();
            // A fresh run's first event is its RunStart; a resumed one's, its next task's.
            seen.started.get_or_insert_with(web_time::Instant::now);
            match &event {
                Event::Checkpoint {
                    after_task,
                    adapter,
                    ..
                } => {
                    seen.adapter = Some((*after_task, adapter.clone()));
                    false
                }
                Event::Error { message, .. } => {
                    seen.diverged = Some(message.clone());
                    false
                }
                Event::TaskEnd { task, .. } => {
                    seen.after_task = Some(*task);
                    true
                }
                Event::RunEnd { .. } => {
                    seen.finished = seen.diverged.is_none() && !cancelled;
                    seen.finished
                }
                _ => false,
            }
        };
        if !matches!(event, Event::Checkpoint { .. }) {
            p.events.push(event.clone());
        }
        if boundary || matches!(event, Event::RunEnd { .. }) {
            let n = p.events.len();
            let seen = p.runs.get_mut(&run).expect("entry made above");
            if boundary {
                seen.cut = n;
            }
            if let Some(t) = seen.started {
                seen.seconds = seen.seconds_before + t.elapsed().as_secs_f64();
            }
            if let Err(e) = self.save(&mut p)
                && !p.warned
            {
                p.warned = true;
                eprintln!(
                    "warning: could not save the checkpoint: {e}; training goes on, and the \
                     last checkpoint written stays as it was"
                );
            }
        }
        drop(p);
        self.inner.emit(event);
    }
}

/// A checkpoint read back: its state, and the events it holds.
pub struct Resumed {
    pub state: State,
    pub spec: ExperimentSpec,
    pub events: Vec<Event>,
}

impl Resumed {
    /// Reads `out/checkpoint/`.
    pub fn read(out: &Path) -> Result<Self> {
        let dir = out.join(FOLDER);
        let path = dir.join(STATE);
        if !path.exists() {
            return Err(Error::format(
                &path,
                "no checkpoint here: `curlora run --out DIR` saves one at the first task \
                 boundary (is DIR the --out of the interrupted run?)",
            ));
        }
        let text = crate::core::fsutil::read_to_string(&path)?;
        let state: State = serde_json::from_str(&text)
            .map_err(|e| Error::format(&path, format!("not a checkpoint: {e}")))?;
        if state.format != FORMAT {
            return Err(Error::format(
                &path,
                format!(
                    "checkpoint format {} (this build reads {FORMAT})",
                    state.format
                ),
            ));
        }
        let spec: ExperimentSpec = toml::from_str(&state.spec)
            .map_err(|e| Error::format(&path, format!("field `spec`: {e}")))?;
        let events_path = dir.join(&state.events);
        let text = crate::core::fsutil::read_to_string(&events_path)?;
        let events =
            crate::train::events::parse_jsonl(&text).map_err(|e| Error::format(&events_path, e))?;
        Ok(Self {
            state,
            spec,
            events,
        })
    }

    /// Where each run picks up, by run number. A run that diverged is refused unless
    /// `lr_scale` is given: it then restarts its failed task at the learning rate × `lr_scale`.
    pub fn resume_points(
        &self,
        out: &Path,
        lr_scale: Option<f64>,
    ) -> Result<Vec<Option<ResumeFrom>>> {
        let dir = out.join(FOLDER);
        let mut points = Vec::new();
        for s in &self.state.runs {
            if let (Some(message), None) = (&s.diverged, lr_scale) {
                return Err(Error::config(format!(
                    "run {} diverged after task {} ({message}); its last good state (after \
                     task {}) is in {}. Resuming would diverge again: pass --lr-scale 0.5 \
                     (or smaller) to retry from there with a lower learning rate",
                    s.run,
                    s.after_task,
                    s.after_task,
                    dir.display()
                )));
            }
            let path = dir.join(&s.adapter);
            let adapter = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            if points.len() <= s.run {
                points.resize(s.run + 1, None);
            }
            points[s.run] = Some(ResumeFrom {
                after_task: s.after_task,
                events: self
                    .events
                    .iter()
                    .filter(|e| e.run() == s.run)
                    .cloned()
                    .collect(),
                adapter: Arc::new(adapter),
                finished: s.finished,
                seconds: s.seconds,
                lr_scale: if s.diverged.is_some() {
                    lr_scale.unwrap_or(1.0)
                } else {
                    1.0
                },
            });
        }
        Ok(points)
    }
}
