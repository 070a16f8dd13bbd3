//! Store-wide counters: RRNs (with the authorization code derived from each) and the net
//! amount purged.

use super::Tx;
use crate::error::StoreError;
use crate::p;
use crate::sql::{Dialect, Sql, SqlExt, Value};
use suanpan_core::{AuthCode, Rrn};

/// RRNs one `nextval` of PostgreSQL's `rrn_seq` reserves (its `INCREMENT BY`): a group of
/// sales costs one round trip for its RRNs, not one each. Unused numbers of a block are
/// skipped, never reused, so RRNs stay unique across nodes.
pub const RRN_BLOCK: i64 = 100;

/// Allocates the next RRN (unique per store) and an authorization code derived from it.
pub fn next_rrn(tx: &mut Tx<'_>) -> Result<(Rrn, AuthCode), StoreError> {
    let seq = match tx.conn.dialect() {
        // The counter row is read inside the write transaction (SQLite's lock covers it) and
        // written back once per group by `flush`.
        Dialect::Sqlite => {
            let last = match tx.cache.rrn {
                Some(v) => v,
                None => {
                    tx.conn
                        .one("SELECT value FROM counters WHERE name = 'rrn'", p![], |r| {
                            r.i64(0)
                        })?
                }
            };
            tx.cache.rrn = Some(last + 1);
            last + 1
        }
        // A sequence: unique across nodes without a lock, allocated in blocks.
        Dialect::Postgres => {
            let (next, end) = match tx.cache.rrn_block {
                Some((next, end)) if next < end => (next, end),
                _ => {
                    let first = tx
                        .conn
                        .one("SELECT nextval('rrn_seq')", p![], |r| r.i64(0))?;
                    (first, first + RRN_BLOCK)
                }
            };
            tx.cache.rrn_block = Some((next + 1, end));
            next
        }
    };
    let rrn = Rrn::parse(&format!("{:012}", seq % 1_000_000_000_000))
        .map_err(|e| StoreError::Sqlite(e.to_string()))?;
    // A scrambled, stable 6-digit code: auth codes should not be guessable from the RRN order.
    let code = (seq.wrapping_mul(48_271) % 999_983 + 1) as u32;
    let auth =
        AuthCode::parse(&format!("{code:06}")).map_err(|e| StoreError::Sqlite(e.to_string()))?;
    Ok((rrn, auth))
}

pub(super) fn save_rrn<'a>(seq: i64) -> (&'static str, Vec<Value<'a>>) {
    (
        "UPDATE counters SET value = ?1 WHERE name = 'rrn'",
        p![seq].to_vec(),
    )
}

/// Adds the net amount of purged rows to `purged_net_fen` (the conservation check's memory
/// of what left the journal).
pub fn add_purged_net(conn: &dyn Sql, net_fen: i64) -> Result<(), StoreError> {
    conn.exec(
        "UPDATE counters SET value = value + ?1 WHERE name = 'purged_net_fen'",
        p![net_fen],
    )?;
    Ok(())
}
