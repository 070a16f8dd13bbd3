//! A state-machine property test of the money rules: random sequences of sales, voids,
//! refunds, pre-auths, completions, pre-auth voids, reversals, settlements and the passing of
//! time on two terminals of one merchant, applied to an in-memory ledger only through the
//! core's `decide_*` functions. After every step the ledger's invariants are checked
//! (STYLE.md: "a sale voided twice, refunds above the original, a batch total that does not
//! match its transactions").

use jiff::{Timestamp, ToSpan};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use suanpan_core::rules::{
    RefundRequest, ReversalDecision, VoidRequest, decide_completion, decide_preauth_void,
    decide_refund, decide_reversal, decide_void,
};
use suanpan_core::settlement::{self, AsBatchLine, Reconciliation, Settlement, Totals};
use suanpan_core::{
    Amount, BatchNo, Currency, MerchantId, OperatorNo, PaymentMethod, Policy, ResponseCode,
    TerminalId, Transaction, TxnId, TxnKind, TxnStatus, VoucherNo,
};

/// The core's checked `settle`, for batches whose sums fit (every batch here).
fn settle<T: AsBatchLine>(txns: &[T], theirs: Option<Totals>) -> Settlement {
    settlement::settle(txns, theirs).unwrap_or_else(|e| panic!("{e}"))
}

/// The core's checked `batch_totals`, for batches whose sums fit (every batch here).
fn batch_totals<T: AsBatchLine>(txns: &[T]) -> Totals {
    settlement::batch_totals(txns).unwrap_or_else(|e| panic!("{e}"))
}

/// Terminals of the one merchant in the model.
const TERMINALS: usize = 2;

/// One step a terminal, the back-office or time can take. `pick` chooses an earlier
/// transaction (modulo the ledger's length), so any kind and status can be the target.
#[derive(Debug, Clone)]
enum Op {
    Sale {
        term: usize,
        fen: i64,
        method: usize,
        declined: bool,
        training: bool,
    },
    Void {
        term: usize,
        pick: usize,
        via_review: bool,
        wrong_amount: bool,
        flip_training: bool,
    },
    Refund {
        term: usize,
        pick: usize,
        fen: i64,
        whole_rest: bool,
        back_office: bool,
        reviewed: bool,
    },
    Settle {
        term: usize,
    },
    PreAuth {
        term: usize,
        fen: i64,
    },
    Completion {
        term: usize,
        pick: usize,
        percent: i64,
        plus_one: bool,
    },
    PreAuthVoid {
        term: usize,
        pick: usize,
        send_amount: bool,
    },
    Reversal {
        pick: Option<usize>,
    },
    Advance {
        hours: i64,
    },
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let term = 0..TERMINALS;
    let pick = any::<usize>();
    let amount = 1i64..=1_000_000;
    prop_oneof![
        4 => (term.clone(), amount.clone(), 0..PaymentMethod::ALL.len(), prop::bool::weighted(0.1),
              prop::bool::weighted(0.1))
            .prop_map(|(term, fen, method, declined, training)| Op::Sale {
                term, fen, method, declined, training
            }),
        3 => (term.clone(), pick, prop::bool::weighted(0.2), prop::bool::weighted(0.1),
              prop::bool::weighted(0.05))
            .prop_map(|(term, pick, via_review, wrong_amount, flip_training)| Op::Void {
                term, pick, via_review, wrong_amount, flip_training
            }),
        3 => (term.clone(), pick, amount.clone(), any::<bool>(), prop::bool::weighted(0.3), any::<bool>())
            .prop_map(|(term, pick, fen, whole_rest, back_office, reviewed)| Op::Refund {
                term, pick, fen, whole_rest, back_office, reviewed
            }),
        1 => term.clone().prop_map(|term| Op::Settle { term }),
        2 => (term.clone(), amount).prop_map(|(term, fen)| Op::PreAuth { term, fen }),
        2 => (term.clone(), pick, 1i64..=120, prop::bool::weighted(0.2))
            .prop_map(|(term, pick, percent, plus_one)| Op::Completion { term, pick, percent, plus_one }),
        1 => (term, pick, any::<bool>())
            .prop_map(|(term, pick, send_amount)| Op::PreAuthVoid { term, pick, send_amount }),
        2 => prop::option::weighted(0.9, pick).prop_map(|pick| Op::Reversal { pick }),
        1 => (1i64..=24 * 120).prop_map(|hours| Op::Advance { hours }),
    ]
}

