use curlora::core::device::DeviceChoice;
use curlora::experiment::bench::{self, BenchResult};

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
    #[arg(long, default_value_t = 8)]
    pub rank: usize,
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    #[arg(long, default_value_t = 128)]
    pub seq: usize,
    /// Timed steps per mode (after one warm-up step).
    #[arg(long, default_value_t = 3)]
    pub steps: usize,
    /// Number of layers (GPT-2 small has 12).
    #[arg(long, default_value_t = 12)]
    pub layers: usize,
    /// Vocabulary size (GPT-2 has 50,257). Software adapters such as lavapipe bind at most
    /// 128 MiB per buffer, less than GPT-2's embedding and logits: use 32000 there.
    #[arg(long, default_value_t = 50257)]
    pub vocab: usize,
    /// Iterations of the adapter-path-alone timing (after two warm-ups).
    #[arg(long, default_value_t = 20)]
    pub layer_iters: usize,
    /// Print JSON.
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

#[derive(serde::Serialize, serde::Deserialize)]
struct Line {
    mode: String,
    seconds_per_step: f64,
    trainable_params: usize,
    adapter_bytes: usize,
    peak_rss: Option<u64>,
    device_reserved: Option<u64>,
    /// Seconds to attach the adapters (absent in lines from older builds).
    #[serde(default)]
    attach_seconds: f64,
    device: String,
}

/// One device's results.
#[derive(serde::Serialize)]
struct DeviceRun {
    choice: String,
    device: String,
    steps: Vec<Line>,
    /// `(mode, ms per forward + backward)` of the adapter path alone.
    layer_ms: Vec<(String, f64)>,
}

fn flag(choice: DeviceChoice) -> String {
    format!("{choice:?}").to_lowercase()
}

pub fn run(args: &BenchArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let mut config = bench::gpt2_small();
    config.n_layer = args.layers;
    config.vocab_size = args.vocab;
    if let Some(mode) = &args.single {
        let dev = curlora::core::device::select(choice)?;
        let r: BenchResult = bench::run_mode(
            &config,
            mode,
            args.rank,
            args.batch,
            args.seq,
            args.steps,
            &dev.device.clone().autodiff(),
        )?;
        let line = Line {
            mode: r.mode,
            seconds_per_step: r.seconds_per_step,
            trainable_params: r.trainable_params,
            adapter_bytes: r.adapter_bytes,
            peak_rss: bench::peak_rss(),
            device_reserved: r.device_reserved,
            attach_seconds: r.attach_seconds,
            device: dev.description,
        };
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
        runs.push(run_device(args, &config, d)?);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
        return Ok(());
    }
    print_steps(args, &runs);
    if args.layer {
        print_layer(&config, args, &runs);
    }
    Ok(())
}

/// Every mode on one device, each in its own process so that peak memory is that mode's alone
/// (or all here with `--in-process`); then the adapter path alone in this process.
fn run_device(
    args: &BenchArgs,
    config: &curlora::model::Gpt2Config,
    choice: DeviceChoice,
) -> anyhow::Result<DeviceRun> {
    let exe = std::env::current_exe()?;
    let dev = curlora::core::device::select(choice)?;
    let mut steps: Vec<Line> = Vec::new();
    for mode in &args.modes {
        if !dev.is_gpu && GPU_ONLY.contains(&mode.as_str()) {
            continue;
        }
        eprintln!(
            "bench {mode} on {}: {} layers, vocab {}, batch {}, seq {}, rank {}…",
            dev.description, args.layers, args.vocab, args.batch, args.seq, args.rank
        );
        if args.in_process && dev.is_gpu {
            // What the previous mode left in the pools is not this mode's.
            dev.device.memory_cleanup();
            let r = bench::run_mode(
                config,
                mode,
                args.rank,
                args.batch,
                args.seq,
                args.steps,
                &dev.device.clone().autodiff(),
            )?;
            steps.push(Line {
                mode: r.mode,
                seconds_per_step: r.seconds_per_step,
                trainable_params: r.trainable_params,
                adapter_bytes: r.adapter_bytes,
                peak_rss: None,
                device_reserved: r.device_reserved,
                attach_seconds: r.attach_seconds,
                device: dev.description.clone(),
            });
            continue;
        }
        let out = std::process::Command::new(&exe)
            .args(["--device", &flag(choice), "bench", "--single", mode])
            .args(["--rank", &args.rank.to_string()])
            .args(["--batch", &args.batch.to_string()])
            .args(["--seq", &args.seq.to_string()])
            .args(["--steps", &args.steps.to_string()])
            .args(["--layers", &args.layers.to_string()])
            .args(["--vocab", &args.vocab.to_string()])
            .output()?;
        if !out.status.success() {
            anyhow::bail!(
                "bench {mode} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        steps.push(serde_json::from_slice(&out.stdout)?);
    }
    let mut layer_ms = Vec::new();
    if args.layer {
        let d = config.n_embd;
        for mode in LAYER_MODES {
            if !dev.is_gpu && GPU_ONLY.contains(&mode) {
                continue;
            }
            eprintln!("adapter path alone, {mode} on {}…", dev.description);
            let ms = bench::layer_path(
                mode,
                [d, 3 * d],
                args.batch * args.seq,
                args.rank,
                args.layer_iters,
                &dev.device.clone().autodiff(),
            )?;
            layer_ms.push((mode.to_string(), ms));
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

/// One row per mode, each device's time and ratios side by side.
fn print_steps(args: &BenchArgs, runs: &[DeviceRun]) {
    for r in runs {
        println!("{}: {}", r.choice, r.device);
    }
    let mut head = String::from("| mode |");
    let mut rule = String::from("|---|");
    for r in runs {
        head += &format!(" {0} s/step | {0} × LoRA | {0} × frozen |", r.choice);
        rule += "---:|---:|---:|";
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
            .map(|r| r.steps.iter().find(|l| &l.mode == mode))
            .collect();
        let Some(any) = lines.iter().flatten().next() else {
            continue;
        };
        let mut row = format!("| {mode} |");
        for (r, l) in runs.iter().zip(&lines) {
            let of = |m: &str| {
                r.steps
                    .iter()
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
                        " {:.3} | {} | {} |",
                        l.seconds_per_step,
                        ratio(of("lora")),
                        ratio(of("frozen"))
                    );
                }
                None => row += " – | – | – |",
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
            row += &format!(" {} |", mib(l.and_then(|l| l.peak_rss)));
            if r.steps.iter().any(|l| l.device_reserved.is_some()) {
                row += &format!(" {} |", mib(l.and_then(|l| l.device_reserved)));
            }
        }
        println!("{row}");
    }
}

fn print_layer(config: &curlora::model::Gpt2Config, args: &BenchArgs, runs: &[DeviceRun]) {
    let d = config.n_embd;
    println!();
    println!(
        "adapter path alone: one [{d}, {}] layer, {} rows, forward + backward, {} iterations",
        3 * d,
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
    for mode in LAYER_MODES {
        let mut row = format!("| {mode} |");
        let mut any = false;
        for r in runs {
            let fact = r
                .layer_ms
                .iter()
                .find(|(m, _)| m == "curlora")
                .map_or(f64::NAN, |x| x.1);
            match r.layer_ms.iter().find(|(m, _)| m == mode) {
                Some((_, ms)) => {
                    any = true;
                    row += &format!(" {ms:.3} | {:.2} |", ms / fact);
                }
                None => row += " – | – |",
            }
        }
        if any {
            println!("{row}");
        }
    }
}
