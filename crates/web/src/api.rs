//! `/api/v1` for transactions: list (the CLI's filters, keyset cursor), detail with its
//! timeline, receipt text, payments for smart POS and QR checkouts (with `Idempotency-Key`),
//! hide, export (CSV streamed / XLSX), batches and the audit trail.

use crate::auth::{Caller, blocking};
use crate::error::{ApiError, lang_of};
use crate::json::{AmountIn, ApiJson};
use crate::state::AppState;
use crate::view::{AuditView, BatchView, RequestView, TimelineItem, TxnView};
use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use suanpan_core::backoffice::{Permission, Tier};
use suanpan_core::{
    Amount, Lang, MerchantId, OperatorNo, Pan, PaymentMethod, TerminalId, Transaction, TxnId,
    TxnKind, TxnStatus, VoucherNo,
};
use suanpan_store::backoffice::Backoffice;
use suanpan_store::backoffice::StaffUser;
use suanpan_store::command::{Complete, Hide, Purchase};
use suanpan_store::command::{Origin, OriginalRef};
use suanpan_store::{
    Ask, AskExt, Counted, Instrument, PurchaseReply, Store, TxnFilter, TxnReply, query,
};

/// Rows one page of the listing returns by default and at most.
pub const PAGE_ROWS_DEFAULT: u32 = 50;
/// Rows one page returns at most.
pub const PAGE_ROWS_MAX: u32 = 500;
/// Audit entries one page returns at most.
pub const AUDIT_ROWS_MAX: u32 = 500;
/// Bytes one streamed export chunk holds.
const EXPORT_CHUNK_BYTES: usize = 16 * 1024;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/v1/transactions", get(list_txns))
        .route("/api/v1/transactions/{id}", get(txn_detail))
        .route("/api/v1/transactions/{id}/receipt", get(txn_receipt))
        .route("/api/v1/transactions/{id}/hide", post(hide_txn))
        .route("/api/v1/payments", post(pay))
        .route("/api/v1/export", get(export))
        .route("/api/v1/batches", get(batches))
        .route("/api/v1/audit", get(audit_list))
        .route("/api/v1/audit/verify", get(audit_verify))
}

/// A listing's `status` filter parsed by `parse` (empty = none; unknown = 400).
pub fn status_filter<T>(
    lang: Lang,
    status: Option<&str>,
    parse: fn(&str) -> Option<T>,
) -> Result<Option<T>, ApiError> {
    status
        .filter(|s| !s.is_empty())
        .map(|s| parse(s).ok_or_else(|| ApiError::field(lang, "status", s)))
        .transpose()
}

/// A query string the extractor refused: the parameter it names (serde puts it in
/// backticks), or else the query as sent — never serde's English sentence.
fn query_error(lang: Lang, uri: &axum::http::Uri, why: &str) -> ApiError {
    let named = why.split('`').nth(1).map(str::to_owned);
    let shown = named.unwrap_or_else(|| uri.query().unwrap_or("").to_owned());
    ApiError {
        code: "input.invalid".to_owned(),
        ..ApiError::new(StatusCode::BAD_REQUEST, lang, "input.query", &[shown])
    }
}

/// A path id parsed with a `{code, message, hint}` rejection.
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Id, ApiError> {
        let lang = lang_of(parts);
        let Path(text) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::field(lang, "id", ""))?;
        parse_id(lang, &text).map(Id)
    }
}

/// A record id from a path or query: 1 to i64::MAX, else the JSON error naming it (never
/// axum's plain-text rejection, whatever the digits).
pub fn parse_id(lang: Lang, text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| ApiError::field(lang, "id", text))
}

/// Query parameters parsed strictly (unknown ones refused) with a JSON rejection.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let lang = lang_of(parts);
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e| query_error(lang, &parts.uri, &e.body_text()))
    }
}

/// The listing's and the export's filters: the CLI's `txn list` filters, plus paging.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TxnQuery {
    /// From date (YYYY-MM-DD, merchant's zone), inclusive.
    pub from: Option<String>,
    /// To date (YYYY-MM-DD), inclusive.
    pub to: Option<String>,
    /// Minimum amount, yuan (`88.00`).
    pub min: Option<String>,
    /// Maximum amount, yuan.
    pub max: Option<String>,
    /// Kind (`sale`, `void`, `refund`, …).
    pub kind: Option<String>,
    /// Status (`approved`, `voided`, …).
    pub status: Option<String>,
    /// Method (`chip`, `qr_alipay`, …).
    pub method: Option<String>,
    /// Voucher no.
    pub voucher: Option<String>,
    /// Reference no.
    pub rrn: Option<String>,
    /// Operator no.
    pub operator: Option<String>,
    /// Terminal id.
    pub terminal: Option<String>,
    /// The card's last four digits.
    pub last4: Option<String>,
    /// A QR wallet's id.
    pub wallet: Option<String>,
    /// Include hidden records (roles with `view_hidden`).
    pub include_hidden: Option<bool>,
    /// Page size (default 50, at most 500).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<i64>,
    /// Export format: `csv` (default) or `xlsx`.
    pub format: Option<String>,
    /// Export: `true` writes the stable codes (`sale`, `voided`, `contactless`, `00`) for
    /// programs instead of words in the reader's language.
    pub raw: Option<bool>,
    /// The acquirer's listing only (`/api/v1/acquirer/transactions`, documented there by
    /// [`MerchantScope`]): one merchant's transactions. A merchant's user sending it is
    /// refused (400), as any parameter its own listing does not have.
    #[param(ignore)]
    pub merchant: Option<String>,
    /// Language (`zh`, `en`); read by every extractor from the query.
    #[serde(rename = "lang")]
    pub _lang: Option<String>,
}

