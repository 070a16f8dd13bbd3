//! Sale void and completion void (撤销): the terminal gate, the original (locked), the
//! supervisor, the operator's voids today, `decide_void`, then the issuer's credit.

use crate::ctx::{Ctx, FollowUp, Gate, actor_of, book_follow_up, gate, issuer_effect, refuse};
use suanpan_core::refusal::VoidRefused;
use suanpan_core::rules::{self, VoidRequest};
use suanpan_core::{Amount, TxnKind, TxnStatus};
use suanpan_issuer::IssuerOp;
use suanpan_store::command::{Origin, OriginalRef};
use suanpan_store::repo::operators;
use suanpan_store::repo::txns::{self, InstrumentCols};
use suanpan_store::repo::upstream as repo;
use suanpan_store::{StoreError, TxnReply};

/// A void's facts besides its origin and original.
pub struct VoidFacts<'a> {
    /// `Void` or `CompletionVoid`.
    pub kind: TxnKind,
    /// The amount the terminal sent, if any.
    pub amount: Option<Amount>,
    /// Why.
    pub reason: &'a str,
    /// The customer agreed.
    pub consent: bool,
    /// Fingerprint of a re-presented card.
    pub card: Option<&'a str>,
}

/// Voids a sale or a completion.
pub(crate) fn void(
    ctx: &mut Ctx<'_, '_>,
    origin: &Origin,
    original: &OriginalRef,
    f: &VoidFacts<'_>,
) -> Result<TxnReply, StoreError> {
    let action = f.kind.as_str();
    let term = match gate(ctx, origin, action)? {
        Gate::Open(t) => t,
        Gate::Answered(r) => return Ok(r),
    };
    let actor = actor_of(origin);
    let Some(orig) = txns::find_original(ctx.tx.conn, &term, origin.training, original)? else {
        let r = VoidRefused::OriginalNotFound;
        return refuse(ctx, &actor, action, &original.to_string(), r);
    };
    let target = format!("txn:{}", orig.id);
    if let Err(r) = rules::decide_supervisor(origin.supervisor) {
        return refuse(ctx, &actor, action, &target, r);
    }
    let conn = ctx.tx.conn;
    operators::lock(conn, &term.merchant_id, origin.operator)?;
    let since = ctx
        .tx
        .policy
        .business_day_start(ctx.tx.now)
        .as_microsecond();
    let voids_today = txns::voids_since(conn, &term.merchant_id, origin.operator, since)?;
    let expected = if f.kind == TxnKind::CompletionVoid {
        TxnKind::Completion
    } else {
        TxnKind::Sale
    };
    let req = VoidRequest {
        terminal_id: &term.id,
        open_batch: term.batch_no,
        amount: f.amount,
        reason: f.reason,
        customer_consent: f.consent,
        card_fingerprint: f.card,
        voids_today_by_operator: voids_today,
        via_review: false,
        training: origin.training,
    };
    let amount = match rules::decide_void(&orig, expected, &req, ctx.tx.policy, ctx.tx.now) {
        Ok(a) => a,
        Err(r) => return refuse(ctx, &actor, action, &target, r),
    };
    // A sale the network upstream decided is given back there (its 0420 with 39 = 17,
    // queued in this transaction), not in the inline simulator's accounts. The terminal's
    // void brings the card (`Command::WithAdvice`); any other (the back-office's, a terminal
    // void without field 2) builds the 0420 from the sale's row, where phase one sealed the
    // card number; a row that kept none (an older build's, or forgotten) is refused.
    let went_up = crate::upstream::went_up(ctx, orig.id)?;
    let own_advice = if went_up && !ctx.advice_follows {
        let reason = suanpan_upstream::REASON_VOID;
        match repo::reversal_draft(ctx.tx.conn, ctx.tx.keys, orig.id, reason)? {
            Some(draft) => Some(draft),
            None => return refuse(ctx, &actor, action, &target, VoidRefused::ThroughUpstream),
        }
    } else {
        None
    };
    if !went_up {
        let cols = InstrumentCols::from_txn(&orig);
        issuer_effect(ctx, &cols, IssuerOp::Credit, amount, origin.training)?;
    }
    if f.kind == TxnKind::CompletionVoid
        && let Some(pre) = orig.original_id
    {
        // The capture is undone; the pre-authorization's hold does not come back.
        txns::uncomplete(conn, pre, TxnStatus::Voided)?;
    }
    txns::set_status(conn, orig.id, TxnStatus::Voided)?;
    let booking = FollowUp {
        kind: f.kind,
        amount,
        reason: f.reason,
        consent: f.consent,
    };
    let txn = book_follow_up(ctx, origin, &term, &orig, booking)?;
    crate::risk::after_void_or_refund(ctx, origin, &term, &txn)?;
    if let Some(draft) = own_advice {
        crate::upstream::queue_advice(ctx, &txn, &draft)?;
    }
    Ok(TxnReply::Booked(txn))
}
