//! `curlora study`: run (a shard of) a study's grid, resumably; `study merge` aggregates it;
//! `study emit` writes the job for a cluster's engine.

use curlora::core::device::DeviceChoice;
use curlora::core::dtype::Precision;
use curlora::experiment::Experiment;
use curlora::experiment::study::{CellStatus, Shard, Study, StudySpec, emit, write_merge};
use curlora::train::{Event, RunStatus};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct StudyArgs {
    #[command(subcommand)]
    pub command: Option<StudyCommand>,
    #[command(flatten)]
    pub run: StudyRun,
}

#[derive(clap::Args, Debug)]
pub struct StudyRun {
    /// The study file (TOML): an experiment (`preset`, `experiment_file` or `[experiment]`)
    /// plus axes (`methods`, `ranks`, `seeds`, `[axes]`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The study folder: `study.json`, `cells/<id>/` and, after `merge`, the report. On a
    /// cluster, a folder every node shares.
    #[arg(long, default_value = "runs/study")]
    pub out: PathBuf,
    /// Run only shard K of N (cells K, K+N, …). Without it the shard comes from
    /// SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX with CURLORA_SHARDS, else all cells.
    #[arg(long)]
    pub shard: Option<Shard>,
    /// Where a preset's data files are (overrides the study file's `data_dir`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// The model folder or GGUF file (overrides the study file's).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Merge when this process has run its cells (the last shard to finish merges them all).
    #[arg(long)]
    pub merge: bool,
    /// List the cells (and which are finished) and exit.
    #[arg(long)]
    pub list: bool,
    /// Train nothing: write study.json for this grid (and merge, with --merge), e.g. to see a
    /// partial result while shards still run, or after growing the grid.
    #[arg(long)]
    pub no_run: bool,
}

#[derive(clap::Subcommand, Debug)]
pub enum StudyCommand {
    /// Aggregate every finished cell of DIR: report.json, report.csv, cells.csv, report.md and
    /// plots/, mean ± sd and 95% t-intervals per method, rank and ablation; names the missing.
    Merge {
        /// The study folder.
        dir: PathBuf,
    },
    /// Write the job that runs the study on a cluster's engine (to stdout or --output).
    Emit(EmitArgs),
}

