//! `bench load` run again on the same store (issue 15): the rounds of
//! `scripts/bench-pg.sh` reuse the bench terminals, their batches and their cards, and the
//! second round stopped with mismatches.

mod common;

use common::{Demo, run, serve_at};
use serde_json::Value;

/// One short, paced `bench load --register` against `target`, with `extra` arguments: its
/// JSON report, after asserting that it exited 0 (no mismatch, no failed terminal).
fn load_with(d: &Demo, target: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "--json",
        "bench",
        "load",
        "--target",
        target,
        "--terminals",
        "4",
        "--duration",
        "1",
        // Ten sales a second per terminal: fewer than the 64 card events the duplicate rule
        // reads, so a rerun that repeated the amounts would meet every one of them.
        "--rate",
        "40",
        "--mix",
        "sale:100",
        "--register",
    ];
    args.extend_from_slice(extra);
    run(d.cmd().args(args)).ok().json()
}

fn load(d: &Demo, target: &str) -> Value {
    load_with(d, target, &[])
}

// Goal: with the risk rules on, a second run on the same node and a third on a restarted
// node answer every request as expected. Before, a rerun's sign-in was byte for byte the
// last run's (STAN 1, batch 1), so a node still up answered it from its stored replies with
// the batch settled since (77 on every sale), and its sales repeated the last run's amounts
// in order on the same cards minutes later (94, possible duplicate charge).
#[test]
fn bench_load_runs_again_on_the_same_store_and_node() {
    let d = Demo::new();
    let (mut node, addr, _) = serve_at(&d.dir(), false, "127.0.0.1:0");
    let target = addr.to_string();
    for round in 1..=2 {
        let r = load(&d, &target);
        assert_eq!(r["ok"], true, "round {round}: {r:#}");
        assert!(r["report"]["ok"].as_u64() > Some(0), "round {round}: {r:#}");
    }
    node.kill();
    let (_node, addr, _) = serve_at(&d.dir(), false, "127.0.0.1:0");
    let r = load(&d, &addr.to_string());
    assert_eq!(r["ok"], true, "after a restart: {r:#}");
    d.assert_sound();
}

// Goal: `--warmup` runs its requests and checks them, but leaves them out of the figures;
// the terminals settle balanced after every one of them stopped sending.
#[test]
fn bench_load_leaves_the_warm_up_out_of_the_figures() {
    let d = Demo::new();
    let (_node, addr, _) = serve_at(&d.dir(), false, "127.0.0.1:0");
    let r = load_with(&d, &addr.to_string(), &["--warmup", "1"]);
    assert_eq!(r["ok"], true, "{r:#}");
    let report = &r["report"];
    let n = |k: &str| {
        report[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k}: {report:#}"))
    };
    // 40 a second for one second each: the warm-up's and the measured window's.
    assert!((20..=60).contains(&n("warmup_requests")), "{report:#}");
    assert!((20..=60).contains(&n("requests")), "{report:#}");
    assert_eq!(n("ok"), n("warmup_requests") + n("requests"), "{report:#}");
    let seconds = report["seconds"].as_f64().unwrap_or(0.0);
    assert!(
        (1.0..3.0).contains(&seconds),
        "the measured window only: {seconds}"
    );
    // The generator's own lateness is part of each request's latency (it counts from the
    // scheduled time), so neither of its percentiles can exceed the latency's.
    assert!(n("send_late_p50_us") <= n("p50_us"), "{report:#}");
    assert!(n("send_late_p99_us") <= n("p99_us"), "{report:#}");
    d.assert_sound();
}
