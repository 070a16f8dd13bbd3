//! Every bad input of the issue, through the `suanpan` binary: each is refused with a non-zero
//! exit, a zh message (en with `--lang en`) and a remedy, leaves the store unchanged (same
//! transactions, same money), and writes a `*.refused` audit entry where the rule says so.

mod common;

use assert_cmd::Command;
use common::*;
use serde_json::Value;

/// Runs `make()` three times — JSON in zh, JSON in en, text in zh — and asserts each is
/// refused with exit `code`, the zh/en message and a remedy, and that the store's
/// transactions and money did not change. Returns the audit entries the attempts added,
/// oldest first.
fn refused(d: &Demo, code: i32, make: impl Fn() -> Command, zh: &str, en: &str) -> Vec<Value> {
    let before = d.snapshot();
    let audit_before = d.audit_count();
    let (c, v) = run_json(&mut make());
    assert_eq!(c, code, "zh: {v:#}");
    assert_refusal(&v, zh);
    let (c, v) = run_json(make().args(["--lang", "en"]));
    assert_eq!(c, code, "en: {v:#}");
    assert_refusal(&v, en);
    let out = run(&mut make());
    assert_eq!(out.code, code, "{out:#?}");
    assert!(out.stderr.contains(zh), "text lacks {zh:?}: {out:#?}");
    assert!(
        out.stdout.is_empty(),
        "a refusal printed a result: {out:#?}"
    );
    assert_eq!(d.snapshot(), before, "the store changed");
    d.assert_sound();
    let added = d.audit_count() - audit_before;
    let mut entries = if added == 0 {
        Vec::new()
    } else {
        d.audit(added as u32)
    };
    entries.reverse();
    entries
}

/// Asserts that the three attempts of [`refused`] were each audited as `action` with the
/// refusal `key`.
fn assert_audited(entries: &[Value], action: &str, key: &str) {
    let hits = entries
        .iter()
        .filter(|e| e["action"] == action && e["outcome"] == format!("refused:{key}"))
        .count();
    assert_eq!(hits, 3, "want 3 × {action} {key}: {entries:#?}");
}

#[test]
fn malformed_amounts_are_refused() {
    // Goal: amounts with three decimals, a sign, letters, full-width digits or zero are
    // refused before anything is booked, each with its own message and the remedy.
    let d = Demo::new();
    for (amount, zh, en) in [
        ("12.345", "金额最多两位小数", "At most two decimals"),
        ("-1", "金额只能包含半角数字和小数点", "only ASCII digits"),
        ("abc", "金额只能包含半角数字和小数点", "only ASCII digits"),
        ("１２", "金额只能包含半角数字和小数点", "only ASCII digits"),
        ("0", "金额必须大于零", "must be above zero"),
    ] {
        refused(&d, 3, || d.sale_cmd(amount, CARD_OK), zh, en);
    }
    // The same rule guards refunds.
    let sale = d.sale("10.00", CARD_OK);
    refused(
        &d,
        3,
        || d.refund_cmd(&voucher(&sale), "1.001"),
        "金额最多两位小数",
        "At most two decimals",
    );
}

#[test]
fn unknown_terminal_is_refused_and_audited() {
    // Goal: a sale on an unregistered terminal is refused ("终端未登记") and audited.
    let d = Demo::new();
    let entries = refused(
        &d,
        3,
        || {
            let mut c = d.cmd();
            c.args([
                "txn",
                "sale",
                "--terminal",
                "99999999",
                "--operator",
                CASHIER,
            ])
            .args(["--amount", "1.00", "--card", CARD_OK])
            .operator_password(CASHIER_PW);
            c
        },
        "终端未登记",
        "Terminal not registered",
    );
    assert_audited(&entries, "login.refused", "access.unknown_terminal");
}

