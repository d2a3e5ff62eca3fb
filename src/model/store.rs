//! Saving and loading adapters (and task heads) as safetensors.
//!
//! The file holds only what was trained — each adapter's tensors as `{module}.{suffix}` (`U` as
//! `.u` for CURLoRA, `A` and `B` as `.lora_a`, `.lora_b` for LoRA; see
//! [`Adapter::tensors`](crate::adapters::Adapter::tensors)), every weight as `full.*` when the
//! method trains the base weights — plus the heads, and a JSON header (`__metadata__["curlora"]`) with everything
//! needed to rebuild the adapter exactly: method, rank, α, seed, targets, the selected indices,
//! and the SHA-256 of the base weights. Loading onto a different base model is refused.

use super::LanguageModel;
use super::head::Head;
use crate::adapters::AdapterConfig;
use crate::core::error::{Error, Result};
use crate::core::fsutil::write_atomic;
use burn::module::Param;
use burn::tensor::{Tensor, TensorData};
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The metadata stored with an adapter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdapterMeta {
    pub format_version: u32,
    pub config: AdapterConfig,
    /// SHA-256 of the base weights (see [`LanguageModel::weights_hash`]).
    pub base_hash: String,
    /// Selected `(cols, rows)` by module, for CURLoRA.
    pub indices: BTreeMap<String, (Vec<usize>, Vec<usize>)>,
    /// Task names, one per head (`head.{i}.weight`, `head.{i}.bias`).
    pub heads: Vec<String>,
    /// The last task the adapters were started on (see `Adapter::task`); loading replays the
    /// task starts up to it (O-LoRA keeps one LoRA per task).
    #[serde(default)]
    pub task: usize,
    /// What classifying new text with the heads needs (absent in files from before it was
    /// saved: `classify` then names the classes by number).
    #[serde(default)]
    pub heads_info: Option<HeadsInfo>,
}

/// How the heads read text: the encoding the run used and the names of each head's classes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeadsInfo {
    /// Class names of each head, in head order.
    pub labels: Vec<Vec<String>>,
    /// Which position's hidden state feeds the heads.
    pub pooling: super::head::Pooling,
    /// Tokens per example (longer ones are cut, as in training).
    pub max_len: usize,
    /// How a sentence pair was joined (`None`: concatenated).
    pub pair_separator: Option<String>,
}

/// Writes `model`'s trained tensors and `heads` to `path` (atomically).
pub fn save(
    path: &Path,
    model: &LanguageModel,
    config: &AdapterConfig,
    base_hash: &str,
    heads: &[(String, Head)],
) -> Result<usize> {
    save_with_info(path, model, config, base_hash, heads, None)
}

/// [`save`] with what classifying with the heads needs (label names, encoding).
pub fn save_with_info(
    path: &Path,
    model: &LanguageModel,
    config: &AdapterConfig,
    base_hash: &str,
    heads: &[(String, Head)],
    heads_info: Option<&HeadsInfo>,
) -> Result<usize> {
    let out = to_bytes(model, config, base_hash, heads, heads_info)?;
    write_atomic(path, &out)?;
    Ok(out.len())
}

/// The bytes of an adapter file (what [`save_with_info`] writes).
pub fn to_bytes(
    model: &LanguageModel,
    config: &AdapterConfig,
    base_hash: &str,
    heads: &[(String, Head)],
    heads_info: Option<&HeadsInfo>,
) -> Result<Vec<u8>> {
    crate::core::runtime::block_on(to_bytes_async(model, config, base_hash, heads, heads_info))
}

