//! A study's folder: `study.json` (the grid) and `cells/<id>/` (one finished run each).
//!
//! A cell is trained in `cells/.partial-<id>-<pid>/` and renamed to `cells/<id>/` only once its
//! `report.json`, `config.toml` and adapter are written, so a cell folder is always a finished
//! run: a killed process leaves only a `.partial-` folder, which the next run of that cell
//! removes and redoes from the start. A rename is atomic on one file system, which is what a
//! cluster's shared folder (NFS, Lustre) gives for a directory.

use super::grid::{Cell, StudySpec};
use crate::core::error::{Error, Result};
use crate::core::fsutil::write_atomic;
use crate::experiment::report::Report;
use crate::experiment::{Experiment, ExperimentSpec};
use crate::train::{EventSink, RunStatus};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// `study.json`: the grid, as every shard and `merge` read it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudyFile {
    pub name: String,
    /// Every cell, in grid order (`--shard K/N` takes every N-th of this list).
    pub cells: Vec<CellEntry>,
    /// The experiment every cell starts from.
    pub experiment: ExperimentSpec,
}

/// A cell as `study.json` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellEntry {
    pub id: String,
    pub method: crate::adapters::Method,
    pub rank: usize,
    pub seed: u64,
    #[serde(default)]
    pub variant: Option<String>,
}

/// A study ready to run: its grid and its folder.
pub struct Study {
    pub name: String,
    pub base: ExperimentSpec,
    pub cells: Vec<Cell>,
    pub dir: PathBuf,
}

/// What became of one cell.
#[derive(Clone, Debug, PartialEq)]
pub enum CellStatus {
    /// Already finished by an earlier run (or another shard): not run again.
    Done,
    /// Trained now (or diverged now: a finished result too), in this many seconds.
    Finished { seconds: f64, status: RunStatus },
    /// Stopped by the user; nothing of it was kept.
    Cancelled,
}

