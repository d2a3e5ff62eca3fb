//! The web app's state in the URL hash, so that a link reproduces a run: a teacher sets up a run,
//! copies the address, and every student who opens it trains the same thing from the same seed.
//!
//! `#preset=quick&seed=1&methods=lora,curlora&rank=8&alpha=1&lr=0.006&epochs=2&rows=160&classroom=1`
//!
//! Keys: `preset` (`default` or `quick`), `seed`, `methods` (comma list of registered method
//! names: `lora`, `curlora`, `full`, `frozen`, `pissa`, `milora`, `o-lora`), `rank`, `alpha`,
//! `lr`, `epochs`, `rows` (rows per task, `all` for every row), `classroom` (`1` hides the
//! advanced controls), CURLoRA's ablations `sampling` (`inverted`, `standard`, `uniform`),
//! `u_init` (`zero`, `normal:σ`) and `cur` (`weights`, `gaussian`), `tier` (`auto`, `webgpu`,
//! `cpu`, `replay`: force a tier, e.g. to show the recorded run on a slow machine), `tab` (the
//! view to open) and `tour` (`1`: open the guided tour, on the recording, instead of training).
//! Unknown keys and bad values are reported, never silently dropped, and leave the rest intact.

use crate::adapters::{Method, SelectionMode, UInit};
use crate::app::Tab;
use crate::app::setup::Setup;
use crate::core::device::DeviceChoice;

/// A starting point for the run's settings, before the individual keys apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// The desktop default: every row of the three embedded tasks, two epochs each.
    Default,
    /// A shorter run for a class on a laptop: 160 rows per task (train and eval), two epochs.
    Quick,
}

impl Preset {
    pub fn name(self) -> &'static str {
        match self {
            Preset::Default => "default",
            Preset::Quick => "quick",
        }
    }

    fn from_name(s: &str) -> Option<Self> {
        match s {
            "default" => Some(Preset::Default),
            "quick" => Some(Preset::Quick),
            _ => None,
        }
    }

    /// The settings this preset starts from.
    pub fn setup(self) -> Setup {
        let mut s = Setup::default();
        if self == Preset::Quick {
            s.max_rows = Some(160);
        }
        s
    }
}

/// Which tier the link asks for (`auto` lets the page decide).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TierRequest {
    #[default]
    Auto,
    WebGpu,
    Cpu,
    Replay,
}

impl TierRequest {
    pub fn name(self) -> &'static str {
        match self {
            TierRequest::Auto => "auto",
            TierRequest::WebGpu => "webgpu",
            TierRequest::Cpu => "cpu",
            TierRequest::Replay => "replay",
        }
    }
}

/// Everything a link carries.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkState {
    pub preset: Preset,
    pub setup: Setup,
    pub tier: TierRequest,
    pub tab: Tab,
    /// Open the guided tour (kept in the hash while it is open).
    pub tour: bool,
    /// Problems with the hash (unknown keys, bad values), to show on the page.
    pub warnings: Vec<String>,
}

impl Default for LinkState {
    fn default() -> Self {
        Self {
            preset: Preset::Quick,
            setup: Preset::Quick.setup(),
            tier: TierRequest::Auto,
            tab: Tab::default(),
            tour: false,
            warnings: Vec::new(),
        }
    }
}

