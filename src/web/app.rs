//! The browser app: the desktop app ([`CurloraApp`]) under a banner that says which tier runs and
//! why, with its settings mirrored into the URL hash, and a fall back to the recorded run when
//! live training turns out too slow. Platform-neutral, so the native tests drive it too.

use super::hash::LinkState;
use super::tier::{self, Tier, TierChoice};
use crate::app::frames::Clock;
use crate::app::{CurloraApp, Source};

/// What the page reports about itself (read by the browser test, shown nowhere else).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct PageStatus {
    pub tier: String,
    pub banner: String,
    pub device: String,
    /// Optimizer steps applied so far, over all runs.
    pub steps: usize,
    /// Accuracy points shown (mid-task curves plus filled accuracy-matrix cells).
    pub accuracy_points: usize,
    /// Events applied to the views.
    pub events: usize,
    pub frames: u64,
    /// Set when a live run stopped with an error.
    pub error: Option<String>,
    /// The guided tour's step (0-based) while it is open.
    pub tour_step: Option<usize>,
    /// The tour's title at that step.
    pub tour_title: Option<String>,
    /// The tour has been seen to its end (or skipped).
    pub tour_seen: bool,
}

pub struct WebApp {
    pub app: CurloraApp,
    pub link: LinkState,
    pub tier: TierChoice,
    /// The hash last written to the address bar.
    pub hash: String,
    frames: u64,
    planned_steps: usize,
}

impl WebApp {
    /// Starts on `tier`: live training at once on tiers 1 and 2, the recording on tier 3.
    pub fn new(link: LinkState, tier: TierChoice, clock: Clock) -> Self {
        let setup = link.setup_for(tier.tier == Tier::WebGpu);
        let planned_steps = tier::planned_steps(&setup, &tier::embedded_train_rows());
        let mut app = CurloraApp::new(setup, clock);
        app.tab = link.tab;
        app.show_setup = !app.setup.classroom;
        app.devices = match tier.tier {
            Tier::WebGpu => "training: WebGPU".into(),
            Tier::Cpu => "training: CPU (Flex in WebAssembly)".into(),
            Tier::Replay => "nothing trains (replay)".into(),
        };
        if link.tour {
            // The tour runs on the recording: nothing trains until the user presses Train.
            app.start_tour();
        } else if tier.tier != Tier::Replay {
            app.start_live();
        }
        let hash = link.to_hash(&app.setup);
        Self {
            app,
            link,
            tier,
            hash,
            frames: 0,
            planned_steps,
        }
    }

    /// One frame: the banner, then the app; afterwards the hash follows the settings and a
    /// too-slow live run gives way to the recording.
    pub fn frame(&mut self, ui: &mut egui::Ui) {
        self.frames += 1;
        egui::Panel::top("tier").show(ui, |ui| self.banner(ui));
        self.app.frame(ui);
        self.link.tab = self.app.tab;
        self.link.tour = self.app.tour.is_some();
        self.hash = self.link.to_hash(&self.app.setup);
        self.check_pace();
    }

    fn banner(&mut self, ui: &mut egui::Ui) {
        let color = match self.tier.tier {
            Tier::WebGpu => egui::Color32::from_rgb(30, 120, 60),
            Tier::Cpu => egui::Color32::from_rgb(150, 100, 0),
            Tier::Replay => egui::Color32::from_rgb(120, 60, 140),
        };
        ui.horizontal_wrapped(|ui| {
            ui.colored_label(color, egui::RichText::new(self.tier.banner()).strong());
        });
        for w in &self.link.warnings {
            ui.colored_label(egui::Color32::from_rgb(170, 40, 40), format!("link: {w}"));
        }
        if self.tier.tier == Tier::Replay && !matches!(self.app.source, Source::Live(_)) {
            ui.horizontal(|ui| {
                ui.label("You can still train live here; it will be slow.");
                if ui.button("Train live anyway").clicked() {
                    self.app.start_live();
                }
            });
        }
    }

    /// Tier 3 by measurement: after a few live steps, estimate the rest of the session.
    fn check_pace(&mut self) {
        if self.tier.tier == Tier::Replay {
            return;
        }
        let Source::Live(live) = &self.app.source else {
            return;
        };
        if live.done {
            return;
        }
        let runs = &self.app.session.runs;
        let steps: usize = runs.iter().map(|r| r.steps).sum();
        // Seconds per step of the whole session: the runs take turns on one thread.
        let rate: f64 = runs.iter().filter_map(|r| r.steps_per_second()).sum();
        if steps < 4 * runs.len().max(1) || rate <= 0.0 {
            return;
        }
        if let Some(reason) = tier::too_slow(1.0 / rate, steps, self.planned_steps) {
            self.tier = TierChoice {
                tier: Tier::Replay,
                reason,
            };
            let events = crate::app::state::parse_recording(crate::app::state::RECORDED_RUN)
                .unwrap_or_default();
            self.app.replay("the recorded default run".into(), events);
        }
    }

    pub fn status(&self) -> PageStatus {
        let runs = &self.app.session.runs;
        let (device, error) = match &self.app.source {
            Source::Live(l) => (
                l.device.clone(),
                runs.iter()
                    .find_map(|r| r.error.clone())
                    .or_else(|| l.status.starts_with("stopped").then(|| l.status.clone())),
            ),
            Source::Replay { .. } => ("none (replay)".into(), None),
        };
        PageStatus {
            tier: self.tier.tier.name().into(),
            banner: self.tier.banner(),
            device,
            steps: runs.iter().map(|r| r.steps).sum(),
            accuracy_points: runs
                .iter()
                .map(|r| r.curves.len() + r.accuracy.rows().iter().flatten().flatten().count())
                .sum(),
            events: self.app.session.events,
            frames: self.frames,
            error,
            tour_step: self.app.tour.map(|t| t.step),
            tour_title: self
                .app
                .tour
                .and_then(|t| crate::app::tour::steps().get(t.step))
                .map(|s| s.title.to_string()),
            tour_seen: self.app.setup.tour_seen,
        }
    }
}
