//! The back-office test harness: `spawn_app()` starts the real server on a random port with a
//! fresh store (a copy of one seeded template: demo merchant, terminal, operators, cards,
//! back-office users, and three sales), driven by a fixed clock; a small raw HTTP/1.1 client
//! talks to it, so tests can also send what no well-behaved client would. `spawn_on` runs
//! the same on PostgreSQL (`SUANPAN_TEST_DATABASE_URL`), each test in a schema of its own.
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
pub use suanpan_store::AskExt;
use suanpan_store::admin::DEMO_TERMINAL;
use suanpan_store::backoffice::Backoffice;
use suanpan_store::command::{Origin, Purchase, Void};
use suanpan_store::{
    Fingerprinter, Instrument, OpenOptions, PgOptions, PgStore, PurchaseReply, SqliteStore, Store,
    TxnReply,
};
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
        apply: Arc::new(suanpan_service::UseCases::inline()),
        db_pages_max: None,
        keys: suanpan_store::keys::ephemeral(),
        anchor: None,
        ..OpenOptions::default()
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

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded store, a copy of the seeded template.
    Sqlite,
    /// PostgreSQL at `SUANPAN_TEST_DATABASE_URL`, a fresh schema per test.
    Postgres,
}

/// The variable that names the test database; PostgreSQL tests are skipped without it.
pub const TEST_DATABASE_ENV: &str = "SUANPAN_TEST_DATABASE_URL";

/// The PostgreSQL URL of the test run, if any.
pub fn test_database_url() -> Option<String> {
    std::env::var(TEST_DATABASE_ENV)
        .ok()
        .filter(|u| !u.is_empty())
}

/// A schema name no other test (of this or a parallel run) uses.
pub fn fresh_schema() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("w_{}_{}_{}", std::process::id(), n, nanos)
}

/// Drops a test's PostgreSQL schema when the test ends (after its store closed).
pub struct SchemaGuard {
    pub url: String,
    pub schema: String,
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        if let Err(e) = suanpan_store::pg::drop_schema(&self.url, &self.schema) {
            eprintln!("could not drop test schema {}: {e}", self.schema);
        }
    }
}

/// The demo passwords' argon2id hashes, made once per test binary.
fn demo_hash(password: &str) -> String {
    static HASHES: OnceLock<std::sync::Mutex<std::collections::HashMap<String, String>>> =
        OnceLock::new();
    let map = HASHES.get_or_init(Default::default);
    if let Some(h) = map.lock().expect("hashes").get(password) {
        return h.clone();
    }
    let h = suanpan_store::auth::hash_password(password);
    map.lock()
        .expect("hashes")
        .insert(password.to_owned(), h.clone());
    h
}

/// A PostgreSQL store in a fresh schema, seeded like the SQLite template (demo data,
/// back-office users, three sales); `None` without a test database.
pub fn pg_seeded(
    policy: Policy,
    clock: Arc<FixedClock>,
) -> Option<(PgStore, PgOptions, SchemaGuard)> {
    let url = test_database_url()?;
    let schema = fresh_schema();
    let guard = SchemaGuard {
        url: url.clone(),
        schema: schema.clone(),
    };
    let pg = PgOptions {
        url,
        schema: Some(schema),
    };
    let store = PgStore::create(pg.clone(), options(policy, clock)).expect("create on PostgreSQL");
    suanpan_store::admin::seed_demo_with(&store, &Fingerprinter::new(PAN_KEY), &demo_hash)
        .expect("seed");
    store
        .ensure_backoffice_schema()
        .expect("back-office tables");
    store
        .seed_backoffice_demo_with(&demo_hash)
        .expect("seed staff");
    for fen in [8_800, 12_000, 600_000] {
        sale(&store, fen);
    }
    Some((store, pg, guard))
}

/// A second node on the same PostgreSQL schema (its own connections, writer and executor).
pub fn pg_node(pg: &PgOptions, policy: Policy, clock: Arc<FixedClock>) -> PgStore {
    PgStore::open(pg.clone(), options(policy, clock)).expect("open on PostgreSQL")
}

/// Books a sale by cashier 01 on the demo card.
pub fn sale(store: &dyn Store, fen: i64) -> i64 {
    purchase(store, DEMO_TERMINAL, fen, None)
}

/// A re-charge (重新收款): a new sale naming the sale voided by mistake, as the host stores
/// 8583 field 61 (`linked_id`).
pub fn recharge(store: &dyn Store, fen: i64, voided_sale: i64) -> i64 {
    purchase(store, DEMO_TERMINAL, fen, Some(voided_sale))
}

