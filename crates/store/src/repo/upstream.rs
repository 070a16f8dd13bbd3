//! How transactions went to the network upstream (`upstream_requests`), and the writes of
//! the two-phase bookkeeping (issue 15).

use crate::command::{AdviceDraft, UpstreamRef};
use crate::error::StoreError;
use crate::keys::KeyProvider;
use crate::p;
use crate::sql::{Dialect, Sql, SqlExt};
use suanpan_core::{AuthCode, ResponseCode, Transaction, TxnId, TxnStatus};

/// Records how transaction `id` goes up (in the same transaction as its *authorizing* row),
/// with its reversal's card number sealed under the KEK, kept at most until `pan_until`
/// (the end of the sale's refund window, [`forget_expired_pans`]).
pub fn record(
    conn: &dyn Sql,
    keys: &dyn KeyProvider,
    id: TxnId,
    up: &UpstreamRef,
    pan_until: jiff::Timestamp,
) -> Result<(), StoreError> {
    let rev = up.reversal.as_ref();
    let pan = rev
        .map(|r| keys.wrap(&pan_identity(id), r.pan.as_bytes()))
        .transpose()?;
    conn.exec(
        "INSERT INTO upstream_requests (txn_id, destination, stan, transmitted, pan, \
         reversal_stan, reversal_transmitted, acquirer_id, pan_until) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        p![
            id.0,
            up.destination.as_str(),
            up.stan.as_str(),
            up.transmitted.as_str(),
            pan.as_deref(),
            rev.map(|r| r.stan.as_str()),
            rev.map(|r| r.transmitted.as_str()),
            rev.map(|r| r.acquirer_id.as_str()),
            pan_until.as_microsecond()
        ],
    )?;
    Ok(())
}

/// How transaction `id` went up, if it did (without its reversal's facts: see
/// [`reversal_draft`]).
pub fn find(conn: &dyn Sql, id: TxnId) -> Result<Option<UpstreamRef>, StoreError> {
    conn.row(
        "SELECT destination, stan, transmitted FROM upstream_requests WHERE txn_id = ?1",
        p![id.0],
        |r| {
            Ok(UpstreamRef {
                destination: r.text(0)?,
                stan: r.text(1)?,
                transmitted: r.text(2)?,
                reversal: None,
            })
        },
    )
}

/// The identity a request's card number is sealed for (AES-GCM associated data): a sealed
/// value copied to another row does not open.
fn pan_identity(id: TxnId) -> String {
    format!("upstream-pan:{id}")
}

/// The draft of transaction `id`'s reversal advice with reason `reason`, from its row: the
/// card number opened, the STAN and field 7 phase one gave it. `None` when the row keeps no
/// card number (an older build's, or forgotten: [`forget_pan`], [`forget_batch_pans`]).
pub fn reversal_draft(
    conn: &dyn Sql,
    keys: &dyn KeyProvider,
    id: TxnId,
    reason: &str,
) -> Result<Option<AdviceDraft>, StoreError> {
    let row = conn.row(
        "SELECT pan, reversal_stan, reversal_transmitted, acquirer_id FROM upstream_requests \
         WHERE txn_id = ?1 AND pan IS NOT NULL AND reversal_stan IS NOT NULL",
        p![id.0],
        |r| Ok((r.text(0)?, r.text(1)?, r.text(2)?, r.opt_text(3)?)),
    )?;
    let Some((sealed, stan, transmitted, acquirer_id)) = row else {
        return Ok(None);
    };
    let pan = keys.unwrap(&pan_identity(id), &sealed)?;
    let pan = String::from_utf8(pan.expose().to_vec()).map_err(|_| {
        StoreError::Invalid(format!("txn {id}: the sealed card number is not text"))
    })?;
    Ok(Some(AdviceDraft {
        pan,
        reason: reason.to_owned(),
        stan,
        transmitted,
        acquirer_id: acquirer_id.unwrap_or_default(),
    }))
}

