//! What a study file says, and the grid of cells it expands to.
//!
//! A study is an experiment (a preset, an experiment file, or an inline `[experiment]` table)
//! plus axes: methods, ranks, seeds, and any of the adapter settings that an ablation varies
//! (`selection_mode`, `epsilon`, `replacement`, `u_init`, `cur_source`, `lora_scaling`,
//! `olora_lambda`). A setting is varied only for the methods that read it
//! ([`Method::reads_setting`]), so `u_init = ["zero", "normal:0.01"]` doubles the CURLoRA cells
//! and leaves LoRA's alone. Every cell is one run, one experiment with one method, rank and
//! seed; its id is made from those values, so it is the same however the file is reordered or
//! extended.

use crate::adapters::{CurSource, LoraScaling, Method, SelectionMode, UInit};
use crate::core::error::{Error, Result};
use crate::experiment::ExperimentSpec;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The adapter settings a study may vary, one list of values each (empty: the experiment's).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Axes {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selection_mode: Vec<SelectionMode>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub epsilon: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replacement: Vec<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub u_init: Vec<UInit>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cur_source: Vec<CurSource>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lora_scaling: Vec<LoraScaling>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub olora_lambda: Vec<f64>,
}

impl Axes {
    /// `(field, values as TOML/JSON values)` for every non-empty axis, in a fixed order.
    fn lists(&self) -> Vec<(&'static str, Vec<serde_json::Value>)> {
        fn vals<T: Serialize>(v: &[T]) -> Vec<serde_json::Value> {
            v.iter()
                .map(|x| serde_json::to_value(x).expect("serializable"))
                .collect()
        }
        let all = [
            ("selection_mode", vals(&self.selection_mode)),
            ("epsilon", vals(&self.epsilon)),
            ("replacement", vals(&self.replacement)),
            ("u_init", vals(&self.u_init)),
            ("cur_source", vals(&self.cur_source)),
            ("lora_scaling", vals(&self.lora_scaling)),
            ("olora_lambda", vals(&self.olora_lambda)),
        ];
        all.into_iter().filter(|(_, v)| !v.is_empty()).collect()
    }
}

/// A study file (`curlora study --config STUDY.toml`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudySpec {
    /// Name in the merged report (default: the file's stem).
    #[serde(default)]
    pub name: Option<String>,
    /// A built-in experiment (`default`, `paper-gpt2`, `smollm2-continual`, …).
    #[serde(default)]
    pub preset: Option<String>,
    /// An experiment file (TOML, as `curlora run --print-config` writes), relative to the
    /// study file.
    #[serde(default)]
    pub experiment_file: Option<PathBuf>,
    /// The experiment itself, inline.
    #[serde(default)]
    pub experiment: Option<ExperimentSpec>,
    /// Where a preset's data files are (laid out as `../shared/data`), relative to the study
    /// file; `--data-dir` overrides it.
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// The model folder or GGUF file (overrides the experiment's); `--model` overrides it.
    #[serde(default)]
    pub model: Option<PathBuf>,
    /// Methods, ranks and seeds (default: the experiment's).
    #[serde(default)]
    pub methods: Option<Vec<Method>>,
    #[serde(default)]
    pub ranks: Option<Vec<usize>>,
    #[serde(default)]
    pub seeds: Option<Vec<u64>>,
    #[serde(default)]
    pub axes: Axes,
    /// Use only the first N training (evaluation) rows of every task, and this many epochs,
    /// as `curlora run`'s flags of the same names.
    #[serde(default)]
    pub max_train: Option<usize>,
    #[serde(default)]
    pub max_eval: Option<usize>,
    #[serde(default)]
    pub epochs: Option<usize>,
}

/// One run of the grid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Stable id and folder name: `curlora-16-seed1`, `curlora-16-seed1-u_init=normal_0.01`.
    pub id: String,
    pub method: Method,
    pub rank: usize,
    pub seed: u64,
    /// The varied settings, `field=value`, comma-separated (`None` when nothing varies).
    pub variant: Option<String>,
    /// The whole experiment of this one run (what `config.toml` in its folder holds).
    pub spec: ExperimentSpec,
}

