//! Kernel 1: the CURLoRA adapter path `y = base + α·((x·C)·U)·R` as one differentiable op.
//!
//! Two WGSL passes (`shaders/cur_adapter_project.wgsl`, `shaders/cur_adapter_expand.wgsl`):
//! `t = x·C` reads `x` once and produces `[N, r]`; the fused `base + α·(t·U)·R` reads `base` once
//! and writes `y` once. `C·U·R` (`in×out`) is never formed and `x` is not read a second time.
//!
//! The backward pass is handwritten ([`CurAdapterBackend`] for `Autodiff`) and reuses the same
//! two shaders on transposed views, so training through the kernel stays on them too:
//! with `G = ∂L/∂y` and `H = G·Rᵀ` (`[N, r]`, pass 1 on `Rᵀ`),
//! * `∂L/∂x = α·H·Uᵀ·Cᵀ` (pass 2 on `Uᵀ`, `Cᵀ`, no base),
//! * `∂L/∂U = α·tᵀ·H` (`r×r`, burn's matmul; `t` is saved from the forward pass),
//! * `∂L/∂base = G`, and, only when they are tracked (never in CURLoRA, where `C` and `R` are
//!   frozen constants), `∂L/∂C = α·xᵀ·(H·Uᵀ)` and `∂L/∂R = α·(t·U)ᵀ·G`.
//!
//! The saved state is `t` plus the small `C`, `U`, `R` (and `x` only when `C` is tracked).
//!
//! Flex runs the trait's default bodies: plain tensor ops, the CPU reference.

use super::wgsl::{self, Launch, Wgsl};
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Cube, Dispatch, Flex, backend_extension};
use burn::cubecl::prelude::CubeCount;
use burn::tensor::{DType, Shape, Tensor};

/// Ranks the WGSL path takes; outside it the Cube backend falls back to burn's matmuls.
/// (64 threads reduce one row's `r` sums in 16 KiB of workgroup memory: `r ≤ 64`.)
pub const MAX_KERNEL_RANK: usize = 64;

const PROJECT: &str = include_str!("../../shaders/cur_adapter_project.wgsl");
const EXPAND: &str = include_str!("../../shaders/cur_adapter_expand.wgsl");
/// Rows per workgroup in the expand shader (`ROWS` there).
const EXPAND_ROWS: usize = 16;

#[backend_extension(Cube, Flex, Autodiff)]
pub trait CurAdapterBackend: Backend {
    /// `a·b` for a thin `b` (`[N, K]·[K, r]`): pass 1.
    fn cur_project(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::float_matmul(a, b)
    }

    /// `α·(t·m)·e` (`[N, r]·[r, r]·[r, M]`): pass 2 without a base.
    fn cur_expand(
        t: FloatTensor<Self>,
        m: FloatTensor<Self>,
        e: FloatTensor<Self>,
        alpha: f32,
    ) -> FloatTensor<Self> {
        let tm = Self::float_matmul(t, m);
        Self::float_mul_scalar(Self::float_matmul(tm, e), alpha.into())
    }

    /// `base + α·(t·m)·e`: pass 2.
    fn cur_expand_add(
        base: FloatTensor<Self>,
        t: FloatTensor<Self>,
        m: FloatTensor<Self>,
        e: FloatTensor<Self>,
        alpha: f32,
    ) -> FloatTensor<Self> {
        Self::float_add(base, Self::cur_expand(t, m, e, alpha))
    }

    /// `base + α·((x·c)·u)·r`: the whole adapter path.
    fn cur_adapter(
        base: FloatTensor<Self>,
        x: FloatTensor<Self>,
        c: FloatTensor<Self>,
        u: FloatTensor<Self>,
        r: FloatTensor<Self>,
        alpha: f32,
    ) -> FloatTensor<Self> {
        let t = Self::cur_project(x, c);
        Self::cur_expand_add(base, t, u, r, alpha)
    }
}

/// Flex: the default bodies, i.e. burn's tensor ops — the CPU reference.
impl CurAdapterBackend for Flex {}

impl CurAdapterBackend for Cube {
    fn cur_project(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        match project_wgsl(&a, &b) {
            Some(p) => p,
            None => Self::float_matmul(a, b),
        }
    }

    fn cur_expand(
        t: FloatTensor<Self>,
        m: FloatTensor<Self>,
        e: FloatTensor<Self>,
        alpha: f32,
    ) -> FloatTensor<Self> {
        match expand_wgsl(None, &t, &m, &e, alpha) {
            Some(y) => y,
            None => {
                let tm = Self::float_matmul(t, m);
                Self::float_mul_scalar(Self::float_matmul(tm, e), alpha.into())
            }
        }
    }

    fn cur_expand_add(
        base: FloatTensor<Self>,
        t: FloatTensor<Self>,
        m: FloatTensor<Self>,
        e: FloatTensor<Self>,
        alpha: f32,
    ) -> FloatTensor<Self> {
        match expand_wgsl(Some(&base), &t, &m, &e, alpha) {
            Some(y) => y,
            None => Self::float_add(base, Self::cur_expand(t, m, e, alpha)),
        }
    }
}

