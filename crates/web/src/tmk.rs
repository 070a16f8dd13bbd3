//! 密钥灌注 in the console (issue 14): a terminal master key loaded under dual control over
//! `/api/v1/acquirer/terminals/{id}/tmk-components` — two different acquirer users who manage
//! terminals each enter one component with its check value; the second entry loads the XOR
//! of both (`suanpan_service::terminal_keys`). No answer holds a component or the key, only
//! check values; the CLI's `admin terminal set-tmk` stays for the data directory's owner.
//! Merchant users get 404, as everywhere under `/api/v1/acquirer/`.

use crate::acquirer::gate;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::state::AppState;
use crate::view::When;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use suanpan_core::backoffice::Permission;
use suanpan_service::terminal_keys::{self, Entered, KeyError};

pub fn routes(state: &AppState) -> axum::Router<AppState> {
    axum::Router::new().route(
        "/api/v1/acquirer/terminals/{id}/tmk-components",
        get(key_state)
            .post(enter_component)
            .route_layer(crate::gate(state)),
    )
}

/// A first component waiting for the second.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct PendingView {
    /// The component's check value.
    pub check_value: String,
    /// The first custodian.
    pub entered_by: String,
    /// When.
    pub entered_at: When,
}

/// Where a terminal's key loading stands.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct KeyStateView {
    /// The terminal.
    pub terminal_id: String,
    /// Its merchant.
    pub merchant_id: String,
    /// A master key is loaded.
    pub master_key_loaded: bool,
    /// A first component waits for a second custodian (for at most 60 minutes).
    pub pending: Option<PendingView>,
}

/// One custodian's component. Its `Debug` names no key material.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentIn {
    /// The component: 32 hex digits. Never stored in clear, logged or answered back.
    #[schema(pattern = "^[0-9A-Fa-f]{32}$")]
    pub component: String,
    /// The component's check value from the custodian's sheet: 6 hex digits. A mistyped
    /// component is refused (422) instead of loading a wrong key.
    #[schema(pattern = "^[0-9A-Fa-f]{6}$")]
    pub check_value: String,
}

impl std::fmt::Debug for ComponentIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ComponentIn(..)")
    }
}

/// What an entry did.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct EnteredView {
    /// `waiting` (the first component is kept) or `loaded` (the TMK is in place).
    pub status: String,
    /// The status in words.
    pub status_text: String,
    /// The component's check value (`waiting`) or the master key's (`loaded`): compare it
    /// with the terminal's key loader.
    pub check_value: String,
    /// Who entered the first component (`loaded`).
    pub first_by: Option<String>,
}

fn key_error(lang: suanpan_core::Lang, e: KeyError) -> ApiError {
    match e {
        KeyError::Refused(r) => ApiError::refused(lang, &r),
        // Nothing of the input is named back: it is key material.
        KeyError::Component => {
            ApiError::new(StatusCode::BAD_REQUEST, lang, "tmk.component_invalid", &[])
        }
        KeyError::CheckValue => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            lang,
            "tmk.check_value",
            &[],
        ),
        KeyError::Weak(_) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, lang, "tmk.weak", &[]),
        KeyError::NotFound => ApiError::new(StatusCode::NOT_FOUND, lang, "terminal.not_found", &[]),
        KeyError::Changed => ApiError::new(StatusCode::CONFLICT, lang, "tmk.changed", &[]),
        KeyError::Store(e) => ApiError::store(lang, e),
    }
}

/// Runs a use case of `suanpan_service::terminal_keys` on the blocking pool.
async fn run<T: Send + 'static>(
    lang: suanpan_core::Lang,
    f: impl FnOnce() -> Result<T, KeyError> + Send + 'static,
) -> Result<T, ApiError> {
    crate::auth::blocking_as(lang, f, |e| key_error(lang, e)).await
}

/// Where terminal `id`'s key loading stands.
pub async fn state_of(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<KeyStateView, ApiError> {
    gate(caller, Permission::ViewAllMerchants)?;
    let t = crate::terminals::terminal(state, caller, id).await?;
    let lang = caller.lang;
    let tid = crate::terminals::terminal_id(lang, id)?;
    let store = state.store().clone();
    let pending = run(lang, move || terminal_keys::pending(&*store, &tid)).await?;
    let policy = state.store().policy();
    Ok(KeyStateView {
        terminal_id: t.id,
        merchant_id: t.merchant_id,
        master_key_loaded: t.master_key_loaded,
        pending: pending.map(|p| PendingView {
            check_value: p.check_value,
            entered_by: p.entered_by.1,
            entered_at: When::micros(policy, p.entered_at),
        }),
    })
}

/// The caller's component of terminal `id`'s master key.
pub async fn enter(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: ComponentIn,
) -> Result<EnteredView, ApiError> {
    gate(caller, Permission::ManageTerminals)?;
    let lang = caller.lang;
    let tid = crate::terminals::terminal_id(lang, id)?;
    let (store, user) = (state.store().clone(), caller.user.clone());
    let entered = run(lang, move || {
        let ComponentIn {
            component,
            check_value,
        } = input;
        let component = zeroize::Zeroizing::new(component);
        terminal_keys::enter(&*store, &user, &tid, &component, &check_value)
    })
    .await?;
    let t = |k: &str| crate::catalog::t(lang, k).to_owned();
    Ok(match entered {
        Entered::Waiting { check_value } => EnteredView {
            status: "waiting".into(),
            status_text: t("tmk.waiting"),
            check_value,
            first_by: None,
        },
        Entered::Loaded {
            check_value,
            first_by,
        } => EnteredView {
            status: "loaded".into(),
            status_text: t("tmk.loaded"),
            check_value,
            first_by: Some(first_by),
        },
    })
}

/// Where a terminal's master key loading stands: loaded or not, and a first component
/// waiting for its second custodian (its check value, who, when).
#[utoipa::path(get, path = "/api/v1/acquirer/terminals/{id}/tmk-components", tag = "acquirer", operation_id = "terminal_key_state",
    params(("id" = String, Path, description = "终端号 (8 characters)")),
    responses((status = 200, body = KeyStateView), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn key_state(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<KeyStateView>, ApiError> {
    Ok(Json(state_of(&state, &caller, &id).await?))
}

/// Enters one custodian's component of a terminal's master key (dual control): the first
/// is kept wrapped for at most 60 minutes (202); a second custodian's loads the XOR of both
/// (200). The same user may not enter both (422). Only check values are answered.
#[utoipa::path(post, path = "/api/v1/acquirer/terminals/{id}/tmk-components", tag = "acquirer", operation_id = "enter_tmk_component",
    params(("id" = String, Path, description = "终端号 (8 characters)")), request_body = ComponentIn,
    responses((status = 200, body = EnteredView, description = "the second component: the master key is loaded"),
        (status = 202, body = EnteredView, description = "the first component: waiting for a second custodian"),
        (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError),
        (status = 409, body = ApiError, description = "the first component went meanwhile"),
        (status = 422, body = ApiError, description = "a mistyped component (check value), a weak key, or the same custodian twice")))]
pub async fn enter_component(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: ApiJson<ComponentIn>,
) -> Result<(StatusCode, Json<EnteredView>), ApiError> {
    let v = enter(&state, &caller, &id, body.value).await?;
    let status = if v.status == "loaded" {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(v)))
}
