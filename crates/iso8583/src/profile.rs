//! Field profiles as data, and the one codec they drive (jPOS's packagers are the model).
//!
//! A [`Profile`] says how a network writes a message: what comes before the MTI
//! ([`Envelope`]), how digits and length prefixes are encoded ([`Encoding`]), whether a
//! secondary bitmap (fields 65..=128) exists, and a table of [`FieldSpec`] rows (format,
//! fixed/LLVAR/LLLVAR, maximum). [`ProfiledMessage::decode`] and [`IsoMsg::encode`] read
//! nothing else, so a new network is a new table, not new code.
//!
//! Two profiles ship: [`SWITCH`], the ISO 8583:1987 acquirer-to-switch link of
//! `shared/spec/iso8583-1987-switch.md` (ASCII numerics, binary bitmap, secondary bitmap,
//! no TPDU or header), and [`POS`], the UnionPay POS terminal profile expressed in the same
//! terms over the table [`crate::FIELDS`]. The terminal path keeps its own zero-copy
//! [`crate::Message`] and [`crate::MessageBuilder`]; `tests/profiles.rs` proves that this
//! codec, driven by [`POS`], reads and writes the same bytes as they do.

use crate::bcd;
use crate::error::Error;
use crate::field::{FIELDS, FieldSpec, Format, LengthKind};
use crate::frame::{FRAME_BYTES_MAX, HEADER_BYTES, LENGTH_PREFIX_BYTES, Status, TPDU_BYTES};
use crate::message::{Mti, Reader, is_text_byte};

/// Highest field number of a profile with a secondary bitmap.
pub const FIELD_NUMBER_MAX: u8 = 128;
/// Size of one bitmap (primary or secondary).
const BITMAP_BYTES: usize = 8;
/// Slots of a message's field array: field numbers index it directly.
const SLOTS: usize = FIELD_NUMBER_MAX as usize + 1;

/// How digits (field data of `n`/`z`, length prefixes, the MTI) are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Packed BCD, two digits a byte.
    Bcd,
    /// One ASCII character a digit.
    Ascii,
}

/// What sits between the length prefix and the MTI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Envelope {
    /// Nothing: the MTI follows the length prefix.
    None,
    /// The POS profile's 5-byte TPDU and 6-byte header, kept as received.
    TpduHeader,
}

impl Envelope {
    /// Bytes the envelope takes.
    pub const fn bytes(self) -> usize {
        match self {
            Envelope::None => 0,
            Envelope::TpduHeader => TPDU_BYTES + HEADER_BYTES,
        }
    }
}

/// A network's message layout as data.
#[derive(Debug, PartialEq, Eq)]
pub struct Profile {
    /// Short name for logs.
    pub name: &'static str,
    /// What precedes the MTI.
    pub envelope: Envelope,
    /// Encoding of the MTI, of `n`/`z` data and of LL/LLL length prefixes.
    pub digits: Encoding,
    /// True when bit 1 announces a secondary bitmap (fields 65..=128).
    pub secondary_bitmap: bool,
    /// The field table indexed by field number; `None` where the profile defines nothing.
    pub fields: &'static [Option<FieldSpec>],
}

impl Profile {
    /// The table row of field `number`.
    pub fn spec(&self, number: u8) -> Option<&'static FieldSpec> {
        self.fields.get(usize::from(number))?.as_ref()
    }

    /// Highest field number a bitmap of this profile can announce.
    pub const fn field_max(&self) -> u8 {
        if self.secondary_bitmap { 128 } else { 64 }
    }

    /// Bytes of data that `units` digits or bytes of `spec` take on the wire.
    fn data_bytes(&self, spec: &FieldSpec, units: usize) -> usize {
        match (self.digits, spec.format.is_bcd()) {
            (Encoding::Bcd, true) => units.div_ceil(2),
            _ => units,
        }
    }

    /// Bytes of the length prefix of `spec`.
    fn prefix_bytes(&self, spec: &FieldSpec) -> usize {
        let digits = match spec.length {
            LengthKind::Fixed => 0,
            LengthKind::LlVar => 2,
            LengthKind::LllVar => 3,
        };
        match self.digits {
            Encoding::Ascii => digits,
            // BCD prefixes take whole bytes: LL one byte, LLL two (spec: "LLLVAR: 2 bytes").
            Encoding::Bcd => digits.div_ceil(2),
        }
    }
}

