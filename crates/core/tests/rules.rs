//! Unit tests of the money rules (DESIGN.md "Money rules") through the crate's public API:
//! every refusal each `decide_*` can give, the approve paths and their boundaries, settlement,
//! and the catalog texts behind every refusal.

use jiff::{Timestamp, ToSpan};
use suanpan_core::refusal::{
    AccessRefused, CompletionRefused, HideRefused, PreAuthVoidRefused, RefundRefused,
    ReversalRefused, SettleRefused, VoidRefused,
};
use suanpan_core::rules::{
    OrphanReversal, RefundDecision, RefundRequest, ReversalDecision, VoidRequest,
    decide_completion, decide_hide, decide_late_original, decide_preauth_void, decide_purge,
    decide_refund, decide_reversal, decide_stand_in, decide_void, refund_released,
};
use suanpan_core::settlement::{self, AsBatchLine, BatchLine, Reconciliation, Settlement, Totals};
use suanpan_core::{
    Amount, AmountError, BatchNo, Currency, Lang, MerchantId, OperatorNo, PanError, PaymentMethod,
    Policy, Refusal, ResponseCode, TerminalId, Transaction, TxnId, TxnKind, TxnStatus, VoucherNo,
};

/// The core's checked `settle`, for batches whose sums fit (every batch here).
fn settle<T: AsBatchLine>(txns: &[T], theirs: Option<Totals>) -> Settlement {
    settlement::settle(txns, theirs).unwrap_or_else(|e| panic!("{e}"))
}

/// The core's checked `batch_totals`, for batches whose sums fit (every batch here).
fn batch_totals<T: AsBatchLine>(txns: &[T]) -> Totals {
    settlement::batch_totals(txns).unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------

const NOW: &str = "2026-11-25T02:00:00Z";
const FP: &str = "a1b2c3d4e5f6";

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

fn fen(v: i64) -> Amount {
    Amount::from_fen(v)
}

fn merchant() -> MerchantId {
    MerchantId::parse("898310048990001").unwrap()
}

fn other_merchant() -> MerchantId {
    MerchantId::parse("898310048990002").unwrap()
}

fn terminal() -> TerminalId {
    TerminalId::parse("T0000001").unwrap()
}

fn other_terminal() -> TerminalId {
    TerminalId::parse("T0000002").unwrap()
}

fn cashier() -> OperatorNo {
    OperatorNo::parse("01").unwrap()
}

/// An approved, unsettled chip sale of `amount_fen` on terminal T0000001, batch 1, booked ten
/// minutes before `now()`, card fingerprint `FP`.
fn sale(amount_fen: i64) -> Transaction {
    Transaction {
        id: TxnId(1),
        kind: TxnKind::Sale,
        status: TxnStatus::Approved,
        amount: fen(amount_fen),
        currency: Currency::Cny,
        method: PaymentMethod::Chip,
        masked_pan: None,
        card_fingerprint: Some(FP.to_owned()),
        wallet_id: None,
        merchant_id: merchant(),
        terminal_id: terminal(),
        operator: cashier(),
        supervisor: None,
        batch_no: BatchNo::FIRST,
        voucher_no: VoucherNo::FIRST,
        rrn: None,
        auth_code: None,
        response_code: ResponseCode::Approved,
        original_id: None,
        reason: None,
        customer_consent: false,
        refunded: Amount::ZERO,
        completed: Amount::ZERO,
        created_at: now().checked_sub(10.minutes()).unwrap(),
        settled: false,
        hidden: false,
        training: false,
        linked_id: None,
    }
}

/// Like [`sale`] but of another kind.
fn txn(kind: TxnKind, amount_fen: i64) -> Transaction {
    Transaction {
        kind,
        ..sale(amount_fen)
    }
}

fn with_status(mut t: Transaction, status: TxnStatus) -> Transaction {
    t.status = status;
    t
}

fn preauth(amount_fen: i64) -> Transaction {
    txn(TxnKind::PreAuth, amount_fen)
}

/// A terminal void request for T0000001's open batch 1 with a reason and consent.
fn void_req(terminal_id: &TerminalId) -> VoidRequest<'_> {
    VoidRequest {
        terminal_id,
        open_batch: BatchNo::FIRST,
        amount: None,
        reason: "顾客退单",
        customer_consent: true,
        card_fingerprint: None,
        voids_today_by_operator: 0,
        via_review: false,
        training: false,
    }
}

fn refund_req(merchant_id: &MerchantId, amount_fen: i64) -> RefundRequest<'_> {
    RefundRequest {
        merchant_id,
        amount: fen(amount_fen),
        reason: "退货",
        back_office: false,
        reviewed: false,
        training: false,
    }
}

/// Both void flavours: the original kind each expects.
const VOID_KINDS: [TxnKind; 2] = [TxnKind::Sale, TxnKind::Completion];

fn void_of(
    expected: TxnKind,
    original: &Transaction,
    req: &VoidRequest<'_>,
) -> Result<Amount, VoidRefused> {
    decide_void(original, expected, req, &Policy::default(), now())
}

// ---------------------------------------------------------------------------------------------
// Void (消费撤销 / 预授权完成撤销)
// ---------------------------------------------------------------------------------------------

#[test]
fn void_approves_the_full_amount_of_an_open_batch_original() {
    // Goal: a clean void of an approved, unsettled original in this terminal's open batch is
    // approved for exactly the original amount, with or without an amount sent.
    let t = terminal();
    for expected in VOID_KINDS {
        let original = txn(expected, 12_345);
        assert_eq!(void_of(expected, &original, &void_req(&t)), Ok(fen(12_345)));
        let req = VoidRequest {
            amount: Some(fen(12_345)),
            ..void_req(&t)
        };
        assert_eq!(void_of(expected, &original, &req), Ok(fen(12_345)));
    }
}

#[test]
fn void_refuses_the_wrong_kind_of_original() {
    // Goal: a sale void only takes a sale and a completion void only a completion.
    let t = terminal();
    for expected in VOID_KINDS {
        for kind in TxnKind::ALL.into_iter().filter(|k| *k != expected) {
            let got = void_of(expected, &txn(kind, 100), &void_req(&t));
            assert_eq!(
                got,
                Err(VoidRefused::WrongKind {
                    kind: kind.as_str().into()
                }),
                "{kind:?}"
            );
        }
    }
}

#[test]
fn void_refuses_statuses_a_sale_or_completion_never_has_as_wrong_kind() {
    // Goal: an original in Completed or Expired (pre-auth statuses) is refused as WrongKind.
    let t = terminal();
    for expected in VOID_KINDS {
        for status in [TxnStatus::Completed, TxnStatus::Expired] {
            let got = void_of(
                expected,
                &with_status(txn(expected, 100), status),
                &void_req(&t),
            );
            assert_eq!(
                got,
                Err(VoidRefused::WrongKind {
                    kind: expected.as_str().into()
                })
            );
        }
    }
}

#[test]
fn void_refuses_mixing_training_and_live() {
    // Goal: training requests cannot void live originals and vice versa.
    let t = terminal();
    for expected in VOID_KINDS {
        let live = txn(expected, 100);
        let req = VoidRequest {
            training: true,
            ..void_req(&t)
        };
        assert_eq!(
            void_of(expected, &live, &req),
            Err(VoidRefused::TrainingMismatch)
        );
        let training = Transaction {
            training: true,
            ..txn(expected, 100)
        };
        assert_eq!(
            void_of(expected, &training, &void_req(&t)),
            Err(VoidRefused::TrainingMismatch)
        );
        assert_eq!(void_of(expected, &training, &req), Ok(fen(100)));
    }
}

#[test]
fn void_refuses_a_declined_original() {
    // Goal: a declined original took no money: NotApproved.
    let t = terminal();
    for expected in VOID_KINDS {
        let original = with_status(txn(expected, 100), TxnStatus::Declined);
        assert_eq!(
            void_of(expected, &original, &void_req(&t)),
            Err(VoidRefused::NotApproved)
        );
    }
}

#[test]
fn void_happens_once() {
    // Goal: a voided original cannot be voided again: AlreadyVoided.
    let t = terminal();
    for expected in VOID_KINDS {
        let original = with_status(txn(expected, 100), TxnStatus::Voided);
        assert_eq!(
            void_of(expected, &original, &void_req(&t)),
            Err(VoidRefused::AlreadyVoided)
        );
    }
}

#[test]
fn void_refuses_a_reversed_original() {
    // Goal: a reversed original already gave the money back: Reversed.
    let t = terminal();
    for expected in VOID_KINDS {
        let original = with_status(txn(expected, 100), TxnStatus::Reversed);
        assert_eq!(
            void_of(expected, &original, &void_req(&t)),
            Err(VoidRefused::Reversed)
        );
    }
}

