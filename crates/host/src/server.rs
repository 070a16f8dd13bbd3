//! The 8583 TCP listener, its connections, the HTTP port and the scheduler.
//!
//! Every wait is bounded: a frame must arrive within `frame_read_timeout_ms` of its first
//! byte (slow-loris), a connection idle for `idle_timeout_ms` is closed, a frame announcing
//! more than `FRAME_BYTES_MAX` closes the connection, and at most `connections_max`
//! connections are open (the rest are closed at once). Each event is logged; none panics.
//! With a certificate configured, connections may be TLS ([`crate::tls`]); the handshake
//! must finish within `frame_read_timeout_ms`.

use crate::dispatch::Outcome;
use crate::{Host, ServerConfig};
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use suanpan_iso8583::{Error as WireError, Status, split_frame};
use suanpan_service::upstream::Upstream;
use suanpan_store::reply::{ExpireHolds, ForgetExpiredPans};
use suanpan_store::{AskExt, Fingerprinter, Store};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

/// Room made in a connection's buffer before each read: a sale's frame is a few hundred
/// bytes, and 1,000 idle terminals hold 1,000 buffers (the buffer grows for a larger frame).
const READ_ROOM_BYTES: usize = 512;

/// A running host: where it listens, and how to stop it.
pub struct Running {
    /// The bound 8583 address (useful with port 0).
    pub iso8583_addr: SocketAddr,
    /// The bound HTTP address.
    pub http_addr: SocketAddr,
    /// The shared state.
    pub host: Arc<Host>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, asks connections to close after their current frame, and waits
    /// for the listener, the HTTP port and the scheduler to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Binds both ports and starts serving. The store must be open; `fingerprinter` is the
/// data directory's PAN key.
///
/// # Errors
/// When an address does not parse or cannot be bound.
pub async fn start(
    store: Arc<dyn Store>,
    fingerprinter: Fingerprinter,
    cfg: ServerConfig,
) -> anyhow::Result<Running> {
    start_with(store, fingerprinter, cfg, Upstream::Inline).await
}

/// [`start`] with the upstream that decides sales. A network upstream first resolves every
/// sale a previous run left *authorizing* (issue 15), before a terminal is accepted.
///
/// # Errors
/// When an address does not parse or cannot be bound, or the resolution fails.
pub async fn start_with(
    store: Arc<dyn Store>,
    fingerprinter: Fingerprinter,
    cfg: ServerConfig,
    upstream: Upstream,
) -> anyhow::Result<Running> {
    crate::http::prometheus();
    if let Upstream::Network(net) = &upstream {
        net.resolve_at_start(&*store)
            .await
            .context("resolving the sales a previous run left authorizing")?;
    }
    let tls = crate::tls::acceptor(&cfg)?;
    let listener = TcpListener::bind(&cfg.iso8583_addr)
        .await
        .with_context(|| format!("binding the 8583 port {}", cfg.iso8583_addr))?;
    let http = TcpListener::bind(&cfg.http_addr)
        .await
        .with_context(|| format!("binding the HTTP port {}", cfg.http_addr))?;
    let iso8583_addr = listener.local_addr()?;
    let http_addr = http.local_addr()?;
    let links = match &upstream {
        Upstream::Network(net) => net.links().cloned().collect(),
        Upstream::Inline => Vec::new(),
    };
    let host = Arc::new(Host::with_upstream(store, fingerprinter, upstream));
    let (stop, stopped) = watch::channel(false);
    let cfg = Arc::new(cfg);
    let tasks = vec![
        tokio::spawn(accept_loop(
            listener,
            tls,
            host.clone(),
            cfg.clone(),
            stopped.clone(),
        )),
        tokio::spawn(serve_http(http, links, stopped.clone())),
        tokio::spawn(scheduler(host.clone(), cfg.clone(), stopped)),
    ];
    tracing::info!(%iso8583_addr, %http_addr, tls = cfg.iso8583_tls_cert.is_some(), tls_required = cfg.iso8583_tls_required, "listening");
    Ok(Running {
        iso8583_addr,
        http_addr,
        host,
        stop,
        tasks,
    })
}

async fn serve_http(
    listener: TcpListener,
    links: Vec<suanpan_upstream::Link>,
    mut stopped: watch::Receiver<bool>,
) {
    let shutdown = async move {
        let _ = stopped.wait_for(|s| *s).await;
    };
    if let Err(e) = axum::serve(listener, crate::http::router_with(links))
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, "HTTP port failed");
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    host: Arc<Host>,
    cfg: Arc<ServerConfig>,
    mut stopped: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(cfg.connections_max));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stopped.wait_for(|s| *s) => return,
        };
        let (sock, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: wait a little instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            metrics::counter!("suanpan_8583_connections_refused_total").increment(1);
            tracing::warn!(%peer, limit = cfg.connections_max, "connections_max reached; connection closed");
            drop(sock);
            continue;
        };
        let _ = sock.set_nodelay(true);
        let (host, cfg, stopped, tls) = (host.clone(), cfg.clone(), stopped.clone(), tls.clone());
        tokio::spawn(async move {
            metrics::gauge!("suanpan_8583_open_connections").increment(1.0);
            // Every open connection holds its task's future: the TLS path (a handshake and
            // a TLS stream) is boxed so that a plain terminal does not carry its size.
            let end = match tls {
                None => connection(sock, &host, &cfg, stopped).await,
                Some(tls) => Box::pin(secured(sock, tls, &host, &cfg, stopped)).await,
            };
            metrics::gauge!("suanpan_8583_open_connections").decrement(1.0);
            tracing::debug!(%peer, end, "connection closed");
            drop(permit);
        });
    }
}