/// A filter value with its surrounding blanks cut, `None` when nothing is left. "Blank" is
/// the OpenAPI document's `^\s*$` (ECMAScript's `\s`), not Rust's `char::is_whitespace`,
/// which also counts U+0085 (NEL): a value the schema calls invalid is never read as absent.
fn blank(v: &Option<String>) -> Option<&str> {
    v.as_deref()
        .map(|s| s.trim_matches(schema_space))
        .filter(|s| !s.is_empty())
}

/// ECMAScript's `\s`: the characters the OpenAPI document's blank pattern allows.
fn schema_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

impl TxnQuery {
    /// The filter for the caller's merchant; malformed values are named.
    pub fn to_filter(
        &self,
        caller: &Caller,
        policy: &suanpan_core::Policy,
    ) -> Result<TxnFilter, ApiError> {
        let lang = caller.lang;
        let bad = |what: &str, v: &str| ApiError::field(lang, what, v);
        let hidden = self.include_hidden.unwrap_or(false);
        // Whose rows: a merchant's user its own merchant's, always; the acquirer (who reaches
        // this through its own routes only, gated on `ViewAllMerchants`) every merchant's or
        // the one it names. The acquirer reads hidden records too: hiding is the merchant's
        // bookkeeping, not a way to keep a record from the acquirer's risk or audit staff.
        let merchant = match caller.user.role.tier() {
            Tier::Merchant => {
                if let Some(m) = blank(&self.merchant) {
                    return Err(bad("merchant", m));
                }
                if hidden {
                    caller.require(Permission::ViewHidden)?;
                }
                caller.user.merchant_id.as_ref().map(|m| m.to_string())
            }
            Tier::Acquirer => blank(&self.merchant)
                .map(|m| {
                    MerchantId::parse(m)
                        .map(|m| m.to_string())
                        .map_err(|_| bad("merchant", m))
                })
                .transpose()?,
        };
        let zone = policy
            .zone()
            .map_err(|e| ApiError::invalid(lang, e.to_string()))?;
        let day = |v: &str, plus: i64| -> Result<jiff::Timestamp, ApiError> {
            let d: jiff::civil::Date = v.parse().map_err(|_| bad("date", v))?;
            d.checked_add(jiff::Span::new().days(plus))
                .and_then(|d| d.to_zoned(zone.clone()))
                .map(|z| z.timestamp())
                .map_err(|_| bad("date", v))
        };
        let amount = |v: &str| Amount::from_yuan_str(v).map_err(|_| bad("amount", v));
        let limit = self.limit.unwrap_or(PAGE_ROWS_DEFAULT);
        if limit == 0 || limit > PAGE_ROWS_MAX {
            return Err(bad("limit", &limit.to_string()));
        }
        if let Some(c) = self.cursor.filter(|c| *c < 1) {
            return Err(bad("id", &c.to_string()));
        }
        self.export_format(lang)?;
        Ok(TxnFilter {
            from: blank(&self.from).map(|v| day(v, 0)).transpose()?,
            to: blank(&self.to).map(|v| day(v, 1)).transpose()?,
            min: blank(&self.min).map(amount).transpose()?,
            max: blank(&self.max).map(amount).transpose()?,
            kind: blank(&self.kind)
                .map(|k| TxnKind::parse(k).ok_or_else(|| bad("kind", k)))
                .transpose()?,
            status: blank(&self.status)
                .map(|s| TxnStatus::parse(s).ok_or_else(|| bad("status", s)))
                .transpose()?,
            method: blank(&self.method)
                .map(|m| PaymentMethod::parse(m).ok_or_else(|| bad("method", m)))
                .transpose()?,
            voucher: blank(&self.voucher)
                .map(|v| {
                    VoucherNo::parse(v)
                        .map(|v| v.value())
                        .map_err(|_| bad("voucher", v))
                })
                .transpose()?,
            rrn: blank(&self.rrn).map(str::to_owned),
            operator: blank(&self.operator).map(str::to_owned),
            terminal: blank(&self.terminal).map(str::to_owned),
            merchant,
            card_fingerprint: None,
            card_last4: blank(&self.last4)
                .map(|v| {
                    (v.len() == 4 && v.bytes().all(|b| b.is_ascii_digit()))
                        .then(|| v.to_owned())
                        .ok_or_else(|| bad("last4", v))
                })
                .transpose()?,
            wallet: blank(&self.wallet).map(str::to_owned),
            before_id: self.cursor,
            include_hidden: hidden,
            limit: Some(limit),
            offset: 0,
        })
    }

    /// True for XLSX, false for CSV (the default); another `format` is refused by the
    /// listing too, so that one query string means the same on both routes.
    pub fn export_format(&self, lang: Lang) -> Result<bool, ApiError> {
        match self.format.as_deref().unwrap_or("csv") {
            "csv" => Ok(false),
            "xlsx" => Ok(true),
            other => Err(ApiError::field(lang, "format", other)),
        }
    }

    /// The filter as the user gave it, for the export's first row.
    pub fn describe(&self) -> String {
        let pairs = [
            ("from", blank(&self.from).map(str::to_owned)),
            ("to", blank(&self.to).map(str::to_owned)),
            ("min", blank(&self.min).map(str::to_owned)),
            ("max", blank(&self.max).map(str::to_owned)),
            ("kind", blank(&self.kind).map(str::to_owned)),
            ("status", blank(&self.status).map(str::to_owned)),
            ("method", blank(&self.method).map(str::to_owned)),
            ("voucher", blank(&self.voucher).map(str::to_owned)),
            ("rrn", blank(&self.rrn).map(str::to_owned)),
            ("operator", blank(&self.operator).map(str::to_owned)),
            ("terminal", blank(&self.terminal).map(str::to_owned)),
            ("last4", blank(&self.last4).map(str::to_owned)),
            ("wallet", blank(&self.wallet).map(str::to_owned)),
            ("merchant", blank(&self.merchant).map(str::to_owned)),
        ];
        suanpan_export::describe(&pairs, self.include_hidden.unwrap_or(false))
    }
}

