//! Issue 11 with the PKCS#11 provider, against a fresh SoftHSM2 token made in a temporary
//! directory (SOFTHSM2_CONF): `keys init --pkcs11`, `serve` signing a terminal in and
//! booking a PIN sale over 8583, no key or PIN on disk, and the move from a KEK file.
//! Skips with a message when SoftHSM2 is missing, fails under CI=true.

mod common;

use common::{Demo, Secrets, run, run_json, spawn_serve, suanpan};
use std::path::{Path, PathBuf};
use std::process::Command;
use suanpan_host::client::{Card, Connection, Kind, Terminal};
use suanpan_iso8583::{KeyLayout, MacAlgorithm};
use suanpan_store::admin::{DEMO_MERCHANT, DEMO_TERMINAL, DEMO_TMK_HEX};
use suanpan_store::pkcs11::{Pkcs11Config, Pkcs11Kek, test_token};

/// A token in `tmp` and the environment every command needs to use it.
struct Hsm {
    cfg: Pkcs11Config,
    conf: PathBuf,
}

impl Hsm {
    fn new(tmp: &Path) -> Option<Hsm> {
        let (cfg, conf) = test_token::make(&tmp.join("hsm"))?;
        Some(Hsm { cfg, conf })
    }

    /// The environment that points a command at the token.
    fn envs(&self) -> Vec<(&'static str, std::ffi::OsString)> {
        vec![
            ("SOFTHSM2_CONF", self.conf.clone().into()),
            ("SUANPAN_PKCS11_MODULE", self.cfg.module.clone().into()),
            ("SUANPAN_PKCS11_TOKEN", self.cfg.token.clone().into()),
            ("SUANPAN_PKCS11_PIN", self.cfg.pin.as_str().into()),
        ]
    }

    /// Points a command at the token.
    fn on<'a>(&self, c: &'a mut assert_cmd::Command) -> &'a mut assert_cmd::Command {
        c.envs(self.envs())
    }
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Every file under `dir` holding one of `needles`.
fn leaks(dir: &Path, needles: &[(&str, Vec<u8>)]) -> Vec<String> {
    let mut all = Vec::new();
    files(dir, &mut all);
    let mut found = Vec::new();
    for f in all {
        let bytes = std::fs::read(&f).expect("read");
        for (label, n) in needles {
            let hit = if n == common::CARD_PIN_PIN.as_bytes() {
                // The demo terminal id 12345678 holds the demo PIN's digits: only other
                // occurrences count.
                bytes
                    .windows(n.len() + 2)
                    .any(|w| w.starts_with(n) && &w[n.len()..] != b"78")
            } else {
                bytes.windows(n.len()).any(|w| w == n.as_slice())
            };
            if hit {
                found.push(format!("{label} in {}", f.display()));
            }
        }
    }
    found
}

fn sign_in_and_sell(
    addr: std::net::SocketAddr,
    layout: KeyLayout,
    mac: MacAlgorithm,
    stan: u32,
) -> Vec<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut t = Terminal::new(DEMO_TERMINAL, DEMO_MERCHANT, DEMO_TMK_HEX).expect("terminal");
        t.key_layout = layout;
        t.mac_algorithm = mac;
        // A STAN is never reused within a batch (94 otherwise).
        t.stan = stan;
        let mut c = Connection::connect(addr).await.expect("connect");
        let body = c.call(&t.sign_in().expect("0800")).await.expect("0810");
        // The terminal opens field 62 under its TMK and checks both check values: the HSM
        // sealed the working keys under the TMK it holds.
        let r = t.accept_sign_in(&body).expect("working keys check");
        let mut codes = vec![r.code];
        if codes[0] != "00" {
            return codes;
        }
        for (i, pin) in [common::CARD_PIN_PIN, "999999"].into_iter().enumerate() {
            let card = Card::new(common::CARD_PIN, "3012").with_pin(pin);
            // A new amount each time: the same card for the same amount within minutes is
            // refused as a possible duplicate (core::risk) before the PIN is checked.
            let fen = 100 + u64::from(stan) + i as u64;
            let (_, frame) = t.request(Kind::Sale, &card, fen, None).expect("0200");
            let body = c.call(&frame).await.expect("0210");
            codes.push(t.parse(&body).expect("MAC of the 0210").code);
        }
        codes
    })
}