/// Transaction `id`'s card number as its row keeps it (sealed), opened; `None` when the row
/// keeps none (forgotten, an older build's, or not an upstream request). Read outside the
/// writer by the back-office's refund, whose 0200 needs field 2 before phase one.
pub fn kept_pan(
    conn: &dyn Sql,
    keys: &dyn KeyProvider,
    id: TxnId,
) -> Result<Option<crate::keys::Secret>, StoreError> {
    let sealed = conn.row(
        "SELECT pan FROM upstream_requests WHERE txn_id = ?1 AND pan IS NOT NULL",
        p![id.0],
        |r| r.text(0),
    )?;
    sealed
        .map(|s| keys.unwrap(&pan_identity(id), &s))
        .transpose()
}

/// Whether transaction `id`'s reversal can be built from its row (the card number is kept).
pub fn reversal_ready(conn: &dyn Sql, id: TxnId) -> Result<bool, StoreError> {
    Ok(conn
        .row(
            "SELECT 1 FROM upstream_requests \
             WHERE txn_id = ?1 AND pan IS NOT NULL AND reversal_stan IS NOT NULL",
            p![id.0],
            |r| r.i64(0),
        )?
        .is_some())
}

/// Forgets transaction `id`'s card number: nothing will build its reversal from the row
/// any more (its fate is not an approval, or its reversal is queued with its own copy).
pub fn forget_pan(conn: &dyn Sql, id: TxnId) -> Result<(), StoreError> {
    conn.exec(
        "UPDATE upstream_requests SET pan = NULL WHERE txn_id = ?1 AND pan IS NOT NULL",
        p![id.0],
    )?;
    Ok(())
}

/// Forgets the card numbers of terminal `terminal_id`'s batch `batch_id` that name no end
/// of their refund window (at its settlement: rows of a build before schema 21, kept until
/// then as that build promised). A row with `pan_until` keeps its card number for the
/// back-office's refund until [`forget_expired_pans`] or a full refund or void.
pub fn forget_batch_pans(
    conn: &dyn Sql,
    terminal_id: &str,
    batch_id: i64,
) -> Result<(), StoreError> {
    conn.exec(FORGET_BATCH_PANS_SQL, p![terminal_id, batch_id])?;
    Ok(())
}

/// [`forget_batch_pans`]'s statement: the batch's rows by `txns_terminal_batch` (a seek, a
/// few dozen rows), each request by its key. Its plan is checked in `store/tests/scale.rs`.
pub const FORGET_BATCH_PANS_SQL: &str = "UPDATE upstream_requests SET pan = NULL WHERE pan IS NOT NULL \
     AND pan_until IS NULL \
     AND txn_id IN (SELECT id FROM txns WHERE terminal_id = ?1 AND batch_id = ?2)";

/// Forgets every card number whose refund window ended at or before `now` (the scheduler's
/// `Command::ForgetExpiredPans`: no refund can need it any more, PCI DSS 3.2.1). How many.
pub fn forget_expired_pans(conn: &dyn Sql, now: jiff::Timestamp) -> Result<u64, StoreError> {
    conn.exec(FORGET_EXPIRED_PANS_SQL, p![now.as_microsecond()])
}

/// [`forget_expired_pans`]'s statement: a range seek on the partial index
/// `upstream_requests_pan_until` (the kept card numbers only), never a scan of the journal
/// or of every upstream request. Its plan is checked in `store/tests/scale.rs`.
pub const FORGET_EXPIRED_PANS_SQL: &str = "UPDATE upstream_requests SET pan = NULL \
     WHERE pan IS NOT NULL AND pan_until <= ?1";

/// Marks transaction `id` as approved in stand-in: it went to the switch as a 0220 advice.
pub fn mark_stood_in(conn: &dyn Sql, id: TxnId) -> Result<(), StoreError> {
    conn.exec(
        "UPDATE upstream_requests SET stood_in = 1 WHERE txn_id = ?1",
        p![id.0],
    )?;
    Ok(())
}

/// Whether transaction `id` was approved in stand-in (its advice is a 0220).
pub fn stood_in(conn: &dyn Sql, id: TxnId) -> Result<bool, StoreError> {
    Ok(conn
        .row(
            "SELECT stood_in FROM upstream_requests WHERE txn_id = ?1",
            p![id.0],
            |r| r.i64(0),
        )?
        .is_some_and(|v| v == 1))
}

/// Takes back the advices about transaction `txn` that never left: queued, never sent
/// (`attempts` 0) and claimed by no node (a claimed one may be on the wire). How many.
pub fn saf_withdraw_unsent(conn: &dyn Sql, txn: TxnId) -> Result<u64, StoreError> {
    let n = conn.exec(
        "DELETE FROM upstream_saf WHERE txn_id = ?1 AND attempts = 0 AND claimed_by IS NULL",
        p![txn.0],
    )?;
    Ok(n)
}

