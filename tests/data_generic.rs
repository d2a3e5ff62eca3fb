//! The generic CSV/TSV/JSONL reader and the raw-text readers on small good and malformed
//! inputs, with errors that name the file and the right 1-based line.

mod common;

use common::data::*;
use curlora::Error;
use curlora::data::generic::{Column, GenericSpec, TableFormat};
use curlora::data::text::reference_join;
use curlora::data::{
    PairEncoding, read_generic, read_text, read_wikitext_reference, wikitext_hf_rows,
};
use std::path::Path;

// ---------------------------------------------------------------- generic

#[test]
fn generic_csv_by_name_with_pair_and_first_appearance_labels() {
    let path = temp_file(
        "pairs.csv",
        "id,premise,hypothesis,gold\n\
         1,\"A man, walking\",A person moves,entailment\n\
         2,It rains,\"It is \"\"dry\"\"\",contradiction\n\
         3,Cats,Animals, entailment \n\
         4,Sun,Moon,neutral\n",
    );
    let mut spec = GenericSpec::new(TableFormat::Csv, "premise", "gold");
    spec.text_b = Some(Column::from("hypothesis"));
    let (ds, report) = read_generic(&path, &spec, &strict()).unwrap();
    assert_eq!(report.skipped, 0);
    assert_eq!(ds.name, file_name(&path).trim_end_matches(".csv"));
    assert_eq!(ds.len(), 4);
    assert_eq!(ds.num_classes, 3);
    assert_eq!(
        ds.label_names,
        vec!["entailment", "contradiction", "neutral"]
    );
    assert_eq!(
        ds.examples.iter().map(|e| e.label).collect::<Vec<_>>(),
        vec![0, 1, 0, 2]
    );
    assert_eq!(ds.examples[0].text, "A man, walking");
    assert_eq!(ds.examples[1].text_b.as_deref(), Some("It is \"dry\""));
    assert_eq!(
        ds.examples[0].input_text(&PairEncoding::Separator(" | ".into())),
        "A man, walking | A person moves"
    );
}

#[test]
fn generic_explicit_label_names_and_unknown_label() {
    let path = temp_file("labels.csv", "text,label\nx,pos\ny,neg\nz,neutral\n");
    let mut spec = GenericSpec::new(TableFormat::Csv, "text", "label");
    spec.label_names = Some(vec!["neg".into(), "pos".into()]);
    let err = read_generic(&path, &spec, &strict()).unwrap_err();
    assert_error(
        err,
        &path,
        4,
        &["unknown label `neutral`", "expected one of: neg, pos"],
    );

    let (ds, report) = read_generic(&path, &spec, &skip()).unwrap();
    assert_eq!(report.skipped, 1);
    assert_eq!(ds.num_classes, 2);
    assert_eq!(ds.label_names, vec!["neg", "pos"]);
    assert_eq!(
        ds.examples.iter().map(|e| e.label).collect::<Vec<_>>(),
        vec![1, 0]
    );
    // Fixed names define the head even for classes that never occur.
    spec.label_names = Some(vec![
        "neg".into(),
        "pos".into(),
        "neutral".into(),
        "other".into(),
    ]);
    let (ds, _) = read_generic(&path, &spec, &strict()).unwrap();
    assert_eq!(ds.num_classes, 4);
    assert_eq!(ds.class_counts(), vec![1, 1, 1, 0]);
}

#[test]
fn generic_headerless_tsv_by_index() {
    let path = temp_file(
        "plain.tsv",
        "1\tfirst \"quoted\" text\n0\tsecond\n1\tthird\tEXTRA\n",
    );
    let mut spec = GenericSpec::new(TableFormat::Tsv, 1usize, 0usize);
    spec.has_header = false;
    let err = read_generic(&path, &spec, &strict()).unwrap_err();
    assert_error(
        err,
        &path,
        3,
        &["expected 2 tab-separated fields (as in line 1)", "found 3"],
    );
    let (ds, report) = read_generic(&path, &spec, &skip()).unwrap();
    assert_eq!(report.skipped, 1);
    assert_eq!(ds.len(), 2);
    assert_eq!(ds.examples[0].text, "first \"quoted\" text");
    assert_eq!(ds.label_names, vec!["1", "0"]);
    assert_eq!(ds.examples[1].label, 1);
}

#[test]
fn generic_header_errors() {
    let path = temp_file("hdr.csv", "sentence,label\na,1\n");
    let spec = GenericSpec::new(TableFormat::Csv, "text", "label");
    let err = read_generic(&path, &spec, &strict()).unwrap_err();
    assert_error(err, &path, 1, &["no column `text`", "sentence, label"]);

    let spec = GenericSpec::new(TableFormat::Csv, 5usize, "label");
    let err = read_generic(&path, &spec, &strict()).unwrap_err();
    assert_error(
        err,
        &path,
        1,
        &["column index 5 is out of range", "2 comma-separated"],
    );

    let short = temp_file("hdr-short.csv", "text,label\na,1\nb\n");
    let spec = GenericSpec::new(TableFormat::Csv, "text", "label");
    let err = read_generic(&short, &spec, &strict()).unwrap_err();
    assert_error(
        err,
        &short,
        3,
        &[
            "expected 2 comma-separated fields (as in the header)",
            "found 1",
        ],
    );

    let empty_label = temp_file("hdr-empty-label.csv", "text,label\na,\n");
    let err = read_generic(&empty_label, &spec, &strict()).unwrap_err();
    assert_error(err, &empty_label, 2, &["empty label"]);
}

