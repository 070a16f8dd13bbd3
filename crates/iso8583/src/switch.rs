//! Wire facts of the acquirer-to-switch link (`iso8583-1987-switch.md`) that both ends
//! share: the MTIs, the matching key, field 90 and field 54. No policy lives here.

use crate::error::Error;
use crate::message::Mti;
use crate::profile::IsoMsg;

/// 0100 authorization request (pre-authorization, balance inquiry).
pub const MTI_0100: Mti = Mti::AUTHORIZATION_REQUEST;
/// 0200 financial request (purchase, refund).
pub const MTI_0200: Mti = Mti::FINANCIAL_REQUEST;
/// 0220 financial advice (pre-authorization completion).
pub const MTI_0220: Mti = Mti::ADVICE_REQUEST;
/// 0420 reversal advice.
pub const MTI_0420: Mti = match Mti::new(420) {
    Some(m) => m,
    None => Mti::REVERSAL_REQUEST,
};
/// 0421 reversal advice repeat.
pub const MTI_0421: Mti = match Mti::new(421) {
    Some(m) => m,
    None => Mti::REVERSAL_REQUEST,
};
/// 0430 reversal advice response (to 0420 and 0421).
pub const MTI_0430: Mti = match Mti::new(430) {
    Some(m) => m,
    None => Mti::REVERSAL_REQUEST,
};
/// 0800 network management request.
pub const MTI_0800: Mti = Mti::NETWORK_REQUEST;

/// Field 70: sign-on.
pub const NMC_SIGN_ON: &str = "001";
/// Field 70: sign-off.
pub const NMC_SIGN_OFF: &str = "002";
/// Field 70: echo test.
pub const NMC_ECHO: &str = "301";
/// Field 70: key change.
pub const NMC_KEY_CHANGE: &str = "101";

/// Processing code of a purchase.
pub const PC_PURCHASE: &str = "000000";
/// Processing code of a refund.
pub const PC_REFUND: &str = "200000";
/// Processing code of a balance inquiry.
pub const PC_BALANCE: &str = "310000";
/// Processing code of a pre-authorization.
pub const PC_PREAUTH: &str = "030000";

/// Digits of field 32 inside field 90 (right-aligned, zero-padded).
const ACQUIRER_IN_90: usize = 11;

/// The answer MTI a request is matched by: its class with the function digit 1 (0421 is
/// answered 0430, like 0420; the spec's "MTI + 10" taken per message class).
pub fn answer_mti(request: Mti) -> Mti {
    let v = request.value();
    Mti::new(v - v % 10 + 10).unwrap_or(request)
}

/// What an answer is matched to its request by (spec "Matching"): answer MTI, 11, 7, 41.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MatchKey {
    /// The answer's MTI.
    pub mti: Mti,
    /// Field 11.
    pub stan: String,
    /// Field 7.
    pub transmitted: String,
    /// Field 41 as on the wire (space padded), empty for network management.
    pub terminal: String,
}

impl MatchKey {
    /// The key an answer to `request` will carry.
    pub fn of_request(request: &IsoMsg) -> MatchKey {
        MatchKey::with_mti(request, answer_mti(request.mti()))
    }

    /// The key `answer` carries.
    pub fn of_answer(answer: &IsoMsg) -> MatchKey {
        MatchKey::with_mti(answer, answer.mti())
    }

    fn with_mti(m: &IsoMsg, mti: Mti) -> MatchKey {
        MatchKey {
            mti,
            stan: m.text(11).unwrap_or_default().to_owned(),
            transmitted: m.text(7).unwrap_or_default().to_owned(),
            terminal: m.text(41).unwrap_or_default().to_owned(),
        }
    }
}

/// Field 90: the original's MTI, STAN, field 7 and acquirer id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OriginalData {
    /// Original MTI.
    pub mti: Mti,
    /// Original field 11 (6 digits).
    pub stan: String,
    /// Original field 7 (10 digits).
    pub transmitted: String,
    /// Original field 32, right-aligned and zero-padded to 11 digits.
    pub acquirer: String,
}

impl OriginalData {
    /// The original data of request `original` (which carries 7, 11 and 32).
    pub fn of(original: &IsoMsg) -> OriginalData {
        OriginalData {
            mti: original.mti(),
            stan: original.text(11).unwrap_or_default().to_owned(),
            transmitted: original.text(7).unwrap_or_default().to_owned(),
            acquirer: pad_acquirer(original.text(32).unwrap_or_default()),
        }
    }

    /// The 42 digits of field 90: MTI n4, STAN n6, field 7 n10, acquirer n11, `0` × 11.
    pub fn to_field(&self) -> String {
        format!(
            "{}{:0>6}{:0>10}{}00000000000",
            self.mti, self.stan, self.transmitted, self.acquirer
        )
    }

    /// Reads field 90.
    ///
    /// # Errors
    /// [`Error::BadSubfield`]`(90)` when it is not 42 digits.
    pub fn parse(field: &str) -> Result<OriginalData, Error> {
        if field.len() != 42 || !field.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::BadSubfield(90));
        }
        let mti = field[..4]
            .parse()
            .ok()
            .and_then(Mti::new)
            .ok_or(Error::BadSubfield(90))?;
        Ok(OriginalData {
            mti,
            stan: field[4..10].to_owned(),
            transmitted: field[10..20].to_owned(),
            acquirer: field[20..31].to_owned(),
        })
    }
}

/// Field 32 as it sits in field 90: right-aligned, zero-padded to 11 digits.
pub fn pad_acquirer(acquirer: &str) -> String {
    format!("{acquirer:0>ACQUIRER_IN_90$}")
}

/// Field 54 of a balance inquiry's answer: account type `10`, amount type `02` (available),
/// currency, sign `C`/`D`, 12 digits of fen.
pub fn available_balance_field(currency: &str, available_fen: i64) -> String {
    let sign = if available_fen < 0 { 'D' } else { 'C' };
    format!("1002{currency}{sign}{:012}", available_fen.unsigned_abs())
}

/// The available balance (fen) in a field 54, when it holds an amount type `02`.
pub fn parse_available_balance(field: &str) -> Option<i64> {
    let b = field.as_bytes();
    (0..b.len() / 20).find_map(|i| {
        let entry = field.get(i * 20..i * 20 + 20)?;
        if &entry[2..4] != "02" {
            return None;
        }
        let amount: i64 = entry[8..20].parse().ok()?;
        match &entry[7..8] {
            "D" => Some(-amount),
            _ => Some(amount),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: field 90 round-trips and a 0421 is matched like a 0420.
    #[test]
    fn field90_and_answer_mti() {
        let od = OriginalData {
            mti: MTI_0200,
            stan: "000123".into(),
            transmitted: "1206013015".into(),
            acquirer: pad_acquirer("12345678"),
        };
        let f = od.to_field();
        assert_eq!(f, "020000012312060130150001234567800000000000");
        assert_eq!(OriginalData::parse(&f).ok(), Some(od));
        assert_eq!(answer_mti(MTI_0421), MTI_0430);
        assert_eq!(answer_mti(MTI_0200).value(), 210);
        let f54 = available_balance_field("156", 12_345);
        assert_eq!(f54, "1002156C000000012345");
        assert_eq!(parse_available_balance(&f54), Some(12_345));
    }
}
