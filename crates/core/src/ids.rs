//! Identifiers of the trade, each parsed once at the edge (GLOSSARY.md gives the formats).

use std::fmt;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} must be {rule}, got {got:?}")]
pub struct IdError {
    /// Which identifier.
    pub what: &'static str,
    /// The rule it breaks, in words.
    pub rule: &'static str,
    /// What was given (never a PAN: PANs have their own type).
    pub got: String,
}

fn check(text: &str, what: &'static str, rule: &'static str, ok: bool) -> Result<(), IdError> {
    if ok {
        Ok(())
    } else {
        Err(IdError {
            what,
            rule,
            got: text.to_owned(),
        })
    }
}

fn is_digits(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_digit())
}

fn is_alnum(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $rule:literal, $len:literal, $pred:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Parses and checks the format.
            pub fn parse(text: &str) -> Result<Self, IdError> {
                check(text, $what, $rule, $pred(text, $len))?;
                Ok(Self(text.to_owned()))
            }
            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_id!(
    /// 商户号, 8583 field 42: 15 characters (acquirer 3 + area 4 + MCC 4 + serial 4).
    MerchantId, "merchant id", "15 letters or digits", 15, is_alnum
);
text_id!(
    /// 终端号, 8583 field 41: 8 characters.
    TerminalId, "terminal id", "8 letters or digits", 8, is_alnum
);
text_id!(
    /// 参考号, 8583 field 37: 12 characters, unique per host per day.
    Rrn, "reference no.", "12 letters or digits", 12, is_alnum
);
text_id!(
    /// 授权码, 8583 field 38: 6 characters.
    AuthCode, "authorization code", "6 letters or digits", 6, is_alnum
);

macro_rules! counter_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(u32);

        impl $name {
            /// The first number of a sequence.
            pub const FIRST: $name = $name(1);
            /// The last number before the sequence wraps to 1 (six digits on the wire).
            pub const MAX: u32 = 999_999;

            /// Accepts 1..=999999 as a number.
            pub fn new(value: u32) -> Result<Self, IdError> {
                check(&value.to_string(), $what, "1 to 999999", (1..=Self::MAX).contains(&value))?;
                Ok(Self(value))
            }
            /// Parses up to six digits, leading zeros allowed (`000123`).
            pub fn parse(text: &str) -> Result<Self, IdError> {
                let ok = !text.is_empty()
                    && text.len() <= 6
                    && text.bytes().all(|b| b.is_ascii_digit());
                check(text, $what, "1 to 6 digits, not all zero", ok)?;
                Self::new(text.parse().unwrap_or(0))
            }
            /// The number.
            pub fn value(self) -> u32 {
                self.0
            }
            /// The next number; after 999999 comes 000001, as terminals count.
            pub fn next(self) -> Self {
                if self.0 >= Self::MAX { Self(1) } else { Self(self.0 + 1) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:06}", self.0)
            }
        }
    };
}

counter_id!(
    /// 凭证号 / 流水号 (= STAN, 8583 field 11), per terminal, 000001–999999, wraps.
    VoucherNo, "voucher no."
);
counter_id!(
    /// 批次号 (8583 field 60.2), per terminal; settlement opens the next one.
    BatchNo, "batch no."
);

/// Operator number at a terminal/merchant: `99` admin, `00` supervisor, `01`–`98` cashiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OperatorNo(u8);

/// What an operator may do, from the number (UnionPay terminal convention).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// 系统管理员 (99): parameters, hiding records, managing operators.
    Admin,
    /// 主管 (00): authorizes void, refund, pre-auth void and completion void.
    Supervisor,
    /// 收银员 (01–98): sells, queries, changes own password.
    Cashier,
}

impl Role {
    /// The code name used in JSON and the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::Cashier => "cashier",
        }
    }
}

impl OperatorNo {
    /// The supervisor, 00.
    pub const SUPERVISOR: OperatorNo = OperatorNo(0);
    /// The system administrator, 99.
    pub const ADMIN: OperatorNo = OperatorNo(99);

    /// Parses exactly two digits.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        check(text, "operator no.", "2 digits 00-99", is_digits(text, 2))?;
        Ok(Self(text.parse().unwrap_or(0)))
    }
    /// The role that the number implies.
    pub fn role(self) -> Role {
        match self.0 {
            99 => Role::Admin,
            0 => Role::Supervisor,
            _ => Role::Cashier,
        }
    }
    /// The number.
    pub fn value(self) -> u8 {
        self.0
    }
}

impl fmt::Display for OperatorNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.0)
    }
}

/// A transaction's row id in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TxnId(pub i64);

impl fmt::Display for TxnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merchant_and_terminal_ids_have_fixed_lengths() {
        assert!(MerchantId::parse("898310048990001").is_ok());
        assert!(MerchantId::parse("89831004899000").is_err());
        assert!(TerminalId::parse("12345678").is_ok());
        assert!(TerminalId::parse("1234567").is_err());
        assert!(TerminalId::parse("1234567８").is_err());
    }

    #[test]
    fn voucher_numbers_pad_and_wrap() {
        let v = VoucherNo::parse("000123").unwrap();
        assert_eq!(v.to_string(), "000123");
        assert_eq!(VoucherNo::new(999_999).unwrap().next(), VoucherNo::FIRST);
        assert!(VoucherNo::parse("0").is_err());
        assert!(VoucherNo::parse("1234567").is_err());
        assert!(VoucherNo::parse("-1").is_err());
    }

    #[test]
    fn operator_roles_follow_the_unionpay_convention() {
        assert_eq!(OperatorNo::parse("99").unwrap().role(), Role::Admin);
        assert_eq!(OperatorNo::parse("00").unwrap().role(), Role::Supervisor);
        assert_eq!(OperatorNo::parse("01").unwrap().role(), Role::Cashier);
        assert_eq!(OperatorNo::parse("98").unwrap().role(), Role::Cashier);
        assert!(OperatorNo::parse("1").is_err());
        assert!(OperatorNo::parse("100").is_err());
    }
}
