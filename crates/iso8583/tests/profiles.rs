//! The profile-driven codec: the switch profile against hand-written bytes of
//! `shared/spec/iso8583-1987-switch.md` (so the table matches the page, not just itself),
//! and the POS profile under the terminal's typed views (same fields, same bytes).

use suanpan_iso8583::profile::{ProfiledMessage, SWITCH};
use suanpan_iso8583::{Error, Format, IsoMsg, Message, Mti, POS, Status};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace([' ', '\n'], "")).unwrap_or_else(|e| panic!("bad hex in test: {e}"))
}

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// A 0200 purchase written by hand from the spec page: 2-byte big-endian length, ASCII
/// MTI, 8-byte binary bitmap (fields 2 3 4 7 11 12 13 14 18 22 25 32 37 41 42 43 49 =
/// `72 3C 44 81 08 E0 80 00`), ASCII fields, LLVAR lengths as two ASCII digits.
fn purchase_0200() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(b"0200");
    body.extend_from_slice(&[0x72, 0x3C, 0x44, 0x81, 0x08, 0xE0, 0x80, 0x00]);
    for part in [
        "16",
        "6225881234567898", // 2: LLVAR PAN
        "000000",           // 3: purchase
        "000000012345",     // 4: ¥123.45 in fen
        "1206013015",       // 7: MMDDhhmmss UTC
        "000123",           // 11: STAN
        "093015",           // 12
        "1206",             // 13
        "3012",             // 14
        "5411",             // 18
        "021",              // 22
        "00",               // 25
        "08",
        "12345678",                                 // 32: LLVAR acquirer id
        "000000000001",                             // 37: RRN
        "TERM0001",                                 // 41
        "MERCHANT0000001",                          // 42
        "SUANPAN DEMO SHOP     SHANGHAI     CHN  ", // 43: 40 characters
        "156",                                      // 49
    ] {
        body.extend_from_slice(part.as_bytes());
    }
    let mut frame = (body.len() as u16).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

// Goal: the hand-written 0200 decodes field by field as the page says, and the encoder
// writes exactly those bytes back from setters.
#[test]
fn switch_0200_from_the_page() {
    let frame = purchase_0200();
    let Status::Complete((msg, used)) = ok(ProfiledMessage::decode_frame(&SWITCH, &frame)) else {
        panic!("frame incomplete");
    };
    assert_eq!(used, frame.len());
    assert_eq!(msg.mti(), Mti::FINANCIAL_REQUEST);
    let m = msg.to_owned_msg();
    assert_eq!(m.text(2), Some("6225881234567898"));
    assert_eq!(m.u64(4), Some(12_345));
    assert_eq!(m.text(7), Some("1206013015"));
    assert_eq!(m.u64(11), Some(123));
    assert_eq!(m.text(32), Some("12345678"));
    assert_eq!(m.text(41), Some("TERM0001"));
    assert_eq!(m.text(43).map(str::len), Some(40));
    assert_eq!(m.text(49), Some("156"));

    let mut built = IsoMsg::new(&SWITCH, Mti::FINANCIAL_REQUEST);
    for (n, v) in [
        (2, "6225881234567898"),
        (3, "0"),
        (4, "12345"),
        (7, "1206013015"),
        (11, "123"),
        (12, "093015"),
        (13, "1206"),
        (14, "3012"),
        (18, "5411"),
        (22, "21"),
        (25, "0"),
        (32, "12345678"),
        (37, "000000000001"),
        (41, "TERM0001"),
        (42, "MERCHANT0000001"),
        (43, "SUANPAN DEMO SHOP     SHANGHAI     CHN"),
        (49, "156"),
    ] {
        ok(built.set_str(n, v));
    }
    let mut out = Vec::new();
    ok(built.encode(&mut out));
    assert_eq!(out, frame);
}

// Goal: an 0800 sign-on with field 70 carries the secondary bitmap (bit 1), and field 70
// is announced by the first byte of the secondary bitmap; an 0420 with field 90 (n42) and a
// track 2 in ASCII with `D` as separator decode as the page says.
#[test]
fn switch_secondary_bitmap_and_track2() {
    let mut body = b"0800".to_vec();
    body.extend_from_slice(&[0x82, 0x20, 0, 0, 0, 0, 0, 0, 0x04, 0, 0, 0, 0, 0, 0, 0]);
    body.extend_from_slice(b"1206013015000001001");
    let m = ok(IsoMsg::decode(&SWITCH, &body));
    assert_eq!(m.text(70), Some("001"));
    assert_eq!(m.u64(11), Some(1));

    let mut r = IsoMsg::new(&SWITCH, Mti::new(420).unwrap_or(Mti::REVERSAL_REQUEST));
    ok(r.set_str(35, "6225881234567898=3012"));
    ok(r.set_str(90, "020000012312060130150000123456700000000000"));
    let mut out = Vec::new();
    ok(r.encode(&mut out));
    assert!(
        out.windows(21).any(|w| w == b"6225881234567898D3012"),
        "35 travels with D"
    );
    let back = ok(IsoMsg::decode(&SWITCH, &out[2..]));
    assert_eq!(back.text(35), Some("6225881234567898=3012"));
    assert_eq!(back.text(90).map(str::len), Some(42));
}

