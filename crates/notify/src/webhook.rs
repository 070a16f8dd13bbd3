//! The delivery worker: claims due deliveries from the outbox (`store::notify`), signs each
//! body, POSTs it, and records the attempt — delivered on 2xx, otherwise again after the
//! documented back-off (`suanpan_core::notify::RETRY_DELAYS_SECONDS`), failed after
//! `DELIVERY_RETRIES_MAX` retries.
//!
//! What a receiver gets: `POST` with the JSON body and
//! - `X-Suanpan-Event-Id`: the event's id, the same on every retry and replay (idempotency);
//! - `X-Suanpan-Event`: its type; `X-Suanpan-Delivery`: the delivery's number;
//! - `X-Suanpan-Timestamp`: Unix seconds of this attempt;
//! - `X-Suanpan-Signature`: `v1=` and the hex HMAC-SHA256, under the endpoint's secret, of
//!   `timestamp.body` ([`sign`]); a receiver checks it with [`verify`] and refuses old
//!   timestamps, so a captured request cannot be replayed later.

use crate::http;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde::Deserialize;
use sha2::Sha256;
use std::time::{Duration, Instant};
use suanpan_store::notify::{
    Attempt, CLAIM_BATCH_MAX, DueDelivery, claim_due, record_attempt, secret_identity,
};
use suanpan_store::{Store, StoreError};

/// `[notify]` in the config file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// Allow endpoints on loopback, private and link-local addresses (tests, a receiver in
    /// the same private network). Default false: such URLs are refused (SSRF).
    pub allow_private: bool,
    /// How often the worker looks for due deliveries, in milliseconds (default 1,000).
    pub worker_interval_ms: u64,
    /// Time-out of one attempt's connect, send and answer, in milliseconds (default 10,000).
    pub timeout_ms: u64,
    /// Extra CA certificates (PEM) trusted for `https://` endpoints besides the Mozilla roots
    /// compiled in: a receiver behind a private CA (default none).
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            allow_private: false,
            worker_interval_ms: 1_000,
            timeout_ms: 10_000,
            ca_file: None,
        }
    }
}

/// The signature header's value for `body` sent at `timestamp` (Unix seconds):
/// `v1=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`.
pub fn sign(secret: &[u8], timestamp: i64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// What a receiver does: checks `signature` over `timestamp.body` in constant time and that
/// the timestamp is within `tolerance_seconds` of `now` (Unix seconds).
pub fn verify(
    secret: &[u8],
    timestamp: i64,
    body: &str,
    signature: &str,
    now: i64,
    tolerance_seconds: i64,
) -> bool {
    let Some(hex_mac) = signature.strip_prefix("v1=") else {
        return false;
    };
    let Ok(given) = hex::decode(hex_mac) else {
        return false;
    };
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    (now - timestamp).abs() <= tolerance_seconds && mac.verify_slice(&given).is_ok()
}

/// One pass of the worker at the store's time: claims the due deliveries (at most
/// `CLAIM_BATCH_MAX`) and makes one attempt of each. Returns how many were attempted.
/// Blocking; `serve` runs it on a blocking thread every `worker_interval_ms`.
pub fn run_due(store: &dyn Store, cfg: &NotifyConfig) -> Result<usize, StoreError> {
    let due = claim_due(store, store.now(), CLAIM_BATCH_MAX)?;
    for d in &due {
        let started = store.now();
        let attempt = attempt(store, d, started, cfg);
        let status = record_attempt(store, d, started, &attempt)?;
        tracing::info!(
            delivery = d.id,
            event = %d.event_id,
            status = status.as_str(),
            code = ?attempt.status_code,
            error = %attempt.error,
            "webhook attempt"
        );
    }
    Ok(due.len())
}

fn attempt(store: &dyn Store, d: &DueDelivery, started: Timestamp, cfg: &NotifyConfig) -> Attempt {
    let clock = Instant::now();
    let secret = match store
        .keys()
        .unwrap(&secret_identity(d.endpoint_id), &d.secret_wrapped)
    {
        Ok(s) => s,
        Err(e) => {
            return Attempt {
                status_code: None,
                latency_ms: 0,
                error: format!("the endpoint's secret cannot be unwrapped: {e}"),
            };
        }
    };
    let ts = started.as_second();
    let headers = [
        ("X-Suanpan-Event-Id", d.event_id.clone()),
        ("X-Suanpan-Event", d.kind.clone()),
        ("X-Suanpan-Delivery", d.id.to_string()),
        ("X-Suanpan-Timestamp", ts.to_string()),
        ("X-Suanpan-Signature", sign(secret.expose(), ts, &d.body)),
    ];
    let opts = http::PostOptions {
        timeout: Duration::from_millis(cfg.timeout_ms.max(1)),
        allow_private: cfg.allow_private,
        ca_file: cfg.ca_file.as_deref(),
    };
    let result = http::post(&d.url, &headers, &d.body, &opts);
    let latency_ms = i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX);
    match result {
        Ok(code) if (200..300).contains(&code) => Attempt {
            status_code: Some(code),
            latency_ms,
            error: String::new(),
        },
        Ok(code) => Attempt {
            status_code: Some(code),
            latency_ms,
            error: format!("the receiver answered HTTP {code}"),
        },
        Err(e) => Attempt {
            status_code: None,
            latency_ms,
            error: e.to_string(),
        },
    }
}

/// Starts the delivery worker `serve` runs: [`run_due`] every `worker_interval_ms` on its
/// own thread until [`crate::Worker::stop`]; a storage error is logged and the next pass
/// tries again.
pub fn spawn_worker(
    store: std::sync::Arc<dyn Store>,
    cfg: NotifyConfig,
) -> std::io::Result<crate::Worker> {
    let interval = cfg.worker_interval_ms;
    crate::Worker::every("suanpan-webhooks", interval, move || {
        if let Err(e) = run_due(&*store, &cfg) {
            tracing::error!(error = %e, "webhook worker pass failed");
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_body_secret_and_time() {
        // Goal: the receiver's check accepts exactly what was signed, recently.
        let s = sign(b"whsec_x", 1_700_000_000, "{\"a\":1}");
        assert!(s.starts_with("v1=") && s.len() == 3 + 64);
        assert!(verify(
            b"whsec_x",
            1_700_000_000,
            "{\"a\":1}",
            &s,
            1_700_000_100,
            300
        ));
        assert!(!verify(
            b"whsec_y",
            1_700_000_000,
            "{\"a\":1}",
            &s,
            1_700_000_000,
            300
        ));
        assert!(!verify(
            b"whsec_x",
            1_700_000_000,
            "{\"a\":2}",
            &s,
            1_700_000_000,
            300
        ));
        assert!(!verify(
            b"whsec_x",
            1_700_000_001,
            "{\"a\":1}",
            &s,
            1_700_000_001,
            300
        ));
        assert!(!verify(
            b"whsec_x",
            1_700_000_000,
            "{\"a\":1}",
            &s,
            1_700_001_000,
            300
        ));
    }
}
