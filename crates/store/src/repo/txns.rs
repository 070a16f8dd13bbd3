//! The journal's transactions as the write path books and changes them.

use super::Tx;
use super::terminals::TerminalState;
use crate::command::{Instrument, Origin, OriginalRef};
use crate::error::StoreError;
use crate::p;
use crate::rows::{TXN_COLUMNS, micros, txn_from_row};
use crate::sql::{Sql, SqlExt, SqlRow};
use jiff::Timestamp;
use suanpan_core::{
    Amount, Currency, MaskedPan, MerchantId, OperatorNo, PaymentMethod, ResponseCode, Transaction,
    TxnId, TxnKind, TxnStatus, VoucherNo,
};

/// A transaction about to be booked.
pub struct NewTxn<'a> {
    /// Its kind.
    pub kind: TxnKind,
    /// Its status.
    pub status: TxnStatus,
    /// Its amount.
    pub amount: Amount,
    /// How the instrument was presented.
    pub method: PaymentMethod,
    /// The card or wallet.
    pub instrument: InstrumentCols,
    /// Who, where, with which idempotency key.
    pub origin: &'a Origin,
    /// The terminal and its open batch.
    pub term: &'a TerminalState,
    /// Its voucher no.
    pub voucher: VoucherNo,
    /// The answer (00 approved, or the issuer's decline).
    pub code: ResponseCode,
    /// The original it acts on.
    pub original_id: Option<TxnId>,
    /// Why (follow-ups).
    pub reason: Option<String>,
    /// The customer agreed (voids).
    pub consent: bool,
    /// A linked transaction (re-charge after a mistaken void).
    pub linked_id: Option<TxnId>,
    /// When a pre-authorization's hold ends.
    pub hold_expires_at: Option<Timestamp>,
}

/// The instrument's columns of a transaction row: masked PAN and fingerprint, or wallet.
#[derive(Debug, Clone, Default)]
pub struct InstrumentCols {
    /// 6+4 masked PAN.
    pub masked_pan: Option<MaskedPan>,
    /// The card's keyed fingerprint (its issuer account id).
    pub fingerprint: Option<String>,
    /// The wallet's id.
    pub wallet_id: Option<String>,
}

