//! Refusals: one enum per operation, each variant with a catalog key, a zh-CN and an English
//! message and a remedy. The wire forms (8583 response code, HTTP status) are the adapters'.

use crate::i18n::{Lang, tr};
use crate::money::{Amount, AmountError};
use crate::pan::PanError;

/// What every refusal can say about itself. Adapters map it once to their wire form.
pub trait Refusal: std::fmt::Debug {
    /// Stable key: the catalog entry, the JSON `code`, and what each adapter's one table maps
    /// to its wire form (the 8583 response code in `suanpan-host`, the HTTP status in
    /// `suanpan-web`).
    fn key(&self) -> &'static str;
    /// Values substituted into the message (`{0}`, `{1}`).
    fn args(&self) -> Vec<String> {
        Vec::new()
    }
    /// What happened, for the person at the counter.
    fn message(&self, lang: Lang) -> String {
        tr(lang, &format!("{}.msg", self.key()), &self.args())
    }
    /// What to do about it.
    fn remedy(&self, lang: Lang) -> String {
        tr(lang, &format!("{}.fix", self.key()), &self.args())
    }
}

/// The message of a refusal recorded by its key alone (the audit trail's `refused:KEY`),
/// from whichever catalog keeps it. The values it named are not recorded, so its `{0}`
/// placeholders are left out rather than shown.
pub fn message_of_key(lang: Lang, key: &str) -> Option<String> {
    let msg = format!("{key}.msg");
    let text = crate::i18n::text(lang, &msg)
        .or_else(|| crate::backoffice::CATALOG.get(lang, &msg))
        .or_else(|| crate::risk::CATALOG.get(lang, &msg))?;
    let mut out = text.to_owned();
    for i in 0..10 {
        out = out.replace(&format!("{{{i}}}"), "");
    }
    Some(out.split_whitespace().collect::<Vec<_>>().join(" "))
}

