//! The acquirer's terminals (终端管理, issue 14): the list with each terminal's merchant,
//! state and open batch, registering, assigning to a merchant and locking. The rules are the
//! core's (`decide_terminal_assign`, `decide_terminal_lock`); [`assign`] decides again inside
//! its transaction with the terminal locked, so a sale booked meanwhile cannot slip past the
//! settled-batch rule. A locked terminal is a disabled one (`terminals.enabled = 0`): the
//! 8583 host refuses it (`access.terminal_disabled`, `host::codes`).

use crate::error::StoreError;
use crate::rows::micros;
use crate::sql::{SqlExt, SqlRow};
use crate::{Store, p};
use suanpan_core::backoffice::{self, BackOfficeRefused, StaffRole};
use suanpan_core::{BatchNo, MerchantId, TerminalId};

/// A terminal as the acquirer's console lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetTerminal {
    /// 终端号 (8 characters).
    pub id: String,
    /// Its merchant.
    pub merchant_id: String,
    /// The merchant's name.
    pub merchant_name: String,
    /// Locked (disabled): refused on 8583.
    pub locked: bool,
    /// The open batch's number.
    pub batch_no: u32,
    /// Transactions in the open batch (0: settled, it may move).
    pub open_batch_txns: u64,
    /// A master key is loaded.
    pub has_tmk: bool,
}

fn fleet_from(r: &dyn SqlRow) -> Result<FleetTerminal, StoreError> {
    Ok(FleetTerminal {
        id: r.text(0)?,
        merchant_id: r.text(1)?,
        merchant_name: r.text(2)?,
        locked: !r.flag(3)?,
        batch_no: r
            .opt_i64(4)?
            .and_then(|b| u32::try_from(b).ok())
            .unwrap_or(0),
        open_batch_txns: u64::try_from(r.i64(5)?).unwrap_or(0),
        has_tmk: r.flag(6)?,
    })
}

const FLEET_SELECT: &str = "SELECT t.id, t.merchant_id, m.name, t.enabled, b.batch_no,
        (SELECT COUNT(*) FROM txns x WHERE x.batch_id = t.batch_id),
        CASE WHEN t.tmk_hex IS NULL THEN 0 ELSE 1 END
   FROM terminals t JOIN merchants m ON m.id = t.merchant_id
   LEFT JOIN batches b ON b.id = t.batch_id";

/// Every terminal, by id.
pub fn list<S: Store + ?Sized>(store: &S) -> Result<Vec<FleetTerminal>, StoreError> {
    crate::read(store, |c| {
        c.rows(&format!("{FLEET_SELECT} ORDER BY t.id"), p![], fleet_from)
    })
}

/// One terminal.
pub fn one<S: Store + ?Sized>(
    store: &S,
    id: &TerminalId,
) -> Result<Option<FleetTerminal>, StoreError> {
    crate::read(store, |c| {
        c.row(
            &format!("{FLEET_SELECT} WHERE t.id = ?1"),
            p![id.as_str()],
            fleet_from,
        )
    })
}

/// Registers a terminal of `merchant` with its first batch, audited as `actor`; `Ok(false)`:
/// the id is taken. Its master key is loaded with the CLI (`suanpan keys`).
pub fn register<S: Store + ?Sized>(
    store: &S,
    actor: &str,
    id: &TerminalId,
    merchant: &MerchantId,
) -> Result<bool, StoreError> {
    let now = store.now();
    crate::setup(store, |tx, head| {
        let added = tx
            .row(
                "INSERT INTO terminals (id, merchant_id, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO NOTHING RETURNING id",
                p![id.as_str(), merchant.as_str(), micros(now)],
                |r| r.text(0),
            )?
            .is_some();
        if added {
            crate::repo::terminals::open_batch(tx, id, BatchNo::FIRST, now)?;
            head.append(
                tx,
                micros(now),
                [
                    actor,
                    "terminal.add",
                    &format!("terminal:{id}"),
                    &format!("merchant={merchant}"),
                    "ok",
                ],
            )?;
        }
        Ok(added)
    })
}

