//! The link's store-and-forward queue and STAN reservations in the main store (SQLite or
//! PostgreSQL, schema 13 / 12), so that an advice is written in the same transaction as the
//! row whose fate needs it (issue 15). The application's own writes (a parked time-out
//! reversal, its move into the queue with the fate, a void's advice) run as writer commands;
//! this type serves the link: the drainer's claims and acknowledgements, and the STAN
//! reservations (one write per `STAN_BLOCK` numbers), each in a short transaction of its own
//! off the counter's path.
//!
//! Frames are sealed under the KEK (schema 18 / 17: a reversal advice carries the card
//! number until it is acknowledged), and each node claims an advice for
//! [`ADVICE_LEASE_MS`] before sending it, so several PostgreSQL nodes draining one queue send
//! each advice from one node at a time; a node that dies gives its claims back by expiry.

use std::path::Path;
use std::sync::Arc;
use suanpan_store::repo::upstream as repo;
use suanpan_store::{Store, StoreError};
use suanpan_upstream::saf::{SafEntry, SafError, SafStore, StanStore};

/// File name of an earlier build's queue inside the data directory, copied into the main
/// store once ([`import_saf_file`]).
pub const SAF_FILE: &str = "upstream-saf.sqlite";

/// How long a node's claim on an advice lasts (ms) unless it acknowledges or reschedules it
/// sooner. It must outlast one exchange (at most twice `upstream_timeout_ms`: room in the
/// socket queue, then the answer), so `serve` raises it to three times that when the
/// configured time-out is longer ([`StoreQueue::lease_at_least`]).
pub const ADVICE_LEASE_MS: u64 = 30_000;

/// The queue in the main store, as one node sees it.
pub struct StoreQueue {
    store: Arc<dyn Store>,
    node: String,
    lease_ms: u64,
}

fn qerr(e: StoreError) -> SafError {
    SafError(e.to_string())
}

impl StoreQueue {
    /// The queue in `store`, claimed under a node name of its own (host, process id and a
    /// random suffix: a restarted process is another node, and waits for its predecessor's
    /// claims to expire).
    pub fn new(store: Arc<dyn Store>) -> StoreQueue {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "node".into());
        let node = format!(
            "{host}:{}:{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        StoreQueue::for_node(store, &node)
    }

    /// The queue in `store` as node `node` sees it (tests name two nodes).
    pub fn for_node(store: Arc<dyn Store>, node: &str) -> StoreQueue {
        StoreQueue {
            store,
            node: node.to_owned(),
            lease_ms: ADVICE_LEASE_MS,
        }
    }

    /// Claims last at least `lease_ms` (never less than [`ADVICE_LEASE_MS`] unless set
    /// with [`StoreQueue::with_lease`]).
    #[must_use]
    pub fn lease_at_least(mut self, lease_ms: u64) -> StoreQueue {
        self.lease_ms = self.lease_ms.max(lease_ms);
        self
    }

    /// Claims last exactly `lease_ms` (tests of a node that dies).
    #[must_use]
    pub fn with_lease(mut self, lease_ms: u64) -> StoreQueue {
        self.lease_ms = lease_ms;
        self
    }

    /// This node's name, as `claimed_by` records it.
    pub fn node(&self) -> &str {
        &self.node
    }

    fn read<T: Default>(
        &self,
        f: impl Fn(&dyn suanpan_store::sql::Sql) -> Result<T, StoreError>,
    ) -> Result<T, SafError> {
        let mut out = T::default();
        self.store
            .with_reader(&mut |c| {
                out = f(c)?;
                Ok(())
            })
            .map_err(qerr)?;
        Ok(out)
    }

    fn write<T: Default>(
        &self,
        f: impl Fn(&dyn suanpan_store::sql::Sql) -> Result<T, StoreError>,
    ) -> Result<T, SafError> {
        let mut out = T::default();
        self.store
            .with_setup(&mut |c, _| {
                out = f(c)?;
                Ok(())
            })
            .map_err(qerr)?;
        Ok(out)
    }
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

impl SafStore for StoreQueue {
    fn push(&self, destination: &str, frame: &[u8], now_ms: i64) -> Result<i64, SafError> {
        let keys = self.store.keys().clone();
        self.write(|c| repo::saf_push(c, &*keys, destination, frame, now_ms, None))
    }

