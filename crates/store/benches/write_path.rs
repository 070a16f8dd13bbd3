//! The store's write path: durable sales per second through the single writer, with group
//! commit (many callers at once, so commands share a commit) against one command per commit
//! (a single caller waiting for each answer). Both are SQLite WAL with synchronous=FULL.
//!
//! Run: `cargo bench -p suanpan-store --bench write_path`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;
use std::time::{Duration, Instant};
use suanpan_core::{Amount, OperatorNo, Pan, PaymentMethod, TerminalId, TxnKind};
use suanpan_store::command::Origin;
use suanpan_store::command::Purchase;
use suanpan_store::{
    AskExt, Fingerprinter, Instrument, OpenOptions, PurchaseReply, SqliteStore, Store,
};

const SALES_PER_ITER: u64 = 20_000;
const CALLERS: usize = 64;
const CALLER_SALES: u64 = 6_400;

fn setup() -> (tempfile::TempDir, Arc<SqliteStore>, Purchase) {
    setup_with(suanpan_service::open_options())
}

/// A store whose writer anchors the audit head after every commit (issue 11), the anchor
/// file in the store's temporary folder (in production it lies beside the KEK file).
fn setup_anchored() -> (tempfile::TempDir, Arc<SqliteStore>, Purchase) {
    let anchor_dir = tempfile::tempdir().expect("tempdir");
    let keys = suanpan_store::keys::ephemeral();
    let anchor =
        suanpan_store::anchor::Anchor::new(&anchor_dir.path().join("k.kek.anchor"), &*keys)
            .expect("anchor");
    let made = setup_with(OpenOptions {
        keys,
        anchor: Some(anchor),
        ..suanpan_service::open_options()
    });
    // The anchor file goes with the folder when the benchmark ends.
    std::mem::forget(anchor_dir);
    made
}

fn setup_with(opts: OpenOptions) -> (tempfile::TempDir, Arc<SqliteStore>, Purchase) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::create(dir.path(), opts).expect("create");
    let fp = Fingerprinter::new([7; 32]);
    store.seed_demo(&fp).expect("seed");
    let pan = Pan::parse(suanpan_issuer::demo::CARDS[0].pan).expect("pan");
    let cmd = Purchase {
        origin: Origin {
            terminal_id: TerminalId::parse("12345678").expect("tid"),
            operator: OperatorNo::parse("01").expect("op"),
            supervisor: None,
            voucher: None,
            batch: None,
            training: false,
            idempotency: None,
            terminal_info: None,
        },
        kind: TxnKind::Sale,
        amount: Amount::from_fen(1),
        instrument: Instrument::Card {
            masked_pan: pan.masked(),
            fingerprint: fp.of(&pan),
            expiry: None,
        },
        method: PaymentMethod::Chip,
        pin: None,
        linked_id: None,
        confirm_duplicate: false,
    };
    (dir, Arc::new(store), cmd)
}

fn sale(store: &SqliteStore, cmd: &Purchase) {
    match store.ask(cmd.clone()) {
        Ok(PurchaseReply::Booked(t)) => assert!(t.response_code.is_approved()),
        other => panic!("sale failed: {other:?}"),
    }
}

