use curlora::core::device::DeviceChoice;
use curlora::experiment::bench::{self, BenchModel, BenchResult, BenchSpec, Workload};

/// Modes that only make sense on wgpu: on Flex the kernel path is the `curlora` tensor ops.
const GPU_ONLY: [&str; 1] = ["curlora-kernel"];
/// Modes of the adapter-path-alone table.
const LAYER_MODES: [&str; 4] = ["lora", "curlora", "curlora-materialized", "curlora-kernel"];

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Comma-separated modes: frozen, lora, curlora, curlora-materialized, curlora-kernel
    /// (wgpu only), full, pissa, milora.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "frozen,lora,curlora,curlora-materialized,curlora-kernel,full"
    )]
    pub modes: Vec<String>,
    /// Devices to measure side by side in this run, e.g. `cpu,gpu` (default: `--device`).
    #[arg(long, value_delimiter = ',', value_enum)]
    pub devices: Vec<DeviceChoice>,
    /// Model shapes (random weights): gpt2-small (c_attn, r = 8), smollm2-135m (q/k/v, r = 16).
    #[arg(long, value_delimiter = ',', value_enum, default_value = "gpt2-small")]
    pub models: Vec<BenchModel>,
    /// What a step does: classify (what `run` trains: pooled last position, 2-class head),
    /// lm (logits over the vocabulary at every position), perplexity (forward only, tokens/s).
    #[arg(
        long,
        alias = "workload",
        value_delimiter = ',',
        value_enum,
        default_value = "classify"
    )]
    pub workloads: Vec<Workload>,
    /// Adapter rank (default: the model's, 8 for gpt2-small and 16 for smollm2-135m).
    #[arg(long)]
    pub rank: Option<usize>,
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    #[arg(long, default_value_t = 128)]
    pub seq: usize,
    /// Timed steps per mode (after one warm-up step).
    #[arg(long, default_value_t = 3)]
    pub steps: usize,
    /// Number of blocks (default: the model's, 12 for GPT-2 small, 30 for SmolLM2-135M).
    #[arg(long)]
    pub layers: Option<usize>,
    /// Vocabulary size (default: the model's, 50,257 for GPT-2). Software adapters such as
    /// lavapipe bind at most 128 MiB per buffer, less than GPT-2's embedding and logits: use
    /// 32000 there.
    #[arg(long)]
    pub vocab: Option<usize>,
    /// Iterations of the adapter-path-alone timing (after two warm-ups).
    #[arg(long, default_value_t = 20)]
    pub layer_iters: usize,
    /// Print one JSON object per line (per device, model, workload and mode) instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Also time the adapter path alone (one c_attn-shaped layer, forward + backward).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub layer: bool,
    /// On wgpu devices, run every mode in this process instead of one process per mode: shaders
    /// are compiled once (minutes per process on a software adapter such as lavapipe; there is
    /// no WGSL shader cache), but peak RSS is then no longer per mode and is not reported.
    #[arg(long)]
    pub in_process: bool,
    /// Internal: run one mode in this process and print its JSON line.
    #[arg(long, hide = true)]
    pub single: Option<String>,
}

/// One mode's result as a JSON line: what the library measured, plus what only the process
/// knows.
#[derive(serde::Serialize, serde::Deserialize)]
struct Line {
    #[serde(flatten)]
    result: BenchResult,
    /// Peak resident memory of the mode's process during its steps (the random model's
    /// building excluded); `None` when modes share a process.
    peak_rss_bytes: Option<u64>,
    device: String,
}

impl Line {
    fn new(result: BenchResult, peak_rss_bytes: Option<u64>, device: &str) -> Self {
        Self {
            result,
            peak_rss_bytes,
            device: device.to_string(),
        }
    }
}

impl std::ops::Deref for Line {
    type Target = BenchResult;
    fn deref(&self) -> &BenchResult {
        &self.result
    }
}

/// One device's results.
struct DeviceRun {
    choice: String,
    device: String,
    steps: Vec<Line>,
    /// `(model, mode, ms per forward + backward)` of the adapter path alone.
    layer_ms: Vec<(BenchModel, String, f64)>,
}

fn flag<T: std::fmt::Debug>(choice: T) -> String {
    format!("{choice:?}").to_lowercase()
}

fn spec(args: &BenchArgs, model: BenchModel, workload: Workload, mode: &str) -> BenchSpec {
    BenchSpec {
        model,
        workload,
        mode: mode.to_string(),
        rank: args.rank.unwrap_or(model.default_rank()),
        batch: args.batch,
        seq: args.seq,
        steps: args.steps,
        layers: args.layers,
        vocab: args.vocab,
    }
}

