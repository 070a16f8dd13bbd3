//! The strict encoder: typed setters check each value against the field table, and
//! [`MessageBuilder::encode`] writes the whole frame into a caller-owned buffer.

use crate::bcd;
use crate::crypto::{self, Mak};
use crate::error::Error;
use crate::field::{self, FieldSpec, Format, LengthKind, MAC_FIELD};
use crate::frame::{FRAME_BYTES_MAX, Header, LENGTH_PREFIX_BYTES, Tpdu};
use crate::message::{BITMAP_BYTES, FIELD_MAX, MTI_OFFSET, Message, Mti, is_text_byte};

/// Longest fixed `n` field in the table (53, n16); sizes a stack buffer for padding.
const FIXED_N_DIGITS_MAX: usize = 16;

/// Collects the fields of one message and encodes them as a frame.
///
/// Setters encode the value at once into an internal buffer that [`MessageBuilder::reset`]
/// keeps, so a reused builder does not allocate in steady state. Setting a field twice
/// keeps the last value.
#[derive(Clone, Debug)]
pub struct MessageBuilder {
    tpdu: Tpdu,
    header: Header,
    mti: Mti,
    /// Encoded fields (length prefix + data) in the order they were set.
    arena: Vec<u8>,
    /// Where each field's encoding sits in `arena`, indexed by field number.
    slots: [Option<(usize, usize)>; FIELD_MAX as usize + 1],
}

impl MessageBuilder {
    /// An empty message.
    pub fn new(tpdu: Tpdu, header: Header, mti: Mti) -> MessageBuilder {
        MessageBuilder {
            tpdu,
            header,
            mti,
            arena: Vec::with_capacity(256),
            slots: [None; FIELD_MAX as usize + 1],
        }
    }

    /// Empties the builder for another message, keeping its buffer.
    pub fn reset(&mut self, tpdu: Tpdu, header: Header, mti: Mti) {
        self.tpdu = tpdu;
        self.header = header;
        self.mti = mti;
        self.arena.clear();
        self.slots = [None; FIELD_MAX as usize + 1];
    }

    /// Replaces the MTI.
    pub fn set_mti(&mut self, mti: Mti) -> &mut Self {
        self.mti = mti;
        self
    }

    /// Replaces the header.
    pub fn set_header(&mut self, header: Header) -> &mut Self {
        self.header = header;
        self
    }

    /// The MTI.
    pub fn mti(&self) -> Mti {
        self.mti
    }

    /// True when field `number` is set.
    pub fn has(&self, number: u8) -> bool {
        self.slots
            .get(usize::from(number))
            .is_some_and(Option::is_some)
    }

    /// Removes field `number` if set.
    pub fn remove(&mut self, number: u8) -> &mut Self {
        if let Some(slot) = self.slots.get_mut(usize::from(number)) {
            *slot = None;
        }
        self
    }

    /// Sets an `n` field from ASCII digits. A fixed field shorter than its length is
    /// left-padded with `0` (spec: "left-padded with 0 to the field's digit count").
    ///
    /// # Errors
    /// [`Error::WrongFormat`] if the field is not `n`, [`Error::TooLong`],
    /// [`Error::BadDigit`] for a non-digit.
    pub fn set_n(&mut self, number: u8, digits: &str) -> Result<&mut Self, Error> {
        let spec = spec_of(number, Format::N)?;
        let digits = digits.as_bytes();
        if digits.len() > usize::from(spec.max) {
            return Err(Error::TooLong(number));
        }
        if spec.length != LengthKind::Fixed {
            return self.put_bcd(spec, digits);
        }
        let mut padded = [b'0'; FIXED_N_DIGITS_MAX];
        let width = usize::from(spec.max);
        padded[width - digits.len()..width].copy_from_slice(digits);
        self.put_bcd(spec, &padded[..width])
    }

