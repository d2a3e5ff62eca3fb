//! Checks the readers against the collected real datasets in `../shared/data` (counts and label
//! balances from `../shared/data/README.md` and the reference notes). Skipped, with a message,
//! when that directory is absent, so the core suite passes without it.

use std::path::{Path, PathBuf};

use curlora::data::{
    Dataset, LoadOptions, LoadReport, PairEncoding, Sentiment140Labels, read_mrpc,
    read_sentiment140, read_sst2, read_wikitext_reference,
};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data");

fn data_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(DATA);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: real-data checks need {DATA} (the collected datasets); it is missing here"
        );
        None
    }
}

fn strict(
    read: impl Fn(&Path, &LoadOptions) -> curlora::Result<(Dataset, LoadReport)>,
    path: &Path,
) -> Dataset {
    let (ds, report) = read(path, &LoadOptions::strict()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report, LoadReport::default());
    ds
}

#[test]
fn mrpc_train_and_dev() {
    let Some(dir) = data_dir() else { return };
    let train = strict(read_mrpc, &dir.join("mrpc/train.tsv"));
    assert_eq!(train.len(), 3668);
    assert_eq!(train.num_classes, 2);
    let first = &train.examples[0];
    assert_eq!(first.label, 1);
    assert_eq!(
        first.text,
        "Amrozi accused his brother, whom he called \"the witness\", of deliberately distorting his evidence."
    );
    assert_eq!(
        first.text_b.as_deref(),
        Some(
            "Referring to him as only \"the witness\", Amrozi accused his brother of deliberately distorting his evidence."
        )
    );
    // Reference pair encoding: s1 + s2, nothing in between.
    assert!(
        first
            .input_text(&PairEncoding::Concat)
            .contains("evidence.Referring")
    );

    let dev = strict(read_mrpc, &dir.join("mrpc/dev.tsv"));
    assert_eq!(dev.len(), 408);
    assert_eq!(dev.class_counts(), vec![129, 279]);
    assert!((dev.majority_baseline() - 279.0 / 408.0).abs() < 1e-12);
    assert_eq!(format!("{:.4}", dev.majority_baseline()), "0.6838");
}

#[test]
fn mrpc_test_split_has_no_labels() {
    let Some(dir) = data_dir() else { return };
    let err = read_mrpc(&dir.join("mrpc/test.tsv"), &LoadOptions::strict())
        .unwrap_err()
        .to_string();
    assert!(err.contains("test.tsv") && err.contains("Quality"), "{err}");
}

#[test]
fn sst2_train_and_dev() {
    let Some(dir) = data_dir() else { return };
    let dev = strict(read_sst2, &dir.join("sst2/dev.tsv"));
    assert_eq!(dev.len(), 872);
    assert_eq!(dev.class_counts(), vec![428, 444]);
    // The trailing space before the tab is part of the sentence, as in HF.
    assert_eq!(
        dev.examples[0].text,
        "it 's a charming and often affecting journey . "
    );
    assert_eq!(dev.examples[0].label, 1);

    let train = strict(read_sst2, &dir.join("sst2/train.tsv"));
    assert_eq!(train.len(), 67_349);
    assert_eq!(train.take(5000).len(), 5000);
}

#[test]
fn sentiment140_testdata() {
    let Some(dir) = data_dir() else { return };
    let path = dir.join("sentiment140/testdata/testdata.manual.2009.06.14.csv");
    let (three, report) = read_sentiment140(
        &path,
        Sentiment140Labels::ThreeClass,
        &LoadOptions::strict(),
    )
    .unwrap();
    assert_eq!(report.skipped, 0);
    assert_eq!(three.len(), 498);
    // polarity 0 → 0, 2 → 1, 4 → 2: 177 / 139 / 182.
    assert_eq!(three.class_counts(), vec![177, 139, 182]);
    assert!(
        three.examples[0]
            .text
            .starts_with("@stellargirl I loooooooovvvvvveee")
    );

    let (reference, _) =
        read_sentiment140(&path, Sentiment140Labels::Reference, &LoadOptions::strict()).unwrap();
    assert_eq!(reference.num_classes, 3);
    // polarity // 4: 0 and 2 → 0 (177 + 139), 4 → 1 (182), class 2 never a target.
    assert_eq!(reference.class_counts(), vec![316, 182, 0]);
}

#[test]
fn sentiment140_random20k_with_header() {
    let Some(dir) = data_dir() else { return };
    let path = dir.join("sentiment140/random20k/sentiment140_sample.csv");
    let (ds, report) = read_sentiment140(
        &path,
        Sentiment140Labels::ThreeClass,
        &LoadOptions::strict(),
    )
    .unwrap();
    assert_eq!(report.skipped, 0);
    assert_eq!(ds.len(), 20_000);
    assert_eq!(ds.class_counts(), vec![9_942, 0, 10_058]);
    assert_eq!(
        ds.examples[1].text,
        "@misstoriblack cool , i have no tweet apps  for my razr 2"
    );
}

#[test]
fn sentiment140_head10k_all_negative() {
    let Some(dir) = data_dir() else { return };
    let path = dir.join("sentiment140/head10k/sentiment140_sample.csv");
    let (ds, _) =
        read_sentiment140(&path, Sentiment140Labels::Reference, &LoadOptions::strict()).unwrap();
    assert_eq!(ds.len(), 10_000);
    assert_eq!(ds.class_counts(), vec![10_000, 0, 0]);
    // The reference evaluates on the first 1,024 rows: all label 0.
    let eval = ds.take(1024);
    assert_eq!(eval.majority_baseline(), 1.0);
}

#[test]
fn wikitext_reference_join_length() {
    let Some(dir) = data_dir() else { return };
    let txt = read_wikitext_reference(&dir.join("wikitext-2-raw/wiki.test.raw")).unwrap();
    assert_eq!(txt.len(), 1_287_656);
    assert_eq!(txt.lines().count(), 2_891);
    assert!(txt.starts_with(" = Robert Boulter = \n Robert Boulter is an English"));
}
