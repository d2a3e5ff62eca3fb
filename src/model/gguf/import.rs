//! GGUF → HF-style Llama folder: config.json, model.safetensors (f32), tokenizer.json.

use super::*;

/// What [`import`] converted.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportSummary {
    /// `general.architecture`.
    pub architecture: String,
    pub n_tensors: usize,
    /// Count of tensors per ggml type name, e.g. `"Q4_1" -> 210`.
    pub types: BTreeMap<String, usize>,
    /// Total number of values over all tensors.
    pub params: usize,
}

/// Llama hyperparameters from the `llama.*` and `tokenizer.ggml.*` metadata.
#[derive(Debug, Clone)]
pub(super) struct LlamaParams {
    hidden: usize,
    intermediate: usize,
    layers: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    /// `llama.attention.key_length`, written to config.json as `head_dim` when set.
    key_length: Option<usize>,
    context: usize,
    rms_eps: f64,
    rope_theta: f64,
    vocab: usize,
    tied: bool,
    bos: Option<u64>,
    eos: Option<u64>,
    pad: Option<u64>,
}

impl LlamaParams {
    fn from_gguf(file: &GgufFile) -> Result<Self> {
        let count = |key: &str| -> Result<usize> {
            let v = file.get_u64(key)?;
            usize::try_from(v)
                .ok()
                .filter(|&v| v > 0)
                .ok_or_else(|| file.field_error(key, format!("is {v}, expected a positive count")))
        };
        reject_unsupported_llama_variants(file)?;
        let hidden = count("llama.embedding_length")?;
        let heads = count("llama.attention.head_count")?;
        let kv_heads = match file.get("llama.attention.head_count_kv") {
            Some(_) => count("llama.attention.head_count_kv")?,
            None => heads,
        };
        let key_length = match file.get("llama.attention.key_length") {
            Some(_) => Some(count("llama.attention.key_length")?),
            None => None,
        };
        let head_dim = key_length.unwrap_or(hidden / heads);
        check_heads(
            file,
            hidden,
            heads,
            kv_heads,
            head_dim,
            key_length.is_some(),
        )?;
        Ok(Self {
            hidden,
            intermediate: count("llama.feed_forward_length")?,
            layers: count("llama.block_count")?,
            heads,
            kv_heads,
            head_dim,
            key_length,
            context: count("llama.context_length")?,
            rms_eps: file.get_f64("llama.attention.layer_norm_rms_epsilon")?,
            // llama.cpp's default when the converter left it out.
            rope_theta: file.opt_f64("llama.rope.freq_base")?.unwrap_or(10000.0),
            vocab: vocab_size(file)?,
            tied: file.tensor("output.weight").is_none(),
            bos: file.opt_u64("tokenizer.ggml.bos_token_id")?,
            eos: file.opt_u64("tokenizer.ggml.eos_token_id")?,
            pad: file.opt_u64("tokenizer.ggml.padding_token_id")?,
        })
    }

    fn config_json(&self) -> serde_json::Value {
        let mut c = serde_json::json!({
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "hidden_act": "silu",
            "hidden_size": self.hidden,
            "intermediate_size": self.intermediate,
            "num_hidden_layers": self.layers,
            "num_attention_heads": self.heads,
            "num_key_value_heads": self.kv_heads,
            "max_position_embeddings": self.context,
            "rms_norm_eps": self.rms_eps,
            "rope_theta": self.rope_theta,
            "rope_scaling": null,
            "attention_bias": false,
            "mlp_bias": false,
            "vocab_size": self.vocab,
            "tie_word_embeddings": self.tied,
            "torch_dtype": "float32",
        });
        let extra = [
            ("bos_token_id", self.bos),
            ("eos_token_id", self.eos),
            ("pad_token_id", self.pad),
            ("head_dim", self.key_length.map(|v| v as u64)),
        ];
        for (key, value) in extra {
            if let Some(v) = value {
                c[key] = v.into();
            }
        }
        c
    }
}

/// Refuses Llama variants whose HF equivalent needs more than the plain config we write:
/// mixture of experts, scaled or partial RoPE.
pub(super) fn reject_unsupported_llama_variants(file: &GgufFile) -> Result<()> {
    if file.opt_u64("llama.expert_count")?.unwrap_or(0) > 0 {
        return Err(file.field_error(
            "llama.expert_count",
            "is set: mixture-of-experts models are not supported",
        ));
    }
    if let Some(kind) = file.opt_str("llama.rope.scaling.type")?
        && kind != "none"
    {
        return Err(file.field_error(
            "llama.rope.scaling.type",
            format!("is `{kind}`: scaled RoPE is not supported"),
        ));
    }
    if file.tensor("rope_freqs.weight").is_some() {
        return Err(Error::tensor(
            &file.path,
            "rope_freqs.weight",
            "Llama 3.1-style RoPE frequency scaling is not supported",
        ));
    }
    Ok(())
}

