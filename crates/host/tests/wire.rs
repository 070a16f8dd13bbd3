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

async fn spawn(cfg: ServerConfig, mut opts: OpenOptions) -> App {
    // These tests repeat identical sales to probe the wire; the risk rules (issue 13) have
    // their own suite, tests/risk.rs.
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
    let app = spawn(config(), suanpan_service::open_options()).await;
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
    let app = spawn(config(), suanpan_service::open_options()).await;
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
    let app = spawn(config(), suanpan_service::open_options()).await;
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
    let app = spawn(config(), suanpan_service::open_options()).await;
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
        ..suanpan_service::open_options()
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

/// A self-signed certificate for 127.0.0.1, written as PEM into `dir`: (cert, key).
fn cert_files(dir: &std::path::Path) -> (String, String) {
    let made = ok(rcgen::generate_simple_self_signed(vec![
        "127.0.0.1".to_owned(),
    ]));
    let cert = dir.join("pos-cert.pem");
    let key = dir.join("pos-key.pem");
    ok(std::fs::write(&cert, made.cert.pem()));
    ok(std::fs::write(&key, made.signing_key.serialize_pem()));
    (cert.display().to_string(), key.display().to_string())
}

fn tls_config(cert: &str, key: &str, required: bool) -> ServerConfig {
    ServerConfig {
        iso8583_tls_cert: Some(cert.to_owned()),
        iso8583_tls_key: Some(key.to_owned()),
        iso8583_tls_required: required,
        ..config()
    }
}

// Goal: with a certificate, TLS terminals (the async client, and the emulator's blocking
// link) sign in and sell; plain ones share the port while TLS is not required, and are
// closed once it is. Half a TLS configuration does not start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_listener_serves_tls_and_plain_unless_required() {
    let dir = ok(tempfile::tempdir());
    let (cert, key) = cert_files(dir.path());
    let target = ok(suanpan_host::client::TlsTarget::new(
        std::path::Path::new(&cert),
        "127.0.0.1",
    ));
    let app = spawn(
        tls_config(&cert, &key, false),
        suanpan_service::open_options(),
    )
    .await;
    let mut t = terminal(MacAlgorithm::PosEcb);
    let mut c = ok(Connection::connect_with(app.addr(), Some(&target)).await);
    assert_eq!(sign_in(&mut t, &mut c).await.code, "00");
    assert_eq!(sale(&mut t, &mut c, 100).await.code, "00");
    let mut plain = ok(Connection::connect(app.addr()).await);
    let frame = ok(t.echo());
    assert_eq!(
        call(&t, &mut plain, &frame).await.code,
        "00",
        "plain shares the port"
    );

    // The emulator's link (blocking rustls) to the same port.
    let (addr, ca) = (app.addr().to_string(), cert.clone());
    let code = tokio::task::spawn_blocking(move || {
        use suanpan_terminal::link::{Link, TcpLink};
        let mut link = ok(TcpLink::with_tls(&addr, std::path::Path::new(&ca)));
        let mut t = terminal(MacAlgorithm::PosEcb);
        t.stan = 100;
        let frame = ok(t.sign_in());
        let body = ok(link.exchange(&frame, std::time::Duration::from_secs(5)));
        ok(t.accept_sign_in(&body)).code
    })
    .await;
    assert_eq!(ok(code), "00");

    let required = spawn(
        tls_config(&cert, &key, true),
        suanpan_service::open_options(),
    )
    .await;
    let mut plain = ok(Connection::connect(required.addr()).await);
    let mut t = terminal(MacAlgorithm::PosEcb);
    let frame = ok(t.sign_in());
    assert!(plain.call(&frame).await.is_err(), "plain refused");
    let mut c = ok(Connection::connect_with(required.addr(), Some(&target)).await);
    assert_eq!(sign_in(&mut t, &mut c).await.code, "00");

    let half = ServerConfig {
        iso8583_tls_key: None,
        ..tls_config(&cert, &key, false)
    };
    assert!(suanpan_host::tls::acceptor(&half).is_err());
    let required_alone = ServerConfig {
        iso8583_tls_required: true,
        ..config()
    };
    assert!(suanpan_host::tls::acceptor(&required_alone).is_err());
}

