//! `suanpan serve` as a process: `serve --demo` on port 0 answers over real TCP; `kill -9`
//! during load, then a restart, for `SUANPAN_KILL9_CYCLES` cycles: every approved response a
//! terminal saw is in the store exactly once, nothing is booked twice or half, money is
//! conserved, and terminals must sign in again (77).
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

/// Starts `serve` on free ports and reads the 8583 address from its JSON announcement.
fn serve(dir: &Path, demo: bool) -> (ServeProcess, SocketAddr) {
    duplicate_rule_off(dir);
    let (child, addr, v) = serve_at(dir, demo, "127.0.0.1:0");
    if demo {
        assert_eq!(v["demo"]["terminal_id"], DEMO_TERMINAL);
        assert_eq!(v["demo"]["tmk_hex"], DEMO_TMK_HEX);
    }
    (child, addr)
}

/// Kill -9 cycles of [`kill9_cycles_under_load`] (`SUANPAN_KILL9_CYCLES`, default 3 for CI;
/// the recorded 50-cycle run is in docs/BENCHMARKS.md).
fn cycles() -> u32 {
    std::env::var("SUANPAN_KILL9_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

/// One terminal's loop: sign in, then sales until the connection dies; STANs continue from
/// `stan` (a terminal never reuses one within a batch). Returns the RRNs of approved
/// responses, the STAN of the request in flight when it died, and the last STAN used.
async fn load(addr: SocketAddr, id: String, stan: u32) -> (Vec<String>, Option<u32>, u32) {
    let mut t = ok(Terminal::new(&id, DEMO_MERCHANT, DEMO_TMK_HEX));
    t.stan = stan;
    let mut approved = Vec::new();
    let Ok(mut c) = Connection::connect(addr).await else {
        return (approved, None, t.stan);
    };
    let frame = ok(t.sign_in());
    let Ok(body) = c.call(&frame).await else {
        return (approved, None, t.stan);
    };
    let r = ok(t.accept_sign_in(&body));
    assert_eq!(r.code, "00");
    let card = Card::new("6222021234567890128", "3012");
    loop {
        let Ok((stan, frame)) = t.request(Kind::Sale, &card, 1, None) else {
            return (approved, None, t.stan);
        };
        let Ok(body) = c.call(&frame).await else {
            return (approved, Some(stan), t.stan);
        };
        let r = ok(t.parse(&body));
        assert_eq!(r.code, "00", "{id}: {}", r.text);
        assert_eq!(r.mac_ok, Some(true));
        approved.push(r.rrn.unwrap_or_default());
    }
}

/// After a restart: each terminal signs in and reverses its in-flight request (the reversal
/// discipline); the reversal must be answered 00 (reversed, or never arrived). Returns the
/// last STAN of each terminal.
async fn reverse_in_flight(
    addr: SocketAddr,
    results: &[(Vec<String>, Option<u32>, u32)],
) -> Vec<u32> {
    let mut stans = Vec::new();
    for (id, (_, in_flight, last)) in terminal_ids().zip(results) {
        let mut t = ok(Terminal::new(id, DEMO_MERCHANT, DEMO_TMK_HEX));
        t.stan = *last;
        let mut c = ok(Connection::connect(addr).await);
        let frame = ok(t.sign_in());
        let r = ok(t.accept_sign_in(&ok(c.call(&frame).await)));
        assert_eq!(r.code, "00");
        if let Some(stan) = in_flight {
            let card = Card::new("6222021234567890128", "3012");
            let rev = ok(t.reversal(Kind::Sale, &card, 1, None, *stan, "98"));
            let r = ok(t.parse(&ok(c.call(&rev).await)));
            assert_eq!(r.code, "00", "{id}: {}", r.text);
        }
        stans.push(t.stan);
    }
    stans
}

fn terminal_ids() -> impl Iterator<Item = &'static str> {
    std::iter::once(DEMO_TERMINAL).chain(EXTRA_TERMINALS)
}

/// Every approved response is booked exactly once (approved, not reversed); every request
/// in flight at a kill is not in effect (absent or reversed); no voucher is booked twice.
fn assert_exact(db: &rusqlite::Connection, seen: &[String], in_flight: &[(String, u32)]) {
    for rrn in seen {
        let n: i64 = ok(db.query_row(
            "SELECT COUNT(*) FROM txns WHERE rrn = ?1 AND kind = 'sale' AND status = 'approved'",
            [rrn.as_str()],
            |r| r.get(0),
        ));
        assert_eq!(n, 1, "approved response {rrn} is in the store once");
    }
    for (id, stan) in in_flight {
        let n: i64 = ok(db.query_row(
            "SELECT COUNT(*) FROM txns t JOIN terminals m ON m.id = t.terminal_id
             WHERE t.terminal_id = ?1 AND t.voucher_no = ?2 AND t.kind = 'sale'
             AND t.status = 'approved' AND t.batch_id = m.batch_id",
            rusqlite::params![id, stan],
            |r| r.get(0),
        ));
        assert_eq!(
            n, 0,
            "{id} STAN {stan}: unanswered, then reversed: not in effect"
        );
    }
    let dups: i64 = ok(db.query_row(
        "SELECT COUNT(*) FROM (SELECT terminal_id, batch_no, voucher_no FROM txns
         WHERE kind != 'reversal' GROUP BY 1, 2, 3 HAVING COUNT(*) > 1)",
        [],
        |r| r.get(0),
    ));
    assert_eq!(dups, 0, "no voucher booked twice");
}

