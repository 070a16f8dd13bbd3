//! The PostgreSQL store: the same engine and group-commit write path as SQLite, on a database
//! that several host processes (nodes) share.
//!
//! Each process has one writer thread (one PostgreSQL transaction per group) and a small pool
//! of read connections. Connections are `tokio-postgres` clients whose IO runs on a private
//! runtime thread; callers wait for answers with a plain executor, so the store can be used
//! from any thread, also from inside the host's tokio runtime, without nesting runtimes.
//!
//! What makes several nodes safe is the database: the audit chain's lock (one total order of
//! audit entries), `SELECT … FOR UPDATE` on the terminal, the original and the issuer account,
//! the partial unique index "one approved void per original", `CHECK (refunded_fen <=
//! amount_fen)`, and RRNs from a sequence.

use crate::audit::ChainHead;
use crate::command::Command;
use crate::error::StoreError;
use crate::query::{self, TxnFilter};
use crate::reply::Reply;
use crate::sql::{Dialect, Sql, SqlRow, Value, dollar_params};
use crate::sqlite::{OpenOptions, WRITER_QUEUE_MAX};
use crate::writer::{Committed, GroupError, GroupRunner, Queue, writer_loop};
use crate::{Done, ReadFn, SetupFn, Store};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use suanpan_core::clock::Clock;
use suanpan_core::{Policy, Transaction, TxnId};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Statement};

/// The schema version this build writes: `pg_schema.sql` is version 1, each
/// `pg_migrate_N.sql` moves a store to version N.
pub const PG_SCHEMA_VERSION: i64 = 21;
/// The steps after `pg_schema.sql`, oldest first (add one, never edit one that shipped).
const PG_MIGRATIONS: &[(i64, &str)] = &[
    (2, include_str!("pg_migrate_2.sql")),
    (3, include_str!("pg_migrate_3.sql")),
    (4, include_str!("pg_migrate_4.sql")),
    (5, include_str!("pg_migrate_5.sql")),
    // Merchants' onboarding fields and status (issue 14).
    (6, include_str!("pg_migrate_6.sql")),
    // Risk alerts, limits and blocklist (issue 13).
    (8, include_str!("pg_migrate_8.sql")),
    // How a transaction went to the network upstream (issue 15).
    (9, include_str!("pg_migrate_9.sql")),
    // Webhooks and scheduled runs (issue 13).
    (10, include_str!("pg_migrate_10.sql")),
    // Terminals' last sign-in (issue 14).
    (11, include_str!("pg_migrate_11.sql")),
    // The upstream's store-and-forward queue in the main store (issue 15).
    (12, include_str!("pg_migrate_12.sql")),
    // A terminal paused by its merchant's supervisor (issue 13).
    (14, include_str!("pg_migrate_14.sql")),
    // The card rules' covering index (issue 13).
    (15, include_str!("pg_migrate_15.sql")),
    // `hidden` in the kind, status, terminal and operator indexes (issue 16).
    (16, include_str!("pg_migrate_16.sql")),
    // A claim (lease) on a queued advice: several nodes drain one queue (issue 15).
    (17, include_str!("pg_migrate_17.sql")),
    // The sealed card number and the reversal's STAN beside an upstream request (issue 15).
    (18, include_str!("pg_migrate_18.sql")),
    // The risk rules' two journal indexes leave the fixed schema (issue 15).
    (19, include_str!("pg_migrate_19.sql")),
    // `hidden` in the date-range and amount-range indexes: counts read the index alone.
    (20, include_str!("pg_migrate_20.sql")),
    // An upstream sale's card number kept for its refund window, forgotten by index (s17-refund).
    (21, include_str!("pg_migrate_21.sql")),
];
/// Writers a node runs by default ([`OpenOptions::pg_writers`], `[store] pg_writers`). One
/// writer's transactions run on one server backend, one statement after another, and that
/// backend was the node's bound (docs/BENCHMARKS.md, s20-pg): a second writer gives the node a
/// second backend, as a second node would.
pub const PG_WRITERS: usize = 2;
/// The most writers a node runs (each holds a connection for as long as it runs).
pub const PG_WRITERS_MAX: usize = 16;
/// Read connections one process opens at most; a reader beyond them waits for one to come
/// back (the database's `max_connections` is shared by every node).
pub const READERS_KEPT_MAX: usize = 8;
/// How long a reader waits for a free read connection before it gives up ("store busy").
pub const READER_WAIT_MS_MAX: u64 = 10_000;
/// Every statement of a connection ends within this or PostgreSQL cancels it (SQLSTATE
/// 57014, the operation fails whole and says so): a lock held by a stuck client or a
/// runaway query cannot hold a writer or a page forever. Set on connecting unless the URL
/// sets `statement_timeout` itself (`?options=-c%20statement_timeout%3D…`). Generous: the
/// slowest ordinary statement (a `check` sum over the whole journal) must fit.
pub const PG_STATEMENT_TIMEOUT_MS: u64 = 120_000;
/// Schema changes and index builds (migrations, the end of a bulk load) may run this long:
/// building ten indexes over ten million rows takes minutes.
pub const PG_DDL_TIMEOUT_MS: u64 = 3_600_000;
/// Connecting to the database (TCP and TLS handshake, authentication) takes at most this,
/// unless the URL sets `connect_timeout`.
pub const PG_CONNECT_TIMEOUT_MS: u64 = 10_000;
/// Statements one connection keeps prepared; past it the cache starts over.
pub const STATEMENTS_CACHED_MAX: usize = 256;
/// How much longer than the statement's own limit (`statement_timeout`) the client waits for
/// the server's answer. A live server ends a statement at its limit and says so; a server
/// that vanished without a TCP reset (powered off, cut off by the network) says nothing, and
/// the wait ends here instead with [`StoreError::TimedOut`]: the outcome is unknown, like a
/// commit whose answer was lost, and the connection is dropped.
pub const PG_ANSWER_GRACE_MS: u64 = 5_000;
/// TCP keepalive on every connection: an idle connection to a vanished server is found dead
/// after `idle + interval × retries` (25 s) instead of the kernel's two hours.
pub const PG_KEEPALIVE_IDLE_MS: u64 = 10_000;
/// Time between two unanswered keepalive probes.
pub const PG_KEEPALIVE_INTERVAL_MS: u64 = 5_000;
/// Unanswered keepalive probes before the kernel drops the connection.
pub const PG_KEEPALIVE_RETRIES_MAX: u32 = 3;
/// Data sent and not acknowledged this long drops the connection (`TCP_USER_TIMEOUT`): a
/// statement sent to a vanished server fails here rather than after the kernel's
/// retransmissions (about 15 minutes).
pub const PG_TCP_USER_TIMEOUT_MS: u64 = 30_000;

