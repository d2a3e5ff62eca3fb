//! The guided tour: nine steps that teach the app's story in order, each pointing at the widget
//! it is about with a highlight and a few sentences. It runs on the recording, so nothing waits
//! for training: each step sets the replay to the moment it talks about (before the first step,
//! after the first task, the end) and pauses there. Next / Back / Skip, or → / ← / Esc.
//!
//! It opens on the first start (remembered in the settings), with `curlora app --tour`, and with
//! `#tour=1` in the web app's link; the "Tour" button opens it again.

use super::source::Source;
use super::state::{RECORDED_RUN, Session};
use super::{CurloraApp, Tab};
use crate::train::Event;
use egui::{Color32, Rect, Stroke};

/// What a step points at (the app notes where each was drawn, every frame).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Anchor {
    /// The view under the tabs.
    View,
    /// The Play / Pause button.
    Play,
    /// The setup panel.
    Setup,
}

/// The moment of the recording a step shows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Moment {
    /// Every run attached, its columns and rows drawn, U still zero: nothing trained.
    BeforeTraining,
    /// Every run through optimizer step `g` (and the snapshots logged with it).
    AfterStep(usize),
    /// Every run at the end of task `k` (0-based).
    AfterTask(usize),
    /// The whole recording.
    End,
}

/// One step of the tour.
pub struct Step {
    pub title: &'static str,
    /// The view it shows.
    pub tab: &'static str,
    pub anchor: Anchor,
    pub moment: Moment,
    /// Its text; numbers are read from the session at that moment.
    pub text: fn(&Session) -> String,
}

/// The steps, in order.
pub fn steps() -> &'static [Step] {
    &STEPS
}

static STEPS: [Step; 9] = [
    Step {
        title: "1 · Catastrophic forgetting",
        tab: "accuracy",
        anchor: Anchor::View,
        moment: Moment::BeforeTraining,
        text: |s| {
            format!(
                "Fine-tune a language model on one task after another and it forgets the earlier \
                 ones. Here {} train side by side on {}, from the same start and seed. Each \
                 matrix will fill row by row: accuracy on every task after each one is trained.",
                methods(s),
                tasks(s)
            )
        },
    },
    Step {
        title: "2 · How CUR picks columns and rows",
        tab: "selection",
        anchor: Anchor::View,
        moment: Moment::BeforeTraining,
        text: |_| {
            "CURLoRA adapts W as W + C·U·R, where C and R are columns and rows of W itself. \
             It draws them with inverted probabilities (orange curve): the low-energy columns, \
             the ones W uses least, are the likeliest. Standard CUR (grey) would favour the \
             high-energy ones, which carry what the model knows."
                .into()
        },
    },
    Step {
        title: "3 · U starts at zero",
        tab: "adapters",
        anchor: Anchor::View,
        moment: Moment::AfterStep(10),
        text: |s| {
            let largest = s
                .runs
                .iter()
                .flat_map(|r| r.u.values())
                .flat_map(|t| t.latest.iter())
                .fold(0.0_f32, |m, v| m.max(v.abs()));
            format!(
                "U, the r×r matrix between C and R, is the only thing CURLoRA trains, and it \
                 starts at zero: before the first step the adapted model is exactly the \
                 pretrained one. Shown: U after 10 optimizer steps, its largest entry {largest:.4} \
                 (read the scale). LoRA's A·B starts at zero too, but from a random A."
            )
        },
    },
    Step {
        title: "4 · Train the first task",
        tab: "accuracy",
        anchor: Anchor::Play,
        moment: Moment::AfterTask(0),
        text: |s| {
            format!(
                "The recording has trained the first task ({}) for every method: the first row \
                 of each matrix is filled. Play replays the rest; One batch steps it. (Train, in \
                 the setup, trains for real.)",
                task(s, 0)
            )
        },
    },
    Step {
        title: "5 · Predict",
        tab: "accuracy",
        anchor: Anchor::View,
        moment: Moment::AfterTask(0),
        text: |s| {
            format!(
                "Next, every method trains on {} with a new head, then on {}. Before you press \
                 Next: what will happen to each method's column for {}?",
                task(s, 1),
                task(s, 2),
                task(s, 0)
            )
        },
    },
    Step {
        title: "6 · LoRA forgets, CURLoRA keeps",
        tab: "accuracy",
        anchor: Anchor::View,
        moment: Moment::End,
        text: |s| {
            let mut lines = vec![format!(
                "Read down the {} column: accuracy on that task after each later one.",
                task(s, 1)
            )];
            for r in &s.runs {
                let (first, last) = (r.accuracy.get(1, 1), r.accuracy.get(2, 1));
                if let (Some(a), Some(b)) = (first, last) {
                    lines.push(format!("{}: {a:.3} → {b:.3}.", r.method.label()));
                }
            }
            lines.push(
                "The dashed lines are the majority-class baseline: at it, a head has learned \
                 nothing."
                    .into(),
            );
            lines.join(" ")
        },
    },
    Step {
        title: "7 · The perplexity story",
        tab: "perplexity",
        anchor: Anchor::View,
        moment: Moment::End,
        text: |s| {
            let mut lines = vec![
                "Perplexity on held-out text measures the language the model still knows; a rise \
                 is forgetting that no task head shows."
                    .to_string(),
            ];
            for r in &s.runs {
                if let (Some(a), Some(b)) = (r.perplexity.first(), r.perplexity.last()) {
                    lines.push(format!("{}: {a:.0} → {b:.0}.", r.method.label()));
                }
            }
            lines.join(" ")
        },
    },
    Step {
        title: "8 · Parameters and adapter bytes",
        tab: "metrics",
        anchor: Anchor::View,
        moment: Moment::End,
        text: |s| {
            let each: Vec<String> = s
                .runs
                .iter()
                .map(|r| format!("{} {}", r.method.label(), r.trainable_params))
                .collect();
            format!(
                "Trained parameters: {}. CURLoRA trains r² per matrix, LoRA r·(in + out): its \
                 adapter is a few kilobytes. ACC, BWT and forgetting summarize the matrices \
                 (hover a column for its formula).",
                each.join(", ")
            )
        },
    },
    Step {
        title: "9 · Now try your own",
        tab: "accuracy",
        anchor: Anchor::Setup,
        moment: Moment::End,
        text: |_| {
            "Change the rank, the learning rate, the methods or the tasks (your own CSV files, \
             or a real model from a folder or a .gguf) and press Train. Is CURLoRA's advantage \
             still there? Try several seeds before you believe it."
                .into()
        },
    },
];

