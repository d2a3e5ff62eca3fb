//! Datasets for the continual-learning protocol: the three classification tasks of the
//! reference (GLUE MRPC, GLUE SST-2, Sentiment140), any user CSV/TSV/JSONL file, and raw text
//! for perplexity (WikiText-2).
//!
//! Every reader turns a file into one [`Dataset`] of [`Example`]s with dense class ids
//! `0..num_classes`, so training and evaluation never look at file formats. Readers never
//! panic: a malformed row is an [`Error::Format`] naming the file and the 1-based line, unless
//! [`LoadOptions::skip_bad_rows`] is set, in which case the row is dropped and counted in the
//! returned [`LoadReport`]. A file that is not UTF-8 or yields no examples is always an error.
//!
//! * [`glue`]: MRPC and SST-2 TSVs as written by GLUE's `download_glue_data.py`.
//! * [`sentiment140`]: the Sentiment140 CSVs, with the reference's label map or a 3-way one.
//! * [`generic`]: CSV, TSV or JSONL with user-chosen columns.
//! * [`text`]: raw text and the WikiText reference join used for perplexity.

mod column;
mod csv;
pub mod generic;
pub mod glue;
mod limits;
pub mod sentiment140;
pub mod text;

pub(crate) use limits::read_table_text;

use std::path::{Path, PathBuf};

use crate::core::error::{Error, Result};

pub use column::read_column;
pub use generic::{Column, GenericSpec, TableFormat, read_generic};
pub use glue::{read_mrpc, read_sst2};
pub use sentiment140::{Sentiment140Labels, read_sentiment140};
pub use text::{read_text, read_wikitext_reference, wikitext_hf_rows, wikitext_reference_join};

/// One labelled example: a single text, or a sentence pair (MRPC) when `text_b` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub text: String,
    pub text_b: Option<String>,
    /// Dense class id in `0..Dataset::num_classes`.
    pub label: usize,
}

/// How a sentence pair becomes the one string the tokenizer sees.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PairEncoding {
    /// The reference behaviour: `tokenizer.encode(s1 + s2)`, i.e. the two strings glued
    /// together with nothing in between, not even a space (GLUE MRPC sentences end in
    /// punctuation, so the seam is e.g. `"...evidence.Referring to..."`). Kept as the default
    /// so that results are comparable with the paper.
    #[default]
    Concat,
    /// `a + sep + b`, e.g. `" "` or `"\n"`, for runs that do not need to match the reference.
    Separator(String),
}

impl Example {
    /// The text fed to the tokenizer: `text` alone, or the pair joined as `mode` says.
    pub fn input_text(&self, mode: &PairEncoding) -> String {
        match (&self.text_b, mode) {
            (None, _) => self.text.clone(),
            (Some(b), PairEncoding::Concat) => format!("{}{}", self.text, b),
            (Some(b), PairEncoding::Separator(sep)) => format!("{}{}{}", self.text, sep, b),
        }
    }
}

