//! The acquirer's network link to a card switch (`shared/spec/iso8583-1987-switch.md`):
//!
//! - persistent connections to a configured list of addresses, one at a time, failing over
//!   to the next when a connection cannot be made or breaks;
//! - a sign-on (0800, 70 = `001`) after each connect, before any financial message, and an
//!   echo (`301`) when the connection was idle for `upstream_echo_interval_ms`; a failed
//!   echo closes the connection;
//! - a multiplexer: many requests in flight, answers matched by (answer MTI, 11, 7, 41);
//!   an answer that matches nothing (late, its request already reversed) is dropped;
//! - a time-out per request (`upstream_timeout_ms`) that yields the typed
//!   [`LinkError::NoAnswer`], after a 0420 (39 = `68`) for it was queued durably;
//! - STANs per sender ([`stan`]) and the store-and-forward queue ([`saf`]) drained in
//!   order until each advice gets its 0430 (first 0420, then 0421), with back-off, across
//!   reconnects and restarts;
//! - metrics: `suanpan_upstream_latency_seconds` (histogram),
//!   `suanpan_upstream_timeouts_total`, `suanpan_upstream_late_answers_total`,
//!   `suanpan_upstream_saf_depth`, `suanpan_upstream_link_up` (gauges).
//!
//! It knows no money rule and no store: the application layer decides, records, and calls
//! [`Link::request`] outside any database transaction.
#![deny(missing_docs)]

pub mod config;
pub mod msg;
pub mod saf;
pub mod stan;

use saf::{SafError, SafStore};
use stan::{StanAllocator, StanError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use suanpan_iso8583::switch::{
    self as wire, MTI_0220, MTI_0420, MTI_0421, MTI_0800, MatchKey, OriginalData,
};
use suanpan_iso8583::{Error as CodecError, IsoMsg, Mti, SWITCH, Status, split_frame};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc, oneshot, watch};

pub use suanpan_iso8583::crypto::translate_pin;

/// Frames queued for the socket before a sender waits.
pub const FRAMES_QUEUED_MAX: usize = 4096;
/// Requests in flight at once; one more is refused as not sent.
pub const IN_FLIGHT_MAX: usize = 65_536;
/// Field 39 of a time-out reversal (spec: "time-out (39 = `68`)").
pub const REASON_TIME_OUT: &str = "68";
/// The label naming a link's destination (`[upstream]`'s, or a `[[upstream.route]]`'s
/// name) on its metrics: each route's latency, time-outs, late answers and state apart.
/// The queue's depth (`suanpan_upstream_saf_depth`) stays one gauge: every route shares
/// the main store's queue, and a link publishes the whole of it.
pub const ROUTE_LABEL: &str = "route";
/// Field 39 of a void's reversal advice (spec: "void / customer cancellation (39 = `17`)").
pub const REASON_VOID: &str = "17";
/// Bytes read at once.
const READ_BYTES: usize = 16 * 1024;

/// The link's configuration (`[upstream]` in the host's config).
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// The destination's name: the store-and-forward queue is ordered per name, and an
    /// advice queued for it is sent to whichever of `addrs` is up (a changed address list
    /// keeps the queue).
    pub name: String,
    /// Switch addresses, tried in order (`addr`; several for failover).
    pub addrs: Vec<String>,
    /// Field 32 (`acquirer_id`).
    pub acquirer_id: String,
    /// How long a request waits for its answer (`upstream_timeout_ms`).
    pub upstream_timeout_ms: u64,
    /// Idle time after which an echo is sent (`upstream_echo_interval_ms`).
    pub upstream_echo_interval_ms: u64,
    /// How long a connect may take before the next address is tried.
    pub connect_timeout_ms: u64,
    /// First back-off of a store-and-forward repeat; doubles per attempt.
    pub saf_backoff_ms_min: u64,
    /// Longest back-off of a store-and-forward repeat.
    pub saf_backoff_ms_max: u64,
    /// Pause after every address failed once, before trying the list again.
    pub reconnect_ms: u64,
    /// Stand-in floor limit in fen (`stand_in_floor_fen`): while the link is down, a card
    /// sale at or under it is approved by the host and advised (0220) later; 0 = off.
    pub stand_in_floor_fen: u64,
}

