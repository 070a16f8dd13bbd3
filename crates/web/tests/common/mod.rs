//! The back-office test harness: `spawn_app()` starts the real server on a random port with a
//! fresh store (a copy of one seeded template: demo merchant, terminal, operators, cards,
//! back-office users, and three sales), driven by a fixed clock; a small raw HTTP/1.1 client
//! talks to it, so tests can also send what no well-behaved client would.
#![allow(dead_code)]

use jiff::Timestamp;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use suanpan_core::clock::FixedClock;
use suanpan_core::{Amount, OperatorNo, Pan, PaymentMethod, Policy, TerminalId, TxnKind};
use suanpan_issuer::Simulator;
use suanpan_store::admin::DEMO_TERMINAL;
use suanpan_store::command::Origin;
use suanpan_store::{Command, Fingerprinter, Instrument, OpenOptions, Reply, SqliteStore, Store};
use suanpan_web::WebConfig;

/// 2025-06-10 10:00 in Shanghai.
pub const START: &str = "2025-06-10T02:00:00Z";
/// The fingerprint key of every test store.
pub const PAN_KEY: [u8; 32] = [7; 32];
/// The approving demo card.
pub const CARD: &str = "6222021234567890128";

pub fn start() -> Timestamp {
    START.parse().expect("START parses")
}

fn options(policy: Policy, clock: Arc<FixedClock>) -> OpenOptions {
    OpenOptions {
        policy,
        clock,
        issuer: Arc::new(Simulator),
        db_pages_max: None,
    }
}

/// Seeds once per test binary (argon2id hashing of eight passwords is slow in debug builds).
fn template() -> &'static Path {
    static T: OnceLock<tempfile::TempDir> = OnceLock::new();
    T.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let clock = Arc::new(FixedClock::new(start()));
        let store =
            SqliteStore::create(dir.path(), options(Policy::default(), clock)).expect("create");
        store.seed_demo(&Fingerprinter::new(PAN_KEY)).expect("seed");
        store.seed_backoffice_demo().expect("seed staff");
        for fen in [8_800, 12_000, 600_000] {
            sale(&store, fen);
        }
        drop(store);
        dir
    })
    .path()
}

/// Books a sale by cashier 01 on the demo card.
pub fn sale(store: &SqliteStore, fen: i64) -> i64 {
    let pan = Pan::parse(CARD).expect("pan");
    let reply = store
        .execute(Command::Purchase {
            origin: Origin {
                terminal_id: TerminalId::parse(DEMO_TERMINAL).expect("terminal"),
                operator: OperatorNo::parse("01").expect("op"),
                supervisor: None,
                voucher: None,
                batch: None,
                training: false,
                idempotency: None,
            },
            kind: TxnKind::Sale,
            amount: Amount::from_fen(fen),
            instrument: Instrument::Card {
                masked_pan: pan.masked(),
                fingerprint: Fingerprinter::new(PAN_KEY).of(&pan),
                expiry: None,
            },
            method: PaymentMethod::Chip,
            pin: None,
            linked_id: None,
        })
        .expect("sale");
    match reply {
        Reply::Txn(t) => t.id.0,
        other => panic!("sale answered {other:?}"),
    }
}

