//! 风险预警: the risk rules (issue 13), pure functions over facts the service loads. The
//! seeds ask to limit a card after repeated failures, to watch large and frequent payments,
//! to catch duplicate charges and to warn after a mistaken void; each is one typed rule here.
//!
//! [`assess`] looks at one purchase and answers an [`Assessment`]: a [`Decision`] (allow,
//! alert, hold for review, refuse) and the [`Finding`]s that led to it, each with the rule,
//! its severity and the evidence (transaction ids, the inputs). **A rule never moves money**:
//! the assessment carries no amount to book, debit or credit; a refusal or a hold books
//! nothing, and the caller asks the issuer only when the decision is `Allow` or `Alert`.
//!
//! Parameters: [`RiskParams`] (the config file's `[risk]`), and per merchant the limits the
//! acquirer sets, which the merchant may only tighten ([`decide_merchant_limits`]).

use crate::i18n::{Catalog, Entries, Lang};
use crate::money::Amount;
use crate::{Refusal, TxnId, TxnKind};
use jiff::Timestamp;
use jiff::civil::Time;

/// What a refused or held purchase is told; the 8583 code is `suanpan-host`'s (`codes`), the
/// HTTP status `suanpan-web`'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RiskRefused {
    /// The card failed `declines_max` times within `declines_window_minutes`: it is blocked
    /// until `until` (local `HH:MM`).
    CardBlocked {
        /// When the block ends, local time `HH:MM`.
        until: String,
    },
    /// Too many payments (count or amount) in the sliding window, for the card, the
    /// terminal or the merchant.
    Velocity {
        /// `card`, `terminal` or `merchant`.
        scope: VelocityScope,
    },
    /// The single amount is above the merchant's limit.
    OverLimit {
        /// The limit.
        limit: Amount,
    },
    /// The amount is above the limit and the sale waits for a reviewer in the back-office.
    HeldForReview {
        /// The limit.
        limit: Amount,
    },
    /// The same card paid the same amount a few minutes ago: the counter confirms first.
    PossibleDuplicate,
    /// Outside the merchant's trading hours.
    OffHours {
        /// Opening time `HH:MM`.
        open: String,
        /// Closing time `HH:MM`.
        close: String,
    },
    /// The card failed `declines_max` times and `declines_action = "require_pin"`: until
    /// `until` (local `HH:MM`) it pays only with its PIN entered.
    PinRequired {
        /// When the requirement ends, local time `HH:MM`.
        until: String,
    },
    /// The card or its BIN is on the acquirer's blocklist.
    Blocklisted,
    /// A merchant's own limit is looser than the acquirer's.
    LooserThanAcquirer {
        /// The limit's name in `[risk]`.
        field: &'static str,
    },
    /// The alert is resolved: nothing more happens to it.
    AlertResolved,
    /// Only an open alert is acknowledged.
    AlertNotOpen,
    /// A resolution says what was done: a note is required.
    NoteRequired,
    /// The alert has no review waiting (not a held sale, or decided already).
    NoReviewPending,
    /// No such alert (of the caller's merchant).
    AlertNotFound,
}

/// Which velocity counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VelocityScope {
    /// The card (fingerprint).
    Card,
    /// The terminal.
    Terminal,
    /// The merchant.
    Merchant,
}

impl VelocityScope {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            VelocityScope::Card => "card",
            VelocityScope::Terminal => "terminal",
            VelocityScope::Merchant => "merchant",
        }
    }
}

impl Refusal for RiskRefused {
    fn key(&self) -> &'static str {
        match self {
            RiskRefused::CardBlocked { .. } => "risk.card_blocked",
            RiskRefused::PinRequired { .. } => "risk.pin_required",
            RiskRefused::Velocity { .. } => "risk.velocity",
            RiskRefused::OverLimit { .. } => "risk.over_limit",
            RiskRefused::HeldForReview { .. } => "risk.held_for_review",
            RiskRefused::PossibleDuplicate => "risk.possible_duplicate",
            RiskRefused::OffHours { .. } => "risk.off_hours",
            RiskRefused::Blocklisted => "risk.blocklisted",
            RiskRefused::LooserThanAcquirer { .. } => "risk.looser_than_acquirer",
            RiskRefused::AlertResolved => "risk.alert_resolved",
            RiskRefused::AlertNotOpen => "risk.alert_not_open",
            RiskRefused::NoteRequired => "risk.note_required",
            RiskRefused::NoReviewPending => "risk.no_review_pending",
            RiskRefused::AlertNotFound => "risk.alert_not_found",
        }
    }
    fn args(&self) -> Vec<String> {
        match self {
            RiskRefused::CardBlocked { until } | RiskRefused::PinRequired { until } => {
                vec![until.clone()]
            }
            RiskRefused::Velocity { scope } => vec![scope_word(*scope).to_owned()],
            RiskRefused::OverLimit { limit } | RiskRefused::HeldForReview { limit } => {
                vec![limit.yuan()]
            }
            RiskRefused::OffHours { open, close } => vec![open.clone(), close.clone()],
            RiskRefused::LooserThanAcquirer { field } => vec![(*field).to_owned()],
            RiskRefused::PossibleDuplicate
            | RiskRefused::Blocklisted
            | RiskRefused::AlertResolved
            | RiskRefused::AlertNotOpen
            | RiskRefused::NoteRequired
            | RiskRefused::NoReviewPending
            | RiskRefused::AlertNotFound => Vec::new(),
        }
    }
    fn message(&self, lang: Lang) -> String {
        // A limit is named in words, never by its `[risk]` key.
        let args = match self {
            RiskRefused::LooserThanAcquirer { field } => vec![limit_label(lang, field).to_owned()],
            _ => self.args(),
        };
        CATALOG.fill(lang, &format!("{}.msg", self.key()), &args)
    }
    fn remedy(&self, lang: Lang) -> String {
        CATALOG.fill(lang, &format!("{}.fix", self.key()), &self.args())
    }
}

