//! Payment channels (支付渠道): list, enable, disable, remove, re-add. Changing one needs the
//! admin's own password re-entered (checked here, rate limited like a login) and a reason,
//! and a channel with unsettled transactions cannot be disabled or removed: the use case is
//! `service::channels::change`; this adapter parses, authenticates, calls it and renders. New payments
//! through a disabled or removed channel are refused with 12 by the store's engine
//! (`decide_channel_open`), for the API, terminals and the CLI alike. A removed channel keeps
//! its row (the audit trail) and comes back, disabled, when an admin re-adds it.

use crate::auth::{Caller, blocking, blocking_as};
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::state::AppState;
use crate::view::When;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use suanpan_core::Lang;
use suanpan_core::backoffice::{Channel, ChannelAction, Permission};
use suanpan_service::channels::{self, ChannelError};

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/v1/channels", get(list))
        .route("/api/v1/channels/{id}/{action}", post(change))
}

/// A channel as the API shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ChannelView {
    /// `unionpay`, `alipay`, `wechat`, `lakala`.
    pub id: String,
    /// Its name in the caller's language.
    pub name: String,
    /// Accepts new transactions.
    pub enabled: bool,
    /// Removed (删除): refuses new transactions; an admin can re-add it (`restore`).
    pub removed: bool,
    /// The acquirer's switch for the whole platform; while it is off (an outage) the channel
    /// refuses new transactions whatever the merchant chose.
    pub platform_enabled: bool,
    /// The acquirer lets this merchant use the channel; while it does not, the channel refuses
    /// the merchant's new transactions whatever the merchant chose.
    pub allowed: bool,
    /// Why the acquirer last allowed or withdrew it.
    pub allowed_reason: String,
    /// The payment methods that go through it.
    pub methods: Vec<String>,
    /// Its transactions not settled yet (a channel with any cannot be disabled).
    pub unsettled: u64,
    /// Last change.
    pub changed_at: Option<When>,
    /// By whom.
    pub changed_by: Option<String>,
    /// Why.
    pub reason: String,
}

/// The channels for the API and the UI.
pub async fn channels(state: &AppState, caller: &Caller) -> Result<Vec<ChannelView>, ApiError> {
    caller.require(Permission::ViewTransactions)?;
    channels_of(state, caller.lang, caller.merchant()?).await
}

/// One merchant's channels, as its users and the acquirer see them.
pub async fn channels_of(
    state: &AppState,
    lang: suanpan_core::Lang,
    merchant: suanpan_core::MerchantId,
) -> Result<Vec<ChannelView>, ApiError> {
    let store = state.store().clone();
    let rows = blocking(lang, move || channels::of_merchant(&*store, &merchant)).await?;
    let policy = state.store().policy();
    Ok(rows
        .into_iter()
        .map(|c| (c.row, c.methods, c.unsettled))
        .map(|(r, methods, unsettled)| ChannelView {
            name: crate::catalog::t(lang, &format!("channel.{}", r.id)).to_owned(),
            id: r.id,
            enabled: r.enabled,
            removed: r.removed,
            platform_enabled: r.platform_enabled,
            allowed: r.allowed,
            allowed_reason: r.allowed_reason,
            methods: methods.iter().map(|m| (*m).to_owned()).collect(),
            unsettled,
            changed_at: r.changed_at.map(|t| When::micros(policy, t)),
            changed_by: r.changed_by,
            reason: r.reason,
        })
        .collect())
}

/// Payment channels and their state.
#[utoipa::path(get, path = "/api/v1/channels", tag = "channels", operation_id = "list_channels",
    responses((status = 200, body = Vec<ChannelView>), (status = 401, body = ApiError)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ChannelView>>, ApiError> {
    Ok(Json(channels(&state, &caller).await?))
}

/// A channel change: the acting admin's password again, and why.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelIn {
    /// The acting user's own login password, re-entered.
    pub password: String,
    /// Why (required; audited).
    pub reason: String,
}

/// Changes a channel as `service::channels::change` decides (the API and the page).
pub async fn set(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: ChannelAction,
    input: ChannelIn,
) -> Result<ChannelView, ApiError> {
    let lang = caller.lang;
    let Some(channel) = Channel::parse(id) else {
        return Err(not_found(lang));
    };
    let (store, merchant) = (state.store().clone(), caller.merchant()?);
    // Rate limited and counted towards the lockout like a login (issue 14).
    let password_ok = crate::auth::reenter_password(state, caller, &input.password).await?;
    let change = channels::Change {
        channel,
        action,
        reason: input.reason,
        password_ok,
    };
    let user = caller.user.clone();
    blocking_as(
        lang,
        move || channels::change(&*store, &user, &merchant, &change),
        |e| channel_error(lang, e),
    )
    .await?;
    channels(state, caller)
        .await?
        .into_iter()
        .find(|c| c.id == channel.as_str())
        .ok_or_else(|| not_found(lang))
}

/// 404 for a channel that does not exist.
pub(crate) fn not_found(lang: Lang) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, lang, "channel.not_found", &[])
}

/// A channel use case's error as the API answers it (a refusal through the one table:
/// 403 not permitted, 409 unsettled, else 422).
pub(crate) fn channel_error(lang: Lang, e: ChannelError) -> ApiError {
    match e {
        ChannelError::Refused(r) => ApiError::refused(lang, &r),
        ChannelError::NotFound => not_found(lang),
        ChannelError::MerchantNotFound => {
            ApiError::new(StatusCode::NOT_FOUND, lang, "merchant.not_found", &[])
        }
        ChannelError::Store(e) => ApiError::store(lang, e),
    }
}

/// Enables (`enable`), disables (`disable`), removes (`remove`) or re-adds (`restore`) a
/// channel (admins; password and reason). A removed channel refuses new transactions like a
/// disabled one, is listed as removed, and comes back disabled when re-added.
#[utoipa::path(post, path = "/api/v1/channels/{id}/{action}", tag = "channels",
    params(("id" = String, Path, description = "unionpay, alipay, wechat, lakala"), ("action" = String, Path, description = "enable, disable, remove or restore")),
    request_body = ChannelIn,
    responses((status = 200, body = ChannelView), (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError),
        (status = 409, body = ApiError, description = "unsettled transactions; removed already; not removed"), (status = 422, body = ApiError),
        (status = 423, body = ApiError, description = "the account is locked after wrong passwords (a re-entered password counts)"),
        (status = 429, body = ApiError, description = "too many password re-entries from this client or for this user in a minute")))]
pub async fn change(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, action)): Path<(String, String)>,
    body: ApiJson<ChannelIn>,
) -> Result<Json<ChannelView>, ApiError> {
    let action = parse_action(caller.lang, &action)?;
    Ok(Json(set(&state, &caller, &id, action, body.value).await?))
}

/// The action of a channel path.
pub fn parse_action(lang: Lang, text: &str) -> Result<ChannelAction, ApiError> {
    ChannelAction::parse(text).ok_or_else(|| ApiError::field(lang, "channel_action", text))
}
