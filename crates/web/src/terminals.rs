//! The acquirer's terminals (终端管理, issue 14) over `/api/v1/acquirer/terminals`: list,
//! register, assign to a merchant (only with the batch settled: the core's
//! `decide_terminal_assign`), lock and unlock (a locked terminal is refused on 8583). The
//! master keys are loaded and rotated with the CLI (`suanpan keys`). Each terminal shows its
//! last sign-in as the 8583 host recorded it (`store::fleet::record_sign_in`): when, the
//! operator, and the 0800 header's software version and status digit. Merchant users get
//! 404.

use crate::acquirer::gate;
use crate::auth::{Caller, blocking};
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::state::AppState;
use crate::view::When;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use suanpan_core::backoffice::Permission;
use suanpan_core::{Lang, MerchantId, TerminalId};
use suanpan_service::onboarding::{self, ChangeError};
use suanpan_store::fleet::FleetTerminal;

pub fn routes(state: &AppState) -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            "/api/v1/acquirer/terminals",
            get(list_terminals)
                .post(register_terminal)
                .route_layer(crate::gate(state)),
        )
        .route(
            "/api/v1/acquirer/terminals/{id}",
            get(get_terminal).route_layer(crate::gate(state)),
        )
        .route(
            "/api/v1/acquirer/terminals/{id}/assign",
            post(assign_terminal).route_layer(crate::gate(state)),
        )
        .route(
            "/api/v1/acquirer/terminals/{id}/lock",
            post(lock_terminal).route_layer(crate::gate(state)),
        )
        .route(
            "/api/v1/acquirer/terminals/{id}/unlock",
            post(unlock_terminal).route_layer(crate::gate(state)),
        )
}

/// A terminal id as the OpenAPI document states it.
pub const TERMINAL_ID_PATTERN: &str = "^[0-9A-Za-z]{8}$";

/// A terminal as the acquirer sees it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TerminalView {
    /// 终端号 (8 letters or digits).
    pub id: String,
    /// Its merchant.
    pub merchant_id: String,
    /// The merchant's name.
    pub merchant_name: String,
    /// `active` or `locked` (a locked terminal is refused on 8583).
    pub status: String,
    /// The status in words.
    pub status_text: String,
    /// The open batch's number.
    pub batch_no: u32,
    /// Transactions in the open batch; 0 means settled, so it may be assigned elsewhere.
    pub open_batch_transactions: u64,
    /// A master key is loaded (`suanpan keys` loads and rotates it).
    pub master_key_loaded: bool,
    /// Its last accepted sign-in (签到); none when it never signed in.
    pub last_sign_in: Option<SignInView>,
}

/// A terminal's last sign-in, as the host recorded it from the 0800.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SignInView {
    /// When.
    pub at: When,
    /// The operator who signed in (`01`…).
    pub operator: String,
    /// The software version the 0800's header gave (two digits; `22` in the CUPS profile).
    pub software_version: String,
    /// The header's terminal status digit: `0` normal, `1` training (培训模式).
    pub terminal_status: u8,
    /// That status in words.
    pub terminal_status_text: String,
}

impl TerminalView {
    fn of(t: FleetTerminal, lang: Lang, policy: &suanpan_core::Policy) -> TerminalView {
        let status = if t.locked { "locked" } else { "active" };
        let last_sign_in = t.last_sign_in.map(|s| {
            let mode = if s.is_training() {
                "training"
            } else {
                "normal"
            };
            SignInView {
                at: When::micros(policy, s.at),
                operator: s.operator.to_string(),
                software_version: format!("{:02}", s.software_version),
                terminal_status: s.terminal_status,
                terminal_status_text: crate::catalog::t(lang, &format!("terminal.header.{mode}"))
                    .to_owned(),
            }
        });
        TerminalView {
            last_sign_in,
            status_text: crate::catalog::t(lang, &format!("terminal.state.{status}")).to_owned(),
            status: status.to_owned(),
            id: t.id,
            merchant_id: t.merchant_id,
            merchant_name: t.merchant_name,
            batch_no: t.batch_no,
            open_batch_transactions: t.open_batch_txns,
            master_key_loaded: t.has_tmk,
        }
    }
}

