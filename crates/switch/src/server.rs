//! The switch's TCP side: many connections, many requests in flight on each, answers in
//! any order, with fault knobs that make it behave like a real network on a bad day.

use crate::clearing::{self, ClearingError};
use crate::ledger::{self, LedgerError, Totals};
use crate::process::{Processor, Route, Session, route};
use rand::Rng;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use suanpan_iso8583::switch::MTI_0800;
use suanpan_iso8583::{Error as CodecError, IsoMsg, SWITCH, Status, Zpk, split_frame};
use suanpan_pace::Delays;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

/// Answers queued per connection before the reader waits (a bound on memory).
pub const ANSWERS_QUEUED_MAX: usize = 1024;
/// Bytes read at once from a connection.
const READ_BYTES: usize = 16 * 1024;
/// Requests waiting for the ledger thread before their connections wait (a bound on memory).
pub const LEDGER_QUEUE_MAX: usize = 4096;
/// Requests booked in one ledger transaction at most.
pub const LEDGER_GROUP_MAX: usize = 256;

/// The fault knobs. Faults hit financial and reversal traffic only: network management
/// (0800) is always answered, so a link stays signed on; `--down-after` takes it down.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    /// Delay before each answer.
    pub latency_ms: u64,
    /// Probability that an answer is lost after the request took effect (the worst case
    /// for an acquirer: the card was charged and it does not know).
    pub drop: f64,
    /// Probability that a request arrives twice (it is processed twice, idempotently, and
    /// answered twice).
    pub duplicate: f64,
}

/// How to run a switch.
#[derive(Debug, Clone)]
pub struct SwitchConfig {
    /// Address to listen on (`127.0.0.1:0` picks a port).
    pub listen: String,
    /// Directory of the ledger and the clearing files.
    pub data_dir: PathBuf,
    /// Zone PIN key shared with the acquirer.
    pub zpk: Option<Zpk>,
    /// Fault knobs at start.
    pub faults: Faults,
    /// Stop answering and close every connection after this many messages.
    pub down_after: Option<u64>,
}

