//! The switch's own ledger: a SQLite file in its data directory holding the demo cards'
//! accounts (balances, holds), every financial message it answered (the stored answer for
//! duplicates) and every reversal advice (remembered even when its original was never seen).

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use suanpan_core::Pan;
use suanpan_issuer::{Account, AccountBook, CardStatus, Instrument, IssuerError, demo};

/// File name of the ledger inside the data directory.
pub const LEDGER_FILE: &str = "switch-ledger.sqlite";

/// Why the ledger failed; distinct from a decline.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// SQLite failed.
    #[error("switch ledger: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The issuer simulator's book failed.
    #[error("switch ledger: {0}")]
    Issuer(#[from] IssuerError),
    /// A broken invariant (a bug): money that does not add up.
    #[error("switch ledger invariant: {0}")]
    Invariant(&'static str),
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS accounts (
  id TEXT PRIMARY KEY, masked_pan TEXT NOT NULL, expiry TEXT NOT NULL, pin_hash TEXT,
  credit INTEGER NOT NULL, status TEXT NOT NULL, pin_failures INTEGER NOT NULL,
  balance_fen INTEGER NOT NULL, held_fen INTEGER NOT NULL, initial_fen INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY,
  mti TEXT NOT NULL, stan TEXT NOT NULL, transmitted TEXT NOT NULL, terminal TEXT NOT NULL,
  acquirer TEXT NOT NULL, merchant TEXT NOT NULL, rrn TEXT NOT NULL,
  processing_code TEXT NOT NULL, amount_fen INTEGER NOT NULL, auth_id TEXT NOT NULL,
  response_code TEXT NOT NULL, account_id TEXT, held_fen INTEGER NOT NULL DEFAULT 0,
  reversed_fen INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL,
  original_key TEXT, original_mti TEXT, settlement_date TEXT NOT NULL,
  answer BLOB NOT NULL,
  UNIQUE (mti, stan, transmitted, terminal));
CREATE INDEX IF NOT EXISTS messages_by_original ON messages (original_key);
CREATE INDEX IF NOT EXISTS messages_by_self ON messages (mti, stan, transmitted, acquirer);
";

/// The account id of a PAN at the switch: SHA-256 of a domain tag and the PAN, so the
/// ledger file holds no PAN.
pub fn account_id(pan: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"suanpan-switch\0");
    h.update(pan.as_bytes());
    hex::encode(h.finalize())
}

fn fingerprint(pan: &Pan) -> String {
    account_id(pan.expose_digits())
}

/// Opens (creating and seeding with the demo cards when new) the ledger at `path`.
///
/// # Errors
/// SQLite failures.
pub fn open(path: &Path) -> Result<Connection, LedgerError> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.busy_timeout(BUSY_WAIT)?;
    conn.execute_batch(SCHEMA)?;
    let count: i64 = conn.query_row("SELECT COUNT(*) FROM accounts", [], |r| r.get(0))?;
    if count == 0 {
        for a in demo::accounts(&fingerprint) {
            insert_account(&conn, &a)?;
        }
    }
    Ok(conn)
}

/// How long the ledger's connection waits for a lock another connection holds.
const BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// How often the switch's checkpointer copies the ledger's committed WAL frames into the
/// database file.
pub const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);
/// WAL frames (pages) after which the checkpointer asks the ledger thread to restart the WAL
/// ([`restart_if_due`]), so the file does not grow without bound under constant load.
pub const WAL_FRAMES_RESTART: i64 = 16_384;

/// Starts the thread that checkpoints the ledger at `path` on a connection of its own, and
/// turns the automatic checkpoint of `conn` (the ledger thread's) off. Left to SQLite, the
/// checkpoint ran inside the commit that crossed 1,000 WAL pages: every ~0.5 s at 1,000
/// answers a second, the ledger thread copied pages and synced the file for ~30 ms while
/// every request behind it waited (issue 15, s22). The returned flag says when the WAL grew
/// long enough to restart ([`restart_if_due`], on the ledger thread between groups). The
/// thread ends when `stop`'s sender is dropped.
///
/// # Errors
/// SQLite failures opening its connection.
pub fn start_checkpointer(
    conn: &Connection,
    path: &Path,
    stop: std::sync::mpsc::Receiver<()>,
) -> Result<Arc<AtomicBool>, LedgerError> {
    let own = Connection::open(path)?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    let restart_due = Arc::new(AtomicBool::new(false));
    let due = restart_due.clone();
    std::thread::Builder::new()
        .name("switch-checkpoint".into())
        .spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                stop.recv_timeout(CHECKPOINT_EVERY)
            {
                // Passive: it never waits for the ledger thread, nor holds it back.
                match own.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)) {
                    Ok(n) if n >= WAL_FRAMES_RESTART => due.store(true, Ordering::Relaxed),
                    Ok(_) => {}
                    Err(e) => tracing::warn!("switch-sim: WAL checkpoint failed; will retry: {e}"),
                }
            }
        })
        .map_err(|_| LedgerError::Invariant("the checkpoint thread did not start"))?;
    Ok(restart_due)
}

