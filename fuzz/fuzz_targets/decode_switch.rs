//! Fuzz target for the profile codec under the switch profile: any input must decode or
//! fail without panicking, and a decoded message must encode to a frame that decodes to the
//! same message (decode -> encode -> decode).
#![no_main]

use libfuzzer_sys::fuzz_target;
use suanpan_iso8583::{IsoMsg, SWITCH};

fuzz_target!(|data: &[u8]| {
    let Ok(first) = IsoMsg::decode(&SWITCH, data) else {
        return;
    };
    let mut frame = Vec::new();
    if let Err(e) = first.encode(&mut frame) {
        panic!("a decoded message must encode: {e}");
    }
    match IsoMsg::decode(&SWITCH, &frame[2..]) {
        Ok(second) => assert_eq!(first, second),
        Err(e) => panic!("an encoded message must decode: {e}"),
    }
});
