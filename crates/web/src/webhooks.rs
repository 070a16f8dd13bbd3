//! Outgoing webhooks over the API (issue 13): a merchant's admin manages the merchant's
//! endpoints, the acquirer's platform admin the acquirer's (which hear every merchant's
//! events); each sees the delivery log of their own endpoints and replays a delivery. The
//! records and the outbox are `store::notify`; the worker that posts is `suanpan-notify`.
//! A URL is checked when saved (`https://` or `http://`, no internal address unless
//! `[notify] allow_private`) and again, after name resolution, on every delivery.

use crate::api::Id;
use crate::auth::{Caller, blocking};
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::state::AppState;
use crate::view::When;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use suanpan_core::MerchantId;
use suanpan_core::backoffice::Permission;
use suanpan_core::notify::EventKind;
use suanpan_store::notify::{self as outbox, DELIVERIES_ROWS_MAX, EndpointChange, NewEndpoint};

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/v1/webhooks", get(list).post(create))
        .route(
            "/api/v1/webhooks/{id}",
            get(one).patch(update).delete(remove),
        )
        .route("/api/v1/webhooks/{id}/deliveries", get(deliveries))
        .route("/api/v1/webhooks/deliveries/{id}", get(delivery))
        .route("/api/v1/webhooks/deliveries/{id}/replay", post(replay))
}

/// An event type an endpoint subscribes to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema,
)]
pub enum EventName {
    /// A void was booked.
    #[serde(rename = "void.executed")]
    VoidExecuted,
    /// A refund was booked.
    #[serde(rename = "refund.executed")]
    RefundExecuted,
    /// A case was opened or changed status.
    #[serde(rename = "case.changed")]
    CaseChanged,
    /// A batch was settled.
    #[serde(rename = "batch.settled")]
    BatchSettled,
    /// The daily compliance report (the acquirer's endpoints only).
    #[serde(rename = "compliance.report")]
    ComplianceReport,
    /// A risk alert was raised.
    #[serde(rename = "alert.raised")]
    AlertRaised,
}

impl EventName {
    fn kind(self) -> EventKind {
        match self {
            EventName::VoidExecuted => EventKind::VoidExecuted,
            EventName::RefundExecuted => EventKind::RefundExecuted,
            EventName::CaseChanged => EventKind::CaseChanged,
            EventName::BatchSettled => EventKind::BatchSettled,
            EventName::ComplianceReport => EventKind::ComplianceReport,
            EventName::AlertRaised => EventKind::AlertRaised,
        }
    }
}

/// An endpoint as the API shows it (never its secret, which is shown once at creation).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct EndpointView {
    /// Its number.
    pub id: i64,
    /// Where events are POSTed.
    pub url: String,
    /// The subscribed event types.
    pub events: Vec<String>,
    /// A note.
    pub description: String,
    /// Whether events are sent.
    pub enabled: bool,
    /// When it was made.
    pub created_at: When,
    /// By whom (audit actor).
    pub created_by: String,
}

/// A new endpoint and its secret, shown this once: the receiver checks
/// `X-Suanpan-Signature` (`v1=` + hex HMAC-SHA256 of `timestamp.body`) with it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CreatedEndpoint {
    /// The endpoint.
    pub endpoint: EndpointView,
    /// The signing secret (`whsec_…`); it cannot be shown again.
    pub secret: String,
}

/// A new endpoint.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointIn {
    /// `https://host[:port]/path` (or `http://`), at most 2,048 bytes.
    pub url: String,
    /// Event types (at least one).
    pub events: Vec<EventName>,
    /// A note (optional).
    #[serde(default)]
    pub description: String,
}

/// A change to an endpoint; absent fields stay.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointPatch {
    /// A new URL.
    pub url: Option<String>,
    /// New event types (at least one).
    pub events: Option<Vec<EventName>>,
    /// A new note.
    pub description: Option<String>,
    /// Enable or disable.
    pub enabled: Option<bool>,
}

