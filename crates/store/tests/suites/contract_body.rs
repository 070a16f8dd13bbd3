// The store contract suite, included by `contract.rs` (SQLite) and `contract_pg.rs`
// (PostgreSQL), each of which defines `BACKEND`.
use suanpan_core::settlement::Reconciliation;
use suanpan_core::{
    Amount, BatchNo, OperatorNo, PaymentMethod, Policy, TerminalId, TxnKind,
    TxnStatus, VoucherNo,
};
use suanpan_store::command::{
    Complete, Origin, OriginalRef, PreAuthVoid, Purge, Refund, Void,
};
use suanpan_store::reply::{ExpireHolds, SettleAllDue};
use suanpan_store::command::BalanceInquiry;
use suanpan_store::{BalanceReply, Counted, PurchaseReply, ReversalReply, Store, TxnFilter};

const APPROVE: &str = "approve";

// --- sale -------------------------------------------------------------------------------------

#[test]
fn sale_is_approved_and_debits_the_card() {
    // Goal: an approved sale is booked with its numbers and takes the money from the card.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let before = h.balance(APPROVE);
    let t = approved(h.sale(12_345, APPROVE));
    assert_eq!(t.kind, TxnKind::Sale);
    assert_eq!(t.status, TxnStatus::Approved);
    assert_eq!(t.amount, Amount::from_fen(12_345));
    assert_eq!(t.voucher_no, VoucherNo::FIRST);
    assert_eq!(t.batch_no, BatchNo::FIRST);
    assert!(t.rrn.is_some() && t.auth_code.is_some());
    assert_eq!(t.operator, op("01"));
    assert_eq!(
        t.masked_pan.as_ref().map(|m| m.as_str()),
        Some("622202*********0128")
    );
    assert_eq!(h.balance(APPROVE), before - 12_345);
    assert_eq!(h.txn(t.id), t, "what was answered is what was stored");
    let e = h.last_audit();
    assert_eq!(
        (e.action.as_str(), e.outcome.as_str()),
        ("sale", "approved")
    );
    let second = approved(h.sale(1, APPROVE));
    assert_eq!(second.voucher_no, VoucherNo::new(2).unwrap());
    assert_ne!(second.rrn, t.rrn);
}

#[test]
fn terminal_info_is_stored_as_received() {
    // Goal: what a terminal says about itself (8583 field 59: serial, location) is kept with
    // its transaction exactly as received; a transaction without it stores none.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let info = "0114SN8C2004123456710216LAT31.23LON121.47";
    let origin = Origin {
        terminal_info: Some(info.to_owned()),
        ..cashier()
    };
    let t = approved(h.purchase(
        origin,
        TxnKind::Sale,
        100,
        card(APPROVE),
        PaymentMethod::Chip,
        None,
    ));
    let plain = approved(h.sale(100, APPROVE));
    let read = |id: i64| {
        suanpan_store::read(&*h.store, |c| suanpan_store::query::terminal_info_in(c, id))
            .expect("read terminal info")
    };
    assert_eq!(read(t.id.0).as_deref(), Some(info));
    assert_eq!(read(plain.id.0), None);
}

#[test]
fn pin_card_and_wallet_sales_are_approved() {
    // Goal: a PIN card with the right PIN and a QR wallet both pay.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let before = h.balance("approve_with_pin");
    approved(h.sale(500, "approve_with_pin"));
    assert_eq!(h.balance("approve_with_pin"), before - 500);
    let w = approved(h.wallet_sale(700, 0));
    assert_eq!(w.method, PaymentMethod::QrAlipay);
    assert_eq!(w.wallet_id.as_deref(), Some("alipay-demo-001"));
    assert_eq!(h.account("alipay-demo-001").balance_fen, 500_000 - 700);
}

#[test]
fn balance_inquiry_moves_no_money() {
    // Goal: a balance inquiry answers the available balance and changes no balance.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let before = h.balance(APPROVE);
    let reply = h.exec(BalanceInquiry {
        origin: cashier(),
        instrument: card(APPROVE),
        method: PaymentMethod::Chip,
        pin: None,
    });
    match reply {
        BalanceReply::Balance { txn, available } => {
            assert_eq!(txn.kind, TxnKind::BalanceInquiry);
            assert_eq!(available.fen(), before);
        }
        other => panic!("expected a balance, got {other:?}"),
    }
    assert_eq!(h.balance(APPROVE), before);
}

#[test]
fn a_declined_inquiry_is_booked_without_a_balance() {
    // Goal: a wrong PIN books the inquiry declined (55) and answers no balance.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let reply = h.exec(BalanceInquiry {
        origin: cashier(),
        instrument: card("approve_with_pin"),
        method: PaymentMethod::Chip,
        pin: Some(suanpan_issuer::EnteredPin::clear("000000")),
    });
    match reply {
        BalanceReply::Declined(txn) => {
            assert_eq!(txn.kind, TxnKind::BalanceInquiry);
            assert_eq!(txn.response_code.code(), "55");
        }
        other => panic!("expected a decline, got {other:?}"),
    }
}

#[test]
fn a_balance_inquiry_is_no_purchase() {
    // Goal: a purchase of kind balance inquiry is a caller's bug (it is its own command),
    // answered as an error, and nothing is booked.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    use suanpan_store::AskExt;
    let before = h.snapshot();
    let r = h.store.ask(suanpan_store::command::Purchase {
        origin: cashier(),
        kind: TxnKind::BalanceInquiry,
        amount: suanpan_core::Amount::ZERO,
        instrument: card(APPROVE),
        method: PaymentMethod::Chip,
        pin: None,
        linked_id: None,
        confirm_duplicate: false,
    });
    assert!(r.is_err(), "{r:?}");
    assert_eq!(h.snapshot(), before);
}

#[test]
fn unknown_terminal_is_refused_97() {
    // Goal: a terminal the host does not know gets 97 and nothing is booked.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let before = h.snapshot();
    let origin = Origin {
        terminal_id: TerminalId::parse("87654321").unwrap(),
        ..cashier()
    };
    let r = h.purchase(
        origin,
        TxnKind::Sale,
        100,
        card(APPROVE),
        PaymentMethod::Chip,
        None,
    );
    h.assert_refused(&before, r, "access.unknown_terminal");
}

#[test]
fn terminal_mac_algorithm_is_stored_and_listed() {
    // Goal: a terminal's MAC algorithm (issue 11) defaults to the POS ECB MAC, can be set
    // to X9.19 (audited), is listed, and a bad name changes nothing.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let id = terminal();
    assert_eq!(h.store.terminal_mac(&id).unwrap().as_deref(), Some("ecb"));
    assert!(suanpan_store::admin::set_terminal_mac(&*h.store, &id, "X919").unwrap());
    assert_eq!(h.store.terminal_mac(&id).unwrap().as_deref(), Some("x919"));
    assert!(suanpan_store::admin::set_terminal_mac(&*h.store, &id, "des").is_err());
    assert_eq!(h.store.terminal_mac(&id).unwrap().as_deref(), Some("x919"));
    let listed = suanpan_store::admin::terminals(&*h.store).unwrap();
    assert!(listed.iter().any(|t| t.id == id.as_str() && t.mac == "x919"));
    let unknown = TerminalId::parse("87654321").unwrap();
    assert!(!suanpan_store::admin::set_terminal_mac(&*h.store, &unknown, "ecb").unwrap());
    assert_eq!(h.store.terminal_mac(&unknown).unwrap(), None);
    let entries = h.store.audit_entries(5, 0).unwrap();
    assert!(entries.iter().any(|e| e.action == "terminal.mac.x919"), "audited");
}

#[test]
fn disabled_terminal_is_refused() {
    // Goal: a terminal disabled by the admin cannot sell.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    assert!(suanpan_store::admin::set_terminal_enabled(&*h.store, &terminal(), false).unwrap());
    let before = h.snapshot();
    let r = h.sale(100, APPROVE);
    h.assert_refused(&before, r, "access.terminal_disabled");
}

