//! Continual-learning metrics on hand-computed matrices and edge cases.

use approx::assert_abs_diff_eq;
use curlora::train::metrics::{
    AccuracyMatrix, CONSTANT_PREDICTOR_THRESHOLD, acc, accuracy, bwt, constant_predictor,
    constant_predictor_at, forgetting, summarize,
};

const NAN: f64 = f64::NAN;

/// The 3-task matrix used below (rows: after training task i; columns: task j):
///
/// ```text
///            task 0  task 1  task 2
/// after 0     0.80     -       -
/// after 1     0.60    0.90     -
/// after 2     0.70    0.50    0.95
/// ```
fn three_tasks() -> AccuracyMatrix {
    AccuracyMatrix::from_rows(vec![
        vec![0.80, NAN, NAN],
        vec![0.60, 0.90, NAN],
        vec![0.70, 0.50, 0.95],
    ])
    .unwrap()
}

#[test]
fn hand_computed_3x3() {
    let r = three_tasks();
    // ACC = (0.70 + 0.50 + 0.95) / 3 = 2.15 / 3 = 0.716666…
    assert_abs_diff_eq!(acc(&r).unwrap(), 2.15 / 3.0, epsilon = 1e-12);
    // BWT = ((0.70 − 0.80) + (0.50 − 0.90)) / 2 = (−0.10 − 0.40) / 2 = −0.25
    assert_abs_diff_eq!(bwt(&r).unwrap(), -0.25, epsilon = 1e-12);
    // Forgetting:
    //   task 0: max(R[0][0], R[1][0]) − R[2][0] = max(0.80, 0.60) − 0.70 = 0.10
    //   task 1: max(R[1][1])          − R[2][1] = 0.90 − 0.50         = 0.40
    //   F = (0.10 + 0.40) / 2 = 0.25
    assert_abs_diff_eq!(forgetting(&r).unwrap(), 0.25, epsilon = 1e-12);

    let s = summarize(&r);
    assert_eq!(s.acc, acc(&r));
    assert_eq!(s.bwt, bwt(&r));
    assert_eq!(s.forgetting, forgetting(&r));
}

#[test]
fn forgetting_uses_the_best_earlier_accuracy_not_the_diagonal() {
    // Task 0 improves after task 1 (0.6 → 0.9) then drops to 0.7:
    //   BWT = ((0.7 − 0.6) + (0.8 − 0.8)) / 2 = 0.05   (looks like positive transfer)
    //   F   = ((max(0.6, 0.9) − 0.7) + (0.8 − 0.8)) / 2 = 0.2 / 2 = 0.1
    let r = AccuracyMatrix::from_rows(vec![
        vec![0.6, NAN, NAN],
        vec![0.9, 0.8, NAN],
        vec![0.7, 0.8, 0.5],
    ])
    .unwrap();
    assert_abs_diff_eq!(bwt(&r).unwrap(), 0.05, epsilon = 1e-12);
    assert_abs_diff_eq!(forgetting(&r).unwrap(), 0.1, epsilon = 1e-12);
    // ACC = (0.7 + 0.8 + 0.5) / 3 = 2/3
    assert_abs_diff_eq!(acc(&r).unwrap(), 2.0 / 3.0, epsilon = 1e-12);
}

#[test]
fn paper_gpt2_lora8_row() {
    // GPT-2 LoRA-8 notebook values (MRPC → SST-2 → Sentiment140):
    //   R = [[0.7917, -, -], [0.7647, 0.9369, -], [0.4877, 0.8979, 0.9229]]
    //   BWT = ((0.4877 − 0.7917) + (0.8979 − 0.9369)) / 2 = (−0.3040 − 0.0390) / 2 = −0.1715
    //   F   = ((max(0.7917, 0.7647) − 0.4877) + (0.9369 − 0.8979)) / 2 = (0.3040 + 0.0390) / 2
    //       = 0.1715
    let mut r = AccuracyMatrix::new(3);
    r.set(0, 0, 0.7917).unwrap();
    r.set(1, 0, 0.7647).unwrap();
    r.set(1, 1, 0.9369).unwrap();
    r.set(2, 0, 0.4877).unwrap();
    r.set(2, 1, 0.8979).unwrap();
    r.set(2, 2, 0.9229).unwrap();
    assert_abs_diff_eq!(bwt(&r).unwrap(), -0.1715, epsilon = 1e-12);
    assert_abs_diff_eq!(forgetting(&r).unwrap(), 0.1715, epsilon = 1e-12);
    assert_abs_diff_eq!(
        acc(&r).unwrap(),
        (0.4877 + 0.8979 + 0.9229) / 3.0,
        epsilon = 1e-12
    );
    assert_eq!(r.get(0, 1), None);
    assert_eq!(r.get(2, 1), Some(0.8979));
    assert_eq!(r.get(3, 0), None);
}

