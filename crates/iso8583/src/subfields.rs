//! Typed views of the composite fields 48, 59, 60, 61, 62 and 63 (spec "Fields").
//!
//! Each type has `parse` (from the field's digits or bytes) and a way back to the wire;
//! [`Message`] and [`MessageBuilder`] get one-call getters and setters for them.

use crate::builder::MessageBuilder;
use crate::error::Error;
use crate::message::Message;

/// Reads `width` digits at `*pos` as a number and advances; the caller checked the length
/// and the decoder checked the digits.
fn take(digits: &[u8], pos: &mut usize, width: usize) -> Option<u64> {
    let part = digits.get(*pos..*pos + width)?;
    *pos += width;
    part.iter().try_fold(0u64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u64::from(c - b'0'))
    })
}

/// Appends `value` as exactly `width` digits; `None` when it has more digits.
fn put(out: &mut String, value: u64, width: usize) -> Option<()> {
    if value >= 10u64.pow(width as u32) {
        return None;
    }
    out.push_str(&format!("{value:0width$}"));
    Some(())
}

/// Fewest digits of field 60 the decoder reads: 60.1 and 60.2.
pub const FIELD60_DIGITS_MIN: usize = 8;
/// Most digits of field 60 the decoder reads (19 seen in real traffic; the spec allows 32).
pub const FIELD60_DIGITS_MAX: usize = 32;
/// Digits of 60.1 through 60.5, the parts this profile names.
const FIELD60_NAMED_DIGITS: usize = 13;

/// Field 60: transaction type code, batch, network management code, and optionally
/// terminal capability and chip condition. The encoder writes 11 or 13 digits; the decoder
/// reads any leading part from 8 digits up to 32 (spec "Fields", row 60).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Field60 {
    /// 60.1 transaction type code, n2 (e.g. 22 sale, 00 management).
    pub type_code: u8,
    /// 60.2 batch number, n6.
    pub batch: u32,
    /// 60.3 network management code, n3 (e.g. 003 sign-in with double-length keys); read
    /// as `000` when the terminal sent fewer than 11 digits.
    pub network_code: u16,
    /// 60.4 terminal capability and 60.5 chip condition, one digit each, when sent.
    pub terminal: Option<Field60Terminal>,
    /// Digits received after the named parts (acquirer additions, or the 1-2 digits of an
    /// incomplete 60.3), kept as received; the encoder never writes them.
    pub extra: Field60Extra,
}

/// 60.4 and 60.5, which travel together (13-digit field 60).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Field60Terminal {
    /// 60.4 terminal read capability, n1.
    pub capability: u8,
    /// 60.5 chip condition code, n1; read as `0` when a 12-digit field 60 ends after 60.4.
    pub chip_condition: u8,
}

/// Digits of field 60 past the parts the profile names, at most 19 (32 - 13).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Field60Extra {
    digits: [u8; FIELD60_DIGITS_MAX - FIELD60_NAMED_DIGITS],
    len: u8,
}

impl Field60Extra {
    /// No extra digits.
    pub const NONE: Field60Extra = Field60Extra {
        digits: [0; FIELD60_DIGITS_MAX - FIELD60_NAMED_DIGITS],
        len: 0,
    };

    fn from_digits(d: &[u8]) -> Option<Field60Extra> {
        let mut e = Field60Extra::NONE;
        e.digits.get_mut(..d.len())?.copy_from_slice(d);
        e.len = d.len() as u8;
        Some(e)
    }

    /// The digits as received.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        core::str::from_utf8(&self.digits[..usize::from(self.len)]).unwrap_or_default()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl core::fmt::Debug for Field60Extra {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl Field60 {
    /// A field 60 of 11 digits (60.1-60.3), as requests of this profile carry it.
    pub const fn new(type_code: u8, batch: u32, network_code: u16) -> Field60 {
        Field60 {
            type_code,
            batch,
            network_code,
            terminal: None,
            extra: Field60Extra::NONE,
        }
    }