#[test]
fn admin_cannot_sell() {
    // Goal: the system administrator (99) manages, it does not take payments.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let before = h.snapshot();
    let origin = Origin {
        operator: OperatorNo::ADMIN,
        ..cashier()
    };
    let r = h.purchase(
        origin,
        TxnKind::Sale,
        100,
        card(APPROVE),
        PaymentMethod::Chip,
        None,
    );
    h.assert_refused(&before, r, "access.not_permitted");
}

#[test]
fn method_mismatch_is_refused() {
    // Goal: a QR method with a card (or a card method with a wallet) is refused.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let before = h.snapshot();
    let r = h.purchase(
        cashier(),
        TxnKind::Sale,
        100,
        card(APPROVE),
        PaymentMethod::QrWechat,
        None,
    );
    h.assert_refused(&before, r, "access.method_mismatch");
    let before = h.snapshot();
    let (w, _) = wallet(1);
    let r = h.purchase(cashier(), TxnKind::Sale, 100, w, PaymentMethod::Chip, None);
    h.assert_refused(&before, r, "access.method_mismatch");
}

#[test]
fn unknown_card_is_refused() {
    // Goal: a well-formed card the issuer does not know is refused, not booked.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let pan = suanpan_core::Pan::parse("4111111111111111").unwrap();
    let instrument = suanpan_store::Instrument::Card {
        masked_pan: pan.masked(),
        fingerprint: h.fp.of(&pan),
        expiry: None,
    };
    let before = h.snapshot();
    let r = h.purchase(
        cashier(),
        TxnKind::Sale,
        100,
        instrument,
        PaymentMethod::Chip,
        None,
    );
    h.assert_refused(&before, r, "access.unknown_instrument");
}

#[test]
fn wrong_batch_is_refused() {
    // Goal: a terminal that believes another batch is open is told to sign in again.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let before = h.snapshot();
    let origin = Origin {
        batch: Some(BatchNo::new(7).unwrap()),
        ..cashier()
    };
    let r = h.purchase(
        origin,
        TxnKind::Sale,
        100,
        card(APPROVE),
        PaymentMethod::Chip,
        None,
    );
    h.assert_refused(&before, r, "access.batch_mismatch");
}

/// Books a sale expected to be declined with `code` and checks that the card's balance and
/// hold did not move and that the decline is in the journal and the audit trail.
fn assert_declined(h: &Harness, outcome: &str, fen: i64, pin: Option<&str>, code: &str) {
    let account = card_account(outcome);
    let before = h.account(&account);
    let count = h.all_txns().len();
    let t = txn(h.purchase(
        cashier(),
        TxnKind::Sale,
        fen,
        card(outcome),
        PaymentMethod::Chip,
        pin,
    ));
    assert_eq!(t.status, TxnStatus::Declined, "{outcome}");
    assert_eq!(t.response_code.code(), code, "{outcome}");
    assert_eq!(t.auth_code, None, "a decline has no authorization code");
    let after = h.account(&account);
    assert_eq!(
        (after.balance_fen, after.held_fen),
        (before.balance_fen, before.held_fen)
    );
    assert_eq!(h.all_txns().len(), count + 1, "the decline is recorded");
    assert_eq!(h.last_audit().outcome, format!("declined:{code}"));
}

#[test]
fn issuer_declines_are_recorded_with_their_code() {
    // Goal: 51, 54, 41, 43 are declined transactions with that response code, not refusals.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    assert_declined(&h, "insufficient_funds", 5_000, None, "51");
    assert_declined(&h, "expired", 100, None, "54");
    assert_declined(&h, "lost", 100, None, "41");
    assert_declined(&h, "stolen", 100, None, "43");
}

#[test]
fn wrong_pins_decline_55_then_75() {
    // Goal: a wrong PIN is 55; after three wrong PINs even the right one gets 75.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    for _ in 0..3 {
        assert_declined(&h, "approve_with_pin", 100, Some("000000"), "55");
    }
    assert_declined(&h, "approve_with_pin", 100, Some("123456"), "75");
}

// --- void -------------------------------------------------------------------------------------

#[test]
fn void_returns_the_money_and_marks_the_sale() {
    // Goal: a void of a sale in the open batch returns the full amount, records the supervisor
    // and reason, and leaves the sale voided.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let before = h.balance(APPROVE);
    let sale = approved(h.sale(8_800, APPROVE));
    let v = approved(h.void(sale.voucher_no));
    assert_eq!(v.kind, TxnKind::Void);
    assert_eq!(v.amount, sale.amount);
    assert_eq!(v.original_id, Some(sale.id));
    assert_eq!(v.supervisor, Some(OperatorNo::SUPERVISOR));
    assert_eq!(v.reason.as_deref(), Some(REASON));
    assert!(v.customer_consent);
    assert_ne!(
        v.voucher_no, sale.voucher_no,
        "a void has its own voucher no."
    );
    assert_eq!(h.txn(sale.id).status, TxnStatus::Voided);
    assert_eq!(h.balance(APPROVE), before);
}

#[test]
fn second_void_is_refused() {
    // Goal: a void happens once.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let sale = approved(h.sale(100, APPROVE));
    approved(h.void(sale.voucher_no));
    let before = h.snapshot();
    let r = h.void_as(supervised(), TxnKind::Void, OriginalRef::Id(sale.id));
    h.assert_refused(&before, r, "void.already_voided");
}

#[test]
fn void_of_a_void_is_refused() {
    // Goal: a void is not a sale, so it cannot be voided.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let sale = approved(h.sale(100, APPROVE));
    let v = approved(h.void(sale.voucher_no));
    let before = h.snapshot();
    let r = h.void(v.voucher_no);
    h.assert_refused(&before, r, "void.wrong_kind");
}

#[test]
fn void_of_a_settled_sale_is_refused() {
    // Goal: after settlement only a refund can return the money (the refusal says so).
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let sale = approved(h.sale(100, APPROVE));
    h.settle(None);
    let before = h.snapshot();
    let r = h.void(sale.voucher_no);
    h.assert_refused(&before, r, "void.settled");
}

#[test]
fn void_of_a_refunded_sale_is_refused() {
    // Goal: a (partly) refunded sale cannot also be voided.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let sale = approved(h.sale(1_000, APPROVE));
    approved(h.refund(&rrn(&sale), 100));
    let before = h.snapshot();
    let r = h.void(sale.voucher_no);
    h.assert_refused(&before, r, "void.refunded");
}

#[test]
fn void_without_supervisor_is_refused() {
    // Goal: the server checks the supervisor's authorization, not only the UI.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let sale = approved(h.sale(100, APPROVE));
    let before = h.snapshot();
    let r = h.void_as(
        cashier(),
        TxnKind::Void,
        OriginalRef::Voucher(sale.voucher_no),
    );
    h.assert_refused(&before, r, "access.supervisor_required");
    // A cashier number in the supervisor slot is no supervisor either.
    let before = h.snapshot();
    let origin = Origin {
        supervisor: Some(op("02")),
        ..cashier()
    };
    let r = h.void_as(origin, TxnKind::Void, OriginalRef::Voucher(sale.voucher_no));
    h.assert_refused(&before, r, "access.supervisor_required");
}

#[test]
fn void_with_wrong_amount_or_missing_consent_is_refused() {
    // Goal: a void is for the full amount and needs the customer's consent and a reason.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let sale = approved(h.sale(1_000, APPROVE));
    let cmd = |amount: Option<i64>, reason: &str, consent: bool| Void {
        origin: supervised(),
        kind: TxnKind::Void,
        original: OriginalRef::Voucher(sale.voucher_no),
        amount: amount.map(Amount::from_fen),
        reason: reason.to_owned(),
        customer_consent: consent,
        card_fingerprint: None,
    };
    let before = h.snapshot();
    h.assert_refused(
        &before,
        h.exec(cmd(Some(999), REASON, true)),
        "void.amount_mismatch",
    );
    let before = h.snapshot();
    h.assert_refused(
        &before,
        h.exec(cmd(None, REASON, false)),
        "void.consent_required",
    );
    let before = h.snapshot();
    h.assert_refused(
        &before,
        h.exec(cmd(None, "  ", true)),
        "void.reason_required",
    );
    approved(h.exec(cmd(Some(1_000), REASON, true)));
}