// The whole PKCS#11 path as an operator runs it: the KEK made in the token, a demo store
// whose TMK goes into the token, `serve` signing the terminal in (003 and 001 keys) and
// booking a PIN sale over 8583 (a wrong PIN answered 55), a second `keys init --pkcs11`
// refused, and a wrong token PIN stopping `serve` before it listens.
#[test]
fn serve_with_pkcs11_signs_in_and_sells_with_pin() {
    let tmp = tempfile::tempdir().expect("tmp");
    let Some(hsm) = Hsm::new(tmp.path()) else {
        return;
    };
    let dir = tmp.path().join("data");
    let (code, v) = run_json(
        hsm.on(&mut suanpan(&dir))
            .args(["keys", "init", "--pkcs11"]),
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["kek_id"].as_str().map(str::len), Some(16), "{v}");
    run(hsm.on(&mut suanpan(&dir)).args(["init", "--demo"])).ok();
    assert!(
        !tmp.path().join("data.kek").exists(),
        "no KEK file with an HSM"
    );
    let out = run(hsm
        .on(&mut suanpan(&dir))
        .args(["keys", "init", "--pkcs11"]));
    assert_ne!(out.code, 0, "a KEK is never overwritten: {}", out.text());

    let mut c = Command::new(common::bin());
    c.envs(hsm.envs())
        .arg("--data-dir")
        .arg(&dir)
        .env_remove("SUANPAN_LOG")
        .args(["--json", "serve", "--demo", "--iso8583-addr", "127.0.0.1:0"])
        .args(["--http-addr", "127.0.0.1:0", "--http", "127.0.0.1:0"]);
    let (mut server, v) = spawn_serve(&mut c);
    let addr = v["iso8583_addr"]
        .as_str()
        .expect("addr")
        .parse()
        .expect("addr");
    assert!(
        v["kek_file"]
            .as_str()
            .unwrap_or_default()
            .contains("PKCS#11"),
        "{v}"
    );
    for (layout, stan) in [(KeyLayout::Double, 0), (KeyLayout::Single, 100)] {
        assert_eq!(
            sign_in_and_sell(addr, layout, MacAlgorithm::PosEcb, stan),
            ["00", "00", "55"],
            "{layout:?}: sign-in, right PIN, wrong PIN"
        );
    }
    // An X9.19 terminal: the sign-in proof key is derived under the TMK in the token and the
    // double-length MAK is made there and sealed into 003's 16 bytes.
    let out = run(hsm.on(&mut suanpan(&dir)).args([
        "admin",
        "terminal",
        "set-mac",
        "--id",
        DEMO_TERMINAL,
        "--mac",
        "x919",
    ]));
    assert_eq!(out.code, 0, "{}", out.text());
    assert_eq!(
        sign_in_and_sell(addr, KeyLayout::Double, MacAlgorithm::X919, 200),
        ["00", "00", "55"],
        "X9.19 under the HSM: sign-in, right PIN, wrong PIN"
    );
    // Still named ECB, the terminal's proof no longer matches: refused, nothing changes.
    let refused = sign_in_and_sell(addr, KeyLayout::Double, MacAlgorithm::PosEcb, 300);
    assert_eq!(
        refused.first().map(String::as_str),
        Some("A0"),
        "{refused:?}"
    );
    server.kill();

    // A wrong token PIN: refused with its message, nothing listens.
    let out = run(hsm
        .on(&mut suanpan(&dir))
        .env("SUANPAN_PKCS11_PIN", "000000")
        .args(["serve", "--iso8583-addr", "127.0.0.1:0"])
        .args(["--http-addr", "127.0.0.1:0", "--http", "127.0.0.1:0"]));
    assert_ne!(out.code, 0);
    assert!(out.text().contains("SUANPAN_PKCS11_PIN"), "{}", out.text());
    // No PIN at all: named, in both languages.
    let out = run(hsm
        .on(&mut suanpan(&dir))
        .env_remove("SUANPAN_PKCS11_PIN")
        .args(["admin", "terminal", "list"]));
    assert_ne!(out.code, 0);
    let text = out.text();
    assert!(
        text.contains("SUANPAN_PKCS11_PIN") && text.contains("PIN"),
        "{text}"
    );
}

