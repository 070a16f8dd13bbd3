//! The seeds' counter scenarios, end to end through the `suanpan` binary: each test starts
//! from a fresh demo store, plays one story at the counter, and ends with `check` (audit chain
//! intact, money conserved).

mod common;

use common::*;
use serde_json::Value;

#[test]
fn sale_receipts_print_in_both_copies_widths_and_languages() {
    // Goal: a sale's receipt prints as merchant and cardholder copy, at 32 and 48 columns, in
    // zh and en, fitting the paper, with the masked PAN only; printing is not audited.
    let d = Demo::new();
    let sale = d.sale("88.00", CARD_OK);
    let id = id(&sale).to_string();
    let audit_before = d.audit_count();
    for (lang, merchant, cardholder) in [
        ("zh", "商户存根", "持卡人存根"),
        ("en", "MERCHANT COPY", "CARDHOLDER COPY"),
    ] {
        for (copy, mark) in [("merchant", merchant), ("cardholder", cardholder)] {
            for width in [32usize, 48] {
                let out = run(d.cmd().args([
                    "--lang",
                    lang,
                    "receipt",
                    "print",
                    &id,
                    "--copy",
                    copy,
                    "--width",
                    &width.to_string(),
                ]))
                .ok();
                let text = out.stdout;
                assert!(text.contains(mark), "{lang}/{copy}/{width}:\n{text}");
                assert!(text.contains(CARD_OK_MASKED), "{text}");
                assert!(!text.contains(CARD_OK), "full PAN on paper:\n{text}");
                assert!(text.contains("88.00"), "{text}");
                assert!(text.contains(&voucher(&sale)), "{text}");
                assert!(
                    !text.contains("重打印") && !text.contains("REPRINT"),
                    "{text}"
                );
                for line in text.lines() {
                    assert!(
                        cells(line) <= width,
                        "{lang}/{copy}: line wider than {width}: {line:?}"
                    );
                }
            }
        }
    }
    assert_eq!(
        d.audit_count(),
        audit_before,
        "plain prints are not audited"
    );
    d.assert_sound();
}

#[test]
fn reprint_is_marked_and_audited() {
    // Goal: a reprint from history is marked 重打印 (REPRINT in English) and each reprint adds
    // a `receipt.reprint` audit entry naming the transaction.
    let d = Demo::new();
    let sale = d.sale("12.50", CARD_OK);
    let id = id(&sale).to_string();
    let out = run(d.cmd().args(["receipt", "print", &id, "--reprint"])).ok();
    assert!(out.stdout.contains("重打印"), "{}", out.stdout);
    let top = &d.audit(1)[0];
    assert_eq!(top["action"], "receipt.reprint", "{top:#}");
    assert_eq!(top["target"], format!("txn:{id}"), "{top:#}");
    let (code, v) = run_json(d.cmd().args([
        "--lang",
        "en",
        "receipt",
        "print",
        &id,
        "--reprint",
        "--copy",
        "cardholder",
        "--width",
        "48",
    ]));
    assert_eq!(code, 0);
    let receipt = v["receipt"].as_str().expect("receipt");
    assert!(receipt.contains("REPRINT"), "{receipt}");
    let reprints = d
        .audit(10)
        .iter()
        .filter(|e| e["action"] == "receipt.reprint")
        .count();
    assert_eq!(reprints, 2);
    d.assert_sound();
}

#[test]
fn void_by_voucher_marks_the_original_and_prints_the_original_voucher() {
    // Goal: a sale voided by voucher no. with supervisor 00, a reason and the customer's
    // consent is `voided`; the void records who approved and why, and its receipt shows
    // 原凭证号 with the original's voucher no.
    let d = Demo::new();
    let sale = d.sale("88.00", CARD_OK);
    let before = d.card_available_fen(CARD_OK);
    let void = approved(&mut d.void_cmd(&voucher(&sale)));
    assert_eq!(void["kind"], "void");
    assert_eq!(void["amount_fen"], 8800);
    assert_eq!(void["supervisor"], "00");
    assert_eq!(void["reason"], "顾客取消");
    assert_eq!(void["customer_consent"], true);
    assert_eq!(void["original_id"], sale["id"]);
    let orig = d.txn(id(&sale));
    assert_eq!(orig["status"], "voided", "{orig:#}");
    assert_eq!(orig["refundable_fen"], 0, "{orig:#}");
    assert_eq!(d.card_available_fen(CARD_OK), before + 8800);
    let out = run(d.cmd().args(["receipt", "print", &id(&void).to_string()])).ok();
    assert!(out.stdout.contains("原凭证号"), "{}", out.stdout);
    assert!(out.stdout.contains(&voucher(&sale)), "{}", out.stdout);
    assert!(out.stdout.contains("消费撤销"), "{}", out.stdout);
    let audited = d.audit(10).into_iter().find(|e| e["action"] == "void");
    let entry = audited.expect("void audited");
    assert_eq!(entry["target"], format!("txn:{}", id(&void)));
    assert_eq!(entry["reason"], "顾客取消");
    d.assert_sound();
}

#[test]
fn void_by_rrn() {
    // Goal: the original of a void can be named by its reference no. (参考号).
    let d = Demo::new();
    let _other = d.sale("1.00", CARD_OK);
    let sale = d.sale("20.00", CARD_OK);
    let rrn = sale["rrn"].as_str().expect("rrn").to_owned();
    let void = approved(d.supervised("void").args([
        "--rrn",
        &rrn,
        "--reason",
        "金额输错",
        "--customer-consent",
    ]));
    assert_eq!(void["original_id"], sale["id"]);
    assert_eq!(d.txn(id(&sale))["status"], "voided");
    assert_eq!(d.txn(id(&_other))["status"], "approved");
    d.assert_sound();
}

#[test]
fn settled_sale_cannot_be_voided_but_can_be_refunded() {
    // Goal: once settled, a sale's void is refused (exit 3) with the zh message
    // "该交易已结算，不能撤销，请使用退货功能" (en "This sale is settled; use refund instead"),
    // and the refund the message points to works.
    let d = Demo::new();
    let sale = d.sale("50.00", CARD_OK);
    d.settle(None);
    let out = run(&mut d.void_cmd(&voucher(&sale))).code(3);
    assert!(
        out.stderr
            .contains("该交易已结算，不能撤销，请使用退货功能"),
        "{}",
        out.stderr
    );
    let out = run(d.void_cmd(&voucher(&sale)).args(["--lang", "en"])).code(3);
    assert!(
        out.stderr
            .contains("This sale is settled; use refund instead"),
        "{}",
        out.stderr
    );
    // The voucher no. names the open batch; a settled original is named by its RRN or id.
    let refund = approved(d.supervised("refund").args([
        "--rrn",
        sale["rrn"].as_str().expect("rrn"),
        "--amount",
        "50.00",
        "--reason",
        "顾客退货",
    ]));
    assert_eq!(refund["kind"], "refund");
    assert_eq!(refund["original_id"], sale["id"]);
    assert_eq!(d.txn(id(&sale))["status"], "refunded");
    d.assert_sound();
}