use burn::backend::wgpu::{CubeTensor, into_contiguous};

/// Pass 1 on the GPU, or `None` when the WGSL route does not apply (see [`wgsl::runs_wgsl`],
/// f32 only, `1 ≤ r ≤ 64`, sizes indexable in `u32`).
fn project_wgsl(a: &CubeTensor, b: &CubeTensor) -> Option<CubeTensor> {
    let [n, k] = wgsl::dims2(a);
    let [k2, r] = wgsl::dims2(b);
    let ok = wgsl::runs_wgsl(a)
        && wgsl::runs_wgsl(b)
        && a.dtype == DType::F32
        && b.dtype == DType::F32
        && k == k2
        && (1..=MAX_KERNEL_RANK).contains(&r)
        && wgsl::fits_u32(n * k)
        && wgsl::fits_u32(k * r);
    if !ok {
        return None;
    }
    let count = wgsl::linear_count(u32::try_from(n).ok()?)?;
    let a = into_contiguous(a.clone());
    let bs = wgsl::strides2(b)?;
    let p = wgsl::empty(&a, Shape::new([n, r]), DType::F32);
    Launch {
        kernel: Wgsl {
            name: "cur_adapter_project",
            source: PROJECT,
            params: vec![("rank", r as u32)],
        },
        workgroup: 64,
        count,
        inputs: vec![&a.handle, &b.handle],
        outputs: vec![&p.handle],
        info: vec![n as u32, k as u32, bs[0], bs[1]],
    }
    .run(&a.client);
    Some(p)
}

/// Pass 2 on the GPU (`base + α·(t·m)·e`, or without base), or `None` as for [`project_wgsl`].
fn expand_wgsl(
    base: Option<&CubeTensor>,
    t: &CubeTensor,
    m: &CubeTensor,
    e: &CubeTensor,
    alpha: f32,
) -> Option<CubeTensor> {
    let [n, r] = wgsl::dims2(t);
    let [r2, r3] = wgsl::dims2(m);
    let [r4, cols] = wgsl::dims2(e);
    let all = [Some(t), Some(m), Some(e), base];
    let ok = all
        .iter()
        .flatten()
        .all(|x| wgsl::runs_wgsl(x) && x.dtype == DType::F32)
        && r == r2
        && r == r3
        && r == r4
        && base.is_none_or(|b| wgsl::dims2(b) == [n, cols])
        && (1..=MAX_KERNEL_RANK).contains(&r)
        && wgsl::fits_u32(n * cols)
        && wgsl::fits_u32(r * cols);
    if !ok {
        return None;
    }
    let gx = u32::try_from(cols.div_ceil(64)).ok()?;
    let gy = u32::try_from(n.div_ceil(EXPAND_ROWS)).ok()?;
    if gx > wgsl::MAX_GROUPS || gy > wgsl::MAX_GROUPS {
        return None;
    }
    let t = into_contiguous(t.clone());
    let [ms, es] = [wgsl::strides2(m)?, wgsl::strides2(e)?];
    let base = base.map(|b| into_contiguous(b.clone()));
    let y = wgsl::empty(&t, Shape::new([n, cols]), DType::F32);
    // Without a base the shader never reads binding 3; `t` stands in (two read-only bindings of
    // one buffer are allowed, a dummy allocation is not needed).
    let base_handle = base.as_ref().map_or(&t.handle, |b| &b.handle);
    Launch {
        kernel: Wgsl {
            name: "cur_adapter_expand",
            source: EXPAND,
            params: vec![("rank", r as u32)],
        },
        workgroup: 64,
        count: CubeCount::Static(gx.max(1), gy.max(1), 1),
        inputs: vec![&t.handle, &m.handle, &e.handle, base_handle],
        outputs: vec![&y.handle],
        info: vec![
            n as u32,
            cols as u32,
            ms[0],
            ms[1],
            es[0],
            es[1],
            u32::from(base.is_some()),
            alpha.to_bits(),
        ],
    }
    .run(&t.client);
    Some(y)
}

/// The backward step of [`CurAdapterBackend::cur_adapter`] (formulas in the module docs).
#[derive(Debug)]
struct CurAdapterBackward;

/// Forward values the backward step needs.
#[derive(Clone, Debug)]
struct CurAdapterState<B: Backend> {
    /// `x`, kept only when `C` is tracked (for `∂L/∂C`).
    x: Option<FloatTensor<B>>,
    c: FloatTensor<B>,
    u: FloatTensor<B>,
    r: FloatTensor<B>,
    /// `t = x·C`, `[N, r]`.
    t: FloatTensor<B>,
    alpha: f32,
}

impl<B: CurAdapterBackend> Backward<B, 5> for CurAdapterBackward {
    type State = CurAdapterState<B>;