#[test]
fn void_refuses_a_partly_or_fully_refunded_original() {
    // Goal: once any refund exists the original cannot be voided (DESIGN: "not ... refunded").
    let t = terminal();
    for expected in VOID_KINDS {
        let partly = Transaction {
            status: TxnStatus::PartiallyRefunded,
            refunded: fen(40),
            ..txn(expected, 100)
        };
        assert_eq!(
            void_of(expected, &partly, &void_req(&t)),
            Err(VoidRefused::Refunded)
        );
        let fully = Transaction {
            status: TxnStatus::Refunded,
            refunded: fen(100),
            ..txn(expected, 100)
        };
        assert_eq!(
            void_of(expected, &fully, &void_req(&t)),
            Err(VoidRefused::Refunded)
        );
    }
}

#[test]
fn void_of_a_settled_original_says_use_refund() {
    // Goal: a settled original is refused as Settled with the refund remedy, in both languages.
    let t = terminal();
    for expected in VOID_KINDS {
        let original = Transaction {
            settled: true,
            ..txn(expected, 100)
        };
        let got = void_of(expected, &original, &void_req(&t));
        assert_eq!(got, Err(VoidRefused::Settled));
        // Settled wins over the terminal check even via review: only a refund can help now.
        let review = VoidRequest {
            via_review: true,
            ..void_req(&t)
        };
        assert_eq!(
            void_of(expected, &original, &review),
            Err(VoidRefused::Settled)
        );
    }
    let r = VoidRefused::Settled;
    assert_eq!(
        r.message(Lang::Zh),
        "该交易已结算，不能撤销，请使用退货功能"
    );
    assert_eq!(
        r.message(Lang::En),
        "This sale is settled; use refund instead"
    );
    assert_eq!(r.remedy(Lang::Zh), "请使用退货功能退回款项");
    assert_eq!(r.remedy(Lang::En), "Use refund to return the money");
}

#[test]
fn void_refuses_another_terminal_or_another_batch() {
    // Goal: without review, only the same terminal's current open batch may void.
    let other = other_terminal();
    let t = terminal();
    for expected in VOID_KINDS {
        let original = txn(expected, 100);
        assert_eq!(
            void_of(expected, &original, &void_req(&other)),
            Err(VoidRefused::OtherTerminal)
        );
        let next_batch = VoidRequest {
            open_batch: BatchNo::FIRST.next(),
            ..void_req(&t)
        };
        assert_eq!(
            void_of(expected, &original, &next_batch),
            Err(VoidRefused::OtherTerminal)
        );
    }
}

#[test]
fn void_via_review_may_target_any_terminal_of_the_merchant() {
    // Goal: an approved back-office review lifts the terminal and batch check (DESIGN).
    let other = other_terminal();
    for expected in VOID_KINDS {
        let original = txn(expected, 100);
        let req = VoidRequest {
            via_review: true,
            open_batch: BatchNo::new(7).unwrap(),
            ..void_req(&other)
        };
        assert_eq!(void_of(expected, &original, &req), Ok(fen(100)));
    }
}

#[test]
fn void_refuses_an_amount_other_than_the_original() {
    // Goal: a void is for the full amount; one fen less or more is AmountMismatch.
    let t = terminal();
    for expected in VOID_KINDS {
        let original = txn(expected, 10_000);
        for sent in [9_999, 10_001, 1] {
            let req = VoidRequest {
                amount: Some(fen(sent)),
                ..void_req(&t)
            };
            assert_eq!(
                void_of(expected, &original, &req),
                Err(VoidRefused::AmountMismatch {
                    original: fen(10_000)
                })
            );
        }
    }
    let msg = VoidRefused::AmountMismatch {
        original: fen(10_000),
    }
    .message(Lang::Zh);
    assert_eq!(msg, "撤销金额与原交易金额 ¥100.00 不符");
}

#[test]
fn void_too_old_with_a_max_age() {
    // Goal: with void_max_age_minutes set, a void after that age is TooOld; at the limit it is ok.
    let t = terminal();
    let policy = Policy {
        void_max_age_minutes: Some(30),
        ..Policy::default()
    };
    for expected in VOID_KINDS {
        let original = txn(expected, 100);
        let at_limit = original.created_at.checked_add(30.minutes()).unwrap();
        let past = at_limit.checked_add(1.second()).unwrap();
        assert_eq!(
            decide_void(&original, expected, &void_req(&t), &policy, at_limit),
            Ok(fen(100))
        );
        assert_eq!(
            decide_void(&original, expected, &void_req(&t), &policy, past),
            Err(VoidRefused::TooOld { minutes: 30 })
        );
        // Without the policy value, age alone never refuses.
        let later = original.created_at.checked_add(600.minutes()).unwrap();
        assert_eq!(
            decide_void(
                &original,
                expected,
                &void_req(&t),
                &Policy::default(),
                later
            ),
            Ok(fen(100))
        );
    }
    assert_eq!(
        VoidRefused::TooOld { minutes: 30 }.message(Lang::En),
        "The original is older than 30 minutes and cannot be voided"
    );
}

#[test]
fn void_operator_limit_is_twenty_per_day() {
    // Goal: the 20th void of an operator is allowed, the 21st (20 already done) is refused.
    let t = terminal();
    assert_eq!(Policy::default().void_max_per_operator_per_day, 20);
    for expected in VOID_KINDS {
        let original = txn(expected, 100);
        let nineteen = VoidRequest {
            voids_today_by_operator: 19,
            ..void_req(&t)
        };
        assert_eq!(void_of(expected, &original, &nineteen), Ok(fen(100)));
        let twenty = VoidRequest {
            voids_today_by_operator: 20,
            ..void_req(&t)
        };
        assert_eq!(
            void_of(expected, &original, &twenty),
            Err(VoidRefused::OperatorLimit { limit: 20 })
        );
        // The limit holds for back-office voids too.
        let review = VoidRequest {
            via_review: true,
            ..twenty
        };
        assert_eq!(
            void_of(expected, &original, &review),
            Err(VoidRefused::OperatorLimit { limit: 20 })
        );
    }
    assert_eq!(
        VoidRefused::OperatorLimit { limit: 20 }.message(Lang::Zh),
        "该操作员今日撤销次数已达上限 20 次"
    );
}

#[test]
fn void_needs_a_reason() {
    // Goal: an empty or blank reason is ReasonRequired.
    let t = terminal();
    for expected in VOID_KINDS {
        let original = txn(expected, 100);
        for reason in ["", "   ", "\t\n"] {
            let req = VoidRequest {
                reason,
                ..void_req(&t)
            };
            assert_eq!(
                void_of(expected, &original, &req),
                Err(VoidRefused::ReasonRequired)
            );
        }
    }
}

#[test]
fn void_needs_customer_consent() {
    // Goal: without the customer's consent the void is refused.
    let t = terminal();
    for expected in VOID_KINDS {
        let req = VoidRequest {
            customer_consent: false,
            ..void_req(&t)
        };
        assert_eq!(
            void_of(expected, &txn(expected, 100), &req),
            Err(VoidRefused::ConsentRequired)
        );
    }
}

#[test]
fn void_requires_card_matching_fingerprint() {
    // Goal: with void_requires_card, a missing card is CardRequired, another card CardMismatch,
    // the same card is approved.
    let t = terminal();
    let policy = Policy {
        void_requires_card: true,
        ..Policy::default()
    };
    for expected in VOID_KINDS {
        let original = txn(expected, 100);
        let decide = |req: &VoidRequest<'_>| decide_void(&original, expected, req, &policy, now());
        assert_eq!(decide(&void_req(&t)), Err(VoidRefused::CardRequired));
        let other = VoidRequest {
            card_fingerprint: Some("ffff0000"),
            ..void_req(&t)
        };
        assert_eq!(decide(&other), Err(VoidRefused::CardMismatch));
        let same = VoidRequest {
            card_fingerprint: Some(FP),
            ..void_req(&t)
        };
        assert_eq!(decide(&same), Ok(fen(100)));
        // A QR original has no card: any presented card is a mismatch.
        let qr = Transaction {
            method: PaymentMethod::QrAlipay,
            card_fingerprint: None,
            ..txn(expected, 100)
        };
        assert_eq!(
            decide_void(&qr, expected, &same, &policy, now()),
            Err(VoidRefused::CardMismatch)
        );
        // Without the policy value, a different card does not matter.
        assert_eq!(void_of(expected, &original, &other), Ok(fen(100)));
    }
}

// ---------------------------------------------------------------------------------------------
// Refund (退货)
// ---------------------------------------------------------------------------------------------