/// On the ledger thread between two groups, when `due` says the WAL is long: restarts it.
/// The restart copies, on the ledger thread, the frames the last passive pass had not reached
/// and syncs the database file (the host's store first lets its checkpointer catch up,
/// s22-ckpt; this one does not yet). It does not wait: a checkpoint running at that moment
/// makes it try again after a later group.
pub fn restart_if_due(conn: &Connection, due: &AtomicBool) {
    if !due.swap(false, Ordering::Relaxed) {
        return;
    }
    let restarted = conn.busy_timeout(std::time::Duration::ZERO).and_then(|()| {
        conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0))
    });
    match restarted {
        Ok(0) => {}
        Ok(_) | Err(_) => due.store(true, Ordering::Relaxed),
    }
    if let Err(e) = conn.busy_timeout(BUSY_WAIT) {
        tracing::error!("switch-sim: the ledger's busy wait could not be set again: {e}");
    }
}

/// One row of a statement kept prepared on the connection: the switch answers every
/// message with the same few statements, and parsing them again per message cost about as
/// much as running them (issue 15, s17-speed: callgrind per answer).
fn one<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, f)
}

/// Runs a statement kept prepared on the connection (as [`one`]).
fn run(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

fn insert_account(conn: &Connection, a: &Account) -> Result<(), LedgerError> {
    let Instrument::Card {
        masked_pan,
        expiry,
        pin_hash,
        credit,
        status,
        pin_failures,
    } = &a.instrument
    else {
        // Wallets are not cards; the switch carries cards only.
        return Ok(());
    };
    run(
        conn,
        "INSERT OR IGNORE INTO accounts VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?8)",
        params![
            a.id,
            masked_pan,
            expiry,
            pin_hash,
            credit,
            status.as_str(),
            pin_failures,
            a.balance_fen,
            a.held_fen
        ],
    )?;
    Ok(())
}

/// The account of `pan`, creating a load card's account (BIN `621999`) on first use so
/// benchmarks do not drain the demo cards.
pub fn ensure_load_card(tx: &Transaction<'_>, pan: &str) -> Result<(), LedgerError> {
    if !pan.starts_with(demo::LOAD_CARD_BIN) {
        return Ok(());
    }
    let Ok(parsed) = Pan::parse(pan) else {
        return Ok(());
    };
    insert_account(tx, &demo::load_card_account(&parsed, &fingerprint))
}

/// Load cards remembered at most by [`LoadCards`] (a bound on its memory; past it, each
/// answer inserts as before).
pub const LOAD_CARDS_KNOWN_MAX: usize = 100_000;

/// The load cards whose account a committed ledger transaction holds: their `INSERT OR
/// IGNORE` ([`ensure_load_card`]), a no-op once the row exists, is skipped. It was about a
/// tenth of the switch's work per answer of a load run (issue 15, s19-net: callgrind). A
/// card is remembered only after the transaction that inserted it committed
/// ([`LoadCards::committed`]); a rolled back one forgets what it staged.
#[derive(Debug, Default)]
pub struct LoadCards {
    known: std::collections::HashSet<String>,
    staged: Vec<String>,
}

impl LoadCards {
    /// [`ensure_load_card`] unless a committed transaction already holds `pan`'s account.
    ///
    /// # Errors
    /// SQLite failures.
    pub fn ensure(&mut self, tx: &Transaction<'_>, pan: &str) -> Result<(), LedgerError> {
        if !pan.starts_with(demo::LOAD_CARD_BIN) || self.known.contains(pan) {
            return Ok(());
        }
        ensure_load_card(tx, pan)?;
        if self.known.len() + self.staged.len() < LOAD_CARDS_KNOWN_MAX {
            self.staged.push(pan.to_owned());
        }
        Ok(())
    }

    /// The transaction that ensured the staged cards committed.
    pub fn committed(&mut self) {
        self.known.extend(self.staged.drain(..));
    }

    /// The transaction that ensured the staged cards rolled back.
    pub fn rolled_back(&mut self) {
        self.staged.clear();
    }

    /// Whether `pan` is known to be held by a committed transaction.
    pub fn is_known(&self, pan: &str) -> bool {
        self.known.contains(pan)
    }
}

/// The simulator's account book over one ledger transaction.
pub struct Book<'a, 'c>(pub &'a Transaction<'c>);

impl AccountBook for Book<'_, '_> {
    fn load_account(&mut self, id: &str) -> Result<Option<Account>, IssuerError> {
        let row = one(
            self.0,
            "SELECT masked_pan, expiry, pin_hash, credit, status, pin_failures, balance_fen, \
                 held_fen FROM accounts WHERE id = ?1",
            [id],
            |r| {
                let status: String = r.get(4)?;
                Ok(Account {
                    id: id.to_owned(),
                    instrument: Instrument::Card {
                        masked_pan: r.get(0)?,
                        expiry: r.get(1)?,
                        pin_hash: r.get(2)?,
                        credit: r.get(3)?,
                        status: CardStatus::parse(&status).unwrap_or(CardStatus::Lost),
                        pin_failures: r.get(5)?,
                    },
                    balance_fen: r.get(6)?,
                    held_fen: r.get(7)?,
                })
            },
        )
        .optional()
        .map_err(|e| IssuerError(e.to_string()))?;
        Ok(row)
    }

    fn save_account(&mut self, a: &Account) -> Result<(), IssuerError> {
        let failures = match &a.instrument {
            Instrument::Card { pin_failures, .. } => *pin_failures,
            Instrument::Wallet { .. } => 0,
        };
        run(
            self.0,
            "UPDATE accounts SET balance_fen = ?2, held_fen = ?3, pin_failures = ?4 WHERE id = ?1",
            params![a.id, a.balance_fen, a.held_fen, failures],
        )
        .map_err(|e| IssuerError(e.to_string()))?;
        Ok(())
    }
}

/// One row of `messages`: a financial message or a reversal advice the switch answered.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// Row id (0 before insert).
    pub id: i64,
    /// The request MTI (`0420` for a 0421 too).
    pub mti: String,
    /// Field 11.
    pub stan: String,
    /// Field 7.
    pub transmitted: String,
    /// Field 41 as on the wire.
    pub terminal: String,
    /// Field 32, padded to 11 digits.
    pub acquirer: String,
    /// Field 42.
    pub merchant: String,
    /// Field 37.
    pub rrn: String,
    /// Field 3 (of the original, for a reversal).
    pub processing_code: String,
    /// Amount in fen: the message's amount, or what a reversal undid.
    pub amount_fen: i64,
    /// Field 38 answered.
    pub auth_id: String,
    /// Field 39 answered (for a reversal: its reason, the 0420's 39).
    pub response_code: String,
    /// The account touched.
    pub account_id: Option<String>,
    /// For a pre-authorization: its hold still outstanding; for a completion: the hold it
    /// captured.
    pub held_fen: i64,
    /// Fen of this original undone by reversals so far.
    pub reversed_fen: i64,
    /// `approved`, `declined`, `reversed`, `completed` (a captured pre-authorization).
    pub status: String,
    /// For a reversal or completion: the original's key (MTI, STAN, 7, acquirer).
    pub original_key: Option<String>,
    /// For a reversal: the original's MTI, or `None` when the original was never seen.
    pub original_mti: Option<String>,
    /// `YYYY-MM-DD`, the UTC date of field 7.
    pub settlement_date: String,
    /// The answer frame (encoded, with length prefix) replayed for a duplicate.
    pub answer: Vec<u8>,
}