/// The in-memory ledger: the journal plus each terminal's open batch.
struct Ledger {
    txns: Vec<Transaction>,
    terminals: [TerminalId; TERMINALS],
    open: [BatchNo; TERMINALS],
    merchant: MerchantId,
    policy: Policy,
    now: Timestamp,
    voucher: VoucherNo,
    /// Totals of every settled batch as they were at settlement: a settled batch never changes.
    settled_batches: Vec<(usize, BatchNo, Totals)>,
}

const CASHIER: &str = "01";
const REASON: &str = "顾客要求";

impl Ledger {
    fn new() -> Ledger {
        Ledger {
            txns: Vec::new(),
            terminals: [
                TerminalId::parse("T0000001").unwrap(),
                TerminalId::parse("T0000002").unwrap(),
            ],
            open: [BatchNo::FIRST, BatchNo::new(500).unwrap()],
            merchant: MerchantId::parse("898310048990001").unwrap(),
            policy: Policy::default(),
            now: "2026-11-25T02:00:00Z".parse().unwrap(),
            voucher: VoucherNo::FIRST,
            settled_batches: Vec::new(),
        }
    }

    fn index_of(id: TxnId) -> usize {
        usize::try_from(id.0 - 1).unwrap()
    }

    fn pick(&self, pick: usize) -> Option<usize> {
        (!self.txns.is_empty()).then(|| pick % self.txns.len())
    }

    /// Three times in four a transaction of the kinds the operation is meant for (so approvals
    /// happen), otherwise any transaction (so wrong kinds are refused).
    fn pick_kind(&self, pick: usize, kinds: &[TxnKind]) -> Option<usize> {
        let fitting: Vec<usize> = (0..self.txns.len())
            .filter(|i| kinds.contains(&self.txns[*i].kind))
            .collect();
        if pick.is_multiple_of(4) || fitting.is_empty() {
            self.pick(pick / 4)
        } else {
            Some(fitting[(pick / 4) % fitting.len()])
        }
    }

    /// Books a new transaction on `term`'s open batch and returns its index.
    fn push(
        &mut self,
        term: usize,
        kind: TxnKind,
        status: TxnStatus,
        fen: i64,
        method: PaymentMethod,
    ) -> usize {
        let index = self.txns.len();
        let card = !method.is_qr();
        self.txns.push(Transaction {
            id: TxnId(i64::try_from(index).unwrap() + 1),
            kind,
            status,
            amount: Amount::from_fen(fen),
            currency: Currency::Cny,
            method,
            masked_pan: None,
            card_fingerprint: card.then(|| format!("fp{}", index % 3)),
            wallet_id: (!card).then(|| "wallet-1".to_owned()),
            merchant_id: self.merchant.clone(),
            terminal_id: self.terminals[term].clone(),
            operator: OperatorNo::parse(CASHIER).unwrap(),
            supervisor: kind.needs_supervisor().then_some(OperatorNo::SUPERVISOR),
            batch_no: self.open[term],
            voucher_no: self.voucher,
            rrn: None,
            auth_code: None,
            response_code: if status == TxnStatus::Declined {
                ResponseCode::DoNotHonour
            } else {
                ResponseCode::Approved
            },
            original_id: None,
            reason: None,
            customer_consent: false,
            refunded: Amount::ZERO,
            completed: Amount::ZERO,
            created_at: self.now,
            settled: false,
            hidden: false,
            training: false,
            linked_id: None,
        });
        self.voucher = self.voucher.next();
        index
    }

    /// Books a transaction acting on `original` (void, refund, completion…).
    fn push_child(&mut self, term: usize, kind: TxnKind, fen: i64, original: usize) -> usize {
        let method = self.txns[original].method;
        let i = self.push(term, kind, TxnStatus::Approved, fen, method);
        let parent = &self.txns[original];
        let (id, training, fp) = (parent.id, parent.training, parent.card_fingerprint.clone());
        let child = &mut self.txns[i];
        child.original_id = Some(id);
        child.training = training;
        child.card_fingerprint = fp;
        child.reason = Some(REASON.to_owned());
        i
    }

