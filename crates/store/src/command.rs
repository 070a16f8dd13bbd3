//! What callers ask of the writer, and what it answers.

use jiff::Timestamp;
use suanpan_core::settlement::{Settlement, Totals};
use suanpan_core::{
    Amount, BatchNo, MaskedPan, MerchantId, OperatorNo, PaymentMethod, TerminalId, TxnId, TxnKind,
    VoucherNo,
};

/// The card or wallet of a payment, already parsed at the edge. The PAN itself never gets
/// here: only its masked form and fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instrument {
    /// A bank card.
    Card {
        /// 6+4 masked PAN.
        masked_pan: MaskedPan,
        /// HMAC fingerprint (the issuer account id).
        fingerprint: String,
        /// Expiry presented (`YYMM`), if any.
        expiry: Option<String>,
    },
    /// A QR wallet.
    Wallet {
        /// Wallet id.
        id: String,
    },
}

/// Where a transaction comes from and who is at the counter.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The terminal.
    pub terminal_id: TerminalId,
    /// The acting operator (already authenticated by the caller).
    pub operator: OperatorNo,
    /// The supervisor who authorized (already authenticated), for the kinds that need one.
    pub supervisor: Option<OperatorNo>,
    /// The voucher no. (STAN) the terminal chose; `None`: the host assigns the next one.
    pub voucher: Option<VoucherNo>,
    /// The batch the terminal believes is open (8583 60.2); `None`: the current one.
    pub batch: Option<BatchNo>,
    /// Training mode.
    pub training: bool,
    /// Idempotency key and request hash: an identical retry replays the stored response.
    /// Requires `voucher`: a key is scoped to the terminal's batch and voucher no.
    pub idempotency: Option<(String, String)>,
    /// What the terminal said about itself (8583 field 59: serial number, location), stored
    /// with the transaction as received; `None` for every other channel.
    pub terminal_info: Option<String>,
}

/// How an original transaction is named by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginalRef {
    /// By store id.
    Id(TxnId),
    /// By voucher no. in the terminal's open batch (the counter's way: 凭证号).
    Voucher(VoucherNo),
    /// By reference no. (参考号).
    Rrn(String),
    /// By authorization code (授权码): the merchant's most recent pre-authorization with that
    /// code (8583 completion and pre-auth void name their original by field 38).
    AuthCode(String),
}

impl std::fmt::Display for OriginalRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OriginalRef::Id(id) => write!(f, "txn:{id}"),
            OriginalRef::Voucher(v) => write!(f, "voucher:{v}"),
            OriginalRef::Rrn(r) => write!(f, "rrn:{r}"),
            OriginalRef::AuthCode(a) => write!(f, "auth_code:{a}"),
        }
    }
}

/// One command for the writer.
#[derive(Debug, Clone)]
pub enum Command {
    /// Sale or pre-authorization.
    Purchase(Purchase),
    /// Balance inquiry (余额查询).
    BalanceInquiry(BalanceInquiry),
    /// Sale void or completion void.
    Void(Void),
    /// Refund.
    Refund(Refund),
    /// Pre-auth completion.
    Complete(Complete),
    /// Pre-auth void.
    PreAuthVoid(PreAuthVoid),
    /// Reversal of a transaction of this terminal's open batch, by voucher no.
    Reverse(Reverse),
    /// Settle the terminal's open batch.
    Settle(Settle),
    /// Settle the next chunk of batches whose business day has passed the cutoff.
    SettleAllDue(crate::reply::SettleAllDue),
    /// Release pre-authorization holds past their hold days.
    ExpireHolds,
    /// Forget the sealed card numbers of upstream sales whose refund window has closed
    /// (answers `Done(card numbers forgotten)`).
    ForgetExpiredPans,
    /// Hide a record (删除交易记录).
    Hide(Hide),
    /// Purge records created before `before` (past retention; the caller backed up first).
    Purge(Purge),
    /// Records a login attempt's outcome (lockout counter and audit).
    RecordLogin(RecordLogin),
    /// Records a refusal decided outside the writer (e.g. locked-out login), for the audit.
    RecordRefusal(RecordRefusal),
    /// Changes an operator's password (hash computed by the caller).
    SetPassword(SetPassword),
    /// Audits a receipt reprint (reprints of any receipt are allowed, and audited).
    RecordReprint(RecordReprint),
    /// Phase one of a purchase or refund through the network upstream (issue 15): the
    /// `purchase` (a [`Command::Purchase`] or a [`Command::Refund`] of a sale that went up)
    /// is checked as always and, where it goes up, booked as *authorizing* with the STAN
    /// and field 7 it leaves with, before it leaves.
    Authorize {
        /// The purchase or refund.
        purchase: Box<Command>,
        /// How it goes up.
        upstream: UpstreamRef,
    },
    /// Phase two: what the upstream made of an *authorizing* transaction. A transaction no
    /// longer authorizing is answered as it stands (nothing changes).
    Authorized(Authorized),
    /// At start-up, before terminals are served: every transaction still *authorizing* may
    /// have left (its reversal is built from its row and queued, reversal pending), unless an
    /// older build left it with nothing parked (it never left: declined as not sent).
    /// Answers `Done(n)`.
    ResolveAuthorizing,
    /// Stand-in (issue 15): the upstream is down and an *authorizing* card sale is at or
    /// under `[upstream] stand_in_floor_fen`; it is approved here with the host's own
    /// authorization id, and its advice (a 0220, `frame`) is queued for the switch in the
    /// same transaction (a parked time-out reversal, if any, is dropped). A transaction no
    /// longer authorizing is answered as it stands.
    StandIn(StandIn),
    /// `inner` (a void or a terminal reversal) and, when it reverses a sale the network
    /// upstream decided, that sale's reversal advice (0420) queued in the same transaction:
    /// a crash can no longer keep the one without the other.
    WithAdvice {
        /// The follow-up.
        inner: Box<Command>,
        /// What the advice needs that the store does not keep.
        advice: AdviceDraft,
    },
}

