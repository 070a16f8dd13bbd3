//! Two `suanpan serve` processes (nodes) on one PostgreSQL database, each with its own
//! listeners: terminals load both, one node is killed with SIGKILL mid-load while the other
//! continues; afterwards every approved response any terminal saw is stored exactly once,
//! numbers are unique across nodes, the audit chain verifies and money is conserved.
//! Skipped without `SUANPAN_TEST_DATABASE_URL`.

mod common;
use common::Schema;

use common::{ServeProcess, spawn_serve};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use suanpan_host::client::{Card, Connection, Kind, Terminal};
use suanpan_store::admin::{DEMO_MERCHANT, DEMO_TERMINAL, DEMO_TMK_HEX};
use suanpan_store::sql::SqlExt;
use suanpan_store::{Fingerprinter, OpenOptions, PgOptions, PgStore, Store};

/// Terminals besides the demo one; half of all terminals use each node.
const EXTRA_TERMINALS: [&str; 5] = ["N9000001", "N9000002", "N9000003", "N9000004", "N9000005"];
/// How long both nodes run before one is killed, and how long the other runs after.
const LOAD_MS: u64 = 1_500;

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// The PostgreSQL of the test run; says "skipped" without one.
fn test_database_url() -> Option<String> {
    let url = std::env::var("SUANPAN_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!("skipped: SUANPAN_TEST_DATABASE_URL is not set");
    }
    url
}

/// These tests repeat one card and one amount thousands of times, which the duplicate-charge
/// rule (`core::risk`, tested in `crates/host/tests/risk.rs`) would refuse as possible
/// duplicates: it is off in their data directory's config file.
fn duplicate_rule_off(dir: &Path) {
    ok(std::fs::create_dir_all(dir));
    let path = dir.join("suanpan.toml");
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    if !text.contains("[risk]") {
        text.push_str("\n[risk]\nduplicate_minutes = 0\n");
        ok(std::fs::write(&path, text));
    }
}

/// Starts `serve` on free ports against `database` and reads its 8583 address.
fn serve(dir: &Path, database: &str) -> (ServeProcess, SocketAddr) {
    duplicate_rule_off(dir);
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("suanpan"));
    c.arg("--data-dir")
        .arg(dir)
        .env_remove("SUANPAN_LOG")
        .env("SUANPAN_DATABASE", database)
        .args(["--json", "serve", "--iso8583-addr", "127.0.0.1:0"])
        .args(["--http-addr", "127.0.0.1:0", "--http", "127.0.0.1:0"]);
    let (child, v) = spawn_serve(&mut c);
    let addr = v["iso8583_addr"].as_str().unwrap_or_default();
    (child, ok(addr.parse()))
}

/// One terminal: sign in, then sales until the connection dies or `stop`; returns the RRNs
/// of the approved responses it saw.
async fn load(
    addr: SocketAddr,
    id: String,
    stop: Arc<AtomicBool>,
    seen: Arc<AtomicU64>,
) -> Vec<String> {
    let mut t = ok(Terminal::new(&id, DEMO_MERCHANT, DEMO_TMK_HEX));
    let mut c = ok(Connection::connect(addr).await);
    let frame = ok(t.sign_in());
    let r = ok(t.accept_sign_in(&ok(c.call(&frame).await)));
    assert_eq!(r.code, "00", "{id} sign-in");
    let card = Card::new("6222021234567890128", "3012");
    let mut approved = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let Ok((_, frame)) = t.request(Kind::Sale, &card, 1, None) else {
            break;
        };
        let Ok(body) = c.call(&frame).await else {
            break; // The node died with this request in flight: its outcome is unknown.
        };
        let r = ok(t.parse(&body));
        assert_eq!(r.code, "00", "{id}: {}", r.text);
        assert_eq!(r.mac_ok, Some(true));
        approved.push(r.rrn.unwrap_or_default());
        seen.fetch_add(1, Ordering::Relaxed);
    }
    approved
}

/// The default KEK file of a data directory: `<dir>.kek` beside it.
fn kek_of(dir: &Path) -> std::path::PathBuf {
    let mut name = dir.as_os_str().to_os_string();
    name.push(".kek");
    std::path::PathBuf::from(name)
}

