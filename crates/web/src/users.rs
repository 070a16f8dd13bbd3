//! Back-office users: list, create, edit (name, role, operator no.), disable/enable, password
//! reset and TOTP reset (admins); and the merchant's counter operators. The use cases (the
//! rules of `core::backoffice`, the store's writes, the audit of refusals, argon2id) are
//! `service::users`; this adapter parses, calls them and renders.

use crate::auth::{Caller, blocking, blocking_as};
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::state::AppState;
use crate::view::UserView;
use crate::view::When;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use suanpan_core::backoffice::{Permission, StaffRole};
use suanpan_core::{Lang, OperatorNo};
use suanpan_service::users::{self as use_case, NewOperator, NewUser, UserError};
use suanpan_store::backoffice::StaffListing;
use zeroize::Zeroizing;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/v1/users", get(list).post(create))
        .route("/api/v1/users/{id}", patch(edit))
        .route("/api/v1/users/{id}/{action}", post(action))
        .route("/api/v1/operators", get(operators).post(create_operator))
}

/// A back-office user as admins manage them (no secret).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ManagedUser {
    /// The user, as everywhere else.
    #[serde(flatten)]
    pub user: UserView,
    /// Can log in (false once disabled).
    pub enabled: bool,
    /// Has enrolled TOTP (admins must; a reset clears it).
    pub totp_enrolled: bool,
}

impl ManagedUser {
    fn of(l: &StaffListing) -> ManagedUser {
        ManagedUser {
            user: UserView::of(&l.user),
            enabled: !l.disabled,
            totp_enrolled: l.totp_enrolled,
        }
    }
}

/// The merchant's users for the API and the UI.
pub async fn users(state: &AppState, caller: &Caller) -> Result<Vec<ManagedUser>, ApiError> {
    caller.require(Permission::ManageUsers)?;
    let (store, merchant) = (state.store().clone(), caller.merchant()?);
    let rows = blocking(caller.lang, move || use_case::listing(&*store, &merchant)).await?;
    Ok(rows.iter().map(ManagedUser::of).collect())
}

async fn one_user(state: &AppState, caller: &Caller, id: i64) -> Result<ManagedUser, ApiError> {
    users(state, caller)
        .await?
        .into_iter()
        .find(|u| u.user.id == id)
        .ok_or_else(|| not_found(caller.lang))
}

fn not_found(lang: Lang) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, lang, "user.not_found", &[])
}

/// A user use case's error as the API answers it (a refusal through the one table: 403 not
/// permitted, 409 already in that state, else 422).
fn user_error(lang: Lang, e: UserError, taken: &str) -> ApiError {
    match e {
        UserError::Refused(r) => ApiError::refused(lang, &r),
        UserError::NotFound => not_found(lang),
        UserError::Taken => {
            ApiError::new(StatusCode::CONFLICT, lang, "user.taken", &[taken.into()])
        }
        UserError::OperatorTaken => ApiError::new(
            StatusCode::CONFLICT,
            lang,
            "operator.taken",
            &[taken.into()],
        ),
        UserError::Store(e) => ApiError::store(lang, e),
    }
}

/// The merchant's back-office users (admins).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", operation_id = "list_users",
    responses((status = 200, body = Vec<ManagedUser>), (status = 403, body = ApiError)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ManagedUser>>, ApiError> {
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

/// Creates a user of the caller's merchant as `service::users::add` allows.
pub async fn add(state: &AppState, caller: &Caller, u: UserIn) -> Result<ManagedUser, ApiError> {
    let lang = caller.lang;
    let role = parse_role(lang, &u.role)?;
    let operator_no = parse_operator(lang, u.operator_no.as_deref())?;
    let name = parse_name(lang, &u.name)?;
    if !username_ok(&u.username) {
        return Err(ApiError::field(lang, "username", &u.username));
    }
    let new = NewUser {
        merchant: Some(caller.merchant()?),
        username: u.username,
        name,
        role,
        operator_no,
        password: Zeroizing::new(u.password),
    };
    let (store, by) = (state.store().clone(), caller.user.role);
    let taken = new.username.clone();
    let id = blocking_as(
        lang,
        move || use_case::add(&*store, Some(by), &new),
        |e| user_error(lang, e, &taken),
    )
    .await?;
    one_user(state, caller, id).await
}

/// What the store accepts as a user name (`USERNAME_PATTERN` in the OpenAPI document).
fn username_ok(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// [`username_ok`] as a pattern.
pub const USERNAME_PATTERN: &str = "^[A-Za-z0-9._-]{1,64}$";

fn parse_role(lang: Lang, role: &str) -> Result<StaffRole, ApiError> {
    // A merchant's admin gives merchant roles only: the acquirer's are made by the acquirer.
    StaffRole::parse(role)
        .filter(|r| r.tier() == suanpan_core::backoffice::Tier::Merchant)
        .ok_or_else(|| ApiError::field(lang, "role", role))
}

fn parse_operator(lang: Lang, op: Option<&str>) -> Result<Option<OperatorNo>, ApiError> {
    op.filter(|o| !o.is_empty())
        .map(|o| OperatorNo::parse(o).map_err(|_| ApiError::field(lang, "operator_no", o)))
        .transpose()
}

fn parse_name(lang: Lang, name: &str) -> Result<String, ApiError> {
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(ApiError::field(lang, "name", ""));
    }
    Ok(name)
}

/// Creates a back-office user (admins).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", operation_id = "create_user", request_body = UserIn,
    responses((status = 201, body = ManagedUser), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 409, body = ApiError, description = "the user name is taken"), (status = 422, body = ApiError)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: ApiJson<UserIn>,
) -> Result<(StatusCode, Json<ManagedUser>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(add(&state, &caller, body.value).await?),
    ))
}

