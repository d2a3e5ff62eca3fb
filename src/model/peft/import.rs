//! `curlora import-peft`: a LoRA adapter made by HF PEFT, for a GPT-2 or Llama-family base, as
//! our [`Lora`] — so it can be evaluated, trained further and shown like any adapter here.
//!
//! What a plain LoRA is in PEFT is supported: any `r` and `lora_alpha`, rsLoRA's `α/√r`, any
//! set of the family's linear modules. What changes the computation beyond `W + s·B·A` is
//! refused by name: DoRA, trained biases, per-module ranks or α (`rank_pattern`,
//! `alpha_pattern`), a subset of layers, extra trained modules (`modules_to_save`), embedding
//! LoRAs, and other PEFT types.

use super::{KEY_PREFIX, transposed};
use crate::adapters::lora::Lora;
use crate::adapters::{AdapterConfig, LoraScaling, Method};
use crate::core::error::{Error, Result};
use crate::model::LanguageModel;
use burn::module::Param;
use burn::tensor::{Tensor, TensorData};
use safetensors::SafeTensors;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// A PEFT adapter read into our LoRA: the model with it attached and the config it saves with.
pub struct Imported {
    pub model: LanguageModel,
    pub config: AdapterConfig,
    pub modules: usize,
    /// What `base_model_name_or_path` said (informational).
    pub base_name: Option<String>,
}

/// The settings of `adapter_config.json` this import reads.
struct PeftSettings {
    rank: usize,
    alpha: f64,
    rslora: bool,
    base_name: Option<String>,
}

