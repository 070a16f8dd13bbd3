//! What a transaction is, how it was paid, and where it stands.

/// 交易类型. The nine kinds of the UnionPay POS profile that Suanpan handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnKind {
    /// 消费.
    Sale,
    /// 消费撤销: undoes a sale in the same open batch.
    Void,
    /// 退货: returns part or all of a sale or completion, any batch.
    Refund,
    /// 预授权: places a hold.
    PreAuth,
    /// 预授权撤销: releases a hold.
    PreAuthVoid,
    /// 预授权完成: captures (part of, or up to 115% of) a hold.
    Completion,
    /// 预授权完成撤销: undoes a completion in the same open batch.
    CompletionVoid,
    /// 余额查询: moves no money.
    BalanceInquiry,
    /// 冲正: undoes a transaction whose response never reached the terminal.
    Reversal,
}

impl TxnKind {
    /// Every kind, for listings and parsers.
    pub const ALL: [TxnKind; 9] = [
        TxnKind::Sale,
        TxnKind::Void,
        TxnKind::Refund,
        TxnKind::PreAuth,
        TxnKind::PreAuthVoid,
        TxnKind::Completion,
        TxnKind::CompletionVoid,
        TxnKind::BalanceInquiry,
        TxnKind::Reversal,
    ];

    /// The code name (JSON, database, CLI filters).
    pub fn as_str(self) -> &'static str {
        match self {
            TxnKind::Sale => "sale",
            TxnKind::Void => "void",
            TxnKind::Refund => "refund",
            TxnKind::PreAuth => "preauth",
            TxnKind::PreAuthVoid => "preauth_void",
            TxnKind::Completion => "completion",
            TxnKind::CompletionVoid => "completion_void",
            TxnKind::BalanceInquiry => "balance",
            TxnKind::Reversal => "reversal",
        }
    }

    /// Parses a code name.
    pub fn parse(text: &str) -> Option<TxnKind> {
        TxnKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// True when approval takes money from the cardholder (debit side of field 48).
    pub fn is_debit(self) -> bool {
        matches!(self, TxnKind::Sale | TxnKind::Completion)
    }

    /// True when approval returns money to the cardholder outside a void (credit side of 48).
    pub fn is_credit(self) -> bool {
        matches!(self, TxnKind::Refund)
    }

    /// True for the kinds the spec's message table marks reversible (0400).
    pub fn is_reversible(self) -> bool {
        matches!(
            self,
            TxnKind::Sale
                | TxnKind::Void
                | TxnKind::PreAuth
                | TxnKind::PreAuthVoid
                | TxnKind::Completion
                | TxnKind::CompletionVoid
        )
    }

    /// True for the kinds that need the supervisor (00) besides the acting operator.
    pub fn needs_supervisor(self) -> bool {
        matches!(
            self,
            TxnKind::Void | TxnKind::Refund | TxnKind::PreAuthVoid | TxnKind::CompletionVoid
        )
    }
}

/// 支付方式: how the card or wallet was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentMethod {
    /// 磁条, entry mode 02.
    Magstripe,
    /// 芯片 (IC), entry mode 05.
    Chip,
    /// 非接 (闪付), entry mode 07.
    Contactless,
    /// 手输卡号, entry mode 01.
    Manual,
    /// 支付宝扫码.
    QrAlipay,
    /// 微信扫码.
    QrWechat,
    /// 银联二维码 (云闪付).
    QrUnionpay,
}

impl PaymentMethod {
    /// Every method.
    pub const ALL: [PaymentMethod; 7] = [
        PaymentMethod::Magstripe,
        PaymentMethod::Chip,
        PaymentMethod::Contactless,
        PaymentMethod::Manual,
        PaymentMethod::QrAlipay,
        PaymentMethod::QrWechat,
        PaymentMethod::QrUnionpay,
    ];

