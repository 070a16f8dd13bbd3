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
use std::net::{IpAddr, SocketAddr};
use suanpan_core::auth::LoginState;
use suanpan_core::backoffice::Permission;
use suanpan_core::{Lang, Refusal};
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
        .route("/api/v1/session/password", post(api_password_change))
        .route("/api/v1/tokens", post(api_token_create).get(api_token_list))
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
    /// A user who must use TOTP and still has to enrol it.
    pub mfa_pending: bool,
    /// The TOTP secret offered to this session, if any.
    pub totp_offered: Option<zeroize::Zeroizing<String>>,
    /// The user has TOTP (enrolment is then closed; an admin resets it).
    pub totp_enrolled: bool,
    /// Where the request comes from (the peer, or what a trusted proxy saw).
    pub client: IpAddr,
    /// The caller's merchant is not active: its status and why (every page shows a banner).
    pub merchant_inactive: Option<(String, String)>,
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
        // A gate in front of the handler (`web::acquirer_paths`) authenticated this request
        // already: the same caller, not a second session lookup and last-use write.
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let lang = lang_of(parts);
        let store = state.store().clone();
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        let client = state.client_ip(peer, &parts.headers);
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
            let live = blocking(lang, move || store.token_user(&hash))
                .await?
                .ok_or_else(bad)?;
            let user = token_in_use(state, lang, live, client).await?;
            let merchant_inactive = read_only_gate(parts, state, &user, lang).await?;
            return Ok(Caller {
                user,
                lang,
                csrf: None,
                session_hash: None,
                mfa_pending: false,
                totp_offered: None,
                totp_enrolled: true,
                client,
                merchant_inactive,
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
        session_in_use(state, lang, &hash, &live).await?;
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
        let merchant_inactive = read_only_gate(parts, state, &live.user, lang).await?;
        Ok(Caller {
            user: live.user,
            lang,
            csrf: Some(csrf),
            session_hash: Some(hash),
            mfa_pending: live.mfa_pending,
            totp_offered: live.totp_offered,
            totp_enrolled: live.totp_enrolled,
            client,
            merchant_inactive,
        })
    }
}

/// A session's writes of its last use are at most this often (the idle time-out is in
/// minutes; one write per request would make every page view a store write).
const LAST_SEEN_WRITE_SECONDS: i64 = 60;

/// The idle time-out: a session unused for `session_idle_minutes` ends (it is deleted, so it
/// cannot come back); a used one slides, written at most once a minute.
async fn session_in_use(
    state: &AppState,
    lang: Lang,
    hash: &str,
    live: &suanpan_store::backoffice::LiveSession,
) -> Result<(), ApiError> {
    let now = state.store().now();
    let idle = i64::from(state.cfg().session_idle_minutes).minutes();
    let (store, h) = (state.store().clone(), hash.to_owned());
    if live
        .last_seen_at
        .checked_add(idle)
        .is_ok_and(|end| end <= now)
    {
        blocking(lang, move || store.delete_session(&h)).await?;
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            lang,
            "auth.session_idle",
            &[],
        ));
    }
    let stale = now
        .checked_sub(LAST_SEEN_WRITE_SECONDS.seconds())
        .unwrap_or(now);
    if live.last_seen_at <= stale {
        blocking(lang, move || store.touch_session(&h, stale)).await?;
    }
    Ok(())
}

/// A bearer token's checks: not past its end (`token_days` from when it was made), its user
/// not disabled. Its use is recorded at most once a minute; a use after a pause as long as
/// the session idle time-out, or from another address, counts as a login by token and joins
/// the audit chain.
async fn token_in_use(
    state: &AppState,
    lang: Lang,
    live: suanpan_store::backoffice::LiveToken,
    client: IpAddr,
) -> Result<StaffUser, ApiError> {
    let now = state.store().now();
    if live.expires_at <= now {
        let local = suanpan_service::operators::local_time(state.store().policy(), live.expires_at);
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            lang,
            "auth.token_expired",
            &[local],
        ));
    }
    if live.disabled {
        return Err(disabled_error(lang));
    }
    let from = client.to_string();
    let idle = i64::from(state.cfg().session_idle_minutes).minutes();
    let paused = |span: jiff::Span| {
        live.last_used_at
            .is_none_or(|at| at.checked_add(span).is_ok_and(|end| end <= now))
    };
    let login = paused(idle) || live.last_used_from.as_deref() != Some(from.as_str());
    if login || paused(LAST_SEEN_WRITE_SECONDS.seconds()) {
        let (store, l) = (state.store().clone(), live.clone());
        blocking(lang, move || store.touch_token(&l, &from, login)).await?;
    }
    Ok(live.user)
}

