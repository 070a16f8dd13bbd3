//! The money rules (DESIGN.md "Money rules"). Each `decide_*` is pure: it gets the original
//! transaction and the request's facts, and answers with a decision or a typed refusal.
//! The store loads the facts and persists the decision in one transaction.

use crate::ids::{BatchNo, MerchantId, OperatorNo, Role, TerminalId};
use crate::kind::{PaymentMethod, TxnKind, TxnStatus};
use crate::money::Amount;
use crate::policy::Policy;
use crate::refusal::{
    AccessRefused, CompletionRefused, HideRefused, PreAuthVoidRefused, RefundRefused,
    ReversalRefused, VoidRefused,
};
use crate::response::ResponseCode;
use crate::txn::Transaction;
use jiff::{Timestamp, ToSpan};

/// The facts of a void (sale void or completion void) request.
#[derive(Debug, Clone)]
pub struct VoidRequest<'a> {
    /// The terminal asking.
    pub terminal_id: &'a TerminalId,
    /// That terminal's open batch.
    pub open_batch: BatchNo,
    /// The amount the terminal sent, if any: must equal the original.
    pub amount: Option<Amount>,
    /// The reason (from the list or free text).
    pub reason: &'a str,
    /// The customer agreed.
    pub customer_consent: bool,
    /// Fingerprint of the card presented again, if any.
    pub card_fingerprint: Option<&'a str>,
    /// Voids the acting operator already did this business day.
    pub voids_today_by_operator: u32,
    /// A back-office void approved by review may target any terminal of the merchant.
    pub via_review: bool,
    /// The request is in training mode.
    pub training: bool,
}

/// Decides a sale void (`expected = Sale`) or a completion void (`expected = Completion`).
/// Order matters: the remedy shown is the most useful one (settled → refund).
pub fn decide_void(
    original: &Transaction,
    expected: TxnKind,
    req: &VoidRequest<'_>,
    policy: &Policy,
    now: Timestamp,
) -> Result<Amount, VoidRefused> {
    if original.kind != expected {
        return Err(VoidRefused::WrongKind {
            kind: original.kind.as_str().into(),
        });
    }
    if original.training != req.training {
        return Err(VoidRefused::TrainingMismatch);
    }
    match original.status {
        // Not approved here (yet, or ever): nothing to void.
        TxnStatus::Declined | TxnStatus::Authorizing | TxnStatus::ReversalPending => {
            return Err(VoidRefused::NotApproved);
        }
        TxnStatus::Voided => return Err(VoidRefused::AlreadyVoided),
        TxnStatus::Reversed => return Err(VoidRefused::Reversed),
        TxnStatus::PartiallyRefunded | TxnStatus::Refunded => return Err(VoidRefused::Refunded),
        TxnStatus::Approved => {}
        TxnStatus::Completed | TxnStatus::Expired => {
            return Err(VoidRefused::WrongKind {
                kind: original.kind.as_str().into(),
            });
        }
    }
    if original.settled {
        return Err(VoidRefused::Settled);
    }
    if !req.via_review
        && (&original.terminal_id != req.terminal_id || original.batch_no != req.open_batch)
    {
        return Err(VoidRefused::OtherTerminal);
    }
    if let Some(amount) = req.amount
        && amount != original.amount
    {
        return Err(VoidRefused::AmountMismatch {
            original: original.amount,
        });
    }
    if let Some(minutes) = policy.void_max_age_minutes {
        let limit = original
            .created_at
            .checked_add(i64::from(minutes).minutes());
        if limit.map(|l| now > l).unwrap_or(true) {
            return Err(VoidRefused::TooOld { minutes });
        }
    }
    if req.voids_today_by_operator >= policy.void_max_per_operator_per_day {
        return Err(VoidRefused::OperatorLimit {
            limit: policy.void_max_per_operator_per_day,
        });
    }
    if req.reason.trim().is_empty() {
        return Err(VoidRefused::ReasonRequired);
    }
    if !req.customer_consent {
        return Err(VoidRefused::ConsentRequired);
    }
    if policy.void_requires_card {
        match req.card_fingerprint {
            None => return Err(VoidRefused::CardRequired),
            Some(fp) if Some(fp) != original.card_fingerprint.as_deref() => {
                return Err(VoidRefused::CardMismatch);
            }
            Some(_) => {}
        }
    }
    Ok(original.amount)
}

