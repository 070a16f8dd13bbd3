//! The zero-copy decoder: a [`Message`] borrows every field from the caller's buffer.

use crate::bcd;
use crate::error::Error;
use crate::field::{self, FieldSpec, Format, LengthKind, MAC_FIELD};
use crate::frame::{self, Frame, HEADER_BYTES, Header, Status, TPDU_BYTES, Tpdu};

/// Bytes of TPDU and header, i.e. where the MTI (and the MAC block) starts in a body.
pub(crate) const MTI_OFFSET: usize = TPDU_BYTES + HEADER_BYTES;
/// Size of the BCD MTI.
const MTI_BYTES: usize = 2;
/// Size of the primary bitmap; this profile has no secondary bitmap.
pub(crate) const BITMAP_BYTES: usize = 8;
/// Highest field number: one bitmap of 64 bits.
pub(crate) const FIELD_MAX: u8 = 64;

/// Message type indicator, four decimal digits such as `0200`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mti(u16);

impl Mti {
    /// 0100: authorization request (pre-authorization, pre-auth void).
    pub const AUTHORIZATION_REQUEST: Mti = Mti(100);
    /// 0200: financial request (inquiry, sale, void, completion).
    pub const FINANCIAL_REQUEST: Mti = Mti(200);
    /// 0220: financial advice (refund).
    pub const ADVICE_REQUEST: Mti = Mti(220);
    /// 0320: batch upload.
    pub const BATCH_UPLOAD_REQUEST: Mti = Mti(320);
    /// 0400: reversal.
    pub const REVERSAL_REQUEST: Mti = Mti(400);
    /// 0500: batch settlement.
    pub const SETTLEMENT_REQUEST: Mti = Mti(500);
    /// 0800: sign-in.
    pub const NETWORK_REQUEST: Mti = Mti(800);
    /// 0820: sign-out and echo test.
    pub const NETWORK_ADVICE_REQUEST: Mti = Mti(820);

    /// The MTI with this numeric value, or `None` above 9999.
    pub const fn new(value: u16) -> Option<Mti> {
        if value <= 9999 {
            Some(Mti(value))
        } else {
            None
        }
    }

    /// The numeric value, e.g. `200` for `0200`.
    pub const fn value(self) -> u16 {
        self.0
    }

    /// True when the function digit (third) is even: requests and advices.
    pub const fn is_request(self) -> bool {
        (self.0 / 10) % 2 == 0
    }

    /// The response MTI (0200 -> 0210); a response maps to itself.
    pub const fn response(self) -> Mti {
        if self.is_request() {
            Mti(self.0 + 10)
        } else {
            self
        }
    }

    /// True for the MTIs that carry a MAC in field 64 (spec "Which messages carry a MAC").
    pub const fn carries_mac(self) -> bool {
        matches!(self.0, 100 | 110 | 200 | 210 | 220 | 230 | 400 | 410)
    }

    /// True for the management MTIs Suanpan requires a session MAC on, beyond the spec's
    /// table (issue 11): batch upload, settlement, sign-out and echo, requests and
    /// responses (0320/0330, 0500/0510, 0820/0830). The sign-in (0800) carries a MAC under
    /// a key derived from the TMK instead (docs/ISO8583.md, "Sign-in proof").
    pub const fn carries_management_mac(self) -> bool {
        matches!(self.0, 320 | 330 | 500 | 510 | 820 | 830)
    }
}

impl core::fmt::Display for Mti {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:04}", self.0)
    }
}

/// One decoded field: its table row and its data bytes as they are in the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field<'buf> {
    spec: &'static FieldSpec,
    data: &'buf [u8],
    units: u16,
}

impl<'buf> Field<'buf> {
    /// The field number.
    pub fn number(&self) -> u8 {
        self.spec.number
    }

