//! The pre-authorization's follow-ups: completion (预授权完成) and pre-auth void (预授权撤销).
//! The pre-authorization itself is a purchase ([`crate::sale`]); its hold's end is
//! [`crate::holds`].

use crate::ctx::{
    Ask, Ctx, FollowUp, Gate, actor_of, ask_issuer, book, book_follow_up, gate, issuer_effect,
    refuse,
};
use crate::sale::channel_gate;
use suanpan_core::refusal::{CompletionRefused, PreAuthVoidRefused};
use suanpan_core::rules;
use suanpan_core::{Amount, ResponseCode, Transaction, TxnKind, TxnStatus};
use suanpan_issuer::IssuerOp;
use suanpan_store::command::{Origin, OriginalRef};
use suanpan_store::repo::terminals::{self, TerminalState};
use suanpan_store::repo::txns::{self, InstrumentCols, NewTxn};
use suanpan_store::{StoreError, TxnReply};

/// The pre-authorization a completion or pre-auth void names. The core has no
/// training-mismatch refusal for pre-auths: to the other mode a training pre-auth does not
/// exist (as by voucher no.), so a training request never marks a live hold done without
/// releasing it, and a live capture never takes money for a training one.
fn find_preauth(
    ctx: &Ctx<'_, '_>,
    term: &TerminalState,
    origin: &Origin,
    original: &OriginalRef,
) -> Result<Option<Transaction>, StoreError> {
    let found = txns::find_original(ctx.tx.conn, term, origin.training, original)?;
    Ok(found.filter(|p| p.training == origin.training))
}

/// Captures (part of, or up to 115% of) a pre-authorization's hold.
pub(crate) fn complete(
    ctx: &mut Ctx<'_, '_>,
    origin: &Origin,
    original: &OriginalRef,
    amount: Amount,
) -> Result<TxnReply, StoreError> {
    let term = match gate(ctx, origin, "completion")? {
        Gate::Open(t) => t,
        Gate::Answered(r) => return Ok(r),
    };
    let actor = actor_of(origin);
    let Some(pre) = find_preauth(ctx, &term, origin, original)? else {
        let r = CompletionRefused::OriginalNotFound;
        return refuse(ctx, &actor, "completion", &original.to_string(), r);
    };
    if let Some(refused) = channel_gate(ctx, &actor, "completion", pre.method, &term.merchant_id)? {
        return Ok(refused);
    }
    let target = format!("txn:{}", pre.id);
    let (policy, now) = (ctx.tx.policy, ctx.tx.now);
    let amount = match rules::decide_completion(&pre, &term.merchant_id, amount, policy, now) {
        Ok(a) => a,
        Err(r) => return refuse(ctx, &actor, "completion", &target, r),
    };
    let cols = InstrumentCols::from_txn(&pre);
    let code = if origin.training {
        ResponseCode::Approved
    } else {
        let account = cols.account_id().unwrap_or_default().to_owned();
        let ask = Ask {
            account: &account,
            op: IssuerOp::Capture { held: pre.amount },
            amount,
            pin: None,
            expiry: None,
        };
        ask_issuer(ctx, &ask)?
            .map(|r| r.code)
            .unwrap_or(ResponseCode::DoNotHonour)
    };
    if code.is_approved() {
        txns::set_completed(ctx.tx.conn, pre.id, amount)?;
    }
    let voucher = terminals::take_voucher(ctx.tx, &term, origin.voucher, origin.training);
    let txn = book(
        ctx,
        NewTxn {
            kind: TxnKind::Completion,
            status: if code.is_approved() {
                TxnStatus::Approved
            } else {
                TxnStatus::Declined
            },
            amount,
            method: pre.method,
            instrument: cols,
            origin,
            term: &term,
            voucher,
            code,
            original_id: Some(pre.id),
            reason: None,
            consent: false,
            linked_id: None,
            hold_expires_at: None,
        },
    )?;
    Ok(TxnReply::Booked(txn))
}

/// Voids a pre-authorization: its hold is released.
pub(crate) fn preauth_void(
    ctx: &mut Ctx<'_, '_>,
    origin: &Origin,
    original: &OriginalRef,
    amount: Option<Amount>,
    reason: &str,
) -> Result<TxnReply, StoreError> {
    let term = match gate(ctx, origin, "preauth_void")? {
        Gate::Open(t) => t,
        Gate::Answered(r) => return Ok(r),
    };
    let actor = actor_of(origin);
    let Some(pre) = find_preauth(ctx, &term, origin, original)? else {
        let r = PreAuthVoidRefused::OriginalNotFound;
        return refuse(ctx, &actor, "preauth_void", &original.to_string(), r);
    };
    let target = format!("txn:{}", pre.id);
    if let Err(r) = rules::decide_supervisor(origin.supervisor) {
        return refuse(ctx, &actor, "preauth_void", &target, r);
    }
    let (policy, now) = (ctx.tx.policy, ctx.tx.now);
    let merchant = &term.merchant_id;
    let held = match rules::decide_preauth_void(&pre, merchant, amount, reason, policy, now) {
        Ok(a) => a,
        Err(r) => return refuse(ctx, &actor, "preauth_void", &target, r),
    };
    let cols = InstrumentCols::from_txn(&pre);
    issuer_effect(ctx, &cols, IssuerOp::Release, held, origin.training)?;
    txns::set_status(ctx.tx.conn, pre.id, TxnStatus::Voided)?;
    let booking = FollowUp {
        kind: TxnKind::PreAuthVoid,
        amount: held,
        reason,
        consent: false,
    };
    let txn = book_follow_up(ctx, origin, &term, &pre, booking)?;
    Ok(TxnReply::Booked(txn))
}
