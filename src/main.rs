//! `curlora`: the command-line entry point natively; in the browser (the Trunk build) it starts
//! the web app instead.

#[cfg(not(target_arch = "wasm32"))]
mod cli;

#[cfg(not(target_arch = "wasm32"))]
use clap::Parser;
#[cfg(not(target_arch = "wasm32"))]
use cli::{Cli, Command};

/// The browser entry: everything happens in [`curlora::web::start`].
#[cfg(all(target_arch = "wasm32", feature = "web"))]
fn main() {
    curlora::web::start();
}

#[cfg(all(target_arch = "wasm32", not(feature = "web")))]
compile_error!("the browser build needs the `web` cargo feature (web/index.html enables it)");

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    // Mesa's Vulkan drivers print "XDG_RUNTIME_DIR is invalid or not set" on headless machines
    // when wgpu probes them; give them a directory. Safe: no other thread exists yet.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir()) };
    }
    keep_freed_memory();
    let cli = Cli::parse();
    curlora::core::device::set_precision(cli.dtype);
    let result = match &cli.command {
        Some(Command::Info(a)) => cli::info::run(a, cli.device),
        Some(Command::Select(a)) => cli::select::run(a, cli.device),
        Some(Command::Eval(a)) => cli::eval::run(a, cli.device),
        Some(Command::Run(a)) => cli::run::run(a, cli.device),
        Some(Command::Pretrain(a)) => cli::pretrain::run(a, cli.device),
        Some(Command::Bench(a)) => cli::bench::run(a, cli.device),
        Some(Command::Study(a)) => cli::study::run(a, cli.device, cli.dtype),
        Some(Command::ImportGguf(a)) => cli::import_gguf::run(a),
        Some(Command::Generate(a)) => cli::generate::run(a, cli.device),
        Some(Command::Classify(a)) => cli::classify::run(a, cli.device),
        Some(Command::ExportPeft(a)) => cli::peft::export(a, cli.device),
        Some(Command::ImportPeft(a)) => cli::peft::import(a, cli.device),
        Some(Command::Merge(a)) => cli::peft::merge(a, cli.device),
        Some(Command::App(a)) => cli::app::run(a),
        // The app on the embedded default: replays the recorded run at once and trains live
        // on request. Without a display (or without the `app` feature), the same experiment
        // runs in the terminal.
        None => match open_app() {
            Ok(()) => Ok(()),
            Err(e) => {
                eprintln!(
                    "curlora: {e}; running LoRA and CURLoRA side by side on the embedded tiny \
                     model in the terminal instead (`curlora --help` lists every command)"
                );
                let args = <cli::run::RunArgs as clap::FromArgMatches>::from_arg_matches(
                    &<cli::run::RunArgs as clap::Args>::augment_args(clap::Command::new("run"))
                        .get_matches_from(["run"]),
                )
                .expect("default arguments parse");
                cli::run::run(&args, cli.device)
            }
        },
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// A training step allocates and frees the same large activations every step. By default
/// glibc's malloc serves each of those over 128 KiB to 32 MiB with a fresh `mmap` and unmaps it
/// when freed (its threshold adapts only slowly), so the next step page-faults every page back
/// in: 7 % of a SmolLM2-135M classify step in `perf` (`clear_page_erms`, `exc_page_fault`).
/// Keeping them in the heap (the largest threshold glibc allows, no trimming) made that step
/// 13 % faster (BENCHMARKS.md §4). mimalloc, tried instead, was slower and held 10 % more.
#[cfg(not(target_arch = "wasm32"))]
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before any other thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_TOP_PAD, 256 << 20);
    }
}

/// The app window on the recording, or why there is none.
#[cfg(all(not(target_arch = "wasm32"), feature = "app"))]
fn open_app() -> Result<(), String> {
    curlora::app::run().map_err(|e| format!("cannot open a window ({e})"))
}

#[cfg(all(not(target_arch = "wasm32"), not(feature = "app")))]
fn open_app() -> Result<(), String> {
    Err(cli::app::NO_UI.into())
}