/// [`to_bytes`] with asynchronous reads (WebGPU): the task-boundary snapshots the engine
/// emits, which the app's Try-it panel loads back with [`load_bytes`].
pub async fn to_bytes_async(
    model: &LanguageModel,
    config: &AdapterConfig,
    base_hash: &str,
    heads: &[(String, Head)],
    heads_info: Option<&HeadsInfo>,
) -> Result<Vec<u8>> {
    let mut handles: Vec<(String, Tensor<2>)> = Vec::new();
    let mut indices = BTreeMap::new();
    for (name, layer) in model.modules() {
        let adapter = layer.adapter.get();
        for (suffix, p) in adapter.tensors() {
            handles.push((format!("{name}.{suffix}"), p.val()));
        }
        if let Some((cols, rows)) = adapter.indices() {
            indices.insert(name.clone(), (cols.to_vec(), rows.to_vec()));
        }
    }
    let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    for (name, t) in handles {
        let shape = t.dims().to_vec();
        tensors.push((name, shape, crate::core::runtime::read_f32(t).await?));
    }
    if config.method.trains_base() {
        for (name, s, v) in model.named_tensors() {
            tensors.push((format!("full.{name}"), s, v));
        }
    }
    for (i, (_, h)) in heads.iter().enumerate() {
        let w = h.weight.val();
        let shape = w.dims().to_vec();
        let v = crate::core::runtime::read_f32(w).await?;
        tensors.push((format!("head.{i}.weight"), shape, v));
        let n = h.classes();
        let v = crate::core::runtime::read_f32(h.bias.val()).await?;
        tensors.push((format!("head.{i}.bias"), vec![n], v));
    }
    let meta = AdapterMeta {
        format_version: 1,
        config: config.clone(),
        base_hash: base_hash.to_string(),
        indices,
        heads: heads.iter().map(|(n, _)| n.clone()).collect(),
        task: model
            .modules()
            .iter()
            .map(|(_, l)| l.adapter.get().task())
            .max()
            .unwrap_or(0),
        heads_info: heads_info.cloned(),
    };
    let mut md = HashMap::new();
    md.insert(
        "curlora".to_string(),
        serde_json::to_string(&meta).expect("serializable"),
    );
    super::weights::serialize(&tensors, Dtype::F32, Some(md))
}

/// A loaded adapter: the model with it attached, and its heads.
pub struct Loaded {
    pub model: LanguageModel,
    pub meta: AdapterMeta,
    pub heads: Vec<(String, Head)>,
}

/// The largest JSON header an adapter file may have. Ours are a few kilobytes (the config,
/// the task names and labels); the safetensors crate's own limit is 100 MB, too much to read
/// from a file picked up from the internet before it has shown it is an adapter.
pub const MAX_ADAPTER_HEADER: u64 = 16 << 20;

/// Reads the metadata of an adapter file. The header's length is checked against
/// [`MAX_ADAPTER_HEADER`] and the file's size before the file is read.
pub fn read_meta(path: &Path) -> Result<(Vec<u8>, AdapterMeta)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let size = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut prefix = [0u8; 8];
    file.read_exact(&mut prefix).map_err(|_| {
        Error::format(
            path,
            format!("{size} bytes: too short for a safetensors file"),
        )
    })?;
    check_header_len(path, u64::from_le_bytes(prefix), size)?;
    let mut data = prefix.to_vec();
    file.read_to_end(&mut data)
        .map_err(|e| Error::io(path, e))?;
    let meta = meta_of(&data, path)?;
    Ok((data, meta))
}

fn check_header_len(path: &Path, len: u64, size: u64) -> Result<()> {
    if len > MAX_ADAPTER_HEADER {
        return Err(Error::format(
            path,
            format!(
                "its JSON header claims {len} bytes, over the limit of {MAX_ADAPTER_HEADER} \
                 bytes (16 MiB) for an adapter file: not a curlora adapter"
            ),
        ));
    }
    if len.saturating_add(8) > size {
        return Err(Error::format(
            path,
            format!("its JSON header claims {len} bytes, past the end of the {size}-byte file"),
        ));
    }
    Ok(())
}

/// The metadata in adapter-file bytes (`path` names them in errors).
fn meta_of(data: &[u8], path: &Path) -> Result<AdapterMeta> {
    if let Some(prefix) = data.get(..8) {
        let len = u64::from_le_bytes(prefix.try_into().expect("8 bytes"));
        check_header_len(path, len, data.len() as u64)?;
    }
    let (_, header) = SafeTensors::read_metadata(data)
        .map_err(|e| Error::format(path, format!("not a valid safetensors file: {e}")))?;
    let raw = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("curlora"))
        .ok_or_else(|| Error::format(path, "no `curlora` metadata: not a curlora adapter file"))?;
    let meta: AdapterMeta = serde_json::from_str(raw)
        .map_err(|e| Error::format(path, format!("bad `curlora` metadata: {e}")))?;
    if meta.format_version != 1 {
        return Err(Error::format(
            path,
            format!(
                "adapter format version {} is not supported (this build reads version 1)",
                meta.format_version
            ),
        ));
    }
    Ok(meta)
}

/// Attaches the adapter in `path` to `base` (whose weights hash to `base_hash`).
pub fn load(path: &Path, base: LanguageModel, base_hash: &str) -> Result<Loaded> {
    let (data, _) = read_meta(path)?;
    load_bytes(&data, path, base, base_hash)
}

