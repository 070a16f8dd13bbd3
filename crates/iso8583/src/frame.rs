//! TCP framing: the 2-byte length prefix, the TPDU and the 6-byte header.

use crate::bcd;
use crate::error::Error;

/// Largest frame body (the bytes after the 2-byte length prefix) the splitter accepts.
/// An 8583 frame of this profile is far smaller; the limit bounds what a peer can make us
/// buffer (STYLE: "put a limit on everything", an 8583 frame is <= 8 KiB).
pub const FRAME_BYTES_MAX: usize = 8192;

/// Size of the big-endian length prefix.
pub const LENGTH_PREFIX_BYTES: usize = 2;
/// Size of the TPDU.
pub const TPDU_BYTES: usize = 5;
/// Size of the BCD header.
pub const HEADER_BYTES: usize = 6;
/// Header bytes that carry meaning (application type, software version, terminal status
/// and processing requirement); the remaining 3 are reserved.
pub const HEADER_USED_BYTES: usize = 3;
/// The TPDU identifier byte.
pub const TPDU_ID: u8 = 0x60;

/// Result of an operation that may need more input: "incomplete is not invalid".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status<T> {
    /// Enough bytes arrived; here is the result.
    Complete(T),
    /// The input ends before the frame does; read more bytes and call again.
    Partial,
}

/// One complete frame found at the start of a byte stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'buf> {
    /// The bytes after the length prefix: TPDU, header, MTI, bitmap, fields.
    pub body: &'buf [u8],
    /// Bytes of the stream this frame used, prefix included; drop them before the next call.
    pub consumed: usize,
}

/// Finds the first frame in `stream`, which may hold a partial frame or several frames
/// (one connection carries many request/response pairs).
///
/// # Errors
/// [`Error::FrameTooLarge`] when the prefix announces more than [`FRAME_BYTES_MAX`].
pub fn split_frame(stream: &[u8]) -> Result<Status<Frame<'_>>, Error> {
    let Some((prefix, rest)) = stream.split_first_chunk::<LENGTH_PREFIX_BYTES>() else {
        return Ok(Status::Partial);
    };
    let len = usize::from(u16::from_be_bytes(*prefix));
    if len > FRAME_BYTES_MAX {
        return Err(Error::FrameTooLarge { len });
    }
    match rest.get(..len) {
        Some(body) => Ok(Status::Complete(Frame {
            body,
            consumed: LENGTH_PREFIX_BYTES + len,
        })),
        None => Ok(Status::Partial),
    }
}

/// The Transport Protocol Data Unit: identifier 0x60, destination and source addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tpdu {
    /// Destination address (NII), e.g. `0x0003`.
    pub destination: u16,
    /// Source address, e.g. `0x0000`.
    pub source: u16,
}

impl Tpdu {
    /// The TPDU for the reply: destination and source swapped (spec "Framing on TCP").
    pub const fn swapped(self) -> Tpdu {
        Tpdu {
            destination: self.source,
            source: self.destination,
        }
    }

    /// Reads the 5 TPDU bytes.
    pub(crate) fn read(b: &[u8; TPDU_BYTES]) -> Result<Tpdu, Error> {
        if b[0] != TPDU_ID {
            return Err(Error::BadTpdu);
        }
        Ok(Tpdu {
            destination: u16::from_be_bytes([b[1], b[2]]),
            source: u16::from_be_bytes([b[3], b[4]]),
        })
    }

    /// The 5 TPDU bytes.
    pub(crate) fn to_bytes(self) -> [u8; TPDU_BYTES] {
        let [d0, d1] = self.destination.to_be_bytes();
        let [s0, s1] = self.source.to_be_bytes();
        [TPDU_ID, d0, d1, s0, s1]
    }
}