    /// The code name.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Magstripe => "magstripe",
            PaymentMethod::Chip => "chip",
            PaymentMethod::Contactless => "contactless",
            PaymentMethod::Manual => "manual",
            PaymentMethod::QrAlipay => "qr_alipay",
            PaymentMethod::QrWechat => "qr_wechat",
            PaymentMethod::QrUnionpay => "qr_unionpay",
        }
    }

    /// Parses a code name.
    pub fn parse(text: &str) -> Option<PaymentMethod> {
        PaymentMethod::ALL.into_iter().find(|m| m.as_str() == text)
    }

    /// True for QR wallet payments (no card, no PIN).
    pub fn is_qr(self) -> bool {
        matches!(
            self,
            PaymentMethod::QrAlipay | PaymentMethod::QrWechat | PaymentMethod::QrUnionpay
        )
    }

    /// 8583 field 22 digits 1–2 for card methods.
    pub fn entry_mode(self) -> &'static str {
        match self {
            PaymentMethod::Manual => "01",
            PaymentMethod::Magstripe => "02",
            PaymentMethod::Chip => "05",
            PaymentMethod::Contactless => "07",
            _ => "03",
        }
    }
}

/// 交易状态. The state machine: a transaction is born `Approved` or `Declined`; only approved
/// ones move on, and only along the arrows the rules allow:
///
/// ```text
/// Sale/Completion: Approved ─void→ Voided
///                  Approved ─refund (part)→ PartiallyRefunded ─refund (rest)→ Refunded
///                  Approved ─reversal→ Reversed
/// PreAuth:         Approved ─completion→ Completed ; ─pre-auth void→ Voided ;
///                  ─reversal→ Reversed ; ─hold days pass→ Expired
/// Void/PreAuthVoid/CompletionVoid: Approved ─reversal→ Reversed (the original goes back)
/// Refund, BalanceInquiry, Reversal: not reversible
/// Through the network upstream (issue 15) a sale is born `Authorizing` (recorded before
/// it leaves) and becomes Approved, Declined or `ReversalPending` (no answer in time: a
/// 0420 reverses it upstream) when its fate is known.
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnStatus {
    /// 成功.
    Approved,
    /// 失败 (issuer or rule refusal on the wire).
    Declined,
    /// 已撤销.
    Voided,
    /// 部分退货.
    PartiallyRefunded,
    /// 已全额退货.
    Refunded,
    /// 已冲正.
    Reversed,
    /// 已完成 (pre-auth captured).
    Completed,
    /// 已过期 (pre-auth hold lapsed).
    Expired,
    /// 授权中: sent (or about to be sent) to the network upstream, its answer not yet in.
    Authorizing,
    /// 待冲正: no answer in time from the upstream; a reversal advice (0420) undoes it
    /// there. Never approved here.
    ReversalPending,
}

impl TxnStatus {
    /// Every status.
    pub const ALL: [TxnStatus; 10] = [
        TxnStatus::Approved,
        TxnStatus::Declined,
        TxnStatus::Voided,
        TxnStatus::PartiallyRefunded,
        TxnStatus::Refunded,
        TxnStatus::Reversed,
        TxnStatus::Completed,
        TxnStatus::Expired,
        TxnStatus::Authorizing,
        TxnStatus::ReversalPending,
    ];

    /// The code name.
    pub fn as_str(self) -> &'static str {
        match self {
            TxnStatus::Approved => "approved",
            TxnStatus::Declined => "declined",
            TxnStatus::Voided => "voided",
            TxnStatus::PartiallyRefunded => "partially_refunded",
            TxnStatus::Refunded => "refunded",
            TxnStatus::Reversed => "reversed",
            TxnStatus::Completed => "completed",
            TxnStatus::Expired => "expired",
            TxnStatus::Authorizing => "authorizing",
            TxnStatus::ReversalPending => "reversal_pending",
        }
    }

    /// Parses a code name.
    pub fn parse(text: &str) -> Option<TxnStatus> {
        TxnStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}