impl Command {
    /// Which of several writers runs the command (PostgreSQL, `[store] pg_writers`): a
    /// terminal's commands on one writer, so they run in the order they came, as with a single
    /// writer; a phase two or a stand-in by its transaction's id (its terminal waits for its
    /// answer, so nothing of that terminal runs beside it); everything else (scheduler and
    /// back-office administration) on the first writer.
    pub fn lane(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let terminal = |t: &TerminalId| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            t.as_str().hash(&mut h);
            h.finish()
        };
        // Ids are spread evenly already.
        let txn = |id: TxnId| id.0.unsigned_abs();
        match self {
            Command::Purchase(c) => terminal(&c.origin.terminal_id),
            Command::BalanceInquiry(c) => terminal(&c.origin.terminal_id),
            Command::Void(c) => terminal(&c.origin.terminal_id),
            Command::Refund(c) => terminal(&c.origin.terminal_id),
            Command::Complete(c) => terminal(&c.origin.terminal_id),
            Command::PreAuthVoid(c) => terminal(&c.origin.terminal_id),
            Command::Reverse(c) => terminal(&c.origin.terminal_id),
            Command::Settle(c) => terminal(&c.terminal_id),
            Command::Authorize { purchase, .. } => purchase.lane(),
            Command::WithAdvice { inner, .. } => inner.lane(),
            Command::Authorized(c) => txn(c.id),
            Command::StandIn(c) => txn(c.id),
            Command::SettleAllDue(_)
            | Command::ExpireHolds
            | Command::ForgetExpiredPans
            | Command::Hide(_)
            | Command::Purge(_)
            | Command::RecordLogin(_)
            | Command::RecordRefusal(_)
            | Command::SetPassword(_)
            | Command::RecordReprint(_)
            | Command::ResolveAuthorizing => 0,
        }
    }
}

/// Sale or pre-authorization. A balance inquiry is its own command ([`BalanceInquiry`]):
/// a purchase of kind `BalanceInquiry` is refused by the use case as a caller's bug.
#[derive(Debug, Clone)]
pub struct Purchase {
    /// Who.
    pub origin: Origin,
    /// `Sale` or `PreAuth`.
    pub kind: TxnKind,
    /// How much.
    pub amount: Amount,
    /// Card or wallet.
    pub instrument: Instrument,
    /// How presented.
    pub method: PaymentMethod,
    /// PIN entered (memory only, wiped when dropped; see [`suanpan_issuer::EnteredPin`]).
    pub pin: Option<suanpan_issuer::EnteredPin>,
    /// A linked transaction (re-charge after a mistaken void).
    pub linked_id: Option<TxnId>,
    /// The counter confirmed a possible duplicate charge (same card, same amount, within
    /// `[risk] duplicate_minutes`): 8583 60.6 `1`, REST `confirm_duplicate`, CLI
    /// `--confirm-duplicate` (issue 13).
    pub confirm_duplicate: bool,
}