/// A merchant that is not active (suspended by the acquirer, pending or closed) keeps its
/// back-office to read (issue 14): every unsafe request of its users is refused (423) with
/// the reason, except logging out and the second factor. A safe request learns the status
/// and why, for the banner every page then shows (one read by primary key per request of a
/// merchant's user).
async fn read_only_gate(
    parts: &Parts,
    state: &AppState,
    user: &StaffUser,
    lang: Lang,
) -> Result<Option<(String, String)>, ApiError> {
    let Some(merchant) = user.merchant_id.clone() else {
        return Ok(None);
    };
    let store = state.store().clone();
    let found = blocking(lang, move || {
        suanpan_store::admin::merchant(&*store, &merchant)
    })
    .await?;
    let Some(m) = found.filter(|m| m.status != "active") else {
        return Ok(None);
    };
    if unsafe_method(&parts.method) && !ENROLMENT_PATHS.contains(&parts.uri.path()) {
        return Err(ApiError::new(
            StatusCode::LOCKED,
            lang,
            "merchant.read_only",
            &[crate::catalog::t(lang, &format!("merchant.status.{}", m.status)).to_owned()],
        ));
    }
    Ok(Some((m.status, m.status_reason)))
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
    blocking_as(lang, f, |e| ApiError::store(lang, e)).await
}

/// [`blocking`] for a use case with its own error type, mapped by `map`.
pub async fn blocking_as<T: Send + 'static, E: Send + 'static>(
    lang: Lang,
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
    map: impl FnOnce(E) -> ApiError,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(map),
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

/// Counts one password attempt (a login, or a password re-entered for a sensitive action)
/// against the client's and the user name's per-minute limit: 429 over it.
fn rate_limit(
    state: &AppState,
    lang: Lang,
    client: IpAddr,
    username: &str,
) -> Result<(), ApiError> {
    let keys = [format!("ip:{client}"), format!("user:{username}")];
    if state.login_allowed(&keys) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            lang,
            "auth.rate_limited",
            &[],
        ))
    }
}

/// Checks the password a logged-in user re-enters for a sensitive action (purge, channel
/// changes): rate limited like a login, refused while the account is locked (423), and a
/// wrong one counts towards the lockout like a wrong login (and may lock the account).
/// `Ok(false)`: wrong, not (yet) locked — the action's own rule refuses it.
pub async fn reenter_password(
    state: &AppState,
    caller: &Caller,
    password: &str,
) -> Result<bool, ApiError> {
    let lang = caller.lang;
    rate_limit(state, lang, caller.client, &caller.user.username)?;
    let gate = LoginGate {
        state,
        lang,
        now: state.store().now(),
    };
    let (store, name) = (state.store().clone(), caller.user.username.clone());
    let Some(secret) = blocking(lang, move || store.staff_secret(&name)).await? else {
        return Ok(false);
    };
    if let Some(until) = secret.login.locked(gate.now) {
        return Err(gate.locked(until));
    }
    let (pw, hash) = (password.to_owned(), secret.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || suanpan_store::auth::verify_password(&pw, &hash))
        .await
        .unwrap_or(false);
    if ok {
        if secret.login != LoginState::default() {
            let (store, u) = (state.store().clone(), secret.user.clone());
            blocking(lang, move || {
                store.record_staff_login(&u, LoginState::default(), "ok")
            })
            .await?;
        }
        return Ok(true);
    }
    match gate.failure(&secret, "auth.password_reentry_wrong").await {
        e if e.status == StatusCode::LOCKED => Err(e),
        _ => Ok(false),
    }
}

/// Logs a user in: rate limit, lockout, password, then a new session.
pub async fn login(
    state: &AppState,
    lang: Lang,
    client: IpAddr,
    username: &str,
    password: &str,
    totp: Option<&str>,
) -> Result<NewSession, ApiError> {
    rate_limit(state, lang, client, username)?;
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
    let factor = gate.second_factor(&secret, totp).await?;
    // Every successful login joins the audit chain: who, how and from where.
    let how = match factor {
        Factor::Totp => "password+totp",
        Factor::EnrolFirst => "password (totp enrolment due)",
        Factor::None => "password",
    };
    let note = format!("how={how} from={client}");
    let (store, u) = (state.store().clone(), secret.user.clone());
    blocking(lang, move || store.record_login_ok(&u, &note)).await?;
    gate.open(secret.user, factor == Factor::EnrolFirst).await
}

/// What the second factor of a login came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Factor {
    /// The user has no TOTP and needs none.
    None,
    /// The user gave a right, fresh TOTP code.
    Totp,
    /// The user must have TOTP and has none: the session opens only the enrolment.
    EnrolFirst,
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
        let local = suanpan_service::operators::local_time(self.state.store().policy(), until);
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

    /// The second factor: whoever has enrolled TOTP gives the current code (a wrong or
    /// replayed one counts like a wrong password); a user whose role requires it (admins,
    /// and approvers under `totp_required_for_approvers`) and has none yet gets a session
    /// that opens only the enrolment.
    async fn second_factor(
        &self,
        secret: &suanpan_store::backoffice::StaffSecret,
        totp: Option<&str>,
    ) -> Result<Factor, ApiError> {
        let Some(key) = &secret.totp_secret else {
            let approvers = self.state.cfg().totp_required_for_approvers;
            return Ok(if secret.user.role.requires_totp(approvers) {
                Factor::EnrolFirst
            } else {
                Factor::None
            });
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
            Ok(Factor::Totp)
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
        state.client_ip(client.ip(), &headers),
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

/// A change of one's own password.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordIn {
    /// The current password, re-entered (counts towards the lockout when wrong).
    pub password: String,
    /// The new password, 8 characters at least.
    pub new_password: String,
}

/// Changes the caller's own password (sessions only): the current one re-entered, rate
/// limited and counted towards the lockout; then every other session of the user ends and
/// every API token is revoked, and this session goes on.
#[utoipa::path(post, path = "/api/v1/session/password", tag = "session", request_body = PasswordIn,
    responses((status = 204), (status = 401, body = ApiError), (status = 422, body = ApiError, description = "wrong current password or too short a new one"),
        (status = 423, body = ApiError), (status = 429, body = ApiError)))]
