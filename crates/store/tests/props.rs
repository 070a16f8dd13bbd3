//! Property test: random sequences of counter commands through the real store never break the
//! money invariants (STYLE.md: "assert the invariants … in tests").

mod common;

use common::*;
use proptest::prelude::*;
use std::collections::HashMap;
use suanpan_core::settlement::Totals;
use suanpan_core::{Amount, PaymentMethod, Transaction, TxnId, TxnKind, TxnStatus};
use suanpan_issuer::demo::{CARDS, WALLETS};
use suanpan_store::command::{Complete, Origin, OriginalRef, PreAuthVoid, Refund, Reverse};
use suanpan_store::reply::{ExpireHolds, SettleAllDue};

/// Who pays: the two approving cards and two wallets (the wallets run dry sometimes: 51).
const PAYERS: usize = 4;

#[derive(Debug, Clone)]
enum Op {
    Sale {
        fen: i64,
        payer: usize,
        training: bool,
    },
    PreAuth {
        fen: i64,
        payer: usize,
        training: bool,
    },
    /// `pick` chooses any earlier transaction (so wrong kinds, states and modes are tried too).
    Void {
        pick: usize,
        training: bool,
    },
    Refund {
        pick: usize,
        percent: i64,
        training: bool,
    },
    Complete {
        pick: usize,
        percent: i64,
        training: bool,
    },
    PreAuthVoid {
        pick: usize,
        training: bool,
    },
    CompletionVoid {
        pick: usize,
        training: bool,
    },
    Reverse {
        pick: usize,
        training: bool,
    },
    Settle,
    /// Time passes; the cutoff job and hold expiry run.
    Advance {
        hours: i64,
    },
}

/// One request in six is a training one.
fn training() -> impl Strategy<Value = bool> {
    prop_oneof![5 => Just(false), 1 => Just(true)]
}

fn op() -> impl Strategy<Value = Op> {
    let pick = any::<usize>();
    prop_oneof![
        6 => (1i64..=20_000, 0..PAYERS, training()).prop_map(|(fen, payer, training)| Op::Sale { fen, payer, training }),
        2 => (1i64..=20_000, 0..PAYERS, training()).prop_map(|(fen, payer, training)| Op::PreAuth { fen, payer, training }),
        3 => (pick, training()).prop_map(|(pick, training)| Op::Void { pick, training }),
        3 => (any::<usize>(), 1i64..=110, training()).prop_map(|(pick, percent, training)| Op::Refund { pick, percent, training }),
        2 => (any::<usize>(), 1i64..=120, training()).prop_map(|(pick, percent, training)| Op::Complete { pick, percent, training }),
        1 => (any::<usize>(), training()).prop_map(|(pick, training)| Op::PreAuthVoid { pick, training }),
        1 => (any::<usize>(), training()).prop_map(|(pick, training)| Op::CompletionVoid { pick, training }),
        2 => (any::<usize>(), training()).prop_map(|(pick, training)| Op::Reverse { pick, training }),
        1 => Just(Op::Settle),
        1 => (1i64..=30).prop_map(|hours| Op::Advance { hours }),
    ]
}

fn origin(training: bool) -> Origin {
    Origin {
        training,
        ..supervised()
    }
}

fn pay(h: &Harness, kind: TxnKind, fen: i64, payer: usize, training: bool) {
    let (instrument, method) = match payer {
        0 => (card("approve"), PaymentMethod::Chip),
        1 => (card("approve_credit"), PaymentMethod::Contactless),
        i => wallet(i - 2),
    };
    h.purchase(
        Origin {
            training,
            ..cashier()
        },
        kind,
        fen,
        instrument,
        method,
        None,
    );
}

/// The transaction `pick` points at, oldest first, if there is any.
fn nth(h: &Harness, pick: usize) -> Option<Transaction> {
    let mut all = h.all_txns();
    all.reverse();
    (!all.is_empty()).then(|| all.swap_remove(pick % all.len()))
}

fn by_rrn(t: &Transaction) -> OriginalRef {
    OriginalRef::Rrn(rrn(t))
}