#[test]
fn partial_refunds_up_to_the_original_then_the_remainder_is_refused() {
    // Goal: refunds may be partial and repeated up to the original; one over the remainder is
    // refused naming the remaining amount; `txn show` tracks refundable_fen and history.
    let d = Demo::new();
    let sale = d.sale("100.00", CARD_OK);
    let v = voucher(&sale);
    approved(&mut d.refund_cmd(&v, "30.00"));
    approved(&mut d.refund_cmd(&v, "50"));
    let shown = d.show(id(&sale));
    assert_eq!(shown["transaction"]["status"], "partially_refunded");
    assert_eq!(shown["transaction"]["refundable_fen"], 2000);
    assert_eq!(shown["transaction"]["refunded_fen"], 8000);
    let history = shown["history"].as_array().expect("history");
    assert_eq!(history.len(), 2);
    assert!(history.iter().all(|h| h["kind"] == "refund"));
    let (code, refused) = run_json(&mut d.refund_cmd(&v, "30.00"));
    assert_eq!(code, 3);
    assert_refusal(&refused, "退货金额超过可退金额 ¥20.00");
    let out = run(d.refund_cmd(&v, "20.01").args(["--lang", "en"])).code(3);
    assert!(
        out.stderr
            .contains("The refund exceeds the refundable ¥20.00"),
        "{}",
        out.stderr
    );
    approved(&mut d.refund_cmd(&v, "20.00"));
    let t = d.txn(id(&sale));
    assert_eq!(t["status"], "refunded");
    assert_eq!(t["refundable_fen"], 0);
    let text = run(d.cmd().args(["txn", "show", &id(&sale).to_string()])).ok();
    assert!(text.stdout.contains("可退金额"), "{}", text.stdout);
    d.assert_sound();
}

#[test]
fn voided_sale_cannot_be_refunded() {
    // Goal: a voided original already returned everything, so a refund of it is refused.
    let d = Demo::new();
    let sale = d.sale("10.00", CARD_OK);
    approved(&mut d.void_cmd(&voucher(&sale)));
    let (code, v) = run_json(&mut d.refund_cmd(&voucher(&sale), "1.00"));
    assert_eq!(code, 3);
    assert_refusal(&v, "原交易已撤销，不能退货");
    d.assert_sound();
}

#[test]
fn preauth_complete_within_115_percent_then_completion_void() {
    // Goal: a pre-authorization is completed up to 115% of its hold (116% refused), and the
    // completion can be voided by the supervisor; the card's credit comes back whole.
    let d = Demo::new();
    let line = d.card_available_fen(CARD_CREDIT);
    assert_eq!(line, CARD_CREDIT_LINE_FEN);
    let pre = approved(
        d.counter("preauth")
            .args(["--amount", "100.00", "--card", CARD_CREDIT]),
    );
    assert_eq!(pre["kind"], "preauth");
    assert_eq!(d.card_available_fen(CARD_CREDIT), line - 10_000, "held");
    let (code, v) =
        run_json(
            d.counter("complete")
                .args(["--voucher", &voucher(&pre), "--amount", "115.01"]),
        );
    assert_eq!(code, 3);
    assert_refusal(&v, "完成金额超过预授权金额的上限 ¥115.00");
    let done =
        approved(
            d.counter("complete")
                .args(["--voucher", &voucher(&pre), "--amount", "115.00"]),
        );
    assert_eq!(done["kind"], "completion");
    assert_eq!(done["amount_fen"], 11_500);
    assert_eq!(done["original_id"], pre["id"]);
    assert_eq!(d.card_available_fen(CARD_CREDIT), line - 11_500);
    let cv = approved(d.supervised("complete-void").args([
        "--voucher",
        &voucher(&done),
        "--reason",
        "金额输错",
        "--customer-consent",
    ]));
    assert_eq!(cv["kind"], "completion_void");
    assert_eq!(d.txn(id(&done))["status"], "voided");
    assert_eq!(d.card_available_fen(CARD_CREDIT), line);
    d.assert_sound();
}

#[test]
fn preauth_void_releases_the_hold() {
    // Goal: a pre-auth void (supervisor, reason) marks the pre-auth voided and frees the hold.
    let d = Demo::new();
    let line = d.card_available_fen(CARD_CREDIT);
    let pre = approved(
        d.counter("preauth")
            .args(["--amount", "50.00", "--card", CARD_CREDIT]),
    );
    assert_eq!(d.card_available_fen(CARD_CREDIT), line - 5_000);
    let pv = approved(d.supervised("preauth-void").args([
        "--voucher",
        &voucher(&pre),
        "--reason",
        "顾客取消",
    ]));
    assert_eq!(pv["kind"], "preauth_void");
    assert_eq!(d.txn(id(&pre))["status"], "voided");
    assert_eq!(d.card_available_fen(CARD_CREDIT), line);
    d.assert_sound();
}

#[test]
fn balance_inquiry_shows_the_available_balance() {
    // Goal: a balance inquiry answers the card's available balance, in JSON (fen and yuan)
    // and as a labelled line for people.
    let d = Demo::new();
    let v = approved(d.counter("balance").args(["--card", CARD_OK]));
    assert_eq!(v["kind"], "balance");
    assert_eq!(v["available_fen"], CARD_OK_BALANCE_FEN);
    assert_eq!(v["available"], "100000.00");
    let out = run(d.counter("balance").args(["--card", CARD_OK])).ok();
    assert!(out.stdout.contains("可用余额"), "{}", out.stdout);
    assert!(out.stdout.contains("100,000.00"), "{}", out.stdout);
    let out = run(d
        .counter("balance")
        .args(["--lang", "en", "--card", CARD_OK]))
    .ok();
    assert!(out.stdout.contains("Available balance"), "{}", out.stdout);
    d.assert_sound();
}

#[test]
fn qr_wallet_sale() {
    // Goal: a QR wallet pays a sale under its own network (Alipay) and its balance drops.
    let d = Demo::new();
    let sale = approved(
        d.counter("sale")
            .args(["--amount", "10.00", "--wallet", WALLET_ALIPAY]),
    );
    assert_eq!(sale["method"], "qr_alipay");
    assert_eq!(sale["wallet_id"], WALLET_ALIPAY);
    assert_eq!(sale["masked_pan"], Value::Null);
    let bal = approved(d.counter("balance").args(["--wallet", WALLET_ALIPAY]));
    assert_eq!(bal["available_fen"], WALLET_ALIPAY_BALANCE_FEN - 1_000);
    assert_eq!(
        d.list(&["--method", "qr_alipay", "--kind", "sale"]).len(),
        1
    );
    d.assert_sound();
}

