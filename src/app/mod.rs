//! The desktop app: watch LoRA and CURLoRA learn and forget. One panel per file; the state is
//! rebuilt from engine events ([`state::Session`]), whether they come from a live run on a
//! background thread ([`live::Live`]) or from a recording (the run shipped with the binary, or
//! any `events.jsonl` / `--record` file).
//!
//! With a hardware GPU, training and drawing share one wgpu device ([`run`]); otherwise the app
//! draws with egui's own wgpu device and trains on the CPU, and says so.

pub mod accuracy;
pub mod adapters;
pub mod colors;
pub mod export;
pub mod files;
pub mod frames;
pub mod live;
pub mod metrics_card;
pub mod perplexity;
pub mod selection;
pub mod setup;
pub mod state;
pub mod transport;

use crate::train::{Control, Event};
pub use frames::{Clock, FrameStats};
use live::{Live, Msg};
use setup::Setup;
use state::Session;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use web_time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Accuracy,
    Perplexity,
    Adapters,
    Selection,
    Metrics,
}

impl Tab {
    /// `accuracy`, `perplexity`, `adapters`, `selection` or `metrics`.
    pub fn from_name(name: &str) -> Option<Tab> {
        Some(match name {
            "accuracy" => Tab::Accuracy,
            "perplexity" => Tab::Perplexity,
            "adapters" => Tab::Adapters,
            "selection" => Tab::Selection,
            "metrics" => Tab::Metrics,
            _ => return None,
        })
    }

    pub const ALL: [(Tab, &'static str); 5] = [
        (Tab::Accuracy, "Accuracy across tasks"),
        (Tab::Perplexity, "Perplexity and loss"),
        (Tab::Adapters, "U heatmaps"),
        (Tab::Selection, "CUR selection"),
        (Tab::Metrics, "Metrics"),
    ];
}

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

pub struct CurloraApp {
    pub session: Session,
    pub source: Source,
    pub playing: bool,
    pub knobs: transport::Knobs,
    pub tab: Tab,
    pub setup: Setup,
    pub show_setup: bool,
    /// What draws and what trains, in words.
    pub devices: String,
    pub adapters_view: adapters::ViewState,
    pub clock: Clock,
    pub frames: FrameStats,
    /// Last message for the status bar (export results, errors).
    pub status: Arc<Mutex<Option<String>>>,
    /// Where settings are saved (`None`: not saved, e.g. in tests).
    pub settings_path: Option<PathBuf>,
    /// Print frame times to stderr every 5 s (`curlora app --frame-stats`).
    pub log_frames: bool,
    last_log: f64,
}

impl CurloraApp {
    /// The app on the bundled recording, with `setup` as the training settings.
    pub fn new(setup: Setup, clock: Clock) -> Self {
        let events = state::parse_recording(state::RECORDED_RUN).unwrap_or_default();
        let alpha = setup.alpha;
        Self {
            session: Session::default(),
            source: Source::Replay {
                name: "the recorded default run".into(),
                events,
                next: 0,
            },
            playing: true,
            knobs: transport::Knobs {
                alpha,
                ..Default::default()
            },
            tab: Tab::Accuracy,
            setup,
            show_setup: true,
            devices: "drawing: wgpu; training: not started".into(),
            adapters_view: adapters::ViewState::default(),
            clock,
            frames: FrameStats::default(),
            status: Arc::new(Mutex::new(None)),
            settings_path: None,
            log_frames: false,
            last_log: 0.0,
        }
    }

    /// Starts (or restarts) live training with the current settings.
    pub fn start_live(&mut self) {
        self.stop_live();
        let control = Arc::new(Control::default());
        control.set_delay(std::time::Duration::from_millis(self.knobs.delay_ms));
        self.knobs.lr_scale = 1.0;
        self.knobs.alpha = self.setup.alpha;
        self.session = Session::default();
        self.source = Source::Live(Live::start(&self.setup, control));
        self.playing = true;
        self.save_settings();
    }

