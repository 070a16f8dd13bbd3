//! Black-box tests: the real host on port 0 with a temporary store and the demo data,
//! driven over TCP by the terminal-side client (sign-in, working keys under the demo TMK,
//! MAC on every financial message, PIN block for the PIN card).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use suanpan_host::client::{Card, Connection, Kind, Original, Response, Terminal};
use suanpan_host::{Running, ServerConfig};
use suanpan_iso8583::{SettlementTotals, Totals};
use suanpan_store::admin::{DEMO_MERCHANT, DEMO_TERMINAL, DEMO_TMK_HEX};
use suanpan_store::{Fingerprinter, OpenOptions, SqliteStore};

const APPROVE_PAN: &str = "6222021234567890128";
const PIN_PAN: &str = "6225881234567898";

struct App {
    running: Running,
    store: Arc<SqliteStore>,
    fp: Fingerprinter,
    _dir: tempfile::TempDir,
}

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn test_config() -> ServerConfig {
    ServerConfig {
        iso8583_addr: "127.0.0.1:0".into(),
        http_addr: "127.0.0.1:0".into(),
        frame_read_timeout_ms: 300,
        idle_timeout_ms: 2_000,
        connections_max: 64,
        scheduler_interval_ms: 3_600_000,
        write_timeout_ms: 2_000,
        ..ServerConfig::default()
    }
}

async fn spawn_app() -> App {
    spawn_app_with(test_config()).await
}

async fn spawn_app_with(cfg: ServerConfig) -> App {
    spawn_app_on(cfg, suanpan_service::open_options()).await
}

async fn spawn_app_on(cfg: ServerConfig, mut opts: OpenOptions) -> App {
    // These tests repeat identical sales and PIN declines to test the wire; the risk rules
    // (issue 13) have their own suite, tests/risk.rs.
    opts.policy.risk = suanpan_core::risk::RiskParams::off();
    let dir = ok(tempfile::tempdir());
    let store = ok(SqliteStore::create(dir.path(), opts));
    let fp = Fingerprinter::new(Fingerprinter::random_key());
    ok(store.seed_demo(&fp));
    let store = Arc::new(store);
    let running = ok(suanpan_host::start(store.clone(), fp.clone(), cfg).await);
    App {
        running,
        store,
        fp,
        _dir: dir,
    }
}

impl App {
    fn addr(&self) -> SocketAddr {
        self.running.iso8583_addr
    }

    async fn connect(&self) -> Connection {
        ok(Connection::connect(self.addr()).await)
    }

    /// Available balance of a demo card (fen).
    fn balance(&self, pan: &str) -> i64 {
        let pan = ok(suanpan_core::Pan::parse(pan));
        let id = self.fp.of(&pan);
        let a = ok(self
            .store
            .read(|c| suanpan_store::query::load_account(c, &id)));
        let a = a.unwrap_or_else(|| panic!("no account"));
        a.balance_fen - a.held_fen
    }

    fn txn_count(&self) -> i64 {
        ok(self
            .store
            .read(|c| c.query_row("SELECT COUNT(*) FROM txns", [], |r| r.get(0))))
    }

    fn conservation_holds(&self) -> bool {
        ok(self.store.conservation()).holds()
    }
}

fn demo_terminal() -> Terminal {
    ok(Terminal::new(DEMO_TERMINAL, DEMO_MERCHANT, DEMO_TMK_HEX))
}

fn card() -> Card {
    Card::new(APPROVE_PAN, "3012")
}

fn pin_card() -> Card {
    Card::new(PIN_PAN, "3012").with_pin("123456")
}

async fn signed_in(app: &App) -> (Terminal, Connection) {
    let mut t = demo_terminal();
    let mut c = app.connect().await;
    let frame = ok(t.sign_in());
    let r = ok(t.accept_sign_in(&ok(c.call(&frame).await)));
    assert_eq!(r.code, "00", "sign-in: {}", r.text);
    assert!(t.signed_in());
    (t, c)
}

async fn sign_in(t: &mut Terminal, c: &mut Connection) -> Response {
    let frame = ok(t.sign_in());
    ok(t.accept_sign_in(&ok(c.call(&frame).await)))
}

async fn call(t: &Terminal, c: &mut Connection, frame: &[u8]) -> Response {
    ok(t.parse(&ok(c.call(frame).await)))
}

/// Sends a financial request and checks the response's MAC when approved.
async fn txn(
    t: &mut Terminal,
    c: &mut Connection,
    kind: Kind,
    card: &Card,
    amount: u64,
    original: Option<&Original>,
) -> (u32, Response) {
    let (stan, frame) = ok(t.request(kind, card, amount, original));
    let r = call(t, c, &frame).await;
    if r.code == "00" {
        assert_eq!(r.mac_ok, Some(true), "{kind:?}: response MAC");
    }
    assert_eq!(r.stan, Some(stan));
    (stan, r)
}

fn totals(debit: u64, debit_n: u16, credit: u64, credit_n: u16) -> SettlementTotals {
    SettlementTotals {
        domestic: Totals {
            debit_amount: debit,
            debit_count: debit_n,
            credit_amount: credit,
            credit_count: credit_n,
            reconciliation: 0,
        },
        foreign: Totals::default(),
    }
}

