//! The dashboard, the transactions (list, detail, void/refund requests, hiding, evidence
//! removal requests) and the batches.

use super::{Base, Done, FormIn, UploadTo, evidence_page, form_action, options, show, urlencode};
use crate::api::{self, ApiQuery, Id, ReceiptQuery, TxnQuery};
use crate::auth::{Caller, blocking};
use crate::catalog::{t, tf};
use crate::error::ApiError;
use crate::review::{self, RequestIn};
use crate::state::AppState;
use crate::view::{BatchView, TxnView};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use suanpan_core::Amount;
use suanpan_core::backoffice::{Permission, RequestStatus};
use suanpan_core::case::CaseKind;
use suanpan_store::backoffice::Backoffice;

csrf_forms!(RequestForm, ReasonForm);

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    base: Base,
    day: String,
    sales: u64,
    volume: String,
    voids: u64,
    refunds: u64,
    pending: u64,
    by_hour: String,
    by_operator: String,
    /// The charts' numbers as tables, for a screen reader and for reading exact values:
    /// (label, value) of each non-empty bar.
    hour_rows: Vec<(String, String)>,
    operator_rows: Vec<(String, String)>,
}

/// A chart's non-empty bars as (label, formatted value) rows.
fn chart_rows(items: &[(String, i64)], show: impl Fn(i64) -> String) -> Vec<(String, String)> {
    items
        .iter()
        .filter(|(_, v)| *v > 0)
        .map(|(label, v)| (label.clone(), show(*v)))
        .collect()
}

pub(super) async fn dashboard(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
) -> Response {
    // An acquirer user's home is the console (机构后台), not a merchant's dashboard: the
    // login and the TOTP enrolment lead here, so they are sent on instead of refused.
    if let Ok(c) = &caller
        && c.user.role.tier() == suanpan_core::backoffice::Tier::Acquirer
    {
        return axum::response::IntoResponse::into_response(axum::response::Redirect::to(
            "/acquirer",
        ));
    }
    show(caller, "/txns", async |caller| {
        Ok(dashboard_page(&state, caller).await?)
    })
    .await
}

async fn dashboard_page(state: &AppState, caller: &Caller) -> Result<DashboardPage, ApiError> {
    caller.require(Permission::ViewTransactions)?;
    let lang = caller.lang;
    let policy = state.store().policy().clone();
    let zone = policy
        .zone()
        .map_err(|e| ApiError::invalid(lang, e.to_string()))?;
    let today = state.store().now().to_zoned(zone.clone());
    let start = today
        .date()
        .to_zoned(zone.clone())
        .map_err(|e| ApiError::invalid(lang, e.to_string()))?;
    // The day's end is the next local midnight (23 or 25 hours away on a DST change).
    let end = start
        .checked_add(jiff::Span::new().days(1))
        .map_err(|e| ApiError::invalid(lang, e.to_string()))?;
    let (from, to) = (start.timestamp(), end.timestamp());
    let (store, merchant) = (state.store().clone(), caller.merchant()?);
    let (day, pending) = blocking(lang, move || {
        let day = suanpan_store::read(&*store, |c| {
            suanpan_store::query::day_summary_in(c, merchant.as_str(), from, to)
        })?;
        let pending = store.count_requests(&merchant, RequestStatus::Pending)?;
        Ok((day, pending))
    })
    .await?;
    let mut hours = [0i64; 24];
    for (since_start, fen) in &day.volume_by_hour {
        let at = start.checked_add(jiff::SignedDuration::from_hours(*since_start));
        let h = at
            .map(|z| usize::try_from(z.hour()).unwrap_or(0))
            .unwrap_or(0);
        hours[h.min(23)] += fen;
    }
    let hour_items: Vec<(String, i64)> = hours
        .iter()
        .enumerate()
        .map(|(h, v)| (format!("{h:02}"), *v))
        .collect();
    let ops: Vec<(String, i64)> = day
        .credits_by_operator
        .iter()
        .map(|(op, n)| (op.clone(), i64::try_from(*n).unwrap_or(i64::MAX)))
        .collect();
    let no_data = t(lang, "dash.no_data").to_owned();
    let by_operator = if ops.is_empty() {
        format!("<p class=\"muted\">{}</p>", crate::svg::escape(&no_data))
    } else {
        crate::svg::bars(&ops, |v| v.to_string(), t(lang, "dash.by_operator"))
    };
    Ok(DashboardPage {
        base: Base::new(
            lang,
            Some(caller),
            "dashboard",
            "nav.dashboard",
            "/dashboard",
        ),
        day: today.date().to_string(),
        sales: day.sales,
        volume: Amount::from_fen(day.volume_fen).display(),
        voids: day.voids,
        refunds: day.refunds,
        pending,
        by_hour: crate::svg::bars(
            &hour_items,
            |v| Amount::from_fen(v).yuan(),
            t(lang, "dash.by_hour"),
        ),
        by_operator,
        hour_rows: chart_rows(&hour_items, |v| Amount::from_fen(v).display()),
        operator_rows: chart_rows(&ops, |v| v.to_string()),
    })
}

