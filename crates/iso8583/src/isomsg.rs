//! The one encoder: an owned message under a [`Profile`] (jPOS's `ISOMsg`), whose values are
//! checked against the profile's table when set and written to the wire at encode.

use crate::bcd;
use crate::crypto::{self, Mak};
use crate::error::Error;
use crate::field::{FieldSpec, Format, LengthKind, MAC_FIELD};
use crate::frame::{FRAME_BYTES_MAX, LENGTH_PREFIX_BYTES};
use crate::message::Mti;
use crate::profile::{
    BITMAP_BYTES, Encoding, FIELD_NUMBER_MAX, FieldNumbers, Profile, ProfiledMessage, SLOTS,
    content_error,
};

/// Bytes the value arena may hold before [`IsoMsg::put`] compacts it. Setting a field twice
/// leaves the old value behind; the live values of a message are far smaller (128 fields of
/// at most 999 bytes), so this bounds what repeated setting can make a message keep.
const ARENA_BYTES_MAX: usize = 1024 * 1024;

/// Digits of the largest `u64`.
const U64_DIGITS_MAX: usize = 20;

/// The bit of field `number` (1..=128) in a presence mask: field `n` at bit `128 - n`, so
/// the mask's big-endian bytes are the primary and secondary bitmaps.
const fn bit(number: u8) -> u128 {
    1 << (FIELD_NUMBER_MAX - number)
}

/// An owned message under a profile (jPOS's `ISOMsg`): values are kept in canonical form
/// (digits as ASCII, text, bytes), each checked against the table when set, and encoded at
/// [`IsoMsg::encode`].
///
/// Values sit one after another in one buffer that [`IsoMsg::reset`] keeps, so a reused
/// message does not allocate in steady state (the host encodes ~10,000 replies a second).
#[derive(Clone)]
pub struct IsoMsg {
    profile: &'static Profile,
    mti: Mti,
    envelope: Vec<u8>,
    /// The fields set; see [`bit`].
    present: u128,
    /// Where each set field's value sits in `arena`, indexed by field number.
    spans: [(u32, u32); SLOTS],
    arena: Vec<u8>,
}

impl IsoMsg {
    /// An empty message.
    pub fn new(profile: &'static Profile, mti: Mti) -> IsoMsg {
        IsoMsg {
            profile,
            mti,
            envelope: profile.envelope.initial(),
            present: 0,
            spans: [(0, 0); SLOTS],
            arena: Vec::with_capacity(256),
        }
    }

    /// Empties the message for another one with `mti`, keeping its buffer and envelope.
    pub fn reset(&mut self, mti: Mti) -> &mut Self {
        self.mti = mti;
        self.present = 0;
        self.arena.clear();
        self
    }

    /// Decodes a frame body under `profile` into an owned message.
    ///
    /// # Errors
    /// Those of [`ProfiledMessage::decode`].
    pub fn decode(profile: &'static Profile, body: &[u8]) -> Result<IsoMsg, Error> {
        Ok(ProfiledMessage::decode(profile, body)?.to_owned_msg())
    }

