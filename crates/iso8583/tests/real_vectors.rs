//! Every vector of `shared/spec/cups-real-vectors.md`: frames and worked examples that
//! terminal makers and integrators published (sources named there and in docs/ISO8583.md,
//! "Conformance"). Each must decode, match or be refused exactly as that page says.

use suanpan_iso8583::crypto::{self, mac, pin_block_clear};
use suanpan_iso8583::{
    Error, Field60Terminal, Header, KeyLayout, Mak, Message, Mti, Pik, Pin, Status, Tmk,
    WorkingKeys,
};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace([' ', '\n'], "")).unwrap_or_else(|e| panic!("bad hex in test: {e}"))
}

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// TPDU and header of our own, for the two source frames published without them (F15, F6c).
const OWN_HEAD: &str = "6000030000 602200000000";

const F1: &str = "007960000001386131003111080810003800010AC0001450021122130107200800085500323231333031343931333239303039393939393930363030313433303137303131393939390011000005190030004046F161A743497B32EAC760DF5EA57DF5900ECCE3977731A7EA402DDF0000000000000000CFF1592A";
const F1_TMK: &str = "258FB0AB70D025CDB99DF2C4D302D646";

const F2: &str = "60000006016132003202050810003800010AC00014000058092309021308010310003034363837393038373536343030303931303135313533303833353031393339393030383000110000000100400060950973182317F80B950973182317F80B00962B60F679786E2411E3DE0000000000000000ADC67D84A0C45C59F1E549BBA0C45C59F1E549BBE2F24340";
const F2_TMK: &str = "11111111111111111111111111111111";

const F10D: &str = "0039600003000061320032FFF108000000000000C00014323938303030313538343832393034343131313630303000110000000196000003000000";

const F15: &str = "05000020000000c18012000645313233343536373731323334353637383930313233343500620000000000070070000000000000000000000000000000000000000000000031353600110000000320100003303120";

const F6C: &str = "0200703C06C020C09A11196217857600008050804000000000000000000100010516124302092308071000010012376217857600008050804D23082201000082300039323333363738373834373130303035333939303030323135367D6A7408DFE2E9E5260000000000000001459F26089C0A057796D091E39F2701809F1013070F0103A00000010A010000005959BAF31C349F37042AE9F9B49F36020FCD950500000000009A031802099C01009F02060000000000015F2A02015682027C009F1A0201569F03060000000000009F330390C8C09F34030000009F3501229F1E0831323334353637388408A0000003330101019F090200209F41040000000200122200000100064433374345464536";

/// Decodes a frame that starts with its 2-byte length prefix.
fn with_prefix(frame: &[u8]) -> Message<'_> {
    match ok(Message::decode_frame(frame)) {
        Status::Complete((m, used)) => {
            assert_eq!(used, frame.len(), "one whole frame");
            m
        }
        Status::Partial => panic!("frame incomplete"),
    }
}

// C1 (github solo123/pgate, test/integration/pos_mac_test.rb): the POS ECB MAC under an
// 8-byte MAK is single DES.
#[test]
fn c1_mac_single_length_mak() {
    let mak = ok(Mak::from_hex("2222222222222222"));
    assert_eq!(
        &mac(&mak, &h("1234567890ABCDEFABCDEF1234567890")),
        b"E267B6E2"
    );
}

// C3 (same repository): key transport is 3DES ECB of the 16-byte key under the TMK; the
// first 16 bytes of a `003` field 62 are exactly that.
#[test]
fn c3_key_transport() {
    let tmk = ok(Tmk::from_hex("BA213DD564BBE85DDB62942364FBE85D"));
    let pik = ok(Pik::from_hex("BF3523B8E3845CB5300D97F976AF0A39"));
    let mak = ok(Mak::from_hex("0000000000000000"));
    let keys = ok(WorkingKeys::seal(&tmk, &pik, &mak));
    assert_eq!(keys.pik().0, h("15C481BEC8A7155890694EBEAC00489F"));
}