    fn term_of(&self, t: &Transaction) -> usize {
        self.terminals
            .iter()
            .position(|x| *x == t.terminal_id)
            .unwrap()
    }

    /// Approved voids this operator did on the current business day.
    fn voids_today(&self) -> u32 {
        let today = self.policy.business_day(self.now);
        let n = self
            .txns
            .iter()
            .filter(|t| matches!(t.kind, TxnKind::Void | TxnKind::CompletionVoid))
            .filter(|t| t.status == TxnStatus::Approved)
            .filter(|t| self.policy.business_day(t.created_at) == today)
            .count();
        u32::try_from(n).unwrap()
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        self.now = self.now.checked_add(1.minute()).unwrap();
        match *op {
            Op::Sale {
                term,
                fen,
                method,
                declined,
                training,
            } => {
                let status = if declined {
                    TxnStatus::Declined
                } else {
                    TxnStatus::Approved
                };
                let i = self.push(term, TxnKind::Sale, status, fen, PaymentMethod::ALL[method]);
                self.txns[i].training = training;
            }
            Op::PreAuth { term, fen } => {
                self.push(
                    term,
                    TxnKind::PreAuth,
                    TxnStatus::Approved,
                    fen,
                    PaymentMethod::Chip,
                );
            }
            Op::Void {
                term,
                pick,
                via_review,
                wrong_amount,
                flip_training,
            } => {
                let Some(o) = self.pick_kind(pick, &[TxnKind::Sale, TxnKind::Completion]) else {
                    return Ok(());
                };
                self.void(term, o, via_review, wrong_amount, flip_training)?;
            }
            Op::Refund {
                term,
                pick,
                fen,
                whole_rest,
                back_office,
                reviewed,
            } => {
                let Some(o) = self.pick_kind(pick, &[TxnKind::Sale, TxnKind::Completion]) else {
                    return Ok(());
                };
                self.refund(term, o, fen, whole_rest, back_office, reviewed)?;
            }
            Op::Completion {
                term,
                pick,
                percent,
                plus_one,
            } => {
                let Some(o) = self.pick_kind(pick, &[TxnKind::PreAuth]) else {
                    return Ok(());
                };
                self.completion(term, o, percent, plus_one)?;
            }
            Op::PreAuthVoid {
                term,
                pick,
                send_amount,
            } => {
                let Some(o) = self.pick_kind(pick, &[TxnKind::PreAuth]) else {
                    return Ok(());
                };
                let p = &self.txns[o];
                let amount = send_amount.then_some(p.amount);
                let decision =
                    decide_preauth_void(p, &self.merchant, amount, REASON, &self.policy, self.now);
                if let Ok(amount) = decision {
                    prop_assert_eq!(p.kind, TxnKind::PreAuth);
                    prop_assert_eq!(amount, p.amount, "a pre-auth void releases the full hold");
                    self.txns[o].status = TxnStatus::Voided;
                    self.push_child(term, TxnKind::PreAuthVoid, amount.fen(), o);
                }
            }
            Op::Reversal { pick } => {
                let target = pick.and_then(|p| self.pick(p));
                self.reversal(target)?;
            }
            Op::Settle { term } => self.settle(term)?,
            Op::Advance { hours } => self.now = self.now.checked_add(hours.hours()).unwrap(),
        }
        Ok(())
    }