/// A page of transactions.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TxnPage {
    /// Newest first.
    pub items: Vec<TxnView>,
    /// Pass as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<i64>,
    /// How many transactions match the filter (all pages, not this page's length). Counting
    /// stops past 10,000: then `total` is 10,000, a lower bound, and `total_exact` is false
    /// ("more than 10,000 match").
    pub total: u64,
    /// False when more than `total` transactions match (`total` is then a lower bound).
    pub total_exact: bool,
    /// The count in words, in the caller's language, as the back-office page shows it:
    /// "共 1,234 条" / "1,234 match", or past the bound "超过 10,000 条（计数到此为止）" /
    /// "More than 10,000 match (counting stopped there)".
    #[schema(example = "超过 10,000 条（计数到此为止）")]
    pub total_text: String,
    /// The filter applied.
    pub filter: String,
}

/// Lists the merchant's transactions, newest first.
#[utoipa::path(get, path = "/api/v1/transactions", tag = "transactions", params(TxnQuery),
    responses((status = 200, body = TxnPage), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list_txns(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<TxnQuery>,
) -> Result<Json<TxnPage>, ApiError> {
    Ok(Json(page(&state, &caller, &q).await?))
}

/// The acquirer's listing's one parameter beyond [`TxnQuery`]'s.
#[derive(Debug, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(
    dead_code,
    reason = "documents the parameter; `TxnQuery::merchant` reads it"
)]
pub struct MerchantScope {
    /// One merchant's (商户号, 15 digits); every merchant's when left out.
    pub merchant: Option<String>,
}

/// One page for the API and the UI.
pub async fn page(state: &AppState, caller: &Caller, q: &TxnQuery) -> Result<TxnPage, ApiError> {
    caller.require(Permission::ViewTransactions)?;
    listing(state, caller, q).await
}

/// One page of the rows [`TxnQuery::to_filter`] scopes for the caller: the merchant's
/// listing and the acquirer's share it; each caller checks its own permission first.
pub(crate) async fn listing(
    state: &AppState,
    caller: &Caller,
    q: &TxnQuery,
) -> Result<TxnPage, ApiError> {
    let policy = state.store().policy().clone();
    let f = q.to_filter(caller, &policy)?;
    let limit = f.limit.unwrap_or(PAGE_ROWS_DEFAULT) as usize;
    let store = state.store().clone();
    let (rows, total) = blocking(caller.lang, move || {
        let rows = store.transactions(&f)?;
        let total = suanpan_store::read(&*store, |c| {
            query::count_up_to_in(c, &f, query::COUNT_EXACT_MAX)
        })?;
        Ok((rows, total))
    })
    .await?;
    let next_cursor = (rows.len() == limit)
        .then(|| rows.last().map(|t| t.id.0))
        .flatten();
    Ok(TxnPage {
        items: rows
            .iter()
            .map(|t| TxnView::of(t, &policy, caller.lang))
            .collect(),
        next_cursor,
        total: total.count,
        total_exact: total.exact,
        total_text: crate::catalog::tf(
            caller.lang,
            if total.exact {
                "txn.total"
            } else {
                "txn.total_more"
            },
            &[crate::ui::txns::group_digits(total.count)],
        ),
        filter: q.describe(),
    })
}

/// A transaction with everything about it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TxnDetail {
    /// The transaction.
    pub transaction: TxnView,
    /// Its original, for a void, refund or completion.
    pub original: Option<TxnView>,
    /// Voids, refunds, completions and reversals of it.
    pub children: Vec<TxnView>,
    /// Void and refund requests on it.
    pub requests: Vec<RequestView>,
    /// Every audited step, oldest first.
    pub timeline: Vec<TimelineItem>,
    /// Evidence files (video, photos, PDFs).
    pub evidence: Vec<crate::evidence::EvidenceView>,
    /// What the terminal said about itself when it sent the transaction (8583 field 59, an
    /// acquirer-defined ASCII TLV: serial number, location), exactly as received.
    pub terminal_info: Option<String>,
}

/// Loads a transaction of the caller's merchant; hidden ones only for roles that see them.
pub async fn load_txn(state: &AppState, caller: &Caller, id: i64) -> Result<Transaction, ApiError> {
    load_txn_in(state, caller, id, Reach::OwnMerchant).await
}

/// Whose transactions a read reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// The caller's own merchant's (its hidden ones with `ViewHidden`).
    OwnMerchant,
    /// Every merchant's, hidden ones too: the acquirer's read-only routes, which check
    /// `ViewAllMerchants` before they ask.
    AllMerchants,
}

/// [`load_txn`] with the reach said by the caller's route.
pub(crate) async fn load_txn_in(
    state: &AppState,
    caller: &Caller,
    id: i64,
    reach: Reach,
) -> Result<Transaction, ApiError> {
    let store = state.store().clone();
    let t = blocking(caller.lang, move || store.transaction(TxnId(id))).await?;
    let all = reach == Reach::AllMerchants;
    t.filter(|t| all || caller.user.merchant_id.as_ref() == Some(&t.merchant_id))
        .filter(|t| all || !t.hidden || caller.user.role.allows(Permission::ViewHidden))
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, caller.lang, "txn.not_found", &[]))
}

/// Detail for the API and the UI.
pub async fn detail(state: &AppState, caller: &Caller, id: i64) -> Result<TxnDetail, ApiError> {
    caller.require(Permission::ViewTransactions)?;
    detail_of(state, caller, id, Reach::OwnMerchant).await
}

