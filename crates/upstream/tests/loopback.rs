//! The link against `switch-sim` over loopback: approvals and declines, time-outs that turn
//! into reversals repeated until acknowledged, a switch that goes down and comes back,
//! duplicates, late answers, and the clearing file against the ledger.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use suanpan_iso8583::crypto::{Pin, encrypt_pin};
use suanpan_iso8583::switch::{MTI_0100, MTI_0200, parse_available_balance};
use suanpan_iso8583::{IsoMsg, Mti, SWITCH, Zpk};
use suanpan_switch::{Faults, Switch, SwitchConfig, clearing};
use suanpan_upstream::saf::MemorySaf;
use suanpan_upstream::{Link, LinkConfig, LinkError, LinkState};

const APPROVE: &str = "6222021234567890128";
const WITH_PIN: &str = "6225881234567898";
const POOR: &str = "6228480012345678903";
const LOST: &str = "6013821234567890";
const ZPK: &str = "0123456789ABCDEFFEDCBA9876543210";

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

async fn switch_at(dir: &Path, listen: &str, faults: Faults) -> Switch {
    ok(Switch::start(SwitchConfig {
        listen: listen.to_owned(),
        data_dir: dir.to_path_buf(),
        zpk: Some(ok(Zpk::from_hex(ZPK))),
        faults,
        down_after: None,
    })
    .await)
}

fn link_to(addrs: Vec<String>, saf: &Arc<MemorySaf>, timeout_ms: u64) -> Link {
    let saf = saf.clone();
    let mut c = LinkConfig::new(addrs, "12345678");
    c.upstream_timeout_ms = timeout_ms;
    c.saf_backoff_ms_min = 50;
    c.saf_backoff_ms_max = 200;
    c.reconnect_ms = 50;
    c.connect_timeout_ms = 500;
    Link::start(c, saf)
}

fn financial(mti: Mti, pc: &str, pan: &str, amount: u64, terminal: &str) -> IsoMsg {
    let mut m = IsoMsg::new(&SWITCH, mti);
    for (n, v) in [
        (2, pan),
        (3, pc),
        (12, "093015"),
        (13, "1206"),
        (14, "3012"),
        (18, "5411"),
        (22, "021"),
        (25, "00"),
        (37, "000000000001"),
        (41, terminal),
        (42, "100000000000001"),
        (43, "SUANPAN DEMO SHOP     SHANGHAI     CHN"),
        (49, "156"),
    ] {
        ok(m.set_str(n, v));
    }
    ok(m.set_u64(4, amount));
    m
}

fn purchase(pan: &str, amount: u64) -> IsoMsg {
    financial(MTI_0200, "000000", pan, amount, "TERM0001")
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("never happened: {what}");
}

fn balance(sw: &Switch, pan: &str) -> i64 {
    ok(sw.balance_of(pan)).map_or(-1, |b| b.0)
}

async fn up(link: &Link) {
    assert!(link.wait_up(Duration::from_secs(5)).await, "link signs on");
}

