//! `curlora`: the command-line entry point.

mod cli;

use clap::Parser;
use cli::{Cli, Command};

fn main() {
    let cli = Cli::parse();
    let result = match &cli.command {
        Some(Command::Info(a)) => cli::info::run(a, cli.device),
        Some(Command::Select(a)) => cli::select::run(a, cli.device),
        Some(Command::Eval(a)) => cli::eval::run(a, cli.device),
        Some(Command::Run(a)) => cli::run::run(a, cli.device),
        Some(Command::Pretrain(a)) => cli::pretrain::run(a, cli.device),
        // The desktop app will open here; until it lands, show where we run and what to do.
        None => cli::info::run(&cli::info::InfoArgs { json: false }, cli.device).map(|()| {
            println!();
            let _ = <Cli as clap::CommandFactory>::command().print_help();
        }),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
