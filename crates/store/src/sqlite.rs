//! The embedded store: SQLite in WAL mode, one writer thread doing group commit (its commits
//! flushed to the disk by a durability thread before anyone hears of them), and a separate
//! connection for reads.

use crate::audit::{self, AuditEntry, ChainHead, Verification};
use crate::command::Command;
use crate::error::StoreError;
use crate::query::{self, Conservation, TxnFilter};
use crate::reply::{Ask, Pending, Reply};
use crate::sql::{Dialect, Sql};
pub use crate::writer::GROUP_COMMIT_MAX;
use crate::writer::{Committed, GroupError, GroupRunner, Queue, writer_loop};
use crate::{Done, ReadFn, SetupFn, Store};
use crossbeam_channel::bounded;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use suanpan_core::clock::Clock;
use suanpan_core::{MerchantId, OperatorNo, Policy, TerminalId, Transaction, TxnId};

/// The database file name inside the data directory.
pub const DB_FILE: &str = "suanpan.db";
/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 22;
/// Commands waiting for the writer before callers block (back-pressure, not unbounded memory).
pub const WRITER_QUEUE_MAX: usize = 8_192;
/// How long a writer waits for another process's write lock before it gives up.
pub const BUSY_WAIT_MS_MAX: u64 = 30_000;
/// After this long waiting for the lock, the wait is reported (not silent).
pub const BUSY_REPORT_AFTER_MS: u64 = 1_000;
const BUSY_STEP_MS: u64 = 5;

/// How to open a store.
#[derive(Clone)]
pub struct OpenOptions {
    /// The rules' knobs.
    pub policy: Policy,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The use cases the writer runs for each command (`suanpan_service::open_options`
    /// gives them; the default [`crate::writer::NoUseCases`] answers every command with an
    /// error).
    pub apply: Arc<dyn crate::writer::Apply>,
    /// Largest size of the database in pages (`None`: as large as the disk allows). A write
    /// past it fails exactly like a full disk: nothing of it is saved.
    pub db_pages_max: Option<u64>,
    /// The key-encryption key's provider: every key the store keeps is wrapped under it.
    /// The default is [`crate::keys::ephemeral`] (one random KEK per process, for tests);
    /// the `suanpan` binary always gives the configured KEK file.
    pub keys: crate::keys::Keys,
    /// Where the audit chain's head is anchored after every commit that extends it
    /// (`<kek>.anchor`, see [`crate::anchor`]); `None`: not anchored (library and tests).
    pub anchor: Option<Arc<crate::anchor::Anchor>>,
    /// Bulk load (`bench seed`): the writer's commits do not wait for the disk
    /// (SQLite `synchronous=OFF`, PostgreSQL `synchronous_commit=off`) and SQLite's writer
    /// keeps a page cache of [`BULK_CACHE_KIB`]. A crash of the process loses nothing; a
    /// crash of the machine may lose or (SQLite) damage what the load wrote, so only a store
    /// that nobody else uses is opened this way, and the loader ends with
    /// [`crate::Store::sync_to_disk`].
    pub bulk_load: bool,
    /// The writer's page cache, KiB ([`WRITER_CACHE_KIB`] unless configured; a bulk load
    /// uses [`BULK_CACHE_KIB`] instead).
    pub writer_cache_kib: i64,
    /// PostgreSQL: how many writers (threads, each with its own connection and group commit)
    /// a node runs, [`crate::pg::PG_WRITERS`] unless configured (`[store] pg_writers`). SQLite
    /// has one writer whatever this says: the database has one.
    pub pg_writers: usize,
    /// The nice value of the writer threads and of the SQLite writer's sync thread
    /// (`[store] writer_nice`, −20 to 19; 0, the default, leaves them as inherited). See
    /// `writer::set_thread_nice`.
    pub writer_nice: i32,
}

/// The writer's page cache by default, KiB (SQLite allocates it as pages are read, so a small
/// store uses little; `[store] writer_cache_mib` sets it). A sale inserts into each of the txns
/// table's indexes at one place per terminal or card, spread over the index: SQLite's 2 MiB
/// default no longer held their hot leaves once the risk rules' indexes existed, and the writer
/// read ~1.4 pages per sale back from the OS (issue 15). 64 MiB held them, but a host serving
/// 1,000 terminals on a 1M-row store then peaked at 109 MB against issue 16's 64 MB budget,
/// the cache filling with the leaves of a thousand terminals' and cards' insertion points.
/// 4 MiB is the trade: that host peaked at 58 MB with it, 72 MB with 16 MiB
/// (docs/DECISIONS.md, docs/BENCHMARKS.md).
pub const WRITER_CACHE_KIB: i64 = 4 * 1024;
/// The bulk-loading writer's page cache, KiB (SQLite's default is 2 MiB: a journal of
/// millions of rows then reads most index pages back from the OS at every insert).
pub const BULK_CACHE_KIB: i64 = 1024 * 1024;

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions {
            policy: Policy::default(),
            clock: Arc::new(suanpan_core::clock::SystemClock),
            apply: Arc::new(crate::writer::NoUseCases),
            db_pages_max: None,
            keys: crate::keys::ephemeral(),
            anchor: None,
            bulk_load: false,
            writer_cache_kib: WRITER_CACHE_KIB,
            pg_writers: crate::pg::PG_WRITERS,
            writer_nice: 0,
        }
    }
}

