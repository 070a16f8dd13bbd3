//! Cases (撤错, 调账): opened from a transaction, listed, shown, linked, noted and moved on.

use super::txns::Listing;
use super::{
    Base, Done, FormIn, UploadTo, back_to, evidence_page, form_action, options, show, with_status,
};
use crate::api::{ApiQuery, Id};
use crate::auth::Caller;
use crate::catalog::{t, tf};
use crate::error::ApiError;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use suanpan_core::backoffice::Permission;
use suanpan_core::case::{CaseAction, CaseStatus};

csrf_forms!(CaseForm, LinkForm, NoteForm);

#[derive(serde::Deserialize)]
pub(super) struct CaseForm {
    csrf: String,
    kind: String,
    note: String,
}

/// 开立案件 from a transaction's page.
pub(super) async fn txn_case(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<i64>,
    form: FormIn<CaseForm>,
) -> Response {
    form_action(caller, form, &format!("/txns/{id}"), async |caller, f| {
        let input = crate::cases::CaseIn {
            transaction_id: id,
            kind: f.kind,
            note: f.note,
        };
        let d = crate::cases::open(&state, caller, input).await?;
        let args = [d.case.id.to_string(), d.case.kind_text];
        let text = tf(caller.lang, "msg.case_opened", &args);
        Ok(Done::next(text, format!("/cases/{}", d.case.id)))
    })
    .await
}

#[derive(Template)]
#[template(path = "cases.html")]
struct CasesPage {
    base: Base,
    /// `/cases` or `/acquirer/cases`.
    list_path: &'static str,
    /// `/txns` or `/acquirer/transactions`.
    txns_path: &'static str,
    /// The acquirer's console: a merchant filter and column, paging and the count.
    acquirer: bool,
    merchant: String,
    tabs: Vec<(String, String)>,
    status: String,
    rows: Vec<crate::cases::CaseView>,
    total_text: Option<String>,
    next_query: Option<String>,
}

pub(super) async fn cases_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    q: Result<ApiQuery<crate::cases::CaseQuery>, ApiError>,
) -> Response {
    show(caller, "/dashboard", async |caller| {
        let lang = caller.lang;
        let ApiQuery(q) = q.map_err(back_to("/cases"))?;
        let rows = crate::cases::cases(&state, caller, &q).await?;
        let status = q.status.clone().unwrap_or_default();
        let all = Some(t(lang, "case.all").to_owned());
        let statuses = CaseStatus::ALL.iter().map(|s| s.as_str());
        let tabs = options(lang, all, "case.status", statuses);
        let path = with_status("/cases", &status);
        Ok(CasesPage {
            base: Base::of(caller, "cases", "nav.cases", &path),
            list_path: Listing::Merchant.cases(),
            txns_path: Listing::Merchant.txns(),
            acquirer: false,
            merchant: String::new(),
            tabs,
            status,
            rows,
            total_text: None,
            next_query: None,
        })
    })
    .await
}

/// 案件 in the acquirer's console: every merchant's, or the one filtered; paged and counted.
pub(super) async fn acquirer_cases_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    q: Result<ApiQuery<crate::acquirer_activity::AcquirerCaseQuery>, ApiError>,
) -> Response {
    show(caller, "/acquirer", async |caller| {
        let lang = caller.lang;
        let ApiQuery(q) = q.map_err(back_to("/acquirer/cases"))?;
        let page = crate::acquirer_activity::case_page(&state, caller, &q).await?;
        let status = q.status.clone().unwrap_or_default();
        let merchant = q.merchant.clone().unwrap_or_default();
        let all = Some(t(lang, "case.all").to_owned());
        let statuses = CaseStatus::ALL.iter().map(|s| s.as_str());
        let tabs = options(lang, all, "case.status", statuses);
        let query = |cursor: Option<i64>| {
            let mut parts = Vec::new();
            if !merchant.trim().is_empty() {
                parts.push(format!("merchant={}", super::urlencode(merchant.trim())));
            }
            if !status.is_empty() {
                parts.push(format!("status={}", super::urlencode(&status)));
            }
            if let Some(c) = cursor {
                parts.push(format!("cursor={c}"));
            }
            parts.join("&")
        };
        let path = format!("/acquirer/cases?{}", query(q.cursor));
        Ok(CasesPage {
            base: Base::of(caller, "acquirer_cases", "nav.cases", &path),
            list_path: Listing::Acquirer.cases(),
            txns_path: Listing::Acquirer.txns(),
            acquirer: true,
            next_query: page.next_cursor.map(|c| query(Some(c))),
            merchant: merchant.clone(),
            tabs,
            status: status.clone(),
            rows: page.items,
            total_text: Some(page.total_text),
        })
    })
    .await
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    base: Base,
    /// `/txns` or `/acquirer/transactions`.
    txns_path: &'static str,
    /// The acquirer's console: read-only, no evidence pack link (the merchant's download).
    acquirer: bool,
    d: crate::cases::CaseDetail,
    can_manage: bool,
    /// Read by the shared `evidence_list.html`.
    can_remove_evidence: bool,
    roles: Vec<(String, String)>,
}