const fn ascii_row(number: u8, format: Format, length: LengthKind, max: u16) -> Option<FieldSpec> {
    Some(FieldSpec {
        number,
        format,
        length,
        max,
        max_read: max,
        left_aligned: false,
        gbk: false,
    })
}

/// The switch profile's field table (spec `iso8583-1987-switch.md`, "Fields"), with 64 and
/// 128 as raw 8-byte MAC fields (spec "Encodings": "64/128 raw 8 bytes") although this
/// profile sends no MAC.
pub static SWITCH_FIELDS: [Option<FieldSpec>; SLOTS] = {
    use Format::{An, Ans, B, N, Z};
    use LengthKind::{Fixed, LlVar, LllVar};
    let mut t: [Option<FieldSpec>; SLOTS] = [None; SLOTS];
    t[2] = ascii_row(2, N, LlVar, 19);
    t[3] = ascii_row(3, N, Fixed, 6);
    t[4] = ascii_row(4, N, Fixed, 12);
    t[7] = ascii_row(7, N, Fixed, 10);
    t[11] = ascii_row(11, N, Fixed, 6);
    t[12] = ascii_row(12, N, Fixed, 6);
    t[13] = ascii_row(13, N, Fixed, 4);
    t[14] = ascii_row(14, N, Fixed, 4);
    t[18] = ascii_row(18, N, Fixed, 4);
    t[22] = ascii_row(22, N, Fixed, 3);
    t[25] = ascii_row(25, N, Fixed, 2);
    t[32] = ascii_row(32, N, LlVar, 11);
    t[35] = ascii_row(35, Z, LlVar, 37);
    t[37] = ascii_row(37, An, Fixed, 12);
    t[38] = ascii_row(38, An, Fixed, 6);
    t[39] = ascii_row(39, An, Fixed, 2);
    t[41] = ascii_row(41, Ans, Fixed, 8);
    t[42] = ascii_row(42, Ans, Fixed, 15);
    t[43] = ascii_row(43, Ans, Fixed, 40);
    t[49] = ascii_row(49, N, Fixed, 3);
    t[52] = ascii_row(52, B, Fixed, 8);
    t[53] = ascii_row(53, N, Fixed, 16);
    t[54] = ascii_row(54, An, LllVar, 120);
    t[64] = ascii_row(64, B, Fixed, 8);
    t[70] = ascii_row(70, N, Fixed, 3);
    t[90] = ascii_row(90, N, Fixed, 42);
    t[95] = ascii_row(95, An, Fixed, 42);
    t[128] = ascii_row(128, B, Fixed, 8);
    t
};

/// The ISO 8583:1987 acquirer-to-switch profile: 2-byte big-endian length, ASCII MTI, binary
/// primary (and secondary) bitmap, ASCII digits and LL/LLL prefixes, no TPDU or header.
pub static SWITCH: Profile = Profile {
    name: "iso8583-1987-switch",
    envelope: Envelope::None,
    digits: Encoding::Ascii,
    secondary_bitmap: true,
    fields: &SWITCH_FIELDS,
};

/// The UnionPay POS terminal profile as data: TPDU and header, BCD digits and prefixes, one
/// bitmap, the table [`crate::FIELDS`].
pub static POS: Profile = Profile {
    name: "cups-pos",
    envelope: Envelope::TpduHeader,
    digits: Encoding::Bcd,
    secondary_bitmap: false,
    fields: &FIELDS,
};

/// One decoded field: data bytes as on the wire (BCD still packed) and length in units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawField<'buf> {
    /// The field's table row.
    pub spec: &'static FieldSpec,
    /// Data bytes, without the length prefix.
    pub data: &'buf [u8],
    /// Length in units: digits for `n`/`z`, bytes otherwise.
    pub units: u16,
}

