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
        let e = self.stage(at, f);
        insert_entries(conn, std::slice::from_ref(&e))
    }

    /// Extends the chain in memory and returns the entry to insert later in the same
    /// transaction ([`insert_entries`]): the writer inserts a group's entries together.
    pub fn stage(&mut self, at: i64, f: [&str; 5]) -> AuditEntry {
        let seq = self.seq + 1;
        let hash = entry_hash(&self.hash, seq, at, &f);
        let prev_hash = std::mem::replace(&mut self.hash, hash.clone());
        self.seq = seq;
        AuditEntry {
            seq,
            at,
            actor: f[0].to_owned(),
            action: f[1].to_owned(),
            target: f[2].to_owned(),
            reason: f[3].to_owned(),
            outcome: f[4].to_owned(),
            prev_hash,
            hash,
        }
    }
}

/// Rows one multi-row audit `INSERT` carries at most (9 parameters each, far below either
/// engine's parameter limit).
const AUDIT_ROWS_PER_INSERT: usize = 32;

/// The multi-row audit `INSERT` of `size` rows (one of the sizes [`insert_entries`] uses),
/// written once per process: a group of 4,096 sales otherwise formatted 1,152 placeholders
/// per 32 entries.
fn insert_sql(size: usize) -> std::borrow::Cow<'static, str> {
    static SQL: [std::sync::OnceLock<String>; 3] = [const { std::sync::OnceLock::new() }; 3];
    let build = || {
        let values: Vec<String> = (0..size)
            .map(|r| {
                let cols: Vec<String> = (1..=9).map(|c| format!("?{}", r * 9 + c)).collect();
                format!("({})", cols.join(", "))
            })
            .collect();
        format!(
            "INSERT INTO audit (seq, at, actor, action, target, reason, outcome, prev_hash, hash) VALUES {}",
            values.join(", ")
        )
    };
    match size {
        AUDIT_ROWS_PER_INSERT => SQL[0].get_or_init(build).as_str().into(),
        8 => SQL[1].get_or_init(build).as_str().into(),
        1 => SQL[2].get_or_init(build).as_str().into(),
        _ => build().into(),
    }
}

/// Inserts staged entries, [`AUDIT_ROWS_PER_INSERT`] rows per statement, then the rest by
/// eights and ones, so a few statement texts cover every count.
pub fn insert_entries<C: Sql + ?Sized>(conn: &C, entries: &[AuditEntry]) -> Result<(), StoreError> {
    // Every chunk's statement is sent before the first answer is read (one round trip).
    let mut inserts: Vec<(std::borrow::Cow<'static, str>, Vec<crate::sql::Value<'_>>)> = Vec::new();
    let mut rest = entries;
    for size in [AUDIT_ROWS_PER_INSERT, 8, 1] {
        while rest.len() >= size {
            let (chunk, tail) = rest.split_at(size);
            let sql = insert_sql(size);
            let params: Vec<crate::sql::Value<'_>> = chunk
                .iter()
                .flat_map(|e| {
                    [
                        e.seq.into(),
                        e.at.into(),
                        e.actor.as_str().into(),
                        e.action.as_str().into(),
                        e.target.as_str().into(),
                        e.reason.as_str().into(),
                        e.outcome.as_str().into(),
                        e.prev_hash.as_str().into(),
                        e.hash.as_str().into(),
                    ]
                })
                .collect();
            inserts.push((sql, params));
            rest = tail;
        }
    }
    let stmts: Vec<(&str, &[crate::sql::Value<'_>])> = inserts
        .iter()
        .map(|(sql, params)| (sql.as_ref(), &params[..]))
        .collect();
    conn.exec_all(&stmts)
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
    /// The newest entry the audit anchor vouches for (`None`: no anchor, or none yet).
    #[serde(default)]
    pub anchored: Option<i64>,
}

/// Recomputes the whole chain, in order, streaming.
pub fn verify(conn: &Connection) -> rusqlite::Result<Verification> {
    verify_in(conn).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// [`verify`] on either backend.
pub fn verify_in(conn: &dyn Sql) -> Result<Verification, StoreError> {
    verify_anchored(conn, None)
}

/// Recomputes the chain and holds it against the newest anchored head, if any: a chain that
/// ends before the anchored entry was truncated (its newest entries deleted); a chain whose
/// entry there has another hash was rewritten (edited, then the chain recomputed).
pub fn verify_anchored(
    conn: &dyn Sql,
    anchor: Option<&crate::anchor::AnchorRecord>,
) -> Result<Verification, StoreError> {
    let (mut v, kept) = verify_chain(conn, anchor.map(|a| a.seq))?;
    let Some(a) = anchor else {
        return Ok(v);
    };
    v.anchored = Some(a.seq);
    if v.first_broken.is_some() {
        return Ok(v);
    }
    match &kept {
        Some(found) if *found == a.hash => {}
        Some(found) => {
            v.first_broken = Some(a.seq);
            v.problem = Some(format!(
                "rewritten: entry {} has hash {found}, but the audit anchor of {} signed {} (the chain was recomputed after an edit)",
                a.seq,
                anchor_time(a.at),
                a.hash
            ));
        }
        None => {
            v.first_broken = Some(v.entries + 1);
            v.problem = Some(format!(
                "truncated: the chain ends at entry {}, but the audit anchor of {} vouches for entry {} (the newest entries were deleted)",
                v.entries,
                anchor_time(a.at),
                a.seq
            ));
        }
    }
    Ok(v)
}

fn anchor_time(micros: i64) -> String {
    jiff::Timestamp::from_microsecond(micros)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| micros.to_string())
}

/// The chain check; also the hash of entry `keep` when the chain reaches it intact.
fn verify_chain(
    conn: &dyn Sql,
    keep: Option<i64>,
) -> Result<(Verification, Option<String>), StoreError> {
    let mut kept: Option<String> = None;
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
                anchored: None,
            };
            let f = [&*e.actor, &*e.action, &*e.target, &*e.reason, &*e.outcome];
            if e.seq != expected_seq {
                found = Some(broken("missing entry before this one (sequence gap)"));
            } else if e.prev_hash != prev {
                found = Some(broken("link to the previous entry does not match"));
            } else if entry_hash(&prev, e.seq, e.at, &f) != e.hash {
                found = Some(broken("content does not match its hash (edited)"));
            } else {
                if keep == Some(e.seq) {
                    kept = Some(e.hash.clone());
                }
                prev = e.hash;
                expected_seq += 1;
            }
            Ok(())
        },
    )?;
    let v = found.unwrap_or(Verification {
        entries,
        first_broken: None,
        problem: None,
        anchored: None,
    });
    Ok((v, kept))
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
