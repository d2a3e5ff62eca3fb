//! A live session the app was closed on (or that crashed) keeps its checkpoint in its session
//! folder, like `curlora run` (see [`crate::experiment::checkpoint`]); at the next start the app
//! finds the newest one and offers to pick it up where it stopped, or to let it go.
//!
//! Natively only: the browser keeps no files (there, nothing is ever found).

use super::CurloraApp;
use crate::core::device::DeviceChoice;
#[cfg(not(target_arch = "wasm32"))]
use crate::experiment::checkpoint::{FOLDER, Resumed};
use std::path::{Path, PathBuf};

/// A session that did not finish, with where each of its runs stands, in words.
#[derive(Clone, Debug)]
pub struct Interrupted {
    /// The session folder (holds `checkpoint/`).
    pub dir: PathBuf,
    /// "LoRA after task 1 of 3 (mrpc), CURLoRA before its first task, …".
    pub summary: String,
    /// When its last checkpoint was written, as "12 min ago".
    pub saved: String,
}

/// The newest session under `root` (the app's `sessions/` folder) whose checkpoint has a run
/// left to train, if any.
#[cfg(not(target_arch = "wasm32"))]
pub fn find(root: &Path) -> Option<Interrupted> {
    let mut newest: Option<(std::time::SystemTime, Interrupted)> = None;
    for entry in std::fs::read_dir(root).ok()?.flatten() {
        let dir = entry.path();
        let Ok(modified) =
            std::fs::metadata(dir.join(FOLDER).join("checkpoint.json")).and_then(|m| m.modified())
        else {
            continue;
        };
        if newest.as_ref().is_some_and(|(t, _)| *t >= modified) {
            continue;
        }
        if let Some(found) = unfinished(&dir, modified) {
            newest = Some((modified, found));
        }
    }
    newest.map(|(_, found)| found)
}

/// The session in `dir`, when its checkpoint reads and a run in it has not finished.
#[cfg(not(target_arch = "wasm32"))]
fn unfinished(dir: &Path, modified: std::time::SystemTime) -> Option<Interrupted> {
    let resumed = Resumed::read(dir).ok()?;
    let configs = resumed.spec.adapter_configs();
    let tasks = &resumed.spec.tasks;
    let mut parts = Vec::new();
    let mut left = false;
    for (run, cfg) in configs.iter().enumerate() {
        let name = cfg.method.label();
        match resumed.state.runs.iter().find(|s| s.run == run) {
            Some(s) if s.finished => parts.push(format!("{name} finished")),
            Some(s) => {
                left = true;
                let task = tasks.get(s.after_task).map_or("?", |t| t.name.as_str());
                let diverged = if s.diverged.is_some() {
                    " (then diverged: it retries at half the learning rate)"
                } else {
                    ""
                };
                parts.push(format!(
                    "{name} after task {} of {} ({task}){diverged}",
                    s.after_task + 1,
                    tasks.len()
                ));
            }
            None => {
                left = true;
                parts.push(format!("{name} before its first task ends"));
            }
        }
    }
    let minutes = modified.elapsed().map_or(0, |d| d.as_secs() / 60);
    let saved = match minutes {
        0 => "less than a minute ago".to_string(),
        m if m < 120 => format!("{m} min ago"),
        m if m < 48 * 60 => format!("{} h ago", m / 60),
        m => format!("{} days ago", m / (24 * 60)),
    };
    left.then(|| Interrupted {
        dir: dir.to_path_buf(),
        summary: parts.join(", "),
        saved,
    })
}

/// Lets the session go: its checkpoint is removed (whatever it had written, reports included,
/// stays), so it is not offered again.
pub fn discard(found: &Interrupted) -> std::io::Result<()> {
    #[cfg(not(target_arch = "wasm32"))]
    return std::fs::remove_dir_all(found.dir.join(FOLDER));
    #[cfg(target_arch = "wasm32")]
    {
        let _ = found;
        Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
    }
}

/// Whether the session in `dir` reached a checkpoint (a task boundary) to resume from.
pub fn has_checkpoint(dir: &Path) -> bool {
    #[cfg(not(target_arch = "wasm32"))]
    return Resumed::read(dir).is_ok();
    #[cfg(target_arch = "wasm32")]
    {
        let _ = dir;
        false
    }
}

impl CurloraApp {
    /// The offer, above the views, while there is an interrupted session to pick up.
    pub(super) fn interrupted_banner(&mut self, ui: &mut egui::Ui) {
        let Some(found) = self.interrupted.clone() else {
            return;
        };
        egui::Frame::group(ui.style())
            .fill(ui.visuals().extreme_bg_color)
            .show(ui, |ui| {
                ui.horizontal_wrapped(|ui| {
                    ui.strong("An interrupted live session:");
                    ui.label(format!(
                        "{}; last checkpoint {}.",
                        found.summary, found.saved
                    ));
                    if ui
                        .button("Resume it")
                        .on_hover_text(format!(
                            "train on from the last task boundary, in {}",
                            found.dir.display()
                        ))
                        .clicked()
                    {
                        self.resume_live(found.dir.clone(), self.setup.device);
                    }
                    if ui
                        .button("Discard")
                        .on_hover_text("remove its checkpoint; its folder stays")
                        .clicked()
                    {
                        let msg = match discard(&found) {
                            Ok(()) => format!("discarded the session in {}", found.dir.display()),
                            Err(e) => format!("could not discard {}: {e}", found.dir.display()),
                        };
                        self.set_status(msg);
                        self.interrupted = None;
                    }
                });
            });
    }

    /// The app's own choice of device for a resume, after a GPU failure: the CPU.
    pub(super) fn offers_cpu(&self) -> bool {
        matches!(&self.source, super::Source::Live(l) if l.done && l.device_fault)
            && self.setup.device != DeviceChoice::Cpu
    }
}
