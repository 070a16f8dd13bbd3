//! Void and refund requests of the back-office (seed 004: 提交撤销申请 → 审核 → 结果): submit,
//! review (approve, reject), cancel, undo within the grace window, and the executor that runs
//! approved requests through the normal `Command::Void` / `Command::Refund` once their window
//! has passed, with the recovery of executions that never finished.
//!
//! Each use case loads the facts its rule needs (the original, the operator's voids of the
//! business day, the request as stored), asks `suanpan_core::backoffice` (who may,
//! maker-checker, grace) and `suanpan_core::rules` (the money rules: asked at submission with
//! the same facts the engine will see, so a doomed request is refused at once, and decided again
//! by the engine at execution), then writes through the store. The functions block on the
//! store: adapters call them on a blocking thread.

use crate::upstream::Upstream;
use suanpan_core::backoffice::{self, BackOfficeRefused, RequestKind, RequestStatus, Submission};
use suanpan_core::refusal::{RefundRefused, VoidRefused};
use suanpan_core::rules::{self, RefundRequest, VoidRequest};
use suanpan_core::{Amount, OperatorNo, Refusal, Transaction, TxnId, TxnKind, TxnStatus};
use suanpan_store::backoffice::{
    Backoffice, NewRequest, ReviewRequest, StaffUser, Transition, execution_reason,
};
use suanpan_store::command::{Origin, OriginalRef};
use suanpan_store::command::{Refund, Void};
use suanpan_store::{AskExt, Store, StoreError, TxnReply, query};

/// Requests the executor runs per pass at most.
pub const EXECUTOR_BATCH_MAX: u32 = 50;
/// A claim older than this whose execution never ended is taken over (see [`recover_stale`]).
/// Far longer than any execution takes (the store gives up waiting for a lock long before).
pub const STALE_CLAIM_SECONDS: i64 = 600;

/// A rule of the core said no; the typed refusal, for the adapter's one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestRefused {
    /// Who may, maker-checker, grace (`core::backoffice`).
    Backoffice(BackOfficeRefused),
    /// The void rules (`core::rules::decide_void`).
    Void(VoidRefused),
    /// The refund rules (`core::rules::decide_refund`).
    Refund(RefundRefused),
}

impl RequestRefused {
    /// The refusal, with its key, texts and remedy.
    pub fn refusal(&self) -> &dyn Refusal {
        match self {
            RequestRefused::Backoffice(r) => r,
            RequestRefused::Void(r) => r,
            RequestRefused::Refund(r) => r,
        }
    }
}

/// Why a request use case did not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// A rule refused (audited as `refused:KEY` where the rule was reached with real facts).
    #[error("refused: {}", .0.refusal().key())]
    Refused(RequestRefused),
    /// No such transaction for this user (another merchant's, or hidden from this role).
    #[error("transaction not found")]
    TxnNotFound,
    /// No such request for this user's merchant.
    #[error("request not found")]
    NotFound,
    /// Someone else moved the request first (the conditional update matched nothing).
    #[error("the request changed meanwhile")]
    Changed,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a new request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// Void the original: its amount (must equal the original's; none means the original's),
    /// and whether the customer agreed.
    Void {
        /// The amount stated, if any.
        amount: Option<Amount>,
        /// The customer agreed.
        customer_consent: bool,
    },
    /// Refund this much of the original.
    Refund {
        /// How much.
        amount: Amount,
    },
}

/// A new request as the adapter parsed it.
#[derive(Debug, Clone)]
pub struct Submit {
    /// The original transaction.
    pub txn: TxnId,
    /// Void or refund, and how much.
    pub ask: Ask,
    /// Why (trimmed here).
    pub reason: String,
}

/// A stored request and whether it is already due (no second person needed).
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The new request's id.
    pub id: i64,
    /// True when it needs no review: the caller runs the executor at once.
    pub due_now: bool,
}

