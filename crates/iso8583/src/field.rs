//! The profile's field table: for each field 2..=64 that the UnionPay POS profile uses,
//! its data format, length kind and maximum length (spec: `cups-pos-8583.md`, "Fields").

/// How a field's content is represented on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Digits, BCD packed two per byte.
    N,
    /// Track data: digits and `=` (sent as nibble `D`), BCD packed.
    Z,
    /// Alphanumeric ASCII; the decoder accepts any printable ASCII, as the spec groups
    /// `an` with `ans`.
    An,
    /// Printable ASCII including space.
    Ans,
    /// Raw bytes.
    B,
}

impl Format {
    /// True for the two BCD formats, whose length counts digits rather than bytes.
    pub const fn is_bcd(self) -> bool {
        matches!(self, Format::N | Format::Z)
    }
}

/// Whether a field has a fixed length or a BCD length prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LengthKind {
    /// Always exactly `max` units.
    Fixed,
    /// A 1-byte BCD prefix (00..99) gives the length.
    LlVar,
    /// A 2-byte BCD prefix (0000..9999) gives the length.
    LllVar,
}

impl LengthKind {
    /// Digits of the length prefix: 0, 2 or 3 (each profile says how they are written).
    pub const fn prefix_digits(self) -> usize {
        match self {
            LengthKind::Fixed => 0,
            LengthKind::LlVar => 2,
            LengthKind::LllVar => 3,
        }
    }
}

/// One row of the field table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSpec {
    /// Field number, 2..=64.
    pub number: u8,
    /// Data format.
    pub format: Format,
    /// Fixed or variable, and the prefix size.
    pub length: LengthKind,
    /// Maximum length in units (digits for `n`/`z`, bytes for `an`/`ans`/`b`) that the
    /// strict encoder writes.
    pub max: u16,
    /// Maximum length the liberal decoder reads: `max`, except where the spec says real
    /// terminals send more (field 60: up to 32 digits).
    pub max_read: u16,
    /// True when a fixed odd-length `n` field is left-aligned with a trailing pad nibble
    /// instead of right-aligned with a leading one. Only field 22 is (spec: "0210").
    pub left_aligned: bool,
    /// True when the field may carry GBK bytes (>= 0x80) besides printable ASCII:
    /// 44 and 63 (spec: "Chinese text in 63.2 and 44 is GBK").
    pub gbk: bool,
}

impl FieldSpec {
    /// Number of data bytes that `units` digits or bytes take on the wire.
    pub const fn data_bytes(&self, units: usize) -> usize {
        if self.format.is_bcd() {
            units.div_ceil(2)
        } else {
            units
        }
    }

    /// True when bytes of this field must be checked as text.
    pub const fn is_text(&self) -> bool {
        matches!(self.format, Format::An | Format::Ans)
    }

    /// True when `b` may stand in this text field: printable ASCII, or any high byte where
    /// the field may carry GBK text.
    pub const fn is_text_byte(&self, b: u8) -> bool {
        (b >= 0x20 && b <= 0x7E) || (self.gbk && b >= 0x80)
    }
}

/// Field 60 digits the decoder reads (spec: "the decoder accepts 8-32 digits").
const FIELD60_DIGITS_READ_MAX: u16 = 32;

const fn row(number: u8, format: Format, length: LengthKind, max: u16) -> Option<FieldSpec> {
    Some(FieldSpec {
        number,
        format,
        length,
        max,
        max_read: if number == 60 {
            FIELD60_DIGITS_READ_MAX
        } else {
            max
        },
        left_aligned: number == 22,
        gbk: number == 44 || number == 63,
    })
}

use Format::{An, Ans, B, N, Z};
use LengthKind::{Fixed, LlVar, LllVar};

/// The field table, indexed by field number; `None` for fields the profile does not use.
/// `b64` fields (52, 64) are 64 bits, so 8 bytes.
pub static FIELDS: [Option<FieldSpec>; 65] = {
    let mut t: [Option<FieldSpec>; 65] = [None; 65];
    t[2] = row(2, N, LlVar, 19);
    t[3] = row(3, N, Fixed, 6);
    t[4] = row(4, N, Fixed, 12);
    t[11] = row(11, N, Fixed, 6);
    t[12] = row(12, N, Fixed, 6);
    t[13] = row(13, N, Fixed, 4);
    t[14] = row(14, N, Fixed, 4);
    t[15] = row(15, N, Fixed, 4);
    t[22] = row(22, N, Fixed, 3);
    t[23] = row(23, N, Fixed, 3);
    t[25] = row(25, N, Fixed, 2);
    t[26] = row(26, N, Fixed, 2);
    t[32] = row(32, N, LlVar, 11);
    t[35] = row(35, Z, LlVar, 37);
    t[36] = row(36, Z, LllVar, 104);
    t[37] = row(37, An, Fixed, 12);
    t[38] = row(38, An, Fixed, 6);
    t[39] = row(39, An, Fixed, 2);
    t[41] = row(41, Ans, Fixed, 8);
    t[42] = row(42, Ans, Fixed, 15);
    t[44] = row(44, An, LlVar, 25);
    t[48] = row(48, N, LllVar, 322);
    t[49] = row(49, An, Fixed, 3);
    t[52] = row(52, B, Fixed, 8);
    t[53] = row(53, N, Fixed, 16);
    t[54] = row(54, An, LllVar, 20);
    t[55] = row(55, B, LllVar, 255);
    // 59: acquirer-defined TLV in ASCII (terminal serial, location), sent by real chip and
    // QR terminals; decoded, kept in the MAC block, stored as received.
    t[59] = row(59, Ans, LllVar, 999);
    t[60] = row(60, N, LllVar, 17);
    t[61] = row(61, N, LllVar, 29);
    t[62] = row(62, B, LllVar, 512);
    t[63] = row(63, Ans, LllVar, 163);
    t[64] = row(64, B, Fixed, 8);
    t
};

/// The table row for field `number`, or `None` when the profile does not define it.
pub fn spec(number: u8) -> Option<&'static FieldSpec> {
    FIELDS.get(usize::from(number))?.as_ref()
}

/// The MAC field; the MAC block ends where it begins.
pub const MAC_FIELD: u8 = 64;
