//! Issuer accounts (the inline simulator's ledger), read and written through the group's
//! cache.

use super::Tx;
use crate::error::StoreError;
use crate::p;
use crate::sql::Value;
use suanpan_issuer::Account;

/// An account, from the group's cache or loaded (and cached) when first seen. Locked
/// (PostgreSQL) from the read to the commit: no other node's debit between our read of the
/// balance and our write of it.
pub fn load(tx: &Tx<'_>, id: &str) -> Result<Option<Account>, StoreError> {
    if let Some(a) = tx.cache.accounts.borrow().get(id) {
        return Ok(Some(a.clone()));
    }
    let loaded = crate::query::load_account_in(tx.conn, id, true)?;
    if let Some(a) = &loaded {
        tx.cache
            .accounts
            .borrow_mut()
            .insert(a.id.clone(), a.clone());
    }
    Ok(loaded)
}

/// Keeps an account's new state in the group's cache; written once when the group ends.
pub fn stage(tx: &Tx<'_>, a: &Account) {
    tx.cache
        .accounts
        .borrow_mut()
        .insert(a.id.clone(), a.clone());
    tx.cache.dirty_accounts.borrow_mut().insert(a.id.clone());
}

pub(super) fn save(a: &Account) -> (&'static str, Vec<Value<'_>>) {
    let (pin_failures, status) = match &a.instrument {
        suanpan_issuer::Instrument::Card {
            pin_failures,
            status,
            ..
        } => (*pin_failures, status.as_str()),
        suanpan_issuer::Instrument::Wallet { .. } => (0, "active"),
    };
    (
        "UPDATE accounts SET balance_fen = ?1, held_fen = ?2, pin_failures = ?3, status = ?4 WHERE id = ?5",
        p![a.balance_fen, a.held_fen, pin_failures, status, &a.id].to_vec(),
    )
}
