//! Panel: the transport bar — play / pause, one batch, skip to the next task, reset, speed, and
//! for a live run the learning rate and α, changed without starting over.

use std::time::Duration;

/// What the user asked for this frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    TogglePlay,
    Step,
    SkipTask,
    Reset,
}

/// Live-only knobs, kept by the app between frames.
#[derive(Clone, Copy, Debug)]
pub struct Knobs {
    /// Replay: events applied per frame.
    pub replay_speed: usize,
    /// Live: pause after each step (slow motion).
    pub delay_ms: u64,
    /// Live: multiplies the schedule's learning rate.
    pub lr_scale: f64,
    /// Live: α for every adapter.
    pub alpha: f64,
}

impl Default for Knobs {
    fn default() -> Self {
        Self {
            replay_speed: 4,
            delay_ms: 0,
            lr_scale: 1.0,
            alpha: 1.0,
        }
    }
}

/// What changed on the live knobs this frame.
#[derive(Default)]
pub struct Changes {
    pub delay: Option<Duration>,
    pub lr_scale: Option<f64>,
    pub alpha: Option<f64>,
}

pub fn show(
    ui: &mut egui::Ui,
    playing: bool,
    live: bool,
    knobs: &mut Knobs,
    classroom: bool,
) -> (Option<Command>, Changes, egui::Rect) {
    let mut cmd = None;
    let mut changes = Changes::default();
    let mut play_rect = egui::Rect::NOTHING;
    ui.horizontal(|ui| {
        let play = if playing { "Pause" } else { "Play" };
        let button = ui.button(play).on_hover_text("space: pause / play");
        play_rect = button.rect;
        if button.clicked() {
            cmd = Some(Command::TogglePlay);
        }
        if ui
            .add_enabled(!playing, egui::Button::new("One batch"))
            .on_hover_text("while paused: one optimizer step for every method")
            .clicked()
        {
            cmd = Some(Command::Step);
        }
        if ui
            .button("Next task")
            .on_hover_text("end the current task now (it is still evaluated)")
            .clicked()
        {
            cmd = Some(Command::SkipTask);
        }
        if ui
            .button("Reset")
            .on_hover_text("start again from the beginning")
            .clicked()
        {
            cmd = Some(Command::Reset);
        }
        ui.separator();
        if live {
            let mut slow = knobs.delay_ms;
            if ui
                .add(egui::Slider::new(&mut slow, 0..=500).text("ms pause per step"))
                .changed()
            {
                knobs.delay_ms = slow;
                changes.delay = Some(Duration::from_millis(slow));
            }
            if !classroom {
                let r = ui.add(
                    egui::Slider::new(&mut knobs.lr_scale, 0.05..=4.0)
                        .logarithmic(true)
                        .text("× learning rate"),
                );
                if r.drag_stopped() || (r.changed() && !r.dragged()) {
                    changes.lr_scale = Some(knobs.lr_scale);
                }
                let r = ui.add(egui::Slider::new(&mut knobs.alpha, 0.0..=8.0).text("α"));
                if r.drag_stopped() || (r.changed() && !r.dragged()) {
                    changes.alpha = Some(knobs.alpha);
                }
            }
        } else {
            ui.add(egui::Slider::new(&mut knobs.replay_speed, 1..=64).text("events per frame"));
        }
    });
    (cmd, changes, play_rect)
}
