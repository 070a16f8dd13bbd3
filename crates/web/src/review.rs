//! Void and refund requests (seed 004: 提交撤销申请 → 审核 → 结果): create, list, approve,
//! reject, cancel, undo within the grace window, and the executor that runs approved requests
//! through the normal `Command::Void` / `Command::Refund` once their window has passed.
//!
//! Every decision here is `suanpan_core::backoffice` (who may, maker-checker, grace) or
//! `suanpan_core::rules` (the money rules, asked up front so a doomed request is refused at
//! once, and decided again by the engine at execution).

use crate::api::{Id, execute, load_txn};
use crate::auth::{Caller, blocking};
use crate::error::ApiError;
use crate::json::{AmountIn, ApiJson};
use crate::state::AppState;
use crate::view::RequestView;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use suanpan_core::backoffice::{
    self, BackOfficeRefused, Permission, RequestKind, RequestStatus, Submission,
};
use suanpan_core::rules::{self, RefundRequest, VoidRequest};
use suanpan_core::{Amount, Lang, OperatorNo, Refusal, Transaction, TxnId, TxnKind};
use suanpan_store::backoffice::Backoffice;
use suanpan_store::backoffice::{NewRequest, ReviewRequest, Transition, execution_reason};
use suanpan_store::command::{Origin, OriginalRef};
use suanpan_store::{Command, Reply};

/// Requests the executor runs per pass at most.
const EXECUTOR_BATCH_MAX: u32 = 50;
/// A claim older than this whose execution never ended is taken over (see `recover_stale`).
/// Far longer than any execution takes (the store gives up waiting for a lock long before).
pub const STALE_CLAIM_SECONDS: i64 = 600;
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

fn refused(lang: Lang, r: &dyn Refusal) -> ApiError {
    let status = match r.key() {
        "backoffice.not_permitted" => StatusCode::FORBIDDEN,
        "backoffice.not_pending" | "backoffice.not_approved" | "backoffice.grace_over" => {
            StatusCode::CONFLICT
        }
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ApiError::refusal(status, lang, r)
}

/// Checks a request against the money rules now, as a back-office request approved by review
/// (any terminal of the merchant), so a request that cannot run is refused at once.
fn precheck(
    t: &Transaction,
    kind: RequestKind,
    amount: Amount,
    reason: &str,
    consent: bool,
    state: &AppState,
) -> Result<(), Box<dyn Refusal + Send>> {
    let policy = state.store().policy();
    let now = state.store().now();
    match kind {
        RequestKind::Void => {
            let expected = if t.kind == TxnKind::Completion {
                TxnKind::Completion
            } else {
                TxnKind::Sale
            };
            let req = VoidRequest {
                terminal_id: &t.terminal_id,
                open_batch: t.batch_no,
                amount: Some(amount),
                reason,
                customer_consent: consent,
                card_fingerprint: t.card_fingerprint.as_deref(),
                voids_today_by_operator: 0,
                via_review: true,
                training: t.training,
            };
            rules::decide_void(t, expected, &req, policy, now)
                .map(|_| ())
                .map_err(|r| Box::new(r) as _)
        }
        RequestKind::Refund => {
            let req = RefundRequest {
                merchant_id: &t.merchant_id,
                amount,
                reason,
                back_office: true,
                reviewed: true,
                training: t.training,
            };
            rules::decide_refund(t, &req, policy, now)
                .map(|_| ())
                .map_err(|r| Box::new(r) as _)
        }
    }
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
    let t = load_txn(state, caller, input.transaction_id).await?;
    let amount = match (kind, input.amount) {
        (RequestKind::Void, None) => t.amount,
        (RequestKind::Void, Some(a)) if a.0 == t.amount => t.amount,
        (RequestKind::Void, Some(_)) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                lang,
                "txn.void_amount",
                &[t.amount.display()],
            ));
        }
        (RequestKind::Refund, Some(a)) => a.0,
        (RequestKind::Refund, None) => {
            // Required for a refund only: the combination, which the schema cannot state.
            return Err(ApiError::field(lang, "refund_amount", "").combination());
        }
    };
    let reason = input.reason.trim().to_owned();
    let sub = Submission {
        kind,
        amount,
        reason: &reason,
        role: caller.user.role,
    };
    let needs_review =
        backoffice::decide_submit(&sub, state.store().policy()).map_err(|r| refused(lang, &r))?;
    if let Err(r) = precheck(&t, kind, amount, &reason, input.customer_consent, state) {
        let (store, who, key) = (state.store().clone(), caller.user.username.clone(), r.key());
        let action = format!("{}_request.submit", kind.as_str());
        let target = format!("txn:{}", t.id.0);
        blocking(lang, move || {
            store.record_staff_event(&who, &action, &target, &format!("refused:{key}"))
        })
        .await?;
        return Err(ApiError::refusal(
            StatusCode::UNPROCESSABLE_ENTITY,
            lang,
            r.as_ref(),
        ));
    }
    let status = if needs_review {
        RequestStatus::Pending
    } else {
        RequestStatus::Approved
    };
    let new = NewRequest {
        kind,
        txn: t.id,
        amount,
        reason,
        customer_consent: input.customer_consent,
        status,
    };
    let (store, user) = (state.store().clone(), caller.user.clone());
    let id = blocking(lang, move || store.create_request(&user, &new)).await?;
    if !needs_review {
        run_due(state).await;
    }
    load(state, caller, id)
        .await
        .map(|q| RequestView::of(&q, state.store().policy(), lang))
}