    fn void(
        &mut self,
        term: usize,
        o: usize,
        via_review: bool,
        wrong_amount: bool,
        flip_training: bool,
    ) -> Result<(), TestCaseError> {
        let original = &self.txns[o];
        let expected = if original.kind == TxnKind::Completion {
            TxnKind::Completion
        } else {
            TxnKind::Sale
        };
        let sent = if wrong_amount {
            original.amount.fen() + 1
        } else {
            original.amount.fen()
        };
        let req = VoidRequest {
            terminal_id: &self.terminals[term],
            open_batch: self.open[term],
            amount: Some(Amount::from_fen(sent)),
            reason: REASON,
            customer_consent: true,
            card_fingerprint: original.card_fingerprint.as_deref(),
            voids_today_by_operator: self.voids_today(),
            via_review,
            training: original.training ^ flip_training,
        };
        let Ok(amount) = decide_void(original, expected, &req, &self.policy, self.now) else {
            return Ok(());
        };
        prop_assert!(
            !wrong_amount && !flip_training,
            "void approved with a wrong amount or mode"
        );
        prop_assert!(!original.settled, "void approved on a settled original");
        prop_assert_eq!(
            original.status,
            TxnStatus::Approved,
            "void of a non-approved original"
        );
        prop_assert_eq!(
            original.refunded,
            Amount::ZERO,
            "void of a refunded original"
        );
        prop_assert!(
            via_review
                || (original.terminal_id == self.terminals[term]
                    && original.batch_no == self.open[term])
        );
        // The void is booked where the original is: its terminal's batch.
        let home = self.term_of(original);
        let kind = if expected == TxnKind::Completion {
            TxnKind::CompletionVoid
        } else {
            TxnKind::Void
        };
        self.txns[o].status = TxnStatus::Voided;
        let v = self.push_child(home, kind, amount.fen(), o);
        self.txns[v].batch_no = self.txns[o].batch_no;
        self.txns[v].customer_consent = true;
        Ok(())
    }

    fn refund(
        &mut self,
        term: usize,
        o: usize,
        fen: i64,
        whole_rest: bool,
        back_office: bool,
        reviewed: bool,
    ) -> Result<(), TestCaseError> {
        let original = &self.txns[o];
        let rest = original.refundable();
        let amount = if whole_rest && rest.is_positive() {
            rest
        } else {
            Amount::from_fen(fen)
        };
        let req = RefundRequest {
            merchant_id: &self.merchant,
            amount,
            reason: REASON,
            back_office,
            reviewed,
            training: original.training,
        };
        let decision = decide_refund(original, &req, &self.policy, self.now);
        // Oracle: an open original inside the window refuses exactly the amounts above what remains.
        let open = original.kind.is_debit()
            && matches!(
                original.status,
                TxnStatus::Approved | TxnStatus::PartiallyRefunded
            );
        let in_window = self.now <= original.created_at.checked_add((365 * 24).hours()).unwrap();
        let needs_review =
            back_office && !reviewed && amount > self.policy.refund_review_threshold();
        if open && in_window && !needs_review {
            prop_assert_eq!(
                decision.is_ok(),
                amount <= rest,
                "refund of {:?} with {:?} left: {:?}",
                amount,
                rest,
                decision
            );
        }
        let Ok(d) = decision else { return Ok(()) };
        prop_assert!(original.kind.is_debit());
        prop_assert_eq!(d.amount, amount);
        prop_assert_eq!(
            d.refunded_after.fen(),
            original.refunded.fen() + amount.fen()
        );
        self.txns[o].refunded = d.refunded_after;
        self.txns[o].status = d.original_status;
        self.push_child(term, TxnKind::Refund, d.amount.fen(), o);
        Ok(())
    }

    fn completion(
        &mut self,
        term: usize,
        o: usize,
        percent: i64,
        plus_one: bool,
    ) -> Result<(), TestCaseError> {
        let p = &self.txns[o];
        let fen = (p.amount.fen() * percent / 100 + i64::from(plus_one)).max(1);
        let decision = decide_completion(
            p,
            &self.merchant,
            Amount::from_fen(fen),
            &self.policy,
            self.now,
        );
        let live = p.kind == TxnKind::PreAuth
            && p.status == TxnStatus::Approved
            && self.now <= self.policy.hold_expires_at(p.created_at);
        if live {
            // Oracle: up to 115% of the hold (rounded down to the fen), never above.
            prop_assert_eq!(
                decision.is_ok(),
                fen * 100 <= p.amount.fen() * 115,
                "completion {} of {:?}",
                fen,
                p.amount
            );
        }
        let Ok(amount) = decision else { return Ok(()) };
        prop_assert!(live, "completion approved on {:?}", p);
        prop_assert_eq!(amount.fen(), fen);
        self.txns[o].status = TxnStatus::Completed;
        self.txns[o].completed = amount;
        self.push_child(term, TxnKind::Completion, fen, o);
        Ok(())
    }

