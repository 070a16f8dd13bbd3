//! 风险预警 (issue 13): the queue of the alerts the risk rules raise, for the merchant's
//! supervisors (their merchant) and the acquirer's risk officers (every merchant) — filtered
//! by status, rule and severity, with the dashboard of alerts per day and per rule (SVG drawn
//! on the server from the database's counts) — and one alert with its evidence, its steps
//! (acknowledge, resolve with a note, approve or reject a held sale) and, for a sale after a
//! void, the void and the new sale side by side. The same functions as `/api/v1/alerts`.

use super::{Base, FormIn, form_action, options, show};
use crate::alerts::{AlertStatusIn, AlertView, DASHBOARD_DAYS, Filter, SeverityIn};
use crate::auth::{Caller, blocking};
use crate::catalog::{t, tf};
use crate::error::ApiError;
use crate::state::AppState;
use crate::view::{TxnView, When};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::collections::BTreeMap;
use suanpan_core::backoffice::{Permission, Tier};
use suanpan_core::risk::{AlertAction, Rule};
use suanpan_core::{Amount, Lang, TxnId};
use suanpan_store::risk_admin::{RiskAdmin, VoidThenSale};

csrf_forms!(StepForm);

/// The list's filter as the page's form sends it (blank = all).
#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct AlertsQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    rule: String,
    #[serde(default)]
    severity: String,
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage {
    base: Base,
    q: AlertsQuery,
    statuses: Vec<(String, String)>,
    rules: Vec<(String, String)>,
    severities: Vec<(String, String)>,
    rows: Vec<Row>,
    /// Every merchant's alerts (the acquirer): a merchant column.
    all_merchants: bool,
    days: u32,
    by_day: String,
    by_rule: String,
    day_rows: Vec<(String, i64)>,
    rule_rows: Vec<(String, i64)>,
    total: i64,
    limits_href: &'static str,
}

/// One alert as a row of the page, in words.
struct Row {
    a: AlertView,
    when: String,
    severity: String,
    action: String,
    status: String,
    amount: String,
}

impl Row {
    fn of(a: AlertView, state: &AppState, lang: Lang) -> Row {
        let at = a.created_at.parse::<jiff::Timestamp>();
        Row {
            when: at.map_or(a.created_at.clone(), |t| {
                When::of(state.store().policy(), t).local
            }),
            severity: t(lang, &format!("alert.sev.{}", a.severity)).to_owned(),
            action: t(lang, &format!("alert.act.{}", a.action)).to_owned(),
            status: t(lang, &format!("alert.st.{}", a.status)).to_owned(),
            amount: a
                .amount_fen
                .map(|f| Amount::from_fen(f).display())
                .unwrap_or_default(),
            a,
        }
    }
}

/// Sums of the counts by `key`, in key order.
fn totals(
    counts: &[crate::alerts::AlertCount],
    key: impl Fn(&crate::alerts::AlertCount) -> String,
) -> Vec<(String, i64)> {
    let mut sums: BTreeMap<String, i64> = BTreeMap::new();
    for c in counts {
        *sums.entry(key(c)).or_default() += c.count;
    }
    sums.into_iter().collect()
}

/// A bar chart of `items`, or the words that there is nothing to draw.
fn chart(items: &[(String, i64)], lang: Lang, key: &str) -> String {
    if items.iter().all(|(_, n)| *n == 0) {
        format!(
            "<p class=\"muted\">{}</p>",
            crate::svg::escape(t(lang, "alert.none_in_window"))
        )
    } else {
        crate::svg::bars(items, |v| v.to_string(), t(lang, key))
    }
}