/// The facts of a refund request.
#[derive(Debug, Clone)]
pub struct RefundRequest<'a> {
    /// The merchant asking.
    pub merchant_id: &'a MerchantId,
    /// How much to return.
    pub amount: Amount,
    /// Why.
    pub reason: &'a str,
    /// True for back-office requests, which are subject to the review threshold.
    pub back_office: bool,
    /// True when a second person already approved it.
    pub reviewed: bool,
    /// Training mode.
    pub training: bool,
}

/// The outcome of an approved refund decision: the amount and the original's next status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundDecision {
    /// The amount to return.
    pub amount: Amount,
    /// The original's new refunded sum.
    pub refunded_after: Amount,
    /// The original's new status.
    pub original_status: TxnStatus,
}

/// The last instant a sale booked at `created_at` may be refunded (`refund_window_days`
/// later): [`decide_refund`] refuses after it, and a card number kept for the refund of a
/// sale decided upstream is forgotten at it (PCI DSS 3.2.1: no longer than the need).
pub fn refund_window_end(created_at: Timestamp, policy: &Policy) -> Timestamp {
    created_at
        .checked_add((i64::from(policy.refund_window_days) * 24).hours())
        .unwrap_or(Timestamp::MAX)
}

/// Decides a refund: any batch, within the window, partial and repeated, Σ ≤ original.
pub fn decide_refund(
    original: &Transaction,
    req: &RefundRequest<'_>,
    policy: &Policy,
    now: Timestamp,
) -> Result<RefundDecision, RefundRefused> {
    if !original.kind.is_debit() {
        return Err(RefundRefused::WrongKind {
            kind: original.kind.as_str().into(),
        });
    }
    if &original.merchant_id != req.merchant_id {
        return Err(RefundRefused::OtherMerchant);
    }
    if original.training != req.training {
        return Err(RefundRefused::TrainingMismatch);
    }
    match original.status {
        TxnStatus::Declined | TxnStatus::Authorizing | TxnStatus::ReversalPending => {
            return Err(RefundRefused::NotApproved);
        }
        TxnStatus::Voided => return Err(RefundRefused::Voided),
        TxnStatus::Reversed => return Err(RefundRefused::Reversed),
        TxnStatus::Refunded => return Err(RefundRefused::FullyRefunded),
        TxnStatus::Approved | TxnStatus::PartiallyRefunded => {}
        TxnStatus::Completed | TxnStatus::Expired => {
            return Err(RefundRefused::WrongKind {
                kind: original.kind.as_str().into(),
            });
        }
    }
    if now > refund_window_end(original.created_at, policy) {
        return Err(RefundRefused::WindowPassed {
            days: policy.refund_window_days,
        });
    }
    if !req.amount.is_positive() {
        return Err(RefundRefused::AmountNotPositive);
    }
    let remaining = original.refundable();
    if req.amount > remaining {
        return Err(RefundRefused::ExceedsRemaining { remaining });
    }
    if req.reason.trim().is_empty() {
        return Err(RefundRefused::ReasonRequired);
    }
    if req.back_office && !req.reviewed && req.amount > policy.refund_review_threshold() {
        return Err(RefundRefused::ReviewRequired {
            threshold: policy.refund_review_threshold(),
        });
    }
    let refunded_after = original
        .refunded
        .checked_add(req.amount)
        .map_err(|_| RefundRefused::ExceedsRemaining { remaining })?;
    // The invariant behind the whole rule: never more back than was taken.
    assert!(
        refunded_after <= original.amount,
        "Σ refunds exceeds the original"
    );
    let original_status = if refunded_after == original.amount {
        TxnStatus::Refunded
    } else {
        TxnStatus::PartiallyRefunded
    };
    Ok(RefundDecision {
        amount: req.amount,
        refunded_after,
        original_status,
    })
}

