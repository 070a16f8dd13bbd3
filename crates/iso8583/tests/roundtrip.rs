//! Property tests: encode -> decode -> encode round trips over random messages, and a
//! simple reference decoder (written independently from the spec, nibble by nibble on a
//! hex string) that must agree with the fast decoder on valid and mutated frames.

use proptest::prelude::*;
use suanpan_iso8583::{Header, Message, MessageBuilder, Mti, Tpdu};

/// The spec's field table again, typed in separately so a slip in `FIELDS` shows up:
/// (number, format, prefix digits: 0 fixed / 2 LL / 3 LLL, max units).
const TABLE: &[(u8, char, u8, usize)] = &[
    (2, 'n', 2, 19),
    (3, 'n', 0, 6),
    (4, 'n', 0, 12),
    (11, 'n', 0, 6),
    (12, 'n', 0, 6),
    (13, 'n', 0, 4),
    (14, 'n', 0, 4),
    (15, 'n', 0, 4),
    (22, 'n', 0, 3),
    (23, 'n', 0, 3),
    (25, 'n', 0, 2),
    (26, 'n', 0, 2),
    (32, 'n', 2, 11),
    (35, 'z', 2, 37),
    (36, 'z', 3, 104),
    (37, 'a', 0, 12),
    (38, 'a', 0, 6),
    (39, 'a', 0, 2),
    (41, 'a', 0, 8),
    (42, 'a', 0, 15),
    (44, 'g', 2, 25),
    (48, 'n', 3, 322),
    (49, 'a', 0, 3),
    (52, 'b', 0, 8),
    (53, 'n', 0, 16),
    (54, 'a', 3, 20),
    (55, 'b', 3, 255),
    (59, 'a', 3, 999),
    (60, 'n', 3, 17),
    (61, 'n', 3, 29),
    (62, 'b', 3, 512),
    (63, 'g', 3, 163),
    (64, 'b', 0, 8),
];

/// The longest value the decoder reads: the table's maximum, except field 60, which real
/// terminals send with up to 32 digits (spec row 60: "the decoder accepts 8–32 digits").
fn read_max(n: u8, max: usize) -> usize {
    if n == 60 { 32 } else { max }
}

fn row(n: u8) -> Option<(char, u8, usize)> {
    TABLE
        .iter()
        .find(|r| r.0 == n)
        .map(|&(_, f, p, m)| (f, p, m))
}

/// Reference decoder: the (field, data bytes) list of a frame body, or `None` if invalid.
fn reference_decode(body: &[u8]) -> Option<Vec<(u8, Vec<u8>)>> {
    let hexs = hex::encode_upper(body);
    let (fixed, mut rest) = (hexs.get(..42)?, hexs.get(42..)?);
    let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    // TPDU id 60; header: application type, version, status and requirement are digits, the
    // 3 reserved bytes (fixed[16..22]) may hold anything; MTI digits.
    if !fixed.starts_with("60") || !all_digits(&fixed[10..16]) || !all_digits(&fixed[22..26]) {
        return None;
    }
    let bits = u64::from_str_radix(&fixed[26..42], 16).ok()?;
    let mut out = Vec::new();
    for n in 1..=64u8 {
        if bits & (1u64 << (64 - n)) == 0 {
            continue;
        }
        let (format, prefix, max) = row(n)?;
        let prefix_hex = usize::from(prefix).div_ceil(2) * 2;
        let len: usize = if prefix == 0 {
            max
        } else {
            let p = rest.get(..prefix_hex)?;
            rest = &rest[prefix_hex..];
            if !all_digits(p) {
                return None;
            }
            p.parse().ok()?
        };
        if len > read_max(n, max) {
            return None;
        }
        let bcd = format == 'n' || format == 'z';
        let hex_len = if bcd { len.div_ceil(2) * 2 } else { len * 2 };
        let data = rest.get(..hex_len)?;
        rest = &rest[hex_len..];
        if !valid(n, format, prefix, len, data) {
            return None;
        }
        out.push((n, hex::decode(data).ok()?));
    }
    rest.is_empty().then_some(out)
}

/// Content rules of the spec's "Data types and encodings" table, on the hex of a field.
fn valid(n: u8, format: char, prefix: u8, len: usize, data: &str) -> bool {
    match format {
        'n' | 'z' => {
            let right_aligned = prefix == 0 && n != 22 && len % 2 == 1;
            let (pad, digits) = if right_aligned {
                (&data[..1], &data[1..])
            } else {
                (&data[len..], &data[..len])
            };
            let pad_ok = pad.is_empty() || pad == "0" || (!right_aligned && pad == "F");
            let digit_ok = |c: char| c.is_ascii_digit() || (format == 'z' && c == 'D');
            pad_ok && digits.chars().all(digit_ok)
        }
        'a' | 'g' => hex::decode(data).is_ok_and(|b| {
            b.iter()
                .all(|&c| (0x20..0x7F).contains(&c) || (format == 'g' && c >= 0x80))
        }),
        _ => true,
    }
}

