//! Suanpan's receipts: the text of a POS slip (签购单) and of a settlement slip (结算单) as
//! a 32- or 48-column thermal printer prints them, in Chinese or English.
//!
//! **Architecture Invariant:** rendering is pure. It takes a
//! [`Transaction`](suanpan_core::Transaction) or a [`SlipData`] and returns a `String`; it
//! does no IO, reads no clock and knows no printer protocol. Every line of the result is at most [`Width::cols`] display cells, counting a
//! Chinese character as two.
//!
//! Only the masked PAN ever reaches a slip: the transaction carries no other card number.
#![deny(missing_docs)]

mod doc;
mod labels;
mod receipt;
mod slip;
mod text;

pub use receipt::render_receipt;
pub use slip::{SlipData, render_settlement_slip};
pub use suanpan_core::Lang;

use suanpan_core::{Amount, MerchantId, Rrn, VoucherNo};

/// What a slip prints that the transaction row does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptContext {
    /// 商户名称, as registered with the acquirer.
    pub merchant_name: String,
    /// 商户编号.
    pub merchant_id: MerchantId,
    /// 原凭证号 of the transaction acted on (void, completion void, pre-auth void).
    pub original_voucher: Option<VoucherNo>,
    /// 原参考号 of the transaction acted on (refund).
    pub original_rrn: Option<Rrn>,
    /// 余额, for a balance inquiry.
    pub balance: Option<Amount>,
    /// 收单机构, e.g. "Suanpan 算盘".
    pub acquirer: String,
    /// 发卡机构; empty when unknown (then not printed).
    pub issuer: String,
}

/// Which of the two copies is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Copy {
    /// 商户存根 MERCHANT COPY: kept by the merchant, carries the cardholder's signature.
    Merchant,
    /// 持卡人存根 CARDHOLDER COPY: handed to the cardholder.
    Cardholder,
}

/// Paper width in columns (display cells).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Width {
    /// 58 mm paper, 32 columns.
    W32,
    /// 80 mm paper, 48 columns.
    W48,
}

impl Width {
    /// The number of cells on a line.
    pub fn cols(self) -> usize {
        match self {
            Width::W32 => 32,
            Width::W48 => 48,
        }
    }
}

/// How to print: paper width, language, which copy, and whether it is a reprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Layout {
    /// Paper width.
    pub width: Width,
    /// Language of the labels.
    pub lang: Lang,
    /// Merchant or cardholder copy (ignored by the settlement slip, which has one copy).
    pub copy: Copy,
    /// A reprint is marked 重打印 REPRINT at the top and the bottom.
    pub reprint: bool,
}