/// A limit's name for a reader (`Limits::fields` names it as `[risk]` does); the name itself
/// when the catalog has no words for it.
pub fn limit_label(lang: Lang, field: &str) -> &str {
    CATALOG
        .get(lang, &format!("risk.limit.{field}"))
        .unwrap_or(field)
}

fn scope_word(s: VelocityScope) -> &'static str {
    match s {
        VelocityScope::Card => "此卡",
        VelocityScope::Terminal => "本终端",
        VelocityScope::Merchant => "本商户",
    }
}

/// The risk rules' catalog. A message is what the terminal shows in 63.2 (≤ 30 Chinese
/// characters), so each says what to do.
pub static CATALOG: Catalog = Catalog::new(ZH, EN);

static ZH: Entries = &[
    ("risk.card_blocked.msg", "此卡连续失败，暂停交易至{0}"),
    ("risk.card_blocked.fix", "请持卡人稍后再试或换卡支付"),
    ("risk.pin_required.msg", "此卡连续失败，{0}前须输入密码"),
    ("risk.pin_required.fix", "请持卡人输入密码后重新交易"),
    ("risk.velocity.msg", "{0}交易过于频繁，请稍后再试"),
    ("risk.velocity.fix", "请稍后再试，或联系收单机构调整限额"),
    ("risk.over_limit.msg", "金额超过单笔限额{0}元，请分笔或换卡"),
    ("risk.over_limit.fix", "请分笔支付或联系收单机构"),
    (
        "risk.held_for_review.msg",
        "超过单笔限额{0}元，已提交复核，批准后重刷",
    ),
    (
        "risk.held_for_review.fix",
        "请主管在后台复核通过后，用同一张卡重新支付",
    ),
    ("risk.possible_duplicate.msg", "疑似重复，确认后重试"),
    (
        "risk.possible_duplicate.fix",
        "同卡同金额刚付过款，请与顾客核对后确认再付",
    ),
    ("risk.off_hours.msg", "非营业时间({0}-{1})，暂停收款"),
    (
        "risk.off_hours.fix",
        "请在营业时间内收款，或请商户管理员调整营业时间",
    ),
    ("risk.blocklisted.msg", "此卡受限，请换卡支付"),
    ("risk.blocklisted.fix", "请顾客换卡或改用其他支付方式"),
    (
        "risk.looser_than_acquirer.msg",
        "商户限额不能宽于收单机构所设：{0}",
    ),
    (
        "risk.looser_than_acquirer.fix",
        "请设一个不高于收单机构限额的值",
    ),
    ("risk.alert_resolved.msg", "该预警已处理完毕"),
    (
        "risk.alert_resolved.fix",
        "无需再操作；如有新情况会产生新的预警",
    ),
    ("risk.alert_not_open.msg", "该预警已确认过"),
    ("risk.alert_not_open.fix", "请处理并填写处理说明"),
    ("risk.note_required.msg", "请填写处理说明"),
    ("risk.note_required.fix", "写明核查了什么、如何处理"),
    ("risk.no_review_pending.msg", "该预警没有待复核的交易"),
    (
        "risk.no_review_pending.fix",
        "只有超限额待复核的交易可以批准或驳回",
    ),
    ("risk.alert_not_found.msg", "找不到该预警"),
    ("risk.alert_not_found.fix", "请核对预警编号"),
    ("risk.limit.single_amount_max_fen", "单笔限额"),
    ("risk.limit.card_count_max", "单卡笔数上限"),
    ("risk.limit.card_amount_max_fen", "单卡金额上限"),
    ("risk.limit.terminal_count_max", "单终端笔数上限"),
    ("risk.limit.terminal_amount_max_fen", "单终端金额上限"),
    ("risk.limit.merchant_count_max", "商户笔数上限"),
    ("risk.limit.merchant_amount_max_fen", "商户金额上限"),
    ("risk.rule.consecutive_declines", "连续失败"),
    ("risk.rule.velocity", "交易频率"),
    ("risk.rule.amount_limit", "单笔限额"),
    ("risk.rule.duplicate", "重复扣款"),
    ("risk.rule.off_hours", "非营业时间"),
    ("risk.rule.blocklist", "黑名单"),
    ("risk.rule.void_ratio", "撤销退货比例"),
    ("risk.rule.sale_after_void", "撤销后同卡再付"),
    ("risk.rule.compliance_report", "合规日报异常"),
];