/// A running back-office on a fresh copy of the template.
pub struct TestApp {
    pub addr: SocketAddr,
    pub store: Arc<SqliteStore>,
    pub clock: Arc<FixedClock>,
    runtime: Option<tokio::runtime::Runtime>,
    _dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

pub fn spawn_app() -> TestApp {
    spawn_with(Policy::default())
}

pub fn spawn_with(policy: Policy) -> TestApp {
    spawn_cfg(policy, |_| {})
}

/// With settings changed by `tweak` (limits…).
pub fn spawn_cfg(policy: Policy, tweak: impl FnOnce(&mut WebConfig)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(template()).expect("template") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy");
    }
    let clock = Arc::new(FixedClock::new(start()));
    let store =
        Arc::new(SqliteStore::open(dir.path(), options(policy, clock.clone())).expect("open"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut cfg = WebConfig {
        http: "127.0.0.1:0".into(),
        executor_interval_ms: 100,
        ..WebConfig::default()
    };
    tweak(&mut cfg);
    let running = runtime
        .block_on(suanpan_web::start(
            store.clone(),
            Fingerprinter::new(PAN_KEY),
            cfg,
            axum::Router::new(),
        ))
        .expect("start");
    let addr = running.addr;
    // The server lives as long as the runtime; dropping the handle does not stop it.
    std::mem::forget(running);
    TestApp {
        addr,
        store,
        clock,
        runtime: Some(runtime),
        _dir: dir,
    }
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The `code` of an error body.
    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or("").to_owned()
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(pos) = body.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&body[..pos]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = pos + 2;
        out.extend_from_slice(&body[start..start + size]);
        body = &body[start + size + 2..];
    }
}

/// Parses a whole HTTP/1.1 answer (head and body, chunked or not); `None` when there is none.
pub fn parse_response(buf: &[u8]) -> Option<Resp> {
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = buf[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Some(Resp {
        status,
        headers,
        body,
    })
}

/// The bytes of one HTTP/1.1 request (`Connection: close`) to `host`.
pub fn request_bytes(
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.unwrap_or(b"");
    if !body.is_empty() || method != "GET" {
        r.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    r.push_str("\r\n");
    let mut bytes = r.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

impl TestApp {
    /// Sends raw bytes and reads the whole answer.
    pub fn raw(&self, request: &[u8]) -> Resp {
        self.try_raw(request).expect("an HTTP answer")
    }

    /// Sends raw bytes; `None` when the server closed the connection without an answer.
    pub fn try_raw(&self, request: &[u8]) -> Option<Resp> {
        let mut s = TcpStream::connect(self.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let _ = s.write_all(request);
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        parse_response(&buf)
    }

    /// One request with headers and an optional body.
    pub fn req(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Resp {
        let bytes = request_bytes(&self.addr.to_string(), method, path, headers, body);
        self.raw(&bytes)
    }

    pub fn get(&self, path: &str) -> Resp {
        self.req("GET", path, &[], None)
    }

    pub fn post_json(&self, path: &str, body: &str) -> Resp {
        self.req(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            Some(body.as_bytes()),
        )
    }

    /// Logs in over the API; an admin enrols TOTP on the way (admins must).
    pub fn login(&self, user: &str) -> Session<'_> {
        let s = self.login_only(user);
        if user == "admin" {
            let offer = s.get("/api/v1/totp").json();
            let secret = offer["secret"].as_str().expect("secret").to_owned();
            let r = s.post(
                "/api/v1/totp",
                &format!(r#"{{"code":"{}"}}"#, totp_code(&secret, self.store.now())),
            );
            assert_eq!(r.status, 204, "{}", r.text());
        }
        s
    }

    /// Logs in over the API without enrolling anything.
    pub fn login_only(&self, user: &str) -> Session<'_> {
        let password = format!("{user}-demo");
        let r = self.post_json(
            "/api/v1/session",
            &format!(r#"{{"username":"{user}","password":"{password}"}}"#),
        );
        assert_eq!(r.status, 200, "login {user}: {}", r.text());
        let cookie = r
            .header("set-cookie")
            .expect("cookie")
            .split(';')
            .next()
            .expect("pair")
            .to_owned();
        let csrf = r.json()["csrf_token"].as_str().expect("csrf").to_owned();
        Session {
            app: self,
            cookie,
            csrf,
        }
    }

    /// Everything a refused request must leave alone: the journal, balances, requests,
    /// tokens, idempotency keys and users. (The audit trail records refusals on purpose.)
    pub fn state(&self) -> String {
        self.store
            .read(|c| {
                let mut out = String::new();
                let mut dump = |sql: &str| -> rusqlite::Result<()> {
                    let mut stmt = c.prepare(sql)?;
                    let cols = stmt.column_count();
                    let mut rows = stmt.query([])?;
                    while let Some(r) = rows.next()? {
                        for i in 0..cols {
                            let v: rusqlite::types::Value = r.get(i)?;
                            out.push_str(&format!("{v:?}|"));
                        }
                        out.push('\n');
                    }
                    out.push_str("--\n");
                    Ok(())
                };
                dump("SELECT id, kind, status, amount_fen, refunded_fen, hidden FROM txns ORDER BY id")?;
                dump("SELECT id, balance_fen, held_fen FROM accounts ORDER BY id")?;
                dump("SELECT id, status, reviewed_by, result_txn_id FROM review_requests ORDER BY id")?;
                dump("SELECT id, revoked_at FROM staff_tokens ORDER BY id")?;
                dump("SELECT staff_id, key, status FROM api_idempotency ORDER BY key")?;
                dump("SELECT id, username, role FROM staff ORDER BY id")?;
                dump("SELECT id, enabled, reason FROM channels ORDER BY id")?;
                dump("SELECT id, txn_id, sha256 FROM evidence ORDER BY id")?;
                Ok(out)
            })
            .expect("state")
    }

    /// Lets the clock move and waits for the executor's next passes.
    pub fn advance(&self, seconds: i64) {
        let now = self.store.now();
        self.clock.set(
            now.checked_add(jiff::SignedDuration::from_secs(seconds))
                .expect("time"),
        );
    }
}

/// A logged-in session.
pub struct Session<'a> {
    pub app: &'a TestApp,
    pub cookie: String,
    pub csrf: String,
}

impl Session<'_> {
    pub fn get(&self, path: &str) -> Resp {
        self.app.req("GET", path, &[("Cookie", &self.cookie)], None)
    }
    pub fn post(&self, path: &str, body: &str) -> Resp {
        self.app.req(
            "POST",
            path,
            &[
                ("Cookie", &self.cookie),
                ("X-CSRF-Token", &self.csrf),
                ("Content-Type", "application/json"),
            ],
            Some(body.as_bytes()),
        )
    }
    pub fn post_with(&self, path: &str, body: &str, extra: &[(&str, &str)]) -> Resp {
        let mut h = vec![
            ("Cookie", self.cookie.as_str()),
            ("X-CSRF-Token", self.csrf.as_str()),
            ("Content-Type", "application/json"),
        ];
        h.extend_from_slice(extra);
        self.app.req("POST", path, &h, Some(body.as_bytes()))
    }
    /// Submits a request and returns its JSON.
    pub fn request(&self, kind: &str, txn: i64, extra: &str) -> Value {
        let r = self.post(
            "/api/v1/requests",
            &format!(r#"{{"kind":"{kind}","transaction_id":{txn},"reason":"顾客要求"{extra}}}"#),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()
    }
}

/// Waits until `f` holds (the executor runs every 100 ms), at most five seconds.
pub fn eventually(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// The TOTP code of a base32 secret at a moment (SHA-1, 6 digits, 30 s), as an app shows it.
pub fn totp_code(secret: &str, at: Timestamp) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .expect("base32");
    let totp = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 0, 30, bytes).expect("totp");
    totp.generate(u64::try_from(at.as_second()).expect("after 1970"))
}

/// A multipart/form-data body with `fields` (name, value) and one file part.
pub fn multipart(fields: &[(&str, &str)], file: Option<(&str, &str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "----suanpanTestBoundary7d9";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    if let Some((name, ctype, bytes)) = file {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {ctype}\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
