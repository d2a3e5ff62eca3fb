//! The custom kernels (`shaders/*.wgsl` through `curlora::kernels`) against independent
//! references: f64 host arithmetic, the pure-Rust colormap formula, and burn's own tensor ops
//! with autodiff. Every check runs on Flex (the CPU implementation) and on wgpu.
//!
//! All wgpu checks share one device in one process: on a software adapter (lavapipe in CI)
//! each new shader costs seconds of compilation. Without any wgpu adapter the wgpu half is
//! skipped with a message, unless `CURLORA_REQUIRE_GPU=1`, in which case it fails.

mod common;

use burn::module::Param;
use burn::tensor::{Device, Int, Tensor, TensorData};
use common::*;
use curlora::adapters::{AdaptedLinear, AdapterConfig, CurLora, CurPath, Method};
use curlora::core::device::{self, DeviceChoice};
use curlora::core::rng::Rng;
use curlora::kernels::{self, colormap, cur_adapter};
use std::sync::OnceLock;

/// WGSL dispatches of `names` issued by `f` on this thread: proves the wgpu results come from
/// the shaders and not from the tensor-op fallback, which would give the same numbers.
fn launched<T>(names: &[&str], f: impl FnOnce() -> T) -> (T, Vec<u64>) {
    let before: Vec<u64> = names.iter().map(|n| kernels::wgsl_launches(n)).collect();
    let out = f();
    let after = names.iter().map(|n| kernels::wgsl_launches(n));
    (out, after.zip(before).map(|(a, b)| a - b).collect())
}

const ADAPTER: [&str; 2] = ["cur_adapter_project", "cur_adapter_expand"];

fn gpu() -> Option<Device> {
    static DEV: OnceLock<Option<Device>> = OnceLock::new();
    DEV.get_or_init(|| match device::select(DeviceChoice::Gpu) {
        Ok(d) => {
            eprintln!("wgpu device: {}", d.description);
            Some(d.device)
        }
        Err(e) => {
            if std::env::var("CURLORA_REQUIRE_GPU").as_deref() == Ok("1") {
                panic!("CURLORA_REQUIRE_GPU=1 but no wgpu device: {e}");
            }
            eprintln!("skipping wgpu kernel checks: {e}");
            None
        }
    })
    .clone()
}

/// Flex, then wgpu when there is one.
fn devices() -> Vec<(&'static str, Device)> {
    let mut d = vec![("flex", Device::flex())];
    if let Some(g) = gpu() {
        d.push(("wgpu", g));
    }
    d
}

fn tensor(v: &[f32], shape: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v.to_vec(), shape), device)
}

/// `|a − b| ≤ tol·max(1, max|b|)` elementwise, with a message naming the check.
fn assert_close(what: &str, a: &[f32], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "{what}: length");
    let scale = b.iter().fold(1f64, |m, v| m.max(v.abs()));
    let (i, d) = a
        .iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - y).abs())
        .enumerate()
        .fold((0, 0f64), |m, (i, d)| if d > m.1 { (i, d) } else { m });
    assert!(
        d <= tol * scale,
        "{what}: max |Δ| = {d:e} at {i} (got {}, want {}), scale {scale:e}",
        a[i],
        b[i]
    );
}

/// Random inputs of one adapter problem, as host vectors.
struct Problem {
    n: usize,
    n_in: usize,
    n_out: usize,
    r: usize,
    alpha: f64,
    x: Vec<f32>,
    c: Vec<f32>,
    u: Vec<f32>,
    rm: Vec<f32>,
    base: Vec<f32>,
    /// Weights of the loss `Σ y·w`, so that `G = ∂L/∂y = w` is not trivially uniform.
    w: Vec<f32>,
}

impl Problem {
    fn new(seed: u64, n: usize, n_in: usize, n_out: usize, r: usize) -> Self {
        let mut rng = Rng::new(seed);
        Self {
            n,
            n_in,
            n_out,
            r,
            alpha: 0.7,
            x: random_vec(&mut rng, n * n_in, 1.0),
            c: random_vec(&mut rng, n_in * r, 0.5),
            u: random_vec(&mut rng, r * r, 0.5),
            rm: random_vec(&mut rng, r * n_out, 0.5),
            base: random_vec(&mut rng, n * n_out, 1.0),
            w: random_vec(&mut rng, n * n_out, 1.0),
        }
    }