/// An edit: the fields given change, the others stay.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserEditIn {
    /// Display name.
    pub name: Option<String>,
    /// `cashier`, `supervisor`, `finance`, `admin` or `auditor`. A new role ends the user's
    /// sessions (a new admin enrols TOTP at the next login).
    pub role: Option<String>,
    /// Counter operator no.; `""` clears it.
    pub operator_no: Option<String>,
}

/// An action's input: `password` for `password` (the new one, 8 characters at least);
/// nothing for the others.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserActionIn {
    /// The new password (`password` action only).
    pub password: Option<String>,
}

/// What an admin does to a user, parsed.
pub enum Change {
    /// Name, role, operator no.
    Edit(UserEditIn),
    /// Cannot log in; sessions end, tokens stop.
    Disable,
    /// Can log in again.
    Enable,
    /// A new password; sessions end.
    Password(String),
    /// TOTP forgotten: enrol again at the next login; sessions end.
    ResetTotp,
}

impl Change {
    /// From an action path segment and its input.
    pub fn parse(lang: Lang, action: &str, input: UserActionIn) -> Result<Change, ApiError> {
        // Whether a password belongs in the body depends on the action in the path, which
        // the body's schema cannot say: a well-formed body with the wrong combination is 422.
        let combination = ApiError::combination;
        let no_password = |c: Change| match input.password {
            Some(_) => Err(combination(ApiError::field(
                lang,
                "password_unexpected",
                action,
            ))),
            None => Ok(c),
        };
        match action {
            "disable" => no_password(Change::Disable),
            "enable" => no_password(Change::Enable),
            "totp-reset" => no_password(Change::ResetTotp),
            "password" => match input.password {
                Some(p) => Ok(Change::Password(p)),
                None => Err(combination(ApiError::field(lang, "password", ""))),
            },
            other => Err(ApiError::field(lang, "user_action", other)),
        }
    }
}

/// Applies a change to user `id` of the caller's merchant as `service::users::change`
/// decides it (refusals are audited there).
pub async fn change(
    state: &AppState,
    caller: &Caller,
    id: i64,
    change: Change,
) -> Result<ManagedUser, ApiError> {
    let lang = caller.lang;
    caller.require(Permission::ManageUsers)?;
    caller.merchant()?;
    let change = match change {
        Change::Edit(e) => use_case::Change::Edit {
            name: e.name.as_deref().map(|n| parse_name(lang, n)).transpose()?,
            role: e.role.as_deref().map(|r| parse_role(lang, r)).transpose()?,
            operator_no: e
                .operator_no
                .as_deref()
                .map(|o| parse_operator(lang, Some(o)))
                .transpose()?,
        },
        Change::Disable => use_case::Change::Disable,
        Change::Enable => use_case::Change::Enable,
        Change::ResetTotp => use_case::Change::ResetTotp,
        Change::Password(p) => use_case::Change::Password(Zeroizing::new(p)),
    };
    let (store, admin) = (state.store().clone(), caller.user.clone());
    blocking_as(
        lang,
        move || use_case::change(&*store, &admin, id, change),
        |e| user_error(lang, e, ""),
    )
    .await?;
    one_user(state, caller, id).await
}

/// Edits a user's name, role or operator no. (admins; never demoting oneself or the last
/// admin).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)), request_body = UserEditIn,
    responses((status = 200, body = ManagedUser), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 422, body = ApiError)))]
pub async fn edit(
    State(state): State<AppState>,
    caller: Caller,
    crate::api::Id(id): crate::api::Id,
    body: ApiJson<UserEditIn>,
) -> Result<Json<ManagedUser>, ApiError> {
    Ok(Json(
        change(&state, &caller, id, Change::Edit(body.value)).await?,
    ))
}