pub async fn api_password_change(
    State(state): State<AppState>,
    caller: Caller,
    body: ApiJson<PasswordIn>,
) -> Result<StatusCode, ApiError> {
    let lang = caller.lang;
    let v = body.value;
    let password_ok = reenter_password(&state, &caller, &v.password).await?;
    if let Err(r) = suanpan_core::backoffice::decide_own_password(password_ok, &v.new_password) {
        let (store, who, key) = (state.store().clone(), caller.user.username.clone(), r.key());
        let target = format!("staff:{who}");
        blocking(lang, move || {
            store.record_staff_event(
                &who,
                "staff.password_change",
                &target,
                &format!("refused:{key}"),
            )
        })
        .await?;
        return Err(ApiError::refused(lang, &r));
    }
    let new = v.new_password;
    let hash = tokio::task::spawn_blocking(move || suanpan_store::auth::hash_password(&new))
        .await
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, lang, "store.error", &[]))?;
    let (store, user, keep) = (
        state.store().clone(),
        caller.user.clone(),
        caller.session_hash.clone(),
    );
    blocking(lang, move || {
        store.change_own_password(&user, &hash, keep.as_deref())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
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
    /// When it stops working (RFC 3339): `token_days` after now.
    pub expires_at: String,
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
    let now = state.store().now();
    let days = i64::from(state.cfg().token_days);
    let expires_at = now
        .checked_add(jiff::SignedDuration::from_hours(days.saturating_mul(24)))
        .unwrap_or(now);
    let (store, user, hash) = (
        state.store().clone(),
        caller.user.clone(),
        secret_hash(&token),
    );
    let id = blocking(caller.lang, move || {
        store.create_token(&user, &name, &hash, expires_at)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenOut {
            id,
            token,
            expires_at: expires_at.to_string(),
        }),
    ))
}

/// One of the caller's API tokens as listed (never the secret).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TokenView {
    /// Token id.
    pub id: i64,
    /// What it is for.
    pub name: String,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// When it stops working (RFC 3339): `token_days` after it was made.
    pub expires_at: String,
    /// `active`, `expired` or `revoked`.
    pub status: String,
    /// Its last use (RFC 3339), if any.
    pub last_used_at: Option<String>,
    /// The client address of its last use.
    pub last_used_from: Option<String>,
    /// When it was revoked (RFC 3339).
    pub revoked_at: Option<String>,
    /// Why it was revoked, in words (revoked by its owner, password reset, role change…).
    pub revoked_reason: Option<String>,
}

/// The caller's API tokens, newest first, with when each ends and what became of it.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "session",
    responses((status = 200, body = [TokenView]), (status = 401, body = ApiError)))]
pub async fn api_token_list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    let (store, user) = (state.store().clone(), caller.user.clone());
    let rows = blocking(caller.lang, move || store.tokens(&user)).await?;
    let now = state.store().now();
    let lang = caller.lang;
    Ok(Json(
        rows.into_iter()
            .map(|t| TokenView {
                status: if t.revoked_at.is_some() {
                    "revoked"
                } else if t.expires_at <= now {
                    "expired"
                } else {
                    "active"
                }
                .to_owned(),
                id: t.id,
                name: t.name,
                created_at: t.created_at.to_string(),
                expires_at: t.expires_at.to_string(),
                last_used_at: t.last_used_at.map(|x| x.to_string()),
                last_used_from: t.last_used_from,
                revoked_at: t.revoked_at.map(|x| x.to_string()),
                revoked_reason: t
                    .revoked_why
                    .map(|w| crate::catalog::t(lang, &format!("audit.{w}")).to_owned()),
            })
            .collect(),
    ))
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

/// The session hash of a caller who may enrol TOTP now: a session (not a token) of a user
/// who has none yet — because they must, or because they choose to (every role may).
fn enrolling(caller: &Caller) -> Option<String> {
    caller
        .session_hash
        .clone()
        .filter(|_| caller.mfa_pending || !caller.totp_enrolled)
}

/// Offers a TOTP secret to a session that has to enrol (the same one until it is used).
pub async fn totp_offer(state: &AppState, caller: &Caller) -> Result<TotpOffer, ApiError> {
    let lang = caller.lang;
    let Some(hash) = enrolling(caller) else {
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
    let (Some(hash), Some(secret)) = (enrolling(caller), caller.totp_offered.clone()) else {
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