    /// f64 forward `base + α·((x·C)·U)·R` and the analytic gradients of `Σ y·w`:
    /// `(y, dx, dC, dU, dR)`.
    fn reference(&self) -> [Vec<f64>; 5] {
        let (n, i, o, r, a) = (self.n, self.n_in, self.n_out, self.r, self.alpha);
        let (x, c, u, rm) = (f64s(&self.x), f64s(&self.c), f64s(&self.u), f64s(&self.rm));
        let g = f64s(&self.w);
        let t = matmul(&x, &c, n, i, r);
        let tu = matmul(&t, &u, n, r, r);
        let y: Vec<f64> = matmul(&tu, &rm, n, r, o)
            .iter()
            .zip(&self.base)
            .map(|(d, b)| f64::from(*b) + a * d)
            .collect();
        let h = matmul(&g, &transpose(&rm, r, o), n, o, r); // G·Rᵀ
        let scale = |v: Vec<f64>| v.into_iter().map(|z| a * z).collect::<Vec<_>>();
        let hu = matmul(&h, &transpose(&u, r, r), n, r, r); // G·Rᵀ·Uᵀ
        let dx = scale(matmul(&hu, &transpose(&c, i, r), n, r, i));
        let dc = scale(matmul(&transpose(&x, n, i), &hu, i, n, r));
        let du = scale(matmul(&transpose(&t, n, r), &h, r, n, r));
        let dr = scale(matmul(&transpose(&tu, n, r), &g, r, n, o));
        [y, dx, dc, du, dr]
    }
}

/// Forward and gradients through `kernels::cur_adapter` on `device` (autodiff), with `C` and
/// `R` tracked when `track_cr`: `(y, dx, dC, dU, dR, dbase)`.
fn kernel_run(p: &Problem, device: &Device, track_cr: bool) -> [Vec<f32>; 6] {
    let ad = device.clone().autodiff();
    let x = tensor(&p.x, [p.n, p.n_in], &ad).require_grad();
    let mut c = tensor(&p.c, [p.n_in, p.r], &ad);
    let u = tensor(&p.u, [p.r, p.r], &ad).require_grad();
    let mut r = tensor(&p.rm, [p.r, p.n_out], &ad);
    if track_cr {
        c = c.require_grad();
        r = r.require_grad();
    }
    let base = tensor(&p.base, [p.n, p.n_out], &ad).require_grad();
    let y = cur_adapter(
        base.clone(),
        x.clone(),
        c.clone(),
        u.clone(),
        r.clone(),
        p.alpha,
    );
    let w = tensor(&p.w, [p.n, p.n_out], &ad);
    let grads = y.clone().mul(w).sum().backward();
    let g = |t: &Tensor<2>| t.grad(&grads).map(to_vec).unwrap_or_default();
    [to_vec(y), g(&x), g(&c), g(&u), g(&r), g(&base)]
}

#[test]
fn adapter_op_matches_f64_forward_and_analytic_gradients() {
    // Shapes off every tile size (64 columns, 16 rows), ranks from 1 to the kernel's maximum,
    // and 65, past it (the Cube backend's fallback to burn's matmuls).
    let cases = [
        (37, 50, 70, 5),
        (16, 64, 64, 1),
        (21, 33, 129, 8),
        (9, 70, 40, 64),
        (5, 80, 30, 65),
    ];
    for (name, device) in devices() {
        for (k, &(n, i, o, r)) in cases.iter().enumerate() {
            let p = Problem::new(10 + k as u64, n, i, o, r);
            let [y, dx, dc, du, dr] = p.reference();
            let what = |s: &str| format!("{name} n={n} in={i} out={o} r={r}: {s}");
            let (got, n_launch) = launched(&ADAPTER, || kernel_run(&p, &device, true));
            // Forward: t = x·C, then base + α·(t·U)·R; backward: G·Rᵀ, then ∂L/∂x.
            let want = if name == "wgpu" && r <= 64 { 2 } else { 0 };
            assert_eq!(n_launch, [want, want], "{}", what("WGSL launches"));
            assert_close(&what("forward"), &got[0], &y, 1e-5);
            assert_close(&what("dx"), &got[1], &dx, 1e-5);
            assert_close(&what("dC"), &got[2], &dc, 1e-5);
            assert_close(&what("dU"), &got[3], &du, 1e-5);
            assert_close(&what("dR"), &got[4], &dr, 1e-5);
            assert_close(&what("dbase"), &got[5], &f64s(&p.w), 0.0);
            // As CURLoRA uses it: C and R constants, only x, U and base get gradients.
            let frozen = kernel_run(&p, &device, false);
            assert!(
                frozen[2].is_empty() && frozen[4].is_empty(),
                "{name}: C/R grads"
            );
            assert_close(&what("dU, C/R frozen"), &frozen[3], &du, 1e-5);
            assert_close(&what("dx, C/R frozen"), &frozen[1], &dx, 1e-5);
        }
    }
}

