//! Fuzz target for the decoder: any input must decode or fail without panicking, and a
//! decoded message must re-encode to a frame that decodes to the same values and encodes
//! to the same bytes again (decode -> encode -> decode).
#![no_main]

use libfuzzer_sys::fuzz_target;
use suanpan_iso8583::{Message, Status};

fuzz_target!(|data: &[u8]| {
    let _ = Message::decode(data);
    let Ok(Status::Complete((first, used))) = Message::decode_frame(data) else {
        return;
    };
    assert!(used <= data.len());
    let mut frame = Vec::new();
    let builder = match first.to_builder() {
        Ok(b) => b,
        // The decoder is liberal where the spec says so (field 60 up to 32 digits); the
        // encoder stays strict (at most 17), and that is the only refusal allowed here.
        Err(suanpan_iso8583::Error::TooLong(60)) => return,
        Err(e) => panic!("a decoded message must convert to a builder: {e}"),
    };
    if let Err(e) = builder.encode(&mut frame) {
        panic!("a decoded message must encode: {e}");
    }
    let second = match Message::decode(&frame[2..]) {
        Ok(m) => m,
        Err(e) => panic!("an encoded message must decode: {e}"),
    };
    assert_eq!(first.mti(), second.mti());
    assert_eq!(first.tpdu(), second.tpdu());
    assert_eq!(first.header(), second.header());
    // Reserved header bytes are ignored on read and written as zeros, so the frames may
    // differ there and nowhere else before the fields.
    let a: Vec<_> = first.fields().map(|f| (f.number(), value(&f))).collect();
    let b: Vec<_> = second.fields().map(|f| (f.number(), value(&f))).collect();
    assert_eq!(a, b);
    let mut again = Vec::new();
    let rebuilt = second.to_builder().map(|b| b.encode(&mut again));
    assert!(matches!(rebuilt, Ok(Ok(()))));
    assert_eq!(frame, again);
});

/// A field's value independent of padding nibbles: digits for BCD, bytes otherwise.
fn value(f: &suanpan_iso8583::Field<'_>) -> Vec<u8> {
    match f.digits() {
        Ok(d) => d.into_bytes(),
        Err(_) => f.bytes().to_vec(),
    }
}