async fn load(state: &AppState, caller: &Caller, id: i64) -> Result<ReviewRequest, ApiError> {
    let (store, merchant) = (state.store().clone(), caller.merchant()?);
    blocking(caller.lang, move || store.request(&merchant, id))
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, caller.lang, "request.not_found", &[]))
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

/// The review actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Approve (then run after the grace window).
    Approve,
    /// Reject with a comment.
    Reject,
    /// Withdraw (submitter or admin).
    Cancel,
    /// Undo an approval within the grace window (its reviewer).
    Undo,
}

/// Applies a review action as the core decides it.
pub async fn act(
    state: &AppState,
    caller: &Caller,
    id: i64,
    action: Action,
    comment: &str,
) -> Result<RequestView, ApiError> {
    let lang = caller.lang;
    let q = load(state, caller, id).await?;
    let comment = comment.trim().to_owned();
    let name = caller.user.username.clone();
    let t = match decide_action(state, caller, &q, action, &comment, &name) {
        Ok(t) => OwnedTransition::from(&t),
        Err(ActionError::Api(e)) => return Err(e),
        Err(ActionError::Refused(r)) => {
            let (store, key) = (state.store().clone(), r.key());
            let (audit_action, target) = (
                format!("{}_request.review", q.kind),
                format!("txn:{}", q.txn_id),
            );
            let outcome = format!("refused:{key}");
            blocking(lang, move || {
                store.record_staff_event(&name, &audit_action, &target, &outcome)
            })
            .await?;
            return Err(refused(lang, &r));
        }
    };
    let store = state.store().clone();
    if !blocking(lang, move || store.transition_request(&t.borrow())).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            lang,
            "request.changed",
            &[],
        ));
    }
    if action == Action::Approve {
        run_due(state).await;
    }
    load(state, caller, id)
        .await
        .map(|q| RequestView::of(&q, state.store().policy(), lang))
}

enum ActionError {
    Api(ApiError),
    Refused(BackOfficeRefused),
}