/// The SQLite store.
pub struct SqliteStore {
    path: PathBuf,
    reader: Mutex<Connection>,
    /// The connection [`SqliteStore::setup`] keeps between calls, opened at the first one.
    setup: Mutex<Option<Connection>>,
    jobs: Queue,
    writer: Option<JoinHandle<()>>,
    checkpointer: Option<Checkpointer>,
    policy: Policy,
    clock: Arc<dyn Clock>,
    keys: crate::keys::Keys,
    request_key: crate::keys::KeptKey,
    anchor: Option<Arc<crate::anchor::Anchor>>,
}

fn wal_path(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// SQLite calls this while another connection holds the lock; `count` is the number of
/// earlier calls for the same wait. We sleep in small steps, say once that we are waiting,
/// and give up after [`BUSY_WAIT_MS_MAX`] so no writer hangs silently or forever.
fn busy_handler(count: i32) -> bool {
    let waited_ms = u64::try_from(count).unwrap_or(0) * BUSY_STEP_MS;
    if waited_ms == BUSY_REPORT_AFTER_MS {
        tracing::warn!(
            "another process is writing to the store; waiting for its lock (up to {} s)",
            BUSY_WAIT_MS_MAX / 1000
        );
    }
    if waited_ms >= BUSY_WAIT_MS_MAX {
        tracing::error!(
            "gave up waiting for the store's write lock after {} s",
            BUSY_WAIT_MS_MAX / 1000
        );
        return false;
    }
    std::thread::sleep(Duration::from_millis(BUSY_STEP_MS));
    true
}

fn connect(path: &Path, create: bool) -> Result<Connection, StoreError> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    configure(Connection::open_with_flags(path, flags)?)
}

/// The writer's connection: SQLite's own VFS but for the WAL, which it writes a commit at a
/// time (`walbuf`, s25-walbuf).
fn connect_writer(path: &Path) -> Result<Connection, StoreError> {
    crate::walbuf::register().map_err(StoreError::Sqlite)?;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let vfs = crate::walbuf::VFS_NAME
        .to_str()
        .map_err(|e| StoreError::Sqlite(e.to_string()))?;
    configure(Connection::open_with_flags_and_vfs(path, flags, vfs)?)
}

