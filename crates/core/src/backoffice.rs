//! The back-office's rules (issue 5): who may do what (staff roles), and the maker-checker
//! review of void and refund requests (seed 004: 提交撤销申请 → 审核 → 结果).
//!
//! The web adapter asks these functions and persists what they decide; it decides nothing
//! itself. Money effects of an approved request still go through `rules::decide_void` /
//! `rules::decide_refund` in the store's engine.

use crate::i18n::{Catalog, Entries, Lang};
use crate::kind::PaymentMethod;
use crate::money::Amount;
use crate::policy::Policy;
use crate::refusal::Refusal;
use jiff::{Timestamp, ToSpan};

pub mod kyc;
pub mod merchants;
pub use kyc::{KYC_DOCUMENT_BYTES_MAX, KYC_DOCUMENTS_PER_MERCHANT_MAX, KycDocumentKind};
pub use merchants::{
    MerchantChangeKind, decide_acquirer_channel, decide_kyc_removal, decide_merchant_change,
    decide_merchant_review, decide_terminal_assign, decide_terminal_lock,
    decide_terminal_pause_change, decide_tmk_component, merchant_status_allowed,
};

/// A back-office user's role. Unlike terminal operators (00/01–98/99), staff roles are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StaffRole {
    /// 收银员: sells over the API, asks for voids and refunds.
    Cashier,
    /// 主管: reviews requests, exports, reads batches.
    Supervisor,
    /// 财务: reviews refunds, exports, reads batches and settlement reports.
    Finance,
    /// 管理员: everything, including hiding records and managing users.
    Admin,
    /// 审计员: read-only, sees hidden records and the audit trail.
    Auditor,
    /// 平台管理员 (acquirer tier): merchants, terminals, channels of the whole platform,
    /// backups, restores and purges.
    PlatformAdmin,
    /// 运营 (acquirer tier): onboards merchants, registers and assigns terminals, switches
    /// channels, runs backups.
    Operations,
    /// 风控 (acquirer tier): watches every merchant's activity, audit and cases, and suspends
    /// merchants.
    RiskOfficer,
    /// 机构审计 (acquirer tier): reads every merchant's activity and the whole audit trail.
    AcquirerAuditor,
}

/// The two tiers of users (issue 14): the acquirer (收单机构) that onboards merchants and owns
/// terminals, keys, channels and store-wide operations, and each merchant, who sees and acts
/// on its own business only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    /// 机构后台: the platform's own staff.
    Acquirer,
    /// 商户后台: one merchant's staff.
    Merchant,
}

/// Declares [`Permission`] from one list: each variant with its API name, in the order
/// the API lists them. `ALL` and `as_str` come from the same list, so a new permission is
/// written once (its tier is still placed by hand in [`Permission::tier`]).
macro_rules! permissions {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal,)+) => {
        /// What a request wants to do; checked per operation on the server.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Permission {
            $($(#[doc = $doc])* $variant,)+
        }

        impl Permission {
            /// Every permission, in the order the API lists them.
            pub const ALL: &'static [Permission] = &[$(Permission::$variant,)+];

            /// The permission's name in the API (`GET /api/v1/session`'s `permissions`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Permission::$variant => $name,)+
                }
            }
        }
    };
}

permissions! {
    /// List and read transactions, receipts and timelines.
    ViewTransactions = "view_transactions",
    /// See hidden (deleted) records too.
    ViewHidden = "view_hidden",
    /// Sale, pre-authorization and completion over the API.
    Sell = "sell",
    /// Submit void and refund requests.
    RequestVoidRefund = "request_void_refund",
    /// Approve or reject someone else's request.
    Review = "review",
    /// Hide a record (删除交易记录).
    Hide = "hide",
    /// Export CSV/XLSX.
    Export = "export",
    /// Batches and settlement reports.
    ViewBatches = "view_batches",
    /// The audit trail and its verification.
    ViewAudit = "view_audit",
    /// Create back-office users.
    ManageUsers = "manage_users",
    /// Enable, disable, remove and re-add payment channels.
    ManageChannels = "manage_channels",
    /// Ask for evidence past its retention to be removed (reviewed by someone else).
    RequestEvidenceRemoval = "request_evidence_removal",
    /// Read cases (撤错 / 调账) and download their evidence packs.
    ViewCases = "view_cases",
    /// Open cases, link transactions, add notes and evidence, submit, record the answer.
    ManageCases = "manage_cases",
    /// Create, list and verify backups (运维).
    ManageBackups = "manage_backups",
    /// Purge records past retention (删除过期记录, for good, after a backup).
    Purge = "purge",
    /// Onboard merchants and ask for their status changes (acquirer tier; each change is
    /// reviewed by a second acquirer user).
    ManageMerchants = "manage_merchants",
    /// Register terminals, assign them, lock and unlock them (acquirer tier).
    ManageTerminals = "manage_terminals",
    /// The platform-wide channel switch (an outage) and each merchant's channels (acquirer
    /// tier).
    ManagePlatformChannels = "manage_platform_channels",
    /// See every merchant's activity, audit entries and cases (acquirer tier).
    ViewAllMerchants = "view_all_merchants",
    /// The merchant's own webhook endpoints: create, change, remove, delivery log, replay
    /// (issue 13).
    ManageWebhooks = "manage_webhooks",
    /// The acquirer's webhook endpoints, which hear every merchant's events (acquirer tier).
    ManageAcquirerWebhooks = "manage_acquirer_webhooks",
    /// Pause and resume the merchant's own terminals (issue 13: a paused terminal takes no
    /// new money until resumed).
    PauseTerminals = "pause_terminals",
}

impl Permission {
    /// The tier a permission belongs to: store-wide operations (backups, purges), merchants,
    /// terminals and the platform's channels are the acquirer's; a merchant's users never get
    /// them, whatever their role. Exhaustive on purpose: a new permission must be placed in
    /// a tier by whoever adds it, never fall into the merchant's by default.
    pub fn tier(self) -> Tier {
        use Permission::*;
        match self {
            ManageBackups
            | Purge
            | ManageMerchants
            | ManageTerminals
            | ManagePlatformChannels
            | ViewAllMerchants
            | ManageAcquirerWebhooks => Tier::Acquirer,
            ViewTransactions
            | ViewHidden
            | Sell
            | RequestVoidRefund
            | Review
            | Hide
            | Export
            | ViewBatches
            | ViewAudit
            | ManageUsers
            | ManageChannels
            | RequestEvidenceRemoval
            | ViewCases
            | ManageCases
            | ManageWebhooks
            | PauseTerminals => Tier::Merchant,
        }
    }
}

impl StaffRole {
    /// Every role, the merchant's first.
    pub const ALL: [StaffRole; 9] = [
        StaffRole::Cashier,
        StaffRole::Supervisor,
        StaffRole::Finance,
        StaffRole::Admin,
        StaffRole::Auditor,
        StaffRole::PlatformAdmin,
        StaffRole::Operations,
        StaffRole::RiskOfficer,
        StaffRole::AcquirerAuditor,
    ];
    /// A merchant's roles, in the order its 用户 page lists them.
    pub const MERCHANT: [StaffRole; 5] = [
        StaffRole::Cashier,
        StaffRole::Supervisor,
        StaffRole::Finance,
        StaffRole::Admin,
        StaffRole::Auditor,
    ];
    /// The acquirer's roles.
    pub const ACQUIRER: [StaffRole; 4] = [
        StaffRole::PlatformAdmin,
        StaffRole::Operations,
        StaffRole::RiskOfficer,
        StaffRole::AcquirerAuditor,
    ];

    /// The tier the role belongs to.
    pub fn tier(self) -> Tier {
        if StaffRole::ACQUIRER.contains(&self) {
            Tier::Acquirer
        } else {
            Tier::Merchant
        }
    }