/// A connection on a listener with TLS: the first byte says TLS or plain; a plain one is
/// served only when TLS is not required.
async fn secured(
    sock: TcpStream,
    tls: tokio_rustls::TlsAcceptor,
    host: &Arc<Host>,
    cfg: &ServerConfig,
    mut stopped: watch::Receiver<bool>,
) -> &'static str {
    let mut first = [0u8; 1];
    let peeked = tokio::select! {
        p = tokio::time::timeout(Duration::from_millis(cfg.idle_timeout_ms), sock.peek(&mut first)) => p,
        _ = stopped.wait_for(|s| *s) => return "shutdown",
    };
    match peeked {
        Err(_) => return "idle_timeout",
        Ok(Ok(0)) => return "peer_closed",
        Ok(Err(_)) => return "read_error",
        Ok(Ok(_)) => {}
    }
    if first[0] != crate::tls::TLS_HANDSHAKE_BYTE {
        if cfg.iso8583_tls_required {
            metrics::counter!("suanpan_8583_connections_refused_total", "why" => "plain")
                .increment(1);
            tracing::warn!("plain connection refused: iso8583_tls_required = true");
            return "plain_refused";
        }
        return connection(sock, host, cfg, stopped).await;
    }
    let handshake = tokio::time::timeout(
        Duration::from_millis(cfg.frame_read_timeout_ms),
        tls.accept(sock),
    );
    match handshake.await {
        Ok(Ok(stream)) => connection(stream, host, cfg, stopped).await,
        Ok(Err(e)) => {
            metrics::counter!("suanpan_8583_frames_rejected_total", "why" => "tls").increment(1);
            tracing::warn!(error = %e, "TLS handshake failed; connection closed");
            "tls_handshake_failed"
        }
        Err(_) => {
            tracing::warn!(
                limit_ms = cfg.frame_read_timeout_ms,
                "TLS handshake too slow; connection closed"
            );
            "tls_handshake_timeout"
        }
    }
}

/// Serves one connection until the peer closes it or a limit ends it; returns why it ended.
async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut sock: S,
    host: &Arc<Host>,
    cfg: &ServerConfig,
    mut stopped: watch::Receiver<bool>,
) -> &'static str {
    // Read straight into the frame buffer: no chunk array lives in the future of every
    // idle connection (issue 16: 1,000 terminals).
    let mut buf: Vec<u8> = Vec::new();
    // When the first byte of the frame being read arrived.
    let mut frame_started: Option<Instant> = None;
    loop {
        match split_frame(&buf) {
            Err(WireError::FrameTooLarge { len }) => {
                metrics::counter!("suanpan_8583_frames_rejected_total", "why" => "too_large")
                    .increment(1);
                tracing::warn!(
                    len,
                    limit = suanpan_iso8583::FRAME_BYTES_MAX,
                    "frame over FRAME_BYTES_MAX; connection closed"
                );
                return "frame_too_large";
            }
            Err(e) => {
                tracing::warn!(error = %e, "framing error; connection closed");
                return "framing_error";
            }
            Ok(Status::Complete(frame)) => {
                let consumed = frame.consumed;
                let body = frame.body.to_vec();
                buf.drain(..consumed);
                frame_started = (!buf.is_empty()).then(Instant::now);
                // Boxed: handling a request (decode, the use case, the reply) is a large
                // future, needed only while a request is in flight; unboxed, every idle
                // connection carried it (~20 KB each, issue 16).
                if !Box::pin(answer(&mut sock, host, cfg, body)).await {
                    return "closed_after_frame";
                }
                if *stopped.borrow() {
                    return "shutdown";
                }
                continue;
            }
            Ok(Status::Partial) => {}
        }
        let wait = match frame_started {
            None => Duration::from_millis(cfg.idle_timeout_ms),
            Some(t) => Duration::from_millis(cfg.frame_read_timeout_ms).saturating_sub(t.elapsed()),
        };
        buf.reserve(READ_ROOM_BYTES);
        let read = tokio::select! {
            r = tokio::time::timeout(wait, sock.read_buf(&mut buf)) => r,
            _ = stopped.wait_for(|s| *s), if frame_started.is_none() => return "shutdown",
        };
        match read {
            Err(_) if frame_started.is_some() => {
                metrics::counter!("suanpan_8583_frames_rejected_total", "why" => "slow")
                    .increment(1);
                tracing::warn!(
                    limit_ms = cfg.frame_read_timeout_ms,
                    "frame_read_timeout_ms passed mid-frame; connection closed"
                );
                return "frame_read_timeout";
            }
            Err(_) => {
                tracing::info!(
                    limit_ms = cfg.idle_timeout_ms,
                    "idle_timeout_ms passed; connection closed"
                );
                return "idle_timeout";
            }
            Ok(Ok(0)) => return "peer_closed",
            Ok(Ok(n)) => {
                // The buffer was empty before these bytes: a frame starts now.
                if buf.len() == n {
                    frame_started = Some(Instant::now());
                }
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "read failed");
                return "read_error";
            }
        }
    }
}

