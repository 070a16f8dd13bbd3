//! Payment channels as the write path reads them.

use super::Tx;
use crate::error::StoreError;
use crate::p;
use crate::sql::{Dialect, Sql, SqlExt};
use suanpan_core::backoffice::Channel;

/// Whether a payment channel accepts new transactions. A store whose back-office tables were
/// never created has no channel switched off (looked up once per group); a channel the table
/// does not know is closed.
pub fn is_open(tx: &mut Tx<'_>, channel: Channel) -> Result<bool, StoreError> {
    let has_backoffice = match tx.cache.backoffice {
        Some(known) => known,
        None => {
            let found = tx
                .conn
                .row(
                    "SELECT value FROM meta WHERE key = 'backoffice_schema_version'",
                    p![],
                    |r| r.text(0),
                )?
                .is_some();
            tx.cache.backoffice = Some(found);
            found
        }
    };
    Ok(!has_backoffice || channel_open(tx.conn, channel)?)
}

/// On PostgreSQL the row is read `FOR SHARE`: a disable waits for the purchases in flight.
fn channel_open(c: &dyn Sql, channel: Channel) -> Result<bool, StoreError> {
    let share = match c.dialect() {
        Dialect::Sqlite => "",
        Dialect::Postgres => " FOR SHARE",
    };
    Ok(c.row(
        &format!("SELECT enabled FROM channels WHERE id = ?1{share}"),
        p![channel.as_str()],
        |r| r.flag(0),
    )?
    .unwrap_or(false))
}
