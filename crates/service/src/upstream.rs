//! The upstream: where a purchase is decided. **Inline** (the embedded default) asks the
//! issuer simulator inside the writer's transaction, as every use case always did.
//! **Network** ([`network::Network`]) sends it over the ISO 8583:1987 link to a switch, with
//! two-phase bookkeeping (issue 15):
//!
//! 1. one writer command books the sale *authorizing*, with the STAN and field 7 it leaves
//!    with (`Command::Authorize`, [`book_authorizing`]);
//! 2. the request goes up outside any store transaction, bounded by `upstream_timeout_ms`;
//! 3. a second writer command records its fate (`Command::Authorized`, [`authorized`]) as
//!    `suanpan_core::rules::decide_upstream_fate` says: approved, declined, or reversal
//!    pending (no answer in time: its 0420 is queued, the terminal is told to reverse too).
//!
//! At start-up every row still authorizing is resolved before terminals are served
//! ([`network::Network::resolve_at_start`]).

pub mod network;
pub mod queue;

use crate::ctx::{Ctx, actor_of};
use crate::sale::Purchase;
use suanpan_core::rules::{self, UpstreamFate};
use suanpan_core::{ResponseCode, Transaction, TxnId, TxnKind, TxnStatus};
use suanpan_store::command::{Instrument, Origin};
use suanpan_store::repo::terminals::{self, TerminalState};
use suanpan_store::repo::txns::{self, InstrumentCols, NewTxn};
use suanpan_store::repo::upstream as repo;
use suanpan_store::{AdviceDraft, StoreError, TxnReply, UpstreamRef};

/// Which upstream decides a purchase.
#[derive(Clone, Default)]
pub enum Upstream {
    /// The issuer simulator in the writer's transaction (`serve --demo`, every test that
    /// does not name a switch).
    #[default]
    Inline,
    /// A switch over the network (`serve --upstream ADDR`, `[upstream] addr`).
    Network(std::sync::Arc<network::Network>),
}

/// What goes to the network upstream: a card sale in earnest. Pre-authorizations, balance
/// inquiries, QR wallets and training stay with the inline simulator (a known gap for the
/// first two, docs/ISO8583.md).
pub(crate) fn goes_up(kind: TxnKind, instrument: &Instrument, origin: &Origin) -> bool {
    kind == TxnKind::Sale && matches!(instrument, Instrument::Card { .. }) && !origin.training
}

/// Whether transaction `id` was decided by the network upstream (its money moved at the
/// switch, not in the inline simulator's accounts).
pub(crate) fn went_up(ctx: &Ctx<'_, '_>, id: TxnId) -> Result<bool, StoreError> {
    Ok(repo::find(ctx.tx.conn, id)?.is_some())
}

/// Phase one: the sale, checked like any other, is booked *authorizing* (response code 98
/// "result unknown" until its answer comes) with how it goes up.
pub(crate) fn book_authorizing(
    ctx: &mut Ctx<'_, '_>,
    origin: &Origin,
    term: &TerminalState,
    p: &Purchase<'_>,
    up: &UpstreamRef,
) -> Result<Transaction, StoreError> {
    let voucher = terminals::take_voucher(ctx.tx, term, origin.voucher, origin.training);
    let txn = txns::insert(
        ctx.tx,
        NewTxn {
            kind: p.kind,
            status: TxnStatus::Authorizing,
            amount: p.amount,
            method: p.method,
            instrument: InstrumentCols::of(p.instrument),
            origin,
            term,
            voucher,
            code: ResponseCode::IssuerTimeout,
            original_id: None,
            reason: None,
            consent: false,
            linked_id: p.linked_id,
            hold_expires_at: None,
        },
    )?;
    let pan_until = rules::refund_window_end(txn.created_at, ctx.tx.policy);
    repo::record(ctx.tx.conn, ctx.tx.keys, txn.id, up, pan_until)?;
    let target = format!("txn:{}", txn.id);
    let outcome = format!("authorizing:{}/{}", up.destination, up.stan);
    ctx.tx
        .audit(&actor_of(origin), txn.kind.as_str(), &target, "", &outcome);
    Ok(txn)
}

