//! Exporting what the app shows: the report (JSON, CSV, Markdown, PNG plots), the adapters, the
//! recorded events, and a PNG screenshot of the current view.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Copies every file of the session folder `from` (report, plots, events) and its `adapters/`
/// into `to`. Returns how many files were copied.
pub fn copy_session(from: &Path, to: &Path, adapters_only: bool) -> Result<usize, String> {
    let mut n = 0;
    let mut copy_dir = |src: &Path, dst: &Path| -> Result<(), String> {
        let entries = std::fs::read_dir(src).map_err(|e| format!("{}: {e}", src.display()))?;
        for e in entries.flatten() {
            let p = e.path();
            if p.is_file() {
                let bytes = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
                crate::core::fsutil::write_atomic(&dst.join(e.file_name()), &bytes)
                    .map_err(|e| e.to_string())?;
                n += 1;
            }
        }
        Ok(())
    };
    if !adapters_only {
        copy_dir(from, to)?;
    }
    let adapters = from.join("adapters");
    if adapters.is_dir() {
        copy_dir(&adapters, &to.join("adapters"))?;
    }
    Ok(n)
}

/// Encodes an egui screenshot as PNG and writes it atomically.
pub fn save_png(image: &egui::ColorImage, path: &Path) -> Result<(), String> {
    let [w, h] = image.size;
    let rgba: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
    let mut png = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut png),
        &rgba,
        w as u32,
        h as u32,
        image::ExtendedColorType::Rgba8,
    )
    .map_err(|e| format!("PNG encoding failed: {e}"))?;
    crate::core::fsutil::write_atomic(path, &png).map_err(|e| e.to_string())
}

/// Asks egui for a screenshot of the next frame and writes it to `path` when it arrives; the
/// outcome lands in `status`.
pub fn request_screenshot(
    ctx: &egui::Context,
    path: PathBuf,
    status: Arc<std::sync::Mutex<Option<String>>>,
) {
    ctx.request_screenshot(move |img: Arc<egui::ColorImage>| {
        let msg = match save_png(&img, &path) {
            Ok(()) => format!("screenshot saved to {}", path.display()),
            Err(e) => format!("screenshot failed: {e}"),
        };
        if let Ok(mut s) = status.lock() {
            *s = Some(msg);
        }
    });
}
