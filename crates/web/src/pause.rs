//! A merchant's supervisor or admin pauses and resumes one of the merchant's own terminals
//! (issue 13, seed 002: 「立即通知收银员，暂停后续操作」) over
//! `/api/v1/terminals/{id}/pause` and `/resume`: while paused, the 8583 host refuses the
//! terminal's new money with 58 and a 63 text that says who paused it and what to do;
//! reversals, sign-in and settlement go on (`core::rules::decide_terminal_pause`). The use
//! case is `service::pause` (who may, that a pause says why, the write and its audit entry);
//! this adapter parses, calls it and renders. Another merchant's terminal is answered as a
//! missing one.

use crate::auth::{Caller, blocking, blocking_as};
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use suanpan_core::TerminalId;
use suanpan_core::backoffice::Permission;
use suanpan_service::pause::{self, By, PauseError};
use suanpan_store::fleet::PauseState;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/v1/terminals/{id}/pause", post(pause_terminal))
        .route("/api/v1/terminals/{id}/resume", post(resume_terminal))
}

/// A terminal's pause, as its merchant sees it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct PauseView {
    /// 终端号 (8 letters or digits).
    pub id: String,
    /// Paused: the terminal's sales, voids and refunds are refused (58) until resumed.
    pub paused: bool,
    /// Who paused it.
    pub paused_by: Option<String>,
    /// Why it was paused.
    pub reason: Option<String>,
    /// When it was paused (RFC 3339).
    pub paused_at: Option<String>,
}

impl PauseView {
    fn of(s: PauseState) -> PauseView {
        PauseView {
            id: s.id,
            paused: s.paused,
            paused_by: s.paused_by,
            reason: s.reason,
            paused_at: s
                .paused_at
                .and_then(|t| jiff::Timestamp::from_microsecond(t).ok())
                .map(|t| t.to_string()),
        }
    }
}

/// Why a terminal is paused or resumed.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseIn {
    /// Why (required to pause, at most 200 characters; audited).
    #[serde(default)]
    #[schema(max_length = 200)]
    pub reason: String,
}

/// Pauses one of the caller's merchant's terminals: the host refuses its new money (58).
#[utoipa::path(post, path = "/api/v1/terminals/{id}/pause", tag = "operations", operation_id = "pause_terminal",
    params(("id" = String, Path, description = "终端号 (8 letters or digits)")), request_body = PauseIn,
    responses((status = 200, body = PauseView), (status = 400, body = ApiError), (status = 403, body = ApiError, description = "the role may not pause terminals"),
        (status = 404, body = ApiError, description = "no such terminal at the caller's merchant"),
        (status = 422, body = ApiError, description = "no reason given")))]
pub async fn pause_terminal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: ApiJson<PauseIn>,
) -> Result<Json<PauseView>, ApiError> {
    change(&state, &caller, &id, true, body.value.reason)
        .await
        .map(Json)
}

/// Resumes a paused terminal of the caller's merchant.
#[utoipa::path(post, path = "/api/v1/terminals/{id}/resume", tag = "operations", operation_id = "resume_terminal",
    params(("id" = String, Path, description = "终端号 (8 letters or digits)")), request_body = PauseIn,
    responses((status = 200, body = PauseView), (status = 400, body = ApiError), (status = 403, body = ApiError, description = "the role may not resume terminals"),
        (status = 404, body = ApiError, description = "no such terminal at the caller's merchant"),
        (status = 422, body = ApiError, description = "the reason is too long")))]
pub async fn resume_terminal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: ApiJson<PauseIn>,
) -> Result<Json<PauseView>, ApiError> {
    change(&state, &caller, &id, false, body.value.reason)
        .await
        .map(Json)
}

/// Reasons longer than this are refused (the audit entry keeps it whole).
const REASON_CHARS_MAX: usize = 200;

/// Pauses (`pause`) or resumes terminal `id` of the caller's merchant: the API's and the
/// terminals page's one way in.
pub(crate) async fn change(
    state: &AppState,
    caller: &Caller,
    id: &str,
    pause: bool,
    reason: String,
) -> Result<PauseView, ApiError> {
    let lang = caller.lang;
    let merchant = caller.merchant()?;
    caller.require(Permission::PauseTerminals)?;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, lang, "terminal.not_found", &[]);
    let id = TerminalId::parse(id.trim()).map_err(|_| not_found())?;
    if reason.chars().count() > REASON_CHARS_MAX {
        return Err(ApiError::field(lang, "reason", &reason));
    }
    let (store, role) = (state.store().clone(), caller.user.role);
    let actor = suanpan_store::backoffice::actor(&caller.user.username);
    let done = blocking_as(
        lang,
        move || {
            let by = By {
                role,
                merchant: &merchant,
                actor: &actor,
            };
            pause::change(&*store, by, &id, pause, &reason)
        },
        |e| match e {
            PauseError::Refused(r) => ApiError::refused(lang, &r),
            PauseError::NotFound => not_found(),
            PauseError::Store(e) => ApiError::store(lang, e),
        },
    )
    .await?;
    Ok(PauseView::of(done))
}

/// The caller's merchant's terminals with their pause (the terminals page): every merchant
/// user sees them; only a role with `pause_terminals` is offered the buttons.
pub(crate) async fn list(state: &AppState, caller: &Caller) -> Result<Vec<PauseState>, ApiError> {
    let merchant = caller.merchant()?;
    let store = state.store().clone();
    blocking(caller.lang, move || pause::states(&*store, &merchant)).await
}