fn configure(conn: Connection) -> Result<Connection, StoreError> {
    conn.busy_handler(Some(busy_handler))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Deleted or overwritten content (a key migrated from clear to wrapped) is zeroed in
    // the file, not left in free pages for a copy of the disk to find.
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// A connection for [`SqliteStore::setup`]: its commits leave the WAL to the checkpointer.
/// With SQLite's default (a checkpoint at every commit past 1,000 WAL pages) each setup
/// commit under load copied the WAL and synced the database file, 4–13 ms on an async
/// worker while the caller held its lock (the upstream's STAN blocks), s23-setup.
fn connect_setup(path: &Path) -> Result<Connection, StoreError> {
    let conn = connect(path, false)?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    Ok(conn)
}

impl SqliteStore {
    /// Creates a new store in `dir` (which must not hold one yet) and opens it.
    pub fn create(dir: &Path, opts: OpenOptions) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Sqlite(format!("{}: {e}", dir.display())))?;
        let path = dir.join(DB_FILE);
        if path.exists() {
            return Err(StoreError::LiveStore(path.display().to_string()));
        }
        let conn = connect(&path, true)?;
        migrate(&conn)?;
        drop(conn);
        SqliteStore::open(dir, opts)
    }

    /// Opens the store in `dir`.
    pub fn open(dir: &Path, opts: OpenOptions) -> Result<SqliteStore, StoreError> {
        let path = dir.join(DB_FILE);
        if !path.exists() {
            return Err(StoreError::NotInitialized(dir.display().to_string()));
        }
        // Owner only, also for a store an earlier build left readable by all; SQLite gives
        // the WAL and shared-memory files the database file's mode.
        for p in [
            dir.to_path_buf(),
            path.clone(),
            wal_path(&path, "-wal"),
            wal_path(&path, "-shm"),
        ] {
            if p.exists() {
                crate::keys::restrict(&p)
                    .map_err(|e| StoreError::Sqlite(format!("{}: {e}", p.display())))?;
            }
        }
        let write = connect_writer(&path)?;
        migrate(&write)?;
        // Checkpoints run on their own thread (below), not inside the writer's commits.
        write.pragma_update(None, "wal_autocheckpoint", 0)?;
        if let Some(pages) = opts.db_pages_max {
            write.pragma_update(None, "max_page_count", pages)?;
        }
        // After a restart the WAL file is cut back to this size instead of staying as large as
        // it ever grew.
        write.pragma_update(None, "journal_size_limit", WAL_BYTES_KEPT)?;
        write.pragma_update(None, "cache_size", -opts.writer_cache_kib)?;
        if opts.bulk_load {
            write.pragma_update(None, "synchronous", "OFF")?;
            write.pragma_update(None, "cache_size", -BULK_CACHE_KIB)?;
            write.pragma_update(None, "temp_store", "MEMORY")?;
        } else {
            // A commit does not wait for the disk; the writer's durability thread syncs the
            // WAL for every group committed meanwhile and only then answers them (see
            // `SqliteWriter::durability`).
            write.pragma_update(None, "synchronous", "NORMAL")?;
        }
        let restart_due = Arc::new(AtomicBool::new(false));
        let interval = if opts.bulk_load {
            BULK_CHECKPOINT_INTERVAL_MS
        } else {
            CHECKPOINT_INTERVAL_MS
        };
        let checkpointer =
            Checkpointer::start(&path, restart_due.clone(), interval, !opts.bulk_load)?;
        let reader = connect(&path, false)?;
        let (tx, rx) = bounded(WRITER_QUEUE_MAX);
        let policy = opts.policy.clone();
        let clock = opts.clock.clone();
        let keys = opts.keys.clone();
        let anchor = opts.anchor.clone();
        let db = path.clone();
        let writer = std::thread::Builder::new()
            .name("suanpan-writer".into())
            .spawn(move || {
                let runner = SqliteWriter {
                    wal: (!opts.bulk_load).then(|| wal_path(&db, "-wal")),
                    conn: write,
                    restart_due,
                    carry: opts.bulk_load.then(crate::repo::Carry::default),
                };
                writer_loop(runner, rx, opts)
            })
            .map_err(|e| StoreError::Sqlite(e.to_string()))?;
        let store = SqliteStore {
            path,
            reader: Mutex::new(reader),
            setup: Mutex::new(None),
            jobs: Queue(Some(tx)),
            writer: Some(writer),
            checkpointer: Some(checkpointer),
            policy,
            clock,
            keys,
            request_key: crate::keys::KeptKey::new(crate::keys::REQUEST_HASH_PURPOSE),
            anchor,
        };
        if crate::terminal_keys::migrate_clear_keys(&store)? > 0 {
            // The clear keys' old pages may still sit in the WAL: fold it into the (securely
            // overwritten) database file and cut it to nothing.
            store.read(|c| c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);"))?;
        }
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The clock in use.
    pub fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }

    /// Runs `f` on the read connection.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let conn = self
            .reader
            .lock()
            .map_err(|_| StoreError::Sqlite("reader poisoned".into()))?;
        Ok(f(&conn)?)
    }

    /// Runs `f` on the read connection through the backend-neutral [`Sql`] layer.
    pub fn read_sql<T>(
        &self,
        f: impl FnOnce(&dyn Sql) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self
            .reader
            .lock()
            .map_err(|_| StoreError::Sqlite("reader poisoned".into()))?;
        f(&*conn)
    }

    /// Runs `f` in one write transaction on a separate connection (setup and admin work that
    /// is not on the counter's path: init, registering terminals, and the workers' claims:
    /// the notify worker's poll, the SAF drainer's, STAN blocks, sign-ins).
    ///
    /// The connection is kept between calls: opening one parses the schema and sets the
    /// pragmas, which cost the notify worker's poll more than its query (issue 15,
    /// s17-speed). A call that finds it in use (another thread's setup, or a setup nested in
    /// one) opens a connection of its own, as every call did before, so nothing waits on
    /// the mutex while SQLite's busy handler already orders the writers.
    pub fn setup<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>, &mut ChainHead) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self.setup.try_lock() {
            Ok(mut kept) => {
                let mut conn = match kept.take() {
                    Some(c) => c,
                    None => connect_setup(&self.path)?,
                };
                let out = self.setup_on(&mut conn, f);
                // A connection left inside a transaction (a failed ROLLBACK) is not reused.
                if conn.is_autocommit() {
                    *kept = Some(conn);
                }
                out
            }
            Err(_) => self.setup_on(&mut connect_setup(&self.path)?, f),
        }
    }

    fn setup_on<T>(
        &self,
        conn: &mut Connection,
        f: impl FnOnce(&rusqlite::Transaction<'_>, &mut ChainHead) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut head = ChainHead::read(&*tx)?;
        let before = head.seq;
        let out = f(&tx, &mut head)?;
        tx.commit()?;
        if head.seq > before
            && let Some(anchor) = &self.anchor
        {
            anchor.append(&head, self.clock.now().as_microsecond());
        }
        Ok(out)
    }

    /// The audit entries, newest first.
    pub fn audit_entries(&self, limit: u32, offset: u32) -> Result<Vec<AuditEntry>, StoreError> {
        self.read_sql(|c| audit::entries_in(c, limit, offset))
    }

    /// Recomputes the audit chain and holds it against the anchor, if the store has one.
    pub fn verify_audit(&self) -> Result<Verification, StoreError> {
        let anchored = match &self.anchor {
            Some(a) => a.latest()?,
            None => None,
        };
        self.read_sql(|c| audit::verify_anchored(c, anchored.as_ref()))
    }

    /// The money conservation check.
    pub fn conservation(&self) -> Result<Conservation, StoreError> {
        self.read_sql(query::conservation_in)
    }

    /// An operator's stored password hash and lock state.
    pub fn operator_secret(
        &self,
        merchant: &MerchantId,
        op: OperatorNo,
    ) -> Result<Option<(String, u32, Option<i64>)>, StoreError> {
        self.read_sql(|c| crate::auth::secret_in(c, merchant, op))
    }

    /// A terminal's state and open batch.
    pub fn terminal(
        &self,
        id: &TerminalId,
    ) -> Result<
        Result<crate::repo::terminals::TerminalState, suanpan_core::refusal::AccessRefused>,
        StoreError,
    > {
        self.read_sql(|c| crate::repo::terminals::load(c, id))
    }
}