macro_rules! refusal_enum {
    (
        $(#[$doc:meta])*
        $name:ident {
            $( $(#[$vdoc:meta])* $variant:ident $({ $($field:ident : $ty:ty),* })? => $key:literal ),* $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $name {
            $( $(#[$vdoc])* $variant $({ $(#[allow(missing_docs)] $field: $ty),* })? ),*
        }

        impl $name {
            fn catalog_key(&self) -> &'static str {
                match self {
                    $( $name::$variant { .. } => $key ),*
                }
            }
        }
    };
}

refusal_enum! {
    /// Refusals common to every request before a rule is reached.
    AccessRefused {
        /// The terminal is not registered.
        UnknownTerminal => "access.unknown_terminal",
        /// The terminal was disabled by an admin.
        TerminalDisabled => "access.terminal_disabled",
        /// The merchant's supervisor paused the terminal: no new money until resumed.
        TerminalPaused => "access.terminal_paused",
        /// The merchant is unknown or disabled.
        UnknownMerchant => "access.unknown_merchant",
        /// The merchant is not active: pending, suspended by the acquirer or closed.
        MerchantNotActive { status: String } => "access.merchant_not_active",
        /// No operator with that number.
        UnknownOperator => "access.unknown_operator",
        /// Wrong password; `remaining` tries before lockout.
        WrongPassword { remaining: u32 } => "access.wrong_password",
        /// Locked out after too many wrong passwords.
        LockedOut { until: String } => "access.locked_out",
        /// The operation needs the supervisor (00) and none authorized it.
        SupervisorRequired => "access.supervisor_required",
        /// The supervisor's password was wrong.
        SupervisorWrongPassword { remaining: u32 } => "access.supervisor_wrong_password",
        /// The operator's role may not do this.
        NotPermitted { role: String } => "access.not_permitted",
        /// The new password is too short or the same as the old one.
        WeakPassword => "access.weak_password",
        /// The card number is malformed.
        BadCard { problem: PanError } => "access.bad_card",
        /// The amount is malformed.
        BadAmount { problem: AmountError } => "access.bad_amount",
        /// The card or wallet is not known to the issuer.
        UnknownInstrument => "access.unknown_instrument",
        /// The same terminal + batch + voucher no. was used for a different request.
        Duplicate => "access.duplicate",
        /// The payment method does not fit the instrument (QR method with a card…).
        MethodMismatch => "access.method_mismatch",
        /// The terminal's batch no. is not the host's open batch, or it is not signed in.
        BatchMismatch => "access.batch_mismatch",
        /// A re-charge (重新收款) names a voided sale (8583 field 61) this terminal never booked.
        LinkedNotFound => "access.linked_not_found",
        /// A sign-in asked for working keys this host does not issue: a track-data key
        /// (8583 60.3 `004`; docs/ISO8583.md says why) or an unknown 60.3.
        KeyLayoutUnsupported { network_code: u16 } => "access.key_layout_unsupported",
        /// The terminal's reversal of this very request (same terminal, batch and voucher
        /// no.) arrived first and was answered 00: the request must never take effect.
        ReversedFirst => "access.reversed_first",
    }
}

impl Refusal for AccessRefused {
    fn key(&self) -> &'static str {
        self.catalog_key()
    }
    fn args(&self) -> Vec<String> {
        match self {
            AccessRefused::WrongPassword { remaining }
            | AccessRefused::SupervisorWrongPassword { remaining } => vec![remaining.to_string()],
            AccessRefused::LockedOut { until } => vec![until.clone()],
            AccessRefused::KeyLayoutUnsupported { network_code } => {
                vec![format!("{network_code:03}")]
            }
            AccessRefused::NotPermitted { role } => vec![role.clone()],
            AccessRefused::BadCard { problem } => vec![problem.to_string()],
            AccessRefused::BadAmount { problem } => vec![problem.to_string()],
            _ => Vec::new(),
        }
    }
    fn message(&self, lang: Lang) -> String {
        // Malformed input has its own finer messages.
        match self {
            AccessRefused::BadAmount { problem } => {
                tr(lang, &format!("amount.{}.msg", amount_key(*problem)), &[])
            }
            AccessRefused::BadCard { problem } => {
                tr(lang, &format!("pan.{}.msg", pan_key(*problem)), &[])
            }
            _ => tr(lang, &format!("{}.msg", self.key()), &self.args()),
        }
    }
}

fn amount_key(e: AmountError) -> &'static str {
    match e {
        AmountError::Empty => "empty",
        AmountError::InvalidCharacter => "invalid_character",
        AmountError::TooManyDecimals => "too_many_decimals",
        AmountError::Zero => "zero",
        AmountError::TooLarge => "too_large",
    }
}

fn pan_key(e: PanError) -> &'static str {
    match e {
        PanError::Format => "format",
        PanError::Luhn => "luhn",
    }
}

refusal_enum! {
    /// 撤销 (sale void and completion void) refusals.
    VoidRefused {
        /// No original with that voucher/RRN.
        OriginalNotFound => "void.not_found",
        /// The original is not a sale (or, for a completion void, not a completion).
        WrongKind { kind: String } => "void.wrong_kind",
        /// The original was declined: nothing to void.
        NotApproved => "void.not_approved",
        /// Already voided: a void happens once.
        AlreadyVoided => "void.already_voided",
        /// The original was reversed.
        Reversed => "void.reversed",
        /// The original was (partly) refunded.
        Refunded => "void.refunded",
        /// The original's batch is settled: only a refund can return the money now.
        Settled => "void.settled",
        /// The original belongs to another terminal.
        OtherTerminal => "void.other_terminal",
        /// A void is for the full amount.
        AmountMismatch { original: Amount } => "void.amount_mismatch",
        /// Older than `void_max_age_minutes`.
        TooOld { minutes: u32 } => "void.too_old",
        /// The operator reached `void_max_per_operator_per_day`.
        OperatorLimit { limit: u32 } => "void.operator_limit",
        /// A reason is required.
        ReasonRequired => "void.reason_required",
        /// The customer must agree to the void.
        ConsentRequired => "void.consent_required",
        /// Policy requires the original card and none was presented.
        CardRequired => "void.card_required",
        /// The card presented is not the original's.
        CardMismatch => "void.card_mismatch",
        /// Training and live transactions do not mix.
        TrainingMismatch => "void.training_mismatch",
        /// The sale was decided by the network upstream and this void cannot send its 0420
        /// (39 = 17) there: its row keeps no card number (a sale of a build before schema
        /// 19) and the void brings none (the back-office's, or a terminal void without
        /// field 2). Voiding it here alone would leave the card charged.
        ThroughUpstream => "void.through_upstream",
    }
}

refusal_enum! {
    /// 退货 refusals.
    RefundRefused {
        /// No original with that RRN.
        OriginalNotFound => "refund.not_found",
        /// Only sales and completions can be refunded.
        WrongKind { kind: String } => "refund.wrong_kind",
        /// The original was declined.
        NotApproved => "refund.not_approved",
        /// A voided sale has already been returned in full.
        Voided => "refund.voided",
        /// The original was reversed.
        Reversed => "refund.reversed",
        /// Nothing is left to refund.
        FullyRefunded => "refund.fully_refunded",
        /// Past `refund_window_days`.
        WindowPassed { days: u32 } => "refund.window_passed",
        /// More than what remains refundable.
        ExceedsRemaining { remaining: Amount } => "refund.exceeds_remaining",
        /// Zero or negative.
        AmountNotPositive => "refund.amount_not_positive",
        /// A reason is required.
        ReasonRequired => "refund.reason_required",
        /// The original belongs to another merchant.
        OtherMerchant => "refund.other_merchant",
        /// Above the review threshold: goes through the back-office review.
        ReviewRequired { threshold: Amount } => "refund.review_required",
        /// Training and live transactions do not mix.
        TrainingMismatch => "refund.training_mismatch",
        /// The purchase was decided by the network upstream, and this refund cannot go up
        /// (a 0200 with processing code 200000 needs the card number: its row no longer
        /// keeps it — past the refund window, or a build before schema 19 — and the caller
        /// brings none, docs/ISO8583.md); booking it here alone would promise money the
        /// switch never pays. At the terminal, with the card, it goes up.
        ThroughUpstream => "refund.through_upstream",
        /// The refund must go up to the network upstream and no link to it is up in this
        /// process (or none is configured): nothing was booked, it may be asked again.
        UpstreamDown => "refund.upstream_down",
    }
}

refusal_enum! {
    /// 预授权完成 refusals.
    CompletionRefused {
        /// No pre-authorization with that reference.
        OriginalNotFound => "completion.not_found",
        /// The original is not a pre-authorization.
        WrongKind { kind: String } => "completion.wrong_kind",
        /// The pre-authorization was declined.
        NotApproved => "completion.not_approved",
        /// Already completed.
        AlreadyCompleted => "completion.already_completed",
        /// The pre-authorization was voided.
        Voided => "completion.voided",
        /// The pre-authorization was reversed.
        Reversed => "completion.reversed",
        /// The hold has lapsed.
        Expired => "completion.expired",
        /// Over `completion_max_percent` of the hold.
        OverLimit { max: Amount } => "completion.over_limit",
        /// Zero or negative.
        AmountNotPositive => "completion.amount_not_positive",
        /// The original belongs to another merchant.
        OtherMerchant => "completion.other_merchant",
    }
}

refusal_enum! {
    /// 预授权撤销 refusals.
    PreAuthVoidRefused {
        /// No pre-authorization with that reference.
        OriginalNotFound => "preauth_void.not_found",
        /// The original is not a pre-authorization.
        WrongKind { kind: String } => "preauth_void.wrong_kind",
        /// The pre-authorization was declined.
        NotApproved => "preauth_void.not_approved",
        /// Already voided.
        AlreadyVoided => "preauth_void.already_voided",
        /// Completed: void the completion instead.
        Completed => "preauth_void.completed",
        /// Reversed.
        Reversed => "preauth_void.reversed",
        /// Lapsed: the hold is already released.
        Expired => "preauth_void.expired",
        /// A pre-auth void is for the full amount.
        AmountMismatch { original: Amount } => "preauth_void.amount_mismatch",
        /// A reason is required.
        ReasonRequired => "preauth_void.reason_required",
        /// The original belongs to another merchant.
        OtherMerchant => "preauth_void.other_merchant",
    }
}

refusal_enum! {
    /// 冲正 refusals (spec: reversing what was voided, refunded or settled is answered 12).
    ReversalRefused {
        /// The transaction was voided since.
        AlreadyVoided => "reversal.already_voided",
        /// The transaction was refunded since.
        Refunded => "reversal.refunded",
        /// The transaction's batch is settled.
        Settled => "reversal.settled",
        /// The transaction was completed since (pre-auth).
        Completed => "reversal.completed",
        /// Balance inquiries, refunds and reversals are not reversible.
        NotReversible { kind: String } => "reversal.not_reversible",
        /// The original is still waiting for the network upstream's answer (the terminal
        /// retries; by then the host knows whether it stands).
        Authorizing => "reversal.authorizing",
        /// A void of a sale the network upstream decided whose 0420 may have reached the
        /// switch: the switch gave the money back, and the 1987 messages have no reversal of
        /// a reversal advice; the sale stays voided.
        VoidWentUp => "reversal.void_went_up",
    }
}

refusal_enum! {
    /// 删除交易记录 (hide) and purge refusals.
    HideRefused {
        /// Only the system administrator (99) may hide or purge records.
        NotAdmin => "hide.not_admin",
        /// A reason is required.
        ReasonRequired => "hide.reason_required",
        /// Already hidden.
        AlreadyHidden => "hide.already_hidden",
        /// No such record.
        NotFound => "hide.not_found",
        /// Inside the retention period: records cannot be purged yet.
        WithinRetention { until: String } => "hide.within_retention",
    }
}

refusal_enum! {
    /// 批结算 refusals.
    SettleRefused {
        /// The batch's totals leave the range of a sum (fen or counts): it is never settled
        /// with a wrapped total; the acquirer's operations settle it by hand.
        Untotallable { terminal: String, batch_no: String } => "settle.untotallable",
    }
}

macro_rules! impl_refusal {
    ($name:ident, |$s:ident| $args:expr) => {
        impl Refusal for $name {
            fn key(&self) -> &'static str {
                self.catalog_key()
            }
            fn args(&self) -> Vec<String> {
                let $s = self;
                $args
            }
        }
    };
}

