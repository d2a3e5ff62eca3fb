//! The browser build (`trunk build --release`): the desktop app on WebGPU, with honest
//! fall-backs. [`start`] reads the link's state from the URL hash, probes WebGPU, picks a tier
//! (see [`tier`]), and starts eframe on the page's canvas; the engine is the same one the CLI
//! and the desktop app use, run as futures on the page's event loop with asynchronous reads.
//!
//! `hash`, `tier` and `app` are platform-neutral and tested natively; the rest needs a browser.

pub mod app;
pub mod hash;
pub mod tier;

#[cfg(target_arch = "wasm32")]
mod page;

/// The browser entry point (`main` of the wasm binary).
#[cfg(target_arch = "wasm32")]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        page::fatal(&format!("curlora panicked: {info}"))
    }));
    wasm_bindgen_futures::spawn_local(async {
        if let Err(e) = run().await {
            page::fatal(&e);
        }
    });
}

#[cfg(target_arch = "wasm32")]
async fn run() -> Result<(), String> {
    use crate::app::frames::Clock;
    use hash::{LinkState, TierRequest};
    use tier::GpuProbe;

    let started = web_time::Instant::now();
    let link = LinkState::parse(&page::hash());
    let mut gpu_setup = None;
    let probe = match link.tier {
        TierRequest::Cpu | TierRequest::Replay => None,
        TierRequest::Auto | TierRequest::WebGpu => {
            page::loading_text("looking for a WebGPU device…");
            Some(if !page::has_webgpu() {
                GpuProbe::NoApi
            } else {
                let limit = std::time::Duration::from_secs(30);
                let init =
                    crate::core::runtime::timeout(crate::core::device::init_browser_gpu(), limit)
                        .await
                        .unwrap_or_else(|| {
                            Err(crate::Error::Device(
                                "WebGPU did not answer within 30 s".into(),
                            ))
                        });
                match init {
                    Ok((d, setup)) => {
                        let limits = setup.adapter.limits();
                        gpu_setup = Some(setup);
                        GpuProbe::Ready {
                            adapter: d.description.trim_end_matches(" (WebGPU)").to_string(),
                            storage_buffers: limits.max_storage_buffers_per_shader_stage,
                            invocations: limits.max_compute_invocations_per_workgroup,
                        }
                    }
                    Err(e) => {
                        let e = e.to_string();
                        page::log(&format!("curlora: {e}"));
                        GpuProbe::Failed(if e.contains("No adapter available") {
                            "the browser offers no WebGPU adapter".into()
                        } else {
                            e
                        })
                    }
                }
            })
        }
    };
    let choice = tier::choose(link.tier, probe.as_ref());
    if choice.tier != tier::Tier::WebGpu {
        gpu_setup = None;
    }
    page::loading_text(&choice.banner());
    page::log(&format!("curlora: {}", choice.banner()));

    // Draw on burn's own device when training on WebGPU (one device, as on the desktop); else,
    // or if the canvas cannot present from it, with a WebGPU device of eframe's own, and where
    // WebGPU cannot draw at all, with WebGL2 (glow).
    #[derive(Clone, Copy, PartialEq)]
    enum Painter {
        Shared,
        OwnWebGpu,
        WebGl,
    }
    let mut attempts = Vec::new();
    if gpu_setup.is_some() {
        attempts.push(Painter::Shared);
    }
    if page::has_webgpu() {
        attempts.push(Painter::OwnWebGpu);
    }
    attempts.push(Painter::WebGl);
    let mut last_err = String::new();
    for painter in attempts {
        let mut options = eframe::WebOptions::default();
        match painter {
            Painter::Shared => {
                if let Some(s) = gpu_setup.clone() {
                    options.wgpu_options.wgpu_setup = eframe::egui_wgpu::WgpuSetup::Existing(
                        eframe::egui_wgpu::WgpuSetupExisting {
                            instance: s.instance,
                            adapter: s.adapter,
                            device: s.device,
                            queue: s.queue,
                        },
                    );
                }
            }
            Painter::OwnWebGpu => options.renderer = eframe::Renderer::Wgpu,
            Painter::WebGl => options.renderer = eframe::Renderer::Glow,
        }
        let drawing = match painter {
            Painter::Shared => "drawing and training on one WebGPU device",
            Painter::OwnWebGpu => "drawing: WebGPU (eframe's device)",
            Painter::WebGl => "drawing: WebGL2",
        };
        let canvas = page::fresh_canvas()?;
        let (link, choice) = (link.clone(), choice.clone());
        let runner = eframe::WebRunner::new();
        let result = runner
            .start(
                canvas,
                options,
                Box::new(move |cc| {
                    crate::app::install_fonts(&cc.egui_ctx);
                    let mut app = app::WebApp::new(link, choice, Clock::Real(started));
                    app.app.devices = format!("{drawing}; {}", app.app.devices);
                    Ok(Box::new(page::Host {
                        app,
                        started,
                        first_step_seen: false,
                    }))
                }),
            )
            .await;
        match result {
            Ok(()) => {
                page::loaded(started.elapsed().as_secs_f64());
                // Keep the runner alive for the page's lifetime.
                std::mem::forget(runner);
                return Ok(());
            }
            Err(e) => {
                last_err = format!("{e:?}");
                page::log(&format!("curlora: {drawing} did not start: {last_err}"));
            }
        }
    }
    Err(format!("the page could not start drawing: {last_err}"))
}