impl LinkConfig {
    /// Defaults for `addrs` and `acquirer_id`.
    pub fn new(addrs: Vec<String>, acquirer_id: &str) -> LinkConfig {
        LinkConfig {
            name: "switch".to_owned(),
            addrs,
            acquirer_id: acquirer_id.to_owned(),
            upstream_timeout_ms: 5_000,
            upstream_echo_interval_ms: 30_000,
            connect_timeout_ms: 2_000,
            saf_backoff_ms_min: 1_000,
            saf_backoff_ms_max: 60_000,
            reconnect_ms: 1_000,
            stand_in_floor_fen: 0,
        }
    }

    /// The queue's destination name.
    pub fn destination(&self) -> String {
        self.name.clone()
    }
}

/// The link's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// No connection.
    Down,
    /// Connected, signing on.
    Connecting,
    /// Signed on: financial messages may be sent.
    Up,
}

/// Why a request has no answer.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Not sent: the link is down (or shutting down). The request took no effect upstream;
    /// the caller may decline it (`91`) without a reversal.
    #[error("upstream link is down; the request was not sent")]
    NotSent,
    /// Sent, but no answer came within `upstream_timeout_ms`: its outcome upstream is
    /// unknown. For 0100/0200/0220 a 0420 (39 = `68`) is already in the durable queue.
    #[error("no answer from the upstream in time")]
    NoAnswer {
        /// The request as sent (with the 7 and 11 the link gave it).
        request: Box<IsoMsg>,
        /// The queued reversal's id, when one was queued.
        reversal: Option<i64>,
    },
    /// The request could not be encoded.
    #[error("upstream request: {0}")]
    Codec(#[from] CodecError),
    /// No STAN could be given.
    #[error(transparent)]
    Stan(#[from] StanError),
    /// The store-and-forward queue failed (then the caller must keep the reversal itself).
    #[error(transparent)]
    Saf(#[from] SafError),
}

/// A request and its answer.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The request as sent.
    pub request: IsoMsg,
    /// The answer.
    pub answer: IsoMsg,
}

type Pending = Mutex<HashMap<MatchKey, oneshot::Sender<IsoMsg>>>;

struct Inner {
    config: LinkConfig,
    destination: String,
    saf: Arc<dyn SafStore>,
    stans: StanAllocator,
    pending: Pending,
    writer: Mutex<Option<mpsc::Sender<Vec<u8>>>>,
    state: watch::Sender<LinkState>,
    saf_wake: Notify,
    last_rx_ms: AtomicI64,
    shutdown: watch::Sender<bool>,
}

/// A running link; cheap to clone.
#[derive(Clone)]
pub struct Link {
    inner: Arc<Inner>,
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Field 7 now: `MMDDhhmmss`, UTC.
pub fn transmission_time() -> String {
    transmission_time_at(jiff::Timestamp::now())
}

/// Field 7 at `at`: `MMDDhhmmss`, UTC. Written digit by digit: `strftime` parsed its
/// format on each of the two calls a network sale makes (issue 15, s19-net: callgrind).
pub fn transmission_time_at(at: jiff::Timestamp) -> String {
    let t = jiff::tz::TimeZone::UTC.to_datetime(at);
    let mut out = String::with_capacity(10);
    for v in [t.month(), t.day(), t.hour(), t.minute(), t.second()] {
        push_two_digits(&mut out, v);
    }
    out
}

/// Fields 12 (`hhmmss`) and 13 (`MMDD`) of the terminal's local date and time `local`,
/// written digit by digit as [`transmission_time_at`] is.
pub fn local_time_and_date(local: jiff::civil::DateTime) -> (String, String) {
    let mut time = String::with_capacity(6);
    for v in [local.hour(), local.minute(), local.second()] {
        push_two_digits(&mut time, v);
    }
    let mut date = String::with_capacity(4);
    for v in [local.month(), local.day()] {
        push_two_digits(&mut date, v);
    }
    (time, date)
}

/// Appends `v` (0..=99) as two ASCII digits.
pub fn push_two_digits(out: &mut String, v: i8) {
    let v = v.unsigned_abs() % 100;
    out.push(char::from(b'0' + v / 10));
    out.push(char::from(b'0' + v % 10));
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Link {
    /// Starts the link's tasks on the current tokio runtime: the connection manager and the
    /// store-and-forward drainer. `saf` also keeps the STAN reservations.
    pub fn start<S>(config: LinkConfig, saf: Arc<S>) -> Link
    where
        S: SafStore + saf::StanStore + 'static,
    {
        let (state, _) = watch::channel(LinkState::Down);
        let (shutdown, _) = watch::channel(false);
        let inner = Arc::new(Inner {
            destination: config.destination(),
            config,
            stans: StanAllocator::new(saf.clone()),
            saf,
            pending: Mutex::new(HashMap::new()),
            writer: Mutex::new(None),
            state,
            saf_wake: Notify::new(),
            last_rx_ms: AtomicI64::new(now_ms()),
            shutdown,
        });
        metrics::gauge!("suanpan_upstream_link_up", ROUTE_LABEL => inner.destination.clone())
            .set(0.0);
        let link = Link { inner };
        tokio::spawn(connection_manager(link.clone()));
        tokio::spawn(saf_drainer(link.clone()));
        link
    }

    /// The destination's name (the queue's order; recorded with each request).
    pub fn destination(&self) -> String {
        self.inner.destination.clone()
    }

    /// Field 32 of this link.
    pub fn acquirer_id(&self) -> String {
        self.inner.config.acquirer_id.clone()
    }

    /// The stand-in floor limit in fen (0: no stand-in).
    pub fn stand_in_floor_fen(&self) -> u64 {
        self.inner.config.stand_in_floor_fen
    }

    /// The current state.
    pub fn state(&self) -> LinkState {
        *self.inner.state.borrow()
    }

    /// Waits until the link is up, at most `timeout`; true when up.
    pub async fn wait_up(&self, timeout: Duration) -> bool {
        let mut rx = self.inner.state.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|s| *s == LinkState::Up))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Advices waiting in the store-and-forward queue.
    ///
    /// # Errors
    /// Queue failures.
    pub fn saf_depth(&self) -> Result<u64, SafError> {
        self.inner.saf.depth()
    }

    /// Stops the tasks and closes the connection.
    pub fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
        self.inner.saf_wake.notify_one();
    }

    /// Sends a financial request (0100, 0200, 0220) and waits for its answer. The link sets
    /// 7, 11 (a new STAN of the terminal in 41) and 32 (when absent).
    ///
    /// # Errors
    /// [`LinkError::NotSent`] when the link is down; [`LinkError::NoAnswer`] after
    /// `upstream_timeout_ms` (a 0420 with 39 = `68` is then queued); others on faults.
    pub async fn request(&self, mut msg: IsoMsg) -> Result<Exchange, LinkError> {
        if self.state() != LinkState::Up {
            return Err(LinkError::NotSent);
        }
        self.stamp(&mut msg)?;
        match self.exchange(&msg).await {
            Ok(answer) => Ok(Exchange {
                request: msg,
                answer,
            }),
            Err(LinkError::NoAnswer { request, .. }) => {
                metrics::counter!("suanpan_upstream_timeouts_total", ROUTE_LABEL => self.destination())
                    .increment(1);
                let reversible = [100, 200, 220].contains(&request.mti().value());
                let reversal = if reversible {
                    Some(self.queue_reversal(&request, REASON_TIME_OUT, None)?)
                } else {
                    None
                };
                Err(LinkError::NoAnswer { request, reversal })
            }
            Err(e) => Err(e),
        }
    }

    /// Queues a reversal advice (0420) of `original` (a request as sent, with 7, 11, 32)
    /// with reason `reason` (`68` time-out, `17` void, `22` malfunction) and, for a partial
    /// reversal, the amount that stands (field 95). Durable when it returns.
    ///
    /// # Errors
    /// STAN, encoding and queue failures.
    pub fn queue_reversal(
        &self,
        original: &IsoMsg,
        reason: &str,
        actual_fen: Option<u64>,
    ) -> Result<i64, LinkError> {
        let frame = self.reversal_frame(original, reason, actual_fen)?;
        let id = self
            .inner
            .saf
            .push(&self.inner.destination, &frame, now_ms())?;
        self.publish_depth();
        self.inner.saf_wake.notify_one();
        Ok(id)
    }

    /// The 0420 frame that reverses `original`, with a STAN of its own.
    fn reversal_frame(
        &self,
        original: &IsoMsg,
        reason: &str,
        actual_fen: Option<u64>,
    ) -> Result<Vec<u8>, LinkError> {
        let mut r = reversal_of(original, reason, actual_fen)?;
        self.stamp(&mut r)?;
        let mut frame = Vec::new();
        r.encode(&mut frame)?;
        Ok(frame)
    }

    /// The time-out reversal (0420, 39 = `68`) of the prepared request `original`, with a
    /// STAN of its own, as a frame the application parks in its store before the request
    /// leaves (and queues or drops in the transaction that records the request's fate).
    ///
    /// # Errors
    /// STAN and encoding failures.
    pub fn timeout_reversal_frame(&self, original: &IsoMsg) -> Result<Vec<u8>, LinkError> {
        self.reversal_frame(original, REASON_TIME_OUT, None)
    }

    /// A STAN of `sender` and field 7 now, for an advice the application builds itself
    /// ([`reversal_advice`]) inside a store transaction, where the allocator cannot be asked.
    ///
    /// # Errors
    /// STAN failures.
    pub fn stamp_for(&self, sender: &str) -> Result<(String, String), LinkError> {
        let stan = self.inner.stans.next(sender, now_ms())?;
        Ok((format!("{stan:06}"), transmission_time()))
    }

    /// Tells the drainer and the depth gauge that the application changed the queue (an
    /// advice committed in its own transaction).
    pub fn queue_changed(&self) {
        self.publish_depth();
        self.inner.saf_wake.notify_one();
    }

    /// Sends a request made ready with [`Link::prepare`] whose time-out reversal the
    /// application parked itself, and waits at most `upstream_timeout_ms`. Touches no queue:
    /// the application queues or drops the parked reversal with the request's fate.
    ///
    /// # Errors
    /// [`LinkError::NotSent`], [`LinkError::NoAnswer`] (with no reversal named) and codec
    /// failures.
    pub async fn send_only(&self, msg: IsoMsg) -> Result<Exchange, LinkError> {
        if self.state() != LinkState::Up {
            return Err(LinkError::NotSent);
        }
        match self.exchange(&msg).await {
            Ok(answer) => Ok(Exchange {
                request: msg,
                answer,
            }),
            Err(e) => {
                if matches!(e, LinkError::NoAnswer { .. }) {
                    metrics::counter!("suanpan_upstream_timeouts_total", ROUTE_LABEL => self.destination())
                    .increment(1);
                }
                Err(e)
            }
        }
    }

    /// Gives a financial request its 7, 11 (a new STAN of the terminal in 41) and 32
    /// before it is recorded and sent with [`Link::send_prepared`]: the application records
    /// the STAN it goes up with before it leaves.
    ///
    /// # Errors
    /// STAN and encoding failures.
    pub fn prepare(&self, msg: &mut IsoMsg) -> Result<(), LinkError> {
        self.stamp(msg)
    }

    /// Parks the time-out reversal (0420, 39 = `68`) of the prepared request `original`
    /// under `reference`, durable, not sent (see [`SafStore::park`]).
    ///
    /// # Errors
    /// STAN, encoding and queue failures.
    pub fn park_reversal(&self, original: &IsoMsg, reference: &str) -> Result<(), LinkError> {
        let frame = self.reversal_frame(original, REASON_TIME_OUT, None)?;
        self.inner
            .saf
            .park(&self.inner.destination, reference, &frame, now_ms())?;
        Ok(())
    }

    /// Queues the reversal parked under `reference` (a start-up finding a request whose
    /// fate it never learnt); its queue id, or `None` when nothing was parked (then the
    /// request never left).
    ///
    /// # Errors
    /// Queue failures.
    pub fn activate_parked(&self, reference: &str) -> Result<Option<i64>, LinkError> {
        let id = self.inner.saf.activate(reference, now_ms())?;
        self.publish_depth();
        self.inner.saf_wake.notify_one();
        Ok(id)
    }

    /// Drops the reversal parked under `reference`.
    ///
    /// # Errors
    /// Queue failures.
    pub fn discard_parked(&self, reference: &str) -> Result<(), LinkError> {
        Ok(self.inner.saf.discard(reference)?)
    }

    /// The references of every parked reversal.
    ///
    /// # Errors
    /// Queue failures.
    pub fn parked(&self) -> Result<Vec<String>, LinkError> {
        Ok(self.inner.saf.parked()?)
    }

    /// Sends a request made ready with [`Link::prepare`] and [`Link::park_reversal`] and
    /// waits at most `upstream_timeout_ms` for its answer. Answered or not sent: the parked
    /// reversal is dropped. No answer: it is queued, and [`LinkError::NoAnswer`] names it.
    ///
    /// # Errors
    /// [`LinkError::NotSent`], [`LinkError::NoAnswer`], codec and queue failures.
    pub async fn send_prepared(&self, msg: IsoMsg, reference: &str) -> Result<Exchange, LinkError> {
        let result = if self.state() == LinkState::Up {
            self.exchange(&msg).await
        } else {
            Err(LinkError::NotSent)
        };
        match result {
            Ok(answer) => {
                self.discard_parked(reference)?;
                Ok(Exchange {
                    request: msg,
                    answer,
                })
            }
            Err(LinkError::NoAnswer { request, .. }) => {
                metrics::counter!("suanpan_upstream_timeouts_total", ROUTE_LABEL => self.destination())
                    .increment(1);
                let reversal = self.activate_parked(reference)?;
                Err(LinkError::NoAnswer { request, reversal })
            }
            Err(e) => {
                self.discard_parked(reference)?;
                Err(e)
            }
        }
    }

    fn publish_depth(&self) {
        if let Ok(d) = self.inner.saf.depth() {
            metrics::gauge!("suanpan_upstream_saf_depth").set(d as f64);
        }
    }

    /// Sets 7, 11 and 32.
    fn stamp(&self, msg: &mut IsoMsg) -> Result<(), LinkError> {
        let sender = msg.text(41).unwrap_or_default().to_owned();
        let stan = self.inner.stans.next(&sender, now_ms())?;
        msg.set_u64(11, u64::from(stan))?;
        msg.set_str(7, &transmission_time())?;
        if !msg.has(32) && msg.mti() != MTI_0800 {
            msg.set_str(32, &self.inner.config.acquirer_id)?;
        }
        Ok(())
    }

    /// Sends `msg` as is and waits for the answer matching it.
    async fn exchange(&self, msg: &IsoMsg) -> Result<IsoMsg, LinkError> {
        let mut frame = Vec::new();
        msg.encode(&mut frame)?;
        let key = MatchKey::of_request(msg);
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = lock(&self.inner.pending);
            if pending.len() >= IN_FLIGHT_MAX {
                return Err(LinkError::NotSent);
            }
            pending.insert(key.clone(), tx);
        }
        let writer = lock(&self.inner.writer).clone();
        let timeout = Duration::from_millis(self.inner.config.upstream_timeout_ms);
        // A full socket queue counts against the same time-out: every wait is bounded.
        let sent = match writer {
            Some(w) => matches!(
                tokio::time::timeout(timeout, w.send(frame)).await,
                Ok(Ok(()))
            ),
            None => false,
        };
        if !sent {
            lock(&self.inner.pending).remove(&key);
            return Err(LinkError::NotSent);
        }
        let started = Instant::now();
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(answer)) => {
                metrics::histogram!("suanpan_upstream_latency_seconds", ROUTE_LABEL => self.destination())
                    .record(started.elapsed().as_secs_f64());
                Ok(answer)
            }
            _ => {
                lock(&self.inner.pending).remove(&key);
                Err(LinkError::NoAnswer {
                    request: Box::new(msg.clone()),
                    reversal: None,
                })
            }
        }
    }

    /// An 0800 with field 70 = `code`.
    async fn network(&self, code: &str) -> Result<IsoMsg, LinkError> {
        let mut m = IsoMsg::new(&SWITCH, MTI_0800);
        m.set_str(70, code)?;
        self.stamp(&mut m)?;
        self.exchange(&m).await
    }

    fn set_state(&self, s: LinkState) {
        self.inner.state.send_replace(s);
        metrics::gauge!("suanpan_upstream_link_up", ROUTE_LABEL => self.destination())
            .set(if s == LinkState::Up { 1.0 } else { 0.0 });
        if s == LinkState::Up {
            self.inner.saf_wake.notify_one();
        }
    }

    fn dispatch(&self, answer: IsoMsg) {
        self.inner.last_rx_ms.store(now_ms(), Ordering::Relaxed);
        let key = MatchKey::of_answer(&answer);
        match lock(&self.inner.pending).remove(&key) {
            Some(tx) => {
                let _ = tx.send(answer);
            }
            None => {
                metrics::counter!("suanpan_upstream_late_answers_total", ROUTE_LABEL => self.destination())
                    .increment(1);
                tracing::info!(mti = %answer.mti(), stan = ?answer.text(11),
                    "upstream: an answer matches no request in flight (late?); dropped");
            }
        }
    }
}

