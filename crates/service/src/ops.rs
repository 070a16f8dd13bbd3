//! Operations (运维): backups made and verified on request, and the purge of records past
//! retention, for the acquirer's admins and the CLI.
//!
//! [`purge`] is the one purge of the CLI (`suanpan txn purge`) and the back-office: the
//! retention rule (`core::rules::decide_purge`) first — a purge it refuses makes no backup
//! and is audited —, then a backup, then `Command::Purge`, where the engine's use case
//! ([`crate::records::purge`]) decides again. [`purge_as_staff`] puts the back-office's own
//! rule in front of it (`core::backoffice::decide_purge_request`: an admin, the password
//! re-entered, a reason). A backup over the back-office ([`make`]) waits for no one: one runs
//! at a time per process ([`BackupGate`]) and not within the configured interval of the last;
//! restoring is refused ([`restore`]): the server would have to stop first. Every step and
//! every refusal is audited as the acting user. The functions block (a backup copies the
//! store): adapters call them on a blocking thread.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use suanpan_core::backoffice::{self, PurgeRequest};
use suanpan_core::{MerchantId, OperatorNo, Refusal};
use suanpan_store::backoffice::{Backoffice, StaffUser, actor};
use suanpan_store::backup::{self, BackupInfo, Manifest, Sources};
use suanpan_store::command::{Purge, RecordRefusal};
use suanpan_store::{AskExt, Counted, Store, StoreError};

/// Why an operation did not do what it was asked (each audited, see the functions).
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// A rule refused: the back-office's purge request, or the retention rule.
    #[error("refused: {}", .0.key())]
    Refused(Box<dyn Refusal + Send>),
    /// Another backup or purge of this process is running.
    #[error("a backup is running")]
    Running,
    /// The last backup over the back-office is more recent than the interval allows.
    #[error("the last backup is too recent; wait {wait_seconds} s")]
    TooSoon {
        /// Seconds until a backup is allowed.
        wait_seconds: i64,
    },
    /// No backup of that name in the backup folder.
    #[error("backup not found")]
    NotFound,
    /// Restores run from the CLI with the server stopped; `file` is the backup's path as
    /// the command should name it.
    #[error("restore from the CLI")]
    RestoreCliOnly {
        /// The path to give `suanpan backup restore`.
        file: String,
    },
    /// The store, the backup tool or the backup itself failed (see [`failure_key`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The key an operation's storage failure is audited under (`refused:KEY`): the key of the
/// error the operator is shown — a missing `pg_dump` and a failed verification are theirs to
/// fix, the rest is the store's.
pub fn failure_key(e: &StoreError) -> &'static str {
    match e {
        StoreError::ToolMissing(_) => "backup.tool_missing",
        StoreError::BackupInvalid(_) => "backup.invalid",
        StoreError::Busy => "store.busy",
        StoreError::TimedOut(_) => "store.timed_out",
        StoreError::Invalid(_) => "input.invalid",
        _ => "store.error",
    }
}

/// One backup or purge at a time per process, and when the last back-office backup was
/// made (for the interval).
#[derive(Debug, Default)]
pub struct BackupGate {
    last: Mutex<Option<jiff::Timestamp>>,
}

impl BackupGate {
    /// A gate with no backup made yet.
    pub fn new() -> BackupGate {
        BackupGate::default()
    }
}

/// Audits an operation's event as `user`.
fn audit(
    store: &dyn Store,
    user: &StaffUser,
    action: &str,
    target: &str,
    outcome: &str,
) -> Result<(), OpsError> {
    Ok(store.record_staff_event(&user.username, action, target, outcome)?)
}

/// Audits a refusal (`refused:KEY`) and hands back `e`.
fn refused(
    store: &dyn Store,
    user: &StaffUser,
    action: &str,
    target: &str,
    key: &str,
    e: OpsError,
) -> OpsError {
    match audit(store, user, action, target, &format!("refused:{key}")) {
        Ok(()) => e,
        Err(audit_failed) => audit_failed,
    }
}

/// The backups in `dir`, newest first.
pub fn backups(dir: &Path) -> Result<Vec<BackupInfo>, OpsError> {
    Ok(backup::list(dir)?)
}