/// Phase two: an authorizing transaction's fate. One no longer authorizing (resolved at a
/// start-up, or a repeated phase two) is answered as it stands.
pub(crate) fn authorized(
    ctx: &mut Ctx<'_, '_>,
    id: TxnId,
    fate: UpstreamFate,
    auth_code: Option<&str>,
) -> Result<TxnReply, StoreError> {
    let Some(txn) = txns::by_id(ctx.tx.conn, id)? else {
        return Err(StoreError::Invalid(format!("no transaction {id}")));
    };
    if txn.status != TxnStatus::Authorizing {
        return Ok(TxnReply::Booked(txn));
    }
    let (status, code) = rules::decide_upstream_fate(fate);
    // The time-out reversal follows the fate in this same transaction: queued when the
    // outcome upstream is unknown, never otherwise.
    // An older build's parked reversal of an answered row is not dropped here: only an older
    // build parked (this one never calls `Link::park_reversal`), and its rows reach this
    // function only from `resolve_authorizing` at start-up, whose sweep drops every parked
    // reversal left once the rows are resolved, in the same transaction. A phase two while
    // serving is of a row this process booked, after that sweep: nothing can be parked for
    // it, and the DELETE cost the writer ~3.5 K instructions a network sale (s20-net).
    if status == TxnStatus::ReversalPending {
        queue_timeout_reversal(ctx, &txn)?;
    }
    // Only an approved sale may still need its card number (a void or a refund from the
    // back-office, until its refund window closes); a refund, a decline or a queued reversal
    // (its frame keeps its own sealed copy) never.
    if !(status == TxnStatus::Approved && txn.kind == TxnKind::Sale) {
        repo::forget_pan(ctx.tx.conn, id)?;
    }
    // An approval without the issuer's authorization code keeps none rather than invent one.
    let auth = (status == TxnStatus::Approved)
        .then_some(auth_code)
        .flatten();
    let after = repo::set_outcome(ctx.tx.conn, txn, status, code, auth)?;
    if after.kind == TxnKind::Refund {
        refund_fate(ctx, &after)?;
    }
    let outcome = if status == TxnStatus::Approved {
        "approved".to_owned()
    } else {
        format!("{}:{}", status.as_str(), code.code())
    };
    let actor = format!("{}/{}", after.terminal_id, after.operator);
    ctx.tx
        .audit(&actor, "upstream", &format!("txn:{id}"), "", &outcome);
    Ok(TxnReply::Booked(after))
}

/// A refund's fate on its original: approved, the amount reserved in phase one stays
/// refunded (and the refund's event goes out, as for an inline refund); otherwise it is
/// given back — a declined refund moved no money, and one without an answer is reversed
/// upstream by its queued 0420.
fn refund_fate(ctx: &mut Ctx<'_, '_>, refund: &Transaction) -> Result<(), StoreError> {
    let status = refund.status;
    let Some(original_id) = refund.original_id else {
        return Err(StoreError::Invalid(format!(
            "refund {} has no original",
            refund.id
        )));
    };
    if status == TxnStatus::Approved {
        forget_when_fully_refunded(ctx, original_id)?;
        return crate::events::txn_booked(ctx.tx, refund, refund.training);
    }
    let original = txns::by_id(ctx.tx.conn, original_id)?.ok_or_else(|| {
        StoreError::Invalid(format!(
            "refund {}: original {original_id} is gone",
            refund.id
        ))
    })?;
    let (status, refunded) = rules::refund_released(&original, refund.amount);
    txns::set_refunded(ctx.tx.conn, original_id, status, refunded)
}

