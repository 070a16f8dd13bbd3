//! `bench load` (the load generator) and `bench echo-server` (the bare baseline server).

use crate::app::{App, Fail};
use crate::output;
use anyhow::Context;
use serde_json::json;
use std::time::Duration;
use suanpan_core::TerminalId;
use suanpan_core::{OperatorNo, Pan};
use suanpan_host::bench::{self, LoadOptions, LoadReport, Mix};
use suanpan_store::OpenOptions;
use suanpan_store::admin::{BENCH_MERCHANT, DEMO_TMK_HEX};

/// `bench …`
#[derive(Debug, clap::Subcommand)]
pub enum BenchCmd {
    /// Drive a running `serve` with N signed-in terminals sending MACed traffic; check every
    /// response; print throughput and latency percentiles. It books on a merchant of its own
    /// (898310049990001) with terminals B0000001…, operators 01… and load cards 621999…;
    /// --register first adds whichever are missing to --data-dir, so the demo merchant's
    /// records and operators stay untouched.
    Load(LoadArgs),
    /// Book a realistic history into --data-dir (or --database) through the engine: sales by
    /// card and QR wallet, voids, refunds, and every terminal settling each business day,
    /// spread over --days days ending yesterday, on merchants 898310049992001… with terminals
    /// S0000001… (registered first, whichever are missing). For scale tests and benchmarks.
    Seed(SeedArgs),
    /// Time the back-office search on the store: each filter's first page and its 100th page
    /// (keyset), the listing's match count (exact up to 10,000, then "more than 10,000"), and
    /// the first page as the API and the back-office page answer it (rows and count), over
    /// --samples values taken from the journal; prints p50/p95 per filter (milliseconds).
    Search(SearchArgs),
    /// A bare server that frames each request and sends it straight back (no decoding, no
    /// store): the baseline for `bench load --echo`.
    EchoServer {
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:5900")]
        addr: String,
    },
}

/// `bench load` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// The host's 8583 address; several nodes comma-separated (terminals are spread over
    /// them in turn).
    #[arg(long, default_value = "127.0.0.1:5800")]
    pub target: String,
    /// Simulated terminals, one connection each.
    #[arg(long, default_value_t = 4)]
    pub terminals: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Operation mix: weights of sale, void, refund, balance.
    #[arg(long, default_value = "sale:80,void:10,refund:5,balance:5")]
    pub mix: String,
    /// Register the bench merchant, terminals (demo TMK), operators and cards in --data-dir
    /// first (those missing).
    #[arg(long)]
    pub register: bool,
    /// Echo mode: send a fixed frame and expect it back (against `bench echo-server`).
    #[arg(long)]
    pub echo: bool,
    /// Offered load, requests per second over all terminals (default: as fast as answered);
    /// open-loop pacing, latency measured from each request's scheduled send time.
    #[arg(long)]
    pub rate: Option<u32>,
    /// Connect over TLS, trusting the CA (or the host's self-signed certificate) in this
    /// PEM file; the certificate must name each target's IP address.
    #[arg(long, env = "SUANPAN_TLS_CA")]
    pub tls_ca: Option<std::path::PathBuf>,
    /// How many amounts each terminal's sales cycle through (10 fen upwards). 1: every sale
    /// is 10 fen, as `bench load` sent before issue 15 (compare hosts of both times under
    /// the same load; turn the duplicate rule off, or each repeat is answered 94 first).
    #[arg(long, default_value_t = suanpan_host::bench::SALE_AMOUNTS, value_parser = clap::value_parser!(u64).range(1..))]
    pub sale_amounts: u64,
    /// Seconds to run before --duration starts: those requests are checked like any other
    /// but left out of the latency percentiles and the throughput (sign-ins and cold caches
    /// are not the steady state). The run lasts --warmup + --duration seconds.
    #[arg(long, default_value_t = 0)]
    pub warmup: u64,
}

