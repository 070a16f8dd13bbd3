//! The two holes of issue 12, driven frame by frame through `Host::handle` (no TCP, so the
//! order of arrival is exact): a reversal that overtakes its own request, and a sign-in
//! frame that arrives twice.

use std::sync::Arc;
use suanpan_host::Host;
use suanpan_host::Outcome;
use suanpan_host::client::{Card, Kind, Original, Response, Terminal};
use suanpan_iso8583::{SettlementTotals, Totals};
use suanpan_store::admin::{DEMO_MERCHANT, DEMO_TERMINAL, DEMO_TMK_HEX};
use suanpan_store::{Fingerprinter, OpenOptions, SqliteStore, Store};

const APPROVE_PAN: &str = "6222021234567890128";

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

struct App {
    host: Host,
    store: Arc<SqliteStore>,
    fp: Fingerprinter,
    _dir: tempfile::TempDir,
}

fn app() -> App {
    let dir = ok(tempfile::tempdir());
    let store = ok(SqliteStore::create(
        dir.path(),
        suanpan_service::open_options(),
    ));
    let fp = Fingerprinter::new(Fingerprinter::random_key());
    ok(store.seed_demo(&fp));
    let store = Arc::new(store);
    let host = Host::new(store.clone(), fp.clone());
    App {
        host,
        store,
        fp,
        _dir: dir,
    }
}

impl App {
    /// One frame (length prefix included) through the host; the answer's body.
    async fn send(&self, frame: &[u8]) -> Vec<u8> {
        match self.host.handle(&frame[2..]).await {
            Outcome::Reply { frame, .. } => frame[2..].to_vec(),
            Outcome::Close => panic!("the host closed instead of answering"),
        }
    }

    async fn call(&self, t: &Terminal, frame: &[u8]) -> Response {
        ok(t.parse(&self.send(frame).await))
    }

    async fn signed_in(&self) -> Terminal {
        let mut t = ok(Terminal::new(DEMO_TERMINAL, DEMO_MERCHANT, DEMO_TMK_HEX));
        let frame = ok(t.sign_in());
        let r = ok(t.accept_sign_in(&self.send(&frame).await));
        assert_eq!(r.code, "00", "sign-in: {}", r.text);
        t
    }

    fn balance(&self) -> i64 {
        let pan = ok(suanpan_core::Pan::parse(APPROVE_PAN));
        let a = ok(self.store.account(&self.fp.of(&pan))).expect("demo account");
        a.balance_fen - a.held_fen
    }

    fn txn_count(&self) -> i64 {
        ok(self.store.read(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM txns WHERE kind != 'reversal'",
                [],
                |r| r.get(0),
            )
        }))
    }
}

fn card() -> Card {
    Card::new(APPROVE_PAN, "3012")
}

fn totals(debit: u64, debit_n: u16) -> SettlementTotals {
    SettlementTotals {
        domestic: Totals {
            debit_amount: debit,
            debit_count: debit_n,
            credit_amount: 0,
            credit_count: 0,
            reconciliation: 0,
        },
        foreign: Totals::default(),
    }
}

// Goal: a 0400 that arrives before the sale it reverses is answered 00, and the sale that
// arrives after it books nothing (refused with a code and 63 text): 00 to a reversal means
// the request never takes effect. The terminal's settlement (it has nothing) then balances.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_overtaken_by_its_reversal_books_nothing() {
    let app = app();
    let mut t = app.signed_in().await;
    let before = app.balance();
    let (stan, sale) = ok(t.request(Kind::Sale, &card(), 4_200, None));
    let rev = ok(t.reversal(Kind::Sale, &card(), 4_200, None, stan, "98"));
    let r = app.call(&t, &rev).await;
    assert_eq!(r.code, "00", "the reversal: {}", r.text);
    let late = app.call(&t, &sale).await;
    assert_ne!(late.code, "00", "the late sale was approved: {}", late.text);
    assert!(!late.text.is_empty(), "63 says why");
    assert_eq!(app.balance(), before, "no money moved");
    assert_eq!(app.txn_count(), 0, "nothing booked");
    // A retransmission of the late sale is refused the same way.
    let again = app.call(&t, &sale).await;
    assert_eq!(again.code, late.code);
    let s = ok(t.settlement(&totals(0, 0)));
    let r = app.call(&t, &s).await;
    assert_eq!(r.code, "00");
    assert_eq!(r.text, "对账平", "the terminal's empty batch balances");
    assert!(ok(app.store.conservation()).holds());
}