static EN: Entries = &[
    (
        "risk.card_blocked.msg",
        "Card failed repeatedly; paused until {0}",
    ),
    (
        "risk.card_blocked.fix",
        "Ask the cardholder to try later or use another card",
    ),
    (
        "risk.pin_required.msg",
        "Card failed repeatedly; PIN needed until {0}",
    ),
    (
        "risk.pin_required.fix",
        "Ask the cardholder to enter the PIN and try again",
    ),
    ("risk.velocity.msg", "Too many payments ({0}); try later"),
    (
        "risk.velocity.fix",
        "Try later, or ask the acquirer to change the limit",
    ),
    (
        "risk.over_limit.msg",
        "Above the single-payment limit of {0} yuan",
    ),
    (
        "risk.over_limit.fix",
        "Split the payment, or contact the acquirer",
    ),
    (
        "risk.held_for_review.msg",
        "Above the limit of {0} yuan; sent for review",
    ),
    (
        "risk.held_for_review.fix",
        "Once a supervisor approves it in the back-office, pay again with the same card",
    ),
    (
        "risk.possible_duplicate.msg",
        "Possible duplicate; confirm and retry",
    ),
    (
        "risk.possible_duplicate.fix",
        "The same card just paid the same amount; check with the customer, then confirm",
    ),
    ("risk.off_hours.msg", "Outside trading hours ({0}-{1})"),
    (
        "risk.off_hours.fix",
        "Take payments in trading hours, or ask the merchant admin to change them",
    ),
    ("risk.blocklisted.msg", "This card is restricted"),
    (
        "risk.blocklisted.fix",
        "Ask for another card or another way to pay",
    ),
    (
        "risk.looser_than_acquirer.msg",
        "A merchant limit cannot be looser than the acquirer's: {0}",
    ),
    (
        "risk.looser_than_acquirer.fix",
        "Set a value no higher than the acquirer's limit",
    ),
    ("risk.alert_resolved.msg", "This alert is resolved"),
    (
        "risk.alert_resolved.fix",
        "Nothing more to do; anything new raises a new alert",
    ),
    (
        "risk.alert_not_open.msg",
        "This alert was acknowledged already",
    ),
    ("risk.alert_not_open.fix", "Resolve it with a note"),
    ("risk.note_required.msg", "Write a resolution note"),
    (
        "risk.note_required.fix",
        "Say what was checked and what was done",
    ),
    (
        "risk.no_review_pending.msg",
        "This alert has no sale waiting for review",
    ),
    (
        "risk.no_review_pending.fix",
        "Only an over-limit sale held for review is approved or rejected",
    ),
    ("risk.alert_not_found.msg", "No such alert"),
    ("risk.alert_not_found.fix", "Check the alert number"),
    ("risk.limit.single_amount_max_fen", "Single payment limit"),
    ("risk.limit.card_count_max", "Payments per card"),
    ("risk.limit.card_amount_max_fen", "Amount per card"),
    ("risk.limit.terminal_count_max", "Payments per terminal"),
    ("risk.limit.terminal_amount_max_fen", "Amount per terminal"),
    ("risk.limit.merchant_count_max", "Payments of the merchant"),
    (
        "risk.limit.merchant_amount_max_fen",
        "Amount of the merchant",
    ),
    ("risk.rule.consecutive_declines", "Consecutive declines"),
    ("risk.rule.velocity", "Velocity"),
    ("risk.rule.amount_limit", "Single-payment limit"),
    ("risk.rule.duplicate", "Duplicate charge"),
    ("risk.rule.off_hours", "Off hours"),
    ("risk.rule.blocklist", "Blocklist"),
    ("risk.rule.void_ratio", "Void/refund ratio"),
    ("risk.rule.sale_after_void", "Sale right after a void"),
    ("risk.rule.compliance_report", "Compliance report red"),
];

/// What a card that failed `declines_max` times in a row gets for `decline_block_minutes`
/// (「暂时限制其交易权限或者加强身份验证」).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclinesAction {
    /// Every attempt is refused until the block ends.
    #[default]
    Block,
    /// Only an attempt with the PIN entered goes on (the issuer checks it; a wrong PIN is
    /// one more decline).
    RequirePin,
}

/// What an over-limit purchase gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverLimitAction {
    /// Declined at once.
    #[default]
    Decline,
    /// Held: a back-office request a reviewer approves, after which the same card's retry
    /// goes through.
    Review,
}

