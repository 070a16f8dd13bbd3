//! Hand-worked vectors for the MAC, the PIN block and working-key transport.
//!
//! The expected values were computed outside this crate: the double-length ones with a
//! throwaway Python script using the `cryptography` package's TripleDES (two-key EDE, ECB),
//! the single-length ones (the MAK, a `001` PIK) with `openssl enc -des-ecb -provider
//! legacy`, following the spec's prose step by step; the intermediate values are written
//! out below so a reader can check each step by hand or with any DES tool. Published
//! third-party vectors are in `real_vectors.rs`.

use suanpan_iso8583::crypto::{self, decrypt_pin, encrypt_pin, mac, pin_block_clear, verify_mac};
use suanpan_iso8583::{
    CryptoError, KeyLayout, KeyRole, MacAlgorithm, Mak, Pik, Pin, Tmk, WorkingKeys,
};

const TMK: &str = "0123456789ABCDEFFEDCBA9876543210";
const PIK: &str = "A1B2C3D4E5F60718293A4B5C6D7E8F90";
/// The MAK is single-length (spec "Keys, PIN, MAC"): every MAC step is single DES.
const MAK: &str = "0F1E2D3C4B5A6978";

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap_or_else(|e| panic!("bad hex in test: {e}"))
}

fn ok<T>(r: Result<T, CryptoError>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn keys() -> (Tmk, Pik, Mak) {
    (
        ok(Tmk::from_hex(TMK)),
        ok(Pik::from_hex(PIK)),
        ok(Mak::from_hex(MAK)),
    )
}

// Goal: check values are the first 4 bytes of E(key, 00..00).
//   E(TMK, 0000000000000000) = 08D7B4FB629D0885 -> 08D7B4FB
//   E(PIK, 0000000000000000) -> 76CDB553
//   E(MAK, 0000000000000000) = BFADEE68DB35535C -> BFADEE68 (single DES)
#[test]
fn check_values() {
    let (tmk, pik, mak) = keys();
    assert_eq!(tmk.check_value().to_vec(), h("08D7B4FB"));
    assert_eq!(pik.check_value().to_vec(), h("76CDB553"));
    assert_eq!(mak.check_value().to_vec(), h("BFADEE68"));
}

// Goal: the MAC of a 13-byte block that needs 3 bytes of zero padding.
//   MAB     = "0200 sale 100" = 30323030 2073616C 6520313030
//   padded  = 303230302073616C 6520313030000000
//   R       = 303230302073616C XOR 6520313030000000 = 551201001073616C
//   hex(R)  = "551201001073616C" (16 ASCII bytes; letters upper case)
//   E1      = E(MAK, "55120100")           = 844DB23EDC85BEB2
//   E1 ^ "1073616C" (31303733 36313643)    = B57D850DEAB488F1
//   E2      = E(MAK, B57D850DEAB488F1)     = B2EFC8D9D02389C5
//   MAC     = first 8 chars of "B2EFC8D9D02389C5" = "B2EFC8D9"
#[test]
fn mac_with_padding() {
    let (_, _, mak) = keys();
    assert_eq!(&mac(&mak, b"0200 sale 100"), b"B2EFC8D9");
}

// Goal: a block that is already a multiple of 8 gets no padding block.
//   MAB    = 0200302004C020C0 9811000000000001
//   R      = 9A11302004C020C1
//   E1     = E(MAK, "9A113020") = C3196733DC1E4990
//   E1 ^ "04C020C1"             = F32D2403EE2E0AA1
//   E2     = 4C86F25457BA7E26  -> MAC "4C86F254"
#[test]
fn mac_without_padding() {
    let (_, _, mak) = keys();
    let mab = h("0200302004C020C0 9811000000000001");
    assert_eq!(&mac(&mak, &mab), b"4C86F254");
    assert!(verify_mac(&mak, &mab, b"4C86F254"));
    assert!(!verify_mac(&mak, &mab, b"4C86F255"));
    assert!(!verify_mac(&mak, &mab, b"4C86F25"));
}

// Goal: the PIN block for a 19-digit PAN, built and encrypted as ANSI X9.8 format 0.
//   PIN field = 0 | 6 | 123456 | FFFFFFFF       = 06123456FFFFFFFF
//   PAN       = 621700 123456789012 3 (12 digits left of the check digit)
//   PAN field = 0000 | 123456789012             = 0000123456789012
//   clear     = 06123456FFFFFFFF ^ 0000123456789012 = 06122662A9876FED
//   E(PIK, clear)                               = 2E31BB08A843460C
#[test]
fn pin_block_19_digit_pan() {
    let (_, pik, _) = keys();
    let pin = Pin::new("123456").unwrap_or_else(|e| panic!("{e}"));
    let pan = "6217001234567890123";
    assert_eq!(
        pin_block_clear(&pin, pan).map(|b| b.to_vec()),
        Ok(h("06122662A9876FED"))
    );
    let block = encrypt_pin(&pik, &pin, pan).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(block.to_vec(), h("2E31BB08A843460C"));
    let back = decrypt_pin(&pik, &block, pan).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back.expose_secret(), "123456");
}

