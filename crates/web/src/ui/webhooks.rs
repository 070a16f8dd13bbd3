//! 通知设置 (webhooks, issue 13): the caller's endpoints with their newest deliveries, a form
//! to add one (its secret shown once), remove, and replay a delivery — the same functions
//! as `/api/v1/webhooks`.

use super::{Base, CsrfForm, Done, FormIn, form_action, show};
use crate::auth::Caller;
use crate::catalog::tf;
use crate::error::ApiError;
use crate::state::AppState;
use crate::webhooks::{DeliveryView, EndpointIn, EndpointView, EventName};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;

csrf_forms!(EndpointForm);

/// Deliveries shown per endpoint on the page (the API lists up to 200).
const PAGE_DELIVERIES_MAX: usize = 10;

#[derive(Template)]
#[template(path = "webhooks.html")]
struct WebhooksPage {
    base: Base,
    rows: Vec<(EndpointView, Vec<DeliveryView>)>,
    events: Vec<(&'static str, &'static str)>,
}

/// The events the caller may subscribe to: (form field, wire name).
fn events_for(caller: &Caller) -> Vec<(&'static str, &'static str)> {
    let mut all = vec![
        ("ev_void", "void.executed"),
        ("ev_refund", "refund.executed"),
        ("ev_case", "case.changed"),
        ("ev_batch", "batch.settled"),
        ("ev_alert", "alert.raised"),
    ];
    if caller.user.merchant_id.is_none() {
        all.push(("ev_report", "compliance.report"));
    }
    all
}

pub(super) async fn webhooks_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
) -> Response {
    show(caller, "/dashboard", async |caller| {
        let mut rows = Vec::new();
        for e in crate::webhooks::endpoints(&state, caller).await? {
            let mut d = crate::webhooks::endpoint_deliveries(&state, caller, e.id).await?;
            d.truncate(PAGE_DELIVERIES_MAX);
            rows.push((e, d));
        }
        Ok(WebhooksPage {
            rows,
            events: events_for(caller),
            base: Base::of(caller, "webhooks", "nav.webhooks", "/webhooks"),
        })
    })
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct EndpointForm {
    csrf: String,
    url: String,
    #[serde(default)]
    description: String,
    ev_void: Option<String>,
    ev_refund: Option<String>,
    ev_case: Option<String>,
    ev_batch: Option<String>,
    ev_alert: Option<String>,
    ev_report: Option<String>,
}

pub(super) async fn webhooks_add(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    form: FormIn<EndpointForm>,
) -> Response {
    form_action(caller, form, "/webhooks", async |caller, f| {
        let ticked = [
            (f.ev_void.is_some(), EventName::VoidExecuted),
            (f.ev_refund.is_some(), EventName::RefundExecuted),
            (f.ev_case.is_some(), EventName::CaseChanged),
            (f.ev_batch.is_some(), EventName::BatchSettled),
            (f.ev_alert.is_some(), EventName::AlertRaised),
            (f.ev_report.is_some(), EventName::ComplianceReport),
        ];
        let input = EndpointIn {
            url: f.url.trim().to_owned(),
            events: ticked.iter().filter(|t| t.0).map(|t| t.1).collect(),
            description: f.description,
        };
        let made = crate::webhooks::add(&state, caller, input).await?;
        let args = [made.endpoint.url, made.secret];
        Ok(Done::back(tf(caller.lang, "msg.webhook_created", &args)))
    })
    .await
}

pub(super) async fn webhooks_remove(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<i64>,
    form: FormIn<CsrfForm>,
) -> Response {
    form_action(caller, form, "/webhooks", async |caller, _| {
        crate::webhooks::delete_endpoint(&state, caller, id).await?;
        Ok(Done::back(tf(caller.lang, "msg.webhook_removed", &[])))
    })
    .await
}

pub(super) async fn webhooks_replay(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<i64>,
    form: FormIn<CsrfForm>,
) -> Response {
    form_action(caller, form, "/webhooks", async |caller, _| {
        crate::webhooks::replay_delivery(&state, caller, id).await?;
        Ok(Done::back(tf(caller.lang, "msg.webhook_replayed", &[])))
    })
    .await
}
