//! Bulk rows for big-journal tests and benchmarks: many transactions written by one SQL
//! statement instead of one engine command each. Every row is a copy of one the engine booked,
//! with only amount, numbers and time changed, and rows come in money-neutral pairs, so the
//! audit chain and money conservation (`check`) stay green.

use crate::error::StoreError;
use crate::{Store, setup};
use jiff::Timestamp;
use suanpan_core::TxnId;

/// Writes `pairs` sales copied from `template` (an approved sale), one second apart from
/// `first_at`, amounts 1.00 … 9.97 yuan, each with an approved refund of its whole amount a
/// millisecond later (the sale then `refunded`).
pub fn refunded_sales(
    store: &dyn Store,
    template: TxnId,
    pairs: u32,
    first_at: Timestamp,
) -> Result<(), StoreError> {
    let cols = "kind, status, amount_fen, currency, method, masked_pan, card_fp, wallet_id, \
        merchant_id, terminal_id, operator, batch_id, batch_no, voucher_no, response_code, \
        created_at, refunded_fen, training";
    let base = first_at.as_microsecond();
    let amount = "100 + (n.i * 7) % 898";
    let sql = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {pairs})
         INSERT INTO txns ({cols})
         SELECT k.kind, CASE WHEN k.kind = 'sale' THEN 'refunded' ELSE 'approved' END,
                {amount}, t.currency, t.method, t.masked_pan, t.card_fp, t.wallet_id,
                t.merchant_id, t.terminal_id, t.operator, t.batch_id, t.batch_no,
                1 + (2 * n.i + k.j) % 999999, '00',
                {base} + CAST(n.i AS BIGINT) * 1000000 + k.j * 1000,
                CASE WHEN k.kind = 'sale' THEN {amount} ELSE 0 END, 0
         FROM n CROSS JOIN (SELECT 'sale' AS kind, 0 AS j UNION ALL SELECT 'refund', 1) AS k
         CROSS JOIN txns t WHERE t.id = {}",
        template.0
    );
    setup(store, |c, _| c.exec_batch(&sql))
}
