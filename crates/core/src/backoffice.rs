//! The back-office's rules (issue 5): who may do what (staff roles), and the maker-checker
//! review of void and refund requests (seed 004: 提交撤销申请 → 审核 → 结果).
//!
//! The web adapter asks these functions and persists what they decide; it decides nothing
//! itself. Money effects of an approved request still go through `rules::decide_void` /
//! `rules::decide_refund` in the store's engine.

use crate::i18n::Lang;
use crate::kind::PaymentMethod;
use crate::money::Amount;
use crate::policy::Policy;
use crate::refusal::Refusal;
use crate::response::ResponseCode;
use jiff::{Timestamp, ToSpan};

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
}

/// What a request wants to do; checked per operation on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// List and read transactions, receipts and timelines.
    ViewTransactions,
    /// See hidden (deleted) records too.
    ViewHidden,
    /// Sale, pre-authorization and completion over the API.
    Sell,
    /// Submit void and refund requests.
    RequestVoidRefund,
    /// Approve or reject someone else's request.
    Review,
    /// Hide a record (删除交易记录).
    Hide,
    /// Export CSV/XLSX.
    Export,
    /// Batches and settlement reports.
    ViewBatches,
    /// The audit trail and its verification.
    ViewAudit,
    /// Create back-office users.
    ManageUsers,
    /// Enable and disable payment channels.
    ManageChannels,
    /// Create, list and verify backups (运维).
    ManageBackups,
    /// Purge records past retention (删除过期记录, for good, after a backup).
    Purge,
}

impl StaffRole {
    /// Every role, in the order the UI lists them.
    pub const ALL: [StaffRole; 5] = [
        StaffRole::Cashier,
        StaffRole::Supervisor,
        StaffRole::Finance,
        StaffRole::Admin,
        StaffRole::Auditor,
    ];

    /// The code name used in JSON, the store and the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Cashier => "cashier",
            StaffRole::Supervisor => "supervisor",
            StaffRole::Finance => "finance",
            StaffRole::Admin => "admin",
            StaffRole::Auditor => "auditor",
        }
    }

    /// Parses a code name.
    pub fn parse(text: &str) -> Option<StaffRole> {
        StaffRole::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// True for the roles that must log in with a second factor (TOTP). Admins can hide
    /// records and manage users: a stolen password alone must not be enough (issue 5).
    pub fn requires_totp(self) -> bool {
        self == StaffRole::Admin
    }

    /// The permission table. The auditor is read-only by design: an auditor who could change
    /// what they audit would audit nothing.
    pub fn allows(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            StaffRole::Cashier => matches!(p, ViewTransactions | Sell | RequestVoidRefund),
            StaffRole::Supervisor => matches!(
                p,
                ViewTransactions | Sell | RequestVoidRefund | Review | Export | ViewBatches
            ),
            StaffRole::Finance => matches!(
                p,
                ViewTransactions | RequestVoidRefund | Review | Export | ViewBatches | ViewAudit
            ),
            StaffRole::Admin => !matches!(p, Sell),
            StaffRole::Auditor => matches!(
                p,
                ViewTransactions | ViewHidden | Export | ViewBatches | ViewAudit
            ),
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
    if !role.allows(Permission::Review) {
        return Err(BackOfficeRefused::NotPermitted {
            role: role.as_str().into(),
        });
    }
    if req.submitted_by == reviewer {
        return Err(BackOfficeRefused::OwnRequest);
    }
    if req.status != RequestStatus::Pending {
        return Err(BackOfficeRefused::NotPending {
            status: req.status.as_str().into(),
        });
    }
    if !approve {
        if comment.trim().is_empty() {
            return Err(BackOfficeRefused::CommentRequired);
        }
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

/// The facts of a request to enable or disable a channel.
#[derive(Debug, Clone)]
pub struct ChannelChange<'a> {
    /// The acting user's role.
    pub role: StaffRole,
    /// Enable (true) or disable.
    pub enable: bool,
    /// Why (required).
    pub reason: &'a str,
    /// The acting user re-entered their password correctly.
    pub password_ok: bool,
    /// The channel's transactions not settled yet.
    pub unsettled: u64,
}

/// Decides a channel change (issue 5): admins only, with the password re-entered and a
/// reason; a channel with unsettled transactions cannot be disabled (they must settle
/// through it first).
pub fn decide_channel_change(c: &ChannelChange<'_>) -> Result<(), BackOfficeRefused> {
    if !c.role.allows(Permission::ManageChannels) {
        return Err(BackOfficeRefused::NotPermitted {
            role: c.role.as_str().into(),
        });
    }
    if !c.password_ok {
        return Err(BackOfficeRefused::PasswordWrong);
    }
    if c.reason.trim().is_empty() {
        return Err(BackOfficeRefused::ReasonRequired);
    }
    if !c.enable && c.unsettled > 0 {
        return Err(BackOfficeRefused::ChannelUnsettled { count: c.unsettled });
    }
    Ok(())
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
    if !p.role.allows(Permission::Purge) {
        return Err(BackOfficeRefused::NotPermitted {
            role: p.role.as_str().into(),
        });
    }
    if !p.password_ok {
        return Err(BackOfficeRefused::PasswordWrong);
    }
    if p.reason.trim().is_empty() {
        return Err(BackOfficeRefused::ReasonRequired);
    }
    Ok(())
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
        }
    }
    fn response_code(&self) -> ResponseCode {
        ResponseCode::InvalidTransaction
    }
    fn args(&self) -> Vec<String> {
        match self {
            BackOfficeRefused::NotPermitted { role } => vec![role.clone()],
            BackOfficeRefused::NotPending { status }
            | BackOfficeRefused::NotApproved { status } => vec![status.clone()],
            BackOfficeRefused::ChannelUnsettled { count } => vec![count.to_string()],
            BackOfficeRefused::PasswordTooShort { min } => vec![min.to_string()],
            BackOfficeRefused::ChannelDisabled { channel } => vec![channel.clone()],
            _ => Vec::new(),
        }
    }
    fn message(&self, lang: Lang) -> String {
        text(lang, &format!("{}.msg", self.key()), &self.args())
    }
    fn remedy(&self, lang: Lang) -> String {
        text(lang, &format!("{}.fix", self.key()), &self.args())
    }
}