/// What the core says about `action` on `q` by the caller, as the status change to make.
fn decide_action<'a>(
    state: &AppState,
    caller: &Caller,
    q: &'a ReviewRequest,
    action: Action,
    comment: &'a str,
    name: &'a str,
) -> Result<Transition<'a>, ActionError> {
    let facts = q
        .facts()
        .map_err(|e| ActionError::Api(ApiError::store(caller.lang, e)))?;
    let (me, role, now) = (caller.user.id, caller.user.role, state.store().now());
    let t = |verb, from, to| Transition {
        comment,
        ..Transition::new(q, name, verb, from, to)
    };
    let decided = match action {
        Action::Approve | Action::Reject => {
            let approve = action == Action::Approve;
            backoffice::decide_review(
                &facts,
                me,
                role,
                approve,
                comment,
                state.store().policy(),
                now,
            )
            .map(|out| {
                let verb = if approve { "approve" } else { "reject" };
                Transition {
                    reviewer: Some(me),
                    execute_after: out.execute_after,
                    ..t(verb, RequestStatus::Pending, out.status)
                }
            })
        }
        Action::Cancel => backoffice::decide_cancel(&facts, me, role)
            .map(|()| t("cancel", RequestStatus::Pending, RequestStatus::Cancelled)),
        Action::Undo => backoffice::decide_undo(&facts, me, now)
            .map(|()| t("undo", RequestStatus::Approved, RequestStatus::Undone)),
    };
    decided.map_err(ActionError::Refused)
}

/// A transition that can cross into the blocking pool.
struct OwnedTransition {
    request: ReviewRequest,
    actor: String,
    action: String,
    expected: RequestStatus,
    next: RequestStatus,
    reviewer: Option<i64>,
    comment: String,
    execute_after: Option<jiff::Timestamp>,
    result_txn: Option<TxnId>,
    result_key: String,
}

impl OwnedTransition {
    fn from(t: &Transition<'_>) -> OwnedTransition {
        OwnedTransition {
            request: t.request.clone(),
            actor: t.actor.to_owned(),
            action: t.action.to_owned(),
            expected: t.expected,
            next: t.next,
            reviewer: t.reviewer,
            comment: t.comment.to_owned(),
            execute_after: t.execute_after,
            result_txn: t.result_txn,
            result_key: t.result_key.to_owned(),
        }
    }
    fn borrow(&self) -> Transition<'_> {
        Transition {
            request: &self.request,
            actor: &self.actor,
            action: &self.action,
            expected: self.expected,
            next: self.next,
            reviewer: self.reviewer,
            comment: &self.comment,
            execute_after: self.execute_after,
            result_txn: self.result_txn,
            result_key: &self.result_key,
        }
    }
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

/// Runs every approved request whose grace window has passed, one at a time (one executor
/// per process; the claim `approved → executing` is a conditional update, so two processes
/// never run the same request).
pub async fn run_due(state: &AppState) {
    let _one = state.executor_lock().lock().await;
    let store = state.store().clone();
    let due =
        match tokio::task::spawn_blocking(move || store.due_requests(EXECUTOR_BATCH_MAX)).await {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => {
                tracing::error!("review executor: {e}");
                return;
            }
            Err(e) => {
                tracing::error!("review executor: {e}");
                return;
            }
        };
    for q in due {
        if let Err(e) = run_one(state, &q).await {
            tracing::error!("review executor, request {}: {}", q.id, e.message);
        }
    }
}

/// Finishes requests whose execution was claimed more than [`STALE_CLAIM_SECONDS`] ago and
/// never ended (a storage error answered the executor, or its process died in between). The
/// executor takes the claim over (one conditional update: one node wins), then looks for the
/// void/refund the lost execution may have booked (by [`execution_reason`]): found, the
/// request is finished with it; not found, nothing was committed and the command runs again,
/// decided anew by the engine (a void can only happen once anyway).
async fn recover_stale(state: &AppState) {
    let store = state.store().clone();
    let before = state.store().now() - jiff::SignedDuration::from_secs(STALE_CLAIM_SECONDS);
    let stale = match blocking(Lang::En, move || {
        store.stale_requests(before, EXECUTOR_BATCH_MAX)
    })
    .await
    {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("review executor: {}", e.message);
            return;
        }
    };
    for q in stale {
        let store = state.store().clone();
        let request = q.clone();
        let found = blocking(Lang::En, move || {
            if !store.reclaim_request(&request, before)? {
                return Ok(None);
            }
            Ok(Some(store.booked_for_request(&request)?))
        })
        .await;
        let outcome = match found {
            Ok(None) => continue,
            Ok(Some(Some((id, approved, code)))) => {
                let (next, key) = if approved {
                    (RequestStatus::Executed, String::new())
                } else {
                    (RequestStatus::Failed, format!("declined:{code}"))
                };
                finish(state, &q, next, Some(id), &key).await
            }
            Ok(Some(None)) => execute_claimed(state, &q).await,
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            tracing::error!("review executor, stale request {}: {}", q.id, e.message);
        }
    }
}