impl SqliteStore {
    /// Hands a command to the writer without waiting: many commands in flight from one caller
    /// share group commits (a host with many connections, a load test). The typed answer
    /// still arrives only after the commit.
    pub fn submit<A: Ask>(&self, cmd: A) -> Result<Pending<A>, StoreError> {
        self.jobs.submit(cmd.into()).map(Pending::new)
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Closing the channel lets the writer finish its queue and stop.
        self.jobs.0.take();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
        if let Some(c) = self.checkpointer.take() {
            c.stop();
        }
    }
}

/// How often the checkpointer copies committed WAL frames into the database.
pub const CHECKPOINT_INTERVAL_MS: u64 = 200;
/// The same during a bulk load ([`OpenOptions::bulk_load`]). Each group commit appends every
/// page it changed to the WAL, and a checkpoint copies each page once, however many commits
/// changed it since the last one. A bulk load's groups change the same pages again and again
/// (the issuer accounts, the leaves of the terminal/batch index its 1,000 terminals insert
/// into): checkpointing after every group or two wrote each of them to the database file at
/// every group; every few seconds writes them once per few dozen groups.
pub const BULK_CHECKPOINT_INTERVAL_MS: u64 = 5_000;
/// WAL frames (pages) after which the checkpointer also restarts the WAL, briefly holding
/// writers back, so the file does not grow without bound under constant load. Each restart
/// holds the writer ~5–7 ms; at 16,384 frames that was every ~0.4 s at 5,000 network sales
/// a second, a burst of late answers each time (s23-ckpt). A longer WAL costs disk only:
/// a read searches the frames not yet checkpointed, not the whole log.
pub const WAL_FRAMES_RESTART: i64 = 65_536;
/// Bytes of WAL file kept after a restart: room for the frames of a restart's usual length
/// ([`WAL_FRAMES_RESTART`] and what the writer adds until it restarts, ~4,120 bytes each:
/// 270 MB and more), so that the file is written over, not cut back and grown again (a cut
/// cost 2–9 ms inside the writer, s22-ckpt).
pub const WAL_BYTES_KEPT: i64 = 320 * 1024 * 1024;

/// Copies the WAL into the database on a thread of its own, so the writer's commits only
/// append to the WAL (automatic checkpoints at commit took ~17% of the writer under load).
struct Checkpointer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: JoinHandle<()>,
}

impl Checkpointer {
    /// `sync_db`: flush the database file before each restart is asked for (see
    /// [`checkpoint_loop`]); a bulk load, which syncs nothing until its end, does not.
    fn start(
        path: &Path,
        restart_due: Arc<AtomicBool>,
        interval_ms: u64,
        sync_db: bool,
    ) -> Result<Checkpointer, StoreError> {
        let conn = connect(path, false)?;
        let db = if sync_db {
            Some(std::fs::File::open(path).map_err(|e| StoreError::Sqlite(e.to_string()))?)
        } else {
            None
        };
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("suanpan-checkpoint".into())
            .spawn(move || checkpoint_loop(&conn, db.as_ref(), &flag, &restart_due, interval_ms))
            .map_err(|e| StoreError::Sqlite(e.to_string()))?;
        Ok(Checkpointer { stop, thread })
    }

    fn stop(self) {
        if let Ok(mut s) = self.stop.0.lock() {
            *s = true;
            self.stop.1.notify_all();
        }
        let _ = self.thread.join();
    }
}