/// Books a sale by operator 01 on `terminal` with the demo card.
pub fn purchase(store: &dyn Store, terminal: &str, fen: i64, linked: Option<i64>) -> i64 {
    purchase_from(store, counter(terminal, None), fen, linked)
}

/// Books a sale on the demo terminal as a field terminal sends it: with its serial number
/// and location (8583 field 59, stored as received).
pub fn sale_with_terminal_info(store: &dyn Store, fen: i64, info: &str) -> i64 {
    let origin = Origin {
        terminal_info: Some(info.to_owned()),
        ..counter(DEMO_TERMINAL, None)
    };
    purchase_from(store, origin, fen, None)
}

fn purchase_from(store: &dyn Store, origin: Origin, fen: i64, linked: Option<i64>) -> i64 {
    let pan = Pan::parse(CARD).expect("pan");
    let reply = store
        .ask(Purchase {
            origin,
            kind: TxnKind::Sale,
            amount: Amount::from_fen(fen),
            instrument: Instrument::Card {
                masked_pan: pan.masked(),
                fingerprint: Fingerprinter::new(PAN_KEY).of(&pan),
                expiry: None,
            },
            method: PaymentMethod::Chip,
            pin: None,
            linked_id: linked.map(suanpan_core::TxnId),
            confirm_duplicate: false,
        })
        .expect("sale");
    match reply {
        PurchaseReply::Booked(t) => t.id.0,
        other => panic!("sale answered {other:?}"),
    }
}

fn counter(terminal: &str, supervisor: Option<OperatorNo>) -> Origin {
    Origin {
        terminal_id: TerminalId::parse(terminal).expect("terminal"),
        operator: OperatorNo::parse("01").expect("op"),
        supervisor,
        voucher: None,
        batch: None,
        training: false,
        idempotency: None,
        terminal_info: None,
    }
}

/// Voids sale `id` at the demo terminal (supervisor 00 authorizes, the customer agreed).
pub fn void(store: &dyn Store, id: i64) -> i64 {
    let reply = store
        .ask(Void {
            origin: counter(DEMO_TERMINAL, Some(OperatorNo::SUPERVISOR)),
            kind: TxnKind::Void,
            original: suanpan_store::command::OriginalRef::Id(suanpan_core::TxnId(id)),
            amount: None,
            reason: "收银员误操作".into(),
            customer_consent: true,
            card_fingerprint: None,
        })
        .expect("void");
    match reply {
        TxnReply::Booked(t) => t.id.0,
        other => panic!("void answered {other:?}"),
    }
}

/// A sale of a second merchant (its own terminal and operator), for cross-merchant checks.
pub fn other_merchant_sale(store: &dyn Store) -> i64 {
    let merchant = suanpan_core::MerchantId::parse("898310048990002").expect("merchant");
    let terminal = "87654321";
    suanpan_store::admin::add_merchant(store, &merchant, "别家商户").expect("merchant");
    let tid = TerminalId::parse(terminal).expect("terminal");
    suanpan_store::admin::add_terminal(store, &tid, &merchant, None).expect("terminal");
    let op = OperatorNo::parse("01").expect("op");
    suanpan_store::admin::add_operator_hashed(store, &merchant, op, "别家收银", &demo_hash("0000"))
        .expect("operator");
    purchase(store, terminal, 500, None)
}

/// Runs the scheduler once with only the daily compliance report due (no hour reaches a
/// backup), as `serve` would the morning after; returns the day it reported on.
pub fn make_compliance_report(app: &TestApp) -> String {
    let dir = tempfile::tempdir().expect("dir");
    let dirs = suanpan_notify::schedule::Dirs {
        data_dir: dir.path().to_owned(),
        evidence_dir: dir.path().join("evidence"),
        backup_dir: dir.path().join("backups"),
        ring: suanpan_store::backup::Keyring::of(app.store.keys().clone()),
    };
    let cfg = suanpan_notify::schedule::ScheduleConfig {
        backup_hour: 24,
        report_hour: 0,
        ..Default::default()
    };
    let ran = suanpan_notify::schedule::tick(&*app.store, &cfg, &dirs).expect("tick");
    assert_eq!(ran.len(), 1, "{ran:?}");
    assert_eq!(ran[0].job, "report");
    ran[0].period.clone()
}

