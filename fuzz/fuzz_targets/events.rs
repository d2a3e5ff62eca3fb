//! Recordings (`events.jsonl`, shared files and the app's replay): parsed, then folded into the
//! app's session state event by event, as the replay does.
#![no_main]

use curlora::app::state::{Session, parse_recording};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(events) = parse_recording(text) else {
        return;
    };
    let mut session = Session::default();
    for e in &events {
        session.apply(e);
    }
    assert_eq!(session.events, events.len());
});
