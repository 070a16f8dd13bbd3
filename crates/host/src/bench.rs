//! The load generator (`suanpan bench load`) and the bare echo server
//! (`suanpan bench echo-server`).
//!
//! Each simulated terminal signs in on its own connection and sends MACed traffic in the
//! given mix until the duration ends; every response is checked (code `00`, STAN echoed,
//! MAC valid). Bounded by design: the duration, the terminal count and one request in
//! flight per terminal.

use crate::client::{Card, Connection, Kind, Original, Terminal};
use anyhow::{Context, bail};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use suanpan_iso8583::{SettlementTotals, Status, Totals, split_frame};
use suanpan_pace::Delays;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Mismatch samples kept for the report.
const MISMATCH_SAMPLES_MAX: usize = 20;
/// Transactions a bench terminal puts in one batch before it settles (field 48 counts
/// are n3, so a batch holds at most 999).
const BATCH_TXNS_MAX: u32 = 500;
/// The smallest sale (fen); refunds are 1 fen each, up to the sale's amount.
const SALE_FEN: u64 = 10;
/// Sales of one terminal cycle through this many amounts (¥0.10 up to ¥1,000.09) unless
/// [`LoadOptions::sale_amounts`] says otherwise: the same card for the same amount within
/// minutes is refused as a possible duplicate charge (`core::risk`), and a terminal would
/// need more than 160 sales a second to repeat one inside the default 10-minute window.
pub const SALE_AMOUNTS: u64 = 100_000;
/// The answer to a void past `void_max_per_operator_per_day` (超出次数限制): a rule working,
/// not a fault of the host.
const VOID_LIMIT_CODE: &str = "65";
/// The answer to a sale of the same card and amount within the duplicate window (疑似重复,
/// `core::risk`): the counter confirms it and sends the sale again.
const DUPLICATE_CODE: &str = "94";

/// The share of each operation, in percent points (relative weights).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    /// Sales.
    pub sale: u32,
    /// Voids of an earlier sale of the same terminal.
    pub void: u32,
    /// Partial refunds of an earlier sale.
    pub refund: u32,
    /// Balance inquiries.
    pub balance: u32,
}

