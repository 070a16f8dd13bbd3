//! Every merchant's transactions and cases as the acquirer reads them (issue 14: "see every
//! merchant's activity, audit and cases"), over `/api/v1/acquirer/transactions` and
//! `/api/v1/acquirer/cases`. Read-only, for the acquirer roles that hold `ViewAllMerchants`
//! (all four: DECISIONS). The listings are the merchant's own (`api::listing`,
//! `cases::listing`) with the merchant scope made optional: one merchant named, or all.
//!
//! A merchant's user never learns these routes exist: they answer 404, not 403.

use crate::acquirer::gate;
use crate::api::{self, ApiQuery, Id, MerchantScope, Reach, TxnDetail, TxnPage, TxnQuery};
use crate::auth::Caller;
use crate::cases::{self, CaseDetail, CasePage};
use crate::error::ApiError;
use crate::evidence::EvidenceView;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use suanpan_core::MerchantId;
use suanpan_core::backoffice::Permission;
use suanpan_core::case::CaseStatus;
use suanpan_store::case::CaseFilter;
use suanpan_store::evidence::{Evidence, record_acquirer_download};

pub fn routes(state: &AppState) -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            "/api/v1/acquirer/transactions",
            get(list_all_txns).route_layer(crate::gate(state)),
        )
        .route(
            "/api/v1/acquirer/transactions/{id}",
            get(any_txn).route_layer(crate::gate(state)),
        )
        .route(
            "/api/v1/acquirer/cases",
            get(list_all_cases).route_layer(crate::gate(state)),
        )
        .route(
            "/api/v1/acquirer/cases/{id}",
            get(any_case).route_layer(crate::gate(state)),
        )
        .route(
            "/api/v1/acquirer/evidence/{id}",
            get(any_evidence).route_layer(crate::gate(state)),
        )
}

/// The acquirer fetches a merchant's evidence through its own audited route: the
/// merchant's `/api/v1/evidence/{id}` answers a merchant's users only.
fn acquirer_urls(evidence: &mut [EvidenceView]) {
    for e in evidence {
        e.url = format!("/api/v1/acquirer/evidence/{}", e.id);
    }
}

/// A page of every merchant's transactions, or of the one `q.merchant` names.
pub async fn txn_page(
    state: &AppState,
    caller: &Caller,
    q: &TxnQuery,
) -> Result<TxnPage, ApiError> {
    gate(caller, Permission::ViewAllMerchants)?;
    api::listing(state, caller, q).await
}

/// Any merchant's transaction, hidden ones too.
pub async fn txn_detail(state: &AppState, caller: &Caller, id: i64) -> Result<TxnDetail, ApiError> {
    gate(caller, Permission::ViewAllMerchants)?;
    let mut d = api::detail_of(state, caller, id, Reach::AllMerchants).await?;
    acquirer_urls(&mut d.evidence);
    Ok(d)
}

/// The acquirer's case listing: the merchant's filter, a merchant, keyset paging.
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AcquirerCaseQuery {
    /// One merchant's (商户号, 15 digits); every merchant's when left out.
    pub merchant: Option<String>,
    /// Only this status (`open`, `submitted`, `resolved`, `rejected`).
    pub status: Option<String>,
    /// Page size (default 50, at most 500).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<i64>,
    /// Language (`zh`, `en`); read by every extractor from the query.
    #[serde(rename = "lang")]
    pub _lang: Option<String>,
}

/// A page of every merchant's cases, or of the one `q.merchant` names, counted.
pub async fn case_page(
    state: &AppState,
    caller: &Caller,
    q: &AcquirerCaseQuery,
) -> Result<CasePage, ApiError> {
    gate(caller, Permission::ViewAllMerchants)?;
    let lang = caller.lang;
    let bad = |what: &str, v: &str| ApiError::field(lang, what, v);
    let merchant = q
        .merchant
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(|m| MerchantId::parse(m).map_err(|_| bad("merchant", m)))
        .transpose()?;
    let limit = q.limit.unwrap_or(api::PAGE_ROWS_DEFAULT);
    if limit == 0 || limit > api::PAGE_ROWS_MAX {
        return Err(bad("limit", &limit.to_string()));
    }
    if let Some(c) = q.cursor.filter(|c| *c < 1) {
        return Err(bad("id", &c.to_string()));
    }
    let f = CaseFilter {
        merchant,
        status: api::status_filter(lang, q.status.as_deref(), CaseStatus::parse)?,
        before_id: q.cursor,
        limit,
    };
    cases::listing(state, lang, f, true).await
}

