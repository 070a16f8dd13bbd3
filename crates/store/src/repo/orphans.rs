//! Reversals remembered because their request had not arrived (冲正先到).

use super::terminals::TerminalState;
use crate::error::StoreError;
use crate::p;
use crate::rows::{micros, ts};
use crate::sql::{Sql, SqlExt, SqlRow};
use jiff::Timestamp;
use suanpan_core::rules::OrphanReversal;
use suanpan_core::{Amount, VoucherNo};

/// The reversal remembered for this terminal's open batch and voucher no., if any.
pub fn find(
    conn: &dyn Sql,
    term: &TerminalState,
    voucher: VoucherNo,
    training: bool,
) -> Result<Option<OrphanReversal>, StoreError> {
    conn.row(
        FIND_SQL,
        p![
            term.id.as_str(),
            term.batch_no.value(),
            voucher.value(),
            training
        ],
        orphan_of,
    )
}

/// The statement of [`find`]: terminal, batch no., voucher no., training.
pub(crate) const FIND_SQL: &str = "SELECT amount_fen, created_at FROM orphan_reversals
     WHERE terminal_id = ?1 AND batch_no = ?2 AND voucher_no = ?3 AND training = ?4";

/// A row of [`FIND_SQL`].
pub(crate) fn orphan_of(r: &dyn SqlRow) -> Result<OrphanReversal, StoreError> {
    Ok(OrphanReversal {
        amount: r.opt_i64(0)?.map(Amount::from_fen),
        at: ts(r.i64(1)?),
    })
}

/// What a remembered reversal records.
pub struct NewOrphan<'a> {
    /// The terminal and its open batch.
    pub term: &'a TerminalState,
    /// The voucher no. the reversal named.
    pub voucher: VoucherNo,
    /// Training mode.
    pub training: bool,
    /// The amount the reversal named, if any.
    pub amount: Option<Amount>,
    /// 8583 field 39 of the reversal.
    pub reason: &'a str,
}

/// Remembers a reversal; a repeated reversal keeps the first record (its time starts the
/// window). Sweeps the records created before `forget_before` on the way.
pub fn remember(
    conn: &dyn Sql,
    o: &NewOrphan<'_>,
    now: Timestamp,
    forget_before: i64,
) -> Result<(), StoreError> {
    conn.exec(
        "DELETE FROM orphan_reversals WHERE created_at < ?1",
        p![forget_before],
    )?;
    conn.exec(
        "INSERT INTO orphan_reversals
         (terminal_id, batch_no, voucher_no, training, amount_fen, reason, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
        p![
            o.term.id.as_str(),
            o.term.batch_no.value(),
            o.voucher.value(),
            o.training,
            o.amount.map(Amount::fen),
            o.reason,
            micros(now)
        ],
    )?;
    Ok(())
}
