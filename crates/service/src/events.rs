//! The webhook events the use cases emit (issue 13), each a typed payload written to the
//! outbox (`store::notify::enqueue`) in the use case's own transaction: the event commits
//! with the change it reports, or not at all. Training transactions emit nothing.

use serde::Serialize;
use suanpan_core::notify::EventKind;
use suanpan_core::{Transaction, TxnKind};
use suanpan_store::SettleReport;
use suanpan_store::StoreError;
use suanpan_store::notify::enqueue;
use suanpan_store::repo::Tx;

/// `void.executed` / `refund.executed`: the booked void or refund.
#[derive(Debug, Serialize)]
pub struct TxnEvent<'a> {
    /// The void's or refund's id.
    pub txn_id: i64,
    /// `void`, `completion_void` or `refund`.
    pub kind: &'static str,
    /// The original's id.
    pub original_id: Option<i64>,
    /// The terminal.
    pub terminal_id: &'a str,
    /// Amount in fen.
    pub amount_fen: i64,
    /// Amount as shown (`¥12.34`).
    pub amount: String,
    /// Batch and voucher no.
    pub batch_no: u32,
    /// Voucher no.
    pub voucher_no: u32,
    /// The operator (counter no.).
    pub operator: String,
    /// Why (the reason recorded).
    pub reason: &'a str,
    /// When (RFC 3339).
    pub at: String,
}

/// Emits `void.executed` or `refund.executed` for a booked follow-up (other kinds: none).
pub(crate) fn txn_booked(tx: &Tx<'_>, t: &Transaction, training: bool) -> Result<(), StoreError> {
    let kind = match t.kind {
        TxnKind::Void | TxnKind::CompletionVoid => EventKind::VoidExecuted,
        TxnKind::Refund => EventKind::RefundExecuted,
        _ => return Ok(()),
    };
    if training {
        return Ok(());
    }
    let data = TxnEvent {
        txn_id: t.id.0,
        kind: t.kind.as_str(),
        original_id: t.original_id.map(|o| o.0),
        terminal_id: t.terminal_id.as_str(),
        amount_fen: t.amount.fen(),
        amount: t.amount.display(),
        batch_no: t.batch_no.value(),
        voucher_no: t.voucher_no.value(),
        operator: t.operator.to_string(),
        reason: t.reason.as_deref().unwrap_or(""),
        at: t.created_at.to_string(),
    };
    enqueue(tx.conn, tx.now, kind, Some(&t.merchant_id), &data).map(drop)
}

/// `batch.settled`: a terminal's batch closed, with its totals and verdict.
#[derive(Debug, Serialize)]
pub struct BatchEvent<'a> {
    /// The terminal.
    pub terminal_id: &'a str,
    /// The batch settled.
    pub batch_no: u32,
    /// `balanced` or `unbalanced`.
    pub reconciliation: &'static str,
    /// Σ sales and completions (fen) and their count.
    pub debit_fen: i64,
    /// Their count.
    pub debit_count: u32,
    /// Σ refunds (fen).
    pub credit_fen: i64,
    /// Their count.
    pub credit_count: u32,
    /// Who settled (`system` at the cutoff).
    pub settled_by: &'a str,
    /// When (RFC 3339).
    pub at: String,
}

/// Emits `batch.settled` for a settlement of a terminal of `merchant`.
pub(crate) fn batch_settled(
    tx: &Tx<'_>,
    merchant: &suanpan_core::MerchantId,
    r: &SettleReport,
    actor: &str,
) -> Result<(), StoreError> {
    let t = &r.settlement.totals;
    let data = BatchEvent {
        terminal_id: r.terminal_id.as_str(),
        batch_no: r.batch_no.value(),
        reconciliation: r.settlement.reconciliation.as_str(),
        debit_fen: t.debit_fen,
        debit_count: t.debit_count,
        credit_fen: t.credit_fen,
        credit_count: t.credit_count,
        settled_by: actor,
        at: r.settled_at.to_string(),
    };
    enqueue(
        tx.conn,
        tx.now,
        EventKind::BatchSettled,
        Some(merchant),
        &data,
    )
    .map(drop)
}