    /// The code name used in JSON, the store and the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Cashier => "cashier",
            StaffRole::Supervisor => "supervisor",
            StaffRole::Finance => "finance",
            StaffRole::Admin => "admin",
            StaffRole::Auditor => "auditor",
            StaffRole::PlatformAdmin => "platform_admin",
            StaffRole::Operations => "operations",
            StaffRole::RiskOfficer => "risk_officer",
            StaffRole::AcquirerAuditor => "acquirer_auditor",
        }
    }

    /// Parses a code name.
    pub fn parse(text: &str) -> Option<StaffRole> {
        StaffRole::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// True for the roles that must log in with a second factor (TOTP). Admins can hide
    /// records and manage users: a stolen password alone must not be enough (issue 5). With
    /// `approvers` (the `totp_required_for_approvers` setting, on by default), so must every
    /// role that approves money movements — reviews voids and refunds (issue 14). Every
    /// acquirer role reaches all merchants at once: it needs it whatever the setting.
    pub fn requires_totp(self, approvers: bool) -> bool {
        self == StaffRole::Admin
            || self.tier() == Tier::Acquirer
            || (approvers && self.allows(Permission::Review))
    }

    /// The permission table. The auditor is read-only by design: an auditor who could change
    /// what they audit would audit nothing.
    pub fn allows(self, p: Permission) -> bool {
        use Permission::*;
        // A permission of the other tier is never granted: a merchant's admin cannot back up
        // the whole store (it holds every merchant's data), and an acquirer user acts on a
        // merchant's records only through the acquirer's own routes, which name the merchant.
        if p.tier() != self.tier() {
            return false;
        }
        match self {
            StaffRole::Cashier => matches!(p, ViewTransactions | Sell | RequestVoidRefund),
            StaffRole::Supervisor => matches!(
                p,
                ViewTransactions
                    | Sell
                    | RequestVoidRefund
                    | Review
                    | Export
                    | ViewBatches
                    | RequestEvidenceRemoval
                    | ViewCases
                    | ManageCases
                    | PauseTerminals
            ),
            StaffRole::Finance => matches!(
                p,
                ViewTransactions
                    | RequestVoidRefund
                    | Review
                    | Export
                    | ViewBatches
                    | ViewAudit
                    | RequestEvidenceRemoval
                    | ViewCases
                    | ManageCases
            ),
            StaffRole::Admin => !matches!(p, Sell),
            StaffRole::Auditor => matches!(
                p,
                ViewTransactions | ViewHidden | Export | ViewBatches | ViewAudit | ViewCases
            ),
            StaffRole::PlatformAdmin => true,
            StaffRole::Operations => matches!(
                p,
                ManageMerchants
                    | ManageTerminals
                    | ManagePlatformChannels
                    | ManageBackups
                    | ViewAllMerchants
            ),
            StaffRole::RiskOfficer => matches!(p, ManageMerchants | ViewAllMerchants),
            StaffRole::AcquirerAuditor => matches!(p, ViewAllMerchants),
        }
    }
}

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// 撤销 (full amount, the original's batch must still be open).
    Void,
    /// 退货 (partial or full, any batch).
    Refund,
}

impl RequestKind {
    /// Code name.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Void => "void",
            RequestKind::Refund => "refund",
        }
    }
    /// Parses a code name.
    pub fn parse(text: &str) -> Option<RequestKind> {
        match text {
            "void" => Some(RequestKind::Void),
            "refund" => Some(RequestKind::Refund),
            _ => None,
        }
    }
}

/// Where a request stands. `Approved` is the grace window: the approval can still be undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestStatus {
    /// 待审核.
    Pending,
    /// 已批准, waiting out the grace window before it runs.
    Approved,
    /// 执行中: claimed by the executor, the void or refund is being booked. A request left
    /// here by a crash is not retried automatically (it may have booked): it needs a look.
    Executing,
    /// 已执行: the void or refund is booked.
    Executed,
    /// 执行失败: the rules refused it at execution (e.g. the batch settled meanwhile).
    Failed,
    /// 已驳回.
    Rejected,
    /// 已撤回 by its submitter.
    Cancelled,
    /// 已撤销批准 by the reviewer within the grace window.
    Undone,
}

impl RequestStatus {
    /// Code name.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Approved => "approved",
            RequestStatus::Executing => "executing",
            RequestStatus::Executed => "executed",
            RequestStatus::Failed => "failed",
            RequestStatus::Rejected => "rejected",
            RequestStatus::Cancelled => "cancelled",
            RequestStatus::Undone => "undone",
        }
    }
    /// Parses a code name.
    pub fn parse(text: &str) -> Option<RequestStatus> {
        [
            RequestStatus::Pending,
            RequestStatus::Approved,
            RequestStatus::Executing,
            RequestStatus::Executed,
            RequestStatus::Failed,
            RequestStatus::Rejected,
            RequestStatus::Cancelled,
            RequestStatus::Undone,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// The facts of a stored request that the rules look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFacts {
    /// Void or refund.
    pub kind: RequestKind,
    /// Who submitted it (user id).
    pub submitted_by: i64,
    /// Who reviewed it, once reviewed.
    pub reviewed_by: Option<i64>,
    /// Where it stands.
    pub status: RequestStatus,
    /// After approval: when it runs.
    pub execute_after: Option<Timestamp>,
}

/// A new request's facts.
#[derive(Debug, Clone)]
pub struct Submission<'a> {
    /// Void or refund.
    pub kind: RequestKind,
    /// The amount (the original's for a void).
    pub amount: Amount,
    /// Why (required).
    pub reason: &'a str,
    /// The submitter's role.
    pub role: StaffRole,
}

/// Decides whether a request may be submitted, and whether it needs a second person.
/// Voids always do (seed 004: 提交撤销申请 → 审核). A refund above
/// `refund_review_threshold_fen` always does (DESIGN.md); a smaller one needs review unless a
/// reviewer-role (supervisor, finance, admin) submits it, who is then the second person.
pub fn decide_submit(s: &Submission<'_>, policy: &Policy) -> Result<bool, BackOfficeRefused> {
    if !s.role.allows(Permission::RequestVoidRefund) {
        return Err(BackOfficeRefused::NotPermitted {
            role: s.role.as_str().into(),
        });
    }
    if s.reason.trim().is_empty() {
        return Err(BackOfficeRefused::ReasonRequired);
    }
    if !s.amount.is_positive() {
        return Err(BackOfficeRefused::AmountNotPositive);
    }
    Ok(match s.kind {
        RequestKind::Void => true,
        RequestKind::Refund => {
            s.amount > policy.refund_review_threshold() || !s.role.allows(Permission::Review)
        }
    })
}

/// The outcome of a review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReviewOutcome {
    /// `Approved` or `Rejected`.
    pub status: RequestStatus,
    /// For an approval: when it runs (now + `void_grace_seconds`).
    pub execute_after: Option<Timestamp>,
}

/// Decides an approval (`approve`) or rejection by `reviewer`. The maker-checker rule: the
/// submitter never reviews their own request, whatever their role.
pub fn decide_review(
    req: &RequestFacts,
    reviewer: i64,
    role: StaffRole,
    approve: bool,
    comment: &str,
    policy: &Policy,
    now: Timestamp,
) -> Result<ReviewOutcome, BackOfficeRefused> {
    check_review(
        req.submitted_by,
        req.status,
        reviewer,
        role,
        approve,
        comment,
    )?;
    if !approve {
        return Ok(ReviewOutcome {
            status: RequestStatus::Rejected,
            execute_after: None,
        });
    }
    let after = now
        .checked_add(i64::from(policy.void_grace_seconds).seconds())
        .unwrap_or(now);
    Ok(ReviewOutcome {
        status: RequestStatus::Approved,
        execute_after: Some(after),
    })
}

/// The maker-checker checks every review shares: a reviewer role, not the submitter, a
/// pending request, and a comment for a rejection.
fn check_review(
    submitted_by: i64,
    status: RequestStatus,
    reviewer: i64,
    role: StaffRole,
    approve: bool,
    comment: &str,
) -> Result<(), BackOfficeRefused> {
    check_review_of(
        Permission::Review,
        submitted_by,
        status,
        reviewer,
        role,
        approve,
        comment,
    )
}

/// [`check_review`] for reviews that need `permission` (a merchant change needs
/// [`Permission::ManageMerchants`], a void or refund [`Permission::Review`]).
fn check_review_of(
    permission: Permission,
    submitted_by: i64,
    status: RequestStatus,
    reviewer: i64,
    role: StaffRole,
    approve: bool,
    comment: &str,
) -> Result<(), BackOfficeRefused> {
    if !role.allows(permission) {
        return Err(BackOfficeRefused::NotPermitted {
            role: role.as_str().into(),
        });
    }
    if submitted_by == reviewer {
        return Err(BackOfficeRefused::OwnRequest);
    }
    if status != RequestStatus::Pending {
        return Err(BackOfficeRefused::NotPending {
            status: status.as_str().into(),
        });
    }
    if !approve && comment.trim().is_empty() {
        return Err(BackOfficeRefused::CommentRequired);
    }
    Ok(())
}

/// Decides undoing an approval: only its reviewer, only inside the grace window.
pub fn decide_undo(
    req: &RequestFacts,
    actor: i64,
    now: Timestamp,
) -> Result<(), BackOfficeRefused> {
    if req.status != RequestStatus::Approved {
        return Err(BackOfficeRefused::NotApproved {
            status: req.status.as_str().into(),
        });
    }
    if req.reviewed_by != Some(actor) {
        return Err(BackOfficeRefused::NotReviewer);
    }
    match req.execute_after {
        Some(at) if now < at => Ok(()),
        _ => Err(BackOfficeRefused::GraceOver),
    }
}

/// Decides withdrawing a pending request: its submitter, or an admin.
pub fn decide_cancel(
    req: &RequestFacts,
    actor: i64,
    role: StaffRole,
) -> Result<(), BackOfficeRefused> {
    if req.status != RequestStatus::Pending {
        return Err(BackOfficeRefused::NotPending {
            status: req.status.as_str().into(),
        });
    }
    if req.submitted_by != actor && role != StaffRole::Admin {
        return Err(BackOfficeRefused::NotSubmitter);
    }
    Ok(())
}

/// True when an approved request's grace window has passed and it must run now.
pub fn is_due(req: &RequestFacts, now: Timestamp) -> bool {
    req.status == RequestStatus::Approved && req.execute_after.is_some_and(|at| now >= at)
}

/// A payment channel (支付渠道): the network a transaction goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// 银联: bank cards and UnionPay QR (云闪付).
    Unionpay,
    /// 支付宝.
    Alipay,
    /// 微信支付.
    Wechat,
    /// 拉卡拉: a third-party acquirer; the demo routes no method through it.
    Lakala,
}

