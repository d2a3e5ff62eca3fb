//! Where the app's events come from: a recording played back a few events per frame, or a live
//! run's messages, pumped into the [`Session`](super::state::Session) each frame; and the
//! transport commands (play, one batch, next task, reset) for either.

use super::live::{Live, Msg};
use super::state::Session;
use super::{CurloraApp, transport};
use crate::core::device::DeviceChoice;
use crate::train::{Control, Event};
use std::sync::Arc;

/// Where events come from.
pub enum Source {
    /// A recording, played back at `speed` events per frame.
    Replay {
        name: String,
        events: Vec<Event>,
        next: usize,
    },
    Live(Live),
}

impl CurloraApp {
    /// Starts (or restarts) live training with the current settings.
    pub fn start_live(&mut self) {
        self.stop_live();
        let control = Arc::new(Control::default());
        control.set_delay(std::time::Duration::from_millis(self.knobs.delay_ms));
        self.knobs.lr_scale = 1.0;
        self.knobs.alpha = self.setup.alpha;
        self.session = Session::default();
        let out = super::live::new_session_dir(&self.sessions_root);
        self.source = Source::Live(Live::start(&self.setup, control, out));
        self.playing = true;
        self.interrupted = None;
        self.save_settings();
    }

    /// Continues the session in `dir` from its last checkpoint on `device`: the interrupted
    /// one found at start, or the one the GPU could not finish (on the CPU).
    pub fn resume_live(&mut self, dir: std::path::PathBuf, device: DeviceChoice) {
        self.stop_live();
        let control = Arc::new(Control::default());
        control.set_delay(std::time::Duration::from_millis(self.knobs.delay_ms));
        self.knobs.lr_scale = 1.0;
        self.session = Session::default();
        self.source = Source::Live(Live::resume(dir, device, control));
        self.playing = true;
        self.interrupted = None;
    }

    /// After the GPU could not do the work: the same session on the CPU, from its last
    /// checkpoint when it reached one, else from the start; the CPU becomes the saved choice.
    pub fn continue_on_cpu(&mut self) {
        let Source::Live(live) = &self.source else {
            return;
        };
        let dir = live.out.clone();
        self.setup.device = DeviceChoice::Cpu;
        if super::interrupted::has_checkpoint(&dir) {
            self.resume_live(dir, DeviceChoice::Cpu);
            self.save_settings();
        } else {
            self.start_live();
        }
    }

    /// Stops the live session after its current batch (what closing the window does).
    pub fn stop_live(&mut self) {
        if let Source::Live(l) = &self.source {
            l.stop();
        }
    }

    /// Plays a recording (a list of engine events).
    pub fn replay(&mut self, name: String, events: Vec<Event>) {
        self.stop_live();
        self.session = Session::default();
        self.source = Source::Replay {
            name,
            events,
            next: 0,
        };
        self.playing = true;
    }

    /// Applies pending events: `speed` per frame for a replay, all that arrived for a live run.
    pub fn pump(&mut self) {
        let now = self.clock.now();
        match &mut self.source {
            Source::Replay { events, next, .. } => {
                if self.playing {
                    for _ in 0..self.knobs.replay_speed {
                        if let Some(e) = events.get(*next) {
                            self.session.apply(e);
                            *next += 1;
                        }
                    }
                }
            }
            Source::Live(live) => {
                while let Ok(m) = live.rx.try_recv() {
                    match m {
                        Msg::Device(d) => {
                            live.device = d;
                            live.status = "training".into();
                        }
                        Msg::Event(e) => {
                            if let Event::Error { message, .. } = e.as_ref() {
                                live.status = message.clone();
                            }
                            self.session.apply_at(&e, Some(now));
                        }
                        Msg::Saved(run, bytes) => {
                            if let Some(r) = self.session.runs.get_mut(run) {
                                r.adapter_file_bytes = Some(bytes);
                            }
                        }
                        Msg::Report(r) => live.report = Some(r),
                        Msg::Done(dir) => {
                            live.done = true;
                            live.status = format!("done: report and adapters in {}", dir.display());
                        }
                        Msg::Failed { message, device } => {
                            live.done = true;
                            live.device_fault = device;
                            live.status = format!("stopped: {message}");
                            if let Ok(mut s) = self.status.lock() {
                                *s = Some(if device {
                                    format!(
                                        "the GPU stopped the session: {message}. Here: lower \
                                         Setup → batch size, or go on on the CPU"
                                    )
                                } else {
                                    format!("the session stopped: {message}")
                                });
                            }
                        }
                    }
                }
            }
        }
    }

    /// Replay: applies events until `stop` says so (one batch, or the next task).
    fn replay_until(&mut self, stop: impl Fn(&Event) -> bool) {
        if let Source::Replay { events, next, .. } = &mut self.source {
            while let Some(e) = events.get(*next) {
                self.session.apply(e);
                *next += 1;
                if stop(e) {
                    break;
                }
            }
        }
    }

    pub(super) fn command(&mut self, cmd: transport::Command) {
        use transport::Command::*;
        match (&self.source, cmd) {
            (Source::Live(l), TogglePlay) => {
                if self.playing {
                    l.control.pause();
                } else {
                    l.control.resume();
                }
                self.playing = !self.playing;
            }
            (Source::Live(l), Step) => l.control.step_once(),
            (Source::Live(l), SkipTask) => l.control.skip_task(),
            (Source::Live(_), Reset) => self.start_live(),
            (Source::Replay { .. }, TogglePlay) => self.playing = !self.playing,
            (Source::Replay { .. }, Step) => {
                self.replay_until(|e| matches!(e, Event::Step { .. }));
            }
            (Source::Replay { .. }, SkipTask) => {
                self.replay_until(|e| matches!(e, Event::TaskEnd { .. }));
            }
            (Source::Replay { name, events, .. }, Reset) => {
                let (name, events) = (name.clone(), events.clone());
                self.replay(name, events);
            }
        }
    }

    pub(super) fn apply_changes(&mut self, c: transport::Changes) {
        if let Source::Live(l) = &self.source {
            if let Some(d) = c.delay {
                l.control.set_delay(d);
            }
            if let Some(s) = c.lr_scale {
                l.control.set_lr_scale(s);
            }
            if let Some(a) = c.alpha {
                l.control.set_alpha(a);
            }
        }
    }
}