    /// Reads 8 to 32 digits: 60.1 and 60.2 always, 60.3 when complete, 60.4 and 60.5 when
    /// present, the rest into [`Field60::extra`] (spec: "the decoder accepts 8-32 digits
    /// and reads what is there").
    ///
    /// # Errors
    /// [`Error::BadSubfield`]`(60)` for fewer than 8 or more than 32 digits, or a non-digit.
    pub fn parse(digits: &str) -> Result<Field60, Error> {
        let d = digits.as_bytes();
        let bad = Error::BadSubfield(60);
        if !(FIELD60_DIGITS_MIN..=FIELD60_DIGITS_MAX).contains(&d.len())
            || !d.iter().all(u8::is_ascii_digit)
        {
            return Err(bad);
        }
        let mut pos = 0;
        let mut next = |w| take(d, &mut pos, w).ok_or(bad);
        let (type_code, batch) = (next(2)?, next(6)?);
        let network_code = if d.len() >= 11 { next(3)? } else { 0 };
        let terminal = match d.len() {
            ..=11 => None,
            12 => Some(Field60Terminal {
                capability: next(1)? as u8,
                chip_condition: 0,
            }),
            _ => Some(Field60Terminal {
                capability: next(1)? as u8,
                chip_condition: next(1)? as u8,
            }),
        };
        let named = pos;
        let extra = Field60Extra::from_digits(d.get(named..).unwrap_or_default()).ok_or(bad)?;
        Ok(Field60 {
            type_code: type_code as u8,
            batch: batch as u32,
            network_code: network_code as u16,
            terminal,
            extra,
        })
    }

    /// The field's digits as the encoder writes them, 11 or 13 ([`Field60::extra`] is
    /// not written).
    ///
    /// # Errors
    /// [`Error::BadSubfield`]`(60)` when a part has more digits than its width.
    pub fn to_digits(&self) -> Result<String, Error> {
        let mut s = String::with_capacity(FIELD60_NAMED_DIGITS);
        let parts = [
            (u64::from(self.type_code), 2),
            (u64::from(self.batch), 6),
            (u64::from(self.network_code), 3),
        ];
        let tail = self.terminal.map(|t| {
            [
                (u64::from(t.capability), 1),
                (u64::from(t.chip_condition), 1),
            ]
        });
        for (v, w) in parts.into_iter().chain(tail.into_iter().flatten()) {
            put(&mut s, v, w).ok_or(Error::BadSubfield(60))?;
        }
        Ok(s)
    }
}

/// Field 61, original-transaction data: batch, STAN and (refund, completion) date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Field61 {
    /// 61.1 original batch, n6.
    pub batch: u32,
    /// 61.2 original STAN, n6.
    pub stan: u32,
    /// 61.3 original date MMDD as a number (e.g. 1125), n4, when sent.
    pub date_mmdd: Option<u16>,
}

impl Field61 {
    /// Parses 12 digits (61.1-61.2) or 16 (with 61.3).
    ///
    /// # Errors
    /// [`Error::BadSubfield`]`(61)` for any other length or a non-digit.
    pub fn parse(digits: &str) -> Result<Field61, Error> {
        let d = digits.as_bytes();
        let bad = Error::BadSubfield(61);
        if d.len() != 12 && d.len() != 16 {
            return Err(bad);
        }
        let mut pos = 0;
        let mut next = |w| take(d, &mut pos, w).ok_or(bad);
        let (batch, stan) = (next(6)? as u32, next(6)? as u32);
        let date_mmdd = if d.len() == 16 {
            Some(next(4)? as u16)
        } else {
            None
        };
        Ok(Field61 {
            batch,
            stan,
            date_mmdd,
        })
    }

    /// The field's digits, 12 or 16.
    ///
    /// # Errors
    /// [`Error::BadSubfield`]`(61)` when a part has more digits than its width.
    pub fn to_digits(&self) -> Result<String, Error> {
        let mut s = String::with_capacity(16);
        let date = self.date_mmdd.map(|d| (u64::from(d), 4));
        let parts = [(u64::from(self.batch), 6), (u64::from(self.stan), 6)];
        for (v, w) in parts.into_iter().chain(date) {
            put(&mut s, v, w).ok_or(Error::BadSubfield(61))?;
        }
        Ok(s)
    }
}

/// One half of field 48: the totals of one card group (domestic or foreign), 31 digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Totals {
    /// Debit amount in fen, n12.
    pub debit_amount: u64,
    /// Debit count, n3.
    pub debit_count: u16,
    /// Credit amount in fen, n12.
    pub credit_amount: u64,
    /// Credit count, n3.
    pub credit_count: u16,
    /// Reconciliation code, n1: `1` balanced, `2` unbalanced, `3` error (0 in requests).
    pub reconciliation: u8,
}

/// Digits of one [`Totals`] group.
const TOTALS_DIGITS: usize = 31;