/// A fresh schema with the demo data and the extra terminals, and the data directory's PAN key.
fn prepare(url: &str, dir: &Path) -> (Schema, String) {
    let name = format!(
        "n_{}_{}",
        std::process::id(),
        jiff::Timestamp::now().as_microsecond()
    );
    let schema = Schema {
        url: url.to_owned(),
        name: name.clone(),
    };
    let key = [9u8; 32];
    // The KEK where the nodes look for it by default (beside the data directory), and the
    // PAN key wrapped under it, as `init` leaves them.
    let kek_path = kek_of(dir);
    ok(suanpan_store::keys::FileKek::create(&kek_path));
    let keys = ok(suanpan_store::keys::FileKek::load(&kek_path, dir));
    ok(std::fs::write(
        dir.join("pan.key"),
        ok(keys.wrap("pan.key", &key)),
    ));
    let pg = PgOptions {
        url: url.to_owned(),
        schema: Some(name.clone()),
    };
    let store = ok(PgStore::create(
        pg,
        OpenOptions {
            keys,
            ..suanpan_service::open_options()
        },
    ));
    ok(suanpan_store::admin::seed_demo_with(
        &store,
        &Fingerprinter::new(key),
        &suanpan_store::auth::hash_password,
    ));
    let merchant = ok(suanpan_core::MerchantId::parse(DEMO_MERCHANT));
    for id in EXTRA_TERMINALS {
        let tid = ok(suanpan_core::TerminalId::parse(id));
        ok(suanpan_store::admin::add_terminal(
            &store,
            &tid,
            &merchant,
            Some(DEMO_TMK_HEX),
        ));
    }
    // The nodes find the schema through the URL, as an operator would configure it.
    let sep = if url.contains('?') { '&' } else { '?' };
    (schema, format!("{url}{sep}options=-csearch_path%3D{name}"))
}

// Goal: the issue's node-failure test: kill -9 of one node during load; the other node keeps
// answering, and every approved response is stored once.
#[test]
fn one_node_killed_during_load_the_other_continues() {
    let Some(url) = test_database_url() else {
        return;
    };
    let dir = ok(tempfile::tempdir());
    let (schema, database) = prepare(&url, dir.path());
    let (mut a, addr_a) = serve(dir.path(), &database);
    let (mut b, addr_b) = serve(dir.path(), &database);
    let rt = ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build());
    let stop = Arc::new(AtomicBool::new(false));
    let seen_b = Arc::new(AtomicU64::new(0));
    let ids: Vec<&str> = std::iter::once(DEMO_TERMINAL)
        .chain(EXTRA_TERMINALS)
        .collect();
    let (seen, b_at_kill) = rt.block_on(async {
        let mut tasks = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let (addr, count) = if i % 2 == 0 {
                (addr_a, Arc::new(AtomicU64::new(0)))
            } else {
                (addr_b, seen_b.clone())
            };
            tasks.push(tokio::spawn(load(
                addr,
                (*id).to_owned(),
                stop.clone(),
                count,
            )));
        }
        tokio::time::sleep(Duration::from_millis(LOAD_MS)).await;
        a.kill();
        let b_at_kill = seen_b.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(LOAD_MS)).await;
        stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for t in tasks {
            all.extend(ok(t.await));
        }
        (all, b_at_kill)
    });
    let b_total = seen_b.load(Ordering::Relaxed);
    assert!(b_at_kill > 0, "node b answered before the kill");
    assert!(
        b_total > b_at_kill,
        "node b went on answering after node a died ({b_at_kill} then {b_total})"
    );
    b.kill();

    let store = ok(PgStore::open(
        PgOptions {
            url: url.clone(),
            schema: Some(schema.name.clone()),
        },
        OpenOptions {
            keys: ok(suanpan_store::keys::FileKek::load(
                &kek_of(dir.path()),
                dir.path(),
            )),
            ..suanpan_service::open_options()
        },
    ));
    for rrn in &seen {
        let n = ok(suanpan_store::read(&store, |c| {
            c.one(
                "SELECT COUNT(*) FROM txns WHERE rrn = ?1 AND kind = 'sale' AND status = 'approved'",
                suanpan_store::p![rrn.as_str()],
                |r| r.i64(0),
            )
        }));
        assert_eq!(n, 1, "approved response {rrn} is stored once");
    }
    let dups = ok(suanpan_store::read(&store, |c| {
        c.one(
            "SELECT COUNT(*) FROM (SELECT terminal_id, batch_no, voucher_no FROM txns
             GROUP BY 1, 2, 3 HAVING COUNT(*) > 1) d",
            &[],
            |r| r.i64(0),
        )
    }));
    assert_eq!(dups, 0, "no voucher booked twice");
    let v = ok(store.verify_audit());
    assert_eq!(v.first_broken, None, "{v:?}");
    let c = ok(store.conservation());
    assert!(c.holds(), "{c:?}");
    assert!(seen.len() > 20, "the load ran: {} approved", seen.len());
    drop(store);
}