    /// The profile.
    pub fn profile(&self) -> &'static Profile {
        self.profile
    }

    /// The MTI.
    pub fn mti(&self) -> Mti {
        self.mti
    }

    /// Replaces the MTI (e.g. 0420 → 0421 for a repeat).
    pub fn set_mti(&mut self, mti: Mti) -> &mut Self {
        self.mti = mti;
        self
    }

    /// The envelope bytes (TPDU and header of the POS profile; empty without one).
    pub fn envelope(&self) -> &[u8] {
        &self.envelope
    }

    /// Replaces the envelope bytes (TPDU and header of the POS profile).
    ///
    /// # Errors
    /// [`Error::FrameTooShort`] when `bytes` is not the envelope's size.
    pub fn set_envelope(&mut self, bytes: &[u8]) -> Result<&mut Self, Error> {
        if bytes.len() != self.profile.envelope.bytes() {
            return Err(Error::FrameTooShort);
        }
        self.envelope.copy_from_slice(bytes);
        Ok(self)
    }

    /// The envelope bytes to write in place (always the profile's envelope size).
    pub(crate) fn envelope_mut(&mut self) -> &mut [u8] {
        &mut self.envelope
    }

    /// Field `number` in canonical form, or `None`.
    pub fn get(&self, number: u8) -> Option<&[u8]> {
        if !self.has(number) {
            return None;
        }
        let (start, end) = self.spans[usize::from(number)];
        self.arena.get(start as usize..end as usize)
    }

    /// True when field `number` is set.
    pub fn has(&self, number: u8) -> bool {
        (1..=FIELD_NUMBER_MAX).contains(&number) && self.present & bit(number) != 0
    }

    /// Field `number` as text (digits and ASCII text fields), or `None` when absent or not
    /// ASCII.
    pub fn text(&self, number: u8) -> Option<&str> {
        core::str::from_utf8(self.get(number)?).ok()
    }

    /// Field `number` (an `n` field) as a number.
    pub fn u64(&self, number: u8) -> Option<u64> {
        let t = self.text(number)?;
        if t.len() > 19 {
            return None;
        }
        t.parse().ok()
    }

    /// Removes field `number`.
    pub fn remove(&mut self, number: u8) -> &mut Self {
        if self.has(number) {
            self.present &= !bit(number);
        }
        self
    }

    /// The present field numbers, ascending.
    pub fn numbers(&self) -> impl Iterator<Item = u8> + '_ {
        FieldNumbers::of_mask(self.present)
    }

    /// Sets field `number` from its canonical form: digits for `n` (a fixed field is
    /// left-padded with `0`, spec: "left-padded with 0 to the field's digit count"), digits
    /// and `=` for `z`, text for `an`/`ans` (a fixed field is right-padded with spaces),
    /// exact bytes for a fixed `b` (no padding is defined for binary data). Setting a field
    /// twice keeps the last value.
    ///
    /// # Errors
    /// [`Error::UnknownField`], [`Error::WrongLength`] (fixed `b`), [`Error::TooLong`],
    /// [`Error::BadDigit`], [`Error::BadText`] (not printable ASCII, or GBK where the field
    /// allows it).
    pub fn set(&mut self, number: u8, value: &[u8]) -> Result<&mut Self, Error> {
        let spec = self
            .profile
            .spec(number)
            .ok_or(Error::UnknownField(number))?;
        check_value(spec, value)?;
        let pad = usize::from(spec.max) - value.len();
        self.put(spec, |out| match (spec.length, spec.format) {
            (LengthKind::Fixed, Format::N) => {
                out.resize(out.len() + pad, b'0');
                out.extend_from_slice(value);
            }
            (LengthKind::Fixed, Format::An | Format::Ans) => {
                out.extend_from_slice(value);
                out.resize(out.len() + pad, b' ');
            }
            _ => out.extend_from_slice(value),
        });
        Ok(self)
    }

    /// Sets a text or digit field from a `&str`; see [`IsoMsg::set`].
    ///
    /// # Errors
    /// As [`IsoMsg::set`].
    pub fn set_str(&mut self, number: u8, value: &str) -> Result<&mut Self, Error> {
        self.set(number, value.as_bytes())
    }

    /// Sets an `n` field from a number; a fixed field is left-padded with `0`.
    ///
    /// # Errors
    /// [`Error::TooLong`] when the number has more digits than the field; as [`IsoMsg::set`].
    pub fn set_u64(&mut self, number: u8, value: u64) -> Result<&mut Self, Error> {
        let mut digits = [0u8; U64_DIGITS_MAX];
        let mut start = U64_DIGITS_MAX;
        let mut rest = value;
        loop {
            start -= 1;
            digits[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        self.set(number, &digits[start..])
    }

    /// Copies field `number` from `other` when it has it.
    ///
    /// # Errors
    /// As [`IsoMsg::set`] (only when the profiles differ).
    pub fn copy_from(&mut self, other: &IsoMsg, number: u8) -> Result<&mut Self, Error> {
        if let Some(v) = other.get(number) {
            self.set(number, v)?;
        }
        Ok(self)
    }

    /// Appends field `spec.number`'s canonical value, written by `fill`, to the arena; the
    /// caller checked it against `spec`.
    pub(crate) fn put(&mut self, spec: &FieldSpec, fill: impl FnOnce(&mut Vec<u8>)) {
        if self.arena.len() > ARENA_BYTES_MAX {
            self.compact();
        }
        let start = self.arena.len();
        fill(&mut self.arena);
        // The arena stays under ARENA_BYTES_MAX plus one value, far below u32::MAX.
        self.spans[usize::from(spec.number)] = (start as u32, self.arena.len() as u32);
        self.present |= bit(spec.number);
    }

    /// Drops the values that later sets replaced.
    fn compact(&mut self) {
        let mut arena = Vec::with_capacity(self.arena.capacity());
        for n in FieldNumbers::of_mask(self.present) {
            let (start, end) = &mut self.spans[usize::from(n)];
            let from = arena.len();
            arena.extend_from_slice(&self.arena[*start as usize..*end as usize]);
            (*start, *end) = (from as u32, arena.len() as u32);
        }
        self.arena = arena;
    }

    /// Writes the whole frame (length prefix, envelope, MTI, bitmaps, fields) into `out`,
    /// replacing its content. The MAC field is written as set, if set.
    ///
    /// # Errors
    /// [`Error::FrameTooLarge`] past [`FRAME_BYTES_MAX`]; [`Error::SecondaryBitmap`] for a
    /// field above 64 in a profile without one.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        self.write(self.present, self.present, out)?;
        finish(out)
    }

    /// Like [`IsoMsg::encode`], but announces the profile's MAC field and writes into it
    /// the MAC of the bytes from the MTI through the last field before it, computed under
    /// `mak`. A MAC field set earlier is ignored.
    ///
    /// # Errors
    /// As [`IsoMsg::encode`]; [`Error::UnknownField`] for a profile without a MAC field,
    /// or for a field set after it (the MAC is the last field of a message).
    pub fn encode_with_mac(&self, mak: &Mak, out: &mut Vec<u8>) -> Result<(), Error> {
        let mac_field = self
            .profile
            .mac_field
            .ok_or(Error::UnknownField(MAC_FIELD))?;
        let mac = bit(mac_field);
        if let Some(after) = FieldNumbers::of_mask(self.present & (mac - 1)).next() {
            return Err(Error::UnknownField(after));
        }
        self.write(self.present | mac, self.present & !mac, out)?;
        let mac_start = LENGTH_PREFIX_BYTES + self.profile.envelope.bytes();
        let code = crypto::mac(mak, &out[mac_start..]);
        out.extend_from_slice(&code);
        finish(out)
    }

    /// Writes everything before the fields' end with a placeholder length prefix: the
    /// bitmap announces `announced`, and the fields of `written` follow it.
    fn write(&self, announced: u128, written: u128, out: &mut Vec<u8>) -> Result<(), Error> {
        let p = self.profile;
        out.clear();
        out.extend_from_slice(&[0; LENGTH_PREFIX_BYTES]);
        out.extend_from_slice(&self.envelope);
        write_number(p.digits, u32::from(self.mti.value()), 4, out);
        let secondary = announced & u128::from(u64::MAX) != 0;
        if secondary && !p.secondary_bitmap {
            return Err(Error::SecondaryBitmap);
        }
        let bitmaps = (announced | if secondary { bit(1) } else { 0 }).to_be_bytes();
        let bitmap_bytes = if secondary { 2 } else { 1 } * BITMAP_BYTES;
        out.extend_from_slice(&bitmaps[..bitmap_bytes]);
        for n in FieldNumbers::of_mask(written) {
            let spec = p.spec(n).ok_or(Error::UnknownField(n))?;
            let (start, end) = self.spans[usize::from(n)];
            write_field(p, spec, &self.arena[start as usize..end as usize], out);
        }
        Ok(())
    }
}