#[test]
fn void_of_unknown_voucher_is_refused() {
    // Goal: a voucher no. that names nothing is "original not found" (25).
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let before = h.snapshot();
    h.assert_refused(
        &before,
        h.void(VoucherNo::new(4242).unwrap()),
        "void.not_found",
    );
}

// --- refund -----------------------------------------------------------------------------------

#[test]
fn partial_refunds_add_up_to_the_original_then_stop() {
    // Goal: refunds are partial and repeated, Σ ≤ original, and the remaining amount is named.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let start = h.balance(APPROVE);
    let sale = approved(h.sale(10_000, APPROVE));
    let r1 = approved(h.refund(&rrn(&sale), 3_000));
    assert_eq!(
        (r1.kind, r1.amount, r1.original_id),
        (TxnKind::Refund, Amount::from_fen(3_000), Some(sale.id))
    );
    assert_eq!(r1.supervisor, Some(OperatorNo::SUPERVISOR));
    let s = h.txn(sale.id);
    assert_eq!(
        (s.status, s.refunded, s.refundable()),
        (
            TxnStatus::PartiallyRefunded,
            Amount::from_fen(3_000),
            Amount::from_fen(7_000)
        )
    );

    let before = h.snapshot();
    let r = h.assert_refused(
        &before,
        h.refund(&rrn(&sale), 7_001),
        "refund.exceeds_remaining",
    );
    assert_eq!(
        r.args(),
        vec![Amount::from_fen(7_000).display()],
        "the refusal names what remains"
    );

    approved(h.refund(&rrn(&sale), 6_999));
    approved(h.refund(&rrn(&sale), 1));
    let s = h.txn(sale.id);
    assert_eq!(
        (s.status, s.refunded, s.refundable()),
        (TxnStatus::Refunded, s.amount, Amount::ZERO)
    );
    assert_eq!(h.balance(APPROVE), start, "everything came back");

    let before = h.snapshot();
    h.assert_refused(&before, h.refund(&rrn(&sale), 1), "refund.fully_refunded");
}

#[test]
fn refund_of_a_voided_sale_is_refused() {
    // Goal: a voided sale was already returned in full.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let sale = approved(h.sale(500, APPROVE));
    approved(h.void(sale.voucher_no));
    let before = h.snapshot();
    h.assert_refused(&before, h.refund(&rrn(&sale), 100), "refund.voided");
}

#[test]
fn refund_without_supervisor_or_of_nothing_is_refused() {
    // Goal: refunds need the supervisor, a positive amount, and an original that exists.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let sale = approved(h.sale(500, APPROVE));
    let before = h.snapshot();
    let r = h.exec(Refund {
        origin: cashier(),
        original: OriginalRef::Rrn(rrn(&sale)),
        amount: Amount::from_fen(100),
        reason: "goods returned".into(),
    });
    h.assert_refused(&before, r, "access.supervisor_required");
    let before = h.snapshot();
    h.assert_refused(
        &before,
        h.refund(&rrn(&sale), 0),
        "refund.amount_not_positive",
    );
    let before = h.snapshot();
    h.assert_refused(&before, h.refund("999999999999", 100), "refund.not_found");
}

#[test]
fn refund_of_a_settled_sale_is_approved_in_the_next_batch() {
    // Goal: refunds work in any batch; the refund counts in the batch it is booked in.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let sale = approved(h.sale(2_000, APPROVE));
    h.settle(None);
    let r = approved(h.refund(&rrn(&sale), 500));
    assert_eq!(r.batch_no, BatchNo::new(2).unwrap());
    let report = h.settle(None);
    assert_eq!(report.settlement.totals, totals(0, 0, 500, 1));
}

// --- pre-authorization and completion ----------------------------------------------------------

#[test]
fn preauth_holds_and_completion_captures() {
    // Goal: a pre-auth holds the amount; its completion releases the hold and takes the capture.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let start = h.balance(APPROVE);
    let pre = approved(h.preauth(10_000, APPROVE));
    assert_eq!(pre.kind, TxnKind::PreAuth);
    assert_eq!((h.balance(APPROVE), h.held(APPROVE)), (start, 10_000));
    let c = approved(h.complete(&rrn(&pre), 9_000));
    assert_eq!(
        (c.kind, c.amount, c.original_id),
        (TxnKind::Completion, Amount::from_fen(9_000), Some(pre.id))
    );
    let p = h.txn(pre.id);
    assert_eq!(
        (p.status, p.completed),
        (TxnStatus::Completed, Amount::from_fen(9_000))
    );
    assert_eq!((h.balance(APPROVE), h.held(APPROVE)), (start - 9_000, 0));
    let before = h.snapshot();
    h.assert_refused(
        &before,
        h.complete(&rrn(&pre), 1_000),
        "completion.already_completed",
    );
}

#[test]
fn completion_is_capped_at_115_percent() {
    // Goal: a completion may take up to 115% of the hold, not one fen more.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let pre = approved(h.preauth(10_000, APPROVE));
    let before = h.snapshot();
    let r = h.assert_refused(
        &before,
        h.complete(&rrn(&pre), 11_501),
        "completion.over_limit",
    );
    assert_eq!(r.args(), vec![Amount::from_fen(11_500).display()]);
    let start = h.balance(APPROVE);
    approved(h.complete(&rrn(&pre), 11_500));
    assert_eq!((h.balance(APPROVE), h.held(APPROVE)), (start - 11_500, 0));
}

#[test]
fn preauth_void_releases_the_hold() {
    // Goal: a pre-auth void releases the whole hold and needs the supervisor.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let pre = approved(h.preauth(4_000, APPROVE));
    let before = h.snapshot();
    let r = h.exec(PreAuthVoid {
        origin: cashier(),
        original: OriginalRef::Rrn(rrn(&pre)),
        amount: None,
        reason: "guest left".into(),
    });
    h.assert_refused(&before, r, "access.supervisor_required");
    let v = approved(h.preauth_void(&rrn(&pre)));
    assert_eq!(
        (v.kind, v.amount, v.original_id),
        (TxnKind::PreAuthVoid, pre.amount, Some(pre.id))
    );
    assert_eq!(h.txn(pre.id).status, TxnStatus::Voided);
    assert_eq!(h.held(APPROVE), 0);
    let before = h.snapshot();
    h.assert_refused(&before, h.complete(&rrn(&pre), 100), "completion.voided");
    let before = h.snapshot();
    h.assert_refused(
        &before,
        h.preauth_void(&rrn(&pre)),
        "preauth_void.already_voided",
    );
}

#[test]
fn completion_void_returns_the_capture() {
    // Goal: a completion void returns the captured amount; the pre-auth's hold stays consumed.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let start = h.balance(APPROVE);
    let pre = approved(h.preauth(5_000, APPROVE));
    let c = approved(h.complete(&rrn(&pre), 5_500));
    let before = h.snapshot();
    h.assert_refused(&before, h.void(c.voucher_no), "void.wrong_kind");
    let cv = approved(h.complete_void(c.voucher_no));
    assert_eq!(
        (cv.kind, cv.amount, cv.original_id),
        (TxnKind::CompletionVoid, c.amount, Some(c.id))
    );
    assert_eq!(h.txn(c.id).status, TxnStatus::Voided);
    assert_eq!((h.balance(APPROVE), h.held(APPROVE)), (start, 0));
    let before = h.snapshot();
    h.assert_refused(
        &before,
        h.complete_void(c.voucher_no),
        "void.already_voided",
    );
}

#[test]
fn expire_holds_releases_after_30_days() {
    // Goal: holds live 30 days; ExpireHolds releases only the lapsed ones.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let old = approved(h.preauth(1_000, APPROVE));
    h.advance_days(29);
    let young = approved(h.preauth(2_000, APPROVE));
    let n = h.exec(ExpireHolds);
    assert_eq!(n, 0, "nothing lapsed after 29 days");
    assert_eq!(h.held(APPROVE), 3_000);
    h.advance_days(1);
    h.advance_minutes(1);
    let n = h.exec(ExpireHolds);
    assert_eq!(n, 1);
    assert_eq!(h.txn(old.id).status, TxnStatus::Expired);
    assert_eq!(h.txn(young.id).status, TxnStatus::Approved);
    assert_eq!(h.held(APPROVE), 2_000);
    let before = h.snapshot();
    h.assert_refused(&before, h.complete(&rrn(&old), 100), "completion.expired");
}

