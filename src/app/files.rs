//! File dialogs: native ones through the XDG portal on the desktop. The browser build has no
//! file system, so there every dialog returns nothing and [`AVAILABLE`] hides the buttons.

use std::path::PathBuf;

/// Whether this platform can open and save files.
pub const AVAILABLE: bool = cfg!(not(target_arch = "wasm32"));

#[cfg(not(target_arch = "wasm32"))]
pub fn pick_folder() -> Option<PathBuf> {
    rfd::FileDialog::new().pick_folder()
}

#[cfg(not(target_arch = "wasm32"))]
pub fn pick_file(kind: &str, extensions: &[&str]) -> Option<PathBuf> {
    rfd::FileDialog::new()
        .add_filter(kind, extensions)
        .pick_file()
}

#[cfg(not(target_arch = "wasm32"))]
pub fn save_file(name: &str) -> Option<PathBuf> {
    rfd::FileDialog::new().set_file_name(name).save_file()
}

#[cfg(target_arch = "wasm32")]
pub fn pick_folder() -> Option<PathBuf> {
    None
}

#[cfg(target_arch = "wasm32")]
pub fn pick_file(_kind: &str, _extensions: &[&str]) -> Option<PathBuf> {
    None
}

#[cfg(target_arch = "wasm32")]
pub fn save_file(_name: &str) -> Option<PathBuf> {
    None
}
