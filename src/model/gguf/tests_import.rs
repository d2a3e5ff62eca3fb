//! GGUF tests: building the tokenizer and importing into an HF folder.

use super::tests::{GgufWriter, path, permute_qk, strs};
use super::*;

/// A byte-level vocabulary small enough to check by hand: " a", "ab" and "12" are merges, in
/// that order of priority.
fn tokenizer_kvs(w: GgufWriter, pre: &str) -> GgufWriter {
    let tokens = ["<|endoftext|>", "a", "b", "ab", "Ġ", "Ġa", "1", "2", "12"];
    w.kv("tokenizer.ggml.model", MetaValue::Str("gpt2".into()))
        .kv("tokenizer.ggml.pre", MetaValue::Str(pre.into()))
        .kv("tokenizer.ggml.tokens", strs(&tokens))
        .kv(
            "tokenizer.ggml.token_type",
            MetaValue::Array([3, 1, 1, 1, 1, 1, 1, 1, 1].map(MetaValue::I32).to_vec()),
        )
        .kv("tokenizer.ggml.merges", strs(&["Ġ a", "a b", "1 2"]))
        .kv("tokenizer.ggml.bos_token_id", MetaValue::U32(0))
        .kv("tokenizer.ggml.eos_token_id", MetaValue::U32(0))
}

fn encode(tok: &Tokenizer, text: &str) -> Vec<u32> {
    tok.encode(text, false).unwrap().get_ids().to_vec()
}

#[test]
fn builds_a_byte_level_bpe_tokenizer() {
    let bytes = tokenizer_kvs(GgufWriter::new(), "smollm").bytes();
    let tok = tokenizer(&GgufFile::from_bytes(path(), bytes).unwrap()).unwrap();
    // "ab" merges; " ab" becomes Ġa + b; digits split before BPE, so "12" never merges;
    // the control token is matched whole, and no BOS is added.
    let ids = encode(&tok, "ab ab12<|endoftext|>");
    assert_eq!(ids, vec![3, 5, 2, 6, 7, 0]);
    assert_eq!(tok.decode(&ids, false).unwrap(), "ab ab12<|endoftext|>");
    assert_eq!(tok.decode(&ids, true).unwrap(), "ab ab12");

    let bytes = tokenizer_kvs(GgufWriter::new(), "gpt-2").bytes();
    let tok = tokenizer(&GgufFile::from_bytes(path(), bytes).unwrap()).unwrap();
    assert_eq!(encode(&tok, "ab12"), vec![3, 8]);
}

#[test]
fn refuses_tokenizers_it_cannot_reproduce() {
    let bytes = tokenizer_kvs(GgufWriter::new(), "llama-bpe").bytes();
    let err = tokenizer(&GgufFile::from_bytes(path(), bytes).unwrap()).unwrap_err();
    let err = err.to_string();
    assert!(
        err.contains("tokenizer.ggml.pre") && err.contains("smollm"),
        "{err}"
    );

    let w = GgufWriter::new().kv("tokenizer.ggml.model", MetaValue::Str("llama".into()));
    let err = tokenizer(&GgufFile::from_bytes(path(), w.bytes()).unwrap()).unwrap_err();
    let err = err.to_string();
    assert!(
        err.contains("tokenizer.ggml.model") && err.contains("gpt2"),
        "{err}"
    );
}

/// Deterministic, distinct weights for a tensor of `n` values.
fn weights(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7 + seed * 13) % 29) as f32 / 8.0 - 1.5)
        .collect()
}