#[test]
fn adapter_op_without_autodiff_matches_reference() {
    let p = Problem::new(3, 40, 96, 200, 8);
    let [y, ..] = p.reference();
    for (name, device) in devices() {
        let got = cur_adapter(
            tensor(&p.base, [p.n, p.n_out], &device),
            tensor(&p.x, [p.n, p.n_in], &device),
            tensor(&p.c, [p.n_in, p.r], &device),
            tensor(&p.u, [p.r, p.r], &device),
            tensor(&p.rm, [p.r, p.n_out], &device),
            p.alpha,
        );
        assert_close(&format!("{name}: plain forward"), &to_vec(got), &y, 1e-5);
    }
}

#[test]
fn passes_accept_transposed_operands() {
    // The backward pass feeds both shaders transposed views (Rᵀ, Uᵀ, Cᵀ); check them directly.
    let mut rng = Rng::new(5);
    let (n, k, r, m) = (19, 130, 6, 75);
    let a = random_vec(&mut rng, n * k, 1.0);
    let bt = random_vec(&mut rng, r * k, 1.0); // B stored as Bᵀ [r, k]
    let t = random_vec(&mut rng, n * r, 1.0);
    let mt = random_vec(&mut rng, r * r, 1.0);
    let et = random_vec(&mut rng, m * r, 1.0); // E stored as Eᵀ [m, r]
    let b64 = transpose(&f64s(&bt), r, k);
    let want_p = matmul(&f64s(&a), &b64, n, k, r);
    let tm = matmul(&f64s(&t), &transpose(&f64s(&mt), r, r), n, r, r);
    let want_y: Vec<f64> = matmul(&tm, &transpose(&f64s(&et), m, r), n, r, m)
        .into_iter()
        .map(|v| -1.5 * v)
        .collect();
    for (name, device) in devices() {
        let (p, n_launch) = launched(&ADAPTER[..1], || {
            kernels::cur_adapter::project(
                tensor(&a, [n, k], &device),
                tensor(&bt, [r, k], &device).transpose(),
            )
        });
        assert_eq!(n_launch, [u64::from(name == "wgpu")], "{name}: launches");
        assert_close(
            &format!("{name}: project(a, Bᵀ)"),
            &to_vec(p),
            &want_p,
            1e-5,
        );
        let (y, n_launch) = launched(&ADAPTER[1..], || {
            kernels::cur_adapter::expand(
                tensor(&t, [n, r], &device),
                tensor(&mt, [r, r], &device).transpose(),
                tensor(&et, [m, r], &device).transpose(),
                -1.5,
            )
        });
        assert_eq!(n_launch, [u64::from(name == "wgpu")], "{name}: launches");
        assert_close(
            &format!("{name}: expand(t, Mᵀ, Eᵀ)"),
            &to_vec(y),
            &want_y,
            1e-5,
        );
    }
}

