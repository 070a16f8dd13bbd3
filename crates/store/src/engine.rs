//! The services: for each command, load what the rule needs inside the write transaction, ask
//! `suanpan_core::rules`, apply the issuer's effect, book the result and its audit entry.
//! Runs only on the writer thread, inside `BEGIN IMMEDIATE`, so decisions for one original are
//! serialized (two refunds at the same moment cannot both pass).

use crate::audit::ChainHead;
use crate::command::{Command, Instrument, Origin, OriginalRef, Reply, SettleReport};
use crate::error::StoreError;
use crate::p;
use crate::rows::{TXN_COLUMNS, micros, ts, txn_from_row};
use crate::sql::{Dialect, Sql, SqlExt};
use jiff::Timestamp;
use suanpan_core::auth::LoginState;
use suanpan_core::backoffice::{Channel, decide_channel_open};
use suanpan_core::refusal::{
    AccessRefused, CompletionRefused, HideRefused, PreAuthVoidRefused, RefundRefused, VoidRefused,
};
use suanpan_core::rules::{self, RefundRequest, ReversalDecision, VoidRequest};
use suanpan_core::settlement::{self, Totals};
use suanpan_core::{
    Amount, AuthCode, BatchNo, Currency, MerchantId, OperatorNo, PaymentMethod, Policy, Refusal,
    ResponseCode, Role, Rrn, TerminalId, Transaction, TxnId, TxnKind, TxnStatus, VoucherNo,
};
use suanpan_issuer::{Account, AccountBook, Issuer, IssuerError, IssuerOp, IssuerRequest};

/// What one command needs besides itself.
pub struct Ctx<'a> {
    /// The write connection, inside a transaction.
    pub conn: &'a dyn Sql,
    /// The rules' knobs.
    pub policy: &'a Policy,
    /// The moment of the group commit.
    pub now: Timestamp,
    /// The network behind the host.
    pub issuer: &'a dyn Issuer,
    /// The audit chain's head.
    pub chain: &'a mut ChainHead,
    /// What this group already loaded (terminals, RRN counter).
    pub cache: &'a mut GroupCache,
}

/// State that lives for one group commit (one write transaction): the terminals already
/// loaded and the RRN counter, so a burst of sales does not re-read and re-write them per
/// sale. [`flush`] writes them back at the end of the group, inside the same transaction.
#[derive(Debug, Default)]
pub struct GroupCache {
    terminals: std::collections::HashMap<TerminalId, TerminalState>,
    dirty: std::collections::HashSet<TerminalId>,
    /// SQLite: the last RRN sequence value allocated, once loaded.
    rrn: Option<i64>,
    /// PostgreSQL: the rest of the RRN block taken from the sequence (next, end).
    rrn_block: Option<(i64, i64)>,
    /// Audit entries (time, actor, action, target, reason, outcome) in the order they
    /// happened; [`flush`] chains and inserts them together.
    audit: Vec<(i64, [String; 5])>,
    /// Issuer accounts read in this group (locked on PostgreSQL), with their changes; a
    /// card used many times in one group is read and written once.
    accounts: std::cell::RefCell<std::collections::HashMap<String, Account>>,
    /// Accounts changed in this group, written back by [`flush`].
    dirty_accounts: std::cell::RefCell<std::collections::BTreeSet<String>>,
    /// The back-office schema's version (0: its tables, the payment channels, do not
    /// exist), once looked up in this group.
    backoffice: Option<i64>,
}

/// RRNs one `nextval` of PostgreSQL's `rrn_seq` reserves (its `INCREMENT BY`): a group of
/// sales costs one round trip for its RRNs, not one each. Unused numbers of a block are
/// skipped, never reused, so RRNs stay unique across nodes.
pub const RRN_BLOCK: i64 = 100;

/// Takes the audit chain's lock to the end of the transaction (PostgreSQL; per schema, so
/// tests in their own schemas do not wait for each other).
pub const CHAIN_LOCK_SQL: &str =
    "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.audit'))";

/// Ends a group: writes its cached state ([`flush_state`]), then chains its audit entries
/// onto the head and inserts them. On PostgreSQL the chain's lock is taken here, last, and
/// the head read under it: other nodes' groups decide concurrently (row locks keep them
/// apart) and queue only to append to the one chain. Nothing after the lock waits on a row,
/// so the lock takes part in no deadlock.
pub fn flush(
    conn: &dyn Sql,
    cache: &mut GroupCache,
    chain: &mut ChainHead,
) -> Result<(), StoreError> {
    flush_state(conn, cache)?;
    if cache.audit.is_empty() {
        return Ok(());
    }
    if conn.dialect() == Dialect::Postgres {
        conn.exec(CHAIN_LOCK_SQL, p![])?;
        *chain = ChainHead::read(conn)?;
    }
    let staged: Vec<crate::audit::AuditEntry> = cache
        .audit
        .drain(..)
        .map(|(at, f)| chain.stage(at, [&f[0], &f[1], &f[2], &f[3], &f[4]]))
        .collect();
    crate::audit::insert_entries(conn, &staged)
}

/// Writes what the group changed in its cache: voucher sequences, the RRN counter, issuer
/// accounts.
pub fn flush_state(conn: &dyn Sql, cache: &mut GroupCache) -> Result<(), StoreError> {
    for id in cache.dirty.drain() {
        if let Some(t) = cache.terminals.get(&id) {
            conn.exec(
                "UPDATE terminals SET next_voucher = ?1, next_training_voucher = ?2 WHERE id = ?3",
                p![
                    t.next_voucher.value(),
                    t.next_training_voucher.value(),
                    id.as_str()
                ],
            )?;
        }
    }
    if let Some(seq) = cache.rrn {
        conn.exec("UPDATE counters SET value = ?1 WHERE name = 'rrn'", p![seq])?;
    }
    let dirty = std::mem::take(&mut *cache.dirty_accounts.borrow_mut());
    for id in dirty {
        if let Some(a) = cache.accounts.borrow().get(&id) {
            save_account(conn, a)?;
        }
    }
    Ok(())
}

fn save_account(conn: &dyn Sql, a: &Account) -> Result<(), StoreError> {
    let (pin_failures, status) = match &a.instrument {
        suanpan_issuer::Instrument::Card {
            pin_failures,
            status,
            ..
        } => (*pin_failures, status.as_str()),
        suanpan_issuer::Instrument::Wallet { .. } => (0, "active"),
    };
    conn.exec(
        "UPDATE accounts SET balance_fen = ?1, held_fen = ?2, pin_failures = ?3, status = ?4 WHERE id = ?5",
        p![a.balance_fen, a.held_fen, pin_failures, status, &a.id],
    )?;
    Ok(())
}

/// The terminal from this group's cache, or loaded (and cached) when first seen.
fn cached_terminal(
    ctx: &mut Ctx<'_>,
    id: &TerminalId,
) -> Result<Result<TerminalState, AccessRefused>, StoreError> {
    if let Some(t) = ctx.cache.terminals.get(id) {
        return Ok(Ok(t.clone()));
    }
    // Locked until the commit (PostgreSQL): another node's voucher and batch numbers for this
    // terminal wait for ours.
    let loaded = load_terminal_with(ctx.conn, id, true)?;
    if let Ok(t) = &loaded {
        ctx.cache.terminals.insert(id.clone(), t.clone());
    }
    Ok(loaded)
}

type Res = Result<Reply, StoreError>;