// Goal: every message type of the spec's table has its approve path over real TCP, with a
// valid response MAC, and the settlement that follows is balanced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_type_approves() {
    let app = spawn_app().await;
    let (mut t, mut c) = signed_in(&app).await;
    let batch = t.batch;
    let f = ok(t.echo());
    let r = call(&t, &mut c, &f).await;
    assert_eq!(r.code, "00");

    let (_, r) = txn(&mut t, &mut c, Kind::Balance, &pin_card(), 0, None).await;
    assert_eq!(r.code, "00", "{}", r.text);
    let bal = r.balance.unwrap_or_default();
    assert_eq!(bal, format!("1002156C{:012}", app.balance(PIN_PAN)));

    let before = app.balance(APPROVE_PAN);
    let (_, sale) = txn(&mut t, &mut c, Kind::Sale, &card(), 1_000, None).await;
    assert_eq!(sale.code, "00", "{}", sale.text);
    assert!(sale.rrn.is_some() && sale.auth_code.is_some());
    assert_eq!(app.balance(APPROVE_PAN), before - 1_000);
    let (_, void) = txn(
        &mut t,
        &mut c,
        Kind::Void,
        &card(),
        1_000,
        Some(&Original::of(&sale, batch)),
    )
    .await;
    assert_eq!(void.code, "00", "{}", void.text);
    assert_eq!(app.balance(APPROVE_PAN), before);
    // A void may also name its original by 61 (batch + STAN) alone.
    let (stan, sale) = txn(&mut t, &mut c, Kind::Sale, &card(), 700, None).await;
    assert_eq!(sale.code, "00");
    let by_stan = Original {
        batch,
        stan,
        ..Original::default()
    };
    let (_, void) = txn(&mut t, &mut c, Kind::Void, &card(), 700, Some(&by_stan)).await;
    assert_eq!(void.code, "00", "{}", void.text);
    assert_eq!(app.balance(APPROVE_PAN), before);

    let (_, sale2) = txn(&mut t, &mut c, Kind::Sale, &pin_card(), 5_000, None).await;
    assert_eq!(sale2.code, "00", "{}", sale2.text);
    let (_, refund) = txn(
        &mut t,
        &mut c,
        Kind::Refund,
        &pin_card(),
        1_500,
        Some(&Original::of(&sale2, batch)),
    )
    .await;
    assert_eq!(refund.code, "00", "{}", refund.text);

    let held_before = app.balance(APPROVE_PAN);
    let (_, pre) = txn(&mut t, &mut c, Kind::PreAuth, &card(), 10_000, None).await;
    assert_eq!(pre.code, "00", "{}", pre.text);
    assert_eq!(app.balance(APPROVE_PAN), held_before - 10_000);
    let (_, done) = txn(
        &mut t,
        &mut c,
        Kind::Completion,
        &card(),
        11_000,
        Some(&Original::of(&pre, batch)),
    )
    .await;
    assert_eq!(done.code, "00", "{}", done.text);
    assert_eq!(app.balance(APPROVE_PAN), held_before - 11_000);
    let (_, cvoid) = txn(
        &mut t,
        &mut c,
        Kind::CompletionVoid,
        &card(),
        11_000,
        Some(&Original::of(&done, batch)),
    )
    .await;
    assert_eq!(cvoid.code, "00", "{}", cvoid.text);
    assert_eq!(app.balance(APPROVE_PAN), held_before);

    let (_, pre2) = txn(&mut t, &mut c, Kind::PreAuth, &card(), 2_000, None).await;
    assert_eq!(pre2.code, "00");
    let (_, pvoid) = txn(
        &mut t,
        &mut c,
        Kind::PreAuthVoid,
        &card(),
        2_000,
        Some(&Original::of(&pre2, batch)),
    )
    .await;
    assert_eq!(pvoid.code, "00", "{}", pvoid.text);
    assert_eq!(app.balance(APPROVE_PAN), held_before);

    // Debit: sale2 (partly refunded, still counted); credit: the refund.
    let f = ok(t.settlement(&totals(5_000, 1, 1_500, 1)));
    let r = call(&t, &mut c, &f).await;
    assert_eq!(r.code, "00", "{}", r.text);
    let host = r.totals.unwrap_or_default();
    assert_eq!(host.domestic.reconciliation, 1, "balanced");
    assert_eq!(host.domestic.debit_amount, 5_000);
    assert_eq!(host.domestic.credit_amount, 1_500);
    assert_eq!(r.text, "对账平");

    let f = ok(t.batch_upload(true));

    let r = call(&t, &mut c, &f).await;
    assert_eq!(r.code, "00");
    let f = ok(t.sign_out());
    let r = call(&t, &mut c, &f).await;
    assert_eq!(r.code, "00");
    let (_, r) = txn(&mut t, &mut c, Kind::Sale, &card(), 100, None).await;
    assert_eq!(r.code, "77", "after sign-out");
    assert!(app.conservation_holds());
    app.running.shutdown().await;
}

// Goal: a terminal that is not registered gets 97 for sign-in, echo and transactions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_terminal_is_97() {
    let app = spawn_app().await;
    let mut t = ok(Terminal::new("87654321", DEMO_MERCHANT, DEMO_TMK_HEX));
    let mut c = app.connect().await;
    let f = ok(t.sign_in());
    let r = call(&t, &mut c, &f).await;
    assert_eq!(r.code, "97");
    assert_eq!(r.text, "终端未登记", "63.2 in GBK");
    let f = ok(t.echo());
    let r = call(&t, &mut c, &f).await;
    assert_eq!(r.code, "97");
    let b = ok(t.financial(Kind::Sale, &card(), 100, None, 7));
    let mut frame = Vec::new();
    ok(b.encode(&mut frame));
    let r = call(&t, &mut c, &frame).await;
    assert_eq!(r.code, "97");
    assert_eq!(app.txn_count(), 0);
}

// Goal: without a sign-in, and with a batch other than the open one, the host answers 77
// and asks for a new sign-in in the header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_sign_in_or_wrong_batch_is_77() {
    let app = spawn_app().await;
    let t = demo_terminal();
    let mut c = app.connect().await;
    let b = ok(t.financial(Kind::Sale, &card(), 100, None, 1));
    let mut frame = Vec::new();
    ok(b.encode(&mut frame));
    let r = call(&t, &mut c, &frame).await;
    assert_eq!(r.code, "77");
    assert_eq!(r.processing_requirement, 3);

    let (mut t, mut c) = signed_in(&app).await;
    t.batch += 1;
    let (_, r) = txn(&mut t, &mut c, Kind::Sale, &card(), 100, None).await;
    assert_eq!(r.code, "77");
    assert_eq!(r.processing_requirement, 3);
    assert_eq!(app.txn_count(), 0);
}

// Goal: a bad MAC is answered A0 and nothing changes in the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_mac_is_a0_and_changes_nothing() {
    let app = spawn_app().await;
    let (mut t, mut c) = signed_in(&app).await;
    let before = (app.balance(APPROVE_PAN), app.txn_count());
    let (_, mut frame) = ok(t.request(Kind::Sale, &card(), 1_000, None));
    let last = frame.len() - 1;
    frame[last] = if frame[last] == b'0' { b'1' } else { b'0' };
    let r = call(&t, &mut c, &frame).await;
    assert_eq!(r.code, "A0");
    assert_eq!((app.balance(APPROVE_PAN), app.txn_count()), before);
    let audit = ok(app.store.audit_entries(1000, 0)).len();
    let r = call(&t, &mut c, &frame).await;
    assert_eq!(r.code, "A0");
    assert_eq!(ok(app.store.audit_entries(1000, 0)).len(), audit);
}