impl Channel {
    /// Every channel, in the order the UI lists them.
    pub const ALL: [Channel; 4] = [
        Channel::Unionpay,
        Channel::Alipay,
        Channel::Wechat,
        Channel::Lakala,
    ];

    /// Code name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Unionpay => "unionpay",
            Channel::Alipay => "alipay",
            Channel::Wechat => "wechat",
            Channel::Lakala => "lakala",
        }
    }
    /// Parses a code name.
    pub fn parse(text: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == text)
    }
    /// The channel a payment method goes through.
    pub fn of_method(m: PaymentMethod) -> Channel {
        match m {
            PaymentMethod::QrAlipay => Channel::Alipay,
            PaymentMethod::QrWechat => Channel::Wechat,
            PaymentMethod::Magstripe
            | PaymentMethod::Chip
            | PaymentMethod::Contactless
            | PaymentMethod::Manual
            | PaymentMethod::QrUnionpay => Channel::Unionpay,
        }
    }
    /// The methods that go through it.
    pub fn methods(self) -> Vec<PaymentMethod> {
        PaymentMethod::ALL
            .into_iter()
            .filter(|m| Channel::of_method(*m) == self)
            .collect()
    }
}

/// What an admin does to a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelAction {
    /// Accept new transactions again.
    Enable,
    /// Refuse new transactions (12); the channel stays listed as disabled.
    Disable,
    /// 删除: refuse new transactions and list the channel as removed. The row stays (audit
    /// trail); an admin can re-add it.
    Remove,
    /// Re-add a removed channel. It comes back disabled: taking money through it again is
    /// its own, separately audited step (enable).
    Restore,
}

impl ChannelAction {
    /// Code name (the API's path segment and the audit action's suffix).
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelAction::Enable => "enable",
            ChannelAction::Disable => "disable",
            ChannelAction::Remove => "remove",
            ChannelAction::Restore => "restore",
        }
    }
    /// Parses a code name.
    pub fn parse(text: &str) -> Option<ChannelAction> {
        [
            ChannelAction::Enable,
            ChannelAction::Disable,
            ChannelAction::Remove,
            ChannelAction::Restore,
        ]
        .into_iter()
        .find(|a| a.as_str() == text)
    }
}

/// The facts of a request to change a channel.
#[derive(Debug, Clone)]
pub struct ChannelChange<'a> {
    /// The acting user's role.
    pub role: StaffRole,
    /// What to do.
    pub action: ChannelAction,
    /// Why (required).
    pub reason: &'a str,
    /// The acting user re-entered their password correctly.
    pub password_ok: bool,
    /// The channel's transactions not settled yet.
    pub unsettled: u64,
    /// The channel is removed now.
    pub removed: bool,
}

/// The gate of an irreversible admin action (a channel change, a purge): the role holds
/// `permission`, the password was re-entered correctly, and a reason is given — checked in
/// that order, so a caller without the right learns nothing about the password.
fn decide_confirmed(
    role: StaffRole,
    permission: Permission,
    password_ok: bool,
    reason: &str,
) -> Result<(), BackOfficeRefused> {
    if !role.allows(permission) {
        return Err(BackOfficeRefused::NotPermitted {
            role: role.as_str().into(),
        });
    }
    if !password_ok {
        return Err(BackOfficeRefused::PasswordWrong);
    }
    if reason.trim().is_empty() {
        return Err(BackOfficeRefused::ReasonRequired);
    }
    Ok(())
}

/// Decides a channel change (issue 5): admins only, with the password re-entered and a
/// reason; a channel with unsettled transactions cannot be disabled or removed (they must
/// settle through it first); a removed channel is only re-added, never enabled, disabled
/// or removed again.
pub fn decide_channel_change(c: &ChannelChange<'_>) -> Result<(), BackOfficeRefused> {
    decide_confirmed(c.role, Permission::ManageChannels, c.password_ok, c.reason)?;
    match c.action {
        ChannelAction::Restore if !c.removed => Err(BackOfficeRefused::ChannelNotRemoved),
        ChannelAction::Restore => Ok(()),
        _ if c.removed => Err(BackOfficeRefused::ChannelRemoved),
        ChannelAction::Disable | ChannelAction::Remove if c.unsettled > 0 => {
            Err(BackOfficeRefused::ChannelUnsettled { count: c.unsettled })
        }
        _ => Ok(()),
    }
}

/// A purge asked for in the back-office: who, with their password re-entered, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeRequest<'a> {
    /// The acting user's role.
    pub role: StaffRole,
    /// The acting user re-entered their password correctly.
    pub password_ok: bool,
    /// Why (required; audited).
    pub reason: &'a str,
}

/// Decides who may ask for a purge in the back-office: admins only, with the password
/// re-entered and a reason, since the records go for good. Whether the records are past
/// retention is `rules::decide_purge`, asked by the engine for the CLI and the API alike.
pub fn decide_purge_request(p: &PurgeRequest<'_>) -> Result<(), BackOfficeRefused> {
    decide_confirmed(p.role, Permission::Purge, p.password_ok, p.reason)
}

/// Decides whether a new transaction may use a channel: a disabled one is refused with 12.
pub fn decide_channel_open(channel: Channel, enabled: bool) -> Result<(), BackOfficeRefused> {
    if enabled {
        Ok(())
    } else {
        Err(BackOfficeRefused::ChannelDisabled {
            channel: channel.as_str().into(),
        })
    }
}

/// Back-office passwords shorter than this are refused (they guard refunds and hiding).
pub const STAFF_PASSWORD_CHARS_MIN: usize = 8;

/// Decides creating a back-office user: only a role that manages users (admin; the CLI
/// acts as the data directory's owner and passes `None`), with a password of at least
/// [`STAFF_PASSWORD_CHARS_MIN`] characters.
pub fn decide_new_user(actor: Option<StaffRole>, password: &str) -> Result<(), BackOfficeRefused> {
    if let Some(role) = actor
        && !role.allows(Permission::ManageUsers)
    {
        return Err(BackOfficeRefused::NotPermitted {
            role: role.as_str().into(),
        });
    }
    if password.chars().count() < STAFF_PASSWORD_CHARS_MIN {
        return Err(BackOfficeRefused::PasswordTooShort {
            min: STAFF_PASSWORD_CHARS_MIN,
        });
    }
    Ok(())
}

/// Decides a user's change of their own password: the current one re-entered right, the new
/// one at least [`STAFF_PASSWORD_CHARS_MIN`] characters (issue 14; every role may).
pub fn decide_own_password(password_ok: bool, new: &str) -> Result<(), BackOfficeRefused> {
    if !password_ok {
        return Err(BackOfficeRefused::PasswordWrong);
    }
    if new.chars().count() < STAFF_PASSWORD_CHARS_MIN {
        return Err(BackOfficeRefused::PasswordTooShort {
            min: STAFF_PASSWORD_CHARS_MIN,
        });
    }
    Ok(())
}

/// The fewest digits of a counter operator's password (the factory default of a cashier is
/// four, `0000`).
pub const OPERATOR_PASSWORD_DIGITS_MIN: usize = 4;
/// The most digits of a counter operator's password (the terminal's password field).
pub const OPERATOR_PASSWORD_DIGITS_MAX: usize = 12;

/// Decides a new counter operator (issue 14): a merchant admin (`actor`; `None` is the CLI,
/// the platform itself) gives its merchant an operator whose number implies the role asked
/// for (`role` as `supervisor`, `cashier` or `admin`), with a keypad password.
pub fn decide_new_operator(
    actor: Option<StaffRole>,
    no: crate::OperatorNo,
    role: &str,
    password: &str,
) -> Result<(), BackOfficeRefused> {
    if let Some(r) = actor
        && !r.allows(Permission::ManageUsers)
    {
        return Err(BackOfficeRefused::NotPermitted {
            role: r.as_str().into(),
        });
    }
    let implied = no.role().as_str();
    if role != implied {
        return Err(BackOfficeRefused::OperatorRole {
            no: no.to_string(),
            role: implied.into(),
        });
    }
    let digits = password.chars().count();
    if !password.chars().all(|c| c.is_ascii_digit())
        || !(OPERATOR_PASSWORD_DIGITS_MIN..=OPERATOR_PASSWORD_DIGITS_MAX).contains(&digits)
    {
        return Err(BackOfficeRefused::OperatorPassword {
            min: OPERATOR_PASSWORD_DIGITS_MIN,
            max: OPERATOR_PASSWORD_DIGITS_MAX,
        });
    }
    Ok(())
}

/// When a piece of evidence's retention starts: the later of its transaction's time and its
/// upload (the longer period is the safe one; an upload is normally later). `txn_at` is
/// `None` once the transaction itself was purged.
pub fn evidence_retention_from(txn_at: Option<Timestamp>, uploaded_at: Timestamp) -> Timestamp {
    txn_at.map_or(uploaded_at, |t| t.max(uploaded_at))
}

/// The facts of a new evidence removal request.
#[derive(Debug, Clone)]
pub struct RemovalSubmission<'a> {
    /// The submitter's role.
    pub role: StaffRole,
    /// Why (required; kept with the tombstone).
    pub reason: &'a str,
    /// The evidence is removed already.
    pub removed: bool,
    /// A removal request for it is waiting for review.
    pub pending: bool,
    /// When its retention started ([`evidence_retention_from`]).
    pub retention_from: Timestamp,
}