// Findings 1 and 6 with the HSM: after a PIN sale and a backup, no file of the data
// directory holds the TMK (hex or raw), the fingerprint key (hex or raw) or the PIN; the TMK
// is a token object (the row keeps a reference), and `admin terminal list` still names it.
#[test]
fn no_key_in_data_dir_with_pkcs11() {
    let tmp = tempfile::tempdir().expect("tmp");
    let Some(hsm) = Hsm::new(tmp.path()) else {
        return;
    };
    let dir = tmp.path().join("data");
    run(hsm
        .on(&mut suanpan(&dir))
        .args(["keys", "init", "--pkcs11"]))
    .ok();
    run(hsm.on(&mut suanpan(&dir)).args(["init", "--demo"])).ok();
    let sale = run(hsm
        .on(&mut suanpan(&dir))
        .args(["txn", "sale", "--terminal", DEMO_TERMINAL, "--operator"])
        .args([common::CASHIER, "--amount=1.00", "--card", common::CARD_PIN])
        .arg("--pin")
        .operator_password(common::CASHIER_PW)
        .pin(common::CARD_PIN_PIN));
    assert_eq!(sale.code, 0, "{}", sale.text());
    run(hsm.on(&mut suanpan(&dir)).args(["backup", "create"])).ok();

    // SAFETY: the one place in this test binary that uses the token in-process.
    unsafe { std::env::set_var("SOFTHSM2_CONF", &hsm.conf) };
    let keys = Pkcs11Kek::open(&hsm.cfg).expect("open the token");
    let wrapped = std::fs::read_to_string(dir.join("pan.key")).expect("pan.key");
    let pan_key = keys.unwrap("pan.key", wrapped.trim()).expect("unwrap");
    let tmk = hex::decode(DEMO_TMK_HEX).expect("hex");
    let needles = [
        ("TMK hex", DEMO_TMK_HEX.as_bytes().to_vec()),
        ("TMK hex (lower)", DEMO_TMK_HEX.to_lowercase().into_bytes()),
        ("TMK raw", tmk),
        ("pan.key hex", hex::encode(pan_key.expose()).into_bytes()),
        ("pan.key raw", pan_key.expose().to_vec()),
        ("PIN", common::CARD_PIN_PIN.as_bytes().to_vec()),
    ];
    let found = leaks(&dir, &needles);
    assert!(found.is_empty(), "clear secrets on disk: {found:?}");
    let db = rusqlite::Connection::open(dir.join("suanpan.db")).expect("db");
    let stored: String = db
        .query_row("SELECT tmk_hex FROM terminals", [], |r| r.get(0))
        .expect("row");
    assert!(
        stored.starts_with("h1:"),
        "a reference, not a key: {stored}"
    );
    assert!(
        keys.hsm()
            .expect("hsm")
            .has_tmk("tmk:12345678")
            .expect("has")
    );
    let (code, v) = run_json(
        hsm.on(&mut suanpan(&dir))
            .args(["admin", "terminal", "list"]),
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["terminals"][0]["has_tmk"], true, "{v}");
}

// `keys rotate-kek --to-pkcs11`: a store under a KEK file moves to the token; its TMK
// becomes a token object, the KEK file is retired, sales still go through with the PIN.
#[test]
fn rotate_from_kek_file_to_pkcs11() {
    let d = Demo::new();
    let Some(hsm) = Hsm::new(d.tmp.path()) else {
        return;
    };
    run(hsm.on(&mut d.cmd()).args(["keys", "init", "--pkcs11"])).ok();
    let (code, v) = run_json(
        hsm.on(&mut d.cmd())
            .args(["--kek-file"])
            .arg(d.tmp.path().join("data.kek"))
            .args(["keys", "rotate-kek", "--to-pkcs11"]),
    );
    assert_eq!(code, 0, "{v}");
    assert!(
        !d.tmp.path().join("data.kek").exists(),
        "the KEK file is retired"
    );
    let db = rusqlite::Connection::open(d.dir().join("suanpan.db")).expect("db");
    let stored: String = db
        .query_row("SELECT tmk_hex FROM terminals", [], |r| r.get(0))
        .expect("row");
    assert!(stored.starts_with("h1:"), "{stored}");
    let sale = run(hsm
        .on(&mut d.sale_cmd("2.00", common::CARD_PIN))
        .arg("--pin")
        .pin(common::CARD_PIN_PIN));
    assert_eq!(sale.code, 0, "{}", sale.text());
    // Without the token the store does not open (its keys are under the HSM's KEK).
    let out = run(d.cmd().args(["admin", "terminal", "list"]));
    assert_ne!(out.code, 0, "{}", out.text());
}