/// What an original becomes when a refund of `amount` reserved on it does not happen (a
/// refund through the network upstream declined, or reversed for want of an answer): its
/// refunded sum less `amount`, and approved again when nothing stays refunded.
pub fn refund_released(original: &Transaction, amount: Amount) -> (TxnStatus, Amount) {
    let refunded = if original.refunded > amount {
        original
            .refunded
            .checked_sub(amount)
            .unwrap_or(Amount::ZERO)
    } else {
        Amount::ZERO
    };
    let status = match original.status {
        TxnStatus::Refunded | TxnStatus::PartiallyRefunded if refunded == Amount::ZERO => {
            TxnStatus::Approved
        }
        TxnStatus::Refunded | TxnStatus::PartiallyRefunded => TxnStatus::PartiallyRefunded,
        other => other,
    };
    (status, refunded)
}

/// Decides a completion of a pre-authorization: at most `completion_max_percent` of the hold.
pub fn decide_completion(
    preauth: &Transaction,
    merchant_id: &MerchantId,
    amount: Amount,
    policy: &Policy,
    now: Timestamp,
) -> Result<Amount, CompletionRefused> {
    if preauth.kind != TxnKind::PreAuth {
        return Err(CompletionRefused::WrongKind {
            kind: preauth.kind.as_str().into(),
        });
    }
    if &preauth.merchant_id != merchant_id {
        return Err(CompletionRefused::OtherMerchant);
    }
    match preauth.status {
        TxnStatus::Declined => return Err(CompletionRefused::NotApproved),
        TxnStatus::Completed => return Err(CompletionRefused::AlreadyCompleted),
        TxnStatus::Voided => return Err(CompletionRefused::Voided),
        TxnStatus::Reversed => return Err(CompletionRefused::Reversed),
        TxnStatus::Expired => return Err(CompletionRefused::Expired),
        _ => {}
    }
    if now > policy.hold_expires_at(preauth.created_at) {
        return Err(CompletionRefused::Expired);
    }
    if !amount.is_positive() {
        return Err(CompletionRefused::AmountNotPositive);
    }
    let max = preauth
        .amount
        .percent(policy.completion_max_percent)
        .unwrap_or(preauth.amount);
    if amount > max {
        return Err(CompletionRefused::OverLimit { max });
    }
    Ok(amount)
}

/// Decides a pre-authorization void: full amount, before completion.
pub fn decide_preauth_void(
    preauth: &Transaction,
    merchant_id: &MerchantId,
    amount: Option<Amount>,
    reason: &str,
    policy: &Policy,
    now: Timestamp,
) -> Result<Amount, PreAuthVoidRefused> {
    if preauth.kind != TxnKind::PreAuth {
        return Err(PreAuthVoidRefused::WrongKind {
            kind: preauth.kind.as_str().into(),
        });
    }
    if &preauth.merchant_id != merchant_id {
        return Err(PreAuthVoidRefused::OtherMerchant);
    }
    match preauth.status {
        TxnStatus::Declined => return Err(PreAuthVoidRefused::NotApproved),
        TxnStatus::Voided => return Err(PreAuthVoidRefused::AlreadyVoided),
        TxnStatus::Completed => return Err(PreAuthVoidRefused::Completed),
        TxnStatus::Reversed => return Err(PreAuthVoidRefused::Reversed),
        TxnStatus::Expired => return Err(PreAuthVoidRefused::Expired),
        _ => {}
    }
    if now > policy.hold_expires_at(preauth.created_at) {
        return Err(PreAuthVoidRefused::Expired);
    }
    if let Some(a) = amount
        && a != preauth.amount
    {
        return Err(PreAuthVoidRefused::AmountMismatch {
            original: preauth.amount,
        });
    }
    if reason.trim().is_empty() {
        return Err(PreAuthVoidRefused::ReasonRequired);
    }
    Ok(preauth.amount)
}

/// What a reversal does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReversalDecision {
    /// Undo the target: it becomes `Reversed` and its effect at the issuer is undone.
    Reverse,
    /// Already reversed (or declined): answer approved and change nothing (idempotent).
    AlreadyDone,
    /// Not found: it never arrived, or it is still on its way (a reversal can overtake its
    /// request on another connection). Answer approved, book nothing, and remember the
    /// reversal as an [`OrphanReversal`] so that the request, should it still arrive, is
    /// refused by [`decide_late_original`]: a 00 to a reversal means "never takes effect".
    NeverArrived,
}