fn settings(path: &Path) -> Result<PeftSettings> {
    let text = crate::core::fsutil::read_to_string(path)?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| Error::format(path, format!("not valid JSON: {e}")))?;
    let bad = |field: &str, what: String| Error::format(path, format!("`{field}`: {what}"));
    let peft_type = v.get("peft_type").and_then(Value::as_str).unwrap_or("");
    if peft_type != "LORA" {
        return Err(bad(
            "peft_type",
            format!("is `{peft_type}`; only LORA adapters are supported"),
        ));
    }
    let truthy = |f: &str| v.get(f).and_then(Value::as_bool).unwrap_or(false);
    for (field, what) in [
        ("use_dora", "DoRA (a learned magnitude per column)"),
        ("lora_bias", "a trained bias on lora_B"),
    ] {
        if truthy(field) {
            return Err(bad(
                field,
                format!("{what} is not supported; plain LoRA is"),
            ));
        }
    }
    if let Some(b) = v.get("bias").and_then(Value::as_str)
        && b != "none"
    {
        return Err(bad(
            "bias",
            format!("is `{b}`: trained base biases are not supported; only `none` is"),
        ));
    }
    for field in ["rank_pattern", "alpha_pattern"] {
        if v.get(field)
            .and_then(Value::as_object)
            .is_some_and(|m| !m.is_empty())
        {
            return Err(bad(
                field,
                "per-module ranks or α are not supported; one `r` and `lora_alpha` for all is"
                    .into(),
            ));
        }
    }
    for field in ["modules_to_save", "layers_to_transform", "layers_pattern"] {
        let set = match v.get(field) {
            None | Some(Value::Null) => false,
            Some(Value::Array(a)) => !a.is_empty(),
            Some(_) => true,
        };
        if set {
            return Err(bad(
                field,
                "is set: only adapters on every layer's targeted linear modules, with nothing \
                 else trained, are supported"
                    .into(),
            ));
        }
    }
    let rank =
        v.get("r")
            .and_then(Value::as_u64)
            .filter(|&r| r > 0)
            .ok_or_else(|| bad("r", "missing or not a positive integer".into()))? as usize;
    let alpha = v
        .get("lora_alpha")
        .and_then(Value::as_f64)
        .ok_or_else(|| bad("lora_alpha", "missing or not a number".into()))?;
    Ok(PeftSettings {
        rank,
        alpha,
        rslora: truthy("use_rslora"),
        base_name: v
            .get("base_model_name_or_path")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// The module suffix our adapter configs name (`attn.c_attn`, `q_proj`) for a module path.
fn target_of(model: &LanguageModel, path: &str) -> String {
    match model.family() {
        crate::model::Family::Gpt2 => path.splitn(3, '.').nth(2).unwrap_or(path).to_string(),
        crate::model::Family::Llama => path.rsplit('.').next().unwrap_or(path).to_string(),
    }
}

/// Reads the PEFT adapter in `dir` onto `base` (checked against its module names and shapes).
pub fn import(dir: &Path, base: LanguageModel, seed: u64) -> Result<Imported> {
    let cfg_path = dir.join(super::export::CONFIG);
    let s = settings(&cfg_path)?;
    let st_path = dir.join(super::export::WEIGHTS);
    if !st_path.exists() && dir.join("adapter_model.bin").exists() {
        return Err(Error::format(
            &dir.join("adapter_model.bin"),
            "pickled PyTorch weights are not read (they can run code): save the adapter with \
             safe_serialization=True (peft's default) to get adapter_model.safetensors",
        ));
    }
    let data = crate::core::fsutil::read(&st_path)?;
    let st = SafeTensors::deserialize(&data)
        .map_err(|e| Error::format(&st_path, format!("not a valid safetensors file: {e}")))?;
    // Module path → (A, B) keys, every key accounted for.
    let prefix = format!("{KEY_PREFIX}{}", base.hf_prefix());
    let mut pairs: BTreeMap<String, [Option<String>; 2]> = BTreeMap::new();
    // In name order, so that an error names the same key every time.
    let mut names = st.names();
    names.sort();
    for name in names {
        let rest = name
            .strip_prefix(&prefix)
            .or_else(|| name.strip_prefix(KEY_PREFIX));
        let found = rest.and_then(|r| {
            r.strip_suffix(".lora_A.weight")
                .map(|m| (m, 0))
                .or_else(|| r.strip_suffix(".lora_B.weight").map(|m| (m, 1)))
        });
        let Some((module, i)) = found else {
            return Err(Error::tensor(
                &st_path,
                name,
                format!(
                    "not a LoRA factor of a linear module (expected \
                     {prefix}<module>.lora_A.weight / .lora_B.weight; embedding LoRAs, DoRA \
                     magnitudes and trained biases are not supported)"
                ),
            ));
        };
        base.module(module).map_err(|e| {
            Error::tensor(&st_path, name, format!("no such module in this model: {e}"))
        })?;
        pairs.entry(module.to_string()).or_default()[i] = Some(name.to_string());
    }
    if pairs.is_empty() {
        return Err(Error::format(&st_path, "holds no LoRA factors"));
    }
    let mut targets: Vec<String> = pairs.keys().map(|m| target_of(&base, m)).collect();
    targets.sort();
    targets.dedup();
    // Our Lora scales by α/r (PEFT) — rsLoRA's α/√r is the same with α·√r.
    let alpha = if s.rslora {
        s.alpha * (s.rank as f64).sqrt()
    } else {
        s.alpha
    };
    let mut config = AdapterConfig::new(Method::Lora, s.rank, seed);
    config.alpha = alpha;
    config.targets = targets;
    config.lora_scaling = LoraScaling::Peft;
    let (mut model, _) = base.with_adapters(&config)?;
    let device = model.device();
    let read = |key: &str, shape: [usize; 2]| -> Result<Vec<f32>> {
        let view = st.tensor(key).expect("listed");
        if view.shape() != shape {
            return Err(Error::tensor(
                &st_path,
                key,
                format!(
                    "shape {:?}, expected {shape:?} (r = {})",
                    view.shape(),
                    s.rank
                ),
            ));
        }
        crate::model::weights::to_f32(view.dtype(), view.data()).ok_or_else(|| {
            Error::tensor(
                &st_path,
                key,
                format!("dtype {:?}, expected F32, F16 or BF16", view.dtype()),
            )
        })
    };
    let mut modules = 0;
    for (path, layer) in model.modules_mut() {
        let [n_in, n_out] = layer.shape();
        let Some(lora) = layer.adapter_as_mut::<Lora>() else {
            continue;
        };
        let Some([Some(ka), Some(kb)]) = pairs.get(&path) else {
            return Err(Error::format(
                &st_path,
                format!(
                    "module {path} is a target ({}) but its lora_A and lora_B are not both in \
                     the file: adapters on only some layers are not supported",
                    target_of_path(&path)
                ),
            ));
        };
        let a = read(ka, [s.rank, n_in])?;
        let b = read(kb, [n_out, s.rank])?;
        // Our factors are the transposes, `[in, r]` and `[r, out]`, trained in f32.
        let f32 = crate::core::dtype::F32(&device);
        let t = |v: Vec<f32>, shape: [usize; 2]| {
            Param::from_tensor(Tensor::<2>::from_data(
                TensorData::new(v, shape),
                f32.clone(),
            ))
        };
        lora.a = t(transposed(&a, [s.rank, n_in]), [n_in, s.rank]);
        lora.b = t(transposed(&b, [n_out, s.rank]), [s.rank, n_out]);
        modules += 1;
    }
    Ok(Imported {
        model,
        config,
        modules,
        base_name: s.base_name,
    })
}

fn target_of_path(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}