/// A running back-office on a fresh copy of the template.
pub struct TestApp {
    pub addr: SocketAddr,
    pub store: Arc<dyn Store>,
    pub clock: Arc<FixedClock>,
    /// PostgreSQL: where the store lives (for a second node on the same schema).
    pub pg: Option<PgOptions>,
    runtime: Option<tokio::runtime::Runtime>,
    _dir: tempfile::TempDir,
    _schema: Option<SchemaGuard>,
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
    spawn_cfg_on(Backend::Sqlite, policy, tweak).expect("SQLite needs no setup")
}

/// A running back-office on `backend`; `None` on PostgreSQL without a test database.
pub fn spawn_on(backend: Backend) -> Option<TestApp> {
    spawn_cfg_on(backend, Policy::default(), |_| {})
}

/// [`spawn_on`] with a policy.
pub fn spawn_with_on(backend: Backend, policy: Policy) -> Option<TestApp> {
    spawn_cfg_on(backend, policy, |_| {})
}

/// [`spawn_on`] with a policy and settings changed by `tweak`.
pub fn spawn_cfg_on(
    backend: Backend,
    policy: Policy,
    tweak: impl FnOnce(&mut WebConfig),
) -> Option<TestApp> {
    spawn_in(backend, policy, tweak, |_| {})
}

/// A SQLite back-office whose data directory `prepare` fills first (files a stopped
/// server left behind).
pub fn spawn_prepared(prepare: impl FnOnce(&Path)) -> TestApp {
    spawn_in(Backend::Sqlite, Policy::default(), |_| {}, prepare).expect("SQLite")
}

fn spawn_in(
    backend: Backend,
    policy: Policy,
    tweak: impl FnOnce(&mut WebConfig),
    prepare: impl FnOnce(&Path),
) -> Option<TestApp> {
    let dir = tempfile::tempdir().expect("temp dir");
    prepare(dir.path());
    let clock = Arc::new(FixedClock::new(start()));
    let (store, pg, schema): (Arc<dyn Store>, _, _) = match backend {
        Backend::Sqlite => {
            for entry in std::fs::read_dir(template()).expect("template") {
                let entry = entry.expect("entry");
                std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy");
            }
            let store =
                SqliteStore::open(dir.path(), options(policy, clock.clone())).expect("open");
            (Arc::new(store), None, None)
        }
        Backend::Postgres => {
            let Some((store, pg, guard)) = pg_seeded(policy, clock.clone()) else {
                eprintln!("skipped: {TEST_DATABASE_ENV} is not set (PostgreSQL tests need it)");
                return None;
            };
            (Arc::new(store), Some(pg), Some(guard))
        }
    };
    // The data directory's PAN key, as `init` writes it: backups copy it.
    let key: String = PAN_KEY.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(dir.path().join("pan.key"), key).expect("pan.key");
    Some(serve(store, clock, pg, dir, schema, tweak))
}

