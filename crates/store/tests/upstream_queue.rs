//! The upstream's reversal queue in the main store (issue 15), on both backends:
//! - a queued or parked frame carries the card number until the switch acknowledges it, so
//!   it is sealed under the KEK: the database's raw bytes (SQLite file and WAL) show no card
//!   number, rows an older build left in clear are sealed at the next open, and
//!   `keys rotate-kek` re-seals them;
//! - several PostgreSQL nodes drain one queue: each advice is claimed by one node at a time
//!   (a lease; a node that dies gives it back by expiry).
//!
//! PostgreSQL cases are skipped without `SUANPAN_TEST_DATABASE_URL`.

mod common;

use common::*;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use suanpan_service::upstream::queue::StoreQueue;
use suanpan_store::backoffice::Backoffice;
use suanpan_store::keys::{KeyProvider, MemoryKek};
use suanpan_store::repo::upstream as repo;
use suanpan_store::sql::SqlExt;
use suanpan_store::{PgStore, SqliteStore, Store, StoreError, p};
use suanpan_upstream::saf::SafStore;

/// A card number none of the demo data holds, so finding it anywhere means a frame leaked.
const PAN: &str = "6212345678901234567";

/// A stand-in for a 0420 frame: the store keeps frames as opaque bytes.
fn frame(n: u32) -> Vec<u8> {
    format!("\x00\x400420 field2={PAN} stan={n:06}").into_bytes()
}

/// Every file under `dir` whose bytes hold the card number in clear or in hex (as the
/// queue kept frames before schema 18), upper or lower case.
fn files_holding_pan(dir: &Path) -> Vec<String> {
    let needles: Vec<Vec<u8>> = {
        let hex_lower = PAN.bytes().map(|b| format!("{b:02x}")).collect::<String>();
        vec![
            PAN.as_bytes().to_vec(),
            hex_lower.clone().into_bytes(),
            hex_lower.to_uppercase().into_bytes(),
        ]
    };
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).unwrap_or_default();
            if needles
                .iter()
                .any(|n| bytes.windows(n.len()).any(|w| w == &n[..]))
            {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

fn setup<T: Default>(
    store: &dyn Store,
    f: impl Fn(&dyn suanpan_store::sql::Sql, &dyn KeyProvider) -> Result<T, StoreError>,
) -> T {
    let keys = store.keys().clone();
    let mut out = T::default();
    store
        .with_setup(&mut |c, _| {
            out = f(c, &*keys)?;
            Ok(())
        })
        .expect("setup");
    out
}

/// The stored frame texts of the queue and the parked reversals.
fn stored_texts(store: &dyn Store) -> Vec<String> {
    setup(store, |c, _| {
        let mut v = c.rows("SELECT frame FROM upstream_saf", p![], |r| r.text(0))?;
        v.extend(c.rows("SELECT frame FROM upstream_parked", p![], |r| r.text(0))?);
        Ok(v)
    })
}

fn queue_and_park(store: &dyn Store) {
    setup(store, |c, k| {
        repo::saf_push(c, k, "switch", &frame(1), 0, None)?;
        repo::park(c, k, "switch", "txn:7", &frame(2), 0)?;
        Ok(())
    });
}

fn claim_as(store: &dyn Store, node: &str, now_ms: i64) -> Option<repo::QueuedAdvice> {
    setup(store, |c, k| {
        repo::saf_claim(c, k, "switch", node, now_ms, 60_000)
    })
}

// Goal: what the queue keeps is sealed: no card number in the database file or its WAL, in
// clear or in hex; the frames come back whole.
#[test]
fn queued_and_parked_frames_are_sealed_on_disk() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(h) = Harness::on(backend) else {
            skipped();
            continue;
        };
        queue_and_park(&*h.store);
        for text in stored_texts(&*h.store) {
            assert!(
                text.starts_with("w1:"),
                "{backend:?}: sealed, got {text:.20}"
            );
            assert!(!text.contains(PAN), "{backend:?}");
        }
        if backend == Backend::Sqlite {
            assert_eq!(files_holding_pan(&h.dir), Vec::<String>::new());
        }
        let head = claim_as(&*h.store, "a", 1).expect("queued");
        assert_eq!(head.frame, frame(1));
        let moved = setup(&*h.store, |c, k| repo::activate(c, k, "txn:7", 2, None));
        assert!(moved.is_some());
        setup(&*h.store, |c, _| repo::saf_remove(c, head.id));
        assert_eq!(claim_as(&*h.store, "a", 3).expect("moved").frame, frame(2));
    }
}

