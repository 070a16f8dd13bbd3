//! The web UI: server-rendered askama pages (zh-CN by default, English by the switch), our
//! own small CSS and JS. Pages call the same functions as the API, so a permission or a rule
//! is checked once, on the server. Every form carries the session's CSRF token; every
//! destructive one states its consequence and asks before it is sent (static/app.js).

use crate::api::{self, ApiQuery, AuditQuery, Id, ReceiptQuery, TxnQuery};
use crate::auth::{self, Caller, NewSession, blocking, cookie, same_secret, session_cookie};
use crate::catalog::{t, tf};
use crate::error::{ApiError, lang_of_headers};
use crate::review::{self, Action, RequestIn, RequestQuery};
use crate::state::AppState;
use crate::view::{BatchView, RequestView, TxnView, UserView};
use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use std::net::SocketAddr;
use suanpan_core::backoffice::{Permission, RequestStatus, StaffRole};
use suanpan_core::case::{CaseAction, CaseKind, CaseStatus};
use suanpan_core::{Amount, Lang, TxnKind, TxnStatus};
use suanpan_store::backoffice::Backoffice;

/// The login form's double-submit cookie (there is no session yet to hold a CSRF token).
const LOGIN_CSRF_COOKIE: &str = "sp_login";

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route("/totp/enrol", get(totp_page).post(totp_submit))
        .route("/lang/{lang}", get(switch_lang))
        .route("/dashboard", get(dashboard))
        .route("/txns", get(txns))
        .route("/txns/{id}", get(txn))
        .route("/txns/{id}/request", post(txn_request))
        .route("/txns/{id}/hide", post(txn_hide))
        .route("/review", get(review_page))
        .route("/review/{id}/{action}", post(review_action))
        .route("/batches", get(batches))
        .route("/audit", get(audit))
        .route("/channels", get(channels_page))
        .route("/users", get(users_page).post(users_add))
        .route("/users/{id}/{action}", post(user_action))
        .route("/channels/{id}/{action}", post(channel_action))
        .route("/evidence/{id}/removal", post(evidence_removal))
        .route("/removals/{id}/{action}", post(removal_action))
        .route("/txns/{id}/case", post(txn_case))
        .route("/cases", get(cases_page))
        .route("/cases/{id}", get(case_page))
        .route("/cases/{id}/links", post(case_link))
        .route("/cases/{id}/notes", post(case_note))
        .route("/cases/{id}/act/{action}", post(case_action))
        .route("/ops", get(ops_page))
        .route("/ops/backups", post(ops_backup))
        .route("/ops/backups/{name}/verify", post(ops_verify))
        .route("/ops/purge", post(ops_purge))
        .route(
            "/static/app.css",
            get(|| async { asset("text/css; charset=utf-8", include_str!("../static/app.css")) }),
        )
        .route(
            "/static/app.js",
            get(|| async {
                asset(
                    "text/javascript; charset=utf-8",
                    include_str!("../static/app.js"),
                )
            }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// Catalog lookups for templates.
pub struct Texts(pub Lang);

impl Texts {
    /// The text of `key`.
    pub fn get(&self, key: &str) -> String {
        t(self.0, key).to_owned()
    }
}

/// What the layout shows.
pub struct Base {
    t: Texts,
    html_lang: &'static str,
    title: String,
    section: &'static str,
    user: Option<UserView>,
    csrf: String,
    lang_href: String,
    can_batches: bool,
    can_audit: bool,
    can_users: bool,
    can_cases: bool,
    can_ops: bool,
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
        Base {
            t: Texts(lang),
            html_lang: if lang == Lang::Zh { "zh-CN" } else { "en" },
            title: t(lang, title_key).to_owned(),
            section,
            user: caller.map(|c| UserView::of(&c.user)),
            csrf: caller.and_then(|c| c.csrf.clone()).unwrap_or_default(),
            lang_href: format!("/lang/{other}?back={}", urlencode(path)),
            can_batches: caller.is_some_and(|c| c.user.role.allows(Permission::ViewBatches)),
            can_audit: caller.is_some_and(|c| c.user.role.allows(Permission::ViewAudit)),
            can_users: caller.is_some_and(|c| c.user.role.allows(Permission::ManageUsers)),
            can_cases: caller.is_some_and(|c| c.user.role.allows(Permission::ViewCases)),
            can_ops: caller.is_some_and(|c| c.user.role.allows(Permission::ManageBackups)),
        }
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

/// A page form that carries the CSRF token.
trait WithCsrf {
    fn csrf(&self) -> &str;
}

macro_rules! csrf_forms {
    ($($t:ty),*) => {$(
        impl WithCsrf for $t {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        }
    )*};
}

csrf_forms!(
    RequestForm,
    ReasonForm,
    CommentForm,
    TotpForm,
    ChannelForm,
    UserForm,
    UserActionForm,
    CaseForm,
    LinkForm,
    NoteForm,
    CsrfForm,
    PurgeForm
);

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
}

fn login_form(lang: Lang, error: Option<ApiError>, username: String) -> Response {
    let status = error.as_ref().map(|e| e.status).unwrap_or(StatusCode::OK);
    let token = auth::random_secret();
    let mut r = render(
        status,
        LoginPage {
            base: Base::new(lang, None, "", "login.title", "/login"),
            error,
            login_csrf: token.clone(),
            username,
        },
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LOGIN_CSRF_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600"
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn login_page(headers: HeaderMap) -> Response {
    login_form(lang_of_headers(&headers), None, String::new())
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
        return login_form(lang, Some(ApiError::invalid(lang, "form")), String::new());
    };
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same_secret(&expected, &f.csrf) {
        return login_form(
            lang,
            Some(ApiError::new(StatusCode::FORBIDDEN, lang, "auth.csrf", &[])),
            f.username,
        );
    }
    match auth::login(
        &state,
        lang,
        client,
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
        Err(e) => login_form(lang, Some(e), f.username),
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
#[template(path = "dashboard.html")]
struct DashboardPage {
    base: Base,
    day: String,
    sales: usize,
    volume: String,
    voids: usize,
    refunds: usize,
    pending: usize,
    by_hour: String,
    by_operator: String,
}

async fn dashboard(State(state): State<AppState>, caller: Result<Caller, ApiError>) -> Response {
    show(caller, "/txns", async |caller| {
        Ok(dashboard_page(&state, caller).await?)
    })
    .await
}

async fn dashboard_page(state: &AppState, caller: &Caller) -> Result<DashboardPage, ApiError> {
    caller.require(Permission::ViewTransactions)?;
    let lang = caller.lang;
    let policy = state.store().policy().clone();
    let zone = policy
        .zone()
        .map_err(|e| ApiError::invalid(lang, e.to_string()))?;
    let today = state.store().now().to_zoned(zone.clone());
    let start = today
        .date()
        .to_zoned(zone.clone())
        .map_err(|e| ApiError::invalid(lang, e.to_string()))?;
    let filter = suanpan_store::TxnFilter {
        from: Some(start.timestamp()),
        merchant: Some(caller.user.merchant_id.to_string()),
        limit: Some(suanpan_store::query::LIST_ROWS_MAX),
        ..Default::default()
    };
    let (store, merchant) = (state.store().clone(), caller.user.merchant_id.clone());
    let (rows, pending) = blocking(lang, move || {
        let rows = store.transactions(&filter)?;
        let pending = store
            .requests(&merchant, Some(RequestStatus::Pending), None, 500)?
            .len();
        Ok((rows, pending))
    })
    .await?;
    let day = Today::tally(&rows, &zone);
    let hour_items: Vec<(String, i64)> = day
        .hours
        .iter()
        .enumerate()
        .map(|(h, v)| (format!("{h:02}"), *v))
        .collect();
    let ops = day.by_operator();
    let no_data = t(lang, "dash.no_data").to_owned();
    let by_operator = if ops.is_empty() {
        format!("<p class=\"muted\">{}</p>", crate::svg::escape(&no_data))
    } else {
        crate::svg::bars(&ops, |v| v.to_string(), t(lang, "dash.by_operator"))
    };
    Ok(DashboardPage {
        base: Base::new(
            lang,
            Some(caller),
            "dashboard",
            "nav.dashboard",
            "/dashboard",
        ),
        day: today.date().to_string(),
        sales: day.sales,
        volume: day.volume.display(),
        voids: day.voids,
        refunds: day.refunds,
        pending,
        by_hour: crate::svg::bars(
            &hour_items,
            |v| Amount::from_fen(v).yuan(),
            t(lang, "dash.by_hour"),
        ),
        by_operator,
    })
}

/// The filter form's values, as typed.
#[derive(Default)]
struct FormQ {
    from: String,
    to: String,
    min: String,
    max: String,
    kind: String,
    status: String,
    voucher: String,
    rrn: String,
    operator: String,
    include_hidden: bool,
}

#[derive(Template)]
#[template(path = "txns.html")]
struct TxnsPage {
    base: Base,
    q: FormQ,
    kinds: Vec<(String, String)>,
    statuses: Vec<(String, String)>,
    rows: Vec<TxnView>,
    error: Option<ApiError>,
    can_hidden: bool,
    can_export: bool,
    export_query: String,
    first_query: String,
    has_cursor: bool,
    next_query: Option<String>,
}

fn query_string(q: &TxnQuery, cursor: Option<i64>) -> String {
    let mut parts = Vec::new();
    let fields = [
        ("from", &q.from),
        ("to", &q.to),
        ("min", &q.min),
        ("max", &q.max),
        ("kind", &q.kind),
        ("status", &q.status),
        ("method", &q.method),
        ("voucher", &q.voucher),
        ("rrn", &q.rrn),
        ("operator", &q.operator),
        ("terminal", &q.terminal),
    ];
    for (k, v) in fields {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            parts.push(format!("{k}={}", urlencode(v)));
        }
    }
    if q.include_hidden == Some(true) {
        parts.push("include_hidden=true".into());
    }
    if let Some(c) = cursor {
        parts.push(format!("cursor={c}"));
    }
    parts.join("&")
}

async fn txns(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    q: Result<ApiQuery<TxnQuery>, ApiError>,
) -> Response {
    show(caller, "/dashboard", async |caller| {
        let lang = caller.lang;
        let (q, mut error) = match q {
            Ok(ApiQuery(q)) => (q, None),
            Err(e) => (TxnQuery::default(), Some(e)),
        };
        let mut rows = Vec::new();
        let mut next = None;
        if error.is_none() {
            match api::page(&state, caller, &q).await {
                Ok(p) => {
                    next = p.next_cursor;
                    rows = p.items;
                }
                Err(e) if e.status == StatusCode::FORBIDDEN && q.include_hidden != Some(true) => {
                    return Err(e.into());
                }
                Err(e) => error = Some(e),
            }
        }
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let kinds = [
            "sale",
            "void",
            "refund",
            "preauth",
            "preauth_void",
            "completion",
            "completion_void",
            "reversal",
        ];
        let statuses = [
            "approved",
            "declined",
            "voided",
            "partially_refunded",
            "refunded",
            "reversed",
            "completed",
            "expired",
        ];
        let path = format!("/txns?{}", query_string(&q, q.cursor));
        Ok(TxnsPage {
            base: Base::of(caller, "txns", "nav.transactions", &path),
            q: FormQ {
                from: opt(&q.from),
                to: opt(&q.to),
                min: opt(&q.min),
                max: opt(&q.max),
                kind: opt(&q.kind),
                status: opt(&q.status),
                voucher: opt(&q.voucher),
                rrn: opt(&q.rrn),
                operator: opt(&q.operator),
                include_hidden: q.include_hidden == Some(true),
            },
            kinds: options(lang, Some("—".to_owned()), "kind", kinds),
            statuses: options(lang, Some("—".to_owned()), "tstatus", statuses),
            rows,
            error,
            can_hidden: caller.user.role.allows(Permission::ViewHidden),
            can_export: caller.user.role.allows(Permission::Export),
            export_query: query_string(&q, None),
            first_query: query_string(&q, None),
            has_cursor: q.cursor.is_some(),
            next_query: next.map(|c| query_string(&q, Some(c))),
        })
    })
    .await
}

#[derive(Template)]
#[template(path = "txn.html")]
struct TxnPage {
    base: Base,
    d: api::TxnDetail,
    receipt: String,
    can_void: bool,
    can_refund: bool,
    can_hide: bool,
    can_upload: bool,
    can_remove_evidence: bool,
    can_open_case: bool,
    case_kinds: Vec<(String, String)>,
    refundable_yuan: String,
}

async fn txn(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Id, ApiError>,
) -> Response {
    show(caller, "/txns", async |caller| {
        let Id(id) = id?;
        let d = api::detail(&state, caller, id).await?;
        let receipt = api::receipt_text(&state, caller, id, &ReceiptQuery::default())
            .await
            .unwrap_or_default();
        let x = &d.transaction;
        let role = caller.user.role;
        let open_request = d
            .requests
            .iter()
            .any(|q| matches!(q.status.as_str(), "pending" | "approved" | "executing"));
        let may_request = role.allows(Permission::RequestVoidRefund) && !open_request && !x.hidden;
        let voidable = matches!(x.kind.as_str(), "sale" | "completion")
            && x.status == "approved"
            && !x.settled;
        Ok(TxnPage {
            base: Base::of(caller, "txns", "txn.detail", &format!("/txns/{id}")),
            can_void: may_request && voidable,
            can_refund: may_request && x.refundable.fen > 0,
            can_hide: role.allows(Permission::Hide) && !x.hidden,
            can_upload: role.allows(Permission::RequestVoidRefund),
            can_remove_evidence: role.allows(Permission::RequestEvidenceRemoval),
            can_open_case: role.allows(Permission::ManageCases) && !x.hidden,
            case_kinds: options(
                caller.lang,
                None,
                "case.kind",
                CaseKind::ALL.iter().map(|k| k.as_str()),
            ),
            refundable_yuan: Amount::from_fen(x.refundable.fen).yuan(),
            receipt,
            d,
        })
    })
    .await
}

#[derive(serde::Deserialize)]
struct RequestForm {
    csrf: String,
    kind: String,
    amount: Option<String>,
    reason: String,
    customer_consent: Option<String>,
}

async fn txn_request(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<i64>,
    form: FormIn<RequestForm>,
) -> Response {
    form_action(caller, form, &format!("/txns/{id}"), async |caller, f| {
        let lang = caller.lang;
        let amount = match f.amount.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            None => None,
            Some(a) => match Amount::from_yuan_str(a) {
                Ok(v) => Some(crate::json::AmountIn(v)),
                Err(_) => {
                    let args = [a.to_owned()];
                    let code = StatusCode::BAD_REQUEST;
                    return Err(ApiError::new(code, lang, "json.amount_invalid", &args));
                }
            },
        };
        let input = RequestIn {
            kind: f.kind,
            transaction_id: id,
            amount,
            reason: f.reason,
            customer_consent: f.customer_consent.is_some(),
        };
        let q = review::submit(&state, caller, input).await?;
        let args = [q.id.to_string(), q.status_text];
        Ok(Done::back(tf(lang, "msg.submitted", &args)))
    })
    .await
}

#[derive(serde::Deserialize)]
struct ReasonForm {
    csrf: String,
    reason: String,
}

async fn txn_hide(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<i64>,
    form: FormIn<ReasonForm>,
) -> Response {
    form_action(caller, form, &format!("/txns/{id}"), async |caller, f| {
        api::hide(&state, caller, id, f.reason).await?;
        let text = tf(caller.lang, "msg.hidden", &[id.to_string()]);
        Ok(Done::next(text, "/txns".to_owned()))
    })
    .await
}

/// One row of the queue with what the viewer may do on it.
struct QueueRow {
    view: RequestView,
    can_review: bool,
    can_cancel: bool,
    can_undo: bool,
}

/// One evidence removal of the queue with whether the viewer may review it.
struct RemovalRow {
    view: crate::removals::RemovalView,
    can_review: bool,
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage {
    base: Base,
    tabs: Vec<(String, String)>,
    status: String,
    rows: Vec<QueueRow>,
    removals: Vec<RemovalRow>,
}

async fn review_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    q: Result<ApiQuery<RequestQuery>, ApiError>,
) -> Response {
    show(caller, "/dashboard", async |caller| {
        let lang = caller.lang;
        let ApiQuery(q) = q.map_err(back_to("/review"))?;
        let status = q.status.clone().unwrap_or_default();
        let views = review::requests(&state, caller, &q).await?;
        // Evidence removals share the queue; their statuses are pending, approved, rejected.
        let removal_status = matches!(status.as_str(), "" | "pending" | "approved" | "rejected")
            .then_some(status.as_str());
        let removals = match removal_status {
            Some(st) => crate::removals::removals(&state, caller, Some(st)).await?,
            None => Vec::new(),
        };
        let me = caller.user.username.clone();
        let role = caller.user.role;
        let removals = removals
            .into_iter()
            .map(|v| RemovalRow {
                can_review: v.status == "pending"
                    && v.submitted_by != me
                    && role.allows(Permission::Review),
                view: v,
            })
            .collect();
        let rows = views
            .into_iter()
            .map(|v| QueueRow {
                can_review: v.status == "pending"
                    && v.submitted_by != me
                    && role.allows(Permission::Review),
                can_cancel: v.status == "pending"
                    && (v.submitted_by == me || role == StaffRole::Admin),
                can_undo: v.status == "approved" && v.reviewed_by.as_deref() == Some(me.as_str()),
                view: v,
            })
            .collect();
        let statuses = [
            "pending",
            "approved",
            "executed",
            "failed",
            "rejected",
            "cancelled",
            "undone",
        ];
        let tabs = options(
            lang,
            Some(t(lang, "rev.all").to_owned()),
            "status",
            statuses,
        );
        let path = with_status("/review", &status);
        Ok(ReviewPage {
            base: Base::of(caller, "review", "nav.review", &path),
            tabs,
            status,
            rows,
            removals,
        })
    })
    .await
}

#[derive(serde::Deserialize)]
struct CommentForm {
    csrf: String,
    #[serde(default)]
    comment: String,
}

async fn review_action(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path((id, action)): Path<(i64, String)>,
    form: FormIn<CommentForm>,
) -> Response {
    form_action(caller, form, "/review", async |caller, f| {
        let lang = caller.lang;
        let action = match action.as_str() {
            "approve" => Action::Approve,
            "reject" => Action::Reject,
            "cancel" => Action::Cancel,
            "undo" => Action::Undo,
            other => return Err(ApiError::invalid(lang, format!("action {other:?}"))),
        };
        let q = review::act(&state, caller, id, action, &f.comment).await?;
        let text = tf(lang, "msg.reviewed", &[q.id.to_string(), q.status_text]);
        Ok(Done::next(text, format!("/txns/{}", q.transaction_id)))
    })
    .await
}

#[derive(Template)]
#[template(path = "batches.html")]
struct BatchesPage {
    base: Base,
    rows: Vec<BatchView>,
}

async fn batches(State(state): State<AppState>, caller: Result<Caller, ApiError>) -> Response {
    show(caller, "/dashboard", async |caller| {
        Ok(BatchesPage {
            rows: api::batch_list(&state, caller).await?,
            base: Base::of(caller, "batches", "nav.batches", "/batches"),
        })
    })
    .await
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    base: Base,
    rows: Vec<crate::view::AuditView>,
    verdict: Option<String>,
    verdict_ok: bool,
}

#[derive(serde::Deserialize)]
struct AuditPageQuery {
    verify: Option<bool>,
}

async fn audit(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    axum::extract::Query(q): axum::extract::Query<AuditPageQuery>,
) -> Response {
    show(caller, "/dashboard", async |caller| {
        let lang = caller.lang;
        let rows = api::audit_entries(&state, caller, &AuditQuery::default()).await?;
        let (mut verdict, mut verdict_ok) = (None, false);
        if q.verify == Some(true) {
            let v = api::verify(&state, caller)
                .await
                .map_err(back_to("/audit"))?;
            if v.intact {
                verdict = Some(tf(lang, "audit.ok", &[v.entries.to_string()]));
                verdict_ok = true;
            } else {
                let at = v.first_broken.unwrap_or(0).to_string();
                verdict = Some(tf(
                    lang,
                    "audit.broken",
                    &[at, v.problem.unwrap_or_default()],
                ));
            }
        }
        Ok(AuditPage {
            base: Base::of(caller, "audit", "nav.audit", "/audit"),
            rows,
            verdict,
            verdict_ok,
        })
    })
    .await
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

#[derive(Template)]
#[template(path = "channels.html")]
struct ChannelsPage {
    base: Base,
    rows: Vec<crate::channels::ChannelView>,
    can_manage: bool,
}

async fn channels_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
) -> Response {
    show(caller, "/dashboard", async |caller| {
        Ok(ChannelsPage {
            rows: crate::channels::channels(&state, caller).await?,
            base: Base::of(caller, "channels", "nav.channels", "/channels"),
            can_manage: caller.user.role.allows(Permission::ManageChannels),
        })
    })
    .await
}

#[derive(serde::Deserialize)]
struct ChannelForm {
    csrf: String,
    password: String,
    reason: String,
}

async fn channel_action(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path((id, action)): Path<(String, String)>,
    form: FormIn<ChannelForm>,
) -> Response {
    form_action(caller, form, "/channels", async |caller, f| {
        let lang = caller.lang;
        let action = crate::channels::parse_action(lang, &action)?;
        let input = crate::channels::ChannelIn {
            password: f.password,
            reason: f.reason,
        };
        let c = crate::channels::set(&state, caller, &id, action, input).await?;
        let key = match (c.removed, c.enabled) {
            (true, _) => "ch.removed",
            (false, true) => "ch.enabled",
            (false, false) => "ch.disabled",
        };
        let state_text = t(lang, key).to_owned();
        Ok(Done::back(tf(lang, "msg.channel", &[c.name, state_text])))
    })
    .await
}

#[derive(Template)]
#[template(path = "ops.html")]
struct OpsPage {
    base: Base,
    rows: Vec<crate::ops::BackupView>,
    can_purge: bool,
}

/// 运维: the backups (make one, verify one) and the purge form, for admins.
async fn ops_page(State(state): State<AppState>, caller: Result<Caller, ApiError>) -> Response {
    show(caller, "/dashboard", async |caller| {
        Ok(OpsPage {
            rows: crate::ops::backups(&state, caller).await?,
            base: Base::of(caller, "ops", "nav.ops", "/ops"),
            can_purge: caller.user.role.allows(Permission::Purge),
        })
    })
    .await
}

async fn ops_backup(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    form: FormIn<CsrfForm>,
) -> Response {
    form_action(caller, form, "/ops", async |caller, _| {
        let b = crate::ops::make(&state, caller).await?;
        let args = [b.name, b.size, b.evidence_files.to_string()];
        Ok(Done::back(tf(caller.lang, "msg.backup_created", &args)))
    })
    .await
}

async fn ops_verify(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(name): Path<String>,
    form: FormIn<CsrfForm>,
) -> Response {
    form_action(caller, form, "/ops", async |caller, _| {
        let b = crate::ops::check(&state, caller, &name).await?;
        Ok(Done::back(tf(
            caller.lang,
            "msg.backup_verified",
            &[b.name],
        )))
    })
    .await
}

#[derive(serde::Deserialize)]
struct PurgeForm {
    csrf: String,
    password: String,
    reason: String,
    before: String,
}

async fn ops_purge(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    form: FormIn<PurgeForm>,
) -> Response {
    form_action(caller, form, "/ops", async |caller, f| {
        let input = crate::ops::PurgeIn {
            password: f.password,
            reason: f.reason,
            before: f.before,
        };
        let p = crate::ops::run_purge(&state, caller, input).await?;
        let args = [p.purged.to_string(), p.before, p.backup];
        Ok(Done::back(tf(caller.lang, "msg.purged", &args)))
    })
    .await
}

/// The evidence upload form (multipart; its CSRF token is a field of the same body).
pub(crate) async fn txn_evidence(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    mp: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    evidence_page(&state, caller, &headers, mp, UploadTo::Txn(id)).await
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
    let mp = mp.map_err(|_| ApiError::invalid(lang, "form"))?;
    let (up, csrf) = crate::evidence::read_upload(lang, mp).await?;
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

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    base: Base,
    rows: Vec<crate::users::ManagedUser>,
    roles: Vec<&'static str>,
    me: i64,
}

async fn users_page(State(state): State<AppState>, caller: Result<Caller, ApiError>) -> Response {
    show(caller, "/dashboard", async |caller| {
        Ok(UsersPage {
            rows: crate::users::users(&state, caller).await?,
            base: Base::of(caller, "users", "nav.users", "/users"),
            roles: StaffRole::ALL.iter().map(|r| r.as_str()).collect(),
            me: caller.user.id,
        })
    })
    .await
}

#[derive(serde::Deserialize)]
struct UserForm {
    csrf: String,
    username: String,
    name: String,
    role: String,
    #[serde(default)]
    operator_no: String,
    password: String,
}

async fn users_add(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    form: FormIn<UserForm>,
) -> Response {
    form_action(caller, form, "/users", async |caller, f| {
        let input = crate::users::UserIn {
            username: f.username,
            name: f.name,
            role: f.role,
            operator_no: Some(f.operator_no),
            password: f.password,
        };
        let u = crate::users::add(&state, caller, input).await?;
        let args = [u.user.username, u.user.role];
        Ok(Done::back(tf(caller.lang, "msg.user_added", &args)))
    })
    .await
}

#[derive(serde::Deserialize)]
struct UserActionForm {
    csrf: String,
    name: Option<String>,
    role: Option<String>,
    operator_no: Option<String>,
    password: Option<String>,
}

/// The users page's per-user forms: `edit` (name, role, operator no.), `disable`, `enable`,
/// `password`, `totp-reset`; each asks before it is sent and answers with a clear message.
async fn user_action(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path((id, action)): Path<(i64, String)>,
    form: FormIn<UserActionForm>,
) -> Response {
    form_action(caller, form, "/users", async |caller, f| {
        let lang = caller.lang;
        let change = if action == "edit" {
            crate::users::Change::Edit(crate::users::UserEditIn {
                name: f.name,
                role: f.role,
                operator_no: Some(f.operator_no.unwrap_or_default()),
            })
        } else {
            let input = crate::users::UserActionIn {
                password: f.password.filter(|_| action == "password"),
            };
            crate::users::Change::parse(lang, &action, input)?
        };
        let u = crate::users::change(&state, caller, id, change).await?;
        let done = t(lang, &format!("user.done.{action}")).to_owned();
        Ok(Done::back(tf(
            lang,
            "msg.user_changed",
            &[u.user.username, done],
        )))
    })
    .await
}

/// The evidence item's removal form on the transaction page.
async fn evidence_removal(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    form: FormIn<ReasonForm>,
) -> Response {
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.find("/txns/").map(|i| r[i..].to_owned()))
        .unwrap_or_else(|| "/review".to_owned());
    form_action(caller, form, &back, async |caller, f| {
        let r = crate::removals::submit(&state, caller, id, &f.reason).await?;
        let args = [r.id.to_string(), r.filename];
        let text = tf(caller.lang, "msg.removal_submitted", &args);
        Ok(Done::next(text, format!("/txns/{}", r.transaction_id)))
    })
    .await
}

/// The review page's approve/reject forms for evidence removals.
async fn removal_action(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path((id, action)): Path<(i64, String)>,
    form: FormIn<CommentForm>,
) -> Response {
    form_action(caller, form, "/review", async |caller, f| {
        let lang = caller.lang;
        let approve = match action.as_str() {
            "approve" => true,
            "reject" => false,
            other => return Err(ApiError::invalid(lang, format!("action {other:?}"))),
        };
        let r = crate::removals::review(&state, caller, id, approve, &f.comment).await?;
        let args = [r.id.to_string(), r.filename, r.status_text];
        let text = tf(lang, "msg.removal_reviewed", &args);
        Ok(Done::next(text, format!("/txns/{}", r.transaction_id)))
    })
    .await
}

/// Today's figures for the dashboard: presentation only (settlement totals are the core's).
#[derive(Debug)]
struct Today {
    sales: usize,
    volume: Amount,
    voids: usize,
    refunds: usize,
    /// Sales volume (fen) per local hour.
    hours: [i64; 24],
    /// Approved voids and refunds per operator: the void-abuse signal.
    credits_by_operator: std::collections::BTreeMap<String, i64>,
}

impl Today {
    fn tally(rows: &[suanpan_core::Transaction], zone: &jiff::tz::TimeZone) -> Today {
        let mut d = Today {
            sales: 0,
            volume: Amount::ZERO,
            voids: 0,
            refunds: 0,
            hours: [0; 24],
            credits_by_operator: Default::default(),
        };
        for t in rows.iter().filter(|t| !t.training) {
            let sale = matches!(t.kind, TxnKind::Sale | TxnKind::Completion)
                && !matches!(t.status, TxnStatus::Declined | TxnStatus::Reversed);
            if sale {
                d.sales += 1;
                d.volume = d.volume.checked_add(t.amount).unwrap_or(d.volume);
                let h = usize::try_from(t.created_at.to_zoned(zone.clone()).hour())
                    .unwrap_or(0)
                    .min(23);
                d.hours[h] += t.amount.fen();
            }
            let credit = matches!(
                t.kind,
                TxnKind::Void | TxnKind::CompletionVoid | TxnKind::Refund
            ) && t.status == TxnStatus::Approved;
            if credit {
                if t.kind == TxnKind::Refund {
                    d.refunds += 1;
                } else {
                    d.voids += 1;
                }
                *d.credits_by_operator
                    .entry(t.operator.to_string())
                    .or_default() += 1;
            }
        }
        d
    }

    /// Operators by their voids and refunds, most first.
    fn by_operator(&self) -> Vec<(String, i64)> {
        let mut ops: Vec<(String, i64)> = self
            .credits_by_operator
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        ops.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        ops
    }
}

#[derive(serde::Deserialize)]
struct CaseForm {
    csrf: String,
    kind: String,
    note: String,
}

/// 开立案件 from a transaction's page.
async fn txn_case(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<i64>,
    form: FormIn<CaseForm>,
) -> Response {
    form_action(caller, form, &format!("/txns/{id}"), async |caller, f| {
        let input = crate::cases::CaseIn {
            transaction_id: id,
            kind: f.kind,
            note: f.note,
        };
        let d = crate::cases::open(&state, caller, input).await?;
        let args = [d.case.id.to_string(), d.case.kind_text];
        let text = tf(caller.lang, "msg.case_opened", &args);
        Ok(Done::next(text, format!("/cases/{}", d.case.id)))
    })
    .await
}

#[derive(Template)]
#[template(path = "cases.html")]
struct CasesPage {
    base: Base,
    tabs: Vec<(String, String)>,
    status: String,
    rows: Vec<crate::cases::CaseView>,
}

async fn cases_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    q: Result<ApiQuery<crate::cases::CaseQuery>, ApiError>,
) -> Response {
    show(caller, "/dashboard", async |caller| {
        let lang = caller.lang;
        let ApiQuery(q) = q.map_err(back_to("/cases"))?;
        let rows = crate::cases::cases(&state, caller, &q).await?;
        let status = q.status.clone().unwrap_or_default();
        let all = Some(t(lang, "case.all").to_owned());
        let statuses = CaseStatus::ALL.iter().map(|s| s.as_str());
        let tabs = options(lang, all, "case.status", statuses);
        let path = with_status("/cases", &status);
        Ok(CasesPage {
            base: Base::of(caller, "cases", "nav.cases", &path),
            tabs,
            status,
            rows,
        })
    })
    .await
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    base: Base,
    d: crate::cases::CaseDetail,
    can_manage: bool,
    /// Read by the shared `evidence_list.html`.
    can_remove_evidence: bool,
    roles: Vec<(String, String)>,
}

async fn case_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Id, ApiError>,
) -> Response {
    show(caller, "/cases", async |caller| {
        let Id(id) = id?;
        let d = crate::cases::detail(&state, caller, id).await?;
        let roles = suanpan_core::case::LinkRole::ALL
            .iter()
            .rev()
            .map(|r| r.as_str());
        let roles = options(caller.lang, None, "case.role", roles);
        Ok(CasePage {
            base: Base::of(caller, "cases", "case.detail", &format!("/cases/{id}")),
            can_manage: caller.user.role.allows(Permission::ManageCases),
            can_remove_evidence: caller.user.role.allows(Permission::RequestEvidenceRemoval),
            roles,
            d,
        })
    })
    .await
}

