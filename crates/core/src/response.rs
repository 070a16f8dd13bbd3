//! The 8583 response codes Suanpan uses (spec "Response codes Suanpan uses").

use crate::i18n::{Lang, tr};

/// 应答码 (8583 field 39).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum ResponseCode {
    Approved,
    InvalidMerchant,
    DoNotHonour,
    InvalidTransaction,
    InvalidAmount,
    InvalidCardNumber,
    OriginalNotFound,
    FormatError,
    NotSupported,
    LostCard,
    StolenCard,
    InsufficientFunds,
    ExpiredCard,
    IncorrectPin,
    ExceedsAmountLimit,
    OriginalAmountIncorrect,
    ExceedsFrequencyLimit,
    PinTriesExceeded,
    SignInAgain,
    Duplicate,
    IssuerUnavailable,
    SystemMalfunction,
    TerminalNotRegistered,
    IssuerTimeout,
    MacError,
    /// `58`: the merchant's supervisor paused this terminal (issue 13).
    NotPermittedOnTerminal,
}

impl ResponseCode {
    /// Every code, in the spec's order.
    pub const ALL: [ResponseCode; 26] = [
        ResponseCode::Approved,
        ResponseCode::InvalidMerchant,
        ResponseCode::DoNotHonour,
        ResponseCode::InvalidTransaction,
        ResponseCode::InvalidAmount,
        ResponseCode::InvalidCardNumber,
        ResponseCode::OriginalNotFound,
        ResponseCode::FormatError,
        ResponseCode::NotSupported,
        ResponseCode::LostCard,
        ResponseCode::StolenCard,
        ResponseCode::InsufficientFunds,
        ResponseCode::ExpiredCard,
        ResponseCode::IncorrectPin,
        ResponseCode::ExceedsAmountLimit,
        ResponseCode::OriginalAmountIncorrect,
        ResponseCode::ExceedsFrequencyLimit,
        ResponseCode::PinTriesExceeded,
        ResponseCode::SignInAgain,
        ResponseCode::Duplicate,
        ResponseCode::IssuerUnavailable,
        ResponseCode::SystemMalfunction,
        ResponseCode::TerminalNotRegistered,
        ResponseCode::IssuerTimeout,
        ResponseCode::MacError,
        ResponseCode::NotPermittedOnTerminal,
    ];

    /// The two characters of field 39.
    pub fn code(self) -> &'static str {
        use ResponseCode::*;
        match self {
            Approved => "00",
            InvalidMerchant => "03",
            DoNotHonour => "05",
            InvalidTransaction => "12",
            InvalidAmount => "13",
            InvalidCardNumber => "14",
            OriginalNotFound => "25",
            FormatError => "30",
            NotSupported => "40",
            LostCard => "41",
            StolenCard => "43",
            InsufficientFunds => "51",
            ExpiredCard => "54",
            IncorrectPin => "55",
            ExceedsAmountLimit => "61",
            OriginalAmountIncorrect => "64",
            ExceedsFrequencyLimit => "65",
            PinTriesExceeded => "75",
            SignInAgain => "77",
            Duplicate => "94",
            IssuerUnavailable => "91",
            SystemMalfunction => "96",
            TerminalNotRegistered => "97",
            IssuerTimeout => "98",
            MacError => "A0",
            NotPermittedOnTerminal => "58",
        }
    }

    /// Parses field 39.
    pub fn parse(code: &str) -> Option<ResponseCode> {
        ResponseCode::ALL.into_iter().find(|c| c.code() == code)
    }

    /// True only for `00`.
    pub fn is_approved(self) -> bool {
        self == ResponseCode::Approved
    }

    /// The spec's meaning, in the caller's language.
    pub fn text(self, lang: Lang) -> String {
        tr(lang, &format!("rc.{}", self.code()), &[])
    }
}