/// The `[risk]` section of the config file: every rule's knobs. A limit of 0 switches its
/// rule off.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskParams {
    /// Declines of one card, without an approval between them, that block it (0 = off).
    pub declines_max: u32,
    /// ...within this many minutes.
    pub declines_window_minutes: u32,
    /// Minutes the card stays blocked after the last of them.
    pub decline_block_minutes: u32,
    /// What the card gets meanwhile: `block` (refused) or `require_pin` (only with its PIN).
    pub declines_action: DeclinesAction,
    /// Minutes of the velocity rules' sliding window.
    pub velocity_window_minutes: u32,
    /// The limits every merchant starts from (the acquirer may set others per merchant).
    pub limits: Limits,
    /// What an amount above `limits.single_amount_max_fen` gets.
    pub over_limit: OverLimitAction,
    /// Minutes an approved over-limit review lets the same card and amount through.
    pub review_retry_minutes: u32,
    /// A sale on the same card for the same amount within this many minutes is a possible
    /// duplicate charge (0 = off); the counter confirms it and retries.
    pub duplicate_minutes: u32,
    /// A sale on a card voided within this many minutes raises an alert (0 = off).
    pub sale_after_void_minutes: u32,
    /// An operator or terminal whose voids and refunds pass this percent of its sales in a
    /// business day raises an alert (0 = off)...
    pub void_ratio_percent_max: u32,
    /// ...once it has at least this many sales that day.
    pub void_ratio_sales_min: u32,
}

impl Default for RiskParams {
    fn default() -> RiskParams {
        RiskParams {
            declines_max: 3,
            declines_window_minutes: 10,
            decline_block_minutes: 30,
            declines_action: DeclinesAction::Block,
            velocity_window_minutes: 60,
            limits: Limits::default(),
            over_limit: OverLimitAction::Decline,
            review_retry_minutes: 60,
            duplicate_minutes: 10,
            sale_after_void_minutes: 10,
            void_ratio_percent_max: 20,
            void_ratio_sales_min: 10,
        }
    }
}

impl RiskParams {
    /// Every rule off: for suites that test something else (the wire, the ledger) with
    /// repeated identical sales; the rules have their own tests.
    pub fn off() -> RiskParams {
        RiskParams {
            declines_max: 0,
            limits: Limits {
                single_amount_max_fen: 0,
                card_count_max: 0,
                card_amount_max_fen: 0,
                terminal_count_max: 0,
                terminal_amount_max_fen: 0,
                merchant_count_max: 0,
                merchant_amount_max_fen: 0,
            },
            duplicate_minutes: 0,
            sale_after_void_minutes: 0,
            void_ratio_percent_max: 0,
            ..RiskParams::default()
        }
    }
}

/// Card events [`assess`] reads at most: the service loads the card's newest ones.
pub const CARD_EVENTS_MAX: u32 = 64;

impl RiskParams {
    /// Whether any rule reads the card's recent transactions under `limits` (the limits in
    /// force for the merchant): consecutive declines, the card's velocity, a duplicate
    /// charge, a sale after a void. When none does, the write path need not load them.
    pub fn reads_card_events(&self, limits: &Limits) -> bool {
        self.declines_max > 0
            || self.duplicate_minutes > 0
            || self.sale_after_void_minutes > 0
            || limits.card_count_max > 0
            || limits.card_amount_max_fen > 0
    }

    /// Whether any rule reads the terminal's recent transactions under `limits`: the
    /// terminal's velocity window (a terminal limit) or its void/refund ratio. The store keeps
    /// the index they read only while one does (`suanpan_store::risk_index`).
    pub fn reads_terminal_txns(&self, limits: &Limits) -> bool {
        self.void_ratio_percent_max > 0
            || limits.terminal_count_max > 0
            || limits.terminal_amount_max_fen > 0
    }

    /// Minutes of card history the enabled rules look back over under `limits` (the limits
    /// in force for the merchant): the longest window of a rule that is on. The card's
    /// velocity hour counts only when a card limit is set; by default the decline run and
    /// its block (40 minutes) are the longest. 0 when no card rule is on.
    pub fn card_lookback_minutes(&self, limits: &Limits) -> u32 {
        let card_velocity = limits.card_count_max > 0 || limits.card_amount_max_fen > 0;
        [
            if self.declines_max > 0 {
                self.declines_window_minutes + self.decline_block_minutes
            } else {
                0
            },
            if card_velocity {
                self.velocity_window_minutes
            } else {
                0
            },
            self.duplicate_minutes,
            self.sale_after_void_minutes,
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
    }

    /// Checks the values that can be wrong in a config file.
    pub fn validate(&self) -> Result<(), String> {
        if self.limits.card_count_max >= CARD_EVENTS_MAX {
            return Err(format!(
                "[risk] limits.card_count_max must be below {CARD_EVENTS_MAX}"
            ));
        }
        if self.declines_max >= CARD_EVENTS_MAX {
            return Err(format!(
                "[risk] declines_max must be below {CARD_EVENTS_MAX}"
            ));
        }
        self.limits.validate()
    }
}

/// Per-merchant limits (0 = off). The acquirer sets them; the merchant may only tighten.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// A single sale or pre-authorization above this (fen) is declined or held.
    pub single_amount_max_fen: i64,
    /// Approved payments of one card in the window.
    pub card_count_max: u32,
    /// Their sum (fen).
    pub card_amount_max_fen: i64,
    /// Approved payments of one terminal in the window.
    pub terminal_count_max: u32,
    /// Their sum (fen).
    pub terminal_amount_max_fen: i64,
    /// Approved payments of the merchant in the window.
    pub merchant_count_max: u32,
    /// Their sum (fen).
    pub merchant_amount_max_fen: i64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            single_amount_max_fen: 5_000_000,
            card_count_max: 0,
            card_amount_max_fen: 0,
            terminal_count_max: 0,
            terminal_amount_max_fen: 0,
            merchant_count_max: 0,
            merchant_amount_max_fen: 0,
        }
    }
}