/// `db`, when given, is the database file, flushed before each restart is asked for. SQLite
/// syncs the database file only in a checkpoint that reaches the WAL's end, which under load
/// is the writer's restart: it flushed every page the passive passes had copied since the
/// last restart, 11–14 ms inside the writer every ~0.4 s at 5,000 network sales a second
/// (`perf trace`, issue 15, s23-ckpt). Flushed here first, the restart's sync only covers
/// what it copies itself.
fn checkpoint_loop(
    conn: &Connection,
    db: Option<&std::fs::File>,
    stop: &(Mutex<bool>, Condvar),
    restart_due: &AtomicBool,
    interval_ms: u64,
) {
    let Ok(mut stopped) = stop.0.lock() else {
        return;
    };
    while !*stopped {
        match passive_checkpoint(conn) {
            // Restarting needs a moment without a write transaction: the writer does it between
            // two groups when asked, and copies inside the writer whatever the passive passes
            // have not: it is asked only once they have caught up.
            // A WAL that never catches up (a reader holding a snapshot, a load the passes
            // cannot follow) is restarted all the same once it is four times as long.
            Ok((log, _)) if log >= WAL_FRAMES_RESTART => {
                let mut sync = || db.map_or(Ok(()), std::fs::File::sync_data);
                ask_restart(conn, log, &mut sync, restart_due);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; will retry"),
        }
        // After every pass, also one that did not catch up (a reader holding its frames):
        // after a flush it finds nothing to write.
        if let Some(f) = db {
            start_writeback(f);
        }
        let wait = Duration::from_millis(interval_ms);
        stopped = match stop.1.wait_timeout(stopped, wait) {
            Ok((guard, _)) => guard,
            Err(_) => return,
        };
    }
}

/// Starts writing the database file's dirty pages to the disk without waiting for them
/// (Linux `sync_file_range`, `SYNC_FILE_RANGE_WRITE`): the pages each pass copies leave a
/// few at a time, so the flush before a restart finds few left.
#[cfg(target_os = "linux")]
fn start_writeback(f: &std::fs::File) {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is open for the whole call (`f` is borrowed); the call reads
    // no memory of ours.
    let r = unsafe { libc::sync_file_range(f.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
    if r != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "database file writeback not started");
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_: &std::fs::File) {}

/// Past the threshold (`log` frames): once the passes have caught up, or the WAL is four
/// times as long, flushes the database file (`sync`) and only then asks the writer for the
/// restart, so that the restart's own sync covers only the few pages it copies itself.
fn ask_restart(
    conn: &Connection,
    log: i64,
    sync: &mut dyn FnMut() -> std::io::Result<()>,
    restart_due: &AtomicBool,
) {
    if catch_up(conn, log) || log >= 4 * WAL_FRAMES_RESTART {
        if let Err(e) = sync() {
            // The restart still syncs what it needs; it is only slower.
            tracing::warn!(error = %e, "database file sync before a WAL restart failed");
        }
        restart_due.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Passive checkpoint passes run back to back at most before a restart is asked for.
const CATCH_UP_PASSES_MAX: u32 = 8;
/// WAL frames a pass may leave behind (appended during it, or still read by a reader) for the
/// passes to count as caught up: what the writer's restart then copies, a few milliseconds.
const CATCH_UP_FRAMES: i64 = 128;

/// One passive checkpoint: the WAL's length in frames when it began, and how many of them
/// are still not in the database file (a reader still needed them).
fn passive_checkpoint(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        let (log, copied): (i64, i64) = (r.get(1)?, r.get(2)?);
        Ok((log, (log - copied).max(0)))
    })
}

/// Runs passive passes back to back until one finds at most [`CATCH_UP_FRAMES`] frames
/// added since the one before and left behind (at most [`CATCH_UP_PASSES_MAX`] passes):
/// whether the WAL is caught up. At 2,000 network sales a second a restart asked for after
/// one pass copied the frames that pass had not reached and synced the database file inside
/// the writer, 10–20 ms every ~0.6 s, and every sale waited behind it (issue 15, s22-ckpt).
fn catch_up(conn: &Connection, mut log: i64) -> bool {
    for _ in 0..CATCH_UP_PASSES_MAX {
        match passive_checkpoint(conn) {
            Ok((now, left)) if now - log + left <= CATCH_UP_FRAMES => return true,
            Ok((now, _)) => log = now,
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
                return false;
            }
        }
    }
    false
}

impl crate::untyped::Writer for SqliteStore {
    fn execute(&self, cmd: Command, _: crate::untyped::Token) -> Result<Reply, StoreError> {
        self.jobs.submit(cmd)?.wait()
    }

    fn submit_boxed(
        &self,
        cmd: Command,
        done: Done,
        _: crate::untyped::Token,
    ) -> Result<(), StoreError> {
        self.jobs.submit_with(cmd, done)
    }
}

impl Store for SqliteStore {
    fn transaction(&self, id: TxnId) -> Result<Option<Transaction>, StoreError> {
        self.read_sql(|c| query::get_in(c, id.0))
    }

    fn transactions(&self, filter: &TxnFilter) -> Result<Vec<Transaction>, StoreError> {
        self.read_sql(|c| query::list_in(c, filter))
    }

    fn with_reader(&self, f: &mut ReadFn<'_>) -> Result<(), StoreError> {
        self.read_sql(f)
    }

    fn with_setup(&self, f: &mut SetupFn<'_>) -> Result<(), StoreError> {
        self.setup(|tx, head| f(tx, head))
    }

    fn policy(&self) -> &Policy {
        &self.policy
    }

    fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
    fn keys(&self) -> &crate::keys::Keys {
        &self.keys
    }
    fn request_hash(&self, parts: &[&[u8]]) -> Result<String, StoreError> {
        let mac = self.request_key.get(&*self.keys)?;
        Ok(hex::encode(mac.framed(parts)))
    }
    fn anchor(&self) -> Option<&Arc<crate::anchor::Anchor>> {
        self.anchor.as_ref()
    }
    fn location(&self) -> crate::Location {
        crate::Location::Sqlite(self.path.clone())
    }
    /// A full checkpoint on a `synchronous=FULL` connection: the WAL (written without fsync
    /// by a bulk load) is copied into the database file, which is fsynced, and cut to
    /// nothing.
    ///
    /// A checkpoint running at that moment on another connection (the store's own
    /// background checkpointer, or the writer's restart between groups) makes SQLite answer
    /// busy at once, without its busy handler: the checkpoint is tried again for up to
    /// `SYNC_TRIES` × `SYNC_STEP_MS` before the store is reported as used by someone else.
    fn sync_to_disk(&self) -> Result<(), StoreError> {
        const SYNC_TRIES: u32 = 100;
        const SYNC_STEP_MS: u64 = 50;
        let mut busy: (i64, i64, i64) = (1, -1, -1);
        for _ in 0..SYNC_TRIES {
            busy = self.read(|c| {
                c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
            })?;
            if busy.0 == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(SYNC_STEP_MS));
        }
        if busy.0 != 0 {
            return Err(StoreError::Sqlite(format!(
                "the final checkpoint was blocked ({} of {} WAL pages copied): another process is using the store",
                busy.2, busy.1
            )));
        }
        Ok(())
    }
}