    fn reversal(&mut self, target: Option<usize>) -> Result<(), TestCaseError> {
        let decision = decide_reversal(target.map(|i| &self.txns[i]));
        let Some(i) = target else {
            prop_assert_eq!(decision, Ok(ReversalDecision::NeverArrived));
            return Ok(());
        };
        let t = &self.txns[i];
        match decision {
            Ok(ReversalDecision::NeverArrived) => {
                prop_assert!(false, "a found transaction was taken as never arrived");
            }
            Ok(ReversalDecision::AlreadyDone) => {
                prop_assert!(matches!(
                    t.status,
                    TxnStatus::Reversed | TxnStatus::Declined
                ));
            }
            Ok(ReversalDecision::Reverse) => {
                prop_assert!(!t.settled, "reversal of a settled transaction");
                prop_assert!(matches!(t.status, TxnStatus::Approved | TxnStatus::Expired));
                self.txns[i].status = TxnStatus::Reversed;
                self.undo_effect_on_original(i)?;
            }
            Err(_) => {}
        }
        Ok(())
    }

    /// A reversed void or completion gives the original back its previous status.
    fn undo_effect_on_original(&mut self, i: usize) -> Result<(), TestCaseError> {
        let kind = self.txns[i].kind;
        let Some(original_id) = self.txns[i].original_id else {
            return Ok(());
        };
        let o = Ledger::index_of(original_id);
        match kind {
            TxnKind::Void | TxnKind::CompletionVoid | TxnKind::PreAuthVoid => {
                prop_assert_eq!(self.txns[o].status, TxnStatus::Voided);
                self.txns[o].status = TxnStatus::Approved;
            }
            TxnKind::Completion => {
                prop_assert_eq!(self.txns[o].status, TxnStatus::Completed);
                self.txns[o].status = TxnStatus::Approved;
                self.txns[o].completed = Amount::ZERO;
            }
            _ => {}
        }
        Ok(())
    }

    fn batch(&self, term: usize, batch: BatchNo) -> Vec<Transaction> {
        self.txns
            .iter()
            .filter(|t| t.terminal_id == self.terminals[term] && t.batch_no == batch)
            .cloned()
            .collect()
    }

    fn settle(&mut self, term: usize) -> Result<(), TestCaseError> {
        let batch = self.open[term];
        let txns = self.batch(term, batch);
        let mine = expected_totals(&txns);
        let s = settle(&txns, Some(mine));
        prop_assert_eq!(
            s.reconciliation,
            Reconciliation::Balanced,
            "{:?}",
            s.differences
        );
        prop_assert_eq!(s.totals, mine);
        let (debit, credit) = s.by_method.iter().fold((0, 0), |(d, c), m| {
            (d + m.totals.debit_fen, c + m.totals.credit_fen)
        });
        prop_assert_eq!(
            (debit, credit),
            (mine.debit_fen, mine.credit_fen),
            "per-method sums"
        );
        for t in self.txns.iter_mut() {
            if t.terminal_id == self.terminals[term] && t.batch_no == batch && !t.training {
                t.settled = true;
            }
        }
        self.settled_batches.push((term, batch, mine));
        self.open[term] = batch.next();
        Ok(())
    }

    fn check(&self) -> Result<(), TestCaseError> {
        for t in &self.txns {
            self.check_children(t)?;
        }
        for term in 0..TERMINALS {
            let mut batches: Vec<BatchNo> = self
                .txns
                .iter()
                .filter(|t| t.terminal_id == self.terminals[term])
                .map(|t| t.batch_no)
                .collect();
            batches.sort();
            batches.dedup();
            for b in batches {
                let txns = self.batch(term, b);
                prop_assert_eq!(
                    batch_totals(&txns),
                    expected_totals(&txns),
                    "terminal {} batch {}",
                    term,
                    b
                );
            }
        }
        for (term, batch, frozen) in &self.settled_batches {
            prop_assert_eq!(
                batch_totals(&self.batch(*term, *batch)),
                *frozen,
                "settled batch {} changed",
                batch
            );
        }
        Ok(())
    }

