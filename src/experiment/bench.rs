//! Train-step benchmarks: the cost of each fine-tuning method over the frozen model, measured
//! side by side in one process on one device.
//!
//! Modes, on GPT-2 shapes with random weights (no checkpoint needed):
//! * `frozen`: forward + backward through the frozen model (gradient reaches the position
//!   embedding only) — the floor every method pays;
//! * `lora`, `curlora` (factorized `((x·C)·U)·R`), `curlora-materialized` (the reference
//!   code's way: `x·(C·U·R)`), `curlora-kernel` (the WGSL op of [`crate::kernels`], meant for
//!   wgpu; on Flex it is the same tensor ops as `curlora`), `full`, `pissa` and `milora` (a
//!   LoRA step; what differs is the SVD at attach, timed as `attach_seconds`).

use crate::adapters::{AdapterConfig, CurLora, CurPath, Method};
use crate::core::error::Result;
use crate::model::store;
use crate::model::{Architecture, Gpt2, Gpt2Config, LanguageModel};
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::Serialize;
use web_time::Instant;

pub const MODES: [&str; 8] = [
    "frozen",
    "lora",
    "curlora",
    "curlora-materialized",
    "curlora-kernel",
    "full",
    "pissa",
    "milora",
];

/// The CURLoRA evaluation path a mode names, if it is a CURLoRA mode.
pub fn cur_path(mode: &str) -> Option<CurPath> {
    match mode {
        "curlora" => Some(CurPath::Factorized),
        "curlora-materialized" => Some(CurPath::Materialized),
        "curlora-kernel" => Some(CurPath::Kernel),
        _ => None,
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct BenchResult {
    pub mode: String,
    pub seconds_per_step: f64,
    pub steps: usize,
    pub trainable_params: usize,
    /// Size of the saved adapter file (the full model's weights for `full`).
    pub adapter_bytes: usize,
    /// Bytes the device's allocator holds after the timed steps (its pools only grow, so this
    /// is the peak); `None` on Flex, whose tensors are ordinary heap memory (see RSS).
    pub device_reserved: Option<u64>,
    /// Attaching the adapters to every target: CUR selection, or PiSSA's and MiLoRA's SVDs.
    pub attach_seconds: f64,
}

/// GPT-2 small (124M): 12 layers, d 768, 12 heads, 1024 positions, vocab 50257.
pub fn gpt2_small() -> Gpt2Config {
    Gpt2Config {
        model_type: Some("gpt2".into()),
        vocab_size: 50257,
        n_positions: 1024,
        n_embd: 768,
        n_layer: 12,
        n_head: 12,
        n_inner: None,
        activation_function: "gelu_new".into(),
        layer_norm_epsilon: 1e-5,
        tie_word_embeddings: true,
        eos_token_id: Some(50256),
    }
}

/// Times `steps` optimizer steps (after one warm-up step) of `mode` on `device` (autodiff).
pub fn run_mode(
    config: &Gpt2Config,
    mode: &str,
    rank: usize,
    batch: usize,
    seq: usize,
    steps: usize,
    device: &Device,
) -> Result<BenchResult> {
    let base = crate::train::pretrain::init_model(config, 0, device)?;
    let method = match Method::from_name(mode) {
        _ if cur_path(mode).is_some() => Method::CurLora,
        Some(m) if MODES.contains(&mode) => m,
        _ => {
            return Err(crate::Error::config(format!(
                "unknown bench mode `{mode}`: expected one of {}",
                MODES.join(", ")
            )));
        }
    };
    let cfg = AdapterConfig::new(method, rank, 0);
    let attach = Instant::now();
    let (mut model, _) = base.with_adapters(&cfg)?;
    let attach_seconds = attach.elapsed().as_secs_f64();
    if let Some(path) = cur_path(mode) {
        for b in &mut model.blocks {
            if let Some(c) = b.attn.c_attn.adapter_as_mut::<CurLora>() {
                c.path = path;
            }
        }
    }
    if method == Method::Frozen {
        model.wpe = model.wpe.set_require_grad(true);
    }
    // U starts at zero; start from a non-zero U so the adapter's work is not trivially skipped.
    let trainable = match method {
        Method::Frozen => config.n_positions * config.n_embd,
        _ => model.trainable_params(method),
    };
    let mut optim = AdamWConfig::new().init();
    let mut rng = crate::core::rng::Rng::new(1);
    let ids: Vec<i64> = (0..batch * seq)
        .map(|_| rng.below(config.vocab_size) as i64)
        .collect();
    let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [batch, seq]), device);
    let mut step = |model: Gpt2| -> Result<Gpt2> {
        let loss = model.lm_loss(ids.clone());
        let grads = GradientsParams::from_grads(loss.clone().backward(), &model);
        let m = optim.step(1e-4, model, grads);
        // Wait for the device so the time is the step's, not the queue's — and read values the
        // whole step produced: the loss and an updated parameter. A failed launch on wgpu (e.g.
        // a buffer over the adapter's binding limit) only surfaces on a read of what it should
        // have written; reading anything else would time a step that never ran.
        let probe = trained_probe(&m, method);
        for (what, t) in [("loss", loss.reshape([1])), ("updated parameter", probe)] {
            let v = t
                .try_into_data()
                .map_err(|e| crate::Error::config(format!("bench {mode}: {what}: {e}")))?;
            let v = v.convert::<f32>().try_to_vec::<f32>().unwrap_or_default();
            if !v.iter().all(|x| x.is_finite()) {
                return Err(crate::Error::config(format!(
                    "bench {mode}: {what} not finite"
                )));
            }
        }
        Ok(m)
    };
    model = step(model)?;
    let start = Instant::now();
    for _ in 0..steps {
        model = step(model)?;
    }
    let seconds_per_step = start.elapsed().as_secs_f64() / steps as f64;
    let device_reserved = device.memory_pool_usage().map(|u| u.bytes_reserved);
    let path = std::env::temp_dir().join(format!(
        "curlora-bench-{mode}-{}.safetensors",
        std::process::id()
    ));
    let adapter_bytes = if method == Method::Frozen {
        0
    } else {
        let hash = model.weights_hash.clone();
        let b = store::save(&path, &LanguageModel::Gpt2(model.valid()), &cfg, &hash, &[])?;
        let _ = std::fs::remove_file(&path);
        b
    };
    Ok(BenchResult {
        mode: mode.to_string(),
        seconds_per_step,
        steps,
        trainable_params: trainable,
        adapter_bytes,
        device_reserved,
        attach_seconds,
    })
}