impl Study {
    /// The grid of `spec` (read from `file`) in `dir`.
    pub fn new(
        spec: &StudySpec,
        file: &Path,
        dir: &Path,
        data_dir: Option<&Path>,
        model: Option<&Path>,
    ) -> Result<Self> {
        let base = spec.base(file, data_dir, model)?;
        let cells = spec.cells(&base)?;
        let name = spec.name.clone().unwrap_or_else(|| {
            file.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "study".into())
        });
        Ok(Self {
            name,
            base,
            cells,
            dir: dir.to_path_buf(),
        })
    }

    pub fn cell_dir(&self, id: &str) -> PathBuf {
        self.dir.join("cells").join(id)
    }

    pub fn is_done(&self, id: &str) -> bool {
        self.cell_dir(id).join("report.json").is_file()
    }

    /// Writes `study.json` and checks that every finished cell was made by this grid (same
    /// experiment): a folder reused with a changed experiment would mix two studies.
    pub fn prepare(&self) -> Result<()> {
        let cells_dir = self.dir.join("cells");
        std::fs::create_dir_all(&cells_dir).map_err(|e| Error::write(&cells_dir, e))?;
        for c in &self.cells {
            let config = self.cell_dir(&c.id).join("config.toml");
            if self.is_done(&c.id) {
                let was = crate::core::fsutil::read_to_string(&config)?;
                if was != c.spec.to_toml() {
                    return Err(Error::format(
                        &config,
                        format!(
                            "cell `{}` was run with a different experiment than this study \
                             file gives it; use another --out, or delete {} to rerun it",
                            c.id,
                            self.cell_dir(&c.id).display()
                        ),
                    ));
                }
            }
        }
        let file = StudyFile {
            name: self.name.clone(),
            cells: self
                .cells
                .iter()
                .map(|c| CellEntry {
                    id: c.id.clone(),
                    method: c.method,
                    rank: c.rank,
                    seed: c.seed,
                    variant: c.variant.clone(),
                })
                .collect(),
            experiment: self.base.clone(),
        };
        let json = serde_json::to_string_pretty(&file).expect("serializable");
        write_atomic(&self.dir.join("study.json"), json.as_bytes())
    }

    /// Trains cell number `index` on `exp` (this study's base experiment, loaded) unless it is
    /// finished, and moves it into place.
    pub fn run_cell(
        &self,
        exp: &Experiment,
        index: usize,
        device_name: &str,
        events: &dyn EventSink,
        cancel: Arc<AtomicBool>,
    ) -> Result<CellStatus> {
        let cell = &self.cells[index];
        let done = self.cell_dir(&cell.id);
        if self.is_done(&cell.id) {
            return Ok(CellStatus::Done);
        }
        self.remove_partials(&cell.id)?;
        let partial =
            self.dir
                .join("cells")
                .join(format!(".partial-{}-{}", cell.id, std::process::id()));
        std::fs::create_dir_all(&partial).map_err(|e| Error::write(&partial, e))?;
        write_atomic(&partial.join("config.toml"), cell.spec.to_toml().as_bytes())?;
        let configs = cell.spec.adapter_configs();
        let start = std::time::Instant::now();
        let runs = exp.run_configs(&configs, index, device_name, events, cancel, |cfg, o| {
            if o.status == RunStatus::Cancelled {
                return Ok(None);
            }
            exp.save_adapter(&partial.join("adapters"), cfg, o)
                .map(Some)
        })?;
        let seconds = start.elapsed().as_secs_f64();
        let run = runs.into_iter().next().expect("one configuration per cell");
        if run.status == RunStatus::Cancelled {
            let _ = std::fs::remove_dir_all(&partial);
            return Ok(CellStatus::Cancelled);
        }
        let status = run.status.clone();
        let mut report = exp.report(device_name, vec![run]);
        report.experiment = cell.spec.clone();
        report.runs[0].variant = cell.variant.clone();
        report.write(&partial)?;
        if done.exists() {
            // Another process finished it meanwhile (the same shard started twice).
            let _ = std::fs::remove_dir_all(&partial);
            return Ok(CellStatus::Done);
        }
        std::fs::rename(&partial, &done).map_err(|e| Error::write(&done, e))?;
        Ok(CellStatus::Finished { seconds, status })
    }

    /// Removes what a killed run of cell `id` left behind.
    fn remove_partials(&self, id: &str) -> Result<()> {
        let dir = self.dir.join("cells");
        let prefix = format!(".partial-{id}-");
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            // `<id>-<pid>`: the pid is all digits, so `lora-4-seed1` never matches
            // `lora-4-seed10`'s partials.
            if let Some(pid) = name.strip_prefix(&prefix)
                && pid.chars().all(|c| c.is_ascii_digit())
            {
                std::fs::remove_dir_all(e.path()).map_err(|err| Error::write(&e.path(), err))?;
            }
        }
        Ok(())
    }
}

/// Reads `DIR/study.json`.
pub fn read_study(dir: &Path) -> Result<StudyFile> {
    let path = dir.join("study.json");
    let text = crate::core::fsutil::read_to_string(&path)?;
    serde_json::from_str(&text).map_err(|e| {
        Error::format(
            &path,
            format!("not a study file ({e}); `curlora study` writes it"),
        )
    })
}

/// The report of cell `id` (one run, its variant set), or `None` when it has not finished.
pub fn read_cell(dir: &Path, entry: &CellEntry) -> Result<Option<Report>> {
    let path = dir.join("cells").join(&entry.id).join("report.json");
    if !path.is_file() {
        return Ok(None);
    }
    let text = crate::core::fsutil::read_to_string(&path)?;
    let mut report: Report = serde_json::from_str(&text)
        .map_err(|e| Error::format(&path, format!("invalid cell report: {e}")))?;
    let run = report
        .runs
        .first_mut()
        .ok_or_else(|| Error::format(&path, "a cell report with no run"))?;
    run.variant = entry.variant.clone();
    report.runs.truncate(1);
    Ok(Some(report))
}