// Goal: rows an older build (before schema 18 / 17) kept in hex are sealed when the store is
// next opened (the older process gone), and the SQLite file keeps no trace of them (secure
// delete, WAL cut).
#[test]
fn clear_frames_of_an_older_build_are_sealed_at_open() {
    let clear = frame(3)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    let put_clear = |store: &dyn Store| {
        setup(store, |c, _| {
            c.exec(
                "INSERT INTO upstream_saf (destination, frame, attempts, next_attempt_ms, created_ms) \
                 VALUES ('switch', ?1, 0, 0, 0)",
                p![clear.as_str()],
            )?;
            c.exec(
                "INSERT INTO upstream_parked (reference, destination, frame, created_ms) \
                 VALUES ('txn:9', 'switch', ?1, 0)",
                p![clear.as_str()],
            )?;
            Ok(())
        });
    };
    let check = |store: &dyn Store, backend: Backend| {
        for text in stored_texts(store) {
            assert!(text.starts_with("w1:"), "{backend:?}: sealed at open");
        }
        assert_eq!(
            claim_as(store, "a", 1).expect("queued").frame,
            frame(3),
            "{backend:?}"
        );
    };
    // SQLite: the older build's process writes and exits; the new one opens the file.
    let tmp = tempfile::tempdir().expect("temp dir");
    install_seeded(tmp.path());
    let older = Harness::open_in(tmp.path(), suanpan_core::Policy::default());
    put_clear(&*older.store);
    drop(older);
    assert!(
        !files_holding_pan(tmp.path()).is_empty(),
        "the older build's rows are found in clear (the test sees what it must not)"
    );
    let newer = Harness::open_in(tmp.path(), suanpan_core::Policy::default());
    check(&*newer.store, Backend::Sqlite);
    drop(newer);
    assert_eq!(files_holding_pan(tmp.path()), Vec::<String>::new());
    // PostgreSQL: another node opens the database.
    let Some(h) = Harness::on(Backend::Postgres) else {
        skipped();
        return;
    };
    put_clear(&*h.store);
    check(&*h.open_another(), Backend::Postgres);
}

/// `keys rotate-kek` from the harness's KEK to another, and the store opened with the new
/// one: the old KEK, how many values were re-sealed, the store.
fn rotate_and_reopen(h: &Harness) -> (MemoryKek, usize, Box<dyn Store>) {
    h.store
        .ensure_backoffice_schema()
        .expect("back-office tables");
    let old = MemoryKek::new([0x4B; 32]);
    let new = MemoryKek::new([0x5A; 32]);
    let n = suanpan_store::terminal_keys::rewrap_all(&*h.store, &[&old], &new).expect("rotate");
    let mut opts = options(h.store.policy().clone(), h.clock.clone());
    opts.keys = Arc::new(MemoryKek::new([0x5A; 32]));
    let store: Box<dyn Store> = match &h.pg {
        Some(pg) => Box::new(PgStore::open(pg.clone(), opts).expect("open with new KEK")),
        None => Box::new(SqliteStore::open(&h.dir, opts).expect("open with new KEK")),
    };
    (old, n, store)
}

// Goal: `keys rotate-kek` re-seals the queue under the new KEK: the store opened with the new
// KEK reads every frame, and no frame opens under the old one any more.
#[test]
fn rotating_the_kek_reseals_the_queue() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(h) = Harness::on(backend) else {
            skipped();
            continue;
        };
        queue_and_park(&*h.store);
        let (old, n, store) = rotate_and_reopen(&h);
        assert!(n >= 2, "{backend:?}: the two frames counted, got {n}");
        for text in stored_texts(&*store) {
            assert!(
                repo::open_frame(&old, "switch", &text).is_err(),
                "{backend:?}: the old KEK opens nothing"
            );
        }
        assert_eq!(claim_as(&*store, "a", 1).expect("queued").frame, frame(1));
        let moved = setup(&*store, |c, k| repo::activate(c, k, "txn:7", 2, None));
        assert!(moved.is_some(), "{backend:?}");
    }
}

/// [`sale_gone_up`] as a build before schema 21 recorded it: no refund window
/// (`pan_until` NULL), so its card number is forgotten at settlement.
fn sale_gone_up_before_schema_21(h: &Harness) -> suanpan_core::TxnId {
    let id = sale_gone_up(h);
    setup(&*h.store, |c, _| {
        c.exec(
            "UPDATE upstream_requests SET pan_until = NULL WHERE txn_id = ?1",
            p![id.0],
        )?;
        Ok(())
    });
    id
}

