//! Message vectors: hand-written frames, one message of each type in the spec's message
//! table, and a table of invalid frames with the error each must produce.

use suanpan_iso8583::{
    Error, Field60, Field61, Field63Response, Header, Mak, Message, MessageBuilder, Mti,
    SettlementTotals, Status, Totals, Tpdu, WorkingKeys, split_frame,
};

const MAK: &str = "0F1E2D3C4B5A6978";
const TPDU: Tpdu = Tpdu {
    destination: 0x0003,
    source: 0x0000,
};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace([' ', '\n'], "")).unwrap_or_else(|e| panic!("bad hex in test: {e}"))
}

fn mak() -> Mak {
    Mak::from_hex(MAK).unwrap_or_else(|e| panic!("{e}"))
}

fn ok<T>(r: Result<T, Error>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// A 0200 sale written byte by byte from the spec; its MAC (field 64) was computed with
/// the single-length MAK above, outside this crate with `openssl enc -des-ecb` (legacy
/// provider), step by step as `crypto_vectors.rs` shows
/// (R = EF74FDF80E5B6BB7, E1 = 802890C96CCB96E1, E2 = 127375C48C32009A, MAC = "127375C4").
const SALE_HEX: &str = "
    006C                              -- length: 108 bytes follow
    60 0003 0000                      -- TPDU: id, destination 0003, source 0000
    60 22 00 000000                   -- header: app 60, version 22, status 0, requirement 0
    0200                              -- MTI
    70 24 04 C0 00 C0 98 11           -- bitmap: 2 3 4 11 14 22 25 26 41 42 49 52 53 60 64
    19 62170012345678901230           -- 2  PAN, LL=19, left-aligned, pad nibble 0
    000000                            -- 3  processing code
    000000010000                      -- 4  amount 100.00 yuan = 10000 fen
    000123                            -- 11 STAN
    2812                              -- 14 expiry YYMM
    0210                              -- 22 entry mode 021, left-aligned
    00                                -- 25 condition code
    06                                -- 26 PIN capture code
    3132333435363738                  -- 41 terminal id '12345678'
    383938333130303438313631323334    -- 42 merchant id '898310048161234'
    313536                            -- 49 currency '156'
    2E31BB08A843460C                  -- 52 PIN block (crypto_vectors.rs: PIN 123456)
    2600000000000000                  -- 53 security control
    0011 220000010000                 -- 60 LLL=11 digits: 22 000001 000, pad nibble 0
    3132373337354334                  -- 64 MAC '127375C4'
";

/// A 0800 sign-in request written by hand: STAN, terminal, merchant, 60, operator.
const SIGN_IN_HEX: &str = "
    003C 6000030000 602200000000 0800
    00 20 00 00 00 C0 00 12           -- bitmap: 11 41 42 60 63
    000124                            -- 11 STAN
    3132333435363738                  -- 41
    383938333130303438313631323334    -- 42
    0011 000000010030                 -- 60: 00 000001 003 (sign-in, double-length keys)
    0003 303120                       -- 63: operator '01 '
";

// Goal: the hand-written sale decodes to the values written, its MAC verifies, and the
// builder produces the same bytes from the same values.
#[test]
fn sale_0200_by_hand() {
    let frame = h(SALE_HEX
        .lines()
        .map(strip_comment)
        .collect::<String>()
        .as_str());
    let Ok(Status::Complete((msg, used))) = Message::decode_frame(&frame) else {
        panic!("sale frame did not decode");
    };
    assert_eq!(used, frame.len());
    assert_eq!(msg.mti(), Mti::FINANCIAL_REQUEST);
    assert_eq!(msg.tpdu(), TPDU);
    assert_eq!(msg.header(), Header::POS);
    assert_eq!(ok(msg.digits(2)), "6217001234567890123");
    assert_eq!(msg.pan().as_deref(), Some("6217001234567890123"));
    assert_eq!(ok(msg.u64(4)), 10_000);
    assert_eq!(ok(msg.digits(22)), "021");
    assert_eq!(ok(msg.text(41)), "12345678");
    assert_eq!(ok(msg.field60()).type_code, 22);
    assert_eq!(ok(msg.field60()).batch, 1);
    assert!(msg.verify_mac(&mak()));
    assert_eq!(msg.mac_data().len(), 89);

    let mut b = MessageBuilder::new(TPDU, Header::POS, Mti::FINANCIAL_REQUEST);
    ok(b.set_n(2, "6217001234567890123"));
    ok(b.set_n(3, "000000")).set_n_u64(4, 10_000).ok();
    ok(b.set_n_u64(11, 123)).set_n(14, "2812").ok();
    ok(b.set_n(22, "021")).set_n(25, "00").ok();
    ok(b.set_n(26, "06")).set_ans(41, b"12345678").ok();
    ok(b.set_ans(42, b"898310048161234"))
        .set_ans(49, b"156")
        .ok();
    ok(b.set_b(52, &h("2E31BB08A843460C")))
        .set_n(53, "2600000000000000")
        .ok();
    ok(b.set_field60(&Field60::parse("22000001000").unwrap_or_else(|e| panic!("{e}"))));
    let mut out = Vec::new();
    ok(b.encode_with_mac(&mak(), &mut out));
    assert_eq!(hex::encode_upper(&out), hex::encode_upper(&frame));
}

// Goal: the hand-written sign-in decodes, and the builder writes the same bytes.
#[test]
fn sign_in_0800_by_hand() {
    let frame = h(SIGN_IN_HEX
        .lines()
        .map(strip_comment)
        .collect::<String>()
        .as_str());
    let Ok(Status::Complete(f)) = split_frame(&frame) else {
        panic!("sign-in frame did not split");
    };
    let msg = ok(Message::decode(f.body));
    assert_eq!(msg.mti(), Mti::NETWORK_REQUEST);
    assert_eq!(ok(msg.operator()), "01 ");
    assert_eq!(ok(msg.field60()), Field60::new(0, 1, 3));
    let mut b = MessageBuilder::new(TPDU, Header::POS, Mti::NETWORK_REQUEST);
    ok(b.set_n_u64(11, 124)).set_ans(41, b"12345678").ok();
    ok(b.set_ans(42, b"898310048161234"))
        .set_operator("01")
        .ok();
    ok(b.set_n(60, "00000001003"));
    let mut out = Vec::new();
    ok(b.encode(&mut out));
    assert_eq!(out, frame);
}

/// Keeps the hex of a vector line: everything before its `--` comment.
fn strip_comment(line: &str) -> String {
    line.split("--").next().unwrap_or_default().replace(' ', "")
}

/// One row of the message table: MTI, processing code (3), condition code (25), 60.1 and
/// 60.3, as the spec's "Messages" table gives them.
struct Row {
    name: &'static str,
    mti: u16,
    processing: Option<&'static str>,
    condition: Option<&'static str>,
    type_code: u8,
    network_code: u16,
}

const MESSAGES: &[Row] = &[
    row("balance inquiry", 200, Some("310000"), Some("00"), 1, 0),
    row("pre-authorization", 100, Some("030000"), Some("06"), 10, 0),
    row("pre-auth void", 100, Some("200000"), Some("06"), 11, 0),
    row(
        "pre-auth completion",
        200,
        Some("000000"),
        Some("06"),
        20,
        0,
    ),
    row("completion void", 200, Some("200000"), Some("06"), 21, 0),
    row("sale", 200, Some("000000"), Some("00"), 22, 0),
    row("sale void", 200, Some("200000"), Some("00"), 23, 0),
    row("refund", 220, Some("200000"), Some("00"), 25, 0),
    row("reversal", 400, Some("000000"), Some("00"), 22, 0),
    row("sign-in", 800, None, None, 0, 3),
    row("sign-out", 820, None, None, 0, 2),
    row("echo test", 820, None, None, 0, 301),
    row("batch settlement", 500, None, None, 0, 201),
    row("batch upload", 320, None, None, 0, 201),
    row("batch upload last", 320, None, None, 0, 202),
];

const fn row(
    name: &'static str,
    mti: u16,
    processing: Option<&'static str>,
    condition: Option<&'static str>,
    type_code: u8,
    network_code: u16,
) -> Row {
    Row {
        name,
        mti,
        processing,
        condition,
        type_code,
        network_code,
    }
}

/// The request of `r` with the fields a terminal sends for it.
fn request(r: &Row) -> Result<MessageBuilder, Error> {
    let mti = Mti::new(r.mti).ok_or(Error::BadMti)?;
    let mut b = MessageBuilder::new(TPDU, Header::POS, mti);
    b.set_n_u64(11, 7)?
        .set_ans(41, b"12345678")?
        .set_ans(42, b"898310048161234")?;
    b.set_field60(&Field60 {
        type_code: r.type_code,
        batch: 1,
        network_code: r.network_code,
        terminal: Some(suanpan_iso8583::Field60Terminal {
            capability: 5,
            chip_condition: 0,
        }),
        extra: suanpan_iso8583::Field60Extra::NONE,
    })?;
    if let (Some(p), Some(c)) = (r.processing, r.condition) {
        b.set_n(3, p)?.set_n_u64(4, 12_345)?.set_n(25, c)?;
        b.set_z(35, "6217001234567890123=28122011234")?;
        b.set_n(22, "051")?.set_n(23, "001")?.set_ans(49, b"156")?;
        b.set_b(55, &h("9F2608 1122334455667788 9F2701 80"))?;
    }
    match r.type_code {
        23 | 21 => b.set_ans(37, b"000000000042")?.set_field61(&Field61 {
            batch: 1,
            stan: 5,
            date_mmdd: None,
        })?,
        25 | 20 | 11 => b.set_ans(38, b"A1B2C3")?.set_field61(&Field61 {
            batch: 0,
            stan: 0,
            date_mmdd: Some(1125),
        })?,
        _ => &mut b,
    };
    if r.mti == 400 {
        b.set_ans(39, b"98")?;
    }
    if r.mti == 500 {
        b.set_settlement_totals(&totals())?.set_operator("01")?;
    }
    Ok(b)
}

fn totals() -> SettlementTotals {
    SettlementTotals {
        domestic: Totals {
            debit_amount: 1_234_500,
            debit_count: 12,
            credit_amount: 10_000,
            credit_count: 1,
            reconciliation: 0,
        },
        foreign: Totals::default(),
    }
}

// Goal: one message of each type of the spec's message table encodes, decodes with the
// table's values, carries a MAC exactly when the spec says, and re-encodes to the same
// bytes; its response (swapped TPDU, +10 MTI) does too.
#[test]
fn every_message_type_round_trips() {
    let mak = mak();
    let mut out = Vec::new();
    for r in MESSAGES {
        let b = ok(request(r));
        let mti = b.mti();
        if mti.carries_mac() {
            ok(b.encode_with_mac(&mak, &mut out));
        } else {
            ok(b.encode(&mut out));
        }
        let msg = ok(Message::decode(&out[2..]));
        assert_eq!(msg.mti(), mti, "{}", r.name);
        assert_eq!(msg.digits(3).ok().as_deref(), r.processing, "{}", r.name);
        assert_eq!(msg.digits(25).ok().as_deref(), r.condition, "{}", r.name);
        let f60 = ok(msg.field60());
        assert_eq!(
            (f60.type_code, f60.network_code),
            (r.type_code, r.network_code)
        );
        assert_eq!(msg.verify_mac(&mak), mti.carries_mac(), "{}", r.name);
        let mut again = Vec::new();
        ok(ok(msg.to_builder()).encode(&mut again));
        assert_eq!(again, out, "{}", r.name);
        check_response(&msg, &mak);
    }
}

/// Builds the host's response to `req` and checks it decodes as one.
fn check_response(req: &Message<'_>, mak: &Mak) {
    let mut b = MessageBuilder::new(req.tpdu().swapped(), Header::POS, req.mti().response());
    for n in [3, 4, 11, 25, 41, 42, 60] {
        if let Some(f) = req.field(n) {
            match n {
                41 | 42 => b.set_ans(n, f.bytes()),
                _ => b.set_n(n, &ok(f.digits())),
            }
            .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    ok(b.set_n(12, "101530")).set_n(13, "1125").ok();
    ok(b.set_ans(37, b"000000000043")).set_ans(39, b"00").ok();
    ok(b.set_field63_response(&Field63Response::cup("交易成功")));
    let mut out = Vec::new();
    if b.mti().carries_mac() {
        ok(b.encode_with_mac(mak, &mut out));
    } else {
        ok(b.encode(&mut out));
    }
    let resp = ok(Message::decode(&out[2..]));
    assert_eq!(resp.tpdu().destination, 0x0000);
    assert_eq!(resp.mti().value(), req.mti().value() + 10);
    assert_eq!(ok(resp.field63_response()).text, "交易成功");
    assert_eq!(resp.verify_mac(mak), resp.mti().carries_mac());
}

// Goal: a sign-in response carries the working keys, and 48 settlement totals survive.
#[test]
fn sign_in_response_and_settlement_fields() {
    let tmk = suanpan_iso8583::Tmk::from_hex("0123456789ABCDEFFEDCBA9876543210");
    let tmk = tmk.unwrap_or_else(|e| panic!("{e}"));
    let pik = suanpan_iso8583::Pik::from_bytes([0x22; 16]);
    let keys = WorkingKeys::seal(&tmk, &pik, &mak()).unwrap_or_else(|e| panic!("{e}"));
    let mut b = MessageBuilder::new(TPDU.swapped(), Header::POS, Mti::NETWORK_REQUEST.response());
    ok(b.set_working_keys(&keys)).set_ans(39, b"00").ok();
    ok(b.set_settlement_totals(&totals()));
    let mut out = Vec::new();
    ok(b.encode(&mut out));
    let msg = ok(Message::decode(&out[2..]));
    let (pik2, mak2) = ok(msg.working_keys())
        .open(&tmk)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pik2.expose_secret(), &[0x22; 16]);
    assert_eq!(mak2.check_value(), mak().check_value());
    assert_eq!(ok(msg.settlement_totals()), totals());
    assert_eq!(
        ok(msg.digits(48)),
        "00000123450001200000001000000100000000000000000000000000000000"
    );
}

// Goal: two frames back to back and a partial third are split one at a time.
#[test]
fn stream_of_frames() {
    let sale = h(SALE_HEX
        .lines()
        .map(strip_comment)
        .collect::<String>()
        .as_str());
    let sign_in = h(SIGN_IN_HEX
        .lines()
        .map(strip_comment)
        .collect::<String>()
        .as_str());
    let mut stream = [sale.clone(), sign_in.clone(), sale[..50].to_vec()].concat();
    let mut seen = Vec::new();
    loop {
        let used = match Message::decode_frame(&stream) {
            Ok(Status::Complete((m, used))) => {
                seen.push(m.mti().value());
                used
            }
            Ok(Status::Partial) => break,
            Err(e) => panic!("{e}"),
        };
        stream.drain(..used);
    }
    assert_eq!(seen, [200, 800]);
    assert_eq!(stream.len(), 50);
}

/// Decodes a frame body given as hex (no length prefix).
fn decode_hex(body: &str) -> Result<(), Error> {
    let body = h(body);
    Message::decode(&body).map(|_| ())
}

const HEAD: &str = "6000030000 602200000000";

// Goal: each kind of malformed input fails with its own error, naming the field.
#[test]
fn invalid_vectors() {
    let cases: &[(&str, String, Error)] = &[
        ("empty", String::new(), Error::FrameTooShort),
        (
            "no bitmap",
            format!("{HEAD} 0200 0020"),
            Error::FrameTooShort,
        ),
        (
            "TPDU id",
            "6100030000 602200000000 0800 0000000000000000".into(),
            Error::BadTpdu,
        ),
        (
            "header BCD",
            "6000030000 6A2200000000 0800 0000000000000000".into(),
            Error::BadHeader,
        ),
        (
            "MTI BCD",
            format!("{HEAD} 08A0 0000000000000000"),
            Error::BadMti,
        ),
        (
            "secondary bitmap",
            format!("{HEAD} 0800 8000000000000000"),
            Error::SecondaryBitmap,
        ),
        (
            "unknown field 5",
            format!("{HEAD} 0800 0800000000000000 00"),
            Error::UnknownField(5),
        ),
        (
            "truncated fixed",
            format!("{HEAD} 0800 0020000000000000 0001"),
            Error::Truncated(11),
        ),
        (
            "truncated prefix",
            format!("{HEAD} 0800 0000000000000010 00"),
            Error::Truncated(60),
        ),
        (
            "truncated var",
            format!("{HEAD} 0800 4000000000000000 19 6217"),
            Error::Truncated(2),
        ),
        (
            "LL over max",
            format!("{HEAD} 0800 4000000000000000 20 {}", "11".repeat(10)),
            Error::TooLong(2),
        ),
        (
            "LLL over max",
            format!("{HEAD} 0800 0000000000000002 0164 {}", "20".repeat(164)),
            Error::TooLong(63),
        ),
        (
            "60 over what the decoder reads (32 digits)",
            format!("{HEAD} 0800 0000000000000010 0033 {}", "00".repeat(17)),
            Error::TooLong(60),
        ),
        (
            "bad prefix",
            format!("{HEAD} 0800 4000000000000000 1A 00"),
            Error::BadLengthPrefix(2),
        ),
        (
            "bad BCD fixed",
            format!("{HEAD} 0800 0020000000000000 00012A"),
            Error::BadDigit(11),
        ),
        (
            "bad pad fixed odd",
            format!("{HEAD} 0800 0000020000000000 F001"),
            Error::BadDigit(23),
        ),
        (
            "bad pad var",
            format!("{HEAD} 0800 4000000000000000 03 123A"),
            Error::BadDigit(2),
        ),
        (
            "= outside z",
            format!("{HEAD} 0800 4000000000000000 04 12D4"),
            Error::BadDigit(2),
        ),
        (
            "control char",
            format!("{HEAD} 0800 0000000000800000 313233343536370A"),
            Error::BadText(41),
        ),
        (
            "GBK outside 44/63",
            format!("{HEAD} 0800 0000000000800000 31323334B6C3B6C3"),
            Error::BadText(41),
        ),
        (
            "b fixed short",
            format!("{HEAD} 0800 0000000000001000 00112233"),
            Error::Truncated(52),
        ),
        (
            "trailing",
            format!("{HEAD} 0800 0020000000000000 000001 00"),
            Error::TrailingBytes,
        ),
    ];
    for (name, body, err) in cases {
        assert_eq!(decode_hex(body), Err(*err), "{name}");
    }
}

// Goal: the liberal decoder accepts F padding, `D` in tracks and GBK in 63, and the strict
// encoder normalizes F padding to 0.
#[test]
fn liberal_decoding() {
    let body = h(&format!("{HEAD} 0200 4000000020000000 03 123F 07 1234D56F"));
    let msg = ok(Message::decode(&body));
    assert_eq!(ok(msg.digits(2)), "123");
    assert_eq!(ok(msg.digits(35)), "1234=56");
    let mut out = Vec::new();
    ok(ok(msg.to_builder()).encode(&mut out));
    assert_eq!(
        hex::encode_upper(&out[2..]),
        format!("{HEAD} 0200 4000000020000000 03 1230 07 1234D560").replace(' ', "")
    );
    let gbk = h(&format!(
        "{HEAD} 0810 0000000000000002 0007 435550 B3C9B9A6"
    ));
    let msg = ok(Message::decode(&gbk));
    assert_eq!(ok(msg.field63_response()).text, "成功");
    assert_eq!(msg.text(63), Err(Error::BadText(63)));
}

// Goal: the frame splitter refuses an announced length over the limit before buffering.
#[test]
fn overlong_frame_length() {
    assert_eq!(
        split_frame(&[0x20, 0x01, 0x60]),
        Err(Error::FrameTooLarge { len: 0x2001 })
    );
    assert_eq!(split_frame(&[0x00]), Ok(Status::Partial));
}

// Goal: the response header's processing requirement survives the round trip, and a
// header part with too many digits is refused by the encoder instead of being truncated.
#[test]
fn header_processing_requirement() {
    let header = Header::POS.with_processing_requirement(Header::SIGN_IN_AGAIN);
    let mut b = MessageBuilder::new(TPDU.swapped(), header, Mti::FINANCIAL_REQUEST.response());
    ok(b.set_ans(39, b"77"));
    let mut out = Vec::new();
    ok(b.encode(&mut out));
    assert_eq!(hex::encode_upper(&out[2..13]), "6000000003602203000000");
    assert_eq!(
        ok(Message::decode(&out[2..]))
            .header()
            .processing_requirement,
        3
    );
    b.set_header(Header {
        terminal_status: 10,
        ..Header::POS
    });
    assert_eq!(b.encode(&mut out), Err(Error::BadHeader));
}

// Goal: the sub-field views refuse lengths and widths the spec does not allow.
#[test]
fn subfield_refusals() {
    assert_eq!(Field60::parse("0000001"), Err(Error::BadSubfield(60)));
    assert_eq!(Field60::parse(&"0".repeat(33)), Err(Error::BadSubfield(60)));
    assert_eq!(Field60::parse("0000000100A"), Err(Error::BadSubfield(60)));
    assert_eq!(
        Field60::parse("2200000100051").map(|f| f.terminal.map(|t| t.capability)),
        Ok(Some(5))
    );
    let too_wide = Field61 {
        batch: 1_000_000,
        stan: 1,
        date_mmdd: None,
    };
    assert_eq!(too_wide.to_digits(), Err(Error::BadSubfield(61)));
    assert_eq!(Field61::parse("00000100000"), Err(Error::BadSubfield(61)));
    assert_eq!(SettlementTotals::parse("0"), Err(Error::BadSubfield(48)));
    assert_eq!(WorkingKeys::parse(&[0; 30]), Err(Error::BadSubfield(62)));
    assert_eq!(WorkingKeys::parse(&[0; 41]), Err(Error::BadSubfield(62)));
    let emoji = Field63Response::cup("ok 😀");
    assert_eq!(emoji.to_bytes(), Err(Error::BadSubfield(63)));
    let long = Field63Response::cup(&"长".repeat(81));
    let mut b = MessageBuilder::new(TPDU, Header::POS, Mti::FINANCIAL_REQUEST.response());
    assert_eq!(
        b.set_field63_response(&long).err(),
        Some(Error::TooLong(63))
    );
    assert_eq!(b.set_operator("0001").err(), Some(Error::BadSubfield(63)));
}

// Goal: MTI helpers follow the spec's lists.
#[test]
fn mti_helpers() {
    let macs: Vec<u16> = (0..=9999)
        .filter_map(Mti::new)
        .filter(|m| m.carries_mac())
        .map(Mti::value)
        .collect();
    assert_eq!(macs, [100, 110, 200, 210, 220, 230, 400, 410]);
    assert_eq!(Mti::NETWORK_ADVICE_REQUEST.response().to_string(), "0830");
    assert_eq!(Mti::new(10_000), None);
}
