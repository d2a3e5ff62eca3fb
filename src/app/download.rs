//! Downloads in the browser, which has no file system: the report of a finished live run (JSON,
//! Markdown, CSV) and every method's adapter file (adapter and task heads, kilobytes for
//! CURLoRA: the same file `curlora run` writes, loadable by `curlora eval` and the PEFT export),
//! made in memory and handed to the browser as a Blob. The desktop app exports to folders
//! instead ([`super::export`]).

use super::CurloraApp;
use super::source::Source;
use super::state::Session;
use crate::experiment::report::Report;

/// One file the page can offer.
#[derive(Clone, Debug, PartialEq)]
pub struct Download {
    pub name: String,
    pub mime: &'static str,
    pub bytes: Vec<u8>,
    /// What the menu says.
    pub label: String,
}

/// What there is to download: each run's adapter file at its latest task boundary (live or in a
/// recording), and the report once a live run has finished.
pub fn available(session: &Session, report: Option<&Report>) -> Vec<Download> {
    let mut out = Vec::new();
    if let Some(r) = report {
        let json = serde_json::to_string_pretty(r).unwrap_or_default();
        for (name, mime, bytes, what) in [
            ("report.json", "application/json", json.into_bytes(), "JSON"),
            (
                "report.md",
                "text/markdown",
                r.markdown().into_bytes(),
                "Markdown",
            ),
            ("report.csv", "text/csv", r.csv().into_bytes(), "CSV"),
        ] {
            out.push(Download {
                name: name.into(),
                mime,
                label: format!("report ({what}, {})", size(bytes.len())),
                bytes,
            });
        }
    }
    for run in &session.runs {
        let Some((task, bytes)) = run
            .checkpoints
            .iter()
            .enumerate()
            .rev()
            .find_map(|(k, c)| c.as_ref().map(|c| (k, c)))
        else {
            continue;
        };
        let task_name = run.tasks.get(task).map_or("?", String::as_str);
        out.push(Download {
            name: format!(
                "{}-{}-seed{}.safetensors",
                run.method.name(),
                run.rank,
                run.seed
            ),
            mime: "application/octet-stream",
            label: format!(
                "adapter: {} after {task_name} ({})",
                run.label(),
                size(bytes.len())
            ),
            bytes: bytes.as_ref().clone(),
        });
    }
    out
}

fn size(n: usize) -> String {
    if n < 1_000_000 {
        format!("{:.1} kB", n as f64 / 1e3)
    } else {
        format!("{:.1} MB", n as f64 / 1e6)
    }
}

impl CurloraApp {
    /// The browser's Download menu.
    pub(super) fn download_menu(&mut self, ui: &mut egui::Ui) {
        let report = match &self.source {
            Source::Live(l) => l.report.as_deref(),
            Source::Replay { .. } => None,
        };
        let files = available(&self.session, report);
        if files.is_empty() {
            ui.label("Nothing yet: adapters arrive at the end of each task, the report when a live run finishes.");
            return;
        }
        for f in files {
            if ui.button(&f.label).clicked() {
                ui.close();
                let msg = match save(&f.name, f.mime, &f.bytes) {
                    Ok(()) => format!("downloading {}", f.name),
                    Err(e) => format!("could not download {}: {e}", f.name),
                };
                self.set_status(msg);
            }
        }
    }
}

/// Hands `bytes` to the browser as a file named `name` (a Blob behind a clicked link).
#[cfg(target_arch = "wasm32")]
pub fn save(name: &str, mime: &str, bytes: &[u8]) -> Result<(), String> {
    use wasm_bindgen::JsCast;
    let js = |e: wasm_bindgen::JsValue| format!("{e:?}");
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob =
        web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(js)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(js)?;
    let window = web_sys::window().ok_or("no window")?;
    let document = window.document().ok_or("no document")?;
    let link: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(js)?
        .dyn_into()
        .map_err(|_| "not a link element".to_string())?;
    link.set_href(&url);
    link.set_download(name);
    link.click();
    // The browser has taken the file by the time this runs; the URL would otherwise hold the
    // bytes for the page's lifetime.
    let revoke = wasm_bindgen::closure::Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    let _ = window
        .set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 30_000);
    Ok(())
}

/// Natively the app exports to folders (the Export menu); this is never called there.
#[cfg(not(target_arch = "wasm32"))]
pub fn save(_name: &str, _mime: &str, _bytes: &[u8]) -> Result<(), String> {
    Err("downloads are the browser's; the desktop app exports to a folder".into())
}
