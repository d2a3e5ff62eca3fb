//! Class probabilities of new texts under a trained head: what `curlora classify` prints and
//! the app's Try-it panel shows, computed exactly as evaluation does (same encoding, same
//! pooling, batched by length).

use super::batch::{Batch, Encoded};
use crate::core::error::{Error, Result};
use crate::data::{Example, PairEncoding};
use crate::model::{Head, LanguageModel, Pooling};

/// How texts become head inputs: what a run's adapter file records ([`HeadsInfo`]).
///
/// [`HeadsInfo`]: crate::model::store::HeadsInfo
#[derive(Clone, Debug)]
pub struct Reading {
    pub max_len: usize,
    pub pair: PairEncoding,
    pub pooling: Pooling,
}

impl Reading {
    /// What an adapter file records; files from before it was saved read texts as the
    /// defaults do (128 tokens, pairs concatenated, the last real token).
    pub fn from_info(info: Option<&crate::model::store::HeadsInfo>) -> Self {
        Self {
            max_len: info.map_or(128, |i| i.max_len),
            pair: match info.and_then(|i| i.pair_separator.clone()) {
                None => PairEncoding::Concat,
                Some(s) => PairEncoding::Separator(s),
            },
            pooling: info.map(|i| i.pooling).unwrap_or_default(),
        }
    }
}

/// Token ids of each `(text, second text)` as training encoded its examples: joined as `pair`
/// says, no special tokens, cut to `max_len`, an empty text read as one pad token.
pub fn encode_texts(
    tokenizer: &tokenizers::Tokenizer,
    texts: &[(String, Option<String>)],
    reading: &Reading,
    pad_id: u32,
) -> Result<Vec<Encoded>> {
    texts
        .iter()
        .map(|(a, b)| {
            let ex = Example {
                text: a.clone(),
                text_b: b.clone(),
                label: 0,
            };
            let enc = tokenizer
                .encode(ex.input_text(&reading.pair), false)
                .map_err(|e| Error::config(format!("tokenization failed: {e}")))?;
            let mut ids: Vec<u32> = enc
                .get_ids()
                .iter()
                .take(reading.max_len)
                .copied()
                .collect();
            if ids.is_empty() {
                ids.push(pad_id);
            }
            Ok(Encoded { ids, label: 0 })
        })
        .collect()
}

/// Softmax of the head's logits for every example, in input order.
pub async fn probabilities(
    lm: &LanguageModel,
    head: &Head,
    data: &[Encoded],
    pooling: Pooling,
    batch_size: usize,
) -> Result<Vec<Vec<f32>>> {
    let device = lm.device();
    let mut order: Vec<usize> = (0..data.len()).collect();
    if pooling == Pooling::LastNonPad {
        order.sort_by_key(|&i| data[i].ids.len());
    }
    let mut out = vec![Vec::new(); data.len()];
    for chunk in order.chunks(batch_size.max(1)) {
        let items: Vec<&Encoded> = chunk.iter().map(|&i| &data[i]).collect();
        let batch = Batch::new(&items, lm.pad_id(), pooling, &device);
        let hidden = lm.hidden(batch.ids.clone(), Some(batch.keep.clone()));
        let logits = head.forward(crate::model::head::pool(hidden, &batch.positions));
        let probs = burn::tensor::activation::softmax(logits, 1);
        let c = probs.dims()[1];
        let v = crate::core::runtime::read_f32(probs).await?;
        for (k, &i) in chunk.iter().enumerate() {
            out[i] = v[k * c..(k + 1) * c].to_vec();
        }
    }
    Ok(out)
}