/// Handles one frame and writes the answer; false to close.
async fn answer<S: AsyncWrite + Unpin>(
    sock: &mut S,
    host: &Arc<Host>,
    cfg: &ServerConfig,
    body: Vec<u8>,
) -> bool {
    let started = Instant::now();
    let outcome = host.handle(&body).await;
    let Outcome::Reply { frame, mti, code } = outcome else {
        metrics::counter!("suanpan_8583_frames_rejected_total", "why" => "undecodable")
            .increment(1);
        return false;
    };
    let mti = mti.to_string();
    metrics::counter!("suanpan_8583_requests_total", "mti" => mti.clone(), "code" => code)
        .increment(1);
    metrics::histogram!("suanpan_8583_request_seconds", "mti" => mti)
        .record(started.elapsed().as_secs_f64());
    let write = tokio::time::timeout(Duration::from_millis(cfg.write_timeout_ms), async {
        sock.write_all(&frame).await?;
        sock.flush().await
    });
    match write.await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::info!(error = %e, "peer went away before its response");
            false
        }
        Err(_) => {
            tracing::warn!(
                limit_ms = cfg.write_timeout_ms,
                "write_timeout_ms passed; connection closed"
            );
            false
        }
    }
}

/// Every `scheduler_interval_ms`: settle the batches past the cutoff, expire holds, forget
/// the card numbers of upstream sales whose refund window has closed.
async fn scheduler(host: Arc<Host>, cfg: Arc<ServerConfig>, mut stopped: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(cfg.scheduler_interval_ms.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        let store = host.store.clone();
        let done = tokio::task::spawn_blocking(move || {
            // In chunks: the sales go through the writer between them.
            let settled = suanpan_service::settlement::settle_due(&*store);
            let expired = store.ask(ExpireHolds);
            let forgotten = store.ask(ForgetExpiredPans);
            (settled, expired, forgotten)
        })
        .await;
        match done {
            Ok((settled, expired, forgotten)) => {
                match forgotten {
                    Ok(n) if n > 0 => {
                        tracing::info!(
                            n,
                            "card numbers forgotten at the end of their refund window"
                        );
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "forgetting card numbers failed"),
                }
                for s in &settled.reports {
                    tracing::info!(terminal = %s.terminal_id, batch = %s.batch_no, "cutoff settlement");
                }
                for p in &settled.passed {
                    tracing::warn!(terminal = %p.terminal_id, refusal = p.refusal,
                        "cutoff: this terminal's batch may not be settled; it stays open");
                }
                if let Some(e) = &settled.error {
                    tracing::error!(error = %e, "cutoff settlement failed; the next run settles the rest");
                }
                match expired {
                    Ok(n) if n > 0 => tracing::info!(n, "pre-auth holds expired"),
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "hold expiry failed"),
                }
            }
            Err(e) => tracing::error!(error = %e, "scheduler task failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use suanpan_store::SqliteStore;

    fn size_of_future<F: std::future::Future>(_: &F) -> usize {
        std::mem::size_of::<F>()
    }

    /// Every open connection holds its task's future for as long as it is open, so 1,000
    /// idle terminals cost 1,000 of them (issue 16's memory target). Before the request's
    /// handling and the TLS path were boxed, a plain connection's future was ~20 KB; a
    /// bound well below that fails if a large state slips back in.
    #[test]
    fn an_idle_connection_holds_a_small_future() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store =
            SqliteStore::create(dir.path(), suanpan_service::open_options()).expect("store");
        let host = Arc::new(Host::new(
            Arc::new(store),
            Fingerprinter::new(Fingerprinter::random_key()),
        ));
        let cfg = ServerConfig::default();
        let (_tx, stopped) = watch::channel(false);
        let (sock, _peer) = tokio::io::duplex(64);
        let plain = connection(sock, &host, &cfg, stopped);
        let size = size_of_future(&plain);
        assert!(size <= 1024, "a plain connection's future is {size} bytes");
    }
}
