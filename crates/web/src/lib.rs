//! Suanpan's merchant back-office (issue 5): the REST API under `/api/v1` (JSON, OpenAPI at
//! `/api/v1/openapi.json`) and the server-rendered web UI (askama, zh-CN first), both on the
//! same store and the same core rules as the 8583 host and the CLI.
//!
//! **Architecture Invariant:** this crate decides no rule. Who may do what and the
//! maker-checker review are `suanpan_core::backoffice`; money moves only through the
//! store's typed commands (`Void` / `Refund` / `Purchase`, by `AskExt::ask`), i.e. the use
//! cases and `suanpan_core::rules`. Handlers parse input, authenticate, ask, persist, and answer.
#![deny(missing_docs)]

mod acquirer;
mod acquirer_activity;
mod acquirer_channels;
mod alerts;
mod api;
mod auth;
mod cases;
mod catalog;
mod channels;
mod client;
mod compliance;
mod error;
mod evidence;
mod json;
mod kyc;
mod openapi;
mod ops;
mod pause;
mod removals;
mod review;
mod risk_settings;
mod state;
mod svg;
mod terminals;
pub mod tls;
mod tmk;
mod ui;
mod users;
mod view;
mod webhooks;
mod words;

pub use review::STALE_CLAIM_SECONDS;
pub use state::{AppState, WebConfig};
pub use ui::{group_digits, sweep_left_files};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use suanpan_store::backoffice::Backoffice;
use suanpan_store::{Fingerprinter, Store};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The whole HTTP surface: API, UI, static assets, plus `extra` routes (the host's
/// `/healthz` and `/metrics`).
pub fn router(state: AppState, extra: Router) -> Router {
    let body_max = state.cfg().body_bytes_max;
    let evidence_max = state.cfg().evidence_bytes_max;
    Router::new()
        .merge(api::routes())
        .merge(acquirer::routes(&state))
        .merge(acquirer_activity::routes(&state))
        .merge(kyc::routes(&state))
        .merge(acquirer_channels::routes(&state))
        .merge(terminals::routes(&state))
        .merge(tmk::routes(&state))
        .merge(ui::acquirer_routes(&state))
        .merge(review::routes())
        .merge(channels::routes())
        .merge(users::routes())
        .merge(ops::routes())
        .merge(webhooks::routes())
        .merge(evidence::routes(evidence_max))
        .merge(removals::routes())
        .merge(cases::routes(evidence_max))
        .merge(alerts::routes())
        .merge(risk_settings::routes(&state))
        .merge(compliance::routes(&state))
        .merge(pause::routes())
        .merge(auth::routes())
        .merge(ui::routes())
        .merge(openapi::routes())
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(body_max))
        .layer(compression())
        .with_state(state)
        .merge(extra)
}

/// The acquirer tier's pages and routes do not exist for a merchant's user: 404 before any
/// body or path is read. The handlers' own gate (`acquirer::gate`) runs after their
/// extractors, so a malformed body would be answered 400 first and confirm the route.
/// A method no route has stays the router's 405 for everyone: the paths are public in the
/// OpenAPI document; the gate hides what they serve.
/// The gate as a layer of one route's handlers (`MethodRouter::route_layer`): it runs only
/// for a method the route has, so any other method stays the router's 405.
pub(crate) fn gate(state: &AppState) -> Gate {
    axum::middleware::from_fn_with_state(state.clone(), gate_boxed as GateFn)
}

/// [`acquirer_paths`] as a nameable function.
type GateFn = fn(
    axum::extract::State<AppState>,
    axum::extract::Request,
    axum::middleware::Next,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = axum::response::Response> + Send>,
>;

/// The layer [`gate`] makes.
pub(crate) type Gate = axum::middleware::FromFnLayer<
    GateFn,
    AppState,
    (axum::extract::State<AppState>, axum::extract::Request),
>;

fn gate_boxed(
    state: axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = axum::response::Response> + Send>> {
    Box::pin(acquirer_paths(state, req, next))
}

async fn acquirer_paths(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::extract::FromRequestParts;
    use axum::response::IntoResponse;
    let (mut parts, body) = req.into_parts();
    if let Ok(caller) = auth::Caller::from_request_parts(&mut parts, &state).await {
        if caller.user.role.tier() != suanpan_core::backoffice::Tier::Acquirer {
            return error::not_found(parts.headers).await.into_response();
        }
        // The handler's own `Caller` extractor takes this one instead of authenticating again.
        parts.extensions.insert(caller);
    }
    next.run(axum::extract::Request::from_parts(parts, body))
        .await
}

/// Pages, JSON, CSV and static files go out gzip- or brotli-compressed when the client
/// accepts it. Not: tiny bodies and images (tower-http's defaults), and files that are
/// already compressed or streamed by range — evidence videos, PDFs, zip packs, XLSX.
fn compression()
-> tower_http::compression::CompressionLayer<impl tower_http::compression::Predicate> {
    use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
    let predicate = DefaultPredicate::new()
        .and(NotForContentType::const_new("video/"))
        .and(NotForContentType::const_new("application/pdf"))
        .and(NotForContentType::const_new("application/zip"))
        .and(NotForContentType::const_new(
            "application/vnd.openxmlformats",
        ));
    tower_http::compression::CompressionLayer::new().compress_when(predicate)
}

/// A running back-office.
pub struct WebRunning {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Whether it serves HTTPS (a certificate and key were configured).
    pub tls: bool,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
    executor: JoinHandle<()>,
}

impl WebRunning {
    /// The back-office's address as a browser opens it.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}/", self.addr)
    }

    /// Stops accepting, finishes requests in flight, stops the review executor.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.executor.abort();
        let _ = self.server.await;
    }
}

