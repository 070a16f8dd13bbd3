//! What every use case shares: the command's context, the terminal gate, refusals with their
//! audit entry, the issuer bridge and the booking of a transaction.

use suanpan_core::TerminalId;
use suanpan_core::refusal::AccessRefused;
use suanpan_core::rules;
use suanpan_core::{Amount, Refusal, ResponseCode, Transaction, TxnKind, TxnStatus};
use suanpan_issuer::{
    Account, AccountBook, EnteredPin, Issuer, IssuerError, IssuerOp, IssuerRequest, IssuerResponse,
};
use suanpan_store::command::Origin;
use suanpan_store::repo::terminals::{self, TerminalState};
use suanpan_store::repo::txns::{self, InstrumentCols, NewTxn};
use suanpan_store::repo::{Tx, accounts, prefetch};
use suanpan_store::{BalanceReply, PurchaseReply, Refused, ReversalReply, StoreError, TxnReply};

/// One command's context: the group's transaction and the issuer behind the host.
pub(crate) struct Ctx<'a, 't> {
    pub tx: &'a mut Tx<'t>,
    pub issuer: &'a dyn Issuer,
    /// The command runs inside `Command::WithAdvice`: a reversal advice for its original
    /// is queued in this transaction when it is approved (a void of a sale the network
    /// upstream decided needs one).
    pub advice_follows: bool,
}

/// A reply the common gate may give before a use case runs: a refusal, or an identical
/// retry's stored transaction.
pub(crate) trait Gated: From<Refused> {
    /// The stored transaction of an identical retry.
    fn replayed(t: Transaction) -> Self;
}

impl Gated for PurchaseReply {
    fn replayed(t: Transaction) -> Self {
        PurchaseReply::Replayed(t)
    }
}

impl Gated for BalanceReply {
    /// The stored inquiry; its balance is the use case's to add ([`crate::balance`]).
    fn replayed(t: Transaction) -> Self {
        BalanceReply::Replayed {
            txn: t,
            available: None,
        }
    }
}

impl Gated for TxnReply {
    fn replayed(t: Transaction) -> Self {
        TxnReply::Replayed(t)
    }
}

impl Gated for ReversalReply {
    fn replayed(t: Transaction) -> Self {
        ReversalReply::Replayed(t)
    }
}

/// Audits a refusal and answers it; nothing else changes.
pub(crate) fn refuse<T: From<Refused>, R: Refusal + Send + 'static>(
    ctx: &mut Ctx<'_, '_>,
    actor: &str,
    action: &str,
    target: &str,
    r: R,
) -> Result<T, StoreError> {
    let outcome = format!("refused:{}", r.key());
    ctx.tx
        .audit(actor, &format!("{action}.refused"), target, "", &outcome);
    Ok(T::from(Box::new(r)))
}

/// Who acts at a terminal, as the audit trail names them.
pub(crate) fn actor_of(origin: &Origin) -> String {
    format!("{}/{}", origin.terminal_id, origin.operator)
}

/// The terminal from this group's cache, or loaded (locked to the commit on PostgreSQL) and
/// cached when first seen; refused as `decide_terminal_access` says.
pub(crate) fn terminal(
    ctx: &mut Ctx<'_, '_>,
    id: &TerminalId,
) -> Result<Result<TerminalState, AccessRefused>, StoreError> {
    if let Some(t) = terminals::cached(ctx.tx, id) {
        return Ok(Ok(t));
    }
    let row = prefetch::terminal(ctx.tx, id)?;
    if let Err(r) = rules::decide_terminal_access(row.as_ref().map(|t| t.access.clone())) {
        return Ok(Err(r));
    }
    let Some(row) = row else {
        return Ok(Err(AccessRefused::UnknownTerminal));
    };
    let t = row.state()?;
    terminals::cache(ctx.tx, &t);
    Ok(Ok(t))
}

/// What the common gate of every terminal transaction answers.
pub(crate) enum Gate<T> {
    /// The request may go on, at this terminal and its open batch.
    Open(TerminalState),
    /// The request is answered already: refused, or an identical retry's stored answer.
    Answered(T),
}

/// The common gate of every terminal transaction: terminal, role, batch, idempotency, and a
/// reversal that overtook the request.
pub(crate) fn gate<T: Gated>(
    ctx: &mut Ctx<'_, '_>,
    origin: &Origin,
    action: &str,
) -> Result<Gate<T>, StoreError> {
    let actor = actor_of(origin);
    let target = format!("terminal:{}", origin.terminal_id);
    let answered = |r: T| Gate::Answered(r);
    let term = match terminal(ctx, &origin.terminal_id)? {
        Ok(t) => t,
        Err(r) => return refuse(ctx, &actor, action, &target, r).map(answered),
    };
    // Permissions are checked here, per operation, not only in a UI.
    if let Err(r) = rules::decide_operator_transacts(origin.operator) {
        return refuse(ctx, &actor, action, &target, r).map(answered);
    }
    // A paused terminal takes no new money; its reversals still give money back.
    if action != "reversal"
        && let Err(r) = rules::decide_terminal_pause(term.paused)
    {
        return refuse(ctx, &actor, action, &target, r).map(answered);
    }
    if let Some(b) = origin.batch
        && b != term.batch_no
    {
        return refuse(ctx, &actor, action, &target, AccessRefused::BatchMismatch).map(answered);
    }
    if let Some((key, hash)) = &origin.idempotency {
        // A key names (terminal, batch, voucher no., message type): it is looked up within the
        // terminal's batch and voucher no.
        let Some(voucher) = origin.voucher else {
            return Err(StoreError::Invalid(
                "an idempotency key needs the voucher no.".into(),
            ));
        };
        if let Some((txn, stored)) = prefetch::by_idempotency_key(ctx.tx, &term, voucher, key)? {
            if stored.as_deref() == Some(hash.as_str()) {
                return Ok(answered(T::replayed(txn)));
            }
            return refuse(ctx, &actor, action, &target, AccessRefused::Duplicate).map(answered);
        }
    }
    if let Some(voucher) = origin.voucher {
        // A request the terminal numbered may have been overtaken by its own reversal.
        let orphan = prefetch::orphan(ctx.tx, &term, voucher, origin.training)?;
        if let Err(r) = rules::decide_late_original(orphan.as_ref(), ctx.tx.policy, ctx.tx.now) {
            let target = format!(
                "terminal:{}/batch:{}/voucher:{voucher}",
                term.id, term.batch_no
            );
            return refuse(ctx, &actor, action, &target, r).map(answered);
        }
    }
    Ok(Gate::Open(term))
}

