//! CSV/TSV records, split by the `csv` crate (BurntSushi's), with the checks it leaves to us.
//!
//! The crate follows RFC 4180 as Python's `csv` module (which wrote most of these files) does:
//! one delimiter byte; a field that starts with `"` is quoted and may hold delimiters, newlines
//! and doubled quotes (`""` → `"`); a quote inside an unquoted field is an ordinary character;
//! records end at `\n`, `\r\n` or `\r`; blank lines are skipped. It is lenient where a broken
//! file should be reported: text after a closing quote (`"abc"x`) is folded into the field, and
//! an unclosed quote silently swallows the rest of the file. So each record is checked against
//! its raw bytes (does re-quoting the parsed fields give back exactly what is on disk?), and a
//! mismatch becomes a row error when it stays on one line, or a fatal one when a quoted part ran
//! over line ends (an unbalanced quote, after which every later record would be out of phase).

use super::limits::{overlong_detail, overlong_line};
use csv::{ByteRecord, ReaderBuilder};

/// One record and the 1-based line on which it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub line: usize,
    pub fields: Vec<String>,
}

/// A problem in the CSV structure itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CsvError {
    /// Confined to one record; the reader has moved on to the next line and can continue.
    Row { line: usize, detail: String },
    /// The rest of the file cannot be split into records reliably: an unterminated quoted
    /// field, a quoted field that spans lines and then breaks (an unbalanced quote), or a line
    /// over [`MAX_LINE_BYTES`].
    Fatal { line: usize, detail: String },
}

pub(crate) struct CsvReader<'a> {
    text: &'a str,
    inner: csv::Reader<&'a [u8]>,
    record: ByteRecord,
    delim: u8,
    done: bool,
}

impl<'a> CsvReader<'a> {
    pub(crate) fn new(text: &'a str, delim: u8) -> Self {
        let inner = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delim)
            .from_reader(text.as_bytes());
        CsvReader {
            text,
            inner,
            record: ByteRecord::new(),
            delim,
            done: false,
        }
    }

    fn next_record(&mut self) -> Option<Result<Record, CsvError>> {
        let start = self.inner.position().clone();
        if start.byte() == 0
            && let Some((line, len)) = overlong_line(self.text)
        {
            self.done = true;
            let detail = overlong_detail(len);
            return Some(Err(CsvError::Fatal { line, detail }));
        }
        match self.inner.read_byte_record(&mut self.record) {
            Ok(false) => return None,
            Ok(true) => {}
            // Reading from a byte slice cannot fail; a UTF-8 error cannot occur on bytes.
            Err(e) => {
                self.done = true;
                let line = start.line() as usize;
                return Some(Err(CsvError::Fatal {
                    line,
                    detail: e.to_string(),
                }));
            }
        }
        let pos = self
            .record
            .position()
            .expect("the csv reader records positions");
        let (mut from, mut line) = (pos.byte() as usize, pos.line() as usize);
        let to = self.inner.position().byte() as usize;
        // The crate's record position can sit on the line ends (and blank lines) it skipped
        // before the record: step over them to its first byte and line.
        let bytes = self.text.as_bytes();
        while from < to && matches!(bytes[from], b'\r' | b'\n') {
            line += usize::from(bytes[from] == b'\n');
            from += 1;
        }
        let raw = &self.text.as_bytes()[from..to];
        if let Err(b) = check_raw(raw, &self.record, self.delim) {
            let quote_line = line + count_newlines(&raw[..b.quote_at]);
            let field = b.field + 1;
            if b.unterminated {
                self.done = true;
                let detail = format!(
                    "unterminated quoted field {field} (its opening quote is on line \
                     {quote_line}; a closing `\"` is missing)"
                );
                return Some(Err(CsvError::Fatal { line, detail }));
            }
            let close_line = line + count_newlines(&raw[..b.close_at]);
            if close_line != quote_line {
                // A quoted field ran over a line end and then broke: almost surely an
                // unbalanced quote on `quote_line`, after which every later record would be
                // split out of phase. Stop rather than guess.
                self.done = true;
                let detail = format!(
                    "field {field} opens a quote on line {quote_line} that closes on line \
                     {close_line} followed by more text: probably an unbalanced `\"`"
                );
                return Some(Err(CsvError::Fatal { line, detail }));
            }
            let detail = format!(
                "unexpected text after the closing quote of field {field} (a quote inside a \
                 quoted field must be doubled: `\"\"`)"
            );
            return Some(Err(CsvError::Row { line, detail }));
        }
        // The record is a slice of `text` (a `str`) cut at ASCII bytes, so every field is
        // valid UTF-8; the lossy conversion only guards that reasoning.
        let fields = self
            .record
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        Some(Ok(Record { line, fields }))
    }
}

/// Where a record's raw bytes differ from its parsed fields re-quoted.
struct Broken {
    /// 0-based field.
    field: usize,
    /// Byte offsets in the raw record: the field's opening quote, and where the mismatch is.
    quote_at: usize,
    close_at: usize,
    /// The quoted field ran to the end of the file without its closing quote.
    unterminated: bool,
}

