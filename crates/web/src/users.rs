//! Back-office users: list, create, edit (name, role, operator no.), disable/enable, password
//! reset and TOTP reset (admins); and the merchant's counter operators. The rules (who may,
//! how long a password, never oneself out, never the last admin) are
//! `core::backoffice::decide_new_user` / `decide_user_change`, decided again by the store
//! inside its transaction; passwords are hashed with argon2id.

use crate::auth::{Caller, blocking};
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::state::AppState;
use crate::view::UserView;
use crate::view::When;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use suanpan_core::backoffice::{
    self, BackOfficeRefused, Permission, StaffRole, UserChange, UserFacts,
};
use suanpan_core::{OperatorNo, Refusal};
use suanpan_store::backoffice::{Backoffice, StaffChange, StaffListing};

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
    let rows = blocking(caller.lang, move || store.staff_listing(&merchant)).await?;
    Ok(rows.iter().map(ManagedUser::of).collect())
}

async fn one_user(state: &AppState, caller: &Caller, id: i64) -> Result<ManagedUser, ApiError> {
    users(state, caller)
        .await?
        .into_iter()
        .find(|u| u.user.id == id)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, caller.lang, "user.not_found", &[]))
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

/// Creates a user as the core allows.
pub async fn add(state: &AppState, caller: &Caller, u: UserIn) -> Result<ManagedUser, ApiError> {
    let lang = caller.lang;
    if let Err(r) = backoffice::decide_new_user(Some(caller.user.role), &u.password) {
        return Err(ApiError::refused(lang, &r));
    }
    let role = parse_role(lang, &u.role)?;
    let op = parse_operator(lang, u.operator_no.as_deref())?;
    let name = parse_name(lang, &u.name)?;
    if !username_ok(&u.username) {
        return Err(ApiError::field(lang, "username", &u.username));
    }
    // Said in words before the store's own check (which stays, for two nodes at once).
    let (store, wanted) = (state.store().clone(), u.username.clone());
    if blocking(lang, move || store.staff_secret(&wanted))
        .await?
        .is_some()
    {
        let taken = [u.username.clone()];
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            lang,
            "user.taken",
            &taken,
        ));
    }
    let (store, merchant) = (state.store().clone(), caller.merchant()?);
    let username = u.username.clone();
    let id = blocking(lang, move || {
        store.add_staff(&merchant, &username, &name, role, op, &u.password)
    })
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

fn parse_role(lang: suanpan_core::Lang, role: &str) -> Result<StaffRole, ApiError> {
    // A merchant's admin gives merchant roles only: the acquirer's are made by the acquirer.
    StaffRole::parse(role)
        .filter(|r| r.tier() == suanpan_core::backoffice::Tier::Merchant)
        .ok_or_else(|| ApiError::field(lang, "role", role))
}

fn parse_operator(
    lang: suanpan_core::Lang,
    op: Option<&str>,
) -> Result<Option<OperatorNo>, ApiError> {
    op.filter(|o| !o.is_empty())
        .map(|o| OperatorNo::parse(o).map_err(|_| ApiError::field(lang, "operator_no", o)))
        .transpose()
}