/// Applies the schema if the file is new, and refuses a file from a newer build.
fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let has_meta: bool = conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
        [],
        |r| r.get(0),
    )?;
    if !has_meta {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} INSERT INTO meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}'); COMMIT;",
            include_str!("schema.sql"),
            include_str!("migrate_2.sql"),
            include_str!("migrate_4.sql"),
            include_str!("migrate_5.sql"),
            include_str!("migrate_6.sql"),
            include_str!("migrate_7.sql"),
            include_str!("migrate_9.sql"),
            include_str!("migrate_10.sql"),
            include_str!("migrate_11.sql"),
            include_str!("migrate_12.sql"),
            include_str!("migrate_13.sql"),
            include_str!("migrate_15.sql"),
            include_str!("migrate_16.sql"),
            include_str!("migrate_17.sql"),
            include_str!("migrate_18.sql"),
            include_str!("migrate_19.sql"),
            include_str!("migrate_20.sql"),
            include_str!("migrate_21.sql"),
            include_str!("migrate_22.sql")
        ))?;
        return Ok(());
    }
    let version: i64 = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get::<_, String>(0),
        )
        .optional()?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if version > SCHEMA_VERSION {
        return Err(StoreError::Sqlite(format!(
            "the store has schema version {version}, newer than this build's {SCHEMA_VERSION}; upgrade suanpan"
        )));
    }
    if version < 2 {
        // Idempotent, in one transaction: a second process opening the store at the same
        // moment finds the indexes there or waits on the lock.
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {} UPDATE meta SET value = '2' WHERE key = 'schema_version'; COMMIT;",
            include_str!("migrate_2.sql")
        ))?;
    }
    if version < 3 {
        migrate_3(conn)?;
    }
    if version < 4 {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {} UPDATE meta SET value = '4' WHERE key = 'schema_version'; COMMIT;",
            include_str!("migrate_4.sql")
        ))?;
    }
    if version < 5 {
        add_column_once(
            conn,
            "terminals",
            "mac_algorithm",
            include_str!("migrate_5.sql"),
            5,
        )?;
    }
    if version < 6 {
        // Builds the search indexes of a journal that may hold millions of rows: minutes on
        // a big store, once, before the store opens.
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {} UPDATE meta SET value = '6' WHERE key = 'schema_version'; COMMIT;",
            include_str!("migrate_6.sql")
        ))?;
    }
    if version < 7 {
        add_column_once(
            conn,
            "merchants",
            "status",
            include_str!("migrate_7.sql"),
            7,
        )?;
    }
    if version < 9 {
        // Risk alerts, limits and blocklist (issue 13); IF NOT EXISTS throughout.
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {} UPDATE meta SET value = '9' WHERE key = 'schema_version'; COMMIT;",
            include_str!("migrate_9.sql")
        ))?;
    }
    if version < 10 {
        // How a transaction went to the network upstream (issue 15); idempotent
        // (`IF NOT EXISTS`), in one transaction.
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {} UPDATE meta SET value = '10' WHERE key = 'schema_version'; COMMIT;",
            include_str!("migrate_10.sql")
        ))?;
    }
    if version < 11 {
        // Webhooks and scheduled runs (issue 13): new tables only, `IF NOT EXISTS`.
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {} UPDATE meta SET value = '11' WHERE key = 'schema_version'; COMMIT;",
            include_str!("migrate_11.sql")
        ))?;
    }
    if version < 12 {
        // Terminals' last sign-in (issue 14): a new table only, `IF NOT EXISTS`.
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {} UPDATE meta SET value = '12' WHERE key = 'schema_version'; COMMIT;",
            include_str!("migrate_12.sql")
        ))?;
    }
    if version < 13 {
        // The upstream's store-and-forward queue in the main store (issue 15): new tables
        // only, `IF NOT EXISTS`.
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {} UPDATE meta SET value = '13' WHERE key = 'schema_version'; COMMIT;",
            include_str!("migrate_13.sql")
        ))?;
    }
    if version < 15 {
        // A terminal paused by its merchant's supervisor (issue 13).
        add_column_once(
            conn,
            "terminals",
            "paused_at",
            include_str!("migrate_15.sql"),
            15,
        )?;
    }
    if version < 16 {
        // The card rules' covering index (issue 13): built once, minutes on a big store.
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {} UPDATE meta SET value = '16' WHERE key = 'schema_version'; COMMIT;",
            include_str!("migrate_16.sql")
        ))?;
    }
    if version < 17 {
        // `hidden` in the kind, status, terminal and operator indexes (issue 16): rebuilds four
        // indexes of a journal that may hold millions of rows, once, before the store opens.
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {} UPDATE meta SET value = '17' WHERE key = 'schema_version'; COMMIT;",
            include_str!("migrate_17.sql")
        ))?;
    }
    if version < 18 {
        // A claim on a queued advice (issue 15: several nodes drain one queue).
        add_column_once(
            conn,
            "upstream_saf",
            "claimed_by",
            include_str!("migrate_18.sql"),
            18,
        )?;
    }
    if version < 19 {
        // The sealed card number and the reversal's STAN beside an upstream request (issue 15).
        add_column_once(
            conn,
            "upstream_requests",
            "pan",
            include_str!("migrate_19.sql"),
            19,
        )?;
    }
    if version < 20 {
        // The risk rules' two journal indexes leave the fixed schema (issue 15):
        // `risk_index::apply` owns them.
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {} UPDATE meta SET value = '20' WHERE key = 'schema_version'; COMMIT;",
            include_str!("migrate_20.sql")
        ))?;
    }
    if version < 21 {
        // The end of an upstream sale's refund window beside its sealed card number
        // (s17-refund): kept for the back-office's refund, forgotten by index at its end.
        add_column_once(
            conn,
            "upstream_requests",
            "pan_until",
            include_str!("migrate_21.sql"),
            21,
        )?;
    }
    if version < 22 {
        // The one-void index's condition without an IN list (s20-net): SQLite built an
        // ephemeral B-tree for it on every booked row and every status change.
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {} UPDATE meta SET value = '22' WHERE key = 'schema_version'; COMMIT;",
            include_str!("migrate_22.sql")
        ))?;
    }
    // A bulk load (`bench seed`) stopped before its end left the search indexes dropped.
    if crate::seed::search_indexes_missing(conn, Dialect::Sqlite)? > 0 {
        tracing::warn!("building the indexes an interrupted bulk load dropped");
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {} COMMIT;",
            crate::seed::bulk_index_sql(Dialect::Sqlite)
        ))?;
    }
    Ok(())
}

