//! The link's store-and-forward queue and STAN reservations in the main store (SQLite or
//! PostgreSQL, schema 13 / 12), so that an advice is written in the same transaction as the
//! row whose fate needs it (issue 15). The application's own writes (a parked time-out
//! reversal, its move into the queue with the fate, a void's advice) run as writer commands;
//! this type serves the link: the drainer's reads and acknowledgements, and the STAN
//! reservations (one write per `STAN_BLOCK` numbers), each in a short transaction of its own
//! off the counter's path.

use std::path::Path;
use std::sync::Arc;
use suanpan_store::repo::upstream as repo;
use suanpan_store::{Store, StoreError};
use suanpan_upstream::saf::{SafEntry, SafError, SafStore, SqliteSaf, StanStore};

/// The queue in the main store.
pub struct StoreQueue {
    store: Arc<dyn Store>,
}

fn qerr(e: StoreError) -> SafError {
    SafError(e.to_string())
}

impl StoreQueue {
    /// The queue in `store`.
    pub fn new(store: Arc<dyn Store>) -> StoreQueue {
        StoreQueue { store }
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
        self.write(|c| repo::saf_push(c, destination, frame, now_ms, None))
    }

    fn head(&self, destination: &str) -> Result<Option<SafEntry>, SafError> {
        let head = self.read(|c| repo::saf_head(c, destination))?;
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
        self.write(|c| repo::park(c, destination, reference, frame, now_ms))
    }

    fn activate(&self, reference: &str, now_ms: i64) -> Result<Option<i64>, SafError> {
        self.write(|c| repo::activate(c, reference, now_ms, None))
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

/// Copies the queue file of an earlier build (`upstream-saf.sqlite` in the data directory,
/// when there is one) into the main store, in one transaction, then renames it
/// `upstream-saf.sqlite.migrated` so it is not copied again. A crash between the two copies
/// again at the next start: queued advices are matched by frame and not doubled, parked ones
/// replace themselves, and STAN reservations only go up. Runs before the link starts.
///
/// # Errors
/// The old file cannot be read, the store fails, or the rename fails (then `serve` must not
/// start: the old file's advices would be lost or sent twice).
pub fn import_saf_file(store: &dyn Store, data_dir: &Path) -> Result<Imported, StoreError> {
    let path = data_dir.join(suanpan_upstream::saf::SAF_FILE);
    if !path.exists() {
        return Ok(Imported::default());
    }
    let old = SqliteSaf::open(&path).map_err(|e| StoreError::Sqlite(e.to_string()))?;
    let contents = old
        .contents()
        .map_err(|e| StoreError::Sqlite(e.to_string()))?;
    drop(old);
    let mut out = Imported::default();
    store.with_setup(&mut |c, _| {
        out = Imported::default();
        for (e, created_ms) in &contents.queued {
            let copied = repo::saf_import(
                c,
                &e.destination,
                &e.frame,
                e.attempts,
                e.next_attempt_ms,
                *created_ms,
            )?;
            out.queued += u64::from(copied);
        }
        for (reference, destination, frame, created_ms) in &contents.parked {
            repo::park(c, destination, reference, frame, *created_ms)?;
            out.parked += 1;
        }
        for (sender, until, cycle_end_ms) in &contents.stans {
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
    let moved = path.with_extension("sqlite.migrated");
    for suffix in ["-wal", "-shm"] {
        let side = data_dir.join(format!("{}{suffix}", suanpan_upstream::saf::SAF_FILE));
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