/// The detail of a transaction within `reach`; each caller checks its own permission first
/// (the merchant's `ViewTransactions`, the acquirer's `ViewAllMerchants`).
pub(crate) async fn detail_of(
    state: &AppState,
    caller: &Caller,
    id: i64,
    reach: Reach,
) -> Result<TxnDetail, ApiError> {
    let t = load_txn_in(state, caller, id, reach).await?;
    let policy = state.store().policy().clone();
    let (store, merchant) = (state.store().clone(), t.merchant_id.clone());
    let original_id = t.original_id;
    let (original, children, requests, audit, terminal_info) = blocking(caller.lang, move || {
        let original = original_id
            .map(|o| store.transaction(o))
            .transpose()?
            .flatten();
        let children = suanpan_store::read(&*store, |c| query::children_in(c, id))?;
        let terminal_info = suanpan_store::read(&*store, |c| query::terminal_info_in(c, id))?;
        let requests = store.requests(&merchant, None, Some(id), 100)?;
        let mut audit = store.txn_audit(TxnId(id))?;
        for c in &children {
            audit.extend(store.txn_audit(c.id)?);
        }
        audit.sort_by_key(|e| e.seq);
        audit.dedup_by_key(|e| e.seq);
        Ok((original, children, requests, audit, terminal_info))
    })
    .await?;
    let lang = caller.lang;
    let evidence = crate::evidence::list(state, lang, id).await?;
    Ok(TxnDetail {
        evidence,
        terminal_info,
        transaction: TxnView::of(&t, &policy, lang),
        original: original.as_ref().map(|o| TxnView::of(o, &policy, lang)),
        children: children
            .iter()
            .map(|c| TxnView::of(c, &policy, lang))
            .collect(),
        requests: requests
            .iter()
            .map(|q| RequestView::of(q, &policy, lang))
            .collect(),
        timeline: audit
            .iter()
            .map(|e| TimelineItem::of(e, &policy, lang))
            .collect(),
    })
}

/// A transaction, its original, children, requests and timeline.
#[utoipa::path(get, path = "/api/v1/transactions/{id}", tag = "transactions", params(("id" = i64, Path)),
    responses((status = 200, body = TxnDetail), (status = 404, body = ApiError)))]
pub async fn txn_detail(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<TxnDetail>, ApiError> {
    Ok(Json(detail(&state, &caller, id).await?))
}

/// Receipt options.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReceiptQuery {
    /// `merchant` (default) or `cardholder`.
    pub copy: Option<String>,
    /// 32 (default) or 48 columns.
    pub width: Option<u32>,
    /// Language (`zh`, `en`); read by every extractor from the query.
    #[serde(rename = "lang")]
    pub _lang: Option<String>,
}

/// The receipt text of a transaction (the merchant's or the cardholder's copy).
pub async fn receipt_text(
    state: &AppState,
    caller: &Caller,
    id: i64,
    q: &ReceiptQuery,
) -> Result<String, ApiError> {
    caller.require(Permission::ViewTransactions)?;
    let lang = caller.lang;
    let copy = match q.copy.as_deref().unwrap_or("merchant") {
        "merchant" => suanpan_receipt::Copy::Merchant,
        "cardholder" => suanpan_receipt::Copy::Cardholder,
        other => {
            return Err(ApiError::field(lang, "copy", other));
        }
    };
    let width = match q.width.unwrap_or(32) {
        32 => suanpan_receipt::Width::W32,
        48 => suanpan_receipt::Width::W48,
        other => return Err(ApiError::field(lang, "width", &other.to_string())),
    };
    let t = load_txn(state, caller, id).await?;
    let store = state.store().clone();
    let layout = suanpan_receipt::Layout {
        width,
        lang,
        copy,
        reprint: false,
    };
    blocking(lang, move || receipt_of(&*store, &t, &layout)).await
}

/// The receipt of a transaction the caller holds, as `/transactions/{id}/receipt` renders it
/// (also the evidence pack's `receipts/<id>.txt`).
pub fn receipt_of(
    store: &dyn Store,
    t: &Transaction,
    layout: &suanpan_receipt::Layout,
) -> Result<String, suanpan_store::StoreError> {
    let ctx = receipt_context(store, t)?;
    Ok(suanpan_receipt::render_receipt(t, &ctx, layout))
}

fn receipt_context(
    store: &dyn Store,
    t: &Transaction,
) -> Result<suanpan_receipt::ReceiptContext, suanpan_store::StoreError> {
    let original = t
        .original_id
        .map(|id| store.transaction(id))
        .transpose()?
        .flatten();
    Ok(suanpan_receipt::ReceiptContext {
        merchant_name: suanpan_store::admin::merchant_name(store, &t.merchant_id)?
            .unwrap_or_default(),
        merchant_id: t.merchant_id.clone(),
        original_voucher: original.as_ref().map(|o| o.voucher_no),
        original_rrn: original.as_ref().and_then(|o| o.rrn.clone()),
        balance: None,
        acquirer: "Suanpan 算盘".into(),
        issuer: String::new(),
    })
}

/// The receipt as plain text.
#[utoipa::path(get, path = "/api/v1/transactions/{id}/receipt", tag = "transactions", params(("id" = i64, Path), ReceiptQuery),
    responses((status = 200, content_type = "text/plain", body = String), (status = 404, body = ApiError)))]
pub async fn txn_receipt(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiQuery(q): ApiQuery<ReceiptQuery>,
) -> Result<Response, ApiError> {
    let text = receipt_text(&state, &caller, id, &q).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// Why a record is hidden.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HideIn {
    /// Required.
    pub reason: String,
}

/// Hides a record (admin); it stays for retention and auditors still see it.
pub async fn hide(
    state: &AppState,
    caller: &Caller,
    id: i64,
    reason: String,
) -> Result<(), ApiError> {
    caller.require(Permission::Hide)?;
    load_txn(state, caller, id).await?;
    let cmd = Hide {
        merchant_id: caller.merchant()?,
        // The engine's hide rule is the admin operator's (99); the web admin acts as it.
        actor: OperatorNo::ADMIN,
        id: TxnId(id),
        reason,
    };
    match execute(state, caller.lang, cmd).await? {
        Counted::Refused(r) => Err(ApiError::refused(caller.lang, r.as_ref())),
        Counted::Done(_) => Ok(()),
    }
}