#[derive(clap::Args, Debug)]
pub struct EmitArgs {
    /// slurm (an sbatch job-array script), k8s (a Kubernetes Indexed Job) or parallel (a GNU
    /// parallel command line).
    #[arg(value_enum)]
    pub engine: Engine,
    #[arg(long)]
    pub config: PathBuf,
    /// The study folder, on the shared file system.
    #[arg(long, default_value = "runs/study")]
    pub out: PathBuf,
    /// Tasks to split the grid into (default: one per cell).
    #[arg(long)]
    pub shards: Option<usize>,
    /// CPU cores per task.
    #[arg(long, default_value_t = 2)]
    pub cpus: usize,
    /// The curlora binary as the nodes see it (default: this one).
    #[arg(long)]
    pub binary: Option<PathBuf>,
    /// Container image (k8s).
    #[arg(long, default_value = "curlora:latest")]
    pub image: String,
    /// Write the job here instead of stdout.
    #[arg(long)]
    pub output: Option<PathBuf>,
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Engine {
    Slurm,
    K8s,
    Parallel,
}

pub fn run(args: &StudyArgs, choice: DeviceChoice, dtype: Precision) -> anyhow::Result<()> {
    match &args.command {
        Some(StudyCommand::Merge { dir }) => merge(dir),
        Some(StudyCommand::Emit(e)) => emit_job(e, choice, dtype),
        None => run_study(&args.run, choice),
    }
}

fn merge(dir: &Path) -> anyhow::Result<()> {
    let (report, plots) = write_merge(dir)?;
    eprintln!(
        "merged {} of {} cells into {}/report.json, report.csv, cells.csv, report.md and {plots} plots",
        report.cells_finished,
        report.cells_total,
        dir.display()
    );
    if !report.missing.is_empty() {
        eprintln!(
            "missing ({}, not averaged in): {}",
            report.missing.len(),
            report.missing.join(", ")
        );
    }
    Ok(())
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    Ok(std::path::absolute(p)?)
}

/// How a value of a command-line enum is spelled on the command line.
fn value_name(v: &impl clap::ValueEnum) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

fn emit_job(e: &EmitArgs, choice: DeviceChoice, dtype: Precision) -> anyhow::Result<()> {
    let spec = StudySpec::from_toml_file(&e.config)?;
    let study = Study::new(&spec, &e.config, &e.out, e.data_dir.as_deref(), None)?;
    let binary = match &e.binary {
        Some(b) => b.clone(),
        None => std::env::current_exe()?,
    };
    let (config, out) = (absolute(&e.config)?, absolute(&e.out)?);
    let job = emit::Job {
        name: &study.name,
        binary: &binary,
        config: &config,
        out: &out,
        shards: e
            .shards
            .unwrap_or(study.cells.len())
            .clamp(1, study.cells.len().max(1)),
        cpus: e.cpus,
        global_args: vec![
            "--device".into(),
            value_name(&choice),
            "--dtype".into(),
            value_name(&dtype),
        ],
        image: &e.image,
    };
    let text = match e.engine {
        Engine::Slurm => {
            // Slurm opens a task's output file before the script runs: the folder must exist.
            let logs = out.join("logs");
            std::fs::create_dir_all(&logs).map_err(|err| curlora::Error::write(&logs, err))?;
            job.slurm()
        }
        Engine::K8s => job.kubernetes(),
        Engine::Parallel => job.parallel(),
    };
    match &e.output {
        Some(p) => {
            curlora::core::fsutil::write_atomic(p, text.as_bytes())?;
            eprintln!(
                "wrote {} ({} shards of {} cells)",
                p.display(),
                job.shards,
                study.cells.len()
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}

fn run_study(a: &StudyRun, choice: DeviceChoice) -> anyhow::Result<()> {
    let file = a.config.as_ref().ok_or_else(|| {
        anyhow::anyhow!("`curlora study` needs --config STUDY.toml (or `merge DIR`, `emit`)")
    })?;
    let spec = StudySpec::from_toml_file(file)?;
    let study = Study::new(
        &spec,
        file,
        &a.out,
        a.data_dir.as_deref(),
        a.model.as_deref(),
    )?;
    let shard = match a.shard {
        Some(s) => s,
        None => Shard::from_env(|k| std::env::var(k).ok())?.unwrap_or(Shard::ALL),
    };
    let mine: Vec<usize> = (0..study.cells.len()).filter(|&i| shard.owns(i)).collect();
    if a.list {
        for &i in &mine {
            let c = &study.cells[i];
            let state = if study.is_done(&c.id) {
                "done"
            } else {
                "to do"
            };
            println!("{i:>4} {:<48} {state}", c.id);
        }
        return Ok(());
    }
    study.prepare()?;
    let todo: Vec<usize> = mine
        .iter()
        .copied()
        .filter(|&i| !study.is_done(&study.cells[i].id))
        .collect();
    eprintln!(
        "study `{}`: {} cells, shard {shard} has {} ({} finished already, {} to run) in {}",
        study.name,
        study.cells.len(),
        mine.len(),
        mine.len() - todo.len(),
        todo.len(),
        a.out.display()
    );
    if !todo.is_empty() && !a.no_run {
        run_cells(&study, &todo, choice)?;
    }
    if a.merge {
        merge(&a.out)?;
    }
    Ok(())
}

fn run_cells(study: &Study, todo: &[usize], choice: DeviceChoice) -> anyhow::Result<()> {
    let dev = curlora::core::device::select(choice)?;
    eprintln!("device: {}", dev.description);
    let exp = Experiment::load(study.base.clone(), &dev.device.clone().autodiff())?;
    super::progress::describe(&exp);
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = cancel.clone();
        let _ = ctrlc::set_handler(move || {
            eprintln!("\ninterrupted: finishing the current step; this cell will be redone");
            cancel.store(true, Ordering::Relaxed);
        });
    }
    let (tx, rx) = std::sync::mpsc::channel::<Event>();
    let printer = std::thread::spawn(move || super::progress::print_events(rx, None));
    let bar = super::progress::interactive().then(|| {
        let b = indicatif::ProgressBar::new(todo.len() as u64).with_style(
            indicatif::ProgressStyle::with_template("study [{bar:30}] {pos}/{len} cells {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        b.enable_steady_tick(Duration::from_secs(1));
        b
    });
    let say = |line: String| match &bar {
        Some(b) => b.println(line),
        None => eprintln!("{line}"),
    };
    let start = Instant::now();
    let mut finished = 0usize;
    let mut diverged = Vec::new();
    for (k, &i) in todo.iter().enumerate() {
        let cell = &study.cells[i];
        say(format!(
            "cell {}/{} `{}`: starting",
            k + 1,
            todo.len(),
            cell.id
        ));
        let status = study.run_cell(&exp, i, &dev.description, &tx, cancel.clone())?;
        match status {
            CellStatus::Cancelled => {
                say(format!(
                    "cell `{}` cancelled: not kept; rerun to finish the study",
                    cell.id
                ));
                break;
            }
            CellStatus::Done => say(format!("cell `{}`: finished by another process", cell.id)),
            CellStatus::Finished { seconds, status } => {
                finished += 1;
                if let RunStatus::Diverged { message, .. } = status {
                    diverged.push(format!("{}: {message}", cell.id));
                }
                let left = todo.len() - k - 1;
                let eta = start.elapsed().mul_f64(left as f64 / finished as f64);
                let msg = format!(
                    "cell {}/{} `{}`: done in {}; {left} left, eta {}",
                    k + 1,
                    todo.len(),
                    cell.id,
                    super::progress::duration(Duration::from_secs_f64(seconds)),
                    super::progress::duration(eta)
                );
                if let Some(b) = &bar {
                    b.set_message(format!("eta {}", super::progress::duration(eta)));
                    b.inc(1);
                }
                say(msg);
            }
        }
    }
    if let Some(b) = bar {
        b.finish();
    }
    drop(tx);
    let _ = printer.join();
    if cancel.load(Ordering::Relaxed) {
        anyhow::bail!("interrupted: {finished} cells finished; rerun the same command to resume");
    }
    if !diverged.is_empty() {
        eprintln!(
            "{} cell(s) diverged (kept, and flagged in the report): {}",
            diverged.len(),
            diverged.join("; ")
        );
    }
    Ok(())
}
