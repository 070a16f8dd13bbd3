//! Issue 11, the wire side: what a man in the middle or a keyless peer can do to the 8583
//! port. Each finding is reproduced and now refused: a keyless or forged sign-in,
//! settlement, batch upload, sign-out or echo changes nothing (and is audited); a
//! cancelling amount flip passes the POS ECB MAC but not X9.19; working keys end after
//! `working_key_max_hours`.

use std::net::SocketAddr;
use std::sync::Arc;
use suanpan_host::client::{Card, Connection, Kind, Response, Terminal};
use suanpan_host::{Running, ServerConfig};
use suanpan_iso8583::{MacAlgorithm, Message, SettlementTotals, Totals};
use suanpan_store::admin::{DEMO_MERCHANT, DEMO_TERMINAL, DEMO_TMK_HEX};
use suanpan_store::{Fingerprinter, OpenOptions, SqliteStore};

/// 19 digits: field 2 takes 1 + 10 bytes, which puts field 3 and the last byte of field 4
/// 8 bytes apart in the MAC block (see `cancelling_flip`).
const APPROVE_PAN: &str = "6222021234567890128";

struct App {
    running: Running,
    store: Arc<SqliteStore>,
    fp: Fingerprinter,
    _dir: tempfile::TempDir,
}

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn config() -> ServerConfig {
    ServerConfig {
        iso8583_addr: "127.0.0.1:0".into(),
        http_addr: "127.0.0.1:0".into(),
        scheduler_interval_ms: 3_600_000,
        ..ServerConfig::default()
    }
}

async fn spawn(cfg: ServerConfig, opts: OpenOptions) -> App {
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

    fn balance(&self) -> i64 {
        let pan = ok(suanpan_core::Pan::parse(APPROVE_PAN));
        let a = ok(self
            .store
            .read(|c| suanpan_store::query::load_account(c, &self.fp.of(&pan))));
        let a = a.unwrap_or_else(|| panic!("no account"));
        a.balance_fen - a.held_fen
    }

    fn txn_count(&self) -> i64 {
        ok(self
            .store
            .read(|c| c.query_row("SELECT COUNT(*) FROM txns", [], |r| r.get(0))))
    }

    fn batch_no(&self) -> u32 {
        let tid = ok(suanpan_core::TerminalId::parse(DEMO_TERMINAL));
        ok(ok(self.store.terminal(&tid)).map_err(|r| format!("{r:?}")))
            .batch_no
            .value()
    }

    /// Audit entries whose action is `action`.
    fn audited(&self, action: &str) -> usize {
        ok(self.store.audit_entries(1000, 0))
            .iter()
            .filter(|e| e.action == action)
            .count()
    }
}

fn terminal(mac: MacAlgorithm) -> Terminal {
    let mut t = ok(Terminal::new(DEMO_TERMINAL, DEMO_MERCHANT, DEMO_TMK_HEX));
    t.mac_algorithm = mac;
    t
}

async fn sign_in(t: &mut Terminal, c: &mut Connection) -> Response {
    let frame = ok(t.sign_in());
    ok(t.accept_sign_in(&ok(c.call(&frame).await)))
}

async fn call(t: &Terminal, c: &mut Connection, frame: &[u8]) -> Response {
    ok(t.parse(&ok(c.call(frame).await)))
}

async fn sale(t: &mut Terminal, c: &mut Connection, fen: u64) -> Response {
    let (_, frame) = ok(t.request(Kind::Sale, &Card::new(APPROVE_PAN, "3012"), fen, None));
    call(t, c, &frame).await
}

/// Offset of the bitmap's last byte in a frame: length (2), TPDU (5), header (6), MTI (2),
/// then 8 bytes of primary bitmap.
const BITMAP_LAST: usize = 2 + 5 + 6 + 2 + 7;

/// The frame without field 64: bit 64 cleared, the last 8 bytes cut, the length fixed.
fn strip_mac(frame: &[u8]) -> Vec<u8> {
    let mut out = frame[..frame.len() - 8].to_vec();
    assert_eq!(out[BITMAP_LAST] & 1, 1, "the frame carried field 64");
    out[BITMAP_LAST] &= !1;
    let len = u16::try_from(out.len() - 2).unwrap_or(0).to_be_bytes();
    out[..2].copy_from_slice(&len);
    out
}

/// The frame with its MAC's last byte changed.
fn wrong_mac(frame: &[u8]) -> Vec<u8> {
    let mut out = frame.to_vec();
    let last = out.len() - 1;
    out[last] ^= 0x01;
    out
}

fn totals(debit: u64, n: u16) -> SettlementTotals {
    SettlementTotals {
        domestic: Totals {
            debit_amount: debit,
            debit_count: n,
            ..Totals::default()
        },
        foreign: Totals::default(),
    }
}

