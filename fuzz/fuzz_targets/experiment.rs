//! Experiment and study files (TOML): parsed through the CLI's readers; an experiment that
//! parses must write back to TOML that parses to the same experiment, and a study that parses
//! expands into its grid of cells or says why not.
#![no_main]

#[path = "common.rs"]
mod common;

use curlora::experiment::spec::ExperimentSpec;
use curlora::experiment::study::StudySpec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    if pick % 2 == 0 {
        let Ok(spec) = ExperimentSpec::from_toml_file(&common::file("exp.toml", body)) else {
            return;
        };
        let again =
            ExperimentSpec::from_toml_file(&common::file("again.toml", spec.to_toml().as_bytes()))
                .expect("an experiment's own TOML must parse");
        assert_eq!(format!("{spec:?}"), format!("{again:?}"));
    } else {
        let file = common::file("study.toml", body);
        let Ok(study) = StudySpec::from_toml_file(&file) else {
            return;
        };
        if let Ok(base) = study.base(&file, None, None) {
            let _ = study.cells(&base);
        }
    }
});