/// A message decoded under a profile; every field borrows from the frame body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfiledMessage<'buf> {
    profile: &'static Profile,
    envelope: &'buf [u8],
    mti: Mti,
    fields: [Option<RawField<'buf>>; SLOTS],
}

impl<'buf> ProfiledMessage<'buf> {
    /// Decodes a frame body (the bytes after the length prefix) under `profile`, checking
    /// every length and byte against its table.
    ///
    /// # Errors
    /// The first fault found, naming the field when it is in one; see [`Error`].
    pub fn decode(
        profile: &'static Profile,
        body: &'buf [u8],
    ) -> Result<ProfiledMessage<'buf>, Error> {
        let mut r = Reader { buf: body, pos: 0 };
        let envelope = r
            .take(profile.envelope.bytes())
            .ok_or(Error::FrameTooShort)?;
        let mti_len = match profile.digits {
            Encoding::Ascii => 4,
            Encoding::Bcd => 2,
        };
        let mti_raw = r.take(mti_len).ok_or(Error::FrameTooShort)?;
        let mti = read_number(profile.digits, mti_raw)
            .and_then(|v| Mti::new(v as u16))
            .ok_or(Error::BadMti)?;
        let mut bitmap = [0u8; 2 * BITMAP_BYTES];
        bitmap[..BITMAP_BYTES].copy_from_slice(r.take(BITMAP_BYTES).ok_or(Error::FrameTooShort)?);
        if bitmap[0] & 0x80 != 0 {
            if !profile.secondary_bitmap {
                return Err(Error::SecondaryBitmap);
            }
            let second = r.take(BITMAP_BYTES).ok_or(Error::FrameTooShort)?;
            bitmap[BITMAP_BYTES..].copy_from_slice(second);
        }
        let mut fields = [None; SLOTS];
        for number in 2..=profile.field_max() {
            if bit_is_set(&bitmap, number) {
                fields[usize::from(number)] = Some(read_field(profile, number, &mut r)?);
            }
        }
        if r.pos != body.len() {
            return Err(Error::TrailingBytes);
        }
        Ok(ProfiledMessage {
            profile,
            envelope,
            mti,
            fields,
        })
    }

    /// Splits the first frame off `stream` and decodes it; on success also returns the
    /// bytes consumed. A half-arrived frame is [`Status::Partial`].
    ///
    /// # Errors
    /// Those of [`crate::split_frame`] and [`ProfiledMessage::decode`].
    pub fn decode_frame(
        profile: &'static Profile,
        stream: &'buf [u8],
    ) -> Result<Status<(ProfiledMessage<'buf>, usize)>, Error> {
        match crate::split_frame(stream)? {
            Status::Partial => Ok(Status::Partial),
            Status::Complete(f) => Ok(Status::Complete((
                ProfiledMessage::decode(profile, f.body)?,
                f.consumed,
            ))),
        }
    }

    /// The message type indicator.
    pub fn mti(&self) -> Mti {
        self.mti
    }

    /// The envelope bytes as received (empty for [`Envelope::None`]).
    pub fn envelope(&self) -> &'buf [u8] {
        self.envelope
    }

    /// Field `number` as on the wire, or `None`.
    pub fn raw(&self, number: u8) -> Option<RawField<'buf>> {
        *self.fields.get(usize::from(number))?
    }

    /// The present fields in ascending order.
    pub fn fields(&self) -> impl Iterator<Item = RawField<'buf>> + '_ {
        self.fields.iter().filter_map(|f| *f)
    }

    /// Field `number` in its canonical form: digits as ASCII (the `z` separator as `=`),
    /// text and bytes as they are.
    pub fn value(&self, number: u8) -> Option<Vec<u8>> {
        let f = self.raw(number)?;
        Some(canonical(self.profile, f))
    }

    /// An owned copy of this message.
    pub fn to_owned_msg(&self) -> IsoMsg {
        let mut m = IsoMsg::new(self.profile, self.mti);
        m.envelope = self.envelope.to_vec();
        for f in self.fields() {
            m.values[usize::from(f.spec.number)] = Some(canonical(self.profile, f));
        }
        m
    }
}