/// Decides a request to remove evidence (issue 5: retention-locked; after retention a
/// removal goes through review). Inside the retention period it is refused with the local
/// date the period ends.
pub fn decide_evidence_removal(
    s: &RemovalSubmission<'_>,
    policy: &Policy,
    now: Timestamp,
) -> Result<(), BackOfficeRefused> {
    if !s.role.allows(Permission::RequestEvidenceRemoval) {
        return Err(BackOfficeRefused::NotPermitted {
            role: s.role.as_str().into(),
        });
    }
    if s.removed {
        return Err(BackOfficeRefused::EvidenceRemoved);
    }
    if s.pending {
        return Err(BackOfficeRefused::RemovalPending);
    }
    let ends = policy.retention_ends(s.retention_from);
    if now < ends {
        let zone = policy.zone().unwrap_or(jiff::tz::TimeZone::UTC);
        return Err(BackOfficeRefused::EvidenceRetained {
            until: ends.to_zoned(zone).date().to_string(),
        });
    }
    if s.reason.trim().is_empty() {
        return Err(BackOfficeRefused::ReasonRequired);
    }
    Ok(())
}

/// Decides the review of an evidence removal: the same maker-checker rules as a void or
/// refund request (a reviewer role, never the submitter, only pending, a comment to
/// reject). An approval removes at once: there is no money to wait for.
pub fn decide_removal_review(
    submitted_by: i64,
    status: RequestStatus,
    reviewer: i64,
    role: StaffRole,
    approve: bool,
    comment: &str,
) -> Result<RequestStatus, BackOfficeRefused> {
    check_review(submitted_by, status, reviewer, role, approve, comment)?;
    Ok(if approve {
        RequestStatus::Approved
    } else {
        RequestStatus::Rejected
    })
}

/// What an admin changes on a back-office user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserChange<'a> {
    /// Name, operator no. and role (the new role given).
    Edit {
        /// The role after the edit.
        role: StaffRole,
    },
    /// The user can no longer log in; their sessions and tokens stop at once.
    Disable,
    /// The user can log in again.
    Enable,
    /// A new password set by the admin.
    ResetPassword {
        /// The new password.
        password: &'a str,
    },
    /// The user's TOTP is forgotten: they enrol again at the next login.
    ResetTotp,
}

/// The user a change is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserFacts {
    /// Store id.
    pub id: i64,
    /// Role now.
    pub role: StaffRole,
    /// Can log in now.
    pub enabled: bool,
}

/// Decides a change to a back-office user (issue 5): admins only; an admin never disables or
/// demotes themselves, and the merchant's last enabled admin is never disabled or demoted,
/// so there is always someone to manage users and channels. `enabled_admins` counts the
/// merchant's enabled admins, the target included.
pub fn decide_user_change(
    actor_id: i64,
    actor_role: StaffRole,
    target: UserFacts,
    change: UserChange<'_>,
    enabled_admins: u64,
) -> Result<(), BackOfficeRefused> {
    if !actor_role.allows(Permission::ManageUsers) {
        return Err(BackOfficeRefused::NotPermitted {
            role: actor_role.as_str().into(),
        });
    }
    let takes_admin_away = match change {
        UserChange::Disable => true,
        UserChange::Edit { role } => role != StaffRole::Admin,
        _ => false,
    };
    let is_enabled_admin = target.role == StaffRole::Admin && target.enabled;
    if takes_admin_away && target.id == actor_id {
        return Err(BackOfficeRefused::OwnAccount);
    }
    // An admin's own password and second factor change only with the current password
    // (`decide_own_password`, the TOTP enrolment): a session left open must not be enough to
    // set a new password or switch the second factor off.
    let resets_own_credentials = matches!(
        change,
        UserChange::ResetPassword { .. } | UserChange::ResetTotp
    );
    if resets_own_credentials && target.id == actor_id {
        return Err(BackOfficeRefused::OwnCredentials);
    }
    if takes_admin_away && is_enabled_admin && enabled_admins <= 1 {
        return Err(BackOfficeRefused::LastAdmin);
    }
    match change {
        UserChange::Disable if !target.enabled => Err(BackOfficeRefused::UserAlready {
            state: "disabled".into(),
        }),
        UserChange::Enable if target.enabled => Err(BackOfficeRefused::UserAlready {
            state: "enabled".into(),
        }),
        UserChange::ResetPassword { password } => decide_new_user(Some(actor_role), password),
        _ => Ok(()),
    }
}

/// Refusals of the back-office rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackOfficeRefused {
    /// The user's role may not do this.
    NotPermitted {
        /// The role's code name.
        role: String,
    },
    /// A request needs a reason.
    ReasonRequired,
    /// Zero or negative amount.
    AmountNotPositive,
    /// Maker-checker: nobody reviews their own request.
    OwnRequest,
    /// Only pending requests are reviewed or withdrawn.
    NotPending {
        /// Its status now.
        status: String,
    },
    /// A rejection needs a comment.
    CommentRequired,
    /// Only approved requests in their grace window can be undone.
    NotApproved {
        /// Its status now.
        status: String,
    },
    /// Only the reviewer who approved may undo.
    NotReviewer,
    /// The grace window has passed: the request ran or is running.
    GraceOver,
    /// Only the submitter (or an admin) withdraws a request.
    NotSubmitter,
    /// The re-entered password was wrong.
    PasswordWrong,
    /// A new password is too short.
    PasswordTooShort {
        /// The minimum, in characters.
        min: usize,
    },
    /// A channel with unsettled transactions cannot be disabled.
    ChannelUnsettled {
        /// How many.
        count: u64,
    },
    /// The channel is disabled: new transactions through it are refused (8583 code 12).
    ChannelDisabled {
        /// The channel's code name.
        channel: String,
    },
    /// The channel is removed: re-add it first (and not remove it twice).
    ChannelRemoved,
    /// Only a removed channel is re-added.
    ChannelNotRemoved,
    /// Evidence inside its retention period is never removed.
    EvidenceRetained {
        /// The local date retention ends.
        until: String,
    },
    /// The evidence is removed already.
    EvidenceRemoved,
    /// A removal of this evidence is already waiting for review.
    RemovalPending,
    /// An admin does not disable or demote their own account.
    OwnAccount,
    /// An admin reset their own password or TOTP through user management.
    OwnCredentials,
    /// The merchant's last enabled admin is not disabled or demoted.
    LastAdmin,
    /// The user is in that state already.
    UserAlready {
        /// `enabled` or `disabled`.
        state: String,
    },
    /// A counter operator's number implies its role (99 admin, 00 supervisor, 01–98
    /// cashiers); the role asked for is another.
    OperatorRole {
        /// The number.
        no: String,
        /// The role the number implies.
        role: String,
    },
    /// A counter operator's password is typed on the terminal's keypad: digits only.
    OperatorPassword {
        /// The fewest digits.
        min: usize,
        /// The most digits.
        max: usize,
    },
    /// A merchant does not move between these statuses (pending → active → suspended ⇄
    /// active → closed).
    MerchantStatusMove {
        /// Its status now.
        from: String,
        /// The status asked for.
        to: String,
    },
    /// A merchant with that id is onboarded already.
    MerchantExists,
    /// A closed merchant is not edited, and gets no terminal.
    MerchantClosed,
    /// A terminal moves to another merchant only once its batch is settled.
    TerminalBatchOpen {
        /// The transactions of its open batch.
        count: u64,
    },
    /// A KYC document of a merchant that was activated is kept: it is the evidence the
    /// activation was approved on.
    KycDocumentKept {
        /// The merchant's status now.
        status: String,
    },
}