/// Why the switch could not start or report.
#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    /// Listening failed.
    #[error("switch-sim: {0}")]
    Io(#[from] std::io::Error),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The clearing file failed.
    #[error(transparent)]
    Clearing(#[from] ClearingError),
}

struct Shared {
    processor: Arc<Mutex<Processor>>,
    ledger: mpsc::Sender<Booking>,
    faults: Mutex<Faults>,
    received: Mutex<HashMap<u16, u64>>,
    messages: AtomicU64,
    down_after: Option<u64>,
    stop: watch::Sender<bool>,
    /// The latency knob's clock (`--latency-ms`).
    delays: Delays,
    /// Dropped with the switch: its checkpoint thread then ends.
    _checkpoint_stop: std::sync::mpsc::Sender<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves a usable value (SQLite rolled back).
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running switch.
pub struct Switch {
    addr: std::net::SocketAddr,
    data_dir: PathBuf,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Switch {
    /// Opens the ledger in `config.data_dir` and starts listening.
    ///
    /// # Errors
    /// Ledger and bind failures.
    pub async fn start(config: SwitchConfig) -> Result<Switch, SwitchError> {
        std::fs::create_dir_all(&config.data_dir)?;
        let path = config.data_dir.join(ledger::LEDGER_FILE);
        let conn = ledger::open(&path)?;
        let (checkpoint_stop, stop_rx) = std::sync::mpsc::channel();
        let restart_due = ledger::start_checkpointer(&conn, &path, stop_rx)?;
        let listener = TcpListener::bind(&config.listen).await?;
        let addr = listener.local_addr()?;
        let (stop, _) = watch::channel(false);
        let processor = Arc::new(Mutex::new(Processor::new(conn, config.zpk)));
        let ledger = start_ledger(processor.clone(), restart_due)?;
        let shared = Arc::new(Shared {
            processor,
            ledger,
            faults: Mutex::new(config.faults),
            received: Mutex::new(HashMap::new()),
            messages: AtomicU64::new(0),
            down_after: config.down_after,
            stop,
            delays: Delays::start("switch-delay")?,
            _checkpoint_stop: checkpoint_stop,
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        tracing::info!(%addr, "switch-sim listening");
        Ok(Switch {
            addr,
            data_dir: config.data_dir,
            shared,
            task,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// Replaces the fault knobs.
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.shared.faults) = faults;
    }

    /// Messages received with MTI `mti` (e.g. 421).
    pub fn received(&self, mti: u16) -> u64 {
        lock(&self.shared.received).get(&mti).copied().unwrap_or(0)
    }

    /// The ledger's totals.
    ///
    /// # Errors
    /// Ledger failures.
    pub fn totals(&self) -> Result<Totals, SwitchError> {
        Ok(ledger::totals(lock(&self.shared.processor).conn())?)
    }

    /// Balance and hold of the card `pan`.
    ///
    /// # Errors
    /// Ledger failures.
    pub fn balance_of(&self, pan: &str) -> Result<Option<(i64, i64)>, SwitchError> {
        Ok(ledger::balance_of(
            lock(&self.shared.processor).conn(),
            pan,
        )?)
    }

    /// Writes the clearing file of every settlement date up to and including `through`
    /// (`YYYY-MM-DD`; `None`: every date), returning the paths.
    ///
    /// # Errors
    /// Ledger and file failures.
    pub fn write_clearing(&self, through: Option<&str>) -> Result<Vec<PathBuf>, SwitchError> {
        let p = lock(&self.shared.processor);
        let mut out = Vec::new();
        for date in ledger::settlement_dates(p.conn())? {
            if through.is_none_or(|t| date.as_str() <= t) {
                out.push(clearing::write(p.conn(), &self.data_dir, &date)?);
            }
        }
        Ok(out)
    }

    /// Resolves when the switch went down (`down_after`, or [`Switch::stop`]).
    pub async fn stopped(&self) {
        let mut rx = self.shared.stop.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Stops answering, closes every connection and the listener.
    pub async fn stop(self) {
        self.shared.stop.send_replace(true);
        let _ = self.task.await;
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut stop = shared.stop.subscribe();
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tracing::info!(%peer, "switch-sim: acquirer connected");
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve(stream, shared.clone()));
                }
                Err(e) => tracing::warn!("switch-sim accept: {e}"),
            },
        }
    }
}

async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let (mut rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::channel::<Vec<u8>>(ANSWERS_QUEUED_MAX);
    let writer = tokio::spawn(suanpan_frames::write_frames(rx, wr));
    let session = Arc::new(Mutex::new(Session::default()));
    let mut stop = shared.stop.subscribe();
    let mut buf = Vec::with_capacity(READ_BYTES);
    let mut chunk = vec![0u8; READ_BYTES];
    'conn: loop {
        let n = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            r = rd.read(&mut chunk) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
        };
        buf.extend_from_slice(&chunk[..n]);
        // The frames of one read are decoded in place and the buffer is moved once, not
        // once per frame (a read carries many when the acquirer's requests leave together).
        let mut at = 0;
        loop {
            let (msg, used) = match split_frame(&buf[at..]) {
                Ok(Status::Partial) => break,
                Ok(Status::Complete(f)) => (IsoMsg::decode(&SWITCH, f.body), f.consumed),
                Err(e) => {
                    tracing::warn!("switch-sim: closing a connection: {e}");
                    break 'conn;
                }
            };
            at += used;
            let count = shared.messages.fetch_add(1, Ordering::SeqCst) + 1;
            if shared.down_after.is_some_and(|n| count > n) {
                tracing::warn!("switch-sim: down after {} messages", count - 1);
                shared.stop.send_replace(true);
                break 'conn;
            }
            match msg {
                Ok(m) => {
                    tokio::spawn(answer(m, session.clone(), shared.clone(), tx.clone()));
                }
                Err(e) => log_bad_frame(e),
            }
        }
        buf.drain(..at);
    }
    writer.abort();
}

fn log_bad_frame(e: CodecError) {
    // Without a decodable MTI and key there is nothing to answer to; the acquirer's
    // time-out and reversal cover it.
    tracing::warn!("switch-sim: frame dropped, cannot decode it: {e}");
}

async fn answer(
    msg: IsoMsg,
    session: Arc<Mutex<Session>>,
    shared: Arc<Shared>,
    tx: mpsc::Sender<Vec<u8>>,
) {
    *lock(&shared.received).entry(msg.mti().value()).or_default() += 1;
    let faults = *lock(&shared.faults);
    if faults.latency_ms > 0 {
        shared
            .delays
            .wait(Duration::from_millis(faults.latency_ms))
            .await;
    }
    let management = msg.mti() == MTI_0800;
    let copies = if !management && chance(faults.duplicate) {
        2
    } else {
        1
    };
    let msg = Arc::new(msg);
    for _ in 0..copies {
        let routed = route(&msg, &mut lock(&session));
        let result = match routed {
            Route::Answered(a) => Ok(a.map(|m| *m)),
            Route::Book => book(&shared, &msg).await.map(Some),
        };
        let reply = match result {
            Ok(Some(reply)) => reply,
            Ok(None) => return,
            Err(e) => {
                tracing::error!("switch-sim ledger: {e}");
                return;
            }
        };
        if !management && chance(faults.drop) {
            tracing::debug!(mti = %msg.mti(), "switch-sim: answer dropped (fault knob)");
            continue;
        }
        let mut frame = Vec::new();
        if reply.encode(&mut frame).is_ok() && tx.send(frame).await.is_err() {
            return;
        }
    }
}

/// A request for the ledger thread, answered after its group's commit.
struct Booking {
    msg: Arc<IsoMsg>,
    at: jiff::Timestamp,
    done: oneshot::Sender<Result<IsoMsg, LedgerError>>,
}

/// Books `msg` on the ledger thread and waits for its answer, which exists only once the
/// ledger transaction holding its effect and its stored answer committed: an answer the
/// acquirer hears is never one a crash of the switch takes back.
async fn book(shared: &Shared, msg: &Arc<IsoMsg>) -> Result<IsoMsg, LedgerError> {
    let (done, answered) = oneshot::channel();
    let booking = Booking {
        msg: msg.clone(),
        at: jiff::Timestamp::now(),
        done,
    };
    let gone = || LedgerError::Invariant("the ledger thread stopped");
    shared.ledger.send(booking).await.map_err(|_| gone())?;
    answered.await.map_err(|_| gone())?
}

/// Starts the ledger thread: it books the requests that queued while its last commit ran
/// in one transaction (up to [`LEDGER_GROUP_MAX`]), then answers them. One commit per
/// message was most of the switch's work per answer under load (issue 15, s18-speed:
/// callgrind). It ends when every sender is gone (the switch and its connections).
fn start_ledger(
    processor: Arc<Mutex<Processor>>,
    restart_due: Arc<std::sync::atomic::AtomicBool>,
) -> std::io::Result<mpsc::Sender<Booking>> {
    let (tx, mut rx) = mpsc::channel::<Booking>(LEDGER_QUEUE_MAX);
    std::thread::Builder::new()
        .name("switch-ledger".into())
        .spawn(move || {
            while let Some(first) = rx.blocking_recv() {
                let mut group = vec![first];
                while group.len() < LEDGER_GROUP_MAX {
                    match rx.try_recv() {
                        Ok(b) => group.push(b),
                        Err(_) => break,
                    }
                }
                let reqs: Vec<(&IsoMsg, jiff::Timestamp)> =
                    group.iter().map(|b| (&*b.msg, b.at)).collect();
                let answers = lock(&processor).book_group(&reqs);
                drop(reqs);
                for (b, a) in group.into_iter().zip(answers) {
                    // The connection may be gone; its answer is booked all the same.
                    let _ = b.done.send(a);
                }
                ledger::restart_if_due(lock(&processor).conn(), &restart_due);
            }
        })?;
    Ok(tx)
}

fn chance(p: f64) -> bool {
    p > 0.0 && rand::thread_rng().gen_bool(p.min(1.0))
}
