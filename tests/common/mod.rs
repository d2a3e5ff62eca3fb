//! Helpers shared by the integration tests.
#![allow(dead_code)]

#[cfg(feature = "app")]
pub mod app;
pub mod data;
pub mod peft;

use burn::tensor::{Device, Int, Tensor, TensorData};
use curlora::core::rng::Rng;
use std::path::PathBuf;

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `golden.json` written by `tests/fixtures/make_gpt2_fixtures.py` from HF transformers.
pub struct Golden {
    pub input_ids: Vec<Vec<u32>>,
    pub logits: Vec<f32>,
    pub hidden_last: Vec<f32>,
    pub loss: f64,
    pub eval_ids: Vec<u32>,
    pub eval_loss: f64,
    pub eval_perplexity: f64,
    pub eval_max_tokens: usize,
}

fn flatten(v: &serde_json::Value, out: &mut Vec<f32>) {
    match v {
        serde_json::Value::Array(a) => a.iter().for_each(|x| flatten(x, out)),
        serde_json::Value::Number(n) => out.push(n.as_f64().unwrap() as f32),
        _ => panic!("unexpected json"),
    }
}

pub fn golden() -> Golden {
    golden_in("tiny-gpt2")
}

/// The `golden.json` of any fixture folder (GPT-2, Llama, Mistral, GGUF: same layout).
pub fn golden_in(dir: &str) -> Golden {
    let text = std::fs::read_to_string(fixture(dir).join("golden.json")).unwrap();
    let g: serde_json::Value = serde_json::from_str(&text).unwrap();
    let ids = |v: &serde_json::Value| -> Vec<u32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect()
    };
    let mut logits = Vec::new();
    flatten(&g["logits"], &mut logits);
    let mut hidden_last = Vec::new();
    flatten(&g["hidden_last"], &mut hidden_last);
    Golden {
        input_ids: g["input_ids"].as_array().unwrap().iter().map(ids).collect(),
        logits,
        hidden_last,
        loss: g["loss"].as_f64().unwrap(),
        eval_ids: ids(&g["eval"]["ids"]),
        eval_loss: g["eval"]["loss"].as_f64().unwrap(),
        eval_perplexity: g["eval"]["perplexity"].as_f64().unwrap(),
        eval_max_tokens: g["eval"]["max_tokens"].as_u64().unwrap() as usize,
    }
}

pub fn ids_tensor(rows: &[Vec<u32>], device: &Device) -> Tensor<2, Int> {
    let b = rows.len();
    let t = rows[0].len();
    let data: Vec<i64> = rows.iter().flatten().map(|&x| i64::from(x)).collect();
    Tensor::<2, Int>::from_data(TensorData::new(data, [b, t]), device)
}

pub fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

pub fn random_vec(rng: &mut Rng, n: usize, scale: f64) -> Vec<f32> {
    (0..n).map(|_| (rng.normal() * scale) as f32).collect()
}

