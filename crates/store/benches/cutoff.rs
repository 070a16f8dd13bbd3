//! The cutoff (日切): the writer time to settle every due batch of a fleet, chunk by chunk
//! (`suanpan_service::settlement::settle_due`), with empty batches, so what is measured is
//! finding the due batches and the per-batch bookkeeping, not totalling sales.
//!
//! Run: `cargo bench -p suanpan-store --bench cutoff` (env `CUTOFF_TERMINALS`, default 4,000)

use criterion::{Criterion, criterion_group, criterion_main};
use std::sync::Arc;
use std::time::{Duration, Instant};
use suanpan_core::clock::FixedClock;
use suanpan_core::{MerchantId, TerminalId};
use suanpan_store::{Fingerprinter, OpenOptions, SqliteStore};

fn terminals() -> usize {
    std::env::var("CUTOFF_TERMINALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4_000)
}

fn cutoff(c: &mut Criterion) {
    let n = terminals();
    let dir = tempfile::tempdir().expect("tempdir");
    // 22:00 in Shanghai: the batches opened now are due at 23:00.
    let start: jiff::Timestamp = "2025-06-10T14:00:00Z".parse().expect("time");
    let clock = Arc::new(FixedClock::new(start));
    let store = SqliteStore::create(
        dir.path(),
        OpenOptions {
            clock: clock.clone(),
            ..suanpan_service::open_options()
        },
    )
    .expect("create");
    store.seed_demo(&Fingerprinter::new([7; 32])).expect("seed");
    let merchant = MerchantId::parse(suanpan_store::admin::DEMO_MERCHANT).expect("merchant");
    for i in 0..n {
        let id = TerminalId::parse(&format!("F{i:07}")).expect("terminal");
        suanpan_store::admin::add_terminal(&store, &id, &merchant, None).expect("terminal");
    }
    let mut day = 0_i64;
    let mut g = c.benchmark_group("cutoff");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function(format!("settle_due_{n}_terminals"), |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                // One day later, one hour past the cutoff: every batch is due again.
                day += 1;
                let at = start
                    .checked_add(jiff::SignedDuration::from_hours(24 * day + 1))
                    .expect("time");
                clock.set(at);
                let began = Instant::now();
                let done = suanpan_service::settlement::settle_due(&store);
                spent += began.elapsed();
                assert!(done.error.is_none(), "{:?}", done.error);
                assert!(done.reports.len() >= n, "{} settled", done.reports.len());
            }
            spent
        })
    });
    g.finish();
}

criterion_group!(benches, cutoff);
criterion_main!(benches);
