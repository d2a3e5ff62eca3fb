//! Tokenized examples and padded batches.

use crate::core::error::{Error, Result};
use crate::data::{Dataset, PairEncoding};
use crate::model::head::Pooling;
use burn::tensor::{Device, Int, Tensor, TensorData};
use tokenizers::Tokenizer;

/// One example as token ids.
#[derive(Clone, Debug)]
pub struct Encoded {
    pub ids: Vec<u32>,
    pub label: usize,
}

/// Tokenizes every example (pairs joined as `pair` says), truncating to `max_len` tokens.
/// An example that encodes to nothing gets the pad token, so it still has one position.
pub fn encode_dataset(
    tokenizer: &Tokenizer,
    dataset: &Dataset,
    pair: &PairEncoding,
    max_len: usize,
    pad_id: u32,
    vocab_size: usize,
) -> Result<Vec<Encoded>> {
    let texts: Vec<String> = dataset
        .examples
        .iter()
        .map(|e| e.input_text(pair))
        .collect();
    let encodings = tokenizer
        .encode_batch(texts, false)
        .map_err(|e| Error::format(&dataset.source, format!("tokenization failed: {e}")))?;
    if let Some(bad) = encodings
        .iter()
        .flat_map(|e| e.get_ids())
        .find(|&&i| i as usize >= vocab_size)
    {
        return Err(Error::format(
            &dataset.source,
            format!(
                "token id {bad} is outside the model's vocabulary of {vocab_size}: \
                 tokenizer and model do not match"
            ),
        ));
    }
    Ok(encodings
        .iter()
        .zip(&dataset.examples)
        .map(|(enc, ex)| {
            let mut ids: Vec<u32> = enc.get_ids().iter().take(max_len).copied().collect();
            if ids.is_empty() {
                ids.push(pad_id);
            }
            Encoded {
                ids,
                label: ex.label,
            }
        })
        .collect())
}

/// A right-padded batch on a device.
pub struct Batch {
    /// `[B, T]`.
    pub ids: Tensor<2, Int>,
    /// `[B, T]`: 1 for real tokens, 0 for padding.
    pub keep: Tensor<2>,
    /// The position each sequence is pooled at.
    pub positions: Vec<usize>,
    pub labels: Vec<usize>,
}

impl Batch {
    pub fn new(items: &[&Encoded], pad_id: u32, pooling: Pooling, device: &Device) -> Self {
        let b = items.len();
        let t = items.iter().map(|e| e.ids.len()).max().unwrap_or(1);
        let mut ids = Vec::with_capacity(b * t);
        let mut keep = Vec::with_capacity(b * t);
        for e in items {
            for k in 0..t {
                match e.ids.get(k) {
                    Some(&id) => {
                        ids.push(i64::from(id));
                        keep.push(1f32);
                    }
                    None => {
                        ids.push(i64::from(pad_id));
                        keep.push(0f32);
                    }
                }
            }
        }
        let positions = items
            .iter()
            .map(|e| match pooling {
                Pooling::LastNonPad => e.ids.len() - 1,
                Pooling::LastPosition => t - 1,
            })
            .collect();
        Self {
            ids: Tensor::from_data(TensorData::new(ids, [b, t]), device),
            keep: Tensor::from_data(TensorData::new(keep, [b, t]), device),
            positions,
            labels: items.iter().map(|e| e.label).collect(),
        }
    }

    pub fn labels_tensor(&self, device: &Device) -> Tensor<2, Int> {
        let l: Vec<i64> = self.labels.iter().map(|&l| l as i64).collect();
        Tensor::from_data(TensorData::new(l, [self.labels.len(), 1]), device)
    }
}
