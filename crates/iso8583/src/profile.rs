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
//! terms over the table [`crate::FIELDS`]. The terminal path's [`crate::Message`] and
//! [`crate::MessageBuilder`] are typed views over [`ProfiledMessage`] and [`IsoMsg`] driven
//! by [`POS`]: no field is read or written anywhere else.

use crate::bcd;
use crate::error::Error;
use crate::field::{FIELDS, FieldSpec, Format, LengthKind, MAC_FIELD};
use crate::frame::{HEADER_BYTES, Header, Status, TPDU_BYTES, Tpdu};
use crate::message::Mti;

pub use crate::isomsg::IsoMsg;

/// Highest field number of a profile with a secondary bitmap.
pub const FIELD_NUMBER_MAX: u8 = 128;
/// Size of one bitmap (primary or secondary).
pub(crate) const BITMAP_BYTES: usize = 8;
/// Slots of a message's field array: field numbers index it directly.
pub(crate) const SLOTS: usize = FIELD_NUMBER_MAX as usize + 1;

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

    /// The envelope a new message carries until it is set: for the POS profile TPDU
    /// `60 0000 0000` and the request header `60 22 00 000000`, so it decodes.
    pub(crate) fn initial(self) -> Vec<u8> {
        match self {
            Envelope::None => Vec::new(),
            Envelope::TpduHeader => {
                let tpdu = Tpdu {
                    destination: 0,
                    source: 0,
                };
                [&tpdu.to_bytes()[..], &Header::POS.to_bytes()].concat()
            }
        }
    }

    /// Reads and checks the envelope part by part, so a cut or wrong TPDU is reported as
    /// such before the header is looked at.
    fn read(self, r: &mut Reader<'_>) -> Result<(), Error> {
        match self {
            Envelope::None => Ok(()),
            Envelope::TpduHeader => {
                Tpdu::read(r.take_array().ok_or(Error::FrameTooShort)?)?;
                Header::read(r.take_array().ok_or(Error::FrameTooShort)?)?;
                Ok(())
            }
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
    /// The field that carries the MAC, the last one of the message; the MAC block ends
    /// where it begins. `None` where the profile sends no MAC.
    pub mac_field: Option<u8>,
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
        match self.digits {
            Encoding::Bcd => spec.data_bytes(units),
            Encoding::Ascii => units,
        }
    }

    /// Bytes of the length prefix of `spec`.
    fn prefix_bytes(&self, spec: &FieldSpec) -> usize {
        let digits = spec.length.prefix_digits();
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
    mac_field: None,
    fields: &SWITCH_FIELDS,
};

/// The UnionPay POS terminal profile as data: TPDU and header, BCD digits and prefixes, one
/// bitmap, the table [`crate::FIELDS`], the MAC in field 64.
pub static POS: Profile = Profile {
    name: "cups-pos",
    envelope: Envelope::TpduHeader,
    digits: Encoding::Bcd,
    secondary_bitmap: false,
    mac_field: Some(MAC_FIELD),
    fields: &FIELDS,
};

/// A forward-only reader over a frame body.
pub(crate) struct Reader<'buf> {
    buf: &'buf [u8],
    pos: usize,
}

impl<'buf> Reader<'buf> {
    fn take(&mut self, n: usize) -> Option<&'buf [u8]> {
        let s = self.buf.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }

    fn take_array<const N: usize>(&mut self) -> Option<&'buf [u8; N]> {
        self.take(N)?.first_chunk::<N>()
    }
}

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

/// Where a decoded field's data sits in the body. Offsets, not slices, keep a decoded
/// message small (a POS sale is decoded ~10,000 times a second, and the array is zeroed
/// and moved each time). A field ends at most a few KiB into a body of either table
/// (`tests::tables_fit_slots`); past `u16::MAX` the decoder answers
/// [`Error::FrameTooLarge`] rather than lose an offset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Slot {
    start: u16,
    end: u16,
    units: u16,
}

/// A body position as a slot offset.
fn offset(pos: usize, body: &[u8]) -> Result<u16, Error> {
    u16::try_from(pos).map_err(|_| Error::FrameTooLarge { len: body.len() })
}

/// A message decoded under a profile; every field borrows from the frame body.
#[derive(Clone, PartialEq, Eq)]
pub struct ProfiledMessage<'buf> {
    profile: &'static Profile,
    body: &'buf [u8],
    mti: Mti,
    /// The bitmaps as received; bit 1 (secondary bitmap present) is never a field.
    bitmap: [u8; 2 * BITMAP_BYTES],
    slots: [Slot; SLOTS],
    /// Where the MAC field begins, or the body's end without one.
    mac_end: usize,
}