    /// The field's row in the profile table.
    pub fn spec(&self) -> &'static FieldSpec {
        self.spec
    }

    /// The data bytes as on the wire, without the length prefix (BCD still packed).
    pub fn bytes(&self) -> &'buf [u8] {
        self.data
    }

    /// The length in units: digits for `n`/`z`, bytes otherwise.
    pub fn units(&self) -> usize {
        usize::from(self.units)
    }

    /// The digits of an `n` or `z` field (`z` shows the separator as `=`).
    ///
    /// # Errors
    /// [`Error::WrongFormat`] for a field that is not `n` or `z`.
    pub fn digits(&self) -> Result<String, Error> {
        if !self.spec.format.is_bcd() {
            return Err(Error::WrongFormat(self.number()));
        }
        Ok(bcd::unpack(self.spec, self.data, self.units()))
    }

    /// The value of an `n` field as a number.
    ///
    /// # Errors
    /// [`Error::WrongFormat`] for a field that is not `n`, [`Error::TooLong`] for more
    /// than 19 digits (field 48), [`Error::BadDigit`] for an empty field.
    pub fn to_u64(&self) -> Result<u64, Error> {
        if self.spec.format != Format::N {
            return Err(Error::WrongFormat(self.number()));
        }
        let digits = self.digits()?;
        if digits.len() > 19 {
            return Err(Error::TooLong(self.number()));
        }
        digits.parse().map_err(|_| Error::BadDigit(self.number()))
    }

    /// The text of an `an`/`ans` field that holds only ASCII (fixed fields keep their
    /// trailing space padding).
    ///
    /// # Errors
    /// [`Error::WrongFormat`] for a field that is not text, [`Error::BadText`] when it holds
    /// GBK bytes (use [`crate::Field63Response`] for 63).
    pub fn text(&self) -> Result<&'buf str, Error> {
        if !self.spec.is_text() {
            return Err(Error::WrongFormat(self.number()));
        }
        match core::str::from_utf8(self.data) {
            Ok(s) if s.is_ascii() => Ok(s),
            _ => Err(Error::BadText(self.number())),
        }
    }
}

/// A decoded message whose fields borrow from the frame body it was decoded from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message<'buf> {
    tpdu: Tpdu,
    header: Header,
    mti: Mti,
    fields: [Option<Field<'buf>>; FIELD_MAX as usize + 1],
    mac_data: &'buf [u8],
}

/// A forward-only reader over a frame body (both codecs use it).
pub(crate) struct Reader<'buf> {
    pub(crate) buf: &'buf [u8],
    pub(crate) pos: usize,
}

impl<'buf> Reader<'buf> {
    pub(crate) fn take(&mut self, n: usize) -> Option<&'buf [u8]> {
        let s = self.buf.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }

    fn take_array<const N: usize>(&mut self) -> Option<&'buf [u8; N]> {
        self.take(N)?.first_chunk::<N>()
    }
}

impl<'buf> Message<'buf> {
    /// Decodes a frame body (TPDU through the last field, without the length prefix),
    /// checking every length and every byte against the profile table.
    ///
    /// # Errors
    /// The first fault found, naming the field when it is in one; see [`Error`].
    pub fn decode(body: &'buf [u8]) -> Result<Message<'buf>, Error> {
        let mut r = Reader { buf: body, pos: 0 };
        let tpdu = Tpdu::read(r.take_array().ok_or(Error::FrameTooShort)?)?;
        let header = Header::read(r.take_array().ok_or(Error::FrameTooShort)?)?;
        let mti_bytes: &[u8; MTI_BYTES] = r.take_array().ok_or(Error::FrameTooShort)?;
        let mti = Mti(bcd::to_u32(mti_bytes).ok_or(Error::BadMti)? as u16);
        let bitmap: &[u8; BITMAP_BYTES] = r.take_array().ok_or(Error::FrameTooShort)?;
        if bitmap[0] & 0x80 != 0 {
            return Err(Error::SecondaryBitmap);
        }
        let mut fields = [None; FIELD_MAX as usize + 1];
        let mut mac_end = body.len();
        for number in 2..=FIELD_MAX {
            if !bit_is_set(bitmap, number) {
                continue;
            }
            if number == MAC_FIELD {
                mac_end = r.pos;
            }
            fields[usize::from(number)] = Some(read_field(number, &mut r)?);
        }
        if r.pos != body.len() {
            return Err(Error::TrailingBytes);
        }
        let mac_data = &body[MTI_OFFSET..mac_end];
        Ok(Message {
            tpdu,
            header,
            mti,
            fields,
            mac_data,
        })
    }

    /// Splits the first frame off `stream` and decodes it; on success also returns the
    /// bytes consumed. A half-arrived frame is [`Status::Partial`].
    ///
    /// # Errors
    /// Those of [`frame::split_frame`] and [`Message::decode`].
    pub fn decode_frame(stream: &'buf [u8]) -> Result<Status<(Message<'buf>, usize)>, Error> {
        match frame::split_frame(stream)? {
            Status::Partial => Ok(Status::Partial),
            Status::Complete(Frame { body, consumed }) => {
                Ok(Status::Complete((Message::decode(body)?, consumed)))
            }
        }
    }

    /// The TPDU as received.
    pub fn tpdu(&self) -> Tpdu {
        self.tpdu
    }

    /// The header as received (reserved digits are not kept).
    pub fn header(&self) -> Header {
        self.header
    }

    /// The message type indicator.
    pub fn mti(&self) -> Mti {
        self.mti
    }

    /// Field `number`, or `None` when absent or outside 2..=64.
    pub fn field(&self, number: u8) -> Option<Field<'buf>> {
        *self.fields.get(usize::from(number))?
    }

