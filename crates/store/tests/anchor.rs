//! Audit anchoring (issue 11, finding 9): the chain's head is signed and appended to a file
//! outside the database after every commit, so that deleting the newest entries, or editing
//! an entry and recomputing the whole chain, is named by `audit verify` on both backends.

mod common;

use common::*;
use std::sync::Arc;
use suanpan_store::anchor::{self, Anchor};
use suanpan_store::audit::{self, Verification};
use suanpan_store::sql::SqlExt;
use suanpan_store::{OpenOptions, PgStore, SqliteStore, StoreError, p};

/// The harness's store, reopened with an anchor file in a temporary folder (the KEK's place).
fn anchored(backend: Backend) -> Option<(Harness, tempfile::TempDir, Arc<Anchor>)> {
    let mut h = Harness::on(backend)?;
    let kek_dir = tempfile::tempdir().expect("kek dir");
    let opts = options(h.store.policy().clone(), h.clock.clone());
    let a = Anchor::new(
        &anchor::path_beside(&kek_dir.path().join("k.kek")),
        &*opts.keys,
    )
    .expect("anchor");
    let opts = OpenOptions {
        anchor: Some(a.clone()),
        ..opts
    };
    h.store = match &h.pg {
        Some(pg) => Box::new(PgStore::open(pg.clone(), opts).expect("open")),
        None => Box::new(SqliteStore::open(&h.dir, opts).expect("open")),
    };
    Some((h, kek_dir, a))
}

/// Some history through the writer (sales, a void, a refusal).
fn history(h: &Harness) {
    approved(h.sale(1_000, "approve"));
    let b = approved(h.sale(2_000, "approve"));
    approved(h.void(b.voucher_no));
    let _ = h.void(b.voucher_no);
    approved(h.sale(3_000, "approve"));
}

fn verify(h: &Harness) -> Verification {
    h.store.verify_audit().expect("verify")
}

/// The harness's final check runs on a store without the anchor: the attacks below leave a
/// chain that is valid by itself, which is the point.
fn unanchor(h: &mut Harness) {
    h.store = h.open_another();
}

/// Recomputes every hash of the chain, as an attacker with write access to the database
/// does after an edit.
fn rechain(h: &Harness) {
    suanpan_store::setup(&*h.store, |c, _| {
        let rows = c.rows(
            "SELECT seq, at, actor, action, target, reason, outcome FROM audit ORDER BY seq",
            p![],
            |r| {
                Ok((
                    r.i64(0)?,
                    r.i64(1)?,
                    [r.text(2)?, r.text(3)?, r.text(4)?, r.text(5)?, r.text(6)?],
                ))
            },
        )?;
        let mut prev = audit::GENESIS.to_owned();
        for (seq, at, f) in rows {
            let hash = audit::entry_hash(&prev, seq, at, &[&*f[0], &*f[1], &*f[2], &*f[3], &*f[4]]);
            c.exec(
                "UPDATE audit SET prev_hash = ?1, hash = ?2 WHERE seq = ?3",
                p![prev.as_str(), hash.as_str(), seq],
            )?;
            prev = hash;
        }
        Ok(())
    })
    .expect("rechain");
}

fn each_backend(test: impl Fn(Backend)) {
    for b in [Backend::Sqlite, Backend::Postgres] {
        test(b);
    }
}

#[test]
fn every_commit_is_anchored_and_an_intact_chain_verifies() {
    // Goal: after commits through the writer, the anchor vouches for the newest entry and the
    // untouched chain verifies against it.
    each_backend(|b| {
        let Some((h, _kek, a)) = anchored(b) else {
            return skipped();
        };
        history(&h);
        let last = h.last_audit();
        let newest = a.latest().expect("anchor").expect("a record");
        assert_eq!((newest.seq, &newest.hash), (last.seq, &last.hash), "{b:?}");
        let v = verify(&h);
        assert_eq!(v.first_broken, None, "{b:?} {v:?}");
        assert_eq!(v.anchored, Some(last.seq));
    });
}