/// Version 3 (`migrate_3.sql`): `txns.terminal_info`. `ADD COLUMN` cannot say "if not
/// exists", so the column is looked for inside the write transaction: a second process
/// opening the store at the same moment waits on the lock, then finds it there.
fn migrate_3(conn: &Connection) -> Result<(), StoreError> {
    add_column_once(
        conn,
        "txns",
        "terminal_info",
        include_str!("migrate_3.sql"),
        3,
    )
}

/// Runs `sql` (one `ADD COLUMN`) unless `table` has `column` already, and sets the schema
/// version to `version`, in one write transaction.
fn add_column_once(
    conn: &Connection,
    table: &str,
    column: &str,
    sql: &str,
    version: i64,
) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| -> Result<(), StoreError> {
        let has: i64 = conn.query_row(
            "SELECT COUNT(*) FROM pragma_table_info(?1) WHERE name = ?2",
            [table, column],
            |r| r.get(0),
        )?;
        if has == 0 {
            conn.execute_batch(sql)?;
        }
        conn.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
            [version.to_string()],
        )?;
        Ok(())
    })();
    match result {
        Ok(()) => Ok(conn.execute_batch("COMMIT")?),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// The SQLite writer connection and its WAL housekeeping.
struct SqliteWriter {
    /// The WAL file, until [`GroupRunner::durability`] takes it (`None` for a bulk load).
    wal: Option<PathBuf>,
    conn: Connection,
    restart_due: Arc<AtomicBool>,
    /// A bulk load's issuer accounts, kept from one group to the next (`repo::Carry`).
    carry: Option<crate::repo::Carry>,
}

impl GroupRunner for SqliteWriter {
    /// `BEGIN IMMEDIATE` takes SQLite's write lock for the whole group: every decision,
    /// also another process's, is serialized.
    fn run_all(&mut self, cmds: &[&Command], opts: &OpenOptions) -> Result<Committed, GroupError> {
        let around = |e: rusqlite::Error| GroupError::Transaction(e.into());
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(around)?;
        let mut chain = ChainHead::read(&*tx).map_err(GroupError::Transaction)?;
        let before = chain.seq;
        let replies = crate::writer::apply_group(&*tx, &mut chain, cmds, opts, self.carry.as_mut())
            .map_err(GroupError::Command)?;
        if let Err(e) = tx.commit() {
            // What the group staged was not committed: forget it with the rest.
            if let Some(c) = &mut self.carry {
                c.accounts.clear();
            }
            return Err(around(e));
        }
        // The commit frame ends what the WAL gathers (walbuf); anything left would be a
        // commit readers see before the file holds it.
        let left = crate::walbuf::flush(&self.conn).map_err(around)?;
        debug_assert_eq!(left, 0, "bytes of a committed transaction left gathered");
        Ok(Committed {
            replies,
            head: (chain.seq > before).then_some(chain),
        })
    }

    /// The writer connection commits with `synchronous=NORMAL`: the WAL frames are written
    /// but not flushed. This flushes them: `fdatasync` of the WAL file, on a descriptor of its
    /// own (a flush covers the file, whoever wrote it). The file lives as long as the store's
    /// connections (a restart of the log cuts it, never removes it). A bulk load syncs nothing
    /// here: it ends with `Store::sync_to_disk`.
    fn durability(&mut self) -> Option<crate::writer::SyncFn> {
        let path = self.wal.take()?;
        let mut file: Option<std::fs::File> = None;
        Some(Box::new(move || {
            let f = match &mut file {
                Some(f) => f,
                None => file.insert(std::fs::File::open(&path)?),
            };
            f.sync_data()
        }))
    }

    fn between_groups(&mut self) {
        if self
            .restart_due
            .swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            restart_wal(&self.conn);
        }
    }
}

