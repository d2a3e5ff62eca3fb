//! A small RFC 4180 record reader, written by hand so the crate needs no CSV dependency.
//!
//! It follows what Python's `csv` module (which produced most of these files) accepts:
//! fields separated by one delimiter byte; a field that starts with `"` is quoted and may hold
//! delimiters, newlines and doubled quotes (`""` → `"`); a quote inside an unquoted field is
//! an ordinary character. Records end at `\n` or `\r\n`. Blank lines are skipped. Unlike
//! Python it rejects text after a closing quote (`"abc"x`), which always means a broken file:
//! a row error when it stays on one line, fatal when the quoted part ran over line ends (an
//! unbalanced quote, after which the records that follow would be out of phase).

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
    /// field, or a quoted field that spans lines and then breaks (an unbalanced quote).
    Fatal { line: usize, detail: String },
}

pub(crate) struct CsvReader<'a> {
    text: &'a str,
    pos: usize,
    /// 1-based line of `pos`.
    line: usize,
    delim: u8,
    done: bool,
}

impl<'a> CsvReader<'a> {
    pub(crate) fn new(text: &'a str, delim: u8) -> Self {
        CsvReader {
            text,
            pos: 0,
            line: 1,
            delim,
            done: false,
        }
    }

    fn skip_rest_of_line(&mut self) {
        let b = self.text.as_bytes();
        while self.pos < b.len() {
            let c = b[self.pos];
            self.pos += 1;
            if c == b'\n' {
                self.line += 1;
                return;
            }
        }
    }

    fn next_record(&mut self) -> Option<Result<Record, CsvError>> {
        // Only ASCII bytes are compared, and those never occur inside a multi-byte UTF-8
        // sequence, so every slice below falls on a char boundary.
        let b = self.text.as_bytes();
        loop {
            match b.get(self.pos) {
                None => return None,
                Some(b'\n') => {
                    self.pos += 1;
                    self.line += 1;
                }
                Some(b'\r') if b.get(self.pos + 1) == Some(&b'\n') => {
                    self.pos += 2;
                    self.line += 1;
                }
                Some(_) => break,
            }
        }
        let start_line = self.line;
        let mut fields = Vec::new();
        loop {
            if b.get(self.pos) == Some(&b'"') {
                let quote_line = self.line;
                let mut field = String::new();
                let mut i = self.pos + 1;
                let mut seg = i;
                loop {
                    match b.get(i) {
                        None => {
                            self.done = true;
                            return Some(Err(CsvError::Fatal {
                                line: start_line,
                                detail: format!(
                                    "unterminated quoted field {} (its opening quote is on \
                                     line {quote_line}; a closing `\"` is missing)",
                                    fields.len() + 1
                                ),
                            }));
                        }
                        Some(b'"') if b.get(i + 1) == Some(&b'"') => {
                            field.push_str(&self.text[seg..=i]);
                            i += 2;
                            seg = i;
                        }
                        Some(b'"') => {
                            field.push_str(&self.text[seg..i]);
                            i += 1;
                            break;
                        }
                        Some(b'\n') => {
                            self.line += 1;
                            i += 1;
                        }
                        Some(_) => i += 1,
                    }
                }
                self.pos = i;
                fields.push(field);
                match b.get(self.pos) {
                    Some(&c) if c == self.delim => self.pos += 1,
                    None => break,
                    Some(b'\n') => {
                        self.pos += 1;
                        self.line += 1;
                        break;
                    }
                    Some(b'\r') if matches!(b.get(self.pos + 1), None | Some(b'\n')) => {
                        self.pos += 1;
                        if self.pos < b.len() {
                            self.pos += 1;
                            self.line += 1;
                        }
                        break;
                    }
                    Some(_) if self.line != quote_line => {
                        // A quoted field ran over a line end and then broke: almost surely an
                        // unbalanced quote on `quote_line`, after which every later record
                        // would be split out of phase. Stop rather than guess.
                        self.done = true;
                        return Some(Err(CsvError::Fatal {
                            line: start_line,
                            detail: format!(
                                "field {} opens a quote on line {quote_line} that closes on \
                                 line {} followed by more text: probably an unbalanced `\"`",
                                fields.len(),
                                self.line
                            ),
                        }));
                    }
                    Some(_) => {
                        let n = fields.len();
                        self.skip_rest_of_line();
                        return Some(Err(CsvError::Row {
                            line: start_line,
                            detail: format!(
                                "unexpected text after the closing quote of field {n} \
                                 (a quote inside a quoted field must be doubled: `\"\"`)"
                            ),
                        }));
                    }
                }
            } else {
                let start = self.pos;
                let mut i = start;
                while i < b.len() && b[i] != self.delim && b[i] != b'\n' {
                    i += 1;
                }
                let mut end = i;
                let at_line_end = i == b.len() || b[i] == b'\n';
                if at_line_end && end > start && b[end - 1] == b'\r' {
                    end -= 1;
                }
                fields.push(self.text[start..end].to_string());
                self.pos = i;
                match b.get(i) {
                    Some(b'\n') => {
                        self.pos += 1;
                        self.line += 1;
                        break;
                    }
                    Some(_) => self.pos += 1, // the delimiter
                    None => break,
                }
            }
        }
        Some(Ok(Record {
            line: start_line,
            fields,
        }))
    }
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
}