#[test]
fn unknown_operator_is_refused_and_audited() {
    // Goal: operator 55 does not exist: refused ("操作员不存在") and audited as a login refusal.
    let d = Demo::new();
    let entries = refused(
        &d,
        3,
        || {
            let mut c = d.cmd();
            c.args(["txn", "sale", "--terminal", TERMINAL, "--operator", "55"])
                .args(["--amount", "1.00", "--card", CARD_OK])
                .operator_password(CASHIER_PW);
            c
        },
        "操作员不存在",
        "No such operator",
    );
    assert_audited(&entries, "login.refused", "access.unknown_operator");
}

#[test]
fn wrong_operator_password_is_refused_and_audited() {
    // Goal: a wrong password is refused with the tries left and audited as `login.refused`.
    let d = Demo::new();
    let entries = refused(
        &d,
        3,
        || {
            let mut c = d.sale_cmd("1.00", CARD_OK);
            c.operator_password("9999");
            c
        },
        "操作员密码错误",
        "Wrong operator password",
    );
    assert_audited(&entries, "login.refused", "access.wrong_password");
}

#[test]
fn five_wrong_passwords_lock_the_operator() {
    // Goal: after 5 wrong passwords the operator is locked: the 6th attempt, with the RIGHT
    // password, is still refused with a lockout message; every attempt is audited; other
    // operators are not affected.
    let d = Demo::new();
    let before = d.snapshot();
    for left in (1..=4).rev() {
        let (code, v) = run_json(d.sale_cmd("1.00", CARD_OK).operator_password("9999"));
        assert_eq!(code, 3, "{v:#}");
        assert_refusal(&v, &format!("操作员密码错误，还可尝试 {left} 次"));
    }
    let (code, v) = run_json(d.sale_cmd("1.00", CARD_OK).operator_password("9999"));
    assert_eq!(code, 3, "{v:#}");
    assert_refusal(&v, "锁定");
    let (code, v) = run_json(&mut d.sale_cmd("1.00", CARD_OK));
    assert_eq!(code, 3, "right password let a locked operator in: {v:#}");
    assert_eq!(v["code"], "access.locked_out", "{v:#}");
    assert_refusal(&v, "密码错误次数过多，操作员已锁定至");
    let (code, v) = run_json(d.sale_cmd("1.00", CARD_OK).args(["--lang", "en"]));
    assert_eq!(code, 3);
    assert_refusal(&v, "locked until");
    assert_eq!(d.snapshot(), before, "the store changed");
    let logins: Vec<Value> = d
        .audit(7)
        .into_iter()
        .filter(|e| e["action"] == "login.refused")
        .collect();
    assert_eq!(logins.len(), 7, "{logins:#?}");
    assert!(
        logins
            .iter()
            .any(|e| e["outcome"] == "refused:access.locked_out")
    );
    assert!(
        logins
            .iter()
            .all(|e| e["target"] == format!("operator:{MERCHANT}/01"))
    );
    // The supervisor can still work.
    approved(
        d.cmd()
            .args([
                "txn",
                "sale",
                "--terminal",
                TERMINAL,
                "--operator",
                SUPERVISOR,
            ])
            .args(["--amount", "1.00", "--card", CARD_OK])
            .operator_password(SUPERVISOR_PW),
    );
    d.assert_sound();
}

#[test]
fn wrong_supervisor_password_is_refused_and_audited() {
    // Goal: a void authorized with a wrong supervisor password is refused, audited as
    // `supervisor.refused`, and the sale stays approved.
    let d = Demo::new();
    let sale = d.sale("10.00", CARD_OK);
    let entries = refused(
        &d,
        3,
        || {
            let mut c = d.void_cmd(&voucher(&sale));
            c.supervisor_password("654321");
            c
        },
        "主管密码错误",
        "Wrong supervisor password",
    );
    assert_audited(
        &entries,
        "supervisor.refused",
        "access.supervisor_wrong_password",
    );
    assert_eq!(d.txn(id(&sale))["status"], "approved");
}