fn burst(store: &Arc<SqliteStore>, cmd: &Purchase, callers: usize, sales: u64) -> Duration {
    let per = sales / callers as u64;
    let start = Instant::now();
    let handles: Vec<_> = (0..callers)
        .map(|_| {
            let store = store.clone();
            let cmd = cmd.clone();
            std::thread::spawn(move || {
                for _ in 0..per {
                    sale(&store, &cmd);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("caller");
    }
    start.elapsed()
}

/// One caller with `sales` commands in flight at once (as a host with that many connections
/// would have): they share group commits of up to `GROUP_COMMIT_MAX`.
fn pipelined(store: &SqliteStore, cmd: &Purchase, sales: u64) -> Duration {
    // An empty `String` neither allocates nor hashes: the same loop as the hashing run,
    // without the hash.
    pipelined_hashing(store, cmd, sales, String::new)
}

/// [`pipelined`], with a request hash computed for each sale before it is submitted.
fn pipelined_hashing(
    store: &SqliteStore,
    cmd: &Purchase,
    sales: u64,
    hash: impl Fn() -> String,
) -> Duration {
    let start = Instant::now();
    let pending: Vec<_> = (0..sales)
        .map(|_| {
            std::hint::black_box(hash());
            store.submit(cmd.clone()).expect("submit")
        })
        .collect();
    for p in pending {
        match p.wait() {
            Ok(PurchaseReply::Booked(t)) => assert!(t.response_code.is_approved()),
            other => panic!("sale failed: {other:?}"),
        }
    }
    start.elapsed()
}

fn write_path(c: &mut Criterion) {
    let (_dir, store, cmd) = setup();
    let mut g = c.benchmark_group("store_write_path");
    g.throughput(Throughput::Elements(SALES_PER_ITER));
    g.sample_size(10);
    g.bench_function("group_commit_pipelined", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| pipelined(&store, &cmd, SALES_PER_ITER))
                .sum()
        })
    });
    // Issue 11: what the KEK adds to a sale. Before, the host hashed each request with
    // SHA-256; now with an HMAC under a KEK-derived key (Store::request_hash). Same run,
    // same sales; only the per-sale hash differs.
    let mab = [0x5Au8; 120];
    g.bench_function("pipelined_with_sha256_request_hash", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    pipelined_hashing(&store, &cmd, SALES_PER_ITER, || {
                        use sha2::Digest;
                        hex::encode(sha2::Sha256::digest(mab))
                    })
                })
                .sum()
        })
    });
    g.bench_function("pipelined_with_keyed_request_hash", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    pipelined_hashing(&store, &cmd, SALES_PER_ITER, || {
                        store.request_hash(&[&mab[..]]).expect("hash")
                    })
                })
                .sum()
        })
    });
    g.throughput(Throughput::Elements(CALLER_SALES));
    g.bench_function("group_commit_64_callers", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| burst(&store, &cmd, CALLERS, CALLER_SALES))
                .sum()
        })
    });
    g.throughput(Throughput::Elements(200));
    g.bench_function("one_per_commit_1_caller", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| burst(&store, &cmd, 1, 200)).sum())
    });
    // Issue 11: the audit anchor appended after every commit group, same run, same sales.
    let (_adir, anchored, _) = setup_anchored();
    g.throughput(Throughput::Elements(CALLER_SALES));
    g.bench_function("group_commit_64_callers_anchored", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| burst(&anchored, &cmd, CALLERS, CALLER_SALES))
                .sum()
        })
    });
    g.throughput(Throughput::Elements(200));
    g.bench_function("one_per_commit_1_caller_anchored", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| burst(&anchored, &cmd, 1, 200)).sum())
    });
    // The anchor's own cost: one signed record appended (an HMAC and one write), which the
    // writer pays once per commit group.
    if let Some(a) = anchored.anchor() {
        let head = suanpan_store::audit::ChainHead {
            seq: 1,
            hash: suanpan_store::audit::GENESIS.to_owned(),
        };
        g.throughput(Throughput::Elements(1));
        g.bench_function("anchor_append", |b| b.iter(|| a.append(&head, 0)));
    }
    g.throughput(Throughput::Elements(SALES_PER_ITER));
    g.bench_function("group_commit_pipelined_anchored", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| pipelined(&anchored, &cmd, SALES_PER_ITER))
                .sum()
        })
    });
    g.finish();
}

/// Issue 11: the KEK's cost per sale alone, without the store: the request hash before
/// (SHA-256) and after (HMAC under the KEK-derived key, `Store::request_hash`, derivation
/// included). Microseconds, far less sensitive to a shared machine than the durable rows.
fn kek_cost(c: &mut Criterion) {
    let (_dir, store, _) = setup();
    let mab = [0x5Au8; 120];
    let mut g = c.benchmark_group("kek_cost");
    g.throughput(Throughput::Elements(1));
    g.bench_function("request_hash_sha256", |b| {
        b.iter(|| {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(std::hint::black_box(mab)))
        })
    });
    g.bench_function("request_hash_keyed", |b| {
        b.iter(|| {
            store
                .request_hash(&[&std::hint::black_box(mab)[..]])
                .expect("hash")
        })
    });
    g.finish();
}

