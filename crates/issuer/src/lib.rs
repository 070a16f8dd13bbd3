//! The issuer side of a payment: who says yes or no to a card or a wallet, and whose balance
//! moves. Suanpan runs alone with the [`Simulator`]; an upstream connector can implement
//! [`Issuer`] later.
//!
//! The simulator keeps its accounts in an [`AccountBook`] that the store implements inside the
//! same database transaction as the journal entry, so an approval and its booking commit
//! together and money is conserved: Σ balances + Σ net approved = Σ initial balances.
#![deny(missing_docs)]

pub mod demo;

use jiff::Timestamp;
use sha2::{Digest, Sha256};
use suanpan_core::{Amount, PaymentMethod, ResponseCode};

/// Wrong PINs in a row after which a card answers 75 until the issuer resets it.
pub const PIN_TRIES_MAX: u32 = 3;

/// A card's standing at the issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardStatus {
    /// In use.
    Active,
    /// 挂失 (41).
    Lost,
    /// 被窃 (43).
    Stolen,
    /// Marked expired by the issuer (54), besides the expiry date.
    Expired,
}

impl CardStatus {
    /// The code name.
    pub fn as_str(self) -> &'static str {
        match self {
            CardStatus::Active => "active",
            CardStatus::Lost => "lost",
            CardStatus::Stolen => "stolen",
            CardStatus::Expired => "expired",
        }
    }
    /// Parses a code name.
    pub fn parse(text: &str) -> Option<CardStatus> {
        [
            CardStatus::Active,
            CardStatus::Lost,
            CardStatus::Stolen,
            CardStatus::Expired,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// A debit card's balance, a credit card's open credit, or a wallet's balance: one number that
/// approvals take from and refunds give back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// For cards: the PAN's fingerprint; for wallets: the wallet id.
    pub id: String,
    /// What kind of instrument.
    pub instrument: Instrument,
    /// Money (or open credit) in fen.
    pub balance_fen: i64,
    /// Held by pre-authorizations (fen); available = balance − held.
    pub held_fen: i64,
}

/// Card or wallet details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instrument {
    /// A bank card.
    Card {
        /// Masked PAN, for listings.
        masked_pan: String,
        /// Expiry `YYMM`.
        expiry: String,
        /// Salted SHA-256 of the PIN, hex, if the card has one.
        pin_hash: Option<String>,
        /// Credit card (balance is open credit) or debit card.
        credit: bool,
        /// Standing.
        status: CardStatus,
        /// Wrong PINs in a row.
        pin_failures: u32,
    },
    /// A QR wallet.
    Wallet {
        /// Which network (Alipay, WeChat, UnionPay QR).
        method: PaymentMethod,
        /// Display name.
        name: String,
    },
}

/// What the host asks of the issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssuerOp {
    /// 余额查询: no money moves.
    Balance,
    /// Sale: take `amount` now.
    Debit,
    /// Pre-authorization: hold `amount`.
    Hold,
    /// Completion: release a hold of `held` and take `amount` (may exceed the hold up to the
    /// host's limit).
    Capture {
        /// The hold being captured.
        held: Amount,
    },
    /// Pre-auth void, expiry or reversal of a pre-auth: release a hold of `amount`.
    Release,
    /// Void, refund or reversal of a debit: give `amount` back. Never declined.
    Credit,
    /// Reversal of a void: take back what the void returned. Never declined (an advice).
    ForceDebit,
    /// Reversal of a pre-auth void or of a completion: put a hold back. Never declined.
    ForceHold,
}

/// The PIN as the acquirer hands it to the issuer, never printed, wiped when dropped.
///
/// With the file key provider the host decrypts field 52 into a [`EnteredPin::Clear`]
/// buffer that lives for one request. With an HSM (PKCS#11) the PIN block is decrypted in the
/// token and the provider turns the PIN at once into the simulator's verification value
/// ([`pin_hash`] of the account and the PIN): the clear PIN never reaches the store or the
/// issuer, which compares verification values ([`EnteredPin::Verification`]).
pub enum EnteredPin {
    /// The clear PIN digits.
    Clear(zeroize::Zeroizing<String>),
    /// [`pin_hash`] of the account id and the PIN, computed by the key provider.
    Verification(zeroize::Zeroizing<String>),
}

impl EnteredPin {
    /// A clear PIN (copied into a zeroizing buffer).
    pub fn clear(pin: &str) -> EnteredPin {
        EnteredPin::Clear(zeroize::Zeroizing::new(pin.to_owned()))
    }

    /// Whether this PIN is the one whose verification value `stored` the issuer keeps for
    /// `account_id`.
    pub fn matches(&self, account_id: &str, stored: &str) -> bool {
        let presented = match self {
            EnteredPin::Clear(pin) => zeroize::Zeroizing::new(pin_hash(account_id, pin)),
            EnteredPin::Verification(v) => v.clone(),
        };
        // Compared in full, not stopping at the first difference.
        presented.len() == stored.len()
            && presented
                .bytes()
                .zip(stored.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

impl Clone for EnteredPin {
    fn clone(&self) -> EnteredPin {
        match self {
            EnteredPin::Clear(p) => EnteredPin::Clear(p.clone()),
            EnteredPin::Verification(v) => EnteredPin::Verification(v.clone()),
        }
    }
}

impl std::fmt::Debug for EnteredPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnteredPin(..)")
    }
}

/// One request to the issuer.
#[derive(Debug, Clone)]
pub struct IssuerRequest<'a> {
    /// The account: PAN fingerprint or wallet id.
    pub account_id: &'a str,
    /// What to do.
    pub op: IssuerOp,
    /// How much.
    pub amount: Amount,
    /// The PIN the cardholder entered (only in memory; never stored).
    pub pin: Option<&'a EnteredPin>,
    /// Expiry presented by the terminal (`YYMM`), if any.
    pub expiry: Option<&'a str>,
    /// When.
    pub now: Timestamp,
}