// Goal: a database setting the CLI cannot use is refused with a clear message and changes
// nothing: a URL that is not PostgreSQL, and a command that runs on the embedded store only
// (the scripted demo day).
#[test]
fn database_settings_it_cannot_use_are_refused_clearly() {
    let dir = ok(tempfile::tempdir());
    let bin = assert_cmd::cargo::cargo_bin("suanpan");
    let out = ok(Command::new(&bin)
        .arg("--data-dir")
        .arg(dir.path())
        .args([
            "--lang",
            "en",
            "--database",
            "mysql://root@localhost/x",
            "init",
        ])
        .output());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("postgres://"), "{err}");
    assert!(!dir.path().join("pan.key").exists(), "nothing was created");
    let out = ok(Command::new(&bin)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--lang", "zh", "demo", "run"])
        .env("SUANPAN_DATABASE", "postgres://nobody@127.0.0.1:1/none")
        .output());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("PostgreSQL") && err.contains("SQLite"),
        "{err}"
    );
}

// Goal: a second node whose data directory lacks the PAN key of the database's first node is
// refused with a message naming the file, before it listens.
#[test]
fn a_node_without_the_pan_key_is_refused() {
    let Some(url) = test_database_url() else {
        return;
    };
    let first = ok(tempfile::tempdir());
    let (_schema, database) = prepare(&url, first.path());
    let second = ok(tempfile::tempdir());
    let out = ok(Command::new(assert_cmd::cargo::cargo_bin("suanpan"))
        .arg("--data-dir")
        .arg(second.path())
        .arg("--kek-file")
        .arg(kek_of(first.path()))
        .args(["--lang", "en", "serve", "--iso8583-addr", "127.0.0.1:0"])
        .args(["--http-addr", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .env("SUANPAN_DATABASE", &database)
        .output());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pan.key") && err.contains("same PAN"), "{err}");
}

// Goal: the admin path an operator needs on a shared database: register a terminal with its
// master key, list it, verify the audit chain and check money, all through `--database`.
#[test]
fn admin_audit_and_check_run_on_postgres() {
    let Some(url) = test_database_url() else {
        return;
    };
    let dir = ok(tempfile::tempdir());
    let (_schema, database) = prepare(&url, dir.path());
    let cli = |args: &[&str]| {
        let out = ok(Command::new(assert_cmd::cargo::cargo_bin("suanpan"))
            .arg("--data-dir")
            .arg(dir.path())
            .arg("--json")
            .args(args)
            .env("SUANPAN_DATABASE", &database)
            .env("SUANPAN_TMK", DEMO_TMK_HEX)
            .output());
        assert!(out.status.success(), "{args:?}: {out:?}");
        let v: serde_json::Value = ok(serde_json::from_slice(&out.stdout));
        v
    };
    let added = cli(&[
        "admin",
        "terminal",
        "add",
        "--id",
        "P0000001",
        "--merchant",
        DEMO_MERCHANT,
    ]);
    let listed = added["terminals"].as_array().cloned().unwrap_or_default();
    let p = listed
        .iter()
        .find(|t| t["id"] == "P0000001")
        .unwrap_or_else(|| panic!("registered terminal listed: {added}"));
    assert_eq!(
        (p["enabled"].as_bool(), p["has_tmk"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(p["batch_no"], 1);
    let disabled = cli(&["admin", "terminal", "disable", "P0000001"]);
    assert!(
        disabled.to_string().contains("\"enabled\":false"),
        "{disabled}"
    );
    let audit = cli(&["audit", "verify"]);
    assert_eq!(audit["ok"], true, "{audit}");
    let check = cli(&["check"]);
    assert_eq!(check["conservation_holds"], true, "{check}");
}

// Goal: the counter's commands on a shared database: sales, a void, a partial refund, the
// listing, a receipt, an export and the settlement, with the same answers as on SQLite.
#[test]
fn counter_commands_run_on_postgres() {
    let Some(url) = test_database_url() else {
        return;
    };
    let dir = ok(tempfile::tempdir());
    let (_schema, database) = prepare(&url, dir.path());
    let cli_as = |password: &str, args: &[&str]| -> (i32, serde_json::Value) {
        let out = ok(Command::new(assert_cmd::cargo::cargo_bin("suanpan"))
            .arg("--data-dir")
            .arg(dir.path())
            .arg("--json")
            .args(args)
            .env("SUANPAN_DATABASE", &database)
            .env("SUANPAN_OPERATOR_PASSWORD", password)
            .env("SUANPAN_SUPERVISOR_PASSWORD", "123456")
            .output());
        let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
        (out.status.code().unwrap_or(-1), v)
    };
    let cli = |args: &[&str]| cli_as("0000", args);
    let counter = ["--terminal", DEMO_TERMINAL, "--operator", "01"];
    let sale = |amount: &str| {
        let mut a = vec![
            "txn",
            "sale",
            "--amount",
            amount,
            "--card",
            "6222021234567890128",
        ];
        a.extend(counter);
        a.push("--confirm-duplicate");
        let (code, v) = cli(&a);
        assert_eq!(code, 0, "{v}");
        v["transaction"].clone()
    };
    let first = sale("88.00");
    let second = sale("20.00");
    let mut void = vec!["txn", "void", "--supervisor", "00", "--reason", "顾客取消"];
    void.extend(counter);
    let voucher = second["voucher_no"].as_str().unwrap_or_default().to_owned();
    void.extend(["--voucher", &voucher, "--customer-consent"]);
    let (code, v) = cli(&void);
    assert_eq!(
        (code, &v["transaction"]["kind"]),
        (0, &serde_json::json!("void")),
        "{v}"
    );
    let (code, again) = cli(&void);
    assert_eq!(code, 3, "a second void is refused: {again}");
    let rrn = first["rrn"].as_str().unwrap_or_default().to_owned();
    let mut refund = vec!["txn", "refund", "--supervisor", "00", "--reason", "退货"];
    refund.extend(counter);
    refund.extend(["--rrn", &rrn, "--amount", "10"]);
    let (code, v) = cli(&refund);
    assert_eq!(code, 0, "{v}");
    let (code, list) = cli(&["txn", "list"]);
    assert_eq!(code, 0, "{list}");
    assert_eq!(list.to_string().matches("\"kind\"").count(), 4, "{list}");
    let id = first["id"].as_i64().unwrap_or_default().to_string();
    let (code, receipt) = cli(&["receipt", "print", &id, "--reprint"]);
    assert_eq!(code, 0, "{receipt}");
    assert!(
        receipt["receipt"]
            .as_str()
            .unwrap_or_default()
            .contains("88.00"),
        "{receipt}"
    );
    let csv = dir.path().join("out.csv");
    let (code, v) = cli(&[
        "export",
        "--format",
        "csv",
        "-o",
        &csv.display().to_string(),
    ]);
    assert_eq!((code, v["rows"].as_u64()), (0, Some(4)), "{v}");
    let (code, v) = cli_as(
        "123456",
        &[
            "batch",
            "settle",
            "--terminal",
            DEMO_TERMINAL,
            "--operator",
            "00",
        ],
    );
    assert_eq!(code, 0, "{v}");
    let (code, check) = cli(&["check"]);
    assert_eq!(
        (code, &check["ok"]),
        (0, &serde_json::json!(true)),
        "{check}"
    );
}

// Goal: `backup` on PostgreSQL where pg_dump is not installed says so and writes nothing; a
// restore of a PostgreSQL backup that is not there fails its verification and decrypts
// nothing.
#[test]
fn backup_without_pg_dump_and_restore_are_refused_clearly() {
    let Some(url) = test_database_url() else {
        return;
    };
    let dir = ok(tempfile::tempdir());
    let (_schema, database) = prepare(&url, dir.path());
    let run = |args: &[&str], path: Option<&str>| {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin("suanpan"));
        c.arg("--data-dir")
            .arg(dir.path())
            .args(["--lang", "en"])
            .args(args)
            .env("SUANPAN_DATABASE", &database);
        if let Some(p) = path {
            c.env("PATH", p);
        }
        ok(c.output())
    };
    let out = run(&["backup", "create"], Some("/nonexistent"));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pg_dump was not found"), "{err}");
    let written = std::fs::read_dir(dir.path().join("backups"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(written, 0, "no backup file left behind");
    let out = run(&["backup", "restore", "x.dump"], None);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("failed verification"), "{err}");
    assert!(!std::path::Path::new("x.dump.clear").exists());
}

/// Posts a JSON body over plain HTTP/1.1 and returns the status code and the body.
fn http_post(addr: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = ok(std::net::TcpStream::connect(addr));
    ok(s.set_read_timeout(Some(Duration::from_secs(20))));
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    ok(s.write_all(req.as_bytes()));
    let mut out = String::new();
    ok(s.read_to_string(&mut out));
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out)
}

// Goal: the back-office on a shared database: `admin user add|list` work on PostgreSQL (the
// back-office tables are created on the way, a taken name is refused), and `serve` starts the
// back-office there too, where the new user logs in.
#[test]
fn backoffice_users_and_serve_on_postgres() {
    let Some(url) = test_database_url() else {
        return;
    };
    let dir = ok(tempfile::tempdir());
    let (_schema, database) = prepare(&url, dir.path());
    let cli = |args: &[&str]| {
        ok(Command::new(assert_cmd::cargo::cargo_bin("suanpan"))
            .arg("--data-dir")
            .arg(dir.path())
            .arg("--json")
            .args(args)
            .env("SUANPAN_DATABASE", &database)
            .env("SUANPAN_NEW_PASSWORD", "long-enough-1")
            .output())
    };
    let add = [
        "admin",
        "user",
        "add",
        "--username",
        "manager",
        "--role",
        "supervisor",
        "--name",
        "店长 Manager",
        "--merchant",
        DEMO_MERCHANT,
    ];
    let out = cli(&add);
    assert!(out.status.success(), "{out:?}");
    let listed = cli(&["admin", "user", "list", "--merchant", DEMO_MERCHANT]);
    let v: serde_json::Value = ok(serde_json::from_slice(&listed.stdout));
    let users = v["users"].as_array().cloned().unwrap_or_default();
    assert!(
        users
            .iter()
            .any(|u| u["username"] == "manager" && u["role"] == "supervisor"),
        "{v}"
    );
    let again = cli(&add);
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("taken"),
        "{again:?}"
    );

    let mut c = Command::new(assert_cmd::cargo::cargo_bin("suanpan"));
    c.arg("--data-dir")
        .arg(dir.path())
        .env_remove("SUANPAN_LOG")
        .env("SUANPAN_DATABASE", &database)
        .args(["--json", "serve", "--iso8583-addr", "127.0.0.1:0"])
        .args(["--http-addr", "127.0.0.1:0", "--http", "127.0.0.1:0"]);
    let (_node, announced) = spawn_serve(&mut c);
    let web = announced["backoffice"]
        .as_str()
        .unwrap_or_else(|| panic!("no back-office announced: {announced}"));
    let addr = web.trim_start_matches("http://").trim_end_matches('/');
    let (status, answer) = http_post(
        addr,
        "/api/v1/session",
        r#"{"username":"manager","password":"long-enough-1"}"#,
    );
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = http_post(
        addr,
        "/api/v1/session",
        r#"{"username":"manager","password":"wrong-password"}"#,
    );
    assert_eq!(status, 401, "{answer}");
}