/// A delivery of one event to the endpoint.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    /// Its number.
    pub id: i64,
    /// The endpoint.
    pub endpoint_id: i64,
    /// The event's id (`X-Suanpan-Event-Id`, the same on every retry).
    pub event_id: String,
    /// The event type.
    pub event: String,
    /// `pending`, `delivering`, `delivered` or `failed`.
    pub status: String,
    /// Attempts since it was queued or replayed.
    pub attempts: u32,
    /// The next attempt, while pending.
    pub next_at: Option<When>,
    /// The receiver's last HTTP status.
    pub last_code: Option<i64>,
    /// The last error, in words.
    pub last_error: String,
    /// When the event happened.
    pub created_at: When,
}

/// One attempt.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AttemptView {
    /// When it started.
    pub at: When,
    /// The receiver's HTTP status, if it answered.
    pub status_code: Option<i64>,
    /// Milliseconds it took.
    pub latency_ms: i64,
    /// What went wrong, in words (empty on success).
    pub error: String,
    /// Started by a replay.
    pub replay: bool,
}

/// A delivery with its attempts.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DeliveryDetail {
    /// The delivery.
    pub delivery: DeliveryView,
    /// Its attempts, oldest first.
    pub attempts: Vec<AttemptView>,
}

/// Whose endpoints the caller manages: its merchant's, or (acquirer users) the acquirer's.
fn owner(caller: &Caller) -> Result<Option<MerchantId>, ApiError> {
    match &caller.user.merchant_id {
        Some(m) => {
            caller.require(Permission::ManageWebhooks)?;
            Ok(Some(m.clone()))
        }
        None => {
            caller.require(Permission::ManageAcquirerWebhooks)?;
            Ok(None)
        }
    }
}

fn not_found(caller: &Caller) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, caller.lang, "webhook.not_found", &[])
}

fn refused(caller: &Caller, key: &str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, caller.lang, key, &[])
}

fn check_url(state: &AppState, caller: &Caller, url: &str) -> Result<(), ApiError> {
    use suanpan_notify::http::HttpError;
    if url.len() > outbox::URL_BYTES_MAX {
        return Err(refused(caller, "webhook.url"));
    }
    match suanpan_notify::http::check_url(url, state.cfg().notify.allow_private) {
        Ok(_) => Ok(()),
        Err(HttpError::NotAllowed(_)) => Err(refused(caller, "webhook.url_private")),
        Err(_) => Err(refused(caller, "webhook.url")),
    }
}

fn kinds(caller: &Caller, events: &[EventName]) -> Result<Vec<EventKind>, ApiError> {
    let mut out: Vec<EventKind> = events.iter().map(|e| e.kind()).collect();
    out.dedup();
    if out.is_empty() {
        return Err(refused(caller, "webhook.events"));
    }
    if caller.user.merchant_id.is_some() && out.iter().any(|k| k.acquirer_only()) {
        return Err(refused(caller, "webhook.acquirer_only"));
    }
    Ok(out)
}

fn view(state: &AppState, r: outbox::EndpointRow) -> EndpointView {
    let policy = state.store().policy();
    EndpointView {
        id: r.id,
        url: r.url,
        events: r.events,
        description: r.description,
        enabled: r.enabled,
        created_at: When::micros(policy, r.created_at),
        created_by: r.created_by,
    }
}

fn delivery_view(state: &AppState, d: outbox::DeliveryRow) -> DeliveryView {
    let policy = state.store().policy();
    DeliveryView {
        next_at: (d.status == "pending").then(|| When::micros(policy, d.next_at)),
        id: d.id,
        endpoint_id: d.endpoint_id,
        event_id: d.event_id,
        event: d.kind,
        status: d.status,
        attempts: d.attempts,
        last_code: d.last_code,
        last_error: d.last_error,
        created_at: When::micros(policy, d.created_at),
    }
}

/// The caller's endpoints (for the API and the page).
pub async fn endpoints(state: &AppState, caller: &Caller) -> Result<Vec<EndpointView>, ApiError> {
    let who = owner(caller)?;
    let store = state.store().clone();
    let rows = blocking(caller.lang, move || {
        outbox::list_endpoints(&*store, who.as_ref())
    })
    .await?;
    Ok(rows.into_iter().map(|r| view(state, r)).collect())
}