/// A sale refunded in full needs its card number no more (nothing is left to refund, and a
/// refunded sale cannot be voided): forgotten in the refund's transaction.
fn forget_when_fully_refunded(ctx: &mut Ctx<'_, '_>, original_id: TxnId) -> Result<(), StoreError> {
    let original = txns::by_id(ctx.tx.conn, original_id)?
        .ok_or_else(|| StoreError::Invalid(format!("original {original_id} is gone")))?;
    if original.status == TxnStatus::Refunded {
        repo::forget_pan(ctx.tx.conn, original_id)?;
    }
    Ok(())
}

/// The scheduler's step: forgets every card number whose sale's refund window has closed
/// (by the store's clock). Answers `Done(card numbers forgotten)`, audited when any.
pub(crate) fn forget_expired_pans(ctx: &mut Ctx<'_, '_>) -> Result<u64, StoreError> {
    let n = repo::forget_expired_pans(ctx.tx.conn, ctx.tx.now)?;
    if n > 0 {
        let outcome = format!("forgotten:{n}");
        ctx.tx.audit(
            "system",
            "upstream.forget_pans",
            "upstream_requests",
            "",
            &outcome,
        );
    }
    Ok(n)
}

/// Queues `txn`'s time-out reversal (0420, 39 = `68`): built from its request's row (the
/// sealed card number and the STAN phase one gave it), or an older build's parked frame.
/// Reversal pending without its advice would leave a charged card unrefunded: an error.
fn queue_timeout_reversal(ctx: &mut Ctx<'_, '_>, txn: &Transaction) -> Result<i64, StoreError> {
    let id = txn.id;
    let conn = ctx.tx.conn;
    let draft = repo::reversal_draft(conn, ctx.tx.keys, id, suanpan_upstream::REASON_TIME_OUT)?;
    if let (Some(draft), Some(up)) = (draft, repo::find(conn, id)?) {
        let frame = network::advice_frame(txn, &up, &draft, false)
            .map_err(|e| StoreError::Invalid(format!("txn {id}: time-out reversal: {e}")))?;
        return repo::saf_push(
            conn,
            ctx.tx.keys,
            &up.destination,
            &frame,
            wall_ms(),
            Some(id),
        );
    }
    repo::activate(conn, ctx.tx.keys, &reference(id), wall_ms(), Some(id))?.ok_or_else(|| {
        StoreError::Invalid(format!("txn {id}: no answer, and no reversal can be built"))
    })
}

/// Whether an authorizing `id` may have left: its reversal can be built from its row, or
/// an older build parked one before sending. Otherwise (an older build's row, nothing
/// parked) it never left.
pub(crate) fn may_have_left(
    conn: &dyn suanpan_store::sql::Sql,
    id: TxnId,
) -> Result<bool, StoreError> {
    Ok(repo::reversal_ready(conn, id)? || repo::is_parked(conn, &reference(id))?)
}

/// At start-up, before terminals are served: a row still authorizing may have left —
/// reversal pending, its 0420 built from the row and queued — unless it is an older
/// build's with nothing parked, which never left — declined as not sent (91). An older
/// build's parked reversals of no authorizing row (answered, the process stopped before it
/// dropped them) are dropped. One transaction; answers `Done(rows resolved)`.
pub(crate) fn resolve_authorizing(ctx: &mut Ctx<'_, '_>) -> Result<u64, StoreError> {
    let ids = repo::authorizing(ctx.tx.conn)?;
    for id in &ids {
        let fate = if may_have_left(ctx.tx.conn, *id)? {
            UpstreamFate::NoAnswer
        } else {
            UpstreamFate::NotSent
        };
        authorized(ctx, *id, fate, None)?;
    }
    // Also the parked reversals of the rows just answered: `authorized` leaves them.
    for orphan in repo::parked(ctx.tx.conn)? {
        repo::discard(ctx.tx.conn, &orphan)?;
    }
    Ok(ids.len() as u64)
}

/// The name an older build's parked time-out reversal of transaction `id` is kept under.
pub fn reference(id: TxnId) -> String {
    format!("txn:{id}")
}

