//! Refund (退货): the terminal gate, the original (locked), the supervisor, `decide_refund`,
//! then the issuer's credit and the original's refunded amount.
//!
//! A refund of a sale the network upstream decided goes up itself (a 0200 with processing
//! code `200000` and its own amount, issue 15): phase one books it *authorizing* and
//! reserves its amount on the original (so two refunds in flight cannot exceed it); phase
//! two (`crate::upstream::authorized`) keeps the reservation when approved and gives it
//! back otherwise.

use crate::ctx::{Ctx, FollowUp, Gate, actor_of, book_follow_up, gate, issuer_effect, refuse};
use suanpan_core::refusal::RefundRefused;
use suanpan_core::rules::{self, RefundRequest};
use suanpan_core::{Amount, ResponseCode, TxnKind, TxnStatus};
use suanpan_issuer::IssuerOp;
use suanpan_store::command::{Origin, OriginalRef};
use suanpan_store::repo::terminals;
use suanpan_store::repo::txns::{self, InstrumentCols, NewTxn};
use suanpan_store::repo::upstream as repo;
use suanpan_store::{StoreError, TxnReply, UpstreamRef};

/// Refunds (part of) an original. `up`: how the refund goes up when the network upstream
/// decided the original (phase one, `Command::Authorize`: the terminal's refund, or the
/// back-office's with the card number the sale's row keeps); a refund of such a sale without
/// it (a caller that cannot send it up) is refused.
pub(crate) fn refund(
    ctx: &mut Ctx<'_, '_>,
    origin: &Origin,
    original: &OriginalRef,
    amount: Amount,
    reason: &str,
    up: Option<&UpstreamRef>,
) -> Result<TxnReply, StoreError> {
    let term = match gate(ctx, origin, "refund")? {
        Gate::Open(t) => t,
        Gate::Answered(r) => return Ok(r),
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
        let Some(up) = up else {
            let r = RefundRefused::ThroughUpstream;
            return refuse(ctx, &actor, "refund", &target, r);
        };
        // Reserved now, kept or given back with the refund's fate.
        txns::set_refunded(ctx.tx.conn, orig.id, d.original_status, d.refunded_after)?;
        let voucher = terminals::take_voucher(ctx.tx, &term, origin.voucher, origin.training);
        let txn = txns::insert(
            ctx.tx,
            NewTxn {
                kind: TxnKind::Refund,
                status: TxnStatus::Authorizing,
                amount: d.amount,
                method: orig.method,
                instrument: InstrumentCols::from_txn(&orig),
                origin,
                term: &term,
                voucher,
                code: ResponseCode::IssuerTimeout,
                original_id: Some(orig.id),
                reason: Some(reason.to_owned()),
                consent: false,
                linked_id: None,
                hold_expires_at: None,
            },
        )?;
        // The refund's own card number serves only its time-out reversal: forgotten with
        // its fate (`upstream::authorized`), whatever window this names.
        let pan_until = rules::refund_window_end(txn.created_at, ctx.tx.policy);
        repo::record(ctx.tx.conn, ctx.tx.keys, txn.id, up, pan_until)?;
        let outcome = format!("authorizing:{}/{}", up.destination, up.stan);
        ctx.tx.audit(
            &actor,
            "refund",
            &format!("txn:{}", txn.id),
            reason,
            &outcome,
        );
        return Ok(TxnReply::Booked(txn));
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
    Ok(TxnReply::Booked(txn))
}
