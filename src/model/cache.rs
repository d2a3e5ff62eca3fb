//! The key/value cache of incremental decoding: each layer's keys and values of the positions
//! already read, so that generating a token costs one position's forward pass instead of the
//! whole sequence's (transformers' `past_key_values`).
//!
//! Keys are cached after RoPE (Llama) and before grouped-query repetition, `[B, KV, T, hd]`.

use burn::tensor::Tensor;

/// Per-layer keys and values, `[B, heads, positions, head_dim]` each.
#[derive(Debug, Clone)]
pub struct KvCache {
    layers: Vec<Option<(Tensor<4>, Tensor<4>)>>,
}

impl KvCache {
    /// An empty cache for a model of `layers` layers.
    pub fn new(layers: usize) -> Self {
        Self {
            layers: vec![None; layers],
        }
    }

    /// Positions cached (those of the first layer, which a pass extends first).
    pub fn len(&self) -> usize {
        match self.layers.first() {
            Some(Some((k, _))) => k.dims()[2],
            _ => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends this pass's keys and values for `layer` and returns every position's so far.
    pub(crate) fn extend(
        &mut self,
        layer: usize,
        k: Tensor<4>,
        v: Tensor<4>,
    ) -> (Tensor<4>, Tensor<4>) {
        let slot = &mut self.layers[layer];
        let (k, v) = match slot.take() {
            None => (k, v),
            Some((pk, pv)) => (Tensor::cat(vec![pk, k], 2), Tensor::cat(vec![pv, v], 2)),
        };
        *slot = Some((k.clone(), v.clone()));
        (k, v)
    }
}
