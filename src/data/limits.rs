//! How long a line of a dataset may be, and the reader that enforces it while it reads, so
//! that a hostile file (a 100 MB line) is refused in bounded memory.

use super::decode_utf8;
use crate::core::error::{Error, Result};
use std::path::Path;

/// The longest line a dataset file may have. Datasets are sentences or sentence pairs (a few
/// hundred bytes); a longer line is a wrong file (a minified JSON, a binary), and refusing it
/// up front keeps the reader from building one record the size of the file.
pub(crate) const MAX_LINE_BYTES: usize = 1 << 20;

/// The first line longer than [`MAX_LINE_BYTES`]: `(1-based line, its length in bytes)`.
pub(crate) fn overlong_line(text: &str) -> Option<(usize, usize)> {
    text.as_bytes()
        .split(|&b| b == b'\n')
        .enumerate()
        .find(|(_, l)| l.len() > MAX_LINE_BYTES)
        .map(|(i, l)| (i + 1, l.len()))
}

/// The error text for [`overlong_line`].
pub(crate) fn overlong_detail(len: usize) -> String {
    format!(
        "this line is {len} bytes long, over the limit of {} bytes (1 MiB) for one line of a \
         dataset: is this the right file?",
        MAX_LINE_BYTES
    )
}

/// A table dataset's text (CSV, TSV, JSONL), refused as soon as a line runs over
/// [`MAX_LINE_BYTES`]. A file on disk is read in chunks and the count kept as it goes, so a
/// 100 MB file with no line ends costs 1 MiB and a chunk before it is refused, not its size
/// twice over (once read, once as one record).
pub(crate) fn read_table_text(path: &Path) -> Result<String> {
    let bytes = match crate::core::embedded::embedded(path) {
        Some(bytes) => bytes.to_vec(),
        None => read_bounded_lines(path)?,
    };
    let text = decode_utf8(path, bytes)?;
    if let Some((line, len)) = overlong_line(&text) {
        let detail = format!("line {line}: {}", overlong_detail(len));
        return Err(Error::format(path, detail));
    }
    Ok(text)
}

fn read_bounded_lines(path: &Path) -> Result<Vec<u8>> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let (mut out, mut line, mut len) = (Vec::new(), 1usize, 0usize);
    loop {
        let chunk = reader.fill_buf().map_err(|e| Error::io(path, e))?;
        if chunk.is_empty() {
            return Ok(out);
        }
        for &b in chunk {
            if b == b'\n' {
                line += 1;
                len = 0;
            } else {
                len += 1;
            }
            if len > MAX_LINE_BYTES {
                let detail = format!(
                    "line {line}: longer than the limit of {} bytes (1 MiB) for one line of a \
                     dataset: is this the right file?",
                    MAX_LINE_BYTES
                );
                return Err(Error::format(path, detail));
            }
        }
        out.extend_from_slice(chunk);
        let n = chunk.len();
        reader.consume(n);
    }
}