/// Webhook endpoints of the caller's merchant (or of the acquirer).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", operation_id = "list_webhooks",
    responses((status = 200, body = Vec<EndpointView>), (status = 403, body = ApiError)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<EndpointView>>, ApiError> {
    Ok(Json(endpoints(&state, &caller).await?))
}

/// Creates an endpoint (admins); its secret is answered this once.
pub async fn add(
    state: &AppState,
    caller: &Caller,
    input: EndpointIn,
) -> Result<CreatedEndpoint, ApiError> {
    let who = owner(caller)?;
    check_url(state, caller, &input.url)?;
    let events = kinds(caller, &input.events)?;
    let store = state.store().clone();
    let actor = suanpan_store::backoffice::actor(&caller.user.username);
    let description: String = input.description.chars().take(200).collect();
    let made = blocking(caller.lang, move || {
        let count = outbox::list_endpoints(&*store, who.as_ref())?.len();
        if count >= outbox::ENDPOINTS_PER_OWNER_MAX as usize {
            return Ok(None);
        }
        let new = NewEndpoint {
            url: &input.url,
            events: &events,
            description: &description,
        };
        outbox::create_endpoint(&*store, who.as_ref(), &new, &actor).map(Some)
    })
    .await?;
    let Some((row, secret)) = made else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            caller.lang,
            "webhook.limit",
            &[outbox::ENDPOINTS_PER_OWNER_MAX.to_string()],
        ));
    };
    Ok(CreatedEndpoint {
        endpoint: view(state, row),
        secret,
    })
}

/// Creates a webhook endpoint.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", operation_id = "create_webhook",
    request_body = EndpointIn,
    responses((status = 201, body = CreatedEndpoint), (status = 403, body = ApiError),
        (status = 422, body = ApiError, description = "the URL is not usable or not allowed, no event, or too many endpoints")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson { value }: ApiJson<EndpointIn>,
) -> Result<(StatusCode, Json<CreatedEndpoint>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(add(&state, &caller, value).await?),
    ))
}

async fn find(state: &AppState, caller: &Caller, id: i64) -> Result<EndpointView, ApiError> {
    let who = owner(caller)?;
    let store = state.store().clone();
    let row = blocking(caller.lang, move || {
        outbox::endpoint(&*store, who.as_ref(), id)
    })
    .await?;
    row.map(|r| view(state, r)).ok_or_else(|| not_found(caller))
}

/// One webhook endpoint.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "get_webhook",
    params(("id" = i64, Path)),
    responses((status = 200, body = EndpointView), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<EndpointView>, ApiError> {
    Ok(Json(find(&state, &caller, id).await?))
}

/// Changes an endpoint (for the API and the page).
pub async fn change(
    state: &AppState,
    caller: &Caller,
    id: i64,
    input: EndpointPatch,
) -> Result<EndpointView, ApiError> {
    let who = owner(caller)?;
    if let Some(url) = &input.url {
        check_url(state, caller, url)?;
    }
    let events = input
        .events
        .as_deref()
        .map(|e| kinds(caller, e))
        .transpose()?;
    let store = state.store().clone();
    let actor = suanpan_store::backoffice::actor(&caller.user.username);
    let description: Option<String> = input.description.map(|d| d.chars().take(200).collect());
    let found = blocking(caller.lang, move || {
        let change = EndpointChange {
            url: input.url.as_deref(),
            events: events.as_deref(),
            description: description.as_deref(),
            enabled: input.enabled,
        };
        outbox::update_endpoint(&*store, who.as_ref(), id, &change, &actor)
    })
    .await?;
    if !found {
        return Err(not_found(caller));
    }
    find(state, caller, id).await
}

/// Changes a webhook endpoint: URL, events, note, enabled.
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "update_webhook",
    params(("id" = i64, Path)), request_body = EndpointPatch,
    responses((status = 200, body = EndpointView), (status = 403, body = ApiError), (status = 404, body = ApiError),
        (status = 422, body = ApiError, description = "the URL is not usable or not allowed, or no event")))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson { value }: ApiJson<EndpointPatch>,
) -> Result<Json<EndpointView>, ApiError> {
    Ok(Json(change(&state, &caller, id, value).await?))
}

