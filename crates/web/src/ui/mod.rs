//! The web UI: server-rendered askama pages (zh-CN by default, English by the switch), our
//! own small CSS and JS. Pages call the same functions as the API, so a permission or a rule
//! is checked once, on the server. Every form carries the session's CSRF token; every
//! destructive one states its consequence and asks before it is sent (static/app.js).
//!
//! This file holds the layout (`Base`, `render`, `message`), the two shapes every page
//! shares (`show` for a GET page, `form_action` for a form's POST), the session pages (login,
//! logout, language, TOTP enrolment) and evidence uploads. The pages live by area: `txns`
//! (dashboard, transactions, batches), `review`, `cases`, `admin` (audit, channels, users)
//! and `ops`.

use crate::auth::{self, Caller, NewSession, blocking, cookie, same_secret, session_cookie};
use crate::catalog::{t, tf};
use crate::error::{ApiError, lang_of_headers};
use crate::state::AppState;
use crate::view::UserView;
use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use std::net::SocketAddr;
use suanpan_core::Lang;
use suanpan_core::backoffice::Permission;
use suanpan_store::backoffice::Backoffice;

/// A page form that carries the CSRF token.
trait WithCsrf {
    fn csrf(&self) -> &str;
}

macro_rules! csrf_forms {
    ($($t:ty),*) => {$(
        impl $crate::ui::WithCsrf for $t {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        }
    )*};
}

// The pages by area; declared after `csrf_forms!` so each can name its own forms.
mod acquirer;
mod admin;
mod alerts;
mod assets;
mod cases;
mod exports;
mod help;
mod ops;
mod pause;
mod review;
mod risk;
pub(crate) mod txns;
mod webhooks;

pub(crate) use cases::case_evidence;
pub use exports::sweep_left_files;
pub use txns::group_digits;
pub(crate) use txns::txn_evidence;

/// The login form's double-submit cookie (there is no session yet to hold a CSRF token).
const LOGIN_CSRF_COOKIE: &str = "sp_login";

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route("/totp/enrol", get(totp_page).post(totp_submit))
        .route("/lang/{lang}", get(switch_lang))
        .route("/dashboard", get(txns::dashboard))
        .route("/txns", get(txns::txns))
        .route("/txns/{id}", get(txns::txn))
        .route("/exports", post(exports::export_start))
        .route("/exports/{id}", get(exports::export_page))
        .route("/exports/{id}/file", get(exports::export_file))
        .route("/txns/{id}/request", post(txns::txn_request))
        .route("/txns/{id}/hide", post(txns::txn_hide))
        .route("/review", get(review::review_page))
        .route("/review/{id}/{action}", post(review::review_action))
        .route("/batches", get(txns::batches))
        .route("/audit", get(admin::audit))
        .route("/channels", get(admin::channels_page))
        .route("/users", get(admin::users_page).post(admin::users_add))
        .route("/users/{id}/{action}", post(admin::user_action))
        .route("/channels/{id}/{action}", post(admin::channel_action))
        .route("/evidence/{id}/removal", post(txns::evidence_removal))
        .route("/removals/{id}/{action}", post(review::removal_action))
        .route("/txns/{id}/case", post(cases::txn_case))
        .route("/cases", get(cases::cases_page))
        .route("/cases/{id}", get(cases::case_page))
        .route("/cases/{id}/links", post(cases::case_link))
        .route("/cases/{id}/notes", post(cases::case_note))
        .route("/cases/{id}/act/{action}", post(cases::case_action))
        .route("/ops", get(ops::ops_page))
        .route("/ops/backups", post(ops::ops_backup))
        .route("/ops/backups/{name}/verify", post(ops::ops_verify))
        .route("/ops/purge", post(ops::ops_purge))
        .route(
            "/webhooks",
            get(webhooks::webhooks_page).post(webhooks::webhooks_add),
        )
        .route("/webhooks/{id}/remove", post(webhooks::webhooks_remove))
        .route(
            "/webhooks/deliveries/{id}/replay",
            post(webhooks::webhooks_replay),
        )
        .route("/terminals", get(pause::terminals_page))
        .route("/terminals/{id}/{action}", post(pause::terminal_action))
        .route("/alerts", get(alerts::alerts_page))
        .route("/alerts/{id}", get(alerts::alert_page))
        .route("/alerts/{id}/{action}", post(alerts::alert_action))
        .route(
            "/risk/limits",
            get(risk::limits_page_own).post(risk::limits_save_own),
        )
        .merge(assets::routes())
        .merge(help::routes())
}

