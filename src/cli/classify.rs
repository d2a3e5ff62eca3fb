//! `curlora classify`: what each task head of an adapter says about new text — the label and
//! the class probabilities — for one text or every row of a CSV file.

use super::adapted::{self, ModelArgs};
use curlora::core::device::DeviceChoice;
use curlora::experiment::report::csv_field as field;
use curlora::train::classify::{self, Reading};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct ClassifyArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Only this task's head (default: every head).
    #[arg(long)]
    pub task: Option<String>,
    /// A text to classify.
    #[arg(long, conflicts_with = "file")]
    pub text: Option<String>,
    /// The second sentence of a pair task (MRPC), joined as the run joined its pairs.
    #[arg(long, requires = "text")]
    pub text_b: Option<String>,
    /// A CSV (or .tsv) file with a header row: classifies every row's `--column`.
    #[arg(long)]
    pub file: Option<PathBuf>,
    #[arg(long, default_value = "text")]
    pub column: String,
    /// Write the CSV here instead of standard output (with --file).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
}

pub fn run(args: &ClassifyArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    if args.model.adapter.is_none() {
        anyhow::bail!("classify needs --adapter: the task heads are in the adapter file");
    }
    let (texts, lines): (Vec<(String, Option<String>)>, Vec<usize>) = match (&args.text, &args.file)
    {
        (Some(t), _) => (vec![(t.clone(), args.text_b.clone())], vec![0]),
        (None, Some(f)) => curlora::data::read_column(f, &args.column)?
            .into_iter()
            .map(|(line, t)| ((t, None), line))
            .unzip(),
        (None, None) => anyhow::bail!("give --text \"…\" or --file F.csv [--column text]"),
    };
    let dev = curlora::core::device::select(choice)?;
    let a = adapted::load(&args.model, &dev.device)?;
    let (meta, heads) = a.adapter.as_ref().expect("checked above");
    if heads.is_empty() {
        anyhow::bail!("this adapter file has no task heads");
    }
    let info = meta.heads_info.as_ref();
    if info.is_none() {
        eprintln!(
            "note: this adapter file predates saved label names and encoding: classes are \
             numbered, texts are cut at 128 tokens and read at their last token"
        );
    }
    let reading = Reading::from_info(info);
    let chosen: Vec<usize> = match &args.task {
        None => (0..heads.len()).collect(),
        Some(t) => vec![heads.iter().position(|(n, _)| n == t).ok_or_else(|| {
            anyhow::anyhow!(
                "no task `{t}` in this adapter; its heads are {}",
                heads
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?],
    };
    let encoded = classify::encode_texts(&a.tokenizer, &texts, &reading, a.model.pad_id())?;
    let truncated = encoded
        .iter()
        .zip(&texts)
        .filter(|(e, _)| e.ids.len() == reading.max_len)
        .count();
    if truncated > 0 {
        eprintln!(
            "note: {truncated} text(s) reached {} tokens and were cut there, as in training",
            reading.max_len
        );
    }
    let labels = |h: usize, c: usize| -> Vec<String> {
        info.and_then(|i| i.labels.get(h).cloned())
            .filter(|l| l.len() == c)
            .unwrap_or_else(|| (0..c).map(|k| k.to_string()).collect())
    };
    let mut results = Vec::new();
    for &h in &chosen {
        let (name, head) = &heads[h];
        let p = curlora::core::runtime::block_on(classify::probabilities(
            &a.model,
            head,
            &encoded,
            reading.pooling,
            args.batch_size,
        ))?;
        results.push((name.clone(), labels(h, head.classes()), p));
    }
    if args.file.is_none() {
        println!("{}", texts[0].0);
        for (task, names, p) in &results {
            let best = curlora::model::generate::argmax(&p[0]);
            let probs: Vec<String> = names
                .iter()
                .zip(&p[0])
                .map(|(n, x)| format!("{n} {x:.3}"))
                .collect();
            println!("  {task}: {}  ({})", names[best], probs.join(", "));
        }
        return Ok(());
    }
    let mut csv = String::from("line,text");
    for (task, names, _) in &results {
        csv += &format!(",{}", field(&format!("{task}_label")));
        for n in names {
            csv += &format!(",{}", field(&format!("{task}_p_{n}")));
        }
    }
    csv.push('\n');
    for (i, (t, _)) in texts.iter().enumerate() {
        csv += &format!("{},{}", lines[i], field(t));
        for (_, names, p) in &results {
            let best = curlora::model::generate::argmax(&p[i]);
            csv += &format!(",{}", field(&names[best]));
            for x in &p[i] {
                csv += &format!(",{x:.6}");
            }
        }
        csv.push('\n');
    }
    match &args.out {
        Some(path) => {
            curlora::core::fsutil::write_atomic(path, csv.as_bytes())?;
            eprintln!("{} rows → {}", texts.len(), path.display());
        }
        None => print!("{csv}"),
    }
    Ok(())
}