/// Applies one command.
pub fn apply(ctx: &mut Ctx<'_>, cmd: &Command) -> Res {
    match cmd {
        Command::Purchase {
            origin,
            kind,
            amount,
            instrument,
            method,
            pin,
            linked_id,
        } => purchase(
            ctx,
            origin,
            *kind,
            *amount,
            instrument,
            *method,
            pin.as_ref(),
            *linked_id,
        ),
        Command::Void {
            origin,
            kind,
            original,
            amount,
            reason,
            customer_consent,
            card_fingerprint,
        } => {
            let facts = VoidFacts {
                kind: *kind,
                amount: *amount,
                reason,
                consent: *customer_consent,
                card: card_fingerprint.as_deref(),
            };
            void(ctx, origin, original, &facts)
        }
        Command::Refund {
            origin,
            original,
            amount,
            reason,
        } => refund(ctx, origin, original, *amount, reason),
        Command::Complete {
            origin,
            original,
            amount,
        } => complete(ctx, origin, original, *amount),
        Command::PreAuthVoid {
            origin,
            original,
            amount,
            reason,
        } => preauth_void(ctx, origin, original, *amount, reason),
        Command::Reverse {
            origin,
            voucher,
            amount,
            reason,
        } => reverse(ctx, origin, *voucher, *amount, reason),
        Command::Settle {
            terminal_id,
            actor,
            terminal_totals,
        } => settle(ctx, terminal_id, actor, *terminal_totals).map(Reply::Settled),
        Command::SettleAllDue => settle_all_due(ctx),
        Command::ExpireHolds => expire_holds(ctx),
        Command::Hide {
            merchant_id,
            actor,
            id,
            reason,
        } => hide(ctx, merchant_id, *actor, *id, reason),
        Command::Purge {
            merchant_id,
            actor,
            before,
            backup,
            reason,
            audit_as,
        } => {
            let who = audit_as
                .clone()
                .unwrap_or_else(|| format!("{merchant_id}/{actor}"));
            purge(ctx, &who, merchant_id, *actor, *before, backup, reason)
        }
        Command::RecordLogin {
            merchant_id,
            operator,
            ok,
            purpose,
        } => record_login(ctx, merchant_id, *operator, *ok, purpose),
        Command::RecordRefusal {
            actor,
            action,
            target,
            key,
        } => {
            audit(
                ctx,
                actor,
                &format!("{action}.refused"),
                target,
                "",
                &format!("refused:{key}"),
            )?;
            Ok(Reply::Done(0))
        }
        Command::SetPassword {
            merchant_id,
            actor,
            operator,
            password_hash,
        } => set_password(ctx, merchant_id, *actor, *operator, password_hash),
        Command::RecordReprint { actor, id } => {
            audit(
                ctx,
                actor,
                "receipt.reprint",
                &format!("txn:{id}"),
                "",
                "ok",
            )?;
            Ok(Reply::Done(1))
        }
    }
}

fn audit(
    ctx: &mut Ctx<'_>,
    actor: &str,
    action: &str,
    target: &str,
    reason: &str,
    outcome: &str,
) -> Result<(), StoreError> {
    // Chained and inserted with the group's other entries by `flush`.
    let f = [actor, action, target, reason, outcome].map(str::to_owned);
    ctx.cache.audit.push((micros(ctx.now), f));
    Ok(())
}

/// Audits a refusal and answers it; nothing else changes.
fn refuse<R: Refusal + Send + 'static>(
    ctx: &mut Ctx<'_>,
    actor: &str,
    action: &str,
    target: &str,
    r: R,
) -> Res {
    audit(
        ctx,
        actor,
        &format!("{action}.refused"),
        target,
        "",
        &format!("refused:{}", r.key()),
    )?;
    Ok(Reply::Refused(Box::new(r)))
}

fn actor_of(origin: &Origin) -> String {
    format!("{}/{}", origin.terminal_id, origin.operator)
}

/// A terminal and its open batch.
#[derive(Debug, Clone)]
pub struct TerminalState {
    /// 终端号.
    pub id: TerminalId,
    /// Its merchant.
    pub merchant_id: MerchantId,
    /// Open batch row id.
    pub batch_id: i64,
    /// Open batch no.
    pub batch_no: BatchNo,
    /// When the open batch was opened.
    pub batch_opened_at: Timestamp,
    /// Next live voucher no.
    pub next_voucher: VoucherNo,
    /// Next training voucher no. (training has its own sequence).
    pub next_training_voucher: VoucherNo,
}

/// Loads a terminal with its open batch, refusing unknown or disabled terminals and merchants.
pub fn load_terminal(
    conn: &dyn Sql,
    id: &TerminalId,
) -> Result<Result<TerminalState, AccessRefused>, StoreError> {
    load_terminal_with(conn, id, false)
}

/// [`load_terminal`], with the terminal's row locked until the commit when `lock` (writers).
fn load_terminal_with(
    conn: &dyn Sql,
    id: &TerminalId,
    lock: bool,
) -> Result<Result<TerminalState, AccessRefused>, StoreError> {
    let lock = match (lock, conn.dialect()) {
        (true, Dialect::Postgres) => " FOR UPDATE OF t",
        _ => "",
    };
    let sql = format!(
        "SELECT t.merchant_id, t.enabled, m.enabled, b.id, b.batch_no, b.opened_at, t.next_voucher, t.next_training_voucher, m.status
         FROM terminals t JOIN merchants m ON m.id = t.merchant_id
         LEFT JOIN batches b ON b.id = t.batch_id WHERE t.id = ?1{lock}"
    );
    let row = conn.row(&sql, p![id.as_str()], |r| {
        Ok((
            r.text(0)?,
            r.flag(1)?,
            r.flag(2)?,
            r.opt_i64(3)?,
            r.opt_i64(4)?,
            r.opt_i64(5)?,
            r.u32(6)?,
            r.u32(7)?,
            r.text(8)?,
        ))
    })?;
    let Some((merchant, t_on, m_on, batch_id, batch_no, opened, next, next_training, status)) = row
    else {
        return Ok(Err(AccessRefused::UnknownTerminal));
    };
    if !m_on {
        return Ok(Err(AccessRefused::UnknownMerchant));
    }
    // Only an active merchant's terminals work: pending (not activated yet), suspended by the
    // acquirer and closed merchants are refused (issue 14).
    if status != "active" {
        return Ok(Err(AccessRefused::MerchantNotActive { status }));
    }
    if !t_on {
        return Ok(Err(AccessRefused::TerminalDisabled));
    }
    let corrupt = |what: &str| StoreError::Sqlite(format!("terminal {id}: {what}"));
    Ok(Ok(TerminalState {
        id: id.clone(),
        merchant_id: MerchantId::parse(&merchant).map_err(|_| corrupt("merchant id"))?,
        batch_id: batch_id.ok_or_else(|| corrupt("no open batch"))?,
        batch_no: BatchNo::new(u32::try_from(batch_no.unwrap_or(0)).unwrap_or(0))
            .map_err(|_| corrupt("batch no"))?,
        batch_opened_at: ts(opened.unwrap_or(0)),
        next_voucher: VoucherNo::new(next).map_err(|_| corrupt("next voucher"))?,
        next_training_voucher: VoucherNo::new(next_training)
            .map_err(|_| corrupt("next training voucher"))?,
    }))
}

/// The common gate of every terminal transaction: terminal, role, batch, idempotency.
enum Gate {
    Open(TerminalState),
    Answered(Box<Reply>),
}