impl<'buf> ProfiledMessage<'buf> {
    /// Decodes a frame body (the bytes after the length prefix) under `profile`, checking
    /// every length and byte against its table. Nothing is copied or allocated.
    ///
    /// # Errors
    /// The first fault found, naming the field when it is in one; see [`Error`].
    pub fn decode(
        profile: &'static Profile,
        body: &'buf [u8],
    ) -> Result<ProfiledMessage<'buf>, Error> {
        let mut r = Reader { buf: body, pos: 0 };
        profile.envelope.read(&mut r)?;
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
        let mut slots = [Slot::default(); SLOTS];
        let mut mac_end = body.len();
        for number in FieldNumbers::of_bitmap(&bitmap) {
            if Some(number) == profile.mac_field {
                mac_end = r.pos;
            }
            slots[usize::from(number)] = read_field(profile, number, &mut r)?;
        }
        if r.pos != body.len() {
            return Err(Error::TrailingBytes);
        }
        Ok(ProfiledMessage {
            profile,
            body,
            mti,
            bitmap,
            slots,
            mac_end,
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

    /// The profile it was decoded under.
    pub fn profile(&self) -> &'static Profile {
        self.profile
    }

    /// The message type indicator.
    pub fn mti(&self) -> Mti {
        self.mti
    }

    /// The envelope bytes as received (empty for [`Envelope::None`]).
    pub fn envelope(&self) -> &'buf [u8] {
        &self.body[..self.profile.envelope.bytes()]
    }

    /// The MAC block: the bytes from the MTI through the last field before the profile's
    /// MAC field (spec "MAC (UnionPay POS ECB algorithm)"); through the last field when
    /// the message has no MAC field.
    pub fn mac_block(&self) -> &'buf [u8] {
        let start = self.profile.envelope.bytes();
        self.body.get(start..self.mac_end).unwrap_or_default()
    }

    /// True when field `number` is present.
    pub fn has(&self, number: u8) -> bool {
        (2..=self.profile.field_max()).contains(&number) && bit_is_set(&self.bitmap, number)
    }

    /// Field `number` as on the wire, or `None`.
    pub fn raw(&self, number: u8) -> Option<RawField<'buf>> {
        if !self.has(number) {
            return None;
        }
        let spec = self.profile.spec(number)?;
        let s = self.slots[usize::from(number)];
        let data = self.body.get(usize::from(s.start)..usize::from(s.end))?;
        Some(RawField {
            spec,
            data,
            units: s.units,
        })
    }

    /// The present fields in ascending order.
    pub fn fields(&self) -> impl Iterator<Item = RawField<'buf>> + '_ {
        FieldNumbers::of_bitmap(&self.bitmap).filter_map(|n| self.raw(n))
    }

    /// Field `number` in its canonical form: digits as ASCII (the `z` separator as `=`),
    /// text and bytes as they are.
    pub fn value(&self, number: u8) -> Option<Vec<u8>> {
        let f = self.raw(number)?;
        let mut v = Vec::with_capacity(usize::from(f.units));
        canonical(self.profile, f, &mut v);
        Some(v)
    }

    /// An owned copy of this message.
    pub fn to_owned_msg(&self) -> IsoMsg {
        let mut m = IsoMsg::new(self.profile, self.mti);
        m.envelope_mut().copy_from_slice(self.envelope());
        for f in self.fields() {
            // The decoder checked every field against the same table, so the value needs
            // no second check; a POS field 60 over the encoder's 17 digits is kept as read.
            m.put(f.spec, |out| canonical(self.profile, f, out));
        }
        m
    }
}

