//! `curlora`: the command-line entry point.

mod cli;

use clap::Parser;
use cli::{Cli, Command};

fn main() {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Info(a) => cli::info::run(a, cli.device),
        Command::Select(a) => cli::select::run(a, cli.device),
        Command::Eval(a) => cli::eval::run(a, cli.device),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