fn gate(ctx: &mut Ctx<'_>, origin: &Origin, action: &str) -> Result<Gate, StoreError> {
    let actor = actor_of(origin);
    let target = format!("terminal:{}", origin.terminal_id);
    let term = match cached_terminal(ctx, &origin.terminal_id)? {
        Ok(t) => t,
        Err(r) => {
            return refuse(ctx, &actor, action, &target, r).map(|r| Gate::Answered(Box::new(r)));
        }
    };
    // Permissions are checked here, per operation, not only in a UI.
    if origin.operator.role() == Role::Admin {
        let r = AccessRefused::NotPermitted {
            role: Role::Admin.as_str().into(),
        };
        return refuse(ctx, &actor, action, &target, r).map(|r| Gate::Answered(Box::new(r)));
    }
    if let Some(b) = origin.batch
        && b != term.batch_no
    {
        return refuse(ctx, &actor, action, &target, AccessRefused::BatchMismatch)
            .map(|r| Gate::Answered(Box::new(r)));
    }
    if let Some((key, hash)) = &origin.idempotency {
        // A key names (terminal, batch, voucher no., message type): it is looked up within the
        // terminal's batch and voucher no., through the index the listings use anyway.
        let Some(voucher) = origin.voucher else {
            return Err(StoreError::Invalid(
                "an idempotency key needs the voucher no.".into(),
            ));
        };
        let found = ctx.conn.row(
            &format!(
                "SELECT {TXN_COLUMNS}, request_hash FROM txns
                 WHERE terminal_id = ?1 AND batch_id = ?2 AND voucher_no = ?3 AND idem_key = ?4"
            ),
            p![term.id.as_str(), term.batch_id, voucher.value(), key],
            |r| Ok((txn_from_row(r)?, r.opt_text(27)?)),
        )?;
        if let Some((txn, stored)) = found {
            if stored.as_deref() == Some(hash.as_str()) {
                return Ok(Gate::Answered(Box::new(Reply::Replayed(txn))));
            }
            return refuse(ctx, &actor, action, &target, AccessRefused::Duplicate)
                .map(|r| Gate::Answered(Box::new(r)));
        }
    }
    if let Some(voucher) = origin.voucher {
        // A request the terminal numbered may have been overtaken by its own reversal.
        let orphan = orphan_reversal(ctx, &term, voucher, origin.training)?;
        if let Err(r) = rules::decide_late_original(orphan.as_ref(), ctx.policy, ctx.now) {
            let target = format!(
                "terminal:{}/batch:{}/voucher:{voucher}",
                term.id, term.batch_no
            );
            return refuse(ctx, &actor, action, &target, r).map(|r| Gate::Answered(Box::new(r)));
        }
    }
    Ok(Gate::Open(term))
}

/// The reversal remembered for this terminal's open batch and voucher no., if its request
/// had not arrived when it came (`reverse`).
fn orphan_reversal(
    ctx: &Ctx<'_>,
    term: &TerminalState,
    voucher: VoucherNo,
    training: bool,
) -> Result<Option<rules::OrphanReversal>, StoreError> {
    ctx.conn.row(
        "SELECT amount_fen, created_at FROM orphan_reversals
         WHERE terminal_id = ?1 AND batch_no = ?2 AND voucher_no = ?3 AND training = ?4",
        p![
            term.id.as_str(),
            term.batch_no.value(),
            voucher.value(),
            training
        ],
        |r| {
            Ok(rules::OrphanReversal {
                amount: r.opt_i64(0)?.map(Amount::from_fen),
                at: ts(r.i64(1)?),
            })
        },
    )
}

/// Remembers a reversal whose request was not found, so that the request, arriving late, is
/// refused (`gate`); sweeps the records older than `orphan_reversal_hours` on the way. A
/// repeated reversal keeps the first record (its time starts the window).
fn remember_orphan(
    ctx: &Ctx<'_>,
    term: &TerminalState,
    origin: &Origin,
    voucher: VoucherNo,
    amount: Option<Amount>,
    reason: &str,
) -> Result<(), StoreError> {
    let window_us = i64::from(ctx.policy.orphan_reversal_hours) * 3_600_000_000;
    ctx.conn.exec(
        "DELETE FROM orphan_reversals WHERE created_at < ?1",
        p![micros(ctx.now).saturating_sub(window_us)],
    )?;
    ctx.conn.exec(
        "INSERT INTO orphan_reversals
         (terminal_id, batch_no, voucher_no, training, amount_fen, reason, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
        p![
            term.id.as_str(),
            term.batch_no.value(),
            voucher.value(),
            origin.training,
            amount.map(Amount::fen),
            reason,
            micros(ctx.now)
        ],
    )?;
    Ok(())
}

/// Takes the voucher no. for a new transaction and advances the terminal's sequence.
fn take_voucher(
    ctx: &mut Ctx<'_>,
    term: &TerminalState,
    origin: &Origin,
) -> Result<VoucherNo, StoreError> {
    let cached = match ctx.cache.terminals.get_mut(&term.id) {
        Some(t) => t,
        None => ctx
            .cache
            .terminals
            .entry(term.id.clone())
            .or_insert_with(|| term.clone()),
    };
    let slot = if origin.training {
        &mut cached.next_training_voucher
    } else {
        &mut cached.next_voucher
    };
    let voucher = origin.voucher.unwrap_or(*slot);
    *slot = voucher.next();
    ctx.cache.dirty.insert(term.id.clone());
    Ok(voucher)
}

/// Allocates the next RRN (unique per store) and an authorization code derived from it.
fn next_rrn(ctx: &mut Ctx<'_>) -> Result<(Rrn, AuthCode), StoreError> {
    let seq = match ctx.conn.dialect() {
        // The counter row is read inside the write transaction (SQLite's lock covers it) and
        // written back once per group by `flush`.
        Dialect::Sqlite => {
            let last = match ctx.cache.rrn {
                Some(v) => v,
                None => {
                    ctx.conn
                        .one("SELECT value FROM counters WHERE name = 'rrn'", p![], |r| {
                            r.i64(0)
                        })?
                }
            };
            ctx.cache.rrn = Some(last + 1);
            last + 1
        }
        // A sequence: unique across nodes without a lock, allocated in blocks.
        Dialect::Postgres => {
            let (next, end) = match ctx.cache.rrn_block {
                Some((next, end)) if next < end => (next, end),
                _ => {
                    let first = ctx
                        .conn
                        .one("SELECT nextval('rrn_seq')", p![], |r| r.i64(0))?;
                    (first, first + RRN_BLOCK)
                }
            };
            ctx.cache.rrn_block = Some((next + 1, end));
            next
        }
    };
    let rrn = Rrn::parse(&format!("{:012}", seq % 1_000_000_000_000))
        .map_err(|e| StoreError::Sqlite(e.to_string()))?;
    // A scrambled, stable 6-digit code: auth codes should not be guessable from the RRN order.
    let code = (seq.wrapping_mul(48_271) % 999_983 + 1) as u32;
    let auth =
        AuthCode::parse(&format!("{code:06}")).map_err(|e| StoreError::Sqlite(e.to_string()))?;
    Ok((rrn, auth))
}

/// A transaction about to be booked.
struct NewTxn<'a> {
    kind: TxnKind,
    status: TxnStatus,
    amount: Amount,
    method: PaymentMethod,
    instrument: InstrumentCols,
    origin: &'a Origin,
    term: &'a TerminalState,
    voucher: VoucherNo,
    code: ResponseCode,
    original_id: Option<TxnId>,
    reason: Option<String>,
    consent: bool,
    linked_id: Option<TxnId>,
    hold_expires_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Default)]
struct InstrumentCols {
    masked_pan: Option<suanpan_core::MaskedPan>,
    fingerprint: Option<String>,
    wallet_id: Option<String>,
}

impl InstrumentCols {
    fn of(i: &Instrument) -> InstrumentCols {
        match i {
            Instrument::Card {
                masked_pan,
                fingerprint,
                ..
            } => InstrumentCols {
                masked_pan: Some(masked_pan.clone()),
                fingerprint: Some(fingerprint.clone()),
                wallet_id: None,
            },
            Instrument::Wallet { id } => InstrumentCols {
                wallet_id: Some(id.clone()),
                ..Default::default()
            },
        }
    }
    fn from_txn(t: &Transaction) -> InstrumentCols {
        InstrumentCols {
            masked_pan: t.masked_pan.clone(),
            fingerprint: t.card_fingerprint.clone(),
            wallet_id: t.wallet_id.clone(),
        }
    }
    fn account_id(&self) -> Option<&str> {
        self.fingerprint.as_deref().or(self.wallet_id.as_deref())
    }
}