impl LinkState {
    /// Reads a hash such as `#preset=quick&rank=4` (the leading `#` is optional). Without a
    /// hash the browser starts from the `quick` preset.
    pub fn parse(hash: &str) -> Self {
        let hash = hash.trim_start_matches('#');
        let pairs: Vec<(String, String)> = hash
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (decode(k), decode(v)),
                None => (decode(p), String::new()),
            })
            .collect();
        let mut state = LinkState::default();
        // The preset first: the other keys refine it, whatever their order.
        if let Some((_, v)) = pairs.iter().find(|(k, _)| k == "preset") {
            match Preset::from_name(v) {
                Some(p) => {
                    state.preset = p;
                    state.setup = p.setup();
                }
                None => state.warnings.push(format!(
                    "preset `{v}` is unknown: expected default or quick (using quick)"
                )),
            }
        }
        for (k, v) in &pairs {
            if let Err(e) = state.apply(k, v) {
                state.warnings.push(e);
            }
        }
        state
    }

    fn apply(&mut self, key: &str, v: &str) -> Result<(), String> {
        fn num<T: std::str::FromStr>(key: &str, v: &str, what: &str) -> Result<T, String> {
            v.parse()
                .map_err(|_| format!("{key}=`{v}` is not {what}; ignored"))
        }
        let s = &mut self.setup;
        match key {
            "preset" => {}
            "seed" => s.seed = num(key, v, "a whole number ≥ 0")?,
            "rank" => {
                let r: usize = num(key, v, "a whole number ≥ 1")?;
                if r == 0 {
                    return Err("rank=0: the rank must be ≥ 1; ignored".into());
                }
                s.rank = r;
            }
            "epochs" => {
                let e: usize = num(key, v, "a whole number ≥ 1")?;
                if e == 0 {
                    return Err("epochs=0: at least one epoch is needed; ignored".into());
                }
                s.epochs = e;
            }
            "alpha" => {
                let a: f64 = num(key, v, "a number")?;
                if !a.is_finite() || a <= 0.0 {
                    return Err(format!("alpha=`{v}` must be a number > 0; ignored"));
                }
                s.alpha = a;
            }
            "lr" => {
                let lr: f64 = num(key, v, "a number")?;
                if !lr.is_finite() || lr <= 0.0 {
                    return Err(format!("lr=`{v}` must be a number > 0; ignored"));
                }
                s.lr = lr;
            }
            "rows" => {
                s.max_rows = if v == "all" {
                    None
                } else {
                    let n: usize = num(key, v, "a whole number ≥ 1 or `all`")?;
                    if n == 0 {
                        return Err("rows=0: a task needs rows; ignored".into());
                    }
                    Some(n)
                }
            }
            "methods" => {
                let mut methods = Vec::new();
                for m in v.split(',').filter(|m| !m.is_empty()) {
                    let method = Method::from_name(m).ok_or_else(|| {
                        format!(
                            "methods: `{m}` is unknown (expected {}); ignored",
                            Method::names().join(", ")
                        )
                    })?;
                    if !methods.contains(&method) {
                        methods.push(method);
                    }
                }
                if methods.is_empty() {
                    return Err("methods is empty; ignored".into());
                }
                s.methods = methods;
            }
            "classroom" => s.classroom = matches!(v, "" | "1" | "true" | "yes"),
            // CURLoRA's ablations, written only when they differ from the method.
            "sampling" => {
                s.selection_mode =
                    <SelectionMode as clap::ValueEnum>::from_str(v, false).map_err(|_| {
                        format!(
                            "sampling `{v}` is unknown (expected inverted, standard, uniform); \
                             ignored"
                        )
                    })?
            }
            "u_init" => {
                s.u_init_sigma = match v.parse::<UInit>()? {
                    UInit::Zero => None,
                    UInit::Normal(sigma) => Some(sigma),
                }
            }
            "cur" => {
                s.gaussian_cur = match v {
                    "weights" => false,
                    "gaussian" => true,
                    other => {
                        return Err(format!(
                            "cur `{other}` is unknown (expected weights, gaussian); ignored"
                        ));
                    }
                }
            }
            "tier" => {
                self.tier = match v {
                    "auto" => TierRequest::Auto,
                    "webgpu" | "gpu" => TierRequest::WebGpu,
                    "cpu" => TierRequest::Cpu,
                    "replay" => TierRequest::Replay,
                    other => {
                        return Err(format!(
                            "tier `{other}` is unknown (expected auto, webgpu, cpu, replay); \
                             ignored"
                        ));
                    }
                }
            }
            "tab" => {
                self.tab = Tab::from_name(v).ok_or_else(|| {
                    format!(
                        "tab `{v}` is unknown (expected {}); ignored",
                        crate::app::views::names_list()
                    )
                })?
            }
            "tour" => {
                self.tour = match v {
                    "1" | "true" | "" => true,
                    "0" | "false" => false,
                    other => {
                        return Err(format!("tour `{other}` is not 1 or 0; ignored"));
                    }
                }
            }
            other => return Err(format!("`{other}` is not a setting; ignored")),
        }
        Ok(())
    }

    /// The hash for `setup` (and the rest of this state), written back to the address bar so
    /// that copying the link copies the run.
    pub fn to_hash(&self, setup: &Setup) -> String {
        let methods: Vec<&str> = setup.methods().iter().map(|m| m.name()).collect();
        let rows = setup
            .max_rows
            .map(|n| n.to_string())
            .unwrap_or_else(|| "all".into());
        let mut h = format!(
            "#preset={}&seed={}&methods={}&rank={}&alpha={}&lr={}&epochs={}&rows={rows}",
            self.preset.name(),
            setup.seed,
            methods.join(","),
            setup.rank,
            setup.alpha,
            setup.lr,
            setup.epochs,
        );
        if setup.classroom {
            h.push_str("&classroom=1");
        }
        if setup.selection_mode != SelectionMode::Inverted {
            let name = format!("{:?}", setup.selection_mode).to_lowercase();
            h.push_str(&format!("&sampling={name}"));
        }
        if let Some(sigma) = setup.u_init_sigma {
            h.push_str(&format!("&u_init={}", UInit::Normal(sigma)));
        }
        if setup.gaussian_cur {
            h.push_str("&cur=gaussian");
        }
        if self.tier != TierRequest::Auto {
            h.push_str(&format!("&tier={}", self.tier.name()));
        }
        if self.tab != Tab::default() {
            h.push_str(&format!("&tab={}", self.tab.name()));
        }
        if self.tour {
            h.push_str("&tour=1");
        }
        h
    }

    /// The setup with the device the tier trains on.
    pub fn setup_for(&self, gpu: bool) -> Setup {
        let mut s = self.setup.clone();
        s.device = if gpu {
            DeviceChoice::Gpu
        } else {
            DeviceChoice::Cpu
        };
        s
    }
}

/// `%XX` escapes and `+` as space, as browsers write them.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[path = "hash_tests.rs"]
mod tests;
