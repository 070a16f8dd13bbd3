//! Shared helpers of the black-box tests of the `suanpan` binary: a fresh demo store in a
//! temporary directory, commands with the secrets in the environment (never argv), JSON
//! output parsed, and snapshots of the store to prove a refusal changed nothing.

#![allow(dead_code)]

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// The demo merchant (crates/store/src/admin.rs).
pub const MERCHANT: &str = "898310048990001";
/// The demo terminal.
pub const TERMINAL: &str = "12345678";
/// Demo operators and their factory passwords.
pub const ADMIN: &str = "99";
pub const ADMIN_PW: &str = "12345678";
pub const SUPERVISOR: &str = "00";
pub const SUPERVISOR_PW: &str = "123456";
pub const CASHIER: &str = "01";
pub const CASHIER_PW: &str = "0000";

/// Demo cards (crates/issuer/src/demo.rs).
pub const CARD_OK: &str = "6222021234567890128";
pub const CARD_OK_MASKED: &str = "622202*********0128";
pub const CARD_OK_BALANCE_FEN: i64 = 10_000_000;
pub const CARD_PIN: &str = "6225881234567898";
pub const CARD_PIN_PIN: &str = "123456";
pub const CARD_NSF: &str = "6228480012345678903";
pub const CARD_EXPIRED: &str = "6217001234567893";
pub const CARD_LOST: &str = "6013821234567890";
pub const CARD_STOLEN: &str = "6226091234567893";
pub const CARD_CREDIT: &str = "6259651234567894";
pub const CARD_CREDIT_LINE_FEN: i64 = 2_000_000;
pub const WALLET_ALIPAY: &str = "alipay-demo-001";
pub const WALLET_ALIPAY_BALANCE_FEN: i64 = 500_000;

/// Environment variables of the binary.
pub const OPERATOR_PASSWORD_ENV: &str = "SUANPAN_OPERATOR_PASSWORD";
pub const SUPERVISOR_PASSWORD_ENV: &str = "SUANPAN_SUPERVISOR_PASSWORD";
pub const PIN_ENV: &str = "SUANPAN_PIN";
pub const NEW_PASSWORD_ENV: &str = "SUANPAN_NEW_PASSWORD";

/// The path of the binary under test.
pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("suanpan")
}

/// `suanpan --data-dir DIR`, isolated from the caller's environment (no inherited secrets,
/// language or data directory), stdin empty so nothing can prompt.
pub fn suanpan(dir: &Path) -> Command {
    let mut c = Command::new(bin());
    for var in [
        OPERATOR_PASSWORD_ENV,
        SUPERVISOR_PASSWORD_ENV,
        PIN_ENV,
        NEW_PASSWORD_ENV,
        "SUANPAN_LANG",
        "SUANPAN_DATA_DIR",
        "SUANPAN_LOG",
    ] {
        c.env_remove(var);
    }
    c.arg("--data-dir").arg(dir).write_stdin("");
    c
}

/// Secrets for a command, always through the environment.
pub trait Secrets {
    /// The acting operator's password.
    fn operator_password(&mut self, pw: &str) -> &mut Self;
    /// The supervisor's password.
    fn supervisor_password(&mut self, pw: &str) -> &mut Self;
    /// The card PIN.
    fn pin(&mut self, pin: &str) -> &mut Self;
    /// A new password (operator passwd).
    fn new_password(&mut self, pw: &str) -> &mut Self;
}

impl Secrets for Command {
    fn operator_password(&mut self, pw: &str) -> &mut Self {
        self.env(OPERATOR_PASSWORD_ENV, pw)
    }
    fn supervisor_password(&mut self, pw: &str) -> &mut Self {
        self.env(SUPERVISOR_PASSWORD_ENV, pw)
    }
    fn pin(&mut self, pin: &str) -> &mut Self {
        self.env(PIN_ENV, pin)
    }
    fn new_password(&mut self, pw: &str) -> &mut Self {
        self.env(NEW_PASSWORD_ENV, pw)
    }
}