fn refund_of(
    original: &Transaction,
    req: &RefundRequest<'_>,
) -> Result<RefundDecision, RefundRefused> {
    decide_refund(original, req, &Policy::default(), now())
}

#[test]
fn refund_partial_then_full() {
    // Goal: a partial refund leaves PartiallyRefunded with the running sum; the rest Refunded.
    let m = merchant();
    for kind in VOID_KINDS {
        let mut original = txn(kind, 10_000);
        let first = refund_of(&original, &refund_req(&m, 3_000)).unwrap();
        assert_eq!(
            first,
            RefundDecision {
                amount: fen(3_000),
                refunded_after: fen(3_000),
                original_status: TxnStatus::PartiallyRefunded,
            }
        );
        original.refunded = first.refunded_after;
        original.status = first.original_status;
        assert_eq!(original.refundable(), fen(7_000));

        let second = refund_of(&original, &refund_req(&m, 2_500)).unwrap();
        assert_eq!(second.refunded_after, fen(5_500));
        assert_eq!(second.original_status, TxnStatus::PartiallyRefunded);
        original.refunded = second.refunded_after;
        original.status = second.original_status;

        let rest = refund_of(&original, &refund_req(&m, 4_500)).unwrap();
        assert_eq!(
            rest,
            RefundDecision {
                amount: fen(4_500),
                refunded_after: fen(10_000),
                original_status: TxnStatus::Refunded,
            }
        );
        original.refunded = rest.refunded_after;
        original.status = rest.original_status;
        assert_eq!(original.refundable(), Amount::ZERO);
        assert_eq!(
            refund_of(&original, &refund_req(&m, 1)),
            Err(RefundRefused::FullyRefunded)
        );
    }
}

#[test]
fn refund_of_everything_at_once_is_refunded() {
    // Goal: one refund of the whole amount goes straight to Refunded.
    let m = merchant();
    let d = refund_of(&sale(500), &refund_req(&m, 500)).unwrap();
    assert_eq!(d.refunded_after, fen(500));
    assert_eq!(d.original_status, TxnStatus::Refunded);
}

#[test]
fn refund_in_a_settled_batch_is_allowed() {
    // Goal: refunds work in any batch, settled included.
    let m = merchant();
    let original = Transaction {
        settled: true,
        batch_no: BatchNo::new(42).unwrap(),
        ..sale(800)
    };
    assert_eq!(
        refund_of(&original, &refund_req(&m, 800))
            .unwrap()
            .original_status,
        TxnStatus::Refunded
    );
}

#[test]
fn refund_refuses_kinds_that_took_no_money() {
    // Goal: only sales and completions can be refunded: every other kind is WrongKind.
    let m = merchant();
    for kind in TxnKind::ALL.into_iter().filter(|k| !VOID_KINDS.contains(k)) {
        assert_eq!(
            refund_of(&txn(kind, 100), &refund_req(&m, 10)),
            Err(RefundRefused::WrongKind {
                kind: kind.as_str().into()
            }),
            "{kind:?}"
        );
    }
}

#[test]
fn refund_refuses_pre_auth_statuses_as_wrong_kind() {
    // Goal: a sale in Completed or Expired (pre-auth statuses) is refused as WrongKind.
    let m = merchant();
    for status in [TxnStatus::Completed, TxnStatus::Expired] {
        assert_eq!(
            refund_of(&with_status(sale(100), status), &refund_req(&m, 10)),
            Err(RefundRefused::WrongKind {
                kind: "sale".into()
            })
        );
    }
}

#[test]
fn refund_refuses_another_merchants_original() {
    // Goal: a merchant cannot refund another merchant's sale.
    let other = other_merchant();
    assert_eq!(
        refund_of(&sale(100), &refund_req(&other, 10)),
        Err(RefundRefused::OtherMerchant)
    );
}

#[test]
fn refund_refuses_mixing_training_and_live() {
    // Goal: training refunds only refund training originals.
    let m = merchant();
    let req = RefundRequest {
        training: true,
        ..refund_req(&m, 10)
    };
    assert_eq!(
        refund_of(&sale(100), &req),
        Err(RefundRefused::TrainingMismatch)
    );
    let training = Transaction {
        training: true,
        ..sale(100)
    };
    assert_eq!(
        refund_of(&training, &refund_req(&m, 10)),
        Err(RefundRefused::TrainingMismatch)
    );
    assert!(refund_of(&training, &req).is_ok());
}

#[test]
fn refund_refuses_declined_voided_and_reversed_originals() {
    // Goal: NotApproved, Voided ("a voided original cannot be refunded") and Reversed.
    let m = merchant();
    let cases = [
        (TxnStatus::Declined, RefundRefused::NotApproved),
        (TxnStatus::Voided, RefundRefused::Voided),
        (TxnStatus::Reversed, RefundRefused::Reversed),
    ];
    for kind in VOID_KINDS {
        for (status, want) in cases.clone() {
            assert_eq!(
                refund_of(&with_status(txn(kind, 100), status), &refund_req(&m, 10)),
                Err(want)
            );
        }
    }
}

#[test]
fn refund_refuses_a_fully_refunded_original() {
    // Goal: nothing left: FullyRefunded.
    let m = merchant();
    let original = Transaction {
        status: TxnStatus::Refunded,
        refunded: fen(100),
        ..sale(100)
    };
    assert_eq!(
        refund_of(&original, &refund_req(&m, 1)),
        Err(RefundRefused::FullyRefunded)
    );
}

#[test]
fn refund_window_is_365_days() {
    // Goal: a refund exactly 365 days after the original is accepted, one second later refused.
    let m = merchant();
    let original = sale(100);
    let policy = Policy::default();
    assert_eq!(policy.refund_window_days, 365);
    let edge = original.created_at.checked_add((365 * 24).hours()).unwrap();
    assert!(decide_refund(&original, &refund_req(&m, 10), &policy, edge).is_ok());
    let late = edge.checked_add(1.second()).unwrap();
    assert_eq!(
        decide_refund(&original, &refund_req(&m, 10), &policy, late),
        Err(RefundRefused::WindowPassed { days: 365 })
    );
    assert_eq!(
        RefundRefused::WindowPassed { days: 365 }.message(Lang::Zh),
        "已超过退货期限（365 天）"
    );
}

#[test]
fn refund_refuses_more_than_remains() {
    // Goal: Σ refunds ≤ original: one fen over the remaining amount is ExceedsRemaining.
    let m = merchant();
    assert_eq!(
        refund_of(&sale(10_000), &refund_req(&m, 10_001)),
        Err(RefundRefused::ExceedsRemaining {
            remaining: fen(10_000)
        })
    );
    let partly = Transaction {
        status: TxnStatus::PartiallyRefunded,
        refunded: fen(6_000),
        ..sale(10_000)
    };
    assert_eq!(
        refund_of(&partly, &refund_req(&m, 4_001)),
        Err(RefundRefused::ExceedsRemaining {
            remaining: fen(4_000)
        })
    );
    assert_eq!(
        refund_of(&partly, &refund_req(&m, 4_000))
            .unwrap()
            .original_status,
        TxnStatus::Refunded
    );
    assert_eq!(
        RefundRefused::ExceedsRemaining {
            remaining: fen(4_000)
        }
        .message(Lang::En),
        "The refund exceeds the refundable ¥40.00"
    );
}

#[test]
fn refund_needs_a_reason() {
    // Goal: an empty or blank reason is ReasonRequired.
    let m = merchant();
    for reason in ["", "  "] {
        let req = RefundRequest {
            reason,
            ..refund_req(&m, 10)
        };
        assert_eq!(
            refund_of(&sale(100), &req),
            Err(RefundRefused::ReasonRequired)
        );
    }
}

#[test]
fn back_office_refunds_above_the_threshold_need_review() {
    // Goal: back-office refunds above ¥5,000 need a second person; at ¥5,000, reviewed, or at
    // the terminal they do not.
    let m = merchant();
    let original = sale(1_000_000);
    let threshold = fen(500_000);
    let over = RefundRequest {
        back_office: true,
        ..refund_req(&m, 500_001)
    };
    assert_eq!(
        refund_of(&original, &over),
        Err(RefundRefused::ReviewRequired { threshold })
    );
    let at = RefundRequest {
        back_office: true,
        ..refund_req(&m, 500_000)
    };
    assert!(refund_of(&original, &at).is_ok());
    let reviewed = RefundRequest {
        reviewed: true,
        ..over.clone()
    };
    assert!(refund_of(&original, &reviewed).is_ok());
    let terminal = RefundRequest {
        back_office: false,
        ..over
    };
    assert!(refund_of(&original, &terminal).is_ok());
    assert_eq!(
        RefundRefused::ReviewRequired { threshold }.message(Lang::Zh),
        "退货金额超过 ¥5,000.00，需要复核"
    );
    assert_eq!(
        RefundRefused::ReviewRequired { threshold }.key(),
        "refund.review_required"
    );
}

