//! 风险预警 over the API (issue 13): the alerts the risk rules raise, listed for the
//! merchant's supervisors, finance and admins (their merchant only: `Permission::Review`)
//! and for the acquirer's roles that see every merchant (`ViewAllMerchants`); acknowledged,
//! resolved with a note, and a held over-limit sale's review approved or rejected by the
//! same merchant roles or the acquirer's `ManageMerchants` roles (risk officers). The queue
//! is `store::risk::RiskAlerts`; the steps are decided by `core::risk::decide_alert_step`.

use crate::api::{ApiQuery, Id};
use crate::auth::{Caller, blocking};
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::routing::{get, post};
use suanpan_core::backoffice::Permission;
use suanpan_core::risk::{AlertAction, RiskRefused, Rule};
use suanpan_core::{Lang, MerchantId};
use suanpan_store::risk::{AlertRow, RiskAlerts};

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/v1/alerts", get(list_alerts))
        .route("/api/v1/alerts/{id}/acknowledge", post(acknowledge_alert))
        .route("/api/v1/alerts/{id}/resolve", post(resolve_alert))
        .route("/api/v1/alerts/{id}/approve", post(approve_alert))
        .route("/api/v1/alerts/{id}/reject", post(reject_alert))
}

/// An alert as the API shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AlertView {
    /// Id.
    pub id: i64,
    /// The merchant (15 digits).
    pub merchant_id: String,
    /// The terminal, if the rule fired on one.
    pub terminal_id: Option<String>,
    /// The rule: `consecutive_declines`, `velocity`, `amount_limit`, `duplicate`,
    /// `off_hours`, `blocklist`, `void_ratio`, `sale_after_void`.
    pub rule: String,
    /// The rule in words.
    pub rule_label: String,
    /// `low`, `medium`, `high`.
    pub severity: String,
    /// What the rule did: `refused`, `held` (waiting for review), `alerted`.
    pub action: String,
    /// The card's last four digits.
    pub card_last4: Option<String>,
    /// The amount asked (fen).
    pub amount_fen: Option<i64>,
    /// Evidence: the transactions the rule saw.
    pub transaction_ids: Vec<i64>,
    /// The rule's inputs (`key=value`).
    pub inputs: String,
    /// `open`, `acknowledged`, `resolved`.
    pub status: String,
    /// A held sale's review: `pending`, `approved`, `rejected`, `used`.
    pub review: Option<String>,
    /// When it was raised (RFC 3339).
    pub created_at: String,
    /// Who acknowledged it.
    pub acknowledged_by: Option<String>,
    /// Who resolved it.
    pub resolved_by: Option<String>,
    /// The resolution note.
    pub note: Option<String>,
}

impl AlertView {
    pub fn of(a: &AlertRow, lang: Lang) -> AlertView {
        let rule_label = Rule::parse(&a.rule).map_or(a.rule.clone(), |r| r.label(lang).to_owned());
        let created_at = jiff::Timestamp::from_microsecond(a.created_at)
            .map(|t| t.to_string())
            .unwrap_or_default();
        AlertView {
            id: a.id,
            merchant_id: a.merchant_id.clone(),
            terminal_id: a.terminal_id.clone(),
            rule: a.rule.clone(),
            rule_label,
            severity: a.severity.clone(),
            action: a.action.clone(),
            card_last4: a.card_last4.clone(),
            amount_fen: a.amount_fen,
            transaction_ids: a.txn_ids.clone(),
            inputs: a.inputs.clone(),
            status: a.status.clone(),
            review: a.review.clone(),
            created_at,
            acknowledged_by: a.acknowledged_by.clone(),
            resolved_by: a.resolved_by.clone(),
            note: a.note.clone(),
        }
    }
}

/// An alert's status, as a filter.
#[derive(Debug, Clone, Copy, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatusIn {
    /// Not looked at yet.
    Open,
    /// Being looked at.
    Acknowledged,
    /// Done.
    Resolved,
}

impl AlertStatusIn {
    /// Every status, as the filter names them.
    pub const ALL: [AlertStatusIn; 3] = [
        AlertStatusIn::Open,
        AlertStatusIn::Acknowledged,
        AlertStatusIn::Resolved,
    ];

    /// The filter's value: a status, or none for an empty one.
    fn parse(lang: suanpan_core::Lang, text: Option<&str>) -> Result<Option<Self>, ApiError> {
        match text.map(str::trim).unwrap_or_default() {
            "" => Ok(None),
            t => Self::ALL
                .into_iter()
                .find(|s| s.as_str() == t)
                .map(Some)
                .ok_or_else(|| ApiError::field(lang, "status", t)),
        }
    }