/// The acquirer's console pages (机构后台); `web::router` puts them behind the tier's gate.
pub fn acquirer_routes(state: &AppState) -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            "/acquirer",
            get(acquirer::home).route_layer(crate::gate(state)),
        )
        .route(
            "/acquirer/merchants",
            get(acquirer::merchants_page)
                .post(acquirer::merchant_create)
                .route_layer(crate::gate(state)),
        )
        .route(
            "/acquirer/merchants/{id}",
            get(acquirer::merchant_page)
                .post(acquirer::merchant_edit)
                .route_layer(crate::gate(state)),
        )
        .route(
            "/acquirer/merchants/{id}/status",
            post(acquirer::merchant_status).route_layer(crate::gate(state)),
        )
        .route(
            "/acquirer/merchant-changes",
            get(acquirer::changes_page).route_layer(crate::gate(state)),
        )
        .route(
            "/acquirer/terminals",
            get(acquirer::terminals_page)
                .post(acquirer::terminal_register)
                .route_layer(crate::gate(state)),
        )
        .route(
            "/acquirer/terminals/{id}/{action}",
            post(acquirer::terminal_action).route_layer(crate::gate(state)),
        )
        .route(
            "/acquirer/merchant-changes/{id}/{action}",
            post(acquirer::change_action).route_layer(crate::gate(state)),
        )
        .route(
            "/acquirer/terminals/{id}/keys",
            get(acquirer::keys_page)
                .post(acquirer::keys_enter)
                .route_layer(crate::gate(state)),
        )
        .route(
            "/acquirer/channels",
            get(acquirer::channels_page).route_layer(crate::gate(state)),
        )
        .route(
            "/acquirer/channels/{id}/{action}",
            post(acquirer::channel_switch).route_layer(crate::gate(state)),
        )
        .route(
            "/acquirer/merchants/{id}/channels/{channel}/{action}",
            post(acquirer::merchant_channel).route_layer(crate::gate(state)),
        )
        .route(
            "/acquirer/merchants/{id}/documents",
            post(acquirer::document_upload)
                .layer(axum::extract::DefaultBodyLimit::max(
                    suanpan_core::backoffice::KYC_DOCUMENT_BYTES_MAX,
                ))
                .route_layer(crate::gate(state)),
        )
        .route(
            "/acquirer/merchants/{id}/documents/{doc}/remove",
            post(acquirer::document_remove).route_layer(crate::gate(state)),
        )
        .route(
            "/acquirer/transactions",
            get(txns::acquirer_txns).route_layer(crate::gate(state)),
        )
        .route(
            "/acquirer/transactions/{id}",
            get(txns::acquirer_txn).route_layer(crate::gate(state)),
        )
        .route(
            "/acquirer/cases",
            get(cases::acquirer_cases_page).route_layer(crate::gate(state)),
        )
        .route(
            "/acquirer/cases/{id}",
            get(cases::acquirer_case_page).route_layer(crate::gate(state)),
        )
        .merge(risk::acquirer_routes(state))
}

/// Catalog lookups for templates.
pub struct Texts(pub Lang);

impl Texts {
    /// The text of `key`.
    pub fn get(&self, key: &str) -> String {
        t(self.0, key).to_owned()
    }
}

/// One link of the header's menu.
pub struct NavItem {
    href: &'static str,
    text: String,
    current: bool,
}

