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