// --- reversal ---------------------------------------------------------------------------------

#[test]
fn reversal_of_a_sale_restores_the_balance_once() {
    // Goal: a reversal undoes a sale at the issuer; a retry finds nothing more to undo.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let start = h.balance(APPROVE);
    let sale = approved(h.sale(3_300, APPROVE));
    let rev = approved(h.reverse(sale.voucher_no));
    assert_eq!(
        (rev.kind, rev.original_id, rev.amount),
        (TxnKind::Reversal, Some(sale.id), sale.amount)
    );
    assert_eq!(h.txn(sale.id).status, TxnStatus::Reversed);
    assert_eq!(h.balance(APPROVE), start);
    let count = h.all_txns().len();
    assert!(matches!(
        h.reverse(sale.voucher_no),
        ReversalReply::NothingToReverse
    ));
    assert_eq!(h.all_txns().len(), count);
    assert_eq!(
        h.balance(APPROVE),
        start,
        "a retried reversal does not credit twice"
    );
    // A reversal of something that never arrived is approved and changes nothing.
    assert!(matches!(
        h.reverse(VoucherNo::new(777).unwrap()),
        ReversalReply::NothingToReverse
    ));
}

#[test]
fn reversal_of_a_voided_sale_is_refused() {
    // Goal: what was voided since cannot be reversed (the money already went back).
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let sale = approved(h.sale(100, APPROVE));
    approved(h.void(sale.voucher_no));
    let before = h.snapshot();
    h.assert_refused(
        &before,
        h.reverse(sale.voucher_no),
        "reversal.already_voided",
    );
}

#[test]
fn reversal_of_a_refund_is_refused() {
    // Goal: refunds are not reversible.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let sale = approved(h.sale(1_000, APPROVE));
    let r = approved(h.refund(&rrn(&sale), 100));
    let before = h.snapshot();
    h.assert_refused(&before, h.reverse(r.voucher_no), "reversal.not_reversible");
}

#[test]
fn reversal_of_a_void_brings_the_sale_back() {
    // Goal: a void whose answer was lost is reversed: the sale is approved again and its money
    // is taken again; it can then be voided once more.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let start = h.balance(APPROVE);
    let sale = approved(h.sale(2_500, APPROVE));
    let v = approved(h.void(sale.voucher_no));
    approved(h.reverse(v.voucher_no));
    assert_eq!(h.txn(v.id).status, TxnStatus::Reversed);
    assert_eq!(h.txn(sale.id).status, TxnStatus::Approved);
    assert_eq!(h.balance(APPROVE), start - 2_500);
    approved(h.void(sale.voucher_no));
    assert_eq!(h.balance(APPROVE), start);
}

#[test]
fn reversal_of_preauth_and_completion_restores_holds() {
    // Goal: reversing a completion puts the hold back; reversing the pre-auth releases it.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let start = h.balance(APPROVE);
    let pre = approved(h.preauth(6_000, APPROVE));
    let c = approved(h.complete(&rrn(&pre), 6_000));
    approved(h.reverse(c.voucher_no));
    assert_eq!(h.txn(pre.id).status, TxnStatus::Approved);
    assert_eq!((h.balance(APPROVE), h.held(APPROVE)), (start, 6_000));
    approved(h.reverse(pre.voucher_no));
    assert_eq!(h.txn(pre.id).status, TxnStatus::Reversed);
    assert_eq!((h.balance(APPROVE), h.held(APPROVE)), (start, 0));
}

#[test]
fn reversal_of_an_expired_preauth_releases_nothing_twice() {
    // Goal: a pre-auth whose hold already lapsed (and was released) must not release a second
    // time when it is reversed: that would eat another pre-auth's hold on the same card.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let old = approved(h.preauth(1_000, APPROVE));
    h.advance_days(29);
    approved(h.preauth(2_000, APPROVE));
    h.advance_days(2);
    h.exec(ExpireHolds);
    assert_eq!(h.held(APPROVE), 2_000);
    let _ = h.reverse(old.voucher_no);
    assert_eq!(
        h.held(APPROVE),
        2_000,
        "the younger pre-auth's hold is intact"
    );
}

// --- settlement -------------------------------------------------------------------------------

#[test]
fn settlement_totals_balanced_and_next_batch() {
    // Goal: settlement totals count approved sales/completions (not voided or reversed ones) as
    // debits and refunds as credits; equal terminal totals are balanced; the next batch opens.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let a = approved(h.sale(1_000, APPROVE));
    let b = approved(h.sale(2_000, APPROVE));
    let voided = approved(h.sale(4_000, APPROVE));
    approved(h.void(voided.voucher_no));
    let reversed = approved(h.sale(8_000, APPROVE));
    approved(h.reverse(reversed.voucher_no));
    txn(h.sale(5_000, "insufficient_funds"));
    approved(h.refund(&rrn(&a), 300));
    let pre = approved(h.preauth(10_000, APPROVE));
    approved(h.complete(&rrn(&pre), 7_000));
    let _ = b;

    let expected = totals(1_000 + 2_000 + 7_000, 3, 300, 1);
    let report = h.settle(Some(expected));
    assert_eq!(report.settlement.totals, expected);
    assert_eq!(report.settlement.reconciliation, Reconciliation::Balanced);
    assert!(report.settlement.differences.is_empty());
    assert_eq!(
        (report.batch_no, report.next_batch_no),
        (BatchNo::FIRST, BatchNo::new(2).unwrap())
    );
    assert_eq!(h.open_batch(), BatchNo::new(2).unwrap());
    assert!(
        h.all_txns().iter().all(|t| t.settled),
        "every live row of the batch is settled"
    );

    let next = approved(h.sale(100, APPROVE));
    assert_eq!(next.batch_no, BatchNo::new(2).unwrap());
    assert!(!next.settled);
}

#[test]
fn settlement_unbalanced_names_the_differences() {
    // Goal: "unbalanced" says which count or amount differs, on which side.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    approved(h.sale(1_000, APPROVE));
    approved(h.sale(2_000, APPROVE));
    let report = h.settle(Some(totals(3_000, 3, 50, 1)));
    assert_eq!(report.settlement.reconciliation, Reconciliation::Unbalanced);
    let diffs: Vec<(&str, i64, i64)> = report
        .settlement
        .differences
        .iter()
        .map(|d| (d.field, d.host, d.terminal))
        .collect();
    assert_eq!(
        diffs,
        vec![
            ("debit_count", 2, 3),
            ("credit_count", 0, 1),
            ("credit_amount", 0, 50)
        ]
    );
    assert_eq!(h.last_audit().outcome, "unbalanced");
    assert_eq!(
        h.open_batch(),
        BatchNo::new(2).unwrap(),
        "an unbalanced batch is settled too"
    );
}

#[test]
fn settle_all_due_waits_for_the_2300_cutoff() {
    // Goal: the cutoff job settles a batch only once 23:00 Asia/Shanghai has passed.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    approved(h.sale(100, APPROVE));
    h.set_time("2025-06-10T14:59:59Z"); // 22:59:59 in Shanghai
    let reports = h.exec(SettleAllDue::FROM_START).settled;
    assert!(reports.is_empty(), "not due before the cutoff");
    assert_eq!(h.open_batch(), BatchNo::FIRST);
    h.set_time("2025-06-10T15:00:00Z"); // 23:00 in Shanghai
    let reports = h.exec(SettleAllDue::FROM_START).settled;
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].batch_no, BatchNo::FIRST);
    assert_eq!(reports[0].settlement.totals, totals(100, 1, 0, 0));
    assert_eq!(h.open_batch(), BatchNo::new(2).unwrap());
    // The batch opened at 23:00 belongs to the next business day: not due again tonight.
    h.set_time("2025-06-10T15:30:00Z");
    let reports = h.exec(SettleAllDue::FROM_START).settled;
    assert!(reports.is_empty());
}

