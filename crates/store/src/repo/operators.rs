//! Counter operators as the write path changes them: login failures and lockouts, passwords,
//! and the row lock that serializes one operator's voids across nodes.

use crate::error::StoreError;
use crate::p;
use crate::rows::{micros, ts};
use crate::sql::{Dialect, Sql, SqlExt};
use jiff::Timestamp;
use suanpan_core::auth::LoginState;
use suanpan_core::{MerchantId, OperatorNo};

/// An operator's failure count and lock, locked (PostgreSQL) to the commit; `None` when the
/// operator has no row.
pub fn login_state(
    conn: &dyn Sql,
    merchant: &MerchantId,
    op: OperatorNo,
) -> Result<Option<LoginState>, StoreError> {
    conn.row(
        &format!(
            "SELECT failures, locked_until FROM operators WHERE merchant_id = ?1 AND operator_no = ?2{}",
            conn.dialect().lock_rows()
        ),
        p![merchant.as_str(), &op.to_string()],
        |r| {
            Ok(LoginState {
                failures: r.u32(0)?,
                locked_until: r.opt_i64(1)?.map(ts),
            })
        },
    )
}

/// Stores an operator's failure count and lock.
pub fn save_login_state(
    conn: &dyn Sql,
    merchant: &MerchantId,
    op: OperatorNo,
    state: &LoginState,
) -> Result<(), StoreError> {
    conn.exec(
        "UPDATE operators SET failures = ?1, locked_until = ?2 WHERE merchant_id = ?3 AND operator_no = ?4",
        p![state.failures, state.locked_until.map(micros), merchant.as_str(), &op.to_string()],
    )?;
    Ok(())
}

/// Sets an operator's password hash (creating the operator's row), clearing its failures
/// and lock. Returns the rows written.
pub fn set_password(
    conn: &dyn Sql,
    merchant: &MerchantId,
    op: OperatorNo,
    hash: &str,
    now: Timestamp,
) -> Result<u64, StoreError> {
    conn.exec(
        "INSERT INTO operators (merchant_id, operator_no, password_hash, changed_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (merchant_id, operator_no) DO UPDATE SET password_hash = ?3, changed_at = ?4, failures = 0, locked_until = NULL",
        p![merchant.as_str(), &op.to_string(), hash, micros(now)],
    )
}

/// PostgreSQL: locks the operator's row to the commit, so that an operator's daily void
/// count stays exact across nodes (their voids queue here). SQLite's one writer needs none.
pub fn lock(conn: &dyn Sql, merchant: &MerchantId, op: OperatorNo) -> Result<(), StoreError> {
    if conn.dialect() == Dialect::Postgres {
        conn.row(
            "SELECT 1 FROM operators WHERE merchant_id = ?1 AND operator_no = ?2 FOR UPDATE",
            p![merchant.as_str(), &op.to_string()],
            |r| r.i64(0),
        )?;
    }
    Ok(())
}
