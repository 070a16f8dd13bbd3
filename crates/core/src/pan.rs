//! Card numbers. A [`Pan`] exists only between the edge and the fingerprint; what is kept and
//! shown is a [`MaskedPan`].

use std::fmt;

/// A primary account number that passed the Luhn check. It never prints (Debug and Display
/// show the masked form) and its digits are overwritten when it is dropped.
pub struct Pan(Vec<u8>);

/// Why a typed card number was refused (8583 response code 14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PanError {
    /// Not 13–19 ASCII digits.
    #[error("a card number has 13 to 19 digits")]
    Format,
    /// The check digit is wrong: a typo.
    #[error("the card number's check digit is wrong")]
    Luhn,
}

impl Pan {
    /// Parses 13–19 digits (spaces allowed between groups) and checks the Luhn digit.
    pub fn parse(text: &str) -> Result<Pan, PanError> {
        let digits: Vec<u8> = text.bytes().filter(|b| *b != b' ').collect();
        if !(13..=19).contains(&digits.len()) || !digits.iter().all(u8::is_ascii_digit) {
            return Err(PanError::Format);
        }
        if !luhn_valid(&digits) {
            return Err(PanError::Luhn);
        }
        Ok(Pan(digits))
    }

    /// The digits, for the fingerprint and the issuer; never for storage or logs.
    pub fn expose_digits(&self) -> &str {
        // Only ASCII digits got in through `parse`.
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// First 6 and last 4 digits, the rest as `*` (the receipt and storage form).
    pub fn masked(&self) -> MaskedPan {
        let n = self.0.len();
        let mut out = String::with_capacity(n);
        for (i, b) in self.0.iter().enumerate() {
            out.push(if i < 6 || i >= n - 4 {
                char::from(*b)
            } else {
                '*'
            });
        }
        MaskedPan(out)
    }
}

impl Drop for Pan {
    fn drop(&mut self) {
        for b in self.0.iter_mut() {
            // Volatile so the optimizer keeps the wipe of a buffer about to be freed.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

impl fmt::Debug for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pan({})", self.masked())
    }
}

/// The Luhn (mod 10) check over ASCII digits, check digit last.
pub fn luhn_valid(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The Luhn check digit that completes `body` (used to build demo cards).
pub fn luhn_check_digit(body: &str) -> char {
    let mut probe: Vec<u8> = body.bytes().collect();
    probe.push(b'0');
    for d in b'0'..=b'9' {
        if let Some(last) = probe.last_mut() {
            *last = d;
        }
        if luhn_valid(&probe) {
            return char::from(d);
        }
    }
    '0'
}

/// A card number as receipts and storage show it: `622202******1234`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MaskedPan(String);

impl MaskedPan {
    /// Rebuilds a masked PAN read back from storage; refuses anything that shows more than 6+4.
    pub fn from_stored(text: &str) -> Option<MaskedPan> {
        let n = text.len();
        let ok = (13..=19).contains(&n)
            && text.bytes().enumerate().all(|(i, b)| {
                if i < 6 || i >= n - 4 {
                    b.is_ascii_digit()
                } else {
                    b == b'*'
                }
            });
        ok.then(|| MaskedPan(text.to_owned()))
    }
    /// The masked text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The last four digits.
    pub fn last4(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }
}

impl fmt::Display for MaskedPan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_known_test_numbers() {
        assert!(Pan::parse("4111111111111111").is_ok());
        assert!(
            Pan::parse("4111 1111 1111 1111").is_ok(),
            "groups separated by spaces"
        );
        assert_eq!(Pan::parse("4111111111111112").err(), Some(PanError::Luhn));
        assert_eq!(Pan::parse("41111").err(), Some(PanError::Format));
        assert_eq!(Pan::parse("4111x11111111111").err(), Some(PanError::Format));
    }

    #[test]
    fn masks_six_and_four_and_never_prints() {
        let pan = Pan::parse("4111111111111111").unwrap();
        assert_eq!(pan.masked().as_str(), "411111******1111");
        assert_eq!(format!("{pan:?}"), "Pan(411111******1111)");
        assert!(MaskedPan::from_stored("4111111111111111").is_none());
        assert!(MaskedPan::from_stored("411111******1111").is_some());
    }

    #[test]
    fn check_digit_completes_a_body() {
        let body = "622202123456789012";
        let pan = format!("{body}{}", luhn_check_digit(body));
        assert!(Pan::parse(&pan).is_ok());
    }
}
