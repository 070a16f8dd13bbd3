//! Operations (运维): backups and the purge of records past retention, for admins. A backup
//! here is the CLI's (`store::backup::create`: the database by SQLite's online backup or
//! `pg_dump`, the PAN key, the evidence files, a manifest), run on the blocking pool so the
//! server keeps answering; a purge is the CLI's too (`store::backup::purge`: the retention
//! rule, a backup, then the engine's purge). Restoring stays with the CLI: the server would
//! have to stop first, so the API refuses it and names the command.

use crate::auth::{Caller, blocking};
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::state::AppState;
use crate::view::When;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use suanpan_core::backoffice::{self, Permission, PurgeRequest};
use suanpan_core::{Lang, OperatorNo};
use suanpan_store::backoffice::{Backoffice, actor};
use suanpan_store::backup::{self, BackupInfo, PurgeOrder, Sources};
use suanpan_store::{Store, StoreError};

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/v1/backups", get(list_backups).post(create_backup))
        .route("/api/v1/backups/{name}/verify", post(verify_backup))
        .route("/api/v1/backups/{name}/restore", post(restore_backup))
        .route("/api/v1/purge", post(purge))
}

/// A backup as the API shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct BackupView {
    /// File name (`suanpan-<stamp>.db`, or `.dump` on PostgreSQL): the id in the paths.
    pub name: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// When it was made.
    pub created_at: Option<When>,
    /// Bytes: the database copy and the evidence files.
    pub bytes: u64,
    /// The same, for people (`1.2 MB`).
    pub size: String,
    /// Evidence files in it.
    pub evidence_files: usize,
    /// Journal rows in it.
    pub transactions: Option<i64>,
    /// False when it was never finished (no manifest).
    pub complete: bool,
    /// The last verification: `true` passed, `false` failed, absent: never verified.
    pub verified: Option<bool>,
    /// When it was last verified.
    pub verified_at: Option<When>,
    /// What the last verification found wrong.
    pub problem: Option<String>,
}

fn when(state: &AppState, rfc3339: &str) -> Option<When> {
    rfc3339
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| When::of(state.store().policy(), t))
}

/// Bytes for people, in powers of 1024 with one decimal.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut tenths = bytes.saturating_mul(10) / 1024;
    let mut unit = 0;
    while tenths >= 10 * 1024 && unit + 1 < UNITS.len() {
        tenths /= 1024;
        unit += 1;
    }
    format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
}

impl BackupView {
    fn of(state: &AppState, b: BackupInfo) -> BackupView {
        let checked = b.checked.as_ref();
        BackupView {
            created_at: b.created_at.as_deref().and_then(|t| when(state, t)),
            size: human_size(b.bytes),
            verified: checked.map(|c| c.ok),
            verified_at: checked.and_then(|c| when(state, &c.at)),
            problem: checked.and_then(|c| c.problem.clone()),
            backend: b.backend.to_owned(),
            bytes: b.bytes,
            evidence_files: b.evidence_files,
            transactions: b.transactions,
            complete: b.complete,
            name: b.name,
        }
    }
}

/// A backup failure as the API answers it: a missing `pg_dump` or a failed verification is
/// the operator's to fix and says what; anything else is a storage error.
fn backup_error(lang: Lang, e: StoreError) -> ApiError {
    match e {
        StoreError::ToolMissing(tool) => {
            ApiError::new(StatusCode::CONFLICT, lang, "backup.tool_missing", &[tool])
        }
        StoreError::BackupInvalid(why) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            lang,
            "backup.invalid",
            &[why],
        ),
        e => ApiError::store(lang, e),
    }
}

/// Runs backup work on the blocking pool, answering its failures with [`backup_error`].
async fn backup_blocking<T: Send + 'static>(
    lang: Lang,
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    match blocking(lang, move || Ok(f())).await? {
        Ok(v) => Ok(v),
        Err(e) => Err(backup_error(lang, e)),
    }
}

