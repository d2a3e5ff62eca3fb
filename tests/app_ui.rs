//! The desktop app driven headless with egui_kittest, rendered through wgpu (lavapipe in CI):
//! a snapshot of every view on the bundled recording with a fixed clock, and a short live
//! training on the embedded default that checks the accuracy view shows the engine's numbers
//! and that pause really stops the optimizer.
//!
//! Snapshots live in `tests/snapshots/`; after an intended change to a view, regenerate them
//! with `UPDATE_SNAPSHOTS=1 cargo test --release --test app_ui` and look at the PNGs.

mod common;

use common::app::{gpu_available, run_until};
use curlora::app::setup::Setup;
use curlora::app::state::parse_recording;
use curlora::app::{Clock, CurloraApp, Source, Tab};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::time::Duration;

fn view(name: &str) -> Tab {
    Tab::from_name(name).unwrap()
}

/// The app with the whole bundled recording applied, paused, on a fixed clock.
fn replayed_app(tab: Tab) -> CurloraApp {
    let mut app = CurloraApp::new(Setup::default(), Clock::Fixed(0.0));
    let events = parse_recording(curlora::app::state::RECORDED_RUN).unwrap();
    let n = events.len();
    app.replay("the recorded default run".into(), events);
    app.knobs.replay_speed = n;
    app.pump();
    app.playing = false;
    app.tab = tab;
    app.show_setup = tab == view("accuracy");
    app
}

fn harness(app: CurloraApp) -> Harness<'static, CurloraApp> {
    Harness::builder()
        .with_size(egui::vec2(1360.0, 900.0))
        .with_context_setup(curlora::app::install_fonts)
        .wgpu()
        .build_ui_state(|ui, app: &mut CurloraApp| app.frame(ui), app)
}

#[test]
fn every_view_matches_its_snapshot() {
    if !gpu_available() {
        return;
    }
    let mut results = egui_kittest::SnapshotResults::new();
    // Every view in the registry, each against `tests/snapshots/NAME.png`.
    let names: Vec<&str> = Tab::all().map(|t| t.name()).collect();
    assert_eq!(
        names,
        [
            "accuracy",
            "perplexity",
            "adapters",
            "selection",
            "metrics",
            "try"
        ]
    );
    for tab in Tab::all() {
        let mut h = harness(replayed_app(tab));
        h.run_steps(3);
        results.add(h.try_snapshot(tab.name()));
        results.extend_harness(&mut h);
    }
    results.unwrap();
}

#[test]
fn accuracy_view_shows_the_recorded_numbers() {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1360.0, 900.0))
        .with_context_setup(curlora::app::install_fonts)
        .build_ui_state(
            |ui, app: &mut CurloraApp| app.frame(ui),
            replayed_app(view("accuracy")),
        );
    h.run_steps(2);
    let runs = h.state().session.runs.clone();
    assert_eq!(runs.len(), 2);
    for run in &runs {
        for i in 0..3 {
            for j in 0..=i {
                let a = run.accuracy.get(i, j).unwrap();
                assert!(
                    !h.query_all_by_label(&format!("{a:.3}"))
                        .collect::<Vec<_>>()
                        .is_empty(),
                    "{}: R[{i}][{j}] = {a:.3} not shown",
                    run.label()
                );
            }
        }
    }
}

/// The Try-it view on the recording: the answers of each run's heads after the first task, then
/// each model continuing the text, side by side (`tests/snapshots/try-continue.png`).
#[test]
fn try_it_continues_a_text_with_every_model() {
    if !gpu_available() {
        return;
    }
    let mut h = harness(replayed_app(view("try")));
    h.run_steps(2);
    h.get_by_label("after 1 (movies)").click();
    h.run_steps(2);
    h.get_by_label("Continue").click();
    h.run_steps(3);
    // A row per model: the base and each run, each with the prompt and its continuation.
    for who in ["base model", "lora-8", "curlora-8"] {
        assert!(
            h.query_by_label(who).is_some(),
            "no continuation from {who}"
        );
    }
    let texts = h
        .query_all_by_label_contains("The river that ran through the valley")
        .count();
    assert_eq!(texts, 3, "the prompt and a continuation, once per model");
    h.snapshot("try-continue");
}

