//! Row ↔ domain conversions. Every value read back is parsed again: a row that does not parse
//! is a corrupted store, reported as such, never silently "fixed".

use crate::error::StoreError;
use crate::sql::SqlRow;
use jiff::Timestamp;
use suanpan_core::settlement::BatchLine;
use suanpan_core::{
    Amount, AuthCode, BatchNo, Currency, MaskedPan, MerchantId, OperatorNo, PaymentMethod,
    ResponseCode, Rrn, TerminalId, Transaction, TxnId, TxnKind, TxnStatus, VoucherNo,
};

/// The column list matching [`txn_from_row`].
pub const TXN_COLUMNS: &str = "id, kind, status, amount_fen, method, masked_pan, card_fp, wallet_id, \
     merchant_id, terminal_id, operator, supervisor, batch_no, voucher_no, rrn, auth_code, \
     response_code, original_id, reason, customer_consent, refunded_fen, completed_fen, \
     created_at, settled, hidden, training, linked_id";

fn bad(what: &str, value: &str) -> StoreError {
    StoreError::Sqlite(format!("corrupt row: {what}={value}"))
}

pub fn ts(micros: i64) -> Timestamp {
    Timestamp::from_microsecond(micros).unwrap_or(Timestamp::UNIX_EPOCH)
}

pub fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

/// Reads `kind, status, method, amount_fen` of a live (non-training) transaction: what
/// settlement totals ([`crate::query::batch_lines_in`]).
pub fn batch_line_from_row(r: &dyn SqlRow) -> Result<BatchLine, StoreError> {
    let kind = r.text(0)?;
    let status = r.text(1)?;
    let method = r.text(2)?;
    Ok(BatchLine {
        kind: TxnKind::parse(&kind).ok_or_else(|| bad("kind", &kind))?,
        status: TxnStatus::parse(&status).ok_or_else(|| bad("status", &status))?,
        method: PaymentMethod::parse(&method).ok_or_else(|| bad("method", &method))?,
        amount: Amount::from_fen(r.i64(3)?),
        training: false,
    })
}

/// Reads a transaction row selected with [`TXN_COLUMNS`].
pub fn txn_from_row(r: &dyn SqlRow) -> Result<Transaction, StoreError> {
    let kind = r.text(1)?;
    let status = r.text(2)?;
    let method = r.text(4)?;
    let rc = r.text(16)?;
    let op = |s: String| OperatorNo::parse(&s).map_err(|_| bad("operator", &s));
    Ok(Transaction {
        id: TxnId(r.i64(0)?),
        kind: TxnKind::parse(&kind).ok_or_else(|| bad("kind", &kind))?,
        status: TxnStatus::parse(&status).ok_or_else(|| bad("status", &status))?,
        amount: Amount::from_fen(r.i64(3)?),
        currency: Currency::Cny,
        method: PaymentMethod::parse(&method).ok_or_else(|| bad("method", &method))?,
        masked_pan: r.opt_text(5)?.and_then(|m| MaskedPan::from_stored(&m)),
        card_fingerprint: r.opt_text(6)?,
        wallet_id: r.opt_text(7)?,
        merchant_id: MerchantId::parse(&r.text(8)?).map_err(|e| bad("merchant", &e.got))?,
        terminal_id: TerminalId::parse(&r.text(9)?).map_err(|e| bad("terminal", &e.got))?,
        operator: op(r.text(10)?)?,
        supervisor: r.opt_text(11)?.map(op).transpose()?,
        batch_no: BatchNo::new(r.u32(12)?).map_err(|e| bad("batch", &e.got))?,
        voucher_no: VoucherNo::new(r.u32(13)?).map_err(|e| bad("voucher", &e.got))?,
        rrn: r.opt_text(14)?.and_then(|s| Rrn::parse(&s).ok()),
        auth_code: r.opt_text(15)?.and_then(|s| AuthCode::parse(&s).ok()),
        response_code: ResponseCode::parse(&rc).ok_or_else(|| bad("response_code", &rc))?,
        original_id: r.opt_i64(17)?.map(TxnId),
        reason: r.opt_text(18)?,
        customer_consent: r.flag(19)?,
        refunded: Amount::from_fen(r.i64(20)?),
        completed: Amount::from_fen(r.i64(21)?),
        created_at: ts(r.i64(22)?),
        settled: r.flag(23)?,
        hidden: r.flag(24)?,
        training: r.flag(25)?,
        linked_id: r.opt_i64(26)?.map(TxnId),
    })
}