/// The original `id` as `user` may see it: of the user's merchant, and hidden rows only for
/// roles that see them.
pub fn visible_txn(
    store: &dyn Store,
    user: &StaffUser,
    id: TxnId,
) -> Result<Transaction, RequestError> {
    crate::visible_txn(store, user, id)?.ok_or(RequestError::TxnNotFound)
}

/// Submits a request: the back-office rules (who may, reason, amount, whether review is
/// needed), then the money rules on the facts the engine will see at execution (the booking
/// operator's real voids of the day), so a request that cannot run is refused now.
pub fn submit(store: &dyn Store, user: &StaffUser, s: &Submit) -> Result<Submitted, RequestError> {
    let t = visible_txn(store, user, s.txn)?;
    let reason = s.reason.trim();
    let (kind, amount) = match s.ask {
        Ask::Void { amount, .. } => (RequestKind::Void, amount.unwrap_or(t.amount)),
        Ask::Refund { amount } => (RequestKind::Refund, amount),
    };
    let sub = Submission {
        kind,
        amount,
        reason,
        role: user.role,
    };
    let needs_review = backoffice::decide_submit(&sub, store.policy())
        .map_err(|r| RequestError::Refused(RequestRefused::Backoffice(r)))?;
    let voids_today = match s.ask {
        Ask::Void { .. } => voids_today(store, booking_operator(user.operator_no, &t), &t)?,
        Ask::Refund { .. } => 0,
    };
    // A sale the network upstream decided is voided (its 0420) or refunded (a 0200 with
    // processing code 200000, sent by the executor) from here only while its row keeps the
    // sealed card number they need (until its refund window closes): refused now, not at
    // execution.
    let up = suanpan_store::read(store, |c| {
        let went = suanpan_store::repo::upstream::find(c, t.id)?.is_some();
        Ok(UpFacts {
            went_up: went,
            reversible: went && suanpan_store::repo::upstream::reversal_ready(c, t.id)?,
        })
    })?;
    if let Err(r) = precheck(store, voids_today, &t, s.ask, reason, up) {
        let action = format!("{}_request.submit", kind.as_str());
        let outcome = format!("refused:{}", r.refusal().key());
        store.record_staff_event(
            &user.username,
            &action,
            &format!("txn:{}", t.id.0),
            &outcome,
        )?;
        return Err(RequestError::Refused(r));
    }
    let consent = matches!(
        s.ask,
        Ask::Void {
            customer_consent: true,
            ..
        }
    );
    let new = NewRequest {
        kind,
        txn: t.id,
        amount,
        reason: reason.to_owned(),
        customer_consent: consent,
        status: if needs_review {
            RequestStatus::Pending
        } else {
            RequestStatus::Approved
        },
    };
    let id = store.create_request(user, &new)?;
    Ok(Submitted {
        id,
        due_now: !needs_review,
    })
}

/// Whether the original went to the network upstream, and whether its reversal (0420) can
/// be built from its row (the sealed card number is still kept).
#[derive(Debug, Clone, Copy)]
struct UpFacts {
    went_up: bool,
    reversible: bool,
}

/// The money rule of the request, asked as a back-office request approved by review (any
/// terminal of the merchant), with the facts the engine will load at execution.
fn precheck(
    store: &dyn Store,
    voids_today: u32,
    t: &Transaction,
    ask: Ask,
    reason: &str,
    up: UpFacts,
) -> Result<(), RequestRefused> {
    let (policy, now) = (store.policy(), store.now());
    match ask {
        Ask::Void { .. } if up.went_up && !up.reversible => {
            Err(RequestRefused::Void(VoidRefused::ThroughUpstream))
        }
        Ask::Refund { .. } if up.went_up && !up.reversible => {
            Err(RequestRefused::Refund(RefundRefused::ThroughUpstream))
        }
        Ask::Void {
            amount,
            customer_consent,
        } => {
            let req = VoidRequest {
                terminal_id: &t.terminal_id,
                open_batch: t.batch_no,
                amount: Some(amount.unwrap_or(t.amount)),
                reason,
                customer_consent,
                card_fingerprint: t.card_fingerprint.as_deref(),
                voids_today_by_operator: voids_today,
                via_review: true,
                training: t.training,
            };
            rules::decide_void(t, void_of(t.kind).0, &req, policy, now)
                .map(|_| ())
                .map_err(RequestRefused::Void)
        }
        Ask::Refund { amount } => {
            let req = RefundRequest {
                merchant_id: &t.merchant_id,
                amount,
                reason,
                back_office: true,
                reviewed: true,
                training: t.training,
            };
            rules::decide_refund(t, &req, policy, now)
                .map(|_| ())
                .map_err(RequestRefused::Refund)
        }
    }
}

