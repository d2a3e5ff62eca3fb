use curlora::adapters::Method;
use curlora::adapters::store;
use curlora::device::DeviceChoice;
use curlora::experiment::{Experiment, ExperimentSpec};
use curlora::train::Event;
use curlora::train::engine::label;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// A built-in experiment: paper-gpt2 or paper-gpt2-fixed.
    #[arg(long, conflicts_with = "config")]
    pub preset: Option<String>,
    /// An experiment file (TOML; `--print-config` shows the format).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// HF GPT-2 model folder.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Where the preset's data files are (laid out as ../shared/data).
    #[arg(long, default_value = "../shared/data")]
    pub data_dir: PathBuf,
    /// Comma-separated: lora, curlora, full.
    #[arg(long, value_delimiter = ',')]
    pub methods: Option<Vec<Method>>,
    #[arg(long, value_delimiter = ',')]
    pub ranks: Option<Vec<usize>>,
    #[arg(long, value_delimiter = ',')]
    pub seeds: Option<Vec<u64>>,
    /// Override every task's number of epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Use only the first N training rows of every task.
    #[arg(long)]
    pub max_train: Option<usize>,
    /// Use only the first N evaluation rows of every task.
    #[arg(long)]
    pub max_eval: Option<usize>,
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    #[arg(long, default_value = "runs/latest")]
    pub out: PathBuf,
    /// Skip malformed data rows (reporting how many) instead of stopping at the first.
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// Print the experiment as TOML and exit.
    #[arg(long)]
    pub print_config: bool,
}

fn spec(args: &RunArgs) -> anyhow::Result<ExperimentSpec> {
    let mut s = match (&args.preset, &args.config) {
        (Some(p), _) => curlora::presets::preset(p, &args.data_dir)?,
        (None, Some(c)) => ExperimentSpec::from_toml_file(c)?,
        (None, None) => anyhow::bail!(
            "no experiment given: pass --preset ({}) or --config FILE.toml \
             (the embedded default model and data are not bundled yet)",
            curlora::presets::NAMES.join(", ")
        ),
    };
    if let Some(m) = &args.model {
        s.model = Some(m.clone());
    }
    if let Some(v) = &args.methods {
        s.methods = v.clone();
    }
    if let Some(v) = &args.ranks {
        s.ranks = v.clone();
    }
    if let Some(v) = &args.seeds {
        s.seeds = v.clone();
    }
    for t in &mut s.tasks {
        if let Some(e) = args.epochs {
            t.epochs = e;
        }
        if let Some(n) = args.max_train {
            t.train_rows = Some(t.train_rows.map_or(n, |r| r.min(n)));
        }
        if let Some(n) = args.max_eval {
            t.eval_rows = Some(t.eval_rows.map_or(n, |r| r.min(n)));
        }
    }
    if let Some(lr) = args.lr {
        s.train.lr = lr;
    }
    if let Some(b) = args.batch_size {
        s.train.batch_size = b;
    }
    if args.skip_bad_rows {
        s.skip_bad_rows = true;
    }
    s.train.perplexity = s.perplexity.mode.clone();
    Ok(s)
}

pub fn run(args: &RunArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let spec = spec(args)?;
    if args.print_config {
        print!("{}", spec.to_toml());
        return Ok(());
    }
    let dev = curlora::device::select(choice)?;
    eprintln!("device: {}", dev.description);
    let exp = Experiment::load(spec, &dev.device.clone().autodiff())?;
    for (path, n, first) in &exp.skipped {
        eprintln!(
            "warning: {}: skipped {n} malformed rows (first: {})",
            path.display(),
            first.as_deref().unwrap_or("?")
        );
    }
    for t in &exp.tasks {
        eprintln!(
            "task {}: {} train / {} eval, {} classes, majority baseline {:.4}",
            t.name,
            t.train.len(),
            t.eval.len(),
            t.num_classes,
            t.majority_baseline
        );
    }
    let (tx, rx) = std::sync::mpsc::channel::<Event>();
    let printer = std::thread::spawn(move || print_events(rx));
    let out = args.out.clone();
    let cancel = Arc::new(AtomicBool::new(false));
    let mut diverged = Vec::new();
    let report = exp.run(&dev.description, &tx, cancel, |cfg, outcome| {
        let name = format!(
            "{}-seed{}.safetensors",
            label(cfg.method, cfg.rank),
            cfg.seed
        );
        let heads: Vec<_> = exp
            .tasks
            .iter()
            .zip(&outcome.heads)
            .map(|(t, h)| (t.name.clone(), h.clone()))
            .collect();
        let bytes = store::save(
            &out.join("adapters").join(&name),
            &outcome.model,
            cfg,
            &exp.base.weights_hash,
            &heads,
        )?;
        if let curlora::train::RunStatus::Diverged { message, .. } = &outcome.status {
            diverged.push(message.clone());
        }
        Ok(Some(bytes as u64))
    })?;
    drop(tx);
    let _ = printer.join();
    report.write(&out)?;
    println!("{}", report.markdown());
    eprintln!(
        "wrote {}/report.json, report.csv, report.md and adapters/",
        out.display()
    );
    if !diverged.is_empty() {
        anyhow::bail!(
            "{} run(s) diverged: {}",
            diverged.len(),
            diverged.join("; ")
        );
    }
    Ok(())
}

/// Progress on stderr, driven only by the engine's events.
fn print_events(rx: std::sync::mpsc::Receiver<Event>) {
    let mut steps_total = 0;
    let mut label_now = String::new();
    for e in rx {
        match e {
            Event::RunStart {
                run,
                method,
                rank,
                seed,
                trainable_params,
                ..
            } => {
                label_now = label(method, rank);
                eprintln!(
                    "run {run}: {label_now} seed {seed}, {trainable_params} trainable parameters"
                );
            }
            Event::TaskStart { name, steps, .. } => {
                steps_total = steps;
                eprintln!("  task {name}: {steps} steps");
            }
            Event::Step { step, loss, lr, .. } => {
                let every = (steps_total / 10).max(1);
                if step.is_multiple_of(every) || step + 1 == steps_total {
                    eprintln!(
                        "    [{label_now}] step {:>5}/{steps_total}  loss {loss:.4}  lr {lr:.2e}",
                        step + 1
                    );
                }
            }
            Event::Eval {
                after_task,
                task,
                accuracy,
                majority_baseline,
                constant_predictor,
                ..
            } => {
                let flag = constant_predictor
                    .map(|(c, s)| format!("  (constant: class {c} for {:.0}%)", s * 100.0))
                    .unwrap_or_default();
                eprintln!(
                    "    after task {} → task {}: accuracy {accuracy:.4} (majority {majority_baseline:.4}){flag}",
                    after_task + 1,
                    task + 1
                );
            }
            Event::Perplexity {
                after_task,
                perplexity,
                ..
            } => match after_task {
                None => eprintln!("  held-out perplexity before training: {perplexity:.3}"),
                Some(t) => eprintln!("    perplexity after task {}: {perplexity:.3}", t + 1),
            },
            Event::Error { message, .. } => eprintln!("  error: {message}"),
            _ => {}
        }
    }
}