#[test]
fn a_cashier_cannot_authorize_as_supervisor() {
    // Goal: naming a cashier (01) as the supervisor of a void is refused.
    let d = Demo::new();
    let sale = d.sale("10.00", CARD_OK);
    refused(
        &d,
        3,
        || {
            let mut c = d.counter("void");
            c.args(["--supervisor", CASHIER, "--voucher", &voucher(&sale)])
                .args(["--reason", "顾客取消", "--customer-consent"])
                .supervisor_password(CASHIER_PW);
            c
        },
        "此交易需要主管授权",
        "needs the supervisor",
    );
}

#[test]
fn void_of_a_void_is_refused() {
    // Goal: a void names a sale; voiding the void itself is refused and audited.
    let d = Demo::new();
    let sale = d.sale("10.00", CARD_OK);
    let void = approved(&mut d.void_cmd(&voucher(&sale)));
    let entries = refused(
        &d,
        3,
        || d.void_cmd(&voucher(&void)),
        "原交易类型（void）不能做此撤销",
        "The original (void) cannot be voided this way",
    );
    assert_audited(&entries, "void.refused", "void.wrong_kind");
}

#[test]
fn void_of_a_settled_sale_is_refused() {
    // Goal: after settlement the sale cannot be voided; the message sends the cashier to
    // refund.
    let d = Demo::new();
    let sale = d.sale("10.00", CARD_OK);
    d.settle(None);
    let entries = refused(
        &d,
        3,
        || d.void_cmd(&voucher(&sale)),
        "该交易已结算，不能撤销，请使用退货功能",
        "This sale is settled; use refund instead",
    );
    assert_audited(&entries, "void.refused", "void.settled");
}

#[test]
fn second_void_is_refused() {
    // Goal: a void happens once; the second is refused and audited.
    let d = Demo::new();
    let sale = d.sale("10.00", CARD_OK);
    approved(&mut d.void_cmd(&voucher(&sale)));
    let entries = refused(
        &d,
        3,
        || d.void_cmd(&voucher(&sale)),
        "该交易已撤销，不能重复撤销",
        "already voided",
    );
    assert_audited(&entries, "void.refused", "void.already_voided");
}

#[test]
fn void_of_a_refunded_sale_is_refused() {
    // Goal: a sale with a refund cannot be voided any more (the remedy: refund the rest).
    let d = Demo::new();
    let sale = d.sale("10.00", CARD_OK);
    approved(&mut d.refund_cmd(&voucher(&sale), "1.00"));
    let entries = refused(
        &d,
        3,
        || d.void_cmd(&voucher(&sale)),
        "该交易已有退货，不能撤销",
        "has refunds and cannot be voided",
    );
    assert_audited(&entries, "void.refused", "void.refunded");
}

#[test]
fn void_without_consent_or_reason_is_refused() {
    // Goal: a void needs the customer's consent and a reason.
    let d = Demo::new();
    let sale = d.sale("10.00", CARD_OK);
    refused(
        &d,
        3,
        || {
            let mut c = d.supervised("void");
            c.args(["--voucher", &voucher(&sale), "--reason", "顾客取消"]);
            c
        },
        "撤销须经顾客同意",
        "customer's consent",
    );
    refused(
        &d,
        3,
        || {
            let mut c = d.supervised("void");
            c.args(["--voucher", &voucher(&sale), "--reason", ""])
                .arg("--customer-consent");
            c
        },
        "请填写撤销原因",
        "A void needs a reason",
    );
}

#[test]
fn refund_over_the_remainder_is_refused() {
    // Goal: Σ refunds ≤ original: a refund above what remains is refused naming the
    // remainder, and audited.
    let d = Demo::new();
    let sale = d.sale("100.00", CARD_OK);
    approved(&mut d.refund_cmd(&voucher(&sale), "80.00"));
    let entries = refused(
        &d,
        3,
        || d.refund_cmd(&voucher(&sale), "20.01"),
        "退货金额超过可退金额 ¥20.00",
        "The refund exceeds the refundable ¥20.00",
    );
    assert_audited(&entries, "refund.refused", "refund.exceeds_remaining");
}