/// Hides (删除) a transaction record.
#[utoipa::path(post, path = "/api/v1/transactions/{id}/hide", tag = "transactions", params(("id" = i64, Path)), request_body = HideIn,
    responses((status = 204), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 422, body = ApiError)))]
pub async fn hide_txn(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    body: ApiJson<HideIn>,
) -> Result<StatusCode, ApiError> {
    hide(&state, &caller, id, body.value.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Runs a command through the writer (after its commit).
pub async fn execute<A: Ask + Send + 'static>(
    state: &AppState,
    lang: Lang,
    cmd: A,
) -> Result<A::Reply, ApiError> {
    let store = state.store().clone();
    blocking(lang, move || store.ask(cmd)).await
}

/// What to charge.
#[derive(Debug, Clone, Copy, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentKind {
    /// 消费.
    Sale,
    /// 预授权.
    Preauth,
    /// 预授权完成 (needs `original_id`, the pre-authorization).
    Completion,
}

/// A card presented to a smart POS.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardIn {
    /// Card number (Luhn-checked; only its masked form and fingerprint are kept).
    pub pan: String,
    /// Expiry `YYMM`.
    pub expiry: Option<String>,
}

/// A QR wallet.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WalletIn {
    /// Wallet id from the customer's code.
    pub id: String,
}

/// A payment from a smart POS or a QR checkout.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentIn {
    /// `sale`, `preauth` or `completion`.
    pub kind: PaymentKind,
    /// Amount: integer fen or a yuan string.
    pub amount: AmountIn,
    /// A card (or `wallet`).
    pub card: Option<CardIn>,
    /// A QR wallet (or `card`).
    pub wallet: Option<WalletIn>,
    /// `chip`, `contactless`, `magstripe`, `manual`, `qr_alipay`, `qr_wechat`, `qr_unionpay`.
    pub method: Option<String>,
    /// Terminal (default: the merchant's first enabled terminal).
    pub terminal_id: Option<String>,
    /// For a completion: the pre-authorization's id.
    pub original_id: Option<i64>,
    /// `true` confirms a possible duplicate charge: the same card paid the same amount
    /// within `[risk] duplicate_minutes`, and the first attempt was refused with 422
    /// `risk.possible_duplicate` ("疑似重复，确认后重试"); the confirmed retry goes through.
    #[serde(default)]
    pub confirm_duplicate: bool,
}

/// Books a sale, pre-authorization or completion. With an `Idempotency-Key` header, an
/// identical retry returns the stored answer (`Idempotent-Replayed: true`) and the same key
/// with another body is refused with 409.
#[utoipa::path(post, path = "/api/v1/payments", tag = "payments", request_body = PaymentIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "1–128 visible ASCII characters")),
    responses((status = 201, body = TxnView, description = "booked (approved, or declined by the issuer: see status)"),
        (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 409, body = ApiError), (status = 422, body = ApiError)))]
pub async fn pay(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: ApiJson<PaymentIn>,
) -> Result<Response, ApiError> {
    caller.require(Permission::Sell)?;
    let lang = caller.lang;
    let key = idempotency_key(&headers, lang)?;
    let Some(key) = key else {
        let (status, value) = payment(&state, &caller, body.value).await?;
        return Ok((status, Json(value)).into_response());
    };
    let hash = payment_hash(&state, &body.value, lang)?;
    let (store, user_id, k, h) = (state.store().clone(), caller.user.id, key.clone(), hash);
    use suanpan_store::backoffice::IdemStart;
    let expired_before = idempotency_expired_before(&state);
    match blocking(lang, move || {
        store.idem_begin(user_id, &k, &h, expired_before)
    })
    .await?
    {
        IdemStart::Replay(status, body) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut resp =
                (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
            resp.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return Ok(resp);
        }
        IdemStart::Conflict => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                lang,
                "idem.conflict",
                &[],
            ));
        }
        IdemStart::InFlight => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                lang,
                "idem.in_flight",
                &[],
            ));
        }
        IdemStart::New => {}
    }
    let result = payment(&state, &caller, body.value).await;
    let (status, text) = match &result {
        Ok((s, v)) => (*s, serde_json::to_string(v).unwrap_or_default()),
        // A rule's answer is final and replayed; a fault is not stored, so a retry runs again.
        Err(e) if e.status.is_client_error() => {
            (e.status, serde_json::to_string(e).unwrap_or_default())
        }
        Err(_) => {
            let (store, k) = (state.store().clone(), key.clone());
            blocking(lang, move || store.idem_abort(user_id, &k)).await?;
            return result.map(|(s, v)| (s, Json(v)).into_response());
        }
    };
    let (store, k, t) = (state.store().clone(), key, text);
    blocking(lang, move || {
        store.idem_finish(user_id, &k, status.as_u16(), &t)
    })
    .await?;
    result.map(|(s, v)| (s, Json(v)).into_response())
}

/// The idempotency hash of a payment ([`suanpan_store::Store::request_hash`], keyed): what
/// the payment asks for, with the card's keyed fingerprint instead of its number and
/// without its expiry, so that the stored hash gives no card number back.
fn payment_hash(state: &AppState, p: &PaymentIn, lang: Lang) -> Result<String, ApiError> {
    let card = p
        .card
        .as_ref()
        .and_then(|c| Pan::parse(&c.pan).ok())
        .map(|pan| state.fingerprinter().of(&pan))
        .unwrap_or_default();
    let described = serde_json::json!({
        "kind": format!("{:?}", p.kind),
        "amount": p.amount.0.fen(),
        "card": card,
        "wallet": p.wallet.as_ref().map(|w| w.id.as_str()),
        "method": p.method,
        "terminal_id": p.terminal_id,
        "original_id": p.original_id,
        "confirm_duplicate": p.confirm_duplicate,
    })
    .to_string();
    state
        .store()
        .request_hash(&[b"payments", described.as_bytes()])
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, lang, e.key(), &[]))
}

