//! The durable store-and-forward queue of reversal advices, behind a trait. The host keeps it
//! in its main store (the service's `StoreQueue`, issue 15), so an advice commits with the
//! row whose fate needs it. [`SqliteSaf`] keeps it in a SQLite file of its own: the link's
//! own tests use it, and a start-up copies an old `upstream-saf.sqlite` into the main store
//! ([`SqliteSaf::contents`]).

use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::Mutex;

/// File name of the queue inside the data directory.
pub const SAF_FILE: &str = "upstream-saf.sqlite";

/// One queued advice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafEntry {
    /// Queue position (ascending = order of sending).
    pub id: i64,
    /// The destination (the link's name): the queue is ordered per destination.
    pub destination: String,
    /// The 0420 frame (length prefix included), as first queued.
    pub frame: Vec<u8>,
    /// Times it was sent without a 0430 coming back.
    pub attempts: u32,
    /// Not before this time (ms since the Unix epoch).
    pub next_attempt_ms: i64,
}

/// What a queue file holds ([`SqliteSaf::contents`]).
#[derive(Debug, Default)]
pub struct SafContents {
    /// Queued advices, in order, each with its creation time (ms).
    pub queued: Vec<(SafEntry, i64)>,
    /// Parked advices: reference, destination, frame, creation time (ms).
    pub parked: Vec<(String, String, Vec<u8>, i64)>,
    /// STAN reservations: sender, reserved until, end of the last cycle (ms).
    pub stans: Vec<(String, u32, i64)>,
}

/// Why the queue failed.
#[derive(Debug, thiserror::Error)]
#[error("store-and-forward queue: {0}")]
pub struct SafError(pub String);

/// A durable, ordered queue of advices.
pub trait SafStore: Send + Sync {
    /// Appends an advice; durable when it returns. Returns its id.
    ///
    /// # Errors
    /// Storage failures (then nothing was queued).
    fn push(&self, destination: &str, frame: &[u8], now_ms: i64) -> Result<i64, SafError>;
    /// The oldest advice of `destination`, if any.
    ///
    /// # Errors
    /// Storage failures.
    fn head(&self, destination: &str) -> Result<Option<SafEntry>, SafError>;
    /// Records an attempt that got no 0430 and when to try again.
    ///
    /// # Errors
    /// Storage failures.
    fn retry_later(&self, id: i64, attempts: u32, next_attempt_ms: i64) -> Result<(), SafError>;
    /// Removes an acknowledged advice.
    ///
    /// # Errors
    /// Storage failures.
    fn remove(&self, id: i64) -> Result<(), SafError>;
    /// Advices queued for every destination.
    ///
    /// # Errors
    /// Storage failures.
    fn depth(&self) -> Result<u64, SafError>;
    /// Keeps a prepared advice aside under `reference` (the application's name for the
    /// request it would reverse), not sent: the two-phase bookkeeping parks the time-out
    /// reversal of a request before the request leaves, so that a crash while it is in
    /// flight still finds the advice (with the card data the main store does not keep).
    /// A second park under the same reference replaces the first.
    ///
    /// # Errors
    /// Storage failures (then nothing was parked).
    fn park(
        &self,
        destination: &str,
        reference: &str,
        frame: &[u8],
        now_ms: i64,
    ) -> Result<(), SafError>;
    /// Moves the advice parked under `reference` to the end of its destination's queue, in
    /// one transaction; its queue id, or `None` when nothing is parked under it.
    ///
    /// # Errors
    /// Storage failures (then nothing moved).
    fn activate(&self, reference: &str, now_ms: i64) -> Result<Option<i64>, SafError>;
    /// Drops the advice parked under `reference` (its request was answered, or never left).
    ///
    /// # Errors
    /// Storage failures.
    fn discard(&self, reference: &str) -> Result<(), SafError>;
    /// The references of every parked advice.
    ///
    /// # Errors
    /// Storage failures.
    fn parked(&self) -> Result<Vec<String>, SafError>;
}

/// The queue in its own SQLite file.
pub struct SqliteSaf {
    conn: Mutex<Connection>,
}

fn err(e: rusqlite::Error) -> SafError {
    SafError(e.to_string())
}