// C4 (blog.csdn.net/KingVan/article/details/47119): ANSI X9.8 format 0 clear PIN blocks.
#[test]
fn c4_pin_block() {
    let pin = ok(Pin::new("123456"));
    let block = |pan| ok(pin_block_clear(&pin, pan)).to_vec();
    assert_eq!(block("123456789012345678"), h("061253DFFEDCBA98"));
    assert_eq!(block("1234567890123456"), h("0612713176FEDCBA"));
}

// C5 (a Go POS host, package `trans`, ZQD8583): ciphertext and check value of a 16-byte
// key under a 16-byte TMK.
#[test]
fn c5_key_transport_and_check_value() {
    let tmk = ok(Tmk::from_hex(F2_TMK));
    let pik = ok(Pik::from_hex(&"22".repeat(16)));
    let keys = ok(WorkingKeys::seal(
        &tmk,
        &pik,
        &ok(Mak::from_hex("3333333333333333")),
    ));
    let (ciphertext, check) = keys.pik();
    assert_eq!(ciphertext, h("950973182317F80B950973182317F80B"));
    assert_eq!(check, h("00962B60"));
    assert_eq!(pik.check_value().to_vec(), h("00962B60"));
}

// F1: a `003` 0810 whose field 62 is PIK (16) + check + MAK (8) + 8 zero bytes + check;
// both check values verify under the published TMK only with the MAK read as single-length.
#[test]
fn f1_sign_in_response_003() {
    let frame = h(F1);
    let msg = with_prefix(&frame);
    assert_eq!(msg.mti(), Mti::new(810).unwrap_or_else(|| panic!("MTI")));
    assert_eq!(ok(msg.text(39)), "00");
    let f60 = ok(msg.field60());
    assert_eq!((f60.batch, f60.network_code), (519, 3));
    let keys = ok(msg.working_keys());
    assert_eq!(keys.layout(), KeyLayout::Double);
    let (mak_ciphertext, mak_check) = keys.mak();
    assert_eq!(mak_ciphertext, h("977731A7EA402DDF"));
    assert_eq!(mak_check, h("CFF1592A"));
    assert_eq!(&keys.as_bytes()[28..36], &[0u8; 8], "the 8 zero bytes");
    let tmk = ok(Tmk::from_hex(F1_TMK));
    let (pik, mak) = ok(keys.open(&tmk));
    assert_eq!(pik.check_value().to_vec(), h("900ECCE3"));
    assert_eq!(mak.check_value().to_vec(), h("CFF1592A"));
    assert_eq!(mak.expose_secret().len(), crypto::SINGLE_KEY_BYTES);
}

// F2: a `004` 0810 (no length prefix in the source): 60-byte field 62 with a track-data key;
// PIK, single-length MAK and TDK all verify under TMK 1111…11.
#[test]
fn f2_sign_in_response_004() {
    let body = h(F2);
    let msg = ok(Message::decode(&body));
    assert_eq!(ok(msg.field60()).network_code, 4);
    let keys = ok(msg.working_keys());
    assert_eq!(keys.layout(), KeyLayout::DoubleWithTrack);
    assert_eq!(KeyLayout::from_network_code(4), Some(keys.layout()));
    let tmk = ok(Tmk::from_hex(F2_TMK));
    let (pik, mak) = ok(keys.open(&tmk));
    assert_eq!(pik.expose_secret(), &[0x22; 16]);
    assert_eq!(mak.expose_secret(), &[0x33; 8]);
    let tdk = ok(keys.open_track_key(&tmk)).unwrap_or_else(|| panic!("a TDK"));
    assert_eq!(tdk.expose_secret(), &[0x44; 16]);
    assert_eq!(keys.tdk().map(|(_, c)| c.to_vec()), Some(h("E2F24340")));
    // Our own 004 field 62 for the same keys is byte for byte the published one.
    let ours = ok(WorkingKeys::seal_with_track_key(&tmk, &pik, &mak, &tdk));
    assert_eq!(ours.as_bytes(), keys.as_bytes());
}