    fn stop_live(&mut self) {
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
                        Msg::Done(dir) => {
                            live.done = true;
                            live.status = format!("done: report and adapters in {}", dir.display());
                        }
                        Msg::Failed(e) => {
                            live.done = true;
                            live.status = format!("stopped: {e}");
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

    fn command(&mut self, cmd: transport::Command) {
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

    fn apply_changes(&mut self, c: transport::Changes) {
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

    fn save_settings(&self) {
        if let Some(p) = &self.settings_path
            && let Ok(json) = serde_json::to_vec_pretty(&self.setup)
        {
            let _ = crate::core::fsutil::write_atomic(p, &json);
        }
    }

    fn set_status(&self, msg: String) {
        if let Ok(mut s) = self.status.lock() {
            *s = Some(msg);
        }
    }

    fn header(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.heading("curlora");
            ui.label("watch LoRA forget and CURLoRA keep, task after task");
            ui.separator();
            let line = match &self.source {
                Source::Replay { name, events, next } => {
                    format!("replaying {name}: {next}/{} events", events.len())
                }
                Source::Live(l) => format!("live on {}: {}", l.device, l.status),
            };
            ui.label(line);
        });
        let live = matches!(self.source, Source::Live(_));
        let (cmd, changes) = transport::show(
            ui,
            self.playing,
            live,
            &mut self.knobs,
            self.setup.classroom,
        );
        if let Some(c) = cmd {
            self.command(c);
        }
        self.apply_changes(changes);
        ui.horizontal(|ui| {
            for (tab, name) in Tab::ALL {
                ui.selectable_value(&mut self.tab, tab, name);
            }
            ui.separator();
            ui.toggle_value(&mut self.show_setup, "Setup");
            if files::AVAILABLE {
                ui.menu_button("Export", |ui| self.export_menu(ui));
            }
            if files::AVAILABLE
                && ui.button("Open recording…").clicked()
                && let Some(p) = files::pick_file("events", &["jsonl"])
            {
                match std::fs::read_to_string(&p)
                    .map_err(|e| e.to_string())
                    .and_then(|t| state::parse_recording(&t))
                {
                    Ok(ev) => self.replay(p.display().to_string(), ev),
                    Err(e) => self.set_status(format!("{}: {e}", p.display())),
                }
            }
            if ui.button("recorded run").clicked() {
                let ev = state::parse_recording(state::RECORDED_RUN).unwrap_or_default();
                self.replay("the recorded default run".into(), ev);
            }
        });
    }

    fn export_menu(&mut self, ui: &mut egui::Ui) {
        if ui.button("screenshot of this view (PNG)…").clicked() {
            ui.close();
            let name = format!("curlora-{:?}.png", self.tab).to_lowercase();
            if let Some(p) = files::save_file(&name) {
                export::request_screenshot(ui.ctx(), p, self.status.clone());
            }
        }
        let session_dir = match &self.source {
            Source::Live(l) if l.done => Some(l.out.clone()),
            _ => None,
        };
        let enabled = session_dir.is_some();
        for (label, adapters_only) in [
            (
                "report (JSON, CSV, Markdown, PNG plots) and adapters…",
                false,
            ),
            ("adapters only…", true),
        ] {
            if ui
                .add_enabled(enabled, egui::Button::new(label))
                .on_disabled_hover_text("available when a live run has finished")
                .clicked()
            {
                ui.close();
                if let (Some(from), Some(to)) = (&session_dir, files::pick_folder()) {
                    let msg = match export::copy_session(from, &to, adapters_only) {
                        Ok(n) => format!("exported {n} files to {}", to.display()),
                        Err(e) => format!("export failed: {e}"),
                    };
                    self.set_status(msg);
                }
            }
        }
    }

    /// Builds one frame: what `eframe::App::ui` calls, and what the tests drive.
    pub fn frame(&mut self, ui: &mut egui::Ui) {
        let start = self.clock.now();
        let wall = Instant::now();
        self.pump();
        if ui.input(|i| i.key_pressed(egui::Key::Space)) && !ui.ctx().egui_wants_keyboard_input() {
            self.command(transport::Command::TogglePlay);
        }
        egui::Panel::top("toolbar").show(ui, |ui| self.header(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        if self.show_setup {
            egui::Panel::left("setup")
                .resizable(true)
                .default_size(330.0)
                .show(ui, |ui| {
                    egui::ScrollArea::vertical().show(ui, |ui| {
                        let busy = matches!(&self.source, Source::Live(l) if !l.done);
                        if let setup::Action::Train = setup::show(ui, &mut self.setup, busy) {
                            self.start_live();
                        }
                    });
                });
        }
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| match self.tab {
                Tab::Accuracy => accuracy::show(ui, &self.session),
                Tab::Perplexity => perplexity::show(ui, &self.session),
                Tab::Adapters => adapters::show(ui, &self.session, &mut self.adapters_view),
                Tab::Selection => selection::show(ui, &self.session),
                Tab::Metrics => metrics_card::show(ui, &self.session),
            });
        });
        if matches!(self.clock, Clock::Real(_)) {
            self.frames.record(start, wall.elapsed().as_secs_f64());
            // Repaint only as often as there is something new to show: every frame while a
            // replay plays, ~30 times a second while training (so drawing leaves the CPU to
            // the training threads), otherwise on input only.
            match &self.source {
                Source::Replay { .. } if self.playing => ui.ctx().request_repaint(),
                Source::Live(l) if !l.done => ui
                    .ctx()
                    .request_repaint_after(std::time::Duration::from_millis(33)),
                _ => {}
            }
            if self.log_frames && start - self.last_log >= 5.0 {
                self.last_log = start;
                self.log_frame_stats(start);
            }
        }
    }

    fn log_frame_stats(&self, t: f64) {
        let steps: Vec<String> = self
            .session
            .runs
            .iter()
            .map(|r| format!("{} {} steps", r.label(), r.steps))
            .collect();
        if let Some((mean, worst, interval)) = self.frames.summary() {
            eprintln!(
                "[{t:7.1} s] frame build {mean:.2} ms (worst {worst:.2}), interval {interval:.2} ms \
                 ({:.0} fps); {}",
                1e3 / interval.max(1e-9),
                steps.join(", ")
            );
        }
    }

    fn status_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.small(&self.devices);
            if let Source::Live(l) = &self.source {
                ui.small(format!("· training on {}", l.device));
            }
            if let Some((mean, worst, interval)) = self.frames.summary() {
                ui.small(format!(
                    "· frame: {mean:.1} ms to build (worst {worst:.1}), one every {interval:.1} ms"
                ));
            }
            if let Ok(s) = self.status.lock()
                && let Some(msg) = s.as_ref()
            {
                ui.small(format!("· {msg}"));
            }
        });
    }
}