fn steps(app: &CurloraApp) -> Vec<usize> {
    app.session.runs.iter().map(|r| r.steps).collect()
}

#[test]
fn live_training_reports_the_engines_numbers_and_pause_stops_steps() {
    let setup = Setup {
        max_rows: Some(48),
        epochs: 1,
        rank: 4,
        ..Setup::default()
    };
    let mut app = CurloraApp::new(setup, Clock::Fixed(0.0));
    app.start_live();
    let mut h = Harness::builder()
        .with_size(egui::vec2(1360.0, 900.0))
        .with_context_setup(curlora::app::install_fonts)
        .build_ui_state(|ui, app: &mut CurloraApp| app.frame(ui), app);
    // Both methods train side by side; wait until each has taken a few steps.
    run_until(&mut h, Duration::from_secs(300), |a| {
        a.session.runs.len() == 2 && steps(a).iter().all(|s| *s >= 2)
    });
    h.get_by_label("Pause").click();
    h.step();
    assert!(!h.state().playing);
    // A step already under way may finish; after that, nothing moves.
    std::thread::sleep(Duration::from_millis(1500));
    h.step();
    let paused_at = steps(h.state());
    std::thread::sleep(Duration::from_millis(2000));
    h.step();
    assert_eq!(steps(h.state()), paused_at, "steps were taken while paused");
    // One batch: exactly one more step for every method.
    h.get_by_label("One batch").click();
    run_until(&mut h, Duration::from_secs(60), |a| {
        steps(a).iter().zip(&paused_at).all(|(s, p)| *s == p + 1)
    });
    std::thread::sleep(Duration::from_millis(1500));
    h.step();
    let one_more: Vec<usize> = paused_at.iter().map(|p| p + 1).collect();
    assert_eq!(steps(h.state()), one_more, "one batch means one step");
    h.get_by_label("Play").click();
    let out = match &h.state().source {
        Source::Live(l) => l.out.clone(),
        _ => unreachable!(),
    };
    run_until(
        &mut h,
        Duration::from_secs(600),
        |a| matches!(&a.source, Source::Live(l) if l.done),
    );
    h.step();
    // The engine's own numbers, as written to report.json, are what the view shows.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let app = h.state();
    assert_eq!(app.session.runs.len(), 2);
    for (k, run) in report["runs"].as_array().unwrap().iter().enumerate() {
        let matrix = run["accuracy_matrix"].as_array().unwrap();
        let view = &app.session.runs[k];
        for (i, row) in matrix.iter().enumerate() {
            for (j, a) in row.as_array().unwrap().iter().enumerate().take(i + 1) {
                let a = a.as_f64().unwrap();
                assert_eq!(view.accuracy.get(i, j), Some(a), "run {k} R[{i}][{j}]");
                let shown = format!("{a:.3}");
                assert!(
                    !h.query_all_by_label(&shown).collect::<Vec<_>>().is_empty(),
                    "run {k}: {shown} not on screen"
                );
            }
        }
    }
    for f in ["report.md", "report.csv", "events.jsonl"] {
        assert!(out.join(f).exists(), "{f} missing from the session folder");
    }
}

/// One wgpu device for drawing and compute: burn creates it, the renderer draws on it, and
/// tensors computed on it before and after a frame are right.
#[test]
fn burn_and_the_renderer_share_one_device() {
    use burn::tensor::{Tensor, TensorData};
    if !gpu_available() {
        return;
    }
    let (dev, s) = curlora::core::device::gpu_shared().unwrap();
    let setup = eframe::egui_wgpu::WgpuSetup::Existing(eframe::egui_wgpu::WgpuSetupExisting {
        instance: s.instance,
        adapter: s.adapter,
        device: s.device,
        queue: s.queue,
    });
    let mut h = Harness::builder()
        .with_size(egui::vec2(1360.0, 900.0))
        .with_context_setup(curlora::app::install_fonts)
        .wgpu_setup(setup)
        .build_ui_state(
            |ui, app: &mut CurloraApp| app.frame(ui),
            replayed_app(view("adapters")),
        );
    let a = Tensor::<2>::from_data(TensorData::new(vec![1f32, 2., 3., 4.], [2, 2]), &dev.device);
    let before = a.clone().matmul(a.clone());
    h.run_steps(2);
    let image = h.render().expect("rendered on the shared device");
    assert_eq!(image.width(), 1360);
    let after = a.clone().matmul(a);
    for t in [before, after] {
        let v = t
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap();
        assert_eq!(v, vec![7., 10., 15., 22.]);
    }
}