/// A labelled dataset read from one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Short name for logs and reports (`"mrpc"`, `"sst2"`, `"sentiment140"`, or the file stem).
    pub name: String,
    /// The file it was read from.
    pub source: PathBuf,
    pub examples: Vec<Example>,
    /// Size of the classification head. May exceed the number of labels that occur (the
    /// reference Sentiment140 head has 3 outputs but only 2 targets).
    pub num_classes: usize,
    /// `label_names[id]` names class `id`; always `num_classes` long.
    pub label_names: Vec<String>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.examples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
    }

    /// Number of examples of each class, indexed by class id (`num_classes` long).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes];
        for e in &self.examples {
            if e.label >= counts.len() {
                counts.resize(e.label + 1, 0);
            }
            counts[e.label] += 1;
        }
        counts
    }

    /// Accuracy of always predicting the most frequent class: `max_c count(c) / len`.
    /// An accuracy near this value means a constant classifier (e.g. MRPC dev 279/408 =
    /// 0.6838). Returns 0.0 for an empty dataset.
    pub fn majority_baseline(&self) -> f64 {
        if self.examples.is_empty() {
            return 0.0;
        }
        let max = self.class_counts().into_iter().max().unwrap_or(0);
        max as f64 / self.examples.len() as f64
    }

    /// The first `n` examples (all of them if there are fewer), in file order: the reference
    /// trains on prefixes such as the first 5,000 SST-2 rows, never on a shuffled sample.
    pub fn take(mut self, n: usize) -> Dataset {
        self.examples.truncate(n);
        self
    }

    /// The rows an experiment uses of this file: skip the first `skip` examples, then take `n`
    /// of the rest (all without `n`) in file order, or, when `balanced`, the first `n / k` of
    /// each of the `k` classes that occur. Returns the rows and how many examples of the file
    /// were passed over to get them (`skip` + the last taken row's offset + 1), which is where
    /// a held-out split of the same file may start.
    ///
    /// Balanced selection is an error, naming the class, when a class has too few rows.
    pub fn select(
        mut self,
        skip: usize,
        n: Option<usize>,
        balanced: bool,
    ) -> std::result::Result<(Dataset, usize), String> {
        let rest: Vec<Example> = self.examples.drain(..).skip(skip).collect();
        let total = rest.len();
        let (taken, used) = match (n, balanced) {
            (None, _) => (rest, skip + total),
            (Some(n), false) => {
                let k = n.min(total);
                (rest.into_iter().take(k).collect(), skip + k)
            }
            (Some(n), true) => {
                let mut present: Vec<usize> = rest.iter().map(|e| e.label).collect();
                present.sort_unstable();
                present.dedup();
                let quota = n / present.len().max(1);
                let mut counts = vec![
                    0usize;
                    self.num_classes
                        .max(1 + present.last().copied().unwrap_or(0))
                ];
                let mut last = 0;
                let mut out = Vec::with_capacity(quota * present.len());
                for (i, e) in rest.into_iter().enumerate() {
                    if counts[e.label] < quota {
                        counts[e.label] += 1;
                        last = i + 1;
                        out.push(e);
                        if out.len() == quota * present.len() {
                            break;
                        }
                    }
                }
                if let Some(&c) = present.iter().find(|&&c| counts[c] < quota) {
                    return Err(format!(
                        "{n} balanced rows need {quota} of each of {} classes after row {skip}, \
                         but class {c} ({}) has only {}",
                        present.len(),
                        self.label_name(c).unwrap_or("?"),
                        counts[c]
                    ));
                }
                (out, skip + last)
            }
        };
        self.examples = taken;
        Ok((self, used))
    }

    /// Name of class `id`, if it exists.
    pub fn label_name(&self, id: usize) -> Option<&str> {
        self.label_names.get(id).map(String::as_str)
    }
}

/// Reader options shared by every labelled-data reader.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Drop malformed rows (wrong field count, unparsable or unknown label, empty text, bad
    /// quoting on one line) instead of failing, and count them in [`LoadReport`]. File-level
    /// problems stay errors: unreadable file, not UTF-8, bad header, an unterminated quoted
    /// field (it swallows the rest of the file), or no examples at all.
    pub skip_bad_rows: bool,
}

impl LoadOptions {
    /// Fail on the first malformed row (the default).
    pub fn strict() -> Self {
        LoadOptions {
            skip_bad_rows: false,
        }
    }

    /// Skip malformed rows and report how many.
    pub fn skip_bad_rows() -> Self {
        LoadOptions {
            skip_bad_rows: true,
        }
    }
}

/// What a reader dropped; returned alongside the [`Dataset`]. Always zero in strict mode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Rows skipped because they were malformed.
    pub skipped: usize,
    /// The full message (file and line) of the first skipped row, to show the user what kind
    /// of problem it was.
    pub first_error: Option<String>,
}

/// Turns bytes into text: UTF-8 is required (the tokenizer needs it, and a Latin-1 file
/// silently decoded would change the tokens), and a leading byte-order mark is dropped (GLUE
/// MRPC files start with one; it is not part of the first field).
pub(crate) fn decode_utf8(path: &Path, bytes: Vec<u8>) -> Result<String> {
    match String::from_utf8(bytes) {
        Ok(mut s) => {
            if s.starts_with('\u{feff}') {
                s.drain(..'\u{feff}'.len_utf8());
            }
            Ok(s)
        }
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let line = 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count();
            Err(Error::format(
                path,
                format!(
                    "not valid UTF-8 at byte offset {offset} (line {line}, byte 0x{:02x}); \
                     convert the file to UTF-8",
                    bytes[offset]
                ),
            ))
        }
    }
}

/// Reads a whole file as UTF-8 text (see [`decode_utf8`]).
pub(crate) fn read_utf8(path: &Path) -> Result<String> {
    let bytes = crate::core::fsutil::read(path)?;
    decode_utf8(path, bytes)
}

/// Physical lines with 1-based numbers, without their `\n` or `\r\n`. A final newline does not
/// produce an extra empty line.
pub(crate) fn numbered_lines(content: &str) -> impl Iterator<Item = (usize, &str)> {
    content.lines().enumerate().map(|(i, l)| (i + 1, l))
}

/// Collects examples row by row and applies [`LoadOptions::skip_bad_rows`] in one place, so
/// every reader reports errors the same way.
pub(crate) struct Collector<'a> {
    path: &'a Path,
    options: LoadOptions,
    examples: Vec<Example>,
    report: LoadReport,
}