// Goal: kill -9 of serve during load, restart, again and again (`SUANPAN_KILL9_CYCLES`):
// every approved response a terminal saw is in the store exactly once, every request in
// flight at a kill is reversed (never half-booked), nothing is booked twice, money is
// conserved and the audit chain holds; after a restart terminals must sign in again (77).
#[test]
fn kill9_cycles_under_load() {
    let dir = ok(tempfile::tempdir());
    let (mut child, mut addr) = serve(dir.path(), true);
    for id in EXTRA_TERMINALS {
        common::add_demo_terminal(dir.path(), id);
    }
    let rt = ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build());
    let mut stans = vec![0u32; 1 + EXTRA_TERMINALS.len()];
    let mut seen: Vec<String> = Vec::new();
    let mut in_flight: Vec<(String, u32)> = Vec::new();
    let cycles = cycles();
    for cycle in 0..cycles {
        let results = rt.block_on(async {
            let mut tasks = Vec::new();
            for (id, stan) in terminal_ids().zip(&stans) {
                tasks.push(tokio::spawn(load(addr, id.to_owned(), *stan)));
            }
            tokio::time::sleep(Duration::from_millis(LOAD_MS)).await;
            child.kill();
            let mut out = Vec::new();
            for t in tasks {
                out.push(ok(t.await));
            }
            out
        });
        let approved_now: usize = results.iter().map(|(r, _, _)| r.len()).sum();
        assert!(approved_now > 0, "cycle {cycle}: the load ran");
        seen.extend(results.iter().flat_map(|(r, _, _)| r.iter().cloned()));
        (child, addr) = serve(dir.path(), false);
        if cycle == 0 {
            rt.block_on(async {
                // The restarted host forgot the sessions: a terminal is told to sign in again.
                let t = ok(Terminal::new(DEMO_TERMINAL, DEMO_MERCHANT, DEMO_TMK_HEX));
                let mut c = ok(Connection::connect(addr).await);
                let card = Card::new("6222021234567890128", "3012");
                let b = ok(t.financial(Kind::Sale, &card, 1, None, 999_000));
                let mut frame = Vec::new();
                ok(b.encode(&mut frame));
                let body = ok(c.call(&frame).await);
                assert_eq!(ok(t.parse(&body)).code, "77");
            });
        }
        stans = rt.block_on(reverse_in_flight(addr, &results));
        for (id, (_, f, _)) in terminal_ids().zip(&results) {
            if let Some(stan) = f {
                in_flight.push((id.to_owned(), *stan));
            }
        }
        let db = ok(rusqlite::Connection::open(dir.path().join("suanpan.db")));
        assert_exact(&db, &seen, &in_flight);
    }
    child.kill();
    eprintln!(
        "kill -9 cycles: {cycles}, approved responses checked: {}, requests in flight at a kill: {}",
        seen.len(),
        in_flight.len()
    );
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
        "[server]\niso8583_addr = \"127.0.0.1:0\"\nidle_timeout_ms = 1000\n[web]\nhttp = \"127.0.0.1:0\"\n[store]\nwriter_cache_mib = 12\n",
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
    assert_eq!(
        v["writer_cache_mib"], 12,
        "[store] of the --config file, not of the data directory's"
    );

    ok(std::fs::write(&cfg, "[server]\nlisten = \"127.0.0.1:0\"\n"));
    let out = ok(suanpan(dir.path())
        .args(["serve", "--config"])
        .arg(&cfg)
        .output());
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}