// Goal (finding 5): a keyless 0800, or one MACed under another TMK, is refused (30 / A0),
// audited, and the live session goes on: the real terminal still sells.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyless_or_forged_sign_in_changes_nothing() {
    let app = spawn(config(), OpenOptions::default()).await;
    let mut t = terminal(MacAlgorithm::PosEcb);
    let mut c = ok(Connection::connect(app.addr()).await);
    assert_eq!(sign_in(&mut t, &mut c).await.code, "00");

    let mut attacker = terminal(MacAlgorithm::PosEcb);
    attacker.stan = 500;
    let keyless = {
        let b = ok(attacker.sign_in_fields());
        let mut out = Vec::new();
        ok(b.encode(&mut out));
        out
    };
    let mut a = ok(Connection::connect(app.addr()).await);
    let r = call(&attacker, &mut a, &keyless).await;
    assert_eq!(r.code, "30", "{}", r.text);
    let mut forger = ok(Terminal::new(
        DEMO_TERMINAL,
        DEMO_MERCHANT,
        "0123456789ABCDEF0123456789ABCDE0",
    ));
    forger.stan = 600;
    let frame = ok(forger.sign_in());
    let r = ok(forger.accept_sign_in(&ok(a.call(&frame).await)));
    assert_eq!(r.code, "A0", "{}", r.text);
    assert!(!forger.signed_in());
    assert_eq!(app.audited("8583.0800.refused"), 2);

    let r = sale(&mut t, &mut c, 100).await;
    assert_eq!(r.code, "00", "the real session still works: {}", r.text);
    assert_eq!(r.mac_ok, Some(true));
}

// Goal (finding 5): a keyless or wrongly MACed 0500 settles nothing, 0820 signs nothing
// out, 0320 and the echo are refused; each is audited; the session and the batch go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyless_management_messages_change_nothing() {
    let app = spawn(config(), OpenOptions::default()).await;
    let mut t = terminal(MacAlgorithm::PosEcb);
    let mut c = ok(Connection::connect(app.addr()).await);
    assert_eq!(sign_in(&mut t, &mut c).await.code, "00");
    assert_eq!(sale(&mut t, &mut c, 100).await.code, "00");
    let (batch, txns) = (app.batch_no(), app.txn_count());

    let settlement = ok(t.settlement(&totals(100, 1)));
    let sign_out = ok(t.sign_out());
    let echo = ok(t.echo());
    let upload = ok(t.batch_upload(true));
    for (frame, action) in [
        (&settlement, "8583.0500.refused"),
        (&sign_out, "8583.0820.refused"),
        (&echo, "8583.0820.refused"),
        (&upload, "8583.0320.refused"),
    ] {
        let r = call(&t, &mut c, &strip_mac(frame)).await;
        assert_eq!(r.code, "30", "{action} keyless: {}", r.text);
        let r = call(&t, &mut c, &wrong_mac(frame)).await;
        assert_eq!(r.code, "A0", "{action} forged: {}", r.text);
        assert!(app.audited(action) >= 2, "{action} audited");
    }
    assert_eq!(
        (app.batch_no(), app.txn_count()),
        (batch, txns),
        "nothing settled"
    );
    let r = sale(&mut t, &mut c, 100).await;
    assert_eq!(r.code, "00", "still signed in: {}", r.text);

    // The genuine ones pass, and their answers carry the session MAC.
    let frame = ok(t.settlement(&totals(200, 2)));
    let r = call(&t, &mut c, &frame).await;
    assert_eq!(
        (r.code.as_str(), r.mac_ok),
        ("00", Some(true)),
        "{}",
        r.text
    );
    assert_eq!(app.batch_no(), batch + 1);
    let frame = ok(t.sign_out());
    let r = call(&t, &mut c, &frame).await;
    assert_eq!(
        (r.code.as_str(), r.mac_ok),
        ("00", Some(true)),
        "{}",
        r.text
    );
    let r = sale(&mut t, &mut c, 100).await;
    assert_eq!(r.code, "77", "signed out");
}

/// Finding 4: ¥1.00 raised to ¥1.90 by XORing 0x90 into the last byte of field 4 and into
/// the byte 8 earlier in the MAC block (the first byte of field 3, which the host does not
/// route by): under the POS ECB MAC the two changes cancel.
fn cancelling_flip(frame: &[u8]) -> Vec<u8> {
    // MAC block offset in the frame: length (2), TPDU (5), header (6).
    let mab = 2 + 5 + 6;
    // MTI (2) + bitmap (8) + field 2 (1 + 10) = 21: field 3 at 21..24, field 4 at 24..30.
    let mut out = frame.to_vec();
    out[mab + 21] ^= 0x90;
    out[mab + 29] ^= 0x90;
    let msg = ok(Message::decode(&out[2..]));
    assert_eq!(ok(msg.u64(4)), 190, "the forged amount");
    assert_eq!(ok(msg.digits(3)), "900000");
    out
}