// Goal: an identical retransmission gets the stored response (debited once); the same STAN
// with other content is 94.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retransmission_replays_and_other_content_is_94() {
    let app = spawn_app().await;
    let (mut t, mut c) = signed_in(&app).await;
    let before = app.balance(APPROVE_PAN);
    let (stan, frame) = ok(t.request(Kind::Sale, &card(), 2_500, None));
    let first = call(&t, &mut c, &frame).await;
    assert_eq!(first.code, "00");
    // "The response was lost": the terminal sends the same frame again, on a new connection.
    let mut c2 = app.connect().await;
    let again = call(&t, &mut c2, &frame).await;
    assert_eq!(again.code, "00");
    assert_eq!(again.rrn, first.rrn);
    assert_eq!(again.auth_code, first.auth_code);
    assert_eq!(again.mac_ok, Some(true));
    assert_eq!(app.balance(APPROVE_PAN), before - 2_500, "debited once");

    let b = ok(t.financial(Kind::Sale, &card(), 9_999, None, stan));
    let other = ok(t.mac(&b));
    let r = call(&t, &mut c, &other).await;
    assert_eq!(r.code, "94", "{}", r.text);
    assert_eq!(app.balance(APPROVE_PAN), before - 2_500);
    assert_eq!(app.txn_count(), 1);
}

// Goal: a frame whose TPDU, header and MTI read but whose fields do not decode is answered
// 30 and the connection stays usable; without a readable header the connection is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_after_header_is_30_else_closed() {
    let app = spawn_app().await;
    let (mut t, mut c) = signed_in(&app).await;
    let mut body = vec![
        0x60, 0x00, 0x03, 0x00, 0x00, 0x60, 0x22, 0x00, 0x00, 0x00, 0x00,
    ];
    body.extend_from_slice(&[0x02, 0x00]);
    body.extend_from_slice(&[0x70, 0x24, 0xFF, 0xEE, 0xDD, 0xCC, 0xBB, 0xAA, 0x99]);
    let mut frame = (body.len() as u16).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    let r = call(&t, &mut c, &frame).await;
    assert_eq!(r.code, "30");
    assert_eq!(r.mti.value(), 210);
    let echo = ok(t.echo());
    let r = call(&t, &mut c, &echo).await;
    assert_eq!(r.code, "00", "connection still usable");

    let junk = [0x00, 0x04, 0xDE, 0xAD, 0xBE, 0xEF];
    ok(c.send(&junk).await);
    assert!(ok(c.recv().await).is_none(), "closed");
}

// Goal: a frame announcing more than FRAME_BYTES_MAX closes the connection at once, and a
// frame that stalls mid-way (slow-loris) is cut off after frame_read_timeout_ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_and_slow_frames_close_the_connection() {
    let app = spawn_app().await;
    let mut c = app.connect().await;
    let over = (suanpan_iso8583::FRAME_BYTES_MAX as u16 + 1).to_be_bytes();
    ok(c.send(&over).await);
    ok(c.send(&[0u8; 64]).await);
    assert!(ok(c.recv().await).is_none());

    let mut c = app.connect().await;
    ok(c.send(&[0x00, 0x40, 0x60, 0x00]).await);
    let started = std::time::Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(5), c.recv()).await;
    assert!(matches!(closed, Ok(Ok(None))), "slow frame closed");
    assert!(started.elapsed() < Duration::from_secs(2));
}

// Goal: a connection that sends nothing is closed after idle_timeout_ms; a 60.1 the
// profile does not route is answered 40.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connection_closes_and_unknown_type_is_40() {
    let cfg = ServerConfig {
        idle_timeout_ms: 300,
        ..test_config()
    };
    let app = spawn_app_with(cfg).await;
    let mut idle = app.connect().await;
    let closed = tokio::time::timeout(Duration::from_secs(3), idle.recv()).await;
    assert!(matches!(closed, Ok(Ok(None))), "idle connection closed");

    let (t, mut c) = signed_in(&app).await;
    let mut b = ok(t.financial(Kind::Sale, &card(), 100, None, 77));
    ok(b.set_n(60, "24000001000"));
    let frame = ok(t.mac(&b));
    let r = call(&t, &mut c, &frame).await;
    assert_eq!(r.code, "40", "{}", r.text);
    assert_eq!(r.mac_ok, Some(true));
    assert_eq!(app.txn_count(), 0);
}

// Goal: connections beyond connections_max are closed at once; the others keep working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_flood_is_bounded() {
    let cfg = ServerConfig {
        connections_max: 4,
        ..test_config()
    };
    let app = spawn_app_with(cfg).await;
    let (mut t, mut c) = signed_in(&app).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(app.connect().await);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut extra = app.connect().await;
    let echo = ok(demo_terminal().echo());
    ok(extra.send(&echo).await);
    let r = tokio::time::timeout(Duration::from_secs(2), extra.recv()).await;
    assert!(
        matches!(r, Ok(Ok(None)) | Ok(Err(_))),
        "over the limit: closed"
    );
    let (_, r) = txn(&mut t, &mut c, Kind::Sale, &card(), 100, None).await;
    assert_eq!(r.code, "00");
    drop(held);
}