#[test]
fn reversal_restores_the_balance_and_a_second_one_has_nothing_to_reverse() {
    // Goal: `txn reverse` of a sale gives the money back (balance before = after), marks the
    // sale reversed, and a repeated reversal answers "nothing to reverse" with exit 0.
    let d = Demo::new();
    let before = d.card_available_fen(CARD_OK);
    let sale = d.sale("10.00", CARD_OK);
    assert_eq!(d.card_available_fen(CARD_OK), before - 1_000);
    let rev = approved(d.cmd().args([
        "txn",
        "reverse",
        "--terminal",
        TERMINAL,
        "--voucher",
        &voucher(&sale),
    ]));
    assert_eq!(rev["kind"], "reversal");
    assert_eq!(d.card_available_fen(CARD_OK), before);
    assert_eq!(d.txn(id(&sale))["status"], "reversed");
    let (code, v) = run_json(d.cmd().args([
        "txn",
        "reverse",
        "--terminal",
        TERMINAL,
        "--voucher",
        &voucher(&sale),
    ]));
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["ok"], true);
    assert_eq!(v["reversed"], false);
    let out = run(d.cmd().args([
        "txn",
        "reverse",
        "--terminal",
        TERMINAL,
        "--voucher",
        &voucher(&sale),
    ]))
    .ok();
    assert!(out.stdout.contains("无需冲正"), "{}", out.stdout);
    assert_eq!(d.card_available_fen(CARD_OK), before);
    d.assert_sound();
}

#[test]
fn batch_status_shows_running_totals() {
    // Goal: `batch status` counts approved sales as debits and refunds as credits; a voided
    // sale and its void count nowhere; declined and balance inquiries are not money.
    let d = Demo::new();
    d.sale("12.50", CARD_OK);
    let s2 = d.sale("30.00", CARD_OK);
    let s3 = d.sale("7.00", CARD_OK);
    approved(&mut d.refund_cmd(&voucher(&s2), "5.00"));
    approved(&mut d.void_cmd(&voucher(&s3)));
    run(&mut d.sale_cmd("20.00", CARD_NSF)).code(3);
    d.card_available_fen(CARD_OK);
    let (code, v) = run_json(d.cmd().args(["batch", "status", "--terminal", TERMINAL]));
    assert_eq!(code, 0);
    assert_eq!(v["batch_no"], "000001");
    let t = &v["totals"];
    assert_eq!(t["debit_count"], 2, "{v:#}");
    assert_eq!(t["debit_fen"], 4_250, "{v:#}");
    assert_eq!(t["credit_count"], 1, "{v:#}");
    assert_eq!(t["credit_fen"], 500, "{v:#}");
    assert_eq!(t["net_fen"], 3_750, "{v:#}");
    let out = run(d.cmd().args(["batch", "status", "--terminal", TERMINAL])).ok();
    assert!(out.stdout.contains("批次号"), "{}", out.stdout);
    d.assert_sound();
}

#[test]
fn settlement_balanced_with_matching_totals() {
    // Goal: settling with the terminal's own totals equal to the host's is balanced, with no
    // differences, prints 结算单 … 对账平, and opens the next batch.
    let d = Demo::new();
    d.sale("12.50", CARD_OK);
    let s = d.sale("30.00", CARD_OK);
    approved(&mut d.refund_cmd(&voucher(&s), "5.00"));
    let r = d.settle(Some("42.50,2,5.00,1"));
    assert_eq!(r["reconciliation"], "balanced", "{r:#}");
    assert_eq!(r["differences"], serde_json::json!([]), "{r:#}");
    assert_eq!(r["batch_no"], "000001");
    assert_eq!(r["next_batch_no"], "000002");
    let slip = r["slip"].as_str().expect("slip");
    assert!(slip.contains("结算单") && slip.contains("对账平"), "{slip}");
    let (_, st) = run_json(d.cmd().args(["batch", "status", "--terminal", TERMINAL]));
    assert_eq!(st["batch_no"], "000002");
    assert_eq!(st["totals"]["net_fen"], 0);
    assert!(
        d.list(&["--kind", "sale"])
            .iter()
            .all(|t| t["settled"] == true)
    );
    d.assert_sound();
}

#[test]
fn settlement_unbalanced_names_the_differences() {
    // Goal: when the terminal's totals differ, the result is unbalanced and names each field
    // that differs with the host's and the terminal's value (never just "data mismatch").
    let d = Demo::new();
    d.sale("12.50", CARD_OK);
    let r = d.settle(Some("100.50,2,0,0"));
    assert_eq!(r["reconciliation"], "unbalanced", "{r:#}");
    let diffs = r["differences"].as_array().expect("differences");
    let field = |name: &str| {
        diffs
            .iter()
            .find(|x| x["field"] == name)
            .unwrap_or_else(|| panic!("no difference {name}: {r:#}"))
            .clone()
    };
    assert_eq!(field("debit_count")["host"], 1);
    assert_eq!(field("debit_count")["terminal"], 2);
    assert_eq!(field("debit_amount")["host"], 1_250);
    assert_eq!(field("debit_amount")["terminal"], 10_050);
    assert_eq!(diffs.len(), 2, "credits agree: {r:#}");
    // For people: the slip and a hint on stderr.
    d.sale("1.00", CARD_OK);
    let out = run(d
        .cmd()
        .args([
            "batch",
            "settle",
            "--terminal",
            TERMINAL,
            "--totals",
            "9.00,1,0,0",
        ])
        .operator_password(SUPERVISOR_PW))
    .ok();
    assert!(out.stdout.contains("对账不平"), "{}", out.stdout);
    assert!(out.stderr.contains("对账不平"), "{}", out.stderr);
    d.assert_sound();
}

#[test]
fn settle_all_due_settles_nothing_on_the_batch_s_own_business_day() {
    // Goal: `batch settle --all-due` only settles batches whose business day has passed; even
    // with a cutoff already passed today (00:00) today's batch is not due: nothing settled,
    // exit 0, and the open batch is untouched.
    let d = Demo::new();
    d.sale("12.50", CARD_OK);
    std::fs::write(
        d.dir().join("suanpan.toml"),
        "[policy]\ncutoff = \"00:00\"\n",
    )
    .expect("config");
    let (code, v) = run_json(d.cmd().args(["batch", "settle", "--all-due"]));
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["settlements"], serde_json::json!([]), "{v:#}");
    let out = run(d.cmd().args(["batch", "settle", "--all-due"])).ok();
    assert!(
        out.stdout.contains("没有到期需要结算的批次"),
        "{}",
        out.stdout
    );
    let (_, st) = run_json(d.cmd().args(["batch", "status", "--terminal", TERMINAL]));
    assert_eq!(st["batch_no"], "000001");
    assert_eq!(st["due"], false);
    assert_eq!(st["totals"]["debit_fen"], 1_250);
    d.assert_sound();
}

