//! GLUE (MRPC, SST-2) and Sentiment140 readers on small good and malformed inputs: exact
//! counts, labels and texts, and errors that name the file and the right 1-based line.
//!
//! Fixtures are written to unique files in the system temp directory, except two committed
//! ones under `tests/fixtures/data/` (an MRPC TSV with its byte-order mark, and an all-quoted
//! Sentiment140 CSV; their labels are made up for the tests).

mod common;

use common::data::*;
use curlora::Error;
use curlora::data::{
    PairEncoding, Sentiment140Labels, read_mrpc, read_sentiment140, read_sst2, read_text,
};
use std::path::Path;

// ---------------------------------------------------------------- MRPC

#[test]
fn mrpc_fixture_with_bom() {
    let path = Path::new(FIXTURES).join("mrpc_small.tsv");
    let (ds, report) = read_mrpc(&path, &strict()).unwrap();
    assert_eq!(report.skipped, 0);
    assert_eq!(ds.name, "mrpc");
    assert_eq!(ds.source, path);
    assert_eq!(ds.len(), 3);
    assert_eq!(ds.num_classes, 2);
    assert_eq!(ds.label_names, vec!["not_equivalent", "equivalent"]);
    assert_eq!(
        ds.examples.iter().map(|e| e.label).collect::<Vec<_>>(),
        vec![1, 0, 1]
    );
    let e = &ds.examples[0];
    // Quotes are kept: GLUE TSVs are not quoted CSV.
    assert_eq!(
        e.text,
        "Amrozi accused his brother, whom he called \"the witness\", of deliberately distorting his evidence."
    );
    assert_eq!(
        e.text_b.as_deref(),
        Some(
            "Referring to him as only \"the witness\", Amrozi accused his brother of deliberately distorting his evidence."
        )
    );
    assert_eq!(
        e.input_text(&PairEncoding::Concat),
        format!("{}{}", e.text, e.text_b.as_deref().unwrap())
    );
    assert!(
        e.input_text(&PairEncoding::Concat)
            .contains("evidence.Referring")
    );
    assert!(
        e.input_text(&PairEncoding::Separator(" ".into()))
            .contains("evidence. Referring")
    );
    assert_eq!(ds.class_counts(), vec![1, 2]);
    assert!((ds.majority_baseline() - 2.0 / 3.0).abs() < 1e-12);
}

#[test]
fn mrpc_columns_found_by_header_and_crlf() {
    let path = temp_file(
        "reordered.tsv",
        "#1 String\t#2 String\tQuality\t#1 ID\t#2 ID\r\nA.\tB.\t1\t1\t2\r\nC \"x\"\tD\t0\t3\t4\r\n",
    );
    let (ds, _) = read_mrpc(&path, &strict()).unwrap();
    assert_eq!(ds.len(), 2);
    assert_eq!(ds.examples[0].text, "A.");
    assert_eq!(ds.examples[0].text_b.as_deref(), Some("B."));
    assert_eq!(ds.examples[0].label, 1);
    assert_eq!(ds.examples[1].text, "C \"x\"");
    assert_eq!(ds.examples[1].text_b.as_deref(), Some("D"));
    assert_eq!(ds.examples[1].label, 0);
}

#[test]
fn mrpc_wrong_field_count_names_line() {
    let path = temp_file(
        "mrpc-short.tsv",
        format!("{MRPC_HEADER}1\t1\t2\ta\tb\n0\t3\t4\tonly three\n1\t5\t6\tc\td\n"),
    );
    let err = read_mrpc(&path, &strict()).unwrap_err();
    assert_error(
        err,
        &path,
        3,
        &["expected 5 tab-separated fields", "found 4"],
    );
}

#[test]
fn mrpc_unknown_label_names_line_and_value() {
    let path = temp_file(
        "mrpc-label.tsv",
        format!("{MRPC_HEADER}1\t1\t2\ta\tb\n0\t3\t4\tc\td\n2\t5\t6\te\tf\n"),
    );
    let err = read_mrpc(&path, &strict()).unwrap_err();
    assert_error(err, &path, 4, &["unknown label `2`", "0, 1"]);
}