fn parse_name(lang: suanpan_core::Lang, name: &str) -> Result<String, ApiError> {
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
    pub fn parse(
        lang: suanpan_core::Lang,
        action: &str,
        input: UserActionIn,
    ) -> Result<Change, ApiError> {
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

/// Applies a change to user `id` as the core decides it (first here, then again inside the
/// store's transaction with the rows locked); refusals are audited.
pub async fn change(
    state: &AppState,
    caller: &Caller,
    id: i64,
    change: Change,
) -> Result<ManagedUser, ApiError> {
    let lang = caller.lang;
    caller.require(Permission::ManageUsers)?;
    let current = one_user(state, caller, id).await?;
    let (staff_change, password) = match change {
        Change::Edit(e) => {
            let name = parse_name(lang, e.name.as_deref().unwrap_or(&current.user.name))?;
            let role = parse_role(lang, e.role.as_deref().unwrap_or(&current.user.role))?;
            let operator_no = match e.operator_no.as_deref() {
                Some(o) => parse_operator(lang, Some(o))?,
                None => parse_operator(lang, current.user.operator_no.as_deref())?,
            };
            let c = StaffChange::Edit {
                name,
                role,
                operator_no,
            };
            (c, None)
        }
        Change::Disable => (StaffChange::Disable, None),
        Change::Enable => (StaffChange::Enable, None),
        Change::ResetTotp => (StaffChange::ResetTotp, None),
        Change::Password(p) => (
            StaffChange::Password {
                hash: String::new(),
            },
            Some(p),
        ),
    };
    let (me, role) = (caller.user.id, caller.user.role);
    let decide = {
        let (c, pw) = (staff_change.clone(), password.clone());
        move |target: UserFacts, admins: u64| {
            let uc = match &c {
                StaffChange::Edit { role, .. } => UserChange::Edit { role: *role },
                StaffChange::Disable => UserChange::Disable,
                StaffChange::Enable => UserChange::Enable,
                StaffChange::ResetTotp => UserChange::ResetTotp,
                StaffChange::Password { .. } => UserChange::ResetPassword {
                    password: pw.as_deref().unwrap_or(""),
                },
            };
            backoffice::decide_user_change(me, role, target, uc, admins)
        }
    };
    let (store, admin) = (state.store().clone(), caller.user.clone());
    let done = blocking(lang, move || {
        // Hashed only once the rule has looked at the password's length (argon2id is slow).
        let mut c = staff_change;
        if let (StaffChange::Password { hash }, Some(p)) = (&mut c, &password)
            && p.chars().count() >= backoffice::STAFF_PASSWORD_CHARS_MIN
        {
            *hash = suanpan_store::auth::hash_password(p);
        }
        let action = c.action();
        store
            .change_staff(&admin, id, &c, &decide)
            .map(|r| (r, action))
    })
    .await?;
    match done {
        (Ok(true), _) => one_user(state, caller, id).await,
        (Ok(false), _) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            lang,
            "user.not_found",
            &[],
        )),
        (Err(r), action) => Err(refuse(state, caller, id, action, r).await),
    }
}

/// Audits a refused user change and answers it (403 not permitted, 409 already in that
/// state, else 422).
async fn refuse(
    state: &AppState,
    caller: &Caller,
    id: i64,
    action: &'static str,
    r: BackOfficeRefused,
) -> ApiError {
    let lang = caller.lang;
    let (store, who, key) = (state.store().clone(), caller.user.username.clone(), r.key());
    let audited = blocking(lang, move || {
        store.record_staff_event(
            &who,
            &format!("staff.{action}"),
            &format!("staff-id:{id}"),
            &format!("refused:{key}"),
        )
    })
    .await;
    if let Err(e) = audited {
        return e;
    }
    ApiError::refused(lang, &r)
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
    let rows = blocking(caller.lang, move || store.operators(&merchant)).await?;
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
    if let Err(r) =
        backoffice::decide_new_operator(Some(caller.user.role), no, &o.role, &o.password)
    {
        return Err(ApiError::refused(lang, &r));
    }
    let name = parse_name(lang, &o.name)?;
    let (store, merchant) = (state.store().clone(), caller.merchant()?);
    let actor = suanpan_store::backoffice::actor(&caller.user.username);
    let password = zeroize::Zeroizing::new(o.password);
    let stored = name.clone();
    let added = blocking(lang, move || {
        let hash = suanpan_store::auth::hash_password(&password);
        store.add_counter_operator(&actor, &merchant, no, &stored, &hash)
    })
    .await?;
    if !added {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            lang,
            "operator.taken",
            &[no.to_string()],
        ));
    }
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