/// The reversal advice (0420) of `original` (a request as sent, with 7, 11, 32), reason
/// `reason`, and for a partial reversal the amount that stands (field 95); without its own 7
/// and 11.
fn reversal_of(
    original: &IsoMsg,
    reason: &str,
    actual_fen: Option<u64>,
) -> Result<IsoMsg, CodecError> {
    let mut r = IsoMsg::new(&SWITCH, MTI_0420);
    for n in [2, 3, 4, 32, 37, 41, 42, 49] {
        r.copy_from(original, n)?;
    }
    if !r.has(2) {
        // Track-2-only originals: the PAN from the track.
        if let Some(pan) = original.text(35).and_then(|t| t.split('=').next()) {
            r.set_str(2, pan)?;
        }
    }
    r.set_str(39, reason)?;
    r.set_str(90, &OriginalData::of(original).to_field())?;
    if let Some(actual) = actual_fen {
        r.set_str(95, &format!("{actual:012}{:030}", 0))?;
    }
    Ok(r)
}

/// The reversal advice frame (0420, length prefix included) of `original`, with the STAN
/// and field 7 given (from [`Link::stamp_for`]): built where the link cannot be asked, inside
/// the store transaction that records what it reverses.
///
/// # Errors
/// Encoding failures.
pub fn reversal_advice(
    original: &IsoMsg,
    reason: &str,
    actual_fen: Option<u64>,
    stamp: (&str, &str),
) -> Result<Vec<u8>, CodecError> {
    let mut r = reversal_of(original, reason, actual_fen)?;
    r.set_str(11, stamp.0)?;
    r.set_str(7, stamp.1)?;
    let mut frame = Vec::new();
    r.encode(&mut frame)?;
    Ok(frame)
}