pub fn run(args: &BenchArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    if let Some(mode) = &args.single {
        let dev = curlora::core::device::select(choice)?;
        let (model, workload) = (args.models[0], args.workloads[0]);
        let r = bench::run_mode(&spec(args, model, workload, mode), &dev.device)?;
        let line = Line::new(r, bench::peak_rss(), &dev.description);
        println!("{}", serde_json::to_string(&line)?);
        return Ok(());
    }
    let devices = if args.devices.is_empty() {
        vec![choice]
    } else {
        args.devices.clone()
    };
    let mut runs = Vec::new();
    for &d in &devices {
        runs.push(run_device(args, d)?);
    }
    if args.json {
        for r in &runs {
            for l in &r.steps {
                println!("{}", serde_json::to_string(l)?);
            }
            for (model, mode, ms) in &r.layer_ms {
                let line = serde_json::json!({
                    "model": model.name(), "workload": "adapter-layer", "mode": mode,
                    "ms_per_iter": ms, "device": r.device,
                });
                println!("{line}");
            }
        }
        return Ok(());
    }
    for r in &runs {
        println!("{}: {}", r.choice, r.device);
    }
    for &model in &args.models {
        for &workload in &args.workloads {
            print_steps(args, model, workload, &runs);
        }
        if args.layer {
            print_layer(model, args, &runs);
        }
    }
    Ok(())
}