#[test]
fn settle_all_due_tells_which_batch_it_left_open_and_why() {
    // Goal (s27-passed, end to end with the real clock): a due batch of a suspended merchant
    // is left open by `batch settle --all-due`, which says so in the reader's language (zh and
    // en, text and --json) and exits non-zero; once the merchant is reinstated the same
    // command settles it and exits 0.
    let d = Demo::new();
    d.sale("12.50", CARD_OK);
    // The batch opened two days ago: its business day has passed whatever the cutoff.
    let db = rusqlite::Connection::open(d.dir().join("suanpan.db")).expect("store");
    let moved = db
        .execute(
            "UPDATE batches SET opened_at = opened_at - 172800000000
              WHERE terminal_id = ?1 AND settled_at IS NULL",
            [TERMINAL],
        )
        .expect("move the batch back");
    assert_eq!(moved, 1);
    drop(db);
    let (_, st) = run_json(d.cmd().args(["batch", "status", "--terminal", TERMINAL]));
    assert_eq!(st["due"], true, "{st:#}");
    let suspend = run(d.cmd().args([
        "admin",
        "merchant",
        "suspend",
        "--id",
        MERCHANT,
        "--reason",
        "风险核查",
    ]));
    assert_eq!(suspend.code, 0, "{}", suspend.text());

    let (code, v) = run_json(d.cmd().args(["batch", "settle", "--all-due"]));
    assert_ne!(code, 0, "a due batch left open is not a success: {v:#}");
    assert_eq!(v["ok"], false, "{v:#}");
    assert_eq!(v["settlements"], serde_json::json!([]), "{v:#}");
    let left = v["not_settled"].as_array().expect("not_settled");
    assert_eq!(left.len(), 1, "{v:#}");
    assert_eq!(left[0]["terminal_id"], TERMINAL);
    assert_eq!(left[0]["code"], "access.merchant_not_active");
    let zh = run(d.cmd().args(["batch", "settle", "--all-due"]));
    assert_ne!(zh.code, 0);
    assert!(
        zh.stdout
            .contains(&format!("终端 {TERMINAL} 的批次未结算，保持未结")),
        "{}",
        zh.stdout
    );
    assert!(
        !zh.stdout.contains("access."),
        "no internal code: {}",
        zh.stdout
    );
    let en = run(d
        .cmd()
        .args(["--lang", "en", "batch", "settle", "--all-due"]));
    assert_ne!(en.code, 0);
    assert!(
        en.stdout.contains(&format!(
            "Terminal {TERMINAL}: its batch was not settled and stays open"
        )),
        "{}",
        en.stdout
    );
    // The batch left open can be read (a suspended merchant's records are read-only, not
    // hidden), with why it may not trade, in the reader's language.
    let (code, st) = run_json(d.cmd().args(["batch", "status", "--terminal", TERMINAL]));
    assert_eq!(code, 0, "{st:#}");
    assert_eq!(st["batch_no"], "000001", "{st:#}");
    assert_eq!(st["due"], true, "{st:#}");
    assert_eq!(st["totals"]["debit_fen"], 1_250, "{st:#}");
    assert_eq!(
        st["refused"]["code"], "access.merchant_not_active",
        "{st:#}"
    );
    let text = run(d.cmd().args(["batch", "status", "--terminal", TERMINAL])).ok();
    assert!(text.stdout.contains("000001"), "{}", text.stdout);
    assert!(text.stdout.contains("暂停"), "{}", text.stdout);
    assert!(!text.stdout.contains("access."), "{}", text.stdout);

    let back = run(d
        .cmd()
        .args(["admin", "merchant", "activate", "--id", MERCHANT]));
    assert_eq!(back.code, 0, "{}", back.text());
    // Nothing was settled meanwhile: the batch and its sale are where they were.
    let (_, st) = run_json(d.cmd().args(["batch", "status", "--terminal", TERMINAL]));
    assert_eq!(st["batch_no"], "000001", "{st:#}");
    assert_eq!(st["due"], true, "{st:#}");
    assert_eq!(st["totals"]["debit_fen"], 1_250, "{st:#}");
    assert_eq!(st["refused"], serde_json::Value::Null, "{st:#}");
    let (code, v) = run_json(d.cmd().args(["batch", "settle", "--all-due"]));
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["ok"], true, "{v:#}");
    assert_eq!(v["not_settled"], serde_json::json!([]), "{v:#}");
    let settled = v["settlements"].as_array().expect("settlements");
    assert_eq!(settled.len(), 1, "{v:#}");
    assert_eq!(settled[0]["terminal_id"], TERMINAL);
    assert_eq!(settled[0]["batch_no"], "000001");
    assert_eq!(settled[0]["totals"]["debit_fen"], 1_250, "{v:#}");
    d.assert_sound();
}

/// The local (Asia/Shanghai) date of a transaction, read off its receipt.
fn local_date(d: &Demo, id: i64) -> String {
    let out = run(d.cmd().args(["receipt", "print", &id.to_string()])).ok();
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("日期/时间"))
        .expect("date line")
        .to_owned();
    let date = line
        .split_whitespace()
        .find(|w| w.len() == 10 && w.as_bytes()[4] == b'-')
        .expect("date");
    date.to_owned()
}

#[test]
fn txn_list_filters() {
    // Goal: every `txn list` filter narrows the rows to exactly those that match, and the
    // pages (--limit/--offset) slice the newest-first list.
    let d = Demo::new();
    let a = d.sale("12.50", CARD_OK);
    let b = approved(
        d.cmd()
            .args([
                "txn",
                "sale",
                "--terminal",
                TERMINAL,
                "--operator",
                SUPERVISOR,
            ])
            .args(["--amount", "88.00", "--card", CARD_CREDIT])
            .operator_password(SUPERVISOR_PW),
    );
    let w = approved(
        d.counter("sale")
            .args(["--amount", "5.00", "--wallet", WALLET_ALIPAY]),
    );
    let r = approved(&mut d.refund_cmd(&voucher(&a), "2.00"));
    let all = d.list(&[]);
    assert_eq!(all.len(), 4);
    let ids: Vec<i64> = all.iter().map(id).collect();
    assert_eq!(ids, vec![id(&r), id(&w), id(&b), id(&a)], "newest first");
    let only = |filter: &[&str]| -> Vec<i64> { d.list(filter).iter().map(id).collect() };
    assert_eq!(only(&["--kind", "refund"]), vec![id(&r)]);
    assert_eq!(only(&["--kind", "sale"]), vec![id(&w), id(&b), id(&a)]);
    assert_eq!(only(&["--status", "partially_refunded"]), vec![id(&a)]);
    assert_eq!(
        only(&["--status", "approved", "--kind", "sale"]),
        vec![id(&w), id(&b)]
    );
    assert_eq!(only(&["--min", "10", "--max", "50"]), vec![id(&a)]);
    assert_eq!(only(&["--min", "12.50"]), vec![id(&b), id(&a)]);
    assert_eq!(only(&["--max", "5.00"]), vec![id(&r), id(&w)]);
    assert_eq!(only(&["--voucher", &voucher(&b)]), vec![id(&b)]);
    assert_eq!(
        only(&["--rrn", w["rrn"].as_str().expect("rrn")]),
        vec![id(&w)]
    );
    assert_eq!(only(&["--operator", SUPERVISOR]), vec![id(&b)]);
    assert_eq!(only(&["--operator", CASHIER]), vec![id(&r), id(&w), id(&a)]);
    assert_eq!(only(&["--terminal", TERMINAL]).len(), 4);
    assert!(only(&["--terminal", "87654321"]).is_empty());
    assert_eq!(only(&["--method", "qr_alipay"]), vec![id(&w)]);
    let today = local_date(&d, id(&a));
    let today_r = local_date(&d, id(&r));
    if today == today_r {
        assert_eq!(only(&["--from", &today, "--to", &today]).len(), 4);
    }
    assert!(only(&["--from", "2000-01-01", "--to", "2000-01-31"]).is_empty());
    let (_, page) = run_json(
        d.cmd()
            .args(["txn", "list", "--limit", "2", "--offset", "1"]),
    );
    let page_ids: Vec<i64> = page["transactions"]
        .as_array()
        .expect("rows")
        .iter()
        .map(id)
        .collect();
    assert_eq!(page_ids, ids[1..3].to_vec());
    assert_eq!(page["limit"], 2);
    assert_eq!(page["offset"], 1);
    let out = run(d.cmd().args(["txn", "list", "--kind", "refund"])).ok();
    assert!(out.stdout.contains("共 1 条"), "{}", out.stdout);
    d.assert_sound();
}

