//! Helpers for the app's tests (egui_kittest).

use egui_kittest::Harness;
use std::time::{Duration, Instant};

/// Whether wgpu sees an adapter to render with; without one the rendering tests skip, unless
/// `CURLORA_REQUIRE_GPU=1` (CI), where that is a failure.
pub fn gpu_available() -> bool {
    let ok = !curlora::core::device::list_adapters().is_empty();
    if !ok {
        assert!(
            std::env::var("CURLORA_REQUIRE_GPU").as_deref() != Ok("1"),
            "CURLORA_REQUIRE_GPU=1 but wgpu sees no adapter to render the app with"
        );
        eprintln!("SKIPPED: no wgpu adapter to render with");
    }
    ok
}

/// Frames until `done` holds or `limit` passes (the engine trains on its own threads).
pub fn run_until<S>(h: &mut Harness<'_, S>, limit: Duration, done: impl Fn(&S) -> bool) {
    let t0 = Instant::now();
    while !done(h.state()) {
        assert!(t0.elapsed() < limit, "timed out after {limit:?}");
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
}