const RECORD_COLUMNS: &str = "id, mti, stan, transmitted, terminal, acquirer, merchant, rrn, \
    processing_code, amount_fen, auth_id, response_code, account_id, held_fen, reversed_fen, \
    status, original_key, original_mti, settlement_date, answer";

fn read_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<Record> {
    Ok(Record {
        id: r.get(0)?,
        mti: r.get(1)?,
        stan: r.get(2)?,
        transmitted: r.get(3)?,
        terminal: r.get(4)?,
        acquirer: r.get(5)?,
        merchant: r.get(6)?,
        rrn: r.get(7)?,
        processing_code: r.get(8)?,
        amount_fen: r.get(9)?,
        auth_id: r.get(10)?,
        response_code: r.get(11)?,
        account_id: r.get(12)?,
        held_fen: r.get(13)?,
        reversed_fen: r.get(14)?,
        status: r.get(15)?,
        original_key: r.get(16)?,
        original_mti: r.get(17)?,
        settlement_date: r.get(18)?,
        answer: r.get(19)?,
    })
}

/// The key an original is named by: field 90's MTI, STAN, field 7 and acquirer, with the
/// terminal (field 41 of the advice, which is the original's). STANs are unique per sender
/// (the spec matches answers by 11, 7 and 41), so two terminals of one acquirer may send the
/// same STAN in the same second: field 90 alone would name either (found by the host's fault
/// test, issue 15).
pub fn original_key(
    mti: &str,
    stan: &str,
    transmitted: &str,
    acquirer: &str,
    terminal: &str,
) -> String {
    format!("{mti}|{stan}|{transmitted}|{acquirer}|{terminal}")
}