impl Refusal for BackOfficeRefused {
    fn key(&self) -> &'static str {
        match self {
            BackOfficeRefused::NotPermitted { .. } => "backoffice.not_permitted",
            BackOfficeRefused::ReasonRequired => "backoffice.reason_required",
            BackOfficeRefused::AmountNotPositive => "backoffice.amount_not_positive",
            BackOfficeRefused::OwnRequest => "backoffice.own_request",
            BackOfficeRefused::NotPending { .. } => "backoffice.not_pending",
            BackOfficeRefused::CommentRequired => "backoffice.comment_required",
            BackOfficeRefused::NotApproved { .. } => "backoffice.not_approved",
            BackOfficeRefused::NotReviewer => "backoffice.not_reviewer",
            BackOfficeRefused::GraceOver => "backoffice.grace_over",
            BackOfficeRefused::NotSubmitter => "backoffice.not_submitter",
            BackOfficeRefused::PasswordWrong => "backoffice.password_wrong",
            BackOfficeRefused::PasswordTooShort { .. } => "backoffice.password_too_short",
            BackOfficeRefused::ChannelUnsettled { .. } => "backoffice.channel_unsettled",
            BackOfficeRefused::ChannelDisabled { .. } => "backoffice.channel_disabled",
            BackOfficeRefused::ChannelRemoved => "backoffice.channel_removed",
            BackOfficeRefused::ChannelNotRemoved => "backoffice.channel_not_removed",
            BackOfficeRefused::EvidenceRetained { .. } => "backoffice.evidence_retained",
            BackOfficeRefused::EvidenceRemoved => "backoffice.evidence_removed",
            BackOfficeRefused::RemovalPending => "backoffice.removal_pending",
            BackOfficeRefused::OwnAccount => "backoffice.own_account",
            BackOfficeRefused::OwnCredentials => "backoffice.own_credentials",
            BackOfficeRefused::LastAdmin => "backoffice.last_admin",
            BackOfficeRefused::UserAlready { .. } => "backoffice.user_already",
            BackOfficeRefused::OperatorRole { .. } => "backoffice.operator_role",
            BackOfficeRefused::OperatorPassword { .. } => "backoffice.operator_password",
            BackOfficeRefused::MerchantStatusMove { .. } => "backoffice.merchant_status_move",
            BackOfficeRefused::MerchantExists => "backoffice.merchant_exists",
            BackOfficeRefused::MerchantClosed => "backoffice.merchant_closed",
            BackOfficeRefused::TerminalBatchOpen { .. } => "backoffice.terminal_batch_open",
            BackOfficeRefused::KycDocumentKept { .. } => "backoffice.kyc_document_kept",
        }
    }
    fn args(&self) -> Vec<String> {
        match self {
            BackOfficeRefused::NotPermitted { role } => vec![role.clone()],
            BackOfficeRefused::NotPending { status }
            | BackOfficeRefused::NotApproved { status } => vec![status.clone()],
            BackOfficeRefused::ChannelUnsettled { count } => vec![count.to_string()],
            BackOfficeRefused::PasswordTooShort { min } => vec![min.to_string()],
            BackOfficeRefused::ChannelDisabled { channel } => vec![channel.clone()],
            BackOfficeRefused::EvidenceRetained { until } => vec![until.clone()],
            BackOfficeRefused::UserAlready { state } => vec![state.clone()],
            BackOfficeRefused::OperatorRole { no, role } => vec![no.clone(), role.clone()],
            BackOfficeRefused::OperatorPassword { min, max } => {
                vec![min.to_string(), max.to_string()]
            }
            BackOfficeRefused::TerminalBatchOpen { count } => vec![count.to_string()],
            BackOfficeRefused::MerchantStatusMove { from, to } => {
                vec![from.clone(), to.clone()]
            }
            BackOfficeRefused::KycDocumentKept { status } => vec![status.clone()],
            _ => Vec::new(),
        }
    }
    fn message(&self, lang: Lang) -> String {
        text(lang, &format!("{}.msg", self.key()), &self.words(lang))
    }
    fn remedy(&self, lang: Lang) -> String {
        text(lang, &format!("{}.fix", self.key()), &self.words(lang))
    }
}

impl BackOfficeRefused {
    /// The arguments as a reader reads them: a merchant's statuses in words, never codes.
    fn words(&self, lang: Lang) -> Vec<String> {
        match self {
            BackOfficeRefused::MerchantStatusMove { .. }
            | BackOfficeRefused::KycDocumentKept { .. } => self
                .args()
                .iter()
                .map(|s| text(lang, &format!("backoffice.merchant_status.{s}"), &[]))
                .collect(),
            _ => self.args(),
        }
    }
}

/// This module's catalog, kept beside its rules (zh-CN first, English second).
pub(crate) static CATALOG: Catalog = Catalog::new(ZH, EN);

/// The text of `key` in this module's catalog, with `args` substituted.
fn text(lang: Lang, key: &str, args: &[String]) -> String {
    CATALOG.fill(lang, key, args)
}

static ZH: Entries = &[
    (
        "backoffice.not_permitted.msg",
        "当前角色（{0}）无权执行此操作",
    ),
    ("backoffice.not_permitted.fix", "请由有权限的用户操作"),
    ("backoffice.reason_required.msg", "申请须填写原因"),
    ("backoffice.reason_required.fix", "填写原因后重新提交"),
    ("backoffice.amount_not_positive.msg", "金额必须大于零"),
    ("backoffice.amount_not_positive.fix", "请输入正确的金额"),
    ("backoffice.own_request.msg", "不能审核自己提交的申请"),
    (
        "backoffice.own_request.fix",
        "请由另一位有审核权限的用户审核",
    ),
    (
        "backoffice.not_pending.msg",
        "该申请当前状态为 {0}，不能再审核或撤回",
    ),
    ("backoffice.not_pending.fix", "刷新页面查看申请的最新状态"),
    ("backoffice.comment_required.msg", "驳回申请须填写审核意见"),
    ("backoffice.comment_required.fix", "填写驳回原因后重新提交"),
    (
        "backoffice.not_approved.msg",
        "该申请当前状态为 {0}，没有可撤销的批准",
    ),
    ("backoffice.not_approved.fix", "刷新页面查看申请的最新状态"),
    (
        "backoffice.not_reviewer.msg",
        "只有批准该申请的审核人可以撤销批准",
    ),
    ("backoffice.not_reviewer.fix", "请联系该审核人"),
    (
        "backoffice.grace_over.msg",
        "撤销批准的时限已过，申请已执行或正在执行",
    ),
    (
        "backoffice.grace_over.fix",
        "如需更正，请对该交易办理退货或调账",
    ),
    (
        "backoffice.not_submitter.msg",
        "只有申请人或管理员可以撤回申请",
    ),
    ("backoffice.not_submitter.fix", "请联系申请人"),
    ("backoffice.password_wrong.msg", "密码错误，操作未执行"),
    (
        "backoffice.password_wrong.fix",
        "请重新输入您本人的登录密码",
    ),
    (
        "backoffice.password_too_short.msg",
        "密码太短，至少 {0} 个字符",
    ),
    ("backoffice.password_too_short.fix", "请设置更长的密码"),
    (
        "backoffice.channel_unsettled.msg",
        "该渠道还有 {0} 笔未结算交易，不能停用或删除",
    ),
    (
        "backoffice.channel_unsettled.fix",
        "请先完成批结算，再停用或删除该渠道",
    ),
    (
        "backoffice.channel_disabled.msg",
        "支付渠道 {0} 已停用，交易被拒绝（12）",
    ),
    (
        "backoffice.channel_disabled.fix",
        "请改用其他支付方式，或联系管理员启用该渠道",
    ),
    ("backoffice.channel_removed.msg", "该支付渠道已删除"),
    (
        "backoffice.channel_removed.fix",
        "如需再次使用，请先重新添加该渠道",
    ),
    (
        "backoffice.channel_not_removed.msg",
        "该支付渠道未被删除，无需重新添加",
    ),
    (
        "backoffice.channel_not_removed.fix",
        "刷新页面查看渠道的最新状态",
    ),
    (
        "backoffice.evidence_retained.msg",
        "证据仍在保存期限内，{0} 之前不能删除",
    ),
    (
        "backoffice.evidence_retained.fix",
        "保存期限届满后再提交删除申请",
    ),
    ("backoffice.evidence_removed.msg", "该证据已删除"),
    ("backoffice.evidence_removed.fix", "刷新页面查看最新状态"),
    (
        "backoffice.removal_pending.msg",
        "该证据已有待审核的删除申请",
    ),
    ("backoffice.removal_pending.fix", "请等待审核结果"),
    (
        "backoffice.own_account.msg",
        "不能停用自己的账号，也不能取消自己的管理员角色",
    ),
    ("backoffice.own_account.fix", "请由另一位管理员操作"),
    (
        "backoffice.own_credentials.msg",
        "不能在用户管理中重置自己的密码或动态验证码",
    ),
    (
        "backoffice.own_credentials.fix",
        "自己的密码请输入当前密码后修改，或请另一位管理员重置",
    ),
    (
        "backoffice.last_admin.msg",
        "这是最后一位启用中的管理员，不能停用或降级",
    ),
    ("backoffice.last_admin.fix", "请先新增或启用另一位管理员"),
    ("backoffice.user_already.msg", "该用户已是 {0} 状态"),
    ("backoffice.user_already.fix", "刷新页面查看用户的最新状态"),
    ("backoffice.operator_role.msg", "操作员号 {0} 只能是{1}"),
    (
        "backoffice.operator_role.fix",
        "99 为系统管理员，00 为主管，01–98 为收银员：请换一个操作员号",
    ),
    (
        "backoffice.operator_password.msg",
        "操作员密码须为 {0}–{1} 位数字",
    ),
    (
        "backoffice.operator_password.fix",
        "操作员在终端键盘上输入密码：请只用数字",
    ),
    (
        "backoffice.merchant_status_move.msg",
        "商户状态不能从“{0}”改为“{1}”",
    ),
    (
        "backoffice.merchant_status_move.fix",
        "待开通的商户先开通；已关闭的商户不能再开通",
    ),
    ("backoffice.merchant_exists.msg", "该商户号已经进件"),
    (
        "backoffice.merchant_exists.fix",
        "换一个商户号，或修改已有商户的资料",
    ),
    (
        "backoffice.merchant_closed.msg",
        "商户已关闭，资料不能再修改",
    ),
    (
        "backoffice.merchant_closed.fix",
        "如需继续合作，请以新商户号重新进件",
    ),
    (
        "backoffice.kyc_document_kept.msg",
        "商户{0}，进件资料须留存，不能删除",
    ),
    (
        "backoffice.kyc_document_kept.fix",
        "资料有误时请上传正确的资料，原资料保留作为开通审核的依据",
    ),
    ("backoffice.merchant_status.pending", "待开通"),
    ("backoffice.merchant_status.active", "已开通"),
    ("backoffice.merchant_status.suspended", "已暂停"),
    ("backoffice.merchant_status.closed", "已关闭"),
    (
        "backoffice.terminal_batch_open.msg",
        "终端当前批次还有 {0} 笔交易未结算，不能改挂到其他商户",
    ),
    (
        "backoffice.terminal_batch_open.fix",
        "先在终端上结算，再改挂商户",
    ),
];