fn run(h: &Harness, op: &Op) {
    let part =
        |t: &Transaction, percent: i64| Amount::from_fen((t.amount.fen() * percent / 100).max(1));
    match *op {
        Op::Sale {
            fen,
            payer,
            training,
        } => pay(h, TxnKind::Sale, fen, payer, training),
        Op::PreAuth {
            fen,
            payer,
            training,
        } => pay(h, TxnKind::PreAuth, fen, payer, training),
        Op::Void { pick, training } => {
            if let Some(t) = nth(h, pick) {
                h.void_as(
                    origin(training),
                    TxnKind::Void,
                    OriginalRef::Voucher(t.voucher_no),
                );
            }
        }
        Op::Refund {
            pick,
            percent,
            training,
        } => {
            if let Some(t) = nth(h, pick) {
                let reason = "goods returned".to_owned();
                h.exec(Refund {
                    origin: origin(training),
                    original: by_rrn(&t),
                    amount: part(&t, percent),
                    reason,
                });
            }
        }
        Op::Complete {
            pick,
            percent,
            training,
        } => {
            if let Some(t) = nth(h, pick) {
                h.exec(Complete {
                    origin: origin(training),
                    original: by_rrn(&t),
                    amount: part(&t, percent),
                });
            }
        }
        Op::PreAuthVoid { pick, training } => {
            if let Some(t) = nth(h, pick) {
                let reason = "guest left".to_owned();
                h.exec(PreAuthVoid {
                    origin: origin(training),
                    original: by_rrn(&t),
                    amount: None,
                    reason,
                });
            }
        }
        Op::CompletionVoid { pick, training } => {
            if let Some(t) = nth(h, pick) {
                h.void_as(
                    origin(training),
                    TxnKind::CompletionVoid,
                    OriginalRef::Voucher(t.voucher_no),
                );
            }
        }
        Op::Reverse { pick, training } => {
            if let Some(t) = nth(h, pick) {
                h.exec(Reverse {
                    origin: Origin {
                        training,
                        ..cashier()
                    },
                    voucher: t.voucher_no,
                    amount: None,
                    reason: "98".to_owned(),
                });
            }
        }
        Op::Settle => {
            h.settle(None);
        }
        Op::Advance { hours } => {
            h.advance_minutes(hours * 60);
            h.exec(SettleAllDue::FROM_START);
            h.exec(ExpireHolds);
        }
    }
}

/// Totals of a batch computed here, from the listing, without the core's settlement code.
fn independent_totals(txns: &[Transaction]) -> Totals {
    let mut t = Totals::default();
    for x in txns.iter().filter(|x| !x.training) {
        let kept = matches!(
            x.status,
            TxnStatus::Approved | TxnStatus::PartiallyRefunded | TxnStatus::Refunded
        );
        match x.kind {
            TxnKind::Sale | TxnKind::Completion if kept => {
                t.debit_fen += x.amount.fen();
                t.debit_count += 1;
            }
            TxnKind::Refund if x.status == TxnStatus::Approved => {
                t.credit_fen += x.amount.fen();
                t.credit_count += 1;
            }
            _ => {}
        }
    }
    t
}