#[test]
fn the_cutoff_settles_in_chunks_so_sales_pass_between_them() {
    // Goal: one `SettleAllDue` settles at most CUTOFF_BATCHES_PER_COMMAND batches (a sale
    // waits behind one chunk, not behind every terminal); `settle_due` sends chunks until
    // every due batch is settled, each exactly once.
    use suanpan_service::settlement::{CUTOFF_BATCHES_PER_COMMAND, settle_due};
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    for n in 0..CUTOFF_BATCHES_PER_COMMAND + 3 {
        let id = suanpan_core::TerminalId::parse(&format!("C{n:07}")).expect("terminal");
        suanpan_store::admin::add_terminal(&*h.store, &id, &merchant(), None)
            .expect("terminal");
    }
    let enabled = suanpan_store::admin::terminals(&*h.store)
        .expect("terminals")
        .into_iter()
        .filter(|t| t.enabled)
        .count();
    assert!(enabled > CUTOFF_BATCHES_PER_COMMAND + 2);
    approved(h.sale(100, APPROVE));
    h.set_time("2025-06-10T15:00:00Z"); // 23:00 in Shanghai: every batch is due
    let first = h.exec(SettleAllDue::FROM_START).settled;
    assert_eq!(first.len(), CUTOFF_BATCHES_PER_COMMAND, "one chunk per command");
    // Between two chunks the writer takes other commands: a sale goes through.
    approved(h.sale(200, APPROVE));
    let cutoff = settle_due(&*h.store);
    assert!(cutoff.error.is_none(), "{:?}", cutoff.error);
    assert_eq!(cutoff.reports.len(), enabled - CUTOFF_BATCHES_PER_COMMAND);
    let mut settled: Vec<String> = first
        .iter()
        .chain(&cutoff.reports)
        .map(|r| r.terminal_id.to_string())
        .collect();
    settled.sort();
    settled.dedup();
    assert_eq!(settled.len(), enabled, "every enabled terminal's batch, each once");
    assert!(
        h.exec(SettleAllDue::FROM_START).settled.is_empty(),
        "nothing is due any more tonight"
    );
    assert!(settle_due(&*h.store).reports.is_empty());
}

#[test]
fn a_cutoff_chunk_starts_after_the_terminal_the_chunk_before_ended_with() {
    // Goal: `SettleAllDue { after }` reads only the terminals after `after`, in order (the
    // cutoff's commands together read each terminal once); a due batch before it waits for
    // a command that starts earlier. Disabled terminals are never settled.
    use suanpan_core::TerminalId;
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let ids: Vec<TerminalId> = (0..4)
        .map(|n| TerminalId::parse(&format!("D{n:07}")).expect("terminal"))
        .collect();
    for id in &ids {
        suanpan_store::admin::add_terminal(&*h.store, id, &merchant(), None).expect("terminal");
    }
    suanpan_store::admin::set_terminal_enabled(&*h.store, &ids[2], false).expect("disable");
    h.set_time("2025-06-10T15:00:00Z"); // 23:00 in Shanghai: every batch is due
    let chunk = h
        .exec(SettleAllDue {
            after: Some(ids[0].clone()),
        })
        .settled;
    let settled: Vec<String> = chunk.iter().map(|r| r.terminal_id.to_string()).collect();
    assert_eq!(
        settled,
        [ids[1].to_string(), ids[3].to_string()],
        "after D0000000, in order, the disabled D0000002 left out"
    );
    let rest = h.exec(SettleAllDue::FROM_START).settled;
    assert!(
        rest.iter().any(|r| r.terminal_id == ids[0]),
        "a command from the start settles D0000000"
    );
    assert!(
        rest.iter().all(|r| r.terminal_id != ids[1] && r.terminal_id != ids[3]),
        "the batches settled before are reopened for the next day, not due"
    );
    assert!(
        h.exec(SettleAllDue {
            after: Some(ids[3].clone())
        })
        .settled
        .is_empty()
    );
}

#[test]
fn a_batch_the_cutoff_may_not_settle_does_not_stop_the_fleet() {
    // Goal: a due batch whose terminal is refused (its merchant suspended by the acquirer)
    // is left open and passed over; the terminals before and after it in the same chunk,
    // and in later chunks, are settled by the same cutoff.
    use suanpan_core::{MerchantId, TerminalId};
    use suanpan_service::settlement::{CUTOFF_BATCHES_PER_COMMAND, settle_due};
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let other = MerchantId::parse("898310048990077").expect("merchant");
    suanpan_store::admin::add_merchant(&*h.store, &other, "停业商户").expect("merchant");
    let ids: Vec<TerminalId> = (0..CUTOFF_BATCHES_PER_COMMAND + 4)
        .map(|n| TerminalId::parse(&format!("E{n:07}")).expect("terminal"))
        .collect();
    let suspended = &ids[2];
    for id in &ids {
        let m = if id == suspended { &other } else { &merchant() };
        suanpan_store::admin::add_terminal(&*h.store, id, m, None).expect("terminal");
    }
    let moved = suanpan_store::admin::set_merchant_status(
        &*h.store,
        "acquirer-ops",
        &other,
        "suspended",
        "风险核查",
    )
    .expect("status");
    assert_eq!(moved, Some(true), "active -> suspended");
    h.set_time("2025-06-10T15:00:00Z"); // 23:00 in Shanghai: every batch is due
    let cutoff = settle_due(&*h.store);
    let settled: Vec<&TerminalId> = cutoff.reports.iter().map(|r| &r.terminal_id).collect();
    for id in ids.iter().filter(|id| *id != suspended) {
        assert!(settled.contains(&id), "{id} settled: {:?}", cutoff.error);
    }
    assert!(!settled.contains(&suspended), "the suspended merchant's batch stays open");
    assert!(cutoff.error.is_none(), "{:?}", cutoff.error);
    let passed: Vec<(&TerminalId, &str)> = cutoff
        .passed
        .iter()
        .map(|p| (&p.terminal_id, p.refusal))
        .collect();
    assert_eq!(passed, [(suspended, "access.merchant_not_active")]);
    let audited = h
        .store
        .audit_entries(200, 0)
        .expect("audit")
        .into_iter()
        .any(|e| {
            e.target == format!("terminal:{suspended}")
                && e.outcome == "refused:access.merchant_not_active"
        });
    assert!(audited, "the batch left open is audited with why");
}

// --- hide and purge ---------------------------------------------------------------------------

#[test]
fn hide_is_for_the_admin_and_keeps_the_record() {
    // Goal: only the admin hides; a hidden record leaves default listings but stays stored.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let sale = approved(h.sale(100, APPROVE));
    let before = h.snapshot();
    h.assert_refused(&before, h.hide(op("01"), sale.id), "hide.not_admin");
    let before = h.snapshot();
    h.assert_refused(
        &before,
        h.hide(OperatorNo::SUPERVISOR, sale.id),
        "hide.not_admin",
    );
    assert!(matches!(h.hide(OperatorNo::ADMIN, sale.id), Counted::Done(1)));
    let e = h.last_audit();
    assert_eq!(
        (e.action.as_str(), e.target.clone(), e.outcome.as_str()),
        ("hide", format!("txn:{}", sale.id), "ok")
    );
    let default = h.store.transactions(&TxnFilter::default()).unwrap();
    assert!(
        default.iter().all(|t| t.id != sale.id),
        "hidden from the default listing"
    );
    let all = h
        .store
        .transactions(&TxnFilter {
            include_hidden: true,
            ..TxnFilter::default()
        })
        .unwrap();
    assert!(
        all.iter().any(|t| t.id == sale.id && t.hidden),
        "kept and visible on request"
    );
    let before = h.snapshot();
    h.assert_refused(
        &before,
        h.hide(OperatorNo::ADMIN, sale.id),
        "hide.already_hidden",
    );
}