/// Every model, workload and mode on one device, each in its own process so that peak memory
/// is that mode's alone (or all here with `--in-process`); then the adapter path alone in this
/// process.
fn run_device(args: &BenchArgs, choice: DeviceChoice) -> anyhow::Result<DeviceRun> {
    let exe = std::env::current_exe()?;
    let dev = curlora::core::device::select(choice)?;
    let mut steps: Vec<Line> = Vec::new();
    for &model in &args.models {
        for &workload in &args.workloads {
            for mode in &args.modes {
                if !dev.is_gpu && GPU_ONLY.contains(&mode.as_str()) {
                    continue;
                }
                let s = spec(args, model, workload, mode);
                eprintln!(
                    "bench {model} {} {mode} on {}: batch {}, seq {}, rank {}…",
                    workload.name(),
                    dev.description,
                    s.batch,
                    s.seq,
                    s.rank
                );
                if args.in_process && dev.is_gpu {
                    // What the previous mode left in the pools is not this mode's.
                    dev.device.memory_cleanup();
                    let r = bench::run_mode(&s, &dev.device)?;
                    steps.push(Line::new(r, None, &dev.description));
                    continue;
                }
                let mut cmd = std::process::Command::new(&exe);
                let dtype = flag(curlora::core::device::precision());
                cmd.args(["--device", &flag(choice), "--dtype", &dtype])
                    .args(["bench", "--single", mode])
                    .args(["--models", model.name(), "--workloads", workload.name()])
                    .args(["--rank", &s.rank.to_string()])
                    .args(["--batch", &args.batch.to_string()])
                    .args(["--seq", &args.seq.to_string()])
                    .args(["--steps", &args.steps.to_string()]);
                if let Some(l) = args.layers {
                    cmd.args(["--layers", &l.to_string()]);
                }
                if let Some(v) = args.vocab {
                    cmd.args(["--vocab", &v.to_string()]);
                }
                let out = cmd.output()?;
                if !out.status.success() {
                    anyhow::bail!(
                        "bench {model} {} {mode} failed: {}",
                        workload.name(),
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                steps.push(serde_json::from_slice(&out.stdout)?);
            }
        }
    }
    let mut layer_ms = Vec::new();
    if args.layer {
        for &model in &args.models {
            for mode in LAYER_MODES {
                if !dev.is_gpu && GPU_ONLY.contains(&mode) {
                    continue;
                }
                eprintln!("adapter path alone, {model} {mode} on {}…", dev.description);
                let ms = bench::layer_path(
                    mode,
                    model.first_target_shape(),
                    args.batch * args.seq,
                    args.rank.unwrap_or(model.default_rank()),
                    args.layer_iters,
                    &dev.device.clone().autodiff(),
                )?;
                layer_ms.push((model, mode.to_string(), ms));
            }
        }
    }
    Ok(DeviceRun {
        choice: flag(choice),
        device: dev.description,
        steps,
        layer_ms,
    })
}

fn mib(b: Option<u64>) -> String {
    b.map(|b| format!("{:.0} MiB", b as f64 / 1048576.0))
        .unwrap_or_else(|| "–".into())
}

/// One table for a model and a workload: a row per mode, each device's time and ratios side by
/// side.
fn print_steps(args: &BenchArgs, model: BenchModel, workload: Workload, runs: &[DeviceRun]) {
    let of_pair = |l: &&Line| l.model == model.name() && l.workload == workload.name();
    if !runs.iter().any(|r| r.steps.iter().any(|l| of_pair(&l))) {
        return;
    }
    println!("\n{model}, {} workload:", workload.name());
    let mut head = String::from("| mode |");
    let mut rule = String::from("|---|");
    for r in runs {
        head += &format!(
            " {0} s/step | {0} tokens/s | {0} × LoRA | {0} × frozen |",
            r.choice
        );
        rule += "---:|---:|---:|---:|";
    }
    head += " trainable | adapter file |";
    rule += "---:|---:|";
    for r in runs {
        head += &format!(" {} attach s |", r.choice);
        rule += "---:|";
    }
    for r in runs {
        head += &format!(" {} peak RSS |", r.choice);
        rule += "---:|";
        if r.steps.iter().any(|l| l.device_reserved.is_some()) {
            head += &format!(" {} device pool |", r.choice);
            rule += "---:|";
        }
    }
    println!("{head}\n{rule}");
    for mode in &args.modes {
        let lines: Vec<Option<&Line>> = runs
            .iter()
            .map(|r| r.steps.iter().filter(of_pair).find(|l| &l.mode == mode))
            .collect();
        let Some(any) = lines.iter().flatten().next() else {
            continue;
        };
        let mut row = format!("| {mode} |");
        for (r, l) in runs.iter().zip(&lines) {
            let of = |m: &str| {
                r.steps
                    .iter()
                    .filter(of_pair)
                    .find(|x| x.mode == m)
                    .map(|x| x.seconds_per_step)
            };
            match l {
                Some(l) => {
                    let ratio = |b: Option<f64>| {
                        b.map(|b| format!("{:.3}", l.seconds_per_step / b))
                            .unwrap_or_else(|| "–".into())
                    };
                    row += &format!(
                        " {:.3} | {:.0} | {} | {} |",
                        l.seconds_per_step,
                        l.tokens_per_second,
                        ratio(of("lora")),
                        ratio(of("frozen"))
                    );
                }
                None => row += " – | – | – | – |",
            }
        }
        let file = if any.adapter_bytes == 0 {
            "–".to_string()
        } else {
            format!("{} B", any.adapter_bytes)
        };
        row += &format!(" {} | {file} |", any.trainable_params);
        for l in &lines {
            row += &l.map_or(" – |".into(), |l| format!(" {:.3} |", l.attach_seconds));
        }
        for (r, l) in runs.iter().zip(&lines) {
            row += &format!(" {} |", mib(l.and_then(|l| l.peak_rss_bytes)));
            if r.steps.iter().any(|l| l.device_reserved.is_some()) {
                row += &format!(" {} |", mib(l.and_then(|l| l.device_reserved)));
            }
        }
        println!("{row}");
    }
}

fn print_layer(model: BenchModel, args: &BenchArgs, runs: &[DeviceRun]) {
    let [n_in, n_out] = model.first_target_shape();
    println!();
    println!(
        "{model}, adapter path alone: one [{n_in}, {n_out}] layer, {} rows, forward + \
         backward, {} iterations",
        args.batch * args.seq,
        args.layer_iters
    );
    let mut head = String::from("| mode |");
    let mut rule = String::from("|---|");
    for r in runs {
        head += &format!(" {0} ms/iter | {0} × factorized |", r.choice);
        rule += "---:|---:|";
    }
    println!("{head}\n{rule}");
    let ms = |r: &DeviceRun, mode: &str| {
        r.layer_ms
            .iter()
            .find(|(m, x, _)| *m == model && x == mode)
            .map(|x| x.2)
    };
    for mode in LAYER_MODES {
        let mut row = format!("| {mode} |");
        let mut any = false;
        for r in runs {
            let fact = ms(r, "curlora").unwrap_or(f64::NAN);
            match ms(r, mode) {
                Some(v) => {
                    any = true;
                    row += &format!(" {v:.3} | {:.2} |", v / fact);
                }
                None => row += " – | – |",
            }
        }
        if any {
            println!("{row}");
        }
    }
}
