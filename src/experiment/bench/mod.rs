//! Train-step benchmarks: the cost of each fine-tuning method over the frozen model, measured
//! side by side in one process on one device, on the workloads the tool runs.
//!
//! Workloads ([`Workload`]), on the shapes of [`BenchModel`] with random weights:
//! * `classify`: what `curlora run` trains: the last position pooled into a 2-class head,
//!   cross-entropy, AdamW on the adapters and the head;
//! * `lm`: a language-model step, logits over the whole vocabulary at every position;
//! * `perplexity`: forward only, what the evaluation between tasks runs, in tokens/s.
//!
//! Modes:
//! * `frozen`: no adapter. In `classify` only the head trains (the head-only baseline); in
//!   `lm` only GPT-2's position embedding or Llama's first norm, so the backward pass still
//!   runs through every layer: the floor every method pays;
//! * `lora`, `curlora` (factorized `((x·C)·U)·R`), `curlora-materialized` (the reference
//!   code's way: `x·(C·U·R)`), `curlora-kernel` (the WGSL op of [`crate::kernels`], meant for
//!   wgpu; on Flex it is the same tensor ops as `curlora`), `full`, `pissa` and `milora` (a
//!   LoRA step; what differs is the SVD at attach, timed as `attach_seconds`).

mod shapes;

pub use shapes::{BenchModel, gpt2_small, random_llama, smollm2_135m};

use crate::adapters::{AdapterConfig, CurLora, CurPath, Method};
use crate::core::error::Result;
use crate::model::LanguageModel;
use crate::model::head::{Head, Pooling};
use crate::model::store;
use crate::train::batch::{Batch, Encoded};
use crate::train::run_types::TaskModel;
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

/// What a benchmark step does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// A `curlora run` step: last position pooled into a 2-class head, cross-entropy, AdamW.
    Classify,
    /// A language-model step: logits over the vocabulary at every position.
    Lm,
    /// Forward only (the perplexity evaluation), in tokens per second.
    Perplexity,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Classify => "classify",
            Workload::Lm => "lm",
            Workload::Perplexity => "perplexity",
        }
    }
}

/// The CURLoRA evaluation path a mode names, if it is a CURLoRA mode.
pub fn cur_path(mode: &str) -> Option<CurPath> {
    match mode {
        "curlora" => Some(CurPath::Factorized),
        "curlora-materialized" => Some(CurPath::Materialized),
        "curlora-kernel" => Some(CurPath::Kernel),
        _ => None,
    }
}

/// One benchmark: a model shape, a workload and a mode.
#[derive(Clone, Debug)]
pub struct BenchSpec {
    pub model: BenchModel,
    pub workload: Workload,
    pub mode: String,
    pub rank: usize,
    pub batch: usize,
    pub seq: usize,
    /// Timed steps (after one warm-up step).
    pub steps: usize,
    /// Fewer blocks than the model has (`None`: all of them).
    pub layers: Option<usize>,
    /// A smaller vocabulary (`None`: the model's).
    pub vocab: Option<usize>,
}

#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct BenchResult {
    pub model: String,
    pub workload: String,
    pub mode: String,
    /// What the frozen model computed in (`f32`, `f16`); adapters and heads are f32.
    pub dtype: String,
    /// Seconds per optimizer step (per forward pass for `perplexity`).
    pub seconds_per_step: f64,
    /// Tokens (batch × seq) per second.
    pub tokens_per_second: f64,
    pub steps: usize,
    pub trainable_params: usize,
    /// Size of the saved adapter file (the full model's weights for `full`; 0 without one).
    pub adapter_bytes: usize,
    /// Bytes the device's allocator holds after the timed steps (its pools only grow, so this
    /// is the peak); `None` on Flex, whose tensors are ordinary heap memory (see RSS).
    pub device_reserved: Option<u64>,
    /// Attaching the adapters to every target: CUR selection, or PiSSA's and MiLoRA's SVDs.
    pub attach_seconds: f64,
}

/// The method a bench mode runs.
fn mode_method(mode: &str) -> Result<Method> {
    match Method::from_name(mode) {
        _ if cur_path(mode).is_some() => Ok(Method::CurLora),
        Some(m) if MODES.contains(&mode) => Ok(m),
        _ => Err(crate::Error::config(format!(
            "unknown bench mode `{mode}`: expected one of {}",
            MODES.join(", ")
        ))),
    }
}