/// A terminal to register.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TerminalIn {
    /// 终端号 (8 letters or digits).
    pub id: String,
    /// Its merchant (15 digits).
    pub merchant: String,
}

/// The merchant a terminal moves to.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignIn {
    /// The merchant (15 digits).
    pub merchant: String,
}

/// Why a terminal is locked or unlocked.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LockIn {
    /// Why (required to lock; audited).
    #[serde(default)]
    pub reason: String,
}

/// The terminal's words for what `acquirer::run` answered in the merchant's: a missing
/// object is the terminal (or, registering, the merchant); a conflict, a taken id.
fn taken_or(e: ApiError, registering: bool, lang: Lang) -> ApiError {
    match e.code.as_str() {
        "merchant.not_found" if !registering => {
            ApiError::new(StatusCode::NOT_FOUND, lang, "terminal.not_found", &[])
        }
        "merchant.change_waiting" => {
            ApiError::new(StatusCode::CONFLICT, lang, "terminal.taken", &[])
        }
        _ => e,
    }
}

pub(crate) fn terminal_id(lang: Lang, id: &str) -> Result<TerminalId, ApiError> {
    TerminalId::parse(id.trim())
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, lang, "terminal.not_found", &[]))
}

fn merchant_id(lang: Lang, id: &str) -> Result<MerchantId, ApiError> {
    MerchantId::parse(id.trim()).map_err(|_| ApiError::field(lang, "merchant", id))
}

/// Every terminal (acquirer users who see all merchants).
pub async fn terminals(state: &AppState, caller: &Caller) -> Result<Vec<TerminalView>, ApiError> {
    gate(caller, Permission::ViewAllMerchants)?;
    let (lang, store) = (caller.lang, state.store().clone());
    let rows = blocking(lang, move || suanpan_store::fleet::list(&*store)).await?;
    Ok(rows
        .into_iter()
        .map(|t| TerminalView::of(t, lang, state.store().policy()))
        .collect())
}

/// One terminal.
pub async fn terminal(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<TerminalView, ApiError> {
    gate(caller, Permission::ViewAllMerchants)?;
    let lang = caller.lang;
    let id = terminal_id(lang, id)?;
    let store = state.store().clone();
    let t = blocking(lang, move || suanpan_store::fleet::one(&*store, &id)).await?;
    let t =
        t.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, lang, "terminal.not_found", &[]))?;
    Ok(TerminalView::of(t, lang, state.store().policy()))
}

/// What a terminal change asks for.
pub enum TerminalAct {
    /// Register `id` for the merchant.
    Register(String),
    /// Assign to the merchant.
    Assign(String),
    /// Lock (true) or unlock, with the reason.
    Lock(bool, String),
}

/// Runs a terminal change of the caller and answers the terminal as it is now.
pub async fn act(
    state: &AppState,
    caller: &Caller,
    id: &str,
    what: TerminalAct,
) -> Result<TerminalView, ApiError> {
    gate(caller, Permission::ManageTerminals)?;
    let lang = caller.lang;
    let (store, user) = (state.store().clone(), caller.user.clone());
    let (tid, taken) = match &what {
        TerminalAct::Register(_) => (
            TerminalId::parse(id.trim()).map_err(|_| ApiError::field(lang, "terminal", id))?,
            true,
        ),
        _ => (terminal_id(lang, id)?, false),
    };
    let merchant = match &what {
        TerminalAct::Register(m) | TerminalAct::Assign(m) => Some(merchant_id(lang, m)?),
        TerminalAct::Lock(..) => None,
    };
    let t = tid.clone();
    crate::acquirer::run(lang, move || match (what, merchant) {
        (TerminalAct::Register(_), Some(m)) => {
            onboarding::register_terminal(&*store, &user, &t, &m)
        }
        (TerminalAct::Assign(_), Some(m)) => onboarding::assign_terminal(&*store, &user, &t, &m),
        (TerminalAct::Lock(lock, reason), _) => {
            onboarding::lock_terminal(&*store, &user, &t, lock, &reason)
        }
        _ => Err(ChangeError::NotFound),
    })
    .await
    .map_err(|e| taken_or(e, taken, lang))?;
    terminal(state, caller, tid.as_str()).await
}

