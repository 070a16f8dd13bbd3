//! The back-office API suite (see `api.rs`) on PostgreSQL: the same tests, each in a schema of
//! its own at `SUANPAN_TEST_DATABASE_URL` (dropped at the end); skipped when it is not set.
//! Also the several-nodes race: one request approved through two nodes at once runs once.

mod common;

use common::*;
use suanpan_core::Policy;

const BACKEND: Backend = Backend::Postgres;

include!("suites/api_body.rs");
include!("suites/sessions_body.rs");

/// Goal: several nodes share one database, so one request approved through two nodes at
/// once (two `PgStore`s, each with its own back-office and executor) is approved once and
/// executes once: one approval answers 200, the other 409, and the sale has one void.
#[test]
fn one_request_approved_on_two_nodes_at_once_executes_once() {
    let Some(a) = spawn_on(BACKEND) else {
        return;
    };
    let pg = a.pg.clone().expect("a PostgreSQL app");
    let node_b = pg_node(&pg, Policy::default(), a.clock.clone());
    let b = serve(
        std::sync::Arc::new(node_b),
        a.clock.clone(),
        Some(pg),
        tempfile::tempdir().expect("temp dir"),
        None,
        |_| {},
    );
    let cashier = a.login("cashier");
    let (sup_a, sup_b) = (a.login("supervisor"), b.login("supervisor"));
    for round in 0..4 {
        let txn = sale(&*a.store, 1_000 + round);
        let q = cashier.request("void", txn, r#","customer_consent":true"#);
        let path = format!("/api/v1/requests/{}/approve", q["id"]);
        let gate = std::sync::Barrier::new(2);
        let (ra, rb) = std::thread::scope(|s| {
            let one = s.spawn(|| {
                gate.wait();
                sup_a.post(&path, r#"{"comment":"同意"}"#)
            });
            let two = s.spawn(|| {
                gate.wait();
                sup_b.post(&path, r#"{"comment":"同意"}"#)
            });
            (one.join().expect("node a"), two.join().expect("node b"))
        });
        let mut statuses = [ra.status, rb.status];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409], "{} / {}", ra.text(), rb.text());
        let detail = format!("/api/v1/requests/{}", q["id"]);
        assert!(
            eventually(|| sup_b.get(&detail).json()["status"] == "executed"),
            "request {} executed",
            q["id"]
        );
        let d = sup_a.get(&format!("/api/v1/transactions/{txn}")).json();
        assert_eq!(d["transaction"]["status"], "voided", "{d}");
        let voids = d["children"].as_array().expect("children").len();
        assert_eq!(voids, 1, "one void for sale {txn}: {d}");
    }
    assert!(a.store.conservation().expect("conservation").holds());
    assert_eq!(a.store.verify_audit().expect("audit").first_broken, None);
}