/// Decides a reversal of `target` (`None`: no such request was booked).
pub fn decide_reversal(target: Option<&Transaction>) -> Result<ReversalDecision, ReversalRefused> {
    let Some(t) = target else {
        return Ok(ReversalDecision::NeverArrived);
    };
    // A refund that went up and got no answer in time is reversed upstream already, and
    // one declined moved nothing: the terminal's reversal (after the 98 it was answered)
    // finds nothing to undo, whatever the kind.
    if matches!(t.status, TxnStatus::ReversalPending | TxnStatus::Declined) {
        return Ok(ReversalDecision::AlreadyDone);
    }
    if !t.kind.is_reversible() {
        return Err(ReversalRefused::NotReversible {
            kind: t.kind.as_str().into(),
        });
    }
    // A retry of a reversal that already happened stays idempotent even after the batch
    // settled (the cutoff may run between two retries).
    // A sale whose upstream answer did not come in time is being reversed there already
    // (its 0420 is queued): the terminal's reversal finds nothing more to undo.
    if matches!(
        t.status,
        TxnStatus::Reversed | TxnStatus::Declined | TxnStatus::ReversalPending
    ) {
        return Ok(ReversalDecision::AlreadyDone);
    }
    // Its fate is not known yet: the terminal sends the reversal again, and by then it is.
    if t.status == TxnStatus::Authorizing {
        return Err(ReversalRefused::Authorizing);
    }
    if t.settled {
        return Err(ReversalRefused::Settled);
    }
    match t.status {
        TxnStatus::Reversed | TxnStatus::Declined | TxnStatus::ReversalPending => {
            Ok(ReversalDecision::AlreadyDone)
        }
        TxnStatus::Authorizing => Err(ReversalRefused::Authorizing),
        TxnStatus::Voided => Err(ReversalRefused::AlreadyVoided),
        TxnStatus::PartiallyRefunded | TxnStatus::Refunded => Err(ReversalRefused::Refunded),
        TxnStatus::Completed => Err(ReversalRefused::Completed),
        TxnStatus::Approved | TxnStatus::Expired => Ok(ReversalDecision::Reverse),
    }
}

/// A reversal answered 00 whose request had not arrived (冲正先到): what the store keeps
/// of it, keyed by terminal, batch, voucher no. (STAN) and training flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrphanReversal {
    /// The amount field 4 of the reversal named (the request's amount), if it had one.
    pub amount: Option<Amount>,
    /// When the reversal was answered.
    pub at: Timestamp,
}

/// Decides a terminal request (any kind: sale, void, refund, pre-auth, completion…) whose
/// terminal, batch and voucher no. match a remembered reversal. Within
/// `orphan_reversal_hours` of that reversal the request is refused and books nothing: the
/// terminal was told its request was undone. The voucher no. alone decides, not the amount:
/// a terminal never reuses a STAN within a batch, and a mismatch would only mean a corrupt
/// reversal, which must not let money move either. Past the window (a batch kept open that
/// long, a STAN wrapped around) the record no longer speaks for this request.
pub fn decide_late_original(
    orphan: Option<&OrphanReversal>,
    policy: &Policy,
    now: Timestamp,
) -> Result<(), crate::refusal::AccessRefused> {
    let Some(o) = orphan else {
        return Ok(());
    };
    let until =
        o.at.checked_add((i64::from(policy.orphan_reversal_hours)).hours())
            .unwrap_or(Timestamp::MAX);
    if now <= until {
        return Err(crate::refusal::AccessRefused::ReversedFirst);
    }
    Ok(())
}

/// Decides whether `actor` may hide `target` (删除交易记录: admin only, reason required).
pub fn decide_hide(
    target: &Transaction,
    actor: OperatorNo,
    reason: &str,
) -> Result<(), HideRefused> {
    if actor.role() != crate::ids::Role::Admin {
        return Err(HideRefused::NotAdmin);
    }
    if reason.trim().is_empty() {
        return Err(HideRefused::ReasonRequired);
    }
    if target.hidden {
        return Err(HideRefused::AlreadyHidden);
    }
    Ok(())
}