impl SqliteSaf {
    /// Opens (creating) the queue at `path`. `synchronous=FULL`: an advice must survive a
    /// power cut, or a charged card would never be refunded.
    ///
    /// # Errors
    /// SQLite failures.
    pub fn open(path: &Path) -> Result<SqliteSaf, SafError> {
        let conn = Connection::open(path).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS saf (id INTEGER PRIMARY KEY AUTOINCREMENT,
               destination TEXT NOT NULL, frame BLOB NOT NULL, attempts INTEGER NOT NULL,
               next_attempt_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS parked (reference TEXT PRIMARY KEY,
               destination TEXT NOT NULL, frame BLOB NOT NULL, created_ms INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS stan (sender TEXT PRIMARY KEY,
               reserved_until INTEGER NOT NULL, cycle_end_ms INTEGER NOT NULL);",
        )
        .map_err(err)?;
        Ok(SqliteSaf {
            conn: Mutex::new(conn),
        })
    }

    /// Everything the file holds, for a copy into another store.
    ///
    /// # Errors
    /// SQLite failures.
    pub fn contents(&self) -> Result<SafContents, SafError> {
        let c = self.conn();
        let mut out = SafContents::default();
        let mut st = c
            .prepare(
                "SELECT id, destination, frame, attempts, next_attempt_ms, created_ms FROM saf ORDER BY id",
            )
            .map_err(err)?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    SafEntry {
                        id: r.get(0)?,
                        destination: r.get(1)?,
                        frame: r.get(2)?,
                        attempts: r.get(3)?,
                        next_attempt_ms: r.get(4)?,
                    },
                    r.get(5)?,
                ))
            })
            .map_err(err)?;
        out.queued = rows.collect::<Result<_, _>>().map_err(err)?;
        let mut st = c
            .prepare(
                "SELECT reference, destination, frame, created_ms FROM parked ORDER BY created_ms",
            )
            .map_err(err)?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(err)?;
        out.parked = rows.collect::<Result<_, _>>().map_err(err)?;
        let mut st = c
            .prepare("SELECT sender, reserved_until, cycle_end_ms FROM stan")
            .map_err(err)?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(err)?;
        out.stans = rows.collect::<Result<_, _>>().map_err(err)?;
        Ok(out)
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SafStore for SqliteSaf {
    fn push(&self, destination: &str, frame: &[u8], now_ms: i64) -> Result<i64, SafError> {
        let c = self.conn();
        c.execute(
            "INSERT INTO saf (destination, frame, attempts, next_attempt_ms, created_ms) \
             VALUES (?1, ?2, 0, ?3, ?3)",
            params![destination, frame, now_ms],
        )
        .map_err(err)?;
        Ok(c.last_insert_rowid())
    }

    fn head(&self, destination: &str) -> Result<Option<SafEntry>, SafError> {
        self.conn()
            .query_row(
                "SELECT id, destination, frame, attempts, next_attempt_ms FROM saf \
                 WHERE destination = ?1 ORDER BY id LIMIT 1",
                [destination],
                |r| {
                    Ok(SafEntry {
                        id: r.get(0)?,
                        destination: r.get(1)?,
                        frame: r.get(2)?,
                        attempts: r.get(3)?,
                        next_attempt_ms: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(err)
    }

    fn retry_later(&self, id: i64, attempts: u32, next_attempt_ms: i64) -> Result<(), SafError> {
        self.conn()
            .execute(
                "UPDATE saf SET attempts = ?2, next_attempt_ms = ?3 WHERE id = ?1",
                params![id, attempts, next_attempt_ms],
            )
            .map_err(err)?;
        Ok(())
    }

    fn remove(&self, id: i64) -> Result<(), SafError> {
        self.conn()
            .execute("DELETE FROM saf WHERE id = ?1", [id])
            .map_err(err)?;
        Ok(())
    }

    fn depth(&self) -> Result<u64, SafError> {
        self.conn()
            .query_row("SELECT COUNT(*) FROM saf", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(err)
    }

    fn park(
        &self,
        destination: &str,
        reference: &str,
        frame: &[u8],
        now_ms: i64,
    ) -> Result<(), SafError> {
        self.conn()
            .execute(
                "INSERT OR REPLACE INTO parked (reference, destination, frame, created_ms) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![reference, destination, frame, now_ms],
            )
            .map_err(err)?;
        Ok(())
    }

    fn activate(&self, reference: &str, now_ms: i64) -> Result<Option<i64>, SafError> {
        let mut c = self.conn();
        let tx = c.transaction().map_err(err)?;
        let moved = tx
            .execute(
                "INSERT INTO saf (destination, frame, attempts, next_attempt_ms, created_ms) \
                 SELECT destination, frame, 0, ?2, ?2 FROM parked WHERE reference = ?1",
                params![reference, now_ms],
            )
            .map_err(err)?;
        let id = (moved == 1).then(|| tx.last_insert_rowid());
        tx.execute("DELETE FROM parked WHERE reference = ?1", [reference])
            .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(id)
    }

    fn discard(&self, reference: &str) -> Result<(), SafError> {
        self.conn()
            .execute("DELETE FROM parked WHERE reference = ?1", [reference])
            .map_err(err)?;
        Ok(())
    }

    fn parked(&self) -> Result<Vec<String>, SafError> {
        let c = self.conn();
        let mut st = c
            .prepare("SELECT reference FROM parked ORDER BY created_ms")
            .map_err(err)?;
        let rows = st.query_map([], |r| r.get(0)).map_err(err)?;
        rows.collect::<Result<Vec<String>, _>>().map_err(err)
    }
}

/// Where the STAN allocator keeps its reservations (the same SQLite file as the queue).
pub trait StanStore: Send + Sync {
    /// The last STAN reserved for `sender` and when its last cycle (up to 999 999) ended.
    ///
    /// # Errors
    /// Storage failures.
    fn load(&self, sender: &str) -> Result<Option<(u32, i64)>, SafError>;
    /// Records that STANs up to `reserved_until` may be in use.
    ///
    /// # Errors
    /// Storage failures.
    fn reserve(&self, sender: &str, reserved_until: u32, cycle_end_ms: i64)
    -> Result<(), SafError>;
}

impl StanStore for SqliteSaf {
    fn load(&self, sender: &str) -> Result<Option<(u32, i64)>, SafError> {
        self.conn()
            .query_row(
                "SELECT reserved_until, cycle_end_ms FROM stan WHERE sender = ?1",
                [sender],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(err)
    }

    fn reserve(
        &self,
        sender: &str,
        reserved_until: u32,
        cycle_end_ms: i64,
    ) -> Result<(), SafError> {
        self.conn()
            .execute(
                "INSERT INTO stan (sender, reserved_until, cycle_end_ms) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (sender) DO UPDATE SET reserved_until = ?2, cycle_end_ms = ?3",
                params![sender, reserved_until, cycle_end_ms],
            )
            .map_err(err)?;
        Ok(())
    }
}