// Goal: a purchase is approved with an authorization id and charges the card at the switch;
// declines come back with the issuer's codes; a PIN under the ZPK is checked; a balance
// inquiry answers field 54.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purchase_approved_and_declines() {
    let dir = ok(tempfile::tempdir());
    let saf = Arc::new(MemorySaf::default());
    let sw = switch_at(dir.path(), "127.0.0.1:0", Faults::default()).await;
    let link = link_to(vec![sw.local_addr().to_string()], &saf, 2_000);
    up(&link).await;
    let before = balance(&sw, APPROVE);
    let ex = ok(link.request(purchase(APPROVE, 12_345)).await);
    assert_eq!(ex.answer.text(39), Some("00"));
    assert_eq!(ex.answer.text(38).map(str::len), Some(6));
    assert_eq!(ex.answer.u64(4), Some(12_345));
    assert_eq!(balance(&sw, APPROVE), before - 12_345);

    let code = |ex: Result<suanpan_upstream::Exchange, LinkError>| {
        ok(ex).answer.text(39).map(str::to_owned)
    };
    assert_eq!(
        code(link.request(purchase(POOR, 1_000_000)).await).as_deref(),
        Some("51")
    );
    assert_eq!(
        code(link.request(purchase(LOST, 100)).await).as_deref(),
        Some("41")
    );
    assert_eq!(
        code(link.request(purchase("6212340000000000000", 100)).await).as_deref(),
        Some("14")
    );
    assert_eq!(
        code(link.request(purchase(WITH_PIN, 100)).await).as_deref(),
        Some("55")
    );

    let zpk = ok(Zpk::from_hex(ZPK));
    let mut with_pin = purchase(WITH_PIN, 100);
    let block = ok(encrypt_pin(
        &zpk.pin_key(),
        &ok(Pin::new("123456")),
        WITH_PIN,
    ));
    ok(with_pin.set(52, &block));
    ok(with_pin.set_str(53, "2600000000000000"));
    assert_eq!(code(link.request(with_pin).await).as_deref(), Some("00"));

    let inquiry = financial(MTI_0100, "310000", APPROVE, 0, "TERM0001");
    let ex = ok(link.request(inquiry).await);
    assert_eq!(ex.answer.text(39), Some("00"));
    let avail = ex.answer.text(54).and_then(parse_available_balance);
    assert_eq!(avail, Some(balance(&sw, APPROVE)));
    link.shutdown();
}

// Goal: a request whose answer is lost times out as NoAnswer, its reversal goes into the
// queue, repeats as 0421 while unacknowledged, and once acknowledged the switch's ledger is
// back where it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_reversal_repeats_until_acknowledged() {
    let dir = ok(tempfile::tempdir());
    let saf = Arc::new(MemorySaf::default());
    let sw = switch_at(dir.path(), "127.0.0.1:0", Faults::default()).await;
    let link = link_to(vec![sw.local_addr().to_string()], &saf, 200);
    up(&link).await;
    let before = balance(&sw, APPROVE);
    sw.set_faults(Faults {
        drop: 1.0,
        ..Faults::default()
    });
    let outcome = link.request(purchase(APPROVE, 5_000)).await;
    let Err(LinkError::NoAnswer { reversal, .. }) = outcome else {
        panic!("expected no answer, got {outcome:?}");
    };
    assert!(reversal.is_some(), "a reversal is queued");
    // The switch booked the purchase (its answer was lost); the reversal may already be
    // on its way, so the count is checked, not the balance.
    assert_eq!(
        ok(sw.totals()).approved,
        1,
        "the switch booked the purchase"
    );
    eventually("two 0421 repeats", || sw.received(421) >= 2).await;
    assert_eq!(
        sw.received(420),
        1,
        "the first send is a 0420, the rest 0421"
    );
    assert_eq!(ok(link.saf_depth()), 1);
    sw.set_faults(Faults::default());
    eventually("queue drained", || link.saf_depth().ok() == Some(0)).await;
    assert_eq!(
        balance(&sw, APPROVE),
        before,
        "the reversal undid the purchase once"
    );
    link.shutdown();
}

// Goal: an answer that arrives after the time-out matches nothing and is dropped, and the
// reversal undoes the purchase in the switch's ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_answer_is_dropped_and_reversed() {
    let dir = ok(tempfile::tempdir());
    let saf = Arc::new(MemorySaf::default());
    let sw = switch_at(dir.path(), "127.0.0.1:0", Faults::default()).await;
    let link = link_to(vec![sw.local_addr().to_string()], &saf, 150);
    up(&link).await;
    let before = balance(&sw, APPROVE);
    sw.set_faults(Faults {
        latency_ms: 400,
        ..Faults::default()
    });
    let outcome = link.request(purchase(APPROVE, 777)).await;
    assert!(matches!(outcome, Err(LinkError::NoAnswer { .. })));
    sw.set_faults(Faults::default());
    eventually("reversal acknowledged", || link.saf_depth().ok() == Some(0)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(balance(&sw, APPROVE), before);
    assert_eq!(
        link.state(),
        LinkState::Up,
        "a late answer does not break the link"
    );
    let ex = ok(link.request(purchase(APPROVE, 1)).await);
    assert_eq!(ex.answer.text(39), Some("00"));
    link.shutdown();
}

