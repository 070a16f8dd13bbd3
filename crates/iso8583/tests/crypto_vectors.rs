//! Hand-worked vectors for the MAC, the PIN block and working-key transport.
//!
//! The expected values were computed outside this crate with a throwaway Python script
//! using the `cryptography` package's TripleDES (two-key EDE, ECB), following the spec's
//! prose step by step; the intermediate values are written out below so a reader can check
//! each step by hand or with any DES tool.

use suanpan_iso8583::crypto::{self, decrypt_pin, encrypt_pin, mac, pin_block_clear, verify_mac};
use suanpan_iso8583::{CryptoError, KeyRole, Mak, Pik, Pin, Tmk, WorkingKeys};

const TMK: &str = "0123456789ABCDEFFEDCBA9876543210";
const PIK: &str = "A1B2C3D4E5F60718293A4B5C6D7E8F90";
const MAK: &str = "0F1E2D3C4B5A69788796A5B4C3D2E1F0";

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
//   E(MAK, 0000000000000000) -> 819DB114
#[test]
fn check_values() {
    let (tmk, pik, mak) = keys();
    assert_eq!(tmk.check_value().to_vec(), h("08D7B4FB"));
    assert_eq!(pik.check_value().to_vec(), h("76CDB553"));
    assert_eq!(mak.check_value().to_vec(), h("819DB114"));
}

// Goal: the MAC of a 13-byte block that needs 3 bytes of zero padding.
//   MAB     = "0200 sale 100" = 30323030 2073616C 6520313030
//   padded  = 303230302073616C 6520313030000000
//   R       = 303230302073616C XOR 6520313030000000 = 551201001073616C
//   hex(R)  = "551201001073616C" (16 ASCII bytes; letters upper case)
//   E1      = E(MAK, "55120100")           = 89AEA7C2C4AF6D78
//   E1 ^ "1073616C" (31303733 36313643)    = B89E90F1F29E5B3B
//   E2      = E(MAK, B89E90F1F29E5B3B)     = 4917FD7990B7D74C
//   MAC     = first 8 chars of "4917FD7990B7D74C" = "4917FD79"
#[test]
fn mac_with_padding() {
    let (_, _, mak) = keys();
    assert_eq!(&mac(&mak, b"0200 sale 100"), b"4917FD79");
}

// Goal: a block that is already a multiple of 8 gets no padding block.
//   MAB    = 0200302004C020C0 9811000000000001
//   R      = 9A11302004C020C1
//   E1     = E(MAK, "9A113020") = 420AEE3DBB42F258
//   E1 ^ "04C020C1"             = 723EAD0D8972B169
//   E2     = D6E17628572E2F63  -> MAC "D6E17628"
#[test]
fn mac_without_padding() {
    let (_, _, mak) = keys();
    let mab = h("0200302004C020C0 9811000000000001");
    assert_eq!(&mac(&mak, &mab), b"D6E17628");
    assert!(verify_mac(&mak, &mab, b"D6E17628"));
    assert!(!verify_mac(&mak, &mab, b"D6E17629"));
    assert!(!verify_mac(&mak, &mab, b"D6E1762"));
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
    let wrong = Pik::from_bytes(*tmk.expose_secret());
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

// Goal: field 62 of a sign-in response, built by the host and opened by a terminal.
//   E(TMK, PIK) = FD7AF640961CDB8B 5CCFBE13B358FE6E, PIK check 76CDB553
//   E(TMK, MAK) = BDBE59C77CF56415 BAB6EAD19B49AD8C, MAK check 819DB114
#[test]
fn working_keys_transport() {
    let (tmk, pik, mak) = keys();
    let sealed = WorkingKeys::seal(&tmk, &pik, &mak);
    let expected = h("FD7AF640961CDB8B5CCFBE13B358FE6E 76CDB553 \
                      BDBE59C77CF56415BAB6EAD19B49AD8C 819DB114");
    assert_eq!(sealed.to_bytes().to_vec(), expected);
    let (pik2, mak2) = sealed.open(&tmk).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pik2.expose_secret(), pik.expose_secret());
    assert_eq!(mak2.expose_secret(), mak.expose_secret());
    let mut bad = sealed;
    bad.mak_check[0] ^= 1;
    assert_eq!(
        bad.open(&tmk).map(|_| ()),
        Err(CryptoError::CheckValueMismatch(KeyRole::Mak))
    );
    let other = Tmk::from_bytes(*mak.expose_secret());
    assert_eq!(
        sealed.open(&other).map(|_| ()),
        Err(CryptoError::CheckValueMismatch(KeyRole::Pik))
    );
    assert_eq!(crypto::KEY_BYTES, 16);
}

// Goal: keys parse from hex and refuse other lengths.
#[test]
fn key_hex() {
    assert!(Mak::from_hex(&MAK.to_lowercase()).is_ok());
    assert_eq!(Mak::from_hex("0011").map(|_| ()), Err(CryptoError::BadKey));
    assert_eq!(
        Mak::from_hex(&"G".repeat(32)).map(|_| ()),
        Err(CryptoError::BadKey)
    );
}
