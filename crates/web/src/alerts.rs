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
use suanpan_store::risk_admin::{AlertFilter, RiskAdmin};

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/v1/alerts", get(list_alerts))
        .route("/api/v1/alerts/counts", get(alert_counts))
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
    pub fn parse(lang: suanpan_core::Lang, text: Option<&str>) -> Result<Option<Self>, ApiError> {
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

/// An alert's severity, as a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SeverityIn {
    /// Worth a look.
    Low,
    /// Look today.
    Medium,
    /// Look now.
    High,
}

impl SeverityIn {
    /// Every severity, highest first.
    pub const ALL: [SeverityIn; 3] = [SeverityIn::High, SeverityIn::Medium, SeverityIn::Low];

    /// The severity's name.
    pub fn as_str(self) -> &'static str {
        match self {
            SeverityIn::Low => "low",
            SeverityIn::Medium => "medium",
            SeverityIn::High => "high",
        }
    }
}

/// A listing's filter, parsed: each given field narrows it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter {
    /// One status.
    pub status: Option<AlertStatusIn>,
    /// One rule.
    pub rule: Option<Rule>,
    /// One severity.
    pub severity: Option<SeverityIn>,
}

impl Filter {
    /// The filter of a query's texts; an unknown value is 400 naming its field.
    pub fn parse(
        lang: Lang,
        status: Option<&str>,
        rule: Option<&str>,
        severity: Option<&str>,
    ) -> Result<Filter, ApiError> {
        fn given(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|v| !v.is_empty())
        }
        let rule = match given(rule) {
            None => None,
            Some(r) => Some(Rule::parse(r).ok_or_else(|| ApiError::field(lang, "rule", r))?),
        };
        let severity = match given(severity) {
            None => None,
            Some(s) => Some(
                SeverityIn::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| ApiError::field(lang, "severity", s))?,
            ),
        };
        Ok(Filter {
            status: AlertStatusIn::parse(lang, status)?,
            rule,
            severity,
        })
    }

    fn to_store(self) -> AlertFilter {
        AlertFilter {
            status: self.status.map(|s| s.as_str().to_owned()),
            rule: self.rule.map(|r| r.as_str().to_owned()),
            severity: self.severity.map(|s| s.as_str().to_owned()),
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
    /// Only this rule (`consecutive_declines`, `velocity`, `amount_limit`, `duplicate`,
    /// `off_hours`, `blocklist`, `void_ratio`, `sale_after_void`); all when empty.
    pub rule: Option<String>,
    /// Only this severity (`low`, `medium`, `high`); all when empty.
    pub severity: Option<String>,
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
    filter: Filter,
) -> Result<Vec<AlertView>, ApiError> {
    let merchant = scope(caller, Permission::ViewAllMerchants)?;
    let store = state.store().clone();
    let f = filter.to_store();
    let rows = blocking(caller.lang, move || {
        store.alerts_filtered(merchant.as_ref(), &f)
    })
    .await?;
    Ok(rows.iter().map(|a| AlertView::of(a, caller.lang)).collect())
}

/// One alert in the caller's scope (another merchant's is 404, as a missing one).
pub async fn alert(state: &AppState, caller: &Caller, id: i64) -> Result<AlertRow, ApiError> {
    let merchant = scope(caller, Permission::ViewAllMerchants)?;
    let store = state.store().clone();
    let a = blocking(caller.lang, move || store.alert(merchant.as_ref(), id)).await?;
    a.ok_or_else(|| ApiError::refused(caller.lang, &RiskRefused::AlertNotFound))
}

/// Days the dashboard shows by default.
pub const DASHBOARD_DAYS: u32 = 14;

/// How many alerts one rule raised on one local day.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AlertCount {
    /// The local day (`YYYY-MM-DD`).
    pub day: String,
    /// The rule (as `AlertView::rule`).
    pub rule: String,
    /// The rule in words.
    pub rule_label: String,
    /// Alerts raised.
    pub count: i64,
}

/// Alerts per local day and rule over the last `days` days, counted by the database.
pub async fn counts(
    state: &AppState,
    caller: &Caller,
    days: u32,
) -> Result<Vec<AlertCount>, ApiError> {
    let merchant = scope(caller, Permission::ViewAllMerchants)?;
    let store = state.store().clone();
    let rows = blocking(caller.lang, move || {
        store.alert_counts(merchant.as_ref(), days)
    })
    .await?;
    Ok(rows
        .into_iter()
        .map(|c| AlertCount {
            rule_label: Rule::parse(&c.rule)
                .map_or(c.rule.clone(), |r| r.label(caller.lang).to_owned()),
            day: c.day,
            rule: c.rule,
            count: c.count,
        })
        .collect())
}

/// The dashboard's query.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CountsQuery {
    /// Days back from today, 1–31 (default 14).
    #[param(minimum = 1, maximum = 31)]
    pub days: Option<u32>,
    /// Language (`zh`, `en`); read by every extractor from the query.
    #[serde(rename = "lang")]
    pub _lang: Option<String>,
}

/// Alerts per local day and per rule (the 风险预警 dashboard), counted over every alert of
/// the caller's scope; days without alerts are absent.
#[utoipa::path(get, path = "/api/v1/alerts/counts", tag = "alerts", params(CountsQuery),
    responses((status = 200, body = Vec<AlertCount>), (status = 400, body = ApiError), (status = 403, body = ApiError)))]
pub async fn alert_counts(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CountsQuery>,
) -> Result<Json<Vec<AlertCount>>, ApiError> {
    let days = q.days.unwrap_or(DASHBOARD_DAYS);
    if !(1..=suanpan_store::risk_admin::ALERT_DAYS_MAX).contains(&days) {
        return Err(ApiError::field(caller.lang, "days", &days.to_string()));
    }
    Ok(Json(counts(&state, &caller, days).await?))
}

/// Lists the alerts (风险预警), newest first, at most 500.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", params(AlertQuery),
    responses((status = 200, body = Vec<AlertView>), (status = 400, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list_alerts(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AlertQuery>,
) -> Result<Json<Vec<AlertView>>, ApiError> {
    let filter = Filter::parse(
        caller.lang,
        q.status.as_deref(),
        q.rule.as_deref(),
        q.severity.as_deref(),
    )?;
    Ok(Json(alerts(&state, &caller, filter).await?))
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
