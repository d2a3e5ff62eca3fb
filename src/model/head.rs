//! Per-task classification heads on the final hidden state, and how a sequence is pooled to
//! one vector.

use crate::core::rng::Rng;
use burn::module::{Module, Param};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// Which position's hidden state feeds the head.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Pooling {
    /// The last real (non-pad) token of each sequence: what the model actually read last.
    #[default]
    LastNonPad,
    /// The last position of the padded batch, as the reference code (`logits[:, -1, :]` with
    /// right padding), so padded sequences are classified from a pad token.
    LastPosition,
}

/// A linear classifier `[D] → [C]`, initialised like `torch.nn.Linear`: weight and bias
/// `~ U(−1/√D, 1/√D)`, from a seeded stream.
#[derive(Module, Debug)]
pub struct Head {
    /// `[D, C]`.
    pub weight: Param<Tensor<2>>,
    /// `[C]`.
    pub bias: Param<Tensor<1>>,
}

impl Head {
    pub fn new(d: usize, classes: usize, rng: &mut Rng, device: &Device) -> Self {
        let bound = 1.0 / (d as f64).sqrt();
        let w: Vec<f32> = (0..d * classes)
            .map(|_| rng.uniform(-bound, bound) as f32)
            .collect();
        let b: Vec<f32> = (0..classes)
            .map(|_| rng.uniform(-bound, bound) as f32)
            .collect();
        // Trained, so f32 whatever the model computes in (see `core::dtype`).
        let f32 = crate::core::dtype::F32(device);
        Self {
            weight: Param::from_tensor(Tensor::from_data(
                TensorData::new(w, [d, classes]),
                f32.clone(),
            )),
            bias: Param::from_tensor(Tensor::from_data(TensorData::new(b, [classes]), f32)),
        }
    }

    pub fn classes(&self) -> usize {
        self.weight.shape().dims::<2>()[1]
    }

    /// `[B, D]` → `[B, C]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        crate::core::dtype::to_f32(x)
            .matmul(self.weight.val())
            .add(self.bias.val().unsqueeze::<2>())
    }
}

/// Mean cross-entropy of class logits `[B, C]` against labels `[B, 1]`: a training step's loss
/// (the engine's and the benchmark's).
pub fn class_loss(logits: Tensor<2>, labels: Tensor<2, Int>) -> Tensor<1> {
    burn::tensor::activation::log_softmax(logits, 1)
        .gather(1, labels)
        .mean()
        .neg()
}

/// Picks `hidden[b, positions[b], :]`: `[B, T, D]` → `[B, D]`.
pub fn pool(hidden: Tensor<3>, positions: &[usize]) -> Tensor<2> {
    let [b, _, d] = hidden.dims();
    let device = hidden.device();
    let idx: Vec<i64> = positions
        .iter()
        .flat_map(|&p| std::iter::repeat_n(p as i64, d))
        .collect();
    let idx = Tensor::<3, Int>::from_data(TensorData::new(idx, [b, 1, d]), &device);
    hidden.gather(1, idx).reshape([b, d])
}