/// Canonical bytes of a decoded field.
fn canonical(profile: &Profile, f: RawField<'_>) -> Vec<u8> {
    let units = usize::from(f.units);
    match (profile.digits, f.spec.format) {
        (Encoding::Bcd, Format::N | Format::Z) => bcd::unpack(f.spec, f.data, units).into_bytes(),
        (Encoding::Ascii, Format::Z) => f
            .data
            .iter()
            .map(|&b| if b == b'D' { b'=' } else { b })
            .collect(),
        _ => f.data.to_vec(),
    }
}

/// True when the bitmap announces field `number` (bit 1 is the high bit of byte 0).
fn bit_is_set(bitmap: &[u8; 2 * BITMAP_BYTES], number: u8) -> bool {
    let i = usize::from(number - 1);
    bitmap[i / 8] & (0x80 >> (i % 8)) != 0
}

/// A number written in `encoding`, or `None` when a character or nibble is not a digit.
fn read_number(encoding: Encoding, raw: &[u8]) -> Option<u32> {
    match encoding {
        Encoding::Bcd => bcd::to_u32(raw),
        Encoding::Ascii => raw.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        }),
    }
}

fn read_field<'buf>(
    profile: &'static Profile,
    number: u8,
    r: &mut Reader<'buf>,
) -> Result<RawField<'buf>, Error> {
    let spec = profile.spec(number).ok_or(Error::UnknownField(number))?;
    let units = match spec.length {
        LengthKind::Fixed => spec.max,
        _ => {
            let raw = r
                .take(profile.prefix_bytes(spec))
                .ok_or(Error::Truncated(number))?;
            // Three digits at most, so the value fits.
            read_number(profile.digits, raw).ok_or(Error::BadLengthPrefix(number))? as u16
        }
    };
    if units > spec.max_read {
        return Err(Error::TooLong(number));
    }
    let data = r
        .take(profile.data_bytes(spec, usize::from(units)))
        .ok_or(Error::Truncated(number))?;
    if !content_ok(profile, spec, data, usize::from(units)) {
        return Err(content_error(spec));
    }
    Ok(RawField { spec, data, units })
}

fn content_ok(profile: &Profile, spec: &FieldSpec, data: &[u8], units: usize) -> bool {
    match (profile.digits, spec.format) {
        (Encoding::Bcd, Format::N | Format::Z) => bcd::check(spec, data, units),
        (Encoding::Ascii, Format::N) => data.iter().all(u8::is_ascii_digit),
        // Track 2 in ASCII: `=` is sent as `D` (spec "Fields", 35); `=` itself is accepted.
        (Encoding::Ascii, Format::Z) => data
            .iter()
            .all(|&b| b.is_ascii_digit() || b == b'D' || b == b'='),
        (_, Format::An | Format::Ans) => data.iter().all(|&b| is_text_byte(spec, b)),
        (_, Format::B) => true,
    }
}

fn content_error(spec: &FieldSpec) -> Error {
    if spec.format.is_bcd() {
        Error::BadDigit(spec.number)
    } else {
        Error::BadText(spec.number)
    }
}

/// An owned message under a profile (jPOS's `ISOMsg`): values are kept in canonical form
/// (digits as ASCII, text, bytes), each checked against the table when set, and encoded at
/// [`IsoMsg::encode`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IsoMsg {
    profile: &'static Profile,
    mti: Mti,
    envelope: Vec<u8>,
    values: Vec<Option<Vec<u8>>>,
}