/// Connects, signs on, reads; on any failure tries the next address.
async fn connection_manager(link: Link) {
    let inner = link.inner.clone();
    let mut shutdown = inner.shutdown.subscribe();
    let mut next = 0usize;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let addrs = &inner.config.addrs;
        let mut connected_any = false;
        for i in 0..addrs.len() {
            let addr = &addrs[(next + i) % addrs.len()];
            let connect = tokio::time::timeout(
                Duration::from_millis(inner.config.connect_timeout_ms),
                TcpStream::connect(addr),
            );
            let Ok(Ok(stream)) = connect.await else {
                tracing::warn!(%addr, "upstream: cannot connect");
                continue;
            };
            connected_any = true;
            next = (next + i) % addrs.len();
            tracing::info!(%addr, "upstream: connected");
            run_connection(&link, stream).await;
            tracing::warn!(%addr, "upstream: connection closed");
            // A broken connection sends the next attempt to the next address.
            next = (next + 1) % addrs.len();
            break;
        }
        if *shutdown.borrow() {
            break;
        }
        if !connected_any || addrs.len() == 1 {
            let pause = Duration::from_millis(inner.config.reconnect_ms);
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.wait_for(|s| *s) => break,
            }
        }
    }
    link.set_state(LinkState::Down);
}

