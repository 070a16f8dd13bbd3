//! Crash safety: a process selling as fast as it can is killed with SIGKILL; every sale it was
//! told was approved must be in the store afterwards ("a response is never sent before its
//! commit"), the audit chain must verify, and money must be conserved.
//!
//! The child is this test binary itself, run with `--exact crash_child` and the data
//! directory in `SUANPAN_CRASH_CHILD`.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command as Process, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use suanpan_core::{Policy, TxnStatus, VoucherNo};

const CHILD_ENV: &str = "SUANPAN_CRASH_CHILD";
const CHILD_THREADS: usize = 3;
const RUN_FOR: Duration = Duration::from_millis(1_500);
const ROUNDS: usize = 3;

/// The child: sells in a loop from a few threads, printing each approved voucher no. only
/// after `execute` returned. Without the env var it does nothing.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let h = Harness::open_in(std::path::Path::new(&dir), Policy::default());
    let out = std::sync::Mutex::new(std::io::stdout());
    std::thread::scope(|s| {
        for _ in 0..CHILD_THREADS {
            s.spawn(|| {
                loop {
                    let t = approved(h.sale(1, "approve"));
                    let mut o = out.lock().unwrap();
                    writeln!(o, "APPROVED {} {}", t.voucher_no.value(), rrn(&t)).unwrap();
                    o.flush().unwrap();
                }
            });
        }
    });
}

#[test]
fn killed_writer_loses_no_acknowledged_sale() {
    // Goal: three rounds of sell-and-SIGKILL on one store; acknowledged means durable.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    install_seeded(&dir);
    let mut acknowledged: Vec<(usize, u32, String)> = Vec::new();
    for round in 0..ROUNDS {
        let mut child = Process::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + RUN_FOR;
        let mut lines = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(l) => lines.push(l),
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => panic!("child ended early: {lines:?}"),
            }
        }
        child.kill().expect("SIGKILL the child");
        child.wait().unwrap();
        reader.join().unwrap();
        // Lines the child wrote before it died are acknowledged too.
        lines.extend(rx.try_iter());
        let before = acknowledged.len();
        for l in lines.iter().filter_map(|l| l.strip_prefix("APPROVED ")) {
            let (v, r) = l.split_once(' ').expect("voucher and rrn");
            acknowledged.push((round, v.parse().unwrap(), r.to_owned()));
        }
        assert!(
            acknowledged.len() > before,
            "round {round}: the child sold nothing: {lines:?}"
        );

        let h = Harness::open_in(&dir, Policy::default());
        let stored = h.all_txns();
        let by_rrn: std::collections::HashMap<&str, &suanpan_core::Transaction> = stored
            .iter()
            .filter_map(|t| Some((t.rrn.as_ref()?.as_str(), t)))
            .collect();
        for (when, voucher, r) in &acknowledged {
            let t = by_rrn.get(r.as_str());
            let t = t.unwrap_or_else(|| {
                let acked_now = acknowledged.iter().filter(|a| a.0 == round).count();
                panic!(
                    "round {round}: sale {voucher}/{r} acknowledged in round {when} is lost; \
                     {} rows stored, {} acknowledged ({acked_now} this round), newest stored {:?}",
                    stored.len(),
                    acknowledged.len(),
                    stored.first().map(|t| (t.voucher_no, t.rrn.clone()))
                )
            });
            assert_eq!(t.voucher_no, VoucherNo::new(*voucher).unwrap());
            assert_eq!(t.status, TxnStatus::Approved);
        }
        // The harness's drop verifies the audit chain and conservation.
        h.check_invariants();
        // The store keeps working after the crash.
        approved(h.sale(1, "approve"));
    }
}