#[test]
fn refund_refuses_zero_and_negative_amounts() {
    // Goal: a refund returns a positive amount; zero or negative refunds are refused.
    let m = merchant();
    let original = sale(1_000);
    let negative = refund_of(&original, &refund_req(&m, -500));
    assert!(negative.is_err(), "negative refund approved: {negative:?}");
    let zero = refund_of(&original, &refund_req(&m, 0));
    assert!(zero.is_err(), "zero refund approved: {zero:?}");
}

#[test]
fn refunds_never_return_more_than_the_original() {
    // Goal: whatever sequence of refund requests, the money returned never exceeds the original.
    let m = merchant();
    let mut original = sale(1_000);
    let mut returned = 0;
    for amount in [-500, 1_500] {
        if let Ok(d) = refund_of(&original, &refund_req(&m, amount)) {
            original.refunded = d.refunded_after;
            original.status = d.original_status;
            returned += amount.max(0);
        }
    }
    assert!(
        returned <= 1_000,
        "returned {returned} fen on a 1000 fen sale"
    );
}

// ---------------------------------------------------------------------------------------------
// Completion (预授权完成)
// ---------------------------------------------------------------------------------------------

fn complete(p: &Transaction, amount_fen: i64) -> Result<Amount, CompletionRefused> {
    decide_completion(p, &merchant(), fen(amount_fen), &Policy::default(), now())
}

#[test]
fn completion_up_to_115_percent() {
    // Goal: exactly 115% of the hold is accepted, one fen more is OverLimit; less is fine.
    let p = preauth(10_000);
    assert_eq!(complete(&p, 11_500), Ok(fen(11_500)));
    assert_eq!(
        complete(&p, 11_501),
        Err(CompletionRefused::OverLimit { max: fen(11_500) })
    );
    assert_eq!(complete(&p, 1), Ok(fen(1)));
    assert_eq!(complete(&p, 10_000), Ok(fen(10_000)));
    // 115% of 100.01 is 115.0115: the ceiling rounds down to the fen.
    let odd = preauth(10_001);
    assert_eq!(complete(&odd, 11_501), Ok(fen(11_501)));
    assert_eq!(
        complete(&odd, 11_502),
        Err(CompletionRefused::OverLimit { max: fen(11_501) })
    );
    assert_eq!(
        CompletionRefused::OverLimit { max: fen(11_500) }.message(Lang::En),
        "The completion exceeds the limit ¥115.00"
    );
}

#[test]
fn completion_refuses_what_is_not_a_pre_auth() {
    // Goal: only a pre-authorization can be completed.
    for kind in TxnKind::ALL.into_iter().filter(|k| *k != TxnKind::PreAuth) {
        assert_eq!(
            complete(&txn(kind, 100), 100),
            Err(CompletionRefused::WrongKind {
                kind: kind.as_str().into()
            })
        );
    }
}

#[test]
fn completion_refuses_another_merchants_pre_auth() {
    // Goal: OtherMerchant.
    let got = decide_completion(
        &preauth(100),
        &other_merchant(),
        fen(100),
        &Policy::default(),
        now(),
    );
    assert_eq!(got, Err(CompletionRefused::OtherMerchant));
}

#[test]
fn completion_refuses_by_pre_auth_status() {
    // Goal: declined, completed, voided, reversed and expired holds cannot be completed.
    let cases = [
        (TxnStatus::Declined, CompletionRefused::NotApproved),
        (TxnStatus::Completed, CompletionRefused::AlreadyCompleted),
        (TxnStatus::Voided, CompletionRefused::Voided),
        (TxnStatus::Reversed, CompletionRefused::Reversed),
        (TxnStatus::Expired, CompletionRefused::Expired),
    ];
    for (status, want) in cases {
        assert_eq!(
            complete(&with_status(preauth(100), status), 100),
            Err(want),
            "{status:?}"
        );
    }
}

#[test]
fn completion_after_the_hold_lapsed_is_expired() {
    // Goal: the hold lives 30 days: at 30 days ok, one second later Expired.
    let p = preauth(100);
    let policy = Policy::default();
    let edge = p.created_at.checked_add((30 * 24).hours()).unwrap();
    assert_eq!(
        decide_completion(&p, &merchant(), fen(100), &policy, edge),
        Ok(fen(100))
    );
    let late = edge.checked_add(1.second()).unwrap();
    assert_eq!(
        decide_completion(&p, &merchant(), fen(100), &policy, late),
        Err(CompletionRefused::Expired)
    );
}

// ---------------------------------------------------------------------------------------------
// Pre-auth void (预授权撤销)
// ---------------------------------------------------------------------------------------------

fn preauth_void(
    p: &Transaction,
    amount: Option<i64>,
    reason: &str,
) -> Result<Amount, PreAuthVoidRefused> {
    decide_preauth_void(
        p,
        &merchant(),
        amount.map(fen),
        reason,
        &Policy::default(),
        now(),
    )
}

#[test]
fn preauth_void_releases_the_full_hold() {
    // Goal: an approved hold is voided for its full amount, amount sent or not.
    assert_eq!(
        preauth_void(&preauth(5_000), None, "顾客取消"),
        Ok(fen(5_000))
    );
    assert_eq!(
        preauth_void(&preauth(5_000), Some(5_000), "顾客取消"),
        Ok(fen(5_000))
    );
}

#[test]
fn preauth_void_refuses_what_is_not_a_pre_auth() {
    // Goal: WrongKind for every other kind.
    for kind in TxnKind::ALL.into_iter().filter(|k| *k != TxnKind::PreAuth) {
        assert_eq!(
            preauth_void(&txn(kind, 100), None, "r"),
            Err(PreAuthVoidRefused::WrongKind {
                kind: kind.as_str().into()
            })
        );
    }
}

#[test]
fn preauth_void_refuses_another_merchants_pre_auth() {
    // Goal: OtherMerchant.
    let got = decide_preauth_void(
        &preauth(100),
        &other_merchant(),
        None,
        "r",
        &Policy::default(),
        now(),
    );
    assert_eq!(got, Err(PreAuthVoidRefused::OtherMerchant));
}

#[test]
fn preauth_void_refuses_by_status() {
    // Goal: declined, voided, completed, reversed and expired holds cannot be voided.
    let cases = [
        (TxnStatus::Declined, PreAuthVoidRefused::NotApproved),
        (TxnStatus::Voided, PreAuthVoidRefused::AlreadyVoided),
        (TxnStatus::Completed, PreAuthVoidRefused::Completed),
        (TxnStatus::Reversed, PreAuthVoidRefused::Reversed),
        (TxnStatus::Expired, PreAuthVoidRefused::Expired),
    ];
    for (status, want) in cases {
        assert_eq!(
            preauth_void(&with_status(preauth(100), status), None, "r"),
            Err(want),
            "{status:?}"
        );
    }
}

#[test]
fn preauth_void_after_the_hold_lapsed_is_expired() {
    // Goal: after 30 days the hold is gone: Expired.
    let p = preauth(100);
    let late = p
        .created_at
        .checked_add((30 * 24).hours())
        .unwrap()
        .checked_add(1.second())
        .unwrap();
    assert_eq!(
        decide_preauth_void(&p, &merchant(), None, "r", &Policy::default(), late),
        Err(PreAuthVoidRefused::Expired)
    );
}

#[test]
fn preauth_void_is_for_the_full_amount() {
    // Goal: any other amount is AmountMismatch.
    assert_eq!(
        preauth_void(&preauth(5_000), Some(4_999), "r"),
        Err(PreAuthVoidRefused::AmountMismatch {
            original: fen(5_000)
        })
    );
}

#[test]
fn preauth_void_needs_a_reason() {
    // Goal: empty or blank reason is ReasonRequired.
    assert_eq!(
        preauth_void(&preauth(100), None, " "),
        Err(PreAuthVoidRefused::ReasonRequired)
    );
    assert_eq!(
        preauth_void(&preauth(100), None, ""),
        Err(PreAuthVoidRefused::ReasonRequired)
    );
}

// ---------------------------------------------------------------------------------------------
// Reversal (冲正)
// ---------------------------------------------------------------------------------------------

#[test]
fn reversal_of_a_transaction_that_never_arrived_is_remembered() {
    // Goal: nothing to undo: answer approved, change nothing now, and remember the reversal
    // so the request, should it still arrive, is refused (issue 12).
    assert_eq!(decide_reversal(None), Ok(ReversalDecision::NeverArrived));
}