    fn claim(&self, destination: &str, now_ms: i64) -> Result<Option<SafEntry>, SafError> {
        let keys = self.store.keys().clone();
        let lease = i64::try_from(self.lease_ms).unwrap_or(i64::MAX);
        // Read first: an idle drainer polls every second, and an empty queue needs no
        // write transaction (repo::saf_claimable).
        if !self.read(|c| repo::saf_claimable(c, destination, &self.node, now_ms))? {
            return Ok(None);
        }
        let head =
            self.write(|c| repo::saf_claim(c, &*keys, destination, &self.node, now_ms, lease))?;
        Ok(head.map(|a| SafEntry {
            id: a.id,
            destination: a.destination,
            frame: a.frame,
            attempts: a.attempts,
            next_attempt_ms: a.next_attempt_ms,
        }))
    }

    fn retry_later(&self, id: i64, attempts: u32, next_attempt_ms: i64) -> Result<(), SafError> {
        self.write(|c| repo::saf_retry_later(c, id, attempts, next_attempt_ms))
    }

    fn remove(&self, id: i64) -> Result<(), SafError> {
        self.write(|c| repo::saf_remove(c, id))
    }

    fn depth(&self) -> Result<u64, SafError> {
        self.read(repo::saf_depth)
    }

    fn park(
        &self,
        destination: &str,
        reference: &str,
        frame: &[u8],
        now_ms: i64,
    ) -> Result<(), SafError> {
        let keys = self.store.keys().clone();
        self.write(|c| repo::park(c, &*keys, destination, reference, frame, now_ms))
    }

    fn activate(&self, reference: &str, now_ms: i64) -> Result<Option<i64>, SafError> {
        let keys = self.store.keys().clone();
        self.write(|c| repo::activate(c, &*keys, reference, now_ms, None))
    }

    fn discard(&self, reference: &str) -> Result<(), SafError> {
        self.write(|c| repo::discard(c, reference))
    }

    fn parked(&self) -> Result<Vec<String>, SafError> {
        self.read(repo::parked)
    }
}

impl StanStore for StoreQueue {
    fn load(&self, sender: &str) -> Result<Option<(u32, i64)>, SafError> {
        self.read(|c| repo::stan_load(c, sender))
    }

    fn reserve(
        &self,
        sender: &str,
        reserved_until: u32,
        cycle_end_ms: i64,
    ) -> Result<(), SafError> {
        self.write(|c| repo::stan_reserve(c, sender, reserved_until, cycle_end_ms))
    }
}

/// What [`import_saf_file`] copied.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    /// Queued advices copied (one already queued with the same frame is not copied again).
    pub queued: u64,
    /// Parked reversals copied.
    pub parked: u64,
    /// STAN reservations raised.
    pub stans: u64,
}

/// What an old queue file holds.
#[derive(Default)]
struct OldFile {
    /// destination, frame, attempts, next attempt, created (ms), in queue order.
    queued: Vec<(String, Vec<u8>, u32, i64, i64)>,
    /// reference, destination, frame, created (ms).
    parked: Vec<(String, String, Vec<u8>, i64)>,
    /// sender, reserved until, end of the last cycle (ms).
    stans: Vec<(String, u32, i64)>,
}

fn sqlite_err(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |e| StoreError::Sqlite(format!("{}: {e}", path.display()))
}

