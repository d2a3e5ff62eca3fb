//! The frame around the views: the top bar (title, source line, transport, tabs, export and
//! recording buttons), the setup panel, the view itself with its "What am I looking at?" line,
//! and the status bar (devices, frame times, messages).

use super::source::Source;
use super::tour::Anchor;
use super::views::{Tab, ViewContext};
use super::{CurloraApp, export, files, setup, state, transport};
use web_time::Instant;

impl CurloraApp {
    /// Builds one frame: what `eframe::App::ui` calls, and what the tests drive.
    pub fn frame(&mut self, ui: &mut egui::Ui) {
        let start = self.clock.now();
        let wall = Instant::now();
        super::plot::clear_layouts(ui.ctx());
        self.anchors.clear();
        self.apply_look(ui.ctx());
        self.pump();
        egui::Panel::top("toolbar").show(ui, |ui| self.header(ui));
        if self.interrupted.is_some() {
            egui::Panel::top("interrupted").show(ui, |ui| self.interrupted_banner(ui));
        }
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        if self.show_setup {
            let panel = egui::Panel::left("setup")
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
            self.anchors.insert(Anchor::Setup, panel.response.rect);
        }
        let view = egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| self.view(ui));
        });
        self.anchors.insert(Anchor::View, view.response.rect);
        self.keyboard(ui.ctx());
        self.tour_overlay(ui.ctx());
        if matches!(self.clock, super::Clock::Real(_)) {
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

    /// The base model of what is shown: the live run's, else the embedded one (the recording's).
    fn model_dir(&self) -> Option<std::path::PathBuf> {
        match (&self.source, &self.setup.model) {
            (Source::Live(_), Some(m)) => Some(m.clone()),
            _ => {
                // Materializing compares every embedded file: once per process.
                static EMBEDDED: std::sync::OnceLock<Option<std::path::PathBuf>> =
                    std::sync::OnceLock::new();
                EMBEDDED
                    .get_or_init(|| crate::core::embedded::materialize().ok())
                    .as_ref()
                    .map(|d| d.join("model"))
            }
        }
    }

    /// The current view: its "What am I looking at?" line, then the view.
    fn view(&mut self, ui: &mut egui::Ui) {
        let ctx = ViewContext {
            session: &self.session,
            gpu: self.gpu.as_ref(),
            model_dir: self.model_dir(),
            high_contrast: self.setup.high_contrast,
        };
        if let Some(view) = self.views.get_mut(self.tab.index()) {
            ui.label(view.about());
            view.show(ui, &ctx);
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
                && !self.offers_cpu()
            {
                ui.small(format!("· {msg}"));
            }
        });
        // The GPU's error is long (it says what to change): a row of its own, wrapped, with
        // the way out next to it.
        if !self.offers_cpu() {
            return;
        }
        let msg = self
            .status
            .lock()
            .ok()
            .and_then(|s| s.clone())
            .unwrap_or_default();
        ui.horizontal_wrapped(|ui| {
            ui.colored_label(ui.visuals().error_fg_color, msg);
            if ui
                .button("Continue on the CPU")
                .on_hover_text(
                    "the same session on the CPU, from its last task boundary when it \
                         reached one; the CPU becomes the saved device",
                )
                .clicked()
            {
                self.continue_on_cpu();
            }
        });
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
        let (cmd, changes, play) = transport::show(
            ui,
            self.playing,
            live,
            &mut self.knobs,
            self.setup.classroom,
        );
        self.anchors.insert(Anchor::Play, play);
        if let Some(c) = cmd {
            self.command(c);
        }
        self.apply_changes(changes);
        ui.horizontal(|ui| {
            for (tab, view) in Tab::all().zip(&self.views) {
                ui.selectable_value(&mut self.tab, tab, view.title());
            }
            ui.separator();
            ui.toggle_value(&mut self.show_setup, "Setup");
            if files::AVAILABLE {
                ui.menu_button("Export", |ui| self.export_menu(ui));
            } else {
                ui.menu_button("Download", |ui| self.download_menu(ui));
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
            if ui
                .button("Tour")
                .on_hover_text("a guided tour of the app, on the recording (?: shortcuts)")
                .clicked()
            {
                self.start_tour();
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
            let name = format!("curlora-{}.png", self.tab.name());
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
}
