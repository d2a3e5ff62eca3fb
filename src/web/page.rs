//! The page around the app: the loading overlay (`web/index.html`), the address bar, the canvas,
//! and `window.__curlora`, where the browser test reads what the app is doing.

use super::app::WebApp;
use wasm_bindgen::{JsCast, JsValue};

fn window() -> Option<web_sys::Window> {
    web_sys::window()
}

fn document() -> Option<web_sys::Document> {
    window()?.document()
}

pub fn log(msg: &str) {
    web_sys::console::log_1(&msg.into());
}

/// The URL hash (with its `#`), or "".
pub fn hash() -> String {
    window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default()
}

/// Rewrites the hash without adding a history entry or scrolling.
fn set_hash(h: &str) {
    if let Some(w) = window()
        && let Ok(history) = w.history()
    {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(h));
    }
}

pub fn has_webgpu() -> bool {
    window()
        .map(|w| {
            let nav = w.navigator();
            js_sys::Reflect::get(&nav, &"gpu".into())
                .map(|g| !g.is_undefined() && !g.is_null())
                .unwrap_or(false)
        })
        .unwrap_or(false)
}

/// The line under the loading bar.
pub fn loading_text(msg: &str) {
    if let Some(e) = document().and_then(|d| d.get_element_by_id("loading-text")) {
        e.set_text_content(Some(msg));
    }
}

/// Hides the loading overlay and records the time to the first frame.
pub fn loaded(seconds: f64) {
    if let Some(e) = document().and_then(|d| d.get_element_by_id("loading")) {
        let _ = e.set_attribute("hidden", "");
    }
    log(&format!("curlora: first frame after {seconds:.2} s"));
    set_global("__curlora_first_frame_s", &JsValue::from_f64(seconds));
}

/// Never a blank page: errors replace the overlay's text and go to the console.
pub fn fatal(msg: &str) {
    web_sys::console::error_1(&msg.into());
    if let Some(d) = document() {
        if let Some(e) = d.get_element_by_id("loading") {
            let _ = e.remove_attribute("hidden");
        }
        if let Some(e) = d.get_element_by_id("loading-text") {
            e.set_text_content(Some(&format!(
                "Something went wrong: {msg}. Reload the page, or open it with #tier=replay to \
                 see the recorded run."
            )));
        }
    }
}

/// Replaces the canvas with a new one (a canvas that once gave a WebGPU context cannot give a
/// WebGL one).
pub fn fresh_canvas() -> Result<web_sys::HtmlCanvasElement, String> {
    let d = document().ok_or("no document")?;
    let new = d
        .create_element("canvas")
        .map_err(|e| format!("{e:?}"))?
        .dyn_into::<web_sys::HtmlCanvasElement>()
        .map_err(|_| "not a canvas")?;
    new.set_id("curlora_canvas");
    match d.get_element_by_id("curlora_canvas") {
        Some(old) => old
            .replace_with_with_node_1(&new)
            .map_err(|e| format!("{e:?}"))?,
        None => d
            .body()
            .ok_or("no body")?
            .append_child(&new)
            .map(|_| ())
            .map_err(|e| format!("{e:?}"))?,
    }
    Ok(new)
}

fn set_global(name: &str, value: &JsValue) {
    if let Some(w) = window() {
        let _ = js_sys::Reflect::set(&w, &name.into(), value);
    }
}

/// eframe's app: the web app, plus the page's side effects after each frame.
pub struct Host {
    pub app: WebApp,
    /// When the page started (for the time to the first training step).
    pub started: web_time::Instant,
    pub first_step_seen: bool,
}

impl eframe::App for Host {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let before = self.app.hash.clone();
        self.app.frame(ui);
        if self.app.hash != before || hash() != self.app.hash {
            set_hash(&self.app.hash);
        }
        let status = self.app.status();
        if !self.first_step_seen && status.steps > 0 {
            self.first_step_seen = true;
            let s = self.started.elapsed().as_secs_f64();
            log(&format!("curlora: first training step after {s:.2} s"));
            set_global("__curlora_first_step_s", &JsValue::from_f64(s));
        }
        if let Ok(json) = serde_json::to_string(&status)
            && let Ok(v) = js_sys::JSON::parse(&json)
        {
            set_global("__curlora", &v);
        }
    }
}
