//! The acquirer's console (机构后台, issue 14) over `/api/v1/acquirer/…`: merchant onboarding
//! (商户进件) — list, read, create, edit, status — where every change waits for a second
//! acquirer user (`/api/v1/acquirer/merchant-changes`: list, approve, reject). The rules are
//! the core's (`decide_merchant_change`, `decide_merchant_review`) through
//! `suanpan_service::onboarding`; this module parses, authenticates, calls and renders.
//!
//! A merchant's user never learns these routes exist: they answer 404, not 403.

use crate::api::Id;
use crate::auth::{Caller, blocking};
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::state::AppState;
use crate::view::When;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use suanpan_core::backoffice::{MerchantChangeKind, Permission, RequestStatus, Tier};
use suanpan_core::{Lang, MerchantId};
use suanpan_service::onboarding::{self, Ask, ChangeError, Details};
use suanpan_store::onboarding::MerchantChange;

pub fn routes(state: &AppState) -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            "/api/v1/acquirer/merchants",
            get(list_merchants)
                .post(create_merchant)
                .route_layer(crate::gate(state)),
        )
        .route(
            "/api/v1/acquirer/merchants/{id}",
            get(get_merchant)
                .patch(edit_merchant)
                .route_layer(crate::gate(state)),
        )
        .route(
            "/api/v1/acquirer/merchants/{id}/status",
            post(merchant_status).route_layer(crate::gate(state)),
        )
        .route(
            "/api/v1/acquirer/merchant-changes",
            get(list_changes).route_layer(crate::gate(state)),
        )
        .route(
            "/api/v1/acquirer/merchant-changes/{id}/approve",
            post(approve_change).route_layer(crate::gate(state)),
        )
        .route(
            "/api/v1/acquirer/merchant-changes/{id}/reject",
            post(reject_change).route_layer(crate::gate(state)),
        )
}

/// The acquirer tier's gate: a merchant's user gets 404 (the route does not exist for
/// them, and a 403 would confirm it does); an acquirer user without `p` gets 403.
pub fn gate(caller: &Caller, p: Permission) -> Result<(), ApiError> {
    if caller.user.role.tier() != Tier::Acquirer {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            caller.lang,
            "route.not_found",
            &[],
        ));
    }
    caller.require(p)
}

/// Longest legal name, address or contact, in characters.
pub const MERCHANT_TEXT_CHARS_MAX: usize = 128;
/// Longest short name (printed on slips), in characters.
pub const SHORT_NAME_CHARS_MAX: usize = 20;
/// A settlement account's digits (bank card or corporate account numbers).
pub const ACCOUNT_PATTERN: &str = "^[0-9]{12,30}$";
/// An MCC.
pub const MCC_PATTERN: &str = "^[0-9]{4}$";
/// A merchant id.
pub const MERCHANT_ID_PATTERN: &str = "^[0-9]{15}$";

/// A merchant as the acquirer sees it; the settlement account masked, never in full.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct MerchantView {
    /// 商户号 (15 digits).
    pub id: String,
    /// Legal name.
    pub name: String,
    /// Short name for slips.
    pub short_name: String,
    /// MCC.
    pub mcc: Option<String>,
    /// Address.
    pub address: String,
    /// Contact.
    pub contact: String,
    /// The settlement account, masked (`6222 **** **** 1234`).
    pub settlement_account: Option<String>,
    /// `pending`, `active`, `suspended`, `closed`.
    pub status: String,
    /// The status in words.
    pub status_text: String,
    /// Why it last changed.
    pub status_reason: String,
}

/// A merchant change as listed for review.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct MerchantChangeView {
    /// Id.
    pub id: i64,
    /// The merchant.
    pub merchant_id: String,
    /// `create`, `edit`, `activate`, `suspend`, `close`.
    pub kind: String,
    /// The kind in words.
    pub kind_text: String,
    /// `pending`, `approved`, `rejected`.
    pub status: String,
    /// The status in words.
    pub status_text: String,
    /// Legal name (create and edit).
    pub name: Option<String>,
    /// Short name (create and edit).
    pub short_name: Option<String>,
    /// MCC (create and edit).
    pub mcc: Option<String>,
    /// Address (create and edit).
    pub address: Option<String>,
    /// Contact (create and edit).
    pub contact: Option<String>,
    /// The settlement account asked for, masked.
    pub settlement_account: Option<String>,
    /// Why.
    pub reason: String,
    /// The maker.
    pub submitted_by: String,
    /// When.
    pub submitted_at: When,
    /// The checker.
    pub reviewed_by: Option<String>,
    /// When.
    pub reviewed_at: Option<When>,
    /// The checker's comment.
    pub comment: String,
}