#[test]
fn refund_of_a_voided_sale_is_refused() {
    // Goal: a voided sale returned everything; a refund of it is refused and audited.
    let d = Demo::new();
    let sale = d.sale("10.00", CARD_OK);
    approved(&mut d.void_cmd(&voucher(&sale)));
    let entries = refused(
        &d,
        3,
        || d.refund_cmd(&voucher(&sale), "1.00"),
        "原交易已撤销，不能退货",
        "was voided and cannot be refunded",
    );
    assert_audited(&entries, "refund.refused", "refund.voided");
}

#[test]
fn hide_by_a_cashier_is_refused() {
    // Goal: only the admin (99) may hide ("delete") a record; a cashier is refused and the
    // attempt audited; the record stays visible.
    let d = Demo::new();
    let sale = d.sale("10.00", CARD_OK);
    let entries = refused(
        &d,
        3,
        || {
            let mut c = d.cmd();
            c.args(["txn", "hide", &id(&sale).to_string(), "--reason", "录错"])
                .args(["--operator", CASHIER])
                .operator_password(CASHIER_PW);
            c
        },
        "只有系统管理员（99）可以删除交易记录",
        "Only the system administrator (99) may delete records",
    );
    assert_audited(&entries, "hide.refused", "hide.not_admin");
    assert_eq!(d.list(&[]).len(), 1);
}

#[test]
fn hide_without_reason_is_refused() {
    // Goal: hiding a record needs a reason; an empty (or blank) one is refused and audited.
    let d = Demo::new();
    let sale = d.sale("10.00", CARD_OK);
    for reason in ["", "  "] {
        let entries = refused(
            &d,
            3,
            || {
                let mut c = d.cmd();
                c.args(["txn", "hide", &id(&sale).to_string(), "--reason", reason])
                    .operator_password(ADMIN_PW);
                c
            },
            "删除交易记录须填写原因",
            "Deleting a record needs a reason",
        );
        assert_audited(&entries, "hide.refused", "hide.reason_required");
    }
}

#[test]
fn unknown_card_is_refused() {
    // Goal: a well-formed card (valid Luhn) the issuer does not know is refused, audited, and
    // no transaction is booked.
    let d = Demo::new();
    let entries = refused(
        &d,
        3,
        || d.sale_cmd("1.00", "4111111111111111"),
        "卡片或钱包不存在",
        "Unknown card or wallet",
    );
    assert_audited(&entries, "sale.refused", "access.unknown_instrument");
}

#[test]
fn malformed_cards_are_refused() {
    // Goal: a card number with a wrong check digit, or of the wrong length, is refused at the
    // edge with a message that says which.
    let d = Demo::new();
    refused(
        &d,
        3,
        || d.sale_cmd("1.00", "4111111111111112"),
        "卡号校验位错误",
        "check digit is wrong",
    );
    refused(
        &d,
        3,
        || d.sale_cmd("1.00", "1234"),
        "卡号应为13至19位数字",
        "13 to 19 digits",
    );
}

