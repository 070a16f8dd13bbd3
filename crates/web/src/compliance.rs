//! The daily compliance report (issue 13; seeds 001, 004) for the acquirer's roles that see
//! every merchant (auditors, risk officers, the platform): the reports the scheduler kept
//! (`suanpan_notify::schedule`, one per local day in `scheduled_runs`), each read back
//! as made — audit chain, money conservation, hidden records, voids by reason and by
//! operator, batches settled unbalanced — and downloaded as JSON or CSV. Nothing here
//! recomputes a report: what was sent as the `compliance.report` webhook is what is shown.

use crate::acquirer::gate;
use crate::auth::{Caller, blocking};
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use suanpan_core::backoffice::Permission;
use suanpan_notify::schedule::{self, Report};

/// Reports one listing names at most (a year of days).
pub const REPORTS_LISTED_MAX: u32 = 366;

pub fn routes(state: &AppState) -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            "/api/v1/acquirer/compliance-reports",
            get(list_reports).route_layer(crate::gate(state)),
        )
        .route(
            "/api/v1/acquirer/compliance-reports/{day}",
            get(get_report).route_layer(crate::gate(state)),
        )
        .route(
            "/api/v1/acquirer/compliance-reports/{day}/csv",
            get(report_csv).route_layer(crate::gate(state)),
        )
}

/// One kept report in a listing.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ReportItem {
    /// The local day reported on (`YYYY-MM-DD`).
    pub day: String,
    /// Chain intact, money conserved and no batch settled unbalanced.
    pub green: bool,
    /// One line.
    pub summary: String,
}

/// A count of the day's voids with one reason.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ReasonCount {
    /// The reason as the operator gave it (empty: none given).
    pub reason: String,
    /// Voids.
    pub count: i64,
}

/// A count of the day's voids by one operator.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct OperatorCount {
    /// The merchant.
    pub merchant_id: String,
    /// The operator no.
    pub operator: String,
    /// Voids.
    pub count: i64,
}

/// A batch that settled unbalanced.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct BatchRef {
    /// The terminal.
    pub terminal_id: String,
    /// Its batch no.
    pub batch_no: i64,
}

/// A day's compliance report.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ReportView {
    /// The local day reported on.
    pub day: String,
    /// Chain intact, money conserved and no batch settled unbalanced.
    pub green: bool,
    /// Audit entries checked.
    pub audit_entries: i64,
    /// The first broken audit entry, if the chain is broken.
    pub audit_first_broken: Option<i64>,
    /// Σ initial balances = Σ balances + Σ net moved.
    pub conservation_holds: bool,
    /// Records hidden, all time.
    pub hidden_total: i64,
    /// Records hidden on the day.
    pub hidden_that_day: i64,
    /// The day's voids by reason.
    pub voids_by_reason: Vec<ReasonCount>,
    /// The day's voids by operator.
    pub voids_by_operator: Vec<OperatorCount>,
    /// Batches that settled unbalanced on the day.
    pub unbalanced_batches: Vec<BatchRef>,
}

impl ReportView {
    fn of(r: Report) -> ReportView {
        ReportView {
            day: r.day,
            green: r.green,
            audit_entries: r.audit_entries,
            audit_first_broken: r.audit_first_broken,
            conservation_holds: r.conservation_holds,
            hidden_total: r.hidden_total,
            hidden_that_day: r.hidden_that_day,
            voids_by_reason: r
                .voids_by_reason
                .into_iter()
                .map(|(reason, count)| ReasonCount { reason, count })
                .collect(),
            voids_by_operator: r
                .voids_by_operator
                .into_iter()
                .map(|(merchant_id, operator, count)| OperatorCount {
                    merchant_id,
                    operator,
                    count,
                })
                .collect(),
            unbalanced_batches: r
                .unbalanced_batches
                .into_iter()
                .map(|(terminal_id, batch_no)| BatchRef {
                    terminal_id,
                    batch_no,
                })
                .collect(),
        }
    }

    /// The report as CSV: one `section,key,value` row per fact, so a spreadsheet opens it
    /// and a script reads it without knowing the JSON.
    pub fn csv(&self) -> Result<Vec<u8>, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["section", "key", "value"])?;
        let mut fact = |s: &str, k: &str, v: String| w.write_record([s, k, v.as_str()]);
        fact("report", "day", self.day.clone())?;
        fact("report", "green", self.green.to_string())?;
        fact("audit", "entries", self.audit_entries.to_string())?;
        let broken = self.audit_first_broken.map(|b| b.to_string());
        fact("audit", "first_broken", broken.unwrap_or_default())?;
        fact(
            "money",
            "conservation_holds",
            self.conservation_holds.to_string(),
        )?;
        fact("hidden", "total", self.hidden_total.to_string())?;
        fact("hidden", "that_day", self.hidden_that_day.to_string())?;
        for r in &self.voids_by_reason {
            fact("voids_by_reason", &r.reason, r.count.to_string())?;
        }
        for o in &self.voids_by_operator {
            let who = format!("{}/{}", o.merchant_id, o.operator);
            fact("voids_by_operator", &who, o.count.to_string())?;
        }
        for b in &self.unbalanced_batches {
            fact("unbalanced_batch", &b.terminal_id, b.batch_no.to_string())?;
        }
        w.into_inner().map_err(|e| e.into_error().into())
    }
}