// Goal: a reversal after a sale whose response was "lost" restores the balance; sending it
// again, or reversing a STAN that never arrived, is answered 00 and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reversal_restores_and_is_idempotent() {
    let app = spawn_app().await;
    let (mut t, mut c) = signed_in(&app).await;
    let before = app.balance(APPROVE_PAN);
    let (stan, frame) = ok(t.request(Kind::Sale, &card(), 3_300, None));
    ok(c.send(&frame).await); // the response is dropped below: the terminal never reads it
    drop(c);
    // A terminal reverses after its response timeout, i.e. after the host booked the sale.
    for _ in 0..200 {
        if app.txn_count() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        app.balance(APPROVE_PAN),
        before - 3_300,
        "the sale was booked"
    );
    let mut c = app.connect().await;
    let rev = ok(t.reversal(Kind::Sale, &card(), 3_300, None, stan, "98"));
    let r = call(&t, &mut c, &rev).await;
    assert_eq!(r.code, "00", "{}", r.text);
    assert_eq!(r.mac_ok, Some(true));
    assert_eq!(app.balance(APPROVE_PAN), before);
    let r = call(&t, &mut c, &rev).await;
    assert_eq!(r.code, "00");
    assert_eq!(app.balance(APPROVE_PAN), before);
    let never = ok(t.reversal(Kind::Sale, &card(), 100, None, 4_242, "98"));
    let r = call(&t, &mut c, &never).await;
    assert_eq!(r.code, "00");
    assert_eq!(app.balance(APPROVE_PAN), before);
    // A reversed pre-authorization releases the issuer's hold.
    let (stan, pre) = txn(&mut t, &mut c, Kind::PreAuth, &card(), 7_000, None).await;
    assert_eq!(pre.code, "00");
    assert_eq!(app.balance(APPROVE_PAN), before - 7_000);
    let rev = ok(t.reversal(Kind::PreAuth, &card(), 7_000, None, stan, "96"));
    let r = call(&t, &mut c, &rev).await;
    assert_eq!(r.code, "00", "{}", r.text);
    assert_eq!(app.balance(APPROVE_PAN), before, "hold released");
    assert!(app.conservation_holds());
}

// Goal: reversing a sale that was voided since is answered 12 and changes nothing; so is
// reversing one whose batch was settled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reversal_of_voided_or_settled_is_12() {
    let app = spawn_app().await;
    let (mut t, mut c) = signed_in(&app).await;
    let before = app.balance(APPROVE_PAN);
    let (stan, sale) = txn(&mut t, &mut c, Kind::Sale, &card(), 800, None).await;
    let orig = Original::of(&sale, t.batch);
    let (_, v) = txn(&mut t, &mut c, Kind::Void, &card(), 800, Some(&orig)).await;
    assert_eq!(v.code, "00");
    let rev = ok(t.reversal(Kind::Sale, &card(), 800, None, stan, "98"));
    let r = call(&t, &mut c, &rev).await;
    assert_eq!(r.code, "12", "{}", r.text);
    assert_eq!(app.balance(APPROVE_PAN), before);

    let (stan, s2) = txn(&mut t, &mut c, Kind::Sale, &card(), 700, None).await;
    assert_eq!(s2.code, "00");
    let f = ok(t.settlement(&totals(700, 1, 0, 0)));
    let r = call(&t, &mut c, &f).await;
    assert_eq!(r.code, "00");
    let rev = ok(t.reversal(Kind::Sale, &card(), 700, None, stan, "98"));
    let r = call(&t, &mut c, &rev).await;
    assert_eq!(r.code, "12", "{}", r.text);
    assert_eq!(app.balance(APPROVE_PAN), before - 700);
}

// Goal: a payment channel disabled in the back-office refuses a terminal's sale over 8583
// with 12 and moves no money (the gate is the store engine's, so every adapter gets it);
// enabled again, the same card's sale is approved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_channel_refuses_a_terminal_sale_with_12() {
    use suanpan_store::backoffice::{Backoffice, StaffUser};
    let app = spawn_app().await;
    ok(app.store.ensure_backoffice_schema());
    let admin = StaffUser {
        id: 0,
        merchant_id: Some(ok(suanpan_core::MerchantId::parse(DEMO_MERCHANT))),
        username: "admin".into(),
        name: "管理员".into(),
        role: suanpan_core::backoffice::StaffRole::Admin,
        operator_no: None,
    };
    let set = |on: bool| {
        let done = app
            .store
            .set_channel_enabled(&admin, "unionpay", on, "测试", &[], &|_| Ok(()));
        assert_eq!(ok(done), Ok(true));
    };
    set(false);
    let (mut t, mut c) = signed_in(&app).await;
    let before = app.balance(APPROVE_PAN);
    let (_, r) = txn(&mut t, &mut c, Kind::Sale, &card(), 800, None).await;
    assert_eq!(r.code, "12", "{}", r.text);
    assert_eq!(app.balance(APPROVE_PAN), before);
    set(true);
    let (_, r) = txn(&mut t, &mut c, Kind::Sale, &card(), 800, None).await;
    assert_eq!(r.code, "00", "{}", r.text);
    assert_eq!(app.balance(APPROVE_PAN), before - 800);
}

// Goal: an unbalanced settlement is answered with the host's totals and code 2, the batch
// upload that follows is acknowledged, the next batch is open, and a retransmitted
// settlement of the closed batch gets the same totals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbalanced_settlement_then_batch_upload() {
    let app = spawn_app().await;
    let (mut t, mut c) = signed_in(&app).await;
    for amount in [1_000, 2_000] {
        let (_, r) = txn(&mut t, &mut c, Kind::Sale, &card(), amount, None).await;
        assert_eq!(r.code, "00");
    }
    let theirs = totals(1_000, 1, 0, 0);
    let frame = ok(t.settlement(&theirs));
    let r = call(&t, &mut c, &frame).await;
    assert_eq!(r.code, "00");
    let host = r.totals.unwrap_or_default();
    assert_eq!(host.domestic.reconciliation, 2);
    assert_eq!(
        (host.domestic.debit_amount, host.domestic.debit_count),
        (3_000, 2)
    );
    assert_eq!(r.text, "对账不平");
    for last in [false, false, true] {
        let f = ok(t.batch_upload(last));
        let r = call(&t, &mut c, &f).await;
        assert_eq!(r.code, "00");
    }
    let again = call(&t, &mut c, &frame).await;
    assert_eq!(again.code, "00");
    assert_eq!(
        again.totals.unwrap_or_default().domestic.debit_amount,
        3_000
    );
    let (_, r) = txn(&mut t, &mut c, Kind::Sale, &card(), 100, None).await;
    assert_eq!(r.code, "77", "the terminal's batch is closed");
    let r = sign_in(&mut t, &mut c).await;
    assert_eq!(r.code, "00");
    assert_eq!(t.batch, 2);
    let (_, r) = txn(&mut t, &mut c, Kind::Sale, &card(), 100, None).await;
    assert_eq!(r.code, "00");
}