async fn run_connection(link: &Link, stream: TcpStream) {
    let inner = &link.inner;
    let _ = stream.set_nodelay(true);
    let (mut rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::channel::<Vec<u8>>(FRAMES_QUEUED_MAX);
    let writer = tokio::spawn(suanpan_frames::write_frames(rx, wr));
    *lock(&inner.writer) = Some(tx);
    link.set_state(LinkState::Connecting);
    inner.last_rx_ms.store(now_ms(), Ordering::Relaxed);
    let (close_tx, mut close_rx) = mpsc::channel::<()>(1);
    // Sign on before any financial message; the reader below delivers its answer.
    let signer = link.clone();
    let close_on_fail = close_tx.clone();
    tokio::spawn(async move {
        match signer.network(wire::NMC_SIGN_ON).await {
            Ok(a) if a.text(39) == Some("00") => signer.set_state(LinkState::Up),
            other => {
                tracing::warn!(
                    "upstream: sign-on failed: {:?}",
                    other.map(|a| a.text(39).map(str::to_owned))
                );
                let _ = close_on_fail.send(()).await;
            }
        }
    });
    let echo_ms = inner.config.upstream_echo_interval_ms.max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(echo_ms.div_ceil(2)));
    let mut shutdown = inner.shutdown.subscribe();
    let mut buf = Vec::with_capacity(READ_BYTES);
    let mut chunk = vec![0u8; READ_BYTES];
    'conn: loop {
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => break,
            _ = close_rx.recv() => break,
            _ = tick.tick() => {
                let idle = now_ms() - inner.last_rx_ms.load(Ordering::Relaxed);
                if idle >= echo_ms as i64 && link.state() == LinkState::Up {
                    inner.last_rx_ms.store(now_ms(), Ordering::Relaxed);
                    let echo = link.clone();
                    let close = close_tx.clone();
                    tokio::spawn(async move {
                        if echo.network(wire::NMC_ECHO).await.is_err() {
                            tracing::warn!("upstream: echo unanswered; closing the connection");
                            let _ = close.send(()).await;
                        }
                    });
                }
            }
            r = rd.read(&mut chunk) => {
                let n = match r { Ok(0) | Err(_) => break, Ok(n) => n };
                buf.extend_from_slice(&chunk[..n]);
                // The frames of one read are decoded in place and the buffer is moved once,
                // not once per frame (a read carries many since answers leave together).
                let mut at = 0;
                loop {
                    let (decoded, used) = match split_frame(&buf[at..]) {
                        Ok(Status::Partial) => break,
                        Ok(Status::Complete(f)) => (IsoMsg::decode(&SWITCH, f.body), f.consumed),
                        Err(e) => { tracing::warn!("upstream: bad framing: {e}"); break 'conn; }
                    };
                    at += used;
                    match decoded {
                        Ok(m) => link.dispatch(m),
                        Err(e) => tracing::warn!("upstream: undecodable answer dropped: {e}"),
                    }
                }
                buf.drain(..at);
            }
        }
    }
    *lock(&inner.writer) = None;
    writer.abort();
    link.set_state(LinkState::Down);
}

