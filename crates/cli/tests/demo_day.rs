//! `serve --demo` on a new data directory books a small day for the back-office on its own
//! terminal: the records the README's walkthrough names, through the same rules as the
//! counter (a settled batch with a refund, an open batch with a mistaken void and its
//! re-charge), money conserved, and the emulator's terminal left with an empty batch.

mod common;

use common::*;
use serde_json::Value;

fn field(rows: &[Value], id: i64) -> &Value {
    rows.iter()
        .find(|t| t["id"] == id)
        .unwrap_or_else(|| panic!("#{id} missing in {rows:#?}"))
}

/// Goal: the demo day exists after the first `serve --demo`, is what the README says, is
/// booked once (a second start adds nothing), and keeps the store sound.
#[test]
fn serve_demo_books_the_back_office_demo_day_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let list = || {
        let (code, v) =
            run_json(suanpan(dir).args(["txn", "list", "--limit", "100", "--include-hidden"]));
        assert_eq!(code, 0, "{v:#}");
        v["transactions"].as_array().expect("rows").clone()
    };
    {
        let (mut server, _, _) = serve_at(dir, true, "127.0.0.1:0");
        server.kill();
    }
    let rows = list();
    assert_eq!(rows.len(), 12, "A's nine and B's three: {rows:#?}");
    // The second demo merchant's three sales come after A's nine, on B's own terminal.
    for (id, fen) in [(10, 6_600), (11, 2_350), (12, 15_000)] {
        let t = field(&rows, id);
        assert_eq!(
            (
                t["terminal_id"].as_str(),
                t["merchant_id"].as_str(),
                t["amount_fen"].as_i64()
            ),
            (Some("23456789"), Some("898310048990002"), Some(fen)),
            "#{id}: {t:#}"
        );
    }
    for (id, kind, status, fen) in [
        (1, "sale", "partially_refunded", 12_800),
        (2, "sale", "approved", 4_550),
        (3, "refund", "approved", 2_800),
        (4, "sale", "approved", 8_800),
        (5, "sale", "voided", 5_800),
        (6, "void", "approved", 5_800),
        (7, "sale", "approved", 5_800),
        (8, "sale", "approved", 3_600),
        (9, "sale", "approved", 20_000),
    ] {
        let t = field(&rows, id);
        assert_eq!(
            (
                t["kind"].as_str(),
                t["status"].as_str(),
                t["amount_fen"].as_i64()
            ),
            (Some(kind), Some(status), Some(fen)),
            "#{id}: {t:#}"
        );
        assert_eq!(
            t["terminal_id"], "12345679",
            "#{id} on the demo day's terminal"
        );
    }
    let shown = run_json(suanpan(dir).args(["txn", "show", "7"])).1;
    assert_eq!(
        shown["transaction"]["linked_id"], 5,
        "the re-charge names the voided sale: {shown:#}"
    );
    assert_eq!(field(&rows, 1)["batch_no"], "000001");
    assert_eq!(field(&rows, 4)["batch_no"], "000002");

    let (code, check) = run_json(suanpan(dir).arg("check"));
    assert_eq!(
        (code, &check["conservation_holds"]),
        (0, &Value::Bool(true)),
        "{check:#}"
    );
    let counter: Vec<_> = rows
        .iter()
        .filter(|t| t["terminal_id"] == TERMINAL)
        .collect();
    assert!(
        counter.is_empty(),
        "the emulator's terminal starts empty: {counter:#?}"
    );

    // A second start on the same data directory books nothing more.
    {
        let (mut server, _, _) = serve_at(dir, true, "127.0.0.1:0");
        server.kill();
    }
    assert_eq!(list().len(), 12);
}
