//! Evidence removal through review (issue 5: evidence is retention-locked; "a removal
//! request goes through review after it"). Submitted with a reason by a supervisor, finance
//! user or admin once the retention period has ended; approved or rejected (with a comment)
//! by another reviewer. An approval marks the evidence removed (its row stays as a
//! tombstone) and deletes the file when no live row shares its bytes. Every rule is
//! `core::backoffice::decide_evidence_removal` / `decide_removal_review`; refusals are
//! audited on the evidence's transaction.

use crate::api::Id;
use crate::auth::{Caller, blocking};
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
use suanpan_core::backoffice::{
    self, BackOfficeRefused, Permission, RemovalSubmission, RequestStatus,
};
use suanpan_core::{Lang, Refusal, TxnId};
use suanpan_store::backoffice::Backoffice;
use suanpan_store::evidence::{Evidence, RemovalRow, Reviewed};

/// Removal requests one listing shows.
const REMOVALS_LISTED_MAX: u32 = 200;

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

/// A refusal with its status from the one table (`error::refusal_status`).
fn refused(lang: Lang, r: &BackOfficeRefused) -> ApiError {
    ApiError::refused(lang, r)
}

/// Audits a refusal on the evidence's transaction and answers it.
async fn refuse(
    state: &AppState,
    caller: &Caller,
    action: &str,
    txn: i64,
    r: BackOfficeRefused,
) -> ApiError {
    let (store, who) = (state.store().clone(), caller.user.username.clone());
    let (action, target, outcome) = (
        action.to_owned(),
        format!("txn:{txn}"),
        format!("refused:{}", r.key()),
    );
    match blocking(caller.lang, move || {
        store.record_staff_event(&who, &action, &target, &outcome)
    })
    .await
    {
        Ok(()) => refused(caller.lang, &r),
        Err(e) => e,
    }
}

fn not_found(lang: Lang) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, lang, "evidence.not_found", &[])
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
    let (store, merchant) = (state.store().clone(), caller.merchant()?);
    // The transaction may be purged by now (its retention is over too): then only the
    // upload's time counts.
    let (ev, txn) = blocking(lang, move || {
        let Some(ev) = store.evidence(&merchant, id)? else {
            return Ok((None, None));
        };
        let txn = store.transaction(TxnId(ev.txn_id))?;
        Ok((Some(ev), txn))
    })
    .await?;
    let ev = ev.ok_or_else(|| not_found(lang))?;
    if txn
        .as_ref()
        .is_some_and(|t| t.hidden && !caller.user.role.allows(Permission::ViewHidden))
    {
        return Err(not_found(lang));
    }
    let uploaded = jiff::Timestamp::from_microsecond(ev.uploaded_at)
        .map_err(|e| ApiError::invalid(lang, e.to_string()))?;
    let reason = reason.trim().to_owned();
    let sub = RemovalSubmission {
        role: caller.user.role,
        reason: &reason,
        removed: ev.removed_at.is_some(),
        pending: ev.removal_pending,
        retention_from: backoffice::evidence_retention_from(txn.map(|t| t.created_at), uploaded),
    };
    let decided =
        backoffice::decide_evidence_removal(&sub, state.store().policy(), state.store().now());
    if let Err(r) = decided {
        return Err(refuse(state, caller, "evidence.removal_submit", ev.txn_id, r).await);
    }
    let (store, user, merchant) = (
        state.store().clone(),
        caller.user.clone(),
        caller.merchant()?,
    );
    let txn_id = ev.txn_id;
    let row = blocking(lang, move || {
        let Some(rid) = store.submit_evidence_removal(&user, &ev, &reason)? else {
            return Ok(None);
        };
        store.evidence_removal(&merchant, rid)
    })
    .await?;
    match row {
        Some(r) => Ok(RemovalView::of(&r, state.store().policy(), lang)),
        None => Err(refuse(
            state,
            caller,
            "evidence.removal_submit",
            txn_id,
            BackOfficeRefused::RemovalPending,
        )
        .await),
    }
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
    let (store, merchant) = (state.store().clone(), caller.merchant()?);
    let rows = blocking(lang, move || {
        store.evidence_removals(&merchant, status, REMOVALS_LISTED_MAX)
    })
    .await?;
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
    let mine = caller.merchant()?;
    let load = |state: &AppState| {
        let (store, merchant) = (state.store().clone(), mine.clone());
        blocking(lang, move || store.evidence_removal(&merchant, id))
    };
    let q = load(state)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, lang, "removal.not_found", &[]))?;
    let comment = comment.trim().to_owned();
    let status = RequestStatus::parse(&q.status).unwrap_or(RequestStatus::Rejected);
    let action = if approve {
        "evidence.removal_approve"
    } else {
        "evidence.removal_reject"
    };
    let next = match backoffice::decide_removal_review(
        q.submitted_by,
        status,
        caller.user.id,
        caller.user.role,
        approve,
        &comment,
    ) {
        Ok(next) => next,
        Err(r) => return Err(refuse(state, caller, action, q.txn_id, r).await),
    };
    let (store, user, dir) = (
        state.store().clone(),
        caller.user.clone(),
        state.evidence_dir().to_owned(),
    );
    let row = q.clone();
    let done = blocking(lang, move || {
        store.review_evidence_removal(&dir, &user, &row, next, &comment)
    })
    .await?;
    if done == Reviewed::Changed {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            lang,
            "request.changed",
            &[],
        ));
    }
    let q = load(state)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, lang, "removal.not_found", &[]))?;
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