#[test]
fn purge_is_refused_within_retention() {
    // Goal: nothing younger than the retention period (5 years) is ever deleted.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    approved(h.sale(100, APPROVE));
    h.advance_days(365);
    let before = h.snapshot();
    let r = h.exec(Purge {
        merchant_id: merchant(),
        actor: OperatorNo::ADMIN,
        before: h.now(),
        backup: "backup.db".into(),
        reason: String::new(),
        audit_as: None,
    });
    h.assert_refused(&before, r, "hide.within_retention");
    let before = h.snapshot();
    let r = h.exec(Purge {
        merchant_id: merchant(),
        actor: op("01"),
        before: start(),
        backup: "backup.db".into(),
        reason: String::new(),
        audit_as: None,
    });
    h.assert_refused(&before, r, "hide.not_admin");
}

#[test]
fn purge_after_retention_keeps_money_conserved() {
    // Goal: purging old records keeps the conservation equation (the purged net is carried).
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let old = approved(h.sale(1_000, APPROVE));
    approved(h.refund(&rrn(&old), 200));
    let kept = approved(h.sale(3_000, APPROVE));
    h.advance_days(1);
    let cut = h.now();
    // A refund after the cut refers to `kept`, so `kept` must survive the purge.
    h.advance_days(1);
    approved(h.refund(&rrn(&kept), 100));
    h.advance_days(6 * 366);
    let r = h.exec(Purge {
        merchant_id: merchant(),
        actor: OperatorNo::ADMIN,
        before: cut,
        backup: "b.db".into(),
        reason: String::new(),
        audit_as: None,
    });
    assert!(
        matches!(r, Counted::Done(2)),
        "the old sale and its refund go: {r:?}"
    );
    let ids: Vec<_> = h.all_txns().iter().map(|t| t.id).collect();
    assert!(ids.contains(&kept.id) && !ids.contains(&old.id));
}

// --- idempotency ------------------------------------------------------------------------------

#[test]
fn identical_retry_is_replayed_once() {
    // Goal: the same key with the same request hash answers the stored transaction without a
    // second booking; the card is debited once.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let start = h.balance(APPROVE);
    let origin = Origin {
        voucher: Some(suanpan_core::VoucherNo::FIRST),
        idempotency: Some(("12345678/000001/000001/0200".into(), "hash-a".into())),
        ..cashier()
    };
    let first = approved(h.purchase(
        origin.clone(),
        TxnKind::Sale,
        1_500,
        card(APPROVE),
        PaymentMethod::Chip,
        None,
    ));
    let count = h.all_txns().len();
    match h.purchase(
        origin.clone(),
        TxnKind::Sale,
        1_500,
        card(APPROVE),
        PaymentMethod::Chip,
        None,
    ) {
        PurchaseReply::Replayed(t) => assert_eq!(t, first),
        other => panic!("expected a replay, got {other:?}"),
    }
    assert_eq!(h.all_txns().len(), count, "no second booking");
    assert_eq!(h.balance(APPROVE), start - 1_500, "debited once");
}

#[test]
fn reused_key_with_another_request_is_refused_94() {
    // Goal: a reused id never silently updates or books: it is refused as a duplicate (94).
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let key = "12345678/000001/000002/0200".to_owned();
    let origin = Origin {
        voucher: Some(suanpan_core::VoucherNo::FIRST),
        idempotency: Some((key.clone(), "hash-a".into())),
        ..cashier()
    };
    approved(h.purchase(
        origin,
        TxnKind::Sale,
        1_500,
        card(APPROVE),
        PaymentMethod::Chip,
        None,
    ));
    let before = h.snapshot();
    let other = Origin {
        voucher: Some(suanpan_core::VoucherNo::FIRST),
        idempotency: Some((key, "hash-b".into())),
        ..cashier()
    };
    let r = h.purchase(
        other,
        TxnKind::Sale,
        9_999,
        card(APPROVE),
        PaymentMethod::Chip,
        None,
    );
    h.assert_refused(&before, r, "access.duplicate");
}

// --- training ---------------------------------------------------------------------------------

#[test]
fn training_moves_no_money_and_has_its_own_numbers() {
    // Goal: training sales are booked with their own voucher sequence, move no money and are
    // never in settlement totals.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let start = h.balance(APPROVE);
    approved(h.sale(100, APPROVE));
    let training = Origin {
        training: true,
        ..cashier()
    };
    let t = approved(h.purchase(
        training,
        TxnKind::Sale,
        5_000,
        card(APPROVE),
        PaymentMethod::Chip,
        None,
    ));
    assert!(t.training);
    assert_eq!(
        t.voucher_no,
        VoucherNo::FIRST,
        "training has its own sequence"
    );
    assert_eq!(h.balance(APPROVE), start - 100);
    let report = h.settle(None);
    assert_eq!(report.settlement.totals, totals(100, 1, 0, 0));
}

#[test]
fn a_store_seeded_through_the_real_path_works() {
    // Goal: the template shortcut of the harness matches `create` + `seed_demo`.
    let Some(h) = Harness::seeded_from_scratch_on(BACKEND) else {
        return skipped();
    };
    let t = approved(h.sale(100, APPROVE));
    assert_eq!(t.voucher_no, VoucherNo::FIRST);
    let _ = Policy::default();
}

#[test]
fn purge_keeps_every_row_a_kept_row_points_at() {
    // Goal: a row kept because a newer row refers to it keeps its own original too (a
    // completion kept for its later refund keeps its pre-auth): no kept record points at
    // nothing, and the purge does not fail on the database's foreign keys.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let pre = approved(h.preauth(5_000, APPROVE));
    let c = approved(h.complete(&rrn(&pre), 5_000));
    let old = approved(h.sale(700, APPROVE));
    h.advance_days(1);
    let cut = h.now();
    h.advance_days(1);
    approved(h.refund(&rrn(&c), 1_000));
    h.advance_days(6 * 366);
    let r = h.exec(Purge {
        merchant_id: merchant(),
        actor: OperatorNo::ADMIN,
        before: cut,
        backup: "b.db".into(),
        reason: String::new(),
        audit_as: None,
    });
    assert!(
        matches!(r, Counted::Done(1)),
        "only the unrelated old sale goes: {r:?}"
    );
    let ids: Vec<_> = h.all_txns().iter().map(|t| t.id).collect();
    assert!(ids.contains(&c.id) && ids.contains(&pre.id) && !ids.contains(&old.id));
}

#[test]
fn void_limit_per_operator_resets_at_the_cutoff() {
    // Goal: `void_max_per_operator_per_day` (20) counts one operator's voids of the business
    // day; the 21st is refused, and the next business day starts again from zero.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    for _ in 0..20 {
        let s = approved(h.sale(10, APPROVE));
        approved(h.void(s.voucher_no));
    }
    let s = approved(h.sale(10, APPROVE));
    let before = h.snapshot();
    h.assert_refused(&before, h.void(s.voucher_no), "void.operator_limit");
    h.set_time("2025-06-10T15:00:00Z"); // 23:00 Shanghai: the next business day
    approved(h.void(s.voucher_no));
}

#[test]
fn training_and_live_preauths_do_not_mix() {
    // Goal: a training completion or pre-auth void cannot touch a live pre-auth (it would
    // mark it done while its hold stays at the issuer forever), and a live completion cannot
    // capture a training pre-auth (it would take real money for a hold that never existed).
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let training = Origin {
        training: true,
        ..cashier()
    };
    let live_pre = approved(h.preauth(5_000, APPROVE));
    let train_pre = approved(h.purchase(
        training.clone(),
        TxnKind::PreAuth,
        3_000,
        card(APPROVE),
        PaymentMethod::Chip,
        None,
    ));
    assert_eq!(h.held(APPROVE), 5_000);

    let before = h.snapshot();
    let r = h.exec(Complete {
        origin: training.clone(),
        original: OriginalRef::Rrn(rrn(&live_pre)),
        amount: Amount::from_fen(5_000),
    });
    h.assert_refused(&before, r, "completion.not_found");

    let before = h.snapshot();
    let r = h.exec(PreAuthVoid {
        origin: Origin {
            supervisor: Some(OperatorNo::SUPERVISOR),
            ..training.clone()
        },
        original: OriginalRef::Rrn(rrn(&live_pre)),
        amount: None,
        reason: "guest left".into(),
    });
    h.assert_refused(&before, r, "preauth_void.not_found");

    let before = h.snapshot();
    h.assert_refused(
        &before,
        h.complete(&rrn(&train_pre), 3_000),
        "completion.not_found",
    );
    let before = h.snapshot();
    h.assert_refused(
        &before,
        h.preauth_void(&rrn(&train_pre)),
        "preauth_void.not_found",
    );

    // Each in its own mode works.
    approved(h.complete(&rrn(&live_pre), 5_000));
    assert_eq!(h.held(APPROVE), 0);
    let r = h.exec(Complete {
        origin: training,
        original: OriginalRef::Rrn(rrn(&train_pre)),
        amount: Amount::from_fen(3_000),
    });
    assert!(approved(r).training);
}