/// The filter form's values, as typed.
#[derive(Default)]
struct FormQ {
    from: String,
    to: String,
    min: String,
    max: String,
    kind: String,
    status: String,
    voucher: String,
    rrn: String,
    operator: String,
    terminal: String,
    last4: String,
    wallet: String,
    merchant: String,
    include_hidden: bool,
}

/// Whose transactions (or cases) a listing page shows: the merchant's own, or every
/// merchant's in the acquirer's console. One page and one template serve both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Listing {
    /// `/txns`, `/cases`: the caller's merchant's.
    Merchant,
    /// `/acquirer/transactions`, `/acquirer/cases`: every merchant's, read-only.
    Acquirer,
}

impl Listing {
    /// Where the transactions are listed (their pages are below it).
    pub(super) fn txns(self) -> &'static str {
        match self {
            Listing::Merchant => "/txns",
            Listing::Acquirer => "/acquirer/transactions",
        }
    }

    /// Where the cases are listed (their pages are below it).
    pub(super) fn cases(self) -> &'static str {
        match self {
            Listing::Merchant => "/cases",
            Listing::Acquirer => "/acquirer/cases",
        }
    }

    /// Where an error sends the reader back to.
    fn home(self) -> &'static str {
        match self {
            Listing::Merchant => "/dashboard",
            Listing::Acquirer => "/acquirer",
        }
    }
}

#[derive(Template)]
#[template(path = "txns.html")]
struct TxnsPage {
    base: Base,
    /// `/txns` or `/acquirer/transactions`.
    list_path: &'static str,
    /// The acquirer's console: a merchant filter and column, no exports.
    acquirer: bool,
    q: FormQ,
    kinds: Vec<(String, String)>,
    statuses: Vec<(String, String)>,
    rows: Vec<TxnView>,
    error: Option<ApiError>,
    can_hidden: bool,
    can_export: bool,
    export_query: String,
    first_query: String,
    has_cursor: bool,
    next_query: Option<String>,
    /// How many match, in words ("共 1,234 条" / "超过 10,000 条").
    total_text: Option<String>,
    /// So many match that the export buttons start a background export (`/exports`).
    export_background: bool,
}

fn query_string(q: &TxnQuery, cursor: Option<i64>) -> String {
    let mut parts = Vec::new();
    let fields = [
        ("from", &q.from),
        ("to", &q.to),
        ("min", &q.min),
        ("max", &q.max),
        ("kind", &q.kind),
        ("status", &q.status),
        ("method", &q.method),
        ("voucher", &q.voucher),
        ("rrn", &q.rrn),
        ("operator", &q.operator),
        ("terminal", &q.terminal),
        ("last4", &q.last4),
        ("wallet", &q.wallet),
        ("merchant", &q.merchant),
    ];
    for (k, v) in fields {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            parts.push(format!("{k}={}", urlencode(v)));
        }
    }
    if q.include_hidden == Some(true) {
        parts.push("include_hidden=true".into());
    }
    if let Some(c) = cursor {
        parts.push(format!("cursor={c}"));
    }
    parts.join("&")
}

pub(super) async fn txns(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    q: Result<ApiQuery<TxnQuery>, ApiError>,
) -> Response {
    txns_of(state, caller, q, Listing::Merchant).await
}

/// 交易查询 in the acquirer's console: every merchant's, or the one filtered.
pub(super) async fn acquirer_txns(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    q: Result<ApiQuery<TxnQuery>, ApiError>,
) -> Response {
    txns_of(state, caller, q, Listing::Acquirer).await
}

