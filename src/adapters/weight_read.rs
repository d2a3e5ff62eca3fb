//! What attaching reads of a frozen weight `W`, and where it computes it.
//!
//! CUR selection needs only the squared norms of `W`'s columns and rows (`m + n` numbers), and
//! `C` and `R` are gathers of `W`. On a GPU the norms are computed where `W` lives
//! ([`kernels::sq_norms`](crate::kernels::sq_norms)) and only they come back: a 7B model's
//! `q/k/v` matrices are never copied to the host. On the CPU the weight is already in host
//! memory, so the whole of it is read and the energies are summed in f64 exactly as the
//! reference does, which keeps CPU runs bitwise reproducible across versions.

use crate::core::error::Result;
use burn::tensor::Tensor;

/// What a method reads of the weight it adapts ([`Kind::READS`](super::Kind::READS)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reads {
    /// Nothing (LoRA, full fine-tuning): no read at all.
    Nothing,
    /// Squared column and row norms (CUR selection), then gathers on the device.
    Norms,
    /// All of `W` on the host (an SVD).
    Whole,
}

/// A frozen weight as attaching sees it (`W` stored row-major `[in, out]`).
#[derive(Clone, Debug)]
pub enum WeightRead {
    /// The whole of `W` on the host, row-major `[in, out]` (CPU devices).
    Host(Vec<f32>),
    /// Squared norms computed on the device: `cols[j] = Σ_i W[i, j]²` (length `out`) and
    /// `rows[i] = Σ_j W[i, j]²` (length `in`).
    Norms { cols: Vec<f64>, rows: Vec<f64> },
}

use crate::core::device::is_host_device;

impl WeightRead {
    /// Reads what a method that `reads` needs of `w`, asynchronously (the browser cannot read
    /// back synchronously). On a host device, and for [`Reads::Whole`], all of `W`.
    pub async fn read(w: Tensor<2>, reads: Reads) -> Result<Self> {
        use crate::core::runtime::read_f32;
        if reads == Reads::Whole || is_host_device(&w.device()) {
            return Ok(Self::Host(read_f32(w).await?));
        }
        // The kernel reads f32 (an f16 model's W is widened, one matrix at a time).
        let (cols, rows) = crate::kernels::sq_norms(crate::core::dtype::to_f32(w));
        let widen = |v: Vec<f32>| v.into_iter().map(f64::from).collect();
        Ok(Self::Norms {
            cols: widen(read_f32(cols).await?),
            rows: widen(read_f32(rows).await?),
        })
    }

    /// [`read`](Self::read), blocking (native only).
    pub fn read_sync(w: Tensor<2>, reads: Reads) -> Self {
        fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
            t.into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .expect("f32 values")
        }
        if reads == Reads::Whole || is_host_device(&w.device()) {
            return Self::Host(host(w));
        }
        let (cols, rows) = crate::kernels::sq_norms(crate::core::dtype::to_f32(w));
        let widen = |v: Vec<f32>| v.into_iter().map(f64::from).collect();
        Self::Norms {
            cols: widen(host(cols)),
            rows: widen(host(rows)),
        }
    }

    /// The host copy of `W`, if this read made one.
    pub fn host(&self) -> Option<&[f32]> {
        match self {
            Self::Host(w) => Some(w),
            Self::Norms { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    /// On the CPU, plain or under autodiff (training), the whole weight is read: CPU selection
    /// stays the reference's f64 computation, bitwise.
    #[test]
    fn cpu_weights_are_read_whole_with_or_without_autodiff() {
        let w = vec![1f32, -2.0, 3.5, 0.25, 4.0, -1.0];
        for device in [Device::flex(), Device::flex().autodiff()] {
            let t = Tensor::<2>::from_data(TensorData::new(w.clone(), [2, 3]), &device);
            assert!(is_host_device(&device));
            let sync = WeightRead::read_sync(t.clone(), Reads::Norms);
            let read = crate::core::runtime::block_on(WeightRead::read(t, Reads::Norms)).unwrap();
            for r in [sync, read] {
                assert_eq!(r.host(), Some(w.as_slice()), "{r:?}");
            }
        }
    }
}