/// What a finished command left.
#[derive(Debug)]
pub struct Out {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Stdout parsed as JSON (panics with both streams when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}); code {}\nstdout:\n{}\nstderr:\n{}",
                self.code, self.stdout, self.stderr
            )
        })
    }

    /// Both streams, for text assertions.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Asserts exit code 0.
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        self
    }

    /// Asserts the exit code.
    pub fn code(self, code: i32) -> Self {
        assert_eq!(self.code, code, "expected exit {code}: {self:#?}");
        self
    }
}

/// Runs a command to completion.
pub fn run(cmd: &mut Command) -> Out {
    let o = cmd.output().expect("running suanpan");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Runs a command with `--json` and parses stdout.
pub fn run_json(cmd: &mut Command) -> (i32, Value) {
    let out = run(cmd.arg("--json"));
    let v = out.json();
    (out.code, v)
}

/// What must not change when a command is refused.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    /// Every transaction (hidden too), as `txn list --json --include-hidden` shows it.
    pub transactions: Vec<Value>,
    /// `check --json`'s conservation.
    pub conservation: Value,
}

/// A demo store in a temporary directory (`init --demo`).
pub struct Demo {
    pub tmp: TempDir,
}

impl Demo {
    /// A fresh demo store.
    pub fn new() -> Demo {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = Demo { tmp };
        run(d.cmd().args(["init", "--demo"])).ok();
        d
    }