impl Limits {
    /// Every limit by its `[risk]` name, counts widened to i64.
    pub fn fields(&self) -> [(&'static str, i64); 7] {
        [
            ("single_amount_max_fen", self.single_amount_max_fen),
            ("card_count_max", i64::from(self.card_count_max)),
            ("card_amount_max_fen", self.card_amount_max_fen),
            ("terminal_count_max", i64::from(self.terminal_count_max)),
            ("terminal_amount_max_fen", self.terminal_amount_max_fen),
            ("merchant_count_max", i64::from(self.merchant_count_max)),
            ("merchant_amount_max_fen", self.merchant_amount_max_fen),
        ]
    }

    fn validate(&self) -> Result<(), String> {
        match self.fields().iter().find(|(_, v)| *v < 0) {
            Some((name, _)) => Err(format!("[risk] limits.{name} must not be negative")),
            None => Ok(()),
        }
    }

    /// The tighter of two limit sets, field by field (0 is off, the loosest).
    pub fn tightened(&self, other: &Limits) -> Limits {
        fn t(a: i64, b: i64) -> i64 {
            match (a, b) {
                (0, b) => b,
                (a, 0) => a,
                (a, b) => a.min(b),
            }
        }
        fn tc(a: u32, b: u32) -> u32 {
            u32::try_from(t(i64::from(a), i64::from(b))).unwrap_or(u32::MAX)
        }
        Limits {
            single_amount_max_fen: t(self.single_amount_max_fen, other.single_amount_max_fen),
            card_count_max: tc(self.card_count_max, other.card_count_max),
            card_amount_max_fen: t(self.card_amount_max_fen, other.card_amount_max_fen),
            terminal_count_max: tc(self.terminal_count_max, other.terminal_count_max),
            terminal_amount_max_fen: t(self.terminal_amount_max_fen, other.terminal_amount_max_fen),
            merchant_count_max: tc(self.merchant_count_max, other.merchant_count_max),
            merchant_amount_max_fen: t(self.merchant_amount_max_fen, other.merchant_amount_max_fen),
        }
    }
}

/// A merchant sets its own limits: each must be at least as tight as the acquirer's (issue
/// 13: "acquirer-set limits, merchant can only tighten"). Off (0) is the loosest value.
pub fn decide_merchant_limits(acquirer: &Limits, proposed: &Limits) -> Result<(), RiskRefused> {
    for ((field, acq), (_, mine)) in acquirer.fields().into_iter().zip(proposed.fields()) {
        let looser = mine < 0 || (acq != 0 && (mine == 0 || mine > acq));
        if looser {
            return Err(RiskRefused::LooserThanAcquirer { field });
        }
    }
    Ok(())
}

/// A merchant's trading hours, local time; `close` before `open` spans midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Opening time.
    pub open: Time,
    /// Closing time.
    pub close: Time,
}

impl Schedule {
    /// True when `t` is within the hours.
    pub fn is_open(&self, t: Time) -> bool {
        if self.open <= self.close {
            t >= self.open && t < self.close
        } else {
            t >= self.open || t < self.close
        }
    }

    /// Parses `HH:MM`.
    pub fn parse_time(text: &str) -> Option<Time> {
        let (h, m) = text.split_once(':')?;
        Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
    }
}

/// One earlier transaction of the same card, as the rules read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardEvent {
    /// Its id (the alert's evidence).
    pub id: TxnId,
    /// Sale, pre-auth, void…
    pub kind: TxnKind,
    /// Approved (also when since voided or refunded: the money was taken).
    pub approved: bool,
    /// Declined by the issuer.
    pub declined: bool,
    /// Its amount.
    pub amount: Amount,
    /// When.
    pub at: Timestamp,
}

/// Count and sum of approved payments in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// How many.
    pub count: u32,
    /// Their sum.
    pub sum: Amount,
}

/// Everything [`assess`] reads about one purchase; the service loads it.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The moment of the request.
    pub now: Timestamp,
    /// Local time of day in the merchant's zone.
    pub local_time: Time,
    /// `Sale`, `PreAuth` or `BalanceInquiry`.
    pub kind: TxnKind,
    /// The amount asked.
    pub amount: Amount,
    /// True when the purchase is by card (the card rules need a fingerprint).
    pub by_card: bool,
    /// The card's recent transactions, newest first (at most [`CARD_EVENTS_MAX`]).
    pub card_events: Vec<CardEvent>,
    /// The terminal's approved payments in the velocity window, if its limits are on.
    pub terminal_window: Option<Window>,
    /// The merchant's, likewise.
    pub merchant_window: Option<Window>,
    /// The merchant's effective limits (acquirer's, tightened by the merchant's own).
    pub limits: Limits,
    /// The merchant's trading hours, if it has any.
    pub schedule: Option<Schedule>,
    /// The card or its BIN is on the blocklist.
    pub blocklisted: bool,
    /// The counter confirmed a possible duplicate (8583 60.6 `1`, REST `confirm_duplicate`).
    pub duplicate_confirmed: bool,
    /// An approved over-limit review for this card and amount, still within its window.
    pub review_approved: bool,
    /// The cardholder entered a PIN (the issuer verifies it).
    pub pin_entered: bool,
}