/// Where the database is.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// `postgres://user@host:port/db` (libpq URL or key=value form).
    pub url: String,
    /// The schema holding Suanpan's tables (`None`: `public`). Tests use one schema each.
    pub schema: Option<String>,
}

impl PgOptions {
    /// Options for `url`, in the default schema.
    pub fn new(url: &str) -> PgOptions {
        PgOptions {
            url: url.to_owned(),
            schema: None,
        }
    }

    /// The connection settings and the TLS settings (`sslmode`, `sslrootcert`, see
    /// [`crate::pg_tls`]) of the URL.
    fn config(&self) -> Result<(tokio_postgres::Config, crate::pg_tls::TlsSettings), StoreError> {
        if let Some(s) = &self.schema
            && (s.is_empty()
                || !s
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'))
        {
            return Err(StoreError::Invalid(format!(
                "schema name {s:?}: use lowercase letters, digits and _"
            )));
        }
        let (rest, tls) = crate::pg_tls::split(&self.url)?;
        let mut config: tokio_postgres::Config = rest
            .parse()
            .map_err(|e| StoreError::Invalid(format!("database URL: {e}")))?;
        config.ssl_mode(tls.pg_mode());
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_millis(PG_CONNECT_TIMEOUT_MS));
        }
        // The kernel's defaults (keepalive after two hours) unless the URL chose its own.
        if config.get_keepalives_idle() == std::time::Duration::from_secs(2 * 60 * 60) {
            config
                .keepalives(true)
                .keepalives_idle(std::time::Duration::from_millis(PG_KEEPALIVE_IDLE_MS))
                .keepalives_interval(std::time::Duration::from_millis(PG_KEEPALIVE_INTERVAL_MS))
                .keepalives_retries(PG_KEEPALIVE_RETRIES_MAX);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(std::time::Duration::from_millis(PG_TCP_USER_TIMEOUT_MS));
        }
        let options = config.get_options().unwrap_or_default().to_owned();
        if !options.contains("statement_timeout") {
            config.options(
                format!("{options} -c statement_timeout={PG_STATEMENT_TIMEOUT_MS}").trim_start(),
            );
        }
        // Names the process's connections in pg_stat_activity (operators; the tests find a
        // store's connections by it).
        if config.get_application_name().is_none() {
            config.application_name(self.application_name());
        }
        Ok((config, tls))
    }

    /// `suanpan` or `suanpan/<schema>`: the connections' `application_name`.
    pub fn application_name(&self) -> String {
        match &self.schema {
            Some(s) => format!("suanpan/{s}"),
            None => "suanpan".to_owned(),
        }
    }
}

/// The `statement_timeout` in milliseconds that libpq-style `options` set (`-c
/// statement_timeout=300`, units `us`, `ms`, `s`, `min`, `h`), `None` when they set none or
/// one this cannot read. `Some(0)` turns the server's limit off.
fn statement_timeout_ms(options: &str) -> Option<u64> {
    let (_, after) = options.split_once("statement_timeout")?;
    let value = after.trim_start().strip_prefix('=')?.trim_start();
    let value = value.split_whitespace().next()?.trim_matches('\'');
    let digits = value.bytes().take_while(u8::is_ascii_digit).count();
    let n: u64 = value[..digits].parse().ok()?;
    let per_unit_ms = match value[digits..].trim() {
        "" | "ms" => return Some(n),
        "us" => return Some(n / 1_000),
        "s" => 1_000,
        "min" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    n.checked_mul(per_unit_ms)
}

/// How long a connection made with `config` waits for an answer: its statements' limit
/// plus [`PG_ANSWER_GRACE_MS`]. A URL that turns the limit off, or sets one this cannot read,
/// gets the longest limit Suanpan gives any statement ([`PG_DDL_TIMEOUT_MS`]).
fn answer_wait_ms(config: &tokio_postgres::Config) -> u64 {
    let limit = match statement_timeout_ms(config.get_options().unwrap_or_default()) {
        Some(0) | None => PG_DDL_TIMEOUT_MS,
        Some(ms) => ms,
    };
    limit.saturating_add(PG_ANSWER_GRACE_MS)
}

/// Whether a `--database` value names PostgreSQL.
pub fn is_postgres_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

/// A connection failure, explained by the TLS settings when TLS is what failed.
fn connect_err(tls: &crate::pg_tls::TlsSettings, e: tokio_postgres::Error) -> StoreError {
    match tls.explain(&e) {
        Some(why) => StoreError::Invalid(why),
        None => pg_err(e),
    }
}

fn pg_err(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => StoreError::Sqlite(format!(
            "postgres {}: {}{}",
            db.code().code(),
            db.message(),
            db.detail().map(|d| format!(" ({d})")).unwrap_or_default()
        )),
        None => StoreError::Sqlite(format!("postgres: {e}")),
    }
}

