//! Every word printed on a slip, one keyed table per language (the shape of
//! `suanpan_core::i18n`), so a label is written once and both languages stay complete.
//!
//! The zh table carries Chinese labels only: "商户名称(MERCHANT NAME)" does not fit 32
//! columns beside a value. Markers the cashier and the cardholder must both understand
//! (reprint, training, declined, copy names) stay bilingual in the zh table, as UnionPay
//! slips print them.

use suanpan_core::Lang;
use suanpan_core::i18n::{Catalog, Entries};

/// The slip's catalog (`suanpan_core::i18n::Catalog`).
static CATALOG: Catalog = Catalog::new(ZH, EN);

/// The text for `key` in `lang`. A missing key prints as itself, so a gap is visible on paper
/// instead of crashing the printer path (the table test catches it first); that is why the
/// result borrows from `key`.
pub fn text(lang: Lang, key: &str) -> &str {
    CATALOG.text(lang, key)
}

/// [`text`] with `{0}`, `{1}`… replaced by `args`.
pub fn fill(lang: Lang, key: &str, args: &[&str]) -> String {
    CATALOG.fill(lang, key, args)
}

static ZH: Entries = &[
    ("title.receipt", "POS签购单"),
    ("title.settlement", "结算单 SETTLEMENT"),
    ("copy.merchant", "商户存根 MERCHANT COPY"),
    ("copy.cardholder", "持卡人存根 CARDHOLDER COPY"),
    ("mark.reprint", "重打印 REPRINT"),
    ("mark.training", "培训 TRAINING — 非正式交易"),
    ("mark.declined", "交易失败 DECLINED"),
    ("merchant_name", "商户名称"),
    ("merchant_id", "商户编号"),
    ("terminal_id", "终端编号"),
    ("operator", "操作员号"),
    ("card_no", "卡号"),
    ("wallet_id", "付款账户"),
    ("method", "支付方式"),
    ("issuer", "发卡机构"),
    ("acquirer", "收单机构"),
    ("kind", "交易类型"),
    ("batch_no", "批次号"),
    ("voucher_no", "凭证号"),
    ("auth_code", "授权码"),
    ("rrn", "参考号"),
    ("datetime", "日期/时间"),
    ("amount", "金额"),
    ("balance", "余额"),
    ("money", "RMB {0}"),
    ("remarks", "备注"),
    ("original_voucher", "原凭证号"),
    ("original_rrn", "原参考号"),
    ("reason", "原因"),
    ("supervisor", "主管"),
    ("response", "应答码"),
    ("signature", "持卡人签名"),
    ("acknowledge", "本人确认以上交易，同意将其记入本卡账户"),
    ("settled_at", "结算时间"),
    ("debit_count", "借记笔数"),
    ("debit_amount", "借记金额"),
    ("credit_count", "贷记笔数"),
    ("credit_amount", "贷记金额"),
    ("net", "净额"),
    ("by_method", "按支付方式"),
    ("method_debit", "  借记"),
    ("method_credit", "  贷记"),
    ("count_amount", "{0}笔 {1}"),
    ("none", "无交易"),
    ("recon.balanced", "对账平 BALANCED"),
    ("recon.unbalanced", "对账不平 UNBALANCED"),
    ("recon.no_terminal_totals", "终端未上送总额，以主机为准"),
    ("recon.upload", "请做批上送"),
    ("difference", "主机 {0} / 终端 {1}"),
    ("kind.sale", "消费"),
    ("kind.void", "消费撤销"),
    ("kind.refund", "退货"),
    ("kind.preauth", "预授权"),
    ("kind.preauth_void", "预授权撤销"),
    ("kind.completion", "预授权完成"),
    ("kind.completion_void", "预授权完成撤销"),
    ("kind.balance", "余额查询"),
    ("kind.reversal", "冲正"),
    ("method.magstripe", "磁条卡"),
    ("method.chip", "芯片卡"),
    ("method.contactless", "闪付"),
    ("method.manual", "手输卡号"),
    ("method.qr_alipay", "支付宝"),
    ("method.qr_wechat", "微信支付"),
    ("method.qr_unionpay", "银联二维码"),
];

