//! The web app's URL hash (`#preset=quick&rank=4…`): any string parses (bad keys and values are
//! reported, not fatal), and the hash written back from the settings it gives reads back to the
//! same settings.
#![no_main]

use curlora::web::hash::LinkState;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(hash) = std::str::from_utf8(data) else {
        return;
    };
    let link = LinkState::parse(hash);
    for gpu in [false, true] {
        let setup = link.setup_for(gpu);
        let written = link.to_hash(&setup);
        let again = LinkState::parse(&written);
        assert_eq!(again.setup_for(gpu), setup, "{hash:?} → {written:?}");
    }
});