    /// Sets a fixed `n` field from a number, left-padded with `0` (amounts, STAN).
    ///
    /// # Errors
    /// [`Error::WrongFormat`] if the field is not a fixed `n` field, [`Error::TooLong`] if
    /// the number has more digits than the field.
    pub fn set_n_u64(&mut self, number: u8, value: u64) -> Result<&mut Self, Error> {
        let spec = spec_of(number, Format::N)?;
        if spec.length != LengthKind::Fixed {
            return Err(Error::WrongFormat(number));
        }
        let width = usize::from(spec.max);
        let mut padded = [b'0'; FIXED_N_DIGITS_MAX];
        let mut rest = value;
        for d in padded[..width].iter_mut().rev() {
            *d = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        if rest != 0 {
            return Err(Error::TooLong(number));
        }
        self.put_bcd(spec, &padded[..width])
    }

    /// Sets a `z` (track) field from digits and `=`.
    ///
    /// # Errors
    /// [`Error::WrongFormat`] if the field is not `z`, [`Error::TooLong`],
    /// [`Error::BadDigit`] for anything but digits and `=`.
    pub fn set_z(&mut self, number: u8, track: &str) -> Result<&mut Self, Error> {
        let spec = spec_of(number, Format::Z)?;
        if track.len() > usize::from(spec.max) {
            return Err(Error::TooLong(number));
        }
        self.put_bcd(spec, track.as_bytes())
    }

    /// Sets an `an` or `ans` field. A fixed field shorter than its length is right-padded
    /// with spaces (spec: "fixed: left-aligned, right-padded with spaces").
    ///
    /// # Errors
    /// [`Error::WrongFormat`] if the field is not text, [`Error::TooLong`],
    /// [`Error::BadText`] for a byte that is not printable ASCII (or GBK in 44 and 63).
    pub fn set_ans(&mut self, number: u8, text: &[u8]) -> Result<&mut Self, Error> {
        let spec = field::spec(number).ok_or(Error::UnknownField(number))?;
        if !spec.is_text() {
            return Err(Error::WrongFormat(number));
        }
        if text.len() > usize::from(spec.max) {
            return Err(Error::TooLong(number));
        }
        if !text.iter().all(|&b| is_text_byte(spec, b)) {
            return Err(Error::BadText(number));
        }
        let units = match spec.length {
            LengthKind::Fixed => usize::from(spec.max),
            _ => text.len(),
        };
        let start = self.begin(spec, units);
        self.arena.extend_from_slice(text);
        self.arena
            .resize(self.arena.len() + units - text.len(), b' ');
        self.commit(number, start);
        Ok(self)
    }

    /// Sets a `b` field. A fixed field must have exactly its length (no padding is defined
    /// for binary data).
    ///
    /// # Errors
    /// [`Error::WrongFormat`] if the field is not `b`, [`Error::WrongLength`] for a fixed
    /// field, [`Error::TooLong`] for a variable one.
    pub fn set_b(&mut self, number: u8, bytes: &[u8]) -> Result<&mut Self, Error> {
        let spec = spec_of(number, Format::B)?;
        match spec.length {
            LengthKind::Fixed if bytes.len() != usize::from(spec.max) => {
                return Err(Error::WrongLength(number));
            }
            _ if bytes.len() > usize::from(spec.max) => return Err(Error::TooLong(number)),
            _ => {}
        }
        let start = self.begin(spec, bytes.len());
        self.arena.extend_from_slice(bytes);
        self.commit(number, start);
        Ok(self)
    }

    /// Packs checked-length BCD digits with the field's alignment.
    fn put_bcd(&mut self, spec: &FieldSpec, digits: &[u8]) -> Result<&mut Self, Error> {
        let start = self.begin(spec, digits.len());
        let track = spec.format == Format::Z;
        if !bcd::pack(digits, bcd::align_of(spec), track, &mut self.arena) {
            self.arena.truncate(start);
            return Err(Error::BadDigit(spec.number));
        }
        self.commit(spec.number, start);
        Ok(self)
    }

    /// Writes the length prefix (if any) and returns where the field starts in the arena.
    fn begin(&mut self, spec: &FieldSpec, units: usize) -> usize {
        let start = self.arena.len();
        // Callers checked units <= spec.max <= 9999, so the prefix is exact.
        match spec.length {
            LengthKind::Fixed => {}
            LengthKind::LlVar => bcd::write_u32(units as u32, 1, &mut self.arena),
            LengthKind::LllVar => bcd::write_u32(units as u32, 2, &mut self.arena),
        }
        start
    }

    fn commit(&mut self, number: u8, start: usize) {
        self.slots[usize::from(number)] = Some((start, self.arena.len()));
    }

    /// Writes the whole frame (length prefix, TPDU, header, MTI, bitmap, fields) into
    /// `out`, replacing its content. Field 64 is written as set, if set.
    ///
    /// # Errors
    /// [`Error::BadHeader`] if a header part has too many digits;
    /// [`Error::FrameTooLarge`] past [`FRAME_BYTES_MAX`].
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        self.write_until_mac(out, self.has(MAC_FIELD))?;
        if let Some((start, end)) = self.slots[usize::from(MAC_FIELD)] {
            out.extend_from_slice(&self.arena[start..end]);
        }
        finish(out)
    }

    /// Like [`MessageBuilder::encode`], but sets bit 64 and appends the MAC of the bytes
    /// from the MTI through the last field before 64, computed under `mak`. A field 64
    /// set earlier is ignored.
    ///
    /// # Errors
    /// As [`MessageBuilder::encode`].
    pub fn encode_with_mac(&self, mak: &Mak, out: &mut Vec<u8>) -> Result<(), Error> {
        self.write_until_mac(out, true)?;
        let mac_start = LENGTH_PREFIX_BYTES + MTI_OFFSET;
        let mac = crypto::mac(mak, &out[mac_start..]);
        out.extend_from_slice(&mac);
        finish(out)
    }