#[test]
fn mrpc_skip_bad_rows_counts() {
    let path = temp_file(
        "mrpc-skip.tsv",
        format!("{MRPC_HEADER}1\t1\t2\ta\tb\nx\t3\t4\tc\td\n0\t3\t4\n0\t5\t6\te\tf\n"),
    );
    let (ds, report) = read_mrpc(&path, &skip()).unwrap();
    assert_eq!(ds.len(), 2);
    assert_eq!(report.skipped, 2);
    let first = report.first_error.unwrap();
    assert!(
        first.contains("line 3:") && first.contains("`x`"),
        "{first}"
    );
    assert!(first.contains(&file_name(&path)), "{first}");
    assert_eq!(ds.examples[1].text, "e");
}

#[test]
fn mrpc_test_split_and_headerless_rejected() {
    let test_split = temp_file(
        "mrpc-test.tsv",
        "index\t#1 ID\t#2 ID\t#1 String\t#2 String\n0\t1\t2\ta\tb\n",
    );
    let err = read_mrpc(&test_split, &strict()).unwrap_err();
    assert_error(err, &test_split, 1, &["`Quality`", "no labels"]);

    let headerless = temp_file("mrpc-nohead.tsv", "1\t1\t2\ta\tb\n");
    let err = read_mrpc(&headerless, &strict()).unwrap_err();
    assert_error(err, &headerless, 1, &["header"]);
}

#[test]
fn mrpc_empty_text_is_bad_row() {
    let path = temp_file("mrpc-empty.tsv", format!("{MRPC_HEADER}1\t1\t2\ta\t\n"));
    let err = read_mrpc(&path, &strict()).unwrap_err();
    assert_error(err, &path, 2, &["empty text", "#2 String"]);
}

// ---------------------------------------------------------------- SST-2

#[test]
fn sst2_keeps_trailing_space_and_ignores_blank_lines() {
    let path = temp_file(
        "sst2.tsv",
        "sentence\tlabel\nit 's a charming journey . \t1\nbleak \"and\" desperate \t0\n\n",
    );
    let (ds, report) = read_sst2(&path, &strict()).unwrap();
    assert_eq!(report.skipped, 0);
    assert_eq!(ds.name, "sst2");
    assert_eq!(ds.len(), 2);
    assert_eq!(ds.examples[0].text, "it 's a charming journey . ");
    assert_eq!(ds.examples[0].text_b, None);
    assert_eq!(ds.examples[0].label, 1);
    assert_eq!(ds.examples[1].text, "bleak \"and\" desperate ");
    assert_eq!(ds.examples[1].label, 0);
    assert_eq!(ds.label_names, vec!["negative", "positive"]);
    assert_eq!(ds.clone().take(1).len(), 1);
    assert_eq!(ds.take(10).len(), 2);
}

#[test]
fn sst2_errors() {
    let bad_label = temp_file("sst2-label.tsv", "sentence\tlabel\ngood\t1\nbad\tpos\n");
    let err = read_sst2(&bad_label, &strict()).unwrap_err();
    assert_error(err, &bad_label, 3, &["unknown label `pos`"]);

    let extra_tab = temp_file("sst2-tab.tsv", "sentence\tlabel\na\tb\t1\n");
    let err = read_sst2(&extra_tab, &strict()).unwrap_err();
    assert_error(
        err,
        &extra_tab,
        2,
        &["expected 2 tab-separated fields", "found 3"],
    );

    let header_only = temp_file("sst2-header.tsv", "sentence\tlabel\n");
    let msg = read_sst2(&header_only, &strict()).unwrap_err().to_string();
    assert!(
        msg.contains(&file_name(&header_only)) && msg.contains("no examples"),
        "{msg}"
    );

    let empty = temp_file("sst2-empty.tsv", "");
    let msg = read_sst2(&empty, &strict()).unwrap_err().to_string();
    assert!(
        msg.contains(&file_name(&empty)) && msg.contains("empty file"),
        "{msg}"
    );

    let all_bad = temp_file("sst2-allbad.tsv", "sentence\tlabel\na\t7\nb\t8\n");
    let msg = read_sst2(&all_bad, &skip()).unwrap_err().to_string();
    assert!(
        msg.contains("all 2 data rows were malformed") && msg.contains("line 2:"),
        "{msg}"
    );
}

