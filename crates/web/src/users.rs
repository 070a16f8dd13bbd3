//! Back-office users: list and create (admins). The rule (who may, how long a password) is
//! `core::backoffice::decide_new_user`; passwords are hashed with argon2id by the store.

use crate::auth::{Caller, blocking};
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::state::AppState;
use crate::view::UserView;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use suanpan_core::backoffice::{self, Permission, StaffRole};
use suanpan_core::{OperatorNo, Refusal};
use suanpan_store::backoffice::Backoffice;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/api/v1/users", get(list).post(create))
}

/// The merchant's users for the API and the UI.
pub async fn users(state: &AppState, caller: &Caller) -> Result<Vec<UserView>, ApiError> {
    caller.require(Permission::ManageUsers)?;
    let (store, merchant) = (state.store().clone(), caller.user.merchant_id.clone());
    let rows = blocking(caller.lang, move || store.staff_list(&merchant)).await?;
    Ok(rows.iter().map(UserView::of).collect())
}

/// The merchant's back-office users (admins).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", operation_id = "list_users",
    responses((status = 200, body = Vec<UserView>), (status = 403, body = ApiError)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<UserView>>, ApiError> {
    Ok(Json(users(&state, &caller).await?))
}

/// A new user.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserIn {
    /// Login name (letters, digits, `._-`, at most 64).
    pub username: String,
    /// Display name.
    pub name: String,
    /// `cashier`, `supervisor`, `finance`, `admin` or `auditor`.
    pub role: String,
    /// The counter operator no. the user books as (cashiers, supervisors).
    pub operator_no: Option<String>,
    /// Initial password (8 characters at least).
    pub password: String,
}

/// Creates a user as the core allows.
pub async fn add(state: &AppState, caller: &Caller, u: UserIn) -> Result<UserView, ApiError> {
    let lang = caller.lang;
    if let Err(r) = backoffice::decide_new_user(Some(caller.user.role), &u.password) {
        let status = if r.key() == "backoffice.not_permitted" {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        return Err(ApiError::refusal(status, lang, &r));
    }
    let role = StaffRole::parse(&u.role)
        .ok_or_else(|| ApiError::invalid(lang, format!("role {:?}", u.role)))?;
    let op = u
        .operator_no
        .as_deref()
        .filter(|o| !o.is_empty())
        .map(|o| {
            OperatorNo::parse(o).map_err(|_| ApiError::invalid(lang, format!("operator_no {o:?}")))
        })
        .transpose()?;
    let name = u.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(ApiError::invalid(lang, "name: 1–64 characters"));
    }
    let (store, merchant) = (state.store().clone(), caller.user.merchant_id.clone());
    let username = u.username.clone();
    let id = blocking(lang, move || {
        store.add_staff(&merchant, &username, &name, role, op, &u.password)
    })
    .await?;
    users(state, caller)
        .await?
        .into_iter()
        .find(|v| v.id == id)
        .ok_or_else(|| ApiError::invalid(lang, "user"))
}

/// Creates a back-office user (admins).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", operation_id = "create_user", request_body = UserIn,
    responses((status = 201, body = UserView), (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 422, body = ApiError)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: ApiJson<UserIn>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(add(&state, &caller, body.value).await?),
    ))
}