/// `bench seed` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct SeedArgs {
    /// Journal rows to book (sales, voids, refunds).
    #[arg(long)]
    pub transactions: u64,
    /// Merchants.
    #[arg(long, default_value_t = 10)]
    pub merchants: u32,
    /// Terminals over all merchants.
    #[arg(long, default_value_t = 1_000)]
    pub terminals: u32,
    /// Business days the history spans, the last one ending yesterday.
    #[arg(long, default_value_t = 365)]
    pub days: u32,
    /// Load cards paid with.
    #[arg(long, default_value_t = 10_000)]
    pub cards: u32,
    /// The random generator's seed (the same seed books the same history).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Book as the counter does: every group commit waits for the disk and the ten search
    /// indexes are kept up to date row by row (about 2× slower on millions of rows). By
    /// default the seed is a bulk load: commits do not wait for the disk, the search indexes
    /// are built once at the end, and the store is synced to disk before the command ends;
    /// nothing else may use the store meanwhile.
    #[arg(long)]
    pub no_bulk: bool,
    /// Book with the risk rules of the configuration ([risk]) on, as a counter's sales are:
    /// every sale reads its card's recent transactions. By default the generated history is
    /// booked with the rules off (a merchant's own limits and the blocklist still apply) and,
    /// in a bulk load, the rules' two journal indexes are built once at the end.
    #[arg(long)]
    pub risk: bool,
}

/// `bench search` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct SearchArgs {
    /// The merchant searched (default: the first `bench seed` merchant).
    #[arg(long, default_value = "898310049992001")]
    pub merchant: String,
    /// Values per filter (each a different row's).
    #[arg(long, default_value_t = 20)]
    pub samples: u32,
}

/// Commands `bench seed` keeps in flight (several full group commits).
const SEED_WINDOW: usize = 8_192;

/// Most terminals a run may simulate (one connection and task each).
const TERMINALS_MAX: usize = 1_000;
/// Cashier nos. a run signs in as (01…98; terminal `i` as cashier `i % 98 + 1`): with one
/// operator per terminal, `void_max_per_operator_per_day` lasts as long as it can.
const OPERATORS_MAX: usize = 98;
/// Load cards a run pays with (terminal `i` with card `i % 1000`): none runs dry.
const CARDS: u32 = 1_000;

pub fn run(app: &App, cmd: BenchCmd) -> Result<(), Fail> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match cmd {
        BenchCmd::EchoServer { addr } => {
            rt.block_on(bench::echo_server(&addr, |a| {
                println!("echo server listening on {a}");
            }))?;
            Ok(())
        }
        BenchCmd::Seed(a) => seed(app, &a),
        BenchCmd::Search(a) => search(app, &a),
        BenchCmd::Load(a) => {
            if a.terminals == 0 || a.terminals > TERMINALS_MAX {
                return Err(Fail::Other(anyhow::anyhow!(
                    "--terminals must be 1 to {TERMINALS_MAX}"
                )));
            }
            let targets = a
                .target
                .split(',')
                .map(|t| t.trim().parse().with_context(|| format!("--target {t}")))
                .collect::<Result<Vec<std::net::SocketAddr>, _>>()?;
            let Some(&target) = targets.first() else {
                return Err(Fail::Other(anyhow::anyhow!("--target names no address")));
            };
            let duration = Duration::from_secs(a.duration);
            let report = if a.echo {
                rt.block_on(bench::echo_load(target, a.terminals, duration))?
            } else {
                let ids: Vec<String> = (1..=a.terminals).map(|i| format!("B{i:07}")).collect();
                let operators: Vec<String> = (1..=a.terminals.min(OPERATORS_MAX))
                    .map(|i| format!("{i:02}"))
                    .collect();
                let cards: Vec<String> = (0..CARDS)
                    .map(suanpan_issuer::demo::load_card_pan)
                    .collect();
                if a.register {
                    register(app, &ids, &operators, &cards)?;
                }
                let opts = LoadOptions {
                    targets,
                    terminals: ids,
                    merchant: BENCH_MERCHANT.to_owned(),
                    tmk_hex: DEMO_TMK_HEX.to_owned(),
                    operators,
                    cards,
                    duration,
                    mix: Mix::parse(&a.mix)?,
                    rate_per_s: a.rate,
                    sale_amounts: a.sale_amounts,
                    warmup: std::time::Duration::from_secs(a.warmup),
                    tls: a
                        .tls_ca
                        .as_deref()
                        .map(|ca| {
                            suanpan_host::client::TlsTarget::new(ca, &target.ip().to_string())
                        })
                        .transpose()?,
                };
                rt.block_on(bench::load(opts))?
            };
            print(app, &report);
            if report.mismatches > 0 || report.failed_terminals > 0 {
                return Err(Fail::Other(anyhow::anyhow!(
                    "{} mismatched responses, {} failed terminals",
                    report.mismatches,
                    report.failed_terminals
                )));
            }
            Ok(())
        }
    }
}

