//! Concurrency: many callers through one store's writer, racing voids, and two store
//! instances (as two processes) on one database file.

mod common;

use common::*;
use std::collections::{HashMap, HashSet};
use std::sync::Barrier;
use suanpan_core::{Policy, TxnId, TxnKind, TxnStatus, VoucherNo};
use suanpan_store::command::OriginalRef;
use suanpan_store::{AskExt, Store, TxnReply};

const THREADS: usize = 8;
const SALES_PER_THREAD: usize = 200;

#[test]
fn eight_threads_sell_through_one_writer() {
    // Goal: group commit loses nothing and numbers nothing twice under concurrent callers.
    let h = Harness::new();
    let start = h.balance("approve");
    let barrier = Barrier::new(THREADS);
    let sold: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|i| {
                let (h, barrier) = (&h, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    (0..SALES_PER_THREAD)
                        .map(|n| {
                            approved(h.sale(1 + (i * SALES_PER_THREAD + n) as i64 % 7, "approve"))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|j| j.join().expect("seller thread"))
            .collect()
    });
    let total = THREADS * SALES_PER_THREAD;
    assert_eq!(sold.len(), total);
    let vouchers: HashSet<_> = sold.iter().map(|t| t.voucher_no).collect();
    let rrns: HashSet<_> = sold.iter().map(rrn).collect();
    assert_eq!(
        (vouchers.len(), rrns.len()),
        (total, total),
        "distinct vouchers and RRNs"
    );
    let stored = h.all_txns();
    assert_eq!(stored.len(), total);
    for t in &sold {
        assert_eq!(&h.txn(t.id), t, "answered as stored");
    }
    let spent: i64 = sold.iter().map(|t| t.amount.fen()).sum();
    assert_eq!(h.balance("approve"), start - spent);
}

#[test]
fn racing_voids_approve_exactly_one_per_sale() {
    // Goal: two voids of one sale at the same moment: exactly one is approved, always.
    const SALES: usize = 50;
    const TRIES: usize = 100;
    let policy = Policy {
        void_max_per_operator_per_day: 10_000,
        ..Policy::default()
    };
    let h = Harness::with_policy(policy);
    let sales: Vec<_> = (0..SALES)
        .map(|i| approved(h.sale(100 + i as i64, "approve")))
        .collect();
    let barrier = Barrier::new(2);
    let wins: Vec<Vec<TxnId>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (h, sales, barrier) = (&h, &sales, &barrier);
                s.spawn(move || {
                    let mut won = Vec::new();
                    for sale in sales {
                        barrier.wait();
                        for _ in 0..TRIES {
                            match h.void_as(
                                supervised(),
                                TxnKind::Void,
                                OriginalRef::Voucher(sale.voucher_no),
                            ) {
                                TxnReply::Booked(v) => {
                                    won.push(v.original_id.expect("void names its sale"))
                                }
                                TxnReply::Refused(r) => assert_eq!(r.key(), "void.already_voided"),
                                other => panic!("unexpected {other:?}"),
                            }
                        }
                    }
                    won
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|j| j.join().expect("voider thread"))
            .collect()
    });
    let mut per_sale: HashMap<TxnId, usize> = HashMap::new();
    for id in wins.iter().flatten() {
        *per_sale.entry(*id).or_default() += 1;
    }
    assert_eq!(per_sale.len(), SALES);
    assert!(per_sale.values().all(|&n| n == 1), "{per_sale:?}");
    let voids = h
        .all_txns()
        .into_iter()
        .filter(|t| t.kind == TxnKind::Void && t.status == TxnStatus::Approved)
        .count();
    assert_eq!(voids, SALES);
    assert!(
        sales
            .iter()
            .all(|s| h.txn(s.id).status == TxnStatus::Voided)
    );
}

#[test]
fn two_store_instances_share_one_file() {
    // Goal: two stores on one directory (two processes' worth of connections) both write
    // through SQLite's locking: nothing lost, numbers unique, chain intact.
    const EACH: usize = 200;
    let h = Harness::new();
    let other = h.open_another();
    let start = h.balance("approve");
    let barrier = Barrier::new(2);
    let sold: Vec<_> = std::thread::scope(|s| {
        let stores: [&dyn Store; 2] = [&*h.store, &*other];
        let handles: Vec<_> = stores
            .into_iter()
            .map(|store| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    (0..EACH)
                        .map(|_| {
                            let cmd = suanpan_store::command::Purchase {
                                origin: cashier(),
                                kind: TxnKind::Sale,
                                amount: suanpan_core::Amount::from_fen(3),
                                instrument: card("approve"),
                                method: suanpan_core::PaymentMethod::Chip,
                                pin: None,
                                linked_id: None,
                                confirm_duplicate: false,
                            };
                            approved(store.ask(cmd).expect("no storage failure"))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|j| j.join().expect("seller thread"))
            .collect()
    });
    drop(other);
    assert_eq!(sold.len(), 2 * EACH);
    let vouchers: HashSet<VoucherNo> = sold.iter().map(|t| t.voucher_no).collect();
    let rrns: HashSet<_> = sold.iter().map(rrn).collect();
    assert_eq!((vouchers.len(), rrns.len()), (2 * EACH, 2 * EACH));
    let stored = h.all_txns();
    assert_eq!(stored.len(), 2 * EACH);
    for t in &sold {
        assert_eq!(&h.txn(t.id), t, "answered as stored");
    }
    assert_eq!(h.balance("approve"), start - 3 * (2 * EACH) as i64);
    let v = h.store.verify_audit().unwrap();
    assert_eq!(v.first_broken, None, "{v:?}");
}

#[test]
fn racing_refunds_never_exceed_the_original() {
    // Goal: the payment-switch bug of DESIGN.md: two refunds at the same moment must not
    // together exceed the sale, even from two store instances (two host processes).
    const TRIES: usize = 20;
    let h = Harness::new();
    let other = h.open_another();
    let sale = approved(h.sale(1_000, "approve"));
    let barrier = Barrier::new(2);
    let approved_fen: i64 = std::thread::scope(|s| {
        let stores: [&dyn Store; 2] = [&*h.store, &*other];
        let handles: Vec<_> = stores
            .into_iter()
            .map(|store| {
                let (barrier, sale) = (&barrier, &sale);
                s.spawn(move || {
                    barrier.wait();
                    let mut sum = 0;
                    for _ in 0..TRIES {
                        let cmd = suanpan_store::command::Refund {
                            origin: supervised(),
                            original: OriginalRef::Rrn(rrn(sale)),
                            amount: suanpan_core::Amount::from_fen(100),
                            reason: "goods returned".into(),
                        };
                        match store.ask(cmd).expect("no storage failure") {
                            TxnReply::Booked(t) => sum += t.amount.fen(),
                            TxnReply::Refused(r) => {
                                assert!(
                                    ["refund.fully_refunded", "refund.exceeds_remaining"]
                                        .contains(&r.key()),
                                    "{r:?}"
                                )
                            }
                            other => panic!("unexpected {other:?}"),
                        }
                    }
                    sum
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|j| j.join().expect("refund thread"))
            .sum()
    });
    drop(other);
    assert_eq!(approved_fen, 1_000);
    let s = h.txn(sale.id);
    assert_eq!((s.status, s.refunded.fen()), (TxnStatus::Refunded, 1_000));
}