impl IsoMsg {
    /// An empty message.
    pub fn new(profile: &'static Profile, mti: Mti) -> IsoMsg {
        IsoMsg {
            profile,
            mti,
            envelope: vec![0; profile.envelope.bytes()],
            values: vec![None; SLOTS],
        }
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

    /// Replaces the envelope bytes (TPDU and header of the POS profile).
    ///
    /// # Errors
    /// [`Error::FrameTooShort`] when `bytes` is not the envelope's size.
    pub fn set_envelope(&mut self, bytes: &[u8]) -> Result<&mut Self, Error> {
        if bytes.len() != self.profile.envelope.bytes() {
            return Err(Error::FrameTooShort);
        }
        self.envelope = bytes.to_vec();
        Ok(self)
    }

    /// Field `number` in canonical form, or `None`.
    pub fn get(&self, number: u8) -> Option<&[u8]> {
        self.values.get(usize::from(number))?.as_deref()
    }

    /// True when field `number` is set.
    pub fn has(&self, number: u8) -> bool {
        self.get(number).is_some()
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
        if let Some(v) = self.values.get_mut(usize::from(number)) {
            *v = None;
        }
        self
    }

    /// The present field numbers, ascending.
    pub fn numbers(&self) -> impl Iterator<Item = u8> + '_ {
        (2..=FIELD_NUMBER_MAX).filter(|&n| self.has(n))
    }

    /// Sets field `number` from its canonical form: digits for `n` (a fixed field is
    /// left-padded with `0`), digits and `=` for `z`, text for `an`/`ans` (a fixed field
    /// is right-padded with spaces), exact bytes for a fixed `b`.
    ///
    /// # Errors
    /// [`Error::UnknownField`], [`Error::TooLong`], [`Error::WrongLength`],
    /// [`Error::BadDigit`], [`Error::BadText`].
    pub fn set(&mut self, number: u8, value: &[u8]) -> Result<&mut Self, Error> {
        let spec = self
            .profile
            .spec(number)
            .ok_or(Error::UnknownField(number))?;
        let max = usize::from(spec.max);
        if value.len() > max {
            return Err(Error::TooLong(number));
        }
        let ok = match spec.format {
            Format::N => value.iter().all(u8::is_ascii_digit),
            Format::Z => value.iter().all(|&b| b.is_ascii_digit() || b == b'='),
            Format::An | Format::Ans => value.iter().all(|&b| is_text_byte(spec, b)),
            Format::B => spec.length != LengthKind::Fixed || value.len() == max,
        };
        if !ok {
            return Err(match spec.format {
                Format::B => Error::WrongLength(number),
                _ => content_error(spec),
            });
        }
        let mut v = value.to_vec();
        if spec.length == LengthKind::Fixed {
            match spec.format {
                Format::N => {
                    let mut padded = vec![b'0'; max - v.len()];
                    padded.append(&mut v);
                    v = padded;
                }
                Format::An | Format::Ans => v.resize(max, b' '),
                _ => {}
            }
        }
        self.values[usize::from(number)] = Some(v);
        Ok(self)
    }

    /// Sets a text or digit field from a `&str`; see [`IsoMsg::set`].
    ///
    /// # Errors
    /// As [`IsoMsg::set`].
    pub fn set_str(&mut self, number: u8, value: &str) -> Result<&mut Self, Error> {
        self.set(number, value.as_bytes())
    }

    /// Sets a fixed `n` field from a number, left-padded with `0`.
    ///
    /// # Errors
    /// [`Error::TooLong`] when the number has more digits than the field; as [`IsoMsg::set`].
    pub fn set_u64(&mut self, number: u8, value: u64) -> Result<&mut Self, Error> {
        self.set(number, value.to_string().as_bytes())
    }

    /// Copies field `number` from `other` when it has it.
    ///
    /// # Errors
    /// As [`IsoMsg::set`] (only when the profiles differ).
    pub fn copy_from(&mut self, other: &IsoMsg, number: u8) -> Result<&mut Self, Error> {
        if let Some(v) = other.get(number) {
            let v = v.to_vec();
            self.set(number, &v)?;
        }
        Ok(self)
    }