// ----- the runtime that drives the connections -------------------------------------------------

/// A tokio runtime on a thread of its own; it runs the connections' IO tasks only.
struct IoThread {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl IoThread {
    fn start() -> Result<IoThread, StoreError> {
        let (htx, hrx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("suanpan-pg-io".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = htx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = htx.send(Ok(rt.handle().clone()));
                rt.block_on(async {
                    let _ = stopped.await;
                });
            })
            .map_err(|e| StoreError::Sqlite(e.to_string()))?;
        let handle = hrx
            .recv()
            .map_err(|_| StoreError::Sqlite("postgres IO thread did not start".into()))?
            .map_err(StoreError::Sqlite)?;
        Ok(IoThread {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for IoThread {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ----- one connection --------------------------------------------------------------------------

/// One PostgreSQL connection, used by one thread at a time, with its prepared statements.
pub struct PgConn {
    client: Client,
    stmts: RefCell<HashMap<String, Statement>>,
    driver: Driver,
    /// The longest wait for an answer now: the statements' limit plus [`PG_ANSWER_GRACE_MS`];
    /// raised for the rest of a transaction that raises its own `statement_timeout`.
    answer_wait_ms: Cell<u64>,
    /// The wait outside such a transaction.
    answer_wait_ms_base: u64,
    /// A wait ran out: what the server did with the request is unknown, and an answer may
    /// still arrive for it, so the connection is not used again ([`PgConn::is_closed`]).
    abandoned: Cell<bool>,
    /// Writes whose answers nothing reads ([`Sql::exec_later`]), sent ahead of the next
    /// statement in its round trip.
    later: RefCell<Vec<(Statement, Vec<OwnedValue>)>>,
}

/// A [`Value`] kept until a later round trip sends it.
enum OwnedValue {
    Null,
    Int(i64),
    Text(String),
}

impl OwnedValue {
    fn of(v: &Value<'_>) -> OwnedValue {
        match v {
            Value::Null => OwnedValue::Null,
            Value::Int(i) => OwnedValue::Int(*i),
            Value::Text(t) => OwnedValue::Text((*t).to_owned()),
        }
    }
    fn value(&self) -> Value<'_> {
        match self {
            OwnedValue::Null => Value::Null,
            OwnedValue::Int(i) => Value::Int(*i),
            OwnedValue::Text(t) => Value::Text(t),
        }
    }
}

/// Which runtime drives a connection's IO and times its waits.
enum Driver {
    /// The writer's connection runs its IO on a runtime of its own thread (no hop to the IO
    /// thread and back per statement).
    Local(tokio::runtime::Runtime),
    /// Readers wait on the shared IO thread, whose timer bounds their waits.
    Shared(tokio::runtime::Handle),
}

impl PgConn {
    /// Waits for the server's answer, at most `answer_wait_ms`; past it the connection is
    /// abandoned. The writes kept for later ([`Sql::exec_later`]) go first, in the same round
    /// trip; the first of them that fails fails the wait.
    fn wait<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, StoreError> {
        let later = self.later.take();
        if later.is_empty() {
            return self.wait_now(f);
        }
        let values: Vec<Vec<Value<'_>>> = later
            .iter()
            .map(|(_, p)| p.iter().map(OwnedValue::value).collect())
            .collect();
        let params: Vec<Vec<&(dyn ToSql + Sync)>> = values.iter().map(|v| dyn_params(v)).collect();
        let sent = later
            .iter()
            .zip(&params)
            .map(|((st, _), p)| Box::pin(self.client.execute(st, p)))
            .collect();
        self.wait_now(async move {
            let (before, answer) = futures_util::future::join(all_in_order(sent), f).await;
            before?;
            answer
        })
    }

    /// [`PgConn::wait`] without the writes kept for later.
    fn wait_now<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, StoreError> {
        if self.abandoned.get() {
            return Err(StoreError::TimedOut(
                "postgres: this connection was abandoned after a wait ran out".into(),
            ));
        }
        let limit_ms = self.answer_wait_ms.get();
        let limit = std::time::Duration::from_millis(limit_ms);
        let answer = match &self.driver {
            Driver::Local(rt) => {
                // Each wait of the writer's connection is one round trip to the server (a
                // pipeline of statements is one): what a sale costs beyond its CPU
                // (docs/BENCHMARKS.md, issue 15).
                metrics::counter!("suanpan_store_pg_writer_round_trips_total").increment(1);
                rt.block_on(async { tokio::time::timeout(limit, f).await })
            }
            Driver::Shared(io) => {
                // The timer is the IO thread's: entered only to create it.
                let bounded = {
                    let _timer = io.enter();
                    tokio::time::timeout(limit, f)
                };
                futures_executor::block_on(bounded)
            }
        };
        match answer {
            Ok(r) => r.map_err(pg_err),
            Err(_) => {
                self.abandoned.set(true);
                tracing::error!(
                    limit_ms,
                    "postgres did not answer in time; connection dropped"
                );
                Err(StoreError::TimedOut(format!(
                    "postgres did not answer within {limit_ms} ms"
                )))
            }
        }
    }

    /// A connection driven by a runtime on the calling thread, which must not be inside a
    /// tokio runtime (the writer thread).
    fn connect_local(opts: &PgOptions) -> Result<PgConn, StoreError> {
        let (config, tls) = opts.config()?;
        let wait_ms = answer_wait_ms(&config);
        let connector = tls.connector()?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Sqlite(e.to_string()))?;
        let (client, connection) = rt
            .block_on(config.connect(connector))
            .map_err(|e| connect_err(&tls, e))?;
        rt.spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "postgres connection closed");
            }
        });
        PgConn::ready(client, Driver::Local(rt), wait_ms, opts)
    }