/// Runs `job` on the blocking pool with the store, what a backup copies besides it, and the
/// backup folder.
async fn backup_job<T: Send + 'static>(
    state: &AppState,
    lang: Lang,
    job: impl FnOnce(&dyn Store, &Sources<'_>, &std::path::Path) -> Result<T, StoreError>
    + Send
    + 'static,
) -> Result<T, ApiError> {
    let (store, data_dir, evidence_dir, out) = (
        state.store().clone(),
        state.data_dir().to_path_buf(),
        state.evidence_dir().to_path_buf(),
        state.backup_dir().to_path_buf(),
    );
    backup_blocking(lang, move || {
        let src = Sources {
            data_dir: &data_dir,
            evidence_dir: &evidence_dir,
        };
        job(&*store, &src, &out)
    })
    .await
}

/// Audits a back-office event about a backup or a purge.
async fn audit(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    target: String,
    outcome: String,
) -> Result<(), ApiError> {
    let (store, who) = (state.store().clone(), caller.user.username.clone());
    blocking(caller.lang, move || {
        store.record_staff_event(&who, action, &target, &outcome)
    })
    .await
}

/// Audits a refusal and hands it back.
async fn refused(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    target: String,
    e: ApiError,
) -> ApiError {
    match audit(state, caller, action, target, format!("refused:{}", e.code)).await {
        Ok(()) => e,
        Err(audit_failed) => audit_failed,
    }
}

/// The backups in the backup folder, newest first.
pub async fn backups(state: &AppState, caller: &Caller) -> Result<Vec<BackupView>, ApiError> {
    caller.require(Permission::ManageBackups)?;
    let dir = state.backup_dir().to_path_buf();
    let rows = blocking(caller.lang, move || backup::list(&dir)).await?;
    Ok(rows.into_iter().map(|b| BackupView::of(state, b)).collect())
}

/// Backups with their time, size and last verification (admins).
#[utoipa::path(get, path = "/api/v1/backups", tag = "operations",
    responses((status = 200, body = Vec<BackupView>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list_backups(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<BackupView>>, ApiError> {
    Ok(Json(backups(&state, &caller).await?))
}

/// Makes a backup now, unless one is running or the last API backup is too recent.
pub async fn make(state: &AppState, caller: &Caller) -> Result<BackupView, ApiError> {
    caller.require(Permission::ManageBackups)?;
    let lang = caller.lang;
    let Ok(mut last) = state.backups().try_lock() else {
        let e = ApiError::new(StatusCode::CONFLICT, lang, "backup.running", &[]);
        return Err(refused(state, caller, "backup.create", "backups".into(), e).await);
    };
    let now = state.store().now();
    let interval = i64::from(state.cfg().backup_interval_seconds_min);
    if let Some(at) = *last {
        let wait = interval - now.duration_since(at).as_secs();
        if wait > 0 {
            let e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                lang,
                "backup.too_soon",
                &[wait.to_string()],
            );
            return Err(refused(state, caller, "backup.create", "backups".into(), e).await);
        }
    }
    let made = backup_job(state, lang, move |store, src, out| {
        backup::create(store, src, out, now)
    })
    .await;
    let (file, manifest) = match made {
        Ok(m) => m,
        Err(e) => return Err(refused(state, caller, "backup.create", "backups".into(), e).await),
    };
    *last = Some(now);
    drop(last);
    audit(
        state,
        caller,
        "backup.create",
        format!("backup:{}", manifest.file),
        format!("ok:{}", manifest.sha256),
    )
    .await?;
    let dir = state.backup_dir().to_path_buf();
    let name = manifest.file.clone();
    let info = blocking(lang, move || {
        backup::list(&dir).map(|all| all.into_iter().find(|b| b.name == name))
    })
    .await?;
    info.map(|b| BackupView::of(state, b)).ok_or_else(|| {
        tracing::error!("backup {} vanished after it was made", file.display());
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, lang, "store.error", &[])
    })
}

/// Backs up the store, the PAN key and the evidence files into the backup folder (admins).
/// On PostgreSQL this runs `pg_dump`; where it is not installed the answer is 409.
#[utoipa::path(post, path = "/api/v1/backups", tag = "operations",
    responses((status = 201, body = BackupView), (status = 403, body = ApiError),
        (status = 409, body = ApiError, description = "a backup is running, or pg_dump is not installed"),
        (status = 429, body = ApiError, description = "the last backup is more recent than backup_interval_seconds_min")))]