/// The voids `operator` booked for the original's merchant this business day: the count the
/// engine reads for `void_max_per_operator_per_day` when the request runs.
fn voids_today(
    store: &dyn Store,
    operator: OperatorNo,
    t: &Transaction,
) -> Result<u32, StoreError> {
    let since = store.policy().business_day_start(store.now());
    suanpan_store::read(store, |c| {
        query::operator_voids_since_in(c, &t.merchant_id, operator, since)
    })
}

/// The counter operator a request's void or refund is booked as: the submitter's own (a
/// cashier's or supervisor's number), else the original's (finance and admins have none).
fn booking_operator(submitter: Option<OperatorNo>, original: &Transaction) -> OperatorNo {
    submitter
        .filter(|o| *o != OperatorNo::ADMIN)
        .unwrap_or(original.operator)
}

/// The kind a void of `original` expects it to be, and the kind the void is booked as.
fn void_of(original: TxnKind) -> (TxnKind, TxnKind) {
    if original == TxnKind::Completion {
        (TxnKind::Completion, TxnKind::CompletionVoid)
    } else {
        (TxnKind::Sale, TxnKind::Void)
    }
}

/// Request `id` of `user`'s merchant (an acquirer user has none: not found).
pub fn request(
    store: &dyn Store,
    user: &StaffUser,
    id: i64,
) -> Result<ReviewRequest, RequestError> {
    let Some(merchant) = &user.merchant_id else {
        return Err(RequestError::NotFound);
    };
    store.request(merchant, id)?.ok_or(RequestError::NotFound)
}

/// The review actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Approve (then run after the grace window).
    Approve,
    /// Reject with a comment.
    Reject,
    /// Withdraw (submitter or admin).
    Cancel,
    /// Undo an approval within the grace window (its reviewer).
    Undo,
}

/// Applies a review action as the core decides it; a refusal is audited on the transaction.
/// After an approval the caller runs the executor (the request may be due at once).
pub fn act(
    store: &dyn Store,
    user: &StaffUser,
    id: i64,
    action: Action,
    comment: &str,
) -> Result<ReviewRequest, RequestError> {
    let q = request(store, user, id)?;
    let comment = comment.trim();
    let t = match decide_action(store, user, &q, action, comment)? {
        Ok(t) => t,
        Err(r) => {
            let audit_action = format!("{}_request.review", q.kind);
            let outcome = format!("refused:{}", r.key());
            store.record_staff_event(
                &user.username,
                &audit_action,
                &format!("txn:{}", q.txn_id),
                &outcome,
            )?;
            return Err(RequestError::Refused(RequestRefused::Backoffice(r)));
        }
    };
    if !store.transition_request(&t)? {
        return Err(RequestError::Changed);
    }
    request(store, user, id)
}