#[test]
fn txn_show_has_refundable_amount_and_history() {
    // Goal: `txn show` gives every transaction's remaining refundable amount and the history
    // of what was done to it.
    let d = Demo::new();
    let sale = d.sale("60.00", CARD_OK);
    let r = approved(&mut d.refund_cmd(&voucher(&sale), "15.00"));
    let v = d.show(id(&sale));
    assert_eq!(v["ok"], true);
    assert_eq!(v["transaction"]["refundable_fen"], 4_500);
    let h = v["history"].as_array().expect("history");
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["id"], r["id"]);
    assert_eq!(h[0]["original_id"], sale["id"]);
    d.assert_sound();
}

#[test]
fn hide_by_admin_keeps_the_record_for_include_hidden() {
    // Goal: the admin (99) hides a record with a reason: it leaves the default list, stays
    // visible with --include-hidden (flagged hidden), and the hide is audited.
    let d = Demo::new();
    let keep = d.sale("1.00", CARD_OK);
    let gone = d.sale("2.00", CARD_OK);
    let (code, v) = run_json(
        d.cmd()
            .args([
                "txn",
                "hide",
                &id(&gone).to_string(),
                "--reason",
                "测试录入",
            ])
            .operator_password(ADMIN_PW),
    );
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["hidden"], gone["id"]);
    let visible: Vec<i64> = d.list(&[]).iter().map(id).collect();
    assert_eq!(visible, vec![id(&keep)]);
    let all = d.list(&["--include-hidden"]);
    assert_eq!(all.len(), 2);
    let hidden = all
        .iter()
        .find(|t| t["id"] == gone["id"])
        .expect("hidden row");
    assert_eq!(hidden["hidden"], true);
    let top = &d.audit(1)[0];
    assert_eq!(top["action"], "hide", "{top:#}");
    assert_eq!(top["target"], format!("txn:{}", id(&gone)));
    assert_eq!(top["reason"], "测试录入");
    d.assert_sound();
}

#[test]
fn export_csv_has_bom_masked_pans_and_yuan() {
    // Goal: the CSV export opens in Excel with Chinese intact (UTF-8 BOM), shows only masked
    // PANs (never the full number) and amounts in yuan.
    let d = Demo::new();
    d.sale("88.00", CARD_OK);
    d.sale("1.00", CARD_CREDIT);
    let file = d.dir().join("day.csv");
    let (code, v) = run_json(d.cmd().args(["export", "--format", "csv", "-o"]).arg(&file));
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["rows"], 2);
    let bytes = std::fs::read(&file).expect("csv");
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF");
    let text = String::from_utf8(bytes[3..].to_vec()).expect("utf-8");
    assert!(text.contains(CARD_OK_MASKED), "{text}");
    assert!(!text.contains(CARD_OK), "full PAN exported:\n{text}");
    assert!(!text.contains(CARD_CREDIT), "full PAN exported:\n{text}");
    assert!(text.contains("88.00"), "{text}");
    assert!(text.contains("金额(元)"), "{text}");
    assert!(text.contains(",消费,成功,"), "words for people: {text}");
    assert!(text.contains("00 交易成功"), "{text}");
    assert!(!text.contains(",sale,"), "{text}");
    let raw = d.dir().join("day-raw.csv");
    run(d
        .cmd()
        .args(["export", "--format", "csv", "--raw", "-o"])
        .arg(&raw))
    .ok();
    let text = std::fs::read_to_string(&raw).expect("csv");
    assert!(
        text.contains(",sale,approved,"),
        "codes for programs: {text}"
    );
    let en = d.dir().join("day-en.csv");
    run(d
        .cmd()
        .args(["--lang", "en", "export", "--format", "csv", "-o"])
        .arg(&en))
    .ok();
    let text = std::fs::read_to_string(&en).expect("csv");
    assert!(text.contains("amount_yuan"), "{text}");
    assert!(text.contains(",Sale,Approved,"), "{text}");
    d.assert_sound();
}

#[test]
fn export_xlsx_writes_a_workbook() {
    // Goal: the XLSX export writes a zip workbook (PK magic) and leaves no partial file.
    let d = Demo::new();
    d.sale("88.00", CARD_OK);
    let file = d.dir().join("day.xlsx");
    let (code, v) = run_json(
        d.cmd()
            .args(["export", "--format", "xlsx", "-o"])
            .arg(&file),
    );
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["rows"], 1);
    let bytes = std::fs::read(&file).expect("xlsx");
    assert!(bytes.len() > 100);
    assert_eq!(&bytes[..4], b"PK\x03\x04");
    assert!(!d.dir().join("day.partial").exists());
    d.assert_sound();
}

#[test]
fn audit_verify_and_list() {
    // Goal: after a day's work `audit verify` says the chain is intact and `audit list --json`
    // returns newest-first entries, each chained to the one before by its hash.
    let d = Demo::new();
    let s = d.sale("10.00", CARD_OK);
    approved(&mut d.void_cmd(&voucher(&s)));
    let (code, v) = run_json(d.cmd().args(["audit", "verify"]));
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["ok"], true);
    assert_eq!(v["verification"]["first_broken"], Value::Null);
    let out = run(d.cmd().args(["audit", "verify"])).ok();
    assert!(out.stdout.contains("审计链完整"), "{}", out.stdout);
    let entries = d.audit(100);
    assert!(entries.len() >= 3);
    for pair in entries.windows(2) {
        assert_eq!(pair[0]["prev_hash"], pair[1]["hash"], "{pair:#?}");
        assert!(pair[0]["seq"].as_u64() > pair[1]["seq"].as_u64());
    }
    assert_eq!(entries[0]["action"], "void");
    assert_eq!(entries[1]["action"], "sale");
    assert_eq!(entries[1]["target"], format!("txn:{}", id(&s)));
    d.assert_sound();
}

