//! Sentiment140 (Go, Bhayani & Huang 2009) CSVs: 6 fields `polarity, id, date, query, user,
//! text` with polarity 0 (negative), 2 (neutral) or 4 (positive).
//!
//! Two layouts occur: the original files (`training.1600000.processed.noemoticon.csv`,
//! `testdata.manual.2009.06.14.csv`) have no header and quote every field; re-exported samples
//! have a header such as `target,ids,date,flag,user,text` and quote only where needed. Both
//! are RFC 4180, so they go through the same CSV reader. A first record whose polarity field
//! is not a number is taken as a header.

use std::path::Path;

use super::csv::{CsvError, CsvReader};
use super::{Collector, Dataset, Example, LoadOptions, LoadReport, read_table_text};
use crate::core::error::{Error, Result};

/// Number of fields in every Sentiment140 row.
pub const FIELDS: usize = 6;
const POLARITY: usize = 0;
const TEXT: usize = 5;

/// How polarities 0 / 2 / 4 become class ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sentiment140Labels {
    /// The reference code: `y = polarity // 4`, so 0 → 0, **2 (neutral) → 0**, 4 → 1, on a
    /// 3-way head (`num_classes = 3`). Only classes 0 and 1 are ever targets; class 2 is an
    /// output that training only pushes down. Kept to reproduce the paper.
    #[default]
    Reference,
    /// A real 3-way task: 0 → 0 (negative), 2 → 1 (neutral), 4 → 2 (positive).
    ThreeClass,
    /// Positive against negative on a 2-way head: 0 → 0, 4 → 1. A neutral row (2) is a
    /// malformed row for this map (Sentiment140's training data has none).
    Binary,
}

impl Sentiment140Labels {
    /// Class id of a polarity value, or `None` if the polarity is not 0, 2 or 4.
    pub fn class_of(self, polarity: u32) -> Option<usize> {
        match (self, polarity) {
            (Sentiment140Labels::Reference, 0 | 2) => Some(0),
            (Sentiment140Labels::Reference, 4) => Some(1),
            (Sentiment140Labels::ThreeClass, 0) => Some(0),
            (Sentiment140Labels::ThreeClass, 2) => Some(1),
            (Sentiment140Labels::ThreeClass, 4) => Some(2),
            (Sentiment140Labels::Binary, 0) => Some(0),
            (Sentiment140Labels::Binary, 4) => Some(1),
            _ => None,
        }
    }

    /// Size of the classification head: 3 for the reference map (its head is 3-way too) and
    /// the three-class one, 2 for binary.
    pub fn num_classes(self) -> usize {
        self.label_names().len()
    }

    /// Class names, `num_classes` long.
    pub fn label_names(self) -> Vec<String> {
        let names: &[&str] = match self {
            Sentiment140Labels::Reference => {
                &["negative_or_neutral", "positive", "unused (never a target)"]
            }
            Sentiment140Labels::ThreeClass => &["negative", "neutral", "positive"],
            Sentiment140Labels::Binary => &["negative", "positive"],
        };
        names.iter().map(|s| s.to_string()).collect()
    }
}

/// Reads a Sentiment140 CSV with or without a header. `text` is the tweet (field 6) as
/// stored, HTML entities such as `&quot;` included, as HF's loader gives it.
pub fn read_sentiment140(
    path: &Path,
    labels: Sentiment140Labels,
    options: &LoadOptions,
) -> Result<(Dataset, LoadReport)> {
    let content = read_table_text(path)?;
    let mut out = Collector::new(path, options);
    let mut first = true;
    for record in CsvReader::new(&content, b',') {
        let record = match record {
            Ok(r) => r,
            Err(CsvError::Row { line, detail }) => {
                first = false;
                out.bad_row(line, detail)?;
                continue;
            }
            Err(CsvError::Fatal { line, detail }) => {
                return Err(Error::format(path, format!("line {line}: {detail}")));
            }
        };
        let line = record.line;
        let mut fields = record.fields;
        let is_header = first
            && fields
                .first()
                .is_some_and(|f| f.trim().parse::<u32>().is_err());
        first = false;
        if fields.len() != FIELDS {
            let what = if is_header { "header " } else { "" };
            let detail = format!(
                "expected {FIELDS} comma-separated {what}fields (polarity, id, date, query, \
                 user, text), found {}",
                fields.len()
            );
            if is_header {
                return Err(Error::format(path, format!("line {line}: {detail}")));
            }
            out.bad_row(line, detail)?;
            continue;
        }
        if is_header {
            continue;
        }
        let raw = fields[POLARITY].trim();
        let Some(label) = raw.parse::<u32>().ok().and_then(|p| labels.class_of(p)) else {
            out.bad_row(
                line,
                match labels {
                    Sentiment140Labels::Binary => format!(
                        "polarity `{raw}`: the binary label map takes 0 (negative) or 4 \
                         (positive); use `three-class` for data with neutral tweets"
                    ),
                    _ => format!("unknown polarity `{raw}`; expected 0, 2 or 4"),
                },
            )?;
            continue;
        };
        if fields[TEXT].trim().is_empty() {
            out.bad_row(line, "empty tweet text (field 6)")?;
            continue;
        }
        out.push(Example {
            text: std::mem::take(&mut fields[TEXT]),
            text_b: None,
            label,
        });
    }
    out.finish("sentiment140", labels.label_names())
}
