//! `curlora export-peft`: an adapter as a PEFT LoRA folder, plus the task heads.
//!
//! CURLoRA's `ΔW = α·C·U·R` has rank ≤ r, so it *is* a rank-r LoRA: `P = C·U`, `Q = R`,
//! scale α. LoRA exports its own factors in either scaling; O-LoRA its task LoRAs side by side.
//! PiSSA and MiLoRA train on a residual `W − s·A₀·B₀` they made when attaching, so on the
//! original weights their update is `s·(A·B − A₀·B₀)`: a rank-2r LoRA `[A, A₀]·[B; −B₀]`, as
//! PEFT itself converts PiSSA (`A₀`, `B₀` are redrawn from the base, deterministically). A full
//! fine-tune and head-only training have no low-rank form: they leave through
//! [`crate::model::merge`] instead, and the export says so.

use super::{key, transposed, write_f32};
use crate::core::error::{Error, Result};
use crate::model::store::Loaded;
use serde_json::json;
use std::path::Path;

/// What an export wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    pub modules: usize,
    pub rank: usize,
    pub lora_alpha: f64,
    pub heads: usize,
    /// Bytes of `adapter_model.safetensors`.
    pub bytes: usize,
}

/// The file names of an export.
pub const CONFIG: &str = "adapter_config.json";
pub const WEIGHTS: &str = "adapter_model.safetensors";
pub const HEADS: &str = "heads.safetensors";
pub const HEADS_JSON: &str = "heads.json";

/// Writes `loaded` as a PEFT LoRA into `out`; `base` is the unadapted model it was loaded onto
/// (for the starts of methods that replaced it), `base_name` goes into
/// `base_model_name_or_path` (what `PeftModel.from_pretrained` loads the base from).
pub fn export(
    loaded: &Loaded,
    base: &crate::model::LanguageModel,
    base_name: &str,
    out: &Path,
) -> Result<Exported> {
    let model = &loaded.model;
    let method = loaded.meta.config.method;
    if method.trains_base() {
        return Err(Error::config(format!(
            "a {} adapter changes every weight, which no LoRA expresses: write a merged model \
             with `curlora merge` instead",
            method.label()
        )));
    }
    let prefix = model.hf_prefix();
    let replaced = model
        .modules()
        .iter()
        .any(|(_, l)| l.adapter.get().replaces_base());
    // What attaching drew on the original weights, for methods that replaced them.
    let initial = if replaced {
        Some(base.clone().with_adapters(&loaded.meta.config)?.0)
    } else {
        None
    };
    let mut factors = Vec::new();
    for (path, layer) in model.modules() {
        let adapter = layer.adapter.get();
        if adapter.tensors().is_empty() {
            continue; // not targeted
        }
        let mut lr = adapter.low_rank().ok_or_else(|| {
            Error::config(format!(
                "module {path}: a {} adapter has no low-rank form: write a merged model with \
                 `curlora merge` instead",
                method.label()
            ))
        })?;
        if adapter.replaces_base() {
            let start = initial
                .as_ref()
                .expect("made above")
                .module(&path)?
                .adapter
                .get()
                .low_rank()
                .expect("the same method");
            lr.p = burn::tensor::Tensor::cat(vec![lr.p, start.p], 1);
            lr.q = burn::tensor::Tensor::cat(vec![lr.q, start.q.neg()], 0);
        }
        factors.push((path, lr));
    }
    if factors.is_empty() {
        return Err(Error::config(format!(
            "a {} adapter trains no module, only its task heads: there is no PEFT adapter to \
             write (the heads are in the adapter file)",
            method.label()
        )));
    }
    let rank = factors[0].1.p.dims()[1];
    let scale = factors[0].1.scale;
    if let Some((path, lr)) = factors.iter().find(|(_, lr)| lr.p.dims()[1] != rank) {
        return Err(Error::config(format!(
            "module {path} has rank {} and others rank {rank}: PEFT's single `r` cannot hold both",
            lr.p.dims()[1]
        )));
    }
    // One scale for all (always so today): PEFT's own scaling carries it, factors untouched.
    let uniform = factors.iter().all(|(_, lr)| lr.scale == scale);
    let lora_alpha = if uniform {
        scale * rank as f64
    } else {
        rank as f64
    };
    let mut tensors = Vec::new();
    for (path, lr) in &factors {
        let [n_in, k] = lr.p.dims();
        let [_, n_out] = lr.q.dims();
        let (_, p) = crate::model::weights::host(lr.p.clone());
        let (_, mut q) = crate::model::weights::host(lr.q.clone());
        if !uniform {
            q.iter_mut()
                .for_each(|x| *x = (*x as f64 * lr.scale) as f32);
        }
        tensors.push((
            key(prefix, path, "A"),
            vec![k, n_in],
            transposed(&p, [n_in, k]),
        ));
        tensors.push((
            key(prefix, path, "B"),
            vec![n_out, k],
            transposed(&q, [k, n_out]),
        ));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::write(out, e))?;
    let bytes = write_f32(&out.join(WEIGHTS), &tensors, None)?;
    let conv1d = model.modules().first().map(|(_, l)| l.layout)
        == Some(crate::adapters::linear::Layout::InOut);
    let mut targets = loaded.meta.config.targets.clone();
    targets.sort();
    let config = json!({
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": base_name,
        "r": rank,
        "lora_alpha": number(lora_alpha),
        "lora_dropout": 0.0,
        "target_modules": targets,
        "fan_in_fan_out": conv1d,
        "bias": "none",
        "use_rslora": false,
        "use_dora": false,
        "modules_to_save": null,
        "rank_pattern": {},
        "alpha_pattern": {},
        "layers_to_transform": null,
        "init_lora_weights": true,
        "inference_mode": true,
        "revision": null,
        "curlora": {
            "method": method.name(),
            "rank": loaded.meta.config.rank,
            "alpha": loaded.meta.config.alpha,
            "seed": loaded.meta.config.seed,
            "base_sha256": loaded.meta.base_hash,
        },
    });
    write_json(&out.join(super::export::CONFIG), &config)?;
    let heads = write_heads(loaded, out)?;
    Ok(Exported {
        modules: factors.len(),
        rank,
        lora_alpha,
        heads,
        bytes,
    })
}