impl PartialEq for IsoMsg {
    fn eq(&self, other: &IsoMsg) -> bool {
        self.profile == other.profile
            && self.mti == other.mti
            && self.envelope == other.envelope
            && self.present == other.present
            && self.numbers().all(|n| self.get(n) == other.get(n))
    }
}

impl Eq for IsoMsg {}

impl core::fmt::Debug for IsoMsg {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IsoMsg")
            .field("profile", &self.profile.name)
            .field("mti", &self.mti)
            .field("envelope", &self.envelope)
            .field(
                "fields",
                &self
                    .numbers()
                    .map(|n| (n, self.get(n).unwrap_or_default()))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Checks a canonical value against its table row.
fn check_value(spec: &FieldSpec, value: &[u8]) -> Result<(), Error> {
    let max = usize::from(spec.max);
    if spec.format == Format::B && spec.length == LengthKind::Fixed && value.len() != max {
        return Err(Error::WrongLength(spec.number));
    }
    if value.len() > max {
        return Err(Error::TooLong(spec.number));
    }
    let ok = match spec.format {
        Format::N => value.iter().all(u8::is_ascii_digit),
        Format::Z => value.iter().all(|&b| b.is_ascii_digit() || b == b'='),
        Format::An | Format::Ans => value.iter().all(|&b| spec.is_text_byte(b)),
        Format::B => true,
    };
    if ok { Ok(()) } else { Err(content_error(spec)) }
}

/// Writes one field: its length prefix, if any, and its data in the profile's encoding.
fn write_field(p: &Profile, spec: &FieldSpec, v: &[u8], out: &mut Vec<u8>) {
    let digits = spec.length.prefix_digits();
    if digits > 0 {
        // Values are at most 999 units: checked against max when set, or read under a
        // prefix of the same width when decoded.
        write_number(p.digits, v.len() as u32, digits, out);
    }
    match (p.digits, spec.format) {
        // Values were checked when set (or by the decoder), so they pack as they are.
        (Encoding::Bcd, Format::N | Format::Z) => bcd::pack_digits(v, bcd::align_of(spec), out),
        (Encoding::Ascii, Format::Z) => {
            out.extend(v.iter().map(|&b| if b == b'=' { b'D' } else { b }));
        }
        _ => out.extend_from_slice(v),
    }
}

/// Writes `value` as `digits` digits in `encoding` (BCD: whole bytes, so 3 digits take 2).
fn write_number(encoding: Encoding, value: u32, digits: usize, out: &mut Vec<u8>) {
    match encoding {
        Encoding::Bcd => bcd::write_u32(value, digits.div_ceil(2), out),
        Encoding::Ascii => {
            out.extend(
                (0..digits)
                    .rev()
                    .map(|i| b'0' + (value / 10u32.pow(i as u32) % 10) as u8),
            );
        }
    }
}

/// Fills in the length prefix once the body is complete.
fn finish(out: &mut [u8]) -> Result<(), Error> {
    let len = out.len() - LENGTH_PREFIX_BYTES;
    if len > FRAME_BYTES_MAX {
        return Err(Error::FrameTooLarge { len });
    }
    // FRAME_BYTES_MAX < 65536, so the length fits the 2-byte prefix.
    out[..LENGTH_PREFIX_BYTES].copy_from_slice(&(len as u16).to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{POS, SWITCH};

    // Goal: a field set again keeps its last value, in place in the field order, and a
    // message whose arena passed its limit keeps its live values only.
    #[test]
    fn set_again_and_compaction() {
        let mut m = IsoMsg::new(&SWITCH, Mti::FINANCIAL_REQUEST);
        let long = [b'A'; 120];
        let rounds = ARENA_BYTES_MAX / long.len() + 2;
        for i in 0..rounds {
            assert!(m.set(54, &long[..120 - i % 2]).is_ok());
            assert!(m.set_u64(11, i as u64).is_ok());
        }
        assert!(m.arena.len() <= ARENA_BYTES_MAX + long.len() + 6);
        assert_eq!(m.get(54).map(<[u8]>::len), Some(120 - (rounds - 1) % 2));
        assert_eq!(m.u64(11), Some(rounds as u64 - 1));
        assert_eq!(m.numbers().collect::<Vec<_>>(), [11, 54]);
        m.remove(11);
        assert!(!m.has(11) && m.get(11).is_none());
        assert_eq!(m.numbers().collect::<Vec<_>>(), [54]);
    }

    // Goal: only a profile with a MAC field encodes a MAC, and the MAC field is the last.
    #[test]
    fn mac_needs_a_mac_field() {
        let mak = Mak::from_bytes(*b"01234567");
        let mut out = Vec::new();
        let m = IsoMsg::new(&SWITCH, Mti::FINANCIAL_REQUEST);
        assert_eq!(
            m.encode_with_mac(&mak, &mut out).err(),
            Some(Error::UnknownField(MAC_FIELD))
        );
        assert_eq!(POS.mac_field, Some(POS.field_max()));
        let mut pos = IsoMsg::new(&POS, Mti::FINANCIAL_REQUEST);
        assert!(pos.set_u64(11, 7).is_ok());
        assert!(pos.encode_with_mac(&mak, &mut out).is_ok());
        let back = ProfiledMessage::decode(&POS, &out[LENGTH_PREFIX_BYTES..]);
        let back = back.unwrap_or_else(|e| panic!("{e} {out:02x?}"));
        assert!(back.has(MAC_FIELD), "{back:?}");
        assert_eq!(back.mac_block().len(), 2 + 8 + 3);
    }
}
