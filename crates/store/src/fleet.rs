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
    /// Its last accepted sign-in (签到), when it ever signed in on this store.
    pub last_sign_in: Option<SignIn>,
}

/// A terminal's sign-in as the host saw it: what the 0800 carries about the terminal itself
/// is its header's software version and terminal status digit (the CUPS profile has no
/// other version field), and the operator in field 63.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignIn {
    /// When (Unix µs).
    pub at: i64,
    /// The operator who signed in (00–99).
    pub operator: suanpan_core::OperatorNo,
    /// The header's software version, two digits (`22` in this profile).
    pub software_version: u8,
    /// The header's terminal status digit: 0 normal, 1 training (培训模式).
    pub terminal_status: u8,
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
        last_sign_in: match r.opt_i64(7)? {
            None => None,
            Some(at) => Some(SignIn {
                at,
                operator: suanpan_core::OperatorNo::parse(&r.text(8)?)
                    .map_err(|_| StoreError::Invalid("sign-in operator".into()))?,
                software_version: small(r.i64(9)?)?,
                terminal_status: small(r.i64(10)?)?,
            }),
        },
    })
}

impl SignIn {
    /// The terminal said it is in training mode (培训模式: status digit 1, as
    /// `iso8583::frame::Header::TRAINING`).
    pub fn is_training(&self) -> bool {
        self.terminal_status == 1
    }
}

fn small(v: i64) -> Result<u8, StoreError> {
    u8::try_from(v).map_err(|_| StoreError::Invalid(format!("sign-in header digit {v}")))
}

const FLEET_SELECT: &str = "SELECT t.id, t.merchant_id, m.name, t.enabled, b.batch_no,
        (SELECT COUNT(*) FROM txns x WHERE x.batch_id = t.batch_id),
        CASE WHEN t.tmk_hex IS NULL THEN 0 ELSE 1 END,
        s.signed_in_at, s.operator_no, s.software_version, s.terminal_status
   FROM terminals t JOIN merchants m ON m.id = t.merchant_id
   LEFT JOIN batches b ON b.id = t.batch_id
   LEFT JOIN terminal_sign_ins s ON s.terminal_id = t.id";

/// Records terminal `id`'s accepted sign-in, replacing the one before. The host calls it
/// once the sign-in's MAC proved the terminal; a sign-in is rare (once a shift), so one
/// write per sign-in costs nothing beside the keys it issues.
pub fn record_sign_in<S: Store + ?Sized>(
    store: &S,
    id: &TerminalId,
    s: &SignIn,
) -> Result<(), StoreError> {
    crate::setup(store, |tx, _| {
        tx.exec(
            "INSERT INTO terminal_sign_ins (terminal_id, signed_in_at, operator_no, software_version, terminal_status)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (terminal_id) DO UPDATE SET signed_in_at = excluded.signed_in_at,
                 operator_no = excluded.operator_no, software_version = excluded.software_version,
                 terminal_status = excluded.terminal_status",
            p![id.as_str(), s.at, s.operator.to_string().as_str(), i64::from(s.software_version), i64::from(s.terminal_status)],
        )?;
        Ok(())
    })
}

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
    /// The acquirer locked it (`enabled` off): it refuses everything, paused or not.
    pub locked: bool,
}

/// The pause state of terminal `id` of `merchant` (`None`: no such terminal at it).
pub fn pause_state<S: Store + ?Sized>(
    store: &S,
    merchant: &MerchantId,
    id: &TerminalId,
) -> Result<Option<PauseState>, StoreError> {
    crate::read(store, |c| pause_state_in(c, merchant, id))
}

/// The columns [`pause_row`] reads.
const PAUSE_SELECT: &str =
    "SELECT id, paused_at, paused_by, pause_reason, enabled FROM terminals WHERE merchant_id = ?1";

fn pause_row(r: &dyn SqlRow) -> Result<PauseState, StoreError> {
    let paused_at = r.opt_i64(1)?;
    Ok(PauseState {
        id: r.text(0)?,
        paused: paused_at.is_some(),
        paused_by: r.opt_text(2)?,
        reason: r.opt_text(3)?,
        paused_at,
        locked: !r.flag(4)?,
    })
}

fn pause_state_in(
    c: &dyn crate::sql::Sql,
    merchant: &MerchantId,
    id: &TerminalId,
) -> Result<Option<PauseState>, StoreError> {
    c.row(
        &format!("{PAUSE_SELECT} AND id = ?2"),
        p![merchant.as_str(), id.as_str()],
        pause_row,
    )
}

/// Every terminal of `merchant` with its pause, by terminal id (the merchant's terminals
/// page, where its supervisor pauses and resumes them).
pub fn pause_states<S: Store + ?Sized>(
    store: &S,
    merchant: &MerchantId,
) -> Result<Vec<PauseState>, StoreError> {
    crate::read(store, |c| {
        c.rows(
            &format!("{PAUSE_SELECT} ORDER BY id"),
            p![merchant.as_str()],
            pause_row,
        )
    })
}

/// Writes the pause (`pause`) or the resumption of terminal `id` of `merchant`, audited as
/// `terminal.pause` / `terminal.resume` by `actor` with the reason. Persistence only: who
/// may and that a pause says why is decided first by `service::pause::change`. `Ok(None)`:
/// no such terminal at this merchant (another merchant's terminal is answered as a missing
/// one).
pub fn write_pause<S: Store + ?Sized>(
    store: &S,
    merchant: &MerchantId,
    id: &TerminalId,
    actor: &str,
    pause: bool,
    reason: &str,
) -> Result<Option<PauseState>, StoreError> {
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
            return Ok(None);
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
        pause_state_in(tx, merchant, id)
    })
}