/// Whether `raw` is exactly `record` written back: each field verbatim, or quoted with its
/// quotes doubled, delimiters between, one line end (or none) after.
fn check_raw(raw: &[u8], record: &ByteRecord, delim: u8) -> Result<(), Broken> {
    let mut o = 0;
    let mut last = (0, 0);
    for (i, f) in record.iter().enumerate() {
        if i > 0 {
            if raw.get(o) != Some(&delim) {
                return Err(Broken {
                    field: i - 1,
                    quote_at: last.1,
                    close_at: o,
                    unterminated: false,
                });
            }
            o += 1;
        }
        let quote_at = o;
        last = (i, quote_at);
        if raw.get(o) != Some(&b'"') {
            // Unquoted: verbatim (a quote after the first byte is an ordinary character).
            if !raw[o..].starts_with(f) {
                return Err(Broken {
                    field: i,
                    quote_at,
                    close_at: o,
                    unterminated: false,
                });
            }
            o += f.len();
            continue;
        }
        o += 1;
        for &c in f {
            let want: &[u8] = if c == b'"' {
                b"\"\""
            } else {
                std::slice::from_ref(&c)
            };
            if !raw[o..].starts_with(want) {
                return Err(Broken {
                    field: i,
                    quote_at,
                    close_at: o,
                    unterminated: false,
                });
            }
            o += want.len();
        }
        match raw.get(o) {
            Some(b'"') => o += 1,
            None => {
                return Err(Broken {
                    field: i,
                    quote_at,
                    close_at: o,
                    unterminated: true,
                });
            }
            Some(_) => {
                return Err(Broken {
                    field: i,
                    quote_at,
                    close_at: o,
                    unterminated: false,
                });
            }
        }
    }
    match &raw[o..] {
        b"" | b"\n" | b"\r\n" | b"\r" => Ok(()),
        _ => Err(Broken {
            field: last.0,
            quote_at: last.1,
            close_at: o,
            unterminated: false,
        }),
    }
}

fn count_newlines(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

impl Iterator for CsvReader<'_> {
    type Item = Result<Record, CsvError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        self.next_record()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::limits::MAX_LINE_BYTES;

    fn parse(s: &str) -> Vec<Result<Record, CsvError>> {
        CsvReader::new(s, b',').collect()
    }

    fn rec(line: usize, f: &[&str]) -> Result<Record, CsvError> {
        Ok(Record {
            line,
            fields: f.iter().map(|s| s.to_string()).collect(),
        })
    }

    #[test]
    fn plain_and_quoted() {
        let r = parse("a,b,c\n\"x,1\",\"say \"\"hi\"\"\",\n\n\"multi\nline\",z\r\nlast,\"q\"");
        assert_eq!(
            r,
            vec![
                rec(1, &["a", "b", "c"]),
                rec(2, &["x,1", "say \"hi\"", ""]),
                rec(4, &["multi\nline", "z"]),
                rec(6, &["last", "q"]),
            ]
        );
    }

    #[test]
    fn quote_inside_unquoted_is_literal() {
        assert_eq!(parse("a\"b,c\n"), vec![rec(1, &["a\"b", "c"])]);
    }

    #[test]
    fn crlf_and_trailing_delimiter() {
        assert_eq!(
            parse("a,b,\r\nc,\"d\"\r\ne,f\r"),
            vec![
                rec(1, &["a", "b", ""]),
                rec(2, &["c", "d"]),
                rec(3, &["e", "f"])
            ]
        );
    }

    #[test]
    fn bad_quote_is_row_error_and_resyncs() {
        let r = parse("\"a\"x,b\nc,d\n");
        assert!(matches!(r[0], Err(CsvError::Row { line: 1, .. })));
        assert_eq!(r[1], rec(2, &["c", "d"]));
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn unterminated_quote_is_fatal() {
        let r = parse("a,b\nc,\"d\ne,f\n");
        assert_eq!(r[0], rec(1, &["a", "b"]));
        match &r[1] {
            Err(CsvError::Fatal { line, detail }) => {
                assert_eq!(*line, 2);
                assert!(detail.contains("line 2"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn unbalanced_quote_over_lines_is_fatal() {
        let r = parse("a,\"b\nc,\"d\"\ne,f\n");
        assert!(
            matches!(&r[0], Err(CsvError::Fatal { line: 1, detail }) if detail.contains("line 1")),
            "{r:?}"
        );
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn utf8_fields() {
        assert_eq!(parse("é,\"ü,ß\"\n"), vec![rec(1, &["é", "ü,ß"])]);
    }

    #[test]
    fn unterminated_quote_on_the_last_line_is_fatal() {
        let r = parse("a,b\nc,\"d");
        assert_eq!(r[0], rec(1, &["a", "b"]));
        assert!(
            matches!(&r[1], Err(CsvError::Fatal { line: 2, detail }) if detail.contains("unterminated quoted field 2")),
            "{r:?}"
        );
    }

    #[test]
    fn tab_delimiter_and_doubled_quotes_at_the_end() {
        let r: Vec<_> = CsvReader::new("x\t\"a\"\"\"\ny\tz\n", b'\t').collect();
        assert_eq!(r, vec![rec(1, &["x", "a\""]), rec(2, &["y", "z"])]);
    }

    #[test]
    fn an_overlong_line_is_refused_before_any_record() {
        let text = format!("a,b\n{}\n", "x".repeat(MAX_LINE_BYTES + 1));
        let r = parse(&text);
        assert_eq!(r.len(), 1);
        assert!(
            matches!(&r[0], Err(CsvError::Fatal { line: 2, detail }) if detail.contains("1 MiB")),
            "{r:?}"
        );
    }
}