/// One random field value, as the setter takes it.
#[derive(Clone, Debug)]
enum Value {
    Digits(String),
    Track(String),
    Text(Vec<u8>),
    Bytes(Vec<u8>),
}

fn value_strategy(format: char, prefix: u8, max: usize) -> BoxedStrategy<Value> {
    let min = if prefix == 0 { max } else { 0 };
    match format {
        'n' => proptest::string::string_regex(&format!("[0-9]{{{min},{max}}}"))
            .map(|s| s.prop_map(Value::Digits).boxed())
            .unwrap_or_else(|e| panic!("{e}")),
        'z' => proptest::string::string_regex(&format!("[0-9=]{{{min},{max}}}"))
            .map(|s| s.prop_map(Value::Track).boxed())
            .unwrap_or_else(|e| panic!("{e}")),
        'a' => prop::collection::vec(0x20u8..0x7F, min..=max)
            .prop_map(Value::Text)
            .boxed(),
        'g' => prop::collection::vec(prop_oneof![0x20u8..0x7F, 0x80u8..=0xFF], min..=max)
            .prop_map(Value::Text)
            .boxed(),
        _ => prop::collection::vec(any::<u8>(), min..=max)
            .prop_map(Value::Bytes)
            .boxed(),
    }
}

fn message_strategy() -> impl Strategy<Value = (u16, Vec<(u8, Value)>)> {
    let fields: Vec<_> = TABLE
        .iter()
        .map(|&(n, f, p, m)| {
            prop::option::weighted(0.4, value_strategy(f, p, m)).prop_map(move |v| (n, v))
        })
        .collect();
    (0u16..=9999, fields).prop_map(|(mti, fs)| {
        let present = fs.into_iter().filter_map(|(n, v)| v.map(|v| (n, v)));
        (mti, present.collect())
    })
}

fn build(mti: u16, fields: &[(u8, Value)]) -> MessageBuilder {
    let tpdu = Tpdu {
        destination: 3,
        source: 0,
    };
    let mti = Mti::new(mti).unwrap_or_else(|| panic!("mti {mti}"));
    let mut b = MessageBuilder::new(tpdu, Header::POS, mti);
    for (n, v) in fields {
        let r = match v {
            Value::Digits(d) => b.set_n(*n, d),
            Value::Track(t) => b.set_z(*n, t),
            Value::Text(t) => b.set_ans(*n, t),
            Value::Bytes(x) => b.set_b(*n, x),
        };
        r.unwrap_or_else(|e| panic!("field {n}: {e}"));
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    // Goal: every valid message survives encode -> decode -> encode byte for byte, the
    // decoded values are those set, and the reference decoder sees the same fields.
    #[test]
    fn encode_decode_encode((mti, fields) in message_strategy()) {
        let mut first = Vec::new();
        build(mti, &fields).encode(&mut first).unwrap_or_else(|e| panic!("{e}"));
        let msg = Message::decode(&first[2..]).unwrap_or_else(|e| panic!("{e}"));
        prop_assert_eq!(msg.mti().value(), mti);
        for (n, v) in &fields {
            match v {
                Value::Digits(d) | Value::Track(d) => prop_assert_eq!(&msg.digits(*n).ok(), &Some(d.clone())),
                Value::Text(t) | Value::Bytes(t) => prop_assert_eq!(msg.bytes(*n).ok(), Some(t.as_slice())),
            }
        }
        let mut second = Vec::new();
        let b = msg.to_builder().unwrap_or_else(|e| panic!("{e}"));
        b.encode(&mut second).unwrap_or_else(|e| panic!("{e}"));
        prop_assert_eq!(&first, &second);
        let reference = reference_decode(&first[2..]);
        let fast: Vec<(u8, Vec<u8>)> = msg.fields().map(|f| (f.number(), f.bytes().to_vec())).collect();
        prop_assert_eq!(reference, Some(fast));
    }

    // Goal: on a valid frame with one byte changed, the fast and the reference decoder
    // agree on whether it is valid and on every field.
    #[test]
    fn mutated_frames_agree((mti, fields) in message_strategy(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut frame = Vec::new();
        build(mti, &fields).encode(&mut frame).unwrap_or_else(|e| panic!("{e}"));
        let body = &mut frame[2..];
        let i = pos.index(body.len());
        body[i] = byte;
        let fast = Message::decode(body)
            .ok()
            .map(|m| m.fields().map(|f| (f.number(), f.bytes().to_vec())).collect::<Vec<_>>());
        prop_assert_eq!(fast, reference_decode(body));
    }

    // Goal: arbitrary bytes never panic the splitter or the decoder.
    #[test]
    fn arbitrary_bytes_do_not_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = Message::decode_frame(&bytes);
        let _ = Message::decode(&bytes);
    }
}