pub(super) fn check_heads(
    file: &GgufFile,
    hidden: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    explicit_head_dim: bool,
) -> Result<()> {
    if !explicit_head_dim && !hidden.is_multiple_of(heads) {
        return Err(file.field_error(
            "llama.attention.head_count",
            format!("is {heads}, which does not divide llama.embedding_length {hidden}"),
        ));
    }
    if !heads.is_multiple_of(kv_heads) {
        return Err(file.field_error(
            "llama.attention.head_count_kv",
            format!("is {kv_heads}, which does not divide llama.attention.head_count {heads}"),
        ));
    }
    if !head_dim.is_multiple_of(2) {
        return Err(file.field_error(
            "llama.attention.head_count",
            format!("gives an odd head size {head_dim}; RoPE needs an even one"),
        ));
    }
    if let Some(rot) = file.opt_u64("llama.rope.dimension_count")?
        && rot != head_dim as u64
    {
        return Err(file.field_error(
            "llama.rope.dimension_count",
            format!("is {rot}, but partial RoPE is not supported (head size {head_dim})"),
        ));
    }
    Ok(())
}

/// `llama.vocab_size` when present, else the rows of the embedding (converters before 2024
/// did not write the key).
pub(super) fn vocab_size(file: &GgufFile) -> Result<usize> {
    if let Some(v) = file.opt_u64("llama.vocab_size")? {
        return Ok(v as usize);
    }
    let embed = file
        .tensor("token_embd.weight")
        .ok_or_else(|| Error::tensor(&file.path, "token_embd.weight", "missing from the file"))?;
    Ok(embed.shape().first().copied().unwrap_or(0))
}

/// Where a GGUF llama tensor goes in the HF checkpoint.
pub(super) struct Target {
    hf_name: String,
    shape: Vec<usize>,
    /// For Q and K: the head count whose permutation to undo.
    unpermute_heads: Option<usize>,
}

/// The HF name and expected shape of GGUF tensor `name`; None for names a plain Llama does
/// not have.
pub(super) fn target(name: &str, p: &LlamaParams) -> Option<Target> {
    let t = |hf: &str, shape: Vec<usize>| Target {
        hf_name: hf.to_string(),
        shape,
        unpermute_heads: None,
    };
    match name {
        "token_embd.weight" => {
            return Some(t("model.embed_tokens.weight", vec![p.vocab, p.hidden]));
        }
        "output_norm.weight" => return Some(t("model.norm.weight", vec![p.hidden])),
        "output.weight" => return Some(t("lm_head.weight", vec![p.vocab, p.hidden])),
        _ => {}
    }
    let (layer, part) = name.strip_prefix("blk.")?.split_once('.')?;
    let n: usize = layer.parse().ok()?;
    if n >= p.layers || n.to_string() != layer {
        return None;
    }
    let (q, kv) = (p.heads * p.head_dim, p.kv_heads * p.head_dim);
    let (hf, shape, heads) = match part {
        "attn_norm.weight" => ("input_layernorm", vec![p.hidden], None),
        "attn_q.weight" => ("self_attn.q_proj", vec![q, p.hidden], Some(p.heads)),
        "attn_k.weight" => ("self_attn.k_proj", vec![kv, p.hidden], Some(p.kv_heads)),
        "attn_v.weight" => ("self_attn.v_proj", vec![kv, p.hidden], None),
        "attn_output.weight" => ("self_attn.o_proj", vec![p.hidden, q], None),
        "ffn_norm.weight" => ("post_attention_layernorm", vec![p.hidden], None),
        "ffn_gate.weight" => ("mlp.gate_proj", vec![p.intermediate, p.hidden], None),
        "ffn_up.weight" => ("mlp.up_proj", vec![p.intermediate, p.hidden], None),
        "ffn_down.weight" => ("mlp.down_proj", vec![p.hidden, p.intermediate], None),
        _ => return None,
    };
    Some(Target {
        hf_name: format!("model.layers.{n}.{hf}.weight"),
        shape,
        unpermute_heads: heads,
    })
}

/// GGUF names every Llama file must have (`output.weight` is optional: absent means tied).
pub(super) fn required_tensors(layers: usize) -> impl Iterator<Item = String> {
    const PER_LAYER: [&str; 9] = [
        "attn_norm",
        "attn_q",
        "attn_k",
        "attn_v",
        "attn_output",
        "ffn_norm",
        "ffn_gate",
        "ffn_up",
        "ffn_down",
    ];
    // Lazy, so that a header claiming 10⁸ layers costs nothing until a name is missing (a
    // fuzzed GGUF once made the import list gigabytes of names before checking one).
    ["token_embd.weight", "output_norm.weight"]
        .into_iter()
        .map(str::to_string)
        .chain((0..layers).flat_map(|n| {
            PER_LAYER
                .iter()
                .map(move |part| format!("blk.{n}.{part}.weight"))
        }))
}

