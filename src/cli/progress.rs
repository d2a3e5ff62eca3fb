//! What `run` and `study` print while they train, driven only by the engine's events: progress
//! bars on a terminal; plain, flushed lines when stderr is not one (Slurm output files, CI,
//! `nohup`), at least one per task and one every 30 s (`CURLORA_PROGRESS_SECS`) with the step,
//! the loss and the time left, so that a long run never looks stalled.

use curlora::train::Event;
use curlora::train::engine::label;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Prints every event of `rx`; with `record`, also writes each as one JSON line.
pub fn print_events(
    rx: std::sync::mpsc::Receiver<Event>,
    mut record: Option<(PathBuf, std::fs::File)>,
) {
    use std::io::Write as _;
    let mut printer = Printer::default();
    for e in rx {
        if let Some((path, f)) = &mut record
            && writeln!(f, "{}", serde_json::to_string(&e).expect("json")).is_err()
        {
            eprintln!("warning: cannot write the recording to {}", path.display());
            record = None;
        }
        printer.show(e);
    }
}

/// What was loaded: the caveats about the data, and each task's sizes and majority baseline.
pub fn describe(exp: &curlora::experiment::Experiment) {
    for w in &exp.warnings {
        eprintln!("warning: {w}");
    }
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
}

/// Whether progress goes to a terminal (bars) or to a file or pipe (plain lines).
pub fn interactive() -> bool {
    std::io::stderr().is_terminal()
}

/// `1h02m`, `3m05s`, `42s`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// The task training now: a bar on a terminal, or the state plain lines report.
struct Task {
    bar: Option<indicatif::ProgressBar>,
    name: String,
    steps: usize,
    done: usize,
    started: Instant,
}

/// The progress of the task training now, and the run it belongs to.
struct Printer {
    style: indicatif::ProgressStyle,
    plain: bool,
    every: Duration,
    last_line: Instant,
    task: Option<Task>,
    label: String,
}

impl Default for Printer {
    fn default() -> Self {
        let style = indicatif::ProgressStyle::with_template(
            "  {prefix:>22} [{bar:30}] {pos}/{len} {msg} ({elapsed}, eta {eta})",
        )
        .expect("valid template")
        .progress_chars("=> ");
        let every = std::env::var("CURLORA_PROGRESS_SECS")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| *v >= 0.0)
            .unwrap_or(30.0);
        Self {
            style,
            plain: !interactive(),
            every: Duration::from_secs_f64(every),
            last_line: Instant::now(),
            task: None,
            label: String::new(),
        }
    }
}

impl Printer {
    /// A line above the bar (or on its own when no bar is drawn).
    fn say(&mut self, line: String) {
        match self.task.as_ref().and_then(|t| t.bar.as_ref()) {
            Some(b) => b.println(line),
            None => eprintln!("{line}"),
        }
        self.last_line = Instant::now();
    }

    fn show(&mut self, e: Event) {
        match e {
            Event::RunStart {
                run,
                method,
                rank,
                seed,
                trainable_params,
                ..
            } => {
                self.label = label(method, rank);
                let line = format!(
                    "run {run}: {} seed {seed}, {trainable_params} trainable parameters",
                    self.label
                );
                self.say(line);
            }
            Event::TaskStart { name, steps, .. } => {
                let bar = (!self.plain).then(|| {
                    let b =
                        indicatif::ProgressBar::new(steps as u64).with_style(self.style.clone());
                    b.set_prefix(format!("{} {name}", self.label));
                    b
                });
                let plain = bar.is_none();
                self.task = Some(Task {
                    bar,
                    name: name.clone(),
                    steps,
                    done: 0,
                    started: Instant::now(),
                });
                if plain {
                    let line = format!("  {} {name}: training, {steps} steps", self.label);
                    self.say(line);
                }
            }
            Event::Step { loss, lr, .. } => {
                let Some(t) = &mut self.task else { return };
                t.done += 1;
                if let Some(b) = &t.bar {
                    b.set_message(format!("loss {loss:.4} lr {lr:.1e}"));
                    b.inc(1);
                } else if self.last_line.elapsed() >= self.every {
                    let spent = t.started.elapsed();
                    let left =
                        spent.mul_f64((t.steps - t.done.min(t.steps)) as f64 / t.done as f64);
                    let line = format!(
                        "  {} {}: step {}/{}, loss {loss:.4}, lr {lr:.1e}, {} spent, eta {}",
                        self.label,
                        t.name,
                        t.done,
                        t.steps,
                        duration(spent),
                        duration(left)
                    );
                    self.say(line);
                }
            }
            Event::TaskEnd { .. } => {
                if let Some(t) = self.task.take() {
                    match t.bar {
                        Some(b) => b.finish(),
                        None => {
                            let line = format!(
                                "  {} {}: {} steps done in {}",
                                self.label,
                                t.name,
                                t.done,
                                duration(t.started.elapsed())
                            );
                            self.say(line);
                        }
                    }
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
                self.say(format!(
                    "    after task {} → task {}: accuracy {accuracy:.4} (majority {majority_baseline:.4}){flag}",
                    after_task + 1,
                    task + 1
                ));
            }
            Event::Perplexity {
                after_task,
                perplexity,
                ..
            } => self.say(match after_task {
                None => format!("  held-out perplexity before training: {perplexity:.3}"),
                Some(t) => format!("    perplexity after task {}: {perplexity:.3}", t + 1),
            }),
            Event::Error { message, .. } => {
                if let Some(b) = self.task.take().and_then(|t| t.bar) {
                    b.abandon();
                }
                self.say(format!("  error: {message}"));
            }
            _ => {}
        }
    }
}
