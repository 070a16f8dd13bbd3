//! Money: integer fen in an `i64`, never floats.

use std::fmt;

/// An amount of money in fen (分, 1/100 yuan). The field is private: the only ways in are
/// [`Amount::from_fen`] and [`Amount::from_yuan_str`], so a value always came through a check.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i64);

/// Why a typed amount was refused. Each variant is a user error, shown with a remedy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Nothing typed.
    #[error("empty amount")]
    Empty,
    /// Something other than ASCII digits and one dot (full-width digits, letters, signs).
    #[error("invalid character in amount")]
    InvalidCharacter,
    /// More than two digits after the dot: fen is the smallest unit.
    #[error("more than two decimals")]
    TooManyDecimals,
    /// Zero is not a payable amount.
    #[error("amount is zero")]
    Zero,
    /// Over [`Amount::MAX_FEN`], the 12 digits of 8583 field 4.
    #[error("amount too large")]
    TooLarge,
}

/// Arithmetic left the range an amount can hold; a bug in the caller, never user input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("amount arithmetic overflow")]
pub struct AmountOverflow;

impl Amount {
    /// The largest amount 8583 field 4 (n12) can carry: 9,999,999,999.99 yuan.
    pub const MAX_FEN: i64 = 999_999_999_999;
    /// Zero, for totals.
    pub const ZERO: Amount = Amount(0);

    /// Wraps a fen value computed inside the system (store rows, sums).
    pub const fn from_fen(fen: i64) -> Amount {
        Amount(fen)
    }

    /// The value in fen.
    pub const fn fen(self) -> i64 {
        self.0
    }

    /// Parses what a person types: `12`, `12.3`, `12.34`, `0.01`. Refuses signs, full-width
    /// digits, separators, more than two decimals, zero, and anything over field 4's 12 digits.
    pub fn from_yuan_str(text: &str) -> Result<Amount, AmountError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(AmountError::Empty);
        }
        let (whole, frac) = match text.split_once('.') {
            Some((w, f)) => (w, f),
            None => (text, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) || !all_digits(frac) || (whole.is_empty() && frac.is_empty()) {
            return Err(AmountError::InvalidCharacter);
        }
        if frac.len() > 2 {
            return Err(AmountError::TooManyDecimals);
        }
        if whole.len() > 12 {
            return Err(AmountError::TooLarge);
        }
        let whole_fen = whole.parse::<i64>().unwrap_or(0).checked_mul(100);
        let frac_fen = match frac.len() {
            0 => 0,
            1 => i64::from(frac.as_bytes()[0] - b'0') * 10,
            _ => frac.parse::<i64>().unwrap_or(0),
        };
        let fen = whole_fen
            .and_then(|w| w.checked_add(frac_fen))
            .ok_or(AmountError::TooLarge)?;
        if fen == 0 {
            return Err(AmountError::Zero);
        }
        if fen > Amount::MAX_FEN {
            return Err(AmountError::TooLarge);
        }
        Ok(Amount(fen))
    }

    /// Sum that reports overflow instead of wrapping.
    pub fn checked_add(self, other: Amount) -> Result<Amount, AmountOverflow> {
        self.0
            .checked_add(other.0)
            .map(Amount)
            .ok_or(AmountOverflow)
    }

    /// Difference that reports overflow instead of wrapping.
    pub fn checked_sub(self, other: Amount) -> Result<Amount, AmountOverflow> {
        self.0
            .checked_sub(other.0)
            .map(Amount)
            .ok_or(AmountOverflow)
    }

    /// `amount * percent / 100`, rounded down; used for the completion ceiling (115%).
    pub fn percent(self, percent: u32) -> Result<Amount, AmountOverflow> {
        self.0
            .checked_mul(i64::from(percent))
            .map(|v| Amount(v / 100))
            .ok_or(AmountOverflow)
    }

    /// True for amounts above zero.
    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// Plain yuan with two decimals, no symbol: `1234.50`, `-0.01`. For CSV and JSON.
    pub fn yuan(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }

    /// For people: `¥1,234.50`.
    pub fn display(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let whole = (abs / 100).to_string();
        let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
        for (i, ch) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        format!("{sign}¥{grouped}.{:02}", abs % 100)
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}fen", self.0)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.yuan())
    }
}

/// ISO 4217 currency. Only CNY today: field 49 is always `156`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Currency {
    /// Renminbi, numeric code 156.
    Cny,
}

impl Currency {
    /// The alphabetic code.
    pub fn code(self) -> &'static str {
        "CNY"
    }
    /// The numeric code of 8583 field 49.
    pub fn numeric(self) -> &'static str {
        "156"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_cashiers_type() {
        assert_eq!(Amount::from_yuan_str("12").unwrap().fen(), 1200);
        assert_eq!(Amount::from_yuan_str("12.3").unwrap().fen(), 1230);
        assert_eq!(Amount::from_yuan_str("12.34").unwrap().fen(), 1234);
        assert_eq!(Amount::from_yuan_str("0.01").unwrap().fen(), 1);
        assert_eq!(Amount::from_yuan_str(".5").unwrap().fen(), 50);
        assert_eq!(Amount::from_yuan_str(" 7 ").unwrap().fen(), 700);
    }

    #[test]
    fn refuses_malformed_amounts() {
        use AmountError::*;
        let cases = [
            ("12.345", TooManyDecimals),
            ("-1", InvalidCharacter),
            ("abc", InvalidCharacter),
            ("１２", InvalidCharacter),
            ("0", Zero),
            ("0.00", Zero),
            ("", Empty),
            (".", InvalidCharacter),
            ("1,000", InvalidCharacter),
            ("1e3", InvalidCharacter),
            ("+5", InvalidCharacter),
            ("1.2.3", InvalidCharacter),
            ("10000000000000", TooLarge),
        ];
        for (text, want) in cases {
            assert_eq!(Amount::from_yuan_str(text), Err(want), "input {text:?}");
        }
    }

    #[test]
    fn formats_for_people_and_files() {
        assert_eq!(Amount::from_fen(123450).display(), "¥1,234.50");
        assert_eq!(Amount::from_fen(5).display(), "¥0.05");
        assert_eq!(Amount::from_fen(100_000_000).display(), "¥1,000,000.00");
        assert_eq!(Amount::from_fen(-1).yuan(), "-0.01");
        assert_eq!(Amount::from_fen(123450).yuan(), "1234.50");
    }

    #[test]
    fn arithmetic_reports_overflow() {
        assert!(
            Amount::from_fen(i64::MAX)
                .checked_add(Amount::from_fen(1))
                .is_err()
        );
        assert_eq!(Amount::from_fen(10000).percent(115).unwrap().fen(), 11500);
    }

    proptest::proptest! {
        #[test]
        fn yuan_string_round_trips(fen in 1i64..=Amount::MAX_FEN) {
            let a = Amount::from_fen(fen);
            proptest::prop_assert_eq!(Amount::from_yuan_str(&a.yuan()), Ok(a));
        }
    }
}
