//! Kernel 2: squared column and row norms of a 2-D `W`, the CUR selection probabilities,
//! computed where `W` lives so that selecting on a 7B-size matrix needs no host copy of it.
//!
//! `shaders/sq_norms.wgsl` reads `W` once and writes per-tile partial sums (1/32 and 1/64 of `W`);
//! burn's `sum_dim` adds those up. Flex (the CPU reference) squares and sums with tensor ops in f64.

use super::wgsl::{self, Launch, Wgsl};
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{CubeTensor, into_contiguous};
use burn::backend::{Backend, Cube, Dispatch, Flex, backend_extension};
use burn::cubecl::prelude::CubeCount;
use burn::tensor::{DType, FloatDType, Shape, Tensor};

const SOURCE: &str = include_str!("../../shaders/sq_norms.wgsl");
/// Rows per tile (`TR` in the shader); a tile is 64 columns wide.
const TILE_ROWS: usize = 32;
const TILE_COLS: usize = 64;

#[backend_extension(Cube, Flex)]
pub trait SqNormsBackend: Backend {
    /// `(Σ_i W[i, j]², Σ_j W[i, j]²)`: column norms `[m]` and row norms `[n]` of `W [n, m]`.
    fn sq_norms(w: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>);
}

fn dims<T: burn::backend::TensorMetadata>(t: &T) -> [usize; 2] {
    let s = t.shape();
    [s[0], s[1]]
}

/// Flex, the CPU reference: squares and sums in f64 (Flex's column sums run down each column
/// in order, too coarse in f32 for a reference on tall matrices), returned as f32.
impl SqNormsBackend for Flex {
    fn sq_norms(w: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let w = Tensor::<2>::from_primitive::<Flex>(w).cast(FloatDType::F64);
        let [n, m] = w.dims();
        let sq = w.clone().mul(w);
        let cols = sq.clone().sum_dim(0).reshape([m]).cast(FloatDType::F32);
        let rows = sq.sum_dim(1).reshape([n]).cast(FloatDType::F32);
        let flex = |t: Tensor<1>| t.try_into_primitive::<Flex>().expect("on Flex");
        (flex(cols), flex(rows))
    }
}

impl SqNormsBackend for Cube {
    fn sq_norms(w: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let [n, m] = dims(&w);
        let w = if w.dtype == DType::F32 {
            w
        } else {
            Self::float_cast(w, FloatDType::F32)
        };
        let (Some(gx), Some(gy)) = (
            u32::try_from(m.div_ceil(TILE_COLS)).ok(),
            u32::try_from(n.div_ceil(TILE_ROWS)).ok(),
        ) else {
            return fallback(w);
        };
        if !wgsl::runs_wgsl(&w)
            || !wgsl::fits_u32(n * m)
            || gx > wgsl::MAX_GROUPS
            || gy > wgsl::MAX_GROUPS
            || n == 0
            || m == 0
        {
            return fallback(w);
        }
        let w = into_contiguous(w);
        let (gx_, gy_) = (gx as usize, gy as usize);
        let col_part = wgsl::empty(&w, Shape::new([gy_, m]), DType::F32);
        let row_part = wgsl::empty(&w, Shape::new([n, gx_]), DType::F32);
        Launch {
            kernel: Wgsl {
                name: "sq_norms",
                source: SOURCE,
                params: Vec::new(),
            },
            workgroup: 64,
            count: CubeCount::Static(gx, gy, 1),
            inputs: vec![&w.handle],
            outputs: vec![&col_part.handle, &row_part.handle],
            info: vec![n as u32, m as u32],
        }
        .run(&w.client);
        let cols = Self::float_sum_dim(col_part, 0);
        let rows = Self::float_sum_dim(row_part, 1);
        (
            Self::float_reshape(cols, Shape::new([m])),
            Self::float_reshape(rows, Shape::new([n])),
        )
    }
}

/// Tensor ops on the Cube backend when the WGSL route does not apply.
fn fallback(w: CubeTensor) -> (CubeTensor, CubeTensor) {
    let [n, m] = dims(&w);
    let sq = Cube::float_mul(w.clone(), w);
    let cols = Cube::float_sum_dim(sq.clone(), 0);
    let rows = Cube::float_sum_dim(sq, 1);
    (
        Cube::float_reshape(cols, Shape::new([m])),
        Cube::float_reshape(rows, Shape::new([n])),
    )
}

/// Squared column norms `[m]` and row norms `[n]` of `w [n, m]`, on `w`'s device (any device;
/// an autodiff association is dropped: these are statistics, not part of a graph).
pub fn sq_norms(w: Tensor<2>) -> (Tensor<1>, Tensor<1>) {
    let (cols, rows) = <Dispatch as SqNormsBackend>::sq_norms(w.inner().into_dispatch());
    (Tensor::from_dispatch(cols), Tensor::from_dispatch(rows))
}
