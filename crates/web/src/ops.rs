//! Operations (运维) over HTTP: backups and the purge of records past retention, for admins.
//! The use cases are `suanpan_service::ops` (a backup is the CLI's `store::backup::create`,
//! one at a time and not within the interval; the purge is the CLI's `ops::purge` behind the
//! back-office's rule; restoring is refused and names the CLI command), run on the blocking
//! pool so the server keeps answering; this module parses and renders.

use crate::auth::{Caller, blocking_as};
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::state::AppState;
use crate::view::When;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use suanpan_core::Lang;
use suanpan_core::backoffice::Permission;
use suanpan_service::ops::{self, OpsError, StaffPurge};
use suanpan_store::StoreError;
use suanpan_store::backup::{BackupInfo, Sources};

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

/// An operation's failure as the API answers it: a refusal by `error::refusal_status`, a
/// missing `pg_dump` or a failed verification is the operator's to fix and says what;
/// anything else is a storage error.
fn ops_error(lang: Lang, e: OpsError) -> ApiError {
    match e {
        OpsError::Refused(r) => ApiError::refused(lang, r.as_ref()),
        OpsError::Running => ApiError::new(StatusCode::CONFLICT, lang, "backup.running", &[]),
        OpsError::TooSoon { wait_seconds } => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            lang,
            "backup.too_soon",
            &[wait_seconds.to_string()],
        ),
        OpsError::NotFound => ApiError::new(StatusCode::NOT_FOUND, lang, "backup.not_found", &[]),
        OpsError::RestoreCliOnly { file } => ApiError::new(
            StatusCode::CONFLICT,
            lang,
            "backup.restore_cli_only",
            &[file],
        ),
        OpsError::Store(StoreError::ToolMissing(tool)) => {
            ApiError::new(StatusCode::CONFLICT, lang, "backup.tool_missing", &[tool])
        }
        OpsError::Store(StoreError::BackupInvalid(why)) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            lang,
            "backup.invalid",
            &[why],
        ),
        OpsError::Store(e) => ApiError::store(lang, e),
    }
}

/// Runs an operation on the blocking pool (a backup copies the store) with the state's
/// store, what a backup copies besides it, and the backup folder.
async fn service<T: Send + 'static>(
    state: &AppState,
    lang: Lang,
    job: impl FnOnce(&AppState, &Sources<'_>) -> Result<T, OpsError> + Send + 'static,
) -> Result<T, ApiError> {
    let state = state.clone();
    blocking_as(
        lang,
        move || {
            let src = Sources {
                data_dir: state.data_dir(),
                evidence_dir: state.evidence_dir(),
            };
            job(&state, &src)
        },
        |e| ops_error(lang, e),
    )
    .await
}

/// The backups in the backup folder, newest first.
pub async fn backups(state: &AppState, caller: &Caller) -> Result<Vec<BackupView>, ApiError> {
    caller.require(Permission::ManageBackups)?;
    let rows = service(state, caller.lang, |s, _| ops::backups(s.backup_dir())).await?;
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
    let user = caller.user.clone();
    let interval = i64::from(state.cfg().backup_interval_seconds_min);
    let made = service(state, lang, move |s, src| {
        ops::make(
            &**s.store(),
            &user,
            s.backups(),
            src,
            s.backup_dir(),
            interval,
        )
    })
    .await?;
    made.info.map(|b| BackupView::of(state, b)).ok_or_else(|| {
        tracing::error!("backup {} vanished after it was made", made.file.display());
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
    let (user, name) = (caller.user.clone(), name.to_owned());
    let b = service(state, caller.lang, move |s, src| {
        ops::verify(&**s.store(), &user, src.data_dir, s.backup_dir(), &name)
    })
    .await?;
    Ok(BackupView::of(state, b))
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
    let user = caller.user.clone();
    service(&state, caller.lang, move |s, _| {
        Err::<StatusCode, _>(ops::restore(&**s.store(), &user, s.backup_dir(), &name))
    })
    .await
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
    // Rate limited and counted towards the lockout like a login (issue 14).
    let password_ok = crate::auth::reenter_password(state, caller, &input.password).await?;
    let asked = StaffPurge {
        merchant,
        before,
        password_ok,
        reason: input.reason,
    };
    let user = caller.user.clone();
    let p = service(state, lang, move |s, src| {
        ops::purge_as_staff(&**s.store(), &user, s.backups(), src, s.backup_dir(), asked)
    })
    .await?;
    Ok(PurgeOut {
        purged: p.rows,
        before: date.to_string(),
        backup: p.manifest.file,
    })
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