/// The stored record of request (mti, 11, 7, 41), for duplicates.
pub fn find_duplicate(
    tx: &Transaction<'_>,
    mti: &str,
    stan: &str,
    transmitted: &str,
    terminal: &str,
) -> Result<Option<Record>, LedgerError> {
    let sql = format!(
        "SELECT {RECORD_COLUMNS} FROM messages WHERE mti=?1 AND stan=?2 AND transmitted=?3 AND terminal=?4"
    );
    Ok(one(
        tx,
        &sql,
        params![mti, stan, transmitted, terminal],
        read_record,
    )
    .optional()?)
}

/// The original a field 90 names (by MTI, STAN, 7 and acquirer) at the advice's terminal.
pub fn find_original(tx: &Transaction<'_>, key: &str) -> Result<Option<Record>, LedgerError> {
    let mut parts = key.split('|');
    let (Some(mti), Some(stan), Some(f7), Some(acq), Some(terminal)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT {RECORD_COLUMNS} FROM messages WHERE mti=?1 AND stan=?2 AND transmitted=?3 \
         AND acquirer=?4 AND terminal=?5 ORDER BY id LIMIT 1"
    );
    Ok(one(tx, &sql, params![mti, stan, f7, acq, terminal], read_record).optional()?)
}

/// True when a reversal advice named `key` before its original arrived.
pub fn reversed_first(tx: &Transaction<'_>, key: &str) -> Result<bool, LedgerError> {
    let n: i64 = one(
        tx,
        "SELECT COUNT(*) FROM messages WHERE original_key = ?1 AND mti = '0420' \
         AND original_mti IS NULL",
        [key],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// Inserts a record.
pub fn insert(tx: &Transaction<'_>, r: &Record) -> Result<i64, LedgerError> {
    run(
        tx,
        "INSERT INTO messages (mti, stan, transmitted, terminal, acquirer, merchant, rrn, \
         processing_code, amount_fen, auth_id, response_code, account_id, held_fen, \
         reversed_fen, status, original_key, original_mti, settlement_date, answer) \
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)",
        params![
            r.mti,
            r.stan,
            r.transmitted,
            r.terminal,
            r.acquirer,
            r.merchant,
            r.rrn,
            r.processing_code,
            r.amount_fen,
            r.auth_id,
            r.response_code,
            r.account_id,
            r.held_fen,
            r.reversed_fen,
            r.status,
            r.original_key,
            r.original_mti,
            r.settlement_date,
            r.answer
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Updates an original's status, outstanding hold and reversed amount.
pub fn update_original(tx: &Transaction<'_>, r: &Record) -> Result<(), LedgerError> {
    if r.reversed_fen > r.amount_fen || r.reversed_fen < 0 {
        return Err(LedgerError::Invariant("reversed more than the original"));
    }
    run(
        tx,
        "UPDATE messages SET status=?2, held_fen=?3, reversed_fen=?4 WHERE id=?1",
        params![r.id, r.status, r.held_fen, r.reversed_fen],
    )?;
    Ok(())
}

/// Every record of one settlement date, in the order answered.
pub fn records_of(conn: &Connection, date: &str) -> Result<Vec<Record>, LedgerError> {
    let sql = format!("SELECT {RECORD_COLUMNS} FROM messages WHERE settlement_date=?1 ORDER BY id");
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map([date], read_record)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The settlement dates the ledger holds, ascending.
pub fn settlement_dates(conn: &Connection) -> Result<Vec<String>, LedgerError> {
    let mut st = conn.prepare("SELECT DISTINCT settlement_date FROM messages ORDER BY 1")?;
    let rows = st.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The ledger's totals: what moved from cardholders to acquirers, and what is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Σ (opening balance − balance) over every account: the net fen the switch owes the
    /// acquirers (purchases and completions less refunds and reversals).
    pub net_debited_fen: i64,
    /// Σ holds outstanding.
    pub held_fen: i64,
    /// Approved purchases, refunds, completions and pre-authorizations still counted.
    pub approved: i64,
    /// Declined requests.
    pub declined: i64,
    /// Reversal advices answered.
    pub reversals: i64,
}

/// Computes the totals, checking that no sum overflows.
///
/// # Errors
/// SQLite failures; [`LedgerError::Invariant`] on overflow.
pub fn totals(conn: &Connection) -> Result<Totals, LedgerError> {
    let mut t = Totals::default();
    let mut st = conn.prepare("SELECT initial_fen, balance_fen, held_fen FROM accounts")?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let (initial, balance, held): (i64, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
        let moved = initial
            .checked_sub(balance)
            .ok_or(LedgerError::Invariant("balance overflow"))?;
        t.net_debited_fen = t
            .net_debited_fen
            .checked_add(moved)
            .ok_or(LedgerError::Invariant("total overflow"))?;
        t.held_fen = t
            .held_fen
            .checked_add(held)
            .ok_or(LedgerError::Invariant("hold overflow"))?;
    }
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
    t.approved =
        count("SELECT COUNT(*) FROM messages WHERE mti <> '0420' AND status <> 'declined'")?;
    t.declined = count("SELECT COUNT(*) FROM messages WHERE status = 'declined'")?;
    t.reversals = count("SELECT COUNT(*) FROM messages WHERE mti = '0420'")?;
    Ok(t)
}

/// The balance of the account of `pan` (tests and the CLI).
pub fn balance_of(conn: &Connection, pan: &str) -> Result<Option<(i64, i64)>, LedgerError> {
    Ok(conn
        .query_row(
            "SELECT balance_fen, held_fen FROM accounts WHERE id = ?1",
            [account_id(pan)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

#[cfg(test)]
mod checkpoint_tests {
    use super::*;

    fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
        r.unwrap_or_else(|e| panic!("{e}"))
    }

    /// Commits `n` transactions of one row each on `conn`.
    fn commit_rows(conn: &Connection, n: usize) {
        for _ in 0..n {
            ok(conn.execute("INSERT INTO pad (v) VALUES (zeroblob(3000))", []));
        }
    }

    fn ledger_with_pad(dir: &tempfile::TempDir) -> (Connection, std::path::PathBuf) {
        let path = dir.path().join(LEDGER_FILE);
        let conn = ok(open(&path));
        ok(conn.execute_batch("CREATE TABLE pad (v BLOB)"));
        (conn, path)
    }

    // Goal: with the checkpointer started, the ledger thread's commits never checkpoint
    // (autocheckpoint off) and the checkpointer still copies them into the database file.
    #[test]
    fn the_checkpointer_copies_the_wal_off_the_ledger_thread() {
        let dir = ok(tempfile::tempdir());
        let (conn, path) = ledger_with_pad(&dir);
        let (stop, stopped) = std::sync::mpsc::channel();
        ok(start_checkpointer(&conn, &path, stopped));
        let auto: i64 = ok(conn.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0)));
        assert_eq!(
            auto, 0,
            "the ledger connection must not checkpoint at commit"
        );
        let before = ok(std::fs::metadata(&path)).len();
        commit_rows(&conn, 400);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while ok(std::fs::metadata(&path)).len() < before + 400 * 3000 {
            assert!(
                std::time::Instant::now() < deadline,
                "nothing was copied into the database file in 10 s"
            );
            std::thread::sleep(CHECKPOINT_EVERY);
        }
        drop(stop);
    }

    // Goal: a restart asked for is done between groups and the WAL is written again from
    // its beginning (the file stops growing); not asked for, the log goes on.
    #[test]
    fn a_restart_due_starts_the_wal_again() {
        let dir = ok(tempfile::tempdir());
        let (conn, path) = ledger_with_pad(&dir);
        ok(conn.pragma_update(None, "wal_autocheckpoint", 0));
        let wal = path.with_extension("sqlite-wal");
        let wal_len = || ok(std::fs::metadata(&wal)).len();
        let due = AtomicBool::new(false);
        commit_rows(&conn, 50);
        let first = wal_len();
        restart_if_due(&conn, &due);
        commit_rows(&conn, 50);
        let second = wal_len();
        assert!(
            second > first,
            "not due: the log goes on ({first} -> {second})"
        );
        due.store(true, Ordering::Relaxed);
        restart_if_due(&conn, &due);
        assert!(!due.load(Ordering::Relaxed), "done, no longer due");
        commit_rows(&conn, 50);
        assert_eq!(
            wal_len(),
            second,
            "the log was written again from its beginning"
        );
    }
}