impl<'a> Collector<'a> {
    pub(crate) fn new(path: &'a Path, options: &LoadOptions) -> Self {
        Collector {
            path,
            options: *options,
            examples: Vec::new(),
            report: LoadReport::default(),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        self.path
    }

    pub(crate) fn push(&mut self, example: Example) {
        self.examples.push(example);
    }

    /// A malformed row at `line`: an error in strict mode, a counted skip otherwise.
    pub(crate) fn bad_row(&mut self, line: usize, detail: impl std::fmt::Display) -> Result<()> {
        let err = Error::format(self.path, format!("line {line}: {detail}"));
        if self.options.skip_bad_rows {
            self.report.skipped += 1;
            if self.report.first_error.is_none() {
                self.report.first_error = Some(err.to_string());
            }
            Ok(())
        } else {
            Err(err)
        }
    }

    /// Builds the dataset; no examples is an error (training on nothing is never intended).
    pub(crate) fn finish(
        self,
        name: impl Into<String>,
        label_names: Vec<String>,
    ) -> Result<(Dataset, LoadReport)> {
        if self.examples.is_empty() {
            let detail = if self.report.skipped > 0 {
                format!(
                    "no usable examples: all {} data rows were malformed (first: {})",
                    self.report.skipped,
                    self.report.first_error.as_deref().unwrap_or("?")
                )
            } else {
                "no examples: the file has no data rows".to_string()
            };
            return Err(Error::format(self.path, detail));
        }
        let dataset = Dataset {
            name: name.into(),
            source: self.path.to_path_buf(),
            examples: self.examples,
            num_classes: label_names.len(),
            label_names,
        };
        Ok((dataset, self.report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(labels: &[usize], num_classes: usize) -> Dataset {
        Dataset {
            name: "t".into(),
            source: PathBuf::from("t"),
            examples: labels
                .iter()
                .map(|&label| Example {
                    text: "x".into(),
                    text_b: None,
                    label,
                })
                .collect(),
            num_classes,
            label_names: (0..num_classes).map(|i| i.to_string()).collect(),
        }
    }

    /// Skip, prefix and balanced selection by hand: labels 1 1 0 1 0 0 1; balanced 4 after
    /// skipping 1 takes the first two of each class (rows 1, 2, 3, 4) and passes 5 rows.
    #[test]
    fn select_skips_takes_and_balances_in_file_order() {
        let labels = [1, 1, 0, 1, 0, 0, 1];
        let (d, used) = ds(&labels, 2).select(1, Some(4), true).unwrap();
        let got: Vec<usize> = d.examples.iter().map(|e| e.label).collect();
        assert_eq!((got, used), (vec![1, 0, 1, 0], 5));
        let (d, used) = ds(&labels, 2).select(2, Some(3), false).unwrap();
        assert_eq!((d.len(), used), (3, 5));
        let (d, used) = ds(&labels, 2).select(0, None, false).unwrap();
        assert_eq!((d.len(), used), (7, 7));
        let e = ds(&labels, 2).select(4, Some(4), true).unwrap_err();
        assert!(e.contains("class 1") && e.contains("only 1"), "{e}");
    }

    #[test]
    fn counts_baseline_take() {
        let d = ds(&[1, 0, 1, 1], 3);
        assert_eq!(d.class_counts(), vec![1, 3, 0]);
        assert_eq!(d.majority_baseline(), 0.75);
        let d = d.take(2);
        assert_eq!(d.len(), 2);
        assert_eq!(d.majority_baseline(), 0.5);
        assert_eq!(d.clone().take(10).len(), 2);
        assert_eq!(d.take(0).majority_baseline(), 0.0);
    }

    #[test]
    fn pair_encoding() {
        let e = Example {
            text: "A.".into(),
            text_b: Some("B.".into()),
            label: 0,
        };
        assert_eq!(e.input_text(&PairEncoding::Concat), "A.B.");
        assert_eq!(
            e.input_text(&PairEncoding::Separator(" [SEP] ".into())),
            "A. [SEP] B."
        );
        let single = Example {
            text: "only".into(),
            text_b: None,
            label: 0,
        };
        assert_eq!(
            single.input_text(&PairEncoding::Separator("|".into())),
            "only"
        );
    }

    #[test]
    fn utf8_errors_name_offset_and_line() {
        let p = Path::new("f.csv");
        let err = decode_utf8(p, b"ab\ncd\xffe".to_vec())
            .unwrap_err()
            .to_string();
        assert!(err.contains("f.csv"), "{err}");
        assert!(err.contains("byte offset 5"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        assert_eq!(decode_utf8(p, b"\xef\xbb\xbfhi".to_vec()).unwrap(), "hi");
    }
}