impl MerchantChangeView {
    /// From a stored change.
    pub fn of(c: &MerchantChange, state: &AppState, lang: Lang) -> MerchantChangeView {
        let policy = state.store().policy();
        let d = c.details.as_ref();
        MerchantChangeView {
            id: c.id,
            merchant_id: c.merchant_id.clone(),
            kind: c.kind.as_str().to_owned(),
            kind_text: crate::catalog::t(lang, &format!("merchant.change.{}", c.kind.as_str()))
                .to_owned(),
            status: c.status.as_str().to_owned(),
            status_text: crate::catalog::t(
                lang,
                &format!("merchant.change_status.{}", c.status.as_str()),
            )
            .to_owned(),
            name: d.map(|d| d.name.clone()),
            short_name: d.map(|d| d.short_name.clone()),
            mcc: d.and_then(|d| d.mcc.clone()),
            address: d.map(|d| d.address.clone()),
            contact: d.map(|d| d.contact.clone()),
            settlement_account: d.and_then(|d| d.account.as_ref().map(|a| a.masked.clone())),
            reason: c.reason.clone(),
            submitted_by: c.submitted_by.1.clone(),
            submitted_at: When::of(policy, c.submitted_at),
            reviewed_by: c.reviewed_by.as_ref().map(|r| r.1.clone()),
            reviewed_at: c.reviewed_at.map(|t| When::of(policy, t)),
            comment: c.comment.clone(),
        }
    }
}

fn change_error(lang: Lang, e: ChangeError) -> ApiError {
    match e {
        ChangeError::Refused(r) => ApiError::refused(lang, &r),
        ChangeError::NotFound => {
            ApiError::new(StatusCode::NOT_FOUND, lang, "merchant.not_found", &[])
        }
        ChangeError::Waiting => {
            ApiError::new(StatusCode::CONFLICT, lang, "merchant.change_waiting", &[])
        }
        ChangeError::Store(e) => ApiError::store(lang, e),
    }
}

/// Runs a use case of `suanpan_service::onboarding` on the blocking pool.
pub(crate) async fn run<T: Send + 'static>(
    lang: Lang,
    f: impl FnOnce() -> Result<T, ChangeError> + Send + 'static,
) -> Result<T, ApiError> {
    crate::auth::blocking_as(lang, f, |e| change_error(lang, e)).await
}

/// Every merchant (acquirer users who may see all merchants).
pub async fn merchants(state: &AppState, caller: &Caller) -> Result<Vec<MerchantView>, ApiError> {
    gate(caller, Permission::ViewAllMerchants)?;
    let (lang, store) = (caller.lang, state.store().clone());
    let rows = blocking(lang, move || {
        let mut out = Vec::new();
        for m in suanpan_store::admin::merchants(&*store)? {
            let masked = suanpan_store::onboarding::merchant_account_masked(&*store, &m.id)?;
            out.push((m, masked));
        }
        Ok(out)
    })
    .await?;
    Ok(rows
        .into_iter()
        .map(|(m, masked)| merchant_view(lang, m, masked))
        .collect())
}

fn merchant_view(
    lang: Lang,
    m: suanpan_store::admin::MerchantRecord,
    masked: Option<String>,
) -> MerchantView {
    MerchantView {
        id: m.id.to_string(),
        status_text: crate::catalog::t(lang, &format!("merchant.status.{}", m.status)).to_owned(),
        name: m.name,
        short_name: m.short_name,
        mcc: m.mcc,
        address: m.address,
        contact: m.contact,
        settlement_account: masked,
        status: m.status,
        status_reason: m.status_reason,
    }
}

/// The merchant of a path's 15 digits, 404 when it is none.
pub async fn merchant(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<MerchantView, ApiError> {
    gate(caller, Permission::ViewAllMerchants)?;
    let lang = caller.lang;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, lang, "merchant.not_found", &[]);
    let id = MerchantId::parse(id).map_err(|_| not_found())?;
    let store = state.store().clone();
    let (m, masked) = blocking(lang, move || {
        let m = suanpan_store::admin::merchant(&*store, &id)?;
        let masked = suanpan_store::onboarding::merchant_account_masked(&*store, &id)?;
        Ok((m, masked))
    })
    .await?;
    Ok(merchant_view(lang, m.ok_or_else(not_found)?, masked))
}