/// Times `spec.steps` steps of `spec` (after one warm-up step) on `device` (a plain device:
/// the train workloads add autodiff themselves).
///
/// Peak RSS is reset after the random model is built, so a caller reading [`peak_rss`] after
/// this gets what the steps needed on top of the model, not the building of its weights.
pub fn run_mode(spec: &BenchSpec, device: &Device) -> Result<BenchResult> {
    let method = mode_method(&spec.mode)?;
    let train = spec.workload != Workload::Perplexity;
    let device = if train {
        device.clone().autodiff()
    } else {
        device.clone()
    };
    let base = spec.model.build(spec.layers, spec.vocab, &device)?;
    let mut cfg = AdapterConfig::new(method, spec.rank, 0);
    cfg.targets = spec.model.targets();
    let attach = Instant::now();
    let (mut lm, _) = base.with_adapters(&cfg)?;
    let attach_seconds = attach.elapsed().as_secs_f64();
    if let Some(path) = cur_path(&spec.mode) {
        for (_, m) in lm.modules_mut() {
            if let Some(c) = m.adapter_as_mut::<CurLora>() {
                c.path = path;
            }
        }
    }
    if method == Method::Frozen && spec.workload == Workload::Lm {
        lm = floor_trainable(lm);
    }
    reset_peak_rss();
    let mut rng = crate::core::rng::Rng::new(1);
    let vocab = lm.vocab_size();
    let ids: Vec<u32> = (0..spec.batch * spec.seq)
        .map(|_| rng.below(vocab) as u32)
        .collect();
    let (seconds, lm, trainable) = match spec.workload {
        Workload::Perplexity => {
            let t = time_perplexity(&lm, &ids, spec, &device)?;
            (t, lm, 0)
        }
        Workload::Lm => {
            let trainable = match method {
                Method::Frozen => floor_params(&lm),
                _ => lm.trainable_params(method),
            };
            let (t, lm) = time_lm(lm, &ids, method, spec, &device)?;
            (t, lm, trainable)
        }
        Workload::Classify => {
            let head = Head::new(lm.hidden_size(), 2, &mut rng, &device);
            let head_params = head.num_params();
            let trainable = lm.trainable_params(method) + head_params;
            let (t, lm) = time_classify(TaskModel { lm, head }, &ids, method, spec, &device)?;
            (t, lm, trainable)
        }
    };
    let device_reserved = device.memory_pool_usage().map(|u| u.bytes_reserved);
    let adapter_bytes = if method == Method::Frozen {
        0
    } else {
        let path = std::env::temp_dir().join(format!(
            "curlora-bench-{}-{}.safetensors",
            spec.mode,
            std::process::id()
        ));
        let hash = lm.weights_hash().to_string();
        let b = store::save(&path, &lm.valid(), &cfg, &hash, &[])?;
        let _ = std::fs::remove_file(&path);
        b
    };
    Ok(BenchResult {
        model: spec.model.name().into(),
        workload: spec.workload.name().into(),
        mode: spec.mode.clone(),
        dtype: crate::core::dtype::name(crate::core::dtype::default_float(&device)).into(),
        seconds_per_step: seconds,
        tokens_per_second: (spec.batch * spec.seq) as f64 / seconds,
        steps: spec.steps,
        trainable_params: trainable,
        adapter_bytes,
        device_reserved,
        attach_seconds,
    })
}

/// `frozen` on the LM workload trains one early tensor, so that the backward pass runs through
/// every block: GPT-2's position embedding, Llama's first norm.
fn floor_trainable(lm: LanguageModel) -> LanguageModel {
    match lm {
        LanguageModel::Gpt2(mut m) => {
            m.wpe = m.wpe.set_require_grad(true);
            LanguageModel::Gpt2(m)
        }
        LanguageModel::Llama(mut m) => {
            let n = &mut m.layers[0].input_layernorm;
            n.weight = n.weight.clone().set_require_grad(true);
            LanguageModel::Llama(m)
        }
    }
}

fn floor_params(lm: &LanguageModel) -> usize {
    match lm {
        LanguageModel::Gpt2(m) => m.wpe.shape().num_elements(),
        LanguageModel::Llama(m) => m.layers[0].input_layernorm.weight.shape().num_elements(),
    }
}