/// The rule that fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Consecutive declines of one card.
    ConsecutiveDeclines,
    /// Count or amount in a window.
    Velocity,
    /// Single amount above the limit.
    AmountLimit,
    /// Same card, same amount, within minutes.
    Duplicate,
    /// Outside trading hours.
    OffHours,
    /// Card/BIN blocklist.
    Blocklist,
    /// Voids and refunds against sales, per operator or terminal and day.
    VoidRatio,
    /// A sale on a card minutes after a void on it.
    SaleAfterVoid,
    /// The daily compliance report came out red (audit chain broken, money not conserved,
    /// or a batch settled unbalanced): raised by the scheduler, not by a purchase.
    ComplianceReport,
}

impl Rule {
    /// Every rule.
    pub const ALL: [Rule; 9] = [
        Rule::ConsecutiveDeclines,
        Rule::Velocity,
        Rule::AmountLimit,
        Rule::Duplicate,
        Rule::OffHours,
        Rule::Blocklist,
        Rule::VoidRatio,
        Rule::SaleAfterVoid,
        Rule::ComplianceReport,
    ];

    /// Stable name (database, JSON, audit).
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::ConsecutiveDeclines => "consecutive_declines",
            Rule::Velocity => "velocity",
            Rule::AmountLimit => "amount_limit",
            Rule::Duplicate => "duplicate",
            Rule::OffHours => "off_hours",
            Rule::Blocklist => "blocklist",
            Rule::VoidRatio => "void_ratio",
            Rule::SaleAfterVoid => "sale_after_void",
            Rule::ComplianceReport => "compliance_report",
        }
    }

    /// Parses [`Rule::as_str`].
    pub fn parse(text: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// Its name for a reader.
    pub fn label(self, lang: Lang) -> &'static str {
        CATALOG.text(lang, self.label_key())
    }

    fn label_key(self) -> &'static str {
        match self {
            Rule::ConsecutiveDeclines => "risk.rule.consecutive_declines",
            Rule::Velocity => "risk.rule.velocity",
            Rule::AmountLimit => "risk.rule.amount_limit",
            Rule::Duplicate => "risk.rule.duplicate",
            Rule::OffHours => "risk.rule.off_hours",
            Rule::Blocklist => "risk.rule.blocklist",
            Rule::VoidRatio => "risk.rule.void_ratio",
            Rule::SaleAfterVoid => "risk.rule.sale_after_void",
            Rule::ComplianceReport => "risk.rule.compliance_report",
        }
    }
}

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Look today.
    Medium,
    /// Look now.
    High,
}

impl Severity {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// What a finding asks of the purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Only an alert.
    Alert,
    /// Held for review (books nothing now).
    Hold(RiskRefused),
    /// Refused (books nothing).
    Refuse(RiskRefused),
}

/// One rule that fired, with what it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Which rule.
    pub rule: Rule,
    /// How urgent its alert is.
    pub severity: Severity,
    /// What it asks.
    pub action: Action,
    /// Earlier transactions that are its evidence.
    pub evidence: Vec<TxnId>,
    /// Its inputs, for the audit trail and the alert (`key=value` pairs).
    pub inputs: String,
}

/// What the rules decided for one purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No rule fired.
    Allow,
    /// Go on, and raise the findings' alerts.
    Alert,
    /// Book nothing; a reviewer decides (the refusal says so to the counter).
    Hold(RiskRefused),
    /// Book nothing.
    Refuse(RiskRefused),
}

/// [`assess`]'s answer: the decision and every finding (a refused purchase may have fired
/// several rules; each raises its alert).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// The strongest action of the findings.
    pub decision: Decision,
    /// The rules that fired, in the order they were asked.
    pub findings: Vec<Finding>,
}

/// Asks every rule about one purchase. Training purchases and those the caller exempts are
/// not asked (the service decides that); the first refusing rule decides, the others still
/// report what they saw.
pub fn assess(p: &RiskParams, f: &Facts) -> Assessment {
    let mut findings = Vec::new();
    let pays = matches!(f.kind, TxnKind::Sale | TxnKind::PreAuth);
    findings.extend(blocklist(f));
    findings.extend(consecutive_declines(p, f));
    if pays {
        findings.extend(off_hours(f));
        findings.extend(amount_limit(p, f));
        findings.extend(velocity(p, f));
        findings.extend(duplicate(p, f));
        findings.extend(sale_after_void(p, f));
    }
    let decision = findings
        .iter()
        .find_map(|x| match &x.action {
            Action::Refuse(r) => Some(Decision::Refuse(r.clone())),
            _ => None,
        })
        .or_else(|| {
            findings.iter().find_map(|x| match &x.action {
                Action::Hold(r) => Some(Decision::Hold(r.clone())),
                _ => None,
            })
        })
        .unwrap_or(if findings.is_empty() {
            Decision::Allow
        } else {
            Decision::Alert
        });
    Assessment { decision, findings }
}