/// A new merchant as the acquirer onboards it.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MerchantIn {
    /// 商户号 (15 digits).
    pub id: String,
    /// Legal name.
    pub name: String,
    /// Short name for slips (the legal name when left out).
    #[serde(default)]
    pub short_name: Option<String>,
    /// MCC (4 digits).
    #[serde(default)]
    pub mcc: Option<String>,
    /// Address.
    #[serde(default)]
    pub address: String,
    /// Contact (person and phone).
    #[serde(default)]
    pub contact: String,
    /// The settlement bank account's digits (stored sealed, shown masked).
    pub settlement_account: String,
}

/// A merchant's details changed; an account left out keeps the one on file.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MerchantEditIn {
    /// Legal name.
    pub name: String,
    /// Short name for slips (the legal name when left out).
    #[serde(default)]
    pub short_name: Option<String>,
    /// MCC (4 digits).
    #[serde(default)]
    pub mcc: Option<String>,
    /// Address.
    #[serde(default)]
    pub address: String,
    /// Contact.
    #[serde(default)]
    pub contact: String,
    /// A new settlement bank account's digits.
    #[serde(default)]
    pub settlement_account: Option<String>,
}

/// A status change asked for.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MerchantStatusIn {
    /// `active`, `suspended` or `closed`.
    pub status: String,
    /// Why (required to suspend or close; the merchant reads it).
    #[serde(default)]
    pub reason: String,
}

/// A review's comment (required to reject).
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MerchantReviewIn {
    /// Required to reject; optional otherwise.
    #[serde(default)]
    pub comment: String,
}

fn text_field(
    lang: Lang,
    field: &str,
    v: &str,
    max: usize,
    required: bool,
) -> Result<String, ApiError> {
    let v = v.trim();
    if (required && v.is_empty()) || v.chars().count() > max {
        return Err(ApiError::field(lang, field, v));
    }
    Ok(v.to_owned())
}

fn details(
    lang: Lang,
    name: &str,
    short_name: Option<&str>,
    mcc: Option<&str>,
    address: &str,
    contact: &str,
    account: Option<&str>,
) -> Result<Details, ApiError> {
    let name = text_field(lang, "legal_name", name, MERCHANT_TEXT_CHARS_MAX, true)?;
    let short_name = match short_name.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => text_field(lang, "short_name", s, SHORT_NAME_CHARS_MAX, true)?,
        None => name.chars().take(SHORT_NAME_CHARS_MAX).collect(),
    };
    let mcc = match mcc.map(str::trim).filter(|s| !s.is_empty()) {
        Some(m) if m.len() == 4 && m.bytes().all(|b| b.is_ascii_digit()) => Some(m.to_owned()),
        Some(m) => return Err(ApiError::field(lang, "mcc", m)),
        None => None,
    };
    let account = match account {
        Some(a) => {
            let digits: String = a.chars().filter(|c| *c != ' ').collect();
            if !(12..=30).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
                // The digits sent are not echoed: they are an account number.
                return Err(ApiError::field(lang, "settlement_account", ""));
            }
            Some(digits)
        }
        None => None,
    };
    Ok(Details {
        name,
        short_name,
        mcc,
        address: text_field(lang, "address", address, MERCHANT_TEXT_CHARS_MAX, false)?,
        contact: text_field(lang, "contact", contact, MERCHANT_TEXT_CHARS_MAX, false)?,
        account,
    })
}

/// Submits `ask` as the caller's pending change.
pub async fn submit(
    state: &AppState,
    caller: &Caller,
    ask: Ask,
) -> Result<MerchantChangeView, ApiError> {
    gate(caller, Permission::ManageMerchants)?;
    let (store, user) = (state.store().clone(), caller.user.clone());
    let c = run(caller.lang, move || onboarding::submit(&*store, &user, ask)).await?;
    Ok(MerchantChangeView::of(&c, state, caller.lang))
}

/// The create of a merchant as the caller's pending change.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    m: MerchantIn,
) -> Result<MerchantChangeView, ApiError> {
    gate(caller, Permission::ManageMerchants)?;
    let lang = caller.lang;
    let id =
        MerchantId::parse(m.id.trim()).map_err(|_| ApiError::field(lang, "merchant", &m.id))?;
    let d = details(
        lang,
        &m.name,
        m.short_name.as_deref(),
        m.mcc.as_deref(),
        &m.address,
        &m.contact,
        Some(&m.settlement_account),
    )?;
    submit(
        state,
        caller,
        Ask {
            merchant: id,
            kind: MerchantChangeKind::Create,
            details: Some(d),
            reason: String::new(),
        },
    )
    .await
}

