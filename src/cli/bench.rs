use curlora::bench::{self, BenchResult};
use curlora::device::DeviceChoice;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Comma-separated modes: frozen, lora, curlora, curlora-materialized, full.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "frozen,lora,curlora,curlora-materialized,full"
    )]
    pub modes: Vec<String>,
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
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Also time the adapter path alone (one c_attn-shaped layer, forward + backward).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub layer: bool,
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
    device: String,
}

pub fn run(args: &BenchArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let mut config = bench::gpt2_small();
    config.n_layer = args.layers;
    if let Some(mode) = &args.single {
        let dev = curlora::device::select(choice)?;
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
            device: dev.description,
        };
        println!("{}", serde_json::to_string(&line)?);
        return Ok(());
    }
    // Each mode in its own process, so peak memory is that mode's alone.
    let exe = std::env::current_exe()?;
    let device_flag = format!("{choice:?}").to_lowercase();
    let mut lines: Vec<Line> = Vec::new();
    for mode in &args.modes {
        eprintln!(
            "bench {mode}: {} layers, batch {}, seq {}, rank {}…",
            args.layers, args.batch, args.seq, args.rank
        );
        let out = std::process::Command::new(&exe)
            .args(["--device", &device_flag, "bench", "--single", mode])
            .args([
                "--rank",
                &args.rank.to_string(),
                "--batch",
                &args.batch.to_string(),
            ])
            .args([
                "--seq",
                &args.seq.to_string(),
                "--steps",
                &args.steps.to_string(),
            ])
            .args(["--layers", &args.layers.to_string()])
            .output()?;
        if !out.status.success() {
            anyhow::bail!(
                "bench {mode} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        lines.push(serde_json::from_slice(&out.stdout)?);
    }
    let mut layer_ms = Vec::new();
    if args.layer {
        let dev = curlora::device::select(choice)?;
        let d = config.n_embd;
        for mode in ["lora", "curlora", "curlora-materialized"] {
            let ms = bench::layer_path(
                mode,
                [d, 3 * d],
                args.batch * args.seq,
                args.rank,
                20,
                &dev.device.clone().autodiff(),
            )?;
            layer_ms.push((mode, ms));
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"steps": lines, "layer_ms": layer_ms})
            )?
        );
        return Ok(());
    }
    let lora = lines
        .iter()
        .find(|l| l.mode == "lora")
        .map(|l| l.seconds_per_step);
    let frozen = lines
        .iter()
        .find(|l| l.mode == "frozen")
        .map(|l| l.seconds_per_step);
    println!(
        "device: {}",
        lines.first().map(|l| l.device.as_str()).unwrap_or("?")
    );
    println!("| mode | s/step | × LoRA | × frozen | trainable | adapter file | peak RSS |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for l in &lines {
        let ratio = |b: Option<f64>| {
            b.map(|b| format!("{:.3}", l.seconds_per_step / b))
                .unwrap_or_else(|| "–".into())
        };
        println!(
            "| {} | {:.3} | {} | {} | {} | {} | {} |",
            l.mode,
            l.seconds_per_step,
            ratio(lora),
            ratio(frozen),
            l.trainable_params,
            if l.adapter_bytes == 0 {
                "–".to_string()
            } else {
                format!("{} B", l.adapter_bytes)
            },
            l.peak_rss
                .map(|b| format!("{:.0} MiB", b as f64 / 1048576.0))
                .unwrap_or_else(|| "?".into()),
        );
    }
    if !layer_ms.is_empty() {
        let d = config.n_embd;
        println!();
        println!(
            "adapter path alone: one [{d}, {}] layer, {} rows, forward + backward",
            3 * d,
            args.batch * args.seq
        );
        println!("| mode | ms/iter | × curlora (factorized) |");
        println!("|---|---:|---:|");
        let fact = layer_ms
            .iter()
            .find(|(m, _)| *m == "curlora")
            .map(|x| x.1)
            .unwrap_or(f64::NAN);
        for (m, ms) in &layer_ms {
            println!("| {m} | {ms:.3} | {:.2} |", ms / fact);
        }
    }
    Ok(())
}