// F10d: a 0800 whose header's reserved bytes are `32FFF1` decodes; those bytes are ignored.
#[test]
fn f10d_vendor_header_bytes() {
    let frame = h(F10D);
    let msg = with_prefix(&frame);
    assert_eq!(msg.mti(), Mti::NETWORK_REQUEST);
    let header = msg.header();
    assert_eq!((header.application_type, header.software_version), (61, 32));
    assert_eq!(header.processing_requirement, 0);
    assert_eq!(ok(msg.text(41)), "29800015");
    assert_eq!(ok(msg.text(42)), "848290441116000");
    let f60 = ok(msg.field60());
    assert_eq!((f60.type_code, f60.batch, f60.network_code), (0, 1, 960));
    // The same frame with a reserved byte that is not BCD in the *used* part is refused.
    let mut broken = frame.clone();
    broken[2 + 5] = 0x6F;
    assert_eq!(Message::decode(&broken[2..]), Err(Error::BadHeader));
}

// F15: a 0500 settlement request (no TPDU/header in the source): field 48 totals and the
// operator read.
#[test]
fn f15_settlement_request() {
    let body = h(&format!("{OWN_HEAD}{F15}"));
    let msg = ok(Message::decode(&body));
    assert_eq!(msg.mti(), Mti::SETTLEMENT_REQUEST);
    assert_eq!(ok(msg.u64(11)), 645);
    let totals = ok(msg.settlement_totals());
    assert_eq!(
        (totals.domestic.debit_amount, totals.domestic.debit_count),
        (7, 7)
    );
    assert_eq!(
        (totals.domestic.credit_amount, totals.domestic.credit_count),
        (0, 0)
    );
    assert_eq!(totals.foreign.debit_count, 0);
    assert_eq!(ok(msg.operator()), "01 ");
    let f60 = ok(msg.field60());
    assert_eq!((f60.batch, f60.network_code), (3, 201));
}

// F6c: a 0200 chip sale (no TPDU/header in the source): field 55 parses as BER-TLV, and
// field 60 reads as type 22, batch 000001, 60.3 `000`, 60.4 `6`, 60.5 `0`. The page gives
// field 60 as `22000001000600` (14 digits, one extra); the published bytes carry
// `0012 220000010006` (12 digits, ending after 60.4), which the MAC (field 64) follows
// directly. Both readings are checked: the frame as published, and the 14 digits as stated.
#[test]
fn f6c_chip_sale_field55_and_field60() {
    use suanpan_iso8583::Field60;
    let body = h(&format!("{OWN_HEAD}{F6C}"));
    let msg = ok(Message::decode(&body));
    assert_eq!(msg.mti(), Mti::FINANCIAL_REQUEST);
    assert_eq!(ok(msg.digits(60)), "220000010006");
    let f60 = ok(msg.field60());
    assert_eq!((f60.type_code, f60.batch, f60.network_code), (22, 1, 0));
    let chip = Some(Field60Terminal {
        capability: 6,
        chip_condition: 0,
    });
    assert_eq!(f60.terminal, chip);
    assert!(f60.extra.is_empty());
    let stated = ok(Field60::parse("22000001000600"));
    assert_eq!(
        (stated.type_code, stated.batch, stated.network_code),
        (22, 1, 0)
    );
    assert_eq!(stated.terminal, chip);
    assert_eq!(stated.extra.as_str(), "0");
    // The encoder writes the named parts only: 13 digits.
    assert_eq!(ok(stated.to_digits()), "2200000100060");
    let tags = ber_tlv_tags(ok(msg.bytes(55)));
    for tag in [
        "9F26", "9F27", "9F10", "9F37", "9F36", "95", "9A", "9C", "9F02", "5F2A",
    ] {
        assert!(tags.iter().any(|t| t == tag), "tag {tag} in {tags:?}");
    }
    assert!(msg.has(64));
}