    /// The invariants of one original against the transactions that act on it.
    fn check_children(&self, o: &Transaction) -> Result<(), TestCaseError> {
        let children: Vec<&Transaction> = self
            .txns
            .iter()
            .filter(|c| c.original_id == Some(o.id))
            .collect();
        let voids: Vec<_> = children
            .iter()
            .copied()
            .filter(|c| {
                matches!(
                    c.kind,
                    TxnKind::Void | TxnKind::CompletionVoid | TxnKind::PreAuthVoid
                )
            })
            .collect();
        for v in &voids {
            prop_assert_eq!(v.amount, o.amount, "void amount = original amount");
            let want = match o.kind {
                TxnKind::Sale => TxnKind::Void,
                TxnKind::Completion => TxnKind::CompletionVoid,
                _ => TxnKind::PreAuthVoid,
            };
            prop_assert_eq!(v.kind, want);
        }
        let approved_voids = voids
            .iter()
            .filter(|c| c.status == TxnStatus::Approved)
            .count();
        prop_assert!(
            approved_voids <= 1,
            "{} approved voids of {:?}",
            approved_voids,
            o.id
        );
        prop_assert_eq!(
            approved_voids == 1,
            o.status == TxnStatus::Voided,
            "status of {:?}",
            o
        );

        let refunds: Vec<&Transaction> = children
            .iter()
            .copied()
            .filter(|c| c.kind == TxnKind::Refund)
            .collect();
        let refunded: i64 = refunds
            .iter()
            .filter(|c| c.status == TxnStatus::Approved)
            .map(|r| r.amount.fen())
            .sum();
        prop_assert!(refunds.iter().all(|r| r.amount.is_positive()));
        prop_assert_eq!(
            refunded,
            o.refunded.fen(),
            "Σ refunds = original.refunded for {:?}",
            o.id
        );
        prop_assert!(
            refunded <= o.amount.fen(),
            "Σ refunds ≤ original for {:?}",
            o.id
        );
        if o.status == TxnStatus::Voided {
            prop_assert_eq!(refunded, 0, "a voided original has refunds");
        }
        if o.kind.is_debit()
            && !matches!(
                o.status,
                TxnStatus::Voided | TxnStatus::Reversed | TxnStatus::Declined
            )
        {
            let want = match refunded {
                0 => TxnStatus::Approved,
                r if r == o.amount.fen() => TxnStatus::Refunded,
                _ => TxnStatus::PartiallyRefunded,
            };
            prop_assert_eq!(o.status, want, "status follows the refunded sum");
            prop_assert_eq!(o.refundable().fen(), o.amount.fen() - refunded);
        }
        if o.kind == TxnKind::PreAuth {
            let captures: Vec<_> = children
                .iter()
                .filter(|c| c.kind == TxnKind::Completion && c.status != TxnStatus::Reversed)
                .collect();
            prop_assert!(captures.len() <= 1, "two completions of one pre-auth");
            prop_assert_eq!(captures.len() == 1, o.status == TxnStatus::Completed);
            for c in captures {
                prop_assert!(
                    c.amount.fen() * 100 <= o.amount.fen() * 115,
                    "completion above 115%"
                );
                prop_assert_eq!(c.amount, o.completed);
            }
        }
        if o.settled {
            prop_assert!(
                !matches!(o.status, TxnStatus::Voided) || self.void_settled_with(o),
                "voided after settlement"
            );
        }
        Ok(())
    }

    /// True when `o`'s approved void sits in the same settled batch (voided before settling).
    fn void_settled_with(&self, o: &Transaction) -> bool {
        self.txns.iter().any(|v| {
            v.original_id == Some(o.id)
                && v.status == TxnStatus::Approved
                && matches!(
                    v.kind,
                    TxnKind::Void | TxnKind::CompletionVoid | TxnKind::PreAuthVoid
                )
                && (v.settled || o.kind == TxnKind::PreAuth)
        })
    }
}

/// Field 48 computed from the model, independently of `counts_in_totals`: approved live sales
/// and completions not voided, reversed or declined are debits; approved live refunds credits.
fn expected_totals(txns: &[Transaction]) -> Totals {
    let mut t = Totals::default();
    for x in txns.iter().filter(|x| !x.training) {
        let undone = matches!(
            x.status,
            TxnStatus::Voided | TxnStatus::Reversed | TxnStatus::Declined
        );
        match x.kind {
            TxnKind::Sale | TxnKind::Completion if !undone => {
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_operations_keep_the_ledger_consistent(ops in prop::collection::vec(op_strategy(), 1..=40)) {
        // Goal: whatever the order of operations, the rules keep every money invariant.
        let mut ledger = Ledger::new();
        for op in &ops {
            ledger.apply(op)?;
            ledger.check()?;
        }
    }
}