impl InstrumentCols {
    /// The columns of a command's instrument.
    pub fn of(i: &Instrument) -> InstrumentCols {
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
    /// The columns of a booked transaction.
    pub fn from_txn(t: &Transaction) -> InstrumentCols {
        InstrumentCols {
            masked_pan: t.masked_pan.clone(),
            fingerprint: t.card_fingerprint.clone(),
            wallet_id: t.wallet_id.clone(),
        }
    }
    /// The issuer account behind the instrument: the card's fingerprint or the wallet.
    pub fn account_id(&self) -> Option<&str> {
        self.fingerprint.as_deref().or(self.wallet_id.as_deref())
    }
}

macro_rules! insert_txn_sql {
    ($id_column:literal, $id_value:literal) => {
        concat!(
            "INSERT INTO txns (kind, status, amount_fen, currency, method, masked_pan, card_fp, wallet_id,
               merchant_id, terminal_id, operator, supervisor, batch_id, batch_no, voucher_no, rrn, auth_code,
               response_code, original_id, reason, customer_consent, created_at, training, linked_id,
               hold_expires_at, idem_key, request_hash, terminal_info",
            $id_column,
            ")
             VALUES (?1, ?2, ?3, 'CNY', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
               ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27",
            $id_value,
            ")"
        )
    };
}
/// A new transaction; the store gives its id.
const INSERT_TXN: &str = insert_txn_sql!("", "");
/// A new transaction under an id taken beforehand (?28).
const INSERT_TXN_WITH_ID: &str = insert_txn_sql!(", id", ", ?28");

/// Books a transaction under the next RRN (an authorization code only when approved).
pub fn insert(tx: &mut Tx<'_>, n: NewTxn<'_>) -> Result<Transaction, StoreError> {
    let (rrn, auth) = super::counters::next_rrn(tx)?;
    let auth = n.code.is_approved().then_some(auth);
    let (idem_key, request_hash) = match &n.origin.idempotency {
        Some((k, h)) => (Some(k.as_str()), Some(h.as_str())),
        None => (None, None),
    };
    let supervisor = n.origin.supervisor.map(|s| s.to_string());
    let operator = n.origin.operator.to_string();
    let mut values = p![
        n.kind.as_str(),
        n.status.as_str(),
        n.amount.fen(),
        n.method.as_str(),
        n.instrument.masked_pan.as_ref().map(|m| m.as_str()),
        n.instrument.fingerprint.as_deref(),
        n.instrument.wallet_id.as_deref(),
        n.term.merchant_id.as_str(),
        n.term.id.as_str(),
        &operator,
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
        micros(tx.now),
        n.origin.training,
        n.linked_id.map(|i| i.0),
        n.hold_expires_at.map(micros),
        idem_key,
        request_hash,
        n.origin.terminal_info.as_deref(),
    ]
    .to_vec();
    // PostgreSQL: the group took ids for its sales beforehand (`repo::prefetch`), so nothing
    // waits for this row's id: it goes to the server with the next statement.
    let id = match tx.cache.prefetched.take_txn_id() {
        Some(id) => {
            values.push(id.into());
            tx.conn.exec_later(INSERT_TXN_WITH_ID, &values)?;
            TxnId(id)
        }
        None => TxnId(tx.conn.insert_id(INSERT_TXN, &values)?),
    };
    tx.cache.prefetched.booked(
        n.term,
        n.voucher,
        idem_key,
        n.instrument.fingerprint.as_deref(),
    );
    Ok(Transaction {
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
        created_at: tx.now,
        settled: false,
        hidden: false,
        training: n.origin.training,
        linked_id: n.linked_id,
    })
}

/// One transaction by id (not locked).
pub fn by_id(conn: &dyn Sql, id: TxnId) -> Result<Option<Transaction>, StoreError> {
    conn.row(
        &format!("SELECT {TXN_COLUMNS} FROM txns WHERE id = ?1"),
        p![id.0],
        txn_from_row,
    )
}

/// The transaction a terminal booked under an idempotency key in its batch and voucher no.,
/// with its stored request hash (through the index the listings use anyway).
pub fn by_idempotency_key(
    conn: &dyn Sql,
    term: &TerminalState,
    voucher: VoucherNo,
    key: &str,
) -> Result<Option<(Transaction, Option<String>)>, StoreError> {
    conn.row(
        &idempotency_sql(),
        p![term.id.as_str(), term.batch_id, voucher.value(), key],
        keyed_of,
    )
}

/// The statement of [`by_idempotency_key`]: terminal, batch id, voucher no., key.
pub(crate) fn idempotency_sql() -> String {
    format!(
        "SELECT {TXN_COLUMNS}, request_hash FROM txns
         WHERE terminal_id = ?1 AND batch_id = ?2 AND voucher_no = ?3 AND idem_key = ?4"
    )
}

/// A row of [`idempotency_sql`]: the transaction and its request hash.
pub(crate) fn keyed_of(r: &dyn SqlRow) -> Result<(Transaction, Option<String>), StoreError> {
    Ok((txn_from_row(r)?, r.opt_text(27)?))
}

/// Finds an original. By voucher: the terminal's most recent transaction with that voucher
/// no. in the same mode, in any batch, so a settled one is found (and refused with the
/// remedy). The original stays locked (PostgreSQL) until the commit: a void or refund of it
/// on another node waits, then sees our decision.
pub fn find_original(
    conn: &dyn Sql,
    term: &TerminalState,
    training: bool,
    r: &OriginalRef,
) -> Result<Option<Transaction>, StoreError> {
    let lock = conn.dialect().lock_rows();
    let q = |sql: &str, p: &[crate::sql::Value<'_>]| {
        conn.row(
            &format!("SELECT {TXN_COLUMNS} FROM txns WHERE {sql}{lock}"),
            p,
            txn_from_row,
        )
    };
    // Only the terminal's merchant's transactions are found: another merchant's is "not
    // found", exactly as one that does not exist — naming it must not confirm it exists or
    // tell its kind (issue 14: the API's completion told B that A's #1 was a sale). The
    // core rules' `OtherMerchant` stays as a second line.
    let merchant = term.merchant_id.as_str();
    match r {
        OriginalRef::Id(id) => q("id = ?1 AND merchant_id = ?2", p![id.0, merchant]),
        OriginalRef::Rrn(rrn) => q("rrn = ?1 AND merchant_id = ?2", p![rrn, merchant]),
        // Auth codes repeat across the store; the merchant's latest pre-auth with it is meant.
        OriginalRef::AuthCode(code) => q(
            "auth_code = ?1 AND merchant_id = ?2 AND kind = 'preauth' AND training = ?3 ORDER BY id DESC LIMIT 1",
            p![code, merchant, training],
        ),
        OriginalRef::Voucher(v) => q(
            "terminal_id = ?1 AND voucher_no = ?2 AND training = ?3 AND kind != 'reversal' ORDER BY id DESC LIMIT 1",
            p![term.id.as_str(), v.value(), training],
        ),
    }
}

/// Sets a transaction's status.
pub fn set_status(conn: &dyn Sql, id: TxnId, status: TxnStatus) -> Result<(), StoreError> {
    conn.exec(
        "UPDATE txns SET status = ?1 WHERE id = ?2",
        p![status.as_str(), id.0],
    )?;
    Ok(())
}

/// Sets an original's status and the amount refunded of it so far.
pub fn set_refunded(
    conn: &dyn Sql,
    id: TxnId,
    status: TxnStatus,
    refunded: Amount,
) -> Result<(), StoreError> {
    conn.exec(
        "UPDATE txns SET status = ?1, refunded_fen = ?2 WHERE id = ?3",
        p![status.as_str(), refunded.fen(), id.0],
    )?;
    Ok(())
}

/// Marks a pre-authorization completed for `amount`.
pub fn set_completed(conn: &dyn Sql, preauth: TxnId, amount: Amount) -> Result<(), StoreError> {
    conn.exec(
        "UPDATE txns SET status = 'completed', completed_fen = ?1 WHERE id = ?2",
        p![amount.fen(), preauth.0],
    )?;
    Ok(())
}

/// Gives a pre-authorization `status` and nothing completed (after its completion was voided
/// or reversed).
pub fn uncomplete(conn: &dyn Sql, preauth: TxnId, status: TxnStatus) -> Result<(), StoreError> {
    conn.exec(
        "UPDATE txns SET status = ?1, completed_fen = 0 WHERE id = ?2",
        p![status.as_str(), preauth.0],
    )?;
    Ok(())
}

/// How many voids and completion voids (approved or since reversed) an operator booked since
/// `since`.
pub fn voids_since(
    conn: &dyn Sql,
    merchant: &MerchantId,
    op: OperatorNo,
    since_micros: i64,
) -> Result<u32, StoreError> {
    conn.one(
        "SELECT COUNT(*) FROM txns WHERE merchant_id = ?1 AND operator = ?2 AND kind IN ('void', 'completion_void')
         AND status IN ('approved', 'reversed') AND created_at >= ?3",
        p![merchant.as_str(), &op.to_string(), since_micros],
        |r| r.u32(0),
    )
}

/// Approved pre-authorizations whose hold ended before `now`, locked (PostgreSQL).
pub fn holds_ended(conn: &dyn Sql, now: Timestamp) -> Result<Vec<Transaction>, StoreError> {
    conn.rows(
        &format!(
            "SELECT {TXN_COLUMNS} FROM txns WHERE kind = 'preauth' AND status = 'approved' AND hold_expires_at < ?1 ORDER BY id{}",
            conn.dialect().lock_rows()
        ),
        p![micros(now)],
        txn_from_row,
    )
}

/// Hides a record (删除交易记录) with who, why and when.
pub fn hide(
    conn: &dyn Sql,
    id: TxnId,
    reason: &str,
    actor: OperatorNo,
    now: Timestamp,
) -> Result<(), StoreError> {
    conn.exec(
        "UPDATE txns SET hidden = 1, hidden_reason = ?1, hidden_by = ?2, hidden_at = ?3 WHERE id = ?4",
        p![reason, &actor.to_string(), micros(now), id.0],
    )?;
    Ok(())
}

/// Deletes a merchant's records created before `before`, except the rows still referenced by
/// newer rows and, transitively, every row a kept row refers to (a completion kept for its
/// later refund keeps its pre-auth), so no kept record points at nothing. Returns the rows
/// deleted and their net amount (sales and completions less refunds and voids, live only).
pub fn purge(
    conn: &dyn Sql,
    merchant: &MerchantId,
    before: Timestamp,
) -> Result<(u64, i64), StoreError> {
    let keep = "id IN (WITH RECURSIVE
                  edges(child, parent) AS (
                    SELECT id, original_id FROM txns WHERE original_id IS NOT NULL
                    UNION ALL SELECT id, linked_id FROM txns WHERE linked_id IS NOT NULL),
                  kept(id) AS (
                    SELECT e.parent FROM edges e JOIN txns t ON t.id = e.child WHERE t.created_at >= ?1
                    UNION SELECT e.parent FROM edges e JOIN kept k ON e.child = k.id)
                SELECT id FROM kept)";
    let scope = format!("merchant_id = ?2 AND created_at < ?1 AND NOT ({keep})");
    let net: i64 = conn.one(
        &format!(
            "SELECT CAST(COALESCE(SUM(CASE WHEN kind IN ('sale', 'completion') AND status IN ('approved','partially_refunded','refunded','voided') THEN amount_fen
                                 WHEN kind IN ('refund', 'void', 'completion_void') AND status = 'approved' THEN -amount_fen ELSE 0 END), 0) AS BIGINT)
             FROM txns WHERE training = 0 AND {scope}"
        ),
        p![micros(before), merchant.as_str()],
        |r| r.i64(0),
    )?;
    let n = conn.exec(
        &format!("DELETE FROM txns WHERE {scope}"),
        p![micros(before), merchant.as_str()],
    )?;
    Ok((n, net))
}