fn minutes_ago(now: Timestamp, minutes: u32) -> Timestamp {
    now.checked_sub(jiff::SignedDuration::from_mins(i64::from(minutes)))
        .unwrap_or(Timestamp::MIN)
}

fn finding(rule: Rule, severity: Severity, action: Action, inputs: String) -> Finding {
    Finding {
        rule,
        severity,
        action,
        evidence: Vec::new(),
        inputs,
    }
}

fn blocklist(f: &Facts) -> Option<Finding> {
    f.blocklisted.then(|| {
        let r = RiskRefused::Blocklisted;
        finding(
            Rule::Blocklist,
            Severity::High,
            Action::Refuse(r),
            "blocklisted=card_or_bin".into(),
        )
    })
}

/// 连续多次交易失败 → 暂时限制: `declines_max` declines in a row (no approval between them)
/// within `declines_window_minutes` block the card for `decline_block_minutes` after the
/// last. Refusals are not booked, so a blocked card's attempts do not extend the block.
fn consecutive_declines(p: &RiskParams, f: &Facts) -> Option<Finding> {
    let max = usize::try_from(p.declines_max).ok()?;
    if max == 0 || !f.by_card {
        return None;
    }
    let run: Vec<&CardEvent> = f
        .card_events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                TxnKind::Sale | TxnKind::PreAuth | TxnKind::BalanceInquiry
            )
        })
        .take_while(|e| !e.approved)
        .filter(|e| e.declined)
        .take(max)
        .collect();
    let (newest, oldest) = (run.first()?, run.last()?);
    if run.len() < max || oldest.at < minutes_ago(newest.at, p.declines_window_minutes) {
        return None;
    }
    let until = newest
        .at
        .checked_add(jiff::SignedDuration::from_mins(i64::from(
            p.decline_block_minutes,
        )))
        .ok()?;
    if f.now >= until {
        return None;
    }
    let local = until_local(f, until);
    let (action, refused) = match p.declines_action {
        DeclinesAction::Block => ("block", RiskRefused::CardBlocked { until: local }),
        // 加强身份验证: with the PIN entered the attempt goes on to the issuer.
        DeclinesAction::RequirePin if f.pin_entered => return None,
        DeclinesAction::RequirePin => ("require_pin", RiskRefused::PinRequired { until: local }),
    };
    let mut x = finding(
        Rule::ConsecutiveDeclines,
        Severity::Medium,
        Action::Refuse(refused),
        format!(
            "declines={} window_minutes={} block_minutes={} action={action}",
            run.len(),
            p.declines_window_minutes,
            p.decline_block_minutes
        ),
    );
    x.evidence = run.iter().map(|e| e.id).collect();
    Some(x)
}

/// The block's end as the counter reads it: the local time of day, shifted from `now`'s.
fn until_local(f: &Facts, until: Timestamp) -> String {
    let secs = until.duration_since(f.now).as_secs();
    let shifted = f
        .local_time
        .wrapping_add(jiff::SignedDuration::from_secs(secs));
    shifted.strftime("%H:%M").to_string()
}

fn off_hours(f: &Facts) -> Option<Finding> {
    let s = f.schedule?;
    if s.is_open(f.local_time) {
        return None;
    }
    let hm = |t: Time| t.strftime("%H:%M").to_string();
    let r = RiskRefused::OffHours {
        open: hm(s.open),
        close: hm(s.close),
    };
    Some(finding(
        Rule::OffHours,
        Severity::Low,
        Action::Refuse(r),
        format!(
            "local_time={} open={} close={}",
            hm(f.local_time),
            hm(s.open),
            hm(s.close)
        ),
    ))
}

fn amount_limit(p: &RiskParams, f: &Facts) -> Option<Finding> {
    let max = f.limits.single_amount_max_fen;
    if max == 0 || f.amount.fen() <= max {
        return None;
    }
    let limit = Amount::from_fen(max);
    let inputs = format!("amount_fen={} limit_fen={max}", f.amount.fen());
    let action = match p.over_limit {
        OverLimitAction::Decline => Action::Refuse(RiskRefused::OverLimit { limit }),
        // The reviewer approved this card and amount: the retry goes through, alerted.
        OverLimitAction::Review if f.review_approved => Action::Alert,
        OverLimitAction::Review => Action::Hold(RiskRefused::HeldForReview { limit }),
    };
    Some(finding(Rule::AmountLimit, Severity::High, action, inputs))
}