/// Stores `bytes` in the data directory's evidence folder as an upload does (named by its
/// SHA-256); returns the name.
fn put_evidence(dir: &std::path::Path, bytes: &[u8]) -> String {
    let folder = dir.join("evidence");
    std::fs::create_dir_all(&folder).expect("evidence dir");
    let staged = folder.join("upload.partial");
    std::fs::write(&staged, bytes).expect("write");
    let (sha, _) = suanpan_store::backup::sha256_file(&staged).expect("sha");
    std::fs::rename(&staged, folder.join(&sha)).expect("rename");
    sha
}

#[test]
fn purge_backs_up_first_and_refuses_inside_retention() {
    // Goal: `txn purge` inside the retention period is refused (exit 3) and makes no
    // backup; past it, it backs up first (evidence files included) and audits the purge with
    // its reason and the backup's name.
    let d = Demo::new();
    d.sale("1.00", CARD_OK);
    put_evidence(&d.dir(), b"%PDF-1.4 kept evidence");
    let purge = |before: &str| {
        run_json(
            d.cmd()
                .args(["txn", "purge", "--merchant", MERCHANT, "--before", before])
                .args(["--reason", "超过保存期限"])
                .operator_password(ADMIN_PW),
        )
    };
    let today = jiff::Zoned::now().date().to_string();
    let (code, v) = purge(&today);
    assert_eq!(code, 3, "{v:#}");
    assert!(
        !d.dir().join("backups").exists(),
        "no backup for a refused purge"
    );
    let (code, v) = purge("2019-01-01");
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["purged"], 0, "nothing is that old");
    let file = std::path::PathBuf::from(v["backup"].as_str().expect("backup"));
    let (code, m) = run_json(d.cmd().args(["backup", "verify"]).arg(&file));
    assert_eq!(code, 0, "{m:#}");
    assert_eq!(m["manifest"]["evidence"].as_array().map(Vec::len), Some(1));
    let top = &d.audit(1)[0];
    assert_eq!(top["action"], "purge", "{top:#}");
    let reason = top["reason"].as_str().unwrap_or("");
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("?");
    assert!(
        reason.contains("超过保存期限") && reason.contains(name),
        "{top:#}"
    );
    d.assert_sound();
}

#[test]
fn backup_carries_the_evidence_files() {
    // Goal: `backup create` copies the evidence files into the backup and lists them in the
    // manifest; `backup verify` names an altered or a missing one; `backup restore` puts
    // them back.
    let d = Demo::new();
    d.sale("10.00", CARD_OK);
    let video = put_evidence(&d.dir(), b"\x1a\x45\xdf\xa3 webm bytes");
    let pdf = put_evidence(&d.dir(), b"%PDF-1.7 letter from the bank");
    let (code, v) = run_json(d.cmd().args(["backup", "create"]));
    assert_eq!(code, 0, "{v:#}");
    let file = std::path::PathBuf::from(v["file"].as_str().expect("file"));
    let listed: Vec<&str> = v["manifest"]["evidence"]
        .as_array()
        .expect("evidence list")
        .iter()
        .filter_map(|e| e["sha256"].as_str())
        .collect();
    assert_eq!(listed.len(), 2, "{v:#}");
    assert!(listed.contains(&video.as_str()) && listed.contains(&pdf.as_str()));
    let (code, _) = run_json(d.cmd().args(["backup", "verify"]).arg(&file));
    assert_eq!(code, 0);

    let copies = suanpan_store::backup::evidence_copy_dir(&file);
    std::fs::write(copies.join(&pdf), b"%PDF-1.7 letter from the bank!").expect("alter");
    let out = run(d
        .cmd()
        .args(["--lang", "en", "backup", "verify"])
        .arg(&file));
    assert_ne!(out.code, 0);
    assert!(
        out.text().contains(&pdf) && out.text().contains("altered"),
        "{out:#?}"
    );
    std::fs::remove_file(copies.join(&pdf)).expect("remove");
    let out = run(d
        .cmd()
        .args(["--lang", "en", "backup", "verify"])
        .arg(&file));
    assert_ne!(out.code, 0);
    assert!(
        out.text().contains(&pdf) && out.text().contains("missing"),
        "{out:#?}"
    );

    let (code, v) = run_json(d.cmd().args(["backup", "create"]));
    assert_eq!(code, 0, "{v:#}");
    let good = std::path::PathBuf::from(v["file"].as_str().expect("file"));
    std::fs::remove_dir_all(d.dir().join("evidence")).expect("lose the evidence");
    run(d.cmd().args(["backup", "restore", "--force"]).arg(&good)).ok();
    for name in [&video, &pdf] {
        let path = d.dir().join("evidence").join(name);
        let (sha, _) = suanpan_store::backup::sha256_file(&path).expect("restored");
        assert_eq!(&sha, name);
    }
    d.assert_sound();
}

#[test]
fn backup_create_verify_restore() {
    // Goal: a backup verifies against its manifest; restoring over a live store is refused
    // without --force (the message names --force); with --force the store returns to the
    // backup's state, the live data having been backed up first.
    let d = Demo::new();
    d.sale("10.00", CARD_OK);
    let (code, v) = run_json(d.cmd().args(["backup", "create"]));
    assert_eq!(code, 0, "{v:#}");
    let file = std::path::PathBuf::from(v["file"].as_str().expect("file"));
    assert_eq!(v["manifest"]["transactions"], 1);
    let (code, v) = run_json(d.cmd().args(["backup", "verify"]).arg(&file));
    assert_eq!(code, 0, "{v:#}");
    d.sale("20.00", CARD_OK);
    assert_eq!(d.list(&[]).len(), 2);
    let out = run(d.cmd().args(["backup", "restore"]).arg(&file));
    assert_ne!(out.code, 0);
    assert!(out.text().contains("--force"), "{out:#?}");
    assert!(out.text().contains("恢复会覆盖"), "{out:#?}");
    let out = run(d
        .cmd()
        .args(["--lang", "en", "backup", "restore"])
        .arg(&file));
    assert_ne!(out.code, 0);
    assert!(out.text().contains("--force"), "{out:#?}");
    assert_eq!(d.list(&[]).len(), 2, "refused restore changed the store");
    run(d.cmd().args(["backup", "restore", "--force"]).arg(&file)).ok();
    let rows = d.list(&[]);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["amount_fen"], 1_000);
    let backups = std::fs::read_dir(d.dir().join("backups"))
        .expect("backups")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "db"))
        .count();
    assert_eq!(
        backups, 2,
        "the live store is backed up before a forced restore"
    );
    d.assert_sound();
    // The restored store keeps working.
    d.sale("3.00", CARD_OK);
    d.assert_sound();
}

