//! The transaction record as the rules see it.

use crate::ids::{AuthCode, BatchNo, MerchantId, OperatorNo, Rrn, TerminalId, TxnId, VoucherNo};
use crate::kind::{PaymentMethod, TxnKind, TxnStatus};
use crate::money::{Amount, Currency};
use crate::pan::MaskedPan;
use crate::response::ResponseCode;
use jiff::Timestamp;

/// One row of the journal: every sale, void, refund, pre-auth, completion, balance inquiry and
/// reversal, approved or declined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// Store row id.
    pub id: TxnId,
    /// What it is.
    pub kind: TxnKind,
    /// Where it stands in the state machine.
    pub status: TxnStatus,
    /// The amount asked for (for a balance inquiry: zero).
    pub amount: Amount,
    /// Always CNY today.
    pub currency: Currency,
    /// How the card or wallet was presented.
    pub method: PaymentMethod,
    /// Card payments: the masked PAN (6+4). Never the full PAN.
    pub masked_pan: Option<MaskedPan>,
    /// Card payments: HMAC-SHA256 fingerprint of the PAN (hex), to match cards without the PAN.
    pub card_fingerprint: Option<String>,
    /// QR payments: the wallet id.
    pub wallet_id: Option<String>,
    /// 商户号.
    pub merchant_id: MerchantId,
    /// 终端号.
    pub terminal_id: TerminalId,
    /// The acting operator.
    pub operator: OperatorNo,
    /// The supervisor who authorized it (void, refund, pre-auth void, completion void).
    pub supervisor: Option<OperatorNo>,
    /// 批次号 it was booked in.
    pub batch_no: BatchNo,
    /// 凭证号.
    pub voucher_no: VoucherNo,
    /// 参考号 (approved and declined transactions that reached the issuer).
    pub rrn: Option<Rrn>,
    /// 授权码 (approved only).
    pub auth_code: Option<AuthCode>,
    /// The answer.
    pub response_code: ResponseCode,
    /// The transaction this one acts on (void, refund, completion, reversal…).
    pub original_id: Option<TxnId>,
    /// Why (void, refund, reversal, hide).
    pub reason: Option<String>,
    /// For voids: the customer agreed at the counter.
    pub customer_consent: bool,
    /// Sum of approved refunds against this transaction.
    pub refunded: Amount,
    /// For a pre-auth: the amount captured by its completion.
    pub completed: Amount,
    /// When it was booked.
    pub created_at: Timestamp,
    /// True once its batch is settled.
    pub settled: bool,
    /// Hidden from default lists (删除交易记录), kept for retention.
    pub hidden: bool,
    /// A training transaction: moves no money, never settled.
    pub training: bool,
    /// A linked transaction (e.g. the re-charge after a mistaken void).
    pub linked_id: Option<TxnId>,
}

impl Transaction {
    /// What may still be refunded: the amount less approved refunds (zero if not refundable).
    pub fn refundable(&self) -> Amount {
        let open = matches!(
            self.status,
            TxnStatus::Approved | TxnStatus::PartiallyRefunded
        );
        if self.kind.is_debit() && open {
            self.amount
                .checked_sub(self.refunded)
                .unwrap_or(Amount::ZERO)
        } else {
            Amount::ZERO
        }
    }

    /// True when it counts in settlement totals (approved money movement, not training):
    /// [`crate::settlement::BatchLine::counts_in_totals`].
    pub fn counts_in_totals(&self) -> bool {
        crate::settlement::BatchLine::of(self).counts_in_totals()
    }
}