#[test]
fn a_late_request_within_the_orphan_window_is_refused() {
    // Goal: a request whose reversal came first is refused for `orphan_reversal_hours`
    // (whatever its amount), and forgotten after; no record means no refusal.
    let policy = Policy::default();
    let at = Timestamp::from_second(1_800_000_000).expect("ts");
    let orphan = OrphanReversal {
        amount: Some(Amount::from_fen(100)),
        at,
    };
    assert_eq!(decide_late_original(None, &policy, at), Ok(()));
    assert_eq!(
        decide_late_original(Some(&orphan), &policy, at),
        Err(AccessRefused::ReversedFirst)
    );
    let edge = at
        .checked_add(jiff::SignedDuration::from_hours(24))
        .expect("ts");
    assert_eq!(
        decide_late_original(Some(&orphan), &policy, edge),
        Err(AccessRefused::ReversedFirst)
    );
    let past = edge
        .checked_add(jiff::SignedDuration::from_secs(1))
        .expect("ts");
    assert_eq!(decide_late_original(Some(&orphan), &policy, past), Ok(()));
}

#[test]
fn reversal_is_idempotent_on_reversed_and_declined() {
    // Goal: a repeated reversal (or one of a declined transaction) changes nothing.
    for kind in [
        TxnKind::Sale,
        TxnKind::Void,
        TxnKind::PreAuth,
        TxnKind::Completion,
    ] {
        for status in [TxnStatus::Reversed, TxnStatus::Declined] {
            assert_eq!(
                decide_reversal(Some(&with_status(txn(kind, 100), status))),
                Ok(ReversalDecision::AlreadyDone)
            );
        }
    }
}

#[test]
fn reversal_reverses_approved_reversible_kinds() {
    // Goal: every reversible kind in Approved (and a lapsed pre-auth) is reversed.
    for kind in TxnKind::ALL.into_iter().filter(|k| k.is_reversible()) {
        assert_eq!(
            decide_reversal(Some(&txn(kind, 100))),
            Ok(ReversalDecision::Reverse),
            "{kind:?}"
        );
    }
    let expired = with_status(preauth(100), TxnStatus::Expired);
    assert_eq!(
        decide_reversal(Some(&expired)),
        Ok(ReversalDecision::Reverse)
    );
}

#[test]
fn reversal_refuses_kinds_that_are_not_reversible() {
    // Goal: refunds, balance inquiries and reversals are not reversible.
    for kind in [TxnKind::Refund, TxnKind::BalanceInquiry, TxnKind::Reversal] {
        assert_eq!(
            decide_reversal(Some(&txn(kind, 100))),
            Err(ReversalRefused::NotReversible {
                kind: kind.as_str().into()
            })
        );
    }
}

#[test]
fn reversal_of_a_refund_that_got_no_answer_upstream_is_already_done() {
    // Goal: a refund through the network upstream that got no answer (reversal pending, its
    // 0420 queued) or was declined is not refused as a kind the terminal cannot reverse:
    // the terminal reverses what it was answered 98 for, and finds nothing to undo.
    for status in [TxnStatus::ReversalPending, TxnStatus::Declined] {
        assert_eq!(
            decide_reversal(Some(&with_status(txn(TxnKind::Refund, 100), status))),
            Ok(ReversalDecision::AlreadyDone),
            "{status:?}"
        );
    }
}

#[test]
fn a_refund_that_did_not_happen_gives_its_reservation_back() {
    // Goal: the amount a refund through the upstream reserved on its sale comes back when
    // the refund is declined or reversed: partially refunded keeps the others' sum, and a
    // sale with nothing refunded left is approved again.
    let partly = Transaction {
        refunded: fen(700),
        ..with_status(sale(1_000), TxnStatus::PartiallyRefunded)
    };
    assert_eq!(
        refund_released(&partly, fen(300)),
        (TxnStatus::PartiallyRefunded, fen(400))
    );
    let whole = Transaction {
        refunded: fen(1_000),
        ..with_status(sale(1_000), TxnStatus::Refunded)
    };
    assert_eq!(
        refund_released(&whole, fen(1_000)),
        (TxnStatus::Approved, fen(0))
    );
    // Never below zero.
    assert_eq!(
        refund_released(&partly, fen(5_000)),
        (TxnStatus::Approved, fen(0))
    );
}

#[test]
fn stand_in_only_for_a_sale_under_the_floor_without_an_online_pin() {
    // Goal: off by default (floor 0); at or under the floor a sale is stood in, above it
    // not; never a refund or pre-authorization, never a sale with an online PIN.
    assert!(!decide_stand_in(TxnKind::Sale, fen(100), 0, false));
    assert!(decide_stand_in(TxnKind::Sale, fen(500), 500, false));
    assert!(!decide_stand_in(TxnKind::Sale, fen(501), 500, false));
    assert!(!decide_stand_in(TxnKind::Sale, fen(100), 500, true));
    for kind in [TxnKind::Refund, TxnKind::PreAuth, TxnKind::Completion] {
        assert!(!decide_stand_in(kind, fen(100), 500, false), "{kind:?}");
    }
}

#[test]
fn reversal_refuses_a_settled_transaction() {
    // Goal: a settled transaction cannot be reversed (refund instead).
    let settled = Transaction {
        settled: true,
        ..sale(100)
    };
    assert_eq!(
        decide_reversal(Some(&settled)),
        Err(ReversalRefused::Settled)
    );
}

#[test]
fn reversal_retry_after_settlement_stays_idempotent() {
    // Goal: a reversal that already happened is answered AlreadyDone even once the batch settled.
    let reversed_then_settled = Transaction {
        settled: true,
        ..with_status(sale(100), TxnStatus::Reversed)
    };
    assert_eq!(
        decide_reversal(Some(&reversed_then_settled)),
        Ok(ReversalDecision::AlreadyDone)
    );
}

#[test]
fn reversal_refuses_voided_refunded_and_completed() {
    // Goal: what was voided, refunded or completed since cannot be reversed.
    let voided = with_status(sale(100), TxnStatus::Voided);
    assert_eq!(
        decide_reversal(Some(&voided)),
        Err(ReversalRefused::AlreadyVoided)
    );
    let partly = Transaction {
        status: TxnStatus::PartiallyRefunded,
        refunded: fen(10),
        ..sale(100)
    };
    assert_eq!(
        decide_reversal(Some(&partly)),
        Err(ReversalRefused::Refunded)
    );
    let fully = Transaction {
        status: TxnStatus::Refunded,
        refunded: fen(100),
        ..sale(100)
    };
    assert_eq!(
        decide_reversal(Some(&fully)),
        Err(ReversalRefused::Refunded)
    );
    let completed = with_status(preauth(100), TxnStatus::Completed);
    assert_eq!(
        decide_reversal(Some(&completed)),
        Err(ReversalRefused::Completed)
    );
}

// ---------------------------------------------------------------------------------------------
// Hide and purge (删除交易记录)
// ---------------------------------------------------------------------------------------------

#[test]
fn only_the_admin_hides_records() {
    // Goal: cashiers and the supervisor are NotAdmin; the admin with a reason may hide.
    let t = sale(100);
    for op in ["00", "01", "98"] {
        assert_eq!(
            decide_hide(&t, OperatorNo::parse(op).unwrap(), "dup"),
            Err(HideRefused::NotAdmin)
        );
    }
    assert_eq!(decide_hide(&t, OperatorNo::ADMIN, "重复录入"), Ok(()));
}

#[test]
fn hiding_needs_a_reason() {
    // Goal: empty or blank reason is ReasonRequired.
    assert_eq!(
        decide_hide(&sale(100), OperatorNo::ADMIN, " "),
        Err(HideRefused::ReasonRequired)
    );
}

#[test]
fn hiding_twice_is_refused() {
    // Goal: an already hidden record is AlreadyHidden.
    let hidden = Transaction {
        hidden: true,
        ..sale(100)
    };
    assert_eq!(
        decide_hide(&hidden, OperatorNo::ADMIN, "dup"),
        Err(HideRefused::AlreadyHidden)
    );
}

#[test]
fn only_the_admin_purges() {
    // Goal: purge by a non-admin is NotAdmin even after retention.
    let long_ago: Timestamp = "2010-01-01T00:00:00Z".parse().unwrap();
    assert_eq!(
        decide_purge(OperatorNo::SUPERVISOR, long_ago, &Policy::default(), now()),
        Err(HideRefused::NotAdmin)
    );
    assert_eq!(
        decide_purge(OperatorNo::ADMIN, long_ago, &Policy::default(), now()),
        Ok(())
    );
}

