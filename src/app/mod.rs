//! The desktop app: watch LoRA and CURLoRA learn and forget. One panel per file; the state is
//! rebuilt from engine events ([`state::Session`]), whether they come from a live run on a
//! background thread or from the recorded run shipped with the binary.

pub mod accuracy;
pub mod adapters;
pub mod colors;
pub mod metrics_card;
pub mod perplexity;
pub mod selection;
pub mod state;

use crate::train::Event;
use state::Session;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tab {
    Accuracy,
    Perplexity,
    Adapters,
    Selection,
    Metrics,
}

/// Where events come from.
enum Source {
    /// The recording, played back at `speed` events per frame.
    Replay { events: Vec<Event>, next: usize },
    /// A live run of the embedded default on a background thread.
    Live {
        rx: Receiver<Event>,
        cancel: Arc<AtomicBool>,
        status: String,
    },
}

pub struct CurloraApp {
    session: Session,
    source: Source,
    playing: bool,
    speed: usize,
    tab: Tab,
    device: String,
}

impl CurloraApp {
    pub fn new() -> Self {
        let events = state::parse_recording(state::RECORDED_RUN).unwrap_or_default();
        Self {
            session: Session::default(),
            source: Source::Replay { events, next: 0 },
            playing: true,
            speed: 4,
            tab: Tab::Accuracy,
            device: "CPU (Flex)".into(),
        }
    }

    fn start_live(&mut self) {
        if let Source::Live { cancel, .. } = &self.source {
            cancel.store(true, Ordering::Relaxed);
        }
        let (tx, rx) = channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let stop = cancel.clone();
        let device = crate::device::cpu();
        self.device = device.description.clone();
        std::thread::spawn(move || {
            let result = (|| -> crate::Result<()> {
                let dir = crate::assets::materialize()?;
                let mut spec = crate::assets::default_experiment(&dir);
                spec.train.snapshot_every = 5;
                spec.train.eval_every = 10;
                let exp =
                    crate::experiment::Experiment::load(spec, &device.device.clone().autodiff())?;
                exp.run(&device.description, &tx, stop, |_, _| Ok(None))?;
                Ok(())
            })();
            if let Err(e) = result {
                let _ = tx.send(Event::Error {
                    run: 0,
                    message: e.to_string(),
                });
            }
        });
        self.session = Session::default();
        self.source = Source::Live {
            rx,
            cancel,
            status: "training…".into(),
        };
        self.playing = true;
    }

    fn pump(&mut self) {
        match &mut self.source {
            Source::Replay { events, next } => {
                if self.playing {
                    for _ in 0..self.speed {
                        if let Some(e) = events.get(*next) {
                            self.session.apply(e);
                            *next += 1;
                        }
                    }
                }
            }
            Source::Live { rx, status, .. } => {
                while let Ok(e) = rx.try_recv() {
                    if let Event::Error { message, .. } = &e {
                        *status = message.clone();
                    }
                    self.session.apply(&e);
                }
            }
        }
    }

    fn toolbar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.heading("curlora");
            ui.label("LoRA vs CURLoRA on three tasks in sequence");
            ui.separator();
            match &self.source {
                Source::Replay { events, next } => {
                    ui.label(format!(
                        "replaying the recorded run: {next}/{} events",
                        events.len()
                    ));
                }
                Source::Live { status, .. } => {
                    ui.label(format!("live on {}: {status}", self.device));
                }
            }
        });
        ui.horizontal(|ui| {
            let label = if self.playing { "pause" } else { "play" };
            if ui.button(label).clicked() {
                self.playing = !self.playing;
            }
            if ui.button("replay from start").clicked() {
                self.session = Session::default();
                let events = state::parse_recording(state::RECORDED_RUN).unwrap_or_default();
                self.source = Source::Replay { events, next: 0 };
                self.playing = true;
            }
            if ui.button("train live (embedded model, CPU)").clicked() {
                self.start_live();
            }
            ui.add(egui::Slider::new(&mut self.speed, 1..=64).text("replay speed (events/frame)"));
        });
        ui.horizontal(|ui| {
            for (tab, name) in [
                (Tab::Accuracy, "Accuracy across tasks"),
                (Tab::Perplexity, "Perplexity and loss"),
                (Tab::Adapters, "U heatmaps"),
                (Tab::Selection, "CUR selection"),
                (Tab::Metrics, "Metrics"),
            ] {
                ui.selectable_value(&mut self.tab, tab, name);
            }
        });
    }
}

impl Default for CurloraApp {
    fn default() -> Self {
        Self::new()
    }
}

impl eframe::App for CurloraApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.pump();
        egui::Panel::top("toolbar").show(ui, |ui| self.toolbar(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| match self.tab {
                Tab::Accuracy => accuracy::show(ui, &self.session),
                Tab::Perplexity => perplexity::show(ui, &self.session),
                Tab::Adapters => adapters::show(ui, &self.session),
                Tab::Selection => selection::show(ui, &self.session),
                Tab::Metrics => metrics_card::show(ui, &self.session),
            });
        });
        ui.ctx().request_repaint();
    }
}

/// Opens the app window.
pub fn run() -> Result<(), String> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default().with_inner_size([1280.0, 800.0]),
        ..Default::default()
    };
    eframe::run_native(
        "curlora",
        options,
        Box::new(|_cc| Ok(Box::new(CurloraApp::new()))),
    )
    .map_err(|e| e.to_string())
}
