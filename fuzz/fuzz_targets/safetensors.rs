//! Model weights: our checkpoint layer on the safetensors crate (header, shapes, dtypes), then
//! every tensor read as f32 with its own shape, and once with a wrong one.
#![no_main]

use curlora::model::weights::Checkpoint;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(ckpt) = Checkpoint::from_bytes(Path::new("fuzz.safetensors"), data.to_vec()) else {
        return;
    };
    for key in ckpt.keys() {
        let shape = ckpt.shape(&key).unwrap_or_default();
        let _ = ckpt.dtype(&key);
        let values = ckpt.read_f32(&key, &shape);
        if let Ok(v) = &values {
            assert_eq!(v.len(), shape.iter().product::<usize>(), "{key}");
        }
        let mut wrong = shape.clone();
        wrong.push(2);
        assert!(
            ckpt.read_f32(&key, &wrong).is_err(),
            "{key}: a wrong shape was accepted"
        );
    }
});