/// Any merchant's case.
pub async fn case_detail(
    state: &AppState,
    caller: &Caller,
    id: i64,
) -> Result<CaseDetail, ApiError> {
    gate(caller, Permission::ViewAllMerchants)?;
    let mut d = cases::detail_of(state, caller, id, Reach::AllMerchants).await?;
    acquirer_urls(&mut d.evidence);
    Ok(d)
}

/// Every merchant's transactions (or one merchant's), newest first, with the merchant's
/// listing's filters, keyset cursor and count (acquirer users; read-only).
#[utoipa::path(get, path = "/api/v1/acquirer/transactions", tag = "acquirer", operation_id = "list_all_transactions",
    params(TxnQuery, MerchantScope),
    responses((status = 200, body = TxnPage), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError, description = "an acquirer role without view_all_merchants"),
        (status = 404, body = ApiError, description = "a merchant's user: the acquirer's routes do not exist for them")))]
pub async fn list_all_txns(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<TxnQuery>,
) -> Result<Json<TxnPage>, ApiError> {
    Ok(Json(txn_page(&state, &caller, &q).await?))
}

/// Any merchant's transaction with its original, children, requests and timeline.
#[utoipa::path(get, path = "/api/v1/acquirer/transactions/{id}", tag = "acquirer", operation_id = "get_any_transaction",
    params(("id" = i64, Path)),
    responses((status = 200, body = TxnDetail), (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn any_txn(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<TxnDetail>, ApiError> {
    Ok(Json(txn_detail(&state, &caller, id).await?))
}

/// Every merchant's cases (or one merchant's), newest first, keyset paged and counted.
#[utoipa::path(get, path = "/api/v1/acquirer/cases", tag = "acquirer", operation_id = "list_all_cases",
    params(AcquirerCaseQuery),
    responses((status = 200, body = CasePage), (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn list_all_cases(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AcquirerCaseQuery>,
) -> Result<Json<CasePage>, ApiError> {
    Ok(Json(case_page(&state, &caller, &q).await?))
}

/// Any merchant's case with its links, notes, evidence and timeline.
#[utoipa::path(get, path = "/api/v1/acquirer/cases/{id}", tag = "acquirer", operation_id = "get_any_case",
    params(("id" = i64, Path)),
    responses((status = 200, body = CaseDetail), (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn any_case(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<CaseDetail>, ApiError> {
    Ok(Json(case_detail(&state, &caller, id).await?))
}

/// Any merchant's evidence file (counter video, slips, documents of a case), inline, with
/// `Range`; each fetch is audited (`evidence.download`, the merchant named).
#[utoipa::path(get, path = "/api/v1/acquirer/evidence/{id}", tag = "acquirer", operation_id = "get_any_evidence",
    params(("id" = i64, Path, minimum = 1)),
    responses((status = 200, description = "the file"), (status = 206, description = "the requested range"),
        (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError, description = "no such evidence, or a merchant's user"),
        (status = 410, body = ApiError, description = "removed after its retention"),
        (status = 416, description = "range not satisfiable")))]
pub async fn any_evidence(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    gate(&caller, Permission::ViewAllMerchants)?;
    let lang = caller.lang;
    let (store, user) = (state.store().clone(), caller.user.clone());
    let found = crate::auth::blocking(lang, move || {
        let Some((merchant, row)) = store.evidence_any(id)? else {
            return Ok(None);
        };
        if row.removed_at.is_none() {
            record_acquirer_download(&*store, &user, &merchant, &row)?;
        }
        Ok(Some(row))
    })
    .await?
    .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, lang, "evidence.not_found", &[]))?;
    crate::evidence::serve(&state, lang, found, &headers).await
}