/// Card numbers kept (tests, `check`).
pub fn pans_kept(conn: &dyn Sql) -> Result<u64, StoreError> {
    let n = conn.one(
        "SELECT COUNT(*) FROM upstream_requests WHERE pan IS NOT NULL",
        p![],
        |r| r.i64(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Re-seals every kept card number under `to` (the rotation's transaction); how many.
fn rewrap_pans<'k>(
    tx: &dyn Sql,
    pick: &dyn Fn(&str) -> Result<&'k dyn KeyProvider, StoreError>,
    to: &dyn KeyProvider,
) -> Result<usize, StoreError> {
    let rows = tx.rows(
        "SELECT txn_id, pan FROM upstream_requests WHERE pan IS NOT NULL",
        p![],
        |r| Ok((TxnId(r.i64(0)?), r.text(1)?)),
    )?;
    for (id, sealed) in &rows {
        let pan = pick(sealed)?.unwrap(&pan_identity(*id), sealed)?;
        let again = to.wrap(&pan_identity(*id), pan.expose())?;
        tx.exec(
            "UPDATE upstream_requests SET pan = ?1 WHERE txn_id = ?2",
            p![again.as_str(), id.0],
        )?;
    }
    Ok(rows.len())
}

/// Sets an authorizing transaction's fate: status, response code and (approved) the
/// authorization code the upstream gave. Returns `txn` as it now stands in the store, so the
/// caller need not read the row back (the three columns written are the only ones changed).
pub fn set_outcome(
    conn: &dyn Sql,
    mut txn: Transaction,
    status: TxnStatus,
    code: ResponseCode,
    auth_code: Option<&str>,
) -> Result<Transaction, StoreError> {
    let changed = conn.exec(
        "UPDATE txns SET status = ?1, response_code = ?2, auth_code = ?3 WHERE id = ?4",
        p![status.as_str(), code.code(), auth_code, txn.id.0],
    )?;
    if changed != 1 {
        return Err(StoreError::Invalid(format!(
            "transaction {} vanished before its fate was written",
            txn.id
        )));
    }
    txn.status = status;
    txn.response_code = code;
    // As the row reads back: a code that is no authorization code is none.
    txn.auth_code = auth_code.and_then(|a| AuthCode::parse(a).ok());
    Ok(txn)
}

/// Every transaction still authorizing, oldest first.
pub fn authorizing(conn: &dyn Sql) -> Result<Vec<TxnId>, StoreError> {
    conn.rows(
        "SELECT id FROM txns WHERE status = 'authorizing' ORDER BY id",
        p![],
        |r| Ok(TxnId(r.i64(0)?)),
    )
}

// ----- The store-and-forward queue (schema 13 / PostgreSQL 12; sealed and claimed: 18 / 17) -----

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

/// The identity a queued or parked frame is sealed for (AES-GCM associated data): a frame
/// moved to another destination's queue does not open.
fn frame_identity(destination: &str) -> String {
    format!("upstream-advice:{destination}")
}

/// A frame as the queue keeps it: sealed under the KEK (`w1:<kek>:…`), since a reversal
/// advice carries the card number (field 2) until the switch acknowledges it.
pub fn seal_frame(
    keys: &dyn KeyProvider,
    destination: &str,
    frame: &[u8],
) -> Result<String, StoreError> {
    keys.wrap(&frame_identity(destination), frame)
}

/// A stored frame in clear: sealed (`w1:`), or hex as a build before schema 18 kept it (the
/// next open seals those, [`seal_clear_frames`]).
pub fn open_frame(
    keys: &dyn KeyProvider,
    destination: &str,
    stored: &str,
) -> Result<Vec<u8>, StoreError> {
    if crate::keys::is_wrapped(stored) {
        Ok(keys
            .unwrap(&frame_identity(destination), stored)?
            .expose()
            .to_vec())
    } else {
        hex::decode(stored).map_err(|e| StoreError::Sqlite(format!("upstream frame: {e}")))
    }
}

/// Every queued and parked frame (`all`) or only those still in clear: (table, key as
/// text, destination, stored value). A queued advice's key is its id (cast, so one shape
/// serves both tables).
fn stored_frames(
    tx: &dyn Sql,
    all: bool,
) -> Result<Vec<(&'static str, String, String, String)>, StoreError> {
    let only_clear = if all {
        ""
    } else {
        " WHERE frame NOT LIKE 'w1:%'"
    };
    let mut out = Vec::new();
    for (table, key) in [
        ("upstream_saf", "CAST(id AS TEXT)"),
        ("upstream_parked", "reference"),
    ] {
        let rows = tx.rows(
            &format!("SELECT {key}, destination, frame FROM {table}{only_clear}"),
            p![],
            |r| Ok((table, r.text(0)?, r.text(1)?, r.text(2)?)),
        )?;
        out.extend(rows);
    }
    Ok(out)
}

/// Writes a frame sealed again (see [`stored_frames`] for the key).
fn store_sealed(tx: &dyn Sql, table: &str, key: &str, sealed: &str) -> Result<(), StoreError> {
    if table == "upstream_saf" {
        let id: i64 = key
            .parse()
            .map_err(|_| StoreError::Sqlite(format!("upstream_saf id {key:?}")))?;
        tx.exec(
            "UPDATE upstream_saf SET frame = ?1 WHERE id = ?2",
            p![sealed, id],
        )?;
    } else {
        tx.exec(
            "UPDATE upstream_parked SET frame = ?1 WHERE reference = ?2",
            p![sealed, key],
        )?;
    }
    Ok(())
}

/// Seals every frame an older build kept in clear (hex), in the queue and among the parked
/// reversals (in the caller's transaction: the open's key migration). Returns how many.
pub(crate) fn seal_clear_frames(tx: &dyn Sql, keys: &dyn KeyProvider) -> Result<usize, StoreError> {
    let rows = stored_frames(tx, false)?;
    for (table, key, destination, stored) in &rows {
        let frame = open_frame(keys, destination, stored)?;
        store_sealed(tx, table, key, &seal_frame(keys, destination, &frame)?)?;
    }
    Ok(rows.len())
}

/// Re-seals every queued and parked frame and every kept card number under `to` (`keys
/// rotate-kek`, also `--to-pkcs11`), on the rotation's transaction; `pick` names the
/// provider that sealed a value. Returns how many.
pub(crate) fn rewrap_frames<'k>(
    tx: &dyn Sql,
    pick: &dyn Fn(&str) -> Result<&'k dyn KeyProvider, StoreError>,
    to: &dyn KeyProvider,
) -> Result<usize, StoreError> {
    let rows = stored_frames(tx, true)?;
    for (table, key, destination, stored) in &rows {
        let by = if crate::keys::is_wrapped(stored) {
            pick(stored)?
        } else {
            to
        };
        let frame = open_frame(by, destination, stored)?;
        store_sealed(tx, table, key, &seal_frame(to, destination, &frame)?)?;
    }
    Ok(rows.len() + rewrap_pans(tx, pick, to)?)
}

/// Appends an advice to `destination`'s queue (in the caller's transaction), sealed; its id.
/// `txn` is the transaction the advice is about, when there is one.
pub fn saf_push(
    conn: &dyn Sql,
    keys: &dyn KeyProvider,
    destination: &str,
    frame: &[u8],
    now_ms: i64,
    txn: Option<TxnId>,
) -> Result<i64, StoreError> {
    let sealed = seal_frame(keys, destination, frame)?;
    conn.insert_id(
        "INSERT INTO upstream_saf (destination, frame, attempts, next_attempt_ms, created_ms, txn_id) \
         VALUES (?1, ?2, 0, ?3, ?3, ?4)",
        p![destination, sealed.as_str(), now_ms, txn.map(|t| t.0)],
    )
}

/// Copies an advice from another queue (the old `upstream-saf.sqlite`) unless the same frame
/// is queued already for its destination (a start-up that stopped half-way copies again);
/// true when it was copied.
pub fn saf_import(
    conn: &dyn Sql,
    keys: &dyn KeyProvider,
    destination: &str,
    frame: &[u8],
    attempts: u32,
    next_attempt_ms: i64,
    created_ms: i64,
) -> Result<bool, StoreError> {
    // Sealed frames differ at every sealing (a random nonce): compare them opened. Once per
    // advice of an old file, at one start-up: the queue is short.
    let queued = conn.rows(
        "SELECT frame FROM upstream_saf WHERE destination = ?1",
        p![destination],
        |r| r.text(0),
    )?;
    for stored in &queued {
        if open_frame(keys, destination, stored)? == frame {
            return Ok(false);
        }
    }
    conn.exec(
        "INSERT INTO upstream_saf (destination, frame, attempts, next_attempt_ms, created_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        p![
            destination,
            seal_frame(keys, destination, frame)?.as_str(),
            attempts,
            next_attempt_ms,
            created_ms
        ],
    )?;
    Ok(true)
}

/// Whether [`saf_claim`] would find an advice of `destination` for `node` at `now_ms`: a
/// read on the read connection, so that the drainer's idle poll (every second on every
/// node) does not take the write lock to find an empty queue (issue 15, s18-speed).
pub fn saf_claimable(
    conn: &dyn Sql,
    destination: &str,
    node: &str,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let row = conn.row(
        "SELECT 1 FROM upstream_saf WHERE destination = ?1 \
           AND (claimed_until IS NULL OR claimed_until <= ?2 OR claimed_by = ?3) LIMIT 1",
        p![destination, now_ms, node],
        |_| Ok(()),
    )?;
    Ok(row.is_some())
}

/// Claims the oldest advice of `destination` for `node` until `now_ms + lease_ms` and
/// returns it, opened: one no other node holds a live claim on (an expired claim is free: its
/// node died or stalled; a node's own claim is renewed). On PostgreSQL the candidate row is
/// taken with `FOR UPDATE SKIP LOCKED`, so two nodes claiming at once get two different
/// advices (or one gets none) instead of waiting on each other. The claim ends when the
/// advice is acknowledged ([`saf_remove`]) or put back for a later attempt
/// ([`saf_retry_later`]).
pub fn saf_claim(
    conn: &dyn Sql,
    keys: &dyn KeyProvider,
    destination: &str,
    node: &str,
    now_ms: i64,
    lease_ms: i64,
) -> Result<Option<QueuedAdvice>, StoreError> {
    let skip_locked = match conn.dialect() {
        Dialect::Sqlite => "",
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
    };
    let row = conn.row(
        &format!(
            "SELECT id, destination, frame, attempts, next_attempt_ms FROM upstream_saf \
             WHERE destination = ?1 \
               AND (claimed_until IS NULL OR claimed_until <= ?2 OR claimed_by = ?3) \
             ORDER BY id LIMIT 1{skip_locked}"
        ),
        p![destination, now_ms, node],
        |r| Ok((r.i64(0)?, r.text(1)?, r.text(2)?, r.u32(3)?, r.i64(4)?)),
    )?;
    let Some((id, destination, stored, attempts, next_attempt_ms)) = row else {
        return Ok(None);
    };
    conn.exec(
        "UPDATE upstream_saf SET claimed_by = ?2, claimed_until = ?3 WHERE id = ?1",
        p![id, node, now_ms.saturating_add(lease_ms)],
    )?;
    Ok(Some(QueuedAdvice {
        id,
        frame: open_frame(keys, &destination, &stored)?,
        destination,
        attempts,
        next_attempt_ms,
    }))
}

/// Records an unacknowledged attempt and when to try again, and gives up the claim (any
/// node may send the next attempt).
pub fn saf_retry_later(
    conn: &dyn Sql,
    id: i64,
    attempts: u32,
    next_attempt_ms: i64,
) -> Result<(), StoreError> {
    conn.exec(
        "UPDATE upstream_saf SET attempts = ?2, next_attempt_ms = ?3, claimed_by = NULL, \
         claimed_until = NULL WHERE id = ?1",
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
    keys: &dyn KeyProvider,
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
        p![
            reference,
            destination,
            seal_frame(keys, destination, frame)?.as_str(),
            now_ms
        ],
    )?;
    Ok(())
}

/// Moves the advice parked under `reference` to the end of its destination's queue (in the
/// caller's transaction); its id, or `None` when none is parked.
pub fn activate(
    conn: &dyn Sql,
    keys: &dyn KeyProvider,
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
    let frame = open_frame(keys, &destination, &frame)?;
    let id = saf_push(conn, keys, &destination, &frame, now_ms, txn)?;
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