impl Totals {
    fn parse(d: &[u8], pos: &mut usize) -> Option<Totals> {
        Some(Totals {
            debit_amount: take(d, pos, 12)?,
            debit_count: take(d, pos, 3)? as u16,
            credit_amount: take(d, pos, 12)?,
            credit_count: take(d, pos, 3)? as u16,
            reconciliation: take(d, pos, 1)? as u8,
        })
    }

    fn write(&self, s: &mut String) -> Option<()> {
        put(s, self.debit_amount, 12)?;
        put(s, u64::from(self.debit_count), 3)?;
        put(s, self.credit_amount, 12)?;
        put(s, u64::from(self.credit_count), 3)?;
        put(s, u64::from(self.reconciliation), 1)
    }
}

/// Field 48 in settlement (0500/0510): domestic then foreign totals, 62 digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct SettlementTotals {
    /// Totals of domestic cards.
    pub domestic: Totals,
    /// Totals of foreign cards.
    pub foreign: Totals,
}

impl SettlementTotals {
    /// Parses the 62 digits.
    ///
    /// # Errors
    /// [`Error::BadSubfield`]`(48)` for any other length or a non-digit.
    pub fn parse(digits: &str) -> Result<SettlementTotals, Error> {
        let d = digits.as_bytes();
        let mut pos = 0;
        let parsed = (d.len() == 2 * TOTALS_DIGITS)
            .then(|| Some((Totals::parse(d, &mut pos)?, Totals::parse(d, &mut pos)?)))
            .flatten();
        let (domestic, foreign) = parsed.ok_or(Error::BadSubfield(48))?;
        Ok(SettlementTotals { domestic, foreign })
    }

    /// The 62 digits.
    ///
    /// # Errors
    /// [`Error::BadSubfield`]`(48)` when a part has more digits than its width.
    pub fn to_digits(&self) -> Result<String, Error> {
        let mut s = String::with_capacity(2 * TOTALS_DIGITS);
        self.domestic
            .write(&mut s)
            .and_then(|()| self.foreign.write(&mut s))
            .ok_or(Error::BadSubfield(48))?;
        Ok(s)
    }
}

/// Which working keys a sign-in asks for (its 60.3) and field 62 of the answer carries
/// (spec "Keys, PIN, MAC").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyLayout {
    /// `001`, 24 bytes: single-length PIK (8) + check (4), MAK (8) + check (4).
    Single,
    /// `003`, 40 bytes: double-length PIK (16) + check (4), single-length MAK (8), 8 zero
    /// bytes, MAK check (4).
    Double,
    /// `004`, 60 bytes: the 40 bytes of `003`, then a track-data key (16) + check (4).
    DoubleWithTrack,
}

/// Byte ranges of one key and its check value inside field 62.
type Span = (core::ops::Range<usize>, core::ops::Range<usize>);

impl KeyLayout {
    /// The layout a sign-in's 60.3 asks for; `None` for other codes.
    pub const fn from_network_code(code: u16) -> Option<KeyLayout> {
        match code {
            1 => Some(KeyLayout::Single),
            3 => Some(KeyLayout::Double),
            4 => Some(KeyLayout::DoubleWithTrack),
            _ => None,
        }
    }

    /// The 60.3 of a sign-in asking for this layout.
    pub const fn network_code(self) -> u16 {
        match self {
            KeyLayout::Single => 1,
            KeyLayout::Double => 3,
            KeyLayout::DoubleWithTrack => 4,
        }
    }

    /// Length of field 62 in this layout.
    pub const fn field62_bytes(self) -> usize {
        match self {
            KeyLayout::Single => 24,
            KeyLayout::Double => 40,
            KeyLayout::DoubleWithTrack => WORKING_KEYS_BYTES_MAX,
        }
    }

    /// Where the PIK ciphertext and its check value sit.
    pub(crate) fn pik_span(self) -> Span {
        match self {
            KeyLayout::Single => (0..8, 8..12),
            _ => (0..16, 16..20),
        }
    }

    /// Where the MAK ciphertext (8 bytes) and its check value sit; in `003`/`004` the 8
    /// bytes between them are zero on the wire and ignored on read.
    pub(crate) fn mak_span(self) -> Span {
        match self {
            KeyLayout::Single => (12..20, 20..24),
            _ => (20..28, 36..40),
        }
    }