/// An edit of a merchant as the caller's pending change.
pub async fn edit(
    state: &AppState,
    caller: &Caller,
    id: &str,
    m: MerchantEditIn,
) -> Result<MerchantChangeView, ApiError> {
    gate(caller, Permission::ManageMerchants)?;
    let lang = caller.lang;
    let id = MerchantId::parse(id)
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, lang, "merchant.not_found", &[]))?;
    let d = details(
        lang,
        &m.name,
        m.short_name.as_deref(),
        m.mcc.as_deref(),
        &m.address,
        &m.contact,
        m.settlement_account.as_deref(),
    )?;
    submit(
        state,
        caller,
        Ask {
            merchant: id,
            kind: MerchantChangeKind::Edit,
            details: Some(d),
            reason: String::new(),
        },
    )
    .await
}

/// A status change as the caller's pending change.
pub async fn status(
    state: &AppState,
    caller: &Caller,
    id: &str,
    s: MerchantStatusIn,
) -> Result<MerchantChangeView, ApiError> {
    gate(caller, Permission::ManageMerchants)?;
    let lang = caller.lang;
    let id = MerchantId::parse(id)
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, lang, "merchant.not_found", &[]))?;
    let kind = MerchantChangeKind::to_status(s.status.trim())
        .ok_or_else(|| ApiError::field(lang, "status", &s.status))?;
    submit(
        state,
        caller,
        Ask {
            merchant: id,
            kind,
            details: None,
            reason: s.reason,
        },
    )
    .await
}

/// Changes of `status` (every status when empty), newest first.
pub async fn changes(
    state: &AppState,
    caller: &Caller,
    status: &str,
) -> Result<Vec<MerchantChangeView>, ApiError> {
    gate(caller, Permission::ViewAllMerchants)?;
    let lang = caller.lang;
    let status = match status.trim() {
        "" => None,
        s => Some(
            RequestStatus::parse(s)
                .filter(|s| CHANGE_STATUSES.contains(s))
                .ok_or_else(|| ApiError::field(lang, "status", s))?,
        ),
    };
    let store = state.store().clone();
    let rows = blocking(lang, move || {
        suanpan_store::onboarding::changes(&*store, status, None)
    })
    .await?;
    Ok(rows
        .iter()
        .map(|c| MerchantChangeView::of(c, state, lang))
        .collect())
}

/// The statuses a merchant change has.
pub const CHANGE_STATUSES: [RequestStatus; 3] = [
    RequestStatus::Pending,
    RequestStatus::Approved,
    RequestStatus::Rejected,
];

/// The caller's review of change `id`.
pub async fn review(
    state: &AppState,
    caller: &Caller,
    id: i64,
    approve: bool,
    comment: String,
) -> Result<MerchantChangeView, ApiError> {
    gate(caller, Permission::ManageMerchants)?;
    let lang = caller.lang;
    let (store, user) = (state.store().clone(), caller.user.clone());
    let c = run(lang, move || {
        onboarding::review(&*store, &user, id, approve, &comment)
    })
    .await
    .map_err(|e| {
        if e.code == "merchant.not_found" {
            ApiError::new(
                StatusCode::NOT_FOUND,
                lang,
                "merchant.change_not_found",
                &[],
            )
        } else {
            e
        }
    })?;
    Ok(MerchantChangeView::of(&c, state, lang))
}

/// Every merchant, with its masked settlement account (acquirer users).
#[utoipa::path(get, path = "/api/v1/acquirer/merchants", tag = "acquirer", operation_id = "list_merchants",
    responses((status = 200, body = Vec<MerchantView>), (status = 404, body = ApiError, description = "a merchant's user: the acquirer's routes do not exist for them")))]
pub async fn list_merchants(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<MerchantView>>, ApiError> {
    Ok(Json(merchants(&state, &caller).await?))
}

/// Onboards a merchant: a pending change until a second acquirer user approves it.
#[utoipa::path(post, path = "/api/v1/acquirer/merchants", tag = "acquirer", operation_id = "create_merchant",
    request_body = MerchantIn,
    responses((status = 202, body = MerchantChangeView, description = "the change waits for a second acquirer user"),
        (status = 404, body = ApiError), (status = 409, body = ApiError, description = "a change of this merchant waits for review already"),
        (status = 422, body = ApiError)))]
pub async fn create_merchant(
    State(state): State<AppState>,
    caller: Caller,
    body: ApiJson<MerchantIn>,
) -> Result<(StatusCode, Json<MerchantChangeView>), ApiError> {
    Ok((
        StatusCode::ACCEPTED,
        Json(create(&state, &caller, body.value).await?),
    ))
}