    /// The data directory: a folder inside the temporary one, so that the KEK file made
    /// beside it (`data.kek`) is removed with it.
    pub fn dir(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    /// `suanpan --data-dir DIR`.
    pub fn cmd(&self) -> Command {
        suanpan(&self.dir())
    }

    /// A counter command (`txn <sub> --terminal T --operator 01`) with the cashier's password.
    pub fn counter(&self, sub: &str) -> Command {
        let mut c = self.cmd();
        c.args(["txn", sub, "--terminal", TERMINAL, "--operator", CASHIER])
            .operator_password(CASHIER_PW);
        c
    }

    /// A counter command that also needs the supervisor (00) with the right password.
    pub fn supervised(&self, sub: &str) -> Command {
        let mut c = self.counter(sub);
        c.args(["--supervisor", SUPERVISOR])
            .supervisor_password(SUPERVISOR_PW);
        c
    }

    /// `txn sale` of `amount` yuan with `card`, not yet run.
    /// (The scenarios sell the same card and amount again on purpose, so the duplicate-charge
    /// guard is confirmed here; `duplicate_charge_is_flagged_until_confirmed` tests the guard.)
    pub fn sale_cmd(&self, amount: &str, card: &str) -> Command {
        let mut c = self.counter("sale");
        c.arg(format!("--amount={amount}"))
            .args(["--card", card, "--confirm-duplicate"]);
        c
    }

    /// An approved sale; returns its transaction JSON.
    pub fn sale(&self, amount: &str, card: &str) -> Value {
        approved(&mut self.sale_cmd(amount, card))
    }

    /// `txn void` of the sale with voucher no. `voucher`, with reason and consent, not yet run.
    pub fn void_cmd(&self, voucher: &str) -> Command {
        let mut c = self.supervised("void");
        c.args([
            "--voucher",
            voucher,
            "--reason",
            "顾客取消",
            "--customer-consent",
        ]);
        c
    }

    /// `txn refund` of `amount` yuan of the original with voucher no. `voucher`, not yet run.
    pub fn refund_cmd(&self, voucher: &str, amount: &str) -> Command {
        let mut c = self.supervised("refund");
        c.args(["--voucher", voucher, "--reason", "顾客退货"])
            .arg(format!("--amount={amount}"));
        c
    }

    /// Settles the demo terminal's batch (supervisor 00 logs in); returns the settlement.
    pub fn settle(&self, totals: Option<&str>) -> Value {
        let mut c = self.cmd();
        c.args(["batch", "settle", "--terminal", TERMINAL])
            .operator_password(SUPERVISOR_PW);
        if let Some(t) = totals {
            c.args(["--totals", t]);
        }
        let (code, v) = run_json(&mut c);
        assert_eq!(code, 0, "settle failed: {v:#}");
        v["settlements"][0].clone()
    }

    /// `txn list --json` with extra filter arguments; returns the rows.
    pub fn list(&self, filter: &[&str]) -> Vec<Value> {
        let (code, v) = run_json(
            self.cmd()
                .args(["txn", "list", "--limit", "10000"])
                .args(filter),
        );
        assert_eq!(code, 0, "txn list failed: {v:#}");
        let rows = v["transactions"].as_array().expect("transactions").clone();
        assert_eq!(v["count"].as_u64(), Some(rows.len() as u64));
        rows
    }

    /// `txn show --json ID`.
    pub fn show(&self, id: i64) -> Value {
        let (code, v) = run_json(self.cmd().args(["txn", "show", &id.to_string()]));
        assert_eq!(code, 0, "txn show failed: {v:#}");
        v
    }

    /// One transaction by id.
    pub fn txn(&self, id: i64) -> Value {
        self.show(id)["transaction"].clone()
    }

    /// `check --json`.
    pub fn check(&self) -> (i32, Value) {
        run_json(self.cmd().arg("check"))
    }

    /// Asserts the store is sound: audit chain intact and money conserved.
    pub fn assert_sound(&self) {
        let (code, v) = self.check();
        assert_eq!(code, 0, "check failed: {v:#}");
        assert_eq!(v["ok"], true, "{v:#}");
        assert_eq!(v["audit"]["first_broken"], Value::Null, "{v:#}");
        assert_eq!(v["conservation_holds"], true, "{v:#}");
    }

    /// The number of audit entries.
    pub fn audit_count(&self) -> u64 {
        self.check().1["audit"]["entries"]
            .as_u64()
            .expect("audit entries")
    }

    /// The newest `n` audit entries, newest first.
    pub fn audit(&self, n: u32) -> Vec<Value> {
        let (code, v) = run_json(
            self.cmd()
                .args(["audit", "list", "--limit", &n.to_string()]),
        );
        assert_eq!(code, 0, "audit list failed: {v:#}");
        v["entries"].as_array().expect("entries").clone()
    }

    /// What a refusal must leave untouched.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            transactions: self.list(&["--include-hidden"]),
            conservation: self.check().1["conservation"].clone(),
        }
    }

    /// Available balance of a card (balance inquiry, which books a zero-amount record).
    pub fn card_available_fen(&self, card: &str) -> i64 {
        let v = approved(self.counter("balance").args(["--card", card]));
        v["available_fen"].as_i64().expect("available_fen")
    }
}

/// Runs a booking command with `--json`, asserts it was approved, returns the transaction
/// (with any extra fields such as `available_fen`).
pub fn approved(cmd: &mut Command) -> Value {
    let (code, v) = run_json(cmd);
    assert_eq!(code, 0, "expected approval: {v:#}");
    assert_eq!(v["ok"], true, "{v:#}");
    assert_eq!(v["transaction"]["response_code"], "00", "{v:#}");
    v["transaction"].clone()
}

/// The id of a transaction JSON.
pub fn id(t: &Value) -> i64 {
    t["id"].as_i64().expect("id")
}

/// The voucher no. of a transaction JSON.
pub fn voucher(t: &Value) -> String {
    t["voucher_no"].as_str().expect("voucher_no").to_owned()
}

/// Display width on a receipt printer: CJK and full-width forms take two columns.
pub fn cells(line: &str) -> usize {
    line.chars()
        .map(|c| {
            let u = c as u32;
            let wide = matches!(u,
                0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF
                | 0x4E00..=0x9FFF | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF
                | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6);
            if wide { 2 } else { 1 }
        })
        .sum()
}