/// The backup named `name` in `dir` as listed.
fn listed(dir: &Path, name: &str) -> Result<Option<BackupInfo>, OpsError> {
    Ok(backups(dir)?.into_iter().find(|b| b.name == name))
}

/// A backup made: its file, its manifest and how the list shows it (`None` if it vanished
/// in between: someone removed it).
#[derive(Debug)]
pub struct Made {
    /// The backup file.
    pub file: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// As [`backups`] lists it.
    pub info: Option<BackupInfo>,
}

/// Makes a backup into `out` as `user` now, unless one is running or the last one made
/// here is more recent than `interval_seconds`.
pub fn make(
    store: &dyn Store,
    user: &StaffUser,
    gate: &BackupGate,
    src: &Sources<'_>,
    out: &Path,
    interval_seconds: i64,
) -> Result<Made, OpsError> {
    const ACTION: &str = "backup.create";
    let mut last = match gate.last.try_lock() {
        Ok(last) => last,
        // Poisoned only by a backup that panicked: its time is still right.
        Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => {
            let key = "backup.running";
            return Err(refused(
                store,
                user,
                ACTION,
                "backups",
                key,
                OpsError::Running,
            ));
        }
    };
    let now = store.now();
    if let Some(at) = *last {
        let wait_seconds = interval_seconds - now.duration_since(at).as_secs();
        if wait_seconds > 0 {
            let e = OpsError::TooSoon { wait_seconds };
            return Err(refused(
                store,
                user,
                ACTION,
                "backups",
                "backup.too_soon",
                e,
            ));
        }
    }
    let (file, manifest) = match backup::create(store, src, out, now) {
        Ok(m) => m,
        Err(e) => {
            let key = failure_key(&e);
            return Err(refused(store, user, ACTION, "backups", key, e.into()));
        }
    };
    *last = Some(now);
    drop(last);
    let target = format!("backup:{}", manifest.file);
    audit(
        store,
        user,
        ACTION,
        &target,
        &format!("ok:{}", manifest.sha256),
    )?;
    let info = listed(out, &manifest.file)?;
    Ok(Made {
        file,
        manifest,
        info,
    })
}

/// Verifies backup `name` of `dir` (its manifest, every file's SHA-256, the copy itself)
/// under the KEKs of `data_dir`, keeps the outcome beside it and audits it (`ok`, or
/// `invalid:` and what was wrong). Returns the backup as listed after.
pub fn verify(
    store: &dyn Store,
    user: &StaffUser,
    data_dir: &Path,
    dir: &Path,
    name: &str,
) -> Result<BackupInfo, OpsError> {
    const ACTION: &str = "backup.verify";
    let target = format!("backup:{name}");
    let file = match backup::file_named(dir, name) {
        Ok(f) if f.is_file() => f,
        _ => {
            let key = "backup.not_found";
            return Err(refused(
                store,
                user,
                ACTION,
                &target,
                key,
                OpsError::NotFound,
            ));
        }
    };
    // The current KEK and the retired ones beside its file.
    let ring = backup::Keyring::for_store(store, data_dir);
    let checked = backup::verify_and_record(&file, &ring, store.now());
    let outcome = match &checked {
        Ok(_) => "ok".to_owned(),
        Err(StoreError::BackupInvalid(why)) => format!("invalid:{why}"),
        Err(e) => format!("invalid:{}", failure_key(e)),
    };
    audit(store, user, ACTION, &target, &outcome)?;
    checked?;
    listed(dir, name)?.ok_or(OpsError::NotFound)
}

/// Restoring over the back-office: always refused and audited (the server must be stopped,
/// then `suanpan backup restore FILE --force` run on the host).
pub fn restore(store: &dyn Store, user: &StaffUser, dir: &Path, name: &str) -> OpsError {
    let file = backup::file_named(dir, name)
        .map(|f| f.display().to_string())
        .unwrap_or_else(|_| "FILE".into());
    let e = OpsError::RestoreCliOnly { file };
    let target = format!("backup:{name}");
    refused(
        store,
        user,
        "backup.restore",
        &target,
        "backup.restore_cli_only",
        e,
    )
}