// Goal: the decoder refuses what the page forbids: a letter in an n field, an LLVAR over
// its maximum, a field outside the table, bytes after the last field, a cut frame.
#[test]
fn switch_refusals() {
    let frame = purchase_0200();
    let body = &frame[2..];
    let mut bad = body.to_vec();
    let amount_at = 4 + 8 + 2 + 16 + 6;
    bad[amount_at] = b'A';
    assert_eq!(
        IsoMsg::decode(&SWITCH, &bad).err(),
        Some(Error::BadDigit(4))
    );
    let mut long = body.to_vec();
    long[12..14].copy_from_slice(b"20");
    assert_eq!(
        IsoMsg::decode(&SWITCH, &long).err(),
        Some(Error::TooLong(2))
    );
    let mut unknown = body.to_vec();
    unknown[4] |= 0x08; // field 5
    assert_eq!(
        IsoMsg::decode(&SWITCH, &unknown).err(),
        Some(Error::UnknownField(5))
    );
    let mut trailing = body.to_vec();
    trailing.push(b'0');
    assert_eq!(
        IsoMsg::decode(&SWITCH, &trailing).err(),
        Some(Error::TrailingBytes)
    );
    assert_eq!(
        IsoMsg::decode(&SWITCH, &body[..body.len() - 1]).err(),
        Some(Error::Truncated(49))
    );
    assert_eq!(
        ProfiledMessage::decode_frame(&SWITCH, &frame[..10]).ok(),
        Some(Status::Partial)
    );
}

/// Published POS frames (from `tests/real_vectors.rs`, `cups-real-vectors.md`), as frame
/// bodies with TPDU and header.
const POS_BODIES: &[&str] = &[
    "6000030000602200000000 0200703C06C020C09A11196217857600008050804000000000000000000100010516124302092308071000010012376217857600008050804D23082201000082300039323333363738373834373130303035333939303030323135367D6A7408DFE2E9E5260000000000000001459F26089C0A057796D091E39F2701809F1013070F0103A00000010A010000005959BAF31C349F37042AE9F9B49F36020FCD950500000000009A031802099C01009F02060000000000015F2A02015682027C009F1A0201569F03060000000000009F330390C8C09F34030000009F3501229F1E0831323334353637388408A0000003330101019F090200209F41040000000200122200000100064433374345464536",
    "6000030000602200000000 05000020000000c18012000645313233343536373731323334353637383930313233343500620000000000070070000000000000000000000000000000000000000000000031353600110000000320100003303120",
    "60000006016132003202050810003800010AC00014000058092309021308010310003034363837393038373536343030303931303135313533303833353031393339393030383000110000000100400060950973182317F80B950973182317F80B00962B60F679786E2411E3DE0000000000000000ADC67D84A0C45C59F1E549BBA0C45C59F1E549BBE2F24340",
];

// Goal: one codec serves both profiles. The terminal's typed views are the profile codec
// driven by the POS table: on published terminal frames `Message` shows every field as
// `ProfiledMessage` reads it, and an owned `IsoMsg` copy writes the bytes `MessageBuilder`
// writes (reserved header bytes become zeros in both).
#[test]
fn pos_profile_matches_the_terminal_codec() {
    for hex_body in POS_BODIES {
        let body = h(hex_body);
        let old = ok(Message::decode(&body));
        let new = ok(ProfiledMessage::decode(&POS, &body));
        assert_eq!(new.mti(), old.mti());
        for f in old.fields() {
            let n = f.number();
            let expected = match f.spec().format {
                Format::N | Format::Z => ok(f.digits()).into_bytes(),
                _ => f.bytes().to_vec(),
            };
            assert_eq!(new.value(n), Some(expected), "field {n}");
        }
        assert_eq!(new.fields().count(), old.fields().count());
        let mut old_bytes = Vec::new();
        ok(ok(old.to_builder()).encode(&mut old_bytes));
        let mut new_bytes = Vec::new();
        let mut owned = new.to_owned_msg();
        ok(owned.set_envelope(&old_bytes[2..13]));
        ok(owned.encode(&mut new_bytes));
        assert_eq!(new_bytes, old_bytes);
    }
}