/// Every local day of the window (oldest first) with the day's total, zero ones too, so a
/// quiet day shows as no bar rather than no label.
fn per_day(
    state: &AppState,
    counts: &[crate::alerts::AlertCount],
    days: u32,
) -> Vec<(String, i64)> {
    let zone = state
        .store()
        .policy()
        .zone()
        .unwrap_or(jiff::tz::TimeZone::UTC);
    let mut day = state.store().now().to_zoned(zone).date();
    let sums: BTreeMap<String, i64> = totals(counts, |c| c.day.clone()).into_iter().collect();
    let mut out = Vec::new();
    for _ in 0..days {
        let d = day.to_string();
        out.push((
            d.get(5..).unwrap_or(&d).to_owned(),
            sums.get(&d).copied().unwrap_or(0),
        ));
        match day.yesterday() {
            Ok(y) => day = y,
            Err(_) => break,
        }
    }
    out.reverse();
    out
}

pub(super) async fn alerts_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    q: Result<Query<AlertsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    show(caller, "/alerts", async |caller| {
        let lang = caller.lang;
        let filter = Filter::parse(lang, Some(&q.status), Some(&q.rule), Some(&q.severity))
            .map_err(super::back_to("/alerts"))?;
        let rows = crate::alerts::alerts(&state, caller, filter).await?;
        let counts = crate::alerts::counts(&state, caller, DASHBOARD_DAYS).await?;
        // Days are `MM-DD` under the bars: fourteen of them fit.
        let day_rows = per_day(&state, &counts, DASHBOARD_DAYS);
        let rule_rows = totals(&counts, |c| c.rule_label.clone());
        let total = rule_rows.iter().map(|(_, n)| n).sum();
        let by_day = chart(&day_rows, lang, "alert.by_day");
        let by_rule = chart(&rule_rows, lang, "alert.by_rule");
        let all = caller.user.merchant_id.is_none();
        let path = format!(
            "/alerts?status={}&rule={}&severity={}",
            q.status, q.rule, q.severity
        );
        let section = if all { "alerts_acq" } else { "alerts" };
        Ok(AlertsPage {
            statuses: options(
                lang,
                Some(t(lang, "filter.all").to_owned()),
                "alert.st",
                AlertStatusIn::ALL.iter().map(|s| s.as_str()),
            ),
            rules: std::iter::once((String::new(), t(lang, "filter.all").to_owned()))
                .chain(
                    Rule::ALL
                        .iter()
                        .map(|r| (r.as_str().to_owned(), r.label(lang).to_owned())),
                )
                .collect(),
            severities: options(
                lang,
                Some(t(lang, "filter.all").to_owned()),
                "alert.sev",
                SeverityIn::ALL.iter().map(|s| s.as_str()),
            ),
            rows: rows.into_iter().map(|a| Row::of(a, &state, lang)).collect(),
            all_merchants: all,
            days: DASHBOARD_DAYS,
            by_day,
            by_rule,
            day_rows,
            rule_rows,
            total,
            limits_href: if all { "" } else { "/risk/limits" },
            q,
            base: Base::of(caller, section, "nav.alerts", &path),
        })
    })
    .await
}

/// A transaction of the evidence, as the page shows it.
struct Evidence {
    role: String,
    /// The terminal's re-charge (重新收款, 8583 field 61) names the voided sale.
    linked: bool,
    txn: TxnView,
    /// The merchant's own users open the transaction's page (requests, evidence there).
    href: Option<String>,
}

#[derive(Template)]
#[template(path = "alert.html")]
struct AlertPage {
    base: Base,
    row: Row,
    inputs: Vec<(String, String)>,
    evidence: Vec<Evidence>,
    /// A sale after a void: the void, its sale and the new sale side by side.
    void_then_sale: bool,
    can_act: bool,
    can_review: bool,
}

