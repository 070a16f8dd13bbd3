//! The POS slip (签购单) of one transaction.

use crate::doc::{self, Doc};
use crate::{Copy, Layout, ReceiptContext};
use suanpan_core::{Transaction, TxnKind, TxnStatus};

/// Renders the slip of `txn` as printed on `layout`'s paper: every kind, approved or declined,
/// merchant or cardholder copy, original or reprint. Lines are at most `layout.width` cells.
pub fn render_receipt(txn: &Transaction, ctx: &ReceiptContext, layout: &Layout) -> String {
    // A slip naming another merchant than its transaction is a bug upstream, not a format
    // choice; release builds still print what the caller gave rather than lose the slip.
    debug_assert_eq!(
        txn.merchant_id, ctx.merchant_id,
        "receipt context of another merchant"
    );
    let mut doc = Doc::new(layout.width.cols(), layout.lang);
    let declined = is_declined(txn);
    header(&mut doc, txn, layout, declined);
    merchant(&mut doc, txn, ctx);
    card(&mut doc, txn, ctx);
    references(&mut doc, txn);
    amount(&mut doc, txn, ctx, layout);
    remarks(&mut doc, txn, ctx);
    if layout.copy == Copy::Merchant && !declined && needs_signature(txn.kind) {
        signature(&mut doc);
    }
    footer(&mut doc, txn, layout);
    doc.finish()
}

/// Declined by status or by code: either alone means no money moved.
fn is_declined(txn: &Transaction) -> bool {
    txn.status == TxnStatus::Declined || !txn.response_code.is_approved()
}

/// Kinds that give money back or release a hold print a negative amount.
fn gives_back(kind: TxnKind) -> bool {
    matches!(
        kind,
        TxnKind::Void
            | TxnKind::Refund
            | TxnKind::PreAuthVoid
            | TxnKind::CompletionVoid
            | TxnKind::Reversal
    )
}

/// The cardholder signs for what touches the card account; an inquiry or a system reversal
/// needs no consent.
fn needs_signature(kind: TxnKind) -> bool {
    !matches!(kind, TxnKind::BalanceInquiry | TxnKind::Reversal)
}

fn header(doc: &mut Doc, txn: &Transaction, layout: &Layout, declined: bool) {
    if layout.reprint {
        doc.banner("mark.reprint");
    }
    doc.center("title.receipt");
    doc.center(match layout.copy {
        Copy::Merchant => "copy.merchant",
        Copy::Cardholder => "copy.cardholder",
    });
    if txn.training {
        doc.banner("mark.training");
    }
    if declined {
        doc.banner("mark.declined");
        let code = txn.response_code;
        doc.field(
            "response",
            &format!("{} {}", code.code(), code.text(layout.lang)),
        );
    }
    doc.separator();
}

fn merchant(doc: &mut Doc, txn: &Transaction, ctx: &ReceiptContext) {
    doc.field("merchant_name", &ctx.merchant_name);
    doc.field("merchant_id", ctx.merchant_id.as_str());
    doc.field("terminal_id", txn.terminal_id.as_str());
    doc.field("operator", &txn.operator.to_string());
    doc.separator();
}

fn card(doc: &mut Doc, txn: &Transaction, ctx: &ReceiptContext) {
    // A QR payment has no card: the wallet id identifies the payer instead.
    if txn.method.is_qr() {
        doc.field_opt("wallet_id", txn.wallet_id.clone());
    } else {
        doc.field_opt("card_no", txn.masked_pan.as_ref().map(ToString::to_string));
    }
    let method = format!("method.{}", txn.method.as_str());
    doc.field("method", doc.label(&method));
    if !ctx.issuer.is_empty() {
        doc.field("issuer", &ctx.issuer);
    }
    doc.field("acquirer", &ctx.acquirer);
    let kind = format!("kind.{}", txn.kind.as_str());
    doc.field("kind", doc.label(&kind));
}

fn references(doc: &mut Doc, txn: &Transaction) {
    doc.field("batch_no", &txn.batch_no.to_string());
    doc.field("voucher_no", &txn.voucher_no.to_string());
    doc.field_opt("auth_code", txn.auth_code.as_ref().map(ToString::to_string));
    doc.field_opt("rrn", txn.rrn.as_ref().map(ToString::to_string));
    doc.field("datetime", &doc::local_time(txn.created_at));
    doc.separator();
}

fn amount(doc: &mut Doc, txn: &Transaction, ctx: &ReceiptContext, layout: &Layout) {
    // A balance inquiry moves nothing: its slip shows the balance, not the zero amount.
    if txn.kind == TxnKind::BalanceInquiry {
        let balance = ctx.balance.map(|b| doc::money(layout.lang, b, false));
        doc.field_opt("balance", balance);
    } else {
        let text = doc::money(layout.lang, txn.amount, gives_back(txn.kind));
        doc.field("amount", &text);
    }
    doc.separator();
}

/// 备注: what links this slip to its original and who authorized it.
fn remarks(doc: &mut Doc, txn: &Transaction, ctx: &ReceiptContext) {
    let entries = [
        (
            "original_voucher",
            ctx.original_voucher.map(|v| v.to_string()),
        ),
        (
            "original_rrn",
            ctx.original_rrn.as_ref().map(ToString::to_string),
        ),
        ("supervisor", txn.supervisor.map(|s| s.to_string())),
        (
            "reason",
            txn.reason.clone().filter(|r| !r.trim().is_empty()),
        ),
    ];
    if entries.iter().all(|(_, v)| v.is_none()) {
        return;
    }
    doc.heading("remarks");
    for (key, value) in entries {
        doc.field_opt(key, value);
    }
    doc.separator();
}

fn signature(doc: &mut Doc) {
    doc.heading("signature");
    doc.blank();
    doc.blank();
    doc.separator();
    doc.para(doc.label("acknowledge"));
    doc.separator();
}

fn footer(doc: &mut Doc, txn: &Transaction, layout: &Layout) {
    if txn.training {
        doc.banner("mark.training");
    }
    if layout.reprint {
        doc.banner("mark.reprint");
    }
}