#[test]
fn demo_cards_cover_every_outcome() {
    // Goal: `demo cards --json` lists cards with pan, expiry, outcome and pin_required,
    // covering every outcome a cashier meets.
    let tmp = tempfile::tempdir().expect("tmp");
    let (code, v) = run_json(suanpan(tmp.path()).args(["demo", "cards"]));
    assert_eq!(code, 0, "{v:#}");
    let cards = v["cards"].as_array().expect("cards");
    for c in cards {
        for field in ["pan", "expiry", "outcome", "pin_required"] {
            assert!(c.get(field).is_some(), "{field} missing: {c:#}");
        }
    }
    let outcomes: Vec<&str> = cards.iter().filter_map(|c| c["outcome"].as_str()).collect();
    for want in [
        "approve",
        "approve_with_pin",
        "insufficient_funds",
        "expired",
        "lost",
        "stolen",
    ] {
        assert!(outcomes.contains(&want), "{want} missing: {outcomes:?}");
    }
    let pin = cards
        .iter()
        .find(|c| c["outcome"] == "approve_with_pin")
        .expect("pin card");
    assert_eq!(pin["pin_required"], true);
    assert!(!v["wallets"].as_array().expect("wallets").is_empty());
}

#[test]
fn demo_run_plays_a_day_and_balances() {
    // Goal: the scripted demo day runs to the end (exit 0), prints the settlement slip
    // (结算单) balanced (对账平), and leaves a sound store.
    let d = Demo::new();
    let out = run(d.cmd().args(["demo", "run"])).ok();
    assert!(out.stdout.contains("结算单"), "{}", out.stdout);
    assert!(out.stdout.contains("对账平"), "{}", out.stdout);
    assert!(!out.stdout.contains(CARD_OK), "full PAN printed");
    d.assert_sound();
}

#[test]
fn operator_passwd_changes_the_password() {
    // Goal: cashier 01 changes its own password (new one from SUANPAN_NEW_PASSWORD); the old
    // password then fails and the new one works.
    let d = Demo::new();
    let (code, v) = run_json(
        d.cmd()
            .args([
                "operator",
                "passwd",
                "--merchant",
                MERCHANT,
                "--operator",
                CASHIER,
            ])
            .operator_password(CASHIER_PW)
            .new_password("8642"),
    );
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["operator"], "01");
    let (code, v) = run_json(&mut d.sale_cmd("1.00", CARD_OK));
    assert_eq!(code, 3, "old password accepted: {v:#}");
    assert_refusal(&v, "操作员密码错误");
    let t = approved(d.sale_cmd("1.00", CARD_OK).operator_password("8642"));
    assert_eq!(t["operator"], "01");
    assert!(d.audit(10).iter().any(|e| e["action"] == "password.change"));
    d.assert_sound();
}

#[test]
fn a_full_day_at_the_counter_passes_check() {
    // Goal: everything above in one store — sales, PIN card, wallet, void, refunds, pre-auth,
    // reversal, declines, hide, reprint, settlement, export, backup — and `check` still
    // exits 0 with the audit chain intact and money conserved.
    let d = Demo::new();
    let s1 = d.sale("88.00", CARD_OK);
    let s2 = d.sale("45.00", CARD_OK);
    approved(d.sale_cmd("9.90", CARD_PIN).arg("--pin").pin(CARD_PIN_PIN));
    approved(
        d.counter("sale")
            .args(["--amount", "6.00", "--wallet", WALLET_ALIPAY]),
    );
    approved(&mut d.void_cmd(&voucher(&s1)));
    approved(&mut d.refund_cmd(&voucher(&s2), "5.00"));
    let pre = approved(
        d.counter("preauth")
            .args(["--amount", "200.00", "--card", CARD_CREDIT]),
    );
    approved(
        d.counter("complete")
            .args(["--voucher", &voucher(&pre), "--amount", "210.00"]),
    );
    let s3 = d.sale("3.00", CARD_OK);
    approved(d.cmd().args([
        "txn",
        "reverse",
        "--terminal",
        TERMINAL,
        "--voucher",
        &voucher(&s3),
    ]));
    run(&mut d.sale_cmd("500.00", CARD_NSF)).code(3);
    run(&mut d.sale_cmd("1.00", CARD_LOST)).code(3);
    run(d
        .cmd()
        .args(["txn", "hide", &id(&s3).to_string(), "--reason", "冲正记录"])
        .operator_password(ADMIN_PW))
    .ok();
    run(d
        .cmd()
        .args(["receipt", "print", &id(&s2).to_string(), "--reprint"]))
    .ok();
    let r = d.settle(Some("270.90,4,5.00,1"));
    assert_eq!(r["reconciliation"], "balanced", "{r:#}");
    run(d
        .cmd()
        .args(["export", "--format", "csv", "-o"])
        .arg(d.dir().join("x.csv")))
    .ok();
    run(d.cmd().args(["backup", "create"])).ok();
    let out = run(d.cmd().arg("check")).ok();
    assert!(out.stdout.contains("ok"), "{}", out.stdout);
    d.assert_sound();
}

#[test]
fn concurrent_refunds_never_exceed_the_original() {
    // Goal: four refunds of 60.00 of one 100.00 sale sent at the same moment (the payment
    // switch bug of DESIGN.md): exactly one is approved, the others are refused naming the
    // remainder, and Σ refunds ≤ original.
    let d = Demo::new();
    let sale = d.sale("100.00", CARD_OK);
    let v = voucher(&sale);
    let children: Vec<_> = (0..4)
        .map(|_| {
            let mut c = std::process::Command::new(bin());
            c.arg("--data-dir").arg(d.dir()).arg("--json");
            c.args([
                "txn",
                "refund",
                "--terminal",
                TERMINAL,
                "--operator",
                CASHIER,
            ])
            .args(["--supervisor", SUPERVISOR, "--voucher", &v])
            .args(["--amount", "60.00", "--reason", "并发退货"])
            .env(OPERATOR_PASSWORD_ENV, CASHIER_PW)
            .env(SUPERVISOR_PASSWORD_ENV, SUPERVISOR_PW)
            .env_remove("SUANPAN_LANG")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
            c.spawn().expect("spawn refund")
        })
        .collect();
    let codes: Vec<i32> = children
        .into_iter()
        .map(|c| {
            let o = c.wait_with_output().expect("refund");
            o.status.code().unwrap_or(-1)
        })
        .collect();
    assert_eq!(codes.iter().filter(|c| **c == 0).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 3).count(), 3, "{codes:?}");
    let t = d.txn(id(&sale));
    assert_eq!(t["refunded_fen"], 6_000);
    assert_eq!(t["refundable_fen"], 4_000);
    assert_eq!(d.list(&["--kind", "refund"]).len(), 1);
    d.assert_sound();
}