fn idempotency_key(headers: &HeaderMap, lang: Lang) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let ok = v
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 128 && k.bytes().all(|b| b.is_ascii_graphic()));
    ok.map(|k| Some(k.to_owned()))
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, lang, "idem.bad_key", &[]))
}

async fn payment(
    state: &AppState,
    caller: &Caller,
    p: PaymentIn,
) -> Result<(StatusCode, TxnView), ApiError> {
    let lang = caller.lang;
    let operator = caller
        .user
        .operator_no
        .ok_or_else(|| ApiError::new(StatusCode::FORBIDDEN, lang, "auth.no_operator", &[]))?;
    let terminal = terminal_for(state, &caller.user, p.terminal_id.as_deref(), lang).await?;
    let origin = Origin {
        terminal_id: terminal,
        operator,
        // A supervisor's own login is the supervisor's authorization (completion needs one).
        supervisor: (caller.user.role == suanpan_core::backoffice::StaffRole::Supervisor)
            .then_some(OperatorNo::SUPERVISOR),
        voucher: None,
        batch: None,
        training: false,
        idempotency: None,
        terminal_info: None,
    };
    let amount = p.amount.0;
    // The booked (or replayed) transaction, or the refusal.
    let booked = match p.kind {
        PaymentKind::Completion => {
            let Some(original) = p.original_id else {
                return Err(ApiError::field(lang, "original_id", "").combination());
            };
            // A disabled channel (of the pre-authorization) is refused by the engine.
            let cmd = Complete {
                origin,
                original: OriginalRef::Id(TxnId(original)),
                amount,
            };
            match execute(state, lang, cmd).await? {
                TxnReply::Booked(t) | TxnReply::Replayed(t) => Ok(t),
                TxnReply::Refused(r) => Err(r),
            }
        }
        PaymentKind::Sale | PaymentKind::Preauth => {
            let (instrument, method, pin) = instrument(state, &p, lang)?;
            let kind = if matches!(p.kind, PaymentKind::Sale) {
                TxnKind::Sale
            } else {
                TxnKind::PreAuth
            };
            let cmd = Purchase {
                origin,
                kind,
                amount,
                instrument,
                method,
                pin: pin.as_deref().map(suanpan_issuer::EnteredPin::clear),
                linked_id: None,
                confirm_duplicate: p.confirm_duplicate,
            };
            match execute(state, lang, cmd).await? {
                PurchaseReply::Booked(t) | PurchaseReply::Replayed(t) => Ok(t),
                PurchaseReply::Refused(r) => Err(r),
            }
        }
    };
    let policy = state.store().policy().clone();
    match booked {
        Ok(t) => Ok((StatusCode::CREATED, TxnView::of(&t, &policy, lang))),
        Err(r) => Err(ApiError::refused(lang, r.as_ref())),
    }
}

fn instrument(
    state: &AppState,
    p: &PaymentIn,
    lang: Lang,
) -> Result<(Instrument, PaymentMethod, Option<String>), ApiError> {
    let method = p
        .method
        .as_deref()
        .map(|m| PaymentMethod::parse(m).ok_or_else(|| ApiError::field(lang, "method", m)))
        .transpose()?;
    match (&p.card, &p.wallet) {
        (Some(card), None) => {
            // The digits' count is the schema's pattern; a wrong check digit (Luhn), which
            // no pattern can state, is a rule's refusal: 422.
            let pan = Pan::parse(&card.pan).map_err(|problem| {
                ApiError::refused(
                    lang,
                    &suanpan_core::refusal::AccessRefused::BadCard { problem },
                )
            })?;
            let inst = Instrument::Card {
                masked_pan: pan.masked(),
                fingerprint: state.fingerprinter().of(&pan),
                expiry: card.expiry.clone(),
            };
            // A number typed into an app is a manual (keyed) entry, whatever the caller
            // calls it: no chip or stripe was read, and no PIN travels over REST.
            match method {
                None | Some(PaymentMethod::Manual) => {}
                Some(m) => {
                    return Err(ApiError::invalid(
                        lang,
                        format!(
                            "method: a card number given over the API is a manual entry, not {m:?}"
                        ),
                    )
                    .combination());
                }
            }
            Ok((inst, PaymentMethod::Manual, None))
        }
        (None, Some(w)) => {
            let default = suanpan_issuer_default_method(&w.id);
            Ok((
                Instrument::Wallet { id: w.id.clone() },
                method.unwrap_or(default),
                None,
            ))
        }
        _ => Err(ApiError::field(lang, "card_or_wallet", "").combination()),
    }
}

/// A wallet id names its network (`alipay…`, `wechat…`); otherwise UnionPay QR.
fn suanpan_issuer_default_method(id: &str) -> PaymentMethod {
    if id.starts_with("alipay") {
        PaymentMethod::QrAlipay
    } else if id.starts_with("wechat") || id.starts_with("wx") {
        PaymentMethod::QrWechat
    } else {
        PaymentMethod::QrUnionpay
    }
}