/// Decides whether records created before `cutoff_created_at` may be purged at `now`: only
/// once their retention period has ended.
pub fn decide_purge(
    actor: OperatorNo,
    created_before: Timestamp,
    policy: &Policy,
    now: Timestamp,
) -> Result<(), HideRefused> {
    if actor.role() != crate::ids::Role::Admin {
        return Err(HideRefused::NotAdmin);
    }
    let ends = policy.retention_ends(created_before);
    if ends > now {
        return Err(HideRefused::WithinRetention {
            until: ends.to_string(),
        });
    }
    Ok(())
}

/// What a terminal row says about whether it may transact: `None` when no such terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalAccess {
    /// The terminal's merchant is enabled.
    pub merchant_enabled: bool,
    /// The merchant's status (issue 14): `pending`, `active`, `suspended` or `closed`.
    pub merchant_status: String,
    /// The terminal itself is enabled.
    pub terminal_enabled: bool,
}

/// Decides whether a terminal may transact: it must exist, and both it and its merchant be
/// enabled. The merchant is named first: a disabled merchant's terminals are all refused.
/// Only an active merchant's terminals work: pending (not activated yet), suspended by the
/// acquirer and closed merchants are refused (issue 14).
pub fn decide_terminal_access(found: Option<TerminalAccess>) -> Result<(), AccessRefused> {
    let Some(t) = found else {
        return Err(AccessRefused::UnknownTerminal);
    };
    if !t.merchant_enabled {
        return Err(AccessRefused::UnknownMerchant);
    }
    if t.merchant_status != "active" {
        return Err(AccessRefused::MerchantNotActive {
            status: t.merchant_status,
        });
    }
    if !t.terminal_enabled {
        return Err(AccessRefused::TerminalDisabled);
    }
    Ok(())
}

/// Decides whether a request may go on at a terminal its merchant's supervisor paused
/// (issue 13, seed 002: 「立即通知收银员，暂停后续操作」). A pause stops new money — sales,
/// pre-authorizations, completions, voids, refunds — and nothing else: a reversal gives back
/// what an unanswered request may have taken, and sign-in, settlement and batch upload close
/// the day, so those go on (they do not pass here).
pub fn decide_terminal_pause(paused: bool) -> Result<(), AccessRefused> {
    if paused {
        return Err(AccessRefused::TerminalPaused);
    }
    Ok(())
}

/// Decides whether an operator may do money at a terminal: the administrator (99) manages
/// operators and records but does not transact (DESIGN.md "Security": separation of duties).
pub fn decide_operator_transacts(operator: OperatorNo) -> Result<(), AccessRefused> {
    if operator.role() == Role::Admin {
        return Err(AccessRefused::NotPermitted {
            role: Role::Admin.as_str().into(),
        });
    }
    Ok(())
}

/// Decides whether a void, refund, pre-auth void or completion void was authorized: by the
/// supervisor (00), already authenticated by the caller.
pub fn decide_supervisor(supervisor: Option<OperatorNo>) -> Result<(), AccessRefused> {
    match supervisor {
        Some(s) if s.role() == Role::Supervisor => Ok(()),
        _ => Err(AccessRefused::SupervisorRequired),
    }
}

/// Decides whether `actor` may set `operator`'s password: one's own always; the
/// administrator anyone's; the supervisor the cashiers'.
pub fn decide_password_change(
    actor: OperatorNo,
    operator: OperatorNo,
) -> Result<(), AccessRefused> {
    let allowed = actor == operator
        || actor.role() == Role::Admin
        || (actor.role() == Role::Supervisor && operator.role() == Role::Cashier);
    if !allowed {
        return Err(AccessRefused::NotPermitted {
            role: actor.role().as_str().into(),
        });
    }
    Ok(())
}

