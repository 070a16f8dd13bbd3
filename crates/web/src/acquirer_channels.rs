//! The acquirer's channels (渠道管理, issue 14) over `/api/v1/acquirer/channels` and
//! `/api/v1/acquirer/merchants/{id}/channels`: the platform's outage switch (every
//! merchant's transactions through a channel stop while it is off) and which of 银联/支付宝/
//! 微信支付/拉卡拉 each merchant may use. A transaction needs the platform's switch on, the
//! acquirer's allowance for its merchant and the merchant's own choice
//! (`store::repo::channels::is_open`); the merchant's enable/disable/remove stays its own
//! (`web::channels`). Each change needs a reason and is audited: the use cases are
//! `service::channels::switch_platform` and `allow`; this adapter parses, calls them and
//! renders. Merchant users get 404, as everywhere under `/api/v1/acquirer/`.

use crate::acquirer::gate;
use crate::auth::{Caller, blocking, blocking_as};
use crate::channels::{ChannelView, channel_error, channels_of, not_found};
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::state::AppState;
use crate::view::When;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use suanpan_core::backoffice::{Channel, Permission};
use suanpan_core::{Lang, MerchantId};
use suanpan_service::channels;

/// The actions of the platform's switch.
pub const PLATFORM_ACTIONS: [&str; 2] = ["enable", "disable"];
/// The actions on one merchant's channel.
pub const MERCHANT_ACTIONS: [&str; 2] = ["allow", "withdraw"];

pub fn routes(state: &AppState) -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            "/api/v1/acquirer/channels",
            get(list_platform_channels).route_layer(crate::gate(state)),
        )
        .route(
            "/api/v1/acquirer/channels/{id}/{action}",
            post(switch_platform_channel).route_layer(crate::gate(state)),
        )
        .route(
            "/api/v1/acquirer/merchants/{id}/channels",
            get(list_merchant_channels).route_layer(crate::gate(state)),
        )
        .route(
            "/api/v1/acquirer/merchants/{id}/channels/{channel}/{action}",
            post(allow_merchant_channel).route_layer(crate::gate(state)),
        )
}

/// A channel's platform switch, as the acquirer sees it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct PlatformChannelView {
    /// `unionpay`, `alipay`, `wechat`, `lakala`.
    pub id: String,
    /// Its name in the caller's language.
    pub name: String,
    /// On for the whole platform; off during an outage (every merchant's new transactions
    /// through it are refused).
    pub enabled: bool,
    /// Last change.
    pub changed_at: Option<When>,
    /// By whom.
    pub changed_by: Option<String>,
    /// Why.
    pub reason: String,
}

/// Why the acquirer changes a channel.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcquirerChannelIn {
    /// Why (required; audited; merchants read it).
    pub reason: String,
}

fn channel_of(lang: Lang, id: &str) -> Result<Channel, ApiError> {
    Channel::parse(id).ok_or_else(|| not_found(lang))
}

/// `enable`/`allow` (true) or `disable`/`withdraw` (false) of `actions`.
fn on_off(lang: Lang, actions: [&str; 2], text: &str) -> Result<bool, ApiError> {
    match text {
        t if t == actions[0] => Ok(true),
        t if t == actions[1] => Ok(false),
        _ => Err(ApiError::field(lang, "channel_action", text)),
    }
}

/// The platform's switches.
pub async fn platform_channels(
    state: &AppState,
    caller: &Caller,
) -> Result<Vec<PlatformChannelView>, ApiError> {
    gate(caller, Permission::ViewAllMerchants)?;
    let (lang, store) = (caller.lang, state.store().clone());
    let rows = blocking(lang, move || channels::platform(&*store)).await?;
    let policy = state.store().policy();
    Ok(rows
        .into_iter()
        .map(|r| PlatformChannelView {
            name: crate::catalog::t(lang, &format!("channel.{}", r.id)).to_owned(),
            id: r.id,
            enabled: r.enabled,
            changed_at: r.changed_at.map(|t| When::micros(policy, t)),
            changed_by: r.changed_by,
            reason: r.reason,
        })
        .collect())
}

fn merchant_not_found(lang: Lang) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, lang, "merchant.not_found", &[])
}

/// The merchant of a path, 404 when there is none.
async fn existing_merchant(state: &AppState, lang: Lang, id: &str) -> Result<MerchantId, ApiError> {
    let merchant = MerchantId::parse(id).map_err(|_| merchant_not_found(lang))?;
    let (store, m) = (state.store().clone(), merchant.clone());
    let found = blocking(lang, move || channels::merchant_exists(&*store, &m)).await?;
    found
        .then_some(merchant)
        .ok_or_else(|| merchant_not_found(lang))
}

/// Every channel of the platform.
#[utoipa::path(get, path = "/api/v1/acquirer/channels", tag = "acquirer", operation_id = "list_platform_channels",
    responses((status = 200, body = Vec<PlatformChannelView>), (status = 404, body = ApiError)))]
