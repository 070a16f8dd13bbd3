//! Issue 11, the wire side, from the command line: a terminal's MAC algorithm is chosen,
//! shown and checked; half a TLS configuration of the 8583 port stops `serve` before
//! anything listens.

mod common;

use common::{Demo, TERMINAL, run, run_json};
use std::time::Duration;

// Goal: `admin terminal set-mac` switches a terminal to X9.19 (listed), a bad name is
// refused and changes nothing, and `terminal add --mac` refuses a bad name before
// registering anything.
#[test]
fn terminal_mac_is_set_listed_and_checked() {
    let d = Demo::new();
    let (code, v) = run_json(d.cmd().args(["admin", "terminal", "list"]));
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["terminals"][0]["mac"], "ecb");
    run(d.cmd().args([
        "admin", "terminal", "set-mac", "--id", TERMINAL, "--mac", "x919",
    ]))
    .ok();
    let out = run(d.cmd().args(["admin", "terminal", "list"])).ok();
    assert!(
        out.stdout.contains(&format!("{TERMINAL} ")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("mac:x919"), "{}", out.stdout);
    let bad = run(d.cmd().args([
        "admin", "terminal", "set-mac", "--id", TERMINAL, "--mac", "des",
    ]));
    assert_ne!(bad.code, 0);
    assert!(bad.text().contains("x919"), "{}", bad.text());
    let (_, v) = run_json(d.cmd().args(["admin", "terminal", "list"]));
    let demo = v["terminals"]
        .as_array()
        .and_then(|a| a.iter().find(|t| t["id"] == TERMINAL).cloned())
        .unwrap_or_default();
    assert_eq!(demo["mac"], "x919");
    let add = run(d.cmd().args([
        "admin",
        "terminal",
        "add",
        "--id",
        "87654321",
        "--merchant",
        suanpan_store::admin::DEMO_MERCHANT,
        "--mac",
        "md5",
    ]));
    assert_ne!(add.code, 0);
    let (_, v) = run_json(d.cmd().args(["admin", "terminal", "list"]));
    assert!(
        !v["terminals"].to_string().contains("87654321"),
        "nothing registered: {v}"
    );
}

// Goal: `iso8583_tls_required = true` without a certificate, or a certificate file that
// does not exist, stops `serve` with the key or file named, before anything listens.
#[test]
fn half_tls_configuration_stops_serve() {
    let d = Demo::new();
    let config = d.tmp.path().join("tls.toml");
    for (toml, named) in [
        (
            "[server]\niso8583_tls_required = true\n",
            "iso8583_tls_required",
        ),
        (
            "[server]\niso8583_tls_cert = \"/nonexistent/c.pem\"\niso8583_tls_key = \"/nonexistent/k.pem\"\n",
            "/nonexistent/c.pem",
        ),
    ] {
        std::fs::write(&config, toml).expect("write config");
        let out = run(d
            .cmd()
            .args([
                "serve",
                "--iso8583-addr",
                "127.0.0.1:0",
                "--http-addr",
                "127.0.0.1:0",
            ])
            .args(["--http", "127.0.0.1:0", "--config"])
            .arg(&config)
            .timeout(Duration::from_secs(30)));
        assert_ne!(out.code, 0, "{out:#?}");
        assert!(out.text().contains(named), "{}", out.text());
    }
}
