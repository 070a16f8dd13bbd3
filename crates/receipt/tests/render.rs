//! Black-box tests of the slips: snapshots of the slips people look at, and the width
//! invariant over every kind, width, language, copy and marker.

use suanpan_core::settlement::{self, AsBatchLine, Settlement, Totals};
use suanpan_core::{
    Amount, AuthCode, BatchNo, Currency, Lang, MaskedPan, MerchantId, OperatorNo, PaymentMethod,
    ResponseCode, Rrn, TerminalId, Transaction, TxnId, TxnKind, TxnStatus, VoucherNo,
};
use suanpan_receipt::{
    Copy, Layout, ReceiptContext, SlipData, Width, render_receipt, render_settlement_slip,
};
use unicode_width::UnicodeWidthStr;

/// The core's checked `settle`, for batches whose sums fit (every batch here).
fn settle<T: AsBatchLine>(txns: &[T], theirs: Option<Totals>) -> Settlement {
    settlement::settle(txns, theirs).unwrap_or_else(|e| panic!("{e}"))
}

fn at(text: &str) -> jiff::Timestamp {
    text.parse().expect("fixed test timestamp")
}

fn merchant_id() -> MerchantId {
    MerchantId::parse("898310048990001").expect("15 characters")
}

/// A chip sale of RMB 12.34 at 14:30:05 Shanghai time, approved.
fn sale() -> Transaction {
    Transaction {
        id: TxnId(1),
        kind: TxnKind::Sale,
        status: TxnStatus::Approved,
        amount: Amount::from_fen(1234),
        currency: Currency::Cny,
        method: PaymentMethod::Chip,
        masked_pan: MaskedPan::from_stored("622202******1234"),
        card_fingerprint: None,
        wallet_id: None,
        merchant_id: merchant_id(),
        terminal_id: TerminalId::parse("12345678").expect("8 characters"),
        operator: OperatorNo::parse("01").expect("two digits"),
        supervisor: None,
        batch_no: BatchNo::new(1).expect("in range"),
        voucher_no: VoucherNo::new(12).expect("in range"),
        rrn: Some(Rrn::parse("240501143005").expect("12 characters")),
        auth_code: Some(AuthCode::parse("A1B2C3").expect("6 characters")),
        response_code: ResponseCode::Approved,
        original_id: None,
        reason: None,
        customer_consent: false,
        refunded: Amount::ZERO,
        completed: Amount::ZERO,
        created_at: at("2024-05-01T06:30:05Z"),
        settled: false,
        hidden: false,
        training: false,
        linked_id: None,
    }
}

fn ctx() -> ReceiptContext {
    ReceiptContext {
        merchant_name: "算盘便利店".into(),
        merchant_id: merchant_id(),
        original_voucher: None,
        original_rrn: None,
        balance: None,
        acquirer: "Suanpan 算盘".into(),
        issuer: "中国工商银行".into(),
    }
}

/// The follow-up of `original`: next voucher, authorized by the supervisor, with a reason.
fn follow_up(kind: TxnKind, amount: i64, reason: &str) -> Transaction {
    let original = sale();
    Transaction {
        id: TxnId(2),
        kind,
        amount: Amount::from_fen(amount),
        voucher_no: original.voucher_no.next(),
        rrn: Some(Rrn::parse("240501150010").expect("12 characters")),
        auth_code: Some(AuthCode::parse("D4E5F6").expect("6 characters")),
        supervisor: Some(OperatorNo::SUPERVISOR),
        original_id: Some(original.id),
        reason: Some(reason.into()),
        customer_consent: true,
        created_at: at("2024-05-01T07:00:10Z"),
        ..original
    }
}

fn void() -> (Transaction, ReceiptContext) {
    let ctx = ReceiptContext {
        original_voucher: Some(sale().voucher_no),
        ..ctx()
    };
    (follow_up(TxnKind::Void, 1234, "顾客取消购买"), ctx)
}

fn refund() -> (Transaction, ReceiptContext) {
    let ctx = ReceiptContext {
        original_rrn: sale().rrn,
        ..ctx()
    };
    (follow_up(TxnKind::Refund, 500, "Returned goods"), ctx)
}

fn declined() -> Transaction {
    Transaction {
        status: TxnStatus::Declined,
        response_code: ResponseCode::InsufficientFunds,
        auth_code: None,
        ..sale()
    }
}

fn qr_sale() -> Transaction {
    Transaction {
        method: PaymentMethod::QrWechat,
        masked_pan: None,
        wallet_id: Some("wx_oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".into()),
        ..sale()
    }
}

fn balance_inquiry() -> (Transaction, ReceiptContext) {
    let txn = Transaction {
        kind: TxnKind::BalanceInquiry,
        amount: Amount::ZERO,
        auth_code: None,
        ..sale()
    };
    (
        txn,
        ReceiptContext {
            balance: Some(Amount::from_fen(1_234_567)),
            ..ctx()
        },
    )
}

fn layout(width: Width, lang: Lang, copy: Copy) -> Layout {
    Layout {
        width,
        lang,
        copy,
        reprint: false,
    }
}