impl StudySpec {
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        toml::from_str(&text).map_err(|e| Error::format(path, format!("invalid study: {e}")))
    }

    /// The experiment every cell starts from, with the study's overrides applied; `file` is
    /// the study file (relative paths are read from its folder), `data_dir` and `model` the
    /// command line's.
    pub fn base(
        &self,
        file: &Path,
        data_dir: Option<&Path>,
        model: Option<&Path>,
    ) -> Result<ExperimentSpec> {
        let here = file.parent().unwrap_or(Path::new("."));
        let data = match (data_dir, &self.data_dir) {
            (Some(d), _) => d.to_path_buf(),
            (None, Some(d)) => here.join(d),
            (None, None) => PathBuf::from("../shared/data"),
        };
        let named = [
            self.preset.is_some(),
            self.experiment_file.is_some(),
            self.experiment.is_some(),
        ];
        if named.iter().filter(|&&b| b).count() != 1 {
            return Err(Error::format(
                file,
                "a study names its experiment once: `preset = \"NAME\"`, \
                 `experiment_file = \"FILE.toml\"` or an `[experiment]` table",
            ));
        }
        let mut s = if let Some(p) = &self.preset {
            if p == "default" {
                crate::experiment::default_experiment(&crate::core::embedded::materialize()?)
            } else {
                crate::experiment::presets::preset(p, &data)?
            }
        } else if let Some(f) = &self.experiment_file {
            ExperimentSpec::from_toml_file(&here.join(f))?
        } else {
            self.experiment.clone().expect("checked above")
        };
        if let Some(m) = model.map(Path::to_path_buf).or_else(|| self.model.clone()) {
            s.model = Some(m);
        }
        if let Some(v) = &self.methods {
            s.methods = v.clone();
        }
        if let Some(v) = &self.ranks {
            s.ranks = v.clone();
        }
        if let Some(v) = &self.seeds {
            s.seeds = v.clone();
        }
        s.limit_tasks(self.epochs, self.max_train, self.max_eval);
        s.train.perplexity = s.perplexity.mode.clone();
        if s.methods.is_empty() || s.seeds.is_empty() {
            return Err(Error::format(file, "a study needs methods and seeds"));
        }
        if s.ranks.is_empty() && s.methods.iter().any(|m| m.uses_rank()) {
            return Err(Error::format(file, "ranked methods need `ranks`"));
        }
        Ok(s)
    }

    /// Every cell: method × rank (ranked methods) × the axes the method reads × seed, in that
    /// order. Ids are unique (an error names a repeated one, e.g. a seed listed twice).
    pub fn cells(&self, base: &ExperimentSpec) -> Result<Vec<Cell>> {
        let lists = self.axes.lists();
        let mut out: Vec<Cell> = Vec::new();
        for &method in &base.methods {
            let ranks: Vec<usize> = if method.uses_rank() {
                base.ranks.clone()
            } else {
                vec![0]
            };
            let read: Vec<&(&str, Vec<serde_json::Value>)> = lists
                .iter()
                .filter(|(f, _)| method.reads_setting(f))
                .collect();
            for &rank in &ranks {
                for combo in product(&read) {
                    for &seed in &base.seeds {
                        out.push(cell(base, method, rank, seed, &combo)?);
                    }
                }
            }
        }
        for (i, c) in out.iter().enumerate() {
            if out[..i].iter().any(|d| d.id == c.id) {
                return Err(Error::config(format!(
                    "the study lists cell `{}` twice (a repeated method, rank, seed or axis value)",
                    c.id
                )));
            }
        }
        Ok(out)
    }
}

/// Every combination of one value per axis (one empty combination without axes).
fn product<'a>(
    axes: &[&'a (&'static str, Vec<serde_json::Value>)],
) -> Vec<Vec<(&'static str, &'a serde_json::Value)>> {
    let mut out = vec![Vec::new()];
    for (field, values) in axes.iter().map(|a| (a.0, &a.1)) {
        out = out
            .into_iter()
            .flat_map(|c| {
                values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push((field, v));
                    c
                })
            })
            .collect();
    }
    out
}