#[test]
fn declined_cards_exit_3_and_are_booked_as_declined() {
    // Goal: the issuer's declines (51 insufficient funds, 54 expired, 41 lost, 43 stolen,
    // 55 wrong PIN) exit 3 with the code in JSON `response_code`, a message and a remedy in
    // zh and en; each declined attempt is booked as `declined` and moves no money.
    let d = Demo::new();
    let pin_sale = |pin: &str| {
        let mut c = d.sale_cmd("1.00", CARD_PIN);
        c.arg("--pin").pin(pin);
        c
    };
    type Make<'a> = Box<dyn Fn() -> Command + 'a>;
    let cases: Vec<(&str, Make, &str, &str)> = vec![
        (
            "51",
            Box::new(|| d.sale_cmd("20.00", CARD_NSF)),
            "余额不足",
            "Insufficient funds",
        ),
        (
            "54",
            Box::new(|| d.sale_cmd("1.00", CARD_EXPIRED)),
            "过期卡",
            "Expired card",
        ),
        (
            "41",
            Box::new(|| d.sale_cmd("1.00", CARD_LOST)),
            "挂失卡",
            "Lost card",
        ),
        (
            "43",
            Box::new(|| d.sale_cmd("1.00", CARD_STOLEN)),
            "被窃卡",
            "Stolen card",
        ),
        (
            "55",
            Box::new(|| pin_sale("000000")),
            "密码错",
            "Incorrect PIN",
        ),
    ];
    for (rc, make, zh, en) in cases {
        let before = d.snapshot();
        let (code, v) = run_json(&mut make());
        assert_eq!(code, 3, "{rc}: {v:#}");
        assert_eq!(v["response_code"], rc, "{v:#}");
        assert_eq!(v["declined"], true, "{v:#}");
        assert_refusal(&v, zh);
        let t = &v["transaction"];
        assert_eq!(t["status"], "declined", "{v:#}");
        assert_eq!(t["response_code"], rc, "{v:#}");
        let (code, v) = run_json(make().args(["--lang", "en"]));
        assert_eq!(code, 3);
        assert_refusal(&v, en);
        let after = d.snapshot();
        assert_eq!(after.conservation, before.conservation, "{rc} moved money");
        assert_eq!(
            after.transactions.len(),
            before.transactions.len() + 2,
            "{rc}: each decline is booked"
        );
        for booked in &after.transactions[..2] {
            assert_eq!(booked["status"], "declined");
            assert_eq!(booked["response_code"], rc);
        }
        assert_eq!(after.transactions[2..], before.transactions[..]);
        let audited = &d.audit(1)[0];
        assert_eq!(audited["outcome"], format!("declined:{rc}"), "{audited:#}");
    }
    // The right PIN is approved.
    approved(&mut pin_sale(CARD_PIN_PIN));
    d.assert_sound();
}

#[test]
fn missing_password_without_a_tty_writes_nothing() {
    // Goal: with no password in the environment and no terminal to prompt on, the command
    // fails with a clear error naming the variable to set, and writes nothing (no
    // transaction, no audit entry).
    let d = Demo::new();
    let sale = d.sale("10.00", CARD_OK);
    let before = d.snapshot();
    let audit_before = d.audit_count();
    let no_operator_pw = || {
        let mut c = d.cmd();
        c.args(["txn", "sale", "--terminal", TERMINAL, "--operator", CASHIER])
            .args(["--amount", "1.00", "--card", CARD_OK]);
        c
    };
    for lang in ["zh", "en"] {
        let out = run(no_operator_pw().args(["--lang", lang]));
        assert_ne!(out.code, 0, "{out:#?}");
        assert!(out.stderr.contains("SUANPAN_OPERATOR_PASSWORD"), "{out:#?}");
        assert!(out.stdout.is_empty(), "{out:#?}");
    }
    let (code, v) = run_json(&mut no_operator_pw());
    assert_ne!(code, 0);
    assert_eq!(v["ok"], false);
    // The supervisor's password is needed too for a void.
    let out = run(d
        .counter("void")
        .args(["--supervisor", SUPERVISOR, "--voucher", &voucher(&sale)])
        .args(["--reason", "顾客取消", "--customer-consent"]));
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("SUANPAN_SUPERVISOR_PASSWORD"),
        "{out:#?}"
    );
    assert_eq!(d.snapshot(), before, "the store changed");
    assert_eq!(d.audit_count(), audit_before, "something was audited");
    assert_eq!(d.txn(id(&sale))["status"], "approved");
}