static EN: Entries = &[
    (
        "backoffice.not_permitted.msg",
        "Your role ({0}) may not do this",
    ),
    (
        "backoffice.not_permitted.fix",
        "Ask a user with that permission",
    ),
    ("backoffice.reason_required.msg", "A request needs a reason"),
    (
        "backoffice.reason_required.fix",
        "Enter a reason and submit again",
    ),
    (
        "backoffice.amount_not_positive.msg",
        "The amount must be above zero",
    ),
    ("backoffice.amount_not_positive.fix", "Enter a valid amount"),
    (
        "backoffice.own_request.msg",
        "You cannot review your own request",
    ),
    (
        "backoffice.own_request.fix",
        "Another user with the review permission must review it",
    ),
    (
        "backoffice.not_pending.msg",
        "This request is {0}; it can no longer be reviewed or withdrawn",
    ),
    (
        "backoffice.not_pending.fix",
        "Reload to see the request's current status",
    ),
    (
        "backoffice.comment_required.msg",
        "A rejection needs a comment",
    ),
    (
        "backoffice.comment_required.fix",
        "Say why it is rejected and submit again",
    ),
    (
        "backoffice.not_approved.msg",
        "This request is {0}; there is no approval to undo",
    ),
    (
        "backoffice.not_approved.fix",
        "Reload to see the request's current status",
    ),
    (
        "backoffice.not_reviewer.msg",
        "Only the reviewer who approved it can undo the approval",
    ),
    ("backoffice.not_reviewer.fix", "Ask that reviewer"),
    (
        "backoffice.grace_over.msg",
        "The time to undo has passed; the request has run or is running",
    ),
    (
        "backoffice.grace_over.fix",
        "To correct it, refund the transaction or open an adjustment",
    ),
    (
        "backoffice.not_submitter.msg",
        "Only the submitter or an admin can withdraw a request",
    ),
    ("backoffice.not_submitter.fix", "Ask the submitter"),
    (
        "backoffice.password_wrong.msg",
        "Wrong password; nothing was changed",
    ),
    (
        "backoffice.password_wrong.fix",
        "Re-enter your own login password",
    ),
    (
        "backoffice.password_too_short.msg",
        "The password is too short: {0} characters at least",
    ),
    (
        "backoffice.password_too_short.fix",
        "Choose a longer password",
    ),
    (
        "backoffice.channel_unsettled.msg",
        "The channel has {0} unsettled transactions and cannot be disabled or removed",
    ),
    (
        "backoffice.channel_unsettled.fix",
        "Settle the batches first, then disable or remove the channel",
    ),
    (
        "backoffice.channel_disabled.msg",
        "Payment channel {0} is disabled; transaction refused (12)",
    ),
    (
        "backoffice.channel_disabled.fix",
        "Use another payment method, or ask an admin to enable the channel",
    ),
    (
        "backoffice.channel_removed.msg",
        "This payment channel is removed",
    ),
    (
        "backoffice.channel_removed.fix",
        "Re-add the channel first to use it again",
    ),
    (
        "backoffice.channel_not_removed.msg",
        "This payment channel is not removed; there is nothing to re-add",
    ),
    (
        "backoffice.channel_not_removed.fix",
        "Reload to see the channel's current state",
    ),
    (
        "backoffice.evidence_retained.msg",
        "This evidence is within its retention period and cannot be removed before {0}",
    ),
    (
        "backoffice.evidence_retained.fix",
        "Ask for its removal once the retention period has ended",
    ),
    (
        "backoffice.evidence_removed.msg",
        "This evidence is removed already",
    ),
    (
        "backoffice.evidence_removed.fix",
        "Reload to see its current state",
    ),
    (
        "backoffice.removal_pending.msg",
        "A removal of this evidence is already waiting for review",
    ),
    ("backoffice.removal_pending.fix", "Wait for the review"),
    (
        "backoffice.own_account.msg",
        "You cannot disable your own account or take away your own admin role",
    ),
    ("backoffice.own_account.fix", "Ask another admin"),
    (
        "backoffice.own_credentials.msg",
        "You cannot reset your own password or TOTP in user management",
    ),
    (
        "backoffice.own_credentials.fix",
        "Change your own password with your current one, or ask another admin to reset it",
    ),
    (
        "backoffice.last_admin.msg",
        "This is the last enabled admin; it cannot be disabled or demoted",
    ),
    (
        "backoffice.last_admin.fix",
        "Add or enable another admin first",
    ),
    ("backoffice.user_already.msg", "The user is {0} already"),
    (
        "backoffice.user_already.fix",
        "Reload to see the user's current state",
    ),
    (
        "backoffice.operator_role.msg",
        "Operator no. {0} can only be {1}",
    ),
    (
        "backoffice.operator_role.fix",
        "99 is the system administrator, 00 the supervisor, 01–98 cashiers: choose another number",
    ),
    (
        "backoffice.operator_password.msg",
        "An operator's password is {0}–{1} digits",
    ),
    (
        "backoffice.operator_password.fix",
        "Operators type it on the terminal's keypad: use digits only",
    ),
    (
        "backoffice.merchant_status_move.msg",
        "A merchant does not go from \"{0}\" to \"{1}\"",
    ),
    (
        "backoffice.merchant_status_move.fix",
        "Activate a pending merchant first; a closed merchant is never activated again",
    ),
    (
        "backoffice.merchant_exists.msg",
        "A merchant with this id is onboarded already",
    ),
    (
        "backoffice.merchant_exists.fix",
        "Choose another merchant id, or edit the existing merchant",
    ),
    (
        "backoffice.merchant_closed.msg",
        "The merchant is closed: its details no longer change",
    ),
    (
        "backoffice.merchant_closed.fix",
        "To work with it again, onboard it under a new merchant id",
    ),
    (
        "backoffice.kyc_document_kept.msg",
        "The merchant is {0}: its onboarding documents are kept and cannot be removed",
    ),
    (
        "backoffice.kyc_document_kept.fix",
        "Upload the right document beside it; the old one stays as the record the activation was approved on",
    ),
    ("backoffice.merchant_status.pending", "pending"),
    ("backoffice.merchant_status.active", "active"),
    ("backoffice.merchant_status.suspended", "suspended"),
    ("backoffice.merchant_status.closed", "closed"),
    (
        "backoffice.terminal_batch_open.msg",
        "The terminal's open batch has {0} unsettled transactions: it cannot move to another merchant",
    ),
    (
        "backoffice.terminal_batch_open.fix",
        "Settle on the terminal first, then assign it",
    ),
];

#[cfg(test)]
mod tier_tests {
    use super::*;