pub async fn create_backup(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<(StatusCode, Json<BackupView>), ApiError> {
    Ok((StatusCode::CREATED, Json(make(&state, &caller).await?)))
}

/// Verifies a backup: its manifest, every file's SHA-256 (database copy, PAN key, evidence),
/// and the copy itself (SQLite integrity and audit chain, or `pg_restore --list`).
pub async fn check(state: &AppState, caller: &Caller, name: &str) -> Result<BackupView, ApiError> {
    caller.require(Permission::ManageBackups)?;
    let lang = caller.lang;
    let target = format!("backup:{name}");
    let file = match backup::file_named(state.backup_dir(), name) {
        Ok(f) if f.is_file() => f,
        _ => {
            let e = ApiError::new(StatusCode::NOT_FOUND, lang, "backup.not_found", &[]);
            return Err(refused(state, caller, "backup.verify", target, e).await);
        }
    };
    let now = state.store().now();
    let (store, data_dir) = (state.store().clone(), state.data_dir().to_path_buf());
    // The current KEK and the retired ones beside its file (read off the async threads).
    let checked = backup_blocking(lang, move || {
        let ring = backup::Keyring::for_store(&*store, &data_dir);
        backup::verify_and_record(&file, &ring, now)
    })
    .await;
    let outcome = match &checked {
        Ok(_) => "ok".to_owned(),
        Err(e) => format!("invalid:{}", e.message),
    };
    audit(state, caller, "backup.verify", target, outcome).await?;
    checked?;
    backups(state, caller)
        .await?
        .into_iter()
        .find(|b| b.name == name)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, lang, "backup.not_found", &[]))
}

/// Verifies a backup (admins). A missing or altered file answers 422 naming it.
#[utoipa::path(post, path = "/api/v1/backups/{name}/verify", tag = "operations",
    params(("name" = String, Path, description = "the backup's file name")),
    responses((status = 200, body = BackupView), (status = 403, body = ApiError), (status = 404, body = ApiError),
        (status = 422, body = ApiError, description = "the backup failed verification")))]
pub async fn verify_backup(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<BackupView>, ApiError> {
    Ok(Json(check(&state, &caller, &name).await?))
}

/// Restoring is not offered over the API: the server must be stopped, then
/// `suanpan backup restore FILE --force` (or `pg_restore` on PostgreSQL) run on the host.
/// Always 409 (403 for non-admins), audited.
#[utoipa::path(post, path = "/api/v1/backups/{name}/restore", tag = "operations",
    params(("name" = String, Path, description = "the backup's file name")),
    responses((status = 403, body = ApiError), (status = 409, body = ApiError, description = "restores run from the CLI with the server stopped")))]
pub async fn restore_backup(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::ManageBackups)?;
    let shown = backup::file_named(state.backup_dir(), &name)
        .map(|f| f.display().to_string())
        .unwrap_or_else(|_| "FILE".into());
    let e = ApiError::new(
        StatusCode::CONFLICT,
        caller.lang,
        "backup.restore_cli_only",
        &[shown],
    );
    Err(refused(
        &state,
        &caller,
        "backup.restore",
        format!("backup:{name}"),
        e,
    )
    .await)
}