/// The terminal a back-office operation books on: the one named, or the merchant's first
/// enabled terminal.
async fn terminal_for(
    state: &AppState,
    user: &StaffUser,
    named: Option<&str>,
    lang: Lang,
) -> Result<TerminalId, ApiError> {
    let store = state.store().clone();
    let terminals = blocking(lang, move || suanpan_store::admin::terminals(&*store)).await?;
    let mine = terminals.iter().filter(|t| {
        user.merchant_id.as_ref().map(|m| m.as_str()) == Some(t.merchant_id.as_str()) && t.enabled
    });
    let found = match named {
        Some(n) => {
            // A named terminal that is not the merchant's usable one is named back, not
            // answered "the merchant has no terminal".
            let t = mine.into_iter().find(|t| t.id == n);
            let unknown = || {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    lang,
                    "terminal.unknown",
                    &[n.to_owned()],
                )
            };
            return t
                .and_then(|t| TerminalId::parse(&t.id).ok())
                .ok_or_else(unknown);
        }
        None => mine.into_iter().next(),
    };
    let none = || ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, lang, "terminal.none", &[]);
    let t = found.ok_or_else(none)?;
    TerminalId::parse(&t.id).map_err(|_| none())
}

/// Exports the filtered transactions: CSV (UTF-8 BOM, streamed) or XLSX, the filter echoed
/// in the first row.
#[utoipa::path(get, path = "/api/v1/export", tag = "transactions", params(TxnQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = ApiError), (status = 403, body = ApiError)))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<TxnQuery>,
) -> Result<Response, ApiError> {
    let lang = caller.lang;
    let ExportPlan {
        filter,
        xlsx,
        zone,
        filter_text,
        day,
        values,
    } = plan_export(&state, &caller, &q).await?;
    let job = ExportJob {
        store: state.store().clone(),
        filter,
        zone,
        lang,
        filter_text,
        values,
    };
    if xlsx {
        let name = format!("suanpan-{day}.xlsx");
        return Ok(download(XLSX_TYPE, &name, Body::from(job.xlsx().await?)));
    }
    Ok(download(
        "text/csv; charset=utf-8",
        &format!("suanpan-{day}.csv"),
        job.csv(),
    ))
}

/// What every export of the journal starts from, whether the API streams it or the
/// back-office writes it in the background (`ui::exports`).
pub(crate) struct ExportPlan {
    /// Every match: the page size and cursor of a listing do not apply to a file.
    pub filter: TxnFilter,
    pub xlsx: bool,
    pub zone: jiff::tz::TimeZone,
    /// The filter as the user gave it, for the file's first row.
    pub filter_text: String,
    /// The business date for the file name (`suanpan-YYYYMMDD`).
    pub day: String,
    pub values: suanpan_export::Values,
}

/// Checks the export permission and the query, and audits the export before any row is
/// read.
pub(crate) async fn plan_export(
    state: &AppState,
    caller: &Caller,
    q: &TxnQuery,
) -> Result<ExportPlan, ApiError> {
    caller.require(Permission::Export)?;
    let lang = caller.lang;
    let policy = state.store().policy().clone();
    let mut filter = q.to_filter(caller, &policy)?;
    filter.before_id = None;
    let xlsx = q.export_format(lang)?;
    let zone = policy
        .zone()
        .map_err(|e| ApiError::invalid(lang, e.to_string()))?;
    let filter_text = q.describe();
    let (store, who, echo) = (
        state.store().clone(),
        caller.user.username.clone(),
        filter_text.clone(),
    );
    blocking(lang, move || {
        store.record_staff_event(&who, "export", "txns", &echo)
    })
    .await?;
    let day = state
        .store()
        .now()
        .to_zoned(zone.clone())
        .strftime("%Y%m%d")
        .to_string();
    let values = if q.raw == Some(true) {
        suanpan_export::Values::Raw
    } else {
        suanpan_export::Values::Words(lang)
    };
    Ok(ExportPlan {
        filter,
        xlsx,
        zone,
        filter_text,
        day,
        values,
    })
}

pub const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// One export, owned so it can run on the blocking pool.
struct ExportJob {
    store: std::sync::Arc<dyn Store>,
    filter: TxnFilter,
    zone: jiff::tz::TimeZone,
    lang: Lang,
    filter_text: String,
    values: suanpan_export::Values,
}

impl ExportJob {
    fn export(&self) -> suanpan_export::Export<'_> {
        suanpan_export::Export {
            store: &*self.store,
            filter: &self.filter,
            zone: &self.zone,
            headers: suanpan_export::headers(self.lang),
            values: self.values,
            filter_text: &self.filter_text,
        }
    }

    /// The whole workbook (XLSX is a zip: it cannot be streamed row by row). More rows than a
    /// worksheet holds are refused before any is read, pointing to CSV.
    async fn xlsx(self) -> Result<Vec<u8>, ApiError> {
        let lang = self.lang;
        let fail = |e: String| suanpan_store::StoreError::Sqlite(e);
        let built = tokio::task::spawn_blocking(move || {
            let (mut book, _) = self.export().xlsx(|_| {})?;
            book.save_to_buffer().map_err(anyhow::Error::from)
        })
        .await
        .map_err(|e| ApiError::store(lang, fail(e.to_string())))?;
        built.map_err(|e| match e.downcast_ref::<suanpan_export::XlsxTooLarge>() {
            Some(too) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                lang,
                "export.xlsx_too_large",
                &[too.rows_max.to_string()],
            ),
            None => ApiError::store(lang, fail(format!("{e:#}"))),
        })
    }

    /// The CSV as a stream of chunks written while the rows are read.
    fn csv(self) -> Body {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(8);
        tokio::task::spawn_blocking(move || {
            let out = ChunkWriter {
                buf: Vec::with_capacity(EXPORT_CHUNK_BYTES),
                tx: tx.clone(),
            };
            if let Err(e) = self.export().write_csv(out, |_| {}) {
                // The client sees a cut-off body rather than a file that looks complete.
                tracing::error!("export failed: {e:#}");
                let _ = tx.blocking_send(Err(std::io::Error::other("export failed")));
            }
        });
        // Fused: a body layer (compression) may poll once more after the end, which an
        // `unfold` stream must never see.
        Body::from_stream(futures_util::StreamExt::fuse(futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|c| (c, rx)) },
        )))
    }
}

