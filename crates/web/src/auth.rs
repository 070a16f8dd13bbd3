//! Who is calling: session cookies (HttpOnly, SameSite=Strict, Secure under TLS) with a CSRF
//! token for every unsafe cookie-authenticated call, or bearer API tokens for apps. Login
//! applies the core's lockout (`LoginState`), verifies argon2id off the async threads, and is
//! rate-limited per client address and per user name.

use crate::error::{ApiError, lang_of};
use crate::json::ApiJson;
use crate::state::AppState;
use crate::view::UserView;
use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use jiff::ToSpan;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use suanpan_core::Lang;
use suanpan_core::auth::LoginState;
use suanpan_core::backoffice::Permission;
use suanpan_store::backoffice::Backoffice;
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
        .route("/api/v1/totp", get(api_totp_offer).post(api_totp_enrol))
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
    /// The session's secret hash (`None` for bearer tokens), for TOTP enrolment and logout.
    pub session_hash: Option<String>,
    /// An admin who still has to enrol TOTP.
    pub mfa_pending: bool,
    /// The TOTP secret offered to this session, if any.
    pub totp_offered: Option<zeroize::Zeroizing<String>>,
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

    /// The caller's merchant, whose records are all a merchant user ever sees (issue 14). An
    /// acquirer user has none: refused (403) like a missing permission, because the merchant
    /// tier's routes act on the caller's own merchant only.
    pub fn merchant(&self) -> Result<suanpan_core::MerchantId, ApiError> {
        self.user.merchant_id.clone().ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                self.lang,
                "auth.forbidden",
                &[self.user.role.as_str().into()],
            )
        })
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
            let (user, disabled) = blocking(lang, move || store.token_user(&hash))
                .await?
                .ok_or_else(bad)?;
            if disabled {
                return Err(disabled_error(lang));
            }
            read_only_gate(parts, state, &user, lang).await?;
            return Ok(Caller {
                user,
                lang,
                csrf: None,
                session_hash: None,
                mfa_pending: false,
                totp_offered: None,
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
        let h = hash.clone();
        let Some(live) = blocking(lang, move || store.session(&h)).await? else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                lang,
                "auth.session_expired",
                &[],
            ));
        };
        if live.disabled {
            return Err(disabled_error(lang));
        }
        let csrf = live.csrf.clone();
        // An admin without TOTP yet gets nothing but the enrolment (and logout).
        if live.mfa_pending && !ENROLMENT_PATHS.contains(&parts.uri.path()) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                lang,
                "auth.totp_enrol_required",
                &[],
            ));
        }
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
        read_only_gate(parts, state, &live.user, lang).await?;
        Ok(Caller {
            user: live.user,
            lang,
            csrf: Some(csrf),
            session_hash: Some(hash),
            mfa_pending: live.mfa_pending,
            totp_offered: live.totp_offered,
        })
    }
}

/// A merchant that is not active (suspended by the acquirer, pending or closed) keeps its
/// back-office to read (issue 14): every unsafe request of its users is refused (423) with
/// the reason, except logging out and the second factor.
async fn read_only_gate(
    parts: &Parts,
    state: &AppState,
    user: &StaffUser,
    lang: Lang,
) -> Result<(), ApiError> {
    let Some(merchant) = user.merchant_id.clone() else {
        return Ok(());
    };
    if !unsafe_method(&parts.method) || ENROLMENT_PATHS.contains(&parts.uri.path()) {
        return Ok(());
    }
    let store = state.store().clone();
    let found = blocking(lang, move || {
        suanpan_store::admin::merchant(&*store, &merchant)
    })
    .await?;
    match found {
        Some(m) if m.status != "active" => Err(ApiError::new(
            StatusCode::LOCKED,
            lang,
            "merchant.read_only",
            &[crate::catalog::t(lang, &format!("merchant.status.{}", m.status)).to_owned()],
        )),
        _ => Ok(()),
    }
}

/// A disabled user's answer (login, live session or token): 401, said plainly.
fn disabled_error(lang: Lang) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, lang, "auth.user_disabled", &[])
}

/// What a session still waiting for TOTP enrolment may reach.
const ENROLMENT_PATHS: &[&str] = &["/api/v1/totp", "/totp/enrol", "/api/v1/session", "/logout"];

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
    /// TOTP enrolment is still due (the session opens nothing else).
    pub mfa_pending: bool,
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
    totp: Option<&str>,
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
    let gate = LoginGate {
        state,
        lang,
        now: state.store().now(),
    };
    let (store, name) = (state.store().clone(), username.to_owned());
    let Some(secret) = blocking(lang, move || store.staff_secret(&name)).await? else {
        let pw = password.to_owned();
        let _ = tokio::task::spawn_blocking(move || {
            suanpan_store::auth::verify_password(&pw, dummy_hash())
        })
        .await;
        gate.event(username, "refused:auth.unknown_user").await?;
        return Err(gate.wrong("auth.wrong_login"));
    };
    if let Some(until) = secret.login.locked(gate.now) {
        gate.event(username, "refused:auth.locked").await?;
        return Err(gate.locked(until));
    }
    let (pw, hash) = (password.to_owned(), secret.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || suanpan_store::auth::verify_password(&pw, &hash))
        .await
        .unwrap_or(false);
    if !ok {
        return Err(gate.failure(&secret, "auth.wrong_login").await);
    }
    // Said only to someone who knows the password: a guesser learns nothing new.
    if secret.disabled {
        gate.event(username, "refused:auth.user_disabled").await?;
        return Err(disabled_error(lang));
    }
    let mfa_pending = gate.second_factor(&secret, totp).await?;
    if secret.login != LoginState::default() {
        let (store, u) = (state.store().clone(), secret.user.clone());
        blocking(lang, move || {
            store.record_staff_login(&u, LoginState::default(), "ok")
        })
        .await?;
    }
    gate.open(secret.user, mfa_pending).await
}

