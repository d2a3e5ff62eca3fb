//! The app's state, rebuilt from the recorded run's events, shows the engine's numbers.

use curlora::app::state::{RECORDED_RUN, Session, parse_recording};
use curlora::train::Event;
use curlora::train::metrics::summarize;

#[test]
fn replaying_the_recording_rebuilds_the_engines_numbers() {
    let events = parse_recording(RECORDED_RUN).unwrap();
    let mut session = Session::default();
    for e in &events {
        session.apply(e);
    }
    assert_eq!(session.runs.len(), 2);
    for (k, run) in session.runs.iter().enumerate() {
        // Every eval event lands in the matrix, and the matrix gives the run_end metrics.
        let reported = events
            .iter()
            .find_map(|e| match e {
                Event::RunEnd { run, metrics } if *run == k => Some(*metrics),
                _ => None,
            })
            .unwrap();
        assert_eq!(run.metrics, Some(reported));
        let m = summarize(&run.accuracy);
        assert!((m.acc.unwrap() - reported.acc.unwrap()).abs() < 1e-12);
        assert_eq!(run.perplexity.len(), 4, "before + after each task");
        assert_eq!(run.task_starts.len(), 3);
        assert!(run.baselines.iter().all(|b| (b - 0.5).abs() < 1e-12));
        assert_eq!(run.losses.len(), run.steps);
    }
    assert_eq!(session.runs[0].label(), "lora-8");
    assert_eq!(session.runs[1].label(), "curlora-8");
    // CURLoRA's U snapshots are r×r = 64 values for each of its 8 modules; LoRA has norms only.
    assert_eq!(session.runs[1].u.len(), 8);
    assert!(session.runs[1].u.values().all(|t| t.latest.len() == 64));
    assert!(
        session.runs[0]
            .u
            .values()
            .all(|t| t.latest.is_empty() && !t.norms.is_empty())
    );
    assert_eq!(session.runs[1].selections.len(), 8);
}

#[test]
fn a_broken_recording_names_its_line() {
    let err =
        parse_recording("{\"event\":\"task_end\",\"run\":0,\"task\":0}\nnot json\n").unwrap_err();
    assert!(err.starts_with("line 2:"), "{err}");
}

/// Runs train side by side on separate threads, so run 1 may start before run 0.
#[test]
fn runs_starting_out_of_order_keep_their_own_identity() {
    use curlora::adapters::Method;
    let start = |run, method| Event::RunStart {
        run,
        method,
        rank: 8,
        alpha: 1.0,
        seed: 1,
        trainable_params: 0,
        device: "cpu".into(),
        tasks: vec!["a".into()],
    };
    let mut s = Session::default();
    s.apply(&start(1, Method::CurLora));
    s.apply(&start(0, Method::Lora));
    assert_eq!(s.runs[0].label(), "lora-8");
    assert_eq!(s.runs[1].label(), "curlora-8");
}

/// The recording carries each run's adapter and heads at every task boundary (what the Try-it
/// view loads), and they are the trained models: loaded onto the embedded base, each head
/// classifies its task's evaluation set with exactly the accuracy the recording reports.
#[test]
fn the_recordings_checkpoints_reproduce_its_accuracies() {
    use burn::tensor::Device;
    use curlora::experiment::Experiment;
    use curlora::model::store;
    use curlora::train::classify::probabilities;
    let events = parse_recording(RECORDED_RUN).unwrap();
    let mut session = Session::default();
    for e in &events {
        session.apply(e);
    }
    let dir = curlora::core::embedded::materialize().unwrap();
    let spec = curlora::experiment::default_experiment(&dir);
    let exp = Experiment::load(spec, &Device::flex()).unwrap();
    let hash = exp.base.weights_hash().to_string();
    for run in &session.runs {
        assert_eq!(run.checkpoints.len(), 3, "{}: one per task", run.label());
        for (k, bytes) in run.checkpoints.iter().enumerate() {
            let bytes = bytes.as_ref().expect("every boundary sent its checkpoint");
            let loaded = store::load_bytes(
                bytes,
                std::path::Path::new("checkpoint"),
                exp.base.clone(),
                &hash,
            )
            .unwrap();
            assert_eq!(loaded.meta.config.method, run.method);
            assert_eq!(
                loaded.heads.len(),
                k + 1,
                "heads of the tasks trained so far"
            );
            let info = loaded.meta.heads_info.as_ref().unwrap();
            for (j, (name, head)) in loaded.heads.iter().enumerate() {
                assert_eq!(name, &run.tasks[j]);
                let eval = &exp.tasks[j].eval;
                let p = curlora::core::runtime::block_on(probabilities(
                    &loaded.model,
                    head,
                    eval,
                    info.pooling,
                    100,
                ))
                .unwrap();
                let right = p
                    .iter()
                    .zip(eval)
                    .filter(|(row, e)| curlora::model::generate::argmax(row) == e.label)
                    .count();
                let acc = right as f64 / eval.len() as f64;
                let recorded = run.accuracy.get(k, j).unwrap();
                assert!(
                    (acc - recorded).abs() < 1e-12,
                    "{} after task {k}, head {name}: {acc} vs recorded {recorded}",
                    run.label()
                );
            }
        }
    }
}