/// [`load`] from the file's bytes (`path` names them in errors).
pub fn load_bytes(
    data: &[u8],
    path: &Path,
    base: LanguageModel,
    base_hash: &str,
) -> Result<Loaded> {
    let meta = meta_of(data, path)?;
    if meta.base_hash != base_hash {
        return Err(Error::format(
            path,
            format!(
                "this adapter was trained on other base weights (SHA-256 {}…), \
                 not on this model's ({}…): refusing to load it",
                meta.base_hash.get(..12).unwrap_or(&meta.base_hash),
                base_hash.get(..12).unwrap_or(base_hash)
            ),
        ));
    }
    let st = SafeTensors::deserialize(data)
        .map_err(|e| Error::format(path, format!("not a valid safetensors file: {e}")))?;
    let device = base.device();
    let read = |key: &str, shape: &[usize]| -> Result<Tensor<2>> {
        let view = st
            .tensor(key)
            .map_err(|_| Error::tensor(path, key, "missing from the adapter file"))?;
        let s2 = if shape.len() == 1 {
            vec![1, shape[0]]
        } else {
            shape.to_vec()
        };
        if view.shape() != shape || view.dtype() != Dtype::F32 {
            return Err(Error::tensor(
                path,
                key,
                format!(
                    "{:?} {:?}, expected F32 {shape:?}",
                    view.dtype(),
                    view.shape()
                ),
            ));
        }
        let v: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Ok(Tensor::from_data(
            TensorData::new(v, [s2[0], s2[1]]),
            &device,
        ))
    };
    // Rebuilding from the same config and seed redraws the same indices; check that it did.
    let (mut model, selections) = base.with_adapters(&meta.config)?;
    for (name, sel) in &selections {
        match meta.indices.get(name) {
            Some((cols, rows)) if cols == &sel.cols && rows == &sel.rows => {}
            Some(_) => {
                return Err(Error::format(
                    path,
                    format!("module {name}: stored indices differ from the ones the seed draws"),
                ));
            }
            None => {
                return Err(Error::format(
                    path,
                    format!("module {name}: no stored indices for this CURLoRA module"),
                ));
            }
        }
    }
    if meta.config.method.trains_base() {
        let mut tensors = Vec::new();
        for (name, view) in st.tensors() {
            if let Some(n) = name.strip_prefix("full.") {
                tensors.push((n.to_string(), view));
            }
        }
        let bytes = safetensors::serialize(tensors, None)
            .map_err(|e| Error::format(path, format!("cannot read full weights: {e}")))?;
        let ckpt = crate::model::weights::Checkpoint::from_bytes(path, bytes)?;
        let full = model.with_weights(&ckpt, &device)?;
        let (mut full, _) = full.with_adapters(&meta.config)?;
        // The adapter is still tied to the base it was trained from.
        full.set_weights_hash(model.weights_hash().to_string());
        model = full;
    }
    // The adapters as they were at the last task (a fresh LoRA per task for O-LoRA), then each
    // trained tensor comes back with the shape attaching gave it.
    model.start_task(meta.task);
    for (name, layer) in model.modules_mut() {
        for (suffix, p) in layer.adapter.get_mut().tensors_mut() {
            let shape = p.shape().dims::<2>();
            // Frozen factors (O-LoRA's earlier tasks) stay frozen: training on from a loaded
            // adapter (a resumed run) must update what the uninterrupted run updates.
            let frozen = device.is_autodiff() && !p.val().is_require_grad();
            let loaded = Param::from_tensor(read(&format!("{name}.{suffix}"), &shape)?);
            *p = if frozen {
                loaded.set_require_grad(false)
            } else {
                loaded
            };
        }
    }
    let d = model.hidden_size();
    let mut heads = Vec::new();
    for (i, name) in meta.heads.iter().enumerate() {
        let key = format!("head.{i}.weight");
        let c = st
            .tensor(&key)
            .map_err(|_| Error::tensor(path, &key, "missing from the adapter file"))?
            .shape()
            .get(1)
            .copied()
            .unwrap_or(0);
        heads.push((
            name.clone(),
            Head {
                weight: Param::from_tensor(read(&key, &[d, c])?),
                bias: Param::from_tensor(read(&format!("head.{i}.bias"), &[c])?.reshape([c])),
            },
        ));
    }
    Ok(Loaded { model, meta, heads })
}