#[test]
fn the_database_refuses_a_second_void_and_an_over_refund_by_itself() {
    // Goal: at-most-once does not rest on the engine alone: a second approved void of one
    // original and refunds above the original are refused by the database's constraints
    // (what keeps several nodes or a buggy writer honest), and nothing of the attempt stays.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let sale = approved(h.sale(800, APPROVE));
    let void = approved(h.void(sale.voucher_no));
    let before = h.snapshot();
    let second_void = suanpan_store::setup(&*h.store, |c, _| {
        c.exec(
            "INSERT INTO txns (kind, status, amount_fen, currency, method, merchant_id, terminal_id,
               operator, batch_id, batch_no, voucher_no, rrn, response_code, original_id, created_at)
             SELECT kind, status, amount_fen, currency, method, merchant_id, terminal_id, operator,
               batch_id, batch_no, voucher_no + 100, 'X' || rrn, response_code, original_id, created_at
             FROM txns WHERE id = ?1",
            &[suanpan_store::sql::Value::Int(void.id.0)],
        )
    });
    assert!(second_void.is_err(), "a second approved void was stored");
    let other = approved(h.sale(500, APPROVE));
    let over_refund = suanpan_store::setup(&*h.store, |c, _| {
        c.exec(
            "UPDATE txns SET refunded_fen = amount_fen + 1 WHERE id = ?1",
            &[suanpan_store::sql::Value::Int(other.id.0)],
        )
    });
    assert!(over_refund.is_err(), "refunded above the original");
    assert_eq!(h.txn(other.id).refunded, Amount::ZERO);
    assert_eq!(
        h.snapshot().txns.len(),
        before.txns.len() + 1,
        "only the new sale was added"
    );
}

// --- payment channels -------------------------------------------------------------------------

#[test]
fn disabled_channel_refuses_purchases_and_completions_with_12() {
    // Goal: a channel switched off in the back-office refuses new money through it — a sale,
    // a wallet sale, the completion of an earlier pre-auth — with 12, one audit entry each and
    // nothing else changed; other channels go on; switched on again, the sale goes through.
    use suanpan_core::backoffice::BackOfficeRefused;
    use suanpan_store::backoffice::{Backoffice, StaffUser};
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let pre = approved(h.preauth(5_000, APPROVE));
    h.store.ensure_backoffice_schema().expect("back-office tables");
    let admin = StaffUser {
        id: 0,
        merchant_id: Some(merchant()),
        username: "admin".into(),
        name: "管理员".into(),
        role: suanpan_core::backoffice::StaffRole::Admin,
        operator_no: None,
    };
    let set = |channel: &str, on: bool| {
        let done = h.store.set_channel_enabled(&admin, channel, on, "测试", &[], &|_| Ok(()));
        assert_eq!(done.expect("set"), Ok(true));
    };
    // With the pre-auth unsettled, the rule (asked with the count taken inside the change's
    // transaction) refuses, and nothing changes.
    let rule = |n: u64| {
        if n == 0 {
            Ok(())
        } else {
            Err(BackOfficeRefused::ChannelUnsettled { count: n })
        }
    };
    let before = h.snapshot();
    let methods = suanpan_core::backoffice::Channel::Unionpay.methods();
    let names: Vec<&str> = methods.iter().map(|m| m.as_str()).collect();
    let refused = h.store.set_channel_enabled(&admin, "unionpay", false, "测试", &names, &rule);
    assert_eq!(
        refused.expect("set"),
        Err(BackOfficeRefused::ChannelUnsettled { count: 1 })
    );
    assert_eq!(h.snapshot(), before, "a refused change writes nothing");
    set("unionpay", false);
    let before = h.snapshot();
    h.assert_refused(&before, h.sale(1_000, APPROVE), "backoffice.channel_disabled");
    let before = h.snapshot();
    h.assert_refused(
        &before,
        h.complete(&rrn(&pre), 5_000),
        "backoffice.channel_disabled",
    );
    approved(h.wallet_sale(700, 0));
    set("alipay", false);
    let before = h.snapshot();
    h.assert_refused(&before, h.wallet_sale(700, 0), "backoffice.channel_disabled");
    set("unionpay", true);
    approved(h.sale(1_000, APPROVE));
    approved(h.complete(&rrn(&pre), 5_000));
}

// --- back-office conditional changes -----------------------------------------------------------

/// Runs `f` on both stores at once (released together by a barrier); returns both results.
fn at_once<T: Send>(a: &dyn Store, b: &dyn Store, f: impl Fn(&dyn Store) -> T + Sync) -> (T, T) {
    let gate = std::sync::Barrier::new(2);
    std::thread::scope(|s| {
        let one = s.spawn(|| {
            gate.wait();
            f(a)
        });
        let two = s.spawn(|| {
            gate.wait();
            f(b)
        });
        (one.join().expect("first"), two.join().expect("second"))
    })
}

#[test]
fn backoffice_conditional_changes_win_once_across_stores() {
    // Goal: two stores on one database (two nodes on PostgreSQL, two handles on SQLite) racing
    // the same TOTP step, the same idempotency key and the same request's approval: each
    // time exactly one wins, and the loser sees what the winner wrote.
    use suanpan_core::backoffice::{RequestKind, RequestStatus, StaffRole};
    use suanpan_store::backoffice::{Backoffice, IdemStart, NewRequest, Transition};
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let other = h.open_another();
    let (a, b) = (&*h.store, &*other);
    a.ensure_backoffice_schema().expect("back-office tables");
    let add = |name: &str, role: StaffRole, no: &str| {
        a.add_staff_hashed(&merchant(), name, name, role, Some(op(no)), "not-a-real-hash")
            .expect("add staff")
    };
    let cashier = add("cashier", StaffRole::Cashier, "01");
    let supervisor = add("supervisor", StaffRole::Supervisor, "00");
    for step in 1..=10 {
        let (x, y) = at_once(a, b, |s| s.use_totp_step(supervisor, step).expect("step"));
        assert!(x ^ y, "step {step} used once: {x} {y}");
    }
    for i in 0..10 {
        let key = format!("key-{i}");
        let (x, y) = at_once(a, b, |s| s.idem_begin(cashier, &key, "hash", jiff::Timestamp::UNIX_EPOCH)
                .expect("begin"));
        let mut got = [x, y];
        got.sort_by_key(|g| g != &IdemStart::New);
        assert_eq!(got, [IdemStart::New, IdemStart::InFlight], "{key}");
    }
    let user = a.staff_secret("cashier").expect("read").expect("cashier").user;
    let reviewer = a.staff_secret("supervisor").expect("read").expect("sup").user;
    for fen in 1..=5 {
        let sale = approved(h.sale(fen, APPROVE));
        let new = NewRequest {
            kind: RequestKind::Void,
            txn: sale.id,
            amount: sale.amount,
            reason: "顾客要求".into(),
            customer_consent: true,
            status: RequestStatus::Pending,
        };
        let id = a.create_request(&user, &new).expect("request");
        let q = a.request(&merchant(), id).expect("read").expect("request");
        let approve = Transition {
            reviewer: Some(reviewer.id),
            comment: "同意",
            execute_after: Some(h.now()),
            ..Transition::new(&q, "supervisor", "approve", RequestStatus::Pending, RequestStatus::Approved)
        };
        let (x, y) = at_once(a, b, |s| s.transition_request(&approve).expect("move"));
        assert!(x ^ y, "request {id} approved once: {x} {y}");
        let q = b.request(&merchant(), id).expect("read").expect("request");
        assert_eq!(q.status, "approved");
        assert_eq!(q.reviewed_by, Some(reviewer.id));
    }
}