pub(super) async fn case_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Id, ApiError>,
) -> Response {
    show(caller, "/cases", async |caller| {
        let Id(id) = id?;
        let d = crate::cases::detail(&state, caller, id).await?;
        let roles = suanpan_core::case::LinkRole::ALL
            .iter()
            .rev()
            .map(|r| r.as_str());
        let roles = options(caller.lang, None, "case.role", roles);
        Ok(CasePage {
            base: Base::of(caller, "cases", "case.detail", &format!("/cases/{id}")),
            txns_path: Listing::Merchant.txns(),
            acquirer: false,
            can_manage: caller.user.role.allows(Permission::ManageCases),
            can_remove_evidence: caller.user.role.allows(Permission::RequestEvidenceRemoval),
            roles,
            d,
        })
    })
    .await
}

/// A case in the acquirer's console, read-only.
pub(super) async fn acquirer_case_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Id, ApiError>,
) -> Response {
    show(caller, "/acquirer/cases", async |caller| {
        let Id(id) = id?;
        let d = crate::acquirer_activity::case_detail(&state, caller, id).await?;
        let path = format!("/acquirer/cases/{id}");
        Ok(CasePage {
            base: Base::of(caller, "acquirer_cases", "case.detail", &path),
            txns_path: Listing::Acquirer.txns(),
            acquirer: true,
            can_manage: false,
            can_remove_evidence: false,
            roles: Vec::new(),
            d,
        })
    })
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct LinkForm {
    csrf: String,
    transaction_id: String,
    role: String,
}

pub(super) async fn case_link(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<i64>,
    form: FormIn<LinkForm>,
) -> Response {
    form_action(caller, form, &format!("/cases/{id}"), async |caller, f| {
        let Ok(txn) = f.transaction_id.trim().parse::<i64>() else {
            let what = format!("transaction_id {:?}", f.transaction_id);
            return Err(ApiError::invalid(caller.lang, what));
        };
        let input = crate::cases::LinkIn {
            transaction_id: txn,
            role: Some(f.role),
        };
        let d = crate::cases::add_link(&state, caller, id, input).await?;
        Ok(case_changed(caller, d))
    })
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct NoteForm {
    csrf: String,
    #[serde(default)]
    note: String,
}

pub(super) async fn case_note(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<i64>,
    form: FormIn<NoteForm>,
) -> Response {
    form_action(caller, form, &format!("/cases/{id}"), async |caller, f| {
        let d = crate::cases::add_note(&state, caller, id, &f.note).await?;
        Ok(case_changed(caller, d))
    })
    .await
}

pub(super) async fn case_action(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path((id, action)): Path<(i64, String)>,
    form: FormIn<NoteForm>,
) -> Response {
    form_action(caller, form, &format!("/cases/{id}"), async |caller, f| {
        let Some(action) = CaseAction::parse(&action) else {
            return Err(ApiError::invalid(caller.lang, format!("action {action:?}")));
        };
        let d = crate::cases::act(&state, caller, id, action, &f.note).await?;
        Ok(case_changed(caller, d))
    })
    .await
}

/// The message after a change to a case: its new status.
fn case_changed(caller: &Caller, d: crate::cases::CaseDetail) -> Done {
    let args = [d.case.id.to_string(), d.case.status_text];
    Done::back(tf(caller.lang, "msg.case_changed", &args))
}

/// Evidence uploaded from a case's page (multipart, like a transaction's).
pub(crate) async fn case_evidence(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    mp: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    evidence_page(&state, caller, &headers, mp, UploadTo::Case(id)).await
}