/// A CURLoRA layer with a non-zero `U`, on `device` (autodiff), on the given path.
fn layer(device: &Device, path: CurPath) -> AdaptedLinear {
    let mut rng = Rng::new(8);
    let (n_in, n_out, r) = (48, 144, 4);
    let w = random_tensor(&mut rng, [n_in, n_out], 0.3, device);
    let b = random_tensor(&mut rng, [n_out], 0.1, device);
    let (mut l, _) = AdaptedLinear::frozen(w, b)
        .attach(
            "h.0.attn.c_attn",
            &AdapterConfig::new(Method::CurLora, r, 4),
        )
        .unwrap();
    let c = l.adapter_as_mut::<CurLora>().unwrap();
    c.u = Param::from_tensor(random_tensor(&mut rng, [r, r], 0.5, device));
    c.path = path;
    l
}

#[test]
fn kernel_path_equals_factorized_path_in_a_layer() {
    for (name, device) in devices() {
        let ad = device.clone().autodiff();
        let mut rng = Rng::new(12);
        let x = random_tensor(&mut rng, [23, 48], 1.0, &ad);
        let mut out = Vec::new();
        for path in [CurPath::Factorized, CurPath::Kernel, CurPath::Materialized] {
            let l = layer(&ad, path);
            let ((y, gu), n_launch) = launched(&ADAPTER, || {
                let y = l.forward(x.clone());
                let grads = y.clone().mul(y.clone()).sum().backward();
                let gu = l
                    .adapter_as::<CurLora>()
                    .unwrap()
                    .u
                    .val()
                    .grad(&grads)
                    .unwrap();
                (to_vec(y), to_vec(gu))
            });
            // x is not tracked: no ∂L/∂x, so the backward pass runs project (G·Rᵀ) only.
            let on = u64::from(name == "wgpu" && path == CurPath::Kernel);
            assert_eq!(n_launch, [2 * on, on], "{name} {path:?}: launches");
            out.push((y, gu));
        }
        let (fy, fg) = (&out[0].0, &out[0].1);
        assert!(fg.iter().any(|v| v.abs() > 1e-3), "{name}: zero U gradient");
        for (k, (y, g)) in out.iter().enumerate().skip(1) {
            assert_close(&format!("{name} path {k}: y"), y, &f64s(fy), 1e-5);
            assert_close(&format!("{name} path {k}: dU"), g, &f64s(fg), 1e-5);
        }
    }
}

/// f64 squared column and row norms of row-major `w [n, m]`.
fn norms64(w: &[f32], n: usize, m: usize) -> (Vec<f64>, Vec<f64>) {
    let mut cols = vec![0f64; m];
    let mut rows = vec![0f64; n];
    for i in 0..n {
        for j in 0..m {
            let v = f64::from(w[i * m + j]).powi(2);
            cols[j] += v;
            rows[i] += v;
        }
    }
    (cols, rows)
}

/// Relative error per entry, as the selection probabilities need.
fn assert_rel(what: &str, got: &[f32], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let rel = (f64::from(*g) - w).abs() / w.abs().max(1e-30);
        assert!(rel <= tol, "{what}[{i}]: {g} vs {w} (relative {rel:e})");
    }
}

#[test]
fn sq_norms_match_f64_within_1e_5() {
    let mut rng = Rng::new(21);
    // Tile edges (32 × 64), a 1-row and a 1-column matrix, and one large enough for long sums.
    for (n, m) in [(77, 130), (1, 300), (300, 1), (1500, 2100)] {
        // Mixed magnitudes, as real weights have.
        let w: Vec<f32> = (0..n * m)
            .map(|k| (rng.normal() * if k % 7 == 0 { 3.0 } else { 0.02 }) as f32)
            .collect();
        let (cols, rows) = norms64(&w, n, m);
        for (name, device) in devices() {
            let ((c, r), n_launch) = launched(&["sq_norms"], || {
                kernels::sq_norms(tensor(&w, [n, m], &device))
            });
            let what = format!("{name} [{n}, {m}]");
            assert_eq!(n_launch, [u64::from(name == "wgpu")], "{what}: launches");
            assert_rel(&format!("{what} cols"), &to_vec(c), &cols, 1e-5);
            assert_rel(&format!("{what} rows"), &to_vec(r), &rows, 1e-5);
            // A transposed view swaps the two.
            let (c2, r2) = kernels::sq_norms(tensor(&w, [n, m], &device).transpose());
            assert_rel(&format!("{what}ᵀ cols"), &to_vec(c2), &rows, 1e-5);
            assert_rel(&format!("{what}ᵀ rows"), &to_vec(r2), &cols, 1e-5);
        }
    }
}