static EN: Entries = &[
    ("title.receipt", "POS SALES SLIP"),
    ("title.settlement", "SETTLEMENT"),
    ("copy.merchant", "MERCHANT COPY"),
    ("copy.cardholder", "CARDHOLDER COPY"),
    ("mark.reprint", "REPRINT"),
    ("mark.training", "TRAINING - NOT A LIVE TRANSACTION"),
    ("mark.declined", "DECLINED"),
    ("merchant_name", "MERCHANT NAME"),
    ("merchant_id", "MERCHANT NO."),
    ("terminal_id", "TERMINAL NO."),
    ("operator", "OPERATOR NO."),
    ("card_no", "CARD NO."),
    ("wallet_id", "WALLET ID"),
    ("method", "PAID BY"),
    ("issuer", "ISSUER"),
    ("acquirer", "ACQUIRER"),
    ("kind", "TRANS TYPE"),
    ("batch_no", "BATCH NO."),
    ("voucher_no", "VOUCHER NO."),
    ("auth_code", "AUTH NO."),
    ("rrn", "REF. NO."),
    ("datetime", "DATE/TIME"),
    ("amount", "AMOUNT"),
    ("balance", "BALANCE"),
    ("money", "RMB {0}"),
    ("remarks", "REFERENCE"),
    ("original_voucher", "ORIG. VOUCHER NO."),
    ("original_rrn", "ORIG. REF. NO."),
    ("reason", "REASON"),
    ("supervisor", "SUPERVISOR"),
    ("response", "RESPONSE"),
    ("signature", "CARDHOLDER SIGNATURE"),
    (
        "acknowledge",
        "I ACKNOWLEDGE SATISFACTORY RECEIPT OF RELATIVE GOODS/SERVICES",
    ),
    ("settled_at", "SETTLED AT"),
    ("debit_count", "DEBIT COUNT"),
    ("debit_amount", "DEBIT AMOUNT"),
    ("credit_count", "CREDIT COUNT"),
    ("credit_amount", "CREDIT AMOUNT"),
    ("net", "NET"),
    ("by_method", "BY PAYMENT METHOD"),
    ("method_debit", "  DEBIT"),
    ("method_credit", "  CREDIT"),
    ("count_amount", "{0} / {1}"),
    ("none", "NO TRANSACTIONS"),
    ("recon.balanced", "BALANCED"),
    ("recon.unbalanced", "UNBALANCED"),
    (
        "recon.no_terminal_totals",
        "NO TERMINAL TOTALS; HOST TOTALS APPLY",
    ),
    ("recon.upload", "BATCH UPLOAD REQUIRED"),
    ("difference", "host {0} / terminal {1}"),
    ("kind.sale", "SALE"),
    ("kind.void", "VOID"),
    ("kind.refund", "REFUND"),
    ("kind.preauth", "PRE-AUTH"),
    ("kind.preauth_void", "PRE-AUTH VOID"),
    ("kind.completion", "AUTH COMPLETE"),
    ("kind.completion_void", "COMPLETE VOID"),
    ("kind.balance", "BALANCE INQUIRY"),
    ("kind.reversal", "REVERSAL"),
    ("method.magstripe", "MAGSTRIPE"),
    ("method.chip", "CHIP"),
    ("method.contactless", "CONTACTLESS"),
    ("method.manual", "MANUAL ENTRY"),
    ("method.qr_alipay", "ALIPAY"),
    ("method.qr_wechat", "WECHAT PAY"),
    ("method.qr_unionpay", "UNIONPAY QR"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use suanpan_core::{PaymentMethod, TxnKind};

    #[test]
    fn both_tables_have_the_same_keys_once() {
        // Goal: no label exists in one language only, and none twice.
        assert_eq!(CATALOG.problems(), Vec::<String>::new());
    }

    #[test]
    fn every_kind_and_method_has_a_name() {
        // Goal: adding a kind or method to the core without naming it here fails a test.
        for lang in [Lang::Zh, Lang::En] {
            for kind in TxnKind::ALL {
                let key = format!("kind.{}", kind.as_str());
                assert_ne!(text(lang, &key), key, "{lang:?} {key}");
            }
            for method in PaymentMethod::ALL {
                let key = format!("method.{}", method.as_str());
                assert_ne!(text(lang, &key), key, "{lang:?} {key}");
            }
        }
    }

    #[test]
    fn fills_arguments() {
        // Goal: templates substitute in order.
        assert_eq!(fill(Lang::Zh, "difference", &["3", "2"]), "主机 3 / 终端 2");
        assert_eq!(fill(Lang::En, "money", &["-12.34"]), "RMB -12.34");
        assert_eq!(text(Lang::En, "nope"), "nope");
    }
}
