//! How transactions went to the network upstream (`upstream_requests`), and the writes of
//! the two-phase bookkeeping (issue 15).

use crate::command::UpstreamRef;
use crate::error::StoreError;
use crate::p;
use crate::sql::{Sql, SqlExt};
use suanpan_core::{ResponseCode, TxnId, TxnStatus};

/// Records how transaction `id` goes up (in the same transaction as its *authorizing* row).
pub fn record(conn: &dyn Sql, id: TxnId, up: &UpstreamRef) -> Result<(), StoreError> {
    conn.exec(
        "INSERT INTO upstream_requests (txn_id, destination, stan, transmitted) \
         VALUES (?1, ?2, ?3, ?4)",
        p![
            id.0,
            up.destination.as_str(),
            up.stan.as_str(),
            up.transmitted.as_str()
        ],
    )?;
    Ok(())
}

/// How transaction `id` went up, if it did.
pub fn find(conn: &dyn Sql, id: TxnId) -> Result<Option<UpstreamRef>, StoreError> {
    conn.row(
        "SELECT destination, stan, transmitted FROM upstream_requests WHERE txn_id = ?1",
        p![id.0],
        |r| {
            Ok(UpstreamRef {
                destination: r.text(0)?,
                stan: r.text(1)?,
                transmitted: r.text(2)?,
            })
        },
    )
}

/// Sets an authorizing transaction's fate: status, response code and (approved) the
/// authorization code the upstream gave.
pub fn set_outcome(
    conn: &dyn Sql,
    id: TxnId,
    status: TxnStatus,
    code: ResponseCode,
    auth_code: Option<&str>,
) -> Result<(), StoreError> {
    conn.exec(
        "UPDATE txns SET status = ?1, response_code = ?2, auth_code = ?3 WHERE id = ?4",
        p![status.as_str(), code.code(), auth_code, id.0],
    )?;
    Ok(())
}

/// Every transaction still authorizing, oldest first.
pub fn authorizing(conn: &dyn Sql) -> Result<Vec<TxnId>, StoreError> {
    conn.rows(
        "SELECT id FROM txns WHERE status = 'authorizing' ORDER BY id",
        p![],
        |r| Ok(TxnId(r.i64(0)?)),
    )
}

// ----- The store-and-forward queue (schema 13 / PostgreSQL 12) ---------------------------------

/// One queued advice as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedAdvice {
    /// Queue position (ascending = order of sending).
    pub id: i64,
    /// The destination's name.
    pub destination: String,
    /// The frame, length prefix included.
    pub frame: Vec<u8>,
    /// Times sent without an acknowledgement.
    pub attempts: u32,
    /// Not before this time (ms since the Unix epoch).
    pub next_attempt_ms: i64,
}

fn unhex(text: &str) -> Result<Vec<u8>, StoreError> {
    hex::decode(text).map_err(|e| StoreError::Sqlite(format!("upstream frame: {e}")))
}

/// Appends an advice to `destination`'s queue (in the caller's transaction); its id.
/// `txn` is the transaction the advice is about, when there is one.
pub fn saf_push(
    conn: &dyn Sql,
    destination: &str,
    frame: &[u8],
    now_ms: i64,
    txn: Option<TxnId>,
) -> Result<i64, StoreError> {
    conn.insert_id(
        "INSERT INTO upstream_saf (destination, frame, attempts, next_attempt_ms, created_ms, txn_id) \
         VALUES (?1, ?2, 0, ?3, ?3, ?4)",
        p![destination, hex::encode(frame).as_str(), now_ms, txn.map(|t| t.0)],
    )
}

/// Copies an advice from another queue (the old `upstream-saf.sqlite`) unless one with the
/// same frame is queued already (a start-up that stopped half-way copies again); true when
/// it was copied.
pub fn saf_import(
    conn: &dyn Sql,
    destination: &str,
    frame: &[u8],
    attempts: u32,
    next_attempt_ms: i64,
    created_ms: i64,
) -> Result<bool, StoreError> {
    let frame = hex::encode(frame);
    let there = conn.row(
        "SELECT id FROM upstream_saf WHERE frame = ?1",
        p![frame.as_str()],
        |r| r.i64(0),
    )?;
    if there.is_some() {
        return Ok(false);
    }
    conn.exec(
        "INSERT INTO upstream_saf (destination, frame, attempts, next_attempt_ms, created_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        p![
            destination,
            frame.as_str(),
            attempts,
            next_attempt_ms,
            created_ms
        ],
    )?;
    Ok(true)
}

/// The oldest advice of `destination`.
pub fn saf_head(conn: &dyn Sql, destination: &str) -> Result<Option<QueuedAdvice>, StoreError> {
    let row = conn.row(
        "SELECT id, destination, frame, attempts, next_attempt_ms FROM upstream_saf \
         WHERE destination = ?1 ORDER BY id LIMIT 1",
        p![destination],
        |r| Ok((r.i64(0)?, r.text(1)?, r.text(2)?, r.u32(3)?, r.i64(4)?)),
    )?;
    row.map(|(id, destination, frame, attempts, next_attempt_ms)| {
        Ok(QueuedAdvice {
            id,
            destination,
            frame: unhex(&frame)?,
            attempts,
            next_attempt_ms,
        })
    })
    .transpose()
}

