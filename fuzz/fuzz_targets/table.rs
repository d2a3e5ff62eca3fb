//! Task datasets: the generic CSV/TSV/JSONL reader (with and without `--skip-bad-rows`), the
//! GLUE TSV readers and the Sentiment140 CSV reader, each through its file path. The first byte
//! picks the reader, the rest is the file.
#![no_main]

#[path = "common.rs"]
mod common;

use curlora::data::generic::{GenericSpec, TableFormat, read_generic};
use curlora::data::{LoadOptions, glue, sentiment140};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let options = LoadOptions {
        skip_bad_rows: pick & 0x80 != 0,
    };
    match pick & 0x7f {
        0..=2 => {
            let (format, ext) = match pick % 3 {
                0 => (TableFormat::Csv, "csv"),
                1 => (TableFormat::Tsv, "tsv"),
                _ => (TableFormat::Jsonl, "jsonl"),
            };
            let mut spec = GenericSpec::new(format, "text", "label");
            if pick & 0x40 != 0 {
                spec.text_b = Some("text_b".into());
            }
            let path = common::file(&format!("in.{ext}"), body);
            let _ = read_generic(&path, &spec, &options);
        }
        3 => {
            let _ = glue::read_mrpc(&common::file("train.tsv", body), &options);
        }
        4 => {
            let _ = glue::read_sst2(&common::file("train.tsv", body), &options);
        }
        _ => {
            let labels = sentiment140::Sentiment140Labels::default();
            let path = common::file("s140.csv", body);
            let _ = sentiment140::read_sentiment140(&path, labels, &options);
        }
    }
});