/// An integral α as a JSON integer (what peft itself writes), else a float.
fn number(x: f64) -> serde_json::Value {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

fn write_json(path: &Path, v: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(v).expect("serializable") + "\n";
    crate::core::fsutil::write_atomic(path, text.as_bytes())
}

/// `heads.safetensors` (`{i}.weight` `[classes, hidden]` as `nn.Linear` holds it, `{i}.bias`)
/// and `heads.json` (task and class names, how the heads read the hidden states).
fn write_heads(loaded: &Loaded, out: &Path) -> Result<usize> {
    if loaded.heads.is_empty() {
        return Ok(0);
    }
    let mut tensors = Vec::new();
    let mut entries = Vec::new();
    let info = loaded.meta.heads_info.as_ref();
    for (i, (task, head)) in loaded.heads.iter().enumerate() {
        let (s, w) = crate::model::weights::host(head.weight.val());
        let (_, b) = crate::model::weights::host(head.bias.val());
        let [d, c] = [s[0], s[1]];
        tensors.push((format!("{i}.weight"), vec![c, d], transposed(&w, [d, c])));
        tensors.push((format!("{i}.bias"), vec![c], b));
        let labels: Vec<String> = info
            .and_then(|h| h.labels.get(i).cloned())
            .unwrap_or_else(|| (0..c).map(|k| k.to_string()).collect());
        entries.push(json!({
            "task": task,
            "labels": labels,
            "weight": format!("{i}.weight"),
            "bias": format!("{i}.bias"),
        }));
    }
    write_f32(&out.join(HEADS), &tensors, None)?;
    let pooling = info.map(|h| h.pooling).unwrap_or_default();
    let doc = json!({
        "format": "curlora-heads",
        "version": 1,
        "reads": "the model's final hidden state (after its last norm: transformers' \
                  hidden_states[-1]) at one position per sequence; logits = h @ weight.T + bias",
        "pooling": pooling,
        "pooling_means": match pooling {
            crate::model::Pooling::LastNonPad => "the last real (non-pad) token",
            crate::model::Pooling::LastPosition => "the last position of the right-padded batch",
        },
        "max_len": info.map(|h| h.max_len),
        "pair_separator": info.and_then(|h| h.pair_separator.clone()),
        "heads": entries,
    });
    write_json(&out.join(HEADS_JSON), &doc)?;
    Ok(loaded.heads.len())
}