/// The steps of one login attempt, sharing its state, language and moment.
struct LoginGate<'a> {
    state: &'a AppState,
    lang: Lang,
    now: jiff::Timestamp,
}

impl LoginGate<'_> {
    fn wrong(&self, key: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, self.lang, key, &[])
    }

    fn locked(&self, until: jiff::Timestamp) -> ApiError {
        let local = suanpan_store::engine::local_time(self.state.store().policy(), until);
        ApiError::new(StatusCode::LOCKED, self.lang, "auth.locked", &[local])
    }

    /// Audits a refused attempt that changes no user (unknown name, still locked).
    async fn event(&self, username: &str, outcome: &'static str) -> Result<(), ApiError> {
        let (store, name) = (self.state.store().clone(), username.to_owned());
        blocking(self.lang, move || {
            store.record_staff_event(&name, "login", &format!("staff:{name}"), outcome)
        })
        .await
    }

    /// Counts a wrong password or code towards the lockout (the core decides it) and answers.
    async fn failure(
        &self,
        secret: &suanpan_store::backoffice::StaffSecret,
        key: &'static str,
    ) -> ApiError {
        let next = secret
            .login
            .after_failure(self.state.store().policy(), self.now);
        let outcome = if next.locked(self.now).is_some() {
            "refused:auth.locked".to_owned()
        } else {
            format!("refused:{key}")
        };
        let (store, u) = (self.state.store().clone(), secret.user.clone());
        if let Err(e) = blocking(self.lang, move || {
            store.record_staff_login(&u, next, &outcome)
        })
        .await
        {
            return e;
        }
        match next.locked(self.now) {
            Some(until) => self.locked(until),
            None => self.wrong(key),
        }
    }

    /// The second factor: an enrolled admin gives the current code (a wrong or replayed one
    /// counts like a wrong password); an admin not enrolled yet gets a session that opens
    /// only the enrolment (`Ok(true)`).
    async fn second_factor(
        &self,
        secret: &suanpan_store::backoffice::StaffSecret,
        totp: Option<&str>,
    ) -> Result<bool, ApiError> {
        if !secret.user.role.requires_totp() {
            return Ok(false);
        }
        let Some(key) = &secret.totp_secret else {
            return Ok(true);
        };
        let Some(code) = totp.map(str::trim).filter(|c| !c.is_empty()) else {
            return Err(self.wrong("auth.totp_required"));
        };
        let fresh = match totp_step_of(key, code, self.now) {
            Some(step) => {
                let (store, id) = (self.state.store().clone(), secret.user.id);
                blocking(self.lang, move || store.use_totp_step(id, step)).await?
            }
            None => false,
        };
        if fresh {
            Ok(false)
        } else {
            Err(self.failure(secret, "auth.totp_wrong").await)
        }
    }

    /// Stores a new session; only the secret's hash is kept.
    async fn open(&self, user: StaffUser, mfa_pending: bool) -> Result<NewSession, ApiError> {
        let minutes = i64::from(self.state.cfg().session_minutes);
        let session = NewSession {
            mfa_pending,
            user,
            secret: random_secret(),
            csrf: random_secret(),
            expires_at: self.now.checked_add(minutes.minutes()).unwrap_or(self.now),
        };
        let (store, id, hash, csrf, until) = (
            self.state.store().clone(),
            session.user.id,
            secret_hash(&session.secret),
            session.csrf.clone(),
            session.expires_at,
        );
        blocking(self.lang, move || {
            store.create_session(id, &hash, &csrf, until, mfa_pending)
        })
        .await?;
        Ok(session)
    }
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
    /// The current TOTP code (admins, once enrolled).
    pub totp: Option<String>,
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
    /// An admin without TOTP: enrol first (`GET`/`POST /api/v1/totp`); nothing else opens.
    pub totp_enrolment_required: bool,
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
    let v = &body.value;
    let s = login(
        &state,
        lang,
        client,
        &v.username,
        &v.password,
        v.totp.as_deref(),
    )
    .await?;
    let out = SessionOut {
        totp_enrolment_required: s.mfa_pending,
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
        return Err(ApiError::field(caller.lang, "name", ""));
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
    crate::api::Id(id): crate::api::Id,
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

/// The TOTP parameters every authenticator app understands: SHA-1, 6 digits, 30 seconds.
const TOTP_STEP_SECONDS: i64 = 30;
/// Steps either side of now that are accepted (clock drift between phone and server).
const TOTP_SKEW_STEPS: i64 = 1;
/// Bytes of a new TOTP secret (160 bits, RFC 4226's recommendation).
const TOTP_SECRET_BYTES: usize = 20;

fn totp_of(secret_b32: &str) -> Option<totp_rs::TOTP> {
    let bytes = totp_rs::Secret::Encoded(secret_b32.to_owned())
        .to_bytes()
        .ok()?;
    totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        0,
        TOTP_STEP_SECONDS as u64,
        bytes,
    )
    .ok()
}

