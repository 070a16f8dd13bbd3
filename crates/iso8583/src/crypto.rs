//! Keys, MAC, PIN block and working-key transport (spec "Keys, PIN, MAC").
//!
//! A key is single-length DES (8 bytes) or double-length 3DES (16 bytes, EDE2), as its role
//! requires: the TMK and the TDK are double-length, the MAK is single-length (every MAC
//! step and its check value use single DES), the PIK is single-length after a `001`
//! sign-in and double-length after `003`/`004`. Key bytes live in types that zero them on
//! drop and never print them.

use cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use des::{Des, TdesEde2};
use zeroize::Zeroize;

use crate::error::{CryptoError, KeyRole};
use crate::subfields::{KeyLayout, WorkingKeys};

/// Size of a double-length DES key.
pub const KEY_BYTES: usize = 16;
/// Size of a single-length DES key (the MAK; the PIK of a `001` sign-in).
pub const SINGLE_KEY_BYTES: usize = 8;
/// Size of a DES block, a PIN block and a MAC.
pub const BLOCK_BYTES: usize = 8;
/// Size of a key check value.
pub const CHECK_VALUE_BYTES: usize = 4;

/// The key schedule of a single or a double-length key.
#[derive(Clone)]
enum Cipher {
    Single(Des),
    Double(TdesEde2),
}

impl Cipher {
    fn encrypt(&self, block: &mut [u8; BLOCK_BYTES]) {
        match self {
            Cipher::Single(c) => c.encrypt_block(block.into()),
            Cipher::Double(c) => c.encrypt_block(block.into()),
        }
    }

    fn decrypt(&self, block: &mut [u8; BLOCK_BYTES]) {
        match self {
            Cipher::Single(c) => c.decrypt_block(block.into()),
            Cipher::Double(c) => c.decrypt_block(block.into()),
        }
    }
}

