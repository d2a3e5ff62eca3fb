//! The desktop app: watch LoRA and CURLoRA learn and forget. The state is rebuilt from engine
//! events ([`state::Session`]), whether they come from a live run on a background thread
//! ([`live::Live`]) or from a recording (the run shipped with the binary, or any
//! `events.jsonl` / `--record` file): see [`source`].
//!
//! The map: [`views`] lists the views behind the tabs (one file each: [`accuracy`],
//! [`perplexity`], [`adapters`], [`selection`], [`metrics_card`]); [`shell`] draws the frame
//! around them (top bar, tabs, status bar); [`setup`] and [`transport`] are the side and top
//! panels; [`launch`] opens the window; [`interrupted`] offers to resume a session the app was
//! closed on.
//!
//! With a hardware GPU, training and drawing share one wgpu device ([`run`]); otherwise the app
//! draws with egui's own wgpu device and trains on the CPU, and says so.

pub mod accuracy;
pub mod adapters;
pub mod colors;
pub mod download;
pub mod export;
pub mod files;
pub mod frames;
pub mod heatmap;
pub mod interrupted;
pub mod keys;
pub mod launch;
pub mod live;
pub mod metrics_card;
pub mod perplexity;
pub mod plot;
pub mod selection;
pub mod setup;
pub mod setup_advanced;
pub mod shell;
pub mod source;
pub mod state;
pub mod tour;
pub mod transport;
pub mod try_it;
pub mod views;

pub use frames::{Clock, FrameStats};
pub use launch::{Launch, install_fonts, settings_path};
#[cfg(not(target_arch = "wasm32"))]
pub use launch::{run, run_with};
use setup::Setup;
pub use source::Source;
use state::Session;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
pub use views::{Tab, View, ViewContext};

pub struct CurloraApp {
    pub session: Session,
    pub source: Source,
    pub playing: bool,
    pub knobs: transport::Knobs,
    /// The view shown: an index into `views`.
    pub tab: Tab,
    /// Every view, in tab order ([`views::all`]), each with its own state.
    pub views: Vec<Box<dyn View>>,
    pub setup: Setup,
    pub show_setup: bool,
    /// What draws and what trains, in words.
    pub devices: String,
    /// Heatmap colouring on the GPU, when training shares the renderer's wgpu device.
    pub gpu: Option<heatmap::GpuColors>,
    pub clock: Clock,
    pub frames: FrameStats,
    /// Last message for the status bar (export results, errors).
    pub status: Arc<Mutex<Option<String>>>,
    /// Where settings are saved (`None`: not saved, e.g. in tests).
    pub settings_path: Option<PathBuf>,
    /// Print frame times to stderr every 5 s (`curlora app --frame-stats`).
    pub log_frames: bool,
    /// Where live sessions write (a folder each): `sessions/` in the cache.
    pub sessions_root: PathBuf,
    /// An unfinished session found at start, offered for resuming ([`interrupted::find`]).
    pub interrupted: Option<interrupted::Interrupted>,
    /// While high contrast is on: the look it replaced.
    look: Option<egui::Visuals>,
    /// The guided tour, while it is open ([`tour`]).
    pub tour: Option<tour::Tour>,
    /// Where the tour's targets were drawn this frame.
    pub anchors: std::collections::HashMap<tour::Anchor, egui::Rect>,
    /// The `?` window (keyboard shortcuts) is open.
    pub show_keys: bool,
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
            tab: Tab::default(),
            views: views::all(),
            setup,
            show_setup: true,
            devices: "drawing: wgpu; training: not started".into(),
            gpu: None,
            clock,
            frames: FrameStats::default(),
            status: Arc::new(Mutex::new(None)),
            settings_path: None,
            log_frames: false,
            sessions_root: crate::core::embedded::cache_root().join("sessions"),
            interrupted: None,
            look: None,
            tour: None,
            anchors: Default::default(),
            show_keys: false,
            last_log: 0.0,
        }
    }

    pub(crate) fn save_settings(&self) {
        if let Some(p) = &self.settings_path
            && let Ok(json) = serde_json::to_vec_pretty(&self.setup)
        {
            let _ = crate::core::fsutil::write_atomic(p, &json);
        }
    }

    /// The high-contrast look while the setup asks for it; the look from before otherwise
    /// (egui's, which follows the system's theme). Touches the style only when it changes.
    fn apply_look(&mut self, ctx: &egui::Context) {
        let want = self.setup.high_contrast;
        match (&self.look, want) {
            (None, true) => {
                self.look = Some(ctx.global_style().visuals.clone());
                ctx.set_visuals(colors::high_contrast_visuals());
            }
            (Some(normal), false) => {
                ctx.set_visuals(normal.clone());
                self.look = None;
            }
            _ => {}
        }
    }

    fn set_status(&self, msg: String) {
        if let Ok(mut s) = self.status.lock() {
            *s = Some(msg);
        }
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
