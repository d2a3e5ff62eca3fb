//! `curlora app`: the desktop app, with options to start straight into training (a class, a
//! demo) and to log frame times (to measure that the UI stays responsive while training).

#[derive(clap::Args, Debug, Default)]
pub struct AppArgs {
    /// Start training with the saved setup at once instead of replaying the recording.
    #[arg(long)]
    pub train: bool,
    /// Print the frame time (build time and interval) to stderr every 5 seconds.
    #[arg(long)]
    pub frame_stats: bool,
    /// The view to open on: accuracy, perplexity, adapters, selection or metrics.
    #[arg(long, default_value = "accuracy")]
    pub tab: String,
}

pub fn run(args: &AppArgs) -> anyhow::Result<()> {
    let tab = curlora::app::Tab::from_name(&args.tab).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown view `{}`: expected accuracy, perplexity, adapters, selection or metrics",
            args.tab
        )
    })?;
    curlora::app::run_with(curlora::app::Launch {
        train: args.train,
        frame_stats: args.frame_stats,
        tab,
    })
    .map_err(|e| anyhow::anyhow!("cannot open a window: {e}"))
}