#[test]
fn single_and_zero_tasks() {
    let one = AccuracyMatrix::from_rows(vec![vec![0.9]]).unwrap();
    assert_eq!(acc(&one), Some(0.9));
    // Undefined with one task: None, not 0.
    assert_eq!(bwt(&one), None);
    assert_eq!(forgetting(&one), None);

    let zero = AccuracyMatrix::new(0);
    assert_eq!(zero.num_tasks(), 0);
    assert_eq!(acc(&zero), None);
    assert_eq!(bwt(&zero), None);
    assert_eq!(forgetting(&zero), None);
}

#[test]
fn missing_entries_give_none() {
    let mut r = AccuracyMatrix::new(2);
    assert_eq!(acc(&r), None);
    r.set(0, 0, 0.8).unwrap();
    r.set(1, 1, 0.9).unwrap();
    // R[1][0] not evaluated yet.
    assert_eq!(acc(&r), None);
    assert_eq!(bwt(&r), None);
    assert_eq!(forgetting(&r), None);
    r.set(1, 0, 0.8).unwrap();
    assert_eq!(bwt(&r), Some(0.0));
    assert_eq!(forgetting(&r), Some(0.0));
    assert!(r.set(2, 0, 0.5).is_err());
    assert!(r.set(0, 2, 0.5).is_err());
}

#[test]
fn matrix_shape_and_nan_handling() {
    assert!(AccuracyMatrix::from_rows(vec![vec![0.1, 0.2], vec![0.3]]).is_err());
    assert!(AccuracyMatrix::from_rows(vec![vec![0.1, 0.2]]).is_err());
    let r = three_tasks();
    assert_eq!(r.num_tasks(), 3);
    assert_eq!(r.rows()[0], vec![Some(0.80), None, None]);
    // Serializes with nulls for untrained cells.
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.contains("null"), "{json}");
    let back: AccuracyMatrix = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
}

#[test]
fn accuracy_function() {
    assert_eq!(accuracy(&[1, 0, 1, 1], &[1, 1, 1, 0]).unwrap(), 0.5);
    assert_eq!(accuracy(&[2], &[2]).unwrap(), 1.0);
    assert!(accuracy(&[1, 0], &[1]).is_err());
    assert!(accuracy(&[], &[]).is_err());
}

#[test]
fn constant_predictor_flags() {
    assert_eq!(CONSTANT_PREDICTOR_THRESHOLD, 0.95);
    // MRPC dev: always "equivalent" → 408/408.
    let all_one = vec![1usize; 408];
    assert_eq!(constant_predictor(&all_one, 2), Some((1, 1.0)));
    // 19 of 20 = 0.95 exactly: flagged (≥).
    let mut p = vec![0usize; 19];
    p.push(1);
    assert_eq!(constant_predictor(&p, 2), Some((0, 0.95)));
    // 18 of 20 = 0.90: not flagged.
    let mut p = vec![0usize; 18];
    p.extend([1, 2]);
    assert_eq!(constant_predictor(&p, 3), None);
    assert_eq!(constant_predictor_at(&p, 3, 0.9), Some((0, 0.9)));
    // Out-of-range predictions are still counted.
    assert_eq!(constant_predictor(&[5, 5, 5], 2), Some((5, 1.0)));
    assert_eq!(constant_predictor(&[], 2), None);
}
