//! 运维: backups (make one, verify one) and the purge, for admins.

use super::{Base, CsrfForm, Done, FormIn, form_action, show};
use crate::auth::Caller;
use crate::catalog::tf;
use crate::error::ApiError;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use suanpan_core::backoffice::Permission;

csrf_forms!(PurgeForm);

#[derive(Template)]
#[template(path = "ops.html")]
struct OpsPage {
    base: Base,
    rows: Vec<crate::ops::BackupView>,
    can_purge: bool,
}

/// 运维: the backups (make one, verify one) and the purge form, for admins.
pub(super) async fn ops_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
) -> Response {
    show(caller, "/dashboard", async |caller| {
        Ok(OpsPage {
            rows: crate::ops::backups(&state, caller).await?,
            base: Base::of(caller, "ops", "nav.ops", "/ops"),
            can_purge: caller.user.role.allows(Permission::Purge),
        })
    })
    .await
}

pub(super) async fn ops_backup(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    form: FormIn<CsrfForm>,
) -> Response {
    form_action(caller, form, "/ops", async |caller, _| {
        let b = crate::ops::make(&state, caller).await?;
        let args = [b.name, b.size, b.evidence_files.to_string()];
        Ok(Done::back(tf(caller.lang, "msg.backup_created", &args)))
    })
    .await
}

pub(super) async fn ops_verify(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(name): Path<String>,
    form: FormIn<CsrfForm>,
) -> Response {
    form_action(caller, form, "/ops", async |caller, _| {
        let b = crate::ops::check(&state, caller, &name).await?;
        let text = tf(caller.lang, "msg.backup_verified", &[b.name]);
        Ok(Done::back(text))
    })
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct PurgeForm {
    csrf: String,
    password: String,
    reason: String,
    before: String,
    merchant: String,
}

pub(super) async fn ops_purge(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    form: FormIn<PurgeForm>,
) -> Response {
    form_action(caller, form, "/ops", async |caller, f| {
        let input = crate::ops::PurgeIn {
            password: f.password,
            reason: f.reason,
            before: f.before,
            merchant: f.merchant,
        };
        let p = crate::ops::run_purge(&state, caller, input).await?;
        let args = [p.purged.to_string(), p.before, p.backup];
        Ok(Done::back(tf(caller.lang, "msg.purged", &args)))
    })
    .await
}