/// Books an approved sale and records it as gone up with its reversal's card number `PAN`
/// (as phase one does); its id.
fn sale_gone_up(h: &Harness) -> suanpan_core::TxnId {
    let id = approved(h.sale(1_000, "approve")).id;
    let up = suanpan_store::UpstreamRef {
        destination: "switch".into(),
        stan: "000901".into(),
        transmitted: "1206093015".into(),
        reversal: Some(suanpan_store::AdviceDraft {
            pan: PAN.into(),
            reason: "68".into(),
            stan: "000902".into(),
            transmitted: "1206093015".into(),
            acquirer_id: "12345678".into(),
        }),
    };
    let sold_at = h.store.now();
    let until = suanpan_core::rules::refund_window_end(sold_at, h.store.policy());
    setup(&*h.store, |c, k| repo::record(c, k, id, &up, until));
    id
}

/// The stored (sealed) card number of `id`'s request.
fn stored_pan(store: &dyn Store, id: suanpan_core::TxnId) -> Option<String> {
    setup(store, |c, _| {
        Ok(c.row(
            "SELECT pan FROM upstream_requests WHERE txn_id = ?1",
            p![id.0],
            |r| r.opt_text(0),
        )?
        .flatten())
    })
}

// Goal: the card number an upstream request keeps for its reversal is sealed under the KEK
// (no clear copy in the SQLite file or its WAL), opens only for its own row, is re-sealed by
// `keys rotate-kek` (the old KEK opens it no more), and is gone once forgotten.
#[test]
fn kept_card_numbers_are_sealed_and_resealed() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(h) = Harness::on(backend) else {
            skipped();
            continue;
        };
        let id = sale_gone_up(&h);
        let sealed = stored_pan(&*h.store, id).expect("kept");
        assert!(sealed.starts_with("w1:"), "{backend:?}: {sealed:.12}");
        if backend == Backend::Sqlite {
            assert_eq!(files_holding_pan(&h.dir), Vec::<String>::new());
        }
        let draft = setup(&*h.store, |c, k| repo::reversal_draft(c, k, id, "17")).expect("draft");
        assert_eq!((draft.pan.as_str(), draft.reason.as_str()), (PAN, "17"));
        assert_eq!(draft.stan, "000902");
        // Moved to another row, it does not open.
        let other = suanpan_core::TxnId(id.0 + 1_000);
        assert!(
            h.store
                .keys()
                .unwrap(&format!("upstream-pan:{other}"), &sealed)
                .is_err()
        );
        let (old, _, store) = rotate_and_reopen(&h);
        let resealed = stored_pan(&*store, id).expect("kept");
        assert!(
            old.unwrap(&format!("upstream-pan:{id}"), &resealed)
                .is_err(),
            "{backend:?}: the old KEK opens it no more"
        );
        let again = setup(&*store, |c, k| repo::reversal_draft(c, k, id, "68")).expect("draft");
        assert_eq!(again.pan, PAN);
        setup(&*store, |c, _| repo::forget_pan(c, id));
        assert_eq!(stored_pan(&*store, id), None);
        assert!(setup(&*store, |c, k| repo::reversal_draft(c, k, id, "68")).is_none());
        assert_eq!(setup(&*store, |c, _| repo::pans_kept(c)), 0);
        // The sale was decided inline, in truth: without its row, conservation counts it.
        setup(&*store, |c, _| {
            c.exec("DELETE FROM upstream_requests WHERE txn_id = ?1", p![id.0])?;
            Ok(())
        });
    }
}

// Goal (s17-refund): a card number kept for a sale's refund window survives the settlement
// of its batch (the back-office's refund comes after it and needs field 2); a row of a build
// before schema 21 (no `pan_until`) is still forgotten at its settlement, as that build
// promised; one of the next batch is kept.
#[test]
fn settling_the_batch_forgets_only_card_numbers_without_a_window() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(h) = Harness::on(backend) else {
            skipped();
            continue;
        };
        let windowed = sale_gone_up(&h);
        let older = sale_gone_up_before_schema_21(&h);
        assert_eq!(setup(&*h.store, |c, _| repo::pans_kept(c)), 2);
        let _ = h.settle(None);
        assert_eq!(stored_pan(&*h.store, older), None, "{backend:?}");
        assert!(stored_pan(&*h.store, windowed).is_some(), "{backend:?}");
        let kept = sale_gone_up(&h);
        assert!(stored_pan(&*h.store, kept).is_some(), "{backend:?}");
        setup(&*h.store, |c, _| {
            c.exec("DELETE FROM upstream_requests", p![])?;
            Ok(())
        });
    }
}