/// Records an unacknowledged attempt and when to try again.
pub fn saf_retry_later(
    conn: &dyn Sql,
    id: i64,
    attempts: u32,
    next_attempt_ms: i64,
) -> Result<(), StoreError> {
    conn.exec(
        "UPDATE upstream_saf SET attempts = ?2, next_attempt_ms = ?3 WHERE id = ?1",
        p![id, attempts, next_attempt_ms],
    )?;
    Ok(())
}

/// Removes an acknowledged advice.
pub fn saf_remove(conn: &dyn Sql, id: i64) -> Result<(), StoreError> {
    conn.exec("DELETE FROM upstream_saf WHERE id = ?1", p![id])?;
    Ok(())
}

/// Advices queued for every destination.
pub fn saf_depth(conn: &dyn Sql) -> Result<u64, StoreError> {
    let n = conn.one("SELECT COUNT(*) FROM upstream_saf", p![], |r| r.i64(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The advices queued about transaction `txn` (tests, `check`).
pub fn saf_of_txn(conn: &dyn Sql, txn: TxnId) -> Result<u64, StoreError> {
    let n = conn.one(
        "SELECT COUNT(*) FROM upstream_saf WHERE txn_id = ?1",
        p![txn.0],
        |r| r.i64(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Parks an advice under `reference`, not sent; replaces one parked under it.
pub fn park(
    conn: &dyn Sql,
    destination: &str,
    reference: &str,
    frame: &[u8],
    now_ms: i64,
) -> Result<(), StoreError> {
    conn.exec(
        "DELETE FROM upstream_parked WHERE reference = ?1",
        p![reference],
    )?;
    conn.exec(
        "INSERT INTO upstream_parked (reference, destination, frame, created_ms) \
         VALUES (?1, ?2, ?3, ?4)",
        p![reference, destination, hex::encode(frame).as_str(), now_ms],
    )?;
    Ok(())
}

/// Moves the advice parked under `reference` to the end of its destination's queue (in the
/// caller's transaction); its id, or `None` when none is parked.
pub fn activate(
    conn: &dyn Sql,
    reference: &str,
    now_ms: i64,
    txn: Option<TxnId>,
) -> Result<Option<i64>, StoreError> {
    let parked = conn.row(
        "SELECT destination, frame FROM upstream_parked WHERE reference = ?1",
        p![reference],
        |r| Ok((r.text(0)?, r.text(1)?)),
    )?;
    let Some((destination, frame)) = parked else {
        return Ok(None);
    };
    discard(conn, reference)?;
    let id = saf_push(conn, &destination, &unhex(&frame)?, now_ms, txn)?;
    Ok(Some(id))
}

/// Drops the advice parked under `reference`.
pub fn discard(conn: &dyn Sql, reference: &str) -> Result<(), StoreError> {
    conn.exec(
        "DELETE FROM upstream_parked WHERE reference = ?1",
        p![reference],
    )?;
    Ok(())
}

/// Every parked advice's reference, oldest first.
pub fn parked(conn: &dyn Sql) -> Result<Vec<String>, StoreError> {
    conn.rows(
        "SELECT reference FROM upstream_parked ORDER BY created_ms, reference",
        p![],
        |r| r.text(0),
    )
}

/// Whether an advice is parked under `reference`.
pub fn is_parked(conn: &dyn Sql, reference: &str) -> Result<bool, StoreError> {
    Ok(conn
        .row(
            "SELECT 1 FROM upstream_parked WHERE reference = ?1",
            p![reference],
            |r| r.i64(0),
        )?
        .is_some())
}

/// The last STAN reserved for `sender` and when its last cycle ended.
pub fn stan_load(conn: &dyn Sql, sender: &str) -> Result<Option<(u32, i64)>, StoreError> {
    conn.row(
        "SELECT reserved_until, cycle_end_ms FROM upstream_stans WHERE sender = ?1",
        p![sender],
        |r| Ok((r.u32(0)?, r.i64(1)?)),
    )
}

/// Records that STANs of `sender` up to `reserved_until` may be in use (a counter that
/// wrapped after 24 hours starts a lower reservation).
pub fn stan_reserve(
    conn: &dyn Sql,
    sender: &str,
    reserved_until: u32,
    cycle_end_ms: i64,
) -> Result<(), StoreError> {
    let n = conn.exec(
        "UPDATE upstream_stans SET reserved_until = ?2, cycle_end_ms = ?3 WHERE sender = ?1",
        p![sender, reserved_until, cycle_end_ms],
    )?;
    if n == 0 {
        conn.exec(
            "INSERT INTO upstream_stans (sender, reserved_until, cycle_end_ms) VALUES (?1, ?2, ?3)",
            p![sender, reserved_until, cycle_end_ms],
        )?;
    }
    Ok(())
}
