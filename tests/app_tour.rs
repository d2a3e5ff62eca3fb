//! The guided tour and the keyboard, driven headless with egui_kittest: every step shows its
//! view at its moment of the recording (checked against the recording's own numbers), Next /
//! Back / Skip and the arrow keys move it, finishing it is remembered; `?` lists the shortcuts;
//! a snapshot of every step and of the high-contrast look (rendered through wgpu, lavapipe in
//! CI; regenerate with `UPDATE_SNAPSHOTS=1 cargo test --release --test app_tour`).

mod common;

use common::app::gpu_available;
use curlora::app::setup::Setup;
use curlora::app::tour::{Moment, cut, steps};
use curlora::app::{Clock, CurloraApp, Launch, Tab};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

fn harness(app: CurloraApp, gpu: bool) -> Harness<'static, CurloraApp> {
    let b = Harness::builder()
        .with_size(egui::vec2(1360.0, 900.0))
        .with_context_setup(curlora::app::install_fonts);
    let b = if gpu { b.wgpu() } else { b };
    b.build_ui_state(|ui, app: &mut CurloraApp| app.frame(ui), app)
}

fn toured() -> Harness<'static, CurloraApp> {
    let mut app = CurloraApp::new(Setup::default(), Clock::Fixed(0.0));
    app.start_tour();
    let mut h = harness(app, false);
    h.run_steps(2);
    h
}

/// Some text on screen contains `text`.
fn shows(h: &Harness<'_, CurloraApp>, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}

fn step(h: &Harness<'_, CurloraApp>) -> Option<usize> {
    h.state().tour.map(|t| t.step)
}

#[test]
fn the_tour_walks_the_recordings_story_in_nine_steps() {
    assert_eq!(steps().len(), 9);
    let mut h = toured();
    // 1: nothing trained yet; the accuracy view, its curves an empty-plot sentence.
    assert_eq!(step(&h), Some(0));
    assert_eq!(h.state().tab, Tab::from_name("accuracy").unwrap());
    assert!(h.state().session.runs.iter().all(|r| r.steps == 0));
    assert!(shows(&h, "No accuracy yet"));
    assert!(
        h.query_by_label_contains("1 · Catastrophic forgetting")
            .is_some()
    );
    // 2: the selection view, every CUR draw there.
    h.get_by_label("Next").click();
    h.run_steps(2);
    assert_eq!(step(&h), Some(1));
    assert_eq!(h.state().tab, Tab::from_name("selection").unwrap());
    let curlora = |h: &Harness<'_, CurloraApp>| {
        h.state()
            .session
            .runs
            .iter()
            .position(|r| r.method == curlora::adapters::Method::CurLora)
            .unwrap()
    };
    assert!(!h.state().session.runs[curlora(&h)].selections.is_empty());
    // 3 (the arrow key): U after 10 steps, small.
    h.key_press(egui::Key::ArrowRight);
    h.run_steps(2);
    assert_eq!(step(&h), Some(2));
    let run = &h.state().session.runs[curlora(&h)];
    assert_eq!(run.steps, 11, "steps 0..=10");
    let largest = run
        .u
        .values()
        .flat_map(|t| t.latest.iter())
        .fold(0.0_f32, |m, v| m.max(v.abs()));
    assert!(largest > 0.0 && largest < 0.05, "{largest}");
    assert!(
        h.query_by_label_contains(&format!("{largest:.4}"))
            .is_some(),
        "the text does not quote U's largest entry"
    );
    // Back, and forward again.
    h.key_press(egui::Key::ArrowLeft);
    h.run_steps(2);
    assert_eq!(step(&h), Some(1));
    h.get_by_label("Next").click();
    h.run_steps(1);
    h.get_by_label("Next").click();
    h.run_steps(2);
    // 4: every run at the end of the first task: row 0 filled, row 1 not.
    assert_eq!(step(&h), Some(3));
    for r in &h.state().session.runs {
        assert!(r.accuracy.get(0, 0).is_some(), "{}", r.label());
        assert!(r.accuracy.get(1, 1).is_none(), "{}", r.label());
    }
    // 5, 6: the end; the text quotes each method's style accuracy, before and after tweets,
    // as the recording has them (LoRA 1.000 → 0.500, CURLoRA 0.997 → 1.000).
    for _ in 0..2 {
        h.get_by_label("Next").click();
        h.run_steps(2);
    }
    assert_eq!(step(&h), Some(5));
    for r in &h.state().session.runs {
        let (a, b) = (r.accuracy.get(1, 1).unwrap(), r.accuracy.get(2, 1).unwrap());
        let quoted = format!("{}: {a:.3} → {b:.3}.", r.method.label());
        assert!(shows(&h, &quoted), "missing {quoted:?}");
    }
    // 7, 8, 9, then Done: closed and remembered.
    for _ in 6..9 {
        h.get_by_label("Next").click();
        h.run_steps(2);
    }
    assert_eq!(step(&h), Some(8));
    assert!(
        h.state().show_setup,
        "the last step points at the setup panel"
    );
    h.get_by_label("Done").click();
    h.run_steps(2);
    assert_eq!(step(&h), None);
    assert!(h.state().setup.tour_seen);
}