fn download(content_type: &'static str, name: &str, body: Body) -> Response {
    let mut resp = Response::new(body);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// Sends the CSV to the response in chunks as it is written (bounded channel: a slow client
/// slows the export instead of filling memory).
struct ChunkWriter {
    buf: Vec<u8>,
    tx: tokio::sync::mpsc::Sender<Result<axum::body::Bytes, std::io::Error>>,
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= EXPORT_CHUNK_BYTES {
            self.flush()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = axum::body::Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

/// Batches and their settlement reports.
#[utoipa::path(get, path = "/api/v1/batches", tag = "batches",
    responses((status = 200, body = Vec<BatchView>), (status = 403, body = ApiError)))]
pub async fn batches(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<BatchView>>, ApiError> {
    Ok(Json(batch_list(&state, &caller).await?))
}

/// Keys created before this are forgotten (`idempotency_key_hours`).
pub fn idempotency_expired_before(state: &AppState) -> jiff::Timestamp {
    let hours = i64::from(state.cfg().idempotency_key_hours);
    state.store().now() - jiff::SignedDuration::from_hours(hours)
}

/// Batches for the API and the UI.
pub async fn batch_list(state: &AppState, caller: &Caller) -> Result<Vec<BatchView>, ApiError> {
    caller.require(Permission::ViewBatches)?;
    let (store, merchant) = (state.store().clone(), caller.merchant()?);
    let rows = blocking(caller.lang, move || store.batches(&merchant, 200)).await?;
    let policy = state.store().policy();
    Ok(rows.iter().map(|b| BatchView::of(b, policy)).collect())
}

/// Audit paging.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Entries (default 100, at most 500).
    pub limit: Option<u32>,
    /// Entries to skip (newest first).
    pub offset: Option<u32>,
    /// Language (`zh`, `en`); read by every extractor from the query.
    #[serde(rename = "lang")]
    pub _lang: Option<String>,
}

/// The audit trail, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Vec<AuditView>), (status = 403, body = ApiError)))]
pub async fn audit_list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<Vec<AuditView>>, ApiError> {
    Ok(Json(audit_entries(&state, &caller, &q).await?))
}

/// Audit entries for the API and the UI.
pub async fn audit_entries(
    state: &AppState,
    caller: &Caller,
    q: &AuditQuery,
) -> Result<Vec<AuditView>, ApiError> {
    // The acquirer reads the whole trail; a merchant's auditor its own merchant's entries only
    // (issue 14: B's auditor read A's reasons, case notes and terminals).
    let merchant = if caller.user.role.allows(Permission::ViewAllMerchants) {
        None
    } else {
        caller.require(Permission::ViewAudit)?;
        Some(caller.merchant()?)
    };
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > AUDIT_ROWS_MAX {
        return Err(ApiError::field(caller.lang, "limit", &limit.to_string()));
    }
    let (store, offset) = (state.store().clone(), q.offset.unwrap_or(0));
    let rows = blocking(caller.lang, move || match merchant {
        None => store.audit_entries(limit, offset),
        Some(m) => store.merchant_audit(&m, limit, offset),
    })
    .await?;
    let policy = state.store().policy();
    let lang = caller.lang;
    Ok(rows
        .iter()
        .map(|e| AuditView::of(e, policy, lang))
        .collect())
}

/// The audit chain check.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct VerifyOut {
    /// Entries checked: the whole chain for the acquirer; for a merchant's user, the entries
    /// of its own merchant's view (the chain is verified whole all the same).
    pub entries: i64,
    /// True when every link and hash is right.
    pub intact: bool,
    /// The first broken entry (for a merchant's user, only when it is one of its own).
    pub first_broken: Option<i64>,
    /// What is wrong with it (same condition).
    pub problem: Option<String>,
}

/// Recomputes the whole audit chain; a merchant's user is told the verdict, its own view's
/// entry count, and where it broke only when the broken entry is its own.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit",
    responses((status = 200, body = VerifyOut), (status = 403, body = ApiError)))]
pub async fn audit_verify(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<VerifyOut>, ApiError> {
    Ok(Json(verify(&state, &caller).await?))
}

/// Verification for the API and the UI. The acquirer (`ViewAllMerchants`) is told the whole
/// chain; a merchant's auditor the verdict on the whole chain (its entries are links of it),
/// but the count of its own view's entries, and where it broke only when the broken entry is
/// one it may read (issue 14: the whole count and position spoke of every merchant).
pub async fn verify(state: &AppState, caller: &Caller) -> Result<VerifyOut, ApiError> {
    let merchant = if caller.user.role.allows(Permission::ViewAllMerchants) {
        None
    } else {
        caller.require(Permission::ViewAudit)?;
        Some(caller.merchant()?)
    };
    let store = state.store().clone();
    let v = blocking(caller.lang, move || {
        let v = store.verify_audit()?;
        Ok(match merchant {
            None => VerifyOut {
                entries: v.entries,
                intact: v.first_broken.is_none(),
                first_broken: v.first_broken,
                problem: v.problem,
            },
            Some(m) => {
                let (entries, seen) = store.merchant_audit_count(&m, v.first_broken)?;
                VerifyOut {
                    entries,
                    intact: v.first_broken.is_none(),
                    first_broken: v.first_broken.filter(|_| seen),
                    problem: v.problem.filter(|_| seen),
                }
            }
        })
    })
    .await?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::blank;

    #[test]
    fn blank_means_the_documents_blank_only() {
        assert_eq!(blank(&Some(" \t\u{3000}".into())), None);
        assert_eq!(blank(&Some(" 2026-11-25 ".into())), Some("2026-11-25"));
        // U+0085 is whitespace to Rust but not to the OpenAPI pattern `^\s*$`: a value, not
        // an absent filter (schemathesis found `to=%C2%85` listing everything).
        assert_eq!(blank(&Some("\u{85}".into())), Some("\u{85}"));
    }
}
