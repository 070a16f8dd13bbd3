//! A fixed, repeatable load of 8583-like sales through the store's writer, for counting
//! instructions per sale under `valgrind --tool=callgrind` (issue 15: "inline sale throughput
//! no worse than before"); seconds on a shared machine are too noisy to compare two builds.
//!
//! It books as `serve` under `bench load --terminals 64 --mix sale:100 --register` does:
//! the bench merchant's terminals, each with its own operator and load card, every sale with
//! the terminal's voucher no., batch and an idempotency key and hash; the 64 sales of a round
//! are in flight at once, so they share group commits. The risk rules are off, as in
//! `scripts/bench-e2e.sh` (the commit before issue 13 had none).
//!
//! Run: `cargo run -p suanpan-store --example sale_driver -- ROUNDS` (64 sales a round).

use suanpan_core::{Amount, OperatorNo, Pan, PaymentMethod, TerminalId, TxnKind, VoucherNo};
use suanpan_store::backoffice::Backoffice;
use suanpan_store::command::Origin;
use suanpan_store::command::Purchase;
use suanpan_store::{Fingerprinter, Instrument, OpenOptions, PurchaseReply, SqliteStore};

/// Terminals, operators and cards of the run (one each per terminal).
const TERMINALS: u32 = 64;
/// The terminals' master key (any 32 hex digits: no key is exchanged here).
const TMK_HEX: &str = "0123456789ABCDEFFEDCBA9876543210";

fn main() {
    let rounds: u32 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("ROUNDS is a number"))
        .unwrap_or(10);
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = OpenOptions {
        policy: suanpan_core::Policy {
            risk: suanpan_core::risk::RiskParams::off(),
            ..suanpan_core::Policy::default()
        },
        ..suanpan_service::open_options()
    };
    let store = SqliteStore::create(dir.path(), opts).expect("create");
    let fp = Fingerprinter::new([7; 32]);
    store.seed_demo(&fp).expect("seed");
    // As every CLI command does on open: the payment channels live in the back-office tables.
    store
        .ensure_backoffice_schema()
        .expect("back-office schema");
    let terminals: Vec<TerminalId> = (1..=TERMINALS)
        .map(|i| TerminalId::parse(&format!("B{i:07}")).expect("tid"))
        .collect();
    let operators: Vec<OperatorNo> = (1..=TERMINALS)
        .map(|i| OperatorNo::parse(&format!("{i:02}")).expect("op"))
        .collect();
    let pans: Vec<Pan> = (0..TERMINALS)
        .map(|i| Pan::parse(&suanpan_issuer::demo::load_card_pan(i)).expect("pan"))
        .collect();
    suanpan_store::admin::register_bench(&store, &fp, &terminals, TMK_HEX, &operators, &pans, "-")
        .expect("register");
    // SALE_DRIVER_DROP=a,b drops those indexes first, and SALE_DRIVER_SQL runs its
    // statements: which index costs the pages written.
    let c = rusqlite::Connection::open(dir.path().join("suanpan.db")).expect("open");
    if let Ok(names) = std::env::var("SALE_DRIVER_DROP") {
        for name in names.split(',').filter(|n| !n.is_empty()) {
            c.execute_batch(&format!("DROP INDEX {name}"))
                .expect("drop index");
        }
    }
    if let Ok(sql) = std::env::var("SALE_DRIVER_SQL") {
        c.execute_batch(&sql).expect("SALE_DRIVER_SQL");
    }
    drop(c);
    let batches: Vec<_> = terminals
        .iter()
        .map(|t| store.terminal(t).expect("read").expect("open").batch_no)
        .collect();
    for round in 0..rounds {
        let pending: Vec<_> = (0..TERMINALS as usize)
            .map(|i| {
                let voucher = VoucherNo::new(round + 1).expect("voucher");
                let tid = &terminals[i];
                let origin = Origin {
                    terminal_id: tid.clone(),
                    operator: operators[i],
                    supervisor: None,
                    voucher: Some(voucher),
                    batch: Some(batches[i]),
                    training: false,
                    idempotency: Some((
                        format!("8583:{tid}:{}:{voucher}:0200", batches[i]),
                        format!("{:064x}", u64::from(round) << 8 | i as u64),
                    )),
                    terminal_info: None,
                };
                let cmd = Purchase {
                    origin,
                    kind: TxnKind::Sale,
                    amount: Amount::from_fen(i64::from(round) + 1),
                    instrument: Instrument::Card {
                        masked_pan: pans[i].masked(),
                        fingerprint: fp.of(&pans[i]),
                        expiry: None,
                    },
                    method: PaymentMethod::Chip,
                    pin: None,
                    linked_id: None,
                    confirm_duplicate: false,
                };
                store.submit(cmd).expect("submit")
            })
            .collect();
        for p in pending {
            match p.wait() {
                Ok(PurchaseReply::Booked(t)) => assert!(t.response_code.is_approved(), "{t:?}"),
                other => panic!("sale failed: {other:?}"),
            }
        }
    }
    // SALE_DRIVER_KEEP=1 keeps the store for a look at its schema and rows.
    if std::env::var_os("SALE_DRIVER_KEEP").is_some() {
        println!("{}", dir.keep().display());
    }
}
