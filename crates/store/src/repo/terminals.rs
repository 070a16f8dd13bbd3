//! Terminals, their voucher sequences and their batches.

use super::Tx;
use crate::error::StoreError;
use crate::p;
use crate::rows::{micros, ts};
use crate::sql::{Dialect, Sql, SqlExt, SqlRow, Value};
use jiff::Timestamp;
use suanpan_core::refusal::AccessRefused;
use suanpan_core::rules::{TerminalAccess, decide_terminal_access};
use suanpan_core::settlement::{Settlement, Totals};
use suanpan_core::{BatchNo, MerchantId, TerminalId, VoucherNo};

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
    /// Paused by its merchant's supervisor: no new money (`core::rules::decide_terminal_pause`).
    pub paused: bool,
}

/// A terminal's row as stored: whether it and its merchant are enabled, and its state.
pub struct TerminalRow {
    /// The enabled flags the access rule reads.
    pub access: TerminalAccess,
    id: TerminalId,
    merchant: String,
    batch_id: Option<i64>,
    batch_no: Option<i64>,
    opened: Option<i64>,
    next: u32,
    next_training: u32,
    paused: bool,
}

impl TerminalRow {
    /// The terminal's state; an error when the row is corrupt (no open batch, bad numbers).
    pub fn state(&self) -> Result<TerminalState, StoreError> {
        let id = &self.id;
        let corrupt = |what: &str| StoreError::Sqlite(format!("terminal {id}: {what}"));
        Ok(TerminalState {
            id: id.clone(),
            merchant_id: MerchantId::parse(&self.merchant).map_err(|_| corrupt("merchant id"))?,
            batch_id: self.batch_id.ok_or_else(|| corrupt("no open batch"))?,
            batch_no: BatchNo::new(u32::try_from(self.batch_no.unwrap_or(0)).unwrap_or(0))
                .map_err(|_| corrupt("batch no"))?,
            batch_opened_at: ts(self.opened.unwrap_or(0)),
            next_voucher: VoucherNo::new(self.next).map_err(|_| corrupt("next voucher"))?,
            next_training_voucher: VoucherNo::new(self.next_training)
                .map_err(|_| corrupt("next training voucher"))?,
            paused: self.paused,
        })
    }
}

/// A terminal's row, locked to the commit when `lock` (PostgreSQL, writers: another node's
/// voucher and batch numbers for this terminal wait for ours).
pub fn find(
    conn: &dyn Sql,
    id: &TerminalId,
    lock: bool,
) -> Result<Option<TerminalRow>, StoreError> {
    let lock = lock && conn.dialect() == Dialect::Postgres;
    conn.row(&find_sql(lock), p![id.as_str()], |r| row_of(id, r))
}

/// The statement of [`find`]; `lock_pg`: `FOR UPDATE` (PostgreSQL only).
pub(crate) fn find_sql(lock_pg: bool) -> String {
    let lock = if lock_pg { " FOR UPDATE OF t" } else { "" };
    format!(
        "SELECT t.merchant_id, t.enabled, m.enabled, b.id, b.batch_no, b.opened_at, t.next_voucher, t.next_training_voucher, m.status,
                t.paused_at IS NOT NULL
         FROM terminals t JOIN merchants m ON m.id = t.merchant_id
         LEFT JOIN batches b ON b.id = t.batch_id WHERE t.id = ?1{lock}"
    )
}

/// Terminal `id`'s row as [`find_sql`] reads it.
pub(crate) fn row_of(id: &TerminalId, r: &dyn SqlRow) -> Result<TerminalRow, StoreError> {
    Ok(TerminalRow {
        access: TerminalAccess {
            terminal_enabled: r.flag(1)?,
            merchant_enabled: r.flag(2)?,
            merchant_status: r.text(8)?,
        },
        id: id.clone(),
        merchant: r.text(0)?,
        batch_id: r.opt_i64(3)?,
        batch_no: r.opt_i64(4)?,
        opened: r.opt_i64(5)?,
        next: r.u32(6)?,
        next_training: r.u32(7)?,
        paused: r.flag(9)?,
    })
}

/// A terminal with its open batch, for readers (host sign-in, CLI): refused as
/// `core::rules::decide_terminal_access` says when unknown or disabled.
pub fn load(
    conn: &dyn Sql,
    id: &TerminalId,
) -> Result<Result<TerminalState, AccessRefused>, StoreError> {
    let row = find(conn, id, false)?;
    if let Err(r) = decide_terminal_access(row.as_ref().map(|t| t.access.clone())) {
        return Ok(Err(r));
    }
    match row {
        Some(t) => t.state().map(Ok),
        None => Ok(Err(AccessRefused::UnknownTerminal)),
    }
}

/// A terminal as a reader sees it: its state, and whether it may trade.
pub type ReadTerminal = (TerminalState, Result<(), AccessRefused>);