/// Starts the back-office on `store`, with `dir` as its data directory.
pub fn serve(
    store: Arc<dyn Store>,
    clock: Arc<FixedClock>,
    pg: Option<PgOptions>,
    dir: tempfile::TempDir,
    schema: Option<SchemaGuard>,
    tweak: impl FnOnce(&mut WebConfig),
) -> TestApp {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // Tests move a fixed clock by hours (grace windows, lockouts, business days): the idle
    // time-out is as long as a session here, and approvers log in by password unless a test
    // turns `totp_required_for_approvers` on (`sessions_and_tokens` does, and checks the
    // production defaults). Admins need TOTP in every test.
    let mut cfg = WebConfig {
        http: "127.0.0.1:0".into(),
        executor_interval_ms: 100,
        session_idle_minutes: WebConfig::default().session_minutes,
        totp_required_for_approvers: false,
        ..WebConfig::default()
    };
    tweak(&mut cfg);
    let running = runtime
        .block_on(suanpan_web::start(
            store.clone(),
            Fingerprinter::new(PAN_KEY),
            cfg,
            dir.path(),
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
        pg,
        runtime: Some(runtime),
        _dir: dir,
        _schema: schema,
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
    /// The back-office's data directory (PAN key, evidence, backups).
    pub fn data_dir(&self) -> &Path {
        self._dir.path()
    }

    /// The files in the backup folder (none when it does not exist).
    pub fn backup_files(&self) -> usize {
        std::fs::read_dir(self.data_dir().join("backups"))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Sends raw bytes and reads the whole answer.
    pub fn raw(&self, request: &[u8]) -> Resp {
        self.try_raw(request).expect("an HTTP answer")
    }

    /// Sends raw bytes; `None` when the server closed the connection without an answer.
    /// Every answer to a Chinese request is checked for leaked codes and English internals.
    pub fn try_raw(&self, request: &[u8]) -> Option<Resp> {
        let mut s = TcpStream::connect(self.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let _ = s.write_all(request);
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        let resp = parse_response(&buf)?;
        if asks_chinese(request) {
            assert_reads_as_chinese(&resp);
        }
        Some(resp)
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
        // Admins and every acquirer user must enrol TOTP (the demo's acquirer is `platform`).
        if user == "admin" || user == "platform" {
            self.login_enrolled(user)
        } else {
            self.login_only(user)
        }
    }

    /// Logs in over the API and enrols TOTP (the first login of a role that must).
    pub fn login_enrolled(&self, user: &str) -> Session<'_> {
        let s = self.login_only(user);
        let offer = s.get("/api/v1/totp").json();
        let secret = offer["secret"].as_str().expect("secret").to_owned();
        let r = s.post(
            "/api/v1/totp",
            &format!(r#"{{"code":"{}"}}"#, totp_code(&secret, self.store.now())),
        );
        assert_eq!(r.status, 204, "{}", r.text());
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
        use suanpan_store::sql::SqlExt;
        let tables: [(&str, &[&str], &str); 13] = [
            (
                "txns",
                &[
                    "id",
                    "kind",
                    "status",
                    "amount_fen",
                    "refunded_fen",
                    "hidden",
                ],
                "id",
            ),
            ("accounts", &["id", "balance_fen", "held_fen"], "id"),
            (
                "review_requests",
                &["id", "status", "reviewed_by", "result_txn_id"],
                "id",
            ),
            ("staff_tokens", &["id", "revoked_at"], "id"),
            ("api_idempotency", &["staff_id", "key", "status"], "key"),
            (
                "staff",
                &[
                    "id",
                    "username",
                    "role",
                    "name",
                    "operator_no",
                    "disabled_at",
                    "password_hash",
                    "totp_secret",
                ],
                "id",
            ),
            ("channels", &["id", "enabled", "reason", "removed"], "id"),
            ("evidence", &["id", "txn_id", "sha256", "removed_at"], "id"),
            (
                "evidence_removals",
                &["id", "evidence_id", "status", "reviewed_by"],
                "id",
            ),
            ("cases", &["id", "status", "answer", "changed_at"], "id"),
            (
                "case_links",
                &["case_id", "txn_id", "role"],
                "case_id, txn_id",
            ),
            ("case_notes", &["id", "case_id", "body"], "id"),
            (
                "case_evidence",
                &["case_id", "evidence_id"],
                "case_id, evidence_id",
            ),
        ];
        suanpan_store::read(&*self.store, |c| {
            let mut out = String::new();
            for (table, cols, order) in tables {
                let select: Vec<String> =
                    cols.iter().map(|c| format!("CAST({c} AS TEXT)")).collect();
                let sql = format!("SELECT {} FROM {table} ORDER BY {order}", select.join(", "));
                for row in c.rows(&sql, &[], |r| {
                    (0..cols.len())
                        .map(|i| r.opt_text(i))
                        .collect::<Result<Vec<_>, _>>()
                })? {
                    for v in row {
                        out.push_str(&format!("{v:?}|"));
                    }
                    out.push('\n');
                }
                out.push_str("--\n");
            }
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
    pub fn req_patch(&self, path: &str, body: &str) -> Resp {
        self.app.req(
            "PATCH",
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

/// True when a request gets the default language (zh-CN): no English asked for by header,
/// query or cookie.
fn asks_chinese(request: &[u8]) -> bool {
    let head = String::from_utf8_lossy(request).to_ascii_lowercase();
    let head = head.split("\r\n\r\n").next().unwrap_or("");
    !(head.contains("accept-language: en")
        || head.contains("lang=en")
        || head.contains("lang%3den"))
}

/// Words that are the server's own English or its codes, never a message for a person.
const INTERNALS: &[&str] = &[
    "Failed to",
    "length limit",
    "unknown",
    "invalid character",
    "expected",
    "deserialize",
    "missing field",
    "unknown field",
    "refused:",
    "declined:",
    "web:",
    "_request.",
    "required",
    "characters",
];

/// A catalog key or code (`backoffice.not_permitted`, `json.amount_invalid`) in `text`; file
/// names and paths (`openapi.json`, `/api/v1/…`) are not keys.
fn catalog_key_in(text: &str) -> Option<String> {
    for token in
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '/'))
    {
        let token = token.trim_matches('.');
        let parts: Vec<&str> = token.split('.').collect();
        let key_like = parts.len() >= 2
            && !token.contains('/')
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        let file = matches!(
            parts.last().copied(),
            Some(
                "json"
                    | "csv"
                    | "xlsx"
                    | "db"
                    | "txt"
                    | "pdf"
                    | "zip"
                    | "toml"
                    | "key"
                    | "dump"
                    | "png"
                    | "jpg"
                    | "jpeg"
                    | "gif"
                    | "webp"
                    | "mp4"
                    | "webm"
                    | "mov"
                    | "html"
            )
        );
        if key_like && !file {
            return Some(token.to_owned());
        }
    }
    None
}

/// The words of an answer a person reads: a JSON error's message and hint and every `text`
/// / `…_text` field; a page's text outside its tags.
fn person_text(resp: &Resp) -> Vec<String> {
    let kind = resp.header("content-type").unwrap_or("");
    let mut out = Vec::new();
    if kind.starts_with("application/json") {
        fn walk(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    for (k, v) in m {
                        let read = matches!(k.as_str(), "message" | "hint" | "text")
                            || k.ends_with("_text");
                        match v {
                            Value::String(s) if read => out.push(s.clone()),
                            _ => walk(v, out),
                        }
                    }
                }
                Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        if let Ok(v) = serde_json::from_slice::<Value>(&resp.body) {
            walk(&v, &mut out);
        }
    } else if kind.starts_with("text/html") {
        let html = resp.text();
        let body = html.split("<body").nth(1).unwrap_or(&html);
        let mut text = String::new();
        let mut in_tag = false;
        for c in body.chars() {
            match c {
                '<' => in_tag = true,
                '>' => {
                    in_tag = false;
                    text.push(' ');
                }
                _ if !in_tag => text.push(c),
                _ => {}
            }
        }
        // Scripts and styles are not read; the pages keep them in files.
        out.push(text);
    }
    out
}

/// Fails when an answer to a Chinese request shows a catalog key or the server's English.
pub fn assert_reads_as_chinese(resp: &Resp) {
    for text in person_text(resp) {
        if let Some(key) = catalog_key_in(&text) {
            panic!("a code reached a Chinese reader: {key:?} in {text:?}");
        }
        let is_json = resp
            .header("content-type")
            .unwrap_or("")
            .starts_with("application/json");
        for word in INTERNALS {
            // Pages quote what people typed (reasons, notes); the check there is for codes.
            if is_json && text.contains(word) {
                panic!("English internals reached a Chinese reader: {word:?} in {text:?}");
            }
        }
    }
}

/// `(method, path)` of every route in `src/` (pages and API, every module), read from
/// `.route("…", get(…).post(…))`: the OpenAPI test and the cross-tenant matrix check that
/// each is documented and classified, so a new route cannot slip past them.
pub fn routes_in_sources() -> std::collections::BTreeSet<(String, String)> {
    let mut files = Vec::new();
    let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("src dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().and_then(|e| e.to_str()) == Some("rs") {
                files.push(path);
            }
        }
    }
    let mut found = std::collections::BTreeSet::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("source");
        let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        for call in flat.split(".route(").skip(1) {
            let Some(rest) = call.trim_start().strip_prefix('"') else {
                continue;
            };
            let Some((route, handlers)) = rest.split_once('"') else {
                continue;
            };
            let mut depth = 0i32;
            let mut end = handlers.len();
            for (i, ch) in handlers.char_indices() {
                match ch {
                    '(' => depth += 1,
                    ')' if depth == 0 => {
                        end = i;
                        break;
                    }
                    ')' => depth -= 1,
                    _ => {}
                }
            }
            let handlers = &handlers[..end];
            let mut any = false;
            for method in ["get", "post", "put", "patch", "delete"] {
                let at_start = handlers
                    .trim_start_matches([',', ' '])
                    .starts_with(&format!("{method}("));
                if at_start || handlers.contains(&format!(".{method}(")) {
                    found.insert((method.to_string(), route.to_string()));
                    any = true;
                }
            }
            assert!(
                any,
                "{route} in {}: no method in {handlers:?}",
                path.display()
            );
        }
    }
    assert!(found.len() > 60, "the route scan found only {found:?}");
    found
}