#[test]
fn generic_spec_validation() {
    let path = temp_file("spec.csv", "a,1\n");
    let mut spec = GenericSpec::new(TableFormat::Csv, "text", "label");
    spec.has_header = false;
    let err = read_generic(&path, &spec, &strict()).unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
    assert!(err.to_string().contains("no header"), "{err}");

    let spec = GenericSpec::new(TableFormat::Jsonl, 0usize, "label");
    let err = read_generic(&path, &spec, &strict()).unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");

    let mut spec = GenericSpec::new(TableFormat::Csv, "text", "label");
    spec.label_names = Some(vec!["a".into(), "a".into()]);
    assert!(matches!(
        read_generic(&path, &spec, &strict()),
        Err(Error::Config(_))
    ));
    spec.label_names = Some(vec![]);
    assert!(matches!(
        read_generic(&path, &spec, &strict()),
        Err(Error::Config(_))
    ));
}

#[test]
fn generic_jsonl() {
    let path = temp_file(
        "rows.jsonl",
        "{\"text\": \"hello, \\\"world\\\"\", \"label\": 1}\n\
         \n\
         {\"text\": \"bye\", \"label\": 0, \"extra\": [1, 2]}\n\
         {\"text\": \"again\", \"label\": 1}\r\n",
    );
    let spec = GenericSpec::new(TableFormat::Jsonl, "text", "label");
    let (ds, report) = read_generic(&path, &spec, &strict()).unwrap();
    assert_eq!(report.skipped, 0);
    assert_eq!(ds.len(), 3);
    assert_eq!(ds.examples[0].text, "hello, \"world\"");
    assert_eq!(ds.label_names, vec!["1", "0"]);
    assert_eq!(
        ds.examples.iter().map(|e| e.label).collect::<Vec<_>>(),
        vec![0, 1, 0]
    );

    // Numbers are matched by their JSON spelling against fixed names.
    let mut fixed = spec.clone();
    fixed.label_names = Some(vec!["0".into(), "1".into()]);
    let (ds, _) = read_generic(&path, &fixed, &strict()).unwrap();
    assert_eq!(
        ds.examples.iter().map(|e| e.label).collect::<Vec<_>>(),
        vec![1, 0, 1]
    );
}

#[test]
fn generic_jsonl_errors() {
    let spec = GenericSpec::new(TableFormat::Jsonl, "text", "label");
    let cases: [(&str, usize, &str); 5] = [
        (
            "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\"\n",
            2,
            "invalid JSON",
        ),
        (
            "{\"text\": \"a\", \"label\": \"x\"}\n\n[1, 2]\n",
            3,
            "expected a JSON object",
        ),
        ("{\"text\": \"a\"}\n", 1, "missing key `label`"),
        ("{\"text\": 5, \"label\": \"x\"}\n", 1, "must be a string"),
        (
            "{\"text\": \"a\", \"label\": null}\n",
            1,
            "string, number or boolean",
        ),
    ];
    for (i, (content, line, needle)) in cases.iter().enumerate() {
        let path = temp_file(&format!("bad{i}.jsonl"), content);
        let err = read_generic(&path, &spec, &strict()).unwrap_err();
        assert_error(err, &path, *line, &[needle]);
    }

    let path = temp_file(
        "skip.jsonl",
        "{\"text\": \"a\", \"label\": \"x\"}\nnot json\n{\"text\": \"\", \"label\": \"y\"}\n{\"text\": \"c\", \"label\": \"z\"}\n",
    );
    let (ds, report) = read_generic(&path, &spec, &skip()).unwrap();
    assert_eq!(report.skipped, 2);
    assert_eq!(ds.len(), 2);
    // The skipped row's label `y` did not claim a class id.
    assert_eq!(ds.label_names, vec!["x", "z"]);
}

#[test]
fn table_format_from_extension() {
    assert_eq!(
        TableFormat::from_path(Path::new("a/b.CSV")),
        Some(TableFormat::Csv)
    );
    assert_eq!(
        TableFormat::from_path(Path::new("b.tsv")),
        Some(TableFormat::Tsv)
    );
    assert_eq!(
        TableFormat::from_path(Path::new("b.jsonl")),
        Some(TableFormat::Jsonl)
    );
    assert_eq!(TableFormat::from_path(Path::new("b.txt")), None);
    assert_eq!(TableFormat::from_path(Path::new("b")), None);
}

// ---------------------------------------------------------------- text

#[test]
fn raw_text_and_wikitext_join() {
    let raw = " \n = Title = \n \n Body , text . \n \n  \n";
    let path = temp_file("wiki.raw", raw);
    assert_eq!(read_text(&path).unwrap(), raw);
    let joined = read_wikitext_reference(&path).unwrap();
    // Lines exactly " " are dropped; the two-space line is a real (non-empty) row.
    assert_eq!(joined, " = Title = \n Body , text . \n  \n");
    assert_eq!(joined, reference_join(wikitext_hf_rows(raw)));

    let bom = temp_file("bom.txt", "\u{feff}hello\n");
    assert_eq!(read_text(&bom).unwrap(), "hello\n");

    let empty = temp_file("empty.txt", "");
    let msg = read_text(&empty).unwrap_err().to_string();
    assert!(
        msg.contains(&file_name(&empty)) && msg.contains("empty"),
        "{msg}"
    );
    let blanks = temp_file("blanks.raw", " \n \n");
    assert!(read_wikitext_reference(&blanks).is_err());
}