/// Every terminal with its merchant, state and open batch.
#[utoipa::path(get, path = "/api/v1/acquirer/terminals", tag = "acquirer", operation_id = "list_terminals",
    responses((status = 200, body = Vec<TerminalView>), (status = 404, body = ApiError, description = "a merchant's user")))]
pub async fn list_terminals(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<TerminalView>>, ApiError> {
    Ok(Json(terminals(&state, &caller).await?))
}

/// Registers a terminal for a merchant (its master key is loaded with `suanpan keys`).
#[utoipa::path(post, path = "/api/v1/acquirer/terminals", tag = "acquirer", operation_id = "register_terminal",
    request_body = TerminalIn,
    responses((status = 201, body = TerminalView), (status = 404, body = ApiError, description = "no such merchant, or a merchant's user"),
        (status = 409, body = ApiError, description = "the terminal id is taken"), (status = 422, body = ApiError)))]
pub async fn register_terminal(
    State(state): State<AppState>,
    caller: Caller,
    body: ApiJson<TerminalIn>,
) -> Result<(StatusCode, Json<TerminalView>), ApiError> {
    let TerminalIn { id, merchant } = body.value;
    let t = act(&state, &caller, &id, TerminalAct::Register(merchant)).await?;
    Ok((StatusCode::CREATED, Json(t)))
}

/// One terminal.
#[utoipa::path(get, path = "/api/v1/acquirer/terminals/{id}", tag = "acquirer", operation_id = "get_terminal",
    params(("id" = String, Path, description = "终端号 (8 letters or digits)")),
    responses((status = 200, body = TerminalView), (status = 404, body = ApiError)))]
pub async fn get_terminal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TerminalView>, ApiError> {
    Ok(Json(terminal(&state, &caller, &id).await?))
}

/// Assigns a terminal to a merchant: only once its batch is settled.
#[utoipa::path(post, path = "/api/v1/acquirer/terminals/{id}/assign", tag = "acquirer", operation_id = "assign_terminal",
    params(("id" = String, Path, description = "终端号 (8 letters or digits)")), request_body = AssignIn,
    responses((status = 200, body = TerminalView), (status = 404, body = ApiError),
        (status = 422, body = ApiError, description = "its batch is not settled, or the merchant is closed")))]
pub async fn assign_terminal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: ApiJson<AssignIn>,
) -> Result<Json<TerminalView>, ApiError> {
    let what = TerminalAct::Assign(body.value.merchant);
    Ok(Json(act(&state, &caller, &id, what).await?))
}

/// Locks a terminal: the 8583 host refuses it until it is unlocked.
#[utoipa::path(post, path = "/api/v1/acquirer/terminals/{id}/lock", tag = "acquirer", operation_id = "lock_terminal",
    params(("id" = String, Path, description = "终端号 (8 letters or digits)")), request_body = LockIn,
    responses((status = 200, body = TerminalView), (status = 404, body = ApiError), (status = 422, body = ApiError, description = "no reason")))]
pub async fn lock_terminal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: ApiJson<LockIn>,
) -> Result<Json<TerminalView>, ApiError> {
    let what = TerminalAct::Lock(true, body.value.reason);
    Ok(Json(act(&state, &caller, &id, what).await?))
}

/// Unlocks a terminal.
#[utoipa::path(post, path = "/api/v1/acquirer/terminals/{id}/unlock", tag = "acquirer", operation_id = "unlock_terminal",
    params(("id" = String, Path, description = "终端号 (8 letters or digits)")), request_body = LockIn,
    responses((status = 200, body = TerminalView), (status = 404, body = ApiError)))]
pub async fn unlock_terminal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: ApiJson<LockIn>,
) -> Result<Json<TerminalView>, ApiError> {
    let what = TerminalAct::Lock(false, body.value.reason);
    Ok(Json(act(&state, &caller, &id, what).await?))
}