// Goal: a 4-digit PIN and a 16-digit PAN.
//   PIN field = 041234FFFFFFFFFF
//   PAN 4761739001010010 without its check digit (the last 0) is 476173900101001; its 12
//   rightmost digits are 173900101001, so PAN field = 0000173900101001
//   clear     = 041223C6FFEFEFFE; E(PIK, clear) = C16CB6F4FCE98125
#[test]
fn pin_block_16_digit_pan() {
    let (_, pik, _) = keys();
    let pin = Pin::new("1234").unwrap_or_else(|e| panic!("{e}"));
    let pan = "4761739001010010";
    assert_eq!(
        pin_block_clear(&pin, pan).map(|b| b.to_vec()),
        Ok(h("041223C6FFEFEFFE"))
    );
    let block = encrypt_pin(&pik, &pin, pan).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(block.to_vec(), h("C16CB6F4FCE98125"));
}

// Goal: a wrong PAN or a wrong PIK does not yield a PIN (the block fails the format 0
// checks), and bad inputs are refused before any crypto.
#[test]
fn pin_block_refusals() {
    let (tmk, pik, _) = keys();
    let block: [u8; 8] = [0x2E, 0x31, 0xBB, 0x08, 0xA8, 0x43, 0x46, 0x0C];
    assert_eq!(
        decrypt_pin(&pik, &block, "6217001234567890124").map(|_| ()),
        Ok(()),
        "the check digit is not part of the PAN field"
    );
    assert_eq!(
        decrypt_pin(&pik, &block, "6217009999567890123").map(|_| ()),
        Err(CryptoError::BadPinBlock)
    );
    let wrong = Pik::from_hex(&hex::encode(tmk.expose_secret())).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        decrypt_pin(&wrong, &block, "6217001234567890123").map(|_| ()),
        Err(CryptoError::BadPinBlock)
    );
    assert_eq!(Pin::new("123").map(|_| ()), Err(CryptoError::BadPin));
    assert_eq!(
        Pin::new("1234567890123").map(|_| ()),
        Err(CryptoError::BadPin)
    );
    assert_eq!(Pin::new("12a4").map(|_| ()), Err(CryptoError::BadPin));
    let pin = Pin::new("1234").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        pin_block_clear(&pin, "621700123456"),
        Err(CryptoError::BadPan)
    );
}

// Goal: field 62 of a `003` sign-in response, built by the host and opened by a terminal:
// a double-length PIK, then the single-length MAK, 8 zero bytes and its single-DES check.
//   E(TMK, PIK) = FD7AF640961CDB8B 5CCFBE13B358FE6E, PIK check 76CDB553
//   E(TMK, MAK) = BDBE59C77CF56415, 0000000000000000, MAK check BFADEE68
#[test]
fn working_keys_transport() {
    let (tmk, pik, mak) = keys();
    let sealed = ok(WorkingKeys::seal(&tmk, &pik, &mak));
    assert_eq!(sealed.layout(), KeyLayout::Double);
    let expected = h("FD7AF640961CDB8B5CCFBE13B358FE6E 76CDB553 \
                      BDBE59C77CF56415 0000000000000000 BFADEE68");
    assert_eq!(sealed.as_bytes().to_vec(), expected);
    let (pik2, mak2) = sealed.open(&tmk).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pik2.expose_secret(), pik.expose_secret());
    assert_eq!(mak2.expose_secret(), mak.expose_secret());
    let mut bad = expected.clone();
    bad[36] ^= 1;
    let bad = WorkingKeys::parse(&bad).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        bad.open(&tmk).map(|_| ()),
        Err(CryptoError::CheckValueMismatch(KeyRole::Mak))
    );
    let other = ok(Tmk::from_hex(PIK));
    assert_eq!(
        sealed.open(&other).map(|_| ()),
        Err(CryptoError::CheckValueMismatch(KeyRole::Pik))
    );
    assert_eq!(crypto::KEY_BYTES, 16);
    assert_eq!(crypto::SINGLE_KEY_BYTES, 8);
}

