//! The audit trail: every state change and every refusal, chained by SHA-256 so that an edit
//! or a deletion anywhere breaks the chain from that entry on.

use crate::error::StoreError;
use crate::p;
use crate::sql::{Sql, SqlExt, SqlRow};
use rusqlite::Connection;
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
    /// Reads the head inside the current transaction. On PostgreSQL the caller holds the
    /// chain's lock (`pg::lock_chain`) first, so two nodes never extend the same head.
    pub fn read<C: Sql + ?Sized>(conn: &C) -> Result<ChainHead, StoreError> {
        let head = conn.row(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            p![],
            |r| {
                Ok(ChainHead {
                    seq: r.i64(0)?,
                    hash: r.text(1)?,
                })
            },
        )?;
        Ok(head.unwrap_or_else(|| ChainHead {
            seq: 0,
            hash: GENESIS.to_owned(),
        }))
    }

    /// Appends an entry (actor, action, target, reason, outcome).
    pub fn append<C: Sql + ?Sized>(
        &mut self,
        conn: &C,
        at: i64,
        f: [&str; 5],
    ) -> Result<(), StoreError> {
        let seq = self.seq + 1;
        let hash = entry_hash(&self.hash, seq, at, &f);
        conn.exec(
            "INSERT INTO audit (seq, at, actor, action, target, reason, outcome, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            p![seq, at, f[0], f[1], f[2], f[3], f[4], &self.hash, &hash],
        )?;
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
    verify_in(conn).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// [`verify`] on either backend.
pub fn verify_in(conn: &dyn Sql) -> Result<Verification, StoreError> {
    let mut prev = GENESIS.to_owned();
    let mut expected_seq = 1i64;
    let mut entries = 0i64;
    let mut found: Option<Verification> = None;
    conn.each_row(
        "SELECT seq, at, actor, action, target, reason, outcome, prev_hash, hash FROM audit ORDER BY seq",
        p![],
        &mut |r| {
            if found.is_some() {
                return Ok(());
            }
            let e = entry_from(r)?;
            entries += 1;
            let broken = |problem: &str| Verification {
                entries,
                first_broken: Some(e.seq),
                problem: Some(problem.to_owned()),
            };
            let f = [&*e.actor, &*e.action, &*e.target, &*e.reason, &*e.outcome];
            if e.seq != expected_seq {
                found = Some(broken("missing entry before this one (sequence gap)"));
            } else if e.prev_hash != prev {
                found = Some(broken("link to the previous entry does not match"));
            } else if entry_hash(&prev, e.seq, e.at, &f) != e.hash {
                found = Some(broken("content does not match its hash (edited)"));
            } else {
                prev = e.hash;
                expected_seq += 1;
            }
            Ok(())
        },
    )?;
    Ok(found.unwrap_or(Verification {
        entries,
        first_broken: None,
        problem: None,
    }))
}

/// The newest entries first, `limit` (capped) from `offset`.
pub fn entries_in(conn: &dyn Sql, limit: u32, offset: u32) -> Result<Vec<AuditEntry>, StoreError> {
    conn.rows(
        "SELECT seq, at, actor, action, target, reason, outcome, prev_hash, hash FROM audit ORDER BY seq DESC LIMIT ?1 OFFSET ?2",
        p![limit.min(crate::query::LIST_ROWS_MAX), offset],
        entry_from,
    )
}

pub(crate) fn entry_from(r: &dyn SqlRow) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        seq: r.i64(0)?,
        at: r.i64(1)?,
        actor: r.text(2)?,
        action: r.text(3)?,
        target: r.text(4)?,
        reason: r.text(5)?,
        outcome: r.text(6)?,
        prev_hash: r.text(7)?,
        hash: r.text(8)?,
    })
}
