use curlora::adapters::{CurSource, LoraScaling, Method, SelectionMode, UInit};
use curlora::core::device::DeviceChoice;
use curlora::experiment::checkpoint::{self, Resumed};
use curlora::experiment::{Experiment, ExperimentSpec};
use curlora::train::Event;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// A built-in experiment: default (the embedded tiny model and tasks; also what runs when
    /// no --preset or --config is given), paper-gpt2, paper-gpt2-fixed, paper-mistral or
    /// smollm2-continual (Llama-family models).
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
    /// Comma-separated method names (the experiment's by default: lora,curlora for the
    /// embedded one).
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
    /// CURLoRA selection probabilities: inverted (the method), standard (classic CUR) or
    /// uniform (ablations).
    #[arg(long)]
    pub selection_mode: Option<SelectionMode>,
    /// ε of the inverted probabilities (0.001 as the reference; 0 is the paper's Eq. 4).
    #[arg(long)]
    pub epsilon: Option<f64>,
    /// Sample CURLoRA's columns and rows without replacement (the reference samples with).
    #[arg(long)]
    pub no_replacement: bool,
    /// CURLoRA's U at the start: zero (the method) or normal:σ (an ablation).
    #[arg(long)]
    pub u_init: Option<UInit>,
    /// CURLoRA's C and R: weights (columns and rows of W, the method) or gaussian (seeded
    /// Gaussians of the same shapes and norms, an ablation).
    #[arg(long)]
    pub cur_source: Option<CurSource>,
    /// LoRA's (and PiSSA's, MiLoRA's, O-LoRA's) output scale: reference (α) or peft (α/r).
    #[arg(long)]
    pub lora_scaling: Option<LoraScaling>,
    /// O-LoRA's λ, the weight of its orthogonality penalty (0.5 as in the paper).
    #[arg(long)]
    pub olora_lambda: Option<f64>,
    #[arg(long, default_value = "runs/latest")]
    pub out: PathBuf,
    /// Skip malformed data rows (reporting how many) instead of stopping at the first.
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// Do not add the head-only baseline (`frozen`: a head per task on the untouched model),
    /// which every report otherwise shows beside the methods and reads FWT against.
    #[arg(long)]
    pub no_head_only: bool,
    /// Also write every engine event as one JSON line to this file (a recorded run that the
    /// apps can replay).
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Print the experiment as TOML and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Continue an interrupted `curlora run --out DIR` from its last task boundary (DIR/checkpoint/,
    /// saved after every task): the same experiment, into the same folder. The report equals
    /// an uninterrupted run's.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["preset", "config", "print_config"])]
    pub resume: Option<PathBuf>,
    /// With --resume, after a run diverged: retry it from its last good task boundary with the
    /// learning rate multiplied by this (e.g. 0.5).
    #[arg(long, requires = "resume")]
    pub lr_scale: Option<f64>,
}

