//! Suanpan's merchant back-office (issue 5): the REST API under `/api/v1` (JSON, OpenAPI at
//! `/api/v1/openapi.json`) and the server-rendered web UI (askama, zh-CN first), both on the
//! same store and the same core rules as the 8583 host and the CLI.
//!
//! **Architecture Invariant:** this crate decides no rule. Who may do what and the
//! maker-checker review are `suanpan_core::backoffice`; money moves only through
//! `Store::execute` (`Command::Void` / `Refund` / `Purchase`), i.e. the engine and
//! `suanpan_core::rules`. Handlers parse input, authenticate, ask, persist, and answer.
#![deny(missing_docs)]

mod api;
mod auth;
mod catalog;
mod channels;
mod error;
mod evidence;
mod json;
mod openapi;
mod review;
mod state;
mod svg;
mod ui;
mod users;
mod view;

pub use state::{AppState, WebConfig};

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
        .merge(review::routes())
        .merge(channels::routes())
        .merge(users::routes())
        .merge(evidence::routes(evidence_max))
        .merge(auth::routes())
        .merge(ui::routes())
        .merge(openapi::routes())
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(body_max))
        .with_state(state)
        .merge(extra)
}

/// A running back-office.
pub struct WebRunning {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
    executor: JoinHandle<()>,
}

impl WebRunning {
    /// Stops accepting, finishes requests in flight, stops the review executor.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.executor.abort();
        let _ = self.server.await;
    }
}

/// Binds `cfg.http` and serves the back-office on either backend; also starts the executor
/// that runs approved requests once their grace window has passed. `data_dir` is the node's
/// data directory (evidence files, unless `cfg.evidence_dir` names another folder).
pub async fn start(
    store: Arc<dyn Store>,
    fingerprinter: Fingerprinter,
    cfg: WebConfig,
    data_dir: &Path,
    extra: Router,
) -> anyhow::Result<WebRunning> {
    use anyhow::Context;
    store
        .ensure_backoffice_schema()
        .context("preparing the back-office tables")?;
    let listener = tokio::net::TcpListener::bind(&cfg.http)
        .await
        .with_context(|| format!("binding the back-office HTTP address {}", cfg.http))?;
    let addr = listener.local_addr()?;
    let state = AppState::new(store, fingerprinter, cfg, data_dir);
    let executor = tokio::spawn(review::executor_loop(state.clone()));
    let app = router(state, extra).into_make_service_with_connect_info::<SocketAddr>();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
        if let Err(e) = serve.await {
            tracing::error!("back-office HTTP server stopped: {e}");
        }
    });
    tracing::info!("back-office listening on http://{addr}");
    Ok(WebRunning {
        addr,
        stop: Some(stop),
        server,
        executor,
    })
}