// Goal: the same for a void: the void's reversal overtakes it, the void arrives late and is
// refused, and the sale stays approved (the terminal believes the void was reversed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_void_overtaken_by_its_reversal_leaves_the_sale_standing() {
    let app = app();
    let mut t = app.signed_in().await;
    let before = app.balance();
    let (_, sale) = ok(t.request(Kind::Sale, &card(), 900, None));
    let sale = app.call(&t, &sale).await;
    assert_eq!(sale.code, "00");
    let orig = Original::of(&sale, t.batch);
    let (stan, void) = ok(t.request(Kind::Void, &card(), 900, Some(&orig)));
    let rev = ok(t.reversal(Kind::Void, &card(), 900, Some(&orig), stan, "98"));
    assert_eq!(app.call(&t, &rev).await.code, "00");
    let late = app.call(&t, &void).await;
    assert_ne!(late.code, "00", "the late void was approved: {}", late.text);
    assert_eq!(app.balance(), before - 900, "the sale stands");
    let s = ok(t.settlement(&totals(900, 1)));
    let r = app.call(&t, &s).await;
    assert_eq!(r.text, "对账平");
}

// Goal: the same 0800 frame twice gets the same answer (the same working keys): the terminal
// that kept the first answer's keys is not answered A0 on its next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicated_sign_in_gets_the_stored_answer() {
    let app = app();
    let mut t = ok(Terminal::new(DEMO_TERMINAL, DEMO_MERCHANT, DEMO_TMK_HEX));
    let frame = ok(t.sign_in());
    let first = app.send(&frame).await;
    let second = app.send(&frame).await;
    let r = ok(t.accept_sign_in(&first));
    assert_eq!(r.code, "00");
    assert_eq!(
        first, second,
        "an identical retransmission gets the stored answer"
    );
    let (_, sale) = ok(t.request(Kind::Sale, &card(), 100, None));
    let r = app.call(&t, &sale).await;
    assert_eq!(r.code, "00", "{}", r.text);
}

// Goal: every other non-financial message type replays too: an identical 0820 echo and an
// identical 0500 settlement get byte-identical answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_echo_and_settlement_frames_replay() {
    let app = app();
    let mut t = app.signed_in().await;
    let echo = ok(t.echo());
    assert_eq!(app.send(&echo).await, app.send(&echo).await);
    let s = ok(t.settlement(&totals(0, 0)));
    let first = app.send(&s).await;
    assert_eq!(first, app.send(&s).await);
}

// Goal: a full disk (the store's size limit, which fails a write exactly like ENOSPC) refuses
// new sales with 96 and the full-disk text in 63, books nothing of them, and loses nothing
// acknowledged: every sale answered 00 before is in the store, and the books balance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_new_work_and_loses_nothing_acknowledged() {
    let dir = ok(tempfile::tempdir());
    let fp = Fingerprinter::new(Fingerprinter::random_key());
    {
        let store = ok(SqliteStore::create(
            dir.path(),
            suanpan_service::open_options(),
        ));
        ok(store.seed_demo(&fp));
    }
    let pages: u64 = ok(rusqlite::Connection::open(dir.path().join("suanpan.db"))
        .and_then(|c| c.query_row("PRAGMA page_count", [], |r| r.get(0))));
    // Identical sales fill the disk; the risk rules (issue 13) would refuse the second as a
    // possible duplicate, so they are off here.
    let mut limited = OpenOptions {
        db_pages_max: Some(pages + 4),
        ..suanpan_service::open_options()
    };
    limited.policy.risk = suanpan_core::risk::RiskParams::off();
    let store = Arc::new(ok(SqliteStore::open(dir.path(), limited)));
    let app = App {
        host: Host::new(store.clone(), fp.clone()),
        store,
        fp,
        _dir: dir,
    };
    let mut t = app.signed_in().await;
    let mut approved = Vec::new();
    let refused = loop {
        let (_, sale) = ok(t.request(Kind::Sale, &card(), 100, None));
        let r = app.call(&t, &sale).await;
        if r.code != "00" {
            break r;
        }
        approved.push(r.rrn.expect("rrn"));
        assert!(approved.len() < 100_000, "the size limit never took effect");
    };
    assert!(!approved.is_empty(), "some sales fit");
    assert_eq!(refused.code, "96");
    assert_eq!(refused.text, "磁盘已满，本次操作未保存");
    assert_eq!(
        app.txn_count(),
        approved.len() as i64,
        "nothing of the refused sale"
    );
    for rrn in &approved {
        let n: i64 = ok(app.store.read(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM txns WHERE rrn = ?1",
                [rrn.trim()],
                |r| r.get(0),
            )
        }));
        assert_eq!(n, 1, "acknowledged sale {rrn} is kept");
    }
    assert!(ok(app.store.conservation()).holds());
}
