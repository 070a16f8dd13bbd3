//! Who is calling: session cookies (HttpOnly, SameSite=Strict, Secure under TLS) with a CSRF
//! token for every unsafe cookie-authenticated call, or bearer API tokens for apps. Login
//! applies the core's lockout (`LoginState`), verifies argon2id off the async threads, and is
//! rate-limited per client address and per user name.

use crate::error::{ApiError, lang_of};
use crate::json::ApiJson;
use crate::state::AppState;
use crate::view::UserView;
use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use jiff::ToSpan;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use suanpan_core::Lang;
use suanpan_core::auth::LoginState;
use suanpan_core::backoffice::Permission;
use suanpan_store::backoffice::StaffUser;

/// The session cookie.
pub const SESSION_COOKIE: &str = "sp_session";
/// The header carrying the CSRF token on cookie-authenticated API calls.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Prefix of API tokens, so a leaked one is recognizable in logs and scanners.
const TOKEN_PREFIX: &str = "sp_";

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            "/api/v1/session",
            post(api_login).delete(api_logout).get(api_me),
        )
        .route("/api/v1/tokens", post(api_token_create))
        .route("/api/v1/tokens/{id}", delete(api_token_revoke))
}

/// A value of the `Cookie` header.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// SHA-256 of a secret, hex: what the store keeps of sessions and tokens.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// 32 random bytes, hex.
pub fn random_secret() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// Compares secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: StaffUser,
    /// The caller's language.
    pub lang: Lang,
    /// The session's CSRF token; `None` for bearer tokens.
    pub csrf: Option<String>,
}

impl Caller {
    /// Refuses (403) unless the user's role has `p`.
    pub fn require(&self, p: Permission) -> Result<(), ApiError> {
        if self.user.role.allows(p) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                self.lang,
                "auth.forbidden",
                &[self.user.role.as_str().into()],
            ))
        }
    }

    /// Checks a form's CSRF token (UI forms; the API checks the header in the extractor).
    pub fn check_form_csrf(&self, token: &str) -> Result<(), ApiError> {
        match &self.csrf {
            Some(c) if same_secret(c, token) => Ok(()),
            _ => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                self.lang,
                "auth.csrf",
                &[],
            )),
        }
    }
}

fn unsafe_method(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let lang = lang_of(parts);
        let store = state.store().clone();
        if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
            let token = auth
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .filter(|t| t.starts_with(TOKEN_PREFIX));
            let bad = || ApiError::new(StatusCode::UNAUTHORIZED, lang, "auth.bad_token", &[]);
            let token = token.ok_or_else(bad)?;
            let hash = secret_hash(token);
            let user = blocking(lang, move || store.token_user(&hash))
                .await?
                .ok_or_else(bad)?;
            return Ok(Caller {
                user,
                lang,
                csrf: None,
            });
        }
        let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                lang,
                "auth.required",
                &[],
            ));
        };
        let hash = secret_hash(&secret);
        let Some((user, csrf)) = blocking(lang, move || store.session(&hash)).await? else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                lang,
                "auth.session_expired",
                &[],
            ));
        };
        // Cookie-authenticated unsafe API calls carry the CSRF token in a header a foreign
        // page cannot set; UI forms carry it in a field (checked by the form's handler).
        if parts.uri.path().starts_with("/api/") && unsafe_method(&parts.method) {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !same_secret(&csrf, sent) {
                return Err(ApiError::new(StatusCode::FORBIDDEN, lang, "auth.csrf", &[]));
            }
        }
        Ok(Caller {
            user,
            lang,
            csrf: Some(csrf),
        })
    }
}

/// Runs a store call on the blocking pool (SQLite and argon2 must not stall the async
/// threads) and maps its failure.
pub async fn blocking<T: Send + 'static>(
    lang: Lang,
    f: impl FnOnce() -> Result<T, suanpan_store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(|e| ApiError::store(lang, e)),
        Err(e) => {
            tracing::error!("blocking task failed: {e}");
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                lang,
                "store.error",
                &[],
            ))
        }
    }
}

/// A new session: the cookie's secret and the CSRF token.
pub struct NewSession {
    /// The user.
    pub user: StaffUser,
    /// Goes into the cookie only.
    pub secret: String,
    /// Goes into pages and the login answer.
    pub csrf: String,
    /// When it ends.
    pub expires_at: jiff::Timestamp,
}

/// A hash nobody's password matches, verified for unknown user names so that their answer
/// takes as long as a wrong password's.
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| suanpan_store::auth::hash_password(&random_secret()))
}

