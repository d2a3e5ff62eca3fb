//! `curlora study emit slurm|k8s|parallel`: the job a cluster's own engine runs. Each runs this
//! same binary on a shared folder, one shard per task; the shard comes from the engine's
//! variables ([`super::shard::Shard::from_env`]) or, for GNU parallel, from `--shard {}/N`.
//! Nothing here submits anything: the user reads the file and submits it.

use std::path::Path;

/// What the emitted job runs.
#[derive(Clone, Debug)]
pub struct Job<'a> {
    /// The study's name (job names).
    pub name: &'a str,
    /// The `curlora` binary as the cluster's nodes see it.
    pub binary: &'a Path,
    /// The study file and the output folder, on the shared file system.
    pub config: &'a Path,
    pub out: &'a Path,
    /// Tasks (shards) to split the grid into.
    pub shards: usize,
    /// CPU cores per task.
    pub cpus: usize,
    /// Options placed before `study` (`--device cpu`, `--dtype f32`), passed through as given.
    pub global_args: Vec<String>,
    /// The container image (Kubernetes).
    pub image: &'a str,
}

/// Single-quotes `s` for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

impl Job<'_> {
    /// The command line of one task, without a shard (the engine gives it).
    fn argv(&self) -> Vec<String> {
        let mut v = vec![self.binary.display().to_string()];
        v.extend(self.global_args.iter().cloned());
        v.extend([
            "study".into(),
            "--config".into(),
            self.config.display().to_string(),
            "--out".into(),
            self.out.display().to_string(),
        ]);
        v
    }

    fn command(&self) -> String {
        self.argv()
            .iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn merge(&self) -> String {
        format!(
            "{} study merge {}",
            shell_quote(&self.binary.display().to_string()),
            shell_quote(&self.out.display().to_string())
        )
    }

    /// An `sbatch` script: a job array of `shards` tasks, then the merge after all of them.
    pub fn slurm(&self) -> String {
        let out = self.out.display().to_string();
        format!(
            "#!/bin/bash\n\
             # curlora study `{name}`: one array task per shard of the grid. Submit with\n\
             #   sbatch {{this file}}      (add --partition, --time, --gres for your cluster)\n\
             # and merge when all tasks are done:\n\
             #   {merge}\n\
             # Each task reads its shard from SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT;\n\
             # `curlora study emit slurm` made the logs folder, which Slurm opens first.\n\
             # finished cells are skipped, so resubmitting the array resumes the study.\n\
             #SBATCH --job-name=curlora-{jobname}\n\
             #SBATCH --array=0-{last}\n\
             #SBATCH --ntasks=1\n\
             #SBATCH --cpus-per-task={cpus}\n\
             #SBATCH --output={logs}/slurm-%A_%a.out\n\
             set -euo pipefail\n\
             mkdir -p {logs}\n\
             export RAYON_NUM_THREADS=\"${{SLURM_CPUS_PER_TASK:-{cpus}}}\"\n\
             exec {command}\n",
            name = self.name,
            jobname = job_name(self.name),
            merge = self.merge(),
            last = self.shards.saturating_sub(1),
            cpus = self.cpus,
            logs = shell_quote(&format!("{out}/logs")),
            command = self.command(),
        )
    }

    /// A Kubernetes Indexed Job: `completions` = `parallelism` = shards; Kubernetes sets
    /// `JOB_COMPLETION_INDEX` in each pod and the YAML sets `CURLORA_SHARDS`. The study folder
    /// is a shared volume (a ReadWriteMany claim named `curlora-study`).
    pub fn kubernetes(&self) -> String {
        let argv: Vec<String> = self.argv().iter().map(|a| yaml_str(a)).collect();
        format!(
            "# curlora study `{name}` as a Kubernetes Indexed Job: one pod per shard of the grid.\n\
             # kubectl apply -f {{this file}}; when it completes, run the merge in any pod:\n\
             #   {merge}\n\
             # The study folder {out} must be on the shared volume (claim `curlora-study`).\n\
             apiVersion: batch/v1\n\
             kind: Job\n\
             metadata:\n\
             \x20 name: curlora-{jobname}\n\
             spec:\n\
             \x20 completionMode: Indexed\n\
             \x20 completions: {n}\n\
             \x20 parallelism: {n}\n\
             \x20 backoffLimit: {retries}\n\
             \x20 template:\n\
             \x20   spec:\n\
             \x20     restartPolicy: OnFailure\n\
             \x20     containers:\n\
             \x20       - name: curlora\n\
             \x20         image: {image}\n\
             \x20         command: [{argv}]\n\
             \x20         env:\n\
             \x20           - name: CURLORA_SHARDS\n\
             \x20             value: \"{n}\"\n\
             \x20           - name: RAYON_NUM_THREADS\n\
             \x20             value: \"{cpus}\"\n\
             \x20         resources:\n\
             \x20           requests:\n\
             \x20             cpu: \"{cpus}\"\n\
             \x20         volumeMounts:\n\
             \x20           - name: study\n\
             \x20             mountPath: {mount}\n\
             \x20     volumes:\n\
             \x20       - name: study\n\
             \x20         persistentVolumeClaim:\n\
             \x20           claimName: curlora-study\n",
            name = self.name,
            merge = self.merge(),
            out = self.out.display(),
            jobname = job_name(self.name),
            n = self.shards,
            retries = 2 * self.shards,
            image = yaml_str(self.image),
            argv = argv.join(", "),
            cpus = self.cpus,
            mount = yaml_str(&self.out.display().to_string()),
        )
    }

    /// A GNU parallel command line: every shard at once on this machine, then the merge.
    pub fn parallel(&self) -> String {
        format!(
            "# curlora study `{name}`: {n} shards with GNU parallel, then the merge.\n\
             parallel --jobs {n} --line-buffer --halt now,fail=1 \
             {command} --shard '{{}}/{n}' ::: $(seq 0 {last}) && \\\n  {merge}\n",
            name = self.name,
            n = self.shards,
            last = self.shards.saturating_sub(1),
            command = self.command(),
            merge = self.merge(),
        )
    }
}

/// A DNS-1123 name part: lower-case letters, digits and `-`.
fn job_name(name: &str) -> String {
    let s: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let s = s.trim_matches('-');
    if s.is_empty() {
        "study".into()
    } else {
        s.chars().take(40).collect()
    }
}

/// A double-quoted YAML string.
fn yaml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_plain_words_and_quotes_the_rest() {
        assert_eq!(shell_quote("/a/b-c.toml"), "/a/b-c.toml");
        assert_eq!(shell_quote("my study"), "'my study'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(job_name("SmolLM2 continual!"), "smollm2-continual");
    }
}