/// Assigns terminal `id` to `merchant`, the core deciding again with the terminal locked.
/// `Ok(Ok(false))`: no such terminal or merchant.
pub fn assign<S: Store + ?Sized>(
    store: &S,
    actor: (&str, StaffRole),
    id: &TerminalId,
    merchant: &MerchantId,
) -> Result<Result<bool, BackOfficeRefused>, StoreError> {
    let now = micros(store.now());
    crate::setup(store, |tx, head| {
        let lock = tx.dialect().lock_rows();
        let Some((from, batch)) = tx.row(
            &format!("SELECT merchant_id, batch_id FROM terminals WHERE id = ?1{lock}"),
            p![id.as_str()],
            |r| Ok((r.text(0)?, r.opt_i64(1)?)),
        )?
        else {
            return Ok(Ok(false));
        };
        let Some(status) = tx.row(
            "SELECT status FROM merchants WHERE id = ?1",
            p![merchant.as_str()],
            |r| r.text(0),
        )?
        else {
            return Ok(Ok(false));
        };
        let count = tx.one(
            "SELECT COUNT(*) FROM txns WHERE batch_id = ?1",
            p![batch.unwrap_or(0)],
            |r| r.i64(0),
        )?;
        let count = u64::try_from(count).unwrap_or(0);
        if let Err(r) = backoffice::decide_terminal_assign(actor.1, count, &status) {
            return Ok(Err(r));
        }
        tx.exec(
            "UPDATE terminals SET merchant_id = ?1 WHERE id = ?2",
            p![merchant.as_str(), id.as_str()],
        )?;
        head.append(
            tx,
            now,
            [
                actor.0,
                "terminal.assign",
                &format!("terminal:{id}"),
                &format!("from={from} to={merchant}"),
                "ok",
            ],
        )?;
        Ok(Ok(true))
    })
}

/// Locks (`lock`) or unlocks a terminal, audited as `actor` with the reason; `Ok(false)`: no
/// such terminal.
pub fn set_locked<S: Store + ?Sized>(
    store: &S,
    actor: &str,
    id: &TerminalId,
    lock: bool,
    reason: &str,
) -> Result<bool, StoreError> {
    let now = micros(store.now());
    crate::setup(store, |tx, head| {
        let n = tx.exec(
            "UPDATE terminals SET enabled = ?1 WHERE id = ?2",
            p![!lock, id.as_str()],
        )?;
        if n > 0 {
            head.append(
                tx,
                now,
                [
                    actor,
                    if lock {
                        "terminal.lock"
                    } else {
                        "terminal.unlock"
                    },
                    &format!("terminal:{id}"),
                    reason,
                    "ok",
                ],
            )?;
        }
        Ok(n > 0)
    })
}

/// A terminal's pause as its merchant sees it (issue 13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PauseState {
    /// 终端号.
    pub id: String,
    /// Paused now: the host refuses its new money (58) until resumed.
    pub paused: bool,
    /// Who paused it (`web:<user>`).
    pub paused_by: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// When (micros).
    pub paused_at: Option<i64>,
}

/// The pause state of terminal `id` of `merchant` (`None`: no such terminal at it).
pub fn pause_state<S: Store + ?Sized>(
    store: &S,
    merchant: &MerchantId,
    id: &TerminalId,
) -> Result<Option<PauseState>, StoreError> {
    crate::read(store, |c| pause_state_in(c, merchant, id))
}

fn pause_state_in(
    c: &dyn crate::sql::Sql,
    merchant: &MerchantId,
    id: &TerminalId,
) -> Result<Option<PauseState>, StoreError> {
    c.row(
        "SELECT id, paused_at, paused_by, pause_reason FROM terminals WHERE id = ?1 AND merchant_id = ?2",
        p![id.as_str(), merchant.as_str()],
        |r| {
            let paused_at = r.opt_i64(1)?;
            Ok(PauseState {
                id: r.text(0)?,
                paused: paused_at.is_some(),
                paused_by: r.opt_text(2)?,
                reason: r.opt_text(3)?,
                paused_at,
            })
        },
    )
}

/// Pauses (`pause`) or resumes terminal `id` of `merchant` as `role`, audited as
/// `terminal.pause` / `terminal.resume` by `actor` with the reason; the core decides who may
/// and that a pause says why. `Ok(Ok(None))`: no such terminal at this merchant (another
/// merchant's terminal is answered as a missing one).
pub fn set_paused<S: Store + ?Sized>(
    store: &S,
    merchant: &MerchantId,
    id: &TerminalId,
    role: StaffRole,
    actor: &str,
    pause: bool,
    reason: &str,
) -> Result<Result<Option<PauseState>, BackOfficeRefused>, StoreError> {
    if let Err(r) = backoffice::decide_terminal_pause_change(role, pause, reason) {
        return Ok(Err(r));
    }
    let now = micros(store.now());
    let reason = reason.trim().to_owned();
    crate::setup(store, |tx, head| {
        let n = if pause {
            tx.exec(
                "UPDATE terminals SET paused_at = ?1, paused_by = ?2, pause_reason = ?3
                  WHERE id = ?4 AND merchant_id = ?5",
                p![now, actor, reason.as_str(), id.as_str(), merchant.as_str()],
            )?
        } else {
            tx.exec(
                "UPDATE terminals SET paused_at = NULL, paused_by = NULL, pause_reason = NULL
                  WHERE id = ?1 AND merchant_id = ?2",
                p![id.as_str(), merchant.as_str()],
            )?
        };
        if n == 0 {
            return Ok(Ok(None));
        }
        let action = if pause {
            "terminal.pause"
        } else {
            "terminal.resume"
        };
        head.append(
            tx,
            now,
            [actor, action, &format!("terminal:{id}"), &reason, "ok"],
        )?;
        Ok(Ok(pause_state_in(tx, merchant, id)?))
    })
}
