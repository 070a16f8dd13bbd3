//! Terminal master keys (TMK): loaded out of band, read by the 8583 host at sign-in.
//!
//! `terminals.tmk_hex` keeps each TMK only wrapped under the KEK (`w1:…`, identity
//! `tmk:<terminal id>`, see [`crate::keys`]); the column keeps its old name so that stores of
//! earlier builds migrate in place ([`migrate_clear_keys`]). A clear TMK exists only in
//! memory, in a zeroizing buffer, while a sign-in encrypts its working keys.

use crate::Store;
use crate::error::StoreError;
use crate::keys::{self, KeyProvider, Secret, is_held, is_wrapped};
use crate::p;
use crate::rows::micros;
use crate::sql::{Sql, SqlExt};
use crate::sqlite::SqliteStore;
use suanpan_core::TerminalId;
use zeroize::Zeroizing;

/// Hex digits of a double-length (16-byte) 3DES key.
pub const TMK_HEX_DIGITS: usize = 32;
/// The `meta` key naming the KEK the store's keys are wrapped under.
pub const META_KEK_ID: &str = "kek_id";

fn identity(id: &str) -> String {
    format!("tmk:{id}")
}

impl SqliteStore {
    /// Loads (or replaces) a terminal's master key; `tmk_hex` must be 32 hex digits. Audited
    /// without the key. Returns false when the terminal is unknown.
    pub fn set_terminal_tmk(&self, id: &TerminalId, tmk_hex: &str) -> Result<bool, StoreError> {
        set_terminal_tmk(self, id, tmk_hex)
    }

    /// A terminal's master key as hex, `None` when the terminal is unknown or has none.
    pub fn terminal_tmk(&self, id: &TerminalId) -> Result<Option<Zeroizing<String>>, StoreError> {
        Store::terminal_tmk(self, id)
    }
}

/// A terminal's master key as hex (unwrapped in memory), on either backend.
pub fn tmk_in(
    c: &dyn Sql,
    keys: &dyn KeyProvider,
    id: &TerminalId,
) -> Result<Option<Zeroizing<String>>, StoreError> {
    let Some(stored) = c
        .row(
            "SELECT tmk_hex FROM terminals WHERE id = ?1",
            p![id.as_str()],
            |r| r.opt_text(0),
        )?
        .flatten()
    else {
        return Ok(None);
    };
    let key = keys.unwrap(&identity(id.as_str()), &stored)?;
    Ok(Some(Zeroizing::new(hex::encode_upper(key.expose()))))
}

/// Parses and checks a TMK given as hex: 32 hex digits, not a weak key.
pub fn parse_tmk(tmk_hex: &str) -> Result<Secret, StoreError> {
    let tmk = tmk_hex.trim();
    if tmk.len() != TMK_HEX_DIGITS || !tmk.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(StoreError::Invalid(format!(
            "a terminal master key is {TMK_HEX_DIGITS} hex digits"
        )));
    }
    let key = Secret::new(hex::decode(tmk).map_err(|_| StoreError::Invalid("hex".into()))?);
    keys::check_des_key(key.expose()).map_err(|w| StoreError::WeakKey(w.reason().into()))?;
    Ok(key)
}

/// The wrapped form of a TMK for terminal `id`, after the weak-key check.
pub fn wrap_tmk(
    keys: &dyn KeyProvider,
    id: &TerminalId,
    tmk_hex: &str,
) -> Result<String, StoreError> {
    let key = parse_tmk(tmk_hex)?;
    keys.store_tmk(&identity(id.as_str()), key.expose())
}