fn insert_txn(ctx: &mut Ctx<'_>, n: NewTxn<'_>) -> Result<Transaction, StoreError> {
    let (rrn, auth) = next_rrn(ctx)?;
    let auth = n.code.is_approved().then_some(auth);
    let (idem_key, request_hash) = match &n.origin.idempotency {
        Some((k, h)) => (Some(k.as_str()), Some(h.as_str())),
        None => (None, None),
    };
    let supervisor = n.origin.supervisor.map(|s| s.to_string());
    let id = TxnId(ctx.conn.insert_id(
            "INSERT INTO txns (kind, status, amount_fen, currency, method, masked_pan, card_fp, wallet_id,
               merchant_id, terminal_id, operator, supervisor, batch_id, batch_no, voucher_no, rrn, auth_code,
               response_code, original_id, reason, customer_consent, created_at, training, linked_id,
               hold_expires_at, idem_key, request_hash, terminal_info)
             VALUES (?1, ?2, ?3, 'CNY', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
               ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)",
        p![
            n.kind.as_str(),
            n.status.as_str(),
            n.amount.fen(),
            n.method.as_str(),
            n.instrument.masked_pan.as_ref().map(|m| m.as_str()),
            n.instrument.fingerprint.as_deref(),
            n.instrument.wallet_id.as_deref(),
            n.term.merchant_id.as_str(),
            n.term.id.as_str(),
            &n.origin.operator.to_string(),
            supervisor.as_deref(),
            n.term.batch_id,
            n.term.batch_no.value(),
            n.voucher.value(),
            rrn.as_str(),
            auth.as_ref().map(|a| a.as_str()),
            n.code.code(),
            n.original_id.map(|i| i.0),
            n.reason.as_deref(),
            n.consent,
            micros(ctx.now),
            n.origin.training,
            n.linked_id.map(|i| i.0),
            n.hold_expires_at.map(micros),
            idem_key,
            request_hash,
            n.origin.terminal_info.as_deref(),
        ],
    )?);
    let txn = Transaction {
        id,
        kind: n.kind,
        status: n.status,
        amount: n.amount,
        currency: Currency::Cny,
        method: n.method,
        masked_pan: n.instrument.masked_pan,
        card_fingerprint: n.instrument.fingerprint,
        wallet_id: n.instrument.wallet_id,
        merchant_id: n.term.merchant_id.clone(),
        terminal_id: n.term.id.clone(),
        operator: n.origin.operator,
        supervisor: n.origin.supervisor,
        batch_no: n.term.batch_no,
        voucher_no: n.voucher,
        rrn: Some(rrn),
        auth_code: auth,
        response_code: n.code,
        original_id: n.original_id,
        reason: n.reason,
        customer_consent: n.consent,
        refunded: Amount::ZERO,
        completed: Amount::ZERO,
        created_at: ctx.now,
        settled: false,
        hidden: false,
        training: n.origin.training,
        linked_id: n.linked_id,
    };
    let outcome = if n.code.is_approved() {
        "approved".to_owned()
    } else {
        format!("declined:{}", n.code.code())
    };
    let target = format!("txn:{id}");
    let reason = txn.reason.clone().unwrap_or_default();
    audit(
        ctx,
        &actor_of(n.origin),
        n.kind.as_str(),
        &target,
        &reason,
        &outcome,
    )?;
    Ok(txn)
}

/// What a follow-up transaction (void, refund, pre-auth void, reversal) adds to its original.
struct FollowUp<'a> {
    kind: TxnKind,
    amount: Amount,
    reason: &'a str,
    consent: bool,
}

/// Books an approved transaction that acts on `orig`, with the original's method and card or
/// wallet, under the next voucher no.
fn book_follow_up(
    ctx: &mut Ctx<'_>,
    origin: &Origin,
    term: &TerminalState,
    orig: &Transaction,
    f: FollowUp<'_>,
) -> Result<Transaction, StoreError> {
    let voucher = take_voucher(ctx, term, origin)?;
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
    insert_txn(ctx, new)
}

/// The store's side of the issuer simulator's account book: same connection, same
/// transaction, through the group's account cache.
struct Book<'c> {
    conn: &'c dyn Sql,
    cache: &'c GroupCache,
}

impl AccountBook for Book<'_> {
    fn load_account(&mut self, id: &str) -> Result<Option<Account>, IssuerError> {
        if let Some(a) = self.cache.accounts.borrow().get(id) {
            return Ok(Some(a.clone()));
        }
        // Locked (PostgreSQL) from the read to the commit: no other node's debit between our
        // read of the balance and our write of it.
        let loaded = crate::query::load_account_in(self.conn, id, true)
            .map_err(|e| IssuerError(e.to_string()))?;
        if let Some(a) = &loaded {
            self.cache
                .accounts
                .borrow_mut()
                .insert(a.id.clone(), a.clone());
        }
        Ok(loaded)
    }
    fn save_account(&mut self, a: &Account) -> Result<(), IssuerError> {
        self.cache
            .accounts
            .borrow_mut()
            .insert(a.id.clone(), a.clone());
        self.cache.dirty_accounts.borrow_mut().insert(a.id.clone());
        Ok(())
    }
}

/// Asks the issuer; `Ok(None)` when the account is unknown.
fn ask_issuer(
    ctx: &Ctx<'_>,
    account: &str,
    op: IssuerOp,
    amount: Amount,
    pin: Option<&suanpan_issuer::EnteredPin>,
    expiry: Option<&str>,
) -> Result<Option<suanpan_issuer::IssuerResponse>, StoreError> {
    let req = IssuerRequest {
        account_id: account,
        op,
        amount,
        pin,
        expiry,
        now: ctx.now,
    };
    ctx.issuer
        .authorize(
            &mut Book {
                conn: ctx.conn,
                cache: ctx.cache,
            },
            &req,
        )
        .map_err(|e| StoreError::Sqlite(e.0))
}

