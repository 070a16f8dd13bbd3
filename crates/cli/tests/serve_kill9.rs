//! `suanpan serve` as a process: `serve --demo` on port 0 answers over real TCP; a `kill -9`
//! during load, then a restart: every approved response a terminal saw is in the store,
//! nothing is booked twice, money is conserved, and terminals must sign in again (77).
//! Also: `[server]` config and `SUANPAN_*` overrides, and `demo keys --json`.

mod common;

use common::{ServeProcess, serve_at, spawn_serve};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use suanpan_host::client::{Card, Connection, Kind, Terminal};
use suanpan_store::admin::{DEMO_MERCHANT, DEMO_TERMINAL, DEMO_TMK_HEX};

const EXTRA_TERMINALS: [&str; 3] = ["K9000001", "K9000002", "K9000003"];
/// How long the load runs before the kill.
const LOAD_MS: u64 = 1_500;

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn suanpan(dir: &Path) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("suanpan"));
    c.arg("--data-dir").arg(dir).env_remove("SUANPAN_LOG");
    c
}

/// Starts `serve` on free ports and reads the 8583 address from its JSON announcement.
fn serve(dir: &Path, demo: bool) -> (ServeProcess, SocketAddr) {
    let (child, addr, v) = serve_at(dir, demo, "127.0.0.1:0");
    if demo {
        assert_eq!(v["demo"]["terminal_id"], DEMO_TERMINAL);
        assert_eq!(v["demo"]["tmk_hex"], DEMO_TMK_HEX);
    }
    (child, addr)
}

fn cli_ok(c: &mut Command) {
    let out = ok(c.output());
    assert!(out.status.success(), "{out:?}");
}

/// One terminal's loop: sign in, then sales until the connection dies; returns the RRNs
/// of approved responses and the STAN of the request in flight when it died.
async fn load(addr: SocketAddr, id: String) -> (Vec<String>, Option<u32>) {
    let mut t = ok(Terminal::new(&id, DEMO_MERCHANT, DEMO_TMK_HEX));
    let mut c = ok(Connection::connect(addr).await);
    let frame = ok(t.sign_in());
    let r = ok(t.accept_sign_in(&ok(c.call(&frame).await)));
    assert_eq!(r.code, "00");
    let card = Card::new("6222021234567890128", "3012");
    let mut approved = Vec::new();
    loop {
        let Ok((stan, frame)) = t.request(Kind::Sale, &card, 1, None) else {
            return (approved, None);
        };
        let Ok(body) = c.call(&frame).await else {
            return (approved, Some(stan));
        };
        let r = ok(t.parse(&body));
        assert_eq!(r.code, "00", "{id}: {}", r.text);
        assert_eq!(r.mac_ok, Some(true));
        approved.push(r.rrn.unwrap_or_default());
    }
}