    /// Where a MAK for `algorithm` sits: [`KeyLayout::mak_span`] for the POS ECB MAC; for
    /// X9.19 the 16 bytes of `003`/`004` that hold the single MAK and its zero filler,
    /// `None` in `001` (no room for a double-length key).
    pub(crate) fn mak_span_for(self, algorithm: crate::crypto::MacAlgorithm) -> Option<Span> {
        match (algorithm, self) {
            (crate::crypto::MacAlgorithm::PosEcb, _) => Some(self.mak_span()),
            (crate::crypto::MacAlgorithm::X919, KeyLayout::Single) => None,
            (crate::crypto::MacAlgorithm::X919, _) => Some((20..36, 36..40)),
        }
    }

    /// Where the TDK ciphertext and its check value sit (`004` only).
    pub(crate) fn tdk_span(self) -> Option<Span> {
        match self {
            KeyLayout::DoubleWithTrack => Some((40..56, 56..60)),
            _ => None,
        }
    }
}

/// Length of the longest field 62 (`004`).
pub const WORKING_KEYS_BYTES_MAX: usize = 60;

/// Field 62 of a sign-in response: the working keys encrypted under the TMK, with their
/// check values, in one of the three [`KeyLayout`]s. See `WorkingKeys::seal`/`open`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WorkingKeys {
    pub(crate) layout: KeyLayout,
    /// The field as on the wire; only the first `layout.field62_bytes()` are used.
    pub(crate) bytes: [u8; WORKING_KEYS_BYTES_MAX],
}

impl WorkingKeys {
    /// A field of this layout with every byte zero (the `003` filler stays zero).
    pub(crate) fn empty(layout: KeyLayout) -> WorkingKeys {
        WorkingKeys {
            layout,
            bytes: [0; WORKING_KEYS_BYTES_MAX],
        }
    }

    /// Reads field 62; its length (24, 40 or 60) names the layout. The 8 filler bytes after
    /// the MAK of `003`/`004` are not checked, as real terminals do not check them.
    ///
    /// # Errors
    /// [`Error::BadSubfield`]`(62)` for any other length.
    pub fn parse(bytes: &[u8]) -> Result<WorkingKeys, Error> {
        let layout = [
            KeyLayout::Single,
            KeyLayout::Double,
            KeyLayout::DoubleWithTrack,
        ]
        .into_iter()
        .find(|l| l.field62_bytes() == bytes.len())
        .ok_or(Error::BadSubfield(62))?;
        let mut k = WorkingKeys::empty(layout);
        k.bytes[..bytes.len()].copy_from_slice(bytes);
        Ok(k)
    }

    /// The layout (and so the 60.3) this field 62 answers.
    pub fn layout(&self) -> KeyLayout {
        self.layout
    }

    /// The bytes of field 62.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.layout.field62_bytes()]
    }

    /// The PIK ciphertext (8 or 16 bytes) and its check value.
    pub fn pik(&self) -> (&[u8], &[u8]) {
        let (k, c) = self.layout.pik_span();
        (&self.bytes[k], &self.bytes[c])
    }

    /// The MAK ciphertext (8 bytes) and its check value.
    pub fn mak(&self) -> (&[u8], &[u8]) {
        let (k, c) = self.layout.mak_span();
        (&self.bytes[k], &self.bytes[c])
    }

    /// The TDK ciphertext (16 bytes) and its check value, for `004`.
    pub fn tdk(&self) -> Option<(&[u8], &[u8])> {
        let (k, c) = self.layout.tdk_span()?;
        Some((&self.bytes[k], &self.bytes[c]))
    }
}

/// Length of the operator number (63 in requests) and of 63.1 (in responses).
const FIELD63_HEAD_BYTES: usize = 3;

/// Field 63 of a response: card organization (63.1, an3, `CUP`) and screen text in GBK
/// (63.2), e.g. the reason of a refusal.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Field63Response {
    /// 63.1 card organization, 3 ASCII bytes.
    pub organization: [u8; FIELD63_HEAD_BYTES],
    /// 63.2 text for the terminal screen, decoded from GBK.
    pub text: String,
}

impl Field63Response {
    /// A response field with organization `CUP`.
    pub fn cup(text: &str) -> Field63Response {
        Field63Response {
            organization: *b"CUP",
            text: text.to_owned(),
        }
    }

    /// Parses 63.1 and decodes 63.2 from GBK.
    ///
    /// # Errors
    /// [`Error::BadSubfield`]`(63)` when shorter than 3 bytes or 63.2 is not valid GBK.
    pub fn parse(bytes: &[u8]) -> Result<Field63Response, Error> {
        let bad = Error::BadSubfield(63);
        let (head, rest) = bytes.split_first_chunk::<FIELD63_HEAD_BYTES>().ok_or(bad)?;
        let text = encoding_rs::GBK
            .decode_without_bom_handling_and_without_replacement(rest)
            .ok_or(bad)?;
        Ok(Field63Response {
            organization: *head,
            text: text.into_owned(),
        })
    }