/// The kept reports, newest day first.
pub async fn reports(state: &AppState, caller: &Caller) -> Result<Vec<ReportItem>, ApiError> {
    gate(caller, Permission::ViewAllMerchants)?;
    let store = state.store().clone();
    let runs = blocking(caller.lang, move || {
        schedule::kept_reports(&*store, REPORTS_LISTED_MAX)
    })
    .await?;
    Ok(runs
        .into_iter()
        .map(|r| ReportItem {
            day: r.period,
            green: r.ok,
            summary: r.summary,
        })
        .collect())
}

/// The kept report of `day`; 404 when none was made (or it is still being made).
pub async fn report(state: &AppState, caller: &Caller, day: &str) -> Result<ReportView, ApiError> {
    gate(caller, Permission::ViewAllMerchants)?;
    let lang = caller.lang;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, lang, "report.not_found", &[]);
    let well_formed = day.len() == 10
        && day.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !well_formed {
        return Err(ApiError::field(lang, "date", day));
    }
    // Well-formed but no calendar day (2026-02-30, 0000-00-00): no report was made for it.
    if day.parse::<jiff::civil::Date>().is_err() {
        return Err(not_found());
    }
    let (store, d) = (state.store().clone(), day.to_owned());
    let kept = blocking(lang, move || schedule::kept_report(&*store, &d)).await?;
    let report: Report = kept
        .and_then(|json| serde_json::from_str(&json).ok())
        .ok_or_else(not_found)?;
    Ok(ReportView::of(report))
}

/// The kept compliance reports, newest day first.
#[utoipa::path(get, path = "/api/v1/acquirer/compliance-reports", tag = "acquirer", operation_id = "list_compliance_reports",
    responses((status = 200, body = Vec<ReportItem>), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn list_reports(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ReportItem>>, ApiError> {
    Ok(Json(reports(&state, &caller).await?))
}

/// One day's compliance report, as JSON.
#[utoipa::path(get, path = "/api/v1/acquirer/compliance-reports/{day}", tag = "acquirer", operation_id = "get_compliance_report",
    params(("day" = String, Path, description = "the local day, YYYY-MM-DD", pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")),
    responses((status = 200, body = ReportView), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError, description = "no report was made for that day")))]
pub async fn get_report(
    State(state): State<AppState>,
    caller: Caller,
    Path(day): Path<String>,
) -> Result<Response, ApiError> {
    let r = report(&state, &caller, &day).await?;
    let mut resp = Json(r).into_response();
    attach(&mut resp, &format!("suanpan-compliance-{day}.json"));
    Ok(resp)
}

/// One day's compliance report, as CSV (`section,key,value`).
#[utoipa::path(get, path = "/api/v1/acquirer/compliance-reports/{day}/csv", tag = "acquirer", operation_id = "get_compliance_report_csv",
    params(("day" = String, Path, description = "the local day, YYYY-MM-DD", pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError, description = "no report was made for that day")))]
pub async fn report_csv(
    State(state): State<AppState>,
    caller: Caller,
    Path(day): Path<String>,
) -> Result<Response, ApiError> {
    let r = report(&state, &caller, &day).await?;
    let body = r
        .csv()
        .map_err(|e| ApiError::invalid(caller.lang, e.to_string()))?;
    let mut resp = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        )],
        body,
    )
        .into_response();
    attach(&mut resp, &format!("suanpan-compliance-{day}.csv"));
    Ok(resp)
}

/// Marks a response as a download named `name` (a day's digits: nothing to escape).
fn attach(resp: &mut Response, name: &str) {
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_red_report_reads_back_as_named_facts_and_csv_rows() {
        // Goal: every fact of a kept (red) report survives the JSON round trip and shows in
        // the download, one `section,key,value` row each.
        let kept = Report {
            day: "2025-06-09".into(),
            green: false,
            audit_entries: 42,
            audit_first_broken: Some(17),
            conservation_holds: true,
            hidden_total: 3,
            hidden_that_day: 1,
            voids_by_reason: vec![("顾客要求, 重复".into(), 2)],
            voids_by_operator: vec![("898310048990001".into(), "01".into(), 2)],
            unbalanced_batches: vec![("12345678".into(), 3)],
        };
        let json = serde_json::to_string(&kept).expect("json");
        let back: Report = serde_json::from_str(&json).expect("read back");
        assert_eq!(back, kept);
        let v = ReportView::of(back);
        assert_eq!(v.unbalanced_batches[0].batch_no, 3);
        let csv = String::from_utf8(v.csv().expect("csv")).expect("utf-8");
        for row in [
            "section,key,value",
            "report,green,false",
            "audit,first_broken,17",
            "voids_by_reason,\"顾客要求, 重复\",2",
            "voids_by_operator,898310048990001/01,2",
            "unbalanced_batch,12345678,3",
        ] {
            assert!(csv.contains(row), "{row}: {csv}");
        }
    }
}