fn methods(s: &Session) -> String {
    let m: Vec<&str> = s.runs.iter().map(|r| r.method.label()).collect();
    if m.is_empty() {
        "the methods".into()
    } else {
        m.join(" and ")
    }
}

fn tasks(s: &Session) -> String {
    s.runs
        .first()
        .map(|r| r.tasks.join(" → "))
        .unwrap_or_else(|| "three tasks".into())
}

fn task(s: &Session, k: usize) -> String {
    s.runs
        .first()
        .and_then(|r| r.tasks.get(k).cloned())
        .unwrap_or_else(|| format!("task {}", k + 1))
}

/// Where the tour stands.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tour {
    pub step: usize,
}

/// The events of `events` up to `moment`, run by run (each run cut at its own boundary), then
/// the rest: the order a replay continues in. Returns the reordered events and how many are in
/// the first part.
pub fn cut(events: &[Event], moment: Moment) -> (Vec<Event>, usize) {
    let runs = events.iter().map(Event::run).max().map_or(0, |r| r + 1);
    let end: Vec<usize> = (0..runs)
        .map(|r| {
            let mut mine = events.iter().enumerate().filter(|(_, e)| e.run() == r);
            match moment {
                Moment::End => None,
                Moment::BeforeTraining => mine
                    .find(|(_, e)| matches!(e, Event::Step { .. }))
                    .map(|(i, _)| i),
                Moment::AfterStep(g) => mine
                    .find(|(_, e)| matches!(e, Event::Step { global_step, .. } if *global_step > g))
                    .map(|(i, _)| i),
                Moment::AfterTask(k) => mine
                    .find(|(_, e)| matches!(e, Event::TaskEnd { task, .. } if *task == k))
                    .map(|(i, _)| i + 1),
            }
            .unwrap_or(usize::MAX)
        })
        .collect();
    let (mut first, mut rest) = (Vec::new(), Vec::new());
    for (i, e) in events.iter().enumerate() {
        if i < end[e.run()] {
            first.push(e.clone());
        } else {
            rest.push(e.clone());
        }
    }
    let n = first.len();
    first.extend(rest);
    (first, n)
}

impl CurloraApp {
    /// Opens the tour at its first step (on the recording).
    pub fn start_tour(&mut self) {
        self.tour = Some(Tour::default());
        self.enter_step(0);
    }