// Goal: many terminals at once, each on its own connection, all approved, none lost or
// duplicated, and money is conserved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_terminals_concurrently() {
    const TERMINALS: usize = 12;
    const SALES: usize = 15;
    let app = spawn_app().await;
    let merchant = ok(suanpan_core::MerchantId::parse(DEMO_MERCHANT));
    let ids: Vec<String> = (0..TERMINALS).map(|i| format!("T{i:07}")).collect();
    for id in &ids {
        let tid = ok(suanpan_core::TerminalId::parse(id));
        ok(app.store.add_terminal(&tid, &merchant, Some(DEMO_TMK_HEX)));
    }
    let before = app.balance(APPROVE_PAN);
    let addr = app.addr();
    let mut tasks = Vec::new();
    for id in ids {
        tasks.push(tokio::spawn(async move {
            let mut t = ok(Terminal::new(&id, DEMO_MERCHANT, DEMO_TMK_HEX));
            let mut c = ok(Connection::connect(addr).await);
            let r = sign_in(&mut t, &mut c).await;
            assert_eq!(r.code, "00");
            for _ in 0..SALES {
                let (_, r) = txn(&mut t, &mut c, Kind::Sale, &card(), 10, None).await;
                assert_eq!(r.code, "00", "{id}: {}", r.text);
            }
        }));
    }
    for task in tasks {
        ok(task.await);
    }
    let total = (TERMINALS * SALES) as i64;
    assert_eq!(app.txn_count(), total);
    assert_eq!(app.balance(APPROVE_PAN), before - 10 * total);
    assert!(app.conservation_holds());
}

// Goal: after a host restart the sessions are gone: the next MACed request is 77, and a new
// sign-in works on the same store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_requires_sign_in() {
    let app = spawn_app().await;
    let (mut t, mut c) = signed_in(&app).await;
    let (_, r) = txn(&mut t, &mut c, Kind::Sale, &card(), 100, None).await;
    assert_eq!(r.code, "00");
    drop(c);
    let App {
        running,
        store,
        fp,
        _dir,
    } = app;
    running.shutdown().await;
    let running = ok(suanpan_host::start(store.clone(), fp.clone(), test_config()).await);
    let app = App {
        running,
        store,
        fp,
        _dir,
    };
    let mut c = app.connect().await;
    let (_, r) = txn(&mut t, &mut c, Kind::Sale, &card(), 100, None).await;
    assert_eq!(r.code, "77");
    let r = sign_in(&mut t, &mut c).await;
    assert_eq!(r.code, "00");
    let (_, r) = txn(&mut t, &mut c, Kind::Sale, &card(), 100, None).await;
    assert_eq!(r.code, "00");
}

// Goal: each refusal row of the spec's table that a terminal can provoke comes back with its
// code and 63.2 text: 51, 64, 25, 55, 75, 13, 14, 54, 41, 43, 12, 03.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_carry_code_and_text() {
    let app = spawn_app().await;
    let (mut t, mut c) = signed_in(&app).await;
    let poor = Card::new("6228480012345678903", "3012");
    let (_, r) = txn(&mut t, &mut c, Kind::Sale, &poor, 100_000, None).await;
    assert_eq!(r.code, "51");
    let (_, sale) = txn(&mut t, &mut c, Kind::Sale, &card(), 500, None).await;
    let orig = Original::of(&sale, t.batch);
    let (_, r) = txn(&mut t, &mut c, Kind::Void, &card(), 400, Some(&orig)).await;
    assert_eq!(r.code, "64", "{}", r.text);
    let ghost = Original {
        rrn: Some("999999999999".into()),
        ..orig.clone()
    };
    let (_, r) = txn(&mut t, &mut c, Kind::Refund, &card(), 100, Some(&ghost)).await;
    assert_eq!(r.code, "25", "{}", r.text);
    assert!(!r.text.is_empty());
    let wrong = Card::new(PIN_PAN, "3012").with_pin("654321");
    let (_, r) = txn(&mut t, &mut c, Kind::Sale, &wrong, 100, None).await;
    assert_eq!(r.code, "55", "{}", r.text);
    let mut codes = Vec::new();
    for _ in 0..4 {
        let (_, r) = txn(&mut t, &mut c, Kind::Sale, &wrong, 100, None).await;
        codes.push(r.code);
    }
    assert!(
        codes.iter().any(|c| c == "75"),
        "PIN tries exceeded: {codes:?}"
    );

    let (_, r) = txn(&mut t, &mut c, Kind::Sale, &card(), 0, None).await;
    assert_eq!(r.code, "13", "zero amount: {}", r.text);
    let typo = Card::new("6222021234567890127", "3012");
    let (_, r) = txn(&mut t, &mut c, Kind::Sale, &typo, 100, None).await;
    assert_eq!(r.code, "14", "Luhn: {}", r.text);
    for (pan, expiry, code) in [
        ("6217001234567893", "2401", "54"),
        ("6013821234567890", "3012", "41"),
        ("6226091234567893", "3012", "43"),
    ] {
        let (_, r) = txn(
            &mut t,
            &mut c,
            Kind::Sale,
            &Card::new(pan, expiry),
            100,
            None,
        )
        .await;
        assert_eq!(r.code, code, "{pan}: {}", r.text);
    }
    let (_, v) = txn(&mut t, &mut c, Kind::Void, &card(), 500, Some(&orig)).await;
    assert_eq!(v.code, "00");
    let (_, r) = txn(&mut t, &mut c, Kind::Void, &card(), 500, Some(&orig)).await;
    assert_eq!(r.code, "12", "void twice: {}", r.text);

    let mut other = ok(Terminal::new(
        DEMO_TERMINAL,
        "999999999999999",
        DEMO_TMK_HEX,
    ));
    let mut c2 = app.connect().await;
    let r = sign_in(&mut other, &mut c2).await;
    assert_eq!(r.code, "03", "merchant mismatch: {}", r.text);
}