async fn txns_of(
    state: AppState,
    caller: Result<Caller, ApiError>,
    q: Result<ApiQuery<TxnQuery>, ApiError>,
    listing: Listing,
) -> Response {
    show(caller, listing.home(), async |caller| {
        let lang = caller.lang;
        let (q, mut error) = match q {
            Ok(ApiQuery(q)) => (q, None),
            Err(e) => (TxnQuery::default(), Some(e)),
        };
        let mut rows = Vec::new();
        let mut next = None;
        let mut total_text = None;
        let mut export_background = false;
        if error.is_none() {
            let page = match listing {
                Listing::Merchant => api::page(&state, caller, &q).await,
                Listing::Acquirer => crate::acquirer_activity::txn_page(&state, caller, &q).await,
            };
            match page {
                Ok(p) => {
                    next = p.next_cursor;
                    rows = p.items;
                    total_text = Some(p.total_text);
                    // More than the count's bound: too many to answer a click with the file.
                    export_background = !p.total_exact;
                }
                Err(e) if e.status == StatusCode::FORBIDDEN && q.include_hidden != Some(true) => {
                    return Err(e.into());
                }
                Err(e) => error = Some(e),
            }
        }
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let kinds = [
            "sale",
            "void",
            "refund",
            "preauth",
            "preauth_void",
            "completion",
            "completion_void",
            "reversal",
        ];
        let statuses = [
            "approved",
            "declined",
            "voided",
            "partially_refunded",
            "refunded",
            "reversed",
            "completed",
            "expired",
        ];
        let path = format!("{}?{}", listing.txns(), query_string(&q, q.cursor));
        let section = match listing {
            Listing::Merchant => "txns",
            Listing::Acquirer => "acquirer_txns",
        };
        let acquirer = listing == Listing::Acquirer;
        Ok(TxnsPage {
            base: Base::of(caller, section, "nav.transactions", &path),
            list_path: listing.txns(),
            acquirer,
            q: FormQ {
                from: opt(&q.from),
                to: opt(&q.to),
                min: opt(&q.min),
                max: opt(&q.max),
                kind: opt(&q.kind),
                status: opt(&q.status),
                voucher: opt(&q.voucher),
                rrn: opt(&q.rrn),
                operator: opt(&q.operator),
                terminal: opt(&q.terminal),
                last4: opt(&q.last4),
                wallet: opt(&q.wallet),
                merchant: opt(&q.merchant),
                include_hidden: q.include_hidden == Some(true),
            },
            kinds: options(lang, Some("—".to_owned()), "kind", kinds),
            statuses: options(lang, Some("—".to_owned()), "tstatus", statuses),
            rows,
            error,
            can_hidden: acquirer || caller.user.role.allows(Permission::ViewHidden),
            can_export: caller.user.role.allows(Permission::Export),
            export_query: query_string(&q, None),
            first_query: query_string(&q, None),
            has_cursor: q.cursor.is_some(),
            next_query: next.map(|c| query_string(&q, Some(c))),
            total_text,
            export_background,
        })
    })
    .await
}

#[derive(Template)]
#[template(path = "txn.html")]
struct TxnPage {
    base: Base,
    /// `/txns` or `/acquirer/transactions`.
    list_path: &'static str,
    d: api::TxnDetail,
    receipt: String,
    can_void: bool,
    can_refund: bool,
    can_hide: bool,
    can_upload: bool,
    can_remove_evidence: bool,
    can_open_case: bool,
    case_kinds: Vec<(String, String)>,
    refundable_yuan: String,
}

pub(super) async fn txn(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Id, ApiError>,
) -> Response {
    show(caller, "/txns", async |caller| {
        let Id(id) = id?;
        let d = api::detail(&state, caller, id).await?;
        let receipt = api::receipt_text(&state, caller, id, &ReceiptQuery::default())
            .await
            .unwrap_or_default();
        let x = &d.transaction;
        let role = caller.user.role;
        let open_request = d
            .requests
            .iter()
            .any(|q| matches!(q.status.as_str(), "pending" | "approved" | "executing"));
        let may_request = role.allows(Permission::RequestVoidRefund) && !open_request && !x.hidden;
        let voidable = matches!(x.kind.as_str(), "sale" | "completion")
            && x.status == "approved"
            && !x.settled;
        Ok(TxnPage {
            base: Base::of(caller, "txns", "txn.detail", &format!("/txns/{id}")),
            list_path: Listing::Merchant.txns(),
            can_void: may_request && voidable,
            can_refund: may_request && x.refundable.fen > 0,
            can_hide: role.allows(Permission::Hide) && !x.hidden,
            can_upload: role.allows(Permission::RequestVoidRefund),
            can_remove_evidence: role.allows(Permission::RequestEvidenceRemoval),
            can_open_case: role.allows(Permission::ManageCases) && !x.hidden,
            case_kinds: options(
                caller.lang,
                None,
                "case.kind",
                CaseKind::ALL.iter().map(|k| k.as_str()),
            ),
            refundable_yuan: Amount::from_fen(x.refundable.fen).yuan(),
            receipt,
            d,
        })
    })
    .await
}

