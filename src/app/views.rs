//! The views behind the tabs, in tab order: the one list that the tab bar, `curlora app --tab`
//! and the web link's `tab=` all read. **Adding a view** is one file that implements [`View`]
//! plus one line in [`all`].

use super::heatmap::GpuColors;
use super::state::Session;
use super::{accuracy, adapters, metrics_card, perplexity, selection, try_it};
use std::path::PathBuf;
use std::sync::OnceLock;

/// Every view, in tab order. Adding a view: one line here (and its file).
pub fn all() -> Vec<Box<dyn View>> {
    vec![
        Box::new(accuracy::Accuracy),
        Box::new(perplexity::Perplexity),
        Box::new(adapters::Adapters::default()),
        Box::new(selection::Selection),
        Box::new(metrics_card::MetricsCard),
        Box::new(try_it::TryIt::default()),
    ]
}

/// One view: what the tab shows, with its own state (e.g. a selected cell).
pub trait View {
    /// The name for `curlora app --tab NAME`, `#tab=NAME` and screenshot files.
    fn name(&self) -> &'static str;
    /// The tab's title.
    fn title(&self) -> &'static str;
    /// The one-line "What am I looking at?", shown above the view.
    fn about(&self) -> &'static str;
    /// Draws the view below its [`about`](View::about) line.
    fn show(&mut self, ui: &mut egui::Ui, ctx: &ViewContext<'_>);
}

/// What a view draws from.
pub struct ViewContext<'a> {
    /// The runs, rebuilt from engine events.
    pub session: &'a Session,
    /// Colouring on the GPU that also draws, when training shares the renderer's wgpu device
    /// (native only); `None` colours on the CPU.
    pub gpu: Option<&'a GpuColors>,
    /// The base model the runs were trained on (the Try-it panel loads it).
    pub model_dir: Option<PathBuf>,
    /// The high-contrast look (a projector): thicker lines, larger marks.
    pub high_contrast: bool,
}

/// A view by its place in [`all`]: what the app, the CLI and the link store.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Tab(usize);

impl Tab {
    /// The view named `name` (see [`names`]).
    pub fn from_name(name: &str) -> Option<Tab> {
        names().iter().position(|n| *n == name).map(Tab)
    }

    /// Every tab, in order.
    pub fn all() -> impl Iterator<Item = Tab> {
        (0..names().len()).map(Tab)
    }

    pub fn name(self) -> &'static str {
        names()[self.0]
    }

    /// The position in [`all`] (and in the app's list of views).
    pub fn index(self) -> usize {
        self.0
    }
}

impl std::fmt::Debug for Tab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tab({})", self.name())
    }
}

/// The views' names, in order (made once from [`all`]).
pub fn names() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| all().iter().map(|v| v.name()).collect())
}

/// `accuracy, perplexity, …, metrics`: for help and error messages.
pub fn names_list() -> String {
    names().join(", ")
}

/// `accuracy, perplexity, … or metrics`: for "expected …" messages.
pub fn names_list_or() -> String {
    match names().split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}
