//! `curlora app`: the desktop app, with options to start straight into training (a class, a
//! demo) and to log frame times (to measure that the UI stays responsive while training).
//! Without the `app` cargo feature the command is still there and says why it cannot open.

#[derive(clap::Args, Debug, Default)]
pub struct AppArgs {
    /// Start training with the saved setup at once instead of replaying the recording.
    #[arg(long)]
    pub train: bool,
    /// Print the frame time (build time and interval) to stderr every 5 seconds.
    #[arg(long)]
    pub frame_stats: bool,
    /// The view to open on (the app's list of views, `app::views`).
    #[arg(long, default_value = "accuracy", help = tab_help())]
    pub tab: String,
    /// Open the guided tour (nine steps on the recording; it also opens by itself the first
    /// time the app starts).
    #[arg(long)]
    pub tour: bool,
}

/// What a build without the UI says instead of opening a window.
#[cfg(not(feature = "app"))]
pub const NO_UI: &str = "this curlora was built without the desktop app (cargo feature `app`); \
                         rebuild with the default features to open it";

#[cfg(feature = "app")]
fn tab_help() -> String {
    format!("The view to open on: {}", curlora::app::views::names_list())
}

#[cfg(not(feature = "app"))]
fn tab_help() -> String {
    "The view to open on (needs the `app` cargo feature)".into()
}

#[cfg(feature = "app")]
pub fn run(args: &AppArgs) -> anyhow::Result<()> {
    let tab = curlora::app::Tab::from_name(&args.tab).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown view `{}`: expected {}",
            args.tab,
            curlora::app::views::names_list_or()
        )
    })?;
    curlora::app::run_with(curlora::app::Launch {
        train: args.train,
        frame_stats: args.frame_stats,
        tab,
        tour: args.tour,
    })
    .map_err(|e| anyhow::anyhow!("cannot open a window: {e}"))
}

#[cfg(not(feature = "app"))]
pub fn run(_args: &AppArgs) -> anyhow::Result<()> {
    anyhow::bail!("{NO_UI}")
}
