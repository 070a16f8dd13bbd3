//! Several nodes on one PostgreSQL database: two `PgStore` instances (two host processes'
//! worth of writers and connections) on one schema, racing on the same originals. At-most-once
//! must come from the database (row locks, constraints), since neither node sees the other's
//! memory. Skipped without `SUANPAN_TEST_DATABASE_URL`.

mod common;

use common::*;
use std::collections::HashSet;
use std::sync::Barrier;
use suanpan_core::{Amount, PaymentMethod, Policy, ResponseCode, Transaction, TxnKind, TxnStatus};
use suanpan_store::command::OriginalRef;
use suanpan_store::command::{Purchase, Refund, Reverse, Void};
use suanpan_store::reply::SettleAllDue;
use suanpan_store::{Ask, AskExt, ReversalReply, Store, TxnReply};

/// Sales voided twice over in the race test (the number).
const SALES: usize = 1_000;
/// Callers per node: enough to fill each node's groups with commands for many originals.
const CALLERS_PER_NODE: usize = 8;

fn policy() -> Policy {
    Policy {
        // Two thousand void attempts by one cashier in one day: the daily limit is not what
        // this test is about.
        void_max_per_operator_per_day: 10 * SALES as u32,
        ..Policy::default()
    }
}

/// Runs `cmds` through `store` from `CALLERS_PER_NODE` threads, each taking every n-th
/// command in order; answers come back in the order of `cmds`.
fn run_all<A: Ask + Send>(store: &dyn Store, cmds: Vec<A>) -> Vec<A::Reply> {
    let n = cmds.len();
    let mut slots: Vec<Vec<(usize, A)>> = (0..CALLERS_PER_NODE).map(|_| Vec::new()).collect();
    for (i, c) in cmds.into_iter().enumerate() {
        slots[i % CALLERS_PER_NODE].push((i, c));
    }
    let mut answers: Vec<Option<A::Reply>> = (0..n).map(|_| None).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = slots
            .into_iter()
            .map(|part| {
                s.spawn(move || {
                    part.into_iter()
                        .map(|(i, c)| (i, store.ask(c).expect("no storage failure")))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (i, r) in h.join().expect("caller thread") {
                answers[i] = Some(r);
            }
        }
    });
    answers.into_iter().map(|a| a.expect("answered")).collect()
}

fn sale_cmd(i: usize) -> Purchase {
    Purchase {
        origin: cashier(),
        kind: TxnKind::Sale,
        amount: Amount::from_fen(1 + (i % 7) as i64),
        instrument: card("approve"),
        method: PaymentMethod::Chip,
        pin: None,
        linked_id: None,
        confirm_duplicate: false,
    }
}

fn void_cmd(sale: &Transaction) -> Void {
    Void {
        origin: supervised(),
        kind: TxnKind::Void,
        original: OriginalRef::Rrn(rrn(sale)),
        amount: None,
        reason: REASON.to_owned(),
        customer_consent: true,
        card_fingerprint: None,
    }
}

/// Runs `a` on node `h.store` and `b` on `other` at the same moment.
fn race<A: Ask + Send, B: Ask + Send>(
    h: &Harness,
    other: &dyn Store,
    a: Vec<A>,
    b: Vec<B>,
) -> (Vec<A::Reply>, Vec<B::Reply>) {
    let barrier = Barrier::new(2);
    std::thread::scope(|s| {
        let ja = s.spawn(|| {
            barrier.wait();
            run_all(&*h.store, a)
        });
        let jb = s.spawn(|| {
            barrier.wait();
            run_all(other, b)
        });
        (ja.join().expect("node a"), jb.join().expect("node b"))
    })
}

#[test]
fn thousand_sales_each_voided_through_two_nodes_at_once() {
    // Goal: the race: every sale voided at the same moment through two nodes; exactly
    // one void each is approved, the other refused with 12, and the database holds one void
    // per sale.
    let Some(h) = Harness::with_policy_on(Backend::Postgres, policy()) else {
        return skipped();
    };
    let other = h.open_another();
    let start = h.balance("approve");
    let sales: Vec<Transaction> = run_all(&*h.store, (0..SALES).map(sale_cmd).collect())
        .into_iter()
        .map(approved)
        .collect();
    let voids_a: Vec<Void> = sales.iter().map(void_cmd).collect();
    let voids_b: Vec<Void> = sales.iter().map(void_cmd).collect();
    let (a, b) = race(&h, &*other, voids_a, voids_b);
    let mut won = (0, 0);
    for (i, (ra, rb)) in a.into_iter().zip(b).enumerate() {
        let (void, refusal, a_won) = match (ra, rb) {
            (TxnReply::Booked(v), TxnReply::Refused(r)) => (v, r, true),
            (TxnReply::Refused(r), TxnReply::Booked(v)) => (v, r, false),
            (x, y) => panic!("sale {i}: expected one void and one refusal, got {x:?} and {y:?}"),
        };
        if a_won {
            won.0 += 1;
        } else {
            won.1 += 1;
        }
        assert_eq!(void.response_code, ResponseCode::Approved);
        assert_eq!(void.original_id, Some(sales[i].id));
        assert_eq!(refusal.key(), "void.already_voided", "sale {i}");
    }
    assert_eq!(won.0 + won.1, SALES);
    eprintln!("voids won by node a: {}, by node b: {}", won.0, won.1);
    drop(other);
    let stored = h.all_txns();
    let voids: Vec<&Transaction> = stored.iter().filter(|t| t.kind == TxnKind::Void).collect();
    assert_eq!(voids.len(), SALES, "one void row per sale");
    let originals: HashSet<_> = voids.iter().map(|v| v.original_id).collect();
    assert_eq!(originals.len(), SALES, "no sale voided twice");
    assert!(
        stored
            .iter()
            .filter(|t| t.kind == TxnKind::Sale)
            .all(|t| t.status == TxnStatus::Voided)
    );
    let rrns: HashSet<_> = stored.iter().map(rrn).collect();
    assert_eq!(rrns.len(), stored.len(), "RRNs unique across both nodes");
    let vouchers: HashSet<_> = stored.iter().map(|t| t.voucher_no).collect();
    assert_eq!(
        vouchers.len(),
        stored.len(),
        "voucher nos. unique across both nodes"
    );
    assert_eq!(
        h.balance("approve"),
        start,
        "every sale's money came back once"
    );
}

#[test]
fn one_node_with_several_writers_books_each_terminal_in_order() {
    // Goal: a node with several PostgreSQL writers (`[store] pg_writers`, s20-pg) is as exact
    // as one with a single writer: many terminals selling at once through four writers, each
    // terminal's sales get its voucher nos. 1, 2, 3… in the order it sent them, every RRN is
    // unique, every sale's money moves once, a void of each through the same node finds its
    // sale, and the audit chain (one total order across the writers) verifies (the harness's
    // invariants at drop).
    let Some(h) = Harness::with_policy_on(Backend::Postgres, policy()) else {
        return skipped();
    };
    const TERMINALS: usize = 12;
    const SALES_EACH: usize = 25;
    let terminals: Vec<suanpan_core::TerminalId> = (0..TERMINALS)
        .map(|i| suanpan_core::TerminalId::parse(&format!("W{i:07}")).expect("terminal id"))
        .collect();
    for t in &terminals {
        suanpan_store::admin::add_terminal(&*h.store, t, &merchant(), None).expect("terminal");
    }
    let node = h.open_another_with(|o| o.pg_writers = 4);
    let start = h.balance("approve");
    let lanes: std::collections::BTreeSet<u64> = terminals
        .iter()
        .map(|t| {
            let mut o = cashier();
            o.terminal_id = t.clone();
            let mut c = sale_cmd(0);
            c.origin = o;
            suanpan_store::command::Command::Purchase(c).lane() % 4
        })
        .collect();
    assert!(
        lanes.len() > 1,
        "the terminals spread over the writers: {lanes:?}"
    );
    // Each terminal sells in order from its own thread, all terminals at once.
    let barrier = Barrier::new(TERMINALS);
    let booked: Vec<Vec<Transaction>> = std::thread::scope(|s| {
        let handles: Vec<_> = terminals
            .iter()
            .map(|t| {
                let (node, barrier) = (&node, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    (0..SALES_EACH)
                        .map(|i| {
                            let mut c = sale_cmd(i);
                            c.origin.terminal_id = t.clone();
                            approved(node.ask(c).expect("no storage failure"))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("terminal thread"))
            .collect()
    });
    for (t, sales) in terminals.iter().zip(&booked) {
        let vouchers: Vec<u32> = sales.iter().map(|s| s.voucher_no.value()).collect();
        let want: Vec<u32> = (1..=SALES_EACH as u32).collect();
        assert_eq!(
            vouchers, want,
            "terminal {t}: voucher nos. in the order sent"
        );
        assert!(sales.iter().all(|s| &s.terminal_id == t));
    }
    let all: Vec<&Transaction> = booked.iter().flatten().collect();
    let rrns: HashSet<_> = all.iter().map(|t| rrn(t)).collect();
    assert_eq!(rrns.len(), all.len(), "RRNs unique across the writers");
    let charged: i64 = all.iter().map(|t| t.amount.fen()).sum();
    assert_eq!(
        h.balance("approve"),
        start - charged,
        "each sale charged once"
    );
    // A void of every sale through the same node: each finds its sale and gives its money back.
    let voids: Vec<Void> = all
        .iter()
        .map(|sale| {
            let mut v = void_cmd(sale);
            v.origin.terminal_id = sale.terminal_id.clone();
            v
        })
        .collect();
    for r in run_all(&*node, voids) {
        match r {
            TxnReply::Booked(v) => assert_eq!(v.response_code, ResponseCode::Approved),
            other => panic!("a void refused: {other:?}"),
        }
    }
    assert_eq!(
        h.balance("approve"),
        start,
        "every sale's money came back once"
    );
    drop(node);
}

#[test]
fn reversal_racing_a_void_lets_exactly_one_through() {
    // Goal: a terminal's reversal (node a) and a void of the same sale (node b) at the same
    // moment: one of them takes effect, the other is refused (12) or finds nothing to do; the
    // money comes back once.
    const N: usize = 200;
    let Some(h) = Harness::with_policy_on(Backend::Postgres, policy()) else {
        return skipped();
    };
    let other = h.open_another();
    let start = h.balance("approve");
    let sales: Vec<Transaction> = run_all(&*h.store, (0..N).map(sale_cmd).collect())
        .into_iter()
        .map(approved)
        .collect();
    let reversals: Vec<Reverse> = sales
        .iter()
        .map(|s| Reverse {
            origin: cashier(),
            voucher: s.voucher_no,
            amount: None,
            reason: "98".to_owned(),
        })
        .collect();
    let voids: Vec<Void> = sales.iter().map(void_cmd).collect();
    let (a, b) = race(&h, &*other, reversals, voids);
    for (i, (rev, void)) in a.into_iter().zip(b).enumerate() {
        let sale = h.txn(sales[i].id);
        match (rev, void) {
            (ReversalReply::Reversed(r), TxnReply::Refused(v)) => {
                assert_eq!(r.kind, TxnKind::Reversal);
                assert_eq!(v.key(), "void.reversed", "sale {i}");
                assert_eq!(sale.status, TxnStatus::Reversed);
            }
            (ReversalReply::Refused(r), TxnReply::Booked(v)) => {
                assert_eq!(v.kind, TxnKind::Void);
                assert_eq!(r.key(), "reversal.already_voided", "sale {i}");
                assert_eq!(sale.status, TxnStatus::Voided);
            }
            (x, y) => panic!("sale {i}: expected one effect and one refusal, got {x:?} and {y:?}"),
        }
    }
    drop(other);
    assert_eq!(
        h.balance("approve"),
        start,
        "every sale's money came back once"
    );
}

#[test]
fn refunds_racing_on_two_nodes_never_exceed_the_original() {
    // Goal: DESIGN.md's payment-switch bug across nodes: refunds of one sale from two
    // terminals (so no terminal lock orders them) on two nodes at once add up to the sale at
    // most: the original's row lock and the CHECK constraint decide.
    const TRIES: usize = 30;
    let Some(h) = Harness::with_policy_on(Backend::Postgres, policy()) else {
        return skipped();
    };
    let second = suanpan_core::TerminalId::parse("T2000001").expect("terminal id");
    suanpan_store::admin::add_terminal(&*h.store, &second, &merchant(), None)
        .expect("second terminal");
    let other = h.open_another();
    let sale = approved(h.sale(1_000, "approve"));
    let refund = |terminal: &suanpan_core::TerminalId| Refund {
        origin: suanpan_store::command::Origin {
            terminal_id: terminal.clone(),
            ..supervised()
        },
        original: OriginalRef::Rrn(rrn(&sale)),
        amount: Amount::from_fen(100),
        reason: "goods returned".into(),
    };
    let (a, b) = race(
        &h,
        &*other,
        (0..TRIES).map(|_| refund(&terminal())).collect(),
        (0..TRIES).map(|_| refund(&second)).collect(),
    );
    let mut refunded = 0;
    let mut by_terminal = HashSet::new();
    for r in a.into_iter().chain(b) {
        match r {
            TxnReply::Booked(t) => {
                refunded += t.amount.fen();
                by_terminal.insert(t.terminal_id.clone());
            }
            TxnReply::Refused(r) => assert!(
                ["refund.fully_refunded", "refund.exceeds_remaining"].contains(&r.key()),
                "{r:?}"
            ),
            other => panic!("unexpected {other:?}"),
        }
    }
    drop(other);
    assert_eq!(refunded, 1_000);
    eprintln!("refunds approved through {} terminal(s)", by_terminal.len());
    let s = h.txn(sale.id);
    assert_eq!((s.status, s.refunded.fen()), (TxnStatus::Refunded, 1_000));
}

#[test]
fn cutoff_settlement_runs_once_for_two_nodes() {
    // Goal: both nodes' schedulers fire at the cutoff; each open batch is settled once and
    // the terminal moves on by exactly one batch no.
    let Some(h) = Harness::on(Backend::Postgres) else {
        return skipped();
    };
    let other = h.open_another();
    approved(h.sale(500, "approve"));
    let before = h.open_batch();
    h.set_time("2025-06-10T15:30:00Z"); // 23:30 in Shanghai: past the 23:00 cutoff.
    let (a, b) = race(
        &h,
        &*other,
        vec![SettleAllDue::FROM_START],
        vec![SettleAllDue::FROM_START],
    );
    let settled: usize = a.into_iter().chain(b).map(|r| r.settled.len()).sum();
    drop(other);
    assert_eq!(settled, 1, "the due batch settled once, by one node");
    assert_eq!(h.open_batch(), before.next());
}

#[test]
fn a_lost_connection_fails_cleanly_and_the_writer_reconnects() {
    // Goal: the database drops every connection of a node (restart, failover): what was in
    // flight is answered with an error or committed, never half; the next commands are served
    // again on new connections, and nothing approved is lost.
    let Some(h) = Harness::on(Backend::Postgres) else {
        return skipped();
    };
    let start = h.balance("approve");
    let before = approved(h.sale(100, "approve"));
    let app =
        h.pg.as_ref()
            .map(|p| p.application_name())
            .unwrap_or_default();
    let killer = h.open_another();
    let killed = suanpan_store::read(&*killer, |c| {
        use suanpan_store::sql::SqlExt;
        c.rows(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = ?1 AND pid <> pg_backend_pid()",
            &[suanpan_store::sql::Value::Text(&app)],
            |r| r.flag(0),
        )
    })
    .expect("terminate the node's connections");
    assert!(killed.iter().any(|k| *k), "some connection was terminated");
    // The first command may meet the dead connection (an error, nothing saved) or find it
    // already replaced; within a few tries the node serves again.
    let mut failures = 0;
    let after = loop {
        match h.store.ask(sale_cmd(1)) {
            Ok(r) => break approved(r),
            Err(e) => {
                failures += 1;
                assert!(failures <= 3, "the writer did not reconnect: {e}");
            }
        }
    };
    drop(killer);
    assert!(after.id.0 > before.id.0);
    let stored = h.all_txns();
    assert!(stored.iter().any(|t| t.id == before.id) && stored.iter().any(|t| t.id == after.id));
    let approved_fen: i64 = stored
        .iter()
        .filter(|t| t.response_code.is_approved())
        .map(|t| t.amount.fen())
        .sum();
    assert_eq!(
        h.balance("approve"),
        start - approved_fen,
        "the card paid exactly the approved sales"
    );
}

#[test]
fn opening_what_is_not_there_or_creating_twice_is_refused() {
    // Goal: bad places and double creation get clear errors and change nothing.
    let Some(url) = test_database_url() else {
        return skipped();
    };
    let opts = || {
        options(
            Policy::default(),
            std::sync::Arc::new(suanpan_core::clock::FixedClock::new(start())),
        )
    };
    let pg = |schema: &str| suanpan_store::PgOptions {
        url: url.clone(),
        schema: Some(schema.to_owned()),
    };
    let empty = format!("e_{}", std::process::id());
    let err = suanpan_store::PgStore::open(pg(&empty), opts())
        .err()
        .expect("refused");
    assert!(
        matches!(err, suanpan_store::StoreError::NotInitialized(_)),
        "{err}"
    );
    let bad = suanpan_store::PgStore::open(pg("Robert'); DROP TABLE x;--"), opts())
        .err()
        .expect("refused");
    assert!(
        matches!(bad, suanpan_store::StoreError::Invalid(_)),
        "{bad}"
    );
    let nowhere = suanpan_store::PgStore::open(
        suanpan_store::PgOptions::new("postgres://nobody@127.0.0.1:1/none"),
        opts(),
    )
    .err()
    .expect("refused");
    assert!(nowhere.to_string().contains("postgres"), "{nowhere}");
    let Some(h) = Harness::on(Backend::Postgres) else {
        return skipped();
    };
    let again = suanpan_store::PgStore::create(h.pg.clone().expect("pg"), opts())
        .err()
        .expect("refused");
    assert!(again.to_string().contains("already holds"), "{again}");
    assert_eq!(h.all_txns().len(), 0, "nothing changed");
    let created = suanpan_store::read(&*h.store, |c| {
        use suanpan_store::sql::SqlExt;
        c.one(
            "SELECT COUNT(*) FROM pg_namespace WHERE nspname = ?1",
            &[suanpan_store::sql::Value::Text(&empty)],
            |r| r.i64(0),
        )
    })
    .expect("namespaces");
    assert_eq!(created, 0, "opening a missing store created nothing");
}

#[test]
fn many_readers_at_once_share_a_bounded_set_of_connections() {
    // Goal: a burst of readers (the host's connections, a back-office) never opens more than
    // READERS_KEPT_MAX read connections per node: the database's max_connections is shared
    // by all nodes. Every read still gets its answer.
    const THREADS: usize = 24;
    let Some(h) = Harness::on(Backend::Postgres) else {
        return skipped();
    };
    approved(h.sale(100, "approve"));
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            let (h, barrier) = (&h, &barrier);
            s.spawn(move || {
                barrier.wait();
                for _ in 0..10 {
                    assert_eq!(h.all_txns().len(), 1);
                }
            });
        }
    });
    let app =
        h.pg.as_ref()
            .map(|p| p.application_name())
            .unwrap_or_default();
    let open = suanpan_store::read(&*h.store, |c| {
        use suanpan_store::sql::SqlExt;
        c.one(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = ?1",
            &[suanpan_store::sql::Value::Text(&app)],
            |r| r.i64(0),
        )
    })
    .expect("count connections");
    let bound = suanpan_store::pg::READERS_KEPT_MAX as i64 + 1; // readers + the writer
    assert!(
        (1..=bound).contains(&open),
        "{open} connections open, at most {bound} expected"
    );
}

#[test]
fn a_statement_stuck_behind_a_lock_ends_at_its_statement_timeout() {
    // Goal: every PostgreSQL wait is bounded. A client that holds a lock and never lets go
    // (a stuck node, an operator's open psql transaction) must not hold a writer forever:
    // the statement is cancelled at `statement_timeout`, the command fails whole, and once
    // the lock goes the same node serves again. The limit comes from the URL when it sets
    // one, else `PG_STATEMENT_TIMEOUT_MS` is applied on connecting.
    let Some(h) = Harness::on(Backend::Postgres) else {
        return skipped();
    };
    let pg = h.pg.clone().expect("a PostgreSQL harness");
    let shown = suanpan_store::read(&*h.store, |c| {
        use suanpan_store::sql::SqlExt;
        c.one("SHOW statement_timeout", &[], |r| r.text(0))
    })
    .expect("read the setting");
    assert_eq!(
        shown,
        format!("{}min", suanpan_store::pg::PG_STATEMENT_TIMEOUT_MS / 60_000),
        "the default limit is set on every connection"
    );
    let sep = if pg.url.contains('?') { '&' } else { '?' };
    let short = suanpan_store::PgOptions {
        url: format!("{}{sep}options=-c%20statement_timeout%3D300", pg.url),
        ..pg.clone()
    };
    let node = suanpan_store::PgStore::open(short, options(policy(), h.clock.clone()))
        .expect("open a node");
    let before = h.all_txns().len();
    let locker = h.open_another();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let locker = &*locker;
    std::thread::scope(|s| {
        s.spawn(move || {
            suanpan_store::setup(locker, |c, _| {
                c.exec_batch("LOCK TABLE txns IN ACCESS EXCLUSIVE MODE")?;
                locked_tx.send(()).expect("tell the test");
                let _ = release_rx.recv_timeout(std::time::Duration::from_secs(30));
                Ok(())
            })
            .expect("hold the lock");
        });
        locked_rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the lock is held");
        let started = std::time::Instant::now();
        let stuck = node.ask(sale_cmd(1));
        let waited = started.elapsed();
        release_tx.send(()).expect("release the lock");
        let e = stuck.expect_err("a statement behind the lock is cancelled, not waited for");
        assert!(
            e.to_string().contains("57014"),
            "cancelled by the timeout: {e}"
        );
        assert!(
            waited < std::time::Duration::from_secs(10),
            "ended near its 300 ms limit, took {waited:?}"
        );
    });
    assert_eq!(
        h.all_txns().len(),
        before,
        "the cancelled sale left nothing"
    );
    approved(node.ask(sale_cmd(2)).expect("the node serves again"));
    assert_eq!(h.all_txns().len(), before + 1);
}

/// A TCP proxy to the database that can stop forwarding without closing anything: the
/// sockets stay open and whatever arrives is dropped, as with a server that vanished
/// without a reset (powered off, cut off by the network).
struct SilentProxy {
    addr: std::net::SocketAddr,
    forwarding: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl SilentProxy {
    fn to(upstream: String) -> SilentProxy {
        use std::sync::atomic::AtomicBool;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let forwarding = std::sync::Arc::new(AtomicBool::new(true));
        let on = forwarding.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = std::net::TcpStream::connect(&upstream) else {
                    continue;
                };
                for (from, to) in [
                    (client.try_clone(), server.try_clone()),
                    (server.try_clone(), client.try_clone()),
                ] {
                    if let (Ok(from), Ok(to)) = (from, to) {
                        let on = on.clone();
                        std::thread::spawn(move || pump(from, to, &on));
                    }
                }
            }
        });
        SilentProxy { addr, forwarding }
    }

    fn stop_forwarding(&self) {
        self.forwarding
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }

    fn forward_again(&self) {
        self.forwarding
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Copies `from` to `to` while forwarding is on; reads and drops while it is off.
fn pump(
    mut from: std::net::TcpStream,
    mut to: std::net::TcpStream,
    on: &std::sync::atomic::AtomicBool,
) {
    use std::io::{Read, Write};
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            return;
        }
        if on.load(std::sync::atomic::Ordering::SeqCst) && to.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

#[test]
fn a_server_that_stops_answering_without_a_reset_ends_at_the_client_deadline() {
    // Goal: every PostgreSQL wait is bounded on the client too. A server that vanishes
    // without a TCP reset never cancels anything, so `statement_timeout` cannot end the
    // wait: the client gives up at the statement's limit plus `PG_ANSWER_GRACE_MS` with
    // `TimedOut` (writer and readers alike), drops the connection, and serves again on a
    // new one once the server answers.
    let Some(h) = Harness::on(Backend::Postgres) else {
        return skipped();
    };
    let pg = h.pg.clone().expect("a PostgreSQL harness");
    let (user, rest) = pg
        .url
        .split_once('@')
        .expect("a URL of the form postgres://user@host/db");
    let (upstream, db) = rest.split_once('/').expect("a URL that names its database");
    let proxy = SilentProxy::to(upstream.to_owned());
    let sep = if db.contains('?') { '&' } else { '?' };
    let via_proxy = suanpan_store::PgOptions {
        url: format!(
            "{user}@{}/{db}{sep}options=-c%20statement_timeout%3D300",
            proxy.addr
        ),
        ..pg.clone()
    };
    let node = suanpan_store::PgStore::open(via_proxy, options(policy(), h.clock.clone()))
        .expect("open a node through the proxy");
    approved(node.ask(sale_cmd(1)).expect("a sale through the proxy"));
    let filter = suanpan_store::TxnFilter::default();
    node.transactions(&filter)
        .expect("a read through the proxy");
    let limit = std::time::Duration::from_millis(300 + suanpan_store::pg::PG_ANSWER_GRACE_MS);
    proxy.stop_forwarding();
    for what in ["a sale", "a read"] {
        let started = std::time::Instant::now();
        let out = if what == "a sale" {
            node.ask(sale_cmd(2)).map(|_| ())
        } else {
            node.transactions(&filter).map(|_| ())
        };
        let waited = started.elapsed();
        assert!(
            matches!(out, Err(suanpan_store::StoreError::TimedOut(_))),
            "{what}: {out:?}"
        );
        assert!(
            waited >= limit && waited < limit + std::time::Duration::from_secs(10),
            "{what} ended at its limit ({limit:?}), took {waited:?}"
        );
    }
    proxy.forward_again();
    approved(node.ask(sale_cmd(3)).expect("the node serves again"));
    node.transactions(&filter).expect("reads again");
}