#[test]
fn purge_waits_for_five_years_of_retention() {
    // Goal: within 5 years WithinRetention names the first purge moment; from it purge is ok.
    let policy = Policy::default();
    let created: Timestamp = "2021-11-25T02:00:00Z".parse().unwrap();
    let ends = policy.retention_ends(created);
    let just_before = ends.checked_sub(1.second()).unwrap();
    assert_eq!(
        decide_purge(OperatorNo::ADMIN, created, &policy, just_before),
        Err(HideRefused::WithinRetention {
            until: ends.to_string()
        })
    );
    assert_eq!(
        decide_purge(OperatorNo::ADMIN, created, &policy, ends),
        Ok(())
    );
    // Five calendar years in Shanghai: 2026-11-25 at the same moment.
    assert_eq!(ends, "2026-11-25T02:00:00Z".parse::<Timestamp>().unwrap());
}

// ---------------------------------------------------------------------------------------------
// Settlement (批结算)
// ---------------------------------------------------------------------------------------------

fn paid(kind: TxnKind, amount_fen: i64, method: PaymentMethod) -> Transaction {
    Transaction {
        method,
        ..txn(kind, amount_fen)
    }
}

/// Debit 10000 + 2000 (chip) + 3000 (alipay completion), credit 1500 (chip).
fn plain_batch() -> Vec<Transaction> {
    vec![
        paid(TxnKind::Sale, 10_000, PaymentMethod::Chip),
        paid(TxnKind::Sale, 2_000, PaymentMethod::Chip),
        paid(TxnKind::Completion, 3_000, PaymentMethod::QrAlipay),
        paid(TxnKind::Refund, 1_500, PaymentMethod::Chip),
    ]
}

fn plain_totals() -> Totals {
    Totals {
        debit_fen: 15_000,
        debit_count: 3,
        credit_fen: 1_500,
        credit_count: 1,
    }
}

#[test]
fn settle_without_terminal_totals_is_balanced() {
    // Goal: with no terminal totals the verdict is Balanced and nothing differs.
    let s = settle(&plain_batch(), None);
    assert_eq!(s.totals, plain_totals());
    assert_eq!(s.reconciliation, Reconciliation::Balanced);
    assert_eq!(s.reconciliation.code(), '1');
    assert!(s.differences.is_empty());
}

#[test]
fn settling_the_lines_of_a_batch_is_settling_its_transactions() {
    // Goal: the store settles a batch from its lines (kind, status, method, amount) only;
    // the verdict, totals and per-method breakdown are those of the whole transactions,
    // including what does not count (a voided sale, a declined one, a training sale).
    let mut batch = plain_batch();
    let mut voided = paid(TxnKind::Sale, 700, PaymentMethod::Chip);
    voided.status = TxnStatus::Voided;
    let mut declined = paid(TxnKind::Sale, 900, PaymentMethod::QrAlipay);
    declined.status = TxnStatus::Declined;
    let mut training = paid(TxnKind::Sale, 1_100, PaymentMethod::Chip);
    training.training = true;
    batch.extend([voided, declined, training]);
    let lines: Vec<BatchLine> = batch.iter().map(BatchLine::of).collect();
    let theirs = Some(plain_totals());
    assert_eq!(settle(&lines, theirs), settle(&batch, theirs));
    assert_eq!(settle(&lines, None).totals, plain_totals());
    for (t, l) in batch.iter().zip(&lines) {
        assert_eq!(t.counts_in_totals(), l.counts_in_totals());
    }
}