// Goal: kill -9 of serve during load loses no approved response and duplicates nothing;
// after a restart terminals sign in again and money is conserved.
#[test]
fn kill9_during_load_then_restart() {
    let dir = ok(tempfile::tempdir());
    let (mut child, addr) = serve(dir.path(), true);
    for id in EXTRA_TERMINALS {
        cli_ok(suanpan(dir.path()).args([
            "admin",
            "terminal",
            "add",
            "--id",
            id,
            "--merchant",
            DEMO_MERCHANT,
        ]));
        cli_ok(
            suanpan(dir.path())
                .args(["admin", "terminal", "set-tmk", "--id", id])
                .env("SUANPAN_TMK", DEMO_TMK_HEX),
        );
    }
    let rt = ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build());
    let results = rt.block_on(async {
        let mut tasks = Vec::new();
        for id in std::iter::once(DEMO_TERMINAL).chain(EXTRA_TERMINALS) {
            tasks.push(tokio::spawn(load(addr, id.to_owned())));
        }
        tokio::time::sleep(Duration::from_millis(LOAD_MS)).await;
        child.kill();
        let mut out = Vec::new();
        for t in tasks {
            out.push(ok(t.await));
        }
        out
    });
    let seen: Vec<&String> = results.iter().flat_map(|(r, _)| r).collect();
    assert!(seen.len() > 10, "the load ran: {} approved", seen.len());

    let (mut child, addr) = serve(dir.path(), false);
    let db = ok(rusqlite::Connection::open(dir.path().join("suanpan.db")));
    for rrn in &seen {
        let n: i64 = ok(db.query_row(
            "SELECT COUNT(*) FROM txns WHERE rrn = ?1 AND kind = 'sale' AND status = 'approved'",
            [rrn.as_str()],
            |r| r.get(0),
        ));
        assert_eq!(n, 1, "approved response {rrn} is in the store");
    }
    let dups: i64 = ok(db.query_row(
        "SELECT COUNT(*) FROM (SELECT terminal_id, batch_no, voucher_no FROM txns
         GROUP BY 1, 2, 3 HAVING COUNT(*) > 1)",
        [],
        |r| r.get(0),
    ));
    assert_eq!(dups, 0, "no voucher booked twice");

    rt.block_on(async {
        // The restarted host forgot the sessions: a terminal is told to sign in again (77).
        let t = ok(Terminal::new(DEMO_TERMINAL, DEMO_MERCHANT, DEMO_TMK_HEX));
        let mut c = ok(Connection::connect(addr).await);
        let b = ok(t.financial(
            Kind::Sale,
            &Card::new("6222021234567890128", "3012"),
            1,
            None,
            999_000,
        ));
        let mut frame = Vec::new();
        ok(b.encode(&mut frame));
        let body = ok(c.call(&frame).await);
        assert_eq!(ok(t.parse(&body)).code, "77");
        // The in-flight request of each terminal is resolved by a reversal after sign-in.
        for (id, (_, in_flight)) in std::iter::once(DEMO_TERMINAL)
            .chain(EXTRA_TERMINALS)
            .zip(&results)
        {
            let mut t = ok(Terminal::new(id, DEMO_MERCHANT, DEMO_TMK_HEX));
            let mut c = ok(Connection::connect(addr).await);
            let frame = ok(t.sign_in());
            let r = ok(t.accept_sign_in(&ok(c.call(&frame).await)));
            assert_eq!(r.code, "00");
            let Some(stan) = in_flight else { continue };
            let card = Card::new("6222021234567890128", "3012");
            let rev = ok(t.reversal(Kind::Sale, &card, 1, None, *stan, "98"));
            let r = ok(t.parse(&ok(c.call(&rev).await)));
            assert_eq!(r.code, "00", "{id}: {}", r.text);
        }
    });
    child.kill();
    let out = ok(suanpan(dir.path()).args(["--json", "check"]).output());
    assert!(out.status.success(), "suanpan check: {out:?}");
}

// Goal: `demo keys --json` prints what a terminal needs to talk to the demo host.
#[test]
fn demo_keys_json() {
    let dir = ok(tempfile::tempdir());
    let out = ok(suanpan(dir.path())
        .args(["--json", "demo", "keys"])
        .output());
    assert!(out.status.success());
    let v: serde_json::Value = ok(serde_json::from_slice(&out.stdout));
    assert_eq!(v["terminal_id"], DEMO_TERMINAL);
    assert_eq!(v["merchant_id"], DEMO_MERCHANT);
    assert_eq!(v["tmk_hex"], DEMO_TMK_HEX);
}

// Goal: `[server]` in the config file and SUANPAN_* variables set the addresses; an unknown
// `[server]` key is refused before anything listens.
#[test]
fn serve_reads_config_and_env() {
    let dir = ok(tempfile::tempdir());
    let cfg = dir.path().join("host.toml");
    ok(std::fs::write(
        &cfg,
        "[server]\niso8583_addr = \"127.0.0.1:0\"\nidle_timeout_ms = 1000\n[web]\nhttp = \"127.0.0.1:0\"\n",
    ));
    let (mut child, v) = spawn_serve(
        suanpan(dir.path())
            .args(["--json", "serve", "--demo", "--config"])
            .arg(&cfg)
            .env("SUANPAN_HTTP_ADDR", "127.0.0.1:0"),
    );
    child.kill();
    let iso: SocketAddr = ok(v["iso8583_addr"].as_str().unwrap_or_default().parse());
    let http: SocketAddr = ok(v["http_addr"].as_str().unwrap_or_default().parse());
    assert_ne!(iso.port(), 5800, "from the config file");
    assert_ne!(http.port(), 9180, "from SUANPAN_HTTP_ADDR");
    let web = v["backoffice"].as_str().unwrap_or_default();
    assert!(
        web.starts_with("http://127.0.0.1:") && !web.contains(":8080"),
        "from [web] http: {web}"
    );
    assert_eq!(v["demo"]["backoffice_users"][0]["username"], "cashier");

    ok(std::fs::write(&cfg, "[server]\nlisten = \"127.0.0.1:0\"\n"));
    let out = ok(suanpan(dir.path())
        .args(["serve", "--config"])
        .arg(&cfg)
        .output());
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}