/// What the core says about `action` on `q` by `user`, as the status change to make.
fn decide_action<'a>(
    store: &dyn Store,
    user: &'a StaffUser,
    q: &'a ReviewRequest,
    action: Action,
    comment: &'a str,
) -> Result<Result<Transition<'a>, BackOfficeRefused>, RequestError> {
    let facts = q.facts()?;
    let (me, role, now) = (user.id, user.role, store.now());
    let t = |verb, from, to| Transition {
        comment,
        ..Transition::new(q, &user.username, verb, from, to)
    };
    Ok(match action {
        Action::Approve | Action::Reject => {
            let approve = action == Action::Approve;
            backoffice::decide_review(&facts, me, role, approve, comment, store.policy(), now).map(
                |out| {
                    let verb = if approve { "approve" } else { "reject" };
                    Transition {
                        reviewer: Some(me),
                        execute_after: out.execute_after,
                        ..t(verb, RequestStatus::Pending, out.status)
                    }
                },
            )
        }
        Action::Cancel => backoffice::decide_cancel(&facts, me, role)
            .map(|()| t("cancel", RequestStatus::Pending, RequestStatus::Cancelled)),
        Action::Undo => backoffice::decide_undo(&facts, me, now)
            .map(|()| t("undo", RequestStatus::Approved, RequestStatus::Undone)),
    })
}

/// Runs every approved request whose grace window has passed, one at a time. The caller
/// keeps one executor per process; the claim `approved → executing` is a conditional update,
/// so two processes never run the same request. `upstream`: this process's (a refund of a
/// sale the network upstream decided goes up through it, see [`crate::review_up`]). Called
/// on a blocking thread of a Tokio runtime when `upstream` is a network one.
pub fn run_due(store: &dyn Store, upstream: &Upstream) {
    let due = match store.due_requests(EXECUTOR_BATCH_MAX) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!("review executor: {e}");
            return;
        }
    };
    for q in due {
        if let Err(e) = run_one(store, upstream, &q) {
            tracing::error!("review executor, request {}: {e}", q.id);
        }
    }
}

fn run_one(store: &dyn Store, upstream: &Upstream, q: &ReviewRequest) -> Result<(), RequestError> {
    let claim = Transition::new(
        q,
        "system",
        "claim",
        RequestStatus::Approved,
        RequestStatus::Executing,
    );
    if !store.transition_request(&claim)? {
        return Ok(());
    }
    execute_claimed(store, upstream, q)
}

/// Finishes requests whose execution was claimed more than [`STALE_CLAIM_SECONDS`] ago and
/// never ended (a storage error answered the executor, or its process died in between). The
/// executor takes the claim over (one conditional update: one node wins), then looks for the
/// void/refund the lost execution may have booked (by [`execution_reason`]): found, the
/// request is finished with it; not found, nothing was committed and the command runs again,
/// decided anew by the engine (a void can only happen once anyway).
pub fn recover_stale(store: &dyn Store, upstream: &Upstream) {
    let before = store.now() - jiff::SignedDuration::from_secs(STALE_CLAIM_SECONDS);
    let stale = match store.stale_requests(before, EXECUTOR_BATCH_MAX) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("review executor: {e}");
            return;
        }
    };
    for q in stale {
        if let Err(e) = recover_one(store, upstream, &q, before) {
            tracing::error!("review executor, stale request {}: {e}", q.id);
        }
    }
}

fn recover_one(
    store: &dyn Store,
    upstream: &Upstream,
    q: &ReviewRequest,
    before: jiff::Timestamp,
) -> Result<(), RequestError> {
    if !store.reclaim_request(q, before)? {
        return Ok(());
    }
    match store.booked_for_request(q)? {
        Some((id, true, _)) => finish(store, q, RequestStatus::Executed, Some(id), ""),
        Some((id, false, code)) => finish(
            store,
            q,
            RequestStatus::Failed,
            Some(id),
            &format!("declined:{code}"),
        ),
        None => execute_claimed(store, upstream, q),
    }
}

