//! Packing and checking of BCD digits (`n` and `z` fields, MTI, header, length prefixes).

use crate::field::{FieldSpec, Format, LengthKind};

/// Nibble that `z` fields use for the track separator `=`.
const SEPARATOR_NIBBLE: u8 = 0xD;

/// Where the digits sit inside the packed bytes when their count is odd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Align {
    /// Leading pad nibble (fixed `n` fields).
    Right,
    /// Trailing pad nibble (variable fields and field 22).
    Left,
}

/// How a field's digits are aligned: fixed `n` fields right, the rest left (spec table
/// "Data types and encodings"; field 22 is the documented exception).
pub(crate) fn align_of(spec: &FieldSpec) -> Align {
    if spec.length == LengthKind::Fixed && !spec.left_aligned {
        Align::Right
    } else {
        Align::Left
    }
}

/// Nibble `i` (0 = high nibble of byte 0) of `data`; the caller keeps `i` in range.
fn nibble(data: &[u8], i: usize) -> u8 {
    let b = data[i / 2];
    if i % 2 == 0 { b >> 4 } else { b & 0x0F }
}

/// Index of the first digit nibble and the pad nibble's index, if any.
fn layout(units: usize, align: Align) -> (usize, Option<usize>) {
    match (units % 2 == 1, align) {
        (false, _) => (0, None),
        (true, Align::Right) => (1, Some(0)),
        (true, Align::Left) => (0, Some(units)),
    }
}

/// Checks every nibble of a BCD field: digits (and `D` for `z`) where data sits; where the
/// pad nibble sits, 0 for a leading pad and 0 or F for a trailing one (the decoder
/// accepts F padding, spec "n (variable), z"; fixed fields "use a leading 0 nibble").
pub(crate) fn check(spec: &FieldSpec, data: &[u8], units: usize) -> bool {
    let align = align_of(spec);
    let (first, pad) = layout(units, align);
    let digits_ok = (first..first + units).all(|i| {
        let v = nibble(data, i);
        v <= 9 || (spec.format == Format::Z && v == SEPARATOR_NIBBLE)
    });
    let pad_ok =
        pad.is_none_or(|i| matches!((nibble(data, i), align), (0x0, _) | (0xF, Align::Left)));
    digits_ok && pad_ok
}

/// Gives `push` the digits of a checked BCD field as ASCII, in order (`=` for the `z`
/// separator).
pub(crate) fn unpack_with(spec: &FieldSpec, data: &[u8], units: usize, mut push: impl FnMut(u8)) {
    let (first, _) = layout(units, align_of(spec));
    for i in first..first + units {
        push(match nibble(data, i) {
            SEPARATOR_NIBBLE => b'=',
            v => b'0' + v,
        });
    }
}

/// Nibble value of a checked ASCII digit or `=`.
fn nibble_of(c: u8) -> u8 {
    if c == b'=' {
        SEPARATOR_NIBBLE
    } else {
        c.wrapping_sub(b'0') & 0x0F
    }
}

/// Packs ASCII `digits` (and `=` for the `z` separator) into `out` with the given
/// alignment, pad nibble 0. The caller checked the characters (the encoder's setters do).
pub(crate) fn pack_digits(digits: &[u8], align: Align, out: &mut Vec<u8>) {
    let (lead, rest) = match (digits.split_first(), digits.len() % 2, align) {
        (Some((&first, rest)), 1, Align::Right) => (Some(first), rest),
        _ => (None, digits),
    };
    if let Some(first) = lead {
        out.push(nibble_of(first));
    }
    let pairs = rest.chunks_exact(2);
    let last = pairs.remainder().first().copied();
    out.extend(pairs.map(|p| nibble_of(p[0]) << 4 | nibble_of(p[1])));
    if let Some(last) = last {
        out.push(nibble_of(last) << 4);
    }
}

/// True when every nibble of `bytes` is a decimal digit.
pub(crate) fn is_bcd(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b >> 4 <= 9 && b & 0x0F <= 9)
}

/// Value of BCD `bytes` (at most 4 bytes, so it fits) as a number, or `None` when a
/// nibble is not a digit.
pub(crate) fn to_u32(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |acc, &b| {
        let (hi, lo) = (b >> 4, b & 0x0F);
        (hi <= 9 && lo <= 9).then(|| acc * 100 + u32::from(hi) * 10 + u32::from(lo))
    })
}

/// Writes `value` as `width` BCD bytes (2 digits each); the caller keeps it in range.
pub(crate) fn write_u32(value: u32, width: usize, out: &mut Vec<u8>) {
    for i in (0..width).rev() {
        let pair = (value / 100u32.pow(i as u32)) % 100;
        out.push(((pair / 10) as u8) << 4 | (pair % 10) as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::spec;

    // Goal: both alignments put the pad nibble where the spec says, and `=` is `D`.
    #[test]
    fn pack_alignments() {
        let mut out = Vec::new();
        pack_digits(b"021", Align::Left, &mut out);
        assert_eq!(out, [0x02, 0x10]);
        out.clear();
        pack_digits(b"021", Align::Right, &mut out);
        assert_eq!(out, [0x00, 0x21]);
        out.clear();
        pack_digits(b"12=4", Align::Left, &mut out);
        assert_eq!(out, [0x12, 0xD4]);
        out.clear();
        pack_digits(b"12=", Align::Left, &mut out);
        assert_eq!(out, [0x12, 0xD0]);
        out.clear();
        pack_digits(b"", Align::Right, &mut out);
        assert!(out.is_empty());
    }

    // Goal: the decoder accepts F padding but no hex digit inside the data.
    #[test]
    fn check_padding() {
        let f2 = spec(2).copied().unwrap_or_else(|| unreachable!());
        assert!(check(&f2, &[0x12, 0x3F], 3));
        assert!(check(&f2, &[0x12, 0x30], 3));
        assert!(!check(&f2, &[0x12, 0x3A], 3));
        assert!(!check(&f2, &[0x1A, 0x30], 3));
        let mut digits = Vec::new();
        unpack_with(&f2, &[0x12, 0x3F], 3, |b| digits.push(b));
        assert_eq!(digits, b"123");
    }

    // Goal: prefix and MTI numbers round-trip through BCD.
    #[test]
    fn numbers() {
        let mut out = Vec::new();
        write_u32(17, 2, &mut out);
        assert_eq!(out, [0x00, 0x17]);
        assert_eq!(to_u32(&out), Some(17));
        assert_eq!(to_u32(&[0x1A]), None);
    }
}