// Goal: duplicated requests (the switch's --duplicate) are answered from the stored
// answer: every purchase is charged once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_do_not_double_charge() {
    let dir = ok(tempfile::tempdir());
    let saf = Arc::new(MemorySaf::default());
    let faults = Faults {
        duplicate: 1.0,
        ..Faults::default()
    };
    let sw = switch_at(dir.path(), "127.0.0.1:0", faults).await;
    let link = link_to(vec![sw.local_addr().to_string()], &saf, 2_000);
    up(&link).await;
    let before = balance(&sw, APPROVE);
    for _ in 0..5 {
        let ex = ok(link.request(purchase(APPROVE, 100)).await);
        assert_eq!(ex.answer.text(39), Some("00"));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(balance(&sw, APPROVE), before - 500);
    assert_eq!(ok(sw.totals()).approved, 5);
    link.shutdown();
}

// Goal: with the switch down, a reversal waits in the durable queue; it survives a restart
// of the link, and drains when the switch (same ledger, same port) is back. A second
// address in the list is tried while the first is down (failover).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switch_down_then_up_saf_drains() {
    let dir = ok(tempfile::tempdir());
    let saf = Arc::new(MemorySaf::default());
    let sw = switch_at(dir.path(), "127.0.0.1:0", Faults::default()).await;
    let addr = sw.local_addr().to_string();
    let link = link_to(vec![addr.clone()], &saf, 1_000);
    up(&link).await;
    let before = balance(&sw, APPROVE);
    let ex = ok(link.request(purchase(APPROVE, 2_500)).await);
    sw.stop().await;
    eventually("link down", || link.state() != LinkState::Up).await;
    assert!(matches!(
        link.request(purchase(APPROVE, 1)).await,
        Err(LinkError::NotSent)
    ));
    ok(link.queue_reversal(&ex.request, "17", None));
    assert_eq!(ok(link.saf_depth()), 1);
    link.shutdown();
    drop(link);

    // A new link over the same queue file (a restarted host), with a dead address first.
    let dead = ok(std::net::TcpListener::bind("127.0.0.1:0"));
    let dead_addr = ok(dead.local_addr()).to_string();
    drop(dead);
    let link = link_to(vec![dead_addr, addr.clone()], &saf, 1_000);
    assert_eq!(ok(link.saf_depth()), 1, "the advice survived the restart");
    let sw = switch_at(dir.path(), &addr, Faults::default()).await;
    up(&link).await;
    eventually("queue drained", || link.saf_depth().ok() == Some(0)).await;
    assert_eq!(
        balance(&sw, APPROVE),
        before,
        "the void's advice gave the money back"
    );
    link.shutdown();
}