pub async fn list_platform_channels(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<PlatformChannelView>>, ApiError> {
    Ok(Json(platform_channels(&state, &caller).await?))
}

/// Switches a channel on (`enable`) or off (`disable`) for the whole platform — the outage
/// switch. While off, every merchant's new transactions through it are refused with 12.
#[utoipa::path(post, path = "/api/v1/acquirer/channels/{id}/{action}", tag = "acquirer", operation_id = "switch_platform_channel",
    params(("id" = String, Path, description = "unionpay, alipay, wechat, lakala"), ("action" = String, Path, description = "enable or disable")),
    request_body = AcquirerChannelIn,
    responses((status = 200, body = PlatformChannelView), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 422, body = ApiError, description = "no reason")))]
pub async fn switch_platform_channel(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, action)): Path<(String, String)>,
    body: ApiJson<AcquirerChannelIn>,
) -> Result<Json<PlatformChannelView>, ApiError> {
    let reason = body.value.reason;
    Ok(Json(switch(&state, &caller, &id, &action, reason).await?))
}

/// The platform's switch of channel `id` turned as `action` says (the API and the page).
pub async fn switch(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: &str,
    reason: String,
) -> Result<PlatformChannelView, ApiError> {
    gate(caller, Permission::ManagePlatformChannels)?;
    let lang = caller.lang;
    let channel = channel_of(lang, id)?;
    let enabled = on_off(lang, PLATFORM_ACTIONS, action)?;
    let (store, user) = (state.store().clone(), caller.user.clone());
    blocking_as(
        lang,
        move || channels::switch_platform(&*store, &user, channel, enabled, &reason),
        |e| channel_error(lang, e),
    )
    .await?;
    platform_channels(state, caller)
        .await?
        .into_iter()
        .find(|c| c.id == channel.as_str())
        .ok_or_else(|| not_found(lang))
}

/// One merchant's channels: the acquirer's allowance, the merchant's own choice and the
/// platform's switch, each.
#[utoipa::path(get, path = "/api/v1/acquirer/merchants/{id}/channels", tag = "acquirer", operation_id = "list_merchant_channels",
    params(("id" = String, Path, description = "商户号 (15 digits)")),
    responses((status = 200, body = Vec<ChannelView>), (status = 404, body = ApiError)))]
pub async fn list_merchant_channels(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<ChannelView>>, ApiError> {
    Ok(Json(merchant_channels(&state, &caller, &id).await?))
}

/// One merchant's channels (the API and the merchant's console page).
pub async fn merchant_channels(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<Vec<ChannelView>, ApiError> {
    gate(caller, Permission::ViewAllMerchants)?;
    let merchant = existing_merchant(state, caller.lang, id).await?;
    channels_of(state, caller.lang, merchant).await
}

/// Opens (`allow`) or closes (`withdraw`) a channel for one merchant. Withdrawn, the
/// merchant's new transactions through it are refused with 12 whatever the merchant chose;
/// its own enable/disable/remove is kept for when the channel is allowed again.
#[utoipa::path(post, path = "/api/v1/acquirer/merchants/{id}/channels/{channel}/{action}", tag = "acquirer", operation_id = "allow_merchant_channel",
    params(("id" = String, Path, description = "商户号 (15 digits)"), ("channel" = String, Path, description = "unionpay, alipay, wechat, lakala"),
        ("action" = String, Path, description = "allow or withdraw")),
    request_body = AcquirerChannelIn,
    responses((status = 200, body = ChannelView), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 422, body = ApiError, description = "no reason")))]
pub async fn allow_merchant_channel(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, channel, action)): Path<(String, String, String)>,
    body: ApiJson<AcquirerChannelIn>,
) -> Result<Json<ChannelView>, ApiError> {
    let reason = body.value.reason;
    Ok(Json(
        allow(&state, &caller, &id, &channel, &action, reason).await?,
    ))
}

/// Channel `channel` allowed or withdrawn for merchant `id` as `action` says (the API and
/// the merchant's console page).
pub async fn allow(
    state: &AppState,
    caller: &Caller,
    id: &str,
    channel: &str,
    action: &str,
    reason: String,
) -> Result<ChannelView, ApiError> {
    gate(caller, Permission::ManagePlatformChannels)?;
    let lang = caller.lang;
    let merchant = MerchantId::parse(id).map_err(|_| merchant_not_found(lang))?;
    let channel = channel_of(lang, channel)?;
    let allowed = on_off(lang, MERCHANT_ACTIONS, action)?;
    let (store, user, m) = (state.store().clone(), caller.user.clone(), merchant.clone());
    blocking_as(
        lang,
        move || channels::allow(&*store, &user, &m, channel, allowed, &reason),
        |e| channel_error(lang, e),
    )
    .await?;
    channels_of(state, lang, merchant)
        .await?
        .into_iter()
        .find(|c| c.id == channel.as_str())
        .ok_or_else(|| not_found(lang))
}