/// `disable` (cannot log in; sessions and API tokens stop at once), `enable`, `password`
/// (an admin sets a new one; sessions end) or `totp-reset` (the user enrols TOTP again at
/// the next login; sessions end). Admins only; never oneself out, never the last admin.
#[utoipa::path(post, path = "/api/v1/users/{id}/{action}", tag = "users",
    params(("id" = i64, Path), ("action" = String, Path, description = "disable, enable, password or totp-reset")),
    request_body = UserActionIn,
    responses((status = 200, body = ManagedUser), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 422, body = ApiError)))]
pub async fn action(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, action)): Path<(String, String)>,
    body: ApiJson<UserActionIn>,
) -> Result<Json<ManagedUser>, ApiError> {
    let id = crate::api::parse_id(caller.lang, &id)?;
    let c = Change::parse(caller.lang, &action, body.value)?;
    Ok(Json(change(&state, &caller, id, c).await?))
}

/// A counter operator (操作员) as the API lists it; no password hash.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct OperatorView {
    /// 00 supervisor, 01–98 cashiers, 99 admin.
    pub operator_no: String,
    /// `supervisor`, `cashier` or `admin`.
    pub role: String,
    /// Name.
    pub name: String,
    /// Locked out until, after wrong passwords.
    pub locked_until: Option<When>,
    /// Last change.
    pub changed_at: When,
}

/// The merchant's counter operators (admins).
#[utoipa::path(get, path = "/api/v1/operators", tag = "users",
    responses((status = 200, body = Vec<OperatorView>), (status = 403, body = ApiError)))]
pub async fn operators(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<OperatorView>>, ApiError> {
    caller.require(Permission::ManageUsers)?;
    let (store, merchant) = (state.store().clone(), caller.merchant()?);
    let rows = blocking(caller.lang, move || use_case::operators(&*store, &merchant)).await?;
    let policy = state.store().policy();
    Ok(Json(
        rows.into_iter()
            .map(|o| OperatorView {
                role: OperatorNo::parse(&o.operator_no)
                    .map(|n| n.role().as_str().to_owned())
                    .unwrap_or_default(),
                operator_no: o.operator_no,
                name: o.name,
                locked_until: o.locked_until.map(|t| When::micros(policy, t)),
                changed_at: When::micros(policy, o.changed_at),
            })
            .collect(),
    ))
}

/// A new counter operator of the caller's merchant (issue 14).
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorIn {
    /// Two digits: 99 system administrator, 00 supervisor, 01–98 cashiers.
    pub no: String,
    /// `cashier`, `supervisor` or `admin`; must be the role the number implies.
    pub role: String,
    /// Name.
    pub name: String,
    /// Its password on the terminal: 4 to 12 digits.
    pub password: String,
}

/// Gives the caller's merchant a counter operator as the core allows
/// (`core::backoffice::decide_new_operator`).
pub async fn add_operator(
    state: &AppState,
    caller: &Caller,
    o: OperatorIn,
) -> Result<OperatorView, ApiError> {
    let lang = caller.lang;
    let no = parse_operator(lang, Some(&o.no))?
        .ok_or_else(|| ApiError::field(lang, "operator_no", ""))?;
    let name = parse_name(lang, &o.name)?;
    let new = NewOperator {
        merchant: caller.merchant()?,
        no,
        role: o.role,
        name: name.clone(),
        password: Zeroizing::new(o.password),
    };
    let (store, by) = (state.store().clone(), caller.user.role);
    let actor = suanpan_store::backoffice::actor(&caller.user.username);
    blocking_as(
        lang,
        move || use_case::add_operator(&*store, Some(by), &actor, &new),
        |e| user_error(lang, e, &no.to_string()),
    )
    .await?;
    Ok(OperatorView {
        operator_no: no.to_string(),
        role: no.role().as_str().to_owned(),
        name,
        locked_until: None,
        changed_at: When::of(state.store().policy(), state.store().now()),
    })
}

/// Gives the caller's merchant a counter operator (admins).
#[utoipa::path(post, path = "/api/v1/operators", tag = "users", operation_id = "create_operator",
    request_body = OperatorIn,
    responses((status = 201, body = OperatorView), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 409, body = ApiError, description = "the merchant has that number already"),
        (status = 422, body = ApiError)))]
pub async fn create_operator(
    State(state): State<AppState>,
    caller: Caller,
    body: ApiJson<OperatorIn>,
) -> Result<(StatusCode, Json<OperatorView>), ApiError> {
    caller.require(Permission::ManageUsers)?;
    Ok((
        StatusCode::CREATED,
        Json(add_operator(&state, &caller, body.value).await?),
    ))
}