/// A terminal with its open batch whatever its access, for a reader that shows records (a
/// suspended merchant's are read-only, not hidden), with what
/// `core::rules::decide_terminal_access` says of it; `None` when there is no such terminal.
pub fn load_for_reading(
    conn: &dyn Sql,
    id: &TerminalId,
) -> Result<Option<ReadTerminal>, StoreError> {
    let Some(row) = find(conn, id, false)? else {
        return Ok(None);
    };
    let access = decide_terminal_access(Some(row.access.clone()));
    Ok(Some((row.state()?, access)))
}

/// The terminal as this group already loaded it, with the numbers it took since.
pub fn cached(tx: &Tx<'_>, id: &TerminalId) -> Option<TerminalState> {
    tx.cache.terminals.get(id).cloned()
}

/// Keeps a terminal loaded (locked) by this group for its later commands.
pub fn cache(tx: &mut Tx<'_>, t: &TerminalState) {
    tx.cache.terminals.insert(t.id.clone(), t.clone());
}

/// Takes the voucher no. for a new transaction — the one the terminal chose, else the next of
/// the terminal's sequence (live or training) — and advances the sequence past it.
pub fn take_voucher(
    tx: &mut Tx<'_>,
    term: &TerminalState,
    chosen: Option<VoucherNo>,
    training: bool,
) -> VoucherNo {
    let cached = tx
        .cache
        .terminals
        .entry(term.id.clone())
        .or_insert_with(|| term.clone());
    let slot = if training {
        &mut cached.next_training_voucher
    } else {
        &mut cached.next_voucher
    };
    let voucher = chosen.unwrap_or(*slot);
    *slot = voucher.next();
    tx.cache.dirty.insert(term.id.clone());
    voucher
}

pub(super) fn save_vouchers(t: &TerminalState) -> (&'static str, Vec<Value<'_>>) {
    (
        "UPDATE terminals SET next_voucher = ?1, next_training_voucher = ?2 WHERE id = ?3",
        p![
            t.next_voucher.value(),
            t.next_training_voucher.value(),
            t.id.as_str()
        ]
        .to_vec(),
    )
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

/// The enabled terminals whose open batch was opened before `opened_before`, in terminal
/// order, after terminal `after` when given, at most `limit`: the cutoff's next chunk. The
/// cutoff passes the last terminal of the chunk before, so that its commands together read
/// each terminal once: reading every enabled terminal for each chunk of 8 read N²/8 rows
/// (12.5 million at 10,000 terminals).
pub fn due_batches(
    conn: &dyn Sql,
    opened_before: Timestamp,
    after: Option<&TerminalId>,
    limit: usize,
) -> Result<Vec<TerminalId>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let ids: Vec<String> = conn.rows(
        "SELECT t.id FROM terminals t JOIN batches b ON b.id = t.batch_id \
         WHERE t.enabled = 1 AND t.id > ?1 AND b.opened_at < ?2 ORDER BY t.id LIMIT ?3",
        p![
            after.map_or("", TerminalId::as_str),
            micros(opened_before),
            limit
        ],
        |r| r.text(0),
    )?;
    ids.iter()
        .map(|id| TerminalId::parse(id).map_err(|e| StoreError::Sqlite(e.to_string())))
        .collect()
}

/// PostgreSQL: takes the cutoff's lock to the commit if no other node holds it (every node's
/// scheduler sends the cutoff; one of them settles). Always true on SQLite.
pub fn try_cutoff_lock(conn: &dyn Sql) -> Result<bool, StoreError> {
    if conn.dialect() != Dialect::Postgres {
        return Ok(true);
    }
    conn.one(
        "SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || '.cutoff'))",
        p![],
        |r| r.flag(0),
    )
}

/// Closes a terminal's open batch with its settlement: its live transactions are marked
/// settled and the batch keeps the host's totals, the verdict and the differences.
pub fn close_batch(
    conn: &dyn Sql,
    term: &TerminalState,
    actor: &str,
    now: Timestamp,
    s: &Settlement,
    theirs: Option<Totals>,
) -> Result<(), StoreError> {
    let t = s.totals;
    let json = serde_json::json!({
        "differences": s.differences.iter().map(|d| serde_json::json!({"field": d.field, "host": d.host, "terminal": d.terminal})).collect::<Vec<_>>(),
        "terminal_totals": theirs.map(|x| serde_json::json!({"debit_fen": x.debit_fen, "debit_count": x.debit_count, "credit_fen": x.credit_fen, "credit_count": x.credit_count})),
    });
    conn.exec(
        "UPDATE txns SET settled = 1 WHERE terminal_id = ?1 AND batch_id = ?2 AND training = 0",
        p![term.id.as_str(), term.batch_id],
    )?;
    let json = json.to_string();
    conn.exec(
        "UPDATE batches SET settled_at = ?1, settled_by = ?2, debit_fen = ?3, debit_count = ?4, credit_fen = ?5,
         credit_count = ?6, reconciliation = ?7, settlement_json = ?8 WHERE id = ?9",
        p![micros(now), actor, t.debit_fen, t.debit_count, t.credit_fen, t.credit_count, s.reconciliation.as_str(), &json, term.batch_id],
    )?;
    Ok(())
}
