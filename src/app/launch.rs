//! Opening the window: fonts, the saved settings, and the wgpu device shared by training and
//! drawing when there is a hardware GPU.

use super::CurloraApp;
use super::views::Tab;
#[cfg(not(target_arch = "wasm32"))]
use super::{frames::Clock, setup::Setup};
use std::path::PathBuf;
#[cfg(not(target_arch = "wasm32"))]
use web_time::Instant;

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
/// (The default: the first view, replaying, no frame log.)
#[derive(Clone, Copy, Debug, Default)]
pub struct Launch {
    /// Start training with the saved setup at once.
    pub train: bool,
    /// Print frame times to stderr every 5 s.
    pub frame_stats: bool,
    /// The view to open on.
    pub tab: Tab,
    /// Open the guided tour (it also opens by itself on the first start).
    pub tour: bool,
}

impl Launch {
    /// What the window opens on: training (`--train`), else the tour when asked (`--tour`) or
    /// on the default view until the tour has been finished or skipped once (`Setup.tour_seen`,
    /// set by `end_tour`), else the view alone.
    pub fn open(&self, app: &mut CurloraApp) {
        if self.train {
            app.start_live();
        } else if self.tour || (!app.setup.tour_seen && self.tab == Tab::default()) {
            app.start_tour();
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
    // The training device when the renderer draws on it too: the heatmaps colour there.
    let mut shared = None;
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
                shared = Some(d.device);
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
            app.interrupted = super::interrupted::find(&app.sessions_root);
            app.gpu = shared
                .zip(cc.wgpu_render_state.clone())
                .map(|(d, render)| super::heatmap::GpuColors::new(d, render));
            launch.open(&mut app);
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| e.to_string())
}
