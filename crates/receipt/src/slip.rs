//! The settlement slip (结算单) of one batch.

use crate::Layout;
use crate::doc::{self, Doc};
use jiff::Timestamp;
use suanpan_core::settlement::{Difference, MethodTotals, Reconciliation, Settlement, Totals};
use suanpan_core::{Amount, BatchNo, Lang, MerchantId, OperatorNo, TerminalId};

/// What a settlement slip prints: who settled which batch when, and the host's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlipData {
    /// 商户名称.
    pub merchant_name: String,
    /// 商户编号.
    pub merchant_id: MerchantId,
    /// 终端编号.
    pub terminal_id: TerminalId,
    /// The operator who settled.
    pub operator: OperatorNo,
    /// The batch closed.
    pub batch_no: BatchNo,
    /// When the host settled it.
    pub settled_at: Timestamp,
    /// The host's totals, breakdown and reconciliation.
    pub settlement: Settlement,
    /// The totals the terminal sent, if any; without them the host's totals stand alone.
    pub terminal_totals: Option<Totals>,
}

/// Renders the settlement slip: totals, per-method breakdown and 对账平 / 对账不平 with each
/// difference named. There is a single copy, so `layout.copy` is ignored.
pub fn render_settlement_slip(data: &SlipData, layout: &Layout) -> String {
    let settlement = &data.settlement;
    // The core decides Unbalanced exactly when it found differences; a slip saying
    // 对账不平 without naming one would send the cashier hunting for nothing.
    debug_assert_eq!(
        settlement.reconciliation == Reconciliation::Unbalanced,
        !settlement.differences.is_empty(),
        "reconciliation verdict and differences disagree"
    );
    let mut doc = Doc::new(layout.width.cols(), layout.lang);
    if layout.reprint {
        doc.banner("mark.reprint");
    }
    doc.center("title.settlement");
    doc.separator();
    identity(&mut doc, data);
    totals(&mut doc, &settlement.totals, layout.lang);
    methods(&mut doc, &settlement.by_method, layout.lang);
    reconciliation(&mut doc, data, layout.lang);
    if layout.reprint {
        doc.banner("mark.reprint");
    }
    doc.finish()
}

fn identity(doc: &mut Doc, data: &SlipData) {
    doc.field("merchant_name", &data.merchant_name);
    doc.field("merchant_id", data.merchant_id.as_str());
    doc.field("terminal_id", data.terminal_id.as_str());
    doc.field("operator", &data.operator.to_string());
    doc.field("batch_no", &data.batch_no.to_string());
    doc.field("settled_at", &doc::local_time(data.settled_at));
    doc.separator();
}

fn totals(doc: &mut Doc, totals: &Totals, lang: Lang) {
    doc.field("debit_count", &totals.debit_count.to_string());
    doc.field("debit_amount", &doc::money(lang, totals.debit(), false));
    doc.field("credit_count", &totals.credit_count.to_string());
    doc.field("credit_amount", &doc::money(lang, totals.credit(), false));
    doc.field("net", &doc::money(lang, totals.net(), false));
    doc.separator();
}

fn methods(doc: &mut Doc, by_method: &[MethodTotals], lang: Lang) {
    doc.heading("by_method");
    if by_method.is_empty() {
        doc.para(doc.label("none"));
    }
    for m in by_method {
        let key = format!("method.{}", m.method.as_str());
        doc.heading(&key);
        let t = &m.totals;
        // Only the sides that occurred: a zero line per method would double the slip.
        if t.debit_count > 0 {
            side(doc, "method_debit", t.debit_count, t.debit(), lang);
        }
        if t.credit_count > 0 {
            side(doc, "method_credit", t.credit_count, t.credit(), lang);
        }
    }
    doc.separator();
}

fn side(doc: &mut Doc, key: &str, count: u32, amount: Amount, lang: Lang) {
    let value = doc.fill(
        "count_amount",
        &[&count.to_string(), &doc::money(lang, amount, false)],
    );
    doc.field(key, &value);
}

fn reconciliation(doc: &mut Doc, data: &SlipData, lang: Lang) {
    let settlement = &data.settlement;
    match settlement.reconciliation {
        Reconciliation::Balanced => doc.banner("recon.balanced"),
        Reconciliation::Unbalanced => doc.banner("recon.unbalanced"),
    }
    // Balanced without terminal totals only means nothing was compared; say so.
    if data.terminal_totals.is_none() {
        doc.para(doc.label("recon.no_terminal_totals"));
    }
    for difference in &settlement.differences {
        let (host, terminal) = difference_values(difference, lang);
        let value = doc.fill("difference", &[&host, &terminal]);
        doc.field(difference.field, &value);
    }
    if settlement.reconciliation == Reconciliation::Unbalanced {
        doc.para(doc.label("recon.upload"));
    }
    doc.separator();
}

/// Host and terminal values of one difference: amounts as money, counts as numbers.
fn difference_values(difference: &Difference, lang: Lang) -> (String, String) {
    let show = |value: i64| {
        if difference.field.ends_with("_amount") {
            doc::money(lang, Amount::from_fen(value), false)
        } else {
            value.to_string()
        }
    };
    (show(difference.host), show(difference.terminal))
}