/// `bench seed`: the store opened on a clock the generator moves across the days.
fn seed(app: &App, a: &SeedArgs) -> Result<(), Fail> {
    let plan = suanpan_store::seed::HistoryPlan {
        transactions: a.transactions,
        merchants: a.merchants,
        terminals: a.terminals,
        days: a.days,
        cards: a.cards,
        window: SEED_WINDOW,
        seed: a.seed,
        bulk: !a.no_bulk,
        risk: a.risk,
    };
    plan.validate()?;
    let clock = std::sync::Arc::new(suanpan_core::clock::FixedClock::new(jiff::Timestamp::now()));
    let mut policy = app.policy()?;
    if !a.risk {
        policy.risk = suanpan_core::risk::RiskParams::off();
    }
    let store = app.open_with_policy(
        app.keys()?,
        policy,
        OpenOptions {
            clock: clock.clone(),
            bulk_load: !a.no_bulk,
            ..suanpan_service::open_options()
        },
    )?;
    // The rules' journal indexes as the booking's rules read them (issue 15): built before
    // the load with the rules on, dropped with them off.
    let need = suanpan_store::risk_index::RiskIndexes::needed(&store.policy().risk, &*store)?;
    suanpan_store::risk_index::apply(&*store, need)?;
    let fp = app.fingerprinter()?;
    // Nobody types these operators' password: the history is booked, not keyed in.
    let secret = hex::encode(suanpan_store::Fingerprinter::random_key());
    let hash = suanpan_store::auth::hash_password(&secret);
    let quiet = app.json;
    let started = std::time::Instant::now();
    let report = suanpan_store::seed::history(&*store, &clock, &fp, &plan, &hash, &mut |rows| {
        if !quiet {
            let s = started.elapsed().as_secs_f64();
            eprint!(
                "\r{rows} / {} rows, {:.0}/s   ",
                plan.transactions,
                rows as f64 / s.max(1e-3)
            );
        }
    })?;
    if app.json {
        output::print_json(&json!({"ok": true, "report": report}));
    } else {
        eprintln!();
        println!(
            "{} rows in {:.1} s (of which building the search indexes {:.1} s): {:.0} rows/s; sales {} (QR wallet {}), voids {}, refunds {}, declined {}, refused {}, settlements {}",
            report.rows,
            report.seconds,
            report.index_seconds,
            report.rows as f64 / report.seconds.max(1e-3),
            report.sales,
            report.wallet_sales,
            report.voids,
            report.refunds,
            report.declined,
            report.refused,
            report.settlements
        );
    }
    Ok(())
}