// Goal: two PostgreSQL nodes drain one queue at once, each through its own store (two
// processes' worth of connections): every advice is sent exactly once while both live. Then
// a node that claimed an advice and died holds it only until its lease ends.
#[test]
fn two_nodes_drain_one_queue_each_advice_once() {
    let Some(h) = Harness::on(Backend::Postgres) else {
        skipped();
        return;
    };
    const ADVICES: u32 = 200;
    setup(&*h.store, |c, k| {
        for n in 0..ADVICES {
            repo::saf_push(c, k, "switch", &frame(n), 0, None)?;
        }
        Ok(())
    });
    let sent: Mutex<HashMap<Vec<u8>, Vec<&str>>> = Mutex::new(HashMap::new());
    let nodes: Vec<(&str, Arc<dyn Store>)> = vec![
        ("node-a", Arc::from(h.open_another())),
        ("node-b", Arc::from(h.open_another())),
    ];
    std::thread::scope(|s| {
        for (name, store) in &nodes {
            let q = StoreQueue::for_node(store.clone(), name);
            let sent = &sent;
            s.spawn(move || {
                let now = || jiff::Timestamp::now().as_millisecond();
                while let Some(e) = q.claim("switch", now()).expect("claim") {
                    // "Sending": long enough for the other node to try the same head.
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    sent.lock()
                        .expect("lock")
                        .entry(e.frame.clone())
                        .or_default()
                        .push(name);
                    q.remove(e.id).expect("acknowledged");
                }
            });
        }
    });
    let sent = sent.into_inner().expect("lock");
    assert_eq!(sent.len(), ADVICES as usize, "every advice sent");
    let twice: Vec<_> = sent.values().filter(|by| by.len() > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
    let by_a = sent.values().filter(|by| by[0] == "node-a").count();
    assert!(
        by_a > 0 && by_a < ADVICES as usize,
        "both nodes drained ({by_a} by node-a)"
    );

    // A node claims and dies (never acknowledges): the other skips that advice until the
    // lease ends, then takes it.
    setup(&*h.store, |c, k| {
        repo::saf_push(c, k, "switch", &frame(999), 0, None)
    });
    let dead = StoreQueue::for_node(nodes[0].1.clone(), "node-a").with_lease(1_000);
    let live = StoreQueue::for_node(nodes[1].1.clone(), "node-b");
    let claimed = dead
        .claim("switch", 10_000)
        .expect("claim")
        .expect("queued");
    assert!(
        live.claim("switch", 10_500).expect("claim").is_none(),
        "held by a live claim"
    );
    let taken = live
        .claim("switch", 11_001)
        .expect("claim")
        .expect("the lease ended");
    assert_eq!(taken.id, claimed.id);
    // A put-back (no 0430) frees it for any node at once.
    live.retry_later(taken.id, 1, 11_500).expect("retry later");
    assert_eq!(
        dead.claim("switch", 11_002).expect("claim").map(|e| e.id),
        Some(claimed.id)
    );
}

// Goal (issue 15, s18-speed): an idle drainer's poll (every second on every node) reads
// the empty queue and ends; it does not wait for the write lock a writer holds.
#[test]
fn an_empty_queue_is_polled_without_the_write_lock() {
    let h = Harness::new();
    let store: Arc<dyn Store> = Arc::from(h.open_another());
    let q = StoreQueue::for_node(store, "node-a");
    let (claimed, waited) = while_write_locked(&*h.store, || q.claim("switch", 10_000));
    assert!(claimed.expect("claim").is_none());
    assert!(!waited, "the idle poll waited for the write lock");
    // With an advice queued the claim takes it (the read did not hide it).
    queue_and_park(&*h.store);
    assert!(q.claim("switch", 10_000).expect("claim").is_some());
}

// Goal (s17-refund): the scheduler's step forgets a card number exactly when its sale's
// refund window closes, by the store's clock: kept one second before, forgotten at the end,
// and a row already forgotten or of an older build (no `pan_until`) is not counted.
#[test]
fn card_numbers_are_forgotten_when_the_refund_window_closes() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(h) = Harness::on(backend) else {
            skipped();
            continue;
        };
        let id = sale_gone_up(&h);
        let older = sale_gone_up_before_schema_21(&h);
        let until = suanpan_core::rules::refund_window_end(h.store.now(), h.store.policy());
        let before = until - jiff::SignedDuration::from_secs(1);
        let n = setup(&*h.store, |c, _| repo::forget_expired_pans(c, before));
        assert_eq!(n, 0, "{backend:?}: inside the window");
        assert!(stored_pan(&*h.store, id).is_some(), "{backend:?}");
        let n = setup(&*h.store, |c, _| repo::forget_expired_pans(c, until));
        assert_eq!(n, 1, "{backend:?}: the window closed");
        assert_eq!(stored_pan(&*h.store, id), None, "{backend:?}");
        assert!(stored_pan(&*h.store, older).is_some(), "{backend:?}");
        let n = setup(&*h.store, |c, _| repo::forget_expired_pans(c, until));
        assert_eq!(n, 0, "{backend:?}: once");
        setup(&*h.store, |c, _| {
            c.exec("DELETE FROM upstream_requests", p![])?;
            Ok(())
        });
    }
}