impl_refusal!(VoidRefused, |s| match s {
    VoidRefused::WrongKind { kind } => vec![kind.clone()],
    VoidRefused::AmountMismatch { original } => vec![original.display()],
    VoidRefused::TooOld { minutes } => vec![minutes.to_string()],
    VoidRefused::OperatorLimit { limit } => vec![limit.to_string()],
    _ => Vec::new(),
});
impl_refusal!(RefundRefused, |s| match s {
    RefundRefused::WrongKind { kind } => vec![kind.clone()],
    RefundRefused::WindowPassed { days } => vec![days.to_string()],
    RefundRefused::ExceedsRemaining { remaining } => vec![remaining.display()],
    RefundRefused::ReviewRequired { threshold } => vec![threshold.display()],
    _ => Vec::new(),
});
impl_refusal!(CompletionRefused, |s| match s {
    CompletionRefused::WrongKind { kind } => vec![kind.clone()],
    CompletionRefused::OverLimit { max } => vec![max.display()],
    _ => Vec::new(),
});
impl_refusal!(PreAuthVoidRefused, |s| match s {
    PreAuthVoidRefused::WrongKind { kind } => vec![kind.clone()],
    PreAuthVoidRefused::AmountMismatch { original } => vec![original.display()],
    _ => Vec::new(),
});
impl_refusal!(ReversalRefused, |s| match s {
    ReversalRefused::NotReversible { kind } => vec![kind.clone()],
    _ => Vec::new(),
});
impl_refusal!(SettleRefused, |s| match s {
    SettleRefused::Untotallable { terminal, batch_no } => vec![batch_no.clone(), terminal.clone()],
});
impl_refusal!(HideRefused, |s| match s {
    HideRefused::WithinRetention { until } => vec![until.clone()],
    _ => Vec::new(),
});