// Goal: a `001` field 62 (24 bytes) carries a single-length PIK and MAK; the PIN block
// under a single PIK is single DES.
//   PIK = A1B2C3D4E5F60718: E(TMK, PIK) = FD7AF640961CDB8B, check 5FFE0009
//   MAK as above: E(TMK, MAK) = BDBE59C77CF56415, check BFADEE68
//   PIN block clear 06122662A9876FED (see pin_block_19_digit_pan) -> E(PIK) = 988E7968E2DCDBD1
#[test]
fn working_keys_single_layout() {
    let (tmk, _, mak) = keys();
    let pik = ok(Pik::from_hex("A1B2C3D4E5F60718"));
    assert!(pik.is_single());
    let sealed = ok(WorkingKeys::seal(&tmk, &pik, &mak));
    assert_eq!(sealed.layout(), KeyLayout::Single);
    assert_eq!(
        sealed.as_bytes().to_vec(),
        h("FD7AF640961CDB8B 5FFE0009 BDBE59C77CF56415 BFADEE68")
    );
    let (pik2, _) = sealed.open(&tmk).unwrap_or_else(|e| panic!("{e}"));
    assert!(pik2.is_single());
    let pin = Pin::new("123456").unwrap_or_else(|e| panic!("{e}"));
    let block = ok(encrypt_pin(&pik2, &pin, "6217001234567890123"));
    assert_eq!(block.to_vec(), h("988E7968E2DCDBD1"));
    assert_eq!(
        WorkingKeys::seal_with_track_key(
            &tmk,
            &pik,
            &mak,
            &ok(suanpan_iso8583::Tdk::from_hex(PIK))
        )
        .map(|_| ()),
        Err(CryptoError::BadKey),
        "004 carries a double-length PIK"
    );
}

// Goal: keys parse from hex and refuse other lengths: the MAK is 16 hex digits only, the
// TMK 32, the PIK either.
#[test]
fn key_hex() {
    assert!(Mak::from_hex(&MAK.to_lowercase()).is_ok());
    assert_eq!(Mak::from_hex("0011").map(|_| ()), Err(CryptoError::BadKey));
    assert_eq!(
        Mak::from_hex("0F1E2D3C4B5A69788796A5B4C3D2E1F0").map(|_| ()),
        Err(CryptoError::BadKey),
        "a double-length MAK is the old layout"
    );
    assert_eq!(
        Mak::from_hex(&"G".repeat(16)).map(|_| ()),
        Err(CryptoError::BadKey)
    );
    assert_eq!(Tmk::from_hex(MAK).map(|_| ()), Err(CryptoError::BadKey));
    assert!(Pik::from_hex(MAK).is_ok() && Pik::from_hex(PIK).is_ok());
}

// Goal: X9.19 (ISO 9797-1 MAC algorithm 3) matches the published vector: key
// 0123456789ABCDEF FEDCBA9876543210, data "Now is the time for all " -> A1C72E74EA3FA9B6
// (checked again with Python's `cryptography`: CBC under the left half, then D(right),
// E(left)).
#[test]
fn x919_published_vector() {
    let mut key = [0u8; 16];
    key.copy_from_slice(&h(TMK));
    let mak = Mak::from_double(key);
    assert_eq!(mak.algorithm(), MacAlgorithm::X919);
    let m = crypto::x919_mac(&mak, b"Now is the time for all ");
    assert_eq!(m.to_vec(), h("A1C72E74EA3FA9B6"));
    assert_eq!(mac(&mak, b"Now is the time for all "), m);
    assert!(verify_mac(&mak, b"Now is the time for all ", &m));
    assert_eq!(ok(Mak::from_hex(MAK)).algorithm(), MacAlgorithm::PosEcb);
}

/// The finding of issue 11: flipping the same bits at the same offset of two 8-byte
/// blocks of the MAC block leaves the POS ECB MAC unchanged; X9.19 sees it.
fn cancel_flip(block: &[u8]) -> Vec<u8> {
    let mut forged = block.to_vec();
    forged[3] ^= 0x09;
    forged[11] ^= 0x09;
    forged
}