/// 8 or 16 secret bytes and their key schedule, both zeroed when dropped (the schedule by
/// the `des` crate's `zeroize` feature). The schedule is kept because building it costs
/// about as much as the two block encryptions of a MAC.
#[derive(Clone)]
struct SecretKey {
    bytes: [u8; KEY_BYTES],
    len: usize,
    cipher: Cipher,
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl SecretKey {
    /// A single-length key (single DES).
    fn single(clear: &[u8; SINGLE_KEY_BYTES]) -> SecretKey {
        let mut bytes = [0u8; KEY_BYTES];
        bytes[..SINGLE_KEY_BYTES].copy_from_slice(clear);
        SecretKey {
            bytes,
            len: SINGLE_KEY_BYTES,
            cipher: Cipher::Single(Des::new(clear.into())),
        }
    }

    /// A double-length key (3DES EDE2).
    fn double(clear: &[u8; KEY_BYTES]) -> SecretKey {
        SecretKey {
            bytes: *clear,
            len: KEY_BYTES,
            cipher: Cipher::Double(TdesEde2::new(clear.into())),
        }
    }

    /// A key of 8 or 16 bytes; `None` for any other length.
    fn new(clear: &[u8]) -> Option<SecretKey> {
        if let Ok(single) = <&[u8; SINGLE_KEY_BYTES]>::try_from(clear) {
            Some(SecretKey::single(single))
        } else {
            <&[u8; KEY_BYTES]>::try_from(clear)
                .ok()
                .map(SecretKey::double)
        }
    }

    /// Parses hex whose length is one of `lens` (in bytes).
    fn from_hex(text: &str, lens: &[usize]) -> Result<SecretKey, CryptoError> {
        let len = text.len() / 2;
        if text.len() % 2 != 0 || !lens.contains(&len) {
            return Err(CryptoError::BadKey);
        }
        let mut bytes = [0u8; KEY_BYTES];
        let parsed = hex::decode_to_slice(text, &mut bytes[..len]);
        let key = parsed.ok().and_then(|()| SecretKey::new(&bytes[..len]));
        bytes.zeroize();
        key.ok_or(CryptoError::BadKey)
    }

    fn expose(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn cipher(&self) -> &Cipher {
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
            /// The clear key bytes (8 or 16), for a caller that must store or transport
            /// the key.
            pub fn expose_secret(&self) -> &[u8] {
                self.0.expose()
            }

            /// The key check value: the first 4 bytes of 8 zero bytes encrypted under the
            /// key (single DES for an 8-byte key).
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

/// Constructors of a key type that is always double-length.
macro_rules! double_length {
    ($name:ident) => {
        impl $name {
            /// Wraps 16 clear key bytes (3DES EDE2).
            pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> Self {
                Self(SecretKey::double(&bytes))
            }

            /// Parses 32 hex digits (either case), as keys come from configuration.
            ///
            /// # Errors
            /// [`CryptoError::BadKey`] for anything else.
            pub fn from_hex(text: &str) -> Result<Self, CryptoError> {
                SecretKey::from_hex(text, &[KEY_BYTES]).map(Self)
            }
        }
    };
}

key_type!(
    /// Terminal master key (double-length): encrypts the working keys sent in sign-in
    /// field 62.
    Tmk
);
double_length!(Tmk);
key_type!(
    /// PIN key (working key): encrypts PIN blocks (field 52). Single-length after a `001`
    /// sign-in, double-length after `003` and `004`.
    Pik
);
key_type!(
    /// MAC key (working key, single-length DES in every layout): computes field 64.
    Mak
);
key_type!(
    /// Track-data key (working key, double-length, sign-in `004` only): encrypts track data
    /// at the terminal. Suanpan reads the key (and checks it) but does not accept encrypted
    /// tracks; see docs/ISO8583.md.
    Tdk
);
double_length!(Tdk);
key_type!(
    /// Zone PIN key (double-length) shared by the acquirer host and the switch
    /// (`iso8583-1987-switch.md`, field 52): the host re-encrypts each terminal PIN block
    /// from the terminal's PIK to it ([`translate_pin`]).
    Zpk
);
double_length!(Zpk);

impl Zpk {
    /// The ZPK used as a PIN key, for [`encrypt_pin`] and [`decrypt_pin`].
    pub fn pin_key(&self) -> Pik {
        Pik(self.0.clone())
    }
}

/// Re-encrypts a format 0 PIN block from the terminal's PIK to the zone PIN key; the clear
/// PIN lives only in a zeroized buffer for the duration of the call.
///
/// # Errors
/// As [`decrypt_pin`] (wrong PIK or PAN: [`CryptoError::BadPinBlock`]).
pub fn translate_pin(
    pik: &Pik,
    zpk: &Zpk,
    block: &[u8; BLOCK_BYTES],
    pan: &str,
) -> Result<[u8; BLOCK_BYTES], CryptoError> {
    let pin = decrypt_pin(pik, block, pan)?;
    encrypt_pin(&zpk.pin_key(), &pin, pan)
}

impl Tmk {
    /// The key a terminal MACs its sign-in (0800) with, proving it holds the TMK without
    /// sending it: the left half is 3DES-ECB under the TMK of the terminal id (8 ASCII bytes,
    /// space-padded), the right half of the same block with every bit inverted; ECB takes
    /// the left half only. The TMK itself never MACs anything (key separation): it only
    /// encrypts working keys. See docs/ISO8583.md, "Sign-in proof".
    pub fn sign_in_mak(&self, terminal_id: &str, algorithm: MacAlgorithm) -> Mak {
        let cipher = self.0.cipher();
        let derived: Result<Mak, std::convert::Infallible> =
            sign_in_mak_with(terminal_id, algorithm, |block| {
                encrypt(cipher, block);
                Ok(())
            });
        match derived {
            Ok(mak) => mak,
            Err(never) => match never {},
        }
    }
}

/// [`Tmk::sign_in_mak`] with the TMK's 3DES-ECB given as `encrypt`, for a TMK that lives
/// where its bytes cannot be read (an HSM token encrypts the two blocks).
///
/// # Errors
/// Whatever `encrypt` returns.
pub fn sign_in_mak_with<E>(
    terminal_id: &str,
    algorithm: MacAlgorithm,
    mut encrypt: impl FnMut(&mut [u8; BLOCK_BYTES]) -> Result<(), E>,
) -> Result<Mak, E> {
    let mut block = [b' '; BLOCK_BYTES];
    for (b, c) in block.iter_mut().zip(terminal_id.bytes()) {
        *b = c;
    }
    let mut inverted = block.map(|b| !b);
    let sealed = encrypt(&mut block).and_then(|()| encrypt(&mut inverted));
    let mak = sealed.map(|()| match algorithm {
        MacAlgorithm::PosEcb => Mak::from_bytes(block),
        MacAlgorithm::X919 => {
            let mut both = [0u8; KEY_BYTES];
            both[..BLOCK_BYTES].copy_from_slice(&block);
            both[BLOCK_BYTES..].copy_from_slice(&inverted);
            let mak = Mak::from_double(both);
            both.zeroize();
            mak
        }
    });
    block.zeroize();
    inverted.zeroize();
    mak
}

impl Pik {
    /// Wraps 16 clear key bytes: a double-length PIK (3DES EDE2).
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> Pik {
        Pik(SecretKey::double(&bytes))
    }

    /// Wraps 8 clear key bytes: a single-length PIK (single DES, sign-in `001`).
    pub fn from_single(bytes: [u8; SINGLE_KEY_BYTES]) -> Pik {
        Pik(SecretKey::single(&bytes))
    }

    /// Parses 16 or 32 hex digits (either case).
    ///
    /// # Errors
    /// [`CryptoError::BadKey`] for anything else.
    pub fn from_hex(text: &str) -> Result<Pik, CryptoError> {
        SecretKey::from_hex(text, &[SINGLE_KEY_BYTES, KEY_BYTES]).map(Pik)
    }

    /// True for a single-length (8-byte) PIK.
    pub fn is_single(&self) -> bool {
        self.0.len == SINGLE_KEY_BYTES
    }
}

/// The MAC algorithm of a terminal (stored per terminal on the host, configured on the
/// terminal). See docs/ISO8583.md, "MAC algorithms".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum MacAlgorithm {
    /// The UnionPay POS "ECB" MAC under a single-length MAK: the XOR of the blocks is
    /// what gets encrypted, so two changes that cancel under XOR keep the MAC valid.
    #[default]
    PosEcb,
    /// ANSI X9.19 (ISO 9797-1 algorithm 3, the retail MAC) under a double-length MAK:
    /// CBC single DES under the left half, the last block through 3DES.
    X919,
}

impl MacAlgorithm {
    /// The name used in configuration and on the command line: `ecb` or `x919`.
    pub const fn as_str(self) -> &'static str {
        match self {
            MacAlgorithm::PosEcb => "ecb",
            MacAlgorithm::X919 => "x919",
        }
    }

    /// Parses `ecb` or `x919` (either case; `x9.19` too).
    pub fn parse(text: &str) -> Option<MacAlgorithm> {
        match text.trim().to_ascii_lowercase().as_str() {
            "ecb" => Some(MacAlgorithm::PosEcb),
            "x919" | "x9.19" => Some(MacAlgorithm::X919),
            _ => None,
        }
    }

    /// Bytes of the MAK this algorithm takes: 8 for ECB, 16 for X9.19.
    pub const fn key_bytes(self) -> usize {
        match self {
            MacAlgorithm::PosEcb => SINGLE_KEY_BYTES,
            MacAlgorithm::X919 => KEY_BYTES,
        }
    }
}

impl Mak {
    /// Wraps 8 clear key bytes (single DES): a POS ECB MAC key.
    pub fn from_bytes(bytes: [u8; SINGLE_KEY_BYTES]) -> Mak {
        Mak(SecretKey::single(&bytes))
    }

    /// Wraps 16 clear key bytes: an X9.19 MAC key.
    pub fn from_double(bytes: [u8; KEY_BYTES]) -> Mak {
        Mak(SecretKey::double(&bytes))
    }

    /// The algorithm this key MACs with: X9.19 for a double-length key, the POS ECB MAC
    /// for a single-length one.
    pub fn algorithm(&self) -> MacAlgorithm {
        if self.0.len == KEY_BYTES {
            MacAlgorithm::X919
        } else {
            MacAlgorithm::PosEcb
        }
    }

    /// Parses 16 hex digits (either case).
    ///
    /// # Errors
    /// [`CryptoError::BadKey`] for anything else, a 32-digit (double-length) key included:
    /// the MAK of this profile is single-length.
    pub fn from_hex(text: &str) -> Result<Mak, CryptoError> {
        SecretKey::from_hex(text, &[SINGLE_KEY_BYTES]).map(Mak)
    }
}

fn encrypt(cipher: &Cipher, block: &mut [u8; BLOCK_BYTES]) {
    cipher.encrypt(block);
}

fn decrypt(cipher: &Cipher, block: &mut [u8; BLOCK_BYTES]) {
    cipher.decrypt(block);
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

/// Field 64 of a MAC block under `mak`, by the key's [`MacAlgorithm`]: [`pos_ecb_mac`]
/// for a single-length MAK, [`x919_mac`] for a double-length one.
pub fn mac(mak: &Mak, mac_block: &[u8]) -> [u8; BLOCK_BYTES] {
    match mak.algorithm() {
        MacAlgorithm::PosEcb => pos_ecb_mac(mak, mac_block),
        MacAlgorithm::X919 => x919_mac(mak, mac_block),
    }
}

/// ANSI X9.19 retail MAC (ISO 9797-1 MAC algorithm 3, padding method 1): the block
/// zero-padded to a multiple of 8 (one zero block when empty), CBC single DES under the
/// MAK's left half with a zero IV, the last block through 3DES EDE2 (encrypt left, decrypt
/// right, encrypt left). Every bit of every block reaches the MAC through the chain, so
/// no two changes cancel. Field 64 is the 8 binary bytes. Given a single-length MAK it is
/// the ANSI X9.9 CBC-MAC (single DES throughout); [`mac`] never calls it with one.
pub fn x919_mac(mak: &Mak, mac_block: &[u8]) -> [u8; BLOCK_BYTES] {
    let key = mak.0.expose();
    let mut left = [0u8; SINGLE_KEY_BYTES];
    left.copy_from_slice(&key[..SINGLE_KEY_BYTES]);
    let single = Des::new((&left).into());
    left.zeroize();
    let mut acc = [0u8; BLOCK_BYTES];
    let blocks = mac_block.len().div_ceil(BLOCK_BYTES).max(1);
    for (i, chunk) in mac_block
        .chunks(BLOCK_BYTES)
        .chain(mac_block.is_empty().then_some(&[][..]))
        .enumerate()
    {
        xor_into(&mut acc, chunk);
        if i + 1 < blocks {
            single.encrypt_block((&mut acc).into());
        } else {
            encrypt(mak.0.cipher(), &mut acc);
        }
    }
    acc
}

/// The UnionPay POS ECB MAC of a MAC block (spec "MAC (UnionPay POS ECB algorithm)"):
/// R = XOR of the zero-padded 8-byte blocks; H = upper-hex(R), 16 ASCII bytes;
/// C = E(MAK, E(MAK, H[0..8]) XOR H[8..16]); MAC = the first 8 ASCII bytes of upper-hex(C).
///
/// Weakness: only R is encrypted. Two changes at the same offset of two blocks that XOR to
/// zero leave R, and so the MAC, unchanged (a digit raised in field 4 and the same bit
/// flipped in an aligned byte of another field). See docs/ISO8583.md and docs/SECURITY.md.
pub fn pos_ecb_mac(mak: &Mak, mac_block: &[u8]) -> [u8; BLOCK_BYTES] {
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
    let result = pin_from_clear_block(&clear, pan);
    clear.zeroize();
    result
}

/// The PIN of a format 0 block that was decrypted elsewhere (inside an HSM).
///
/// # Errors
/// As [`decrypt_pin`].
pub fn pin_from_clear_block(clear: &[u8; BLOCK_BYTES], pan: &str) -> Result<Pin, CryptoError> {
    let mut field = *clear;
    xor_into(&mut field, &pan_block(pan)?);
    let result = parse_pin_field(&field);
    field.zeroize();
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

/// Encrypts a working key (8 or 16 bytes) under the TMK: 3DES ECB, block by block.
fn seal_key(tmk: &Tmk, clear: &[u8], out: &mut [u8]) {
    out.copy_from_slice(clear);
    for half in out.chunks_exact_mut(BLOCK_BYTES) {
        if let Ok(block) = <&mut [u8; BLOCK_BYTES]>::try_from(half) {
            encrypt(tmk.0.cipher(), block);
        }
    }
}

/// Decrypts a working key (8 or 16 bytes) under the TMK and checks its check value.
fn open_key(
    tmk: &Tmk,
    sealed: &[u8],
    check: &[u8],
    role: KeyRole,
) -> Result<SecretKey, CryptoError> {
    let mut clear = [0u8; KEY_BYTES];
    let clear = &mut clear[..sealed.len()];
    clear.copy_from_slice(sealed);
    for half in clear.chunks_exact_mut(BLOCK_BYTES) {
        if let Ok(block) = <&mut [u8; BLOCK_BYTES]>::try_from(half) {
            decrypt(tmk.0.cipher(), block);
        }
    }
    let key = SecretKey::new(clear);
    clear.zeroize();
    let key = key.ok_or(CryptoError::BadKey)?;
    if check_value(&key) != check {
        return Err(CryptoError::CheckValueMismatch(role));
    }
    Ok(key)
}

impl WorkingKeys {
    /// Builds the sign-in response field 62 for `001` (a single-length PIK) or `003` (a
    /// double-length PIK): each key encrypted under the TMK, with its check value. A
    /// single-length (POS ECB) MAK takes 8 bytes followed by 8 zero bytes in `003`; a
    /// double-length (X9.19) MAK takes those 16 bytes, its check value under 3DES.
    ///
    /// # Errors
    /// [`CryptoError::BadKey`] for a double-length MAK with a single-length PIK: the 24
    /// bytes of `001` have no room for it.
    pub fn seal(tmk: &Tmk, pik: &Pik, mak: &Mak) -> Result<WorkingKeys, CryptoError> {
        let layout = if pik.is_single() {
            KeyLayout::Single
        } else {
            KeyLayout::Double
        };
        Self::seal_layout(layout, tmk, pik, mak, None)
    }

    /// Builds field 62 for `004`: the `003` keys plus a track-data key.
    ///
    /// # Errors
    /// [`CryptoError::BadKey`] when the PIK is single-length (`004` carries a
    /// double-length PIK).
    pub fn seal_with_track_key(
        tmk: &Tmk,
        pik: &Pik,
        mak: &Mak,
        tdk: &Tdk,
    ) -> Result<WorkingKeys, CryptoError> {
        if pik.is_single() {
            return Err(CryptoError::BadKey);
        }
        Self::seal_layout(KeyLayout::DoubleWithTrack, tmk, pik, mak, Some(tdk))
    }

    fn seal_layout(
        layout: KeyLayout,
        tmk: &Tmk,
        pik: &Pik,
        mak: &Mak,
        tdk: Option<&Tdk>,
    ) -> Result<WorkingKeys, CryptoError> {
        let mut k = WorkingKeys::empty(layout);
        let (p, pc) = layout.pik_span();
        seal_key(tmk, pik.expose_secret(), &mut k.bytes[p]);
        k.bytes[pc].copy_from_slice(&pik.check_value());
        let (m, mc) = layout
            .mak_span_for(mak.algorithm())
            .ok_or(CryptoError::BadKey)?;
        seal_key(tmk, mak.expose_secret(), &mut k.bytes[m]);
        k.bytes[mc].copy_from_slice(&mak.check_value());
        if let (Some(tdk), Some((t, tc))) = (tdk, layout.tdk_span()) {
            seal_key(tmk, tdk.expose_secret(), &mut k.bytes[t]);
            k.bytes[tc].copy_from_slice(&tdk.check_value());
        }
        Ok(k)
    }

    /// Field 62 of a `001`/`003` sign-in from keys sealed elsewhere (inside an HSM): each
    /// key already encrypted under the TMK, with its check value (at least 4 bytes, the
    /// first 4 are sent).
    ///
    /// The MAK sits where `mac` puts it (a double-length X9.19 MAK fills the 16 bytes after
    /// the PIK's check value).
    ///
    /// # Errors
    /// [`CryptoError::BadKey`] when a sealed key's length does not fit the layout, or the
    /// layout has no room for an X9.19 MAK (`001`).
    pub fn from_sealed(
        layout: KeyLayout,
        mac: MacAlgorithm,
        pik: (&[u8], &[u8]),
        mak: (&[u8], &[u8]),
    ) -> Result<WorkingKeys, CryptoError> {
        let mut k = WorkingKeys::empty(layout);
        let (mak_span, mak_check_span) = layout.mak_span_for(mac).ok_or(CryptoError::BadKey)?;
        for ((key, key_span), (check, check_span)) in [
            ((pik.0, layout.pik_span().0), (pik.1, layout.pik_span().1)),
            ((mak.0, mak_span), (mak.1, mak_check_span)),
        ] {
            let (Some(to), Some(cv)) = (
                k.bytes.get_mut(key_span.clone()),
                check.get(..CHECK_VALUE_BYTES),
            ) else {
                return Err(CryptoError::BadKey);
            };
            if to.len() != key.len() {
                return Err(CryptoError::BadKey);
            }
            to.copy_from_slice(key);
            k.bytes[check_span].copy_from_slice(cv);
        }
        Ok(k)
    }

    /// Decrypts the PIK and the MAK of field 62 under the TMK and checks every check value
    /// the layout carries (the TDK's too, for `004`).
    ///
    /// # Errors
    /// [`CryptoError::CheckValueMismatch`] naming the first key whose check value differs.
    /// A 40-byte field 62 from a host that sent a 16-byte MAK fails on the MAK: its first 8
    /// bytes do not match the check value under single DES.
    pub fn open(&self, tmk: &Tmk) -> Result<(Pik, Mak), CryptoError> {
        self.open_for(tmk, MacAlgorithm::PosEcb)
    }

    /// [`WorkingKeys::open`] for a terminal MACing with `algorithm`: an X9.19 terminal
    /// reads a double-length MAK from the 16 bytes after the PIK's check value.
    ///
    /// # Errors
    /// [`CryptoError::CheckValueMismatch`] as [`WorkingKeys::open`]; [`CryptoError::BadKey`]
    /// for X9.19 in the 24-byte `001` layout.
    pub fn open_for(&self, tmk: &Tmk, algorithm: MacAlgorithm) -> Result<(Pik, Mak), CryptoError> {
        let (p, pc) = self.layout.pik_span();
        let pik = Pik(open_key(
            tmk,
            &self.bytes[p],
            &self.bytes[pc],
            KeyRole::Pik,
        )?);
        let (m, mc) = self
            .layout
            .mak_span_for(algorithm)
            .ok_or(CryptoError::BadKey)?;
        let mak = Mak(open_key(
            tmk,
            &self.bytes[m],
            &self.bytes[mc],
            KeyRole::Mak,
        )?);
        self.open_track_key(tmk)?;
        Ok((pik, mak))
    }

    /// Decrypts and checks the track-data key of a `004` field 62; `None` for the other
    /// layouts.
    ///
    /// # Errors
    /// [`CryptoError::CheckValueMismatch`]`(Tdk)`.
    pub fn open_track_key(&self, tmk: &Tmk) -> Result<Option<Tdk>, CryptoError> {
        let Some((t, tc)) = self.layout.tdk_span() else {
            return Ok(None);
        };
        let tdk = open_key(tmk, &self.bytes[t], &self.bytes[tc], KeyRole::Tdk)?;
        Ok(Some(Tdk(tdk)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: key types never print their bytes.
    #[test]
    fn debug_hides_keys() {
        let k = Mak::from_bytes([0x11; SINGLE_KEY_BYTES]);
        assert_eq!(format!("{k:?}"), "Mak(..)");
        let p = Pin::new("123456");
        assert!(matches!(p, Ok(ref p) if format!("{p:?}") == "Pin(..)"));
    }

    // Goal: a 16-byte key with equal halves is single DES, as EDE2 with K1 = K2 must be
    // (FIPS 46-3 keying option 3). Vector: FIPS 81 / Rivest test key 0123456789ABCDEF,
    // plaintext "Now is t" (4E6F772069732074) -> 3FA40E8A984D4815.
    #[test]
    fn equal_halves_is_single_des() {
        let k = Pik::from_hex("0123456789ABCDEF0123456789ABCDEF");
        let Ok(k) = k else { panic!("hex") };
        let mut block = *b"Now is t";
        encrypt(k.0.cipher(), &mut block);
        assert_eq!(hex::encode_upper(block), "3FA40E8A984D4815");
    }

    // Goal: an 8-byte key is plain single DES (the MAK, a `001` PIK), and gives the same
    // as the 16-byte key with equal halves; the same FIPS 81 vector.
    #[test]
    fn single_length_is_single_des() {
        let Ok(k) = Mak::from_hex("0123456789ABCDEF") else {
            panic!("hex")
        };
        let mut block = *b"Now is t";
        encrypt(k.0.cipher(), &mut block);
        assert_eq!(hex::encode_upper(block), "3FA40E8A984D4815");
        let Ok(p) = Pik::from_hex("0123456789ABCDEF") else {
            panic!("hex")
        };
        assert!(p.is_single());
        assert_eq!(
            p.check_value(),
            Pik::from_bytes(*b"\x01\x23\x45\x67\x89\xAB\xCD\xEF\x01\x23\x45\x67\x89\xAB\xCD\xEF")
                .check_value()
        );
    }

    // Goal: the PAN field takes the 12 digits left of the check digit.
    #[test]
    fn pan_block_digits() {
        let b = pan_block("6225881234567890123");
        assert_eq!(b.map(hex::encode_upper), Ok("0000123456789012".to_owned()));
        assert_eq!(pan_block("123456789012"), Err(CryptoError::BadPan));
    }
}