/// One converted tensor: HF name, shape, little-endian f32 bytes.
pub(super) struct Converted {
    name: String,
    shape: Vec<usize>,
    data: Vec<u8>,
}

pub(super) fn convert_tensor(
    file: &GgufFile,
    info: &TensorInfo,
    target: &Target,
) -> Result<Converted> {
    let (shape, mut values) = file.read_f32(&info.name)?;
    if shape != target.shape {
        return Err(Error::tensor(
            &file.path,
            &info.name,
            format!(
                "shape {shape:?} (HF order), expected {:?} from the llama.* metadata",
                target.shape
            ),
        ));
    }
    if let Some(heads) = target.unpermute_heads {
        values = unpermute_qk(&values, shape[0], shape[1], heads)
            .map_err(|e| Error::tensor(&file.path, &info.name, e))?;
    }
    Ok(Converted {
        name: target.hf_name.clone(),
        shape,
        data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    })
}

pub(super) fn convert_tensors(
    file: &GgufFile,
    p: &LlamaParams,
) -> Result<(Vec<Converted>, ImportSummary)> {
    for name in required_tensors(p.layers) {
        if file.tensor(&name).is_none() {
            let why = if name.starts_with("blk.") {
                format!(
                    "missing from the file (`llama.block_count` is {}: is the count right?)",
                    p.layers
                )
            } else {
                "missing from the file".to_string()
            };
            return Err(Error::tensor(&file.path, &name, why));
        }
    }
    let mut summary = ImportSummary {
        architecture: "llama".into(),
        n_tensors: 0,
        types: BTreeMap::new(),
        params: 0,
    };
    let mut out = Vec::with_capacity(file.tensors().len());
    for info in file.tensors() {
        let target = target(&info.name, p).ok_or_else(|| {
            Error::tensor(
                &file.path,
                &info.name,
                format!(
                    "has no counterpart in an HF Llama with {} layers; cannot import it",
                    p.layers
                ),
            )
        })?;
        let converted = convert_tensor(file, info, &target)?;
        summary.n_tensors += 1;
        *summary.types.entry(info.type_name()).or_default() += 1;
        summary.params += converted.shape.iter().product::<usize>();
        out.push(converted);
    }
    Ok((out, summary))
}

pub(super) fn safetensors_bytes(path: &Path, tensors: &[Converted]) -> Result<Vec<u8>> {
    let error =
        |e: safetensors::SafeTensorError| Error::format(path, format!("cannot serialize: {e}"));
    let views = tensors
        .iter()
        .map(|t| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, t.shape.clone(), &t.data)
                .map(|v| (t.name.as_str(), v))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(error)?;
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize(views, Some(metadata)).map_err(error)
}

/// Converts a Llama GGUF into an HF-style folder: `model.safetensors` (F32, HF key names, Q/K
/// rows un-permuted), `tokenizer.json` and `config.json`.
///
/// Each file is written atomically, and `config.json` last, so that a folder with a
/// `config.json` is complete even if an earlier import was interrupted.
pub fn import(gguf: &Path, out_dir: &Path) -> Result<ImportSummary> {
    let file = GgufFile::open(gguf)?;
    let arch = file.get_str("general.architecture")?;
    if arch != "llama" {
        return Err(file.field_error(
            "general.architecture",
            format!("is `{arch}`; only `llama` (Llama, SmolLM, Mistral-style) can be imported"),
        ));
    }
    let params = LlamaParams::from_gguf(&file)?;
    let tokenizer = tokenizer(&file)?;
    let (tensors, summary) = convert_tensors(&file, &params)?;
    drop(file);

    let weights_path = out_dir.join("model.safetensors");
    let bytes = safetensors_bytes(&weights_path, &tensors)?;
    drop(tensors);
    write_atomic(&weights_path, &bytes)?;
    drop(bytes);

    let tokenizer_path = out_dir.join("tokenizer.json");
    let json = tokenizer.to_string(false).map_err(|e| {
        Error::format(
            &tokenizer_path,
            format!("cannot serialize the tokenizer: {e}"),
        )
    })?;
    write_atomic(&tokenizer_path, json.as_bytes())?;

    let config_path = out_dir.join("config.json");
    let config = serde_json::to_string_pretty(&params.config_json())
        .map_err(|e| Error::format(&config_path, format!("cannot serialize: {e}")))?;
    write_atomic(&config_path, config.as_bytes())?;
    Ok(summary)
}