/// The alert's evidence in the caller's scope: its transactions, or for a sale after a void
/// the voided sale, the void and the new sale (the re-charge) in that order.
async fn evidence(
    state: &AppState,
    caller: &Caller,
    a: &suanpan_store::risk::AlertRow,
) -> Result<(Vec<Evidence>, bool), ApiError> {
    let lang = caller.lang;
    let (store, id, merchant) = (state.store().clone(), a.id, caller.user.merchant_id.clone());
    let pair = blocking(lang, move || store.void_then_sale(merchant.as_ref(), id)).await?;
    let voided = pair.and_then(|p| p.voided_sale_id);
    let roles: Vec<(i64, &str)> = match pair {
        Some(VoidThenSale {
            void_id,
            voided_sale_id,
            next_sale_id,
        }) => voided_sale_id
            .map(|s| (s, "alert.ev.voided_sale"))
            .into_iter()
            .chain([(void_id, "alert.ev.void")])
            .chain(next_sale_id.map(|s| (s, "alert.ev.next_sale")))
            .collect(),
        None => a.txn_ids.iter().map(|&i| (i, "alert.ev.txn")).collect(),
    };
    let own = caller.user.role.tier() == Tier::Merchant;
    let policy = state.store().policy().clone();
    let mut out = Vec::new();
    for (txn, role) in roles {
        let store = state.store().clone();
        let t = blocking(lang, move || store.transaction(TxnId(txn))).await?;
        // The alert was found in the caller's scope; its evidence must be its merchant's.
        let Some(t) = t.filter(|t| t.merchant_id.as_str() == a.merchant_id) else {
            continue;
        };
        out.push(Evidence {
            role: tf(lang, role, &[]),
            linked: voided.is_some() && t.linked_id.map(|l| l.0) == voided,
            href: own.then(|| format!("/txns/{txn}")),
            txn: TxnView::of(&t, &policy, lang),
        });
    }
    Ok((out, pair.is_some()))
}

pub(super) async fn alert_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
) -> Response {
    show(caller, "/alerts", async |caller| {
        let lang = caller.lang;
        let id = crate::api::parse_id(lang, &id)?;
        let a = crate::alerts::alert(&state, caller, id).await?;
        let (evidence, void_then_sale) = evidence(&state, caller, &a).await?;
        let inputs = a
            .inputs
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| {
                let key = format!("alert.in.{k}");
                let name = t(lang, &key);
                let name = if name == key { k } else { name };
                // Amounts in yuan, as a person reads them.
                let value = match v.parse::<i64>() {
                    Ok(fen) if k.ends_with("_fen") => Amount::from_fen(fen).display(),
                    _ => v.to_owned(),
                };
                (name.to_owned(), value)
            })
            .collect();
        let role = caller.user.role;
        let can_act = role.allows(if caller.user.merchant_id.is_some() {
            Permission::Review
        } else {
            Permission::ManageMerchants
        });
        let view = AlertView::of(&a, lang);
        let can_review = can_act && view.review.as_deref() == Some("pending");
        let section = if caller.user.merchant_id.is_none() {
            "alerts_acq"
        } else {
            "alerts"
        };
        Ok(AlertPage {
            row: Row::of(view, &state, lang),
            inputs,
            evidence,
            void_then_sale,
            can_act,
            can_review,
            base: Base::of(caller, section, "alert.detail", &format!("/alerts/{id}")),
        })
    })
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct StepForm {
    csrf: String,
    #[serde(default)]
    note: String,
}

pub(super) async fn alert_action(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path((id, action)): Path<(String, String)>,
    form: FormIn<StepForm>,
) -> Response {
    let back = format!("/alerts/{id}");
    form_action(caller, form, &back, async |caller, f| {
        let lang = caller.lang;
        let id = crate::api::parse_id(lang, &id)?;
        let (step, key) = match action.as_str() {
            "acknowledge" => (AlertAction::Acknowledge, "msg.alert_acknowledged"),
            "resolve" => (AlertAction::Resolve, "msg.alert_resolved"),
            "approve" => (AlertAction::Approve, "msg.alert_approved"),
            "reject" => (AlertAction::Reject, "msg.alert_rejected"),
            _ => {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    lang,
                    "route.not_found",
                    &[],
                ));
            }
        };
        crate::alerts::step(&state, caller, id, step, &f.note).await?;
        Ok(super::Done::back(tf(lang, key, &[id.to_string()])))
    })
    .await
}