/// The issuer's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuerResponse {
    /// `00` or the decline code.
    pub code: ResponseCode,
    /// Available balance after the operation (fen): what a balance inquiry shows.
    pub available_fen: i64,
}

/// The issuer could not answer (storage failed). Distinct from a decline.
#[derive(Debug, thiserror::Error)]
#[error("issuer unavailable: {0}")]
pub struct IssuerError(pub String);

/// Where the simulator keeps its accounts: the store implements it inside its transaction.
pub trait AccountBook {
    /// Loads an account.
    fn load_account(&mut self, id: &str) -> Result<Option<Account>, IssuerError>;
    /// Saves an account's changed balance, hold and PIN counter.
    fn save_account(&mut self, account: &Account) -> Result<(), IssuerError>;
}

/// The network behind the host.
pub trait Issuer {
    /// Authorizes one request. `book` is the store's account book (the simulator uses it; an
    /// upstream connector would ignore it). `Ok(None)` means the account is unknown.
    fn authorize(
        &self,
        book: &mut dyn AccountBook,
        req: &IssuerRequest<'_>,
    ) -> Result<Option<IssuerResponse>, IssuerError>;
}

/// The built-in card-issuer and QR-wallet simulator.
#[derive(Debug, Clone, Copy, Default)]
pub struct Simulator;

impl Issuer for Simulator {
    fn authorize(
        &self,
        book: &mut dyn AccountBook,
        req: &IssuerRequest<'_>,
    ) -> Result<Option<IssuerResponse>, IssuerError> {
        let Some(mut account) = book.load_account(req.account_id)? else {
            return Ok(None);
        };
        let before = account.clone();
        let code = decide(&mut account, req);
        if account != before {
            book.save_account(&account)?;
        }
        Ok(Some(IssuerResponse {
            code,
            available_fen: account.balance_fen - account.held_fen,
        }))
    }
}

/// Salted PIN hash as the simulator stores it: SHA-256 over the account id and the PIN. A fast
/// hash is deliberate: the check runs inside the store's single writer, and the simulator's
/// PINs are demo data, not cardholder secrets.
pub fn pin_hash(account_id: &str, pin: &str) -> String {
    let mut h = Sha256::new();
    h.update(account_id.as_bytes());
    h.update([0u8]);
    h.update(pin.as_bytes());
    hex::encode(h.finalize())
}

fn yymm_now(now: Timestamp) -> String {
    let d = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    format!("{:02}{:02}", d.year() % 100, d.month())
}

/// The simulator's decision: mutates the account when approved (and the PIN counter on a
/// wrong PIN), and answers the spec's response code.
fn decide(account: &mut Account, req: &IssuerRequest<'_>) -> ResponseCode {
    let forced = matches!(
        req.op,
        IssuerOp::Credit | IssuerOp::Release | IssuerOp::ForceDebit | IssuerOp::ForceHold
    );
    if !forced && let Some(code) = check_card(account, req) {
        return code;
    }
    let amount = req.amount.fen();
    let available = account.balance_fen - account.held_fen;
    match req.op {
        IssuerOp::Balance => {}
        IssuerOp::Debit | IssuerOp::Hold if amount > available => {
            return ResponseCode::InsufficientFunds;
        }
        IssuerOp::Debit | IssuerOp::ForceDebit => account.balance_fen -= amount,
        IssuerOp::Hold | IssuerOp::ForceHold => account.held_fen += amount,
        IssuerOp::Capture { held } => {
            let released = held.fen().min(account.held_fen);
            if amount > available + released {
                return ResponseCode::InsufficientFunds;
            }
            account.held_fen -= released;
            account.balance_fen -= amount;
        }
        IssuerOp::Release => account.held_fen -= amount.min(account.held_fen),
        IssuerOp::Credit => account.balance_fen += amount,
    }
    ResponseCode::Approved
}

/// Card checks in the order issuers apply them: status, expiry, PIN.
fn check_card(account: &mut Account, req: &IssuerRequest<'_>) -> Option<ResponseCode> {
    let id = account.id.clone();
    let Instrument::Card {
        expiry,
        pin_hash: stored,
        status,
        pin_failures,
        ..
    } = &mut account.instrument
    else {
        return None;
    };
    match status {
        CardStatus::Lost => return Some(ResponseCode::LostCard),
        CardStatus::Stolen => return Some(ResponseCode::StolenCard),
        CardStatus::Expired => return Some(ResponseCode::ExpiredCard),
        CardStatus::Active => {}
    }
    if expiry.as_str() < yymm_now(req.now).as_str() {
        return Some(ResponseCode::ExpiredCard);
    }
    if let Some(presented) = req.expiry
        && presented != expiry.as_str()
    {
        return Some(ResponseCode::ExpiredCard);
    }
    let Some(stored) = stored else {
        return None;
    };
    if *pin_failures >= PIN_TRIES_MAX {
        return Some(ResponseCode::PinTriesExceeded);
    }
    match req.pin {
        Some(pin) if pin.matches(&id, stored) => {
            *pin_failures = 0;
            None
        }
        _ => {
            *pin_failures += 1;
            Some(ResponseCode::IncorrectPin)
        }
    }
}

#[cfg(test)]
mod tests;