const ZH32_MERCHANT: Layout = Layout {
    width: Width::W32,
    lang: Lang::Zh,
    copy: Copy::Merchant,
    reprint: false,
};

#[test]
fn sale_merchant_copy_zh_32() {
    // Goal: the everyday slip, with the signature block the merchant keeps.
    let text = render_receipt(&sale(), &ctx(), &ZH32_MERCHANT);
    assert!(text.contains("持卡人签名"));
    insta::assert_snapshot!(text);
}

#[test]
fn sale_cardholder_copy_en_48() {
    // Goal: the copy handed over carries no signature block.
    let text = render_receipt(
        &sale(),
        &ctx(),
        &layout(Width::W48, Lang::En, Copy::Cardholder),
    );
    assert!(!text.contains("SIGNATURE"));
    insta::assert_snapshot!(text);
}

#[test]
fn void_zh_32_names_the_original_voucher() {
    // Goal: a void shows the negative amount, 原凭证号 and the supervisor who authorized it.
    let (txn, ctx) = void();
    let text = render_receipt(&txn, &ctx, &ZH32_MERCHANT);
    assert!(text.contains("RMB -12.34"));
    assert!(
        text.lines()
            .any(|l| l.starts_with("原凭证号") && l.ends_with("000012"))
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("主管") && l.ends_with("00"))
    );
    insta::assert_snapshot!(text);
}

#[test]
fn refund_en_32_names_the_original_reference() {
    // Goal: a refund shows its partial negative amount and the original RRN.
    let (txn, ctx) = refund();
    let text = render_receipt(&txn, &ctx, &layout(Width::W32, Lang::En, Copy::Merchant));
    assert!(text.contains("RMB -5.00"));
    assert!(text.contains("240501143005"));
    insta::assert_snapshot!(text);
}

#[test]
fn reprint_zh_48_is_marked_top_and_bottom() {
    // Goal: a reprint cannot pass for a second payment: marked first and last.
    let layout = Layout {
        reprint: true,
        ..layout(Width::W48, Lang::Zh, Copy::Cardholder)
    };
    let text = render_receipt(&sale(), &ctx(), &layout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains("重打印 REPRINT"));
    assert!(lines[lines.len() - 1].contains("重打印 REPRINT"));
    insta::assert_snapshot!(text);
}

#[test]
fn declined_sale_zh_32_shows_code_and_text() {
    // Goal: a refusal is unmistakable, gives the code and its meaning, and asks no signature.
    let text = render_receipt(&declined(), &ctx(), &ZH32_MERCHANT);
    assert!(text.contains("交易失败 DECLINED"));
    assert!(text.contains("51 余额不足"));
    assert!(!text.contains("持卡人签名"));
    insta::assert_snapshot!(text);
}

#[test]
fn training_sale_is_marked_on_both_copies() {
    // Goal: a training slip never looks like a real payment, whichever copy.
    let txn = Transaction {
        training: true,
        ..sale()
    };
    for copy in [Copy::Merchant, Copy::Cardholder] {
        let text = render_receipt(&txn, &ctx(), &layout(Width::W32, Lang::Zh, copy));
        assert_eq!(
            text.matches("培训 TRAINING — 非正式交易").count(),
            2,
            "{copy:?}"
        );
    }
    insta::assert_snapshot!(render_receipt(&txn, &ctx(), &ZH32_MERCHANT));
}

#[test]
fn preauth_and_completion() {
    // Goal: the pre-authorization family prints its own type names and amounts.
    let preauth = Transaction {
        kind: TxnKind::PreAuth,
        amount: Amount::from_fen(50_000),
        ..sale()
    };
    insta::assert_snapshot!(
        "preauth_zh_32",
        render_receipt(&preauth, &ctx(), &ZH32_MERCHANT)
    );
    let completion = Transaction {
        reason: None,
        supervisor: None,
        ..follow_up(TxnKind::Completion, 48_000, "")
    };
    let ctx = ReceiptContext {
        original_voucher: Some(preauth.voucher_no),
        ..ctx()
    };
    let en = layout(Width::W32, Lang::En, Copy::Merchant);
    insta::assert_snapshot!("completion_en_32", render_receipt(&completion, &ctx, &en));
}

#[test]
fn balance_inquiry_zh_32_shows_the_balance() {
    // Goal: an inquiry prints the balance and neither an amount nor a signature.
    let (txn, ctx) = balance_inquiry();
    let text = render_receipt(&txn, &ctx, &ZH32_MERCHANT);
    assert!(
        text.lines()
            .any(|l| l.starts_with("余额") && l.ends_with("RMB 12345.67"))
    );
    assert!(!text.contains("金额"));
    assert!(!text.contains("持卡人签名"));
    insta::assert_snapshot!(text);
}