/// Loads (or replaces) a terminal's master key on either backend (see
/// [`SqliteStore::set_terminal_tmk`]).
pub fn set_terminal_tmk<S: Store + ?Sized>(
    store: &S,
    id: &TerminalId,
    tmk_hex: &str,
) -> Result<bool, StoreError> {
    let wrapped = wrap_tmk(&**store.keys(), id, tmk_hex)?;
    let now = micros(store.now());
    crate::setup(store, |tx, head| {
        let n = tx.exec(
            "UPDATE terminals SET tmk_hex = ?1 WHERE id = ?2",
            p![&wrapped, id.as_str()],
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

/// A keyed digest of each terminal's TMK (HMAC under a key derived from the KEK), so that
/// terminals sharing a master key can be named without comparing or showing clear keys.
pub fn tmk_digests<S: Store + ?Sized>(store: &S) -> Result<Vec<(String, String)>, StoreError> {
    let keys = store.keys().clone();
    let purpose = keys.derive("tmk.digest")?;
    crate::read(store, |c| {
        let rows = c.rows(
            "SELECT id, tmk_hex FROM terminals WHERE tmk_hex IS NOT NULL ORDER BY id",
            p![],
            |r| Ok((r.text(0)?, r.text(1)?)),
        )?;
        rows.into_iter()
            .map(|(id, w)| {
                // A key held in the HSM is named by its full check value, computed there.
                let key = match keys.hsm() {
                    Some(hsm) if is_held(&w) => {
                        Secret::new(hsm.tmk_check(&identity(&id))?.to_vec())
                    }
                    _ => keys.unwrap(&identity(&id), &w)?,
                };
                Ok((
                    id,
                    keys::keyed_hash(&purpose, &[key.expose()])[..16].to_owned(),
                ))
            })
            .collect()
    })
}

/// Wraps every key an older store kept in clear (`terminals.tmk_hex`, back-office TOTP
/// secrets) and seals the upstream queue's clear frames, records which KEK the store's keys are under, and refuses another KEK. Runs on
/// every open; idempotent. Returns how many values it wrapped.
pub fn migrate_clear_keys<S: Store + ?Sized>(store: &S) -> Result<usize, StoreError> {
    let keys = store.keys().clone();
    let kek = keys.kek_id();
    crate::setup(store, |tx, _head| {
        let recorded = tx.row(
            "SELECT value FROM meta WHERE key = ?1",
            p![META_KEK_ID],
            |r| r.text(0),
        )?;
        match recorded {
            Some(id) if id != kek => {
                return Err(StoreError::KekMismatch {
                    wrapped_by: id,
                    given: kek.clone(),
                });
            }
            Some(_) => {}
            None => {
                tx.exec(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                    p![META_KEK_ID, &kek],
                )?;
            }
        }
        let clear = tx.rows(
            "SELECT id, tmk_hex FROM terminals WHERE tmk_hex IS NOT NULL",
            p![],
            |r| Ok((r.text(0)?, Zeroizing::new(r.text(1)?))),
        )?;
        let mut n = 0;
        for (id, value) in clear.iter().filter(|(_, v)| !is_wrapped(v) && !is_held(v)) {
            // An old store's key is wrapped as it is (not re-checked for weakness: refusing
            // it here would lock the terminal out; `admin terminal list` names weak ones).
            let bytes = Secret::new(
                hex::decode(value.trim())
                    .map_err(|_| StoreError::Key(format!("terminal {id}: tmk_hex is not hex")))?,
            );
            let wrapped = keys.wrap(&identity(id), bytes.expose())?;
            tx.exec(
                "UPDATE terminals SET tmk_hex = ?1 WHERE id = ?2",
                p![&wrapped, id.as_str()],
            )?;
            n += 1;
        }
        // The upstream queue's frames (card numbers in field 2) an older build kept in hex.
        n += crate::repo::upstream::seal_clear_frames(tx, &*keys)?;
        Ok(n)
    })
    .and_then(|n| {
        // The back-office's TOTP secrets, where its tables exist.
        let backoffice = crate::read(store, |c| {
            c.row(
                "SELECT value FROM meta WHERE key = 'backoffice_schema_version'",
                p![],
                |r| r.text(0),
            )
        })?;
        let totp = match backoffice {
            Some(_) => crate::backoffice::wrap_clear_totp(store)?,
            None => 0,
        };
        Ok(n + totp)
    })
}

/// Re-wraps every stored key under `to` (`keys rotate-kek`): each value is unwrapped under
/// whichever of `from` (and `to`, for a rotation run again) wrapped it, in one transaction,
/// and the store then names `to` as its KEK. Offered-but-unenrolled TOTP secrets are
/// dropped (the next login offers a new one). Needs the back-office tables. Returns how many
/// keys were re-wrapped.
pub fn rewrap_all<S: Store + ?Sized>(
    store: &S,
    from: &[&dyn KeyProvider],
    to: &dyn KeyProvider,
) -> Result<usize, StoreError> {
    let pick = |value: &str| -> Result<&dyn KeyProvider, StoreError> {
        let id = keys::wrapped_kek_id(value).unwrap_or_default();
        from.iter()
            .copied()
            .chain(std::iter::once(to))
            .find(|k| k.kek_id() == id)
            .ok_or_else(|| StoreError::KekMismatch {
                wrapped_by: id.to_owned(),
                given: to.kek_id(),
            })
    };
    let target = to.kek_id();
    crate::setup(store, |tx, _| {
        let mut n = 0;
        let tmks = tx.rows(
            "SELECT id, tmk_hex FROM terminals WHERE tmk_hex IS NOT NULL",
            p![],
            |r| Ok((r.text(0)?, r.text(1)?)),
        )?;
        for (id, w) in &tmks {
            if is_held(w) {
                // A TMK in the HSM stays there: it can move to no other provider.
                if to.hsm().is_some() && keys::wrapped_kek_id(w) == Some(target.as_str()) {
                    continue;
                }
                return Err(StoreError::Key(format!(
                    "terminal {id}: its master key is held in the HSM and cannot be exported; \
                     load it again with admin terminal set-tmk under the new provider"
                )));
            }
            let clear = pick(w)?.unwrap(&identity(id), w)?;
            let again = to.store_tmk(&identity(id), clear.expose())?;
            tx.exec(
                "UPDATE terminals SET tmk_hex = ?1 WHERE id = ?2",
                p![&again, id.as_str()],
            )?;
            n += 1;
        }
        let totps = tx.rows(
            "SELECT id, totp_secret FROM staff WHERE totp_secret IS NOT NULL",
            p![],
            |r| Ok((r.i64(0)?, r.text(1)?)),
        )?;
        for (id, w) in &totps {
            let who = format!("totp:staff:{id}");
            let clear = pick(w)?.unwrap(&who, w)?;
            let again = to.wrap(&who, clear.expose())?;
            tx.exec(
                "UPDATE staff SET totp_secret = ?1 WHERE id = ?2",
                p![&again, *id],
            )?;
            n += 1;
        }
        n += crate::onboarding::rewrap_accounts(tx, &pick, to)?;
        // A key ceremony half done starts again under the new KEK: its first component is
        // dropped rather than carried over (it lives minutes, and its custodian is at hand).
        tx.exec("DELETE FROM tmk_components", p![])?;
        n += crate::notify::rewrap_secrets(tx, &pick, to)?;
        n += crate::repo::upstream::rewrap_frames(tx, &pick, to)?;
        tx.exec(
            "UPDATE staff_sessions SET totp_pending_secret = NULL WHERE totp_pending_secret IS NOT NULL",
            p![],
        )?;
        tx.exec(
            "UPDATE meta SET value = ?1 WHERE key = ?2",
            p![&target, META_KEK_ID],
        )?;
        Ok(n)
    })
}

/// The identity a first TMK component is wrapped under.
fn component_identity(id: &str) -> String {
    format!("tmkc:{id}")
}

/// A first key component waiting for the second (dual control, issue 14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingComponent {
    /// Its check value (KCV, 6 hex digits).
    pub check_value: String,
    /// Who entered it: (staff id, username).
    pub entered_by: (i64, String),
    /// When (Unix µs).
    pub entered_at: i64,
}

/// The first component waiting for terminal `id`, if any.
pub fn pending_component<S: Store + ?Sized>(
    store: &S,
    id: &TerminalId,
) -> Result<Option<PendingComponent>, StoreError> {
    crate::read(store, |c| {
        c.row(
            "SELECT k.check_value, k.entered_by, s.username, k.entered_at FROM tmk_components k
             JOIN staff s ON s.id = k.entered_by WHERE k.terminal_id = ?1",
            p![id.as_str()],
            |r| {
                Ok(PendingComponent {
                    check_value: r.text(0)?,
                    entered_by: (r.i64(1)?, r.text(2)?),
                    entered_at: r.i64(3)?,
                })
            },
        )
    })
}

/// The first component's clear bytes, for the second custodian's combination only.
pub fn component_clear<S: Store + ?Sized>(
    store: &S,
    id: &TerminalId,
) -> Result<Option<Secret>, StoreError> {
    let wrapped = crate::read(store, |c| {
        c.row(
            "SELECT component FROM tmk_components WHERE terminal_id = ?1",
            p![id.as_str()],
            |r| r.text(0),
        )
    })?;
    wrapped
        .map(|w| store.keys().unwrap(&component_identity(id.as_str()), &w))
        .transpose()
}

/// Keeps the first component of a TMK (wrapped under the KEK) with its check value; one
/// left waiting (the ceremony abandoned, or expired) is replaced. Audited without key
/// material. False when the terminal is unknown.
pub fn put_component<S: Store + ?Sized>(
    store: &S,
    user: &crate::backoffice::StaffUser,
    id: &TerminalId,
    component: &[u8],
    check_value: &str,
) -> Result<bool, StoreError> {
    let wrapped = store
        .keys()
        .wrap(&component_identity(id.as_str()), component)?;
    let now = micros(store.now());
    crate::setup(store, |tx, head| {
        let known = tx.one(
            "SELECT COUNT(*) FROM terminals WHERE id = ?1",
            p![id.as_str()],
            |r| r.i64(0),
        )?;
        if known == 0 {
            return Ok(false);
        }
        tx.exec(
            "DELETE FROM tmk_components WHERE terminal_id = ?1",
            p![id.as_str()],
        )?;
        tx.exec(
            "INSERT INTO tmk_components (terminal_id, component, check_value, entered_by, entered_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            p![id.as_str(), &wrapped, check_value, user.id, now],
        )?;
        head.append(
            tx,
            now,
            [
                &crate::backoffice::actor(&user.username),
                "terminal.tmk_component",
                &format!("terminal:{id}"),
                "",
                &format!("component 1 kcv:{check_value}"),
            ],
        )?;
        Ok(true)
    })
}

/// Loads the TMK the second custodian combined, if the first component that was combined
/// (entered by `first_by`) still waits: the component row goes, the key is stored as
/// `admin terminal set-tmk` stores it, and the audit names both custodians and the key's
/// check value. False when the component is gone meanwhile (another combination, a
/// restart of the ceremony): nothing changes then.
pub fn load_combined<S: Store + ?Sized>(
    store: &S,
    user: &crate::backoffice::StaffUser,
    id: &TerminalId,
    first_by: &str,
    first_by_id: i64,
    tmk_hex: &str,
    check_value: &str,
) -> Result<bool, StoreError> {
    let wrapped = wrap_tmk(&**store.keys(), id, tmk_hex)?;
    let now = micros(store.now());
    crate::setup(store, |tx, head| {
        let n = tx.exec(
            "DELETE FROM tmk_components WHERE terminal_id = ?1 AND entered_by = ?2",
            p![id.as_str(), first_by_id],
        )?;
        if n == 0 {
            return Ok(false);
        }
        tx.exec(
            "UPDATE terminals SET tmk_hex = ?1 WHERE id = ?2",
            p![&wrapped, id.as_str()],
        )?;
        head.append(
            tx,
            now,
            [
                &crate::backoffice::actor(&user.username),
                "terminal.set_tmk",
                &format!("terminal:{id}"),
                "",
                &format!(
                    "dual control: component 1 by {first_by}, component 2 by {} kcv:{check_value}",
                    user.username
                ),
            ],
        )?;
        Ok(true)
    })
}
