//! Void and refund requests over HTTP (seed 004: 提交撤销申请 → 审核 → 结果): the routes,
//! their parsing, and the one table from the use cases' failures to HTTP statuses. The
//! workflow itself — submission with the money rules on real facts, review, cancel, undo, the
//! executor and stale recovery — is `suanpan_service::review`; this module decides nothing.

use crate::api::Id;
use crate::auth::{Caller, blocking};
use crate::error::ApiError;
use crate::json::{AmountIn, ApiJson};
use crate::state::AppState;
use crate::view::RequestView;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use suanpan_core::backoffice::{Permission, RequestKind, RequestStatus};
use suanpan_core::{Lang, TxnId};
use suanpan_service::review::{self, Ask, RequestError, Submit};
use suanpan_store::backoffice::Backoffice;
use suanpan_store::backoffice::ReviewRequest;

pub use suanpan_service::review::{Action, STALE_CLAIM_SECONDS};

/// How often the executor sweeps expired idempotency keys.
const SWEEP_EVERY_SECONDS: i64 = 3600;
/// How often the executor looks for stale claims (far below `STALE_CLAIM_SECONDS`).
const RECOVER_EVERY_SECONDS: i64 = 60;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/v1/requests", post(create).get(list))
        .route("/api/v1/requests/{id}", get(one))
        .route("/api/v1/requests/{id}/approve", post(approve))
        .route("/api/v1/requests/{id}/reject", post(reject))
        .route("/api/v1/requests/{id}/cancel", post(cancel))
        .route("/api/v1/requests/{id}/undo", post(undo))
}

/// A new void or refund request.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestIn {
    /// `void` or `refund`.
    pub kind: String,
    /// The original transaction.
    pub transaction_id: i64,
    /// Refund: how much (integer fen or yuan string). Void: the original amount, or left out.
    pub amount: Option<AmountIn>,
    /// Why (required).
    pub reason: String,
    /// Void: the customer agreed (required for a void to run).
    #[serde(default)]
    pub customer_consent: bool,
}

/// A request use case's failures as HTTP answers (refusals by `error::refusal_status`).
fn request_error(lang: Lang, e: RequestError) -> ApiError {
    match e {
        RequestError::Refused(r) => ApiError::refused(lang, r.refusal()),
        RequestError::TxnNotFound => {
            ApiError::new(StatusCode::NOT_FOUND, lang, "txn.not_found", &[])
        }
        RequestError::NotFound => {
            ApiError::new(StatusCode::NOT_FOUND, lang, "request.not_found", &[])
        }
        RequestError::Changed => ApiError::new(StatusCode::CONFLICT, lang, "request.changed", &[]),
        RequestError::Store(e) => ApiError::store(lang, e),
    }
}

/// Runs a request use case on the blocking pool (it waits on the store).
async fn service<T: Send + 'static>(
    lang: Lang,
    f: impl FnOnce() -> Result<T, RequestError> + Send + 'static,
) -> Result<T, ApiError> {
    blocking(lang, move || Ok(f()))
        .await?
        .map_err(|e| request_error(lang, e))
}

/// Creates a request; one that needs no second person runs at once.
pub async fn submit(
    state: &AppState,
    caller: &Caller,
    input: RequestIn,
) -> Result<RequestView, ApiError> {
    let lang = caller.lang;
    caller.require(Permission::RequestVoidRefund)?;
    let kind = RequestKind::parse(&input.kind)
        .ok_or_else(|| ApiError::field(lang, "request_kind", &input.kind))?;
    let ask = match (kind, input.amount) {
        (RequestKind::Void, amount) => Ask::Void {
            amount: amount.map(|a| a.0),
            customer_consent: input.customer_consent,
        },
        (RequestKind::Refund, Some(a)) => Ask::Refund { amount: a.0 },
        (RequestKind::Refund, None) => {
            // Required for a refund only: the combination, which the schema cannot state.
            return Err(ApiError::field(lang, "refund_amount", "").combination());
        }
    };
    let s = Submit {
        txn: TxnId(input.transaction_id),
        ask,
        reason: input.reason,
    };
    let (store, user) = (state.store().clone(), caller.user.clone());
    let done = service(lang, move || review::submit(&*store, &user, &s)).await?;
    if done.due_now {
        run_due(state).await;
    }
    load(state, caller, done.id)
        .await
        .map(|q| RequestView::of(&q, state.store().policy(), lang))
}