impl Mix {
    /// Parses `sale:80,void:10,refund:5,balance:5` (missing names are 0).
    ///
    /// # Errors
    /// An unknown name, a bad number, or all weights zero.
    pub fn parse(text: &str) -> anyhow::Result<Mix> {
        let mut m = Mix {
            sale: 0,
            void: 0,
            refund: 0,
            balance: 0,
        };
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part
                .split_once(':')
                .with_context(|| format!("mix entry {part:?}: NAME:WEIGHT"))?;
            let w: u32 = weight
                .parse()
                .with_context(|| format!("mix weight {weight:?}"))?;
            match name {
                "sale" => m.sale = w,
                "void" => m.void = w,
                "refund" => m.refund = w,
                "balance" => m.balance = w,
                other => bail!("unknown mix operation {other:?} (sale, void, refund, balance)"),
            }
        }
        if m.total() == 0 {
            bail!("the mix has no weight");
        }
        Ok(m)
    }

    fn total(&self) -> u32 {
        self.sale + self.void + self.refund + self.balance
    }

    fn pick(&self, roll: u32) -> Kind {
        let r = roll % self.total();
        if r < self.sale {
            Kind::Sale
        } else if r < self.sale + self.void {
            Kind::Void
        } else if r < self.sale + self.void + self.refund {
            Kind::Refund
        } else {
            Kind::Balance
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The hosts' 8583 addresses (one, or several nodes on one database): terminal `i`
    /// connects to `targets[i % len]`. Must not be empty.
    pub targets: Vec<SocketAddr>,
    /// Terminal ids to use (each must be registered with `tmk_hex`).
    pub terminals: Vec<String>,
    /// Their merchant.
    pub merchant: String,
    /// Their master key.
    pub tmk_hex: String,
    /// Operator nos. the terminals sign in as (terminal `i` as `operators[i % len]`); each
    /// must exist at the merchant. Must not be empty.
    pub operators: Vec<String>,
    /// Card numbers to pay with (terminal `i` uses `cards[i % len]`; approve, no PIN,
    /// expiry 3012). Must not be empty.
    pub cards: Vec<String>,
    /// How long.
    pub duration: Duration,
    /// The operation mix.
    pub mix: Mix,
    /// Offered load in requests per second over all terminals (`None`: each terminal sends
    /// its next request as soon as the previous answer arrives). Paced per terminal on a
    /// fixed schedule (open loop: a late answer does not move the schedule); latency is
    /// measured from the scheduled send time, so time spent waiting behind a slow answer
    /// counts. A terminal still has one request in flight, so an overloaded host lowers the
    /// rate it gets (the report's throughput says what was achieved).
    pub rate_per_s: Option<u32>,
    /// TLS to the hosts (`bench load --tls-ca`); `None`: plain TCP.
    pub tls: Option<crate::client::TlsTarget>,
    /// How many amounts a terminal's sales cycle through ([`SALE_AMOUNTS`] by default). `1`:
    /// every sale is 10 fen, the load of `bench load` before issue 15 (`dd09e4a`), for a
    /// like-for-like comparison with a host of that time (with the duplicate rule off: the
    /// same card and amount again is otherwise answered 94 and sent again confirmed). The
    /// amount is a key of the `txns_m_amount` index, so the number of amounts changes how
    /// many of its pages a group commit writes (s19-inline). Must not be 0.
    pub sale_amounts: u64,
    /// Run this long before `duration` starts: its requests are sent, answered and checked
    /// as any other, but their latencies are left out of the percentiles and the throughput
    /// (`Duration::ZERO`: every request counts). The first seconds of a run sign 250
    /// terminals in and meet every cold cache at once; they are not the steady state a
    /// percentile at an offered rate describes.
    pub warmup: Duration,
}

/// The result of a run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LoadReport {
    /// Requests answered.
    pub requests: u64,
    /// Of them, answered as expected.
    pub ok: u64,
    /// Answered otherwise (code, STAN or MAC).
    pub mismatches: u64,
    /// Voids refused with 65 because their operator reached `void_max_per_operator_per_day`
    /// (counted in `ok`: the rule answered as it must); the terminal then stops voiding.
    pub voids_refused_daily_limit: u64,
    /// Sales answered 94 as possible duplicates (counted in `ok`: the rule answered as it
    /// must), each then sent again confirmed, as the counter does.
    pub duplicates_confirmed: u64,
    /// Terminals whose connection or sign-in failed.
    pub failed_terminals: u64,
    /// Requests sent during the warm-up (checked, counted in `ok` or `mismatches`, not in
    /// `requests`, the percentiles or the throughput).
    pub warmup_requests: u64,
    /// Seconds measured (after the warm-up).
    pub seconds: f64,
    /// Requests per second.
    pub throughput: f64,
    /// Latency percentiles in microseconds.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Slowest.
    pub max_us: u64,
    /// Paced runs (`--rate`): how late the generator sent, after both the request's scheduled
    /// time and its terminal's previous answer, median and 99th percentile in microseconds
    /// (0 unpaced). It is counted in the latencies but is the generator's, not the host's: a
    /// large value says the machine could not run the generator on time (s26-pace).
    pub send_late_p50_us: u64,
    /// 99th percentile of the same.
    pub send_late_p99_us: u64,
    /// Per operation: sent.
    pub by_kind: Vec<(String, u64)>,
    /// A few mismatches, for the eye.
    pub mismatch_samples: Vec<String>,
}

#[derive(Default)]
struct TerminalStats {
    latencies_us: Vec<u64>,
    /// Paced runs: how late each measured request left (see `LoadReport::send_late_p99_us`).
    late_us: Vec<u64>,
    warmup_requests: u64,
    ok: u64,
    mismatches: u64,
    void_limited: u64,
    duplicates_confirmed: u64,
    samples: Vec<String>,
    by_kind: [u64; 4],
    failed: bool,
}