#[test]
fn imports_a_tiny_llama_into_an_hf_folder() {
    let (hidden, heads, kv_heads, inter, vocab) = (8usize, 2usize, 1usize, 6usize, 9usize);
    let head_dim = hidden / heads;
    let mut w = tokenizer_kvs(GgufWriter::new(), "smollm")
        .kv("general.architecture", MetaValue::Str("llama".into()))
        .kv("llama.block_count", MetaValue::U32(1))
        .kv("llama.context_length", MetaValue::U32(64))
        .kv("llama.embedding_length", MetaValue::U32(hidden as u32))
        .kv("llama.feed_forward_length", MetaValue::U32(inter as u32))
        .kv("llama.attention.head_count", MetaValue::U32(heads as u32))
        .kv(
            "llama.attention.head_count_kv",
            MetaValue::U32(kv_heads as u32),
        )
        .kv(
            "llama.attention.layer_norm_rms_epsilon",
            MetaValue::F32(1e-5),
        )
        .kv("llama.rope.freq_base", MetaValue::F32(100000.0));
    // (GGUF name, HF shape, permuted heads) of every tensor, untied.
    let q_rows = heads * head_dim;
    let kv_rows = kv_heads * head_dim;
    let specs: Vec<(&str, Vec<usize>, Option<usize>)> = vec![
        ("token_embd.weight", vec![vocab, hidden], None),
        ("blk.0.attn_norm.weight", vec![hidden], None),
        ("blk.0.attn_q.weight", vec![q_rows, hidden], Some(heads)),
        ("blk.0.attn_k.weight", vec![kv_rows, hidden], Some(kv_heads)),
        ("blk.0.attn_v.weight", vec![kv_rows, hidden], None),
        ("blk.0.attn_output.weight", vec![hidden, q_rows], None),
        ("blk.0.ffn_norm.weight", vec![hidden], None),
        ("blk.0.ffn_gate.weight", vec![inter, hidden], None),
        ("blk.0.ffn_up.weight", vec![inter, hidden], None),
        ("blk.0.ffn_down.weight", vec![hidden, inter], None),
        ("output_norm.weight", vec![hidden], None),
        ("output.weight", vec![vocab, hidden], None),
    ];
    let mut originals = Vec::new();
    for (seed, (name, shape, heads)) in specs.iter().enumerate() {
        let hf = weights(shape.iter().product(), seed);
        let stored = match heads {
            Some(h) => permute_qk(&hf, shape[0], shape[1], *h),
            None => hf.clone(),
        };
        let dims: Vec<u64> = shape.iter().rev().map(|&d| d as u64).collect();
        w = w.f32_tensor(name, &dims, &stored);
        originals.push(hf);
    }
    let dir = std::env::temp_dir().join(format!("curlora-gguf-import-{}", std::process::id()));
    let gguf = dir.join("tiny.gguf");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&gguf, w.bytes()).unwrap();
    let out = dir.join("hf");

    let summary = import(&gguf, &out).unwrap();
    assert_eq!(summary.architecture, "llama");
    assert_eq!(summary.n_tensors, 12);
    assert_eq!(summary.types, BTreeMap::from([("F32".to_string(), 12)]));

    let st_bytes = std::fs::read(out.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&st_bytes).unwrap();
    assert_eq!(st.names().len(), 12);
    let q = st.tensor("model.layers.0.self_attn.q_proj.weight").unwrap();
    assert_eq!(q.shape(), [q_rows, hidden]);
    let q: Vec<f32> = q
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(q, originals[2]);
    let k = st.tensor("model.layers.0.self_attn.k_proj.weight").unwrap();
    let k: Vec<f32> = k
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(k, originals[3]);
    assert_eq!(
        st.tensor("lm_head.weight").unwrap().shape(),
        [vocab, hidden]
    );

    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["model_type"], "llama");
    assert_eq!(config["num_key_value_heads"], 1);
    assert_eq!(config["rms_norm_eps"], 1e-5);
    assert_eq!(config["rope_theta"], 100000.0);
    assert_eq!(config["vocab_size"], 9);
    assert_eq!(config["tie_word_embeddings"], false);
    assert_eq!(config["bos_token_id"], 0);
    assert!(config.get("head_dim").is_none());

    let tok = crate::model::load_tokenizer(&out).unwrap();
    assert_eq!(encode(&tok, "ab ab12<|endoftext|>"), vec![3, 5, 2, 6, 7, 0]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn import_names_a_missing_tensor() {
    let w = tokenizer_kvs(GgufWriter::new(), "smollm")
        .kv("general.architecture", MetaValue::Str("llama".into()))
        .kv("llama.block_count", MetaValue::U32(1))
        .kv("llama.context_length", MetaValue::U32(64))
        .kv("llama.embedding_length", MetaValue::U32(8))
        .kv("llama.feed_forward_length", MetaValue::U32(6))
        .kv("llama.attention.head_count", MetaValue::U32(2))
        .kv(
            "llama.attention.layer_norm_rms_epsilon",
            MetaValue::F32(1e-5),
        )
        .f32_tensor("token_embd.weight", &[8, 9], &[0.0; 72]);
    let dir = std::env::temp_dir().join(format!("curlora-gguf-missing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let gguf = dir.join("partial.gguf");
    std::fs::write(&gguf, w.bytes()).unwrap();
    let err = import(&gguf, &dir.join("hf")).unwrap_err().to_string();
    assert!(
        err.contains("partial.gguf") && err.contains("output_norm.weight"),
        "{err}"
    );
    assert!(!dir.join("hf").join("config.json").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