// --- listings at scale -------------------------------------------------------------------------

#[test]
fn day_summary_stream_and_count_cover_every_row_past_the_page_size() {
    // Goal: no silent cap. With more rows than a listing page holds, the day's totals, the
    // export stream and the match count all equal what SQL sums over the whole journal.
    use suanpan_store::query::{self, LIST_ROWS_MAX};
    use suanpan_store::sql::SqlExt;
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let first = approved(h.sale(12_345, APPROVE));
    let pairs = LIST_ROWS_MAX + 1_234;
    suanpan_store::seed::refunded_sales(&*h.store, first.id, pairs, start()).unwrap();
    let merchant = first.merchant_id.to_string();
    let (sql_sales, sql_fen, sql_refunds) = suanpan_store::read(&*h.store, |c| {
        c.one(
            "SELECT SUM(CASE WHEN kind = 'sale' THEN 1 ELSE 0 END),
                    CAST(SUM(CASE WHEN kind = 'sale' THEN amount_fen ELSE 0 END) AS BIGINT),
                    SUM(CASE WHEN kind = 'refund' THEN 1 ELSE 0 END) FROM txns",
            &[],
            |r| Ok((r.i64(0)?, r.i64(1)?, r.i64(2)?)),
        )
    })
    .unwrap();
    assert!(sql_sales > i64::from(LIST_ROWS_MAX));
    let day_start = start().checked_sub(jiff::SignedDuration::from_hours(10)).unwrap();
    let day_end = day_start.checked_add(jiff::SignedDuration::from_hours(24)).unwrap();
    let day = suanpan_store::read(&*h.store, |c| {
        query::day_summary_in(c, &merchant, day_start, day_end)
    })
    .unwrap();
    assert_eq!(day.sales as i64, sql_sales);
    assert_eq!(day.volume_fen, sql_fen);
    assert_eq!(day.refunds as i64, sql_refunds);
    let by_hour: i64 = day.volume_by_hour.iter().map(|(_, fen)| fen).sum();
    assert_eq!(by_hour, sql_fen, "the chart's bars add up to the tile");
    assert_eq!(
        day.credits_by_operator,
        vec![("01".to_owned(), sql_refunds as u64)]
    );

    let sales = TxnFilter {
        kind: Some(TxnKind::Sale),
        ..TxnFilter::default()
    };
    let (mut n, mut fen) = (0i64, 0i64);
    let streamed = suanpan_store::read(&*h.store, |c| {
        query::stream_in(c, &sales, &mut |t| {
            n += 1;
            fen += t.amount.fen();
            Ok(())
        })
    })
    .unwrap();
    assert_eq!((streamed as i64, n, fen), (sql_sales, sql_sales, sql_fen));

    let page = h.store.transactions(&sales).unwrap();
    assert_eq!(page.len() as u32, LIST_ROWS_MAX, "one listing is one page");
    let count = |limit| {
        suanpan_store::read(&*h.store, |c| query::count_up_to_in(c, &sales, limit)).unwrap()
    };
    let exact = count(sql_sales as u64);
    assert_eq!((exact.count as i64, exact.exact), (sql_sales, true));
    let capped = count(100);
    assert_eq!((capped.count, capped.exact), (100, false), "said as \"more than\"");
    // The listings' bound: more sales than it are counted up to it and said as "more than".
    assert!(sql_sales as u64 > query::COUNT_EXACT_MAX);
    let listed = count(query::COUNT_EXACT_MAX);
    assert_eq!((listed.count, listed.exact), (query::COUNT_EXACT_MAX, false));
    let next = TxnFilter {
        before_id: Some(page[9].id.0),
        ..sales.clone()
    };
    let from_cursor = suanpan_store::read(&*h.store, |c| {
        query::count_up_to_in(c, &next, sql_sales as u64)
    })
    .unwrap();
    assert_eq!(from_cursor, exact, "the count is of the filter, not of the page");
}

/// Goal (issue 14): a terminal of another merchant naming this merchant's transaction — a
/// refund by reference no. or by id, a completion, a void by id — is answered exactly as when
/// the transaction does not exist: neither "another merchant's" nor its kind is told, and
/// nothing changes. (The API's completion told merchant B that A's #1 was a sale.)
#[test]
fn another_merchants_terminal_cannot_find_this_merchants_transactions() {
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let sale = approved(h.sale(5_000, "approve"));
    let b = suanpan_core::MerchantId::parse("898310048990002").expect("merchant");
    let b_terminal = suanpan_core::TerminalId::parse("23456789").expect("terminal");
    suanpan_store::admin::add_merchant(&*h.store, &b, "别家商户").expect("merchant");
    suanpan_store::admin::add_terminal(&*h.store, &b_terminal, &b, None).expect("terminal");
    let at_b = Origin {
        terminal_id: b_terminal.clone(),
        supervisor: Some(OperatorNo::SUPERVISOR),
        ..cashier()
    };
    let refund = |original: OriginalRef| Refund {
        origin: at_b.clone(),
        original,
        amount: Amount::from_fen(100),
        reason: "goods returned".to_owned(),
    };
    let complete = |original: OriginalRef| Complete {
        origin: at_b.clone(),
        original,
        amount: Amount::from_fen(100),
    };
    let void = |original: OriginalRef| Void {
        origin: at_b.clone(),
        kind: TxnKind::Void,
        original,
        amount: None,
        reason: "mistake".to_owned(),
        customer_consent: true,
        card_fingerprint: None,
    };
    // Each case: the refusal keys of the named original and of none at all.
    let check = |what: &str, run: &dyn Fn() -> (&'static str, &'static str)| {
        let before = h.snapshot();
        let (k1, k2) = run();
        assert_eq!(k1, k2, "{what}: answered as for nothing at all");
        let after = h.snapshot();
        assert_eq!(after.txns, before.txns, "{what}");
        assert_eq!(after.accounts, before.accounts, "{what}");
    };
    let unknown = suanpan_core::TxnId(987_654);
    check("refund by rrn", &|| {
        (
            refusal_key(h.exec(refund(OriginalRef::Rrn(rrn(&sale))))),
            refusal_key(h.exec(refund(OriginalRef::Rrn("999999999999".into())))),
        )
    });
    check("refund by id", &|| {
        (
            refusal_key(h.exec(refund(OriginalRef::Id(sale.id)))),
            refusal_key(h.exec(refund(OriginalRef::Id(unknown)))),
        )
    });
    check("completion", &|| {
        (
            refusal_key(h.exec(complete(OriginalRef::Id(sale.id)))),
            refusal_key(h.exec(complete(OriginalRef::Id(unknown)))),
        )
    });
    check("void", &|| {
        (
            refusal_key(h.exec(void(OriginalRef::Id(sale.id)))),
            refusal_key(h.exec(void(OriginalRef::Id(unknown)))),
        )
    });
}

// --- request hash ---------------------------------------------------------------------------

#[test]
fn the_request_hash_is_the_hmac_under_the_derived_key_every_time() {
    // Goal (issue 15, s18-speed): the store keeps the `request.hash` key after its first use;
    // the hashes stay those of a key derived afresh (rows stored before keep matching), the
    // same on every call, and apart for different parts.
    let Some(h) = Harness::on(BACKEND) else {
        return skipped();
    };
    let parts: [&[u8]; 2] = [b"0200", b"field 4"];
    let derived = h
        .store
        .keys()
        .derive(suanpan_store::keys::REQUEST_HASH_PURPOSE)
        .expect("derive");
    let expected = suanpan_store::keys::keyed_hash(&derived, &parts);
    assert_eq!(h.store.request_hash(&parts).expect("hash"), expected);
    assert_eq!(h.store.request_hash(&parts).expect("again"), expected);
    assert_ne!(h.store.request_hash(&[b"0200"]).expect("other"), expected);
}