#[derive(serde::Deserialize)]
struct LinkForm {
    csrf: String,
    transaction_id: String,
    role: String,
}

async fn case_link(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<i64>,
    form: FormIn<LinkForm>,
) -> Response {
    form_action(caller, form, &format!("/cases/{id}"), async |caller, f| {
        let Ok(txn) = f.transaction_id.trim().parse::<i64>() else {
            let what = format!("transaction_id {:?}", f.transaction_id);
            return Err(ApiError::invalid(caller.lang, what));
        };
        let input = crate::cases::LinkIn {
            transaction_id: txn,
            role: Some(f.role),
        };
        let d = crate::cases::add_link(&state, caller, id, input).await?;
        Ok(case_changed(caller, d))
    })
    .await
}

#[derive(serde::Deserialize)]
struct NoteForm {
    csrf: String,
    #[serde(default)]
    note: String,
}

async fn case_note(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<i64>,
    form: FormIn<NoteForm>,
) -> Response {
    form_action(caller, form, &format!("/cases/{id}"), async |caller, f| {
        let d = crate::cases::add_note(&state, caller, id, &f.note).await?;
        Ok(case_changed(caller, d))
    })
    .await
}

async fn case_action(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path((id, action)): Path<(i64, String)>,
    form: FormIn<NoteForm>,
) -> Response {
    form_action(caller, form, &format!("/cases/{id}"), async |caller, f| {
        let Some(action) = CaseAction::parse(&action) else {
            return Err(ApiError::invalid(caller.lang, format!("action {action:?}")));
        };
        let d = crate::cases::act(&state, caller, id, action, &f.note).await?;
        Ok(case_changed(caller, d))
    })
    .await
}

/// The message after a change to a case: its new status.
fn case_changed(caller: &Caller, d: crate::cases::CaseDetail) -> Done {
    let args = [d.case.id.to_string(), d.case.status_text];
    Done::back(tf(caller.lang, "msg.case_changed", &args))
}

/// Evidence uploaded from a case's page (multipart, like a transaction's).
pub(crate) async fn case_evidence(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    mp: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    evidence_page(&state, caller, &headers, mp, UploadTo::Case(id)).await
}