/// Asks the issuer for an effect that cannot be declined (credit, release, forced advice).
fn issuer_effect(
    ctx: &Ctx<'_>,
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
    let resp = ask_issuer(ctx, account, op, amount, None, None)?
        .ok_or_else(|| StoreError::Sqlite(format!("issuer account {account} vanished")))?;
    // Credits and releases are never declined; a decline here is a broken invariant.
    assert!(resp.code.is_approved(), "issuer declined a forced {op:?}");
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn purchase(
    ctx: &mut Ctx<'_>,
    origin: &Origin,
    kind: TxnKind,
    amount: Amount,
    instrument: &Instrument,
    method: PaymentMethod,
    pin: Option<&suanpan_issuer::EnteredPin>,
    linked_id: Option<TxnId>,
) -> Res {
    let term = match gate(ctx, origin, kind.as_str())? {
        Gate::Open(t) => t,
        Gate::Answered(r) => return Ok(*r),
    };
    let actor = actor_of(origin);
    if let Some(refused) = channel_gate(ctx, &actor, kind.as_str(), method, &term.merchant_id)? {
        return Ok(refused);
    }
    // Every adapter parses amounts, but the store does not trust that: a sale or pre-auth of
    // zero or less is refused here too.
    if kind != TxnKind::BalanceInquiry && !amount.is_positive() {
        let r = AccessRefused::BadAmount {
            problem: suanpan_core::AmountError::Zero,
        };
        return refuse(ctx, &actor, kind.as_str(), "amount", r);
    }
    let is_wallet = matches!(instrument, Instrument::Wallet { .. });
    if is_wallet != method.is_qr() {
        return refuse(
            ctx,
            &actor,
            kind.as_str(),
            "instrument",
            AccessRefused::MethodMismatch,
        );
    }
    let cols = InstrumentCols::of(instrument);
    let account = cols.account_id().unwrap_or_default().to_owned();
    let expiry = match instrument {
        Instrument::Card { expiry, .. } => expiry.as_deref(),
        Instrument::Wallet { .. } => None,
    };
    let op = match (kind, origin.training) {
        (_, true) | (TxnKind::BalanceInquiry, _) => IssuerOp::Balance,
        (TxnKind::PreAuth, _) => IssuerOp::Hold,
        _ => IssuerOp::Debit,
    };
    let Some(resp) = ask_issuer(ctx, &account, op, amount, pin, expiry)? else {
        return refuse(
            ctx,
            &actor,
            kind.as_str(),
            "instrument",
            AccessRefused::UnknownInstrument,
        );
    };
    let voucher = take_voucher(ctx, &term, origin)?;
    let approved = resp.code.is_approved();
    let hold_expires_at =
        (kind == TxnKind::PreAuth && approved).then(|| ctx.policy.hold_expires_at(ctx.now));
    let txn = insert_txn(
        ctx,
        NewTxn {
            kind,
            status: if approved {
                TxnStatus::Approved
            } else {
                TxnStatus::Declined
            },
            amount,
            method,
            instrument: cols,
            origin,
            term: &term,
            voucher,
            code: resp.code,
            original_id: None,
            reason: None,
            consent: false,
            linked_id,
            hold_expires_at,
        },
    )?;
    if kind == TxnKind::BalanceInquiry && approved {
        return Ok(Reply::Balance {
            txn,
            available: Amount::from_fen(resp.available_fen),
        });
    }
    Ok(Reply::Txn(txn))
}

/// A payment channel switched off in the back-office refuses new money through it (12): sales,
/// pre-auths, balance inquiries and completions, from terminals, the CLI and the API alike.
fn channel_gate(
    ctx: &mut Ctx<'_>,
    actor: &str,
    action: &str,
    method: PaymentMethod,
    merchant: &MerchantId,
) -> Result<Option<Reply>, StoreError> {
    let channel = Channel::of_method(method);
    let version = match ctx.cache.backoffice {
        Some(known) => known,
        None => {
            let found = ctx
                .conn
                .row(
                    "SELECT value FROM meta WHERE key = 'backoffice_schema_version'",
                    p![],
                    |r| r.text(0),
                )?
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0);
            ctx.cache.backoffice = Some(found);
            found
        }
    };
    // A store whose back-office tables were never created has no channel switched off;
    // before step 6 channels were not kept per merchant (issue 14).
    let per_merchant = (version >= 6).then_some(merchant);
    let open = version == 0 || channel_open(ctx.conn, channel, per_merchant)?;
    match decide_channel_open(channel, open) {
        Ok(()) => Ok(None),
        Err(r) => {
            let target = format!("channel:{}", channel.as_str());
            refuse(ctx, actor, action, &target, r).map(Some)
        }
    }
}

/// Whether a payment channel accepts new transactions of a merchant: the platform's switch
/// and the merchant's own choice (no row: it changed nothing) must both be on; a channel the
/// table does not know is closed. On PostgreSQL the platform's row is read `FOR SHARE`: a
/// change of any merchant's channel locks it first, so it waits for the purchases in flight.
fn channel_open(
    c: &dyn Sql,
    channel: Channel,
    merchant: Option<&MerchantId>,
) -> Result<bool, StoreError> {
    let share = match c.dialect() {
        Dialect::Sqlite => "",
        Dialect::Postgres => " FOR SHARE OF c",
    };
    let Some(merchant) = merchant else {
        return Ok(c
            .row(
                &format!("SELECT enabled FROM channels c WHERE id = ?1{share}"),
                p![channel.as_str()],
                |r| r.flag(0),
            )?
            .unwrap_or(false));
    };
    Ok(c.row(
        &format!(
            "SELECT c.enabled, COALESCE(m.enabled, 1) FROM channels c
             LEFT JOIN merchant_channels m ON m.channel_id = c.id AND m.merchant_id = ?2
             WHERE c.id = ?1{share}"
        ),
        p![channel.as_str(), merchant.as_str()],
        |r| Ok(r.flag(0)? && r.flag(1)?),
    )?
    .unwrap_or(false))
}

/// Finds an original. By voucher: the terminal's most recent transaction with that voucher
/// no. in the same mode, in any batch, so a settled one is found and refused with the remedy.
fn find_original(
    ctx: &Ctx<'_>,
    term: &TerminalState,
    training: bool,
    r: &OriginalRef,
) -> Result<Option<Transaction>, StoreError> {
    let conn = ctx.conn;
    // The original stays locked (PostgreSQL) until the commit: a void or refund of it on
    // another node waits, then sees our decision.
    let lock = conn.dialect().lock_rows();
    let q = |sql: &str, p: &[crate::sql::Value<'_>]| {
        conn.row(
            &format!("SELECT {TXN_COLUMNS} FROM txns WHERE {sql}{lock}"),
            p,
            txn_from_row,
        )
    };
    match r {
        OriginalRef::Id(id) => q("id = ?1", p![id.0]),
        OriginalRef::Rrn(rrn) => q("rrn = ?1", p![rrn]),
        // Auth codes repeat across the store; the merchant's latest pre-auth with it is meant.
        OriginalRef::AuthCode(code) => q(
            "auth_code = ?1 AND merchant_id = ?2 AND kind = 'preauth' AND training = ?3 ORDER BY id DESC LIMIT 1",
            p![code, term.merchant_id.as_str(), training],
        ),
        OriginalRef::Voucher(v) => q(
            "terminal_id = ?1 AND voucher_no = ?2 AND training = ?3 AND kind != 'reversal' ORDER BY id DESC LIMIT 1",
            p![term.id.as_str(), v.value(), training],
        ),
    }
}

fn set_status(ctx: &Ctx<'_>, id: TxnId, status: TxnStatus) -> Result<(), StoreError> {
    ctx.conn.exec(
        "UPDATE txns SET status = ?1 WHERE id = ?2",
        p![status.as_str(), id.0],
    )?;
    Ok(())
}

fn require_supervisor(origin: &Origin) -> Result<(), AccessRefused> {
    match origin.supervisor {
        Some(s) if s.role() == Role::Supervisor => Ok(()),
        _ => Err(AccessRefused::SupervisorRequired),
    }
}

/// The business day's start (the previous cutoff) as Unix microseconds.
fn business_day_start(policy: &Policy, now: Timestamp) -> i64 {
    let zone = policy.zone().unwrap_or(jiff::tz::TimeZone::UTC);
    let cutoff = policy
        .cutoff_time()
        .unwrap_or(jiff::civil::Time::midnight());
    let day = policy.business_day(now);
    day.yesterday()
        .ok()
        .and_then(|d| d.to_datetime(cutoff).to_zoned(zone).ok())
        .map(|z| micros(z.timestamp()))
        .unwrap_or(0)
}

struct VoidFacts<'a> {
    kind: TxnKind,
    amount: Option<Amount>,
    reason: &'a str,
    consent: bool,
    card: Option<&'a str>,
}

