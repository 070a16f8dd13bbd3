//! The financial messages the host sends up, from plain facts (so the application layer
//! names no field number): `shared/spec/iso8583-1987-switch.md`, "Messages".

use suanpan_iso8583::switch::{MTI_0200, PC_PURCHASE, PC_REFUND};
use suanpan_iso8583::{Error as CodecError, IsoMsg, SWITCH};

/// Security control of a PIN block under the double-length ZPK (spec field 53).
const SECURITY_CONTROL: &str = "2600000000000000";
/// Currency: renminbi.
const CURRENCY_CNY: &str = "156";

/// The card as the terminal presented it: what goes up in 2, 14, 22, 35 and 52.
#[derive(Clone)]
pub struct Card {
    /// The PAN (field 2).
    pub pan: String,
    /// Expiry `YYMM` (14), when presented.
    pub expiry: Option<String>,
    /// POS entry mode, three digits (22).
    pub entry_mode: String,
    /// The PIN block already re-encrypted under the ZPK (52), when a PIN was entered.
    pub pin_block: Option<[u8; 8]>,
}

impl std::fmt::Debug for Card {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The PAN and PIN block never go to a log.
        f.debug_struct("Card")
            .field("entry_mode", &self.entry_mode)
            .field("pin", &self.pin_block.is_some())
            .finish_non_exhaustive()
    }
}

/// A purchase's facts besides the card.
#[derive(Debug, Clone)]
pub struct Purchase<'a> {
    /// Amount in fen (4).
    pub amount_fen: u64,
    /// Terminal id (41).
    pub terminal_id: &'a str,
    /// Merchant id (42).
    pub merchant_id: &'a str,
    /// Retrieval reference number the host assigned (37).
    pub rrn: &'a str,
    /// Local time `hhmmss` and date `MMDD` at the terminal (12, 13).
    pub local_time: &'a str,
    /// See `local_time`.
    pub local_date: &'a str,
    /// Merchant category code (18).
    pub mcc: &'a str,
    /// Card acceptor name and location (43), padded to 40 by the codec.
    pub acceptor: &'a str,
}

/// The first fields of a 0200 purchase: enough for [`crate::Link::prepare`] to give it a
/// STAN of its terminal before the rest is known.
///
/// # Errors
/// A terminal id the profile does not take.
pub fn purchase_skeleton(terminal_id: &str) -> Result<IsoMsg, CodecError> {
    skeleton(terminal_id, PC_PURCHASE)
}

/// The first fields of a 0200 refund (processing code `200000`, a new financial message
/// with its own amount): completed like a purchase by [`complete_purchase`].
///
/// # Errors
/// A terminal id the profile does not take.
pub fn refund_skeleton(terminal_id: &str) -> Result<IsoMsg, CodecError> {
    skeleton(terminal_id, PC_REFUND)
}

fn skeleton(terminal_id: &str, processing_code: &str) -> Result<IsoMsg, CodecError> {
    let mut m = IsoMsg::new(&SWITCH, MTI_0200);
    m.set_str(3, processing_code)?;
    m.set_str(41, terminal_id)?;
    Ok(m)
}

/// Completes a prepared 0200 purchase or refund (from [`purchase_skeleton`] or
/// [`refund_skeleton`]).
///
/// # Errors
/// A value the profile does not take.
pub fn complete_purchase(m: &mut IsoMsg, p: &Purchase<'_>, card: &Card) -> Result<(), CodecError> {
    m.set_str(2, &card.pan)?;
    m.set_u64(4, p.amount_fen)?;
    m.set_str(12, p.local_time)?;
    m.set_str(13, p.local_date)?;
    if let Some(e) = &card.expiry {
        m.set_str(14, e)?;
    }
    m.set_str(18, p.mcc)?;
    m.set_str(22, &card.entry_mode)?;
    m.set_str(25, "00")?;
    m.set_str(37, p.rrn)?;
    m.set_str(41, p.terminal_id)?;
    m.set_str(42, p.merchant_id)?;
    m.set_str(43, p.acceptor)?;
    m.set_str(49, CURRENCY_CNY)?;
    if let Some(block) = &card.pin_block {
        m.set(52, block)?;
        m.set_str(53, SECURITY_CONTROL)?;
    }
    Ok(())
}

/// Field 39 and (approved) 38 of an answer.
pub fn outcome(answer: &IsoMsg) -> (Option<&str>, Option<&str>) {
    (answer.text(39), answer.text(38).map(str::trim))
}
