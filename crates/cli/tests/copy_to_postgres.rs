//! `suanpan admin copy-to-postgres`: the operator's move from one node to several. The demo
//! and a sale booked on the embedded store are copied into an empty PostgreSQL schema; the
//! copy passes `check`, lists the sale and books the next one through `--database`, with the
//! data directory's PAN key and KEK; a second copy into the same target is refused.
//! Skipped without `SUANPAN_TEST_DATABASE_URL`.

mod common;

use common::Schema;
use std::process::Command;
use suanpan_store::admin::DEMO_TERMINAL;

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

// Goal: the test at the command line: seed the demo and a sale into SQLite, copy,
// `check` on PostgreSQL, list the transactions and book one more sale there.
#[test]
fn the_embedded_store_moves_to_postgres_and_serves() {
    let Some(url) = std::env::var("SUANPAN_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("skipped: SUANPAN_TEST_DATABASE_URL is not set");
        return;
    };
    let dir = ok(tempfile::tempdir());
    let data = dir.path().join("data");
    let name = format!(
        "c_{}_{}",
        std::process::id(),
        jiff::Timestamp::now().as_microsecond()
    );
    let _schema = Schema {
        url: url.clone(),
        name: name.clone(),
    };
    // The schema is named in the URL, as an operator would; the copy creates it.
    let sep = if url.contains('?') { '&' } else { '?' };
    let database = format!("{url}{sep}options=-csearch_path%3D{name}");
    let run = |on_pg: bool, args: &[&str]| {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin("suanpan"));
        c.arg("--data-dir")
            .arg(&data)
            .args(args)
            .env_remove("SUANPAN_DATABASE")
            .env("SUANPAN_OPERATOR_PASSWORD", "0000");
        if on_pg {
            c.env("SUANPAN_DATABASE", &database);
        }
        let out = ok(c.output());
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code().unwrap_or(-1), v, err)
    };
    let sale = |on_pg: bool, amount: &str| {
        let (code, v, err) = run(
            on_pg,
            &[
                "--json",
                "txn",
                "sale",
                "--amount",
                amount,
                "--card",
                "6222021234567890128",
                "--terminal",
                DEMO_TERMINAL,
                "--operator",
                "01",
                "--confirm-duplicate",
            ],
        );
        assert_eq!(code, 0, "{v} {err}");
        v["transaction"].clone()
    };
    let (code, _, err) = run(false, &["init", "--demo"]);
    assert_eq!(code, 0, "{err}");
    let first = sale(false, "88.00");

    let (code, v, err) = run(true, &["--json", "admin", "copy-to-postgres"]);
    assert_eq!(code, 0, "{v} {err}");
    assert_eq!(v["report"]["tables"]["txns"], 1, "{v}");
    assert!(
        err.contains("复制 txns: 1 / 1 行"),
        "progress on stderr: {err}"
    );

    let (code, v, err) = run(true, &["--json", "check"]);
    assert_eq!((code, &v["ok"]), (0, &serde_json::json!(true)), "{v} {err}");
    let second = sale(true, "20.00");
    assert_ne!(first["rrn"], second["rrn"]);
    let (code, list, err) = run(true, &["--json", "txn", "list"]);
    assert_eq!(code, 0, "{err}");
    let text = list.to_string();
    assert!(
        text.contains(first["rrn"].as_str().unwrap_or("?"))
            && text.contains(second["rrn"].as_str().unwrap_or("?")),
        "{list}"
    );

    let (code, _, err) = run(true, &["admin", "copy-to-postgres"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("不是空的"), "{err}");
}
