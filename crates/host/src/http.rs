//! The small HTTP port: `/healthz` and `/metrics` (Prometheus text format).

use axum::http::StatusCode;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use suanpan_upstream::{Link, LinkState};

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Latency buckets (seconds) of the request and store histograms.
const LATENCY_BUCKETS_S: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
];

/// Commands per group commit.
const GROUP_SIZE_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

/// Installs the process-wide Prometheus recorder once; `None` if another recorder was
/// installed first (metrics then go there).
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    PROMETHEUS
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS_S)
                .ok()?
                .set_buckets_for_metric(
                    Matcher::Full("suanpan_store_group_size".into()),
                    GROUP_SIZE_BUCKETS,
                )
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            Some(handle)
        })
        .as_ref()
}

/// The router of the HTTP port.
pub fn router() -> axum::Router {
    router_with(Vec::new())
}

/// The router of the HTTP port; with a network upstream, `/healthz` reports its links (the
/// default route's first, then each `[[upstream.route]]`'s): `503` while one is down (its
/// cards are then declined 91), with the store-and-forward depth.
pub fn router_with(links: Vec<Link>) -> axum::Router {
    use axum::routing::get;
    axum::Router::new()
        .route("/healthz", get(move || healthz(links.clone())))
        .route(
            "/metrics",
            get(|| async {
                let text = prometheus().map(|h| h.render()).unwrap_or_default();
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4",
                    )],
                    text,
                )
            }),
        )
}

/// `ok`, or the upstream links' states and the queue depth.
async fn healthz(links: Vec<Link>) -> (StatusCode, String) {
    let Some(first) = links.first() else {
        return (StatusCode::OK, "ok\n".to_owned());
    };
    let depth = first
        .saf_depth()
        .map_or_else(|e| format!("unknown ({e})"), |d| d.to_string());
    let word = |l: &Link| match l.state() {
        LinkState::Up => "up",
        LinkState::Connecting => "connecting",
        LinkState::Down => "down",
    };
    let mut lines = format!("upstream: {}\nupstream_saf_depth: {depth}\n", word(first));
    for l in &links[1..] {
        lines.push_str(&format!("upstream {}: {}\n", l.destination(), word(l)));
    }
    if links.iter().all(|l| l.state() == LinkState::Up) {
        (StatusCode::OK, format!("ok\n{lines}"))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("upstream down\n{lines}"),
        )
    }
}