/// What the layout shows.
pub struct Base {
    t: Texts,
    html_lang: &'static str,
    other_lang: &'static str,
    title: String,
    user: Option<UserView>,
    csrf: String,
    lang_href: String,
    help_href: String,
    css_href: String,
    js_href: String,
    nav: Vec<NavItem>,
    /// Offer the user's own TOTP enrolment (a session without TOTP; every role may).
    totp_link: bool,
    /// The caller's merchant is not active: why, on every page (issue 14).
    banner: Option<String>,
}

impl Base {
    /// The layout of a signed-in caller's page.
    fn of(caller: &Caller, section: &'static str, title_key: &str, path: &str) -> Base {
        Base::new(caller.lang, Some(caller), section, title_key, path)
    }

    fn new(
        lang: Lang,
        caller: Option<&Caller>,
        section: &'static str,
        title_key: &str,
        path: &str,
    ) -> Base {
        let other = if lang == Lang::Zh { "en" } else { "zh" };
        let anchor = help_anchor(title_key);
        Base {
            t: Texts(lang),
            html_lang: lang_tag(lang),
            other_lang: lang_tag(if lang == Lang::Zh { Lang::En } else { Lang::Zh }),
            title: t(lang, title_key).to_owned(),
            user: caller.map(|c| UserView::of(&c.user)),
            csrf: caller.and_then(|c| c.csrf.clone()).unwrap_or_default(),
            lang_href: format!("/lang/{other}?back={}", urlencode(path)),
            help_href: if anchor.is_empty() {
                "/help".to_owned()
            } else {
                format!("/help#{anchor}")
            },
            css_href: assets::href("app.css"),
            js_href: assets::href("app.js"),
            nav: caller.map(|c| nav(c, section)).unwrap_or_default(),
            totp_link: caller
                .is_some_and(|c| c.session_hash.is_some() && !c.totp_enrolled && !c.mfa_pending),
            banner: caller
                .and_then(|c| c.merchant_inactive.as_ref())
                .map(|(status, reason)| merchant_banner(lang, status, reason)),
        }
    }
}

/// The banner of a merchant that is not active: its status and the acquirer's reason, and
/// that the back-office only reads meanwhile.
fn merchant_banner(lang: Lang, status: &str, reason: &str) -> String {
    let words = t(lang, &format!("merchant.status.{status}")).to_owned();
    let reason = if reason.trim().is_empty() {
        t(lang, "merchant.banner_no_reason").to_owned()
    } else {
        reason.to_owned()
    };
    tf(lang, "merchant.banner", &[words, reason])
}

/// The BCP 47 tag of a language, as `lang` attributes carry it.
fn lang_tag(lang: Lang) -> &'static str {
    if lang == Lang::Zh { "zh-CN" } else { "en" }
}