/// Reads the old queue file with plain `SELECT`s (its three tables as the earlier build
/// made them).
fn read_old_file(path: &Path) -> Result<OldFile, StoreError> {
    let err = sqlite_err(path);
    let c = rusqlite::Connection::open(path).map_err(&err)?;
    let mut out = OldFile::default();
    let mut st = c
        .prepare(
            "SELECT destination, frame, attempts, next_attempt_ms, created_ms FROM saf ORDER BY id",
        )
        .map_err(&err)?;
    out.queued = st
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .map_err(&err)?
        .collect::<Result<_, _>>()
        .map_err(&err)?;
    let mut st = c
        .prepare("SELECT reference, destination, frame, created_ms FROM parked ORDER BY created_ms")
        .map_err(&err)?;
    out.parked = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .map_err(&err)?
        .collect::<Result<_, _>>()
        .map_err(&err)?;
    let mut st = c
        .prepare("SELECT sender, reserved_until, cycle_end_ms FROM stan")
        .map_err(&err)?;
    out.stans = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map_err(&err)?
        .collect::<Result<_, _>>()
        .map_err(&err)?;
    Ok(out)
}

/// Overwrites the old file's frames (card numbers in clear) once they are in the store:
/// deleted with `secure_delete`, the file rebuilt and its WAL cut to nothing.
fn scrub_old_file(path: &Path) -> Result<(), StoreError> {
    let err = sqlite_err(path);
    let c = rusqlite::Connection::open(path).map_err(&err)?;
    c.pragma_update(None, "secure_delete", "ON").map_err(&err)?;
    c.execute_batch(
        "DELETE FROM saf; DELETE FROM parked; PRAGMA wal_checkpoint(TRUNCATE); VACUUM; \
         PRAGMA wal_checkpoint(TRUNCATE);",
    )
    .map_err(&err)?;
    Ok(())
}

/// Copies the queue file of an earlier build (`upstream-saf.sqlite` in the data directory,
/// when there is one) into the main store, in one transaction (its frames sealed there),
/// then overwrites the old file's frames and renames it `upstream-saf.sqlite.migrated` so it
/// is not copied again. A crash between the steps copies again at the next start: queued
/// advices are matched by frame and not doubled, parked ones replace themselves, and STAN
/// reservations only go up. Runs before the link starts.
///
/// # Errors
/// The old file cannot be read, the store fails, or the scrub or rename fails (then `serve`
/// must not start: the old file's advices would be lost or sent twice, or its card numbers
/// kept in clear).
pub fn import_saf_file(store: &dyn Store, data_dir: &Path) -> Result<Imported, StoreError> {
    let path = data_dir.join(SAF_FILE);
    if !path.exists() {
        return Ok(Imported::default());
    }
    let old = read_old_file(&path)?;
    let keys = store.keys().clone();
    let mut out = Imported::default();
    store.with_setup(&mut |c, _| {
        out = Imported::default();
        for (destination, frame, attempts, next_attempt_ms, created_ms) in &old.queued {
            let copied = repo::saf_import(
                c,
                &*keys,
                destination,
                frame,
                *attempts,
                *next_attempt_ms,
                *created_ms,
            )?;
            out.queued += u64::from(copied);
        }
        for (reference, destination, frame, created_ms) in &old.parked {
            repo::park(c, &*keys, destination, reference, frame, *created_ms)?;
            out.parked += 1;
        }
        for (sender, until, cycle_end_ms) in &old.stans {
            let higher = match repo::stan_load(c, sender)? {
                Some((have, _)) => *until > have,
                None => true,
            };
            if higher {
                repo::stan_reserve(c, sender, *until, *cycle_end_ms)?;
                out.stans += 1;
            }
        }
        Ok(())
    })?;
    scrub_old_file(&path)?;
    let moved = path.with_extension("sqlite.migrated");
    for suffix in ["-wal", "-shm"] {
        let side = data_dir.join(format!("{SAF_FILE}{suffix}"));
        let _ = std::fs::remove_file(side);
    }
    std::fs::rename(&path, &moved)
        .map_err(|e| StoreError::Sqlite(format!("{}: {e}", path.display())))?;
    tracing::info!(
        ?out,
        at = now_ms(),
        "upstream: the old queue file was copied into the main store"
    );
    Ok(out)
}
