//! The house plan, checked: the top-level modules of `src/` form layers, and a module may use
//! only the layers below it (`core` ← `kernels` ← `data` ← `adapters` ← `model` ← `train` ←
//! `experiment` ← `app` ← `web`). Stricter than "no import cycle": an upward edge fails even
//! when nothing points back. The order is the one `lib.rs` declares its modules in.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The layers, lowest first, as `lib.rs`'s doc comment lists them (rustfmt sorts the `mod`
/// lines, so the order lives here); every module of `lib.rs` must be in it.
const LAYERS: [&str; 9] = [
    "core",
    "kernels",
    "data",
    "adapters",
    "model",
    "train",
    "experiment",
    "app",
    "web",
];

fn layers() -> Vec<String> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let declared: Vec<String> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';').trim().to_string())
        .collect();
    for m in &declared {
        assert!(
            LAYERS.contains(&m.as_str()),
            "lib.rs module `{m}` has no layer in tests/layers.rs"
        );
    }
    LAYERS.iter().map(|s| s.to_string()).collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::<name>` a file names outside comments, including the names inside
/// `use crate::{a::…, b}` groups.
fn crate_refs(text: &str) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                out.insert(name);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.insert(name);
        }
    }
    out
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let layers = layers();
    assert!(
        layers.len() >= 8 && layers[0] == "core",
        "lib.rs should declare the layers lowest first, starting with core: {layers:?}"
    );
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut upward = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(src()).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let top = top.trim_end_matches(".rs");
        let Some(level) = layers.iter().position(|l| l == top) else {
            continue; // lib.rs, main.rs and the binary's cli/
        };
        let text = std::fs::read_to_string(file).unwrap();
        for name in crate_refs(&text) {
            if let Some(other) = layers.iter().position(|l| *l == name)
                && other > level
            {
                upward.push(format!("{} uses crate::{name}", rel.display()));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "modules reaching up a layer:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_check_sees_grouped_and_plain_paths() {
    let refs =
        crate_refs("use crate::{app::View, model};\n// crate::web\nlet x = crate::train::f();");
    assert_eq!(
        refs.into_iter().collect::<Vec<_>>(),
        vec!["app", "model", "train"]
    );
}
