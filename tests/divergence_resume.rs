//! A real divergence, then a resume. The learning rate is multiplied by 10³⁰ the moment the first
//! task ends (the live control the app's "× learning rate" slider uses), so the second task's
//! loss really becomes NaN or infinite and the engine stops that run, keeping its last good
//! state. The checkpoint written beside the run records the divergence; resuming without a lower
//! learning rate is refused with a message that says what to do, and with `lr_scale` it trains
//! on from the last good boundary to the end.

mod common;

use common::tiny_experiment;
use curlora::adapters::Method;
use curlora::experiment::Experiment;
use curlora::experiment::checkpoint::{Resumed, Writer};
use curlora::train::{Control, Event, EventSink, RunStatus};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Multiplies the learning rate by 10³⁰ when the first task ends (f32 overflows within a step).
struct BlowUp(Arc<Control>);

impl EventSink for BlowUp {
    fn emit(&self, event: Event) {
        if let Event::TaskEnd { task: 0, .. } = event {
            self.0.set_lr_scale(1e30);
        }
    }
}

#[test]
fn a_run_that_really_diverged_resumes_only_at_a_lower_learning_rate() {
    let out = std::env::temp_dir().join(format!("curlora-diverge-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let mut spec = tiny_experiment();
    spec.methods = vec![Method::Lora];
    let device = burn::tensor::Device::flex().autodiff();
    let mut exp = Experiment::load(spec.clone(), &device).unwrap();
    exp.checkpoint_base = true;
    let control = Arc::new(Control::default());
    let blow_up = BlowUp(control.clone());
    let cancel = Arc::new(AtomicBool::new(false));
    let writer = Writer::new(&out, &spec, &blow_up, cancel.clone(), None);
    let report = exp
        .run_side_by_side("CPU (Flex)", &writer, cancel, control, |_, _| Ok(None))
        .unwrap();
    drop(writer);
    let run = &report.runs[0];
    assert!(
        matches!(run.status, RunStatus::Diverged { .. }),
        "the run did not diverge: {:?}",
        run.status
    );
    let first_task = run.accuracy_matrix[0][0];
    assert!(first_task.is_some(), "the first task was not evaluated");

    // The checkpoint holds the last good boundary and the divergence.
    let resumed = Resumed::read(&out).unwrap();
    let state = &resumed.state.runs[0];
    assert_eq!(state.after_task, 0);
    assert!(!state.finished);
    let why = state.diverged.clone().expect("the divergence is recorded");
    assert!(why.contains("training stopped"), "{why}");

    // Without a lower rate: refused, with what to do.
    let refused = match resumed.resume_points(&out, None) {
        Ok(_) => panic!("a diverged run was resumed at the rate that broke it"),
        Err(e) => e.to_string(),
    };
    assert!(
        refused.contains("run 0 diverged after task 0") && refused.contains("--lr-scale"),
        "{refused}"
    );

    // At half the rate (the blow-up is gone: a fresh control), it trains on to the end.
    let mut again = Experiment::load(resumed.spec.clone(), &device).unwrap();
    again.resume = resumed.resume_points(&out, Some(0.5)).unwrap();
    let report = common::run_quietly(&again);
    let run = &report.runs[0];
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.status);
    assert_eq!(
        run.accuracy_matrix[0][0], first_task,
        "the first task was retrained"
    );
    let last = spec.tasks.len() - 1;
    assert!(run.accuracy_matrix[last].iter().all(Option::is_some));
}