    /// Goal: no merchant role ever holds an acquirer permission (backups, purges, merchants,
    /// terminals, the platform's channels), no acquirer role a merchant one, and every
    /// acquirer role needs TOTP.
    #[test]
    fn every_permission_is_listed_once_with_its_own_name() {
        // `ALL` and `as_str` come from one list (`permissions!`); the list must still not
        // name a variant twice, nor give two variants one API name.
        let variants: std::collections::HashSet<_> = Permission::ALL.iter().collect();
        assert_eq!(variants.len(), Permission::ALL.len(), "ALL holds each once");
        let names: std::collections::BTreeSet<_> =
            Permission::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(names.len(), Permission::ALL.len(), "names are distinct");
        assert!(
            names
                .iter()
                .all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
    }

    #[test]
    fn the_tiers_never_share_a_permission() {
        use Permission::*;
        for role in StaffRole::ALL {
            for &p in Permission::ALL {
                if role.allows(p) {
                    assert_eq!(role.tier(), p.tier(), "{} {p:?}", role.as_str());
                }
            }
        }
        for role in StaffRole::ACQUIRER {
            assert!(role.requires_totp(false), "{}", role.as_str());
            assert!(role.allows(ViewAllMerchants));
        }
        assert!(!StaffRole::Admin.allows(ManageBackups));
        assert!(!StaffRole::Admin.allows(Purge));
        assert!(StaffRole::PlatformAdmin.allows(Purge));
        assert!(!StaffRole::AcquirerAuditor.allows(ManageMerchants));
        for role in StaffRole::ALL {
            assert_eq!(StaffRole::parse(role.as_str()), Some(role));
        }
    }

    /// Goal: a counter operator's number implies its role, and its password is digits.
    #[test]
    fn a_new_operator_has_the_role_of_its_number() {
        let no = |t: &str| crate::OperatorNo::parse(t).expect("no");
        assert_eq!(
            decide_new_operator(None, no("01"), "cashier", "0000"),
            Ok(())
        );
        assert_eq!(
            decide_new_operator(Some(StaffRole::Admin), no("00"), "supervisor", "123456"),
            Ok(())
        );
        assert_eq!(
            decide_new_operator(None, no("99"), "admin", "12345678"),
            Ok(())
        );
        assert_eq!(
            decide_new_operator(None, no("03"), "admin", "0000"),
            Err(BackOfficeRefused::OperatorRole {
                no: "03".into(),
                role: "cashier".into()
            })
        );
        assert!(matches!(
            decide_new_operator(None, no("02"), "cashier", "12a4"),
            Err(BackOfficeRefused::OperatorPassword { .. })
        ));
        assert!(matches!(
            decide_new_operator(None, no("02"), "cashier", "123"),
            Err(BackOfficeRefused::OperatorPassword { .. })
        ));
        assert!(matches!(
            decide_new_operator(Some(StaffRole::Supervisor), no("02"), "cashier", "1234"),
            Err(BackOfficeRefused::NotPermitted { .. })
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn pending(kind: RequestKind) -> RequestFacts {
        RequestFacts {
            kind,
            submitted_by: 1,
            reviewed_by: None,
            status: RequestStatus::Pending,
            execute_after: None,
        }
    }

    #[test]
    fn purge_requests_need_an_admin_the_password_and_a_reason() {
        let p = |role, password_ok, reason| PurgeRequest {
            role,
            password_ok,
            reason,
        };
        // Purges are the acquirer's (issue 14): its platform admin, not a merchant's admin.
        let admin = StaffRole::PlatformAdmin;
        assert_eq!(decide_purge_request(&p(admin, true, "过期清理")), Ok(()));
        assert_eq!(
            decide_purge_request(&p(admin, false, "过期清理")),
            Err(BackOfficeRefused::PasswordWrong)
        );
        assert_eq!(
            decide_purge_request(&p(admin, true, "  ")),
            Err(BackOfficeRefused::ReasonRequired)
        );
        for role in [
            StaffRole::Cashier,
            StaffRole::Supervisor,
            StaffRole::Finance,
            StaffRole::Auditor,
            StaffRole::Admin,
        ] {
            assert_eq!(
                decide_purge_request(&p(role, true, "过期清理")),
                Err(BackOfficeRefused::NotPermitted {
                    role: role.as_str().into()
                }),
                "{role:?}"
            );
            assert!(!role.allows(Permission::ManageBackups), "{role:?}");
        }
    }

    #[test]
    fn auditor_is_read_only_and_sees_hidden() {
        let a = StaffRole::Auditor;
        assert!(a.allows(Permission::ViewHidden) && a.allows(Permission::ViewAudit));
        for p in [
            Permission::Sell,
            Permission::RequestVoidRefund,
            Permission::Review,
            Permission::Hide,
            Permission::ManageUsers,
            Permission::ManageBackups,
            Permission::Purge,
        ] {
            assert!(!a.allows(p), "auditor must not {p:?}");
        }
        assert!(!StaffRole::Cashier.allows(Permission::Review));
        assert!(!StaffRole::Cashier.allows(Permission::ViewHidden));
        assert!(StaffRole::Admin.allows(Permission::Hide));
        assert!(StaffRole::Admin.requires_totp(false));
        assert!(!StaffRole::Auditor.requires_totp(true) && !StaffRole::Cashier.requires_totp(true));
        // Whoever reviews voids and refunds approves money movements: TOTP when configured.
        for role in [StaffRole::Supervisor, StaffRole::Finance] {
            assert!(
                role.requires_totp(true) && !role.requires_totp(false),
                "{role:?}"
            );
        }
        for r in StaffRole::ALL {
            assert_eq!(StaffRole::parse(r.as_str()), Some(r));
        }
    }

    #[test]
    fn voids_always_need_review_refunds_above_threshold_too() {
        let p = Policy::default();
        let s = |kind, fen, role| Submission {
            kind,
            amount: Amount::from_fen(fen),
            reason: "顾客要求",
            role,
        };
        let sup = StaffRole::Supervisor;
        assert_eq!(decide_submit(&s(RequestKind::Void, 100, sup), &p), Ok(true));
        assert_eq!(
            decide_submit(&s(RequestKind::Refund, 500_000, sup), &p),
            Ok(false)
        );
        assert_eq!(
            decide_submit(&s(RequestKind::Refund, 500_001, sup), &p),
            Ok(true)
        );
        let cashier = StaffRole::Cashier;
        assert_eq!(
            decide_submit(&s(RequestKind::Refund, 100, cashier), &p),
            Ok(true)
        );
        let blank = Submission {
            reason: " ",
            ..s(RequestKind::Void, 100, sup)
        };
        assert_eq!(
            decide_submit(&blank, &p),
            Err(BackOfficeRefused::ReasonRequired)
        );
        assert_eq!(
            decide_submit(&s(RequestKind::Refund, 0, sup), &p),
            Err(BackOfficeRefused::AmountNotPositive)
        );
        assert!(matches!(
            decide_submit(&s(RequestKind::Void, 100, StaffRole::Auditor), &p),
            Err(BackOfficeRefused::NotPermitted { .. })
        ));
    }

    #[test]
    fn nobody_reviews_their_own_request() {
        let p = Policy::default();
        let now = at("2026-11-25T04:00:00Z");
        let req = pending(RequestKind::Void);
        assert_eq!(
            decide_review(&req, 1, StaffRole::Admin, true, "", &p, now),
            Err(BackOfficeRefused::OwnRequest)
        );
        assert!(matches!(
            decide_review(&req, 2, StaffRole::Cashier, true, "", &p, now),
            Err(BackOfficeRefused::NotPermitted { .. })
        ));
        assert_eq!(
            decide_review(&req, 2, StaffRole::Finance, false, " ", &p, now),
            Err(BackOfficeRefused::CommentRequired)
        );
        let ok = decide_review(&req, 2, StaffRole::Finance, true, "", &p, now).unwrap();
        assert_eq!(ok.status, RequestStatus::Approved);
        assert_eq!(ok.execute_after, Some(now), "grace 0: runs at once");
        let done = RequestFacts {
            status: RequestStatus::Executed,
            ..req
        };
        assert!(matches!(
            decide_review(&done, 2, StaffRole::Finance, true, "", &p, now),
            Err(BackOfficeRefused::NotPending { .. })
        ));
    }

    #[test]
    fn only_the_reviewer_undoes_and_only_within_grace() {
        let p = Policy {
            void_grace_seconds: 60,
            ..Policy::default()
        };
        let now = at("2026-11-25T04:00:00Z");
        let out = decide_review(
            &pending(RequestKind::Refund),
            2,
            StaffRole::Supervisor,
            true,
            "",
            &p,
            now,
        )
        .unwrap();
        let approved = RequestFacts {
            status: out.status,
            reviewed_by: Some(2),
            execute_after: out.execute_after,
            ..pending(RequestKind::Refund)
        };
        assert_eq!(decide_undo(&approved, 2, now), Ok(()));
        assert_eq!(
            decide_undo(&approved, 3, now),
            Err(BackOfficeRefused::NotReviewer)
        );
        let later = at("2026-11-25T04:01:00Z");
        assert_eq!(
            decide_undo(&approved, 2, later),
            Err(BackOfficeRefused::GraceOver)
        );
        assert!(!is_due(&approved, now));
        assert!(is_due(&approved, later));
    }

    #[test]
    fn submitter_or_admin_withdraws_pending_only() {
        let req = pending(RequestKind::Void);
        assert_eq!(decide_cancel(&req, 1, StaffRole::Cashier), Ok(()));
        assert_eq!(decide_cancel(&req, 5, StaffRole::Admin), Ok(()));
        assert_eq!(
            decide_cancel(&req, 5, StaffRole::Supervisor),
            Err(BackOfficeRefused::NotSubmitter)
        );
    }

    #[test]
    fn channels_change_with_password_and_reason_and_never_with_unsettled_money() {
        use ChannelAction::*;
        let c = |role, action, reason, password_ok, unsettled, removed| ChannelChange {
            role,
            action,
            reason,
            password_ok,
            unsettled,
            removed,
        };
        let admin = StaffRole::Admin;
        assert_eq!(
            decide_channel_change(&c(admin, Disable, "合同到期", true, 0, false)),
            Ok(())
        );
        for action in [Disable, Remove] {
            assert_eq!(
                decide_channel_change(&c(admin, action, "合同到期", true, 3, false)),
                Err(BackOfficeRefused::ChannelUnsettled { count: 3 })
            );
        }
        assert_eq!(
            decide_channel_change(&c(admin, Enable, "恢复", true, 3, false)),
            Ok(()),
            "enabling is fine"
        );
        assert_eq!(
            decide_channel_change(&c(admin, Disable, "x", false, 0, false)),
            Err(BackOfficeRefused::PasswordWrong)
        );
        assert_eq!(
            decide_channel_change(&c(admin, Disable, " ", true, 0, false)),
            Err(BackOfficeRefused::ReasonRequired)
        );
        assert!(matches!(
            decide_channel_change(&c(StaffRole::Finance, Disable, "x", true, 0, false)),
            Err(BackOfficeRefused::NotPermitted { .. })
        ));
        for action in [Enable, Disable, Remove] {
            assert_eq!(
                decide_channel_change(&c(admin, action, "x", true, 0, true)),
                Err(BackOfficeRefused::ChannelRemoved),
                "a removed channel is only re-added ({action:?})"
            );
        }
        assert_eq!(
            decide_channel_change(&c(admin, Restore, "x", true, 0, false)),
            Err(BackOfficeRefused::ChannelNotRemoved)
        );
        assert_eq!(
            decide_channel_change(&c(admin, Restore, "重新合作", true, 0, true)),
            Ok(())
        );
        for a in [Enable, Disable, Remove, Restore] {
            assert_eq!(ChannelAction::parse(a.as_str()), Some(a));
        }
        let refused = decide_channel_open(Channel::Alipay, false).unwrap_err();
        assert_eq!(refused.key(), "backoffice.channel_disabled");
        assert_eq!(Channel::of_method(PaymentMethod::Chip), Channel::Unionpay);
        assert!(Channel::Lakala.methods().is_empty());
        for ch in Channel::ALL {
            assert_eq!(Channel::parse(ch.as_str()), Some(ch));
        }
    }

    #[test]
    fn only_admins_create_users_and_passwords_are_long_enough() {
        assert_eq!(decide_new_user(Some(StaffRole::Admin), "12345678"), Ok(()));
        assert_eq!(
            decide_new_user(None, "12345678"),
            Ok(()),
            "the CLI owns the data directory"
        );
        assert_eq!(
            decide_new_user(Some(StaffRole::Admin), "1234567"),
            Err(BackOfficeRefused::PasswordTooShort { min: 8 })
        );
        assert_eq!(
            decide_new_user(Some(StaffRole::Admin), "密码密码密码密码"),
            Ok(()),
            "characters, not bytes"
        );
        assert!(matches!(
            decide_new_user(Some(StaffRole::Supervisor), "12345678"),
            Err(BackOfficeRefused::NotPermitted { .. })
        ));
    }

    #[test]
    fn evidence_is_removed_only_after_retention_and_by_review() {
        let p = Policy::default();
        let txn_at = at("2020-03-01T02:00:00Z");
        let uploaded = at("2021-06-01T02:00:00Z");
        let from = evidence_retention_from(Some(txn_at), uploaded);
        assert_eq!(from, uploaded, "the later start is the longer retention");
        assert_eq!(evidence_retention_from(None, uploaded), uploaded);
        let s = |role, removed, pending| RemovalSubmission {
            role,
            reason: "保存期满",
            removed,
            pending,
            retention_from: from,
        };
        let sup = StaffRole::Supervisor;
        let inside = at("2026-05-31T00:00:00Z");
        assert_eq!(
            decide_evidence_removal(&s(sup, false, false), &p, inside),
            Err(BackOfficeRefused::EvidenceRetained {
                until: "2026-06-01".into()
            })
        );
        let after = at("2026-06-01T02:00:00Z");
        assert_eq!(
            decide_evidence_removal(&s(sup, false, false), &p, after),
            Ok(())
        );
        assert_eq!(
            decide_evidence_removal(&s(sup, true, false), &p, after),
            Err(BackOfficeRefused::EvidenceRemoved)
        );
        assert_eq!(
            decide_evidence_removal(&s(sup, false, true), &p, after),
            Err(BackOfficeRefused::RemovalPending)
        );
        assert!(matches!(
            decide_evidence_removal(&s(StaffRole::Cashier, false, false), &p, after),
            Err(BackOfficeRefused::NotPermitted { .. })
        ));
        let blank = RemovalSubmission {
            reason: " ",
            ..s(sup, false, false)
        };
        assert_eq!(
            decide_evidence_removal(&blank, &p, after),
            Err(BackOfficeRefused::ReasonRequired)
        );
        let pending = RequestStatus::Pending;
        let fin = StaffRole::Finance;
        assert_eq!(
            decide_removal_review(1, pending, 1, StaffRole::Admin, true, ""),
            Err(BackOfficeRefused::OwnRequest)
        );
        assert_eq!(
            decide_removal_review(1, pending, 2, fin, false, ""),
            Err(BackOfficeRefused::CommentRequired)
        );
        assert_eq!(
            decide_removal_review(1, pending, 2, fin, true, ""),
            Ok(RequestStatus::Approved)
        );
        assert_eq!(
            decide_removal_review(1, pending, 2, fin, false, "仍需保留"),
            Ok(RequestStatus::Rejected)
        );
        assert!(matches!(
            decide_removal_review(1, RequestStatus::Approved, 2, fin, true, ""),
            Err(BackOfficeRefused::NotPending { .. })
        ));
        assert!(matches!(
            decide_removal_review(1, pending, 2, StaffRole::Cashier, true, ""),
            Err(BackOfficeRefused::NotPermitted { .. })
        ));
    }

    #[test]
    fn admins_change_users_but_never_themselves_out_nor_the_last_admin() {
        let admin = StaffRole::Admin;
        let user = |id, role, enabled| UserFacts { id, role, enabled };
        let me = user(1, admin, true);
        let other_admin = user(2, admin, true);
        let cashier = user(3, StaffRole::Cashier, true);
        let demote = UserChange::Edit {
            role: StaffRole::Finance,
        };
        assert_eq!(
            decide_user_change(1, admin, me, UserChange::Disable, 2),
            Err(BackOfficeRefused::OwnAccount)
        );
        assert_eq!(
            decide_user_change(1, admin, me, demote, 2),
            Err(BackOfficeRefused::OwnAccount)
        );
        assert_eq!(
            decide_user_change(1, admin, me, UserChange::Edit { role: admin }, 1),
            Ok(()),
            "renaming oneself is fine"
        );
        for own in [
            UserChange::ResetPassword {
                password: "a-new-password",
            },
            UserChange::ResetTotp,
        ] {
            assert_eq!(
                decide_user_change(1, admin, me, own, 2),
                Err(BackOfficeRefused::OwnCredentials),
                "a session alone does not reset its own credentials"
            );
            assert_eq!(decide_user_change(1, admin, other_admin, own, 2), Ok(()));
        }
        assert_eq!(
            decide_user_change(1, admin, other_admin, UserChange::Disable, 2),
            Ok(())
        );
        assert_eq!(
            decide_user_change(1, admin, other_admin, demote, 1),
            Err(BackOfficeRefused::LastAdmin)
        );
        assert_eq!(
            decide_user_change(1, admin, cashier, UserChange::Disable, 1),
            Ok(())
        );
        assert_eq!(
            decide_user_change(
                1,
                admin,
                user(3, StaffRole::Cashier, false),
                UserChange::Disable,
                1
            ),
            Err(BackOfficeRefused::UserAlready {
                state: "disabled".into()
            })
        );
        assert_eq!(
            decide_user_change(1, admin, cashier, UserChange::Enable, 1),
            Err(BackOfficeRefused::UserAlready {
                state: "enabled".into()
            })
        );
        assert_eq!(
            decide_user_change(
                1,
                admin,
                cashier,
                UserChange::ResetPassword { password: "short" },
                1
            ),
            Err(BackOfficeRefused::PasswordTooShort { min: 8 })
        );
        assert_eq!(
            decide_user_change(1, admin, me, UserChange::ResetTotp, 1),
            Err(BackOfficeRefused::OwnCredentials)
        );
        assert!(matches!(
            decide_user_change(3, StaffRole::Supervisor, cashier, UserChange::ResetTotp, 1),
            Err(BackOfficeRefused::NotPermitted { .. })
        ));
    }

    #[test]
    fn catalogs_have_the_same_keys_and_every_refusal_has_text() {
        assert_eq!(CATALOG.problems(), Vec::<String>::new());
        let all = [
            BackOfficeRefused::NotPermitted { role: "x".into() },
            BackOfficeRefused::ReasonRequired,
            BackOfficeRefused::AmountNotPositive,
            BackOfficeRefused::OwnRequest,
            BackOfficeRefused::NotPending { status: "x".into() },
            BackOfficeRefused::CommentRequired,
            BackOfficeRefused::NotApproved { status: "x".into() },
            BackOfficeRefused::NotReviewer,
            BackOfficeRefused::GraceOver,
            BackOfficeRefused::NotSubmitter,
            BackOfficeRefused::PasswordWrong,
            BackOfficeRefused::PasswordTooShort { min: 8 },
            BackOfficeRefused::ChannelUnsettled { count: 1 },
            BackOfficeRefused::ChannelDisabled {
                channel: "x".into(),
            },
            BackOfficeRefused::ChannelRemoved,
            BackOfficeRefused::ChannelNotRemoved,
            BackOfficeRefused::EvidenceRetained { until: "x".into() },
            BackOfficeRefused::EvidenceRemoved,
            BackOfficeRefused::RemovalPending,
            BackOfficeRefused::OwnAccount,
            BackOfficeRefused::OwnCredentials,
            BackOfficeRefused::LastAdmin,
            BackOfficeRefused::UserAlready { state: "x".into() },
            BackOfficeRefused::KycDocumentKept {
                status: "active".into(),
            },
        ];
        for r in all {
            for lang in [Lang::Zh, Lang::En] {
                assert!(!r.message(lang).starts_with("backoffice."), "{r:?}");
                assert!(!r.remedy(lang).starts_with("backoffice."), "{r:?}");
            }
        }
    }
}