/// The U heatmap's GPU route: the colormap kernel colours U on the shared device and the
/// pixels are copied buffer to texture; read back, the texture holds the CPU reference's
/// colours (`colors::diverging`) within one step of 255 (f32 with `1/scale` against f64).
#[test]
fn u_heatmap_coloured_on_the_gpu_matches_the_cpu_colours() {
    use curlora::app::heatmap::gpu;
    use eframe::egui_wgpu::wgpu;
    if !gpu_available() {
        return;
    }
    let (dev, s) = curlora::core::device::gpu_shared().unwrap();
    let (r, scale) = (6usize, 1.5f64);
    let u: Vec<f32> = (0..r * r).map(|k| (k as f32 - 17.0) / 9.0).collect();
    let texture = gpu::texture(&s.device, r);
    gpu::colour_into(&dev.device, &s.device, &s.queue, &u, r, scale, &texture)
        .expect("the kernel's pixels are in a wgpu buffer");
    let row_bytes = gpu::ROW * 4;
    let buffer = s.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("heatmap readback"),
        size: (row_bytes * r) as u64,
        usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
        mapped_at_creation: false,
    });
    let mut encoder = s.device.create_command_encoder(&Default::default());
    encoder.copy_texture_to_buffer(
        texture.as_image_copy(),
        wgpu::TexelCopyBufferInfo {
            buffer: &buffer,
            layout: wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(row_bytes as u32),
                rows_per_image: Some(r as u32),
            },
        },
        texture.size(),
    );
    s.queue.submit([encoder.finish()]);
    buffer.slice(..).map_async(wgpu::MapMode::Read, |_| {});
    s.device.poll(wgpu::PollType::wait_indefinitely()).unwrap();
    let data = buffer.slice(..).get_mapped_range().expect("mapped");
    let mut worst = 0i32;
    for i in 0..r {
        for j in 0..r {
            let got = &data[i * row_bytes + j * 4..][..4];
            let want = curlora::app::colors::diverging(f64::from(u[i * r + j]), scale);
            for (g, w) in got.iter().zip(want.to_array()) {
                worst = worst.max((i32::from(*g) - i32::from(w)).abs());
            }
        }
    }
    assert!(
        worst <= 1,
        "GPU and CPU colours differ by {worst} steps of 255"
    );
}

/// No plot's legend covers its data: every plot of every view, on the whole recording, puts
/// its legend on a strip whose rectangle meets no plotted-data rectangle, inside the window.
#[test]
fn no_legend_overlaps_the_plotted_data() {
    let mut drawn = 0;
    for tab in Tab::all() {
        let app = replayed_app(tab);
        let mut h = Harness::builder()
            .with_size(egui::vec2(1360.0, 900.0))
            .with_context_setup(curlora::app::install_fonts)
            .build_ui_state(|ui, app: &mut CurloraApp| app.frame(ui), app);
        h.step();
        let layouts = curlora::app::plot::layouts(&h.ctx);
        for (i, l) in layouts.iter().enumerate() {
            assert!(
                l.legend.width() > 0.0 && l.data.width() > 0.0,
                "{tab:?} plot {i}: {l:?}"
            );
            for (k, other) in layouts.iter().enumerate() {
                assert!(
                    !l.legend.intersects(other.data),
                    "{tab:?}: the legend of plot {i} ({:?}) overlaps the data of plot {k} ({:?})",
                    l.legend,
                    other.data
                );
            }
            assert!(
                l.legend.max.x <= 1360.0,
                "{tab:?} plot {i}: legend off screen: {l:?}"
            );
        }
        drawn += layouts.len();
        if ["accuracy", "perplexity", "adapters", "selection"].contains(&tab.name()) {
            assert!(!layouts.is_empty(), "{tab:?} drew no plot");
        }
    }
    assert!(drawn >= 6, "only {drawn} plots drawn");
}