#[test]
fn totals_past_their_range_are_an_error_not_a_wrapped_sum() {
    // Goal: the batch's sums are checked (money rule: sums are checked). Two debits whose sum
    // leaves i64 make settlement and the totals fail with AmountOverflow, for the whole batch
    // and for the per-method breakdown; before, the sum wrapped to a negative debit total in
    // a release build.
    let mut big = paid(TxnKind::Sale, 100, PaymentMethod::Chip);
    big.amount = Amount::from_fen(i64::MAX / 2 + 1);
    let lines = vec![BatchLine::of(&big), BatchLine::of(&big)];
    assert_eq!(
        settlement::batch_totals(&lines),
        Err(suanpan_core::money::AmountOverflow)
    );
    assert!(settlement::settle(&lines, None).is_err());
    // The same two lines as refunds: the credit side is checked too.
    let mut refund = big.clone();
    refund.kind = TxnKind::Refund;
    let refunds = vec![BatchLine::of(&refund), BatchLine::of(&refund)];
    assert!(settlement::batch_totals(&refunds).is_err());
    // One of them alone fits.
    let one = settlement::batch_totals(&lines[..1]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(one.debit_fen, i64::MAX / 2 + 1);
    assert_eq!(one.debit_count, 1);
}

#[test]
fn settle_with_equal_totals_is_balanced() {
    // Goal: equal totals: Balanced, no differences.
    let s = settle(&plain_batch(), Some(plain_totals()));
    assert_eq!(s.reconciliation, Reconciliation::Balanced);
    assert_eq!(s.reconciliation.as_str(), "balanced");
    assert!(s.differences.is_empty());
    assert_eq!(s.totals.net(), fen(13_500));
}

#[test]
fn settle_of_an_empty_batch_is_zero_and_balanced() {
    // Goal: an empty batch has zero totals and balances against zero.
    let s = settle::<Transaction>(&[], Some(Totals::default()));
    assert_eq!(s.totals, Totals::default());
    assert!(s.by_method.is_empty());
    assert_eq!(s.reconciliation, Reconciliation::Balanced);
}

#[test]
fn settle_names_each_differing_field() {
    // Goal: each of the four field-48 values that differs is named with both sides' values.
    let host = plain_totals();
    let cases: [(&str, Totals, i64, i64); 4] = [
        (
            "debit_count",
            Totals {
                debit_count: 4,
                ..host
            },
            3,
            4,
        ),
        (
            "debit_amount",
            Totals {
                debit_fen: 15_001,
                ..host
            },
            15_000,
            15_001,
        ),
        (
            "credit_count",
            Totals {
                credit_count: 0,
                ..host
            },
            1,
            0,
        ),
        (
            "credit_amount",
            Totals {
                credit_fen: 1_000,
                ..host
            },
            1_500,
            1_000,
        ),
    ];
    for (field, theirs, h, t) in cases {
        let s = settle(&plain_batch(), Some(theirs));
        assert_eq!(s.reconciliation, Reconciliation::Unbalanced, "{field}");
        assert_eq!(s.reconciliation.code(), '2');
        assert_eq!(s.differences.len(), 1, "{field}: {:?}", s.differences);
        assert_eq!(s.differences[0].field, field);
        assert_eq!(s.differences[0].host, h);
        assert_eq!(s.differences[0].terminal, t);
    }
    let all_off = settle(&plain_batch(), Some(Totals::default()));
    let fields: Vec<_> = all_off.differences.iter().map(|d| d.field).collect();
    assert_eq!(
        fields,
        [
            "debit_count",
            "debit_amount",
            "credit_count",
            "credit_amount"
        ]
    );
}

#[test]
fn settle_excludes_voided_reversed_declined_and_training() {
    // Goal: only approved live money movement counts; voids themselves, pre-auths and balance
    // inquiries move no settled money.
    let mut txns = plain_batch();
    txns.push(with_status(sale(70_000), TxnStatus::Voided));
    txns.push(paid(TxnKind::Void, 70_000, PaymentMethod::Chip));
    txns.push(with_status(sale(80_000), TxnStatus::Reversed));
    txns.push(with_status(sale(90_000), TxnStatus::Declined));
    txns.push(with_status(
        txn(TxnKind::Completion, 60_000),
        TxnStatus::Voided,
    ));
    txns.push(txn(TxnKind::CompletionVoid, 60_000));
    txns.push(Transaction {
        training: true,
        ..sale(50_000)
    });
    txns.push(Transaction {
        training: true,
        ..txn(TxnKind::Refund, 50_000)
    });
    txns.push(with_status(
        txn(TxnKind::Refund, 40_000),
        TxnStatus::Declined,
    ));
    txns.push(preauth(30_000));
    txns.push(txn(TxnKind::PreAuthVoid, 30_000));
    txns.push(txn(TxnKind::BalanceInquiry, 0));
    txns.push(txn(TxnKind::Reversal, 20_000));
    assert_eq!(batch_totals(&txns), plain_totals());
    assert_eq!(
        settle(&txns, Some(plain_totals())).reconciliation,
        Reconciliation::Balanced
    );
}

#[test]
fn settle_counts_refunds_as_credit_and_keeps_refunded_sales_as_debit() {
    // Goal: a refunded sale still counts as a debit and its refund as a credit.
    let txns = vec![
        Transaction {
            status: TxnStatus::Refunded,
            refunded: fen(1_000),
            ..sale(1_000)
        },
        Transaction {
            status: TxnStatus::PartiallyRefunded,
            refunded: fen(300),
            ..sale(2_000)
        },
        txn(TxnKind::Refund, 1_000),
        txn(TxnKind::Refund, 300),
    ];
    let t = batch_totals(&txns);
    assert_eq!(
        t,
        Totals {
            debit_fen: 3_000,
            debit_count: 2,
            credit_fen: 1_300,
            credit_count: 2
        }
    );
    assert_eq!(t.debit(), fen(3_000));
    assert_eq!(t.credit(), fen(1_300));
    assert_eq!(t.net(), fen(1_700));
}

#[test]
fn settle_breaks_totals_down_per_method() {
    // Goal: one entry per method that occurs, in PaymentMethod::ALL order, summing to the total;
    // a method with only excluded transactions does not appear.
    let mut txns = plain_batch();
    txns.push(paid(TxnKind::Sale, 700, PaymentMethod::Magstripe));
    txns.push(with_status(
        paid(TxnKind::Sale, 900, PaymentMethod::QrWechat),
        TxnStatus::Declined,
    ));
    let s = settle(&txns, None);
    let methods: Vec<_> = s.by_method.iter().map(|m| m.method).collect();
    assert_eq!(
        methods,
        [
            PaymentMethod::Magstripe,
            PaymentMethod::Chip,
            PaymentMethod::QrAlipay
        ]
    );
    let chip = &s.by_method[1].totals;
    assert_eq!(
        *chip,
        Totals {
            debit_fen: 12_000,
            debit_count: 2,
            credit_fen: 1_500,
            credit_count: 1
        }
    );
    let alipay = &s.by_method[2].totals;
    assert_eq!(
        *alipay,
        Totals {
            debit_fen: 3_000,
            debit_count: 1,
            credit_fen: 0,
            credit_count: 0
        }
    );
    let sum = s.by_method.iter().fold(Totals::default(), |a, m| Totals {
        debit_fen: a.debit_fen + m.totals.debit_fen,
        debit_count: a.debit_count + m.totals.debit_count,
        credit_fen: a.credit_fen + m.totals.credit_fen,
        credit_count: a.credit_count + m.totals.credit_count,
    });
    assert_eq!(sum, s.totals);
}

// ---------------------------------------------------------------------------------------------
// Catalog: every refusal says something in both languages
// ---------------------------------------------------------------------------------------------

fn every_refusal() -> Vec<Box<dyn Refusal>> {
    let mut all: Vec<Box<dyn Refusal>> = Vec::new();
    let access = [
        AccessRefused::UnknownTerminal,
        AccessRefused::TerminalDisabled,
        AccessRefused::UnknownMerchant,
        AccessRefused::UnknownOperator,
        AccessRefused::WrongPassword { remaining: 3 },
        AccessRefused::LockedOut {
            until: "2026-11-25T02:15:00Z".into(),
        },
        AccessRefused::SupervisorRequired,
        AccessRefused::SupervisorWrongPassword { remaining: 2 },
        AccessRefused::NotPermitted {
            role: "cashier".into(),
        },
        AccessRefused::WeakPassword,
        AccessRefused::BadCard {
            problem: PanError::Format,
        },
        AccessRefused::BadCard {
            problem: PanError::Luhn,
        },
        AccessRefused::BadAmount {
            problem: AmountError::Empty,
        },
        AccessRefused::BadAmount {
            problem: AmountError::InvalidCharacter,
        },
        AccessRefused::BadAmount {
            problem: AmountError::TooManyDecimals,
        },
        AccessRefused::BadAmount {
            problem: AmountError::Zero,
        },
        AccessRefused::BadAmount {
            problem: AmountError::TooLarge,
        },
        AccessRefused::UnknownInstrument,
        AccessRefused::Duplicate,
        AccessRefused::MethodMismatch,
    ];
    all.extend(access.into_iter().map(|r| Box::new(r) as Box<dyn Refusal>));
    let void = [
        VoidRefused::OriginalNotFound,
        VoidRefused::WrongKind {
            kind: "refund".into(),
        },
        VoidRefused::NotApproved,
        VoidRefused::AlreadyVoided,
        VoidRefused::Reversed,
        VoidRefused::Refunded,
        VoidRefused::Settled,
        VoidRefused::OtherTerminal,
        VoidRefused::AmountMismatch { original: fen(100) },
        VoidRefused::TooOld { minutes: 30 },
        VoidRefused::OperatorLimit { limit: 20 },
        VoidRefused::ReasonRequired,
        VoidRefused::ConsentRequired,
        VoidRefused::CardRequired,
        VoidRefused::CardMismatch,
        VoidRefused::TrainingMismatch,
    ];
    all.extend(void.into_iter().map(|r| Box::new(r) as Box<dyn Refusal>));
    let refund = [
        RefundRefused::OriginalNotFound,
        RefundRefused::WrongKind {
            kind: "preauth".into(),
        },
        RefundRefused::NotApproved,
        RefundRefused::Voided,
        RefundRefused::Reversed,
        RefundRefused::FullyRefunded,
        RefundRefused::WindowPassed { days: 365 },
        RefundRefused::ExceedsRemaining {
            remaining: fen(100),
        },
        RefundRefused::ReasonRequired,
        RefundRefused::OtherMerchant,
        RefundRefused::ReviewRequired {
            threshold: fen(500_000),
        },
        RefundRefused::TrainingMismatch,
        RefundRefused::AmountNotPositive,
    ];
    all.extend(refund.into_iter().map(|r| Box::new(r) as Box<dyn Refusal>));
    let completion = [
        CompletionRefused::OriginalNotFound,
        CompletionRefused::WrongKind {
            kind: "sale".into(),
        },
        CompletionRefused::NotApproved,
        CompletionRefused::AlreadyCompleted,
        CompletionRefused::Voided,
        CompletionRefused::Reversed,
        CompletionRefused::Expired,
        CompletionRefused::OverLimit { max: fen(11_500) },
        CompletionRefused::OtherMerchant,
        CompletionRefused::AmountNotPositive,
    ];
    all.extend(
        completion
            .into_iter()
            .map(|r| Box::new(r) as Box<dyn Refusal>),
    );
    let preauth_void = [
        PreAuthVoidRefused::OriginalNotFound,
        PreAuthVoidRefused::WrongKind {
            kind: "sale".into(),
        },
        PreAuthVoidRefused::NotApproved,
        PreAuthVoidRefused::AlreadyVoided,
        PreAuthVoidRefused::Completed,
        PreAuthVoidRefused::Reversed,
        PreAuthVoidRefused::Expired,
        PreAuthVoidRefused::AmountMismatch { original: fen(100) },
        PreAuthVoidRefused::ReasonRequired,
        PreAuthVoidRefused::OtherMerchant,
    ];
    all.extend(
        preauth_void
            .into_iter()
            .map(|r| Box::new(r) as Box<dyn Refusal>),
    );
    let reversal = [
        ReversalRefused::AlreadyVoided,
        ReversalRefused::Refunded,
        ReversalRefused::Settled,
        ReversalRefused::Completed,
        ReversalRefused::NotReversible {
            kind: "refund".into(),
        },
    ];
    all.extend(
        reversal
            .into_iter()
            .map(|r| Box::new(r) as Box<dyn Refusal>),
    );
    let hide = [
        HideRefused::NotAdmin,
        HideRefused::ReasonRequired,
        HideRefused::AlreadyHidden,
        HideRefused::NotFound,
        HideRefused::WithinRetention {
            until: "2031-11-25T02:00:00Z".into(),
        },
    ];
    all.extend(hide.into_iter().map(|r| Box::new(r) as Box<dyn Refusal>));
    all.push(Box::new(SettleRefused::Untotallable {
        terminal: "T0000001".into(),
        batch_no: "000001".into(),
    }));
    all
}

#[test]
fn every_refusal_has_a_message_and_remedy_in_both_languages() {
    // Goal: no refusal falls back to its raw catalog key, and every {n} placeholder is filled.
    let all = every_refusal();
    assert_eq!(
        all.len(),
        20 + 16 + 13 + 10 + 10 + 5 + 5 + 1,
        "one instance per variant"
    );
    let mut missing = Vec::new();
    for r in &all {
        for lang in [Lang::Zh, Lang::En] {
            for (what, text) in [("message", r.message(lang)), ("remedy", r.remedy(lang))] {
                let raw =
                    text.ends_with(".msg") || text.ends_with(".fix") || text.starts_with(r.key());
                if raw || text.trim().is_empty() || text.contains("{0}") || text.contains("{1}") {
                    missing.push(format!("{r:?} {lang:?} {what}: {text:?}"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "missing or raw catalog texts:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_refusal_key_is_unique_within_its_enum() {
    // Goal: each variant has its own stable key (the JSON `code`, what the host's table maps
    // to an 8583 code and web's to an HTTP status).
    let all = every_refusal();
    let mut keys: Vec<&str> = all.iter().map(|r| r.key()).collect();
    keys.sort();
    let before = keys.len();
    keys.dedup();
    // BadCard (2) and BadAmount (5) instances share one key each: 1 + 4 repeats.
    assert_eq!(before - keys.len(), 1 + 4);
}

#[test]
fn refusal_texts_differ_between_languages() {
    // Goal: the English text is not a copy of the Chinese one (a sign the entry is translated).
    for r in every_refusal() {
        assert_ne!(r.message(Lang::Zh), r.message(Lang::En), "{r:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// A purchase's own rules, terminal access and who may act (moved from the store's engine)
// ---------------------------------------------------------------------------------------------

mod purchase_and_access {
    use suanpan_core::refusal::AccessRefused;
    use suanpan_core::rules::{
        PurchaseAsk, PurchaseRequest, TerminalAccess, decide_balance_inquiry,
        decide_operator_transacts, decide_password_change, decide_purchase, decide_supervisor,
        decide_terminal_access,
    };
    use suanpan_core::{Amount, AmountError, OperatorNo, PaymentMethod, TxnKind};

    fn req(kind: TxnKind, fen: i64, method: PaymentMethod, wallet: bool) -> PurchaseRequest {
        PurchaseRequest {
            kind,
            amount: Amount::from_fen(fen),
            method,
            wallet,
            training: false,
        }
    }

    fn op(no: &str) -> OperatorNo {
        OperatorNo::parse(no).unwrap()
    }

    #[test]
    fn a_sale_of_zero_or_less_is_refused_as_a_bad_amount() {
        // Goal: the rule does not trust the adapters' parsing of amounts.
        for fen in [0, -1, i64::MIN] {
            let r = decide_purchase(&req(TxnKind::Sale, fen, PaymentMethod::Chip, false));
            assert_eq!(
                r,
                Err(AccessRefused::BadAmount {
                    problem: AmountError::Zero
                })
            );
        }
        let r = decide_purchase(&req(TxnKind::PreAuth, 0, PaymentMethod::Chip, false));
        assert!(matches!(r, Err(AccessRefused::BadAmount { .. })));
    }

    #[test]
    fn a_balance_inquiry_needs_no_amount_but_a_fitting_method() {
        // Goal: a balance inquiry has no amount to check; its method must still fit the
        // instrument, as a sale's must.
        assert_eq!(decide_balance_inquiry(PaymentMethod::Chip, false), Ok(()));
        assert_eq!(
            decide_balance_inquiry(PaymentMethod::QrWechat, true),
            Ok(())
        );
        assert_eq!(
            decide_balance_inquiry(PaymentMethod::QrAlipay, false),
            Err(AccessRefused::MethodMismatch)
        );
        assert_eq!(
            decide_balance_inquiry(PaymentMethod::Chip, true),
            Err(AccessRefused::MethodMismatch)
        );
    }

    #[test]
    fn the_method_must_fit_the_instrument() {
        // Goal: a QR method with a card, or a card method with a wallet, is refused.
        let qr_card = decide_purchase(&req(TxnKind::Sale, 100, PaymentMethod::QrAlipay, false));
        assert_eq!(qr_card, Err(AccessRefused::MethodMismatch));
        let chip_wallet = decide_purchase(&req(TxnKind::Sale, 100, PaymentMethod::Chip, true));
        assert_eq!(chip_wallet, Err(AccessRefused::MethodMismatch));
        let qr_wallet = decide_purchase(&req(TxnKind::Sale, 100, PaymentMethod::QrWechat, true));
        assert_eq!(qr_wallet, Ok(PurchaseAsk::Debit));
    }

    #[test]
    fn the_issuer_is_asked_for_a_debit_a_hold_or_only_the_balance() {
        // Goal: a sale debits, a pre-auth holds, and training never moves money.
        let sale = req(TxnKind::Sale, 100, PaymentMethod::Chip, false);
        assert_eq!(decide_purchase(&sale), Ok(PurchaseAsk::Debit));
        let pre = req(TxnKind::PreAuth, 100, PaymentMethod::Chip, false);
        assert_eq!(decide_purchase(&pre), Ok(PurchaseAsk::Hold));
        for r in [sale, pre] {
            let training = PurchaseRequest {
                training: true,
                ..r
            };
            assert_eq!(decide_purchase(&training), Ok(PurchaseAsk::Balance));
        }
    }

    #[test]
    fn a_terminal_transacts_only_when_known_and_enabled_with_its_merchant() {
        // Goal: unknown terminal, disabled merchant, disabled terminal: three refusals.
        assert_eq!(
            decide_terminal_access(None),
            Err(AccessRefused::UnknownTerminal)
        );
        let with = |m, t, status: &str| {
            decide_terminal_access(Some(TerminalAccess {
                merchant_enabled: m,
                merchant_status: status.into(),
                terminal_enabled: t,
            }))
        };
        let both = |m, t| with(m, t, "active");
        assert_eq!(both(false, false), Err(AccessRefused::UnknownMerchant));
        assert_eq!(both(true, false), Err(AccessRefused::TerminalDisabled));
        assert_eq!(both(true, true), Ok(()));
        // A merchant that is not active (issue 14) has its terminals refused too.
        assert_eq!(
            with(true, true, "suspended"),
            Err(AccessRefused::MerchantNotActive {
                status: "suspended".into()
            })
        );
    }

    #[test]
    fn the_administrator_does_not_transact() {
        // Goal: 99 is refused at the counter; cashiers and the supervisor are not.
        assert!(matches!(
            decide_operator_transacts(op("99")),
            Err(AccessRefused::NotPermitted { .. })
        ));
        assert_eq!(decide_operator_transacts(op("01")), Ok(()));
        assert_eq!(decide_operator_transacts(op("00")), Ok(()));
    }

    #[test]
    fn only_the_supervisor_authorizes() {
        // Goal: no supervisor, or a cashier in its place, is refused.
        assert_eq!(
            decide_supervisor(None),
            Err(AccessRefused::SupervisorRequired)
        );
        assert_eq!(
            decide_supervisor(Some(op("01"))),
            Err(AccessRefused::SupervisorRequired)
        );
        assert_eq!(decide_supervisor(Some(op("00"))), Ok(()));
    }

    #[test]
    fn who_may_set_whose_password() {
        // Goal: one's own always; the admin anyone's; the supervisor cashiers' only.
        assert_eq!(decide_password_change(op("01"), op("01")), Ok(()));
        assert_eq!(decide_password_change(op("99"), op("00")), Ok(()));
        assert_eq!(decide_password_change(op("00"), op("02")), Ok(()));
        assert!(decide_password_change(op("00"), op("99")).is_err());
        assert!(decide_password_change(op("01"), op("02")).is_err());
    }
}

// Goal (issue 15): what the network upstream made of a sale decides its row — an answer is
// taken as given, an unknown outcome is never approved (reversal pending, 98: the terminal
// reverses too) and a request that never left is declined 91; a terminal reversal finds a
// pending reversal already done and an authorizing sale not yet decidable; neither can be
// voided or refunded.
#[test]
fn upstream_fates_and_what_follows() {
    use suanpan_core::ResponseCode as Rc;
    use suanpan_core::rules::{UpstreamFate, decide_upstream_fate};
    assert_eq!(
        decide_upstream_fate(UpstreamFate::Answered(Rc::Approved)),
        (TxnStatus::Approved, Rc::Approved)
    );
    assert_eq!(
        decide_upstream_fate(UpstreamFate::Answered(Rc::InsufficientFunds)),
        (TxnStatus::Declined, Rc::InsufficientFunds)
    );
    assert_eq!(
        decide_upstream_fate(UpstreamFate::NoAnswer),
        (TxnStatus::ReversalPending, Rc::IssuerTimeout)
    );
    assert_eq!(
        decide_upstream_fate(UpstreamFate::NotSent),
        (TxnStatus::Declined, Rc::IssuerUnavailable)
    );
    assert_eq!(Rc::IssuerUnavailable.code(), "91");
    let pending = with_status(sale(100), TxnStatus::ReversalPending);
    assert_eq!(
        decide_reversal(Some(&pending)),
        Ok(ReversalDecision::AlreadyDone)
    );
    let authorizing = with_status(sale(100), TxnStatus::Authorizing);
    assert_eq!(
        decide_reversal(Some(&authorizing)),
        Err(ReversalRefused::Authorizing)
    );
    for status in [TxnStatus::Authorizing, TxnStatus::ReversalPending] {
        assert_eq!(TxnStatus::parse(status.as_str()), Some(status));
    }
}