fn velocity(p: &RiskParams, f: &Facts) -> Option<Finding> {
    let since = minutes_ago(f.now, p.velocity_window_minutes);
    let mut card = Window {
        count: 0,
        sum: Amount::ZERO,
    };
    let mut evidence = Vec::new();
    for e in f.card_events.iter().filter(|e| {
        e.approved && e.at >= since && matches!(e.kind, TxnKind::Sale | TxnKind::PreAuth)
    }) {
        card.count += 1;
        card.sum = card
            .sum
            .checked_add(e.amount)
            .unwrap_or(Amount::from_fen(Amount::MAX_FEN));
        evidence.push(e.id);
    }
    let l = &f.limits;
    let scopes = [
        (
            VelocityScope::Card,
            f.by_card.then_some(card),
            l.card_count_max,
            l.card_amount_max_fen,
        ),
        (
            VelocityScope::Terminal,
            f.terminal_window,
            l.terminal_count_max,
            l.terminal_amount_max_fen,
        ),
        (
            VelocityScope::Merchant,
            f.merchant_window,
            l.merchant_count_max,
            l.merchant_amount_max_fen,
        ),
    ];
    for (scope, window, count_max, sum_max) in scopes {
        let Some(w) = window else { continue };
        let sum = w.sum.fen().saturating_add(f.amount.fen());
        let over_count = count_max != 0 && w.count >= count_max;
        let over_sum = sum_max != 0 && sum > sum_max;
        if over_count || over_sum {
            let mut x = finding(
                Rule::Velocity,
                Severity::Medium,
                Action::Refuse(RiskRefused::Velocity { scope }),
                format!(
                    "scope={} count={} count_max={count_max} sum_fen={sum} sum_max_fen={sum_max} window_minutes={}",
                    scope.as_str(),
                    w.count,
                    p.velocity_window_minutes
                ),
            );
            if scope == VelocityScope::Card {
                x.evidence = evidence;
            }
            return Some(x);
        }
    }
    None
}

/// 重复交易: an approved sale of the same card and amount within `duplicate_minutes`. The
/// counter confirms and retries; the confirmed retry goes through with a low alert.
fn duplicate(p: &RiskParams, f: &Facts) -> Option<Finding> {
    if p.duplicate_minutes == 0 || f.kind != TxnKind::Sale || !f.by_card {
        return None;
    }
    let since = minutes_ago(f.now, p.duplicate_minutes);
    let earlier = f
        .card_events
        .iter()
        .find(|e| e.kind == TxnKind::Sale && e.approved && e.amount == f.amount && e.at >= since)?;
    let (action, severity) = if f.duplicate_confirmed {
        (Action::Alert, Severity::Low)
    } else {
        (
            Action::Refuse(RiskRefused::PossibleDuplicate),
            Severity::Medium,
        )
    };
    let mut x = finding(
        Rule::Duplicate,
        severity,
        action,
        format!(
            "amount_fen={} minutes={} confirmed={}",
            f.amount.fen(),
            p.duplicate_minutes,
            f.duplicate_confirmed
        ),
    );
    x.evidence = vec![earlier.id];
    Some(x)
}

/// The seeds' mistaken void: a sale on a card minutes after a void on it is worth a look
/// (and the counter is offered the linked re-charge); it is never refused.
fn sale_after_void(p: &RiskParams, f: &Facts) -> Option<Finding> {
    if p.sale_after_void_minutes == 0 || !f.by_card {
        return None;
    }
    let since = minutes_ago(f.now, p.sale_after_void_minutes);
    let void = f
        .card_events
        .iter()
        .find(|e| e.kind == TxnKind::Void && e.approved && e.at >= since)?;
    let mut x = finding(
        Rule::SaleAfterVoid,
        Severity::Low,
        Action::Alert,
        format!("minutes={}", p.sale_after_void_minutes),
    );
    x.evidence = vec![void.id];
    Some(x)
}

/// A step on an alert of the 风险预警 queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertAction {
    /// Seen, being looked at.
    Acknowledge,
    /// Done, with a note.
    Resolve,
    /// A held sale's review: the same card's retry may go through.
    Approve,
    /// A held sale's review: refused.
    Reject,
}

/// Whether `action` fits an alert in `status` (`open`, `acknowledged`, `resolved`) with
/// `review` (`pending`…), and a resolution's `note`.
pub fn decide_alert_step(
    status: &str,
    review: Option<&str>,
    action: AlertAction,
    note: &str,
) -> Result<(), RiskRefused> {
    match action {
        AlertAction::Acknowledge if status != "open" => Err(RiskRefused::AlertNotOpen),
        AlertAction::Resolve if status == "resolved" => Err(RiskRefused::AlertResolved),
        AlertAction::Resolve if note.trim().is_empty() => Err(RiskRefused::NoteRequired),
        AlertAction::Approve | AlertAction::Reject if review != Some("pending") => {
            Err(RiskRefused::NoReviewPending)
        }
        _ => Ok(()),
    }
}

/// Voids and refunds against sales of one operator or terminal in a business day: above
/// `void_ratio_percent_max` percent (once `void_ratio_sales_min` sales are in) it raises an
/// alert, never a refusal (seed 002: a void going wrong is for a person to look at).
pub fn void_ratio(p: &RiskParams, sales: u32, voids: u32) -> Option<Finding> {
    if p.void_ratio_percent_max == 0 || sales < p.void_ratio_sales_min.max(1) {
        return None;
    }
    let over = u64::from(voids) * 100 > u64::from(sales) * u64::from(p.void_ratio_percent_max);
    over.then(|| {
        finding(
            Rule::VoidRatio,
            Severity::Medium,
            Action::Alert,
            format!(
                "sales={sales} voids={voids} percent_max={}",
                p.void_ratio_percent_max
            ),
        )
    })
}

#[cfg(test)]
mod tests;