/// p50 and p95 of `v` (milliseconds), "—" when empty.
fn percentiles(v: &mut [f64]) -> (String, String) {
    if v.is_empty() {
        return ("—".into(), "—".into());
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (format!("{:.1}", at(0.5)), format!("{:.1}", at(0.95)))
}

/// `bench search`: each filter's first page, 100th page and count, timed on the reader.
fn search(app: &App, a: &SearchArgs) -> Result<(), Fail> {
    use std::time::Instant;
    use suanpan_store::sql::SqlExt;
    use suanpan_store::{query, read};
    let store = app.open_store()?;
    let zone = store.policy().zone().map_err(|e| Fail::Other(e.into()))?;
    let (lo, hi) = read(&*store, |c| {
        c.one(
            "SELECT COALESCE(MIN(id), 0), COALESCE(MAX(id), 0) FROM txns WHERE merchant_id = ?1",
            suanpan_store::p![a.merchant.as_str()],
            |r| Ok((r.i64(0)?, r.i64(1)?)),
        )
    })?;
    let total = read(&*store, |c| {
        c.one("SELECT COUNT(*) FROM txns", suanpan_store::p![], |r| {
            r.i64(0)
        })
    })?;
    println!(
        "store: {total} transactions; merchant {}: ids {lo}..{hi}",
        a.merchant
    );
    // First page, 100th page, count, and the first page as the API and the back-office page
    // answer it (its rows, then the count to `COUNT_EXACT_MAX`, on one request).
    let mut times: std::collections::BTreeMap<&str, [Vec<f64>; 4]> = Default::default();
    let mut order = Vec::new();
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1e3;
    for s in 0..a.samples {
        // Spread the samples over the merchant's history, oldest to newest.
        let near = lo + (hi - lo) * i64::from(s) / i64::from(a.samples.max(1));
        let filters = read(&*store, |c| {
            suanpan_store::seed::search_filters(c, &a.merchant, near, &zone)
        })?;
        for (name, f) in filters {
            if !order.contains(&name) {
                order.push(name);
            }
            let slot = times.entry(name).or_default();
            let served = Instant::now();
            let t = Instant::now();
            let first = store.transactions(&f)?;
            slot[0].push(ms(t));
            let t = Instant::now();
            read(&*store, |c| {
                query::count_up_to_in(c, &f, query::COUNT_EXACT_MAX)
            })?;
            slot[2].push(ms(t));
            slot[3].push(ms(served));
            // Walk to the 99th page by keyset, then time the 100th.
            let mut cursor = first.last().map(|t| t.id.0);
            for _ in 2..100 {
                let Some(c) = cursor else { break };
                let page = store.transactions(&suanpan_store::TxnFilter {
                    before_id: Some(c),
                    ..f.clone()
                })?;
                cursor = (page.len() == 50)
                    .then(|| page.last().map(|t| t.id.0))
                    .flatten();
            }
            if let Some(c) = cursor {
                let t = Instant::now();
                store.transactions(&suanpan_store::TxnFilter {
                    before_id: Some(c),
                    ..f.clone()
                })?;
                slot[1].push(ms(t));
            }
        }
    }
    println!(
        "| filter | first page p50 | p95 | 100th page p50 | p95 | (pages reached) | count p50 | p95 | page as served p50 | p95 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for name in order {
        let Some([first, hundredth, count, served]) = times.get_mut(name) else {
            continue;
        };
        let reached = hundredth.len();
        let (f50, f95) = percentiles(first);
        let (h50, h95) = percentiles(hundredth);
        let (c50, c95) = percentiles(count);
        let (s50, s95) = percentiles(served);
        println!(
            "| {name} | {f50} | {f95} | {h50} | {h95} | {reached}/{} | {c50} | {c95} | {s50} | {s95} |",
            a.samples
        );
    }
    Ok(())
}

/// Adds the bench merchant, terminals, operators and cards that are not registered yet.
fn register(app: &App, ids: &[String], operators: &[String], cards: &[String]) -> Result<(), Fail> {
    let store = app.open_any(suanpan_service::open_options())?;
    let bad = |e: String| Fail::Other(anyhow::anyhow!(e));
    let terminals = ids
        .iter()
        .map(|id| TerminalId::parse(id).map_err(|e| bad(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let ops = operators
        .iter()
        .map(|o| OperatorNo::parse(o).map_err(|e| bad(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let pans = cards
        .iter()
        .map(|p| Pan::parse(p).map_err(|e| bad(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    // Nobody types this password: the 8583 sign-in names its operator, and the bench
    // merchant has no back-office users.
    let secret = hex::encode(suanpan_store::Fingerprinter::random_key());
    let hash = suanpan_store::auth::hash_password(&secret);
    let fp = app.fingerprinter()?;
    suanpan_store::admin::register_bench(
        &*store,
        &fp,
        &terminals,
        DEMO_TMK_HEX,
        &ops,
        &pans,
        &hash,
    )?;
    Ok(())
}

fn print(app: &App, r: &LoadReport) {
    if app.json {
        output::print_json(
            &json!({"ok": r.mismatches == 0 && r.failed_terminals == 0, "report": r}),
        );
        return;
    }
    println!(
        "{} requests in {:.1} s: {:.0}/s; ok {}, mismatches {}, failed terminals {}",
        r.requests, r.seconds, r.throughput, r.ok, r.mismatches, r.failed_terminals
    );
    println!(
        "latency p50 {:.2} ms  p99 {:.2} ms  p999 {:.2} ms  max {:.2} ms",
        r.p50_us as f64 / 1e3,
        r.p99_us as f64 / 1e3,
        r.p999_us as f64 / 1e3,
        r.max_us as f64 / 1e3
    );
    if r.send_late_p99_us > 0 {
        println!(
            "sent late by the generator itself: p50 {:.2} ms  p99 {:.2} ms (counted above; large: this machine could not pace the load on time)",
            r.send_late_p50_us as f64 / 1e3,
            r.send_late_p99_us as f64 / 1e3
        );
    }
    if r.warmup_requests > 0 {
        println!(
            "warm-up: {} requests checked, left out of the figures above",
            r.warmup_requests
        );
    }
    let kinds: Vec<String> = r.by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
    if !kinds.is_empty() {
        println!("sent: {}", kinds.join(", "));
    }
    if r.voids_refused_daily_limit > 0 {
        println!(
            "voids refused by the daily limit per operator (65, void_max_per_operator_per_day): {}",
            r.voids_refused_daily_limit
        );
    }
    for m in &r.mismatch_samples {
        println!("  mismatch: {m}");
    }
}