/// Logs a user in: rate limit, lockout, password, then a new session.
pub async fn login(
    state: &AppState,
    lang: Lang,
    client: SocketAddr,
    username: &str,
    password: &str,
) -> Result<NewSession, ApiError> {
    let keys = [format!("ip:{}", client.ip()), format!("user:{username}")];
    if !state.login_allowed(&keys) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            lang,
            "auth.rate_limited",
            &[],
        ));
    }
    let store = state.store().clone();
    let name = username.to_owned();
    let found = blocking(lang, move || store.staff_secret(&name)).await?;
    let wrong = || ApiError::new(StatusCode::UNAUTHORIZED, lang, "auth.wrong_login", &[]);
    let Some(secret) = found else {
        let pw = password.to_owned();
        let _ = tokio::task::spawn_blocking(move || {
            suanpan_store::auth::verify_password(&pw, dummy_hash())
        })
        .await;
        let (store, name) = (state.store().clone(), username.to_owned());
        blocking(lang, move || {
            store.record_staff_event(
                &name,
                "login",
                &format!("staff:{name}"),
                "refused:auth.unknown_user",
            )
        })
        .await?;
        return Err(wrong());
    };
    let policy = state.store().policy().clone();
    let now = state.store().now();
    let locked = |until: jiff::Timestamp| {
        let local = suanpan_store::engine::local_time(&policy, until);
        ApiError::new(StatusCode::LOCKED, lang, "auth.locked", &[local])
    };
    if let Some(until) = secret.login.locked(now) {
        let (store, name) = (state.store().clone(), username.to_owned());
        blocking(lang, move || {
            store.record_staff_event(
                &name,
                "login",
                &format!("staff:{name}"),
                "refused:auth.locked",
            )
        })
        .await?;
        return Err(locked(until));
    }
    let (pw, hash) = (password.to_owned(), secret.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || suanpan_store::auth::verify_password(&pw, &hash))
        .await
        .unwrap_or(false);
    let user = secret.user.clone();
    if !ok {
        let next = secret.login.after_failure(&policy, now);
        let outcome = if next.locked(now).is_some() {
            "refused:auth.locked"
        } else {
            "refused:auth.wrong_login"
        };
        let (store, u) = (state.store().clone(), user.clone());
        blocking(lang, move || store.record_staff_login(&u, next, outcome)).await?;
        return Err(match next.locked(now) {
            Some(until) => locked(until),
            None => wrong(),
        });
    }
    if secret.login != LoginState::default() {
        let (store, u) = (state.store().clone(), user.clone());
        blocking(lang, move || {
            store.record_staff_login(&u, LoginState::default(), "ok")
        })
        .await?;
    }
    let session = NewSession {
        user,
        secret: random_secret(),
        csrf: random_secret(),
        expires_at: now
            .checked_add(i64::from(state.cfg().session_minutes).minutes())
            .unwrap_or(now),
    };
    let (store, id, hash, csrf, until) = (
        state.store().clone(),
        session.user.id,
        secret_hash(&session.secret),
        session.csrf.clone(),
        session.expires_at,
    );
    blocking(lang, move || store.create_session(id, &hash, &csrf, until)).await?;
    Ok(session)
}

/// The `Set-Cookie` value of a session (or of its removal with `secret = ""`).
pub fn session_cookie(state: &AppState, secret: &str) -> HeaderValue {
    let secure = if state.cfg().secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let age = if secret.is_empty() {
        0
    } else {
        i64::from(state.cfg().session_minutes) * 60
    };
    let v = format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={age}{secure}"
    );
    HeaderValue::from_str(&v).unwrap_or(HeaderValue::from_static("sp_session=; Path=/; Max-Age=0"))
}

/// Login input.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginIn {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// A session as the API answers it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SessionOut {
    /// The user.
    pub user: UserView,
    /// Send this as `X-CSRF-Token` on unsafe calls made with the session cookie.
    pub csrf_token: String,
    /// When the session ends (RFC 3339).
    pub expires_at: String,
}

/// Logs in and sets the session cookie.
#[utoipa::path(post, path = "/api/v1/session", tag = "session", request_body = LoginIn,
    responses((status = 200, body = SessionOut), (status = 401, body = ApiError), (status = 423, body = ApiError), (status = 429, body = ApiError)))]
pub async fn api_login(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: ApiJson<LoginIn>,
) -> Result<Response, ApiError> {
    let lang = crate::error::lang_of_headers(&headers);
    let s = login(
        &state,
        lang,
        client,
        &body.value.username,
        &body.value.password,
    )
    .await?;
    let out = SessionOut {
        user: UserView::of(&s.user),
        csrf_token: s.csrf.clone(),
        expires_at: s.expires_at.to_string(),
    };
    let mut resp = Json(out).into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&state, &s.secret));
    Ok(resp)
}

/// Ends the session and clears the cookie.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    responses((status = 204), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn api_logout(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(secret) = cookie(&headers, SESSION_COOKIE) {
        let store = state.store().clone();
        let hash = secret_hash(&secret);
        blocking(caller.lang, move || store.delete_session(&hash)).await?;
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&state, ""));
    Ok(resp)
}

/// The caller and the permissions of their role.
#[utoipa::path(get, path = "/api/v1/session", tag = "session",
    responses((status = 200, body = UserView), (status = 401, body = ApiError)))]
pub async fn api_me(caller: Caller) -> Json<UserView> {
    Json(UserView::of(&caller.user))
}

/// Token input.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenIn {
    /// What the token is for (the app's name), 1–64 characters.
    pub name: String,
}

/// A new API token: shown once, stored only as its hash.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TokenOut {
    /// Token id (to revoke it).
    pub id: i64,
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
}

/// Creates an API token acting as the caller.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "session", request_body = TokenIn,
    responses((status = 201, body = TokenOut), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn api_token_create(
    State(state): State<AppState>,
    caller: Caller,
    body: ApiJson<TokenIn>,
) -> Result<(StatusCode, Json<TokenOut>), ApiError> {
    let name = body.value.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(ApiError::invalid(caller.lang, "name: 1–64 characters"));
    }
    let token = format!("{TOKEN_PREFIX}{}", random_secret());
    let (store, user, hash) = (
        state.store().clone(),
        caller.user.clone(),
        secret_hash(&token),
    );
    let id = blocking(caller.lang, move || store.create_token(&user, &name, &hash)).await?;
    Ok((StatusCode::CREATED, Json(TokenOut { id, token })))
}

/// Revokes one of the caller's tokens.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "session", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ApiError)))]
pub async fn api_token_revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let (store, user) = (state.store().clone(), caller.user.clone());
    if blocking(caller.lang, move || store.revoke_token(&user, id)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::invalid(caller.lang, format!("token {id}"))
            .with_status(StatusCode::NOT_FOUND))
    }
}

impl ApiError {
    /// The same error with another status.
    pub fn with_status(mut self, status: StatusCode) -> ApiError {
        self.status = status;
        self
    }
}
