//! Refund (退货): the terminal gate, the original (locked), the supervisor, `decide_refund`,
//! then the issuer's credit and the original's refunded amount.

use crate::ctx::{Ctx, FollowUp, Gate, Res, actor_of, book_follow_up, gate, issuer_effect, refuse};
use suanpan_core::refusal::RefundRefused;
use suanpan_core::rules::{self, RefundRequest};
use suanpan_core::{Amount, TxnKind};
use suanpan_issuer::IssuerOp;
use suanpan_store::Reply;
use suanpan_store::command::{Origin, OriginalRef};
use suanpan_store::repo::txns::{self, InstrumentCols};

/// Refunds (part of) an original.
pub(crate) fn refund(
    ctx: &mut Ctx<'_, '_>,
    origin: &Origin,
    original: &OriginalRef,
    amount: Amount,
    reason: &str,
) -> Res {
    let term = match gate(ctx, origin, "refund")? {
        Gate::Open(t) => t,
        Gate::Answered(r) => return Ok(*r),
    };
    let actor = actor_of(origin);
    let Some(orig) = txns::find_original(ctx.tx.conn, &term, origin.training, original)? else {
        let r = RefundRefused::OriginalNotFound;
        return refuse(ctx, &actor, "refund", &original.to_string(), r);
    };
    let target = format!("txn:{}", orig.id);
    if let Err(r) = rules::decide_supervisor(origin.supervisor) {
        return refuse(ctx, &actor, "refund", &target, r);
    }
    let req = RefundRequest {
        merchant_id: &term.merchant_id,
        amount,
        reason,
        back_office: false,
        reviewed: false,
        training: origin.training,
    };
    let d = match rules::decide_refund(&orig, &req, ctx.tx.policy, ctx.tx.now) {
        Ok(d) => d,
        Err(r) => return refuse(ctx, &actor, "refund", &target, r),
    };
    if crate::upstream::went_up(ctx, orig.id)? {
        let r = suanpan_core::refusal::RefundRefused::ThroughUpstream;
        return refuse(ctx, &actor, "refund", &target, r);
    }
    let cols = InstrumentCols::from_txn(&orig);
    issuer_effect(ctx, &cols, IssuerOp::Credit, d.amount, origin.training)?;
    txns::set_refunded(ctx.tx.conn, orig.id, d.original_status, d.refunded_after)?;
    let booking = FollowUp {
        kind: TxnKind::Refund,
        amount: d.amount,
        reason,
        consent: false,
    };
    let txn = book_follow_up(ctx, origin, &term, &orig, booking)?;
    crate::risk::after_void_or_refund(ctx, origin, &term, &txn)?;
    Ok(Reply::Txn(txn))
}