impl eframe::App for CurloraApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.frame(ui);
    }

    // eframe's signature depends on its `glow` feature, which only the browser build enables.
    #[cfg(not(target_arch = "wasm32"))]
    fn on_exit(&mut self) {
        self.save_settings();
        self.stop_live();
    }

    #[cfg(target_arch = "wasm32")]
    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.stop_live();
    }
}

/// Adds egui's monospace font (Hack) as a fallback for the proportional one, which lacks a few
/// symbols the views use (‖, →, ∝).
pub fn install_fonts(ctx: &egui::Context) {
    let mut fonts = egui::FontDefinitions::default();
    if let Some(mono) = fonts
        .families
        .get(&egui::FontFamily::Monospace)
        .and_then(|f| f.first().cloned())
        && let Some(prop) = fonts.families.get_mut(&egui::FontFamily::Proportional)
    {
        prop.push(mono);
    }
    ctx.set_fonts(fonts);
}

/// `~/.config/curlora/app.json` (or `$XDG_CONFIG_HOME`): the setup, saved between launches.
pub fn settings_path() -> PathBuf {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(std::env::temp_dir)
        .join("curlora/app.json")
}

/// How the window opens.
#[derive(Clone, Copy, Debug)]
pub struct Launch {
    /// Start training with the saved setup at once.
    pub train: bool,
    /// Print frame times to stderr every 5 s.
    pub frame_stats: bool,
    /// The view to open on.
    pub tab: Tab,
}

impl Default for Launch {
    fn default() -> Self {
        Self {
            train: false,
            frame_stats: false,
            tab: Tab::Accuracy,
        }
    }
}

/// Opens the app window on the recording.
#[cfg(not(target_arch = "wasm32"))]
pub fn run() -> Result<(), String> {
    run_with(Launch::default())
}

/// Opens the app window. With a hardware GPU (or `device = gpu` in the saved setup) burn
/// creates the wgpu device first and eframe draws on the same one.
#[cfg(not(target_arch = "wasm32"))]
pub fn run_with(launch: Launch) -> Result<(), String> {
    let path = settings_path();
    let setup: Setup = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let share = match setup.device {
        crate::core::device::DeviceChoice::Cpu => false,
        crate::core::device::DeviceChoice::Gpu => true,
        crate::core::device::DeviceChoice::Auto => crate::core::device::has_hardware_gpu(),
    };
    let mut options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default().with_inner_size([1360.0, 860.0]),
        ..Default::default()
    };
    let mut devices = "drawing: egui's wgpu device; training: CPU (Flex)".to_string();
    if share {
        match crate::core::device::gpu_shared() {
            Ok((d, s)) => {
                options.wgpu_options.wgpu_setup =
                    eframe::egui_wgpu::WgpuSetup::Existing(eframe::egui_wgpu::WgpuSetupExisting {
                        instance: s.instance,
                        adapter: s.adapter,
                        device: s.device,
                        queue: s.queue,
                    });
                devices = format!("drawing and training on one device: {}", d.description);
            }
            Err(e) => devices = format!("no shared GPU ({e}); training on the CPU"),
        }
    }
    eframe::run_native(
        "curlora",
        options,
        Box::new(move |cc| {
            install_fonts(&cc.egui_ctx);
            let mut app = CurloraApp::new(setup, Clock::Real(Instant::now()));
            app.devices = devices;
            app.settings_path = Some(path);
            app.log_frames = launch.frame_stats;
            app.tab = launch.tab;
            if launch.train {
                app.start_live();
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| e.to_string())
}