fn void(ctx: &mut Ctx<'_>, origin: &Origin, original: &OriginalRef, f: &VoidFacts<'_>) -> Res {
    let action = f.kind.as_str();
    let term = match gate(ctx, origin, action)? {
        Gate::Open(t) => t,
        Gate::Answered(r) => return Ok(*r),
    };
    let actor = actor_of(origin);
    let Some(orig) = find_original(ctx, &term, origin.training, original)? else {
        return refuse(
            ctx,
            &actor,
            action,
            &original.to_string(),
            VoidRefused::OriginalNotFound,
        );
    };
    let target = format!("txn:{}", orig.id);
    if let Err(r) = require_supervisor(origin) {
        return refuse(ctx, &actor, action, &target, r);
    }
    if ctx.conn.dialect() == Dialect::Postgres {
        // An operator's daily void count stays exact across nodes: their voids queue here.
        ctx.conn.row(
            "SELECT 1 FROM operators WHERE merchant_id = ?1 AND operator_no = ?2 FOR UPDATE",
            p![term.merchant_id.as_str(), &origin.operator.to_string()],
            |r| r.i64(0),
        )?;
    }
    let voids_today: u32 = ctx.conn.one(
        "SELECT COUNT(*) FROM txns WHERE merchant_id = ?1 AND operator = ?2 AND kind IN ('void', 'completion_void')
         AND status IN ('approved', 'reversed') AND created_at >= ?3",
        p![
            term.merchant_id.as_str(),
            &origin.operator.to_string(),
            business_day_start(ctx.policy, ctx.now)
        ],
        |r| r.u32(0),
    )?;
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
    let amount = match rules::decide_void(&orig, expected, &req, ctx.policy, ctx.now) {
        Ok(a) => a,
        Err(r) => return refuse(ctx, &actor, action, &target, r),
    };
    let cols = InstrumentCols::from_txn(&orig);
    issuer_effect(ctx, &cols, IssuerOp::Credit, amount, origin.training)?;
    if f.kind == TxnKind::CompletionVoid {
        // The capture is undone; the pre-authorization's hold does not come back.
        reopen_preauth_of(ctx, &orig, TxnStatus::Voided)?;
    }
    set_status(ctx, orig.id, TxnStatus::Voided)?;
    let booking = FollowUp {
        kind: f.kind,
        amount,
        reason: f.reason,
        consent: f.consent,
    };
    let txn = book_follow_up(ctx, origin, &term, &orig, booking)?;
    Ok(Reply::Txn(txn))
}

/// After a completion void, the pre-authorization is left voided (its hold was consumed by the
/// capture); after a completion's reversal it goes back to approved with its hold.
fn reopen_preauth_of(
    ctx: &Ctx<'_>,
    completion: &Transaction,
    status: TxnStatus,
) -> Result<(), StoreError> {
    if let Some(pre) = completion.original_id {
        ctx.conn.exec(
            "UPDATE txns SET status = ?1, completed_fen = 0 WHERE id = ?2",
            p![status.as_str(), pre.0],
        )?;
    }
    Ok(())
}

fn refund(
    ctx: &mut Ctx<'_>,
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
    let Some(orig) = find_original(ctx, &term, origin.training, original)? else {
        return refuse(
            ctx,
            &actor,
            "refund",
            &original.to_string(),
            RefundRefused::OriginalNotFound,
        );
    };
    let target = format!("txn:{}", orig.id);
    if let Err(r) = require_supervisor(origin) {
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
    let d = match rules::decide_refund(&orig, &req, ctx.policy, ctx.now) {
        Ok(d) => d,
        Err(r) => return refuse(ctx, &actor, "refund", &target, r),
    };
    let cols = InstrumentCols::from_txn(&orig);
    issuer_effect(ctx, &cols, IssuerOp::Credit, d.amount, origin.training)?;
    ctx.conn.exec(
        "UPDATE txns SET status = ?1, refunded_fen = ?2 WHERE id = ?3",
        p![
            d.original_status.as_str(),
            d.refunded_after.fen(),
            orig.id.0
        ],
    )?;
    let booking = FollowUp {
        kind: TxnKind::Refund,
        amount: d.amount,
        reason,
        consent: false,
    };
    let txn = book_follow_up(ctx, origin, &term, &orig, booking)?;
    Ok(Reply::Txn(txn))
}

/// The pre-authorization a completion or pre-auth void names. The core has no
/// training-mismatch refusal for pre-auths: to the other mode a training pre-auth does not
/// exist (as by voucher no.), so a training request never marks a live hold done without
/// releasing it, and a live capture never takes money for a training one.
fn find_preauth(
    ctx: &Ctx<'_>,
    term: &TerminalState,
    origin: &Origin,
    original: &OriginalRef,
) -> Result<Option<Transaction>, StoreError> {
    let found = find_original(ctx, term, origin.training, original)?;
    Ok(found.filter(|p| p.training == origin.training))
}

fn complete(ctx: &mut Ctx<'_>, origin: &Origin, original: &OriginalRef, amount: Amount) -> Res {
    let term = match gate(ctx, origin, "completion")? {
        Gate::Open(t) => t,
        Gate::Answered(r) => return Ok(*r),
    };
    let actor = actor_of(origin);
    let Some(pre) = find_preauth(ctx, &term, origin, original)? else {
        return refuse(
            ctx,
            &actor,
            "completion",
            &original.to_string(),
            CompletionRefused::OriginalNotFound,
        );
    };
    if let Some(refused) = channel_gate(ctx, &actor, "completion", pre.method, &term.merchant_id)? {
        return Ok(refused);
    }
    let target = format!("txn:{}", pre.id);
    let amount =
        match rules::decide_completion(&pre, &term.merchant_id, amount, ctx.policy, ctx.now) {
            Ok(a) => a,
            Err(r) => return refuse(ctx, &actor, "completion", &target, r),
        };
    let cols = InstrumentCols::from_txn(&pre);
    let code = if origin.training {
        ResponseCode::Approved
    } else {
        let account = cols.account_id().unwrap_or_default().to_owned();
        ask_issuer(
            ctx,
            &account,
            IssuerOp::Capture { held: pre.amount },
            amount,
            None,
            None,
        )?
        .map(|r| r.code)
        .unwrap_or(ResponseCode::DoNotHonour)
    };
    if code.is_approved() {
        ctx.conn.exec(
            "UPDATE txns SET status = 'completed', completed_fen = ?1 WHERE id = ?2",
            p![amount.fen(), pre.id.0],
        )?;
    }
    let voucher = take_voucher(ctx, &term, origin)?;
    let txn = insert_txn(
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
    Ok(Reply::Txn(txn))
}

fn preauth_void(
    ctx: &mut Ctx<'_>,
    origin: &Origin,
    original: &OriginalRef,
    amount: Option<Amount>,
    reason: &str,
) -> Res {
    let term = match gate(ctx, origin, "preauth_void")? {
        Gate::Open(t) => t,
        Gate::Answered(r) => return Ok(*r),
    };
    let actor = actor_of(origin);
    let Some(pre) = find_preauth(ctx, &term, origin, original)? else {
        return refuse(
            ctx,
            &actor,
            "preauth_void",
            &original.to_string(),
            PreAuthVoidRefused::OriginalNotFound,
        );
    };
    let target = format!("txn:{}", pre.id);
    if let Err(r) = require_supervisor(origin) {
        return refuse(ctx, &actor, "preauth_void", &target, r);
    }
    let held = match rules::decide_preauth_void(
        &pre,
        &term.merchant_id,
        amount,
        reason,
        ctx.policy,
        ctx.now,
    ) {
        Ok(a) => a,
        Err(r) => return refuse(ctx, &actor, "preauth_void", &target, r),
    };
    let cols = InstrumentCols::from_txn(&pre);
    issuer_effect(ctx, &cols, IssuerOp::Release, held, origin.training)?;
    set_status(ctx, pre.id, TxnStatus::Voided)?;
    let booking = FollowUp {
        kind: TxnKind::PreAuthVoid,
        amount: held,
        reason,
        consent: false,
    };
    let txn = book_follow_up(ctx, origin, &term, &pre, booking)?;
    Ok(Reply::Txn(txn))
}

fn reverse(
    ctx: &mut Ctx<'_>,
    origin: &Origin,
    voucher: VoucherNo,
    amount: Option<Amount>,
    reason: &str,
) -> Res {
    let term = match gate(ctx, origin, "reversal")? {
        Gate::Open(t) => t,
        Gate::Answered(r) => return Ok(*r),
    };
    let actor = actor_of(origin);
    let target = find_original(ctx, &term, origin.training, &OriginalRef::Voucher(voucher))?
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
            remember_orphan(ctx, &term, origin, voucher, amount, reason)?;
            "nothing_to_reverse:remembered"
        } else {
            "nothing_to_reverse"
        };
        audit(
            ctx,
            &actor,
            "reversal",
            &format!("voucher:{voucher}"),
            reason,
            outcome,
        )?;
        return Ok(Reply::NothingToReverse);
    };
    undo_at_issuer(ctx, &t, origin.training)?;
    set_status(ctx, t.id, TxnStatus::Reversed)?;
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
    Ok(Reply::Txn(txn))
}

