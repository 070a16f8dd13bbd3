//! Evidence removal through review (issue 5: evidence is retention-locked; "a removal
//! request goes through review after it"). Submitted with a reason by a supervisor, finance
//! user or admin once the retention period has ended; approved or rejected (with a comment)
//! by another reviewer. An approval marks the evidence removed (its row stays as a
//! tombstone) and deletes the file when no live row shares its bytes. The use cases (facts,
//! `core::backoffice::decide_evidence_removal` / `decide_removal_review`, writes, refusals
//! audited on the evidence's transaction) are `suanpan_service::removals`; this module
//! parses and renders.

use crate::api::Id;
use crate::auth::{Caller, blocking_as};
use crate::catalog::t;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::review::ReviewIn;
use crate::state::AppState;
use crate::view::When;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use suanpan_core::Lang;
use suanpan_core::backoffice::{Permission, RequestStatus};
use suanpan_service::removals::{self, RemovalError};
use suanpan_store::evidence::RemovalRow;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/v1/evidence/{id}/removal", post(request_removal))
        .route("/api/v1/evidence-removals", get(list_removals))
        .route(
            "/api/v1/evidence-removals/{id}/approve",
            post(approve_removal),
        )
        .route(
            "/api/v1/evidence-removals/{id}/reject",
            post(reject_removal),
        )
}

/// A removal request's reason.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemovalIn {
    /// Why (required; kept with the tombstone and in the audit trail).
    pub reason: String,
}

/// A removal request as the API shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RemovalView {
    /// Id.
    pub id: i64,
    /// The evidence.
    pub evidence_id: i64,
    /// Its transaction.
    pub transaction_id: i64,
    /// Its file name.
    pub filename: String,
    /// Its SHA-256.
    pub sha256: String,
    /// Why.
    pub reason: String,
    /// Submitter (username).
    pub submitted_by: String,
    /// When.
    pub submitted_at: When,
    /// `pending`, `approved` (removed) or `rejected`.
    pub status: String,
    /// The status in the caller's language.
    pub status_text: String,
    /// Reviewer (username).
    pub reviewed_by: Option<String>,
    /// When reviewed.
    pub reviewed_at: Option<When>,
    /// The reviewer's comment.
    pub review_comment: String,
}

impl RemovalView {
    /// From a row.
    pub fn of(r: &RemovalRow, policy: &suanpan_core::Policy, lang: Lang) -> RemovalView {
        RemovalView {
            id: r.id,
            evidence_id: r.evidence_id,
            transaction_id: r.txn_id,
            filename: r.filename.clone(),
            sha256: r.sha256.clone(),
            reason: r.reason.clone(),
            submitted_by: r.submitted_by_name.clone(),
            submitted_at: When::micros(policy, r.submitted_at),
            status_text: t(lang, &format!("removal.{}", r.status)).to_owned(),
            status: r.status.clone(),
            reviewed_by: r.reviewed_by_name.clone(),
            reviewed_at: r.reviewed_at.map(|x| When::micros(policy, x)),
            review_comment: r.review_comment.clone(),
        }
    }
}

/// A removal use case's failures as HTTP answers (refusals by `error::refusal_status`).
fn removal_error(lang: Lang, e: RemovalError) -> ApiError {
    match e {
        RemovalError::Refused(r) => ApiError::refused(lang, &r),
        RemovalError::EvidenceNotFound => {
            ApiError::new(StatusCode::NOT_FOUND, lang, "evidence.not_found", &[])
        }
        RemovalError::NotFound => {
            ApiError::new(StatusCode::NOT_FOUND, lang, "removal.not_found", &[])
        }
        RemovalError::Changed => ApiError::new(StatusCode::CONFLICT, lang, "request.changed", &[]),
        RemovalError::Invalid(what) => ApiError::invalid(lang, what),
        RemovalError::Store(e) => ApiError::store(lang, e),
    }
}

/// Runs a removal use case on the blocking pool (it waits on the store).
async fn service<T: Send + 'static>(
    lang: Lang,
    f: impl FnOnce() -> Result<T, RemovalError> + Send + 'static,
) -> Result<T, ApiError> {
    blocking_as(lang, f, |e| removal_error(lang, e)).await
}

/// Submits a removal of evidence `id` as the core decides it.
pub async fn submit(
    state: &AppState,
    caller: &Caller,
    id: i64,
    reason: &str,
) -> Result<RemovalView, ApiError> {
    let lang = caller.lang;
    caller.require(Permission::ViewTransactions)?;
    caller.merchant()?;
    let (store, user, reason) = (
        state.store().clone(),
        caller.user.clone(),
        reason.to_owned(),
    );
    let row = service(lang, move || removals::submit(&*store, &user, id, &reason)).await?;
    Ok(RemovalView::of(&row, state.store().policy(), lang))
}