/// The tags of a BER-TLV sequence (EMV field 55), failing the test on malformed data.
fn ber_tlv_tags(mut data: &[u8]) -> Vec<String> {
    let mut tags = Vec::new();
    while let Some(&first) = data.first() {
        let mut tag_len = 1;
        if first & 0x1F == 0x1F {
            while data.get(tag_len).is_some_and(|b| b & 0x80 != 0) {
                tag_len += 1;
            }
            tag_len += 1;
        }
        let tag = data
            .get(..tag_len)
            .unwrap_or_else(|| panic!("tag runs out"));
        let (len, len_bytes) = match data.get(tag_len) {
            Some(&l) if l < 0x80 => (usize::from(l), 1),
            Some(0x81) => (usize::from(data[tag_len + 1]), 2),
            Some(0x82) => (
                usize::from(u16::from_be_bytes([data[tag_len + 1], data[tag_len + 2]])),
                3,
            ),
            other => panic!("bad BER length {other:?}"),
        };
        let end = tag_len + len_bytes + len;
        assert!(end <= data.len(), "value runs out after tag {tag:02X?}");
        tags.push(hex::encode_upper(tag));
        data = &data[end..];
    }
    tags
}

// Goal: the header the encoder writes keeps zeros in the reserved bytes, whatever the
// request carried (encoder strict).
#[test]
fn reserved_header_bytes_are_written_as_zeros() {
    let frame = h(F10D);
    let msg = with_prefix(&frame);
    let mut out = Vec::new();
    ok(ok(msg.to_builder()).encode(&mut out));
    assert_eq!(hex::encode_upper(&out[7..13]), "613200000000");
    assert_eq!(Header::POS.processing_requirement, 0);
}

// Goal: the real-world variations the vectors do not cover byte for byte, each as the spec
// says: field 60 in 8, 12 and 19 digits is read (the rest kept), field 59 (ans...999 LLLVAR)
// decodes and is part of the MAC block, and the encoder stays strict about both.
#[test]
fn field60_lengths_and_field59() {
    use suanpan_iso8583::{Field60, MessageBuilder, Tpdu};
    let f = |d: &str| ok(Field60::parse(d));
    let eight = f("22000001");
    assert_eq!(
        (eight.type_code, eight.batch, eight.network_code),
        (22, 1, 0)
    );
    assert!(eight.terminal.is_none() && eight.extra.is_empty());
    let twelve = f("220000010005");
    assert_eq!(twelve.terminal.map(|t| t.capability), Some(5));
    let nineteen = f("2200000100050123456");
    assert_eq!(nineteen.terminal.map(|t| t.chip_condition), Some(0));
    assert_eq!(nineteen.extra.as_str(), "123456");
    assert_eq!(f(&"1".repeat(32)).extra.as_str(), "1".repeat(19));

    let tpdu = Tpdu {
        destination: 3,
        source: 0,
    };
    let mut b = MessageBuilder::new(tpdu, Header::POS, Mti::FINANCIAL_REQUEST);
    assert_eq!(
        b.set_n(60, "2200000100050123456").err(),
        Some(Error::TooLong(60)),
        "the encoder writes at most 17 digits"
    );
    assert_eq!(b.set_ans(59, b"A\x01").err(), Some(Error::BadText(59)));
    let info = b"0103SN1234567890020812345678";
    ok(b.set_ans(59, info)).set_n(60, "22000001000").ok();
    let mak = ok(Mak::from_hex("2222222222222222"));
    let mut out = Vec::new();
    ok(b.encode_with_mac(&mak, &mut out));
    let msg = ok(Message::decode(&out[2..]));
    assert_eq!(ok(msg.text(59)).as_bytes(), info);
    assert!(msg.verify_mac(&mak));
    assert!(msg.mac_data().windows(info.len()).any(|w| w == info));

    // A 19-digit field 60 on the wire decodes (real traffic), then reads as above.
    let body = h(&format!(
        "{OWN_HEAD} 0200 0000000000000010 0019 22000001000501234560"
    ));
    let msg = ok(Message::decode(&body));
    assert_eq!(ok(msg.field60()).extra.as_str(), "123456");
    assert_eq!(msg.to_builder().err(), Some(Error::TooLong(60)));
}