/// Sends the queue's head until a 0430 comes back, in order, with back-off.
async fn saf_drainer(link: Link) {
    let inner = link.inner.clone();
    let mut shutdown = inner.shutdown.subscribe();
    let mut state = inner.state.subscribe();
    loop {
        if *shutdown.borrow() {
            break;
        }
        if link.state() != LinkState::Up {
            tokio::select! {
                _ = state.wait_for(|s| *s == LinkState::Up) => {}
                _ = shutdown.wait_for(|s| *s) => break,
            }
            continue;
        }
        let head = match inner.saf.claim(&inner.destination, now_ms()) {
            Ok(h) => h,
            Err(e) => {
                tracing::error!("upstream: {e}");
                tokio::time::sleep(Duration::from_millis(inner.config.reconnect_ms)).await;
                continue;
            }
        };
        let Some(entry) = head else {
            tokio::select! {
                _ = inner.saf_wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            continue;
        };
        let wait = entry.next_attempt_ms - now_ms();
        if wait > 0 {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
                _ = shutdown.wait_for(|s| *s) => break,
            }
            continue;
        }
        send_advice(&link, entry).await;
    }
}

async fn send_advice(link: &Link, entry: saf::SafEntry) {
    let inner = &link.inner;
    let Some(Ok(mut advice)) = entry.frame.get(2..).map(|b| IsoMsg::decode(&SWITCH, b)) else {
        tracing::error!(id = entry.id, "upstream: queued advice unreadable; removed");
        let _ = inner.saf.remove(entry.id);
        return;
    };
    // Spec: first a 0420, then repeats as 0421, identical but for the MTI. A stand-in
    // advice (0220) is sent as it is each time: the spec has no repeat MTI for it, and the
    // switch answers a repeated 0220 (same 11, 7, 41) with its stored 0230.
    if advice.mti() != MTI_0220 {
        let mti: Mti = if entry.attempts == 0 {
            MTI_0420
        } else {
            MTI_0421
        };
        advice.set_mti(mti);
    }
    match link.exchange(&advice).await {
        Ok(_ack) => {
            if let Err(e) = inner.saf.remove(entry.id) {
                tracing::error!("upstream: {e}");
            }
            link.publish_depth();
        }
        Err(LinkError::NotSent) => {}
        Err(_) => {
            let attempts = entry.attempts + 1;
            let backoff = backoff_ms(&inner.config, attempts);
            if attempts >= REVERSAL_ATTEMPTS_WARN {
                tracing::warn!(
                    id = entry.id,
                    attempts,
                    "upstream: reversal advice still unacknowledged"
                );
            }
            if let Err(e) = inner
                .saf
                .retry_later(entry.id, attempts, now_ms() + backoff as i64)
            {
                tracing::error!("upstream: {e}");
            }
        }
    }
}