#[test]
fn missing_password_message_is_translated_with_a_remedy() {
    // Goal: like every refusal, the missing-password error has a zh message and a separate
    // remedy (JSON `remedy`), not an English sentence mixed into the zh output.
    let d = Demo::new();
    let (code, v) = run_json(d.cmd().args([
        "txn",
        "sale",
        "--terminal",
        TERMINAL,
        "--operator",
        CASHIER,
        "--amount",
        "1.00",
        "--card",
        CARD_OK,
    ]));
    assert_ne!(code, 0);
    let remedy = v["remedy"].as_str().unwrap_or_default();
    assert!(!remedy.is_empty(), "no remedy: {v:#}");
    let message = v["message"].as_str().unwrap_or_default();
    assert!(
        !message.contains("set SUANPAN_OPERATOR_PASSWORD or run in a terminal"),
        "English text in the zh message: {v:#}"
    );
}

#[test]
fn sale_on_an_uninitialized_data_dir() {
    // Goal: a sale against a data directory that was never initialized says so
    // ("数据目录尚未初始化"), tells how to fix it (suanpan init), and creates nothing.
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("never-initialized");
    let sale = || {
        let mut c = suanpan(&dir);
        c.args(["txn", "sale", "--terminal", TERMINAL, "--operator", CASHIER])
            .args(["--amount", "1.00", "--card", CARD_OK])
            .operator_password(CASHIER_PW);
        c
    };
    let (code, v) = run_json(&mut sale());
    assert_ne!(code, 0, "{v:#}");
    assert_refusal(&v, "数据目录尚未初始化");
    assert!(
        v["remedy"]
            .as_str()
            .unwrap_or_default()
            .contains("suanpan init")
    );
    let (code, v) = run_json(sale().args(["--lang", "en"]));
    assert_ne!(code, 0);
    assert_refusal(&v, "not initialized");
    let out = run(&mut sale());
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("数据目录尚未初始化"), "{out:#?}");
    assert!(!dir.exists(), "the data directory was created");
}

#[test]
fn settle_totals_accept_zero_written_with_decimals() {
    // Goal: a terminal that reports no credits as "0.00" settles balanced, like "0".
    let d = Demo::new();
    d.sale("19.00", CARD_OK);
    let r = d.settle(Some("19.00,1,0.00,0"));
    assert_eq!(r["reconciliation"], "balanced", "{r:#}");
}

#[test]
fn sale_through_a_disabled_channel_is_refused_with_12() {
    // Goal: a payment channel an admin disabled in the back-office refuses the CLI's sale too
    // (the gate is in the store's engine): exit 3, "已停用", the response code 12, audited,
    // nothing booked; enabled again, the same sale goes through.
    use suanpan_store::backoffice::{Backoffice, StaffUser};
    let d = Demo::new();
    let admin = StaffUser {
        id: 0,
        merchant_id: Some(suanpan_core::MerchantId::parse(MERCHANT).expect("merchant")),
        username: "admin".into(),
        name: "管理员".into(),
        role: suanpan_core::backoffice::StaffRole::Admin,
        operator_no: None,
    };
    let set = |enabled: bool| {
        let store =
            suanpan_store::SqliteStore::open(&d.dir(), common::kek_options(&d)).expect("open");
        let done =
            store.set_channel_enabled(&admin, "unionpay", enabled, "测试", &[], &|_| Ok(()));
        assert_eq!(done.expect("set channel"), Ok(true));
    };
    set(false);
    let entries = refused(
        &d,
        3,
        || d.sale_cmd("1.00", CARD_OK),
        "已停用",
        "is disabled",
    );
    assert_audited(&entries, "sale.refused", "backoffice.channel_disabled");
    let (_, v) = run_json(&mut d.sale_cmd("1.00", CARD_OK));
    assert_eq!(v["response_code"], "12", "{v:#}");
    set(true);
    d.sale("1.00", CARD_OK);
}