impl core::fmt::Debug for ProfiledMessage<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ProfiledMessage")
            .field("profile", &self.profile.name)
            .field("envelope", &self.envelope())
            .field("mti", &self.mti)
            .field(
                "fields",
                &self
                    .fields()
                    .map(|r| (r.spec.number, r.data))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The digits of an `n` or `z` field (the `z` separator as `=`), or `None` for another
/// format.
pub(crate) fn digits(profile: &Profile, f: RawField<'_>) -> Option<String> {
    if !f.spec.format.is_bcd() {
        return None;
    }
    let mut s = String::with_capacity(usize::from(f.units));
    digits_with(profile, f, |b| s.push(char::from(b)));
    Some(s)
}

/// Appends the canonical bytes of a decoded field: digits as ASCII, the rest as is.
pub(crate) fn canonical(profile: &Profile, f: RawField<'_>, out: &mut Vec<u8>) {
    if f.spec.format.is_bcd() {
        digits_with(profile, f, |b| out.push(b));
    } else {
        out.extend_from_slice(f.data);
    }
}

/// Gives `push` the digits of a decoded `n` or `z` field as ASCII, `=` for the separator.
fn digits_with(profile: &Profile, f: RawField<'_>, mut push: impl FnMut(u8)) {
    match profile.digits {
        Encoding::Bcd => bcd::unpack_with(f.spec, f.data, usize::from(f.units), push),
        // Track 2 in ASCII sends `=` as `D`; `n` fields hold digits only.
        Encoding::Ascii => f
            .data
            .iter()
            .for_each(|&b| push(if b == b'D' { b'=' } else { b })),
    }
}

/// The field numbers a bitmap announces, ascending (bit 1 is the high bit of byte 0 and
/// announces the secondary bitmap, not a field).
pub(crate) struct FieldNumbers(u128);

impl FieldNumbers {
    pub(crate) fn of_bitmap(bitmap: &[u8; 2 * BITMAP_BYTES]) -> FieldNumbers {
        FieldNumbers::of_mask(u128::from_be_bytes(*bitmap))
    }

    /// `mask` holds field `n` at bit `128 - n`, so its big-endian bytes are the bitmaps.
    pub(crate) fn of_mask(mask: u128) -> FieldNumbers {
        FieldNumbers(mask & !(1 << 127))
    }
}

impl Iterator for FieldNumbers {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        if self.0 == 0 {
            return None;
        }
        let i = self.0.leading_zeros();
        self.0 &= !(1 << (127 - i));
        // i < 128, so the field number 1 + i fits.
        Some(i as u8 + 1)
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

/// Reads one field's prefix and data and checks them against its table row.
fn read_field(profile: &'static Profile, number: u8, r: &mut Reader<'_>) -> Result<Slot, Error> {
    let spec = profile.spec(number).ok_or(Error::UnknownField(number))?;
    let units = match spec.length {
        LengthKind::Fixed => spec.max,
        _ => {
            let raw = r
                .take(profile.prefix_bytes(spec))
                .ok_or(Error::Truncated(number))?;
            // Three digits at most (two BCD bytes at most 9999), so the value fits.
            read_number(profile.digits, raw).ok_or(Error::BadLengthPrefix(number))? as u16
        }
    };
    if units > spec.max_read {
        return Err(Error::TooLong(number));
    }
    let start = r.pos;
    let data = r
        .take(profile.data_bytes(spec, usize::from(units)))
        .ok_or(Error::Truncated(number))?;
    if !content_ok(profile, spec, data, usize::from(units)) {
        return Err(content_error(spec));
    }
    Ok(Slot {
        start: offset(start, r.buf)?,
        end: offset(r.pos, r.buf)?,
        units,
    })
}

fn content_ok(profile: &Profile, spec: &FieldSpec, data: &[u8], units: usize) -> bool {
    match (profile.digits, spec.format) {
        (Encoding::Bcd, Format::N | Format::Z) => bcd::check(spec, data, units),
        (Encoding::Ascii, Format::N) => data.iter().all(u8::is_ascii_digit),
        // Track 2 in ASCII: `=` is sent as `D` (spec "Fields", 35); `=` itself is accepted.
        (Encoding::Ascii, Format::Z) => data
            .iter()
            .all(|&b| b.is_ascii_digit() || b == b'D' || b == b'='),
        (_, Format::An | Format::Ans) => data.iter().all(|&b| spec.is_text_byte(b)),
        (_, Format::B) => true,
    }
}

/// The error for a field whose bytes break its format.
pub(crate) fn content_error(spec: &FieldSpec) -> Error {
    if spec.format.is_bcd() {
        Error::BadDigit(spec.number)
    } else {
        Error::BadText(spec.number)
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

    // Goal: the longest message either table allows ends within a slot's u16 offsets, so
    // `offset` never refuses a frame the table allows.
    #[test]
    fn tables_fit_slots() {
        for p in [&POS, &SWITCH] {
            let fields: usize = p
                .fields
                .iter()
                .flatten()
                .map(|s| p.prefix_bytes(s) + p.data_bytes(s, usize::from(s.max_read)))
                .sum();
            let longest = p.envelope.bytes() + 4 + 2 * BITMAP_BYTES + fields;
            assert!(longest <= usize::from(u16::MAX), "{}: {longest}", p.name);
        }
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
