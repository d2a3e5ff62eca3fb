//! GLUE MRPC and SST-2, as TSV files written by GLUE's `download_glue_data.py` (the same rows
//! as HF `glue/mrpc` and `glue/sst2`, which the reference loads).
//!
//! GLUE TSVs are not quoted CSV: HF reads them with `quoting=QUOTE_NONE`, and MRPC sentences
//! contain bare `"` characters (`"the witness"`). So a line is split on tabs only and every
//! field is kept byte for byte, including SST-2's trailing space before the tab, which HF
//! keeps too and which changes the GPT-2 tokens. Columns are found by their header names, so a
//! file with the columns in another order reads the same.

use std::path::Path;

use super::{
    Collector, Dataset, Example, LoadOptions, LoadReport, numbered_lines, read_table_text,
};
use crate::core::error::{Error, Result};

/// MRPC class names, as in HF `glue/mrpc` (`Quality` 0 / 1).
pub const MRPC_LABELS: [&str; 2] = ["not_equivalent", "equivalent"];
/// SST-2 class names, as in HF `glue/sst2` (`label` 0 / 1).
pub const SST2_LABELS: [&str; 2] = ["negative", "positive"];

/// Reads an MRPC `train.tsv` / `dev.tsv` (header `Quality\t#1 ID\t#2 ID\t#1 String\t#2 String`,
/// UTF-8 with a byte-order mark). `text` is `#1 String`, `text_b` is `#2 String`, the label is
/// `Quality` (1 = paraphrase). The unlabelled `test.tsv` is rejected.
pub fn read_mrpc(path: &Path, options: &LoadOptions) -> Result<(Dataset, LoadReport)> {
    read_glue(
        path,
        options,
        "mrpc",
        "Quality",
        "#1 String",
        Some("#2 String"),
        &MRPC_LABELS,
    )
}

/// Reads an SST-2 `train.tsv` / `dev.tsv` (header `sentence\tlabel`).
pub fn read_sst2(path: &Path, options: &LoadOptions) -> Result<(Dataset, LoadReport)> {
    read_glue(
        path,
        options,
        "sst2",
        "label",
        "sentence",
        None,
        &SST2_LABELS,
    )
}

fn read_glue(
    path: &Path,
    options: &LoadOptions,
    name: &str,
    label_col: &str,
    text_col: &str,
    text_b_col: Option<&str>,
    labels: &[&str],
) -> Result<(Dataset, LoadReport)> {
    let content = read_table_text(path)?;
    let mut lines = numbered_lines(&content);
    let Some((header_line, header)) = lines.next() else {
        return Err(Error::format(
            path,
            format!("empty file: expected a {name} TSV with a header line"),
        ));
    };
    let columns: Vec<&str> = header.split('\t').collect();
    let find = |col: &str| -> Result<usize> {
        columns.iter().position(|c| *c == col).ok_or_else(|| {
            let hint = if col == label_col {
                " (a GLUE test split has no labels; use train.tsv or dev.tsv)"
            } else {
                ""
            };
            Error::format(
                path,
                format!(
                    "line {header_line}: the header has no `{col}` column{hint}; expected a \
                     {name} TSV header with columns {}, found `{}`",
                    expected_columns(label_col, text_col, text_b_col),
                    header.replace('\t', "\\t")
                ),
            )
        })
    };
    let label_idx = find(label_col)?;
    let text_idx = find(text_col)?;
    let text_b_idx = text_b_col.map(find).transpose()?;
    let width = columns.len();

    let mut out = Collector::new(path, options);
    for (line, row) in lines {
        if row.is_empty() {
            continue;
        }
        let fields: Vec<&str> = row.split('\t').collect();
        if fields.len() != width {
            out.bad_row(
                line,
                format!(
                    "expected {width} tab-separated fields (as in the header), found {}",
                    fields.len()
                ),
            )?;
            continue;
        }
        let raw_label = fields[label_idx];
        let label = match raw_label.trim().parse::<usize>() {
            Ok(l) if l < labels.len() => l,
            _ => {
                out.bad_row(
                    line,
                    format!(
                        "unknown label `{raw_label}` in column `{label_col}`; expected one of {}",
                        (0..labels.len())
                            .map(|i| i.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )?;
                continue;
            }
        };
        if fields[text_idx].trim().is_empty() {
            out.bad_row(line, format!("empty text in column `{text_col}`"))?;
            continue;
        }
        let text_b = match (text_b_idx, text_b_col) {
            (Some(i), Some(col)) => {
                if fields[i].trim().is_empty() {
                    out.bad_row(line, format!("empty text in column `{col}`"))?;
                    continue;
                }
                Some(fields[i].to_string())
            }
            _ => None,
        };
        out.push(Example {
            text: fields[text_idx].to_string(),
            text_b,
            label,
        });
    }
    out.finish(name, labels.iter().map(|s| s.to_string()).collect())
}

fn expected_columns(label: &str, text: &str, text_b: Option<&str>) -> String {
    let mut cols = vec![format!("`{label}`"), format!("`{text}`")];
    if let Some(b) = text_b {
        cols.push(format!("`{b}`"));
    }
    cols.join(", ")
}
