//! The terminal path's typed encoder: a [`MessageBuilder`] is an [`IsoMsg`] under [`POS`]
//! with typed TPDU, header and setters that also check each field's format; the profile
//! codec checks and writes every value.

use crate::crypto::Mak;
use crate::error::Error;
use crate::field::{self, FieldSpec, Format, LengthKind};
use crate::frame::{Header, TPDU_BYTES, Tpdu};
use crate::message::{Message, Mti};
use crate::profile::{self, IsoMsg, POS};

/// Collects the fields of one message and encodes them as a frame.
///
/// [`MessageBuilder::reset`] keeps the buffers, so a reused builder does not allocate in
/// steady state. Setting a field twice keeps the last value.
#[derive(Clone, Debug)]
pub struct MessageBuilder {
    tpdu: Tpdu,
    header: Header,
    msg: IsoMsg,
}

impl MessageBuilder {
    /// An empty message.
    pub fn new(tpdu: Tpdu, header: Header, mti: Mti) -> MessageBuilder {
        let mut b = MessageBuilder {
            tpdu,
            header,
            msg: IsoMsg::new(&POS, mti),
        };
        b.write_envelope();
        b
    }

    /// Empties the builder for another message, keeping its buffer.
    pub fn reset(&mut self, tpdu: Tpdu, header: Header, mti: Mti) {
        self.tpdu = tpdu;
        self.header = header;
        self.msg.reset(mti);
        self.write_envelope();
    }

    /// Keeps the message's envelope bytes equal to the typed TPDU and header.
    fn write_envelope(&mut self) {
        let envelope = self.msg.envelope_mut();
        envelope[..TPDU_BYTES].copy_from_slice(&self.tpdu.to_bytes());
        envelope[TPDU_BYTES..].copy_from_slice(&self.header.to_bytes());
    }

    /// Replaces the MTI.
    pub fn set_mti(&mut self, mti: Mti) -> &mut Self {
        self.msg.set_mti(mti);
        self
    }

    /// Replaces the header.
    pub fn set_header(&mut self, header: Header) -> &mut Self {
        self.header = header;
        self.write_envelope();
        self
    }

    /// The MTI.
    pub fn mti(&self) -> Mti {
        self.msg.mti()
    }

    /// The message as the profile codec holds it.
    pub fn iso_msg(&self) -> &IsoMsg {
        &self.msg
    }

    /// True when field `number` is set.
    pub fn has(&self, number: u8) -> bool {
        self.msg.has(number)
    }

    /// Removes field `number` if set.
    pub fn remove(&mut self, number: u8) -> &mut Self {
        self.msg.remove(number);
        self
    }

    /// Sets an `n` field from ASCII digits. A fixed field shorter than its length is
    /// left-padded with `0` (spec: "left-padded with 0 to the field's digit count").
    ///
    /// # Errors
    /// [`Error::WrongFormat`] if the field is not `n`, [`Error::TooLong`],
    /// [`Error::BadDigit`] for a non-digit.
    pub fn set_n(&mut self, number: u8, digits: &str) -> Result<&mut Self, Error> {
        spec_of(number, Format::N)?;
        self.msg.set(number, digits.as_bytes())?;
        Ok(self)
    }

    /// Sets a fixed `n` field from a number, left-padded with `0` (amounts, STAN).
    ///
    /// # Errors
    /// [`Error::WrongFormat`] if the field is not a fixed `n` field, [`Error::TooLong`] if
    /// the number has more digits than the field.
    pub fn set_n_u64(&mut self, number: u8, value: u64) -> Result<&mut Self, Error> {
        if spec_of(number, Format::N)?.length != LengthKind::Fixed {
            return Err(Error::WrongFormat(number));
        }
        self.msg.set_u64(number, value)?;
        Ok(self)
    }

    /// Sets a `z` (track) field from digits and `=`.
    ///
    /// # Errors
    /// [`Error::WrongFormat`] if the field is not `z`, [`Error::TooLong`],
    /// [`Error::BadDigit`] for anything but digits and `=`.
    pub fn set_z(&mut self, number: u8, track: &str) -> Result<&mut Self, Error> {
        spec_of(number, Format::Z)?;
        self.msg.set(number, track.as_bytes())?;
        Ok(self)
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
        self.msg.set(number, text)?;
        Ok(self)
    }

    /// Sets a `b` field. A fixed field must have exactly its length (no padding is defined
    /// for binary data).
    ///
    /// # Errors
    /// [`Error::WrongFormat`] if the field is not `b`, [`Error::WrongLength`] for a fixed
    /// field, [`Error::TooLong`] for a variable one.
    pub fn set_b(&mut self, number: u8, bytes: &[u8]) -> Result<&mut Self, Error> {
        spec_of(number, Format::B)?;
        self.msg.set(number, bytes)?;
        Ok(self)
    }

    /// Writes the whole frame (length prefix, TPDU, header, MTI, bitmap, fields) into
    /// `out`, replacing its content. Field 64 is written as set, if set.
    ///
    /// # Errors
    /// [`Error::BadHeader`] if a header part has too many digits;
    /// [`Error::FrameTooLarge`] past [`crate::FRAME_BYTES_MAX`].
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        if !self.header.is_valid() {
            return Err(Error::BadHeader);
        }
        self.msg.encode(out)
    }

    /// Like [`MessageBuilder::encode`], but sets bit 64 and appends the MAC of the bytes
    /// from the MTI through the last field before 64, computed under `mak`. A field 64
    /// set earlier is ignored.
    ///
    /// # Errors
    /// As [`MessageBuilder::encode`].
    pub fn encode_with_mac(&self, mak: &Mak, out: &mut Vec<u8>) -> Result<(), Error> {
        if !self.header.is_valid() {
            return Err(Error::BadHeader);
        }
        self.msg.encode_with_mac(mak, out)
    }
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
        let mut value = Vec::with_capacity(64);
        for f in self.profiled().fields() {
            value.clear();
            profile::canonical(&POS, f, &mut value);
            b.msg.set(f.spec.number, &value)?;
        }
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