/// Between groups, when the checkpointer says the WAL is long: the checkpointer has already
/// copied almost everything, so this restart is short, and the writer cannot race itself.
/// It does not wait for readers: a long one (a backup copying the whole store under one
/// snapshot) would otherwise hold the writer in the busy handler; the restart is simply
/// tried again after a later group.
fn restart_wal(conn: &Connection) {
    if let Err(e) = conn.busy_handler(None) {
        tracing::warn!(error = %e, "WAL restart skipped");
        return;
    }
    match conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0)) {
        Ok(0) => {}
        Ok(_) => tracing::debug!("WAL restart deferred: a reader still uses the log"),
        Err(e) => tracing::warn!(error = %e, "WAL restart failed; will retry"),
    }
    if let Err(e) = conn.busy_handler(Some(busy_handler)) {
        tracing::error!(error = %e, "the writer's busy handler could not be set again");
    }
}

#[cfg(test)]
mod checkpoint_tests {
    use super::*;

    // Goal: a setup transaction (STAN blocks, sign-ins, the workers' claims) never
    // checkpoints the WAL at its commit: that is the checkpointer's work. With SQLite's
    // default, each such commit on a long WAL copied it and synced the database file
    // (4-13 ms each, on the async runtime's threads; 64 terminals reserving their STAN
    // blocks together stalled the host for ~1 s, s23-setup).
    #[test]
    fn a_setup_commit_leaves_the_checkpoints_to_the_checkpointer() {
        let dir = ok(tempfile::tempdir());
        let store = ok(SqliteStore::create(dir.path(), OpenOptions::default()));
        let auto = ok(store.setup(|tx, _| {
            Ok(tx.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get::<_, i64>(0))?)
        }));
        assert_eq!(auto, 0, "the setup connection checkpoints at commit");
    }

    fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
        r.unwrap_or_else(|e| panic!("{e}"))
    }

    fn wal_db(dir: &tempfile::TempDir) -> (Connection, Connection) {
        let path = dir.path().join("c.db");
        let writer = ok(Connection::open(&path));
        ok(writer.pragma_update(None, "journal_mode", "WAL"));
        ok(writer.pragma_update(None, "wal_autocheckpoint", 0));
        ok(writer.execute_batch("CREATE TABLE pad (v BLOB)"));
        (writer, ok(Connection::open(&path)))
    }

    fn commit_pages(conn: &Connection, n: usize) {
        for _ in 0..n {
            ok(conn.execute("INSERT INTO pad (v) VALUES (zeroblob(3000))", []));
        }
    }

    // Goal: a restart is asked for only once the passive passes copied (nearly) every frame:
    // with nothing added and no reader in the way, at once; with a reader holding a snapshot
    // from before most frames, never (the restart would have copied them inside the writer).
    #[test]
    fn a_restart_is_asked_for_once_the_wal_is_caught_up() {
        let dir = ok(tempfile::tempdir());
        let (writer, checkpointer) = wal_db(&dir);
        commit_pages(&writer, 1_000);
        let (log, _) = ok(passive_checkpoint(&checkpointer));
        assert!(log >= 1_000, "{log}");
        assert!(
            catch_up(&checkpointer, log),
            "nothing added, nothing left: caught up"
        );

        let reader = ok(Connection::open(dir.path().join("c.db")));
        ok(reader.execute_batch("BEGIN"));
        let _: i64 = ok(reader.query_row("SELECT COUNT(*) FROM pad", [], |r| r.get(0)));
        commit_pages(&writer, 1_000);
        let (log, left) = ok(passive_checkpoint(&checkpointer));
        assert!(
            left > CATCH_UP_FRAMES,
            "the reader keeps {left} frames in the WAL"
        );
        assert!(
            !catch_up(&checkpointer, log),
            "a reader holds {left} frames: not caught up"
        );
        ok(reader.execute_batch("COMMIT"));
        assert!(
            catch_up(&checkpointer, log),
            "the reader is gone: caught up"
        );
    }

    // Goal: the database file is flushed before the writer is asked to restart (so the
    // restart's own sync is short), and neither happens while the passes are behind.
    #[test]
    fn the_database_file_is_flushed_before_a_restart_is_asked_for() {
        let dir = ok(tempfile::tempdir());
        let (writer, checkpointer) = wal_db(&dir);
        let due = AtomicBool::new(false);
        let synced = std::cell::Cell::new(0);
        let mut sync = || {
            assert!(
                !due.load(std::sync::atomic::Ordering::Relaxed),
                "the restart was asked for before the flush"
            );
            synced.set(synced.get() + 1);
            Ok(())
        };

        let reader = ok(Connection::open(dir.path().join("c.db")));
        ok(reader.execute_batch("BEGIN"));
        let _: i64 = ok(reader.query_row("SELECT COUNT(*) FROM pad", [], |r| r.get(0)));
        commit_pages(&writer, 1_000);
        let (log, _) = ok(passive_checkpoint(&checkpointer));
        ask_restart(&checkpointer, log, &mut sync, &due);
        assert_eq!(
            synced.get(),
            0,
            "behind (a reader holds the frames): no flush"
        );
        assert!(!due.load(std::sync::atomic::Ordering::Relaxed));

        ok(reader.execute_batch("COMMIT"));
        ask_restart(&checkpointer, log, &mut sync, &due);
        assert_eq!(synced.get(), 1, "caught up: one flush");
        assert!(
            due.load(std::sync::atomic::Ordering::Relaxed),
            "then the restart"
        );
    }
}