/// The step a code belongs to, if it is right within the skew.
pub fn totp_step_of(secret_b32: &str, code: &str, now: jiff::Timestamp) -> Option<i64> {
    let totp = totp_of(secret_b32)?;
    let step = now.as_second().div_euclid(TOTP_STEP_SECONDS);
    (step - TOTP_SKEW_STEPS..=step + TOTP_SKEW_STEPS).find(|s| {
        let at = u64::try_from(s * TOTP_STEP_SECONDS).unwrap_or(0);
        same_secret(&totp.generate(at), code)
    })
}

/// A new random base32 secret.
fn new_totp_secret() -> String {
    use rand::RngCore;
    let mut b = [0u8; TOTP_SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut b);
    totp_rs::Secret::Raw(b.to_vec()).to_encoded().to_string()
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// What an authenticator app needs.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TotpOffer {
    /// Base32 secret (type it in if the code cannot be scanned).
    pub secret: String,
    /// `otpauth://totp/…` URI.
    pub otpauth_uri: String,
    /// The URI as a QR code, SVG.
    pub qr_svg: String,
}

/// 409: this session has nothing to enrol (TOTP is enrolled already, or was never asked for).
fn totp_enrolled(lang: Lang) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, lang, "auth.totp_enrolled", &[])
}

/// Offers a TOTP secret to a session that has to enrol (the same one until it is used).
pub async fn totp_offer(state: &AppState, caller: &Caller) -> Result<TotpOffer, ApiError> {
    let lang = caller.lang;
    let Some(hash) = caller.session_hash.clone().filter(|_| caller.mfa_pending) else {
        return Err(totp_enrolled(lang));
    };
    let secret = match &caller.totp_offered {
        Some(s) => String::clone(s),
        None => {
            let s = new_totp_secret();
            let (store, s2) = (state.store().clone(), s.clone());
            blocking(lang, move || store.offer_totp(&hash, &s2)).await?;
            s
        }
    };
    let label = format!("Suanpan:{}", caller.user.username);
    let uri = format!(
        "otpauth://totp/{}?secret={secret}&issuer=Suanpan&algorithm=SHA1&digits=6&period={TOTP_STEP_SECONDS}",
        percent(&label)
    );
    let qr_svg = qrcode::QrCode::new(uri.as_bytes())
        .map(|q| {
            q.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .build()
        })
        .map_err(|e| ApiError::invalid(lang, e.to_string()))?;
    Ok(TotpOffer {
        secret,
        otpauth_uri: uri,
        qr_svg,
    })
}

/// Enrols the offered secret when `code` is its current code.
pub async fn totp_enrol(state: &AppState, caller: &Caller, code: &str) -> Result<(), ApiError> {
    let lang = caller.lang;
    let (Some(hash), Some(secret)) = (
        caller.session_hash.clone().filter(|_| caller.mfa_pending),
        caller.totp_offered.clone(),
    ) else {
        return Err(totp_enrolled(lang));
    };
    let Some(step) = totp_step_of(&secret, code.trim(), state.store().now()) else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            lang,
            "auth.totp_wrong",
            &[],
        ));
    };
    let (store, user) = (state.store().clone(), caller.user.clone());
    blocking(lang, move || store.enrol_totp(&user, &hash, &secret, step)).await
}

/// The secret to enrol, with its otpauth URI and QR code.
#[utoipa::path(get, path = "/api/v1/totp", tag = "session",
    responses((status = 200, body = TotpOffer), (status = 409, body = ApiError)))]
pub async fn api_totp_offer(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<TotpOffer>, ApiError> {
    Ok(Json(totp_offer(&state, &caller).await?))
}

/// A TOTP code.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpIn {
    /// The 6-digit code the app shows now.
    pub code: String,
}

/// Confirms enrolment with the app's current code; the session then opens everything.
#[utoipa::path(post, path = "/api/v1/totp", tag = "session", request_body = TotpIn,
    responses((status = 204), (status = 409, body = ApiError), (status = 422, body = ApiError)))]
pub async fn api_totp_enrol(
    State(state): State<AppState>,
    caller: Caller,
    body: ApiJson<TotpIn>,
) -> Result<StatusCode, ApiError> {
    totp_enrol(&state, &caller, &body.value.code).await?;
    Ok(StatusCode::NO_CONTENT)
}