/// Balance inquiry (余额查询): the card's or wallet's available balance. No money moves;
/// the inquiry is booked (approved or declined) like a sale, for its receipt, the journal and
/// the risk rules. It stays with the inline issuer also when a network upstream is
/// configured (docs/ISO8583.md).
#[derive(Debug, Clone)]
pub struct BalanceInquiry {
    /// Who.
    pub origin: Origin,
    /// Card or wallet.
    pub instrument: Instrument,
    /// How presented.
    pub method: PaymentMethod,
    /// PIN entered (memory only, wiped when dropped; see [`suanpan_issuer::EnteredPin`]).
    pub pin: Option<suanpan_issuer::EnteredPin>,
}

/// Sale void or completion void.
#[derive(Debug, Clone)]
pub struct Void {
    /// Who.
    pub origin: Origin,
    /// `Void` or `CompletionVoid`.
    pub kind: TxnKind,
    /// Which original.
    pub original: OriginalRef,
    /// Amount the terminal sent, if any.
    pub amount: Option<Amount>,
    /// Why.
    pub reason: String,
    /// The customer agreed.
    pub customer_consent: bool,
    /// Fingerprint of a re-presented card.
    pub card_fingerprint: Option<String>,
}

/// Refund.
#[derive(Debug, Clone)]
pub struct Refund {
    /// Who.
    pub origin: Origin,
    /// Which original.
    pub original: OriginalRef,
    /// How much.
    pub amount: Amount,
    /// Why.
    pub reason: String,
}

/// Pre-auth completion.
#[derive(Debug, Clone)]
pub struct Complete {
    /// Who.
    pub origin: Origin,
    /// Which pre-authorization.
    pub original: OriginalRef,
    /// How much to capture.
    pub amount: Amount,
}

/// Pre-auth void.
#[derive(Debug, Clone)]
pub struct PreAuthVoid {
    /// Who.
    pub origin: Origin,
    /// Which pre-authorization.
    pub original: OriginalRef,
    /// Amount the terminal sent, if any.
    pub amount: Option<Amount>,
    /// Why.
    pub reason: String,
}

/// Reversal of a transaction of this terminal's open batch, by voucher no.
#[derive(Debug, Clone)]
pub struct Reverse {
    /// Who.
    pub origin: Origin,
    /// The voucher no. of the transaction to reverse.
    pub voucher: VoucherNo,
    /// The amount the reversal names (8583 field 4), kept with the reversal when its
    /// request is not found (冲正先到).
    pub amount: Option<Amount>,
    /// 8583 field 39 of the reversal: `98`, `96`, `06`.
    pub reason: String,
}

/// Settle the terminal's open batch.
#[derive(Debug, Clone)]
pub struct Settle {
    /// The terminal.
    pub terminal_id: TerminalId,
    /// Who settles (`system` for the cutoff job).
    pub actor: String,
    /// The terminal's own totals, to reconcile against.
    pub terminal_totals: Option<Totals>,
}

/// Hide a record (删除交易记录).
#[derive(Debug, Clone)]
pub struct Hide {
    /// Acting operator's merchant.
    pub merchant_id: MerchantId,
    /// Acting operator.
    pub actor: OperatorNo,
    /// The record.
    pub id: TxnId,
    /// Why.
    pub reason: String,
}

/// Purge records created before `before` (past retention; the caller backed up first).
#[derive(Debug, Clone)]
pub struct Purge {
    /// Acting operator's merchant.
    pub merchant_id: MerchantId,
    /// Acting operator.
    pub actor: OperatorNo,
    /// Records created before this moment.
    pub before: Timestamp,
    /// The backup taken just before (its name), for the audit entry.
    pub backup: String,
    /// Why (the back-office requires one; the CLI's is optional). Audited.
    pub reason: String,
    /// Who the audit trail names, when not `merchant/actor`: a back-office user
    /// (`web:NAME`) acting with the admin operator's rights.
    pub audit_as: Option<String>,
}

/// Records a login attempt's outcome (lockout counter and audit).
#[derive(Debug, Clone)]
pub struct RecordLogin {
    /// The merchant.
    pub merchant_id: MerchantId,
    /// The operator.
    pub operator: OperatorNo,
    /// Whether the password matched.
    pub ok: bool,
    /// What the login was for (`login`, `supervisor`).
    pub purpose: String,
}

/// Records a refusal decided outside the writer (e.g. locked-out login), for the audit.
#[derive(Debug, Clone)]
pub struct RecordRefusal {
    /// Who.
    pub actor: String,
    /// The action attempted.
    pub action: String,
    /// Its target.
    pub target: String,
    /// The refusal key.
    pub key: String,
}