fn kind_index(k: Kind) -> usize {
    match k {
        Kind::Sale => 0,
        Kind::Void => 1,
        Kind::Refund => 2,
        _ => 3,
    }
}

/// Runs the load and reports.
///
/// # Errors
/// Only for bad options; failures of terminals are counted in the report.
pub async fn load(opts: LoadOptions) -> anyhow::Result<LoadReport> {
    if opts.terminals.is_empty() || opts.operators.is_empty() || opts.cards.is_empty() {
        bail!("no terminals, operators or cards");
    }
    let started = Instant::now();
    let measured_from = started + opts.warmup;
    let window = Window {
        measured_from,
        deadline: measured_from + opts.duration,
        sending: Arc::new(Sending::new(opts.terminals.len())),
        pace: Arc::new(Delays::start("bench-pace")?),
    };
    let mut tasks = Vec::new();
    for (i, id) in opts.terminals.iter().enumerate() {
        let (id, o, w) = (id.clone(), opts.clone(), window.clone());
        tasks.push(tokio::spawn(async move {
            run_terminal(&o, &id, &w, i as u32).await
        }));
    }
    let mut all = TerminalStats::default();
    let mut failed = 0;
    for t in tasks {
        let s = t.await.unwrap_or_else(|_| TerminalStats {
            failed: true,
            ..TerminalStats::default()
        });
        failed += u64::from(s.failed);
        all.latencies_us.extend(s.latencies_us);
        all.late_us.extend(s.late_us);
        all.warmup_requests += s.warmup_requests;
        all.ok += s.ok;
        all.mismatches += s.mismatches;
        all.void_limited += s.void_limited;
        all.duplicates_confirmed += s.duplicates_confirmed;
        for (a, b) in all.by_kind.iter_mut().zip(s.by_kind) {
            *a += b;
        }
        for m in s.samples {
            if all.samples.len() < MISMATCH_SAMPLES_MAX {
                all.samples.push(m);
            }
        }
    }
    let seconds = measured_from.elapsed().as_secs_f64();
    Ok(report(all, failed, seconds))
}

/// The `p` quantile (0–1) of sorted values, 0 for none.
fn quantile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(mut all: TerminalStats, failed: u64, seconds: f64) -> LoadReport {
    all.latencies_us.sort_unstable();
    all.late_us.sort_unstable();
    let pct = |p: f64| quantile(&all.latencies_us, p);
    let requests = all.latencies_us.len() as u64;
    LoadReport {
        requests,
        ok: all.ok,
        mismatches: all.mismatches,
        voids_refused_daily_limit: all.void_limited,
        duplicates_confirmed: all.duplicates_confirmed,
        failed_terminals: failed,
        warmup_requests: all.warmup_requests,
        seconds,
        throughput: requests as f64 / seconds.max(f64::EPSILON),
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        p999_us: pct(0.999),
        max_us: all.latencies_us.last().copied().unwrap_or(0),
        send_late_p50_us: quantile(&all.late_us, 0.50),
        send_late_p99_us: quantile(&all.late_us, 0.99),
        by_kind: ["sale", "void", "refund", "balance"]
            .iter()
            .zip(all.by_kind)
            .map(|(k, n)| ((*k).to_owned(), n))
            .collect(),
        mismatch_samples: all.samples,
    }
}

/// Longest a terminal that stopped sending waits for the others before it settles.
pub const SETTLE_WAIT_MAX: Duration = Duration::from_secs(30);

/// When a run measures, and how many terminals still send.
#[derive(Clone)]
struct Window {
    measured_from: Instant,
    deadline: Instant,
    sending: Arc<Sending>,
    /// Paced sends leave at their time, not at tokio's next millisecond tick after it: the
    /// latency counts from the scheduled time, so a late send was counted as the host's
    /// (s26-pace).
    pace: Arc<Delays>,
}

/// Terminals still sending requests. Each settles its batch only once none is: a
/// settlement books a whole batch in one writer command, and 250 of them at the end of a
/// paced run sat in front of the last sales of the terminals not yet done, whose latencies
/// then measured the settlements, not the sales.
struct Sending {
    left: std::sync::atomic::AtomicUsize,
    done: tokio::sync::Notify,
}

