//! `suanpan terminal --script` against a real `suanpan serve`: the counter's flows end to
//! end over 8583 (sign-in, MAC, reversal, settlement), checked on the screen the cashier
//! sees, in the receipts written, in the terminal's state file and in the host's store.
//! A small TCP proxy between them drops or damages responses to play a bad network.

mod common;

use common::{ServeProcess as Server, bin, serve_at, serve_counter};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;
use tempfile::TempDir;

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

const LOGIN: &str = "01 ENTER\n0000 ENTER\n";
const CARD_OK_MASKED: &str = "622202*********0128";

/// (kind, status, amount_fen, training, linked_id, original_id) of a host row.
type Row = (String, String, i64, bool, Option<i64>, Option<i64>);

/// A host with the demo data and a place for one terminal.
struct Counter {
    dir: TempDir,
    server: Server,
    addr: SocketAddr,
}

impl Counter {
    fn new() -> Counter {
        let dir = ok(tempfile::tempdir());
        let (server, addr, _) = serve_counter(&dir.path().join("data"), "127.0.0.1:0");
        Counter { dir, server, addr }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
    fn state_dir(&self) -> PathBuf {
        self.dir.path().join("term")
    }
    fn receipts(&self) -> PathBuf {
        self.dir.path().join("receipts")
    }

    /// Runs a script against `host` (the server, or a proxy in front of it).
    fn run_via(&self, host: SocketAddr, script: &str, extra: &[&str]) -> Output {
        let mut c = Command::new(bin());
        c.env_remove("SUANPAN_LANG")
            .env_remove("SUANPAN_TMK")
            .args(["--lang", "zh", "terminal", "--demo", "--host"])
            .arg(host.to_string())
            .arg("--state-dir")
            .arg(self.state_dir())
            .arg("--receipts")
            .arg(self.receipts())
            .args(["--script", "-"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = ok(c.spawn());
        if let Some(mut stdin) = child.stdin.take() {
            ok(stdin.write_all(script.as_bytes()));
        }
        ok(child.wait_with_output())
    }

    /// Runs a script; it must succeed. Returns what the screen showed.
    fn run(&self, script: &str) -> String {
        self.run_ok(self.addr, script, &[])
    }

    fn run_ok(&self, host: SocketAddr, script: &str, extra: &[&str]) -> String {
        let out = self.run_via(host, script, extra);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "terminal failed: {}\n{text}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }

    fn db(&self) -> rusqlite::Connection {
        ok(rusqlite::Connection::open(
            self.data().join(suanpan_store::sqlite::DB_FILE),
        ))
    }

    /// (kind, status, amount_fen, training, linked_id, original_id) of every row, in order.
    fn rows(&self) -> Vec<Row> {
        let db = self.db();
        let mut st = ok(db.prepare(
            "SELECT kind, status, amount_fen, training, linked_id, original_id FROM txns ORDER BY id",
        ));
        let rows = ok(st.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        }));
        rows.map(ok).collect()
    }

    fn available(&self, masked: &str) -> i64 {
        ok(self.db().query_row(
            "SELECT balance_fen - held_fen FROM accounts WHERE masked_pan = ?1",
            [masked],
            |r| r.get(0),
        ))
    }

    fn state(&self) -> serde_json::Value {
        let text = ok(std::fs::read_to_string(
            self.state_dir().join("terminal-state.json"),
        ));
        ok(serde_json::from_str(&text))
    }

    fn receipt_names(&self) -> Vec<String> {
        let mut names: Vec<String> = ok(std::fs::read_dir(self.receipts()))
            .map(|e| ok(e).file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn check_sound(&self) {
        let out = ok(Command::new(bin())
            .arg("--data-dir")
            .arg(self.data())
            .args(["--json", "check"])
            .output());
        assert!(out.status.success(), "check: {out:?}");
    }
}

/// The last screen a script showed (after its last `== n:` marker).
fn last_screen(out: &str) -> &str {
    out.rsplit("\n== ").next().unwrap_or(out)
}

/// Sale of `keys` (amount digits) with demo card 1 and no PIN, then back to the menu.
fn sale(amount_digits: &str) -> String {
    format!("1\n{amount_digits} ENTER\n1\nENTER\nCANCEL\n")
}

#[test]
fn sale_void_withdrawn_then_committed_then_recharge() {
    // Goal: the void flow as the issue tells it: a void withdrawn in the grace window is
    // never sent and recorded locally; a committed void returns the money; 重新收款 charges
    // the same amount again, linked on the host to the voided sale, with a customer note.
    let c = Counter::new();
    let before = c.available(CARD_OK_MASKED);
    let script = format!(
        "{LOGIN}{}\
         2\nENTER\nENTER\nENTER\n123456 ENTER\nTICK*4\nCANCEL\n\
         2\nENTER\nENTER\nENTER\n123456 ENTER\nTICK*10\n\
         1\n1\nENTER\n",
        sale("8800")
    );
    let out = c.run(&script);
    assert!(out.contains("将在 10 秒后提交，按[取消]撤回"), "{out}");
    assert!(
        out.contains("将在 6 秒后提交"),
        "the countdown moves on ticks"
    );
    assert!(out.contains("撤销已撤回，未提交，已记录"), "{out}");
    assert!(out.contains("撤错了？按 1 重新收款"), "{out}");
    assert!(last_screen(&out).contains("[交易成功]"), "{out}");

    let rows = c.rows();
    let kinds: Vec<(&str, &str)> = rows.iter().map(|r| (r.0.as_str(), r.1.as_str())).collect();
    assert_eq!(
        kinds,
        [
            ("sale", "voided"),
            ("void", "approved"),
            ("sale", "approved")
        ],
        "one void only: the withdrawn one never reached the host"
    );
    assert_eq!(
        rows[2].4,
        Some(1),
        "the re-charge is linked to the voided sale"
    );
    assert_eq!(c.available(CARD_OK_MASKED), before - 8_800);

    let st = c.state();
    let withdrawn = st["withdrawn_voids"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(withdrawn.len(), 1);
    assert_eq!(withdrawn[0]["seconds_left"], 6);
    let names = c.receipt_names();
    assert!(names.iter().any(|n| n.contains("-void-")), "{names:?}");
    assert!(
        names.iter().any(|n| n.contains("recharge-note")),
        "{names:?}"
    );
    c.check_sound();
}

#[test]
fn refund_partial_twice_then_over_the_original_is_refused() {
    // Goal: two partial refunds of one sale go through; a third above what remains is
    // refused by the host (13) with its reason on the screen, and books nothing.
    let c = Counter::new();
    let refund = |digits: &str| format!("3\n123456 ENTER\nENTER\n{digits} ENTER\n1\nCANCEL\n");
    let script = format!(
        "{LOGIN}{}{}{}3\n123456 ENTER\nENTER\n5000 ENTER\n1\n",
        sale("10000"),
        refund("3000"),
        refund("4000")
    );
    let out = c.run(&script);
    let last = last_screen(&out);
    assert!(last.contains("[交易失败]"), "{last}");
    assert!(last.contains("13 无效金额"), "{last}");
    let refunds: Vec<i64> = c
        .rows()
        .iter()
        .filter(|r| r.0 == "refund")
        .map(|r| r.2)
        .collect();
    assert_eq!(refunds, [3_000, 4_000]);
    let refunded: i64 = ok(c.db().query_row(
        "SELECT refunded_fen FROM txns WHERE kind = 'sale'",
        [],
        |r| r.get(0),
    ));
    assert_eq!(refunded, 7_000);
    c.check_sound();
}

/// What the proxy does with responses from the host.
const PASS: u8 = 0;
/// Swallow every 0210/0410 (the host answered; the terminal never hears it) and every
/// 0400 (the reversal never reaches the host): a network that lets only requests through
/// and then breaks.
const DROP_FINANCIAL: u8 = 1;
/// Flip one MAC byte of the next 0210, then pass.
const BAD_MAC_ONCE: u8 = 2;

/// A TCP proxy terminal → host that can play a bad network for responses.
fn proxy(host: SocketAddr, mode: Arc<AtomicU8>) -> SocketAddr {
    let l = ok(TcpListener::bind("127.0.0.1:0"));
    let addr = ok(l.local_addr());
    std::thread::spawn(move || {
        for client in l.incoming().flatten() {
            let Ok(server) = TcpStream::connect(host) else {
                continue;
            };
            let (c2, s2) = (ok(client.try_clone()), ok(server.try_clone()));
            let up = mode.clone();
            std::thread::spawn(move || pipe_frames(c2, s2, &up));
            let mode = mode.clone();
            std::thread::spawn(move || pipe_frames(server, client, &mode));
        }
    });
    addr
}

fn pipe_frames(mut from: TcpStream, mut to: TcpStream, mode: &AtomicU8) {
    loop {
        let mut len = [0u8; 2];
        if from.read_exact(&mut len).is_err() {
            break;
        }
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if from.read_exact(&mut body).is_err() {
            break;
        }
        // TPDU 5 + header 6, then the MTI in BCD.
        let mti = body.get(11..13).map(|m| (m[0], m[1]));
        let financial = matches!(
            mti,
            Some((0x02, 0x10)) | Some((0x04, 0x10)) | Some((0x04, 0x00))
        );
        match mode.load(Ordering::SeqCst) {
            DROP_FINANCIAL if financial => continue,
            BAD_MAC_ONCE if mti == Some((0x02, 0x10)) => {
                if let Some(last) = body.last_mut() {
                    *last ^= 0x01;
                }
                mode.store(PASS, Ordering::SeqCst);
            }
            _ => {}
        }
        if to
            .write_all(&len)
            .and_then(|_| to.write_all(&body))
            .is_err()
        {
            break;
        }
    }
}

#[test]
fn dropped_response_is_reversed_on_the_next_start() {
    // Goal: the host booked a sale whose response never arrived. The terminal shows
    // "结果未知", keeps the reversal (persisted), refuses the next sale while it is pending,
    // and sends it first thing on its next start: the sale ends reversed, money back.
    let c = Counter::new();
    let before = c.available(CARD_OK_MASKED);
    let mode = Arc::new(AtomicU8::new(DROP_FINANCIAL));
    let via = proxy(c.addr, mode.clone());
    let fast = ["--response-timeout-ms", "700"];
    let out = c.run_ok(
        via,
        &format!("{LOGIN}1\n5000 ENTER\n1\nENTER\nCANCEL\n1\n"),
        &fast,
    );
    assert!(out.contains("[结果未知]"), "{out}");
    assert!(out.contains("冲正中"), "{out}");
    assert!(last_screen(&out).contains("冲正中，暂不能交易"), "{out}");
    assert!(c.state()["pending_reversal"].is_object(), "persisted");
    let sales: Vec<String> = c.rows().iter().map(|r| r.1.clone()).collect();
    assert_eq!(
        sales,
        ["approved"],
        "the host booked it; nothing else was sent"
    );
    assert_eq!(c.available(CARD_OK_MASKED), before - 5_000);

    mode.store(PASS, Ordering::SeqCst);
    let out = c.run_ok(via, LOGIN, &fast);
    assert!(last_screen(&out).contains("签到成功"), "{out}");
    assert!(c.state()["pending_reversal"].is_null(), "{out}");
    let rows = c.rows();
    assert_eq!(rows[0].1, "reversed", "{rows:?}");
    assert_eq!(c.available(CARD_OK_MASKED), before);
    c.check_sound();
}

#[test]
fn response_with_a_bad_mac_is_no_response_and_is_reversed() {
    // Goal: a response whose MAC does not verify is treated as no response: the terminal
    // reverses at once and tells the cashier nothing was charged.
    let c = Counter::new();
    let before = c.available(CARD_OK_MASKED);
    let mode = Arc::new(AtomicU8::new(BAD_MAC_ONCE));
    let via = proxy(c.addr, mode);
    let out = c.run_ok(via, &format!("{LOGIN}1\n2500 ENTER\n1\nENTER\n"), &[]);
    let last = last_screen(&out);
    assert!(last.contains("应答校验错(MAC)"), "{last}");
    assert!(last.contains("冲正成功，本笔未扣款"), "{last}");
    assert_eq!(c.rows()[0].1, "reversed");
    assert_eq!(c.available(CARD_OK_MASKED), before);
}

#[test]
fn host_restart_77_signs_in_again_by_itself() {
    // Goal: after a host restart the host answers 77 (sessions are in memory); the
    // terminal signs in again on its own and the sale goes through without the cashier
    // doing anything.
    let dir = ok(tempfile::tempdir());
    let data = dir.path().join("data");
    let (server, addr, _) = serve_counter(&data, "127.0.0.1:0");
    let c = Counter { dir, server, addr };
    let script = format!("{LOGIN}{}WAIT:2500\n1\n700 ENTER\n1\nENTER\n", sale("600"));
    let mut child = ok(Command::new(bin())
        .args(["--lang", "en", "terminal", "--demo", "--host"])
        .arg(addr.to_string())
        .arg("--state-dir")
        .arg(c.state_dir())
        .args(["--script", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn());
    if let Some(mut stdin) = child.stdin.take() {
        ok(stdin.write_all(script.as_bytes()));
    }
    std::thread::sleep(Duration::from_millis(1_200));
    let Counter {
        dir, mut server, ..
    } = c;
    server.kill();
    let (server, addr2, _) = serve_at(&data, false, &addr.to_string());
    assert_eq!(addr2, addr);
    let c = Counter { dir, server, addr };
    let out = ok(child.wait_with_output());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(last_screen(&text).contains("[Approved]"), "{text}");
    let amounts: Vec<i64> = c.rows().iter().map(|r| r.2).collect();
    assert_eq!(amounts, [600, 700]);
}

#[test]
fn settlement_balanced_then_unbalanced_with_batch_upload() {
    // Goal: settlement sends the terminal's totals; balanced: 对账平, slip printed, signed
    // out. When the host holds a sale the terminal does not know, it is 对账不平 and the
    // terminal uploads its batch before signing out.
    let c = Counter::new();
    let out = c.run(&format!("{LOGIN}{}7\nENTER\n", sale("1234")));
    let last = last_screen(&out);
    assert!(last.contains("[结算完成]"), "{last}");
    assert!(last.contains("对账平"), "{last}");
    assert!(last.contains("已签退"), "{last}");
    assert!(
        c.receipt_names()
            .iter()
            .any(|n| n.ends_with("settlement.txt"))
    );

    // A sale booked on the host by another route (the CLI at the same terminal).
    let cli = ok(Command::new(bin())
        .arg("--data-dir")
        .arg(c.data())
        .args([
            "--json",
            "txn",
            "sale",
            "--terminal",
            "12345678",
            "--operator",
            "01",
        ])
        .args(["--amount", "9.99", "--card", "6259651234567894"])
        .env("SUANPAN_OPERATOR_PASSWORD", "0000")
        .output());
    assert!(cli.status.success(), "{cli:?}");
    let out = c.run(&format!("{LOGIN}{}7\nENTER\n", sale("500")));
    let last = last_screen(&out);
    assert!(last.contains("对账不平，已批上送"), "{last}");
    assert!(last.contains("批上送 1 笔"), "{last}");
    let settled: i64 = ok(c.db().query_row(
        "SELECT COUNT(*) FROM batches WHERE settled_at IS NOT NULL",
        [],
        |r| r.get(0),
    ));
    assert_eq!(settled, 2);
    c.check_sound();
}

#[test]
fn training_mode_moves_no_money_and_is_never_settled() {
    // Goal: in 培训模式 a sale is approved and marked training end to end, the card keeps
    // its money, and the settlement totals leave it out (balanced with zero).
    let c = Counter::new();
    let before = c.available(CARD_OK_MASKED);
    let out = c.run(&format!("{LOGIN}UP ENTER\nCANCEL\n{}6\n", sale("4200")));
    assert!(out.contains("已进入培训模式"), "{out}");
    assert!(
        last_screen(&out).contains("[T]"),
        "marked in the list: {out}"
    );
    assert!(last_screen(&out).contains("[培训]"), "{out}");
    let rows = c.rows();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].3, "training on the host");
    assert_eq!(c.available(CARD_OK_MASKED), before);
    let receipts = c.receipt_names();
    let slip = ok(std::fs::read_to_string(c.receipts().join(&receipts[0])));
    assert!(slip.contains("培训"), "{slip}");

    let out = c.run(&format!("{LOGIN}7\nENTER\n"));
    assert!(last_screen(&out).contains("对账平"), "{out}");
}

#[test]
fn host_unreachable_is_a_clear_message_and_charges_nothing() {
    // Goal: with no host the sign-in and a sale say so, with the remedy; nothing is kept
    // pending (nothing was sent).
    let c = Counter::new();
    let closed: SocketAddr = {
        let l = ok(TcpListener::bind("127.0.0.1:0"));
        ok(l.local_addr())
    };
    let out = c.run_ok(
        closed,
        &format!("{LOGIN}ENTER\n1\n100 ENTER\n1\nENTER\n"),
        &[],
    );
    assert!(out.contains("[签到失败]"), "{out}");
    let last = last_screen(&out);
    assert!(last.contains("无法连接主机"), "{last}");
    assert!(last.contains("未扣款"), "{last}");
    assert!(c.state()["pending_reversal"].is_null());
    assert!(c.rows().is_empty());
}

#[test]
fn bad_input_at_the_counter_is_refused_with_a_remedy() {
    // Goal: wrong password (tries left, then lockout by the core's rule), wrong supervisor
    // password, unknown voucher and an amount over the terminal limit each get a message,
    // and nothing reaches the host.
    let c = Counter::new();
    let out = c.run(
        "01 ENTER\n1111 ENTER\n1111 ENTER\n0000 ENTER\n\
         1\n9999999999 ENTER\nCANCEL\n\
         2\nBACK BACK BACK BACK BACK BACK 999 ENTER\nCANCEL\n",
    );
    assert!(out.contains("密码错误，还可尝试 4 次"), "{out}");
    assert!(out.contains("密码错误，还可尝试 3 次"), "{out}");
    assert!(out.contains("超出终端单笔限额"), "{out}");
    assert!(out.contains("¥50,000.00，请分笔"), "{out}");
    assert!(out.contains("本批次无此凭证号"), "{out}");
    let out = c.run(&format!(
        "{LOGIN}{}2\nENTER\nENTER\nENTER\n654321 ENTER\n",
        sale("100")
    ));
    assert!(
        last_screen(&out).contains("密码错误，还可尝试 4 次"),
        "{out}"
    );
    let out = c.run("02 ENTER\n");
    assert!(out.contains("无此操作员"), "{out}");
    for _ in 0..5 {
        c.run("01 ENTER\n9 ENTER\n");
    }
    let out = c.run(LOGIN);
    assert!(last_screen(&out).contains("已锁定"), "{out}");
    let kinds: Vec<String> = c.rows().iter().map(|r| r.0.clone()).collect();
    assert_eq!(kinds, ["sale"], "only the one real sale reached the host");
}

#[test]
fn a_bad_script_is_refused_with_its_line_and_runs_nothing() {
    // Goal: a typo in a script stops before any key is pressed, naming the line.
    let c = Counter::new();
    let out = c.run_via(c.addr, "01 ENTER\n0000 ENTRE\n", &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("script line 2"), "{err}");
    assert!(c.rows().is_empty());
}

#[test]
fn preauth_completion_and_their_voids_then_balance_and_settlement() {
    // Goal: 预授权类 on the terminal: a pre-auth shows the auth code the completion uses; a
    // completion up to 115% captures it; the completion void (by voucher, supervisor) gives
    // the money back; a second pre-auth is voided by its auth code. A balance inquiry shows
    // the balance and counts nowhere: the settlement balances with nothing to settle.
    let c = Counter::new();
    let before = c.available(CARD_OK_MASKED);
    let script = format!(
        "{LOGIN}\
         4\n1\n10000 ENTER\n1\nENTER\nCANCEL\n\
         4\n3\nENTER\n11000 ENTER\n1\nENTER\nCANCEL\n\
         4\n4\nENTER\nENTER\n123456 ENTER\nCANCEL\n\
         4\n1\n5000 ENTER\n1\nENTER\nCANCEL\n\
         4\n2\n123456 ENTER\nENTER\n1\nCANCEL\n\
         5\n1\nENTER\n"
    );
    let out = c.run(&script);
    assert!(out.contains("授权码: "), "{out}");
    let last = last_screen(&out);
    assert!(last.contains("余额: ¥"), "{last}");
    let rows: Vec<(String, String)> = c.rows().into_iter().map(|r| (r.0, r.1)).collect();
    let rows: Vec<(&str, &str)> = rows.iter().map(|(k, s)| (k.as_str(), s.as_str())).collect();
    assert_eq!(
        rows,
        [
            ("preauth", "voided"),
            ("completion", "voided"),
            ("completion_void", "approved"),
            ("preauth", "voided"),
            ("preauth_void", "approved"),
            ("balance", "approved"),
        ]
    );
    assert_eq!(
        c.available(CARD_OK_MASKED),
        before,
        "every hold and capture undone"
    );
    let out = c.run(&format!("{LOGIN}7\nENTER\n"));
    assert!(last_screen(&out).contains("对账平"), "{out}");
    c.check_sound();
}

#[test]
fn a_replaced_state_file_skips_the_stans_the_host_already_holds() {
    // Goal: a terminal whose state file was deleted starts its STANs over; the host answers
    // 94 for a STAN it already holds with other content, and the terminal moves on to the
    // next free STAN by itself: the sale is approved, nothing is booked twice.
    let c = Counter::new();
    c.run(&format!("{LOGIN}{}{}", sale("100"), sale("200")));
    ok(std::fs::remove_dir_all(c.state_dir()));
    let out = c.run(&format!("{LOGIN}1\n300 ENTER\n1\nENTER\n"));
    assert!(last_screen(&out).contains("[交易成功]"), "{out}");
    let amounts: Vec<i64> = c.rows().iter().map(|r| r.2).collect();
    assert_eq!(amounts, [100, 200, 300]);
}

#[test]
fn manual_card_entry_checks_the_number_and_reads_by_swipe_or_tap() {
    // Goal: a typed card no. with a wrong check digit is refused on the screen; a good one
    // is sent as manual entry (01); a demo card read by swipe goes as magstripe (02).
    let c = Counter::new();
    let out = c.run(&format!(
        "{LOGIN}1\n100 ENTER\n0\n6222021234567890127 ENTER\n\
         BACK 8 ENTER\nENTER\nCANCEL\n1\n200 ENTER\nDOWN\n1\nENTER\n"
    ));
    assert!(out.contains("卡号无效（位数或校验位错）"), "{out}");
    assert!(out.contains("请刷卡（↑↓换读卡方式）"), "{out}");
    assert!(last_screen(&out).contains("[交易成功]"), "{out}");
    let methods: Vec<String> = {
        let db = c.db();
        let mut st = ok(db.prepare("SELECT method FROM txns ORDER BY id"));
        ok(st.query_map([], |r| r.get(0))).map(ok).collect()
    };
    assert_eq!(methods, ["manual", "magstripe"]);
}

#[test]
fn a_possible_duplicate_is_confirmed_with_the_enter_key_and_goes_through() {
    // Goal (issue 13): the same card and amount again within minutes is refused with 94
    // 疑似重复，确认后重试; the screen offers [确认] (not the used-STAN 94's automatic skip,
    // which would resend it unconfirmed); the cashier presses it, the emulator resends the
    // sale with field 63 `DUP` and the host approves it. The refused attempt books nothing.
    let c = Counter::new();
    let out = c.run(&format!(
        "{LOGIN}{}1\n100 ENTER\n1\nENTER\nENTER\n",
        sale("100")
    ));
    let screens: Vec<&str> = out.split("\n== ").collect();
    let refused = screens
        .iter()
        .find(|s| s.contains("疑似重复，确认后重试"))
        .unwrap_or_else(|| panic!("no possible-duplicate screen:\n{out}"));
    assert!(refused.contains("94"), "{refused}");
    assert!(refused.contains("顾客确未付过？按[确认]重发"), "{refused}");
    assert!(
        !refused.contains("请查询后再做"),
        "not the used-STAN remedy: {refused}"
    );
    assert!(last_screen(&out).contains("[交易成功]"), "{out}");
    let sales: Vec<(String, String, i64)> = c.rows().into_iter().map(|r| (r.0, r.1, r.2)).collect();
    assert_eq!(
        sales,
        [
            ("sale".into(), "approved".into(), 100),
            ("sale".into(), "approved".into(), 100)
        ]
    );
    let confirmed: i64 = ok(c.db().query_row(
        "SELECT COUNT(*) FROM risk_alerts WHERE rule = 'duplicate' AND action = 'alerted'",
        [],
        |r| r.get(0),
    ));
    assert_eq!(confirmed, 1, "the confirmed retry leaves its low alert");
}