// Goal: /healthz answers, and /metrics shows requests by MTI and response code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_metrics() {
    let app = spawn_app().await;
    let (mut t, mut c) = signed_in(&app).await;
    let _ = txn(&mut t, &mut c, Kind::Sale, &card(), 100, None).await;
    let health = http_get(app.running.http_addr, "/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let metrics = http_get(app.running.http_addr, "/metrics").await;
    assert!(
        metrics.contains("suanpan_8583_requests_total{mti=\"0200\",code=\"00\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("suanpan_8583_request_seconds_bucket"));
    assert!(metrics.contains("suanpan_8583_open_connections"));
}

async fn http_get(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = ok(tokio::net::TcpStream::connect(addr).await);
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    ok(s.write_all(req.as_bytes()).await);
    let mut out = String::new();
    ok(s.read_to_string(&mut out).await);
    out
}

// Goal: the scheduler settles a batch whose business day passed the cutoff and releases
// pre-auth holds past their hold days; the terminal is then told to sign in again (77) and
// gets the next batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_settles_due_batches_and_expires_holds() {
    let start: jiff::Timestamp = ok("2026-11-25T04:00:00Z".parse());
    let clock = Arc::new(suanpan_core::clock::FixedClock::new(start));
    let opts = OpenOptions {
        clock: clock.clone(),
        ..suanpan_service::open_options()
    };
    let cfg = ServerConfig {
        scheduler_interval_ms: 50,
        ..test_config()
    };
    let app = spawn_app_on(cfg, opts).await;
    let (mut t, mut c) = signed_in(&app).await;
    let before = app.balance(APPROVE_PAN);
    let (_, pre) = txn(&mut t, &mut c, Kind::PreAuth, &card(), 4_000, None).await;
    assert_eq!(pre.code, "00");
    let (_, sale) = txn(&mut t, &mut c, Kind::Sale, &card(), 600, None).await;
    assert_eq!(sale.code, "00");
    assert_eq!(app.balance(APPROVE_PAN), before - 4_600);

    clock.set(ok(
        start.checked_add(jiff::SignedDuration::from_hours(31 * 24))
    ));
    let mut settled = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let batch = ok(app.store.terminals())
            .into_iter()
            .find(|x| x.id == DEMO_TERMINAL)
            .map(|x| x.batch_no);
        if batch == Some(2) && app.balance(APPROVE_PAN) == before - 600 {
            settled = true;
            break;
        }
    }
    assert!(settled, "batch settled at the cutoff and the hold released");
    let (_, r) = txn(&mut t, &mut c, Kind::Sale, &card(), 100, None).await;
    assert_eq!(r.code, "77");
    let r = sign_in(&mut t, &mut c).await;
    assert_eq!(r.code, "00");
    assert_eq!(t.batch, 2);
}

// Goal: a registered terminal without a master key cannot sign in (97 with the reason), a
// malformed key is refused by the store, and a loaded one works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_needs_a_master_key() {
    let app = spawn_app().await;
    let merchant = ok(suanpan_core::MerchantId::parse(DEMO_MERCHANT));
    let tid = ok(suanpan_core::TerminalId::parse("NOKEY001"));
    ok(app.store.add_terminal(&tid, &merchant, None));
    let mut t = ok(Terminal::new("NOKEY001", DEMO_MERCHANT, DEMO_TMK_HEX));
    let mut c = app.connect().await;
    let r = sign_in(&mut t, &mut c).await;
    assert_eq!(r.code, "97");
    assert_eq!(r.text, "终端主密钥未装载");
    assert!(app.store.set_terminal_tmk(&tid, "0123").is_err());
    assert!(ok(app.store.set_terminal_tmk(&tid, DEMO_TMK_HEX)));
    let r = sign_in(&mut t, &mut c).await;
    assert_eq!(r.code, "00");
}

// Goal (issue 14): an accepted sign-in is recorded for the acquirer's terminal list — when,
// the operator, and the 0800 header's software version and status digit; a refused one
// (no master key) records nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_sign_in_is_recorded_for_the_terminal_list() {
    let app = spawn_app().await;
    let merchant = ok(suanpan_core::MerchantId::parse(DEMO_MERCHANT));
    let tid = ok(suanpan_core::TerminalId::parse("NOKEY002"));
    ok(app.store.add_terminal(&tid, &merchant, None));
    let mut t = ok(Terminal::new("NOKEY002", DEMO_MERCHANT, DEMO_TMK_HEX));
    let mut c = app.connect().await;
    assert_eq!(sign_in(&mut t, &mut c).await.code, "97");
    let seen = |id: &suanpan_core::TerminalId| {
        ok(suanpan_store::fleet::one(&*app.store, id)).and_then(|t| t.last_sign_in)
    };
    assert_eq!(seen(&tid), None, "a refused sign-in is not a sign-in");
    assert!(ok(app.store.set_terminal_tmk(&tid, DEMO_TMK_HEX)));
    let before = app.store.now().as_microsecond();
    assert_eq!(sign_in(&mut t, &mut c).await.code, "00");
    let s = seen(&tid).expect("recorded");
    assert!(s.at >= before, "{s:?}");
    assert_eq!(
        (s.software_version, s.terminal_status),
        (22, 0),
        "the CUPS header: {s:?}"
    );
    assert_eq!(s.operator.to_string(), "01", "{s:?}");
}

