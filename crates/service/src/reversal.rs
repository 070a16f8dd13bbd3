//! Reversal (冲正) of a terminal's request by its voucher no.: `decide_reversal`, then the
//! original's effect undone at the issuer and on its own original; a reversal whose request
//! never arrived is remembered so that the request, arriving late, is refused (`gate`).

use crate::ctx::{Ctx, FollowUp, Gate, actor_of, book_follow_up, gate, issuer_effect, refuse};
use suanpan_core::refusal::ReversalRefused;
use suanpan_core::rules::{self, ReversalDecision};
use suanpan_core::{Amount, Transaction, TxnKind, TxnStatus, VoucherNo};
use suanpan_issuer::IssuerOp;
use suanpan_store::command::{Origin, OriginalRef};
use suanpan_store::repo::orphans::{self, NewOrphan};
use suanpan_store::repo::txns::{self, InstrumentCols};
use suanpan_store::{ReversalReply, StoreError};

/// Reverses the transaction a terminal booked under `voucher` in its open batch.
pub(crate) fn reverse(
    ctx: &mut Ctx<'_, '_>,
    origin: &Origin,
    voucher: VoucherNo,
    amount: Option<Amount>,
    reason: &str,
) -> Result<ReversalReply, StoreError> {
    let term = match gate(ctx, origin, "reversal")? {
        Gate::Open(t) => t,
        Gate::Answered(r) => return Ok(r),
    };
    let actor = actor_of(origin);
    let by_voucher = OriginalRef::Voucher(voucher);
    let target = txns::find_original(ctx.tx.conn, &term, origin.training, &by_voucher)?
        // A reversal only concerns the open batch: an older voucher no. is another transaction.
        .filter(|t| t.batch_no == term.batch_no && !t.settled);
    let decision = match rules::decide_reversal(target.as_ref()) {
        Ok(d) => d,
        Err(r) => {
            let tgt = target
                .as_ref()
                .map(|t| format!("txn:{}", t.id))
                .unwrap_or_default();
            return refuse(ctx, &actor, "reversal", &tgt, r);
        }
    };
    let (ReversalDecision::Reverse, Some(t)) = (decision, target) else {
        let outcome = if decision == ReversalDecision::NeverArrived {
            let o = NewOrphan {
                term: &term,
                voucher,
                training: origin.training,
                amount,
                reason,
            };
            let window_us = i64::from(ctx.tx.policy.orphan_reversal_hours) * 3_600_000_000;
            let forget_before = ctx.tx.now.as_microsecond().saturating_sub(window_us);
            orphans::remember(ctx.tx.conn, &o, ctx.tx.now, forget_before)?;
            "nothing_to_reverse:remembered"
        } else {
            "nothing_to_reverse"
        };
        let target = format!("voucher:{voucher}");
        ctx.tx.audit(&actor, "reversal", &target, reason, outcome);
        return Ok(ReversalReply::NothingToReverse);
    };
    // A void of a sale the switch decided is undone only while its 0420 has not left: it
    // is taken back here. One that may have left cannot be called back.
    if matches!(t.kind, TxnKind::Void)
        && let Some(sale) = t.original_id
        && crate::upstream::went_up(ctx, sale)?
        && suanpan_store::repo::upstream::saf_withdraw_unsent(ctx.tx.conn, sale)? == 0
    {
        let r = ReversalRefused::VoidWentUp;
        return refuse(ctx, &actor, "reversal", &format!("txn:{}", t.id), r);
    }
    undo(ctx, &t, origin.training)?;
    txns::set_status(ctx.tx.conn, t.id, TxnStatus::Reversed)?;
    // The reversal row gets a host-numbered voucher and no idempotency key of its own: the
    // voucher no. of the request names the reversed transaction.
    let plain = Origin {
        voucher: None,
        idempotency: None,
        ..origin.clone()
    };
    let booking = FollowUp {
        kind: TxnKind::Reversal,
        amount: t.amount,
        reason,
        consent: false,
    };
    let txn = book_follow_up(ctx, &plain, &term, &t, booking)?;
    Ok(ReversalReply::Reversed(txn))
}

/// Undoes a transaction's effect at the issuer and on its own original, for a reversal.
fn undo(ctx: &Ctx<'_, '_>, t: &Transaction, training: bool) -> Result<(), StoreError> {
    let cols = InstrumentCols::from_txn(t);
    let conn = ctx.tx.conn;
    let original = || -> Result<Transaction, StoreError> {
        let id = t
            .original_id
            .ok_or_else(|| StoreError::Sqlite(format!("txn {} has no original", t.id)))?;
        txns::by_id(conn, id)?
            .ok_or_else(|| StoreError::Sqlite(format!("txn {}: original {id} is gone", t.id)))
    };
    match t.kind {
        // A sale the network upstream decided is reversed there (the host queues its 0420).
        TxnKind::Sale if crate::upstream::went_up(ctx, t.id)? => Ok(()),
        TxnKind::Sale => issuer_effect(ctx, &cols, IssuerOp::Credit, t.amount, training),
        // An expired pre-auth's hold was already released by `expire_holds`; releasing it
        // again would eat another pre-auth's hold on the same card.
        TxnKind::PreAuth if t.status == TxnStatus::Expired => Ok(()),
        TxnKind::PreAuth => issuer_effect(ctx, &cols, IssuerOp::Release, t.amount, training),
        TxnKind::Completion => {
            let pre = original()?;
            issuer_effect(ctx, &cols, IssuerOp::Credit, t.amount, training)?;
            issuer_effect(ctx, &cols, IssuerOp::ForceHold, pre.amount, training)?;
            // After a completion's reversal the pre-authorization is approved with its hold.
            txns::uncomplete(conn, pre.id, TxnStatus::Approved)
        }
        // A void of a sale the switch decided: its 0420 was taken back (`reverse`), so the
        // switch never gave the money back; nothing moves here.
        TxnKind::Void if crate::upstream::went_up(ctx, original()?.id)? => {
            txns::set_status(conn, original()?.id, TxnStatus::Approved)
        }
        TxnKind::Void | TxnKind::CompletionVoid => {
            let o = original()?;
            issuer_effect(ctx, &cols, IssuerOp::ForceDebit, t.amount, training)?;
            if let (TxnKind::CompletionVoid, Some(pre)) = (t.kind, o.original_id) {
                txns::set_completed(conn, pre, o.amount)?;
            }
            txns::set_status(conn, o.id, TxnStatus::Approved)
        }
        TxnKind::PreAuthVoid => {
            let o = original()?;
            issuer_effect(ctx, &cols, IssuerOp::ForceHold, t.amount, training)?;
            txns::set_status(conn, o.id, TxnStatus::Approved)
        }
        // decide_reversal refuses every other kind before we get here.
        _ => unreachable!("reversal of {:?} passed the rule", t.kind),
    }
}