/// Books a transaction and its audit entry (`approved` or `declined:CODE`).
pub(crate) fn book(ctx: &mut Ctx<'_, '_>, n: NewTxn<'_>) -> Result<Transaction, StoreError> {
    let actor = actor_of(n.origin);
    let txn = txns::insert(ctx.tx, n)?;
    let outcome = if txn.response_code.is_approved() {
        "approved".to_owned()
    } else {
        format!("declined:{}", txn.response_code.code())
    };
    let reason = txn.reason.clone().unwrap_or_default();
    ctx.tx.audit(
        &actor,
        txn.kind.as_str(),
        &format!("txn:{}", txn.id),
        &reason,
        &outcome,
    );
    Ok(txn)
}

/// What a follow-up transaction (void, refund, pre-auth void, reversal) adds to its original.
pub(crate) struct FollowUp<'a> {
    pub kind: TxnKind,
    pub amount: Amount,
    pub reason: &'a str,
    pub consent: bool,
}

/// Books an approved transaction that acts on `orig`, with the original's method and card or
/// wallet, under the next voucher no.
pub(crate) fn book_follow_up(
    ctx: &mut Ctx<'_, '_>,
    origin: &Origin,
    term: &TerminalState,
    orig: &Transaction,
    f: FollowUp<'_>,
) -> Result<Transaction, StoreError> {
    let voucher = terminals::take_voucher(ctx.tx, term, origin.voucher, origin.training);
    let new = NewTxn {
        kind: f.kind,
        status: TxnStatus::Approved,
        amount: f.amount,
        method: orig.method,
        instrument: InstrumentCols::from_txn(orig),
        origin,
        term,
        voucher,
        code: ResponseCode::Approved,
        original_id: Some(orig.id),
        reason: Some(f.reason.to_owned()),
        consent: f.consent,
        linked_id: None,
        hold_expires_at: None,
    };
    let txn = book(ctx, new)?;
    crate::events::txn_booked(ctx.tx, &txn, origin.training)?;
    Ok(txn)
}

/// The issuer simulator's account book: the store's accounts, in the group's transaction,
/// through the group's cache.
struct Book<'a, 't> {
    tx: &'a Tx<'t>,
}

impl AccountBook for Book<'_, '_> {
    fn load_account(&mut self, id: &str) -> Result<Option<Account>, IssuerError> {
        accounts::load(self.tx, id).map_err(|e| IssuerError(e.to_string()))
    }
    fn save_account(&mut self, a: &Account) -> Result<(), IssuerError> {
        accounts::stage(self.tx, a);
        Ok(())
    }
}

/// What the issuer is asked besides the operation.
pub(crate) struct Ask<'a> {
    pub account: &'a str,
    pub op: IssuerOp,
    pub amount: Amount,
    pub pin: Option<&'a EnteredPin>,
    pub expiry: Option<&'a str>,
}

/// Asks the issuer; `Ok(None)` when the account is unknown.
pub(crate) fn ask_issuer(
    ctx: &Ctx<'_, '_>,
    a: &Ask<'_>,
) -> Result<Option<IssuerResponse>, StoreError> {
    let req = IssuerRequest {
        account_id: a.account,
        op: a.op,
        amount: a.amount,
        pin: a.pin,
        expiry: a.expiry,
        now: ctx.tx.now,
    };
    ctx.issuer
        .authorize(&mut Book { tx: ctx.tx }, &req)
        .map_err(|e| StoreError::Sqlite(e.0))
}

/// Asks the issuer for an effect that cannot be declined (credit, release, forced advice).
pub(crate) fn issuer_effect(
    ctx: &Ctx<'_, '_>,
    cols: &InstrumentCols,
    op: IssuerOp,
    amount: Amount,
    training: bool,
) -> Result<(), StoreError> {
    if training {
        return Ok(()); // Training moves no money.
    }
    let account = cols
        .account_id()
        .ok_or_else(|| StoreError::Sqlite("transaction without an account".into()))?;
    let ask = Ask {
        account,
        op,
        amount,
        pin: None,
        expiry: None,
    };
    let resp = ask_issuer(ctx, &ask)?
        .ok_or_else(|| StoreError::Sqlite(format!("issuer account {account} vanished")))?;
    // Credits and releases are never declined; a decline here is a broken invariant.
    assert!(resp.code.is_approved(), "issuer declined a forced {op:?}");
    Ok(())
}