// Goal: the per-operator daily void limit comes back as 65 over 8583, with its text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn void_limit_is_65() {
    let opts = OpenOptions {
        policy: suanpan_core::Policy {
            void_max_per_operator_per_day: 1,
            ..suanpan_core::Policy::default()
        },
        ..suanpan_service::open_options()
    };
    let app = spawn_app_on(test_config(), opts).await;
    let (mut t, mut c) = signed_in(&app).await;
    let batch = t.batch;
    let mut results = Vec::new();
    for _ in 0..2 {
        let (_, sale) = txn(&mut t, &mut c, Kind::Sale, &card(), 300, None).await;
        let orig = Original::of(&sale, batch);
        let (_, v) = txn(&mut t, &mut c, Kind::Void, &card(), 300, Some(&orig)).await;
        results.push((v.code, v.text));
    }
    assert_eq!(results[0].0, "00");
    assert_eq!(results[1].0, "65", "{}", results[1].1);
    assert!(!results[1].1.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn training_header_moves_no_money_and_recharge_link_is_stored() {
    // Goal: terminal status 1 in the header books a training sale that moves no money, and a
    // sale carrying 61 (batch + STAN of a voided sale) is stored with linked_id pointing at
    // it; a link to a sale that does not exist is refused 25 and books nothing.
    let app = spawn_app().await;
    let (mut t, mut c) = signed_in(&app).await;
    let before = app.balance(APPROVE_PAN);
    t.training = true;
    let (_, r) = txn(&mut t, &mut c, Kind::Sale, &card(), 1_000, None).await;
    assert_eq!(r.code, "00", "{}", r.text);
    assert_eq!(app.balance(APPROVE_PAN), before, "training moves no money");
    let training: i64 = ok(app.store.read(|c| {
        c.query_row("SELECT COUNT(*) FROM txns WHERE training = 1", [], |r| {
            r.get(0)
        })
    }));
    assert_eq!(training, 1);

    t.training = false;
    let (stan, sale) = txn(&mut t, &mut c, Kind::Sale, &card(), 2_500, None).await;
    assert_eq!(sale.code, "00");
    let orig = Original::of(&sale, t.batch);
    let (_, void) = txn(&mut t, &mut c, Kind::Void, &card(), 2_500, Some(&orig)).await;
    assert_eq!(void.code, "00", "{}", void.text);
    let link = Original {
        rrn: None,
        auth_code: None,
        batch: t.batch,
        stan,
    };
    let (_, again) = txn(&mut t, &mut c, Kind::Sale, &card(), 2_500, Some(&link)).await;
    assert_eq!(again.code, "00", "{}", again.text);
    let (linked, voided): (i64, i64) = ok(app.store.read(|c| {
        c.query_row(
            "SELECT s.linked_id, o.id FROM txns s, txns o
             WHERE s.rrn = ?1 AND o.rrn = ?2",
            rusqlite::params![
                again.rrn.as_deref().unwrap_or(""),
                sale.rrn.as_deref().unwrap_or("")
            ],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }));
    assert_eq!(linked, voided, "the re-charge is linked to the voided sale");

    let count = app.txn_count();
    let nowhere = Original {
        stan: 999_000,
        ..link
    };
    let (_, r) = txn(&mut t, &mut c, Kind::Sale, &card(), 2_500, Some(&nowhere)).await;
    assert_eq!(r.code, "25", "{}", r.text);
    assert_eq!(app.txn_count(), count, "a refused link books nothing");
    assert!(app.conservation_holds());
}

// ----- what real terminals send (issue 17, shared/spec/cups-real-vectors.md) -------------

/// Offset of the header's 3 reserved bytes in a frame with its length prefix.
const RESERVED_AT: usize = 2 + 5 + 3;
/// Offset of the bitmap in a frame with its length prefix.
const BITMAP_AT: usize = 2 + 5 + 6 + 2;

/// Writes vendor values into the header's reserved bytes (seen in real traffic: `32FFF1`).
fn vendor_header(frame: &mut [u8]) {
    frame[RESERVED_AT..RESERVED_AT + 3].copy_from_slice(&[0x32, 0xFF, 0xF1]);
}

/// The frame of `b` with field 60 replaced by `digits` (any length the strict encoder would
/// refuse) and, when signed in, a fresh MAC. Field 60 must be the last field before 64.
fn with_raw_field60(t: &Terminal, b: &suanpan_iso8583::MessageBuilder, digits: &str) -> Vec<u8> {
    let mut b = b.clone();
    b.remove(60).remove(64);
    let mut out = Vec::new();
    ok(b.encode(&mut out));
    out[BITMAP_AT + 7] |= 0x10; // field 60
    let len = format!("{:04}", digits.len());
    out.extend(ok(hex::decode(len)));
    let mut padded = digits.to_owned();
    if padded.len() % 2 == 1 {
        padded.push('0');
    }
    out.extend(ok(hex::decode(padded)));
    if t.signed_in() {
        out[BITMAP_AT + 7] |= 0x01; // field 64
        out.extend([0u8; 8]);
        ok(t.remac(&mut out));
    }
    let body = u16::try_from(out.len() - 2).unwrap_or(0);
    out[..2].copy_from_slice(&body.to_be_bytes());
    out
}

/// A sale from `t` as a real chip terminal may send it: its serial and location in 59, a
/// 19-digit field 60 and vendor bytes in the header.
fn field_sale(t: &mut Terminal, info: &str) -> (u32, Vec<u8>) {
    let stan = t.next_stan();
    t.field59 = Some(info.to_owned());
    let b = ok(t.financial(Kind::Sale, &card(), 1_234, None, stan));
    t.field59 = None;
    let f60 = format!("22{:06}000500123456", t.batch);
    let mut frame = with_raw_field60(t, &b, &f60);
    vendor_header(&mut frame);
    (stan, frame)
}

// Goal: vendor bytes in the header, a 19-digit field 60 and field 59 each get a business
// answer over TCP — 97 from an unknown terminal, 00 from a registered one — never 30 and
// never a closed connection; field 59 is stored with the transaction as received.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_terminal_variations_get_business_answers() {
    let app = spawn_app().await;
    let mut c = app.connect().await;

    // Vector F10d as published (header reserved bytes `32FFF1`, application type 61,
    // version 32, 60.3 `960`) from terminal 29800015, which this host does not know.
    let f10d = ok(hex::decode(
        "0039600003000061320032FFF108000000000000C00014323938303030313538343832393034343131313630303000110000000196000003000000",
    ));
    let reader = demo_terminal();
    assert_eq!(call(&reader, &mut c, &f10d).await.code, "97", "F10d");

    let mut stranger = ok(Terminal::new("87654321", DEMO_MERCHANT, DEMO_TMK_HEX));
    let mut f = ok(stranger.sign_in());
    vendor_header(&mut f);
    assert_eq!(
        call(&stranger, &mut c, &f).await.code,
        "97",
        "vendor header"
    );
    let (_, f) = field_sale(&mut stranger, "0110SN00000001");
    assert_eq!(
        call(&stranger, &mut c, &f).await.code,
        "97",
        "19-digit 60 + 59"
    );
    let b = ok(stranger.financial(Kind::Sale, &card(), 100, None, 9));
    let f = with_raw_field60(&stranger, &b, "22000001");
    assert_eq!(call(&stranger, &mut c, &f).await.code, "97", "8-digit 60");
    let f = with_raw_field60(&stranger, &b, "2200000100050123456");
    assert_eq!(
        call(&stranger, &mut c, &f).await.code,
        "97",
        "19-digit 60 alone"
    );
    stranger.field59 = Some("0110SN00000001".into());
    let mut f = Vec::new();
    ok(ok(stranger.financial(Kind::Sale, &card(), 100, None, 10)).encode(&mut f));
    assert_eq!(call(&stranger, &mut c, &f).await.code, "97", "59 alone");
    assert_eq!(app.txn_count(), 0);

    let mut t = demo_terminal();
    let mut f = ok(t.sign_in());
    vendor_header(&mut f);
    let r = ok(t.accept_sign_in(&ok(c.call(&f).await)));
    assert_eq!(r.code, "00", "sign-in with vendor header: {}", r.text);
    let info = "0114SN8C2004123456710216LAT31.23LON121.47";
    let (stan, f) = field_sale(&mut t, info);
    let r = call(&t, &mut c, &f).await;
    assert_eq!(r.code, "00", "{}", r.text);
    assert_eq!(r.stan, Some(stan));
    assert_eq!(
        r.mac_ok,
        Some(true),
        "the answer is MACed with the single-length MAK"
    );
    let stored: Option<String> = ok(app.store.read(|c| {
        c.query_row(
            "SELECT terminal_info FROM txns WHERE rrn = ?1",
            [r.rrn.as_deref().unwrap_or("")],
            |r| r.get(0),
        )
    }));
    assert_eq!(stored.as_deref(), Some(info), "field 59 stored as received");

    // The identical retransmission (59 is part of the MAC block and the request hash) is
    // replayed, not booked twice.
    let count = app.txn_count();
    let again = call(&t, &mut c, &f).await;
    assert_eq!((again.code.as_str(), again.rrn), ("00", r.rrn.clone()));
    assert_eq!(app.txn_count(), count);

    // Field 59 alone, through the emulator's own encoder.
    t.field59 = Some("0110SN00000002".into());
    let (_, r) = txn(&mut t, &mut c, Kind::Sale, &card(), 100, None).await;
    assert_eq!(r.code, "00", "{}", r.text);
    t.field59 = None;

    // An 8-digit field 60 (60.1 and 60.2 only) is a sale too.
    let stan = t.next_stan();
    let b = ok(t.financial(Kind::Sale, &card(), 100, None, stan));
    let f = with_raw_field60(&t, &b, &format!("22{:06}", t.batch));
    let r = call(&t, &mut c, &f).await;
    assert_eq!(r.code, "00", "{}", r.text);
    assert!(app.conservation_holds());
}

// Goal: the three sign-in layouts over TCP: `001` gets a 24-byte field 62 (single-length PIK
// and MAK) and a PIN sale then works under single DES; `003` gets 40 bytes with the MAK's 8
// zero bytes; `004` is refused with 40 and says why, and opens no session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_key_layouts() {
    use suanpan_iso8583::{KeyLayout, Message};
    let app = spawn_app().await;
    let mut c = app.connect().await;

    let mut t = demo_terminal();
    t.key_layout = KeyLayout::Single;
    let body = ok(c.call(&ok(t.sign_in())).await);
    let keys = ok(ok(Message::decode(&body)).working_keys());
    assert_eq!(keys.layout(), KeyLayout::Single);
    assert_eq!(keys.as_bytes().len(), 24);
    assert_eq!(ok(t.accept_sign_in(&body)).code, "00");
    let (_, r) = txn(&mut t, &mut c, Kind::Sale, &pin_card(), 500, None).await;
    assert_eq!(r.code, "00", "PIN under a single-length PIK: {}", r.text);

    let mut t = demo_terminal();
    t.stan = 100; // the same terminal: its vouchers go on
    let body = ok(c.call(&ok(t.sign_in())).await);
    let keys = ok(ok(Message::decode(&body)).working_keys());
    assert_eq!(keys.layout(), KeyLayout::Double);
    assert_eq!(&keys.as_bytes()[28..36], &[0u8; 8]);
    assert_eq!(ok(t.accept_sign_in(&body)).code, "00");
    let (_, r) = txn(&mut t, &mut c, Kind::Sale, &pin_card(), 500, None).await;
    assert_eq!(r.code, "00", "{}", r.text);

    let mut t = demo_terminal();
    t.key_layout = KeyLayout::DoubleWithTrack;
    let r = sign_in(&mut t, &mut c).await;
    assert_eq!(r.code, "40");
    assert!(
        r.text.contains("004") && r.text.contains("003"),
        "{}",
        r.text
    );
    assert!(!t.signed_in());
}

