//! Terminal master keys (TMK): loaded out of band, read by the 8583 host at sign-in.
//!
//! The TMK is kept as hex in `terminals.tmk_hex` (see `schema.sql`); it never leaves this
//! module except to encrypt the working keys of a sign-in response.

use crate::Store;
use crate::error::StoreError;
use crate::p;
use crate::rows::micros;
use crate::sql::{Sql, SqlExt};
use crate::sqlite::SqliteStore;
use suanpan_core::TerminalId;

/// Hex digits of a double-length (16-byte) 3DES key.
pub const TMK_HEX_DIGITS: usize = 32;

impl SqliteStore {
    /// Loads (or replaces) a terminal's master key; `tmk_hex` must be 32 hex digits. Audited
    /// without the key. Returns false when the terminal is unknown.
    pub fn set_terminal_tmk(&self, id: &TerminalId, tmk_hex: &str) -> Result<bool, StoreError> {
        set_terminal_tmk(self, id, tmk_hex)
    }

    /// A terminal's master key as hex, `None` when the terminal is unknown or has none.
    pub fn terminal_tmk(&self, id: &TerminalId) -> Result<Option<String>, StoreError> {
        self.read_sql(|c| tmk_in(c, id))
    }
}

/// A terminal's master key as hex, on either backend.
pub fn tmk_in(c: &dyn Sql, id: &TerminalId) -> Result<Option<String>, StoreError> {
    Ok(c.row(
        "SELECT tmk_hex FROM terminals WHERE id = ?1",
        p![id.as_str()],
        |r| r.opt_text(0),
    )?
    .flatten())
}

/// Loads (or replaces) a terminal's master key on either backend (see
/// [`SqliteStore::set_terminal_tmk`]).
pub fn set_terminal_tmk<S: Store + ?Sized>(
    store: &S,
    id: &TerminalId,
    tmk_hex: &str,
) -> Result<bool, StoreError> {
    let tmk = tmk_hex.trim();
    if tmk.len() != TMK_HEX_DIGITS || !tmk.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(StoreError::Invalid(format!(
            "a terminal master key is {TMK_HEX_DIGITS} hex digits"
        )));
    }
    let upper = tmk.to_ascii_uppercase();
    let now = micros(store.now());
    crate::setup(store, |tx, head| {
        let n = tx.exec(
            "UPDATE terminals SET tmk_hex = ?1 WHERE id = ?2",
            p![&upper, id.as_str()],
        )?;
        if n > 0 {
            head.append(
                tx,
                now,
                [
                    "admin",
                    "terminal.set_tmk",
                    &format!("terminal:{id}"),
                    "",
                    "ok",
                ],
            )?;
        }
        Ok(n > 0)
    })
}
