//! Keys, MAC, PIN block and working-key transport (spec "Keys, PIN, MAC").
//!
//! Every key is double-length 3DES (16 bytes, EDE2); a key with equal halves behaves as
//! single DES. Key bytes live in types that zero them on drop and never print them.

use cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use des::TdesEde2;
use zeroize::Zeroize;

use crate::error::{CryptoError, KeyRole};
use crate::subfields::WorkingKeys;

/// Size of a double-length DES key.
pub const KEY_BYTES: usize = 16;
/// Size of a DES block, a PIN block and a MAC.
pub const BLOCK_BYTES: usize = 8;
/// Size of a key check value.
pub const CHECK_VALUE_BYTES: usize = 4;

/// 16 secret bytes and their key schedule, both zeroed when dropped (the schedule by the
/// `des` crate's `zeroize` feature). The schedule is kept because building it costs about
/// as much as the two block encryptions of a MAC.
#[derive(Clone)]
struct SecretKey {
    bytes: [u8; KEY_BYTES],
    cipher: TdesEde2,
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl SecretKey {
    fn new(bytes: [u8; KEY_BYTES]) -> SecretKey {
        let cipher = TdesEde2::new((&bytes).into());
        SecretKey { bytes, cipher }
    }

    fn from_hex(text: &str) -> Result<SecretKey, CryptoError> {
        let mut bytes = [0u8; KEY_BYTES];
        let parsed = hex::decode_to_slice(text, &mut bytes);
        let key = parsed.map(|()| SecretKey::new(bytes));
        bytes.zeroize();
        key.map_err(|_| CryptoError::BadKey)
    }

    fn cipher(&self) -> &TdesEde2 {
        &self.cipher
    }
}

macro_rules! key_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Zeroed on drop; `Debug` prints only the type name.
        #[derive(Clone)]
        pub struct $name(SecretKey);

        impl $name {
            /// Wraps clear key bytes.
            pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> Self {
                Self(SecretKey::new(bytes))
            }

            /// Parses 32 hex digits (either case), as keys come from configuration.
            ///
            /// # Errors
            /// [`CryptoError::BadKey`] for anything else.
            pub fn from_hex(text: &str) -> Result<Self, CryptoError> {
                SecretKey::from_hex(text).map(Self)
            }

            /// The clear key bytes, for a caller that must store or transport the key.
            pub fn expose_secret(&self) -> &[u8; KEY_BYTES] {
                &self.0.bytes
            }

            /// The key check value: the first 4 bytes of 8 zero bytes encrypted under the key.
            pub fn check_value(&self) -> [u8; CHECK_VALUE_BYTES] {
                check_value(&self.0)
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(concat!(stringify!($name), "(..)"))
            }
        }
    };
}

key_type!(
    /// Terminal master key: encrypts the working keys sent in sign-in field 62.
    Tmk
);
key_type!(
    /// PIN key (working key): encrypts PIN blocks (field 52).
    Pik
);
key_type!(
    /// MAC key (working key): computes field 64.
    Mak
);

fn encrypt(cipher: &TdesEde2, block: &mut [u8; BLOCK_BYTES]) {
    cipher.encrypt_block(block.into());
}

fn decrypt(cipher: &TdesEde2, block: &mut [u8; BLOCK_BYTES]) {
    cipher.decrypt_block(block.into());
}

fn xor_into(acc: &mut [u8; BLOCK_BYTES], other: &[u8]) {
    acc.iter_mut().zip(other).for_each(|(a, b)| *a ^= b);
}

fn check_value(key: &SecretKey) -> [u8; CHECK_VALUE_BYTES] {
    let mut block = [0u8; BLOCK_BYTES];
    encrypt(key.cipher(), &mut block);
    let mut out = [0u8; CHECK_VALUE_BYTES];
    out.copy_from_slice(&block[..CHECK_VALUE_BYTES]);
    out
}

/// Upper-case hex of 8 bytes, as 16 ASCII bytes.
fn upper_hex(block: &[u8; BLOCK_BYTES]) -> [u8; 2 * BLOCK_BYTES] {
    let mut out = [0u8; 2 * BLOCK_BYTES];
    // Cannot fail: the output is exactly twice the input.
    let _ = hex::encode_to_slice(block, &mut out);
    out.make_ascii_uppercase();
    out
}

/// XOR of all 8-byte blocks of `data`, the last one padded with 0x00.
fn xor_blocks(data: &[u8]) -> [u8; BLOCK_BYTES] {
    let mut acc = [0u8; BLOCK_BYTES];
    // A zero pad changes nothing under XOR, so a short last chunk needs no copy.
    data.chunks(BLOCK_BYTES).for_each(|c| xor_into(&mut acc, c));
    acc
}