/// What a purge asks: the merchant's records created before `before`.
#[derive(Debug, Clone)]
pub struct PurgeOrder {
    /// The merchant.
    pub merchant_id: MerchantId,
    /// The acting operator (the admin, 99: the rule is theirs).
    pub actor: OperatorNo,
    /// Records created before this moment.
    pub before: jiff::Timestamp,
    /// Why (audited).
    pub reason: String,
    /// Who the audit trail names instead of `merchant/actor` (a back-office user).
    pub audit_as: Option<String>,
}

/// A purge done: rows deleted and the backup made just before.
#[derive(Debug, Clone)]
pub struct Purged {
    /// Journal rows deleted.
    pub rows: u64,
    /// The backup file.
    pub backup: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
}

/// Purges past retention after a backup, for the CLI and the back-office alike: asks the
/// rule first (a purge the rule refuses makes no backup; the refusal is audited), backs up
/// into `out_dir`, then sends `Command::Purge`, where the engine decides again. A failed
/// backup purges nothing.
pub fn purge(
    store: &dyn Store,
    src: &Sources<'_>,
    out_dir: &Path,
    order: PurgeOrder,
) -> Result<Result<Purged, Box<dyn Refusal + Send>>, StoreError> {
    let who = order
        .audit_as
        .clone()
        .unwrap_or_else(|| format!("{}/{}", order.merchant_id, order.actor));
    let decided =
        suanpan_core::rules::decide_purge(order.actor, order.before, store.policy(), store.now());
    if let Err(r) = decided {
        store.ask(RecordRefusal {
            actor: who,
            action: "purge".into(),
            target: format!("before:{}", order.before),
            key: r.key().into(),
        })?;
        return Ok(Err(Box::new(r)));
    }
    let (backup, manifest) = backup::create(store, src, out_dir, store.now())?;
    let reply = store.ask(Purge {
        merchant_id: order.merchant_id,
        actor: order.actor,
        before: order.before,
        backup: manifest.file.clone(),
        reason: order.reason,
        audit_as: order.audit_as,
    })?;
    match reply {
        Counted::Refused(r) => Ok(Err(r)),
        Counted::Done(rows) => Ok(Ok(Purged {
            rows,
            backup,
            manifest,
        })),
    }
}

/// A back-office purge as the adapter parsed it (the password already checked by the
/// adapter's login rules: rate limit and lockout).
#[derive(Debug, Clone)]
pub struct StaffPurge {
    /// Whose records.
    pub merchant: MerchantId,
    /// Records created before this moment go.
    pub before: jiff::Timestamp,
    /// The acting user's password was right.
    pub password_ok: bool,
    /// Why (trimmed here).
    pub reason: String,
}

/// A back-office user's purge: the back-office's rule (an admin, the password, a reason),
/// then, waiting for a running backup, [`purge`] as the admin operator (99) with the user
/// named in the audit trail. A refusal or a failed backup is audited on `before:…`.
pub fn purge_as_staff(
    store: &dyn Store,
    user: &StaffUser,
    gate: &BackupGate,
    src: &Sources<'_>,
    out_dir: &Path,
    p: StaffPurge,
) -> Result<Purged, OpsError> {
    let target = format!("before:{}", p.before);
    let reason = p.reason.trim().to_owned();
    let asked = PurgeRequest {
        role: user.role,
        password_ok: p.password_ok,
        reason: &reason,
    };
    if let Err(r) = backoffice::decide_purge_request(&asked) {
        let key = r.key().to_owned();
        let e = OpsError::Refused(Box::new(r));
        return Err(refused(store, user, "purge", &target, &key, e));
    }
    // One backup or purge at a time; a purge waits for a running backup. A poisoned gate
    // only means a backup panicked: its time is still right.
    let _running = gate.last.lock().unwrap_or_else(|e| e.into_inner());
    let order = PurgeOrder {
        merchant_id: p.merchant,
        // The retention rule is the admin operator's (99); the back-office user acts as it.
        actor: OperatorNo::ADMIN,
        before: p.before,
        reason,
        audit_as: Some(actor(&user.username)),
    };
    match purge(store, src, out_dir, order) {
        // No backup (pg_dump missing, disk full…): nothing was purged.
        Err(e) => {
            let key = failure_key(&e);
            Err(refused(store, user, "purge", &target, key, e.into()))
        }
        // Refused by the retention rule: audited by `purge`, no backup made.
        Ok(Err(r)) => Err(OpsError::Refused(r)),
        Ok(Ok(done)) => Ok(done),
    }
}