/// A transaction in the acquirer's console: the merchant's page, read-only (no request,
/// hide, case or evidence form: those are the merchant's own acts).
pub(super) async fn acquirer_txn(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Id, ApiError>,
) -> Response {
    show(caller, "/acquirer/transactions", async |caller| {
        let Id(id) = id?;
        let d = crate::acquirer_activity::txn_detail(&state, caller, id).await?;
        let t = api::load_txn_in(&state, caller, id, api::Reach::AllMerchants).await?;
        let store = state.store().clone();
        let layout = suanpan_receipt::Layout {
            width: suanpan_receipt::Width::W32,
            lang: caller.lang,
            copy: suanpan_receipt::Copy::Merchant,
            reprint: false,
        };
        let receipt = blocking(caller.lang, move || api::receipt_of(&*store, &t, &layout))
            .await
            .unwrap_or_default();
        let path = format!("/acquirer/transactions/{id}");
        Ok(TxnPage {
            base: Base::of(caller, "acquirer_txns", "txn.detail", &path),
            list_path: Listing::Acquirer.txns(),
            can_void: false,
            can_refund: false,
            can_hide: false,
            can_upload: false,
            can_remove_evidence: false,
            can_open_case: false,
            case_kinds: Vec::new(),
            refundable_yuan: String::new(),
            receipt,
            d,
        })
    })
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct RequestForm {
    csrf: String,
    kind: String,
    amount: Option<String>,
    reason: String,
    customer_consent: Option<String>,
}

pub(super) async fn txn_request(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<i64>,
    form: FormIn<RequestForm>,
) -> Response {
    form_action(caller, form, &format!("/txns/{id}"), async |caller, f| {
        let lang = caller.lang;
        let amount = match f.amount.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            None => None,
            Some(a) => match Amount::from_yuan_str(a) {
                Ok(v) => Some(crate::json::AmountIn(v)),
                Err(_) => {
                    let args = [a.to_owned()];
                    let code = StatusCode::BAD_REQUEST;
                    return Err(ApiError::new(code, lang, "json.amount_invalid", &args));
                }
            },
        };
        let input = RequestIn {
            kind: f.kind,
            transaction_id: id,
            amount,
            reason: f.reason,
            customer_consent: f.customer_consent.is_some(),
        };
        let q = review::submit(&state, caller, input).await?;
        let args = [q.id.to_string(), q.status_text];
        Ok(Done::back(tf(lang, "msg.submitted", &args)))
    })
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct ReasonForm {
    csrf: String,
    reason: String,
}

pub(super) async fn txn_hide(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<i64>,
    form: FormIn<ReasonForm>,
) -> Response {
    form_action(caller, form, &format!("/txns/{id}"), async |caller, f| {
        api::hide(&state, caller, id, f.reason).await?;
        let text = tf(caller.lang, "msg.hidden", &[id.to_string()]);
        Ok(Done::next(text, "/txns".to_owned()))
    })
    .await
}

#[derive(Template)]
#[template(path = "batches.html")]
struct BatchesPage {
    base: Base,
    rows: Vec<BatchView>,
}

pub(super) async fn batches(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
) -> Response {
    show(caller, "/dashboard", async |caller| {
        Ok(BatchesPage {
            rows: api::batch_list(&state, caller).await?,
            base: Base::of(caller, "batches", "nav.batches", "/batches"),
        })
    })
    .await
}

/// The evidence upload form (multipart; its CSRF token is a field of the same body).
pub(crate) async fn txn_evidence(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    mp: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    evidence_page(&state, caller, &headers, mp, UploadTo::Txn(id)).await
}

/// The evidence item's removal form on the transaction page.
pub(super) async fn evidence_removal(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    form: FormIn<ReasonForm>,
) -> Response {
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.find("/txns/").map(|i| r[i..].to_owned()))
        .unwrap_or_else(|| "/review".to_owned());
    form_action(caller, form, &back, async |caller, f| {
        let r = crate::removals::submit(&state, caller, id, &f.reason).await?;
        let args = [r.id.to_string(), r.filename];
        let text = tf(caller.lang, "msg.removal_submitted", &args);
        Ok(Done::next(text, format!("/txns/{}", r.transaction_id)))
    })
    .await
}

/// `1234567` → `1,234,567`.
pub fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn digits_are_grouped_by_thousands() {
        assert_eq!(super::group_digits(0), "0");
        assert_eq!(super::group_digits(999), "999");
        assert_eq!(super::group_digits(1_000), "1,000");
        assert_eq!(super::group_digits(1_234_567), "1,234,567");
    }
}
