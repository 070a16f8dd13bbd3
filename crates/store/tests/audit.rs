//! The audit chain detects tampering: an edited entry, a deleted entry, and an edit whose
//! attacker also recomputed the entry's own hash are each named by seq.

mod common;

use common::*;
use rusqlite::Connection;
use suanpan_store::audit::{self, Verification};
use suanpan_store::sqlite::DB_FILE;

/// A store with some history: sales, a void, a refusal, a refund, a settlement.
fn with_history() -> Harness {
    let h = Harness::new();
    let a = approved(h.sale(1_000, "approve"));
    let b = approved(h.sale(2_000, "approve"));
    approved(h.void(b.voucher_no));
    let _ = h.void(b.voucher_no); // refused: already voided, audited
    approved(h.refund(&rrn(&a), 100));
    h.settle(None);
    h
}

/// A raw connection to the store's file, as an attacker with file access would have.
fn raw(h: &Harness) -> Connection {
    Connection::open(h.dir.join(DB_FILE)).expect("raw connection")
}

fn verify(h: &Harness) -> Verification {
    h.store.verify_audit().expect("verify")
}

/// Puts the chain back so the harness's final check passes: rewrites every hash from `from`.
fn rechain(conn: &Connection) {
    let entries: Vec<_> = conn
        .prepare("SELECT seq, at, actor, action, target, reason, outcome FROM audit ORDER BY seq")
        .unwrap()
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                [
                    r.get::<_, String>(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ],
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut prev = audit::GENESIS.to_owned();
    for (new_seq, (seq, at, f)) in (1i64..).zip(entries) {
        let fields = [&*f[0], &*f[1], &*f[2], &*f[3], &*f[4]];
        let hash = audit::entry_hash(&prev, new_seq, at, &fields);
        conn.execute(
            "UPDATE audit SET seq = ?1, prev_hash = ?2, hash = ?3 WHERE seq = ?4",
            rusqlite::params![new_seq, prev, hash, seq],
        )
        .unwrap();
        prev = hash;
    }
}

#[test]
fn untouched_chain_verifies() {
    // Goal: the chain of a store with history verifies, entry count included.
    let h = with_history();
    let v = verify(&h);
    assert_eq!(v.first_broken, None);
    assert_eq!(v.entries, h.last_audit().seq);
    assert!(v.entries > 8);
}

#[test]
fn an_edited_entry_is_named() {
    // Goal: changing one field of one entry breaks the chain exactly at that entry.
    let h = with_history();
    let target = h.last_audit().seq - 3;
    let conn = raw(&h);
    conn.execute(
        "UPDATE audit SET reason = 'nothing to see' WHERE seq = ?1",
        [target],
    )
    .unwrap();
    let v = verify(&h);
    assert_eq!(v.first_broken, Some(target), "{v:?}");
    assert!(v.problem.unwrap().contains("edited"));
    rechain(&conn);
}

#[test]
fn an_edit_with_a_recomputed_hash_breaks_the_next_link() {
    // Goal: an attacker who also fixes the edited entry's hash is caught by the next entry.
    let h = with_history();
    let target = h.last_audit().seq - 3;
    let conn = raw(&h);
    let (at, prev, f): (i64, String, [String; 5]) = conn
        .query_row("SELECT at, prev_hash, actor, action, target, reason, outcome FROM audit WHERE seq = ?1", [target], |r| {
            Ok((r.get(0)?, r.get(1)?, [r.get(2)?, r.get(3)?, r.get(4)?, "edited".to_owned(), r.get(6)?]))
        })
        .unwrap();
    let hash = audit::entry_hash(&prev, target, at, &[&*f[0], &*f[1], &*f[2], &*f[3], &*f[4]]);
    conn.execute(
        "UPDATE audit SET reason = 'edited', hash = ?1 WHERE seq = ?2",
        rusqlite::params![hash, target],
    )
    .unwrap();
    let v = verify(&h);
    assert_eq!(v.first_broken, Some(target + 1), "{v:?}");
    assert!(v.problem.unwrap().contains("link"));
    rechain(&conn);
}

#[test]
fn a_deleted_entry_is_named_as_a_gap() {
    // Goal: deleting an entry is reported at the entry after the gap.
    let h = with_history();
    let target = h.last_audit().seq - 2;
    let conn = raw(&h);
    conn.execute("DELETE FROM audit WHERE seq = ?1", [target])
        .unwrap();
    let v = verify(&h);
    assert_eq!(v.first_broken, Some(target + 1), "{v:?}");
    assert!(v.problem.unwrap().contains("gap"));
    rechain(&conn);
}

#[test]
fn deleting_the_newest_entry_is_not_detected_by_the_chain_alone() {
    // Goal: document the known limit of a hash chain: truncating its tail leaves a valid
    // chain. Only an external record of the head (count or hash) catches it.
    let h = with_history();
    let last = h.last_audit().seq;
    raw(&h)
        .execute("DELETE FROM audit WHERE seq = ?1", [last])
        .unwrap();
    let v = verify(&h);
    assert_eq!(v.first_broken, None);
    assert_eq!(v.entries, last - 1, "the count is what shows the loss");
}

#[test]
fn the_chain_continues_after_tampering_is_repaired_and_new_entries_are_added() {
    // Goal: new entries extend the chain from its stored head.
    let h = with_history();
    approved(h.sale(10, "approve"));
    assert_eq!(verify(&h).first_broken, None);
}