/// Undoes a transaction's effect at the issuer and on its own original, for a reversal.
fn undo_at_issuer(ctx: &Ctx<'_>, t: &Transaction, training: bool) -> Result<(), StoreError> {
    let cols = InstrumentCols::from_txn(t);
    let original = |ctx: &Ctx<'_>| -> Result<Transaction, StoreError> {
        let id = t
            .original_id
            .ok_or_else(|| StoreError::Sqlite(format!("txn {} has no original", t.id)))?;
        ctx.conn.one(
            &format!("SELECT {TXN_COLUMNS} FROM txns WHERE id = ?1"),
            p![id.0],
            txn_from_row,
        )
    };
    match t.kind {
        TxnKind::Sale => issuer_effect(ctx, &cols, IssuerOp::Credit, t.amount, training),
        // An expired pre-auth's hold was already released by `expire_holds`; releasing it
        // again would eat another pre-auth's hold on the same card.
        TxnKind::PreAuth if t.status == TxnStatus::Expired => Ok(()),
        TxnKind::PreAuth => issuer_effect(ctx, &cols, IssuerOp::Release, t.amount, training),
        TxnKind::Completion => {
            let pre = original(ctx)?;
            issuer_effect(ctx, &cols, IssuerOp::Credit, t.amount, training)?;
            issuer_effect(ctx, &cols, IssuerOp::ForceHold, pre.amount, training)?;
            reopen_preauth_of(ctx, t, TxnStatus::Approved)
        }
        TxnKind::Void | TxnKind::CompletionVoid => {
            let o = original(ctx)?;
            issuer_effect(ctx, &cols, IssuerOp::ForceDebit, t.amount, training)?;
            if let (TxnKind::CompletionVoid, Some(pre)) = (t.kind, o.original_id) {
                ctx.conn.exec(
                    "UPDATE txns SET status = 'completed', completed_fen = ?1 WHERE id = ?2",
                    p![o.amount.fen(), pre.0],
                )?;
            }
            set_status(ctx, o.id, TxnStatus::Approved)
        }
        TxnKind::PreAuthVoid => {
            let o = original(ctx)?;
            issuer_effect(ctx, &cols, IssuerOp::ForceHold, t.amount, training)?;
            set_status(ctx, o.id, TxnStatus::Approved)
        }
        // decide_reversal refuses every other kind before we get here.
        _ => unreachable!("reversal of {:?} passed the rule", t.kind),
    }
}

fn settle(
    ctx: &mut Ctx<'_>,
    terminal: &TerminalId,
    actor: &str,
    theirs: Option<Totals>,
) -> Result<SettleReport, StoreError> {
    // Settlement changes the terminal's batch: write the group's cached state first and
    // reload terminals afterwards.
    flush_state(ctx.conn, ctx.cache)?;
    ctx.cache.terminals.clear();
    let term = load_terminal_with(ctx.conn, terminal, true)?
        .map_err(|r| StoreError::Invalid(r.message(suanpan_core::Lang::En)))?;
    let txns = crate::query::batch_txns_in(ctx.conn, term.id.as_str(), term.batch_id)?;
    let s = settlement::settle(&txns, theirs);
    let t = s.totals;
    let json = serde_json::json!({
        "differences": s.differences.iter().map(|d| serde_json::json!({"field": d.field, "host": d.host, "terminal": d.terminal})).collect::<Vec<_>>(),
        "terminal_totals": theirs.map(|x| serde_json::json!({"debit_fen": x.debit_fen, "debit_count": x.debit_count, "credit_fen": x.credit_fen, "credit_count": x.credit_count})),
    });
    ctx.conn.exec(
        "UPDATE txns SET settled = 1 WHERE terminal_id = ?1 AND batch_id = ?2 AND training = 0",
        p![term.id.as_str(), term.batch_id],
    )?;
    let json = json.to_string();
    ctx.conn.exec(
        "UPDATE batches SET settled_at = ?1, settled_by = ?2, debit_fen = ?3, debit_count = ?4, credit_fen = ?5,
         credit_count = ?6, reconciliation = ?7, settlement_json = ?8 WHERE id = ?9",
        p![micros(ctx.now), actor, t.debit_fen, t.debit_count, t.credit_fen, t.credit_count, s.reconciliation.as_str(), &json, term.batch_id],
    )?;
    let next = term.batch_no.next();
    open_batch(ctx.conn, terminal, next, ctx.now)?;
    audit(
        ctx,
        actor,
        "settle",
        &format!("terminal:{terminal}/batch:{}", term.batch_no),
        "",
        s.reconciliation.as_str(),
    )?;
    Ok(SettleReport {
        terminal_id: terminal.clone(),
        batch_no: term.batch_no,
        next_batch_no: next,
        settled_at: ctx.now,
        settlement: s,
        terminal_totals: theirs,
    })
}

/// Opens a batch for a terminal and makes it the terminal's current one.
pub fn open_batch(
    conn: &dyn Sql,
    terminal: &TerminalId,
    no: BatchNo,
    now: Timestamp,
) -> Result<(), StoreError> {
    let id = conn.insert_id(
        "INSERT INTO batches (terminal_id, batch_no, opened_at) VALUES (?1, ?2, ?3)",
        p![terminal.as_str(), no.value(), micros(now)],
    )?;
    conn.exec(
        "UPDATE terminals SET batch_id = ?1 WHERE id = ?2",
        p![id, terminal.as_str()],
    )?;
    Ok(())
}

fn settle_all_due(ctx: &mut Ctx<'_>) -> Res {
    // Every node's scheduler sends this at the cutoff; one of them settles. The lock is held
    // to the commit, and a node that comes later finds the batches already reopened (not due).
    if ctx.conn.dialect() == Dialect::Postgres {
        let mine = ctx.conn.one(
            "SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || '.cutoff'))",
            p![],
            |r| r.flag(0),
        )?;
        if !mine {
            return Ok(Reply::SettledMany(Vec::new()));
        }
    }
    let open: Vec<(String, i64)> = ctx.conn.rows(
        "SELECT t.id, b.opened_at FROM terminals t JOIN batches b ON b.id = t.batch_id WHERE t.enabled = 1 ORDER BY t.id",
        p![],
        |r| Ok((r.text(0)?, r.i64(1)?)),
    )?;
    let mut reports = Vec::new();
    for (id, opened) in open {
        if !ctx.policy.batch_is_due(ts(opened), ctx.now) {
            continue;
        }
        let id = TerminalId::parse(&id).map_err(|e| StoreError::Sqlite(e.to_string()))?;
        reports.push(settle(ctx, &id, "system", None)?);
    }
    Ok(Reply::SettledMany(reports))
}