/// A value as it reads in ids and labels: `inverted`, `0.001`, `normal:0.01`.
fn show(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn cell(
    base: &ExperimentSpec,
    method: Method,
    rank: usize,
    seed: u64,
    combo: &[(&'static str, &serde_json::Value)],
) -> Result<Cell> {
    let mut json = serde_json::to_value(base).expect("serializable");
    for (field, v) in combo {
        json[*field] = (*v).clone();
    }
    let mut spec: ExperimentSpec = serde_json::from_value(json)
        .map_err(|e| Error::config(format!("study axis value: {e}")))?;
    spec.methods = vec![method];
    spec.ranks = if method.uses_rank() {
        vec![rank]
    } else {
        base.ranks.clone()
    };
    spec.seeds = vec![seed];
    let variant = (!combo.is_empty()).then(|| {
        combo
            .iter()
            .map(|(f, v)| format!("{f}={}", show(v)))
            .collect::<Vec<_>>()
            .join(", ")
    });
    let mut id = format!("{}-seed{seed}", crate::train::engine::label(method, rank));
    for (f, v) in combo {
        id.push_str(&format!("-{f}={}", show(v)));
    }
    let id = id
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '.' | '=' | '_' => c,
            _ => '_',
        })
        .collect();
    Ok(Cell {
        id,
        method,
        rank,
        seed,
        variant,
        spec,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn study(text: &str) -> (StudySpec, ExperimentSpec) {
        let s: StudySpec = toml::from_str(text).unwrap();
        let base = s.base(Path::new("study.toml"), None, None).unwrap();
        (s, base)
    }

    /// method × rank × (axes the method reads) × seed, with ids from the values: frozen once
    /// per seed, LoRA untouched by a CURLoRA axis, CURLoRA doubled by it.
    #[test]
    fn the_grid_varies_a_setting_only_for_the_methods_that_read_it() {
        let (s, base) = study(
            r#"
            preset = "default"
            methods = ["frozen", "lora", "curlora"]
            ranks = [4, 8]
            seeds = [1, 2]
            [axes]
            u_init = ["zero", "normal:0.01"]
            "#,
        );
        let cells = s.cells(&base).unwrap();
        let ids: Vec<&str> = cells.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(cells.len(), 2 + 2 * 2 + 2 * 2 * 2, "{ids:?}");
        assert!(ids.contains(&"frozen-seed1"), "{ids:?}");
        assert!(
            ids.contains(&"curlora-8-seed2-u_init=normal_0.01"),
            "{ids:?}"
        );
        let lora: Vec<&Cell> = cells.iter().filter(|c| c.method == Method::Lora).collect();
        assert!(lora.iter().all(|c| c.variant.is_none()));
        let c = cells
            .iter()
            .find(|c| c.id == "curlora-4-seed1-u_init=normal_0.01")
            .unwrap();
        assert_eq!(c.spec.u_init, UInit::Normal(0.01));
        assert_eq!(c.variant.as_deref(), Some("u_init=normal:0.01"));
        let cfgs = c.spec.adapter_configs();
        assert_eq!(cfgs.len(), 1);
        assert_eq!((cfgs[0].rank, cfgs[0].seed), (4, 1));
        assert_eq!(cfgs[0].u_init, UInit::Normal(0.01));
    }

    /// Ids depend on values, not on order: reordering the lists gives the same set of ids.
    #[test]
    fn ids_are_stable_under_reordering() {
        let a = study(
            "preset = \"default\"\nmethods = [\"lora\", \"curlora\"]\nranks = [4]\nseeds = [1, 2]",
        );
        let b = study(
            "preset = \"default\"\nmethods = [\"curlora\", \"lora\"]\nranks = [4]\nseeds = [2, 1]",
        );
        let mut x: Vec<String> = a.0.cells(&a.1).unwrap().into_iter().map(|c| c.id).collect();
        let mut y: Vec<String> = b.0.cells(&b.1).unwrap().into_iter().map(|c| c.id).collect();
        x.sort();
        y.sort();
        assert_eq!(x, y);
    }

    #[test]
    fn a_repeated_seed_and_an_unknown_axis_are_errors() {
        let (s, base) =
            study("preset = \"default\"\nmethods = [\"lora\"]\nranks = [4]\nseeds = [1, 1]");
        let e = s.cells(&base).unwrap_err().to_string();
        assert!(e.contains("lora-4-seed1") && e.contains("twice"), "{e}");
        let e = toml::from_str::<StudySpec>("preset = \"default\"\n[axes]\nlearning = [1]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("learning"), "{e}");
        let s: StudySpec = toml::from_str("methods = [\"lora\"]").unwrap();
        let e = s
            .base(Path::new("x/study.toml"), None, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("x/study.toml") && e.contains("names its experiment"),
            "{e}"
        );
    }
}
