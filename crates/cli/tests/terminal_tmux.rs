//! The real TUI in a real terminal: `suanpan terminal` runs inside a detached tmux session
//! against `suanpan serve`; the test types with `send-keys` and reads the screen with
//! `capture-pane`, through the void flow (sale, void with the grace countdown, result with
//! the re-charge offer). Needs tmux (.ci/run installs it).

mod common;

use common::{bin, serve_counter};
use std::process::Command;
use std::time::{Duration, Instant};

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// A tmux session killed when the test ends.
struct Session(String);

impl Session {
    fn tmux(&self, args: &[&str]) -> String {
        let out = ok(Command::new("tmux")
            .args(args)
            .env("TERM", "xterm-256color")
            .output());
        assert!(out.status.success(), "tmux {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", "-t", &self.0, k]);
            // One key at a time, as a cashier types; the TUI redraws in between.
            std::thread::sleep(Duration::from_millis(120));
        }
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", &self.0])
    }

    /// Waits until the screen shows `text`; panics with the screen after `secs`.
    fn wait_for(&self, text: &str, secs: u64) -> String {
        let until = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            assert!(Instant::now() < until, "waiting for {text:?}; screen:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .output();
    }
}

#[test]
fn void_flow_through_the_real_tui() {
    // Goal: a newcomer's path on the real screen: log in, sell ¥88.00, void it from the
    // main menu with the prompts only, watch the countdown, see it approved and offered
    // 重新收款; the host holds the sale voided.
    let have_tmux = Command::new("tmux").arg("-V").output().is_ok();
    assert!(
        have_tmux,
        "tmux is needed for this test (.ci/run installs it)"
    );
    let dir = ok(tempfile::tempdir());
    let data = dir.path().join("data");
    let (_server, addr, _) = serve_counter(&data, "127.0.0.1:0");
    let name = format!("suanpan-test-{}", std::process::id());
    let cmd = format!(
        "{} --lang zh terminal --demo --host {addr} --state-dir {} --void-grace-seconds 3",
        bin().display(),
        dir.path().join("term").display()
    );
    let s = Session(name.clone());
    s.tmux(&[
        "new-session",
        "-d",
        "-s",
        &name,
        "-x",
        "80",
        "-y",
        "24",
        &cmd,
    ]);
    s.wait_for("操作员号", 10);
    s.keys(&["0", "1", "Enter", "0", "0", "0", "0", "Enter"]);
    s.wait_for("签到成功", 10);
    s.keys(&["1", "8", "8", "0", "0", "Enter"]);
    s.wait_for("请插卡（↑↓换读卡方式）", 5);
    s.keys(&["1", "Enter"]);
    s.wait_for("交易成功", 10);
    s.keys(&["Escape"]);
    s.wait_for("主菜单", 5);

    s.keys(&["2"]);
    let screen = s.wait_for("请输入原凭证号", 5);
    assert!(
        screen.contains("000002"),
        "pre-filled with the last sale:\n{screen}"
    );
    s.keys(&["Enter"]);
    let screen = s.wait_for("客户已同意撤销", 5);
    assert!(screen.contains("¥88.00") && screen.contains("622202*********0128"));
    s.keys(&["Enter", "Enter", "1", "2", "3", "4", "5", "6", "Enter"]);
    s.wait_for("秒后提交，按[取消]撤回", 5);
    let screen = s.wait_for("撤错了？按 1 重新收款", 15);
    assert!(screen.contains("交易成功"), "{screen}");

    let db = ok(rusqlite::Connection::open(
        data.join(suanpan_store::sqlite::DB_FILE),
    ));
    let status: String = ok(
        db.query_row("SELECT status FROM txns WHERE kind = 'sale'", [], |r| {
            r.get(0)
        }),
    );
    assert_eq!(status, "voided");
}