pub fn random_tensor<const D: usize>(
    rng: &mut Rng,
    shape: [usize; D],
    scale: f64,
    device: &Device,
) -> Tensor<D> {
    let n = shape.iter().product();
    Tensor::<D>::from_data(TensorData::new(random_vec(rng, n, scale), shape), device)
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Row-major `[n, k]·[k, m]` in f64.
pub fn matmul(a: &[f64], b: &[f64], n: usize, k: usize, m: usize) -> Vec<f64> {
    let mut out = vec![0f64; n * m];
    for i in 0..n {
        for p in 0..k {
            let av = a[i * k + p];
            for j in 0..m {
                out[i * m + j] += av * b[p * m + j];
            }
        }
    }
    out
}

pub fn transpose(a: &[f64], n: usize, m: usize) -> Vec<f64> {
    let mut out = vec![0f64; n * m];
    for i in 0..n {
        for j in 0..m {
            out[j * n + i] = a[i * m + j];
        }
    }
    out
}

pub fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

/// Loads the fixture model in `dir` on Flex and checks its hidden states, logits and loss
/// against the `golden.json` transformers wrote in `golden_dir` (max |Δ| ≤ 1e-4).
pub fn check_golden_logits(dir: &str, golden_dir: &str) {
    let g = golden_in(golden_dir);
    let device = Device::flex();
    let model = curlora::model::LanguageModel::load(&fixture(dir), &device).unwrap();
    let ids = ids_tensor(&g.input_ids, &device);
    let hidden = model.hidden(ids.clone(), None);
    let diff_h = max_abs_diff(&to_vec(hidden.clone()), &g.hidden_last);
    let diff = max_abs_diff(&to_vec(model.lm_logits(hidden)), &g.logits);
    eprintln!("{dir}: max |Δ| vs HF: logits {diff:.2e}, hidden {diff_h:.2e}");
    assert!(diff_h <= 1e-4, "{dir}: hidden max |Δ| = {diff_h}");
    assert!(diff <= 1e-4, "{dir}: logits max |Δ| = {diff}");
    let loss = f64::from(model.lm_loss(ids).into_scalar::<f32>());
    assert!(
        (loss - g.loss).abs() <= 1e-4,
        "{dir}: loss {loss} vs HF {}",
        g.loss
    );
}

/// The tiny fixture GPT-2 on three synthetic CSV tasks (fruit, mood, count), two epochs each:
/// a whole continual run in a few seconds on the CPU.
pub fn tiny_experiment() -> curlora::experiment::ExperimentSpec {
    let mut s = curlora::experiment::presets::paper_gpt2_fixed(&PathBuf::from("/nonexistent"));
    s.preset = None;
    s.model = Some(fixture("tiny-gpt2"));
    s.methods = vec![
        curlora::adapters::Method::Lora,
        curlora::adapters::Method::CurLora,
        curlora::adapters::Method::Full,
    ];
    s.ranks = vec![4];
    s.seeds = vec![1];
    s.max_len = 16;
    s.train.batch_size = 8;
    s.train.lr = 5e-3;
    s.train.snapshot_every = 2;
    s.train.eval_every = 3;
    s.perplexity.text = fixture("tiny-gpt2/sample.txt");
    s.perplexity.wikitext_rule = false;
    s.perplexity.mode = curlora::train::perplexity::PerplexityMode::FirstWindow { max_tokens: 64 };
    s.train.perplexity = s.perplexity.mode.clone();
    s.tasks = ["fruit", "mood", "count"]
        .iter()
        .map(|n| {
            curlora::experiment::TaskSpec::new(
                *n,
                curlora::experiment::TaskFormat::Csv,
                fixture(&format!("tasks/{n}.csv")),
                fixture(&format!("tasks/{n}.csv")),
            )
            .with_epochs(2)
            .with_schedule(curlora::train::Schedule::WarmupCosine {
                warmup_fraction: 0.1,
            })
            .with_columns("text", "label")
        })
        .collect();
    s.notes = vec![];
    s
}

/// Every run of `exp` side by side on this thread's device, sending no events, writing no files,
/// nothing steering it: the uninterrupted reference a resumed run is compared with.
pub fn run_quietly(exp: &curlora::experiment::Experiment) -> curlora::experiment::report::Report {
    exp.run_side_by_side(
        "CPU (Flex)",
        &curlora::train::NoEvents,
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
        std::sync::Arc::new(curlora::train::Control::default()),
        |_, _| Ok(None),
    )
    .unwrap()
}

/// A `text,label` CSV of `rows` six-word two-class texts: batches as large as a test needs.
pub fn big_csv(path: &std::path::Path, rows: usize) {
    let words = ["apple", "pear", "sad", "happy", "one", "two", "red", "blue"];
    let mut csv = String::from("text,label\n");
    for i in 0..rows {
        let text: Vec<&str> = (0..6)
            .map(|k| words[(i * 7 + k * 3 + i / 5) % words.len()])
            .collect();
        csv.push_str(&format!("{},{}\n", text.join(" "), i % 2));
    }
    std::fs::write(path, csv).unwrap();
}