/// Asserts a JSON refusal: not ok, a message containing `msg`, and a non-empty remedy.
pub fn assert_refusal(v: &Value, msg: &str) {
    assert_eq!(v["ok"], false, "{v:#}");
    let m = v["message"].as_str().unwrap_or_default();
    assert!(m.contains(msg), "message {m:?} lacks {msg:?}: {v:#}");
    let r = v["remedy"].as_str().unwrap_or_default();
    assert!(!r.trim().is_empty(), "no remedy: {v:#}");
}

/// A `serve` process, killed (SIGKILL) when dropped, also when a test fails midway.
pub struct ServeProcess(pub std::process::Child);

impl ServeProcess {
    /// Kills the process with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Spawns a `--json serve …` command line and reads its JSON announcement (addresses, demo
/// data), which ends with a line `}`.
pub fn spawn_serve(c: &mut std::process::Command) -> (ServeProcess, Value) {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn serve: {e}"));
    let mut child = ServeProcess(child);
    let stdout = child.0.stdout.take().unwrap_or_else(|| panic!("stdout"));
    let mut text = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap_or_else(|e| panic!("serve output: {e}"));
        text.push_str(&line);
        if line == "}" {
            break;
        }
    }
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("announcement {text:?}: {e}"));
    (child, v)
}

/// `serve --demo` on a demo store made by `init --demo` first: the demo's merchant, terminal,
/// operators and cards, without the back-office's demo day that a `serve --demo` creating the
/// store books (tests of the counter want an empty journal).
pub fn serve_counter(dir: &Path, addr: &str) -> (ServeProcess, std::net::SocketAddr, Value) {
    run(suanpan(dir).args(["init", "--demo"])).ok();
    serve_at(dir, true, addr)
}

/// Starts `serve` (8583 on `addr`, HTTP on any port) and reads its JSON announcement;
/// returns the process, the 8583 address and the announcement.
pub fn serve_at(dir: &Path, demo: bool, addr: &str) -> (ServeProcess, std::net::SocketAddr, Value) {
    let mut c = std::process::Command::new(bin());
    c.arg("--data-dir")
        .arg(dir)
        .env_remove("SUANPAN_LOG")
        .args(["--json", "serve", "--iso8583-addr", addr])
        .args(["--http-addr", "127.0.0.1:0", "--http", "127.0.0.1:0"]);
    if demo {
        c.arg("--demo");
    }
    let (server, v) = spawn_serve(&mut c);
    let addr = v["iso8583_addr"].as_str().unwrap_or_default();
    let addr = addr.parse().unwrap_or_else(|e| panic!("{e}: {addr}"));
    (server, addr, v)
}

/// Store options under the demo's KEK file (for tests that open the store themselves).
pub fn kek_options(d: &Demo) -> suanpan_store::OpenOptions {
    suanpan_store::OpenOptions {
        keys: suanpan_store::keys::FileKek::load(&d.tmp.path().join("data.kek"), &d.dir())
            .expect("the demo's KEK"),
        ..suanpan_service::open_options()
    }
}

/// Registers terminal `id` at the demo merchant with the demo TMK (`admin terminal add`, then
/// `set-tmk` with the key in the environment), as an acquirer would before it signs in.
pub fn add_demo_terminal(dir: &Path, id: &str) {
    suanpan(dir)
        .args([
            "admin",
            "terminal",
            "add",
            "--id",
            id,
            "--merchant",
            MERCHANT,
        ])
        .assert()
        .success();
    suanpan(dir)
        .args(["admin", "terminal", "set-tmk", "--id", id])
        .env("SUANPAN_TMK", suanpan_store::admin::DEMO_TMK_HEX)
        .assert()
        .success();
}

/// A PostgreSQL schema a test made, dropped at the end of the test.
pub struct Schema {
    pub url: String,
    pub name: String,
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Err(e) = suanpan_store::pg::drop_schema(&self.url, &self.name) {
            eprintln!("could not drop schema {}: {e}", self.name);
        }
    }
}
