//! The `curlora` command line: thin consumers of the library.

pub mod adapted;
pub mod app;
pub mod bench;
pub mod classify;
pub mod eval;
pub mod generate;
pub mod import_gguf;
pub mod info;
pub mod peft;
pub mod pretrain;
pub mod progress;
pub mod run;
pub mod select;
pub mod study;

use clap::{Parser, Subcommand};
use curlora::core::device::DeviceChoice;
use curlora::core::dtype::Precision;

#[derive(Parser, Debug)]
#[command(
    name = "curlora",
    version,
    about = "Fine-tune language models with CURLoRA and watch it prevent catastrophic forgetting"
)]
pub struct Cli {
    /// Where to compute: a hardware GPU if present (auto), the wgpu GPU adapter (gpu, also a
    /// software one), or the Flex CPU backend (cpu).
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto, global = true)]
    pub device: DeviceChoice,

    /// What the frozen model computes in: f16 halves its memory on GPUs with SHADER_F16 (the
    /// adapters, heads and optimizer state stay f32); auto is f16 on such a hardware GPU and
    /// f32 elsewhere; f16 where the device has none falls back to f32 with a notice.
    #[arg(long, value_enum, default_value_t = Precision::Auto, global = true)]
    pub dtype: Precision,

    /// Without a command: show the devices and what curlora can do.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Open the desktop app (what `curlora` without a command does when there is a display).
    App(app::AppArgs),
    /// List the compute devices this machine offers and the one `auto` picks.
    Info(info::InfoArgs),
    /// Show CURLoRA's column/row probabilities and the indices it samples for one module.
    Select(select::SelectArgs),
    /// Measure a model's next-token loss and perplexity on a text file.
    Eval(eval::EvalArgs),
    /// Fine-tune on a sequence of tasks with LoRA / CURLoRA / full fine-tuning and measure
    /// forgetting; writes report.json, report.csv, report.md and the adapters.
    Run(run::RunArgs),
    /// Train a byte-level BPE tokenizer and a GPT-2 from scratch on text files; writes an HF
    /// model folder that every command loads.
    Pretrain(pretrain::PretrainArgs),
    /// Convert a llama.cpp GGUF file (llama architecture) into an HF-style model folder;
    /// `--model FILE.gguf` also works directly wherever a model folder is accepted.
    ImportGguf(import_gguf::ImportGgufArgs),
    /// A grid of runs (methods × ranks × seeds × ablations) that resumes, shards onto Slurm,
    /// Kubernetes or GNU parallel (`study emit`), and merges into one report (`study merge`).
    Study(study::StudyArgs),
    /// Continue a prompt with a model, adapted or not (greedy by default, KV-cached, streamed).
    Generate(generate::GenerateArgs),
    /// Each task head's label and class probabilities for a text or a CSV column.
    Classify(classify::ClassifyArgs),
    /// Write an adapter as a PEFT LoRA folder (exact: CURLoRA's C·U·R is a rank-r LoRA), task
    /// heads beside it, for transformers + peft.
    ExportPeft(peft::ExportPeftArgs),
    /// Read a LoRA adapter made by HF PEFT into a curlora adapter file.
    ImportPeft(peft::ImportPeftArgs),
    /// Write an HF model folder with the adapter merged into the weights (W + ΔW).
    Merge(peft::MergeArgs),
    /// Time a training step of each method on GPT-2 shapes, side by side (see BENCHMARKS.md).
    Bench(bench::BenchArgs),
}