    /// Writes the whole frame (length prefix, envelope, MTI, bitmaps, fields) into `out`,
    /// replacing its content.
    ///
    /// # Errors
    /// [`Error::FrameTooLarge`] past [`FRAME_BYTES_MAX`]; [`Error::SecondaryBitmap`] for a
    /// field above 64 in a profile without one.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        let p = self.profile;
        out.clear();
        out.extend_from_slice(&[0; LENGTH_PREFIX_BYTES]);
        out.extend_from_slice(&self.envelope);
        write_number(p.digits, u32::from(self.mti.value()), 4, out);
        let secondary = self.numbers().any(|n| n > 64);
        if secondary && !p.secondary_bitmap {
            return Err(Error::SecondaryBitmap);
        }
        let mut bitmap = [0u8; 2 * BITMAP_BYTES];
        for n in self.numbers().chain(secondary.then_some(1)) {
            let i = usize::from(n - 1);
            bitmap[i / 8] |= 0x80 >> (i % 8);
        }
        let bitmap_len = if secondary { 2 } else { 1 } * BITMAP_BYTES;
        out.extend_from_slice(&bitmap[..bitmap_len]);
        for n in self.numbers() {
            let spec = p.spec(n).ok_or(Error::UnknownField(n))?;
            let v = self.get(n).unwrap_or_default();
            self.write_field(spec, v, out)?;
        }
        let len = out.len() - LENGTH_PREFIX_BYTES;
        if len > FRAME_BYTES_MAX {
            return Err(Error::FrameTooLarge { len });
        }
        // FRAME_BYTES_MAX < 65536, so the length fits the 2-byte prefix.
        out[..LENGTH_PREFIX_BYTES].copy_from_slice(&(len as u16).to_be_bytes());
        Ok(())
    }

    fn write_field(&self, spec: &FieldSpec, v: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        let p = self.profile;
        let digits = match spec.length {
            LengthKind::Fixed => 0,
            LengthKind::LlVar => 2,
            LengthKind::LllVar => 3,
        };
        if digits > 0 {
            // Values were checked against max <= 999 when set.
            write_number(p.digits, v.len() as u32, digits, out);
        }
        match (p.digits, spec.format) {
            (Encoding::Bcd, Format::N | Format::Z) => {
                let track = spec.format == Format::Z;
                if !bcd::pack(v, bcd::align_of(spec), track, out) {
                    return Err(Error::BadDigit(spec.number));
                }
            }
            (Encoding::Ascii, Format::Z) => {
                out.extend(v.iter().map(|&b| if b == b'=' { b'D' } else { b }));
            }
            _ => out.extend_from_slice(v),
        }
        Ok(())
    }
}

/// Writes `value` as `digits` digits in `encoding` (BCD: whole bytes, so 3 digits take 2).
fn write_number(encoding: Encoding, value: u32, digits: usize, out: &mut Vec<u8>) {
    match encoding {
        Encoding::Bcd => bcd::write_u32(value, digits.div_ceil(2), out),
        Encoding::Ascii => {
            let text = format!("{value:0digits$}");
            out.extend_from_slice(text.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: a switch message with a secondary-bitmap field round-trips and sets bit 1.
    #[test]
    fn switch_roundtrip_with_secondary_bitmap() {
        let mut m = IsoMsg::new(&SWITCH, Mti::NETWORK_REQUEST);
        assert!(m.set_str(7, "1206011500").is_ok());
        assert!(m.set_u64(11, 42).is_ok());
        assert!(m.set_str(70, "1").is_ok());
        let mut out = Vec::new();
        assert!(m.encode(&mut out).is_ok());
        assert_eq!(&out[2..6], b"0800");
        assert_eq!(out[6] & 0x80, 0x80);
        let back = IsoMsg::decode(&SWITCH, &out[2..]);
        assert_eq!(back.as_ref().ok().and_then(|b| b.text(70)), Some("001"));
        assert_eq!(back.ok().as_ref(), Some(&m));
    }

    // Goal: strict setters refuse what the table forbids.
    #[test]
    fn setters_refuse() {
        let mut m = IsoMsg::new(&SWITCH, Mti::FINANCIAL_REQUEST);
        assert_eq!(m.set_str(4, "1234567890123").err(), Some(Error::TooLong(4)));
        assert_eq!(m.set_str(4, "12a").err(), Some(Error::BadDigit(4)));
        assert_eq!(m.set(52, &[0; 7]).err(), Some(Error::WrongLength(52)));
        assert_eq!(m.set_str(5, "1").err(), Some(Error::UnknownField(5)));
        assert_eq!(m.set_str(41, "a\n").err(), Some(Error::BadText(41)));
    }
}