/// Load cards the risk-cost bench pays with, round robin: a town's cards, each paying a few
/// times while the bench runs (20,000 sales an iteration, so a card pays again five
/// iterations later). With 1,000 cards each had hundreds of sales within the rules' window,
/// and every sale's lookback read its full 64 rows: a load no real card makes.
const RISK_CARDS: usize = 100_000;

/// A store with the demo seed, `risk` as its `[risk]`, and [`RISK_CARDS`] load cards; returns
/// one sale command per card (the demo terminal, operator 01).
fn setup_risk(
    risk: suanpan_core::risk::RiskParams,
) -> (tempfile::TempDir, Arc<SqliteStore>, Vec<Purchase>) {
    let (dir, store, template) = setup_with(OpenOptions {
        policy: suanpan_core::Policy {
            risk,
            ..suanpan_core::Policy::default()
        },
        ..suanpan_service::open_options()
    });
    let fp = Fingerprinter::new([7; 32]);
    let pans: Vec<Pan> = (0..RISK_CARDS as u32)
        .map(|i| Pan::parse(&suanpan_issuer::demo::load_card_pan(i)).expect("pan"))
        .collect();
    suanpan_store::admin::register_bench(&*store, &fp, &[], "", &[], &pans, "-")
        .expect("load cards");
    let cmds = pans
        .iter()
        .map(|pan| {
            let mut cmd = template.clone();
            cmd.instrument = Instrument::Card {
                masked_pan: pan.masked(),
                fingerprint: fp.of(pan),
                expiry: None,
            };
            cmd
        })
        .collect();
    (dir, store, cmds)
}

/// [`pipelined`] over many cards: sale `n` pays with card `n % RISK_CARDS` an amount that
/// grows by one fen per round of the cards, so no card repeats an amount (no duplicate
/// charge) and every sale is approved with the rules on.
fn pipelined_cards(
    store: &SqliteStore,
    cmds: &[Purchase],
    next: &std::sync::atomic::AtomicU64,
    sales: u64,
) -> Duration {
    let start = Instant::now();
    let pending: Vec<_> = (0..sales)
        .map(|_| {
            let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut cmd = cmds[(n % RISK_CARDS as u64) as usize].clone();
            let fen = 1 + (n / RISK_CARDS as u64) as i64;
            cmd.amount = Amount::from_fen(fen);
            store.submit(cmd).expect("submit")
        })
        .collect();
    for p in pending {
        match p.wait() {
            Ok(PurchaseReply::Booked(t)) => assert!(t.response_code.is_approved(), "{t:?}"),
            other => panic!("sale failed: {other:?}"),
        }
    }
    start.elapsed()
}

/// Issue 13: what the risk rules cost the write path, side by side in one run — the default
/// rules (every card sale loads the card's last 40 minutes from `txns_card_recent` and asks
/// `core::risk::assess`) against `[risk]` off, the same pipelined sales over 100,000 cards
/// with amounts that never repeat.
fn risk_cost(c: &mut Criterion) {
    let (_on_dir, on, on_cmds) = setup_risk(suanpan_core::risk::RiskParams::default());
    let (_off_dir, off, off_cmds) = setup_risk(suanpan_core::risk::RiskParams::off());
    let next = std::sync::atomic::AtomicU64::new(0);
    let mut g = c.benchmark_group("risk_cost");
    g.throughput(Throughput::Elements(SALES_PER_ITER));
    g.sample_size(10);
    g.bench_function("pipelined_rules_on", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| pipelined_cards(&on, &on_cmds, &next, SALES_PER_ITER))
                .sum()
        })
    });
    g.bench_function("pipelined_rules_off", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| pipelined_cards(&off, &off_cmds, &next, SALES_PER_ITER))
                .sum()
        })
    });
    g.finish();
}

criterion_group!(benches, write_path, kek_cost, risk_cost);
criterion_main!(benches);