// Goal: the ECB MAC's weakness is real (two aligned changes cancel), and X9.19 refuses the
// same forgery.
#[test]
fn aligned_flips_cancel_under_ecb_not_x919() {
    let block = b"0200 amount 000000000100 then more fields follow".to_vec();
    let forged = cancel_flip(&block);
    assert_ne!(forged, block);
    let ecb = ok(Mak::from_hex(MAK));
    assert_eq!(mac(&ecb, &forged), mac(&ecb, &block), "the ECB weakness");
    let mut key = [0u8; 16];
    key.copy_from_slice(&h(PIK));
    let x919 = Mak::from_double(key);
    assert!(!verify_mac(&x919, &forged, &mac(&x919, &block)));
}

// Goal: the sign-in proof key is 3DES under the TMK of the terminal id (left) and of its
// inverse (right); computed with Python's `cryptography`:
//   E(TMK, "12345678") = 41D2FFBA3CDC15FE, E(TMK, ~"12345678") = 513C45E7C03BBD49.
#[test]
fn sign_in_key_derivation() {
    let (tmk, _, _) = keys();
    let ecb = tmk.sign_in_mak("12345678", MacAlgorithm::PosEcb);
    assert_eq!(ecb.expose_secret().to_vec(), h("41D2FFBA3CDC15FE"));
    let x919 = tmk.sign_in_mak("12345678", MacAlgorithm::X919);
    assert_eq!(
        x919.expose_secret().to_vec(),
        h("41D2FFBA3CDC15FE513C45E7C03BBD49")
    );
    let other = tmk.sign_in_mak("12345679", MacAlgorithm::PosEcb);
    assert_ne!(other.expose_secret(), ecb.expose_secret());
}

// Goal: an X9.19 MAK travels in the 16 bytes of `003` after the PIK check, with its 3DES
// check value, and only an X9.19 reader takes it; `001` has no room for it.
#[test]
fn working_keys_x919_mak() {
    let (tmk, pik, _) = keys();
    let mut key = [0u8; 16];
    key.copy_from_slice(&h("0F1E2D3C4B5A69788796A5B4C3D2E1F0"));
    let mak = Mak::from_double(key);
    let sealed = ok(WorkingKeys::seal(&tmk, &pik, &mak));
    assert_eq!(sealed.layout(), KeyLayout::Double);
    let (_, mak2) = ok(sealed.open_for(&tmk, MacAlgorithm::X919));
    assert_eq!(mak2.expose_secret(), mak.expose_secret());
    assert!(sealed.open(&tmk).is_err(), "an ECB reader refuses it");
    let single = ok(Pik::from_hex("A1B2C3D4E5F60718"));
    assert_eq!(
        WorkingKeys::seal(&tmk, &single, &mak).map(|_| ()),
        Err(CryptoError::BadKey)
    );
}

// Goal: a PIN block under the terminal's PIK re-encrypted under the ZPK carries the same
// PIN for the same PAN, and a block under another key is refused, not passed on.
#[test]
fn pin_translation_pik_to_zpk() {
    use suanpan_iso8583::crypto::{Pin, decrypt_pin, encrypt_pin, translate_pin};
    use suanpan_iso8583::{Pik, Zpk};
    let pan = "6225881234567898";
    let pik = Pik::from_hex("11111111111111112222222222222222").unwrap_or_else(|e| panic!("{e}"));
    let zpk = Zpk::from_hex("0123456789ABCDEFFEDCBA9876543210").unwrap_or_else(|e| panic!("{e}"));
    let pin = Pin::new("123456").unwrap_or_else(|e| panic!("{e}"));
    let terminal_block = encrypt_pin(&pik, &pin, pan).unwrap_or_else(|e| panic!("{e}"));
    let zone_block =
        translate_pin(&pik, &zpk, &terminal_block, pan).unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(zone_block, terminal_block);
    let back = decrypt_pin(&zpk.pin_key(), &zone_block, pan).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back.expose_secret(), "123456");
    let other = Pik::from_hex("33333333333333334444444444444444").unwrap_or_else(|e| panic!("{e}"));
    assert!(translate_pin(&other, &zpk, &terminal_block, pan).is_err());
}
