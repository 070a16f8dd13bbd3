//! The settings behind the risk rules (issue 13): a merchant's limits and trading hours as
//! the acquirer sets them (`/api/v1/acquirer/merchants/{id}/risk-limits`, risk officers) and
//! as the merchant's admin tightens them (`/api/v1/risk/limits`; the core's
//! `decide_merchant_limits` refuses a looser one with a sentence), and the acquirer's
//! card/BIN blocklist (`/api/v1/acquirer/blocklist`). The store audits each change.
//! A card is blocked by a transaction it paid: the back-office never holds a card number.

use crate::acquirer::gate;
use crate::auth::{Caller, blocking};
use crate::catalog::t;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::state::AppState;
use crate::view::When;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use suanpan_core::backoffice::Permission;
use suanpan_core::risk::{Limits, Schedule, limit_label};
use suanpan_core::{Amount, Lang, MerchantId};
use suanpan_store::repo::risk::TierLimits;
use suanpan_store::risk::RiskAlerts;
use suanpan_store::risk_admin::{BlockRow, RiskAdmin};

/// Longest blocklist reason, in characters.
pub const BLOCK_REASON_CHARS_MAX: usize = 200;

pub fn routes(state: &AppState) -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/v1/risk/limits", get(own_limits).put(set_own_limits))
        .route(
            "/api/v1/acquirer/merchants/{id}/risk-limits",
            get(merchant_limits)
                .put(set_merchant_limits)
                .route_layer(crate::gate(state)),
        )
        .route(
            "/api/v1/acquirer/blocklist",
            get(list_blocklist)
                .post(add_block)
                .route_layer(crate::gate(state)),
        )
        .route(
            "/api/v1/acquirer/blocklist/{id}",
            delete(remove_block).route_layer(crate::gate(state)),
        )
}

/// One limit, by its name and in words.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LimitView {
    /// The limit's name (as in `LimitsIn`).
    pub field: String,
    /// Its name for a reader.
    pub label: String,
    /// Fen for an amount, a count for a count; 0 is off.
    pub value: i64,
    /// The value in words: `¥50,000.00`, `20 笔`, `不限`.
    pub display: String,
}

/// One tier's limits and trading hours.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TierView {
    /// Every limit.
    pub limits: Vec<LimitView>,
    /// Opening time (local `HH:MM`), if set.
    pub open_at: Option<String>,
    /// Closing time (local `HH:MM`; before `open_at` spans midnight), if set.
    pub close_at: Option<String>,
}

/// A merchant's limits: as set by each tier, and what the rules apply.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RiskLimitsView {
    /// The merchant.
    pub merchant_id: String,
    /// The acquirer's (none: the platform's defaults apply).
    pub acquirer: Option<TierView>,
    /// The merchant's own tightening, if any.
    pub merchant: Option<TierView>,
    /// What the rules apply: the acquirer's (or the defaults) tightened by the merchant's.
    pub effective: TierView,
    /// The sliding window the count and amount limits are over, in minutes.
    pub velocity_window_minutes: u32,
}

/// A tier's limits as set (fen and counts; 0 switches a limit off).
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsIn {
    /// A single sale above this (fen) is declined or held for review.
    #[schema(minimum = 0)]
    pub single_amount_max_fen: i64,
    /// Approved payments of one card in the window.
    #[serde(default)]
    pub card_count_max: u32,
    /// Their sum (fen).
    #[serde(default)]
    #[schema(minimum = 0)]
    pub card_amount_max_fen: i64,
    /// Approved payments of one terminal in the window.
    #[serde(default)]
    pub terminal_count_max: u32,
    /// Their sum (fen).
    #[serde(default)]
    #[schema(minimum = 0)]
    pub terminal_amount_max_fen: i64,
    /// Approved payments of the merchant in the window.
    #[serde(default)]
    pub merchant_count_max: u32,
    /// Their sum (fen).
    #[serde(default)]
    #[schema(minimum = 0)]
    pub merchant_amount_max_fen: i64,
    /// Opening time, local `HH:MM`; given with `close_at`, or neither (no off-hours rule).
    #[serde(default)]
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub open_at: Option<String>,
    /// Closing time, local `HH:MM` (before `open_at`: the hours span midnight).
    #[serde(default)]
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub close_at: Option<String>,
}

