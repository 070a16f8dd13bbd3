//! The terminal path's typed view of a decoded message: a [`Message`] is a
//! [`ProfiledMessage`] decoded under [`POS`], with the TPDU, the header and typed field
//! accessors; it borrows every field from the caller's buffer.

use crate::error::Error;
use crate::field::{FieldSpec, Format};
use crate::frame::{self, Frame, Header, Status, TPDU_BYTES, Tpdu};
use crate::profile::{self, POS, ProfiledMessage, RawField};

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
pub struct Field<'buf>(RawField<'buf>);

impl<'buf> Field<'buf> {
    /// The field number.
    pub fn number(&self) -> u8 {
        self.0.spec.number
    }

    /// The field's row in the profile table.
    pub fn spec(&self) -> &'static FieldSpec {
        self.0.spec
    }

    /// The data bytes as on the wire, without the length prefix (BCD still packed).
    pub fn bytes(&self) -> &'buf [u8] {
        self.0.data
    }

    /// The length in units: digits for `n`/`z`, bytes otherwise.
    pub fn units(&self) -> usize {
        usize::from(self.0.units)
    }

    /// The field as the profile codec decoded it.
    pub fn raw(&self) -> RawField<'buf> {
        self.0
    }

    /// The digits of an `n` or `z` field (`z` shows the separator as `=`).
    ///
    /// # Errors
    /// [`Error::WrongFormat`] for a field that is not `n` or `z`.
    pub fn digits(&self) -> Result<String, Error> {
        profile::digits(&POS, self.0).ok_or(Error::WrongFormat(self.number()))
    }

    /// The value of an `n` field as a number.
    ///
    /// # Errors
    /// [`Error::WrongFormat`] for a field that is not `n`, [`Error::TooLong`] for more
    /// than 19 digits (field 48), [`Error::BadDigit`] for an empty field.
    pub fn to_u64(&self) -> Result<u64, Error> {
        if self.spec().format != Format::N {
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
        if !self.spec().is_text() {
            return Err(Error::WrongFormat(self.number()));
        }
        match core::str::from_utf8(self.0.data) {
            Ok(s) if s.is_ascii() => Ok(s),
            _ => Err(Error::BadText(self.number())),
        }
    }
}

/// A decoded message whose fields borrow from the frame body it was decoded from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message<'buf> {
    msg: ProfiledMessage<'buf>,
    tpdu: Tpdu,
    header: Header,
}

impl<'buf> Message<'buf> {
    /// Decodes a frame body (TPDU through the last field, without the length prefix),
    /// checking every length and every byte against the profile table: the profile codec
    /// driven by [`POS`].
    ///
    /// # Errors
    /// The first fault found, naming the field when it is in one; see [`Error`].
    pub fn decode(body: &'buf [u8]) -> Result<Message<'buf>, Error> {
        let msg = ProfiledMessage::decode(&POS, body)?;
        // The decoder checked the envelope already; these reads only type it.
        let (tpdu, header) = msg
            .envelope()
            .split_first_chunk::<TPDU_BYTES>()
            .ok_or(Error::FrameTooShort)?;
        let tpdu = Tpdu::read(tpdu)?;
        let header = Header::read(header.first_chunk().ok_or(Error::FrameTooShort)?)?;
        Ok(Message { msg, tpdu, header })
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

    /// The message as the profile codec decoded it.
    pub fn profiled(&self) -> &ProfiledMessage<'buf> {
        &self.msg
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
        self.msg.mti()
    }

    /// Field `number`, or `None` when absent or outside 2..=64.
    pub fn field(&self, number: u8) -> Option<Field<'buf>> {
        self.msg.raw(number).map(Field)
    }

    /// True when field `number` is present.
    pub fn has(&self, number: u8) -> bool {
        self.msg.has(number)
    }

    /// Field `number`, or [`Error::MissingField`].
    pub fn require(&self, number: u8) -> Result<Field<'buf>, Error> {
        self.field(number).ok_or(Error::MissingField(number))
    }

    /// The present fields in ascending order.
    pub fn fields(&self) -> impl Iterator<Item = Field<'buf>> + '_ {
        self.msg.fields().map(Field)
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
        self.msg.mac_block()
    }
}