/// Changes an operator's password (hash computed by the caller).
#[derive(Debug, Clone)]
pub struct SetPassword {
    /// The merchant.
    pub merchant_id: MerchantId,
    /// Who acts.
    pub actor: OperatorNo,
    /// Whose password.
    pub operator: OperatorNo,
    /// The new argon2id hash.
    pub password_hash: String,
}

/// Audits a receipt reprint (reprints of any receipt are allowed, and audited).
#[derive(Debug, Clone)]
pub struct RecordReprint {
    /// Who.
    pub actor: String,
    /// Which transaction.
    pub id: TxnId,
}

/// Phase two: what the upstream made of an *authorizing* transaction. A transaction no
/// longer authorizing is answered as it stands (nothing changes).
#[derive(Debug, Clone)]
pub struct Authorized {
    /// Which transaction.
    pub id: TxnId,
    /// The upstream's answer, or why there is none.
    pub fate: suanpan_core::rules::UpstreamFate,
    /// Field 38 of an approval.
    pub auth_code: Option<String>,
}

/// Stand-in (issue 15): the upstream is down and an *authorizing* card sale is at or
/// under `[upstream] stand_in_floor_fen`; it is approved here with the host's own
/// authorization id, and its advice (a 0220, `frame`) is queued for the switch in the
/// same transaction (a parked time-out reversal, if any, is dropped). A transaction no
/// longer authorizing is answered as it stands.
#[derive(Debug, Clone)]
pub struct StandIn {
    /// The authorizing transaction.
    pub id: TxnId,
    /// The link's name.
    pub destination: String,
    /// The 0220 advice as it goes on the wire.
    pub frame: AdviceFrame,
    /// The authorization id the host gave (field 38 of the advice).
    pub auth_code: String,
}

/// A frame for the store-and-forward queue; it holds a PAN, so its `Debug` shows only its
/// length.
#[derive(Clone, PartialEq, Eq)]
pub struct AdviceFrame(pub Vec<u8>);

impl std::fmt::Debug for AdviceFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AdviceFrame({} bytes)", self.0.len())
    }
}

/// What a reversal advice needs besides the rows the store keeps: the card the terminal
/// presented again (the store keeps no PAN), the reason (field 39: `17` void, `68` the
/// terminal's reversal), and the advice's own STAN and field 7 (given by the link before
/// the command, since the allocator cannot be asked inside the transaction).
#[derive(Clone, PartialEq, Eq)]
pub struct AdviceDraft {
    /// Field 2.
    pub pan: String,
    /// Field 39.
    pub reason: String,
    /// Field 11 of the advice.
    pub stan: String,
    /// Field 7 of the advice.
    pub transmitted: String,
    /// Field 32.
    pub acquirer_id: String,
}

impl std::fmt::Debug for AdviceDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdviceDraft")
            .field("reason", &self.reason)
            .field("stan", &self.stan)
            .finish_non_exhaustive()
    }
}

/// How a request goes up: the destination's name, the STAN (field 11) and transmission time
/// (field 7, `MMDDhhmmss` UTC) the link gave it. With the terminal (41) these are its key at
/// the switch, and what a later reversal's field 90 names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamRef {
    /// The link's name (`[upstream]`; the store-and-forward queue is ordered per name).
    pub destination: String,
    /// Field 11, six digits.
    pub stan: String,
    /// Field 7.
    pub transmitted: String,
    /// What the request's reversal (0420) needs that the transaction row does not keep: the
    /// card number (sealed under the KEK with the row), and the STAN and field 7 given to
    /// that reversal before the request leaves, so a start-up, phase two without an answer
    /// or a back-office void builds it from the row alone (schema 19 / PostgreSQL 18). Its
    /// `reason` is not kept: each use names its own. `None`: a caller that has none (the
    /// 0420 then needs the card presented again).
    pub reversal: Option<AdviceDraft>,
}

/// A settled batch.
#[derive(Debug, Clone)]
pub struct SettleReport {
    /// The terminal.
    pub terminal_id: TerminalId,
    /// The batch settled.
    pub batch_no: BatchNo,
    /// The batch opened next.
    pub next_batch_no: BatchNo,
    /// When.
    pub settled_at: Timestamp,
    /// The totals and verdict.
    pub settlement: Settlement,
    /// What the terminal sent, if anything.
    pub terminal_totals: Option<Totals>,
}
