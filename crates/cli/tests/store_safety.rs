//! What the store promises beyond the rules: a writer that must wait for another process says
//! so and then succeeds, and no full card number ever reaches the data directory.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn a_sale_waiting_for_another_writer_says_so_and_then_commits() {
    // Goal: while another process holds SQLite's write lock, the CLI reports that it waits
    // (instead of hanging silently) and completes once the lock is released.
    let demo = Demo::new();
    let db = demo.dir().join("suanpan.db");
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(&db).expect("open");
        conn.execute_batch("BEGIN IMMEDIATE")
            .expect("take the write lock");
        locked_tx.send(()).expect("signal");
        std::thread::sleep(Duration::from_millis(2_500));
        conn.execute_batch("COMMIT").expect("release");
    });
    locked_rx.recv().expect("lock taken");
    let out = run(demo.sale_cmd("12.00", CARD_OK).arg("--json"));
    holder.join().expect("holder");
    assert_eq!(
        out.code,
        0,
        "the sale commits after the wait: {}",
        out.text()
    );
    assert!(
        out.stderr.contains("waiting for its lock"),
        "the wait is reported on stderr: {:?}",
        out.stderr
    );
    assert_eq!(out.json()["transaction"]["status"], "approved");
}

#[test]
fn no_full_pan_is_stored_anywhere_in_the_data_directory() {
    // Goal: plain storage holds only masked PANs and fingerprints (DESIGN.md "Security").
    let demo = Demo::new();
    for card in [CARD_OK, CARD_PIN, CARD_NSF, CARD_LOST] {
        let mut cmd = demo.sale_cmd("1.00", card);
        cmd.pin(CARD_PIN_PIN);
        run(&mut cmd);
    }
    run(demo.cmd().args(["backup", "create"])).ok();
    for entry in walk(&demo.dir()) {
        let bytes = std::fs::read(&entry).expect("read");
        for card in [CARD_OK, CARD_PIN, CARD_NSF, CARD_LOST] {
            let found = bytes.windows(card.len()).any(|w| w == card.as_bytes());
            assert!(!found, "full PAN {card} found in {}", entry.display());
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