    fn backward(
        self,
        ops: Ops<Self::State, 5>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [n_base, n_x, n_c, n_u, n_r] = ops.parents;
        let g = grads.consume::<B>(&ops.node);
        let CurAdapterState {
            x,
            c,
            u,
            r,
            t,
            alpha,
        } = ops.state;
        let tr = B::float_transpose;
        if n_x.is_some() || n_u.is_some() || n_c.is_some() {
            // H = G·Rᵀ: pass 1 on a transposed view of R.
            let h = B::cur_project(g.clone(), tr(r.clone()));
            if let Some(node) = n_u {
                let du = B::float_matmul(tr(t.clone()), h.clone());
                grads.register::<B>(node.id, B::float_mul_scalar(du, alpha.into()));
            }
            if let Some(node) = n_x {
                let dx = B::cur_expand(h.clone(), tr(u.clone()), tr(c), alpha);
                grads.register::<B>(node.id, dx);
            }
            if let Some(node) = n_c {
                let x = x.expect("x is saved when C is tracked");
                let hu = B::float_matmul(h, tr(u.clone()));
                let dc = B::float_matmul(tr(x), hu);
                grads.register::<B>(node.id, B::float_mul_scalar(dc, alpha.into()));
            }
        }
        if let Some(node) = n_r {
            let tu = B::float_matmul(t, u);
            let dr = B::float_matmul(tr(tu), g.clone());
            grads.register::<B>(node.id, B::float_mul_scalar(dr, alpha.into()));
        }
        if let Some(node) = n_base {
            grads.register::<B>(node.id, g);
        }
    }
}

impl<B: CurAdapterBackend, C: CheckpointStrategy> CurAdapterBackend for Autodiff<B, C> {
    fn cur_adapter(
        base: FloatTensor<Self>,
        x: FloatTensor<Self>,
        c: FloatTensor<Self>,
        u: FloatTensor<Self>,
        r: FloatTensor<Self>,
        alpha: f32,
    ) -> FloatTensor<Self> {
        let c_tracked = c.is_tracked();
        let prep = CurAdapterBackward
            .prepare::<C>([base.node(), x.node(), c.node(), u.node(), r.node()])
            .compute_bound()
            .stateful();
        match prep {
            OpsKind::Tracked(prep) => {
                let (x, c, u, r) = (
                    x.into_primitive(),
                    c.into_primitive(),
                    u.into_primitive(),
                    r.into_primitive(),
                );
                let t = B::cur_project(x.clone(), c.clone());
                let y = B::cur_expand_add(
                    base.into_primitive(),
                    t.clone(),
                    u.clone(),
                    r.clone(),
                    alpha,
                );
                let state = CurAdapterState {
                    x: c_tracked.then_some(x),
                    c,
                    u,
                    r,
                    t,
                    alpha,
                };
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::cur_adapter(
                base.into_primitive(),
                x.into_primitive(),
                c.into_primitive(),
                u.into_primitive(),
                r.into_primitive(),
                alpha,
            )),
        }
    }
}

/// `base + α·((x·C)·U)·R` through the custom op: the WGSL kernels on wgpu, tensor ops on Flex,
/// with the handwritten backward on an autodiff device. Shapes: `base [N, out]`, `x [N, in]`,
/// `C [in, r]`, `U [r, r]`, `R [r, out]`.
pub fn cur_adapter(
    base: Tensor<2>,
    x: Tensor<2>,
    c: Tensor<2>,
    u: Tensor<2>,
    r: Tensor<2>,
    alpha: f64,
) -> Tensor<2> {
    let [n, n_in] = x.dims();
    let [c_in, rank] = c.dims();
    let [u0, u1] = u.dims();
    let [r0, n_out] = r.dims();
    assert!(
        c_in == n_in && u0 == rank && u1 == rank && r0 == rank && base.dims() == [n, n_out],
        "cur_adapter: shapes base {:?}, x {:?}, C {:?}, U {:?}, R {:?} do not chain",
        base.dims(),
        x.dims(),
        c.dims(),
        u.dims(),
        r.dims()
    );
    Tensor::from_dispatch(<Dispatch as CurAdapterBackend>::cur_adapter(
        base.into_dispatch(),
        x.into_dispatch(),
        c.into_dispatch(),
        u.into_dispatch(),
        r.into_dispatch(),
        alpha as f32,
    ))
}

/// Pass 1 alone, `a·b` (`[N, K]·[K, r]`), exposed so the tests can check it on strided views.
pub fn project(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    assert_eq!(a.dims()[1], b.dims()[0], "project: inner dims differ");
    Tensor::from_dispatch(<Dispatch as CurAdapterBackend>::cur_project(
        a.into_dispatch(),
        b.into_dispatch(),
    ))
}

/// Pass 2 alone, `α·(t·m)·e`, exposed so the tests can check it on strided views.
pub fn expand(t: Tensor<2>, m: Tensor<2>, e: Tensor<2>, alpha: f64) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as CurAdapterBackend>::cur_expand(
        t.into_dispatch(),
        m.into_dispatch(),
        e.into_dispatch(),
        alpha as f32,
    ))
}