#[test]
fn stan_retry_is_idempotent_and_a_reused_stan_is_refused() {
    // Goal: an identical retry with the caller's voucher no. (STAN) answers the stored result
    // without booking again; the same STAN with a different amount is refused as a duplicate.
    let d = Demo::new();
    let first = approved(d.sale_cmd("5.00", CARD_OK).args(["--stan", "000100"]));
    assert_eq!(first["voucher_no"], "000100");
    let again = approved(d.sale_cmd("5.00", CARD_OK).args(["--stan", "000100"]));
    assert_eq!(again["id"], first["id"]);
    assert_eq!(d.list(&[]).len(), 1);
    let (code, v) = run_json(d.sale_cmd("6.00", CARD_OK).args(["--stan", "000100"]));
    assert_eq!(code, 3, "{v:#}");
    assert_refusal(&v, "重复交易");
    assert_eq!(d.list(&[]).len(), 1);
    assert_eq!(
        d.card_available_fen(CARD_OK),
        CARD_OK_BALANCE_FEN - 500,
        "charged once"
    );
    d.assert_sound();
}

#[test]
fn training_sale_moves_no_money_and_is_marked() {
    // Goal: a training sale is flagged, prints 培训 on its receipt, takes no money, stays
    // out of the batch totals, and has its own voucher sequence.
    let d = Demo::new();
    let live = d.sale("1.00", CARD_OK);
    let before = d.card_available_fen(CARD_OK);
    let t = approved(d.sale_cmd("7.00", CARD_OK).arg("--training"));
    assert_eq!(t["training"], true);
    assert_eq!(
        d.card_available_fen(CARD_OK),
        before,
        "training moved money"
    );
    let out = run(d.cmd().args(["receipt", "print", &id(&t).to_string()])).ok();
    assert!(out.stdout.contains("培训"), "{}", out.stdout);
    let (_, st) = run_json(d.cmd().args(["batch", "status", "--terminal", TERMINAL]));
    assert_eq!(st["totals"]["debit_fen"], 100, "{st:#}");
    let live_next = d.sale("1.00", CARD_OK);
    let n = |t: &Value| voucher(t).parse::<u32>().expect("voucher");
    assert!(n(&live_next) > n(&live));
    d.assert_sound();
}

/// Rewrites a void's audit reason in SQLite behind the binary's back; returns its seq.
fn tamper_with_the_void_entry(d: &Demo) -> i64 {
    let s = d.sale("10.00", CARD_OK);
    approved(&mut d.void_cmd(&voucher(&s)));
    let void_entry = d
        .audit(5)
        .into_iter()
        .find(|e| e["action"] == "void")
        .expect("void entry");
    let seq = void_entry["seq"].as_i64().expect("seq");
    let conn = rusqlite::Connection::open(d.dir().join("suanpan.db")).expect("open db");
    let n = conn
        .execute(
            "UPDATE audit SET reason = '无' WHERE seq = ?1",
            rusqlite::params![seq],
        )
        .expect("tamper");
    assert_eq!(n, 1);
    seq
}

/// The first JSON document of a stream.
fn first_json(text: &str) -> Value {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .next()
        .expect("a JSON document")
        .expect("valid JSON")
}

#[test]
fn audit_verify_names_a_tampered_entry() {
    // Goal: editing an audit row behind the binary's back breaks the chain; `audit verify`
    // and `check` exit non-zero and name the first broken entry.
    let d = Demo::new();
    let seq = tamper_with_the_void_entry(&d);
    let out = run(d.cmd().args(["audit", "verify"]));
    assert_ne!(out.code, 0, "{out:#?}");
    assert!(out.stdout.contains("审计链断裂"), "{out:#?}");
    assert!(out.stdout.contains(&format!("#{seq}")), "{out:#?}");
    let out = run(d.cmd().args(["audit", "verify", "--json"]));
    assert_ne!(out.code, 0);
    let v = first_json(&out.stdout);
    assert_eq!(v["ok"], false, "{v:#}");
    assert_eq!(v["verification"]["first_broken"], seq, "{v:#}");
    let out = run(d.cmd().args(["check", "--json"]));
    assert_ne!(out.code, 0, "check passed a broken chain: {out:#?}");
    let v = first_json(&out.stdout);
    assert_eq!(v["ok"], false, "{v:#}");
    assert_eq!(v["audit"]["first_broken"], seq, "{v:#}");
}

#[test]
fn broken_chain_json_is_one_document() {
    // Goal: `--json` output is one JSON document scripts can parse, even when the check fails.
    let d = Demo::new();
    tamper_with_the_void_entry(&d);
    for args in [&["audit", "verify"][..], &["check"][..]] {
        let out = run(d.cmd().args(args).arg("--json"));
        assert_ne!(out.code, 0);
        let parsed: Result<Value, _> = serde_json::from_str(&out.stdout);
        assert!(
            parsed.is_ok(),
            "{args:?}: stdout is not one JSON document:\n{}",
            out.stdout
        );
    }
}

#[test]
fn a_terminal_registered_with_its_master_key_is_ready_for_sign_in() {
    // Goal: `admin terminal add` loads SUANPAN_TMK with the registration, and a malformed key
    // registers nothing.
    let demo = Demo::new();
    let bad = run(demo
        .cmd()
        .args([
            "admin",
            "terminal",
            "add",
            "--id",
            "87654321",
            "--merchant",
            MERCHANT,
        ])
        .env("SUANPAN_TMK", "not-hex"));
    assert_ne!(bad.code, 0, "a malformed key is refused: {bad:?}");
    let good = run(demo
        .cmd()
        .args([
            "--json",
            "admin",
            "terminal",
            "add",
            "--id",
            "87654322",
            "--merchant",
            MERCHANT,
        ])
        // Odd parity in every byte: 00112233… would be refused as a weak key (issue 11).
        .env("SUANPAN_TMK", "01102332455467768998ABBACDDCEFFE"))
    .ok()
    .json();
    let terminals = good["terminals"].as_array().expect("terminals");
    let ids: Vec<&str> = terminals.iter().filter_map(|t| t["id"].as_str()).collect();
    assert!(
        !ids.contains(&"87654321"),
        "nothing registered with the bad key: {ids:?}"
    );
    let added = terminals
        .iter()
        .find(|t| t["id"] == "87654322")
        .expect("registered");
    assert_eq!(added["has_tmk"], true);
}

#[test]
fn duplicate_charge_is_flagged_until_confirmed() {
    // Goal: the same card paying the same amount again within minutes is refused by core's
    // duplicate rule (issue 13: exit 3, nothing booked, the terminal's words), the remedy
    // names the CLI's confirmation, and the sale goes through once the cashier confirms;
    // another amount is never flagged.
    let d = Demo::new();
    let plain = |amount: &str| {
        let mut c = d.counter("sale");
        c.args(["--amount", amount, "--card", CARD_OK]);
        run(c.arg("--json"))
    };
    plain("25.00").ok();
    let before = d.snapshot();
    let again = plain("25.00").code(3);
    let v = again.json();
    assert_eq!(v["code"], "risk.possible_duplicate");
    assert_eq!(v["response_code"], "94");
    assert_eq!(v["message"], "疑似重复，确认后重试");
    assert!(
        v["remedy"]
            .as_str()
            .unwrap()
            .contains("--confirm-duplicate"),
        "{v:#}"
    );
    assert_eq!(d.snapshot(), before, "nothing was booked");
    plain("26.00").ok();
    approved(&mut d.sale_cmd("25.00", CARD_OK));
}
