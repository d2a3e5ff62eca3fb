//! The browser app's wrapper, driven natively with egui_kittest (no rendering needed): the tier
//! banner with its reason, link warnings on the page, the hash following the settings, and the
//! CPU tier really training (the same `WebApp` the wasm build runs, here on native Flex).
//! The real browser test is `web/e2e.mjs` (run by `web/check.sh` and `.ci/run`).

use curlora::app::{Clock, Source};
use curlora::web::app::WebApp;
use curlora::web::hash::LinkState;
use curlora::web::tier::{self, GpuProbe};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::time::{Duration, Instant};

fn harness(app: WebApp) -> Harness<'static, WebApp> {
    Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .with_context_setup(curlora::app::install_fonts)
        .build_ui_state(|ui, app: &mut WebApp| app.frame(ui), app)
}

#[test]
fn replay_tier_shows_its_reason_and_link_problems() {
    let link = LinkState::parse("#tier=replay&rank=0&classroom=1");
    let choice = tier::choose(link.tier, None);
    let mut h = harness(WebApp::new(link, choice, Clock::Fixed(0.0)));
    h.run();
    h.get_by_label_contains("Tier 3 of 3");
    h.get_by_label_contains("tier=replay");
    h.get_by_label_contains("rank=0");
    h.get_by_label("Train live anyway");
    let app = h.state();
    assert!(matches!(app.app.source, Source::Replay { .. }));
    // Classroom mode hides the setup panel; the hash keeps the flag and the forced tier.
    assert!(!app.app.show_setup);
    assert!(app.hash.contains("classroom=1") && app.hash.contains("tier=replay"));
    assert_eq!(app.status().tier, "replay");
}

#[test]
fn the_hash_follows_the_settings() {
    let link = LinkState::parse("#tier=replay&seed=5");
    let choice = tier::choose(link.tier, None);
    let mut h = harness(WebApp::new(link, choice, Clock::Fixed(0.0)));
    h.run();
    assert!(h.state().hash.contains("seed=5"), "{}", h.state().hash);
    h.state_mut().app.setup.rank = 3;
    h.state_mut()
        .app
        .setup
        .set_method(curlora::adapters::Method::CurLora, false);
    h.run();
    let hash = h.state().hash.clone();
    assert!(
        hash.contains("rank=3") && hash.contains("methods=lora&"),
        "{hash}"
    );
    // Whatever the page writes, a student opening it gets the same settings back.
    assert_eq!(LinkState::parse(&hash).setup, h.state().app.setup);
}

#[test]
fn cpu_tier_trains_and_updates_the_accuracy_view() {
    // What the browser does without WebGPU, natively: the CPU tier trains both methods.
    let link = LinkState::parse("#rows=24&epochs=1");
    let choice = tier::choose(link.tier, Some(&GpuProbe::NoApi));
    assert_eq!(choice.tier, tier::Tier::Cpu);
    let mut h = harness(WebApp::new(link, choice, Clock::Real(Instant::now())));
    h.get_by_label_contains("Tier 2 of 3");
    let start = Instant::now();
    loop {
        h.run();
        let s = h.state().status();
        if let Some(e) = &s.error {
            panic!("the run stopped: {e}");
        }
        let done = matches!(&h.state().app.source, Source::Live(l) if l.done);
        if done {
            // 24 rows, batch 16 → 2 steps per task, 3 tasks, 2 methods; 3+2+1 matrix cells each.
            assert_eq!(s.steps, 12, "{s:?}");
            assert!(s.accuracy_points >= 12, "{s:?}");
            assert_eq!(s.tier, "cpu");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "no result after 5 minutes: {s:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `#tour=1` opens the guided tour on the recording on any tier (nothing trains), keeps
/// `tour=1` in the hash while it is open, and drops it when the tour ends.
#[test]
fn tour_in_the_link_opens_the_tour_on_the_recording() {
    let link = LinkState::parse("#tour=1&seed=2");
    assert!(link.tour && link.warnings.is_empty(), "{:?}", link.warnings);
    let choice = tier::choose(link.tier, None);
    let mut h = harness(WebApp::new(link, choice, Clock::Fixed(0.0)));
    h.run_steps(3);
    assert!(matches!(h.state().app.source, Source::Replay { .. }));
    assert_eq!(h.state().app.tour.map(|t| t.step), Some(0));
    assert!(h.state().hash.contains("tour=1"), "{}", h.state().hash);
    h.get_by_label_contains("1 · Catastrophic forgetting");
    h.get_by_label("Skip tour").click();
    h.run_steps(3);
    assert!(h.state().app.tour.is_none());
    assert!(!h.state().hash.contains("tour="), "{}", h.state().hash);
    let bad = LinkState::parse("#tour=maybe");
    assert!(!bad.tour && bad.warnings.iter().any(|w| w.contains("tour `maybe`")));
}