#[test]
fn the_tour_opens_on_the_first_start_and_when_asked() {
    let open = |setup: Setup, launch: Launch| {
        let mut app = CurloraApp::new(setup, Clock::Fixed(0.0));
        launch.open(&mut app);
        app.tour.map(|t| t.step)
    };
    let seen = Setup {
        tour_seen: true,
        ..Setup::default()
    };
    assert_eq!(open(Setup::default(), Launch::default()), Some(0));
    assert_eq!(
        open(seen.clone(), Launch::default()),
        None,
        "seen: remembered"
    );
    let tour = Launch {
        tour: true,
        ..Launch::default()
    };
    assert_eq!(open(seen.clone(), tour), Some(0), "`curlora app --tour`");
    let other_view = Launch {
        tab: Tab::from_name("selection").unwrap(),
        ..Launch::default()
    };
    assert_eq!(
        open(Setup::default(), other_view),
        None,
        "asked for a view: no tour over it"
    );
}

#[test]
fn classroom_mode_keeps_the_tour_to_its_end() {
    let setup = Setup {
        classroom: true,
        ..Setup::default()
    };
    let mut app = CurloraApp::new(setup, Clock::Fixed(0.0));
    app.start_tour();
    let mut h = harness(app, false);
    h.run_steps(2);
    for (k, s) in steps().iter().enumerate() {
        assert_eq!(step(&h), Some(k));
        assert!(shows(&h, s.title), "step {k}: no callout {:?}", s.title);
        assert!(
            h.state().setup.classroom,
            "the tour turned classroom mode off"
        );
        let label = if k + 1 == steps().len() {
            "Done"
        } else {
            "Next"
        };
        h.get_by_label(label).click();
        h.run_steps(2);
    }
    assert_eq!(step(&h), None);
    assert!(h.state().setup.classroom && h.state().setup.tour_seen);
}

#[test]
fn skip_and_escape_close_the_tour() {
    let mut h = toured();
    h.get_by_label("Skip tour").click();
    h.run_steps(2);
    assert_eq!(step(&h), None);
    assert!(h.state().setup.tour_seen);
    h.state_mut().start_tour();
    h.run_steps(2);
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    assert_eq!(step(&h), None);
}

#[test]
fn cutting_the_recording_keeps_each_runs_order_and_every_event() {
    let events = curlora::app::state::parse_recording(curlora::app::state::RECORDED_RUN).unwrap();
    for moment in [
        Moment::BeforeTraining,
        Moment::AfterStep(10),
        Moment::AfterTask(0),
        Moment::AfterTask(1),
        Moment::End,
    ] {
        let (cut_events, applied) = cut(&events, moment);
        assert_eq!(cut_events.len(), events.len(), "{moment:?}");
        for run in 0..2 {
            let mine = |v: &[curlora::train::Event]| -> Vec<String> {
                v.iter()
                    .filter(|e| e.run() == run)
                    .map(|e| serde_json::to_string(e).unwrap())
                    .collect()
            };
            assert_eq!(mine(&cut_events), mine(&events), "{moment:?}: run {run}");
        }
        let first = &cut_events[..applied];
        let ends = first
            .iter()
            .filter(|e| matches!(e, curlora::train::Event::TaskEnd { .. }))
            .count();
        let expected = match moment {
            Moment::BeforeTraining | Moment::AfterStep(_) => 0,
            Moment::AfterTask(k) => 2 * (k + 1),
            Moment::End => 6,
        };
        assert_eq!(ends, expected, "{moment:?}");
    }
}

#[test]
fn question_mark_lists_the_shortcuts() {
    let mut h = harness(CurloraApp::new(Setup::default(), Clock::Fixed(0.0)), false);
    h.run_steps(1);
    assert!(h.query_by_label("Keyboard shortcuts").is_none());
    h.event(egui::Event::Text("?".into()));
    h.run_steps(2);
    assert!(h.query_by_label("Keyboard shortcuts").is_some());
    for (key, _) in curlora::app::keys::SHORTCUTS {
        assert!(
            h.query_all_by_label(key).next().is_some(),
            "{key} not listed"
        );
    }
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    assert!(h.query_by_label("Keyboard shortcuts").is_none());
    // Space plays and pauses.
    let before = h.state().playing;
    h.key_press(egui::Key::Space);
    h.run_steps(1);
    assert_ne!(h.state().playing, before);
}

#[test]
fn every_tour_step_and_the_high_contrast_look_match_their_snapshots() {
    if !gpu_available() {
        return;
    }
    let mut results = egui_kittest::SnapshotResults::new();
    let mut app = CurloraApp::new(Setup::default(), Clock::Fixed(0.0));
    app.start_tour();
    let mut h = harness(app, true);
    for k in 0..steps().len() {
        h.run_steps(3);
        results.add(h.try_snapshot(format!("tour-{}", k + 1)));
        h.key_press(egui::Key::ArrowRight);
    }
    results.extend_harness(&mut h);
    // The whole recording in the high-contrast look.
    let mut app = CurloraApp::new(
        Setup {
            high_contrast: true,
            ..Setup::default()
        },
        Clock::Fixed(0.0),
    );
    let events = curlora::app::state::parse_recording(curlora::app::state::RECORDED_RUN).unwrap();
    let n = events.len();
    app.replay("the recorded default run".into(), events);
    app.knobs.replay_speed = n;
    app.pump();
    app.playing = false;
    let mut h = harness(app, true);
    h.run_steps(3);
    results.add(h.try_snapshot("accuracy-high-contrast"));
    results.extend_harness(&mut h);
    results.unwrap();
}
