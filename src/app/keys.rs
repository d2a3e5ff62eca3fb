//! Keyboard shortcuts, and the window that `?` opens to list them. Keys that type are left to a
//! focused text field.

use super::{CurloraApp, transport};

/// Every shortcut, as the `?` window lists it.
pub const SHORTCUTS: [(&str, &str); 5] = [
    ("Space", "play or pause (the recording, or live training)"),
    ("?", "show or hide this list"),
    ("→", "the tour's next step"),
    ("←", "the tour's previous step"),
    ("Esc", "close the tour, or this list"),
];

impl CurloraApp {
    /// Space, `?` and Esc (the tour reads ← → itself), and the list `?` opens.
    pub(super) fn keyboard(&mut self, ctx: &egui::Context) {
        if !ctx.egui_wants_keyboard_input() {
            let (space, question, escape) = ctx.input(|i| {
                let typed = i
                    .events
                    .iter()
                    .any(|e| matches!(e, egui::Event::Text(t) if t == "?"));
                (
                    i.key_pressed(egui::Key::Space),
                    typed || i.key_pressed(egui::Key::Questionmark),
                    i.key_pressed(egui::Key::Escape),
                )
            });
            if space {
                self.command(transport::Command::TogglePlay);
            }
            if question {
                self.show_keys = !self.show_keys;
            }
            if escape && self.tour.is_none() {
                self.show_keys = false;
            }
        }
        let mut open = self.show_keys;
        egui::Window::new("Keyboard shortcuts")
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::RIGHT_TOP, egui::vec2(-16.0, 96.0))
            .show(ctx, |ui| {
                egui::Grid::new("shortcuts").striped(true).show(ui, |ui| {
                    for (key, what) in SHORTCUTS {
                        ui.strong(key);
                        ui.label(what);
                        ui.end_row();
                    }
                });
            });
        self.show_keys = open && self.show_keys;
    }
}