    /// Shows step `k`: its view, and the recording at its moment, paused.
    fn enter_step(&mut self, k: usize) {
        let Some(step) = steps().get(k) else {
            return self.end_tour();
        };
        self.tour = Some(Tour { step: k });
        if let Some(tab) = Tab::from_name(step.tab) {
            self.tab = tab;
        }
        if step.anchor == Anchor::Setup {
            self.show_setup = true;
        }
        let events = super::state::parse_recording(RECORDED_RUN).unwrap_or_default();
        let (events, applied) = cut(&events, step.moment);
        self.replay("the recorded default run".into(), events);
        if let Source::Replay { events, next, .. } = &mut self.source {
            for e in &events[..applied] {
                self.session.apply(e);
            }
            *next = applied;
        }
        self.playing = false;
    }

    /// Closes the tour, remembering that it was seen.
    pub fn end_tour(&mut self) {
        self.tour = None;
        if !self.setup.tour_seen {
            self.setup.tour_seen = true;
            self.save_settings();
        }
    }

    /// The highlight and the callout of the current step, over everything else; ← → Esc.
    pub(super) fn tour_overlay(&mut self, ctx: &egui::Context) {
        let Some(Tour { step: k }) = self.tour else {
            return;
        };
        let step = &steps()[k];
        let last = k + 1 == steps().len();
        let (back, next, skip) = ctx.input(|i| {
            (
                i.key_pressed(egui::Key::ArrowLeft),
                i.key_pressed(egui::Key::ArrowRight),
                i.key_pressed(egui::Key::Escape),
            )
        });
        let target = self.anchors.get(&step.anchor).copied();
        if let Some(rect) = target {
            let painter = ctx.layer_painter(egui::LayerId::new(
                egui::Order::Foreground,
                egui::Id::unique("tour-highlight"),
            ));
            painter.rect_stroke(
                rect.expand(4.0),
                6.0,
                Stroke::new(3.0, HIGHLIGHT),
                egui::StrokeKind::Outside,
            );
        }
        let text = (step.text)(&self.session);
        let mut action = None;
        let screen = ctx.content_rect();
        let (align, offset) = callout_position(target, screen);
        egui::Area::new(egui::Id::unique("tour-callout"))
            .order(egui::Order::Foreground)
            .anchor(align, offset)
            .show(ctx, |ui| {
                egui::Frame::popup(ui.style())
                    .stroke(Stroke::new(2.0, HIGHLIGHT))
                    .show(ui, |ui| {
                        ui.set_max_width(CALLOUT_WIDTH);
                        ui.strong(step.title);
                        ui.label(text);
                        ui.add_space(4.0);
                        ui.horizontal(|ui| {
                            if ui.add_enabled(k > 0, egui::Button::new("Back")).clicked() {
                                action = Some(k.wrapping_sub(1));
                            }
                            let label = if last { "Done" } else { "Next" };
                            if ui.button(label).clicked() {
                                action = Some(k + 1);
                            }
                            if !last && ui.button("Skip tour").clicked() {
                                action = Some(usize::MAX);
                            }
                            ui.weak(format!("{} of {} · ← → Esc", k + 1, steps().len()));
                        });
                    });
            });
        if back && k > 0 {
            action = Some(k - 1);
        }
        if next {
            action = Some(k + 1);
        }
        if skip {
            action = Some(usize::MAX);
        }
        match action {
            Some(usize::MAX) => self.end_tour(),
            Some(j) if j < steps().len() => self.enter_step(j),
            Some(_) => self.end_tour(),
            None => {}
        }
    }
}

/// The tour's colour: Okabe–Ito yellow, visible on the dark and the high-contrast look.
const HIGHLIGHT: Color32 = super::colors::OKABE_ITO[3];
const CALLOUT_WIDTH: f32 = 380.0;

/// Where the callout goes, as an anchor on the screen: for the view, near its bottom-right
/// corner (the views put what matters at the top); beside a smaller target, on its right.
fn callout_position(target: Option<Rect>, screen: Rect) -> (egui::Align2, egui::Vec2) {
    let Some(t) = target else {
        return (egui::Align2::CENTER_CENTER, egui::Vec2::ZERO);
    };
    if t.width() > screen.width() * 0.5 {
        // A fixed corner, whatever the text's length (a callout that moved with its size
        // would move its buttons under the pointer).
        let at = egui::pos2(t.max.x - CALLOUT_WIDTH - 40.0, t.max.y - 230.0);
        return (egui::Align2::LEFT_TOP, at - screen.min);
    }
    let w = CALLOUT_WIDTH + 24.0;
    let x = if t.max.x + w < screen.max.x {
        t.max.x + 12.0
    } else {
        (t.min.x - w).max(screen.min.x + 8.0)
    };
    (
        egui::Align2::LEFT_TOP,
        egui::vec2(
            x - screen.min.x,
            t.min.y.max(screen.min.y + 8.0) - screen.min.y,
        ),
    )
}