impl LimitsIn {
    /// The limits and hours, or the field in words that is wrong.
    pub fn parse(&self, lang: Lang) -> Result<(Limits, Option<(String, String)>), ApiError> {
        let limits = Limits {
            single_amount_max_fen: self.single_amount_max_fen,
            card_count_max: self.card_count_max,
            card_amount_max_fen: self.card_amount_max_fen,
            terminal_count_max: self.terminal_count_max,
            terminal_amount_max_fen: self.terminal_amount_max_fen,
            merchant_count_max: self.merchant_count_max,
            merchant_amount_max_fen: self.merchant_amount_max_fen,
        };
        if let Some((_, v)) = limits.fields().into_iter().find(|(_, v)| *v < 0) {
            return Err(ApiError::field(lang, "risk_limit", &v.to_string()));
        }
        let hours = match (self.open_at.as_deref(), self.close_at.as_deref()) {
            (None, None) => None,
            (Some(o), Some(c)) => {
                let (open, close) = (Schedule::parse_time(o), Schedule::parse_time(c));
                let sent = format!("{o}-{c}");
                match (open, close) {
                    (Some(a), Some(b)) if o.len() == 5 && c.len() == 5 => {
                        // Equal times would close the shop all day: well-formed, refused.
                        if a == b {
                            return Err(ApiError::field(lang, "hours", &sent).combination());
                        }
                        Some((o.to_owned(), c.to_owned()))
                    }
                    _ => return Err(ApiError::field(lang, "hours", &sent)),
                }
            }
            (o, c) => {
                let sent = format!("{}-{}", o.unwrap_or(""), c.unwrap_or(""));
                return Err(ApiError::field(lang, "hours", &sent).combination());
            }
        };
        Ok((limits, hours))
    }
}

/// A limit's value in words.
fn limit_words(lang: Lang, field: &str, value: i64) -> String {
    if value == 0 {
        t(lang, "risk.limit_off").to_owned()
    } else if field.ends_with("_fen") {
        Amount::from_fen(value).display()
    } else {
        crate::catalog::tf(lang, "risk.limit_count", &[value.to_string()])
    }
}

fn tier_view(lang: Lang, limits: &Limits, schedule: Option<&Schedule>) -> TierView {
    let hhmm = |t: jiff::civil::Time| format!("{:02}:{:02}", t.hour(), t.minute());
    TierView {
        limits: limits
            .fields()
            .into_iter()
            .map(|(field, value)| LimitView {
                field: field.to_owned(),
                label: limit_label(lang, field).to_owned(),
                value,
                display: limit_words(lang, field, value),
            })
            .collect(),
        open_at: schedule.map(|s| hhmm(s.open)),
        close_at: schedule.map(|s| hhmm(s.close)),
    }
}

/// The limits of `merchant` as the rules see them.
pub async fn limits_of(
    state: &AppState,
    lang: Lang,
    merchant: MerchantId,
) -> Result<RiskLimitsView, ApiError> {
    let store = state.store().clone();
    let m = merchant.clone();
    let (acq, own) = blocking(lang, move || store.risk_limits(&m)).await?;
    let risk = &state.store().policy().risk;
    let base = acq.as_ref().map_or(&risk.limits, |a| &a.limits);
    let effective = own
        .as_ref()
        .map_or(base.clone(), |o| base.tightened(&o.limits));
    let schedule = own
        .as_ref()
        .and_then(|o| o.schedule)
        .or(acq.as_ref().and_then(|a| a.schedule));
    let view = |t: &TierLimits| tier_view(lang, &t.limits, t.schedule.as_ref());
    Ok(RiskLimitsView {
        merchant_id: merchant.to_string(),
        acquirer: acq.as_ref().map(view),
        merchant: own.as_ref().map(view),
        effective: tier_view(lang, &effective, schedule.as_ref()),
        velocity_window_minutes: risk.velocity_window_minutes,
    })
}

/// Sets one tier's limits of `merchant` (the store decides a merchant's own against the
/// acquirer's inside its transaction).
pub async fn set_limits(
    state: &AppState,
    caller: &Caller,
    merchant: MerchantId,
    tier: &'static str,
    input: &LimitsIn,
) -> Result<RiskLimitsView, ApiError> {
    let lang = caller.lang;
    let (limits, hours) = input.parse(lang)?;
    let store = state.store().clone();
    let who = suanpan_store::backoffice::actor(&caller.user.username);
    let m = merchant.clone();
    let done = blocking(lang, move || {
        let hours = hours.as_ref().map(|(o, c)| (o.as_str(), c.as_str()));
        store.set_risk_limits(&m, tier, &limits, hours, &who)
    })
    .await?;
    done.map_err(|r| ApiError::refused(lang, &r))?;
    limits_of(state, lang, merchant).await
}