#[test]
fn sq_norms_ignore_autodiff() {
    let w = [3.0f32, 4.0, 0.0, 1.0];
    for (name, device) in devices() {
        let t = tensor(&w, [2, 2], &device.clone().autodiff()).require_grad();
        let (c, r) = kernels::sq_norms(t);
        assert_eq!(to_vec(c), vec![9.0, 17.0], "{name}");
        assert_eq!(to_vec(r), vec![25.0, 1.0], "{name}");
    }
}

fn pixels(t: Tensor<2, Int>) -> Vec<u32> {
    t.into_data()
        .convert::<u32>()
        .try_into_vec::<u32>()
        .unwrap()
}

#[test]
fn colormap_bytes_equal_the_formula_on_every_backend() {
    let mut rng = Rng::new(31);
    let (h, w) = (37, 53);
    let mut v: Vec<f32> = (0..h * w).map(|_| (rng.normal() * 1.5) as f32).collect();
    // Edge values: NaN, ±∞, 0, −0, exactly ±scale, just inside, far outside.
    let special = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        2.0,
        -2.0,
        1.999_999,
        -1e30,
        1e-30,
    ];
    v[..special.len()].copy_from_slice(&special);
    for (vmin, vmax) in [(-2.0, 1.0), (-0.5, 0.5), (0.0, 0.0)] {
        let inv = colormap::inv_scale(vmin, vmax);
        let want: Vec<u32> = v.iter().map(|&x| colormap::pixel(x, inv)).collect();
        for (name, device) in devices() {
            let (px, n_launch) = launched(&["colormap"], || {
                colormap::colormap(tensor(&v, [h, w], &device), vmin, vmax)
            });
            assert_eq!(n_launch, [u64::from(name == "wgpu")], "{name}: launches");
            let got = pixels(px);
            let bad = got.iter().zip(&want).position(|(a, b)| a != b);
            assert!(
                bad.is_none(),
                "{name} vmin {vmin} vmax {vmax}: pixel {} of {}: {:08x} vs {:08x}",
                bad.unwrap(),
                v[bad.unwrap()],
                got[bad.unwrap()],
                want[bad.unwrap()]
            );
        }
    }
    // The formula itself: the ends and the middle of the scale, as `app::colors::diverging`.
    let inv = colormap::inv_scale(-2.0, 1.0);
    let rgba = |p: u32| p.to_le_bytes();
    assert_eq!(rgba(colormap::pixel(2.0, inv)), [255, 0, 0, 255]);
    assert_eq!(rgba(colormap::pixel(-5.0, inv)), [0, 0, 255, 255]);
    assert_eq!(rgba(colormap::pixel(0.0, inv)), [255, 255, 255, 255]);
    assert_eq!(rgba(colormap::pixel(f32::NAN, inv)), [255, 255, 255, 255]);
    assert_eq!(rgba(colormap::pixel(1.0, inv)), [255, 127, 127, 255]);
}

#[test]
fn colormap_output_stays_on_the_device() {
    for (name, device) in devices() {
        let t =
            Tensor::<2>::from_data(TensorData::new(vec![-1f32, 0.0, 1.0, 0.5], [2, 2]), &device);
        let px = colormap::colormap(t, -1.0, 1.0);
        assert_eq!(px.device(), device, "{name}");
        assert_eq!(
            colormap::to_rgba_bytes(px.clone())[..8],
            [0, 0, 255, 255, 255, 255, 255, 255],
            "{name}"
        );
        let buf = colormap::wgpu_buffer(&px);
        match name {
            "wgpu" => {
                let b = buf.expect("a wgpu buffer");
                assert!(
                    b.size >= 16 && b.offset + b.size <= b.buffer.size(),
                    "{name}"
                );
            }
            _ => assert!(buf.is_none(), "{name}: no wgpu buffer on Flex"),
        }
    }
}