/// The facts of a sale or pre-authorization.
#[derive(Debug, Clone, Copy)]
pub struct PurchaseRequest {
    /// `Sale` or `PreAuth`.
    pub kind: TxnKind,
    /// The amount asked.
    pub amount: Amount,
    /// How the instrument was presented.
    pub method: PaymentMethod,
    /// The instrument is a QR wallet (otherwise a card).
    pub wallet: bool,
    /// Training mode: no money moves.
    pub training: bool,
}

/// What the issuer is asked for a purchase the rules let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurchaseAsk {
    /// Only the balance: every training request (no money moves).
    Balance,
    /// Hold the amount (a pre-authorization).
    Hold,
    /// Take the amount (a sale).
    Debit,
}

/// Decides a purchase's own rules before the issuer is asked: the amount is positive (every
/// adapter parses amounts, but the rule does not trust that), and the method fits the
/// instrument ([`decide_method_fits`]). Answers what the issuer is to be asked.
pub fn decide_purchase(req: &PurchaseRequest) -> Result<PurchaseAsk, AccessRefused> {
    debug_assert!(
        matches!(req.kind, TxnKind::Sale | TxnKind::PreAuth),
        "a purchase of kind {:?}",
        req.kind
    );
    if !req.amount.is_positive() {
        return Err(AccessRefused::BadAmount {
            problem: crate::money::AmountError::Zero,
        });
    }
    decide_method_fits(req.method, req.wallet)?;
    Ok(match (req.kind, req.training) {
        (_, true) => PurchaseAsk::Balance,
        (TxnKind::PreAuth, _) => PurchaseAsk::Hold,
        _ => PurchaseAsk::Debit,
    })
}

/// Decides a balance inquiry's own rule before the issuer is asked for the balance: it has
/// no amount, so only the method must fit the instrument ([`decide_method_fits`]).
pub fn decide_balance_inquiry(method: PaymentMethod, wallet: bool) -> Result<(), AccessRefused> {
    decide_method_fits(method, wallet)
}

/// A QR method goes with a wallet, a card method with a card (`wallet`: the instrument is
/// a QR wallet).
pub fn decide_method_fits(method: PaymentMethod, wallet: bool) -> Result<(), AccessRefused> {
    if wallet != method.is_qr() {
        return Err(AccessRefused::MethodMismatch);
    }
    Ok(())
}

/// Whether the host approves a card sale itself while the network upstream is down
/// (stand-in, issue 15): only a sale, only at or under the floor limit (`floor` fen, `0`:
/// stand-in off, every such sale declined `91`), and never one with an online PIN (the host
/// cannot check it; the issuer would). The approval is advised to the switch later (0220).
pub fn decide_stand_in(kind: TxnKind, amount: Amount, floor: u64, online_pin: bool) -> bool {
    let floor = i64::try_from(floor).unwrap_or(i64::MAX);
    kind == TxnKind::Sale
        && floor > 0
        && !online_pin
        && amount.is_positive()
        && amount.fen() <= floor
}

/// What the network upstream made of a request (issue 15, two-phase bookkeeping).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamFate {
    /// An answer came back with this field 39.
    Answered(ResponseCode),
    /// Sent, but no answer within `upstream_timeout_ms` (or the host stopped before one
    /// came): its outcome upstream is unknown.
    NoAnswer,
    /// Never left: the link was down. Nothing happened upstream.
    NotSent,
}

/// The status and response code an *authorizing* transaction gets once its fate is known.
/// An unknown outcome is never approved: the card may have been charged, so the request is
/// reversed upstream (`ReversalPending`) and the terminal told to reverse too (98, "result
/// unknown"); a request that never left is declined as "issuer unavailable" (91) — the
/// stand-in decline of `shared/spec/iso8583-1987-switch.md`.
pub fn decide_upstream_fate(fate: UpstreamFate) -> (TxnStatus, ResponseCode) {
    match fate {
        UpstreamFate::Answered(code) if code.is_approved() => (TxnStatus::Approved, code),
        UpstreamFate::Answered(code) => (TxnStatus::Declined, code),
        UpstreamFate::NoAnswer => (TxnStatus::ReversalPending, ResponseCode::IssuerTimeout),
        UpstreamFate::NotSent => (TxnStatus::Declined, ResponseCode::IssuerUnavailable),
    }
}