/// Attempts after which an unacknowledged advice is logged as a warning each time (the
/// application layer escalates it to a case; the link keeps sending, as the spec says).
pub const REVERSAL_ATTEMPTS_WARN: u32 = 6;

/// Back-off before attempt `attempts + 1`: doubling from the minimum, capped.
pub fn backoff_ms(config: &LinkConfig, attempts: u32) -> u64 {
    let factor = 1u64 << attempts.saturating_sub(1).min(20);
    config
        .saf_backoff_ms_min
        .saturating_mul(factor)
        .min(config.saf_backoff_ms_max)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: field 7 written by hand is what `strftime("%m%d%H%M%S")` wrote, at the ends of
    // the year and of a day.
    #[test]
    fn transmission_time_matches_strftime() {
        for s in [
            0_i64,
            1_767_225_599,
            1_767_225_600,
            1_798_761_599,
            1_788_000_000,
            951_782_400,
        ] {
            let at = jiff::Timestamp::from_second(s).unwrap_or_else(|e| panic!("{e}"));
            let by_format = at
                .to_zoned(jiff::tz::TimeZone::UTC)
                .strftime("%m%d%H%M%S")
                .to_string();
            assert_eq!(transmission_time_at(at), by_format, "at {s}");
            let zone = jiff::tz::TimeZone::fixed(jiff::tz::offset(8));
            let local = at.to_zoned(zone);
            assert_eq!(
                local_time_and_date(local.datetime()),
                (
                    local.strftime("%H%M%S").to_string(),
                    local.strftime("%m%d").to_string()
                ),
                "local at {s}"
            );
        }
    }
}