/// Asks for evidence to be removed (after its retention period; reviewed by someone else).
#[utoipa::path(post, path = "/api/v1/evidence/{id}/removal", tag = "evidence", params(("id" = i64, Path)),
    request_body = RemovalIn,
    responses((status = 201, body = RemovalView), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError, description = "removed already, or a removal is pending"),
        (status = 422, body = ApiError, description = "inside the retention period (the message names the date it ends), or no reason")))]
pub async fn request_removal(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    body: ApiJson<RemovalIn>,
) -> Result<(StatusCode, Json<RemovalView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(submit(&state, &caller, id, &body.value.reason).await?),
    ))
}

/// Listing filters.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RemovalQuery {
    /// Only this status (`pending`, `approved`, `rejected`).
    pub status: Option<String>,
    /// Language (`zh`, `en`); read by every extractor from the query.
    #[serde(rename = "lang")]
    pub _lang: Option<String>,
}

/// Removal requests for the API and the review page, newest first.
pub async fn removals(
    state: &AppState,
    caller: &Caller,
    status: Option<&str>,
) -> Result<Vec<RemovalView>, ApiError> {
    caller.require(Permission::ViewTransactions)?;
    let lang = caller.lang;
    let status = status
        .filter(|s| !s.is_empty())
        .map(|s| {
            RequestStatus::parse(s)
                .filter(|s| {
                    matches!(
                        s,
                        RequestStatus::Pending | RequestStatus::Approved | RequestStatus::Rejected
                    )
                })
                .ok_or_else(|| ApiError::field(lang, "status", s))
        })
        .transpose()?;
    caller.merchant()?;
    let (store, user) = (state.store().clone(), caller.user.clone());
    let rows = service(lang, move || removals::list(&*store, &user, status)).await?;
    Ok(rows
        .iter()
        .map(|r| RemovalView::of(r, state.store().policy(), lang))
        .collect())
}

/// Lists evidence removal requests, newest first.
#[utoipa::path(get, path = "/api/v1/evidence-removals", tag = "evidence", params(RemovalQuery),
    responses((status = 200, body = Vec<RemovalView>), (status = 400, body = ApiError), (status = 401, body = ApiError)))]
pub async fn list_removals(
    State(state): State<AppState>,
    caller: Caller,
    crate::api::ApiQuery(q): crate::api::ApiQuery<RemovalQuery>,
) -> Result<Json<Vec<RemovalView>>, ApiError> {
    Ok(Json(removals(&state, &caller, q.status.as_deref()).await?))
}

/// Approves (`approve`) or rejects a removal request as the core decides it.
pub async fn review(
    state: &AppState,
    caller: &Caller,
    id: i64,
    approve: bool,
    comment: &str,
) -> Result<RemovalView, ApiError> {
    let lang = caller.lang;
    caller.require(Permission::ViewTransactions)?;
    caller.merchant()?;
    let (store, user) = (state.store().clone(), caller.user.clone());
    let (dir, comment) = (state.evidence_dir().to_owned(), comment.to_owned());
    let q = service(lang, move || {
        removals::review(&*store, &user, &dir, id, approve, &comment)
    })
    .await?;
    Ok(RemovalView::of(&q, state.store().policy(), lang))
}

macro_rules! removal_handler {
    ($name:ident, $approve:expr, $path:literal, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "evidence", params(("id" = i64, Path)), request_body = ReviewIn,
            responses((status = 200, body = RemovalView), (status = 403, body = ApiError), (status = 404, body = ApiError),
                (status = 409, body = ApiError), (status = 422, body = ApiError)))]
        pub async fn $name(
            State(state): State<AppState>,
            caller: Caller,
            Id(id): Id,
            body: ApiJson<ReviewIn>,
        ) -> Result<Json<RemovalView>, ApiError> {
            Ok(Json(
                review(&state, &caller, id, $approve, &body.value.comment).await?,
            ))
        }
    };
}

removal_handler!(
    approve_removal,
    true,
    "/api/v1/evidence-removals/{id}/approve",
    "Approves someone else's removal request: the evidence is removed at once (its row stays as a tombstone)."
);
removal_handler!(
    reject_removal,
    false,
    "/api/v1/evidence-removals/{id}/reject",
    "Rejects someone else's removal request with a comment; the evidence stays."
);