fn check(h: &Harness) {
    let all = h.all_txns();
    let by_id: HashMap<TxnId, &Transaction> = all.iter().map(|t| (t.id, t)).collect();
    let children = |id: TxnId, kind: TxnKind| {
        all.iter()
            .filter(move |c| c.original_id == Some(id) && c.kind == kind)
    };

    for o in all
        .iter()
        .filter(|t| matches!(t.kind, TxnKind::Sale | TxnKind::Completion))
    {
        let void_kind = if o.kind == TxnKind::Sale {
            TxnKind::Void
        } else {
            TxnKind::CompletionVoid
        };
        let voids: Vec<_> = children(o.id, void_kind).collect();
        let approved_voids = voids
            .iter()
            .filter(|v| v.status == TxnStatus::Approved)
            .count();
        assert!(
            approved_voids <= 1,
            "txn {} has {approved_voids} approved voids",
            o.id
        );
        assert_eq!(
            approved_voids == 1,
            o.status == TxnStatus::Voided,
            "txn {} status {:?} vs its voids",
            o.id,
            o.status
        );
        for v in &voids {
            assert_eq!(
                v.amount, o.amount,
                "void {} amount differs from its original {}",
                v.id, o.id
            );
        }
        let refunds: Vec<_> = children(o.id, TxnKind::Refund)
            .filter(|r| r.status == TxnStatus::Approved)
            .collect();
        let refunded: i64 = refunds.iter().map(|r| r.amount.fen()).sum();
        assert!(
            refunded <= o.amount.fen(),
            "txn {} refunded {refunded} of {}",
            o.id,
            o.amount.fen()
        );
        assert_eq!(
            refunded,
            o.refunded.fen(),
            "txn {}: refunded column vs Σ refunds",
            o.id
        );
        if o.status == TxnStatus::Voided {
            assert!(
                refunds.is_empty(),
                "voided txn {} has approved refunds",
                o.id
            );
        }
        let expected_status = match refunded {
            0 => None,
            r if r == o.amount.fen() => Some(TxnStatus::Refunded),
            _ => Some(TxnStatus::PartiallyRefunded),
        };
        if let Some(s) = expected_status {
            assert_eq!(o.status, s, "txn {} refunded {refunded}", o.id);
        }
    }
    for c in all
        .iter()
        .filter(|t| t.kind == TxnKind::Completion && t.status != TxnStatus::Declined)
    {
        let pre = by_id[&c.original_id.expect("a completion has its pre-auth")];
        assert_eq!(pre.kind, TxnKind::PreAuth);
        assert!(
            c.amount.fen() * 100 <= pre.amount.fen() * 115,
            "completion {} over 115%",
            c.id
        );
    }

    // Every settled batch's stored totals equal its transactions' totals computed here.
    let batches: Vec<(u32, Totals)> = suanpan_store::read(&*h.store, |c| {
        use suanpan_store::sql::SqlExt;
        c.rows(
            "SELECT batch_no, debit_fen, debit_count, credit_fen, credit_count FROM batches WHERE settled_at IS NOT NULL",
            &[],
            |r| Ok((r.u32(0)?, Totals { debit_fen: r.i64(1)?, debit_count: r.u32(2)?, credit_fen: r.i64(3)?, credit_count: r.u32(4)? })),
        )
    })
    .expect("batches");
    for (no, stored) in batches {
        let txns: Vec<Transaction> = all
            .iter()
            .filter(|t| t.batch_no.value() == no)
            .cloned()
            .collect();
        assert!(
            txns.iter().all(|t| t.settled || t.training),
            "batch {no} has unsettled rows"
        );
        assert_eq!(stored, independent_totals(&txns), "batch {no}");
    }

    // Per account: what left it is what the journal says, and what is held is what open
    // pre-authorizations hold.
    let initial: HashMap<String, i64> = CARDS
        .iter()
        .map(|c| (card_account(c.outcome), c.balance_fen))
        .chain(WALLETS.iter().map(|w| (w.id.to_owned(), w.balance_fen)))
        .collect();
    for (id, start) in &initial {
        let mine = all.iter().filter(|t| {
            t.card_fingerprint.as_deref() == Some(id.as_str())
                || t.wallet_id.as_deref() == Some(id.as_str())
        });
        let mut net = 0;
        let mut held = 0;
        for t in mine.filter(|t| !t.training) {
            match (t.kind, t.status) {
                (
                    TxnKind::Sale | TxnKind::Completion,
                    TxnStatus::Approved
                    | TxnStatus::PartiallyRefunded
                    | TxnStatus::Refunded
                    | TxnStatus::Voided,
                ) => net += t.amount.fen(),
                (
                    TxnKind::Refund | TxnKind::Void | TxnKind::CompletionVoid,
                    TxnStatus::Approved,
                ) => net -= t.amount.fen(),
                (TxnKind::PreAuth, TxnStatus::Approved) => held += t.amount.fen(),
                _ => {}
            }
        }
        let a = h.account(id);
        assert_eq!(
            start - a.balance_fen,
            net,
            "account {id}: money moved vs journal"
        );
        assert_eq!(a.held_fen, held, "account {id}: held vs open pre-auths");
    }
    h.check_invariants();
}

proptest! {
    // 64 cases by default (fast in debug); `PROPTEST_CASES=1000` for a deeper run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64),
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_counter_traffic_keeps_the_money_invariants(ops in proptest::collection::vec(op(), 1..=40)) {
        let h = Harness::new();
        for op in &ops {
            run(&h, op);
        }
        check(&h);
    }
}