fn spec(args: &RunArgs) -> anyhow::Result<ExperimentSpec> {
    let mut s = match (&args.preset, &args.config) {
        (Some(p), _) if p == "default" => {
            curlora::experiment::default_experiment(&curlora::core::embedded::materialize()?)
        }
        (Some(p), _) => curlora::experiment::presets::preset(p, &args.data_dir)?,
        (None, Some(c)) => ExperimentSpec::from_toml_file(c)?,
        // No experiment named: the embedded default (tiny model, three tasks, offline).
        (None, None) => {
            curlora::experiment::default_experiment(&curlora::core::embedded::materialize()?)
        }
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
    s.limit_tasks(args.epochs, args.max_train, args.max_eval);
    if let Some(lr) = args.lr {
        s.train.lr = lr;
    }
    if let Some(b) = args.batch_size {
        s.train.batch_size = b;
    }
    if args.skip_bad_rows {
        s.skip_bad_rows = true;
    }
    if let Some(m) = args.selection_mode {
        s.selection_mode = m;
    }
    if let Some(e) = args.epsilon {
        s.epsilon = e;
    }
    if args.no_replacement {
        s.replacement = false;
    }
    if let Some(u) = args.u_init {
        s.u_init = u;
    }
    if let Some(c) = args.cur_source {
        s.cur_source = c;
    }
    if let Some(l) = args.lora_scaling {
        s.lora_scaling = l;
    }
    if let Some(l) = args.olora_lambda {
        s.olora_lambda = l;
    }
    if !args.no_head_only && !s.methods.contains(&Method::Frozen) {
        s.methods.push(Method::Frozen);
    }
    s.train.perplexity = s.perplexity.mode.clone();
    Ok(s)
}

pub fn run(args: &RunArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    if let Some(s) = args.lr_scale
        && !(s.is_finite() && s > 0.0)
    {
        anyhow::bail!("--lr-scale {s}: expected a positive number, e.g. 0.5");
    }
    let resumed = args.resume.as_deref().map(Resumed::read).transpose()?;
    let spec = match &resumed {
        Some(r) => r.spec.clone(),
        None => spec(args)?,
    };
    if args.print_config {
        print!("{}", spec.to_toml());
        return Ok(());
    }
    let out = args.resume.clone().unwrap_or_else(|| args.out.clone());
    let dev = curlora::core::device::select(choice)?;
    eprintln!("device: {}", dev.description);
    let mut exp = Experiment::load(spec.clone(), &dev.device.clone().autodiff())?;
    if let Some(r) = &resumed {
        exp.resume = r.resume_points(&out, args.lr_scale)?;
        let done = r
            .state
            .runs
            .iter()
            .map(|s| format!("run {} after task {}", s.run, s.after_task));
        eprintln!(
            "resuming from {}: {}",
            out.join(checkpoint::FOLDER).display(),
            done.collect::<Vec<_>>().join(", ")
        );
    }
    // Full fine-tunes send their weights at each boundary too, so that they can resume.
    exp.checkpoint_base = true;
    super::progress::describe(&exp);
    let (tx, rx) = std::sync::mpsc::channel::<Event>();
    let record = match &args.record {
        Some(p) => {
            // `--record OUT/events.jsonl` before OUT exists is the common case.
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| curlora::Error::write(dir, e))?;
            }
            Some((
                p.clone(),
                std::fs::File::create(p).map_err(|e| curlora::Error::write(p, e))?,
            ))
        }
        None => None,
    };
    // A resume first sends what the checkpoint holds, so the log and the recording are whole.
    for e in resumed.iter().flat_map(|r| &r.events) {
        let _ = tx.send(e.clone());
    }
    let printer = std::thread::spawn(move || super::progress::print_events(rx, record));
    let cancel = Arc::new(AtomicBool::new(false));
    let writer = checkpoint::Writer::new(&out, &spec, &tx, cancel.clone(), resumed.as_ref());
    {
        // Ctrl-C stops after the current batch; what was done is still reported and saved.
        let cancel = cancel.clone();
        let _ = ctrlc::set_handler(move || {
            eprintln!("\ninterrupted: finishing the current step, then writing the report");
            cancel.store(true, std::sync::atomic::Ordering::Relaxed);
        });
    }
    let mut diverged = Vec::new();
    let report = exp.run(&dev.description, &writer, cancel, |cfg, outcome| {
        let bytes = exp.save_adapter(&out.join("adapters"), cfg, outcome)?;
        if let curlora::train::RunStatus::Diverged { message, .. } = &outcome.status {
            diverged.push(message.clone());
        }
        Ok(Some(bytes))
    })?;
    drop(writer);
    drop(tx);
    let _ = printer.join();
    report.write(&out)?;
    let plots = curlora::experiment::plots::write_all(&report, &out)?;
    println!("{}", report.markdown());
    eprintln!(
        "wrote {0}/report.json, report.csv, report.md, {1} PNG plots and {0}/adapters/",
        out.display(),
        plots.len()
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
