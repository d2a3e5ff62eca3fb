//! User datasets: CSV, TSV or JSON Lines with the text, optional second text and label columns
//! named by the user, so new continual-learning tasks need no code.
//!
//! * CSV is RFC 4180 (quoted fields, doubled quotes, commas and newlines inside quotes).
//! * TSV is split on tabs only, without quoting, like GLUE files.
//! * JSONL is one JSON object per line; columns are keys.
//!
//! Label values (trimmed of surrounding whitespace; JSON numbers and booleans by their JSON
//! spelling) become class ids in order of first appearance, unless [`GenericSpec::label_names`]
//! fixes the list and its order, which you want whenever the ids must be stable across files
//! (a train and a test file whose first rows have different labels would otherwise disagree).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde_json::Value;

use super::csv::{CsvError, CsvReader, Record};
use super::{
    Collector, Dataset, Example, LoadOptions, LoadReport, numbered_lines, read_table_text,
};
use crate::core::error::{Error, Result};

/// File layout of a generic dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    Csv,
    Tsv,
    Jsonl,
}

impl TableFormat {
    /// Guesses the format from the extension: `.csv`, `.tsv`/`.tab`, `.jsonl`/`.ndjson`.
    pub fn from_path(path: &Path) -> Option<TableFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(TableFormat::Csv),
            "tsv" | "tab" => Some(TableFormat::Tsv),
            "jsonl" | "ndjson" => Some(TableFormat::Jsonl),
            _ => None,
        }
    }

    fn separated(self) -> &'static str {
        match self {
            TableFormat::Csv => "comma-separated",
            TableFormat::Tsv => "tab-separated",
            TableFormat::Jsonl => "JSON",
        }
    }
}

/// A column: by header name (or JSON key), or by 0-based index (headerless CSV/TSV).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    Name(String),
    Index(usize),
}

impl From<&str> for Column {
    fn from(name: &str) -> Self {
        Column::Name(name.to_string())
    }
}

impl From<usize> for Column {
    fn from(index: usize) -> Self {
        Column::Index(index)
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Column::Name(n) => write!(f, "`{n}`"),
            Column::Index(i) => write!(f, "index {i}"),
        }
    }
}

/// Which columns hold what, for [`read_generic`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenericSpec {
    pub format: TableFormat,
    /// CSV/TSV: the first record is a header. Ignored for JSONL.
    pub has_header: bool,
    pub text: Column,
    /// Second text of a pair task (like MRPC); `None` for single-text tasks.
    pub text_b: Option<Column>,
    pub label: Column,
    /// Fixed class names: class id = position in this list, and any other value is an error.
    /// `None`: ids in order of first appearance.
    pub label_names: Option<Vec<String>>,
}

impl GenericSpec {
    /// A single-text spec with a header and labels in order of first appearance.
    pub fn new(format: TableFormat, text: impl Into<Column>, label: impl Into<Column>) -> Self {
        GenericSpec {
            format,
            has_header: true,
            text: text.into(),
            text_b: None,
            label: label.into(),
            label_names: None,
        }
    }