/// A purge: the admin's password again, why, and the cut-off date.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurgeIn {
    /// The acting user's own login password, re-entered.
    pub password: String,
    /// Why (required; audited).
    pub reason: String,
    /// Records created before this day (`YYYY-MM-DD`, the merchant's time zone) go; the day
    /// must be past the retention period.
    pub before: String,
    /// Whose records (15 digits): purges are the acquirer's, merchant by merchant.
    pub merchant: String,
}

/// What a purge did.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct PurgeOut {
    /// Journal rows deleted for good.
    pub purged: u64,
    /// The cut-off day.
    pub before: String,
    /// The backup made just before (its name).
    pub backup: String,
}

/// Purges the caller's merchant's records created before `input.before`, after a backup.
pub async fn run_purge(
    state: &AppState,
    caller: &Caller,
    input: PurgeIn,
) -> Result<PurgeOut, ApiError> {
    let lang = caller.lang;
    let date: jiff::civil::Date = input
        .before
        .trim()
        .parse()
        .map_err(|_| ApiError::field(lang, "date", input.before.trim()))?;
    let before = state
        .store()
        .policy()
        .day_start(date)
        .map_err(|e| ApiError::invalid(lang, e.to_string()))?;
    let merchant = suanpan_core::MerchantId::parse(&input.merchant)
        .map_err(|_| ApiError::field(lang, "merchant", &input.merchant))?;
    let target = format!("before:{before}");
    // Rate limited and counted towards the lockout like a login (issue 14).
    let password_ok = crate::auth::reenter_password(state, caller, &input.password).await?;
    let reason = input.reason.trim().to_owned();
    let asked = PurgeRequest {
        role: caller.user.role,
        password_ok,
        reason: &reason,
    };
    if let Err(r) = backoffice::decide_purge_request(&asked) {
        let e = ApiError::refused(lang, &r);
        return Err(refused(state, caller, "purge", target, e).await);
    }
    // One backup or purge at a time; a purge waits for a running backup.
    let _running = state.backups().lock().await;
    let order = PurgeOrder {
        merchant_id: merchant,
        // The retention rule is the admin operator's (99); the web admin acts as it.
        actor: OperatorNo::ADMIN,
        before,
        reason,
        audit_as: Some(actor(&caller.user.username)),
    };
    let done = backup_job(state, lang, move |store, src, out| {
        backup::purge(store, src, out, order)
    })
    .await;
    let done = match done {
        Ok(d) => d,
        // No backup (pg_dump missing, disk full…): nothing was purged.
        Err(e) => return Err(refused(state, caller, "purge", target, e).await),
    };
    match done {
        // Refused by the retention rule: audited by the store, no backup made.
        Err(r) => Err(ApiError::refused(lang, r.as_ref())),
        Ok(p) => Ok(PurgeOut {
            purged: p.rows,
            before: date.to_string(),
            backup: p.manifest.file,
        }),
    }
}

/// Deletes for good the merchant's records created before a day past retention, after a
/// backup (admins; password re-entered, reason). Records still referred to by newer ones stay.
#[utoipa::path(post, path = "/api/v1/purge", tag = "operations", request_body = PurgeIn,
    responses((status = 200, body = PurgeOut), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 409, body = ApiError, description = "pg_dump is not installed (no backup, no purge)"),
        (status = 422, body = ApiError, description = "wrong password, no reason, or inside the retention period"),
        (status = 423, body = ApiError, description = "the account is locked after wrong passwords (a re-entered password counts)"),
        (status = 429, body = ApiError, description = "too many password re-entries from this client or for this user in a minute")))]
pub async fn purge(
    State(state): State<AppState>,
    caller: Caller,
    body: ApiJson<PurgeIn>,
) -> Result<Json<PurgeOut>, ApiError> {
    Ok(Json(run_purge(&state, &caller, body.value).await?))
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KB");
        assert_eq!(human_size(1536), "1.5 KB");
        assert_eq!(human_size(5 * 1024 * 1024 + 1), "5.0 MB");
        assert_eq!(human_size(3 * 1024 * 1024 * 1024), "3.0 GB");
    }
}