/// The sum of one parameter `method` trains in `model` (the adapter's last trained tensor, the
/// weight for a full fine-tune, `wpe` for `frozen`), `[1]`.
fn trained_probe(model: &Gpt2, method: Method) -> Tensor<1> {
    let attn = &model.blocks[0].attn.c_attn;
    let t = match attn.adapter.get().tensors().last() {
        Some((_, p)) => p.val(),
        None if method.trains_base() => attn.weight.val(),
        None => model.wpe.val(),
    };
    t.sum()
}

/// Peak resident memory of this process so far (Linux `VmHWM`), in bytes.
pub fn peak_rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The adapter path alone: forward + backward of one adapted `c_attn`-shaped layer
/// (`[n_in, n_out]`) on `n` rows, for `lora` and the CURLoRA modes (`curlora`,
/// `curlora-materialized`, `curlora-kernel`).
/// Returns milliseconds per iteration (after warm-up), averaged over `iters`.
pub fn layer_path(
    mode: &str,
    shape: [usize; 2],
    n: usize,
    rank: usize,
    iters: usize,
    device: &Device,
) -> Result<f64> {
    let mut rng = crate::core::rng::Rng::new(3);
    let mut randn = |len: usize, std: f64| -> Vec<f32> {
        (0..len).map(|_| (rng.normal() * std) as f32).collect()
    };
    let w = Tensor::<2>::from_data(
        TensorData::new(randn(shape[0] * shape[1], 0.02), shape),
        device,
    );
    let b = Tensor::<1>::from_data(TensorData::new(vec![0f32; shape[1]], [shape[1]]), device);
    let x = Tensor::<2>::from_data(
        TensorData::new(randn(n * shape[0], 1.0), [n, shape[0]]),
        device,
    );
    let method = if mode == "lora" {
        Method::Lora
    } else {
        Method::CurLora
    };
    let (mut layer, _) = crate::adapters::AdaptedLinear::frozen(w, b)
        .attach("bench", &AdapterConfig::new(method, rank, 0))?;
    if let Some(c) = layer.adapter_as_mut::<CurLora>() {
        c.path = cur_path(mode).unwrap_or_default();
        c.u = burn::module::Param::from_tensor(Tensor::<2>::from_data(
            TensorData::new(randn(rank * rank, 0.1), [rank, rank]),
            device,
        ));
    }
    let run = |layer: &crate::adapters::AdaptedLinear| {
        let grads = layer.forward(x.clone()).sum().backward();
        let g = layer
            .adapter
            .get()
            .tensors()
            .last()
            .and_then(|(_, p)| p.val().grad(&grads));
        // Read back a value to wait for the device.
        let _ = g.map(|g| g.sum().into_scalar::<f32>());
    };
    run(&layer);
    run(&layer);
    let start = Instant::now();
    for _ in 0..iters {
        run(&layer);
    }
    Ok(start.elapsed().as_secs_f64() * 1000.0 / iters as f64)
}