    fn validate(&self) -> Result<()> {
        let columns = std::iter::once(&self.text)
            .chain(self.text_b.as_ref())
            .chain(std::iter::once(&self.label));
        for c in columns {
            match (c, self.format, self.has_header) {
                (Column::Index(_), TableFormat::Jsonl, _) => {
                    return Err(Error::config(format!(
                        "column {c}: JSONL columns are object keys; give a name, not an index"
                    )));
                }
                (Column::Name(_), TableFormat::Csv | TableFormat::Tsv, false) => {
                    return Err(Error::config(format!(
                        "column {c} is given by name but the file has no header; give a \
                         0-based index"
                    )));
                }
                _ => {}
            }
        }
        if let Some(names) = &self.label_names {
            if names.is_empty() {
                return Err(Error::config("the list of label names is empty"));
            }
            for (i, n) in names.iter().enumerate() {
                if names[..i].contains(n) {
                    return Err(Error::config(format!(
                        "label name `{n}` appears twice in the list of label names"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Maps label values to class ids.
struct Labels {
    names: Vec<String>,
    ids: HashMap<String, usize>,
    fixed: bool,
}

impl Labels {
    fn new(fixed: Option<&Vec<String>>) -> Self {
        let names = fixed.cloned().unwrap_or_default();
        let ids = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        Labels {
            names,
            ids,
            fixed: fixed.is_some(),
        }
    }

    fn id(&mut self, value: &str, column: &Column) -> std::result::Result<usize, String> {
        if value.is_empty() {
            return Err(format!("empty label in column {column}"));
        }
        if let Some(&id) = self.ids.get(value) {
            return Ok(id);
        }
        if self.fixed {
            return Err(format!(
                "unknown label `{value}` in column {column}; expected one of: {}",
                self.names.join(", ")
            ));
        }
        let id = self.names.len();
        self.names.push(value.to_string());
        self.ids.insert(value.to_string(), id);
        Ok(id)
    }
}

/// Reads a CSV, TSV or JSONL dataset as `spec` describes. The dataset is named after the file
/// stem.
pub fn read_generic(
    path: &Path,
    spec: &GenericSpec,
    options: &LoadOptions,
) -> Result<(Dataset, LoadReport)> {
    spec.validate()?;
    let content = read_table_text(path)?;
    let mut labels = Labels::new(spec.label_names.as_ref());
    let mut out = Collector::new(path, options);
    match spec.format {
        TableFormat::Csv | TableFormat::Tsv => read_table(&content, spec, &mut labels, &mut out)?,
        TableFormat::Jsonl => read_jsonl(&content, spec, &mut labels, &mut out)?,
    }
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dataset".to_string());
    out.finish(name, labels.names)
}

fn read_table(
    content: &str,
    spec: &GenericSpec,
    labels: &mut Labels,
    out: &mut Collector<'_>,
) -> Result<()> {
    let path = out.path().to_path_buf();
    let records: Box<dyn Iterator<Item = std::result::Result<Record, CsvError>> + '_> = match spec
        .format
    {
        TableFormat::Tsv => Box::new(numbered_lines(content).filter(|(_, l)| !l.is_empty()).map(
            |(line, l)| {
                Ok(Record {
                    line,
                    fields: l.split('\t').map(str::to_string).collect(),
                })
            },
        )),
        _ => Box::new(CsvReader::new(content, b',')),
    };
    let sep = spec.format.separated();
    // (width, line the width comes from, resolved text / text_b / label indices)
    let mut layout: Option<(usize, usize, usize, Option<usize>, usize)> = None;
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(CsvError::Row { line, detail }) => {
                out.bad_row(line, detail)?;
                continue;
            }
            Err(CsvError::Fatal { line, detail }) => {
                return Err(Error::format(&path, format!("line {line}: {detail}")));
            }
        };
        let Record { line, fields } = record;
        let Some((width, width_line, text_i, text_b_i, label_i)) = layout else {
            let resolve =
                |c: &Column| -> Result<usize> {
                    match c {
                    Column::Name(n) => fields.iter().position(|h| h.trim() == n.trim()).ok_or_else(
                        || {
                            Error::format(
                                &path,
                                format!(
                                    "line {line}: the header has no column `{n}`; columns are: {}",
                                    fields.join(", ")
                                ),
                            )
                        },
                    ),
                    Column::Index(i) if *i < fields.len() => Ok(*i),
                    Column::Index(i) => Err(Error::format(
                        &path,
                        format!(
                            "line {line}: column index {i} is out of range: the {} has {} \
                             {sep} fields (indices start at 0)",
                            if spec.has_header { "header" } else { "first row" },
                            fields.len()
                        ),
                    )),
                }
                };
            let text_i = resolve(&spec.text)?;
            let text_b_i = spec.text_b.as_ref().map(resolve).transpose()?;
            let label_i = resolve(&spec.label)?;
            layout = Some((fields.len(), line, text_i, text_b_i, label_i));
            if spec.has_header {
                continue;
            }
            let row = (text_i, text_b_i, label_i);
            push_row(line, &fields, row, spec, labels, out)?;
            continue;
        };
        if fields.len() != width {
            let origin = if spec.has_header {
                "as in the header".to_string()
            } else {
                format!("as in line {width_line}")
            };
            out.bad_row(
                line,
                format!(
                    "expected {width} {sep} fields ({origin}), found {}",
                    fields.len()
                ),
            )?;
            continue;
        }
        push_row(
            line,
            &fields,
            (text_i, text_b_i, label_i),
            spec,
            labels,
            out,
        )?;
    }
    Ok(())
}

fn push_row(
    line: usize,
    fields: &[String],
    (text_i, text_b_i, label_i): (usize, Option<usize>, usize),
    spec: &GenericSpec,
    labels: &mut Labels,
    out: &mut Collector<'_>,
) -> Result<()> {
    if fields[text_i].trim().is_empty() {
        return out.bad_row(line, format!("empty text in column {}", spec.text));
    }
    let text_b = match (text_b_i, &spec.text_b) {
        (Some(i), Some(col)) => {
            if fields[i].trim().is_empty() {
                return out.bad_row(line, format!("empty text in column {col}"));
            }
            Some(fields[i].clone())
        }
        _ => None,
    };
    // Labels last, so a row skipped for its text does not claim a class id.
    let label = match labels.id(fields[label_i].trim(), &spec.label) {
        Ok(l) => l,
        Err(detail) => return out.bad_row(line, detail),
    };
    out.push(Example {
        text: fields[text_i].clone(),
        text_b,
        label,
    });
    Ok(())
}

fn read_jsonl(
    content: &str,
    spec: &GenericSpec,
    labels: &mut Labels,
    out: &mut Collector<'_>,
) -> Result<()> {
    for (line, raw) in numbered_lines(content) {
        if raw.trim().is_empty() {
            continue;
        }
        let value: Value = match serde_json::from_str(raw) {
            Ok(v) => v,
            Err(e) => {
                out.bad_row(line, format!("invalid JSON: {e}"))?;
                continue;
            }
        };
        let Value::Object(obj) = value else {
            out.bad_row(line, "expected a JSON object")?;
            continue;
        };
        let key = |c: &Column| match c {
            Column::Name(n) => n.clone(),
            Column::Index(i) => i.to_string(), // rejected by validate()
        };
        let label_key = key(&spec.label);
        let label_value = match obj.get(&label_key) {
            Some(Value::String(s)) => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(_) => {
                out.bad_row(
                    line,
                    format!("key `{label_key}`: the label must be a string, number or boolean"),
                )?;
                continue;
            }
            None => {
                out.bad_row(line, format!("missing key `{label_key}`"))?;
                continue;
            }
        };
        let text_of = |c: &Column| -> std::result::Result<String, String> {
            let k = key(c);
            match obj.get(&k) {
                Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
                Some(Value::String(_)) => Err(format!("empty text in key `{k}`")),
                Some(_) => Err(format!("key `{k}`: the text must be a string")),
                None => Err(format!("missing key `{k}`")),
            }
        };
        let text = match text_of(&spec.text) {
            Ok(t) => t,
            Err(detail) => {
                out.bad_row(line, detail)?;
                continue;
            }
        };
        let text_b = match spec.text_b.as_ref().map(text_of).transpose() {
            Ok(t) => t,
            Err(detail) => {
                out.bad_row(line, detail)?;
                continue;
            }
        };
        let label = match labels.id(&label_value, &spec.label) {
            Ok(l) => l,
            Err(detail) => {
                out.bad_row(line, detail)?;
                continue;
            }
        };
        out.push(Example {
            text,
            text_b,
            label,
        });
    }
    Ok(())
}