/// One merchant.
#[utoipa::path(get, path = "/api/v1/acquirer/merchants/{id}", tag = "acquirer", operation_id = "get_merchant",
    params(("id" = String, Path, description = "商户号 (15 digits)")),
    responses((status = 200, body = MerchantView), (status = 404, body = ApiError)))]
pub async fn get_merchant(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<MerchantView>, ApiError> {
    Ok(Json(merchant(&state, &caller, &id).await?))
}

/// Edits a merchant's details: a pending change until a second acquirer user approves it.
#[utoipa::path(patch, path = "/api/v1/acquirer/merchants/{id}", tag = "acquirer", operation_id = "edit_merchant",
    params(("id" = String, Path, description = "商户号 (15 digits)")), request_body = MerchantEditIn,
    responses((status = 202, body = MerchantChangeView, description = "the change waits for a second acquirer user"),
        (status = 404, body = ApiError), (status = 409, body = ApiError, description = "a change of this merchant waits for review already"),
        (status = 422, body = ApiError)))]
pub async fn edit_merchant(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: ApiJson<MerchantEditIn>,
) -> Result<(StatusCode, Json<MerchantChangeView>), ApiError> {
    Ok((
        StatusCode::ACCEPTED,
        Json(edit(&state, &caller, &id, body.value).await?),
    ))
}

/// Asks to activate, suspend or close a merchant: a pending change until a second acquirer
/// user approves it.
#[utoipa::path(post, path = "/api/v1/acquirer/merchants/{id}/status", tag = "acquirer", operation_id = "merchant_status",
    params(("id" = String, Path, description = "商户号 (15 digits)")), request_body = MerchantStatusIn,
    responses((status = 202, body = MerchantChangeView, description = "the change waits for a second acquirer user"),
        (status = 404, body = ApiError), (status = 409, body = ApiError, description = "a change of this merchant waits for review already"),
        (status = 422, body = ApiError)))]
pub async fn merchant_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: ApiJson<MerchantStatusIn>,
) -> Result<(StatusCode, Json<MerchantChangeView>), ApiError> {
    Ok((
        StatusCode::ACCEPTED,
        Json(status(&state, &caller, &id, body.value).await?),
    ))
}

/// Listing filter of merchant changes.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangeQuery {
    /// Only this status (`pending`, `approved`, `rejected`); all when empty.
    pub status: Option<String>,
    /// Language (`zh`, `en`); read by every extractor from the query.
    #[serde(rename = "lang")]
    pub _lang: Option<String>,
}

/// Merchant changes, newest first.
#[utoipa::path(get, path = "/api/v1/acquirer/merchant-changes", tag = "acquirer", operation_id = "list_merchant_changes",
    params(ChangeQuery),
    responses((status = 200, body = Vec<MerchantChangeView>), (status = 404, body = ApiError)))]
pub async fn list_changes(
    State(state): State<AppState>,
    caller: Caller,
    crate::api::ApiQuery(q): crate::api::ApiQuery<ChangeQuery>,
) -> Result<Json<Vec<MerchantChangeView>>, ApiError> {
    Ok(Json(
        changes(&state, &caller, q.status.as_deref().unwrap_or("")).await?,
    ))
}

/// Approves a merchant change (never one's own): it takes effect now.
#[utoipa::path(post, path = "/api/v1/acquirer/merchant-changes/{id}/approve", tag = "acquirer", operation_id = "approve_merchant_change",
    params(("id" = i64, Path)), request_body = MerchantReviewIn,
    responses((status = 200, body = MerchantChangeView), (status = 404, body = ApiError),
        (status = 409, body = ApiError, description = "reviewed already"), (status = 422, body = ApiError, description = "one's own change, or the merchant moved meanwhile")))]
pub async fn approve_change(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    body: ApiJson<MerchantReviewIn>,
) -> Result<Json<MerchantChangeView>, ApiError> {
    Ok(Json(
        review(&state, &caller, id, true, body.value.comment).await?,
    ))
}

/// Rejects a merchant change (never one's own), with a comment.
#[utoipa::path(post, path = "/api/v1/acquirer/merchant-changes/{id}/reject", tag = "acquirer", operation_id = "reject_merchant_change",
    params(("id" = i64, Path)), request_body = MerchantReviewIn,
    responses((status = 200, body = MerchantChangeView), (status = 404, body = ApiError),
        (status = 409, body = ApiError, description = "reviewed already"), (status = 422, body = ApiError, description = "one's own change, or no comment")))]
pub async fn reject_change(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    body: ApiJson<MerchantReviewIn>,
) -> Result<Json<MerchantChangeView>, ApiError> {
    Ok(Json(
        review(&state, &caller, id, false, body.value.comment).await?,
    ))
}