#[test]
fn deleting_the_newest_entries_is_named_as_truncation() {
    // Goal: finding 9, first half: the newest audit rows deleted leave a valid chain, which
    // the anchor refuses and names.
    each_backend(|b| {
        let Some((mut h, _kek, _a)) = anchored(b) else {
            return skipped();
        };
        history(&h);
        let last = h.last_audit().seq;
        suanpan_store::setup(&*h.store, |c, _| {
            c.exec("DELETE FROM audit WHERE seq > ?1", p![last - 2])
        })
        .expect("delete");
        let v = verify(&h);
        assert_eq!(v.first_broken, Some(last - 1), "{b:?} {v:?}");
        let why = v.problem.unwrap_or_default();
        assert!(why.contains("truncated"), "{why}");
        assert!(why.contains(&format!("entry {last}")), "{why}");
        unanchor(&mut h);
    });
}

#[test]
fn an_edit_with_the_chain_recomputed_is_named_as_rewritten() {
    // Goal: finding 9, second half: an entry edited and every hash after it recomputed
    // verifies as a chain, but disagrees with the anchor, which names it.
    each_backend(|b| {
        let Some((mut h, _kek, a)) = anchored(b) else {
            return skipped();
        };
        history(&h);
        let anchored_seq = a.latest().expect("anchor").expect("a record").seq;
        let target = anchored_seq - 3;
        suanpan_store::setup(&*h.store, |c, _| {
            c.exec(
                "UPDATE audit SET reason = 'nothing to see' WHERE seq = ?1",
                p![target],
            )
        })
        .expect("edit");
        rechain(&h);
        let v = verify(&h);
        assert_eq!(v.first_broken, Some(anchored_seq), "{b:?} {v:?}");
        let why = v.problem.unwrap_or_default();
        assert!(why.contains("rewritten"), "{why}");
        unanchor(&mut h);
    });
}

#[test]
fn an_edited_anchor_file_is_refused() {
    // Goal: lowering the anchored sequence (to hide a truncation) needs the KEK: an edited
    // record does not verify and `audit verify` says so instead of trusting it.
    let Some((h, _kek, a)) = anchored(Backend::Sqlite) else {
        return;
    };
    history(&h);
    let text = std::fs::read_to_string(a.path()).expect("anchor file");
    let newest = a.latest().expect("anchor").expect("record");
    let edited = text.replace(
        &format!("a1 {} ", newest.seq),
        &format!("a1 {} ", newest.seq - 1),
    );
    assert_ne!(edited, text);
    std::fs::write(a.path(), edited).expect("edit anchor");
    match h.store.verify_audit() {
        Err(StoreError::AnchorInvalid(why)) => assert!(why.contains("signature"), "{why}"),
        other => panic!("expected the anchor refused, got {other:?}"),
    }
    // A record cut by a crash (no newline) is not an edit: it is skipped.
    let mut cut = text.clone();
    cut.push_str("a1 99");
    std::fs::write(a.path(), cut).expect("cut anchor");
    assert_eq!(verify(&h).first_broken, None);
}

#[test]
fn the_anchor_is_resigned_when_the_kek_rotates() {
    // Goal: after `keys rotate-kek` the anchor still vouches for the head, under the new KEK.
    let Some((h, _kek, a)) = anchored(Backend::Sqlite) else {
        return;
    };
    history(&h);
    let old = options(h.store.policy().clone(), h.clock.clone()).keys;
    let new = suanpan_store::keys::MemoryKek::new([7; 32]);
    anchor::resign(a.path(), &*old, &new).expect("resign");
    let after = Anchor::new(a.path(), &new).expect("anchor");
    let r = after
        .latest()
        .expect("verifies under the new KEK")
        .expect("record");
    assert_eq!(r.seq, h.last_audit().seq);
    assert!(matches!(a.latest(), Err(StoreError::AnchorInvalid(_))));
}