/// The UnionPay POS ECB MAC of a MAC block (spec "MAC (UnionPay POS ECB algorithm)"):
/// R = XOR of the zero-padded 8-byte blocks; H = upper-hex(R), 16 ASCII bytes;
/// C = E(MAK, E(MAK, H[0..8]) XOR H[8..16]); MAC = the first 8 ASCII bytes of upper-hex(C).
pub fn mac(mak: &Mak, mac_block: &[u8]) -> [u8; BLOCK_BYTES] {
    let cipher = mak.0.cipher();
    let h = upper_hex(&xor_blocks(mac_block));
    let mut c = [0u8; BLOCK_BYTES];
    c.copy_from_slice(&h[..BLOCK_BYTES]);
    encrypt(cipher, &mut c);
    xor_into(&mut c, &h[BLOCK_BYTES..]);
    encrypt(cipher, &mut c);
    let mut out = [0u8; BLOCK_BYTES];
    out.copy_from_slice(&upper_hex(&c)[..BLOCK_BYTES]);
    out
}

/// True when `received` is the MAC of `mac_block`; compares in constant time so a peer
/// cannot learn the MAC byte by byte from timing.
pub fn verify_mac(mak: &Mak, mac_block: &[u8], received: &[u8]) -> bool {
    let expected = mac(mak, mac_block);
    received.len() == BLOCK_BYTES
        && expected
            .iter()
            .zip(received)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

impl crate::Message<'_> {
    /// True when field 64 is present and is the MAC of [`crate::Message::mac_data`].
    pub fn verify_mac(&self, mak: &Mak) -> bool {
        self.field(crate::field::MAC_FIELD)
            .is_some_and(|f| verify_mac(mak, self.mac_data(), f.bytes()))
    }
}

/// A clear PIN of 4 to 12 digits, zeroed on drop; `Debug` never prints it.
#[derive(Clone)]
pub struct Pin {
    digits: [u8; PIN_DIGITS_MAX],
    len: usize,
}

/// ISO 9564-1 format 0 bounds on the PIN length.
const PIN_DIGITS_MIN: usize = 4;
const PIN_DIGITS_MAX: usize = 12;

impl Pin {
    /// Parses 4 to 12 ASCII digits.
    ///
    /// # Errors
    /// [`CryptoError::BadPin`] otherwise.
    pub fn new(pin: &str) -> Result<Pin, CryptoError> {
        let b = pin.as_bytes();
        if !(PIN_DIGITS_MIN..=PIN_DIGITS_MAX).contains(&b.len())
            || !b.iter().all(u8::is_ascii_digit)
        {
            return Err(CryptoError::BadPin);
        }
        let mut digits = [0u8; PIN_DIGITS_MAX];
        digits[..b.len()].copy_from_slice(b);
        Ok(Pin {
            digits,
            len: b.len(),
        })
    }

    /// The PIN digits.
    pub fn expose_secret(&self) -> &str {
        // Only ASCII digits are ever stored, so this is always valid UTF-8.
        core::str::from_utf8(&self.digits[..self.len]).unwrap_or_default()
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        self.digits.zeroize();
    }
}

impl core::fmt::Debug for Pin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Pin(..)")
    }
}

/// The PAN half of a format 0 block: `0000` + the 12 rightmost PAN digits left of the
/// check digit, packed as 8 bytes.
fn pan_block(pan: &str) -> Result<[u8; BLOCK_BYTES], CryptoError> {
    let b = pan.as_bytes();
    if !(13..=19).contains(&b.len()) || !b.iter().all(u8::is_ascii_digit) {
        return Err(CryptoError::BadPan);
    }
    let twelve = &b[b.len() - 13..b.len() - 1];
    let mut out = [0u8; BLOCK_BYTES];
    for (i, pair) in twelve.chunks(2).enumerate() {
        out[2 + i] = (pair[0] - b'0') << 4 | (pair[1] - b'0');
    }
    Ok(out)
}

/// The PIN half of a format 0 block: `0`, the length, the digits, `F` padding.
fn pin_field(pin: &Pin) -> [u8; BLOCK_BYTES] {
    let mut nibbles = [0xFu8; 2 * BLOCK_BYTES];
    nibbles[0] = 0;
    nibbles[1] = pin.len as u8;
    for (n, d) in nibbles[2..].iter_mut().zip(&pin.digits[..pin.len]) {
        *n = d - b'0';
    }
    let mut out = [0u8; BLOCK_BYTES];
    for (o, pair) in out.iter_mut().zip(nibbles.chunks(2)) {
        *o = pair[0] << 4 | pair[1];
    }
    out
}

/// The clear ANSI X9.8 format 0 PIN block (PIN field XOR PAN field).
///
/// # Errors
/// [`CryptoError::BadPan`] for a PAN that is not 13 to 19 digits.
pub fn pin_block_clear(pin: &Pin, pan: &str) -> Result<[u8; BLOCK_BYTES], CryptoError> {
    let mut block = pin_field(pin);
    xor_into(&mut block, &pan_block(pan)?);
    Ok(block)
}

/// The PIN block for field 52: the clear format 0 block encrypted under the PIK.
///
/// # Errors
/// [`CryptoError::BadPan`] for a PAN that is not 13 to 19 digits.
pub fn encrypt_pin(pik: &Pik, pin: &Pin, pan: &str) -> Result<[u8; BLOCK_BYTES], CryptoError> {
    let mut block = pin_block_clear(pin, pan)?;
    encrypt(pik.0.cipher(), &mut block);
    Ok(block)
}