/// This module's catalog, kept beside its rules (zh-CN first, English second).
fn text(lang: Lang, key: &str, args: &[String]) -> String {
    let catalog = match lang {
        Lang::Zh => ZH,
        Lang::En => EN,
    };
    let mut out = catalog
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, t)| (*t).to_owned())
        .unwrap_or_else(|| key.to_owned());
    for (i, a) in args.iter().enumerate() {
        out = out.replace(&format!("{{{i}}}"), a);
    }
    out
}

type Catalog = &'static [(&'static str, &'static str)];

static ZH: Catalog = &[
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
        "该渠道还有 {0} 笔未结算交易，不能停用",
    ),
    (
        "backoffice.channel_unsettled.fix",
        "请先完成批结算，再停用该渠道",
    ),
    (
        "backoffice.channel_disabled.msg",
        "支付渠道 {0} 已停用，交易被拒绝（12）",
    ),
    (
        "backoffice.channel_disabled.fix",
        "请改用其他支付方式，或联系管理员启用该渠道",
    ),
];

static EN: Catalog = &[
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
        "The channel has {0} unsettled transactions and cannot be disabled",
    ),
    (
        "backoffice.channel_unsettled.fix",
        "Settle the batches first, then disable the channel",
    ),
    (
        "backoffice.channel_disabled.msg",
        "Payment channel {0} is disabled; transaction refused (12)",
    ),
    (
        "backoffice.channel_disabled.fix",
        "Use another payment method, or ask an admin to enable the channel",
    ),
];

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
        let admin = StaffRole::Admin;
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
        assert!(StaffRole::Admin.requires_totp());
        assert!(!StaffRole::Auditor.requires_totp() && !StaffRole::Cashier.requires_totp());
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
        let c = |role, enable, reason, password_ok, unsettled| ChannelChange {
            role,
            enable,
            reason,
            password_ok,
            unsettled,
        };
        let admin = StaffRole::Admin;
        assert_eq!(
            decide_channel_change(&c(admin, false, "合同到期", true, 0)),
            Ok(())
        );
        assert_eq!(
            decide_channel_change(&c(admin, false, "合同到期", true, 3)),
            Err(BackOfficeRefused::ChannelUnsettled { count: 3 })
        );
        assert_eq!(
            decide_channel_change(&c(admin, true, "恢复", true, 3)),
            Ok(()),
            "enabling is fine"
        );
        assert_eq!(
            decide_channel_change(&c(admin, false, "x", false, 0)),
            Err(BackOfficeRefused::PasswordWrong)
        );
        assert_eq!(
            decide_channel_change(&c(admin, false, " ", true, 0)),
            Err(BackOfficeRefused::ReasonRequired)
        );
        assert!(matches!(
            decide_channel_change(&c(StaffRole::Finance, false, "x", true, 0)),
            Err(BackOfficeRefused::NotPermitted { .. })
        ));
        let refused = decide_channel_open(Channel::Alipay, false).unwrap_err();
        assert_eq!(refused.response_code(), ResponseCode::InvalidTransaction);
        assert_eq!(refused.response_code().code(), "12");
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
    fn catalogs_have_the_same_keys_and_every_refusal_has_text() {
        let zh: Vec<_> = ZH.iter().map(|(k, _)| *k).collect();
        let en: Vec<_> = EN.iter().map(|(k, _)| *k).collect();
        assert_eq!(zh, en);
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
        ];
        for r in all {
            for lang in [Lang::Zh, Lang::En] {
                assert!(!r.message(lang).starts_with("backoffice."), "{r:?}");
                assert!(!r.remedy(lang).starts_with("backoffice."), "{r:?}");
            }
        }
    }
}