#[test]
fn missing_file_is_io_error() {
    let path = std::env::temp_dir().join("curlora-data-parsers-does-not-exist.tsv");
    let err = read_sst2(&path, &strict()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(
        err.to_string()
            .contains("curlora-data-parsers-does-not-exist.tsv")
    );
}

#[test]
fn non_utf8_names_file_and_byte_offset() {
    // "sentence\tlabel\n" is 15 bytes, "caf" 3 more: the Latin-1 é is at offset 18.
    let path = temp_file("latin1.tsv", b"sentence\tlabel\ncaf\xe9\t1\n");
    let msg = read_sst2(&path, &strict()).unwrap_err().to_string();
    assert!(msg.contains(&file_name(&path)), "{msg}");
    assert!(msg.contains("not valid UTF-8 at byte offset 18"), "{msg}");
    assert!(msg.contains("line 2"), "{msg}");
    // Not skippable: the whole file is undecodable.
    assert!(read_sst2(&path, &skip()).is_err());
    assert!(read_text(&path).is_err());
}

// ---------------------------------------------------------------- Sentiment140

#[test]
fn sentiment140_all_quoted_fixture() {
    let path = Path::new(FIXTURES).join("sentiment140_small.csv");
    let (reference, report) =
        read_sentiment140(&path, Sentiment140Labels::Reference, &strict()).unwrap();
    assert_eq!(report.skipped, 0);
    assert_eq!(reference.name, "sentiment140");
    assert_eq!(reference.len(), 3);
    assert_eq!(reference.num_classes, 3);
    assert_eq!(reference.label_names.len(), 3);
    // polarity 4, 0, 2 → polarity // 4 = 1, 0, 0.
    assert_eq!(
        reference
            .examples
            .iter()
            .map(|e| e.label)
            .collect::<Vec<_>>(),
        vec![1, 0, 0]
    );
    assert_eq!(reference.class_counts(), vec![2, 1, 0]);
    assert_eq!(
        reference.examples[0].text,
        "@stellargirl I loooooooovvvvvveee my Kindle2. Not that the DX is cool, but the 2 is fantastic in its own right."
    );
    assert_eq!(
        reference.examples[2].text,
        "Reading about the new kindle, \"DX\" edition, today."
    );

    let (three, _) = read_sentiment140(&path, Sentiment140Labels::ThreeClass, &strict()).unwrap();
    assert_eq!(
        three.examples.iter().map(|e| e.label).collect::<Vec<_>>(),
        vec![2, 0, 1]
    );
    assert_eq!(three.label_names, vec!["negative", "neutral", "positive"]);
}

#[test]
fn sentiment140_label_maps() {
    use Sentiment140Labels::*;
    assert_eq!(Reference.class_of(0), Some(0));
    assert_eq!(Reference.class_of(2), Some(0));
    assert_eq!(Reference.class_of(4), Some(1));
    assert_eq!(ThreeClass.class_of(0), Some(0));
    assert_eq!(ThreeClass.class_of(2), Some(1));
    assert_eq!(ThreeClass.class_of(4), Some(2));
    for bad in [1, 3, 5] {
        assert_eq!(Reference.class_of(bad), None);
        assert_eq!(ThreeClass.class_of(bad), None);
    }
    assert_eq!(Reference.num_classes(), 3);
    assert_eq!(ThreeClass.num_classes(), 3);
}

#[test]
fn sentiment140_header_minimal_quoting() {
    let path = temp_file(
        "s140-header.csv",
        "target,ids,date,flag,user,text\n\
         0,1,Mon Apr 06 23:11:14 PDT 2009,NO_QUERY,a,@x I hope you're ok!!! \n\
         4,2,Mon Apr 06 23:11:15 PDT 2009,NO_QUERY,b,\"cool , i have \"\"no\"\" apps\"\n\
         2,3,Mon Apr 06 23:11:16 PDT 2009,NO_QUERY,c,\"two\nlines\"\n\
         0,4,Mon Apr 06 23:11:17 PDT 2009,NO_QUERY,d,after\n",
    );
    let (ds, _) = read_sentiment140(&path, Sentiment140Labels::ThreeClass, &strict()).unwrap();
    assert_eq!(ds.len(), 4);
    assert_eq!(ds.examples[0].text, "@x I hope you're ok!!! ");
    assert_eq!(ds.examples[1].text, "cool , i have \"no\" apps");
    assert_eq!(ds.examples[2].text, "two\nlines");
    assert_eq!(
        ds.examples.iter().map(|e| e.label).collect::<Vec<_>>(),
        vec![0, 2, 1, 0]
    );
}

#[test]
fn sentiment140_unknown_polarity_names_line() {
    // Line 4 is the record after one that spans lines 2–3.
    let path = temp_file(
        "s140-polarity.csv",
        "\"0\",\"1\",\"d\",\"q\",\"u\",\"multi\nline\"\n\"3\",\"2\",\"d\",\"q\",\"u\",\"t\"\n",
    );
    let err = read_sentiment140(&path, Sentiment140Labels::Reference, &strict()).unwrap_err();
    assert_error(err, &path, 3, &["unknown polarity `3`", "0, 2 or 4"]);

    let path = temp_file(
        "s140-polarity2.csv",
        "\"0\",\"1\",\"d\",\"q\",\"u\",\"a\"\n\"4\",\"1\",\"d\",\"q\",\"u\",\"b\"\n\"neg\",\"2\",\"d\",\"q\",\"u\",\"t\"\n",
    );
    let err = read_sentiment140(&path, Sentiment140Labels::ThreeClass, &strict()).unwrap_err();
    assert_error(err, &path, 3, &["unknown polarity `neg`"]);
}

#[test]
fn sentiment140_field_count_and_quoting_errors() {
    let path = temp_file(
        "s140-fields.csv",
        "\"0\",\"1\",\"d\",\"q\",\"u\",\"a\"\n\"4\",\"1\",\"d\",\"u\",\"b\"\n",
    );
    let err = read_sentiment140(&path, Sentiment140Labels::Reference, &strict()).unwrap_err();
    assert_error(
        err,
        &path,
        2,
        &["expected 6 comma-separated fields", "found 5"],
    );

    let path = temp_file(
        "s140-quote.csv",
        "\"0\",\"1\",\"d\",\"q\",\"u\",\"a\"x\n\"4\",\"1\",\"d\",\"q\",\"u\",\"b\"\n",
    );
    let err = read_sentiment140(&path, Sentiment140Labels::Reference, &strict()).unwrap_err();
    assert_error(err, &path, 1, &["closing quote"]);
    let (ds, report) = read_sentiment140(&path, Sentiment140Labels::Reference, &skip()).unwrap();
    assert_eq!(ds.len(), 1);
    assert_eq!(ds.examples[0].text, "b");
    assert_eq!(report.skipped, 1);

    // An unbalanced quote puts every later record out of phase: an error even when skipping.
    let path = temp_file(
        "s140-unbalanced.csv",
        "\"0\",\"1\",\"d\",\"q\",\"u\",\"a\"\n\"4\",\"1\",\"d\",\"q\",\"u\",\"b\n\"0\",\"1\",\"d\",\"q\",\"u\",\"c\"\n",
    );
    let err = read_sentiment140(&path, Sentiment140Labels::Reference, &skip()).unwrap_err();
    assert_error(err, &path, 2, &["opens a quote on line 2", "unbalanced"]);
    // An unterminated quote swallows the rest of the file: also an error when skipping.
    let path = temp_file(
        "s140-unterminated.csv",
        "\"0\",\"1\",\"d\",\"q\",\"u\",\"a\"\n\"4\",\"1\",\"d\",\"q\",\"u\",\"b\n\n",
    );
    let err = read_sentiment140(&path, Sentiment140Labels::Reference, &skip()).unwrap_err();
    assert_error(err, &path, 2, &["unterminated quoted field 6"]);

    let header_only = temp_file("s140-header-only.csv", "target,ids,date,flag,user,text\n");
    let msg = read_sentiment140(&header_only, Sentiment140Labels::Reference, &strict())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("no examples"), "{msg}");

    let bad_header = temp_file("s140-bad-header.csv", "target,text\n0,hello\n");
    let err = read_sentiment140(&bad_header, Sentiment140Labels::Reference, &skip()).unwrap_err();
    assert_error(err, &bad_header, 1, &["header fields", "found 2"]);
}

#[test]
fn sentiment140_skip_bad_rows() {
    let path = temp_file(
        "s140-skip.csv",
        "0,1,d,q,u,ok one\n\
         9,1,d,q,u,bad polarity\n\
         4,1,d,q,u\n\
         4,1,d,q,u,\n\
         4,1,d,q,u,ok two\n",
    );
    let (ds, report) = read_sentiment140(&path, Sentiment140Labels::Reference, &skip()).unwrap();
    assert_eq!(ds.len(), 2);
    assert_eq!(report.skipped, 3);
    assert!(report.first_error.unwrap().contains("line 2:"));
    assert_eq!(
        ds.examples
            .iter()
            .map(|e| e.text.as_str())
            .collect::<Vec<_>>(),
        vec!["ok one", "ok two"]
    );
}