/// The 6-byte header: application type, software version, terminal status and processing
/// requirement (BCD), and 3 reserved bytes (written as `000000`, ignored on read whatever
/// they hold).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// Application type, two digits; `60` in this profile.
    pub application_type: u8,
    /// Software version, two digits; `22` in this profile.
    pub software_version: u8,
    /// Terminal status, one digit.
    pub terminal_status: u8,
    /// Processing requirement, one digit: in a response `0` nothing, `3` sign in again.
    pub processing_requirement: u8,
}

impl Header {
    /// The header a request of this profile carries: `60 22 00 000000`.
    pub const POS: Header = Header {
        application_type: 60,
        software_version: 22,
        terminal_status: 0,
        processing_requirement: 0,
    };

    /// Processing requirement asking the terminal to sign in again.
    pub const SIGN_IN_AGAIN: u8 = 3;

    /// Terminal status of a request made in training mode (培训模式; UnionPay's "test
    /// status"): the host books it as training, moves no money and never settles it.
    pub const TRAINING: u8 = 1;

    /// The same header with another processing requirement, as a response sets it.
    pub const fn with_processing_requirement(self, digit: u8) -> Header {
        Header {
            processing_requirement: digit,
            ..self
        }
    }

    /// Reads the 6 header bytes. The first three must be BCD; the three reserved bytes are
    /// ignored, whatever they hold (real terminals send vendor values such as `FFF1`).
    pub(crate) fn read(b: &[u8; HEADER_BYTES]) -> Result<Header, Error> {
        if !bcd::is_bcd(&b[..HEADER_USED_BYTES]) {
            return Err(Error::BadHeader);
        }
        Ok(Header {
            application_type: (b[0] >> 4) * 10 + (b[0] & 0x0F),
            software_version: (b[1] >> 4) * 10 + (b[1] & 0x0F),
            terminal_status: b[2] >> 4,
            processing_requirement: b[2] & 0x0F,
        })
    }

    /// True when every part fits its digit count, so [`Header::write`] is lossless.
    pub(crate) const fn is_valid(&self) -> bool {
        self.application_type <= 99
            && self.software_version <= 99
            && self.terminal_status <= 9
            && self.processing_requirement <= 9
    }

    /// The 6 header bytes, reserved bytes as zeros; lossless when [`Header::is_valid`].
    pub(crate) fn to_bytes(self) -> [u8; HEADER_BYTES] {
        let two_digits = |v: u8| ((v / 10 % 10) << 4) | (v % 10);
        [
            two_digits(self.application_type),
            two_digits(self.software_version),
            self.terminal_status << 4 | self.processing_requirement,
            0,
            0,
            0,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: a stream cut anywhere before the end of a frame is Partial, never an error.
    #[test]
    fn split_partial_and_complete() {
        let stream = [0x00, 0x03, 0xAA, 0xBB, 0xCC, 0x00];
        for cut in 0..5 {
            assert_eq!(
                split_frame(&stream[..cut]),
                Ok(Status::Partial),
                "cut {cut}"
            );
        }
        let Ok(Status::Complete(f)) = split_frame(&stream) else {
            panic!("expected a frame");
        };
        assert_eq!(f.body, &[0xAA, 0xBB, 0xCC]);
        assert_eq!(f.consumed, 5);
    }

    // Goal: the limit is enforced from the prefix alone, before the body arrives.
    #[test]
    fn split_limit() {
        let over = (FRAME_BYTES_MAX as u16 + 1).to_be_bytes();
        assert_eq!(
            split_frame(&over),
            Err(Error::FrameTooLarge {
                len: FRAME_BYTES_MAX + 1
            })
        );
        let at = (FRAME_BYTES_MAX as u16).to_be_bytes();
        assert_eq!(split_frame(&at), Ok(Status::Partial));
    }

    // Goal: the reply TPDU swaps the addresses.
    #[test]
    fn tpdu_swap() {
        let t = Tpdu {
            destination: 3,
            source: 0,
        };
        assert_eq!(t.swapped().destination, 0);
        assert_eq!(t.swapped().source, 3);
    }
}
