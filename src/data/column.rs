//! One named column of a CSV or TSV file with a header row: the texts `curlora classify --file`
//! reads.

use super::csv::{CsvError, CsvReader};
use crate::core::error::{Error, Result};
use std::path::Path;

/// The values of `column` in every row of `path` (tab-separated for `.tsv`, else commas), with
/// the 1-based line each starts on. A missing column is an error naming the columns found.
pub fn read_column(path: &Path, column: &str) -> Result<Vec<(usize, String)>> {
    let text = super::read_table_text(path)?;
    let delim = if path.extension().and_then(|e| e.to_str()) == Some("tsv") {
        b'\t'
    } else {
        b','
    };
    let mut records = CsvReader::new(&text, delim);
    let fail = |e: CsvError| match e {
        CsvError::Row { line, detail } | CsvError::Fatal { line, detail } => {
            Error::format(path, format!("line {line}: {detail}"))
        }
    };
    let header = match records.next() {
        None => return Err(Error::format(path, "is empty: expected a header row")),
        Some(r) => r.map_err(fail)?,
    };
    let Some(col) = header.fields.iter().position(|f| f.trim() == column) else {
        return Err(Error::format(
            path,
            format!(
                "line {}: no column `{column}`; the header has {}",
                header.line,
                header
                    .fields
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    let mut out = Vec::new();
    for r in records {
        let r = r.map_err(fail)?;
        let value = r.fields.get(col).ok_or_else(|| {
            Error::format(
                path,
                format!(
                    "line {}: {} fields, so no `{column}` (field {} of the header)",
                    r.line,
                    r.fields.len(),
                    col + 1
                ),
            )
        })?;
        out.push((r.line, value.clone()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_quoted_column_and_names_the_columns_when_missing() {
        let dir = std::env::temp_dir().join(format!("curlora-column-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.csv");
        std::fs::write(&p, "id,text\n1,\"a, b\"\n2,\"say \"\"hi\"\"\"\n").unwrap();
        let v = read_column(&p, "text").unwrap();
        assert_eq!(
            v,
            vec![(2, "a, b".to_string()), (3, "say \"hi\"".to_string())]
        );
        let e = read_column(&p, "sentence").unwrap_err().to_string();
        assert!(
            e.contains("no column `sentence`") && e.contains("`id`, `text`"),
            "{e}"
        );
        assert!(e.contains("t.csv"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
