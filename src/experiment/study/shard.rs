//! Which cells one process runs: shard `K` of `N` takes cells `K, K+N, K+2N, …` of the grid.
//!
//! The shard is given (`--shard K/N`) or read from the engine that started the process, so that
//! one command line serves every engine: a Slurm job array (`SLURM_ARRAY_TASK_ID`, with
//! `SLURM_ARRAY_TASK_COUNT` and `SLURM_ARRAY_TASK_MIN` when the array does not start at 0), a
//! Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`, with the count in `CURLORA_SHARDS`, which
//! the emitted YAML sets from `completions`), or GNU parallel (`--shard {}/N`).

use crate::core::error::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// Shard `index` of `count` (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// The whole grid.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Whether cell number `i` of the grid is this shard's.
    pub fn owns(self, i: usize) -> bool {
        i % self.count == self.index
    }

    /// The shard the engine gave this process, from `env` (a lookup such as
    /// `|k| std::env::var(k).ok()`), or `None` when no engine set one. Where the engine's
    /// variables are inconsistent (an index past the count) the error names them.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Option<Shard>> {
        let num = |k: &str| -> Result<Option<usize>> {
            match env(k) {
                None => Ok(None),
                Some(v) => v.trim().parse::<usize>().map(Some).map_err(|_| {
                    Error::config(format!("environment variable {k}=`{v}`: expected a number"))
                }),
            }
        };
        let (index, count, names) = if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
            let count = num("SLURM_ARRAY_TASK_COUNT")?.ok_or_else(|| {
                Error::config(
                    "SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not: \
                     pass --shard K/N",
                )
            })?;
            let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            (
                id.checked_sub(min).ok_or_else(|| {
                    Error::config(format!(
                        "SLURM_ARRAY_TASK_ID={id} is below SLURM_ARRAY_TASK_MIN={min}"
                    ))
                })?,
                count,
                "SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT",
            )
        } else if let Some(i) = num("JOB_COMPLETION_INDEX")? {
            let count = num("CURLORA_SHARDS")?.ok_or_else(|| {
                Error::config(
                    "JOB_COMPLETION_INDEX is set but CURLORA_SHARDS (the Job's `completions`) \
                     is not: set it, or pass --shard K/N",
                )
            })?;
            (i, count, "JOB_COMPLETION_INDEX / CURLORA_SHARDS")
        } else {
            return Ok(None);
        };
        if count == 0 || index >= count {
            return Err(Error::config(format!(
                "{names}: shard {index} of {count} does not exist"
            )));
        }
        Ok(Some(Shard { index, count }))
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `K/N` with `0 ≤ K < N`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("shard `{s}`: expected K/N with 0 ≤ K < N (e.g. 0/4)");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn shards_partition_the_grid() {
        let n = 3;
        for i in 0..10 {
            let owners: Vec<usize> = (0..n)
                .filter(|&k| Shard { index: k, count: n }.owns(i))
                .collect();
            assert_eq!(owners, vec![i % n]);
        }
        assert_eq!(
            "2/5".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 5 }
        );
        for bad in ["5/5", "1", "a/2", "0/0"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn engines_name_the_shard() {
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(
            Shard::from_env(slurm).unwrap(),
            Some(Shard { index: 3, count: 4 })
        );
        let offset = env(&[
            ("SLURM_ARRAY_TASK_ID", "11"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "10"),
        ]);
        assert_eq!(
            Shard::from_env(offset).unwrap(),
            Some(Shard { index: 1, count: 4 })
        );
        let k8s = env(&[("JOB_COMPLETION_INDEX", "0"), ("CURLORA_SHARDS", "2")]);
        assert_eq!(
            Shard::from_env(k8s).unwrap(),
            Some(Shard { index: 0, count: 2 })
        );
        assert_eq!(Shard::from_env(env(&[])).unwrap(), None);
        let e = Shard::from_env(env(&[("JOB_COMPLETION_INDEX", "1")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("CURLORA_SHARDS"), "{e}");
        let e = Shard::from_env(env(&[
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("shard 4 of 4"), "{e}");
    }
}