/// The wall clock in ms (the queue's times are the link's, not the store's clock, which a
/// test may move).
fn wall_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Stand-in: an authorizing sale the upstream could not be asked about, at or under the
/// floor limit, is approved with the host's authorization id, and its advice (0220) is
/// queued for the switch in this transaction; a parked time-out reversal is dropped (the
/// 0200 never left, or left unanswered on a link that went down: the advice stands for it,
/// and the switch answers a repeated original by its key). Not authorizing: as it stands.
pub(crate) fn stand_in(
    ctx: &mut Ctx<'_, '_>,
    id: TxnId,
    destination: &str,
    frame: &[u8],
    auth_code: &str,
) -> Result<TxnReply, StoreError> {
    let Some(txn) = txns::by_id(ctx.tx.conn, id)? else {
        return Err(StoreError::Invalid(format!("no transaction {id}")));
    };
    if txn.status != TxnStatus::Authorizing {
        return Ok(TxnReply::Booked(txn));
    }
    repo::discard(ctx.tx.conn, &reference(id))?;
    let queued = repo::saf_push(
        ctx.tx.conn,
        ctx.tx.keys,
        destination,
        frame,
        wall_ms(),
        Some(id),
    )?;
    repo::mark_stood_in(ctx.tx.conn, id)?;
    let after = repo::set_outcome(
        ctx.tx.conn,
        txn,
        TxnStatus::Approved,
        ResponseCode::Approved,
        Some(auth_code),
    )?;
    let actor = format!("{}/{}", after.terminal_id, after.operator);
    let outcome = format!("approved:stand_in:advice:{queued}");
    ctx.tx
        .audit(&actor, "upstream", &format!("txn:{id}"), "", &outcome);
    Ok(TxnReply::Booked(after))
}

/// After a follow-up (`follow_up`: an approved void or terminal reversal) of a sale the network
/// upstream decided: that sale's reversal advice, queued in the follow-up's transaction.
/// Nothing when the follow-up was refused or declined, or reverses an inline sale.
pub(crate) fn queue_advice(
    ctx: &mut Ctx<'_, '_>,
    follow_up: &Transaction,
    draft: &AdviceDraft,
) -> Result<(), StoreError> {
    if follow_up.status != TxnStatus::Approved {
        return Ok(());
    }
    let Some(original_id) = follow_up.original_id else {
        return Ok(());
    };
    let Some(up) = repo::find(ctx.tx.conn, original_id)? else {
        return Ok(());
    };
    let Some(original) = txns::by_id(ctx.tx.conn, original_id)? else {
        return Ok(());
    };
    let actor = format!("{}/{}", follow_up.terminal_id, follow_up.operator);
    let stood_in = repo::stood_in(ctx.tx.conn, original_id)?;
    // A stand-in sale whose 0220 never left: taken back, and the switch never hears of
    // the sale (a 0420 could reach it before the 0220 on another node, and leave it
    // charged). Once the 0220 may have left, the 0420 names it (field 90).
    if stood_in && repo::saf_withdraw_unsent(ctx.tx.conn, original_id)? > 0 {
        repo::forget_pan(ctx.tx.conn, original_id)?;
        let target = format!("txn:{original_id}");
        let outcome = format!("advice:{}:withdrawn", draft.reason);
        ctx.tx.audit(&actor, "upstream", &target, "", &outcome);
        return Ok(());
    }
    let frame = network::advice_frame(&original, &up, draft, stood_in)
        .map_err(|e| StoreError::Invalid(format!("reversal advice: {e}")))?;
    let id = repo::saf_push(
        ctx.tx.conn,
        ctx.tx.keys,
        &up.destination,
        &frame,
        wall_ms(),
        Some(original_id),
    )?;
    // The queued frame keeps its own sealed copy; the row's is needed no more.
    repo::forget_pan(ctx.tx.conn, original_id)?;
    let outcome = format!("advice:{}:{}", draft.reason, id);
    ctx.tx.audit(
        &actor,
        "upstream",
        &format!("txn:{original_id}"),
        "",
        &outcome,
    );
    Ok(())
}
