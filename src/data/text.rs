//! Raw text for perplexity, and the exact WikiText-2 string the reference measures.
//!
//! The reference computes `txt = "".join(s for s in wikitext2_test if s != '')` over the rows
//! of HF `wikitext-2-raw-v1` test. Each HF row is one line of `wiki.test.raw` *including* its
//! `\n`, except that the file's blank lines (stored as a single space, `" \n"`) are empty rows
//! `""`. So dropping the empty rows and joining with `""` equals the file with every line that
//! is exactly `" "` removed, newlines of the other lines kept: 2,891 lines, 1,287,656 bytes
//! for `wiki.test.raw` (4,358 lines, 1,290,590 bytes). Only the first `max_len` tokens of it
//! are ever scored.

use std::path::Path;

use super::read_utf8;
use crate::core::error::{Error, Result};

/// Reads a whole text file: UTF-8 required (error names the byte offset), byte-order mark
/// dropped, empty file rejected.
pub fn read_text(path: &Path) -> Result<String> {
    let text = read_utf8(path)?;
    if text.is_empty() {
        return Err(Error::format(path, "empty text file"));
    }
    Ok(text)
}

/// Splits a WikiText `.raw` file into the rows HF `wikitext` yields: every line keeps its
/// `\n`, and a line that is exactly `" "` (the raw file's blank line) becomes `""`. Expects LF
/// line endings (see [`wikitext_reference_join`] for CRLF).
pub fn wikitext_hf_rows(raw: &str) -> Vec<&str> {
    raw.split_inclusive('\n')
        .map(|l| if l == " \n" || l == " " { "" } else { l })
        .collect()
}

/// The reference rule `"".join(s for s in rows if s != '')`.
pub fn reference_join<'a>(rows: impl IntoIterator<Item = &'a str>) -> String {
    rows.into_iter().filter(|s| !s.is_empty()).collect()
}

/// The string the reference scores for perplexity, from the content of a WikiText `.raw`
/// file: [`reference_join`] of [`wikitext_hf_rows`]. CRLF line endings are turned into LF
/// first (HF rows never contain `\r`).
pub fn wikitext_reference_join(raw: &str) -> String {
    if raw.contains("\r\n") {
        let lf = raw.replace("\r\n", "\n");
        reference_join(wikitext_hf_rows(&lf))
    } else {
        reference_join(wikitext_hf_rows(raw))
    }
}

/// Reads `wiki.test.raw` (or any WikiText `.raw` file) and applies
/// [`wikitext_reference_join`]. An empty result is an error.
pub fn read_wikitext_reference(path: &Path) -> Result<String> {
    let joined = wikitext_reference_join(&read_utf8(path)?);
    if joined.is_empty() {
        return Err(Error::format(
            path,
            "no text left after dropping blank WikiText rows",
        ));
    }
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_join() {
        let raw = " \n = Title = \n \n Body text . \n \n";
        assert_eq!(
            wikitext_hf_rows(raw),
            vec!["", " = Title = \n", "", " Body text . \n", ""]
        );
        assert_eq!(wikitext_reference_join(raw), " = Title = \n Body text . \n");
        // A line of two spaces is not blank in HF terms: it is kept.
        assert_eq!(wikitext_reference_join("a\n  \n \n"), "a\n  \n");
        assert_eq!(wikitext_reference_join(" \r\n x \r\n \r\n"), " x \n");
    }
}