// Goal: a terminal that signed in before the upgrade holds a 16-byte MAK; after the upgrade
// (a new host process: sessions live in memory only) its next MACed request is answered 77
// with processing requirement 3, books nothing, and the same request sent again after a new
// sign-in (single-length MAK) is booked once — nothing it sent is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_layout_session_is_asked_to_sign_in_again() {
    let app = spawn_app().await;
    let mut t = demo_terminal();
    let mut c = app.connect().await;
    // Before the upgrade: a sale MACed under an old 16-byte MAK. "4917FD79" is what the
    // MAK 0F1E…E1F0 gave as a double-length key (the codec's former vector); the new host
    // has no session to check any MAC against.
    let stan = t.next_stan();
    let b = ok(t.financial(Kind::Sale, &card(), 4_200, None, stan));
    let mut with_old_mac = b.clone();
    ok(with_old_mac.set_b(64, b"4917FD79"));
    let mut old = Vec::new();
    ok(with_old_mac.encode(&mut old));
    let before = app.balance(APPROVE_PAN);
    let r = call(&t, &mut c, &old).await;
    assert_eq!(r.code, "77", "{}", r.text);
    assert_eq!(r.processing_requirement, 3);
    assert_eq!(app.txn_count(), 0, "nothing booked");
    // The terminal signs in again and sends the same request (same STAN) under the new MAK.
    assert_eq!(sign_in(&mut t, &mut c).await.code, "00");
    let frame = ok(t.mac(&b));
    let r = call(&t, &mut c, &frame).await;
    assert_eq!(r.code, "00", "{}", r.text);
    assert_eq!(r.stan, Some(stan));
    assert_eq!(r.mac_ok, Some(true));
    assert_eq!(app.txn_count(), 1);
    assert_eq!(app.balance(APPROVE_PAN), before - 4_200);
}
