//! Row ↔ domain conversions. Every value read back is parsed again: a row that does not parse
//! is a corrupted store, reported as such, never silently "fixed".

use jiff::Timestamp;
use rusqlite::Row;
use suanpan_core::{
    Amount, AuthCode, BatchNo, Currency, MaskedPan, MerchantId, OperatorNo, PaymentMethod,
    ResponseCode, Rrn, TerminalId, Transaction, TxnId, TxnKind, TxnStatus, VoucherNo,
};

/// The column list matching [`txn_from_row`].
pub const TXN_COLUMNS: &str = "id, kind, status, amount_fen, method, masked_pan, card_fp, wallet_id, \
     merchant_id, terminal_id, operator, supervisor, batch_no, voucher_no, rrn, auth_code, \
     response_code, original_id, reason, customer_consent, refunded_fen, completed_fen, \
     created_at, settled, hidden, training, linked_id";

fn bad(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(0, format!("{what}={value}"), rusqlite::types::Type::Text)
}

pub fn ts(micros: i64) -> Timestamp {
    Timestamp::from_microsecond(micros).unwrap_or(Timestamp::UNIX_EPOCH)
}

pub fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

/// Reads a transaction row selected with [`TXN_COLUMNS`].
pub fn txn_from_row(r: &Row<'_>) -> rusqlite::Result<Transaction> {
    let text = |i: usize| -> rusqlite::Result<String> { r.get(i) };
    let opt = |i: usize| -> rusqlite::Result<Option<String>> { r.get(i) };
    let kind = text(1)?;
    let status = text(2)?;
    let method = text(4)?;
    let rc = text(16)?;
    let op = |s: String| OperatorNo::parse(&s).map_err(|_| bad("operator", &s));
    Ok(Transaction {
        id: TxnId(r.get(0)?),
        kind: TxnKind::parse(&kind).ok_or_else(|| bad("kind", &kind))?,
        status: TxnStatus::parse(&status).ok_or_else(|| bad("status", &status))?,
        amount: Amount::from_fen(r.get(3)?),
        currency: Currency::Cny,
        method: PaymentMethod::parse(&method).ok_or_else(|| bad("method", &method))?,
        masked_pan: opt(5)?.and_then(|m| MaskedPan::from_stored(&m)),
        card_fingerprint: opt(6)?,
        wallet_id: opt(7)?,
        merchant_id: MerchantId::parse(&text(8)?).map_err(|e| bad("merchant", &e.got))?,
        terminal_id: TerminalId::parse(&text(9)?).map_err(|e| bad("terminal", &e.got))?,
        operator: op(text(10)?)?,
        supervisor: opt(11)?.map(op).transpose()?,
        batch_no: BatchNo::new(r.get(12)?).map_err(|e| bad("batch", &e.got))?,
        voucher_no: VoucherNo::new(r.get(13)?).map_err(|e| bad("voucher", &e.got))?,
        rrn: opt(14)?.and_then(|s| Rrn::parse(&s).ok()),
        auth_code: opt(15)?.and_then(|s| AuthCode::parse(&s).ok()),
        response_code: ResponseCode::parse(&rc).ok_or_else(|| bad("response_code", &rc))?,
        original_id: r.get::<_, Option<i64>>(17)?.map(TxnId),
        reason: opt(18)?,
        customer_consent: r.get(19)?,
        refunded: Amount::from_fen(r.get(20)?),
        completed: Amount::from_fen(r.get(21)?),
        created_at: ts(r.get(22)?),
        settled: r.get(23)?,
        hidden: r.get(24)?,
        training: r.get(25)?,
        linked_id: r.get::<_, Option<i64>>(26)?.map(TxnId),
    })
}
