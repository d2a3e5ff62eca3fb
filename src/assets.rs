//! The embedded default: a tiny GPT-2 pretrained by `curlora pretrain`, three small task files
//! and a held-out text, compiled into the binary so that `curlora` teaches offline, out of the
//! box. See `assets/README.md` for where each file comes from and how it was made.

use crate::adapters::{LoraScaling, Method, SelectionMode};
use crate::error::{Error, Result};
use crate::eval::PerplexityMode;
use crate::experiment::{ExperimentSpec, PerplexitySpec, TaskFormat, TaskSpec};
use crate::train::{Schedule, TrainConfig};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// `(relative path, bytes)` of every embedded file.
pub static FILES: [(&str, &[u8]); 10] = [
    (
        "model/config.json",
        include_bytes!("../assets/model/config.json"),
    ),
    (
        "model/model.safetensors",
        include_bytes!("../assets/model/model.safetensors"),
    ),
    (
        "model/tokenizer.json",
        include_bytes!("../assets/model/tokenizer.json"),
    ),
    (
        "model/heldout.txt",
        include_bytes!("../assets/model/heldout.txt"),
    ),
    (
        "tasks/movies-train.csv",
        include_bytes!("../assets/tasks/movies-train.csv"),
    ),
    (
        "tasks/movies-eval.csv",
        include_bytes!("../assets/tasks/movies-eval.csv"),
    ),
    (
        "tasks/style-train.csv",
        include_bytes!("../assets/tasks/style-train.csv"),
    ),
    (
        "tasks/style-eval.csv",
        include_bytes!("../assets/tasks/style-eval.csv"),
    ),
    (
        "tasks/tweets-train.csv",
        include_bytes!("../assets/tasks/tweets-train.csv"),
    ),
    (
        "tasks/tweets-eval.csv",
        include_bytes!("../assets/tasks/tweets-eval.csv"),
    ),
];

/// The virtual folder the embedded files live under (see [`crate::fsutil::read`]).
pub const EMBEDDED_ROOT: &str = "<embedded>";

/// The embedded file at `path`, when `path` is `EMBEDDED_ROOT/<name>`.
pub fn embedded(path: &Path) -> Option<&'static [u8]> {
    let rest = path.strip_prefix(EMBEDDED_ROOT).ok()?;
    let rest = rest.to_str()?.replace('\\', "/");
    FILES.iter().find(|(n, _)| *n == rest).map(|(_, b)| *b)
}

/// SHA-256 of an embedded file, hex.
pub fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// A short fingerprint of all embedded files (names the cache folder).
pub fn fingerprint() -> String {
    let mut h = Sha256::new();
    for &(name, bytes) in FILES.iter() {
        h.update(name.as_bytes());
        h.update(bytes);
    }
    format!("{:x}", h.finalize())[..16].to_string()
}

/// `$XDG_CACHE_HOME/curlora`, else `~/.cache/curlora`: where unpacked assets and imported
/// GGUF models live.
pub fn cache_root() -> PathBuf {
    // The browser has no file system (and `temp_dir` panics there): nothing is cached.
    if cfg!(target_arch = "wasm32") {
        return PathBuf::from(EMBEDDED_ROOT);
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("curlora")
}

/// Writes the embedded files to a cache folder (once) and returns it, so the default
/// experiment loads through the same code as any model folder and data file.
///
/// In the browser there is no file system: the embedded files are served from memory under
/// [`EMBEDDED_ROOT`] instead.
pub fn materialize() -> Result<PathBuf> {
    if cfg!(target_arch = "wasm32") {
        return Ok(PathBuf::from(EMBEDDED_ROOT));
    }
    let dir = cache_root().join(format!("embedded-{}", fingerprint()));
    for &(name, bytes) in FILES.iter() {
        let path = dir.join(name);
        let fresh = std::fs::read(&path).map(|b| b == bytes).unwrap_or(false);
        if !fresh {
            crate::fsutil::write_atomic(&path, bytes)?;
        }
    }
    if !dir.join("model/config.json").exists() {
        return Err(Error::config(format!(
            "could not unpack the embedded assets into {}",
            dir.display()
        )));
    }
    Ok(dir)
}

/// The default experiment on the embedded assets in `dir` (from [`materialize`]): movie
/// reviews → Shakespeare-or-Wikipedia → tweets, LoRA and CURLoRA side by side at rank 8 with
/// the same seed, held-out perplexity before and after each task.
pub fn default_experiment(dir: &Path) -> ExperimentSpec {
    let task = |name: &str, epochs: usize| TaskSpec {
        name: name.into(),
        format: TaskFormat::Csv,
        train: dir.join(format!("tasks/{name}-train.csv")),
        eval: dir.join(format!("tasks/{name}-eval.csv")),
        train_rows: None,
        eval_rows: None,
        epochs,
        schedule: Schedule::WarmupCosine {
            warmup_fraction: 0.1,
        },
        sentiment140_labels: None,
        text_column: Some("text".into()),
        text_b_column: None,
        label_column: Some("label".into()),
    };
    let ppl = PerplexityMode::Sliding {
        window: 128,
        stride: 64,
        max_tokens: 4096,
    };
    ExperimentSpec {
        preset: Some("default".into()),
        model: Some(dir.join("model")),
        methods: vec![Method::Lora, Method::CurLora],
        ranks: vec![8],
        seeds: vec![1],
        alpha: 1.0,
        targets: vec!["attn.c_attn".into(), "mlp.c_fc".into()],
        selection_mode: SelectionMode::Inverted,
        epsilon: 0.001,
        replacement: true,
        lora_scaling: LoraScaling::Reference,
        max_len: 64,
        pair_separator: None,
        train: TrainConfig {
            eval_batch_size: 100,
            lr: 6e-3,
            snapshot_every: 10,
            eval_every: 25,
            perplexity: ppl.clone(),
            ..TrainConfig::default()
        },
        perplexity: PerplexitySpec {
            text: dir.join("model/heldout.txt"),
            wikitext_rule: false,
            mode: ppl,
        },
        tasks: vec![task("movies", 2), task("style", 2), task("tweets", 2)],
        skip_bad_rows: false,
        notes: vec![
            "Embedded default: a 1.3M-parameter GPT-2 pretrained from scratch on Tiny Shakespeare and WikiText-2 (assets/README.md), three small two-class tasks, perplexity on a held-out WikiText-2 slice the model never saw (sliding window 128, stride 64, first 4,096 tokens).".into(),
        ],
    }
}