/// A merchant of the acquirer's path, 404 when none.
pub async fn known_merchant(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<MerchantId, ApiError> {
    let m = crate::acquirer::merchant(state, caller, id).await?;
    MerchantId::parse(&m.id).map_err(|_| ApiError::invalid(caller.lang, "merchant"))
}

/// The caller's merchant's limits, trading hours and what the rules apply.
#[utoipa::path(get, path = "/api/v1/risk/limits", tag = "risk",
    responses((status = 200, body = RiskLimitsView), (status = 403, body = ApiError)))]
pub async fn own_limits(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<RiskLimitsView>, ApiError> {
    caller.require(Permission::Review)?;
    let m = caller.merchant()?;
    Ok(Json(limits_of(&state, caller.lang, m).await?))
}

/// The merchant's admin tightens the merchant's own limits and sets its trading hours; a
/// limit looser than the acquirer's is refused (422) in words.
#[utoipa::path(put, path = "/api/v1/risk/limits", tag = "risk", request_body = LimitsIn,
    responses((status = 200, body = RiskLimitsView), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 422, body = ApiError, description = "looser than the acquirer's limit, only one of the hours, or opening equal to closing")))]
pub async fn set_own_limits(
    State(state): State<AppState>,
    caller: Caller,
    body: ApiJson<LimitsIn>,
) -> Result<Json<RiskLimitsView>, ApiError> {
    caller.require(Permission::ManageUsers)?;
    let m = caller.merchant()?;
    Ok(Json(
        set_limits(&state, &caller, m, "merchant", &body.value).await?,
    ))
}

/// A merchant's limits as the acquirer and the merchant set them.
#[utoipa::path(get, path = "/api/v1/acquirer/merchants/{id}/risk-limits", tag = "acquirer", operation_id = "get_merchant_risk_limits",
    params(("id" = String, Path, description = "商户号 (15 digits)")),
    responses((status = 200, body = RiskLimitsView), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn merchant_limits(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RiskLimitsView>, ApiError> {
    gate(&caller, Permission::ViewAllMerchants)?;
    let m = known_merchant(&state, &caller, &id).await?;
    Ok(Json(limits_of(&state, caller.lang, m).await?))
}

/// The acquirer sets a merchant's limits and trading hours (they replace the platform's
/// defaults for it; the merchant may only tighten them).
#[utoipa::path(put, path = "/api/v1/acquirer/merchants/{id}/risk-limits", tag = "acquirer", operation_id = "set_merchant_risk_limits",
    params(("id" = String, Path, description = "商户号 (15 digits)")), request_body = LimitsIn,
    responses((status = 200, body = RiskLimitsView), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 422, body = ApiError, description = "only one of the hours, or opening equal to closing")))]
pub async fn set_merchant_limits(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: ApiJson<LimitsIn>,
) -> Result<Json<RiskLimitsView>, ApiError> {
    gate(&caller, Permission::ManageMerchants)?;
    let m = known_merchant(&state, &caller, &id).await?;
    Ok(Json(
        set_limits(&state, &caller, m, "acquirer", &body.value).await?,
    ))
}

/// One blocklist entry.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct BlockView {
    /// Id.
    pub id: i64,
    /// `bin` or `card`.
    #[schema(example = "bin")]
    pub kind: String,
    /// The blocked BIN (six digits), for a BIN.
    pub bin: Option<String>,
    /// The blocked card's masked number, for a card.
    pub card: Option<String>,
    /// Why.
    pub reason: String,
    /// Who added it.
    pub created_by: String,
    /// When.
    pub created_at: When,
}

impl BlockView {
    fn of(b: &BlockRow, state: &AppState) -> BlockView {
        let bin = (b.kind == "bin").then(|| b.value.clone());
        BlockView {
            id: b.id,
            kind: b.kind.clone(),
            bin,
            card: b.masked_pan.clone(),
            reason: b.reason.clone(),
            created_by: b.created_by.clone(),
            created_at: When::micros(state.store().policy(), b.created_at),
        }
    }
}

/// What to block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    /// Every card of a BIN.
    Bin,
    /// The card that paid a transaction.
    Card,
}

