//! The codec's error types: small `Copy` enums that name the field when the fault is in one.

/// Why a frame or a field could not be decoded or encoded.
///
/// A half-arrived frame is not an error: [`crate::split_frame`] answers
/// [`crate::Status::Partial`] for it. Every variant that is about a field carries the
/// field number (2..=64) so the host can log it and answer `30` (format error).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The 2-byte length prefix announces more than [`crate::FRAME_BYTES_MAX`] bytes;
    /// the stream cannot be trusted past this point and the connection should be closed.
    #[error("frame announces {len} bytes, more than the limit")]
    FrameTooLarge {
        /// The length the prefix announced.
        len: usize,
    },
    /// The frame body ends before TPDU, header, MTI and bitmap are complete.
    #[error("frame shorter than TPDU + header + MTI + bitmap")]
    FrameTooShort,
    /// The TPDU does not start with the identifier 0x60.
    #[error("TPDU identifier is not 0x60")]
    BadTpdu,
    /// The header's first 3 bytes (its reserved bytes are not read) hold a nibble that is
    /// not a decimal digit; from the encoder: a header part has too many digits.
    #[error("header is not BCD")]
    BadHeader,
    /// The MTI holds a nibble that is not a decimal digit.
    #[error("MTI is not BCD")]
    BadMti,
    /// Bit 1 of the bitmap is set; this profile has no secondary bitmap (fields 65..128).
    #[error("secondary bitmap is not used by this profile")]
    SecondaryBitmap,
    /// The bitmap (or a setter) names a field this profile does not define, whose length
    /// therefore cannot be known.
    #[error("field {0} is not in the profile")]
    UnknownField(u8),
    /// The field's length prefix or data runs past the end of the frame.
    #[error("field {0} runs past the end of the frame")]
    Truncated(u8),
    /// The field's LL or LLL length prefix is not BCD.
    #[error("field {0} has a length prefix that is not BCD")]
    BadLengthPrefix(u8),
    /// The field's length is over the profile's maximum, or a fixed-length value is too long.
    #[error("field {0} is longer than its maximum")]
    TooLong(u8),
    /// A fixed-length binary value does not have exactly the field's length.
    #[error("field {0} has the wrong length")]
    WrongLength(u8),
    /// An `n` or `z` field holds a nibble (or a character, when encoding) that is not a
    /// digit, a pad nibble in the wrong place, or (`z` only) `=`.
    #[error("field {0} holds a non-digit")]
    BadDigit(u8),
    /// An `an`/`ans` field holds a byte that is not printable ASCII (fields 44 and 63 may
    /// also hold GBK bytes >= 0x80).
    #[error("field {0} holds a non-printable byte")]
    BadText(u8),
    /// A setter was used on a field of another format (e.g. `set_b` on an `n` field).
    #[error("field {0} has another format")]
    WrongFormat(u8),
    /// Bytes remain after the last field the bitmap announced.
    #[error("bytes remain after the last field")]
    TrailingBytes,
    /// An accessor asked for a field the message does not carry.
    #[error("field {0} is absent")]
    MissingField(u8),
    /// The field is well formed on the wire but its sub-fields are not what the profile
    /// says (e.g. field 60 with 7 digits, field 62 that is not 24, 40 or 60 bytes, 63.2 not
    /// GBK).
    #[error("field {0} has malformed sub-fields")]
    BadSubfield(u8),
}

/// Why a key, PIN block or MAC operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// A key is not of a length its role allows (the MAK: 8 bytes, 16 hex digits; the
    /// TMK and TDK: 16 bytes, 32 hex digits; the PIK: either), or its hex is not hex.
    #[error("a key must be 8 or 16 bytes (16 or 32 hex digits), as its role requires")]
    BadKey,
    /// The PIN is not 4 to 12 decimal digits (ISO 9564-1 format 0).
    #[error("PIN must be 4 to 12 digits")]
    BadPin,
    /// The PAN is not 13 to 19 decimal digits, so it has no 12 digits left of the check digit.
    #[error("PAN must be 13 to 19 digits")]
    BadPan,
    /// A decrypted PIN block is not a valid format 0 block for this PAN (wrong PIK or PAN).
    #[error("PIN block does not decrypt to a format 0 block")]
    BadPinBlock,
    /// A working key's check value does not match its decrypted value (wrong TMK).
    #[error("check value of the {0} does not match")]
    CheckValueMismatch(KeyRole),
}

/// Which working key a [`CryptoError::CheckValueMismatch`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyRole {
    /// The PIN key.
    Pik,
    /// The MAC key.
    Mak,
    /// The track-data key (sign-in `004`).
    Tdk,
}

impl core::fmt::Display for KeyRole {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            KeyRole::Pik => "PIK",
            KeyRole::Mak => "MAK",
            KeyRole::Tdk => "TDK",
        })
    }
}