    /// The wire bytes: 63.1 then 63.2 in GBK.
    ///
    /// # Errors
    /// [`Error::BadSubfield`]`(63)` when the text has a character GBK cannot hold (the
    /// encoder would otherwise send an HTML entity in its place).
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let (gbk, _, unmappable) = encoding_rs::GBK.encode(&self.text);
        if unmappable {
            return Err(Error::BadSubfield(63));
        }
        let mut out = Vec::with_capacity(FIELD63_HEAD_BYTES + gbk.len());
        out.extend_from_slice(&self.organization);
        out.extend_from_slice(&gbk);
        Ok(out)
    }
}

impl Message<'_> {
    /// Field 60 parsed; see [`Field60::parse`].
    pub fn field60(&self) -> Result<Field60, Error> {
        Field60::parse(&self.digits(60)?)
    }

    /// Field 61 parsed; see [`Field61::parse`].
    pub fn field61(&self) -> Result<Field61, Error> {
        Field61::parse(&self.digits(61)?)
    }

    /// Field 48 parsed as settlement totals; see [`SettlementTotals::parse`].
    pub fn settlement_totals(&self) -> Result<SettlementTotals, Error> {
        SettlementTotals::parse(&self.digits(48)?)
    }

    /// Field 62 parsed as working keys; see [`WorkingKeys::parse`].
    pub fn working_keys(&self) -> Result<WorkingKeys, Error> {
        WorkingKeys::parse(self.bytes(62)?)
    }

    /// Field 63 of a request: the operator number (an3, spaces kept).
    pub fn operator(&self) -> Result<&str, Error> {
        let text = self.text(63)?;
        if text.len() != FIELD63_HEAD_BYTES {
            return Err(Error::BadSubfield(63));
        }
        Ok(text)
    }

    /// Field 63 of a response parsed; see [`Field63Response::parse`].
    pub fn field63_response(&self) -> Result<Field63Response, Error> {
        Field63Response::parse(self.bytes(63)?)
    }
}

impl MessageBuilder {
    /// Sets field 60.
    ///
    /// # Errors
    /// As [`Field60::to_digits`].
    pub fn set_field60(&mut self, f: &Field60) -> Result<&mut Self, Error> {
        self.set_n(60, &f.to_digits()?)
    }

    /// Sets field 61.
    ///
    /// # Errors
    /// As [`Field61::to_digits`].
    pub fn set_field61(&mut self, f: &Field61) -> Result<&mut Self, Error> {
        self.set_n(61, &f.to_digits()?)
    }

    /// Sets field 48 to settlement totals.
    ///
    /// # Errors
    /// As [`SettlementTotals::to_digits`].
    pub fn set_settlement_totals(&mut self, t: &SettlementTotals) -> Result<&mut Self, Error> {
        self.set_n(48, &t.to_digits()?)
    }

    /// Sets field 62 to working keys.
    ///
    /// # Errors
    /// None in practice (at most 60 bytes, and the field holds 512).
    pub fn set_working_keys(&mut self, k: &WorkingKeys) -> Result<&mut Self, Error> {
        self.set_b(62, k.as_bytes())
    }

    /// Sets field 63 of a request to an operator number, right-padded to 3 characters.
    ///
    /// # Errors
    /// [`Error::BadSubfield`]`(63)` when longer than 3; [`Error::BadText`] when not ASCII.
    pub fn set_operator(&mut self, operator: &str) -> Result<&mut Self, Error> {
        let b = operator.as_bytes();
        if b.len() > FIELD63_HEAD_BYTES || !b.is_ascii() {
            return Err(Error::BadSubfield(63));
        }
        let mut padded = [b' '; FIELD63_HEAD_BYTES];
        padded[..b.len()].copy_from_slice(b);
        self.set_ans(63, &padded)
    }

    /// Sets field 63 of a response.
    ///
    /// # Errors
    /// As [`Field63Response::to_bytes`], or [`Error::TooLong`]`(63)` past 163 bytes.
    pub fn set_field63_response(&mut self, f: &Field63Response) -> Result<&mut Self, Error> {
        self.set_ans(63, &f.to_bytes()?)
    }
}
