//! The export reads only its columns ([`Export::rows`] → `Cells::row_of`); the cells must be
//! the ones [`Cells::row`] writes for the same transactions, every kind of row included
//! (sales by card and wallet, voids, refunds, settled batches), in words and raw.

use std::sync::Arc;
use suanpan_core::Lang;
use suanpan_core::clock::FixedClock;
use suanpan_export::{Export, Values, headers, write_csv_of};
use suanpan_store::seed::{HistoryPlan, history};
use suanpan_store::{Fingerprinter, OpenOptions, SqliteStore, TxnFilter, query};

#[test]
fn the_streamed_cells_are_the_transactions_cells() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(FixedClock::new(jiff::Timestamp::now()));
    let policy = suanpan_core::Policy {
        risk: suanpan_core::risk::RiskParams::off(),
        ..Default::default()
    };
    let store = SqliteStore::create(
        dir.path(),
        OpenOptions {
            policy,
            clock: clock.clone(),
            ..suanpan_service::open_options()
        },
    )
    .expect("store");
    let fp = Fingerprinter::new(Fingerprinter::random_key());
    let plan = HistoryPlan {
        transactions: 2_000,
        merchants: 2,
        terminals: 4,
        days: 3,
        cards: 30,
        window: 64,
        seed: 11,
        bulk: false,
        risk: false,
    };
    let report = history(
        &store,
        &clock,
        &fp,
        &plan,
        "not-a-password-hash",
        &mut |_| {},
    )
    .expect("history");
    assert!(report.voids > 0 && report.refunds > 0, "{report:?}");
    let zone = jiff::tz::TimeZone::get("Asia/Shanghai").expect("zone");
    // Hidden rows too (none here, but the flag picks the statement's filter).
    for include_hidden in [false, true] {
        let filter = TxnFilter {
            include_hidden,
            ..TxnFilter::default()
        };
        let mut all = Vec::new();
        suanpan_store::read(&store, |c| {
            query::stream_in(c, &filter, &mut |t| {
                all.push(t);
                Ok(())
            })
        })
        .expect("transactions");
        assert_eq!(all.len() as u64, report.rows);
        for values in [
            Values::Words(Lang::Zh),
            Values::Words(Lang::En),
            Values::Raw,
        ] {
            let hs = headers(Lang::Zh);
            let old = write_csv_of(Vec::new(), hs, "all", &all, &zone, values).expect("csv");
            let export = Export {
                store: &store,
                filter: &filter,
                zone: &zone,
                headers: hs,
                values,
                filter_text: "all",
            };
            let (n, new) = export.write_csv(Vec::new(), |_| {}).expect("export");
            assert_eq!(n, all.len() as u64);
            assert!(
                old == new,
                "the streamed CSV differs ({values:?}, hidden {include_hidden}):\n{}",
                first_difference(&old, &new)
            );
        }
    }
}

fn first_difference(a: &[u8], b: &[u8]) -> String {
    let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    a.lines()
        .zip(b.lines())
        .find(|(x, y)| x != y)
        .map(|(x, y)| format!("  {x}\n  {y}"))
        .unwrap_or_else(|| "lengths differ".into())
}