/// Removes an endpoint (for the API and the page).
pub async fn delete_endpoint(state: &AppState, caller: &Caller, id: i64) -> Result<(), ApiError> {
    let who = owner(caller)?;
    let store = state.store().clone();
    let actor = suanpan_store::backoffice::actor(&caller.user.username);
    let found = blocking(caller.lang, move || {
        outbox::remove_endpoint(&*store, who.as_ref(), id, &actor)
    })
    .await?;
    if found {
        Ok(())
    } else {
        Err(not_found(caller))
    }
}

/// Removes a webhook endpoint; its delivery log stays, its pending deliveries fail.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "delete_webhook",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    delete_endpoint(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The newest deliveries of an endpoint (for the API and the page).
pub async fn endpoint_deliveries(
    state: &AppState,
    caller: &Caller,
    id: i64,
) -> Result<Vec<DeliveryView>, ApiError> {
    find(state, caller, id).await?;
    let who = owner(caller)?;
    let store = state.store().clone();
    let rows = blocking(caller.lang, move || {
        outbox::list_deliveries(&*store, who.as_ref(), id, DELIVERIES_ROWS_MAX)
    })
    .await?;
    Ok(rows.into_iter().map(|d| delivery_view(state, d)).collect())
}

/// The newest deliveries of a webhook endpoint (at most 200).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks", operation_id = "list_webhook_deliveries",
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<DeliveryView>), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    Ok(Json(endpoint_deliveries(&state, &caller, id).await?))
}

async fn detail(state: &AppState, caller: &Caller, id: i64) -> Result<DeliveryDetail, ApiError> {
    let who = owner(caller)?;
    let store = state.store().clone();
    let found = blocking(caller.lang, move || {
        outbox::delivery(&*store, who.as_ref(), id)
    })
    .await?;
    let (d, attempts) = found.ok_or_else(|| not_found(caller))?;
    let policy = state.store().policy();
    Ok(DeliveryDetail {
        delivery: delivery_view(state, d),
        attempts: attempts
            .into_iter()
            .map(|a| AttemptView {
                at: When::micros(policy, a.at),
                status_code: a.status_code,
                latency_ms: a.latency_ms,
                error: a.error,
                replay: a.replay,
            })
            .collect(),
    })
}

/// One delivery with its attempts (the delivery log).
#[utoipa::path(get, path = "/api/v1/webhooks/deliveries/{id}", tag = "webhooks", operation_id = "get_webhook_delivery",
    params(("id" = i64, Path)),
    responses((status = 200, body = DeliveryDetail), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn delivery(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<DeliveryDetail>, ApiError> {
    Ok(Json(detail(&state, &caller, id).await?))
}

/// Replays a delivery (for the API and the page).
pub async fn replay_delivery(
    state: &AppState,
    caller: &Caller,
    id: i64,
) -> Result<DeliveryDetail, ApiError> {
    let who = owner(caller)?;
    let store = state.store().clone();
    let actor = suanpan_store::backoffice::actor(&caller.user.username);
    let done = blocking(caller.lang, move || {
        outbox::replay(&*store, who.as_ref(), id, &actor)
    })
    .await?;
    if !done {
        return Err(not_found(caller));
    }
    detail(state, caller, id).await
}

/// Sends a delivery again now (the same event and id), whatever its status; its attempts
/// start again from zero.
#[utoipa::path(post, path = "/api/v1/webhooks/deliveries/{id}/replay", tag = "webhooks", operation_id = "replay_webhook_delivery",
    params(("id" = i64, Path)),
    responses((status = 200, body = DeliveryDetail), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<DeliveryDetail>, ApiError> {
    Ok(Json(replay_delivery(&state, &caller, id).await?))
}