#[test]
fn qr_sale_zh_32_shows_the_wallet() {
    // Goal: a wallet payment prints the wallet id where a card number would be, and an
    // unknown issuer is left out rather than printed blank.
    let ctx = ReceiptContext {
        issuer: String::new(),
        ..ctx()
    };
    let text = render_receipt(&qr_sale(), &ctx, &ZH32_MERCHANT);
    assert!(!text.contains("卡号"));
    assert!(!text.contains("发卡机构"));
    insta::assert_snapshot!(text);
}

/// A batch: two sales (chip and WeChat), one refund, one voided sale that does not count.
fn batch() -> Vec<Transaction> {
    let voided = Transaction {
        status: TxnStatus::Voided,
        voucher_no: VoucherNo::FIRST,
        ..sale()
    };
    let qr = Transaction {
        amount: Amount::from_fen(5_000),
        ..qr_sale()
    };
    vec![voided, sale(), qr, refund().0]
}

fn slip(settlement: Settlement, terminal_totals: Option<Totals>) -> SlipData {
    SlipData {
        merchant_name: "算盘便利店".into(),
        merchant_id: merchant_id(),
        terminal_id: TerminalId::parse("12345678").expect("8 characters"),
        operator: OperatorNo::parse("01").expect("two digits"),
        batch_no: BatchNo::new(1).expect("in range"),
        settled_at: at("2024-05-01T14:00:00Z"),
        settlement,
        terminal_totals,
    }
}

fn balanced_slip() -> SlipData {
    let host = settle(&batch(), None).totals;
    slip(settle(&batch(), Some(host)), Some(host))
}

fn unbalanced_slip() -> SlipData {
    let host = settle(&batch(), None).totals;
    let terminal = Totals {
        debit_count: host.debit_count - 1,
        debit_fen: 1234,
        ..host
    };
    slip(settle(&batch(), Some(terminal)), Some(terminal))
}

#[test]
fn settlement_balanced_zh_32() {
    // Goal: totals, the per-method breakdown and 对账平.
    let text = render_settlement_slip(&balanced_slip(), &ZH32_MERCHANT);
    assert!(text.contains("对账平 BALANCED"));
    insta::assert_snapshot!(text);
}

#[test]
fn settlement_unbalanced_en_48_names_each_difference() {
    // Goal: an unbalanced batch says what differs, host against terminal.
    let text = render_settlement_slip(
        &unbalanced_slip(),
        &layout(Width::W48, Lang::En, Copy::Merchant),
    );
    assert!(text.contains("UNBALANCED"));
    assert!(
        text.lines()
            .any(|l| l.starts_with("DEBIT COUNT") && l.ends_with("host 2 / terminal 1"))
    );
    insta::assert_snapshot!(text);
}

/// Every transaction shape the width test prints.
fn every_receipt() -> Vec<(Transaction, ReceiptContext)> {
    let long_ctx = ReceiptContext {
        merchant_name: "Suanpan Convenience Store 算盘便利店上海南京东路旗舰店第一分店".into(),
        issuer: "Industrial and Commercial Bank of China 中国工商银行".into(),
        original_voucher: Some(VoucherNo::FIRST),
        original_rrn: sale().rrn,
        balance: Some(Amount::from_fen(Amount::MAX_FEN)),
        ..ctx()
    };
    let mut out = Vec::new();
    for kind in TxnKind::ALL {
        for base in [sale(), declined(), qr_sale()] {
            let amount = Amount::from_fen(Amount::MAX_FEN);
            let txn = Transaction {
                kind,
                amount,
                reason: Some("顾客要求 customer asked".repeat(3)),
                ..base
            };
            out.push((txn.clone(), ctx()));
            out.push((
                Transaction {
                    training: true,
                    supervisor: Some(OperatorNo::SUPERVISOR),
                    ..txn
                },
                long_ctx.clone(),
            ));
        }
    }
    out
}

fn assert_fits(text: &str, cols: usize, what: &str) {
    for l in text.lines() {
        assert!(
            l.width_cjk() <= cols,
            "{what}: {:?} is {} > {cols}",
            l,
            l.width_cjk()
        );
        assert!(!l.ends_with(' '), "{what}: trailing space in {l:?}");
    }
}

#[test]
fn every_line_fits_the_paper() {
    // Goal: the width invariant over every kind, width, language, copy, reprint, training and
    // refusal, with long names and the largest amount, measured with CJK as two cells.
    for width in [Width::W32, Width::W48] {
        for lang in [Lang::Zh, Lang::En] {
            for reprint in [false, true] {
                for copy in [Copy::Merchant, Copy::Cardholder] {
                    let layout = Layout {
                        width,
                        lang,
                        copy,
                        reprint,
                    };
                    for (txn, ctx) in every_receipt() {
                        let text = render_receipt(&txn, &ctx, &layout);
                        assert_fits(&text, width.cols(), &format!("{:?} {layout:?}", txn.kind));
                    }
                }
                let layout = Layout {
                    width,
                    lang,
                    copy: Copy::Merchant,
                    reprint,
                };
                for data in [balanced_slip(), unbalanced_slip()] {
                    assert_fits(
                        &render_settlement_slip(&data, &layout),
                        width.cols(),
                        "settlement",
                    );
                }
            }
        }
    }
}
