//! The audit trail: every state change and every refusal, chained by SHA-256 so that an edit
//! or a deletion anywhere breaks the chain from that entry on.

use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry, as written and as listed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    /// Position in the chain (1-based).
    pub seq: i64,
    /// When (Unix microseconds).
    pub at: i64,
    /// Who: `terminal/operator`, `system`, …
    pub actor: String,
    /// What: `sale`, `void`, `void.refused`, `login.failed`, `hide`…
    pub action: String,
    /// On what: `txn:42`, `terminal:12345678`, `operator:898…/00`.
    pub target: String,
    /// Why (reason given, or empty).
    pub reason: String,
    /// How it ended: `approved`, `declined:51`, `refused:void.settled`, `ok`…
    pub outcome: String,
    /// SHA-256 of the previous entry.
    pub prev_hash: String,
    /// SHA-256 over `prev_hash` and this entry's fields.
    pub hash: String,
}

/// The hash of an entry: fields joined with a unit separator that cannot occur in them
/// unescaped, after the previous hash.
pub fn entry_hash(prev: &str, seq: i64, at: i64, f: &[&str; 5]) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(seq.to_le_bytes());
    h.update(at.to_le_bytes());
    for field in f {
        h.update((field.len() as u64).to_le_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The head of the chain inside one write transaction: the writer reads it once at the start
/// of a group and appends in memory order.
#[derive(Debug, Clone)]
pub struct ChainHead {
    /// Last seq written.
    pub seq: i64,
    /// Its hash.
    pub hash: String,
}

impl ChainHead {
    /// Reads the head inside the current transaction.
    pub fn read(conn: &Connection) -> rusqlite::Result<ChainHead> {
        let head = conn
            .query_row(
                "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
                [],
                |r| {
                    Ok(ChainHead {
                        seq: r.get(0)?,
                        hash: r.get(1)?,
                    })
                },
            )
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(ChainHead {
                    seq: 0,
                    hash: GENESIS.to_owned(),
                }),
                e => Err(e),
            })?;
        Ok(head)
    }

    /// Appends an entry (actor, action, target, reason, outcome).
    pub fn append(&mut self, conn: &Connection, at: i64, f: [&str; 5]) -> rusqlite::Result<()> {
        let seq = self.seq + 1;
        let hash = entry_hash(&self.hash, seq, at, &f);
        conn.prepare_cached(
            "INSERT INTO audit (seq, at, actor, action, target, reason, outcome, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            seq, at, f[0], f[1], f[2], f[3], f[4], self.hash, hash
        ])?;
        self.seq = seq;
        self.hash = hash;
        Ok(())
    }
}

/// The result of `audit verify`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verification {
    /// Entries checked.
    pub entries: i64,
    /// The first entry whose stored hash or link is wrong, if any.
    pub first_broken: Option<i64>,
    /// What is wrong with it.
    pub problem: Option<String>,
}

/// Recomputes the whole chain, in order, streaming.
pub fn verify(conn: &Connection) -> rusqlite::Result<Verification> {
    let mut stmt = conn.prepare(
        "SELECT seq, at, actor, action, target, reason, outcome, prev_hash, hash FROM audit ORDER BY seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut prev = GENESIS.to_owned();
    let mut expected_seq = 1i64;
    let mut entries = 0i64;
    while let Some(r) = rows.next()? {
        let e = entry_from_row(r)?;
        entries += 1;
        let broken = |problem: &str| Verification {
            entries,
            first_broken: Some(e.seq),
            problem: Some(problem.to_owned()),
        };
        if e.seq != expected_seq {
            return Ok(broken("missing entry before this one (sequence gap)"));
        }
        if e.prev_hash != prev {
            return Ok(broken("link to the previous entry does not match"));
        }
        let f = [&*e.actor, &*e.action, &*e.target, &*e.reason, &*e.outcome];
        if entry_hash(&prev, e.seq, e.at, &f) != e.hash {
            return Ok(broken("content does not match its hash (edited)"));
        }
        prev = e.hash;
        expected_seq += 1;
    }
    Ok(Verification {
        entries,
        first_broken: None,
        problem: None,
    })
}

pub(crate) fn entry_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        seq: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        target: r.get(4)?,
        reason: r.get(5)?,
        outcome: r.get(6)?,
        prev_hash: r.get(7)?,
        hash: r.get(8)?,
    })
}