/// A blocklist entry to add.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockIn {
    /// `bin` (give `bin`) or `card` (give `transaction_id`).
    pub kind: BlockKind,
    /// The BIN, six digits.
    #[serde(default)]
    #[schema(pattern = "^[0-9]{6}$")]
    pub bin: Option<String>,
    /// A transaction the card paid.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub transaction_id: Option<i64>,
    /// Why (1–200 characters, not only spaces).
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub reason: String,
}

/// The blocklist, newest first.
pub async fn blocklist(state: &AppState, caller: &Caller) -> Result<Vec<BlockView>, ApiError> {
    gate(caller, Permission::ViewAllMerchants)?;
    let store = state.store().clone();
    let rows = blocking(caller.lang, move || store.blocklist()).await?;
    Ok(rows.iter().map(|b| BlockView::of(b, state)).collect())
}

/// Adds an entry; answers the entry's id.
pub async fn block(state: &AppState, caller: &Caller, input: BlockIn) -> Result<i64, ApiError> {
    gate(caller, Permission::ManageMerchants)?;
    let lang = caller.lang;
    let reason = input.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > BLOCK_REASON_CHARS_MAX {
        return Err(ApiError::field(lang, "reason", &input.reason));
    }
    if let Some(txn) = input.transaction_id.filter(|t| *t < 1) {
        return Err(ApiError::field(lang, "transaction_id", &txn.to_string()));
    }
    let who = suanpan_store::backoffice::actor(&caller.user.username);
    let store = state.store().clone();
    match input.kind {
        BlockKind::Bin => {
            let bin = input.bin.unwrap_or_default();
            if bin.len() != 6 || !bin.bytes().all(|b| b.is_ascii_digit()) {
                let e = ApiError::field(lang, "bin", &bin);
                return Err(if bin.is_empty() { e.combination() } else { e });
            }
            let id = blocking(lang, move || {
                store.block("bin", &bin, &reason, &who)?;
                store.block_id("bin", &bin)
            })
            .await?;
            id.ok_or_else(|| ApiError::invalid(lang, "bin"))
        }
        BlockKind::Card => {
            let Some(txn) = input.transaction_id else {
                return Err(ApiError::field(lang, "transaction_id", "").combination());
            };
            let id = blocking(lang, move || store.block_card_of(txn, &reason, &who)).await?;
            id.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, lang, "risk.no_card", &[]))
        }
    }
}

/// The acquirer's card/BIN blocklist.
#[utoipa::path(get, path = "/api/v1/acquirer/blocklist", tag = "acquirer", operation_id = "list_blocklist",
    responses((status = 200, body = Vec<BlockView>), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn list_blocklist(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<BlockView>>, ApiError> {
    Ok(Json(blocklist(&state, &caller).await?))
}

/// Blocks a BIN, or the card that paid a transaction (its sales are refused at once).
#[utoipa::path(post, path = "/api/v1/acquirer/blocklist", tag = "acquirer", operation_id = "add_block", request_body = BlockIn,
    responses((status = 201, body = BlockView), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError, description = "no such transaction, or it was not paid by card"),
        (status = 422, body = ApiError, description = "the BIN or the transaction is missing for its kind")))]
pub async fn add_block(
    State(state): State<AppState>,
    caller: Caller,
    body: ApiJson<BlockIn>,
) -> Result<(StatusCode, Json<BlockView>), ApiError> {
    let id = block(&state, &caller, body.value).await?;
    let view = blocklist(&state, &caller)
        .await?
        .into_iter()
        .find(|b| b.id == id)
        .ok_or_else(|| ApiError::invalid(caller.lang, "block"))?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Removes an entry.
pub async fn unblock(state: &AppState, caller: &Caller, id: i64) -> Result<(), ApiError> {
    gate(caller, Permission::ManageMerchants)?;
    let lang = caller.lang;
    let who = suanpan_store::backoffice::actor(&caller.user.username);
    let store = state.store().clone();
    if blocking(lang, move || store.unblock(id, "", &who)).await? {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            lang,
            "risk.block_not_found",
            &[],
        ))
    }
}

/// Removes a blocklist entry.
#[utoipa::path(delete, path = "/api/v1/acquirer/blocklist/{id}", tag = "acquirer", operation_id = "remove_block",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn remove_block(
    State(state): State<AppState>,
    caller: Caller,
    crate::api::Id(id): crate::api::Id,
) -> Result<StatusCode, ApiError> {
    unblock(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
