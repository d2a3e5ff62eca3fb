//! The tokenizer of a GGUF file, from its `tokenizer.ggml.*` metadata.

use super::*;

/// Builds the tokenizer described by the `tokenizer.ggml.*` metadata.
///
/// Only `gpt2` (byte-level BPE) vocabularies convert exactly: the pre-tokenizer is GPT-2's
/// ByteLevel regex, preceded by a split into single digits for the `tokenizer.ggml.pre` families
/// that llama.cpp gives the `\p{N}` rule (SmolLM, StarCoder, …), which is the
/// `Sequence[Digits(individual_digits), ByteLevel]` of their HF `tokenizer.json`. Control tokens
/// (token_type 3) become special added tokens and user-defined ones (4) plain added tokens, as
/// the HF converter had them. No BOS is added: the GGUF says whether to add one
/// (`tokenizer.ggml.add_bos_token`), and our callers add what they need themselves.
pub fn tokenizer(file: &GgufFile) -> Result<Tokenizer> {
    let model = file.get_str("tokenizer.ggml.model")?;
    if model != "gpt2" {
        return Err(file.field_error(
            "tokenizer.ggml.model",
            format!(
                "is `{model}`; only `gpt2` (byte-level BPE) is supported, \
                 not SentencePiece (`llama`) or other vocabularies"
            ),
        ));
    }
    let split_digits = splits_digits(file)?;
    let tokens = string_array(file, "tokenizer.ggml.tokens")?;
    let merges = merges(file)?;
    let mut vocab = Vocab::default();
    for (id, token) in tokens.iter().enumerate() {
        vocab.entry(token.to_string()).or_insert(id as u32);
    }
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| {
            file.field_error(
                "tokenizer.ggml.merges",
                format!("do not fit the vocabulary: {e}"),
            )
        })?;
    let mut tok = Tokenizer::new(bpe);
    tok.with_pre_tokenizer(Some(pre_tokenizer(split_digits)));
    // As in the HF files: offsets keep the leading space, decoding maps bytes back.
    tok.with_post_processor(Some(ByteLevel::new(true, false, true)));
    tok.with_decoder(Some(ByteLevel::default()));
    add_added_tokens(file, &tokens, &mut tok)?;
    Ok(tok)
}

/// Whether `tokenizer.ggml.pre` names a family that splits numbers into single digits; other
/// pre-tokenizers (Llama 3, Qwen, …) use regexes we cannot reproduce, so they are refused
/// rather than tokenized slightly wrong.
pub(super) fn splits_digits(file: &GgufFile) -> Result<bool> {
    const DIGITS: [&str; 7] = [
        "smollm",
        "starcoder",
        "refact",
        "command-r",
        "codeshell",
        "exaone",
        "minerva-7b",
    ];
    match file.opt_str("tokenizer.ggml.pre")? {
        Some("gpt-2") => Ok(false),
        Some(pre) if DIGITS.contains(&pre) => Ok(true),
        other => Err(file.field_error(
            "tokenizer.ggml.pre",
            format!(
                "is {}; supported: gpt-2, {}",
                other.map_or("missing".to_string(), |p| format!("`{p}`")),
                DIGITS.join(", ")
            ),
        )),
    }
}

pub(super) fn pre_tokenizer(split_digits: bool) -> PreTokenizerWrapper {
    let byte_level = ByteLevel::new(false, true, true);
    if split_digits {
        PreTokenizerWrapper::Sequence(Sequence::new(vec![
            PreTokenizerWrapper::Digits(Digits::new(true)),
            PreTokenizerWrapper::ByteLevel(byte_level),
        ]))
    } else {
        PreTokenizerWrapper::ByteLevel(byte_level)
    }
}

pub(super) fn string_array<'a>(file: &'a GgufFile, key: &str) -> Result<Vec<&'a str>> {
    file.get_array(key)?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_str().ok_or_else(|| {
                file.field_error(
                    key,
                    format!("element {i} is {}, expected a string", v.type_name()),
                )
            })
        })
        .collect()
}

/// `tokenizer.ggml.merges`: "left right" pairs, highest priority first. Byte-level tokens never
/// contain a plain space, so the first space separates the pair.
pub(super) fn merges(file: &GgufFile) -> Result<Vec<(String, String)>> {
    let key = "tokenizer.ggml.merges";
    string_array(file, key)?
        .iter()
        .enumerate()
        .map(|(i, m)| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| {
                    file.field_error(
                        key,
                        format!("element {i} `{m}` is not two tokens split by a space"),
                    )
                })
        })
        .collect()
}

pub(super) fn add_added_tokens(
    file: &GgufFile,
    tokens: &[&str],
    tok: &mut Tokenizer,
) -> Result<()> {
    const CONTROL: i64 = 3;
    const USER_DEFINED: i64 = 4;
    let key = "tokenizer.ggml.token_type";
    if file.get(key).is_none() {
        return Ok(());
    }
    let types = file.get_array(key)?;
    if types.len() != tokens.len() {
        return Err(file.field_error(
            key,
            format!(
                "has {} entries, expected one per token ({})",
                types.len(),
                tokens.len()
            ),
        ));
    }
    let mut special = Vec::new();
    let mut added = Vec::new();
    for (i, (t, token)) in types.iter().zip(tokens).enumerate() {
        match t.as_i64() {
            Some(CONTROL) => special.push(AddedToken::from(token.to_string(), true)),
            Some(USER_DEFINED) => added.push(AddedToken::from(token.to_string(), false)),
            Some(_) => {}
            None => {
                return Err(file.field_error(
                    key,
                    format!("element {i} is {}, expected an integer", t.type_name()),
                ));
            }
        }
    }
    tok.add_special_tokens(&special);
    tok.add_tokens(&added);
    Ok(())
}