async fn load(state: &AppState, caller: &Caller, id: i64) -> Result<ReviewRequest, ApiError> {
    // The merchant tier's route: an acquirer user is refused (403), as everywhere.
    caller.merchant()?;
    let (store, user) = (state.store().clone(), caller.user.clone());
    service(caller.lang, move || review::request(&*store, &user, id)).await
}

/// Submits a void or refund request.
#[utoipa::path(post, path = "/api/v1/requests", tag = "review", operation_id = "create_request", request_body = RequestIn,
    responses((status = 201, body = RequestView), (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 422, body = ApiError)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: ApiJson<RequestIn>,
) -> Result<(StatusCode, Json<RequestView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(submit(&state, &caller, body.value).await?),
    ))
}

/// Listing filters.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RequestQuery {
    /// Only this status (`pending`, `approved`, …).
    pub status: Option<String>,
    /// Only requests on this transaction.
    pub transaction_id: Option<i64>,
    /// Language (`zh`, `en`); read by every extractor from the query.
    #[serde(rename = "lang")]
    pub _lang: Option<String>,
}

/// Requests for the API and the UI (the review queue).
pub async fn requests(
    state: &AppState,
    caller: &Caller,
    q: &RequestQuery,
) -> Result<Vec<RequestView>, ApiError> {
    caller.require(Permission::ViewTransactions)?;
    let lang = caller.lang;
    let status = crate::api::status_filter(lang, q.status.as_deref(), RequestStatus::parse)?;
    if let Some(t) = q.transaction_id.filter(|t| *t < 1) {
        return Err(ApiError::field(lang, "id", &t.to_string()));
    }
    let (store, merchant, txn) = (state.store().clone(), caller.merchant()?, q.transaction_id);
    let rows = blocking(lang, move || store.requests(&merchant, status, txn, 200)).await?;
    Ok(rows
        .iter()
        .map(|r| RequestView::of(r, state.store().policy(), lang))
        .collect())
}

/// Lists requests, newest first.
#[utoipa::path(get, path = "/api/v1/requests", tag = "review", operation_id = "list_requests", params(RequestQuery),
    responses((status = 200, body = Vec<RequestView>), (status = 400, body = ApiError)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    crate::api::ApiQuery(q): crate::api::ApiQuery<RequestQuery>,
) -> Result<Json<Vec<RequestView>>, ApiError> {
    Ok(Json(requests(&state, &caller, &q).await?))
}

/// One request.
#[utoipa::path(get, path = "/api/v1/requests/{id}", tag = "review", operation_id = "get_request", params(("id" = i64, Path)),
    responses((status = 200, body = RequestView), (status = 404, body = ApiError)))]
pub async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<RequestView>, ApiError> {
    caller.require(Permission::ViewTransactions)?;
    let q = load(&state, &caller, id).await?;
    Ok(Json(RequestView::of(
        &q,
        state.store().policy(),
        caller.lang,
    )))
}

/// A review's comment.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewIn {
    /// Required to reject; optional otherwise.
    #[serde(default)]
    pub comment: String,
}