    /// The status's name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatusIn::Open => "open",
            AlertStatusIn::Acknowledged => "acknowledged",
            AlertStatusIn::Resolved => "resolved",
        }
    }
}

/// Listing filter.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// Only this status (`open`, `acknowledged`, `resolved`); all when empty.
    pub status: Option<String>,
    /// Language (`zh`, `en`); read by every extractor from the query.
    #[serde(rename = "lang")]
    pub _lang: Option<String>,
}

/// A resolution.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveIn {
    /// What was checked and done (required; blank is refused with 422).
    #[serde(default)]
    pub note: String,
}

/// Whose alerts the caller sees: its merchant's (`Some`), or every merchant's (`None`).
fn scope(caller: &Caller, acquirer_needs: Permission) -> Result<Option<MerchantId>, ApiError> {
    match &caller.user.merchant_id {
        Some(m) => {
            caller.require(Permission::Review)?;
            Ok(Some(m.clone()))
        }
        None => {
            caller.require(acquirer_needs)?;
            Ok(None)
        }
    }
}

/// Alerts for the API and the page, newest first.
pub async fn alerts(
    state: &AppState,
    caller: &Caller,
    status: Option<AlertStatusIn>,
) -> Result<Vec<AlertView>, ApiError> {
    let merchant = scope(caller, Permission::ViewAllMerchants)?;
    let store = state.store().clone();
    let rows = blocking(caller.lang, move || {
        store.alerts(merchant.as_ref(), status.map(AlertStatusIn::as_str))
    })
    .await?;
    Ok(rows.iter().map(|a| AlertView::of(a, caller.lang)).collect())
}

/// Lists the alerts (风险预警), newest first, at most 500.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", params(AlertQuery),
    responses((status = 200, body = Vec<AlertView>), (status = 400, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list_alerts(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AlertQuery>,
) -> Result<Json<Vec<AlertView>>, ApiError> {
    let status = AlertStatusIn::parse(caller.lang, q.status.as_deref())?;
    Ok(Json(alerts(&state, &caller, status).await?))
}

/// Takes a step on an alert as the core decides it.
pub async fn step(
    state: &AppState,
    caller: &Caller,
    id: i64,
    action: AlertAction,
    note: &str,
) -> Result<AlertView, ApiError> {
    let lang = caller.lang;
    let merchant = scope(caller, Permission::ManageMerchants)?;
    let (store, who, note) = (
        state.store().clone(),
        suanpan_store::backoffice::actor(&caller.user.username),
        note.to_owned(),
    );
    let done = blocking(lang, move || {
        store.step_alert(merchant.as_ref(), id, &who, action, &note)
    })
    .await?;
    match done {
        Ok(Some(a)) => Ok(AlertView::of(&a, lang)),
        Ok(None) => Err(ApiError::refused(lang, &RiskRefused::AlertNotFound)),
        Err(r) => Err(ApiError::refused(lang, &r)),
    }
}

/// Acknowledges an open alert.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/acknowledge", tag = "alerts", params(("id" = i64, Path)),
    responses((status = 200, body = AlertView), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn acknowledge_alert(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<AlertView>, ApiError> {
    Ok(Json(
        step(&state, &caller, id, AlertAction::Acknowledge, "").await?,
    ))
}

/// Resolves an alert with a note.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/resolve", tag = "alerts", params(("id" = i64, Path)), request_body = ResolveIn,
    responses((status = 200, body = AlertView), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 422, body = ApiError)))]
pub async fn resolve_alert(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    body: ApiJson<ResolveIn>,
) -> Result<Json<AlertView>, ApiError> {
    let note = body.value.note;
    Ok(Json(
        step(&state, &caller, id, AlertAction::Resolve, &note).await?,
    ))
}

/// Approves a held over-limit sale's review: the same card's next sale for the same amount
/// within `review_retry_minutes` goes through, once.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/approve", tag = "alerts", params(("id" = i64, Path)),
    responses((status = 200, body = AlertView), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn approve_alert(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<AlertView>, ApiError> {
    Ok(Json(
        step(&state, &caller, id, AlertAction::Approve, "").await?,
    ))
}

/// Rejects a held over-limit sale's review.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/reject", tag = "alerts", params(("id" = i64, Path)),
    responses((status = 200, body = AlertView), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn reject_alert(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<AlertView>, ApiError> {
    Ok(Json(
        step(&state, &caller, id, AlertAction::Reject, "").await?,
    ))
}