/// Recovers the PIN from a field 52 block.
///
/// # Errors
/// [`CryptoError::BadPan`] for a bad PAN; [`CryptoError::BadPinBlock`] when the block does
/// not decrypt to a format 0 block (wrong PIK or wrong PAN).
pub fn decrypt_pin(pik: &Pik, block: &[u8; BLOCK_BYTES], pan: &str) -> Result<Pin, CryptoError> {
    let mut clear = *block;
    decrypt(pik.0.cipher(), &mut clear);
    xor_into(&mut clear, &pan_block(pan)?);
    let result = parse_pin_field(&clear);
    clear.zeroize();
    result
}

fn parse_pin_field(clear: &[u8; BLOCK_BYTES]) -> Result<Pin, CryptoError> {
    let nibble = |i: usize| (clear[i / 2] >> (4 * (1 - i % 2))) & 0x0F;
    let len = usize::from(nibble(1));
    if nibble(0) != 0 || !(PIN_DIGITS_MIN..=PIN_DIGITS_MAX).contains(&len) {
        return Err(CryptoError::BadPinBlock);
    }
    let mut pin = Pin {
        digits: [0; PIN_DIGITS_MAX],
        len,
    };
    for i in 0..len {
        let d = nibble(2 + i);
        if d > 9 {
            return Err(CryptoError::BadPinBlock);
        }
        pin.digits[i] = b'0' + d;
    }
    if !(2 + len..2 * BLOCK_BYTES).all(|i| nibble(i) == 0xF) {
        return Err(CryptoError::BadPinBlock);
    }
    Ok(pin)
}

/// Encrypts a 16-byte working key under the TMK (3DES ECB, two blocks).
fn seal_key(tmk: &Tmk, clear: &[u8; KEY_BYTES]) -> [u8; KEY_BYTES] {
    let cipher = tmk.0.cipher();
    let mut out = *clear;
    for half in out.chunks_exact_mut(BLOCK_BYTES) {
        cipher.encrypt_block(half.into());
    }
    out
}

/// Decrypts a 16-byte working key under the TMK (3DES ECB, two blocks).
fn open_key(tmk: &Tmk, sealed: &[u8; KEY_BYTES]) -> SecretKey {
    let cipher = tmk.0.cipher();
    let mut clear = *sealed;
    for half in clear.chunks_exact_mut(BLOCK_BYTES) {
        cipher.decrypt_block(half.into());
    }
    let key = SecretKey::new(clear);
    clear.zeroize();
    key
}

impl WorkingKeys {
    /// Builds the sign-in response field 62 for a double-length key pair (60.3 `003`):
    /// each key encrypted under the TMK, with its check value.
    pub fn seal(tmk: &Tmk, pik: &Pik, mak: &Mak) -> WorkingKeys {
        WorkingKeys {
            pik: seal_key(tmk, pik.expose_secret()),
            pik_check: pik.check_value(),
            mak: seal_key(tmk, mak.expose_secret()),
            mak_check: mak.check_value(),
        }
    }

    /// Decrypts the keys of field 62 under the TMK and checks both check values.
    ///
    /// # Errors
    /// [`CryptoError::CheckValueMismatch`] naming the first key whose check value differs.
    pub fn open(&self, tmk: &Tmk) -> Result<(Pik, Mak), CryptoError> {
        let pik = Pik(open_key(tmk, &self.pik));
        if pik.check_value() != self.pik_check {
            return Err(CryptoError::CheckValueMismatch(KeyRole::Pik));
        }
        let mak = Mak(open_key(tmk, &self.mak));
        if mak.check_value() != self.mak_check {
            return Err(CryptoError::CheckValueMismatch(KeyRole::Mak));
        }
        Ok((pik, mak))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: key types never print their bytes.
    #[test]
    fn debug_hides_keys() {
        let k = Mak::from_bytes([0x11; KEY_BYTES]);
        assert_eq!(format!("{k:?}"), "Mak(..)");
        let p = Pin::new("123456");
        assert!(matches!(p, Ok(ref p) if format!("{p:?}") == "Pin(..)"));
    }

    // Goal: a 16-byte key with equal halves is single DES, as EDE2 with K1 = K2 must be
    // (FIPS 46-3 keying option 3). Vector: FIPS 81 / Rivest test key 0123456789ABCDEF,
    // plaintext "Now is t" (4E6F772069732074) -> 3FA40E8A984D4815.
    #[test]
    fn equal_halves_is_single_des() {
        let k = Mak::from_hex("0123456789ABCDEF0123456789ABCDEF");
        let Ok(k) = k else { panic!("hex") };
        let mut block = *b"Now is t";
        encrypt(k.0.cipher(), &mut block);
        assert_eq!(hex::encode_upper(block), "3FA40E8A984D4815");
    }

    // Goal: the PAN field takes the 12 digits left of the check digit.
    #[test]
    fn pan_block_digits() {
        let b = pan_block("6225881234567890123");
        assert_eq!(b.map(hex::encode_upper), Ok("0000123456789012".to_owned()));
        assert_eq!(pan_block("123456789012"), Err(CryptoError::BadPan));
    }
}