    /// True when field `number` is present.
    pub fn has(&self, number: u8) -> bool {
        self.field(number).is_some()
    }

    /// Field `number`, or [`Error::MissingField`].
    pub fn require(&self, number: u8) -> Result<Field<'buf>, Error> {
        self.field(number).ok_or(Error::MissingField(number))
    }

    /// The present fields in ascending order.
    pub fn fields(&self) -> impl Iterator<Item = Field<'buf>> + '_ {
        self.fields.iter().filter_map(|f| *f)
    }

    /// Field `number`'s digits; see [`Field::digits`].
    pub fn digits(&self, number: u8) -> Result<String, Error> {
        self.require(number)?.digits()
    }

    /// Field `number` as a number; see [`Field::to_u64`].
    pub fn u64(&self, number: u8) -> Result<u64, Error> {
        self.require(number)?.to_u64()
    }

    /// Field `number`'s data bytes; see [`Field::bytes`].
    pub fn bytes(&self, number: u8) -> Result<&'buf [u8], Error> {
        Ok(self.require(number)?.bytes())
    }

    /// Field `number`'s ASCII text; see [`Field::text`].
    pub fn text(&self, number: u8) -> Result<&'buf str, Error> {
        self.require(number)?.text()
    }

    /// The PAN: field 2, or else the digits of track 2 (field 35) before the separator.
    pub fn pan(&self) -> Option<String> {
        if let Ok(pan) = self.digits(2) {
            return Some(pan);
        }
        let track = self.digits(35).ok()?;
        track.split('=').next().map(str::to_owned)
    }

    /// The MAC block: the bytes from the MTI through the last field before 64 (spec
    /// "MAC (UnionPay POS ECB algorithm)").
    pub fn mac_data(&self) -> &'buf [u8] {
        self.mac_data
    }
}

/// True when the bitmap announces field `number` (bit 1 is the high bit of byte 0).
pub(crate) fn bit_is_set(bitmap: &[u8; BITMAP_BYTES], number: u8) -> bool {
    let i = usize::from(number - 1);
    bitmap[i / 8] & (0x80 >> (i % 8)) != 0
}

/// Reads one field's prefix and data and checks them against its table row.
fn read_field<'buf>(number: u8, r: &mut Reader<'buf>) -> Result<Field<'buf>, Error> {
    let spec = field::spec(number).ok_or(Error::UnknownField(number))?;
    let units = read_length(spec, r)?;
    if units > spec.max_read {
        return Err(Error::TooLong(number));
    }
    let data = r
        .take(spec.data_bytes(usize::from(units)))
        .ok_or(Error::Truncated(number))?;
    check_content(spec, data, usize::from(units))?;
    Ok(Field { spec, data, units })
}

/// The field's length in units: its fixed length or its BCD prefix.
fn read_length(spec: &FieldSpec, r: &mut Reader<'_>) -> Result<u16, Error> {
    let prefix_bytes = match spec.length {
        LengthKind::Fixed => return Ok(spec.max),
        LengthKind::LlVar => 1,
        LengthKind::LllVar => 2,
    };
    let prefix = r.take(prefix_bytes).ok_or(Error::Truncated(spec.number))?;
    let len = bcd::to_u32(prefix).ok_or(Error::BadLengthPrefix(spec.number))?;
    // Two BCD bytes hold at most 9999, so the value always fits.
    Ok(len as u16)
}

/// Checks a field's data bytes against its format.
pub(crate) fn check_content(spec: &FieldSpec, data: &[u8], units: usize) -> Result<(), Error> {
    let ok = match spec.format {
        Format::N | Format::Z => bcd::check(spec, data, units),
        Format::An | Format::Ans => data.iter().all(|&b| is_text_byte(spec, b)),
        Format::B => true,
    };
    if ok {
        Ok(())
    } else if spec.format.is_bcd() {
        Err(Error::BadDigit(spec.number))
    } else {
        Err(Error::BadText(spec.number))
    }
}

/// Printable ASCII, or any high byte where the field may carry GBK text.
pub(crate) fn is_text_byte(spec: &FieldSpec, b: u8) -> bool {
    (0x20..=0x7E).contains(&b) || (spec.gbk && b >= 0x80)
}