    fn connect(io: &tokio::runtime::Handle, opts: &PgOptions) -> Result<PgConn, StoreError> {
        let (config, tls) = opts.config()?;
        let wait_ms = answer_wait_ms(&config);
        let connector = tls.connector()?;
        let (tx, rx) = std::sync::mpsc::channel();
        io.spawn(async move {
            match config.connect(connector).await {
                Ok((client, connection)) => {
                    let _ = tx.send(Ok(client));
                    if let Err(e) = connection.await {
                        tracing::warn!(error = %e, "postgres connection closed");
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        });
        let client = rx
            .recv()
            .map_err(|_| StoreError::Sqlite("postgres IO thread stopped".into()))?
            .map_err(|e| connect_err(&tls, e))?;
        let conn = PgConn::ready(client, Driver::Shared(io.clone()), wait_ms, opts)?;
        // Read connections plan each statement for its values. After five runs of a
        // prepared statement PostgreSQL may keep one generic plan for all values: for an
        // amount range that is a bitmap scan of the range and a sort, 275 ms on a dense
        // range of a 4.8M-row store where walking the ids backwards takes 1 ms
        // (docs/BENCHMARKS.md, issue 16). The writer's statements keep generic plans.
        conn.batch("SET plan_cache_mode = force_custom_plan")?;
        Ok(conn)
    }

    fn ready(
        client: Client,
        driver: Driver,
        wait_ms: u64,
        opts: &PgOptions,
    ) -> Result<PgConn, StoreError> {
        let conn = PgConn {
            client,
            stmts: RefCell::new(HashMap::new()),
            driver,
            answer_wait_ms: Cell::new(wait_ms),
            answer_wait_ms_base: wait_ms,
            abandoned: Cell::new(false),
            later: RefCell::new(Vec::new()),
        };
        if let Some(schema) = &opts.schema {
            conn.batch(&format!("SET search_path TO {schema}"))?;
        }
        Ok(conn)
    }

    /// A connection for one long job on the calling thread (`admin copy-to-postgres`),
    /// whose statements may run [`PG_DDL_TIMEOUT_MS`].
    pub(crate) fn connect_job(opts: &PgOptions) -> Result<PgConn, StoreError> {
        let conn = PgConn::connect_local(opts)?;
        conn.batch(&format!("SET statement_timeout = {PG_DDL_TIMEOUT_MS}"))?;
        Ok(conn)
    }

    /// Runs `COPY … FROM STDIN` (`sql`), sending the chunks `next` gives until it gives
    /// `None`; returns the rows PostgreSQL stored. A failure of `next` aborts the copy.
    pub(crate) fn copy_in(
        &self,
        sql: &str,
        next: &mut dyn FnMut() -> Result<Option<bytes::Bytes>, StoreError>,
    ) -> Result<u64, StoreError> {
        use futures_util::SinkExt;
        let sink = self.wait(self.client.copy_in::<_, bytes::Bytes>(sql))?;
        let mut sink = std::pin::pin!(sink);
        while let Some(chunk) = next()? {
            self.wait(sink.send(chunk))?;
        }
        self.wait(sink.as_mut().finish())
    }

    /// Runs statements without parameters (transaction control, DDL). A transaction that
    /// raises its own `statement_timeout` (migrations, index builds) is waited for as long as
    /// the longest limit, until it ends.
    pub(crate) fn batch(&self, sql: &str) -> Result<(), StoreError> {
        if sql == "ROLLBACK" {
            // What was kept for later belongs to the transaction being undone.
            self.later.borrow_mut().clear();
        }
        if sql.contains("statement_timeout") {
            self.answer_wait_ms
                .set(PG_DDL_TIMEOUT_MS.saturating_add(PG_ANSWER_GRACE_MS));
        }
        let out = self.wait(self.client.batch_execute(sql));
        if sql == "COMMIT" || sql == "ROLLBACK" {
            self.answer_wait_ms.set(self.answer_wait_ms_base);
        }
        out
    }

    fn statement(&self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(s) = self.stmts.borrow().get(sql) {
            return Ok(s.clone());
        }
        let s = self.wait(self.client.prepare(&dollar_params(sql)))?;
        let mut stmts = self.stmts.borrow_mut();
        if stmts.len() >= STATEMENTS_CACHED_MAX {
            stmts.clear();
        }
        stmts.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    /// Closed by the server or the network, or abandoned after a wait ran out.
    fn is_closed(&self) -> bool {
        self.abandoned.get() || self.client.is_closed()
    }

    /// Runs `f` inside `BEGIN … COMMIT`, rolling back when it fails.
    pub(crate) fn in_transaction<T>(
        &self,
        begin: &str,
        f: impl FnOnce(&PgConn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.batch(begin)?;
        match f(self) {
            Ok(v) => {
                self.batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                if let Err(r) = self.batch("ROLLBACK") {
                    tracing::warn!(error = %r, "rollback failed");
                }
                Err(e)
            }
        }
    }
}

/// Awaits every future, polling them in their order: tokio-postgres sends a request when
/// its future is first polled, so all are on the wire, in order, before the first answer is
/// read (a pipeline on one connection). The first error wins, after all have ended.
async fn all_in_order<T, E>(
    mut pending: Vec<std::pin::Pin<Box<impl std::future::Future<Output = Result<T, E>>>>>,
) -> Result<Vec<T>, E> {
    let mut done: Vec<Option<Result<T, E>>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut waiting = false;
        for (f, out) in pending.iter_mut().zip(done.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(r) => *out = Some(r),
                    std::task::Poll::Pending => waiting = true,
                }
            }
        }
        if waiting {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    done.into_iter().flatten().collect()
}

fn dyn_params<'a>(params: &'a [Value<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl Sql for PgConn {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
    fn exec(&self, sql: &str, params: &[Value<'_>]) -> Result<u64, StoreError> {
        let st = self.statement(sql)?;
        self.wait(self.client.execute(&st, &dyn_params(params)))
    }
    fn insert_id(&self, sql: &str, params: &[Value<'_>]) -> Result<i64, StoreError> {
        let st = self.statement(&format!("{sql} RETURNING id"))?;
        let row = self.wait(self.client.query_one(&st, &dyn_params(params)))?;
        PgRow(&row).i64(0)
    }
    fn exec_batch(&self, sql: &str) -> Result<(), StoreError> {
        self.batch(sql)
    }
    fn exec_later(&self, sql: &str, params: &[Value<'_>]) -> Result<(), StoreError> {
        let st = self.statement(sql)?;
        let owned = params.iter().map(OwnedValue::of).collect();
        self.later.borrow_mut().push((st, owned));
        Ok(())
    }
    fn each_row_all(
        &self,
        queries: &[(&str, &[Value<'_>])],
        each: &mut dyn FnMut(usize, &dyn SqlRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let prepared = queries
            .iter()
            .map(|(sql, _)| self.statement(sql))
            .collect::<Result<Vec<_>, _>>()?;
        let params: Vec<Vec<&(dyn ToSql + Sync)>> =
            queries.iter().map(|(_, p)| dyn_params(p)).collect();
        let sent = prepared
            .iter()
            .zip(&params)
            .map(|(st, p)| Box::pin(self.client.query(st, p)))
            .collect();
        let answers = self.wait(all_in_order(sent))?;
        for (i, rows) in answers.iter().enumerate() {
            for r in rows {
                each(i, &PgRow(r))?;
            }
        }
        Ok(())
    }
    fn exec_all(&self, stmts: &[(&str, &[Value<'_>])]) -> Result<(), StoreError> {
        let prepared = stmts
            .iter()
            .map(|(sql, _)| self.statement(sql))
            .collect::<Result<Vec<_>, _>>()?;
        let params: Vec<Vec<&(dyn ToSql + Sync)>> =
            stmts.iter().map(|(_, p)| dyn_params(p)).collect();
        let sent = prepared
            .iter()
            .zip(&params)
            .map(|(st, p)| Box::pin(self.client.execute(st, p)))
            .collect();
        self.wait(all_in_order(sent)).map(|_| ())
    }
    fn each_row(
        &self,
        sql: &str,
        params: &[Value<'_>],
        each: &mut dyn FnMut(&dyn SqlRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let st = self.statement(sql)?;
        let rows = self.wait(self.client.query(&st, &dyn_params(params)))?;
        for r in &rows {
            each(&PgRow(r))?;
        }
        Ok(())
    }
}

struct PgRow<'r>(&'r tokio_postgres::Row);

impl SqlRow for PgRow<'_> {
    fn opt_i64(&self, i: usize) -> Result<Option<i64>, StoreError> {
        let col = self
            .0
            .columns()
            .get(i)
            .ok_or_else(|| StoreError::Sqlite(format!("no column {i}")))?;
        let r = match *col.type_() {
            Type::INT8 => self.0.try_get::<_, Option<i64>>(i),
            Type::INT4 => self
                .0
                .try_get::<_, Option<i32>>(i)
                .map(|v| v.map(i64::from)),
            Type::INT2 => self
                .0
                .try_get::<_, Option<i16>>(i)
                .map(|v| v.map(i64::from)),
            Type::BOOL => self
                .0
                .try_get::<_, Option<bool>>(i)
                .map(|v| v.map(i64::from)),
            ref t => {
                return Err(StoreError::Sqlite(format!(
                    "column {i} is {t}, not an integer (CAST it AS BIGINT)"
                )));
            }
        };
        r.map_err(pg_err)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        self.0.try_get::<_, Option<String>>(i).map_err(pg_err)
    }
}

/// A [`Value`] binds to whatever type PostgreSQL inferred for the parameter: integers to
/// `int8`/`int4`/`int2`/`bool`, text to text types. Anything else is a bug in a statement.
impl ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut tokio_postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match (self, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Int(i), &Type::INT8) => i.to_sql(ty, out),
            (Value::Int(i), &Type::INT4) => i32::try_from(*i)?.to_sql(ty, out),
            (Value::Int(i), &Type::INT2) => i16::try_from(*i)?.to_sql(ty, out),
            (Value::Int(i), &Type::BOOL) => (*i != 0).to_sql(ty, out),
            (Value::Text(s), _) => s.to_sql(ty, out),
            (Value::Int(i), t) => Err(format!("integer {i} bound to a {t} parameter").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

// ----- the store -------------------------------------------------------------------------------

/// Takes the audit chain's lock for the rest of the transaction. The chain is one total order,
/// so its head may be extended by one transaction at a time, across every node.
fn lock_chain(c: &PgConn) -> Result<(), StoreError> {
    c.exec(crate::repo::CHAIN_LOCK_SQL, &[]).map(|_| ())
}

/// The PostgreSQL store.
pub struct PgStore {
    opts: PgOptions,
    /// One queue per writer; a command goes to `jobs[lane % n]` ([`Command::lane`]).
    jobs: Vec<Queue>,
    writers: Vec<JoinHandle<()>>,
    readers: Mutex<ReaderPool>,
    reader_back: Condvar,
    policy: Policy,
    clock: Arc<dyn Clock>,
    keys: crate::keys::Keys,
    request_key: crate::keys::KeptKey,
    anchor: Option<Arc<crate::anchor::Anchor>>,
    // Last: the IO runtime outlives every connection above.
    io: IoThread,
}

struct PgWriter {
    conn: Option<PgConn>,
    opts: PgOptions,
}

impl PgWriter {
    /// The writer's connection, reconnected after the database went away (restart,
    /// failover): the group that saw the failure was answered with an error, nothing of it
    /// committed, and the next group starts afresh.
    fn conn(&mut self) -> Result<&PgConn, StoreError> {
        if self.conn.as_ref().is_none_or(PgConn::is_closed) {
            self.conn = Some(PgConn::connect_local(&self.opts)?);
        }
        self.conn
            .as_ref()
            .ok_or_else(|| StoreError::Sqlite("no writer connection".into()))
    }
}

impl GroupRunner for PgWriter {
    fn run_all(&mut self, cmds: &[&Command], opts: &OpenOptions) -> Result<Committed, GroupError> {
        let conn = self.conn().map_err(GroupError::Transaction)?;
        // A bulk load's commits return before the WAL reaches the disk (no torn state:
        // a crash loses the last commits whole).
        let begin = if opts.bulk_load {
            "BEGIN; SET LOCAL synchronous_commit TO OFF"
        } else {
            "BEGIN"
        };
        conn.batch(begin).map_err(GroupError::Transaction)?;
        let run = || -> Result<(Vec<Reply>, ChainHead), StoreError> {
            // The chain's head is read under its lock when the group ends (`repo::flush`),
            // not here: the group's rules run without it.
            let mut chain = ChainHead {
                seq: 0,
                hash: crate::audit::GENESIS.to_owned(),
            };
            let replies = crate::writer::apply_group(conn, &mut chain, cmds, opts, None)?;
            Ok((replies, chain))
        };
        match run() {
            Ok((replies, chain)) => {
                // A refused commit committed nothing. A commit whose answer was lost with the
                // connection may have committed: its callers get an error, an unknown outcome
                // like a terminal's timeout, which the terminal resolves by reversal.
                conn.batch("COMMIT").map_err(GroupError::Transaction)?;
                // The head is read under the chain's lock only when the group added entries.
                Ok(Committed {
                    replies,
                    head: (chain.seq > 0).then_some(chain),
                })
            }
            Err(e) => {
                if let Err(r) = conn.batch("ROLLBACK") {
                    tracing::warn!(error = %r, "rollback failed");
                }
                // A server that stopped answering would make each command, run again
                // alone, wait out the same limit.
                if matches!(e, StoreError::TimedOut(_)) {
                    return Err(GroupError::Transaction(e));
                }
                Err(GroupError::Command(e))
            }
        }
    }
}

impl PgStore {
    /// Creates Suanpan's tables in the database (schema) and opens the store; refuses when
    /// they exist already.
    pub fn create(pg: PgOptions, opts: OpenOptions) -> Result<PgStore, StoreError> {
        let io = IoThread::start()?;
        let conn = PgConn::connect(&io.handle, &pg)?;
        if let Some(schema) = &pg.schema {
            conn.batch(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))?;
        }
        conn.in_transaction("BEGIN", |c| {
            // Two processes creating at once: the second waits here, then finds the tables.
            ddl_lock(c)?;
            if schema_version(c)?.is_some() {
                return Err(StoreError::Invalid(format!(
                    "{} already holds a Suanpan store",
                    describe(&pg)
                )));
            }
            create_tables(c)
        })?;
        drop(conn);
        PgStore::start(pg, opts, io)
    }

    /// Opens the store in the database (schema); refuses when it was never created.
    pub fn open(pg: PgOptions, opts: OpenOptions) -> Result<PgStore, StoreError> {
        let io = IoThread::start()?;
        let conn = PgConn::connect(&io.handle, &pg)?;
        match schema_version(&conn)? {
            None => return Err(StoreError::NotInitialized(describe(&pg))),
            Some(v) if v > PG_SCHEMA_VERSION => {
                return Err(StoreError::Sqlite(format!(
                    "the database has schema version {v}, newer than this build's {PG_SCHEMA_VERSION}; upgrade suanpan"
                )));
            }
            Some(v) if v < PG_SCHEMA_VERSION => migrate(&conn)?,
            Some(_) => {}
        }
        rebuild_search_indexes(&conn)?;
        drop(conn);
        PgStore::start(pg, opts, io)
    }

    fn start(pg: PgOptions, opts: OpenOptions, io: IoThread) -> Result<PgStore, StoreError> {
        let policy = opts.policy.clone();
        let clock = opts.clock.clone();
        let keys = opts.keys.clone();
        let anchor = opts.anchor.clone();
        // Each writer connects on its own thread, on first use (and again after a failure).
        // Several writers of one node are to the database what several nodes are: each its
        // own transactions, serialized by the rows they lock and the audit chain's lock.
        let n = opts.pg_writers.clamp(1, PG_WRITERS_MAX);
        let (mut jobs, mut writers) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for i in 0..n {
            let runner = PgWriter {
                conn: None,
                opts: pg.clone(),
            };
            let (tx, rx) = crossbeam_channel::bounded(WRITER_QUEUE_MAX);
            let opts = opts.clone();
            let writer = std::thread::Builder::new()
                .name(format!("suanpan-pg-writer-{i}"))
                .spawn(move || writer_loop(runner, rx, opts))
                .map_err(|e| StoreError::Sqlite(e.to_string()))?;
            jobs.push(Queue(Some(tx)));
            writers.push(writer);
        }
        let store = PgStore {
            opts: pg,
            jobs,
            writers,
            readers: Mutex::new(ReaderPool::default()),
            reader_back: Condvar::new(),
            policy,
            clock,
            keys,
            request_key: crate::keys::KeptKey::new(crate::keys::REQUEST_HASH_PURPOSE),
            anchor,
            io,
        };
        crate::terminal_keys::migrate_clear_keys(&store)?;
        Ok(store)
    }

    /// Hands a command to the writer without waiting (see [`crate::SqliteStore::submit`]).
    pub fn submit<A: crate::Ask>(&self, cmd: A) -> Result<crate::reply::Pending<A>, StoreError> {
        let cmd: Command = cmd.into();
        self.queue_of(&cmd)
            .submit(cmd)
            .map(crate::reply::Pending::new)
    }

    /// The queue of the writer that runs `cmd`.
    fn queue_of(&self, cmd: &Command) -> &Queue {
        let n = self.jobs.len().max(1) as u64;
        let i = usize::try_from(cmd.lane() % n).unwrap_or(0);
        &self.jobs[i]
    }

    /// Where the store is, for messages (the URL without its password).
    pub fn describe(&self) -> String {
        describe(&self.opts)
    }

    /// An idle read connection, a new one while fewer than [`READERS_KEPT_MAX`] are open, or
    /// the next one given back (waiting at most [`READER_WAIT_MS_MAX`]).
    fn reader(&self) -> Result<PgConn, StoreError> {
        let poisoned = |_| StoreError::Sqlite("reader pool poisoned".into());
        let deadline =
            std::time::Instant::now() + std::time::Duration::from_millis(READER_WAIT_MS_MAX);
        let mut pool = self.readers.lock().map_err(poisoned)?;
        loop {
            if let Some(c) = pool.idle.pop() {
                if c.is_closed() {
                    pool.open -= 1;
                    continue;
                }
                return Ok(c);
            }
            if pool.open < READERS_KEPT_MAX {
                pool.open += 1;
                drop(pool);
                let c = PgConn::connect(&self.io.handle, &self.opts);
                if c.is_err() {
                    self.readers.lock().map_err(poisoned)?.open -= 1;
                }
                return c;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(StoreError::Busy);
            }
            pool = self
                .reader_back
                .wait_timeout(pool, left)
                .map_err(|_| StoreError::Sqlite("reader pool poisoned".into()))?
                .0;
        }
    }

    fn give_back(&self, c: PgConn) {
        if let Ok(mut pool) = self.readers.lock() {
            if c.is_closed() {
                pool.open -= 1;
            } else {
                pool.idle.push(c);
            }
            self.reader_back.notify_one();
        }
    }
}

/// The read connections of one process.
#[derive(Default)]
struct ReaderPool {
    idle: Vec<PgConn>,
    /// Idle plus lent out.
    open: usize,
}

pub(crate) fn describe(pg: &PgOptions) -> String {
    let host = pg.url.rsplit('@').next().unwrap_or(&pg.url);
    match &pg.schema {
        Some(s) => format!("postgres {host} (schema {s})"),
        None => format!("postgres {host}"),
    }
}

/// Creates Suanpan's tables at [`PG_SCHEMA_VERSION`] (inside the caller's transaction).
pub(crate) fn create_tables(c: &PgConn) -> Result<(), StoreError> {
    c.batch(include_str!("pg_schema.sql"))?;
    for (_, step) in PG_MIGRATIONS {
        c.batch(step)?;
    }
    c.exec(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)",
        crate::p![PG_SCHEMA_VERSION.to_string().as_str()],
    )?;
    Ok(())
}

/// Runs the steps of [`PG_MIGRATIONS`] the store has not seen, in one transaction under the
/// migration lock (a second process opening at the same moment waits, then finds them done).
fn migrate(conn: &PgConn) -> Result<(), StoreError> {
    conn.in_transaction("BEGIN", |c| {
        ddl_lock(c)?;
        let found = schema_version(c)?.unwrap_or(0);
        for (version, step) in PG_MIGRATIONS.iter().filter(|(v, _)| *v > found) {
            c.batch(step)?;
            c.exec(
                "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
                crate::p![version.to_string().as_str()],
            )?;
        }
        Ok(())
    })
}

/// Builds the search indexes a bulk load (`bench seed`) dropped and did not get to build
/// again (it was stopped), under the migration lock.
fn rebuild_search_indexes(conn: &PgConn) -> Result<(), StoreError> {
    if crate::seed::search_indexes_missing(conn, crate::Dialect::Postgres)? == 0 {
        return Ok(());
    }
    tracing::warn!("building the search indexes an interrupted bulk load dropped");
    conn.in_transaction("BEGIN", |c| {
        ddl_lock(c)?;
        crate::seed::create_search_indexes(c, crate::Dialect::Postgres)
    })
}

/// Takes the migration lock for this transaction and gives its statements
/// [`PG_DDL_TIMEOUT_MS`]: a second process opening at the same moment waits here, then finds
/// the work done.
pub(crate) fn ddl_lock(c: &PgConn) -> Result<(), StoreError> {
    c.batch(&format!(
        "SET LOCAL statement_timeout = {PG_DDL_TIMEOUT_MS}"
    ))?;
    c.exec(
        "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.migrate'))",
        &[],
    )?;
    Ok(())
}

/// The schema version recorded in `meta`, `None` when Suanpan's tables are not there.
fn schema_version(c: &PgConn) -> Result<Option<i64>, StoreError> {
    use crate::sql::SqlExt;
    let has_meta = c.one("SELECT to_regclass('meta') IS NOT NULL", &[], |r| r.i64(0))?;
    if has_meta == 0 {
        return Ok(None);
    }
    let v = c.row(
        "SELECT value FROM meta WHERE key = 'schema_version'",
        &[],
        |r| r.text(0),
    )?;
    Ok(Some(v.and_then(|v| v.parse().ok()).unwrap_or(0)))
}

/// Connects to `url` as the store would (TLS per its `sslmode`) and says whether the
/// connection is encrypted (`pg_stat_ssl`): for operators checking their URL, and tests.
pub fn probe(url: &str) -> Result<bool, StoreError> {
    use crate::sql::SqlExt;
    let pg = PgOptions::new(url);
    let io = IoThread::start()?;
    let conn = PgConn::connect(&io.handle, &pg)?;
    conn.one(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        &[],
        |r| r.i64(0),
    )
    .map(|ssl| ssl != 0)
}

/// Drops a schema and everything in it (tests: each runs in a schema of its own).
pub fn drop_schema(url: &str, schema: &str) -> Result<(), StoreError> {
    let pg = PgOptions {
        url: url.to_owned(),
        schema: Some(schema.to_owned()),
    };
    pg.config()?;
    let io = IoThread::start()?;
    let conn = PgConn::connect(&io.handle, &pg)?;
    conn.batch(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Closing the channels lets each writer finish its queue and stop.
        for q in &mut self.jobs {
            q.0.take();
        }
        for w in self.writers.drain(..) {
            let _ = w.join();
        }
        if let Ok(mut pool) = self.readers.lock() {
            pool.idle.clear();
        }
    }
}

impl crate::untyped::Writer for PgStore {
    fn execute(&self, cmd: Command, _: crate::untyped::Token) -> Result<Reply, StoreError> {
        self.queue_of(&cmd).submit(cmd)?.wait()
    }

    fn submit_boxed(
        &self,
        cmd: Command,
        done: Done,
        _: crate::untyped::Token,
    ) -> Result<(), StoreError> {
        self.queue_of(&cmd).submit_with(cmd, done)
    }
}

impl Store for PgStore {
    fn transaction(&self, id: TxnId) -> Result<Option<Transaction>, StoreError> {
        crate::read(self, |c| query::get_in(c, id.0))
    }

    fn transactions(&self, filter: &TxnFilter) -> Result<Vec<Transaction>, StoreError> {
        crate::read(self, |c| query::list_in(c, filter))
    }

    /// Reads see one snapshot (`REPEATABLE READ`), so a check over several tables
    /// (conservation) is not torn by a commit in between.
    fn with_reader(&self, f: &mut ReadFn<'_>) -> Result<(), StoreError> {
        let c = self.reader()?;
        let out = c.in_transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", |c| f(c));
        self.give_back(c);
        out
    }

    fn with_setup(&self, f: &mut SetupFn<'_>) -> Result<(), StoreError> {
        let c = self.reader()?;
        let out = c.in_transaction("BEGIN", |c| {
            lock_chain(c)?;
            let mut head = ChainHead::read(c)?;
            let before = head.seq;
            f(c, &mut head)?;
            Ok((head.seq > before).then_some(head))
        });
        self.give_back(c);
        if let (Ok(Some(head)), Some(anchor)) = (&out, &self.anchor) {
            anchor.append(head, self.clock.now().as_microsecond());
        }
        out.map(|_| ())
    }

    fn policy(&self) -> &Policy {
        &self.policy
    }

    fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
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
        crate::Location::Postgres(self.opts.clone())
    }
}