fn expire_holds(ctx: &mut Ctx<'_>) -> Res {
    let due: Vec<Transaction> = ctx.conn.rows(
        &format!(
            "SELECT {TXN_COLUMNS} FROM txns WHERE kind = 'preauth' AND status = 'approved' AND hold_expires_at < ?1 ORDER BY id{}",
            ctx.conn.dialect().lock_rows()
        ),
        p![micros(ctx.now)],
        txn_from_row,
    )?;
    for t in &due {
        issuer_effect(
            ctx,
            &InstrumentCols::from_txn(t),
            IssuerOp::Release,
            t.amount,
            t.training,
        )?;
        set_status(ctx, t.id, TxnStatus::Expired)?;
        audit(
            ctx,
            "system",
            "preauth.expire",
            &format!("txn:{}", t.id),
            "",
            "ok",
        )?;
    }
    Ok(Reply::Done(due.len() as u64))
}

fn hide(
    ctx: &mut Ctx<'_>,
    merchant: &MerchantId,
    actor: OperatorNo,
    id: TxnId,
    reason: &str,
) -> Res {
    let who = format!("{merchant}/{actor}");
    let target = format!("txn:{id}");
    let found = ctx
        .conn
        .row(
            &format!("SELECT {TXN_COLUMNS} FROM txns WHERE id = ?1"),
            p![id.0],
            txn_from_row,
        )?
        .filter(|t| &t.merchant_id == merchant);
    let Some(t) = found else {
        return refuse(ctx, &who, "hide", &target, HideRefused::NotFound);
    };
    if let Err(r) = rules::decide_hide(&t, actor, reason) {
        return refuse(ctx, &who, "hide", &target, r);
    }
    ctx.conn.exec(
        "UPDATE txns SET hidden = 1, hidden_reason = ?1, hidden_by = ?2, hidden_at = ?3 WHERE id = ?4",
        p![reason, &actor.to_string(), micros(ctx.now), id.0],
    )?;
    audit(ctx, &who, "hide", &target, reason, "ok")?;
    Ok(Reply::Done(1))
}

fn purge(
    ctx: &mut Ctx<'_>,
    who: &str,
    merchant: &MerchantId,
    actor: OperatorNo,
    before: Timestamp,
    backup: &str,
    reason: &str,
) -> Res {
    if let Err(r) = rules::decide_purge(actor, before, ctx.policy, ctx.now) {
        return refuse(ctx, who, "purge", &format!("before:{before}"), r);
    }
    // Rows still referenced by newer rows stay, and so, transitively, does every row a kept
    // row refers to (a completion kept for its later refund keeps its pre-auth), so no kept
    // record points at nothing.
    let keep = "id IN (WITH RECURSIVE
                  edges(child, parent) AS (
                    SELECT id, original_id FROM txns WHERE original_id IS NOT NULL
                    UNION ALL SELECT id, linked_id FROM txns WHERE linked_id IS NOT NULL),
                  kept(id) AS (
                    SELECT e.parent FROM edges e JOIN txns t ON t.id = e.child WHERE t.created_at >= ?1
                    UNION SELECT e.parent FROM edges e JOIN kept k ON e.child = k.id)
                SELECT id FROM kept)";
    let scope = format!("merchant_id = ?2 AND created_at < ?1 AND NOT ({keep})");
    let net: i64 = ctx.conn.one(
        &format!(
            "SELECT CAST(COALESCE(SUM(CASE WHEN kind IN ('sale', 'completion') AND status IN ('approved','partially_refunded','refunded','voided') THEN amount_fen
                                 WHEN kind IN ('refund', 'void', 'completion_void') AND status = 'approved' THEN -amount_fen ELSE 0 END), 0) AS BIGINT)
             FROM txns WHERE training = 0 AND {scope}"
        ),
        p![micros(before), merchant.as_str()],
        |r| r.i64(0),
    )?;
    let n = ctx.conn.exec(
        &format!("DELETE FROM txns WHERE {scope}"),
        p![micros(before), merchant.as_str()],
    )?;
    ctx.conn.exec(
        "UPDATE counters SET value = value + ?1 WHERE name = 'purged_net_fen'",
        p![net],
    )?;
    let why = if reason.trim().is_empty() {
        format!("backup:{backup}")
    } else {
        format!("{} · backup:{backup}", reason.trim())
    };
    audit(
        ctx,
        who,
        "purge",
        &format!("before:{before}"),
        &why,
        &format!("ok:{n}"),
    )?;
    Ok(Reply::Done(n))
}

fn record_login(
    ctx: &mut Ctx<'_>,
    merchant: &MerchantId,
    op: OperatorNo,
    ok: bool,
    purpose: &str,
) -> Res {
    let who = format!("{merchant}/{op}");
    let target = format!("operator:{merchant}/{op}");
    let op_no = op.to_string();
    let row: Option<(u32, Option<i64>)> = ctx.conn.row(
        &format!(
            "SELECT failures, locked_until FROM operators WHERE merchant_id = ?1 AND operator_no = ?2{}",
            ctx.conn.dialect().lock_rows()
        ),
        p![merchant.as_str(), &op_no],
        |r| Ok((r.u32(0)?, r.opt_i64(1)?)),
    )?;
    let Some((failures, locked)) = row else {
        return refuse(ctx, &who, purpose, &target, AccessRefused::UnknownOperator);
    };
    let state = LoginState {
        failures,
        locked_until: locked.map(ts),
    };
    let next = if ok {
        LoginState::default()
    } else {
        state.after_failure(ctx.policy, ctx.now)
    };
    if next != state {
        ctx.conn.exec(
            "UPDATE operators SET failures = ?1, locked_until = ?2 WHERE merchant_id = ?3 AND operator_no = ?4",
            p![next.failures, next.locked_until.map(micros), merchant.as_str(), &op_no],
        )?;
    }
    if ok {
        // Successful sign-ins are not chained one by one: only failures and lockouts matter
        // to an auditor, and the counter path stays fast.
        return Ok(Reply::Done(0));
    }
    let r = match next.locked(ctx.now) {
        Some(until) => AccessRefused::LockedOut {
            until: local_time(ctx.policy, until),
        },
        None if op.role() == Role::Supervisor && purpose == "supervisor" => {
            AccessRefused::SupervisorWrongPassword {
                remaining: next.remaining(ctx.policy),
            }
        }
        None => AccessRefused::WrongPassword {
            remaining: next.remaining(ctx.policy),
        },
    };
    refuse(ctx, &who, purpose, &target, r)
}

/// A moment in the merchant's zone, `YYYY-MM-DD HH:MM:SS`.
pub fn local_time(policy: &Policy, at: Timestamp) -> String {
    let zone = policy.zone().unwrap_or(jiff::tz::TimeZone::UTC);
    at.to_zoned(zone).strftime("%Y-%m-%d %H:%M:%S").to_string()
}

fn set_password(
    ctx: &mut Ctx<'_>,
    merchant: &MerchantId,
    actor: OperatorNo,
    op: OperatorNo,
    hash: &str,
) -> Res {
    let who = format!("{merchant}/{actor}");
    let target = format!("operator:{merchant}/{op}");
    // Own password always; the admin resets anyone's; the supervisor resets cashiers'.
    let allowed = actor == op
        || actor.role() == Role::Admin
        || (actor.role() == Role::Supervisor && op.role() == Role::Cashier);
    if !allowed {
        return refuse(
            ctx,
            &who,
            "password.change",
            &target,
            AccessRefused::NotPermitted {
                role: actor.role().as_str().into(),
            },
        );
    }
    let n = ctx.conn.exec(
        "INSERT INTO operators (merchant_id, operator_no, password_hash, changed_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (merchant_id, operator_no) DO UPDATE SET password_hash = ?3, changed_at = ?4, failures = 0, locked_until = NULL",
        p![merchant.as_str(), &op.to_string(), hash, micros(ctx.now)],
    )?;
    audit(ctx, &who, "password.change", &target, "", "ok")?;
    Ok(Reply::Done(n))
}