// Goal: the clearing file of the day lists what the ledger booked: its net (purchases less
// refunds less reversals) equals the money the switch's accounts moved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clearing_file_totals_equal_the_ledger() {
    let dir = ok(tempfile::tempdir());
    let saf = Arc::new(MemorySaf::default());
    let sw = switch_at(dir.path(), "127.0.0.1:0", Faults::default()).await;
    let link = link_to(vec![sw.local_addr().to_string()], &saf, 2_000);
    up(&link).await;
    let a = ok(link.request(purchase(APPROVE, 10_000)).await);
    let b = ok(link.request(purchase(APPROVE, 2_000)).await);
    ok(link.request(purchase(POOR, 99_999_999)).await); // declined: not listed
    let refund = financial(MTI_0200, "200000", APPROVE, 3_000, "TERM0002");
    ok(link.request(refund).await);
    ok(link.queue_reversal(&b.request, "17", None)); // void of b
    ok(link.queue_reversal(&a.request, "22", Some(6_000))); // partial: 4,000 undone
    eventually("queue drained", || link.saf_depth().ok() == Some(0)).await;
    let files = ok(sw.write_clearing(None));
    assert_eq!(files.len(), 1);
    let text = ok(std::fs::read_to_string(&files[0]));
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(clearing::HEADER.join(",").as_str()));
    let mut net = 0i64;
    let mut rows = 0;
    for line in lines {
        let cols: Vec<&str> = line.split(',').collect();
        assert_eq!(cols.len(), 14, "{line}");
        let amount: i64 = ok(cols[10].parse());
        let sign = if cols[2] == "200000" { -1 } else { 1 };
        net += if cols[1] == "0420" { -sign } else { sign } * amount;
        rows += 1;
    }
    assert_eq!(rows, 5, "3 originals and 2 reversals");
    let totals = ok(sw.totals());
    assert_eq!(net, totals.net_debited_fen);
    assert_eq!(net, 10_000 - 4_000 - 3_000);
    assert!(
        text.contains(",reversed"),
        "the voided purchase shows reversed"
    );
    link.shutdown();
}

// Goal: an idle link sends echo tests (0800, 70 = 301) and stays up; an echo that is not
// answered in time closes the connection, and the link signs on again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_when_idle() {
    let dir = ok(tempfile::tempdir());
    let saf = Arc::new(MemorySaf::default());
    let sw = switch_at(dir.path(), "127.0.0.1:0", Faults::default()).await;
    let mut c = LinkConfig::new(vec![sw.local_addr().to_string()], "12345678");
    c.upstream_timeout_ms = 200;
    c.upstream_echo_interval_ms = 100;
    c.reconnect_ms = 50;
    let link = Link::start(c, saf);
    up(&link).await;
    eventually("echoes", || sw.received(800) >= 3).await;
    assert_eq!(link.state(), LinkState::Up);
    // Every answer now comes after the time-out: the echo fails, the link drops and retries.
    sw.set_faults(Faults {
        latency_ms: 400,
        ..Faults::default()
    });
    eventually("link leaves Up", || link.state() != LinkState::Up).await;
    sw.set_faults(Faults::default());
    up(&link).await;
    link.shutdown();
}

// Goal (measurement, run by hand with `--ignored --nocapture`): purchases through the link
// to switch-sim on loopback, 64 in flight; prints the rate and the latency percentiles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn measure_loopback_rate() {
    let dir = ok(tempfile::tempdir());
    let saf = Arc::new(MemorySaf::default());
    let sw = switch_at(dir.path(), "127.0.0.1:0", Faults::default()).await;
    let link = link_to(vec![sw.local_addr().to_string()], &saf, 5_000);
    up(&link).await;
    let total = 5_000usize;
    let in_flight = 64usize;
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for w in 0..in_flight {
        let link = link.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let pan = suanpan_issuer_load_card(w);
            for _ in 0..total / in_flight {
                let t = std::time::Instant::now();
                let ex = link
                    .request(financial(MTI_0200, "000000", &pan, 10, &format!("T{w:07}")))
                    .await;
                assert!(ex.is_ok_and(|e| e.answer.text(39) == Some("00")));
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(ok(t.await));
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort();
    let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    println!(
        "{} purchases in {secs:.2} s = {:.0}/s; p50 {:?} p99 {:?}",
        lat.len(),
        lat.len() as f64 / secs,
        p(0.5),
        p(0.99)
    );
    link.shutdown();
}

/// A load card of BIN 621999 (created by the switch on first use), one per worker.
fn suanpan_issuer_load_card(i: usize) -> String {
    let body = format!("621999{i:012}");
    let digits: Vec<u32> = body.bytes().map(|b| u32::from(b - b'0')).collect();
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(k, &d)| {
            if k % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}