// Goal (finding 4, reproduced): under the POS ECB MAC the cancelling flip is booked as
// ¥1.90 with a valid MAC: the weakness docs/ISO8583.md describes, why X9.19 exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecb_mac_lets_a_cancelling_flip_through() {
    let app = spawn(config(), OpenOptions::default()).await;
    let mut t = terminal(MacAlgorithm::PosEcb);
    let mut c = ok(Connection::connect(app.addr()).await);
    assert_eq!(sign_in(&mut t, &mut c).await.code, "00");
    let before = app.balance();
    let (_, frame) = ok(t.request(Kind::Sale, &Card::new(APPROVE_PAN, "3012"), 100, None));
    let r = call(&t, &mut c, &cancelling_flip(&frame)).await;
    assert_eq!(r.code, "00", "{}", r.text);
    assert_eq!(
        app.balance(),
        before - 190,
        "the host booked the forged amount"
    );
}

// Goal (finding 4, closed): a terminal set to X9.19 gets a double-length MAK at sign-in,
// and the same cancelling flip is refused A0 with nothing booked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x919_refuses_the_cancelling_flip() {
    let app = spawn(config(), OpenOptions::default()).await;
    let tid = ok(suanpan_core::TerminalId::parse(DEMO_TERMINAL));
    assert!(ok(suanpan_store::admin::set_terminal_mac(
        &*app.store,
        &tid,
        "x919"
    )));
    let mut t = terminal(MacAlgorithm::X919);
    let mut c = ok(Connection::connect(app.addr()).await);
    assert_eq!(sign_in(&mut t, &mut c).await.code, "00");
    let before = app.balance();
    let (_, frame) = ok(t.request(Kind::Sale, &Card::new(APPROVE_PAN, "3012"), 100, None));
    let r = call(&t, &mut c, &cancelling_flip(&frame)).await;
    assert_eq!(r.code, "A0", "{}", r.text);
    assert_eq!((app.balance(), app.txn_count()), (before, 0));
    let r = call(&t, &mut c, &frame).await;
    assert_eq!(
        (r.code.as_str(), r.mac_ok),
        ("00", Some(true)),
        "{}",
        r.text
    );
    assert_eq!(app.balance(), before - 100);

    // An ECB terminal cannot sign in as an X9.19 one: its sign-in MAC does not verify.
    let mut ecb = terminal(MacAlgorithm::PosEcb);
    ecb.stan = 700;
    assert_eq!(sign_in(&mut ecb, &mut c).await.code, "A0");
    // X9.19 needs the 40-byte layout: a `001` sign-in is refused.
    let mut single = terminal(MacAlgorithm::X919);
    single.stan = 800;
    single.key_layout = suanpan_iso8583::KeyLayout::Single;
    assert_ne!(sign_in(&mut single, &mut c).await.code, "00");
}

// Goal: working keys older than working_key_max_hours end the session: the next request
// is answered 77 with the sign-in-again header flag, nothing is booked, and a new sign-in
// brings new keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn working_keys_expire_after_working_key_max_hours() {
    let start: jiff::Timestamp = ok("2026-11-25T04:00:00Z".parse());
    let clock = Arc::new(suanpan_core::clock::FixedClock::new(start));
    let opts = OpenOptions {
        clock: clock.clone(),
        policy: suanpan_core::Policy {
            working_key_max_hours: 2,
            ..suanpan_core::Policy::default()
        },
        ..OpenOptions::default()
    };
    let app = spawn(config(), opts).await;
    let mut t = terminal(MacAlgorithm::PosEcb);
    let mut c = ok(Connection::connect(app.addr()).await);
    assert_eq!(sign_in(&mut t, &mut c).await.code, "00");
    clock.set(ok(start.checked_add(jiff::SignedDuration::from_mins(119))));
    assert_eq!(sale(&mut t, &mut c, 100).await.code, "00");
    let txns = app.txn_count();
    clock.set(ok(start.checked_add(jiff::SignedDuration::from_mins(121))));
    let r = sale(&mut t, &mut c, 100).await;
    assert_eq!(r.code, "77", "{}", r.text);
    assert_eq!(r.processing_requirement, 3, "sign in again");
    assert_eq!(app.txn_count(), txns);
    let frame = ok(t.settlement(&totals(100, 1)));
    let r = call(&t, &mut c, &frame).await;
    assert_eq!(r.code, "77", "the session ended");
    assert_eq!(sign_in(&mut t, &mut c).await.code, "00");
    assert_eq!(sale(&mut t, &mut c, 100).await.code, "00");
}