/// The sum of one tensor `method` trains in `lm` (the first adapted module's last trained
/// tensor, its weight for a full fine-tune, the floor tensor for `frozen`), `[1]`.
fn trained_probe(lm: &LanguageModel, method: Method) -> Tensor<1> {
    let modules = lm.modules();
    let (_, first) = &modules[0];
    match first.adapter.get().tensors().last() {
        Some((_, p)) => p.val().sum(),
        None if method.trains_base() => first.weight.val().sum(),
        None => match lm {
            LanguageModel::Gpt2(m) => m.wpe.val().sum(),
            LanguageModel::Llama(m) => m.layers[0].input_layernorm.weight.val().sum(),
        },
    }
}

/// Reads back the values a step produced (the loss and an updated parameter), which waits for
/// the device, so the time is the step's and not the queue's. A failed launch on wgpu (e.g. a
/// buffer over the adapter's binding limit) only surfaces on a read of what it should have
/// written; reading anything else would time a step that never ran.
fn check_finite<const N: usize>(mode: &str, values: [(&str, Tensor<1>); N]) -> Result<()> {
    for (what, t) in values {
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
    Ok(())
}

/// Runs `step` once to warm up, then `steps` times; seconds per step.
fn timed<M>(mut model: M, steps: usize, mut step: impl FnMut(M) -> Result<M>) -> Result<(f64, M)> {
    model = step(model)?;
    let start = Instant::now();
    for _ in 0..steps {
        model = step(model)?;
    }
    Ok((start.elapsed().as_secs_f64() / steps as f64, model))
}

fn ids_tensor(ids: &[u32], spec: &BenchSpec, device: &Device) -> Tensor<2, Int> {
    let v: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
    Tensor::from_data(TensorData::new(v, [spec.batch, spec.seq]), device)
}

fn time_lm(
    lm: LanguageModel,
    ids: &[u32],
    method: Method,
    spec: &BenchSpec,
    device: &Device,
) -> Result<(f64, LanguageModel)> {
    let ids = ids_tensor(ids, spec, device);
    let mut optim = AdamWConfig::new().init();
    timed(lm, spec.steps, |lm| {
        let loss = lm.lm_loss(ids.clone());
        let grads = GradientsParams::from_grads(loss.clone().backward(), &lm);
        let lm = optim.step(1e-4, lm, grads);
        check_finite(
            &spec.mode,
            [
                ("loss", loss),
                ("updated parameter", trained_probe(&lm, method)),
            ],
        )?;
        Ok(lm)
    })
}

/// The engine's step ([`crate::train`]'s `TaskTraining::step`): a padded batch with its mask,
/// the last real token pooled, the head, cross-entropy, AdamW.
fn time_classify(
    model: TaskModel,
    ids: &[u32],
    method: Method,
    spec: &BenchSpec,
    device: &Device,
) -> Result<(f64, LanguageModel)> {
    let items: Vec<Encoded> = ids
        .chunks(spec.seq)
        .enumerate()
        .map(|(i, c)| Encoded {
            ids: c.to_vec(),
            label: i % 2,
        })
        .collect();
    let refs: Vec<&Encoded> = items.iter().collect();
    let batch = Batch::new(&refs, 0, Pooling::LastNonPad, device);
    let labels = batch.labels_tensor(device);
    let mut optim = AdamWConfig::new().init();
    let (t, model) = timed(model, spec.steps, |model: TaskModel| {
        let logits = model.forward(&batch);
        let loss = crate::model::head::class_loss(logits, labels.clone());
        let grads = GradientsParams::from_grads(loss.clone().backward(), &model);
        let model = optim.step(1e-4, model, grads);
        let probe = if method == Method::Frozen {
            model.head.weight.val().sum()
        } else {
            trained_probe(&model.lm, method)
        };
        check_finite(&spec.mode, [("loss", loss), ("updated parameter", probe)])?;
        Ok(model)
    })?;
    Ok((t, model.lm))
}

/// Forward passes with the mean next-token loss read back, as the perplexity evaluation does.
fn time_perplexity(
    lm: &LanguageModel,
    ids: &[u32],
    spec: &BenchSpec,
    device: &Device,
) -> Result<f64> {
    let ids = ids_tensor(ids, spec, device);
    let (t, _) = timed((), spec.steps, |()| {
        let loss = lm.lm_loss(ids.clone());
        check_finite(&spec.mode, [("loss", loss)])
    })?;
    Ok(t)
}

/// Resets the peak resident memory (`VmHWM`) to the current resident set (Linux ≥ 4.0,
/// `/proc/self/clear_refs`); nothing elsewhere.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
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
