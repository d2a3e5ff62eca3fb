//! HF's default rotary position embedding tables (Su et al. 2021, arXiv 2104.09864).

use super::LlamaConfig;
use burn::tensor::{Device, Tensor, TensorData};

/// `(cos, sin)` of HF's default RoPE for positions `start..start + t`, each `[1, 1, t, head_dim]`.
/// The inverse frequencies and angles are computed in f32, as transformers does, so the tables
/// agree with its to the last bit or two.
pub(super) fn rope_tables(
    c: &LlamaConfig,
    start: usize,
    t: usize,
    device: &Device,
) -> (Tensor<4>, Tensor<4>) {
    let hd = c.head_dim();
    let half = hd / 2;
    let theta = c.rope_theta() as f32;
    let inv_freq: Vec<f32> = (0..half)
        .map(|i| 1.0 / theta.powf((2 * i) as f32 / hd as f32))
        .collect();
    let mut cos = vec![0f32; t * hd];
    let mut sin = vec![0f32; t * hd];
    for p in 0..t {
        for (i, f) in inv_freq.iter().enumerate() {
            let angle = (start + p) as f32 * f;
            let (s, co) = (angle as f64).sin_cos();
            for j in [i, i + half] {
                cos[p * hd + j] = co as f32;
                sin[p * hd + j] = s as f32;
            }
        }
    }
    let table = |v: Vec<f32>| {
        Tensor::<2>::from_data(TensorData::new(v, [t, hd]), device).reshape([1, 1, t, hd])
    };
    (table(cos), table(sin))
}