async fn transition(state: &AppState, t: OwnedTransition) -> Result<bool, ApiError> {
    let store = state.store().clone();
    blocking(Lang::En, move || store.transition_request(&t.borrow())).await
}

async fn run_one(state: &AppState, q: &ReviewRequest) -> Result<(), ApiError> {
    let claim = Transition::new(
        q,
        "system",
        "claim",
        RequestStatus::Approved,
        RequestStatus::Executing,
    );
    if !transition(state, OwnedTransition::from(&claim)).await? {
        return Ok(());
    }
    execute_claimed(state, q).await
}

/// Runs a claimed request's command and records its outcome.
async fn execute_claimed(state: &AppState, q: &ReviewRequest) -> Result<(), ApiError> {
    let cmd = command_for(state, q).await?;
    let (next, result_txn, key) = match execute(state, Lang::En, cmd).await {
        Ok(Reply::Txn(t)) if t.status == suanpan_core::TxnStatus::Approved => {
            (RequestStatus::Executed, Some(t.id), String::new())
        }
        Ok(Reply::Txn(t)) => (
            RequestStatus::Failed,
            Some(t.id),
            format!("declined:{}", t.response_code.code()),
        ),
        Ok(Reply::Refused(r)) => (RequestStatus::Failed, None, r.key().to_owned()),
        Ok(other) => (RequestStatus::Failed, None, format!("unexpected:{other:?}")),
        // Nothing was reported committed: the request stays claimed; once the claim is
        // stale, `recover_stale` finds out what happened and finishes it.
        Err(e) => return Err(e),
    };
    finish(state, q, next, result_txn, &key).await
}

/// Moves a claimed request to its outcome.
async fn finish(
    state: &AppState,
    q: &ReviewRequest,
    next: RequestStatus,
    result_txn: Option<TxnId>,
    key: &str,
) -> Result<(), ApiError> {
    let verb = if next == RequestStatus::Executed {
        "execute"
    } else {
        "fail"
    };
    let done = Transition {
        result_txn,
        result_key: key,
        ..Transition::new(q, "system", verb, RequestStatus::Executing, next)
    };
    transition(state, OwnedTransition::from(&done)).await?;
    Ok(())
}

/// The engine command of an approved request: on the original's terminal, as the submitter's
/// counter operator (or the original's), authorized by the review (recorded as supervisor 00).
async fn command_for(state: &AppState, q: &ReviewRequest) -> Result<Command, ApiError> {
    let store = state.store().clone();
    let (txn_id, submitter) = (q.txn_id, q.submitted_by);
    let (t, op) = blocking(Lang::En, move || {
        let t = store.transaction(TxnId(txn_id))?;
        let op = store.staff_operator(submitter)?;
        Ok((t, op))
    })
    .await?;
    let t =
        t.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, Lang::En, "txn.not_found", &[]))?;
    let operator = op.filter(|o| *o != OperatorNo::ADMIN).unwrap_or(t.operator);
    let origin = Origin {
        terminal_id: t.terminal_id.clone(),
        operator,
        supervisor: Some(OperatorNo::SUPERVISOR),
        voucher: None,
        batch: None,
        training: t.training,
        idempotency: None,
        terminal_info: None,
    };
    let reason = execution_reason(q);
    Ok(match q.kind.as_str() {
        "void" => Command::Void {
            origin,
            kind: if t.kind == TxnKind::Completion {
                TxnKind::CompletionVoid
            } else {
                TxnKind::Void
            },
            original: OriginalRef::Id(t.id),
            amount: Some(Amount::from_fen(q.amount_fen)),
            reason,
            customer_consent: q.customer_consent,
            card_fingerprint: t.card_fingerprint.clone(),
        },
        _ => Command::Refund {
            origin,
            original: OriginalRef::Id(t.id),
            amount: Amount::from_fen(q.amount_fen),
            reason,
        },
    })
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
            recover_stale(&state).await;
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