/// The header's menu for `caller`: the pages its role may open, `section` marked current.
fn nav(caller: &Caller, section: &str) -> Vec<NavItem> {
    let role = caller.user.role;
    if role.tier() == suanpan_core::backoffice::Tier::Acquirer {
        return acquirer_nav(caller, section);
    }
    let pages: [(&'static str, &'static str, &'static str, bool); 12] = [
        ("dashboard", "/dashboard", "nav.dashboard", true),
        ("txns", "/txns", "nav.transactions", true),
        ("review", "/review", "nav.review", true),
        (
            "alerts",
            "/alerts",
            "nav.alerts",
            role.allows(Permission::Review),
        ),
        (
            "cases",
            "/cases",
            "nav.cases",
            role.allows(Permission::ViewCases),
        ),
        (
            "batches",
            "/batches",
            "nav.batches",
            role.allows(Permission::ViewBatches),
        ),
        ("channels", "/channels", "nav.channels", true),
        (
            "terminals_own",
            "/terminals",
            "nav.terminals_own",
            role.allows(Permission::PauseTerminals),
        ),
        (
            "users",
            "/users",
            "nav.users",
            role.allows(Permission::ManageUsers),
        ),
        (
            "audit",
            "/audit",
            "nav.audit",
            role.allows(Permission::ViewAudit),
        ),
        (
            "ops",
            "/ops",
            "nav.ops",
            role.allows(Permission::ManageBackups),
        ),
        (
            "webhooks",
            "/webhooks",
            "nav.webhooks",
            role.allows(Permission::ManageWebhooks)
                || role.allows(Permission::ManageAcquirerWebhooks),
        ),
    ];
    nav_items(caller, section, pages)
}

/// The menu's links a role may open: `(section, href, catalog key, shown)`.
fn nav_items<const N: usize>(
    caller: &Caller,
    section: &str,
    pages: [(&'static str, &'static str, &'static str, bool); N],
) -> Vec<NavItem> {
    pages
        .into_iter()
        .filter(|p| p.3)
        .map(|(id, href, key, _)| NavItem {
            href,
            text: t(caller.lang, key).to_owned(),
            current: id == section,
        })
        .collect()
}

/// The acquirer's menu (机构后台): the console, merchants, their changes, and operations.
fn acquirer_nav(caller: &Caller, section: &str) -> Vec<NavItem> {
    let role = caller.user.role;
    let pages: [(&'static str, &'static str, &'static str, bool); 12] = [
        ("acquirer", "/acquirer", "nav.acquirer", true),
        (
            "acquirer_txns",
            "/acquirer/transactions",
            "nav.transactions",
            true,
        ),
        ("acquirer_cases", "/acquirer/cases", "nav.cases", true),
        ("acq_channels", "/acquirer/channels", "nav.channels", true),
        ("alerts_acq", "/alerts", "nav.alerts", true),
        ("blocklist", "/acquirer/blocklist", "nav.blocklist", true),
        ("compliance", "/acquirer/compliance", "nav.compliance", true),
        ("merchants", "/acquirer/merchants", "nav.merchants", true),
        ("terminals", "/acquirer/terminals", "nav.terminals", true),
        (
            "merchant_changes",
            "/acquirer/merchant-changes",
            "nav.merchant_changes",
            true,
        ),
        (
            "ops",
            "/ops",
            "nav.ops",
            role.allows(Permission::ManageBackups),
        ),
        (
            "webhooks",
            "/webhooks",
            "nav.webhooks",
            role.allows(Permission::ManageAcquirerWebhooks),
        ),
    ];
    nav_items(caller, section, pages)
}

/// The section of the back-office guide (`docs/guide/backoffice.*.md`, served at `/help`)
/// that explains the page titled `title_key`; empty for the guide's start.
fn help_anchor(title_key: &str) -> &'static str {
    match title_key {
        "login.title" | "totp.title" => "login",
        "nav.dashboard" => "dashboard",
        "nav.transactions" => "find",
        "txn.detail" => "requests",
        "nav.review" => "review",
        "nav.cases" | "case.detail" => "cases",
        "nav.batches" => "batches",
        "nav.channels" => "channels",
        "nav.terminals_own" => "terminals",
        "nav.users" => "users",
        "nav.audit" => "audit",
        "nav.ops" => "backups",
        _ => "",
    }
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A select's or tab bar's choices: `first` (if any) for "no value", then each value with its
/// catalog text `{prefix}.{value}`.
fn options<'a>(
    lang: Lang,
    first: Option<String>,
    prefix: &str,
    values: impl IntoIterator<Item = &'a str>,
) -> Vec<(String, String)> {
    let first = first.map(|text| (String::new(), text));
    let each = values
        .into_iter()
        .map(|v| (v.to_owned(), t(lang, &format!("{prefix}.{v}")).to_owned()));
    first.into_iter().chain(each).collect()
}

/// A listing's path with its status tab, as the language switch leads back to it.
fn with_status(path: &str, status: &str) -> String {
    if status.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?status={status}")
    }
}

fn render(status: StatusCode, t: impl Template) -> Response {
    match t.render() {
        Ok(html) => {
            let mut r = (status, Html(html)).into_response();
            let h = r.headers_mut();
            // Our own CSS and JS only; no frames; no sniffing.
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'"),
            );
            h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => {
            tracing::error!("template: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    base: Base,
    heading: String,
    message: String,
    hint: String,
    ok: bool,
    back: String,
}

/// A result page: a clear message and the way back.
fn message(
    caller: Option<&Caller>,
    lang: Lang,
    ok: bool,
    text: String,
    hint: String,
    back: &str,
) -> Response {
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let heading = t(lang, if ok { "msg.title" } else { "msg.error" }).to_owned();
    render(
        status,
        MessagePage {
            base: Base::new(lang, caller, "", "msg.title", back),
            heading,
            message: text,
            hint,
            ok,
            back: back.to_owned(),
        },
    )
}

fn error_page(caller: Option<&Caller>, e: ApiError, back: &str) -> Response {
    let lang = caller.map(|c| c.lang).unwrap_or_default();
    let status = e.status;
    let mut r = message(caller, lang, false, e.message, e.hint, back);
    *r.status_mut() = status;
    r
}

/// A page's caller, or the way to the login page.
fn page_caller(c: Result<Caller, ApiError>) -> Result<Caller, Box<Response>> {
    match c {
        Ok(c) => Ok(c),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            Err(Box::new(Redirect::to("/login").into_response()))
        }
        Err(e) => Err(Box::new(error_page(None, e, "/login"))),
    }
}

csrf_forms!(TotpForm, CsrfForm);

/// A page's form as it arrived: parsed, or refused by the extractor.
type FormIn<F> = Result<Form<F>, axum::extract::rejection::FormRejection>;

/// The caller and the parsed form of a page's POST, its CSRF token checked; otherwise the
/// page to answer (login redirect, or an error page leading back to `back`).
fn page_form<F: WithCsrf>(
    caller: Result<Caller, ApiError>,
    form: FormIn<F>,
    back: &str,
) -> Result<(Caller, F), Box<Response>> {
    let caller = page_caller(caller)?;
    let Ok(Form(f)) = form else {
        let e = ApiError::invalid(caller.lang, "form");
        return Err(Box::new(error_page(Some(&caller), e, back)));
    };
    if let Err(e) = caller.check_form_csrf(f.csrf()) {
        return Err(Box::new(error_page(Some(&caller), e, back)));
    }
    Ok((caller, f))
}

/// What a page's form did: the message to show, and where its link leads when that is not
/// back to the form's page.
struct Done {
    text: String,
    next: Option<String>,
}

impl Done {
    /// A message whose link leads back to the form's page.
    fn back(text: String) -> Done {
        Done { text, next: None }
    }

    /// A message whose link leads on to `next` (the record the action made or changed).
    fn next(text: String, next: String) -> Done {
        Done {
            text,
            next: Some(next),
        }
    }
}

/// A page's POST: the caller and form (see [`page_form`]), then `act`, which calls the same
/// function as the API. Its result is a message page; its refusal an error page leading back
/// to `back`, so every form answers the same way.
async fn form_action<F: WithCsrf>(
    caller: Result<Caller, ApiError>,
    form: FormIn<F>,
    back: &str,
    act: impl AsyncFnOnce(&Caller, F) -> Result<Done, ApiError>,
) -> Response {
    let (caller, f) = match page_form(caller, form, back) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    match act(&caller, f).await {
        Ok(Done { text, next }) => {
            let link = next.as_deref().unwrap_or(back);
            message(Some(&caller), caller.lang, true, text, String::new(), link)
        }
        Err(e) => error_page(Some(&caller), e, back),
    }
}

/// A page's refusal, with its way back when that is not the page's usual one.
struct Refused(ApiError, Option<&'static str>);

impl From<ApiError> for Refused {
    fn from(e: ApiError) -> Refused {
        Refused(e, None)
    }
}

/// A refusal leading back to `back` instead of the page's usual way back.
fn back_to(back: &'static str) -> impl FnOnce(ApiError) -> Refused {
    move |e| Refused(e, Some(back))
}

/// A page's GET: the caller (or the way to login), then the page `build` makes, answered
/// with 200; its refusal is an error page leading back to `back` (or where it says).
async fn show<P: Template>(
    caller: Result<Caller, ApiError>,
    back: &str,
    build: impl AsyncFnOnce(&Caller) -> Result<P, Refused>,
) -> Response {
    let caller = match page_caller(caller) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    match build(&caller).await {
        Ok(page) => render(StatusCode::OK, page),
        Err(Refused(e, to)) => error_page(Some(&caller), e, to.unwrap_or(back)),
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    base: Base,
    error: Option<ApiError>,
    login_csrf: String,
    username: String,
    /// The store was made with the demo data: the page names the demo accounts.
    demo: bool,
}

async fn login_form(
    state: &AppState,
    lang: Lang,
    error: Option<ApiError>,
    username: String,
) -> Response {
    let status = error.as_ref().map(|e| e.status).unwrap_or(StatusCode::OK);
    // A store that cannot say is treated as a production one: no hint.
    let store = state.store().clone();
    let demo = blocking(lang, move || store.made_with_demo())
        .await
        .unwrap_or(false);
    let token = auth::random_secret();
    let mut r = render(
        status,
        LoginPage {
            base: Base::new(lang, None, "", "login.title", "/login"),
            error,
            login_csrf: token.clone(),
            username,
            demo,
        },
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LOGIN_CSRF_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600"
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    login_form(&state, lang_of_headers(&headers), None, String::new()).await
}

#[derive(serde::Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    totp: String,
    csrf: String,
}

async fn login_submit(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: FormIn<LoginForm>,
) -> Response {
    let lang = lang_of_headers(&headers);
    let Ok(Form(f)) = form else {
        return login_form(
            &state,
            lang,
            Some(ApiError::invalid(lang, "form")),
            String::new(),
        )
        .await;
    };
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same_secret(&expected, &f.csrf) {
        return login_form(
            &state,
            lang,
            Some(ApiError::new(StatusCode::FORBIDDEN, lang, "auth.csrf", &[])),
            f.username,
        )
        .await;
    }
    match auth::login(
        &state,
        lang,
        state.client_ip(client.ip(), &headers),
        &f.username,
        &f.password,
        Some(&f.totp),
    )
    .await
    {
        Ok(NewSession {
            secret,
            mfa_pending,
            ..
        }) => {
            let next = if mfa_pending {
                "/totp/enrol"
            } else {
                "/dashboard"
            };
            let mut r = Redirect::to(next).into_response();
            r.headers_mut()
                .insert(header::SET_COOKIE, session_cookie(&state, &secret));
            r
        }
        Err(e) => login_form(&state, lang, Some(e), f.username).await,
    }
}

#[derive(serde::Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    let caller = match page_caller(caller) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    if let Err(e) = caller.check_form_csrf(&f.csrf) {
        return error_page(Some(&caller), e, "/dashboard");
    }
    if let Some(secret) = cookie(&headers, auth::SESSION_COOKIE) {
        let (store, hash) = (state.store().clone(), auth::secret_hash(&secret));
        if let Err(e) = blocking(caller.lang, move || store.delete_session(&hash)).await {
            return error_page(Some(&caller), e, "/dashboard");
        }
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&state, ""));
    r
}

#[derive(serde::Deserialize)]
struct BackQuery {
    back: Option<String>,
}

async fn switch_lang(
    Path(lang): Path<String>,
    axum::extract::Query(q): axum::extract::Query<BackQuery>,
) -> Response {
    let code = if Lang::parse(&lang) == Some(Lang::En) {
        "en"
    } else {
        "zh"
    };
    // Only paths of this site: no open redirect.
    let back = q
        .back
        .filter(|b| b.starts_with('/') && !b.starts_with("//"))
        .unwrap_or_else(|| "/dashboard".into());
    let mut r = Redirect::to(&back).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "lang={code}; Path=/; SameSite=Strict; Max-Age=31536000"
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[derive(Template)]
#[template(path = "totp.html")]
struct TotpPage {
    base: Base,
    offer: auth::TotpOffer,
    error: Option<ApiError>,
}

async fn totp_render(state: &AppState, caller: &Caller, error: Option<ApiError>) -> Response {
    match auth::totp_offer(state, caller).await {
        Ok(offer) => {
            let status = error.as_ref().map(|e| e.status).unwrap_or(StatusCode::OK);
            render(
                status,
                TotpPage {
                    base: Base::new(caller.lang, Some(caller), "", "totp.title", "/totp/enrol"),
                    offer,
                    error,
                },
            )
        }
        Err(e) => error_page(Some(caller), e, "/dashboard"),
    }
}

async fn totp_page(State(state): State<AppState>, caller: Result<Caller, ApiError>) -> Response {
    match page_caller(caller) {
        Ok(c) => totp_render(&state, &c, None).await,
        Err(r) => *r,
    }
}

#[derive(serde::Deserialize)]
struct TotpForm {
    csrf: String,
    code: String,
}

async fn totp_submit(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    form: FormIn<TotpForm>,
) -> Response {
    let (caller, f) = match page_form(caller, form, "/totp/enrol") {
        Ok(x) => x,
        Err(r) => return *r,
    };
    match auth::totp_enrol(&state, &caller, &f.code).await {
        Ok(()) => Redirect::to("/dashboard").into_response(),
        Err(e) => totp_render(&state, &caller, Some(e)).await,
    }
}

/// What a page's upload is attached to.
#[derive(Clone, Copy)]
enum UploadTo {
    Txn(i64),
    Case(i64),
}

/// A page's evidence upload to a transaction or a case, answered with a result page.
async fn evidence_page(
    state: &AppState,
    caller: Result<Caller, ApiError>,
    headers: &HeaderMap,
    mp: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
    to: UploadTo,
) -> Response {
    let caller = match page_caller(caller) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let back = match to {
        UploadTo::Txn(id) => format!("/txns/{id}"),
        UploadTo::Case(id) => format!("/cases/{id}"),
    };
    let up = match page_upload(state, &caller, headers, mp).await {
        Ok(up) => up,
        Err(e) => return error_page(Some(&caller), e, &back),
    };
    let stored = match to {
        UploadTo::Txn(id) => crate::evidence::store_upload(state, &caller, id, up).await,
        UploadTo::Case(id) => crate::cases::store_upload(state, &caller, id, up).await,
    };
    match stored {
        Ok(ev) => uploaded(&caller, ev, &back),
        Err(e) => error_page(Some(&caller), e, &back),
    }
}

/// A page's multipart upload: length announced within the limit, the form read, its CSRF
/// token checked.
async fn page_upload(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    mp: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Option<crate::evidence::Upload>, ApiError> {
    let lang = caller.lang;
    crate::evidence::check_length(state, headers, lang)?;
    let mp = mp.map_err(|_| crate::evidence::not_multipart(lang))?;
    let limit = state.cfg().evidence_bytes_max;
    let (up, csrf) = crate::evidence::read_upload(lang, limit, mp).await?;
    caller.check_form_csrf(csrf.as_deref().unwrap_or(""))?;
    Ok(up)
}

/// The page after an upload.
fn uploaded(caller: &Caller, ev: crate::evidence::EvidenceView, back: &str) -> Response {
    message(
        Some(caller),
        caller.lang,
        true,
        tf(caller.lang, "msg.uploaded", &[ev.filename, ev.sha256]),
        String::new(),
        back,
    )
}