impl Sending {
    fn new(terminals: usize) -> Sending {
        Sending {
            left: std::sync::atomic::AtomicUsize::new(terminals),
            done: tokio::sync::Notify::new(),
        }
    }

    /// Waits until every terminal stopped sending, at most [`SETTLE_WAIT_MAX`].
    async fn all_stopped(&self) {
        let wait = async {
            loop {
                let notified = self.done.notified();
                if self.left.load(std::sync::atomic::Ordering::Acquire) == 0 {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(SETTLE_WAIT_MAX, wait).await;
    }
}

/// Counts its terminal out of [`Sending`] when it stops sending, whichever way it stops.
struct StillSending(Arc<Sending>);

impl Drop for StillSending {
    fn drop(&mut self) {
        if self
            .0
            .left
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel)
            == 1
        {
            self.0.done.notify_waiters();
        }
    }
}

async fn run_terminal(o: &LoadOptions, id: &str, w: &Window, seed: u32) -> TerminalStats {
    let mut s = TerminalStats::default();
    let still_sending = StillSending(w.sending.clone());
    let deadline = w.deadline;
    let Ok(mut t) = Terminal::new(id, &o.merchant, &o.tmk_hex) else {
        s.failed = true;
        return s;
    };
    let pick = |list: &[String]| list[seed as usize % list.len()].clone();
    t.operator = pick(&o.operators);
    let Some(target) = o.targets.get(seed as usize % o.targets.len().max(1)) else {
        s.failed = true;
        return s;
    };
    let Ok(mut c) = Connection::connect_with(*target, o.tls.as_ref()).await else {
        s.failed = true;
        return s;
    };
    // A terminal keeps its STAN across runs, its sign-in included: a rerun that started
    // again at 1 sent the very bytes of the last run's sign-in, which a node still up answers
    // from its stored replies (the batch settled since, so every sale got 77), and a fresh
    // start in a batch that already has those STANs would (rightly) be answered 94.
    t.stan = stan_offset(seed);
    // A rerun's sales start at an amount of their own: repeating the last run's amounts in
    // order on the same card, minutes later, made each a possible duplicate charge (94).
    let first_amount = u64::from(t.stan);
    let signed = match t.sign_in() {
        Ok(f) => match c.call(&f).await {
            Ok(body) => t
                .accept_sign_in(&body)
                .map(|r| r.code == "00")
                .unwrap_or(false),
            Err(_) => false,
        },
        Err(_) => false,
    };
    if !signed {
        s.failed = true;
        return s;
    }
    let card = Card::new(&pick(&o.cards), "3012");
    // Set once the operator's daily void limit answers 65: no more voids this run.
    let mut voids_off = false;
    // A sale answered "possible duplicate" (94), sent again confirmed, as the counter does.
    let mut confirm: Option<u64> = None;
    // Approved sales of this terminal not voided yet: (original, refunded so far).
    // Approved sales not yet voided: the original, its amount, the fen refunded so far.
    let mut open: Vec<(Original, u64, u64)> = Vec::new();
    let mut sales = 0u64;
    // The terminal's own totals, for the settlement at the end.
    let mut totals = Totals::default();
    let mut rng = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    // Paced terminals start spread over one interval so they do not send in lockstep.
    let interval = o
        .rate_per_s
        .filter(|r| *r > 0)
        .map(|r| Duration::from_secs_f64(o.terminals.len() as f64 / f64::from(r)));
    let mut next_send =
        interval.map(|i| Instant::now() + i.mul_f64(f64::from(seed % 1000) / 1000.0));
    // When the terminal could send next: its previous answer came.
    let mut ready = Instant::now();
    while Instant::now() < deadline {
        // Paced: the latency counts from the scheduled send time, so a host that falls
        // behind shows its queueing in the percentiles (no coordinated omission).
        let mut scheduled = None;
        if let (Some(at), Some(i)) = (next_send, interval) {
            w.pace.wait_until(at).await;
            scheduled = Some(at);
            next_send = Some(at + i);
        }
        if u32::from(totals.debit_count) + u32::from(totals.credit_count) >= BATCH_TXNS_MAX {
            // A full batch is settled, as a terminal whose journal is full does.
            settle(&mut t, &mut c, totals, &mut s).await;
            // Its answer is the terminal's previous one: the time it took is not the
            // generator's lateness.
            ready = Instant::now();
            t.batch += 1;
            totals = Totals::default();
            open.clear();
        }
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        let mut kind = o.mix.pick(rng);
        if confirm.is_some() {
            kind = Kind::Sale;
        }
        // Only a sale never refunded can be voided (a refunded one is refused 12).
        let voidable = open.iter().rposition(|(_, _, refunded)| *refunded == 0);
        if (kind == Kind::Void && (voidable.is_none() || voids_off))
            || (kind == Kind::Refund && open.is_empty())
        {
            kind = Kind::Sale;
        }
        let (amount, original) = match (kind, voidable) {
            (Kind::Void, Some(i)) if !voids_off => {
                let (orig, fen, _) = open.swap_remove(i);
                (fen, Some((orig, fen)))
            }
            (Kind::Refund, _) => {
                let i = rng as usize % open.len();
                open[i].2 += 1;
                let (orig, fen) = (open[i].0.clone(), open[i].1);
                if open[i].2 >= fen {
                    open.swap_remove(i);
                }
                (1, Some((orig, fen)))
            }
            _ => match confirm {
                Some(fen) => (fen, None),
                None => {
                    sales += 1;
                    (
                        SALE_FEN + (first_amount + sales) % o.sale_amounts.max(1),
                        None,
                    )
                }
            },
        };
        let confirmed = confirm.take().is_some();
        t.confirm_duplicate = confirmed;
        let request = t.request(kind, &card, amount, original.as_ref().map(|(o, _)| o));
        t.confirm_duplicate = false;
        let Ok((stan, frame)) = request else {
            s.failed = true;
            return s;
        };
        let sent = scheduled.unwrap_or_else(Instant::now);
        // How late the generator itself is: after both the scheduled time and the previous
        // answer (a slow answer delays the next send, which the latency rightly counts).
        let late = ready.max(sent).elapsed();
        let Ok(body) = c.call(&frame).await else {
            s.failed = true;
            return s;
        };
        ready = Instant::now();
        if sent >= w.measured_from {
            s.latencies_us.push(sent.elapsed().as_micros() as u64);
            if scheduled.is_some() {
                s.late_us.push(late.as_micros() as u64);
            }
        } else {
            s.warmup_requests += 1;
        }
        s.by_kind[kind_index(kind)] += 1;
        match t.parse(&body) {
            Ok(r) if r.code == "00" && r.stan == Some(stan) && r.mac_ok == Some(true) => {
                s.ok += 1;
                match kind {
                    Kind::Sale => {
                        open.push((Original::of(&r, t.batch), amount, 0));
                        totals.debit_amount += amount;
                        totals.debit_count += 1;
                    }
                    Kind::Void => {
                        totals.debit_amount -= amount;
                        totals.debit_count -= 1;
                    }
                    Kind::Refund => {
                        totals.credit_amount += amount;
                        totals.credit_count += 1;
                    }
                    _ => {}
                }
            }
            Ok(r)
                if kind == Kind::Void
                    && r.code == VOID_LIMIT_CODE
                    && r.stan == Some(stan)
                    && r.mac_ok != Some(false) =>
            {
                // The sale stays approved in the batch; the totals do not change.
                s.ok += 1;
                s.void_limited += 1;
                voids_off = true;
                if let Some((orig, fen)) = original {
                    open.push((orig, fen, 0));
                }
            }
            Ok(r)
                if kind == Kind::Sale
                    && r.code == DUPLICATE_CODE
                    && r.stan == Some(stan)
                    && r.mac_ok != Some(false)
                    && !confirmed =>
            {
                // The rule answered as it must; the counter confirms and sends again.
                s.ok += 1;
                s.duplicates_confirmed += 1;
                confirm = Some(amount);
            }
            other => {
                s.mismatches += 1;
                if s.samples.len() < MISMATCH_SAMPLES_MAX {
                    let what = match other {
                        Ok(r) => format!(
                            "code {} ({}) stan {:?} mac {:?}",
                            r.code, r.text, r.stan, r.mac_ok
                        ),
                        Err(e) => format!("undecodable: {e}"),
                    };
                    s.samples.push(format!("{id} {kind:?} stan {stan}: {what}"));
                }
            }
        }
    }
    drop(still_sending);
    w.sending.all_stopped().await;
    settle(&mut t, &mut c, totals, &mut s).await;
    s
}

/// Ends the run like a day at the counter: settlement with the terminal's own totals,
/// which must come back balanced (an unbalanced answer counts as a mismatch).
async fn settle(t: &mut Terminal, c: &mut Connection, totals: Totals, s: &mut TerminalStats) {
    let field48 = SettlementTotals {
        domestic: totals,
        foreign: Totals::default(),
    };
    let balanced = match t.settlement(&field48) {
        Ok(frame) => match c.call(&frame).await.map(|b| t.parse(&b)) {
            Ok(Ok(r)) => r.code == "00" && r.totals.is_some_and(|h| h.domestic.reconciliation == 1),
            _ => false,
        },
        Err(_) => false,
    };
    if !balanced {
        s.mismatches += 1;
        if s.samples.len() < MISMATCH_SAMPLES_MAX {
            s.samples.push(format!(
                "{}: settlement not balanced against {totals:?}",
                t.id
            ));
        }
    }
}

/// A STAN to start from, different for each terminal and each run.
fn stan_offset(seed: u32) -> u32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    ((secs.wrapping_mul(7919) as u32).wrapping_add(seed.wrapping_mul(104_729))) % 900_000
}

/// The bare baseline server: frames each request and writes it straight back, without
/// decoding or storing. Runs until the process ends.
///
/// # Errors
/// When the address cannot be bound.
pub async fn echo_server(addr: &str, ready: impl FnOnce(SocketAddr)) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    ready(listener.local_addr()?);
    loop {
        let (mut sock, _) = listener.accept().await?;
        let _ = sock.set_nodelay(true);
        tokio::spawn(async move {
            let mut buf = Vec::with_capacity(4096);
            let mut chunk = [0u8; 4096];
            loop {
                match split_frame(&buf) {
                    Ok(Status::Complete(f)) => {
                        let n = f.consumed;
                        if sock.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                        buf.drain(..n);
                        continue;
                    }
                    Ok(Status::Partial) => {}
                    Err(_) => return,
                }
                match sock.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
        });
    }
}

/// Echo-mode load: each connection sends a fixed framed request and expects it back, for
/// the network-and-framing baseline against [`echo_server`].
///
/// # Errors
/// When no connection can be made.
pub async fn echo_load(
    target: SocketAddr,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<LoadReport> {
    let mut t = Terminal::new(
        "00000000",
        "000000000000000",
        "0123456789ABCDEFFEDCBA9876543210",
    )?;
    let frame = t.echo()?;
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let frame = frame.clone();
        tasks.push(tokio::spawn(async move {
            let mut s = TerminalStats::default();
            let Ok(mut c) = Connection::connect(target).await else {
                s.failed = true;
                return s;
            };
            while Instant::now() < deadline {
                let sent = Instant::now();
                match c.call(&frame).await {
                    Ok(body) if body == frame[2..] => s.ok += 1,
                    Ok(_) => s.mismatches += 1,
                    Err(_) => {
                        s.failed = true;
                        return s;
                    }
                }
                s.latencies_us.push(sent.elapsed().as_micros() as u64);
            }
            s
        }));
    }
    let mut all = TerminalStats::default();
    let mut failed = 0;
    for task in tasks {
        let s = task.await.unwrap_or_default();
        failed += u64::from(s.failed);
        all.latencies_us.extend(s.latencies_us);
        all.ok += s.ok;
        all.mismatches += s.mismatches;
    }
    Ok(report(all, failed, started.elapsed().as_secs_f64()))
}