/// Runs a claimed request's command and records its outcome: a refund of a sale the
/// network upstream decided goes up through `upstream` ([`crate::review_up::refund_up`]),
/// everything else through the writer.
fn execute_claimed(
    store: &dyn Store,
    upstream: &Upstream,
    q: &ReviewRequest,
) -> Result<(), RequestError> {
    // A storage error leaves the request claimed: nothing was reported committed, and once
    // the claim is stale `recover_stale` finds out what happened and finishes it.
    let outcome = match command_for(store, q)? {
        Execution::Void(c) => Outcome::of(store.ask(c)?),
        Execution::Refund(c) if crate::review_up::goes_up(store, &c)? => {
            crate::review_up::refund_up(store, upstream, c)?
        }
        Execution::Refund(c) => Outcome::of(store.ask(c)?),
    };
    finish(store, q, outcome.next, outcome.txn, &outcome.key)
}

/// How an executed request ended: its next status, the transaction it booked, and the
/// catalog key of why it failed (empty when executed).
pub(crate) struct Outcome {
    pub(crate) next: RequestStatus,
    pub(crate) txn: Option<TxnId>,
    pub(crate) key: String,
}

impl Outcome {
    /// A writer's reply to the request's command.
    pub(crate) fn of(reply: TxnReply) -> Outcome {
        let (next, txn, key) = match reply {
            TxnReply::Booked(t) | TxnReply::Replayed(t) if t.status == TxnStatus::Approved => {
                (RequestStatus::Executed, Some(t.id), String::new())
            }
            TxnReply::Booked(t) | TxnReply::Replayed(t) => (
                RequestStatus::Failed,
                Some(t.id),
                format!("declined:{}", t.response_code.code()),
            ),
            TxnReply::Refused(r) => (RequestStatus::Failed, None, r.key().to_owned()),
        };
        Outcome { next, txn, key }
    }

    /// Failed before anything was booked, for the reason `key` (a catalog key).
    pub(crate) fn failed(key: &str) -> Outcome {
        Outcome {
            next: RequestStatus::Failed,
            txn: None,
            key: key.to_owned(),
        }
    }
}

/// Moves a claimed request to its outcome.
fn finish(
    store: &dyn Store,
    q: &ReviewRequest,
    next: RequestStatus,
    result_txn: Option<TxnId>,
    key: &str,
) -> Result<(), RequestError> {
    let verb = if next == RequestStatus::Executed {
        "execute"
    } else {
        "fail"
    };
    let done = Transition {
        result_txn,
        result_key: key,
        ..Transition::new(q, "system", verb, RequestStatus::Executing, next)
    };
    store.transition_request(&done)?;
    Ok(())
}

/// What an approved request runs: a void or a refund, each answering a [`TxnReply`].
enum Execution {
    Void(Void),
    Refund(Refund),
}

/// The engine command of an approved request: on the original's terminal, as the
/// submitter's counter operator (or the original's), authorized by the review (recorded as
/// supervisor 00).
fn command_for(store: &dyn Store, q: &ReviewRequest) -> Result<Execution, RequestError> {
    let t = store
        .transaction(TxnId(q.txn_id))?
        .ok_or(RequestError::TxnNotFound)?;
    let operator = booking_operator(store.staff_operator(q.submitted_by)?, &t);
    let origin = Origin {
        terminal_id: t.terminal_id.clone(),
        operator,
        supervisor: Some(OperatorNo::SUPERVISOR),
        voucher: None,
        batch: None,
        training: t.training,
        idempotency: None,
        terminal_info: None,
    };
    let reason = execution_reason(q);
    Ok(match q.facts()?.kind {
        RequestKind::Void => Execution::Void(Void {
            origin,
            kind: void_of(t.kind).1,
            original: OriginalRef::Id(t.id),
            amount: Some(Amount::from_fen(q.amount_fen)),
            reason,
            customer_consent: q.customer_consent,
            card_fingerprint: t.card_fingerprint.clone(),
        }),
        RequestKind::Refund => Execution::Refund(Refund {
            origin,
            original: OriginalRef::Id(t.id),
            amount: Amount::from_fen(q.amount_fen),
            reason,
        }),
    })
}