/// A TCP relay to `to` that, once `tamper` is set, flips the last byte of the next chunk
/// the client sends.
async fn relay(to: SocketAddr, tamper: Arc<std::sync::atomic::AtomicBool>) -> SocketAddr {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = ok(tokio::net::TcpListener::bind("127.0.0.1:0").await);
    let addr = ok(listener.local_addr());
    tokio::spawn(async move {
        let Ok((client, _)) = listener.accept().await else {
            return;
        };
        let Ok(server) = tokio::net::TcpStream::connect(to).await else {
            return;
        };
        let (mut cr, mut cw) = client.into_split();
        let (mut sr, mut sw) = server.into_split();
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut sr, &mut cw).await;
            let _ = cw.shutdown().await;
        });
        let mut buf = [0u8; 4096];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if tamper.swap(false, Ordering::SeqCst) {
                buf[n - 1] ^= 0x01;
            }
            if sw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = sw.shutdown().await;
    });
    addr
}

// Goal (finding 4 under TLS): a man in the middle who changes one byte of a sale on a TLS
// connection gets no sale booked: the record fails its authentication and the connection
// ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_byte_change_ends_the_connection() {
    let dir = ok(tempfile::tempdir());
    let (cert, key) = cert_files(dir.path());
    let target = ok(suanpan_host::client::TlsTarget::new(
        std::path::Path::new(&cert),
        "127.0.0.1",
    ));
    let app = spawn(
        tls_config(&cert, &key, true),
        suanpan_service::open_options(),
    )
    .await;
    let tamper = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let via = relay(app.addr(), tamper.clone()).await;
    let mut t = terminal(MacAlgorithm::PosEcb);
    let mut c = ok(Connection::connect_with(via, Some(&target)).await);
    assert_eq!(sign_in(&mut t, &mut c).await.code, "00");
    let (before, txns) = (app.balance(), app.txn_count());
    let (_, frame) = ok(t.request(Kind::Sale, &Card::new(APPROVE_PAN, "3012"), 100, None));
    tamper.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(c.call(&frame).await.is_err(), "the connection fails");
    assert_eq!(
        (app.balance(), app.txn_count()),
        (before, txns),
        "nothing booked"
    );
}

/// The demo card with a PIN (`approve_with_pin`, PIN 123456).
const PIN_PAN: &str = "6225881234567898";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_balance_inquiry_shows_a_balance_only_when_approved() {
    // Goal: an identical retry of a balance inquiry replays its answer; an approved one
    // shows the balance (54) again, a declined one (wrong PIN, 55) never does. The PIN
    // block is not part of the request hash, so a balance on a declined inquiry's retry
    // would answer whoever tried a wrong PIN (the host read it from the account for every
    // replayed inquiry, approved or not).
    let app = spawn(config(), suanpan_service::open_options()).await;
    let mut t = terminal(MacAlgorithm::PosEcb);
    let mut c = ok(Connection::connect(app.addr()).await);
    assert_eq!(sign_in(&mut t, &mut c).await.code, "00");
    let wrong = Card::new(PIN_PAN, "3012").with_pin("000000");
    let (_, frame) = ok(t.request(Kind::Balance, &wrong, 0, None));
    let first = call(&t, &mut c, &frame).await;
    assert_eq!(
        (first.code.as_str(), first.balance.as_deref()),
        ("55", None)
    );
    let retry = call(&t, &mut c, &frame).await;
    assert_eq!(
        (retry.code.as_str(), retry.balance.as_deref()),
        ("55", None)
    );
    let right = Card::new(PIN_PAN, "3012").with_pin("123456");
    let (_, frame) = ok(t.request(Kind::Balance, &right, 0, None));
    let first = call(&t, &mut c, &frame).await;
    assert_eq!(first.code, "00");
    assert!(first.balance.is_some(), "{first:?}");
    let retry = call(&t, &mut c, &frame).await;
    assert_eq!(
        (retry.code.as_str(), retry.rrn.clone()),
        ("00", first.rrn.clone())
    );
    assert_eq!(
        retry.balance, first.balance,
        "the approved inquiry's balance again"
    );
    assert_eq!(
        app.audited("balance"),
        2,
        "two inquiries booked, the retries replayed"
    );
}