/// Applies a review action as the core decides it (`suanpan_service::review::act`).
pub async fn act(
    state: &AppState,
    caller: &Caller,
    id: i64,
    action: Action,
    comment: &str,
) -> Result<RequestView, ApiError> {
    let lang = caller.lang;
    let (store, user, comment) = (
        state.store().clone(),
        caller.user.clone(),
        comment.to_owned(),
    );
    service(lang, move || {
        review::act(&*store, &user, id, action, &comment)
    })
    .await?;
    if action == Action::Approve {
        run_due(state).await;
    }
    load(state, caller, id)
        .await
        .map(|q| RequestView::of(&q, state.store().policy(), lang))
}

macro_rules! review_handler {
    ($name:ident, $action:expr, $path:literal, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "review", params(("id" = i64, Path)), request_body = ReviewIn,
            responses((status = 200, body = RequestView), (status = 403, body = ApiError), (status = 404, body = ApiError),
                (status = 409, body = ApiError), (status = 422, body = ApiError)))]
        pub async fn $name(State(state): State<AppState>, caller: Caller, Id(id): Id, body: ApiJson<ReviewIn>) -> Result<Json<RequestView>, ApiError> {
            Ok(Json(act(&state, &caller, id, $action, &body.value.comment).await?))
        }
    };
}

review_handler!(
    approve,
    Action::Approve,
    "/api/v1/requests/{id}/approve",
    "Approves someone else's request (maker-checker); it runs after `void_grace_seconds`."
);
review_handler!(
    reject,
    Action::Reject,
    "/api/v1/requests/{id}/reject",
    "Rejects someone else's request with a comment."
);
review_handler!(
    cancel,
    Action::Cancel,
    "/api/v1/requests/{id}/cancel",
    "Withdraws a pending request (its submitter, or an admin)."
);
review_handler!(
    undo,
    Action::Undo,
    "/api/v1/requests/{id}/undo",
    "Undoes an approval within the grace window (its reviewer)."
);

/// Runs every approved request whose grace window has passed (one executor per process).
pub async fn run_due(state: &AppState) {
    let _one = state.executor_lock().lock().await;
    let (store, upstream) = (state.store().clone(), state.upstream().clone());
    // A blocking thread: the store's calls block, and a refund that goes upstream blocks on
    // its two-phase future there (`suanpan_service::review_up`), each wait bounded.
    if let Err(e) = tokio::task::spawn_blocking(move || review::run_due(&*store, &upstream)).await {
        tracing::error!("review executor: {e}");
    }
}

/// The executor's loop: approved requests due every pass; stale claims taken over at most
/// once per [`RECOVER_EVERY_SECONDS`] and expired idempotency keys swept at most once per
/// [`SWEEP_EVERY_SECONDS`] of the store's clock (neither on the request path).
pub async fn executor_loop(state: AppState) {
    let every = std::time::Duration::from_millis(state.cfg().executor_interval_ms.max(100));
    let (mut recovered, mut swept) = (None, None);
    loop {
        tokio::time::sleep(every).await;
        run_due(&state).await;
        let now = state.store().now();
        if is_time(&mut recovered, now, RECOVER_EVERY_SECONDS) {
            let (store, upstream) = (state.store().clone(), state.upstream().clone());
            if let Err(e) =
                tokio::task::spawn_blocking(move || review::recover_stale(&*store, &upstream)).await
            {
                tracing::error!("review executor: {e}");
            }
        }
        if is_time(&mut swept, now, SWEEP_EVERY_SECONDS) {
            let store = state.store().clone();
            let before = crate::api::idempotency_expired_before(&state);
            match blocking(Lang::En, move || store.idem_sweep(before)).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("forgot {n} expired idempotency keys"),
                Err(e) => tracing::error!("idempotency sweep: {}", e.message),
            }
        }
    }
}

/// Whether a periodic job last run at `last` is due again at `now`; if so, records `now`.
fn is_time(last: &mut Option<jiff::Timestamp>, now: jiff::Timestamp, seconds: i64) -> bool {
    let due = last.is_none_or(|at| now.duration_since(at).as_secs() >= seconds);
    if due {
        *last = Some(now);
    }
    due
}