    /// Writes everything before field 64 with a placeholder length prefix.
    fn write_until_mac(&self, out: &mut Vec<u8>, with_mac: bool) -> Result<(), Error> {
        if !self.header.is_valid() {
            return Err(Error::BadHeader);
        }
        out.clear();
        out.extend_from_slice(&[0; LENGTH_PREFIX_BYTES]);
        self.tpdu.write(out);
        self.header.write(out);
        bcd::write_u32(u32::from(self.mti.value()), 2, out);
        out.extend_from_slice(&self.bitmap(with_mac));
        for slot in self.slots[..usize::from(MAC_FIELD)].iter().flatten() {
            out.extend_from_slice(&self.arena[slot.0..slot.1]);
        }
        Ok(())
    }

    fn bitmap(&self, with_mac: bool) -> [u8; BITMAP_BYTES] {
        let mut bitmap = [0u8; BITMAP_BYTES];
        let present = (2..MAC_FIELD).filter(|&n| self.has(n));
        for n in present.chain(with_mac.then_some(MAC_FIELD)) {
            let i = usize::from(n - 1);
            bitmap[i / 8] |= 0x80 >> (i % 8);
        }
        bitmap
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

/// The table row of `number`, which must have `format`.
fn spec_of(number: u8, format: Format) -> Result<&'static FieldSpec, Error> {
    let spec = field::spec(number).ok_or(Error::UnknownField(number))?;
    if spec.format != format {
        return Err(Error::WrongFormat(number));
    }
    Ok(spec)
}

impl Message<'_> {
    /// A builder holding this message's TPDU, header, MTI and fields, each re-checked by
    /// the strict setters (so F padding becomes 0 padding, and reserved header bytes
    /// become zeros). Useful to echo a request.
    ///
    /// # Errors
    /// [`Error::TooLong`]`(60)` for a field 60 longer than the encoder writes (the decoder
    /// reads up to 32 digits, the encoder writes at most 17); no other field can fail, as
    /// the decoder checks the rest exactly as the setters do.
    pub fn to_builder(&self) -> Result<MessageBuilder, Error> {
        let mut b = MessageBuilder::new(self.tpdu(), self.header(), self.mti());
        for f in self.fields() {
            let n = f.number();
            match f.spec().format {
                Format::N => b.set_n(n, &f.digits()?)?,
                Format::Z => b.set_z(n, &f.digits()?)?,
                Format::An | Format::Ans => b.set_ans(n, f.bytes())?,
                Format::B => b.set_b(n, f.bytes())?,
            };
        }
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: the stack buffer for fixed n padding is large enough for every table row.
    #[test]
    fn fixed_n_fits_buffer() {
        let rows = field::FIELDS.iter().flatten();
        for s in rows.filter(|s| s.format == Format::N && s.length == LengthKind::Fixed) {
            assert!(
                usize::from(s.max) <= FIXED_N_DIGITS_MAX,
                "field {}",
                s.number
            );
        }
    }

    // Goal: the strict setters refuse what breaks the format.
    #[test]
    fn setters_refuse() {
        let mut b = MessageBuilder::new(
            Tpdu {
                destination: 3,
                source: 0,
            },
            Header::POS,
            Mti::FINANCIAL_REQUEST,
        );
        assert_eq!(b.set_n(4, "1234567890123").err(), Some(Error::TooLong(4)));
        assert_eq!(b.set_n(4, "12a").err(), Some(Error::BadDigit(4)));
        assert_eq!(b.set_n_u64(11, 1_000_000).err(), Some(Error::TooLong(11)));
        assert_eq!(b.set_n_u64(2, 1).err(), Some(Error::WrongFormat(2)));
        assert_eq!(b.set_ans(41, b"123456789").err(), Some(Error::TooLong(41)));
        assert_eq!(b.set_ans(41, b"1234\n").err(), Some(Error::BadText(41)));
        assert_eq!(
            b.set_ans(41, "终端".as_bytes()).err(),
            Some(Error::BadText(41))
        );
        assert_eq!(b.set_b(52, &[0; 7]).err(), Some(Error::WrongLength(52)));
        assert_eq!(b.set_b(62, &[0; 513]).err(), Some(Error::TooLong(62)));
        assert_eq!(b.set_z(35, "12=3D").err(), Some(Error::BadDigit(35)));
        assert_eq!(b.set_n(5, "1").err(), Some(Error::UnknownField(5)));
        assert_eq!(b.set_b(3, &[1]).err(), Some(Error::WrongFormat(3)));
        assert!(!b.has(4) && !b.has(41) && !b.has(35));
    }
}