/// How long requests in flight may take to finish at shutdown under TLS.
const TLS_SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// The TLS configuration when `tls_cert` and `tls_key` are both set; either alone is a
/// configuration mistake, refused rather than silently served in clear text. `start` calls
/// it; callers may call it first to refuse a bad configuration before anything else starts.
pub fn tls_config(cfg: &WebConfig) -> anyhow::Result<Option<Arc<rustls::ServerConfig>>> {
    match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(cert), Some(key)) => Ok(Some(tls::server_config(cert, key)?)),
        (None, None) => Ok(None),
        _ => anyhow::bail!(
            "TLS 需要同时配置证书和私钥（tls_cert 与 tls_key）/ TLS needs both tls_cert and tls_key"
        ),
    }
}

/// Marks every cookie `Secure` (sessions, the login form's CSRF cookie, the language
/// choice), so a browser never sends them over plain HTTP.
async fn secure_cookies(mut resp: axum::response::Response) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let cookies: Vec<HeaderValue> = resp
        .headers_mut()
        .remove(header::SET_COOKIE)
        .into_iter()
        .collect();
    let headers = resp.headers_mut();
    for v in cookies {
        let secured = match v.to_str() {
            Ok(s) if !s.contains("; Secure") => {
                HeaderValue::from_str(&format!("{s}; Secure")).unwrap_or(v)
            }
            _ => v,
        };
        headers.append(header::SET_COOKIE, secured);
    }
    resp
}

/// Binds `cfg.http` and serves the back-office on either backend (over TLS when
/// `tls_cert`/`tls_key` are set); also starts the executor that runs approved requests once
/// their grace window has passed. `data_dir` is the node's data directory (evidence files,
/// unless `cfg.evidence_dir` names another folder). No link to a network upstream: a
/// refund of a sale it decided fails in words (see [`start_with_upstream`]).
pub async fn start(
    store: Arc<dyn Store>,
    fingerprinter: Fingerprinter,
    cfg: WebConfig,
    data_dir: &Path,
    extra: Router,
) -> anyhow::Result<WebRunning> {
    let inline = suanpan_service::upstream::Upstream::Inline;
    start_with_upstream(store, fingerprinter, cfg, data_dir, extra, inline).await
}

/// As [`start`], with the process's upstream: the review executor sends the refund of a
/// sale the network upstream decided through it (`serve --upstream`).
pub async fn start_with_upstream(
    store: Arc<dyn Store>,
    fingerprinter: Fingerprinter,
    mut cfg: WebConfig,
    data_dir: &Path,
    extra: Router,
    upstream: suanpan_service::upstream::Upstream,
) -> anyhow::Result<WebRunning> {
    use anyhow::Context;
    let tls = tls_config(&cfg)?;
    client::TrustedProxies::parse(&cfg.trusted_proxies).map_err(|bad| {
        anyhow::anyhow!(
            "trusted_proxies 中的 {bad:?} 不是 IP 地址或网段 / {bad:?} in trusted_proxies is not an IP address or CIDR"
        )
    })?;
    if tls.is_some() {
        cfg.secure_cookies = true;
    }
    store
        .ensure_backoffice_schema()
        .context("preparing the back-office tables")?;
    let listener = tokio::net::TcpListener::bind(&cfg.http)
        .await
        .with_context(|| format!("binding the back-office HTTP address {}", cfg.http))?;
    let addr = listener.local_addr()?;
    let secure = cfg.secure_cookies;
    // Exports a stopped server was writing: their jobs are gone with it.
    ui::sweep_left_files(data_dir);
    let state = AppState::new(store, fingerprinter, cfg, data_dir, upstream);
    let executor = tokio::spawn(review::executor_loop(state.clone()));
    let mut app = router(state, extra);
    if secure {
        app = app.layer(axum::middleware::map_response(secure_cookies));
    }
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let (stop, stopped) = oneshot::channel::<()>();
    let is_tls = tls.is_some();
    let server = match tls {
        None => tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::error!("back-office HTTP server stopped: {e}");
            }
        }),
        Some(tls) => {
            let handle = axum_server::Handle::new();
            let server = axum_server::from_tcp_rustls(
                listener.into_std()?,
                axum_server::tls_rustls::RustlsConfig::from_config(tls),
            )?
            .handle(handle.clone());
            tokio::spawn(async move {
                tokio::spawn(async move {
                    let _ = stopped.await;
                    handle.graceful_shutdown(Some(TLS_SHUTDOWN_GRACE));
                });
                if let Err(e) = server.serve(app).await {
                    tracing::error!("back-office HTTPS server stopped: {e}");
                }
            })
        }
    };
    let scheme = if is_tls { "https" } else { "http" };
    tracing::info!("back-office listening on {scheme}://{addr}");
    Ok(WebRunning {
        addr,
        tls: is_tls,
        stop: Some(stop),
        server,
        executor,
    })
}
