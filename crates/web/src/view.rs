//! What the API answers: plain serializable views of the domain, with every amount as
//! integer fen plus a display string, and times as RFC 3339 plus the merchant's local time.

use suanpan_core::backoffice::{Permission, StaffRole};
use suanpan_core::{Amount, Lang, Policy, Transaction};
use suanpan_store::audit::AuditEntry;
use suanpan_store::backoffice::{BatchRow, ReviewRequest, StaffUser};

/// An amount for people and programs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Money {
    /// Integer fen.
    pub fen: i64,
    /// `¥1,234.50`.
    pub display: String,
}

impl Money {
    /// From fen.
    pub fn of(a: Amount) -> Money {
        Money {
            fen: a.fen(),
            display: a.display(),
        }
    }
}

/// A moment: RFC 3339 UTC and the merchant's local `YYYY-MM-DD HH:MM:SS`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct When {
    /// RFC 3339 (UTC).
    pub utc: String,
    /// In the merchant's time zone.
    pub local: String,
}

impl When {
    /// From a timestamp.
    pub fn of(policy: &Policy, t: jiff::Timestamp) -> When {
        When {
            utc: t.to_string(),
            local: suanpan_service::operators::local_time(policy, t),
        }
    }
    /// From Unix microseconds.
    pub fn micros(policy: &Policy, us: i64) -> When {
        When::of(
            policy,
            jiff::Timestamp::from_microsecond(us).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        )
    }
}

/// A back-office user.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct UserView {
    /// Id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Display name.
    pub name: String,
    /// `cashier`, `supervisor`, `finance`, `admin`, `auditor`; the acquirer's
    /// `platform_admin`, `operations`, `risk_officer`, `acquirer_auditor`.
    pub role: String,
    /// The merchant; none for the acquirer's users.
    pub merchant_id: Option<String>,
    /// Counter operator no. the user books as, if any.
    pub operator_no: Option<String>,
    /// What the role may do.
    pub permissions: Vec<String>,
}

impl UserView {
    /// From the store's user.
    pub fn of(u: &StaffUser) -> UserView {
        UserView {
            id: u.id,
            username: u.username.clone(),
            name: u.name.clone(),
            role: u.role.as_str().into(),
            merchant_id: u.merchant_id.as_ref().map(|m| m.to_string()),
            operator_no: u.operator_no.map(|o| o.to_string()),
            permissions: permissions(u.role),
        }
    }
}

fn permissions(r: StaffRole) -> Vec<String> {
    Permission::ALL
        .iter()
        .filter(|p| r.allows(**p))
        .map(|p| p.as_str().to_owned())
        .collect()
}

/// A transaction.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TxnView {
    /// Store id.
    pub id: i64,
    /// `sale`, `void`, `refund`, `preauth`, `completion`…
    pub kind: String,
    /// The kind in the caller's language (消费, 消费撤销…).
    pub kind_text: String,
    /// `approved`, `declined`, `voided`, `partially_refunded`, `refunded`, `reversed`…
    pub status: String,
    /// The status in the caller's language (已撤销…).
    pub status_text: String,
    /// Amount.
    pub amount: Money,
    /// Still refundable (every view shows it: a lesson from real users).
    pub refundable: Money,
    /// Refunded so far.
    pub refunded: Money,
    /// `chip`, `qr_alipay`…
    pub method: String,
    /// 6+4 masked card number.
    pub masked_pan: Option<String>,
    /// Wallet id.
    pub wallet_id: Option<String>,
    /// 商户号.
    pub merchant_id: String,
    /// 终端号.
    pub terminal_id: String,
    /// 操作员.
    pub operator: String,
    /// Authorizing supervisor.
    pub supervisor: Option<String>,
    /// 批次号.
    pub batch_no: u32,
    /// 凭证号.
    pub voucher_no: u32,
    /// 参考号.
    pub rrn: Option<String>,
    /// 授权码.
    pub auth_code: Option<String>,
    /// 8583 response code (`00` approved).
    pub response_code: String,
    /// The original (for voids, refunds, completions).
    pub original_id: Option<i64>,
    /// A linked transaction (re-charge after a mistaken void).
    pub linked_id: Option<i64>,
    /// Reason given.
    pub reason: Option<String>,
    /// When.
    pub created_at: When,
    /// Its batch is settled.
    pub settled: bool,
    /// Hidden (deleted) record.
    pub hidden: bool,
    /// Training transaction.
    pub training: bool,
}

impl TxnView {
    /// From a transaction.
    pub fn of(t: &Transaction, policy: &Policy, lang: Lang) -> TxnView {
        let s = |v: Option<String>| v;
        TxnView {
            id: t.id.0,
            kind: t.kind.as_str().into(),
            kind_text: crate::catalog::t(lang, &format!("kind.{}", t.kind.as_str())).to_owned(),
            status: t.status.as_str().into(),
            status_text: crate::catalog::t(lang, &format!("tstatus.{}", t.status.as_str()))
                .to_owned(),
            amount: Money::of(t.amount),
            refundable: Money::of(t.refundable()),
            refunded: Money::of(t.refunded),
            method: t.method.as_str().into(),
            masked_pan: s(t.masked_pan.as_ref().map(|m| m.to_string())),
            wallet_id: t.wallet_id.clone(),
            merchant_id: t.merchant_id.to_string(),
            terminal_id: t.terminal_id.to_string(),
            operator: t.operator.to_string(),
            supervisor: t.supervisor.map(|o| o.to_string()),
            batch_no: t.batch_no.value(),
            voucher_no: t.voucher_no.value(),
            rrn: t.rrn.as_ref().map(|r| r.to_string()),
            auth_code: t.auth_code.as_ref().map(|a| a.to_string()),
            response_code: t.response_code.code().into(),
            original_id: t.original_id.map(|i| i.0),
            linked_id: t.linked_id.map(|i| i.0),
            reason: t.reason.clone(),
            created_at: When::of(policy, t.created_at),
            settled: t.settled,
            hidden: t.hidden,
            training: t.training,
        }
    }
}

/// One step of a transaction's timeline (from the audit trail).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TimelineItem {
    /// Audit sequence no.
    pub seq: i64,
    /// When.
    pub at: When,
    /// Who (`terminal/operator`, `web:username`, `system`).
    pub actor: String,
    /// What (`sale`, `void`, `void_request.submit`, `void_request.approve`…).
    pub action: String,
    /// Why.
    pub reason: String,
    /// How it ended.
    pub outcome: String,
    /// The entry as a sentence in the reader's language (who, what, how it ended, why).
    pub text: String,
}

impl TimelineItem {
    /// From an audit entry.
    pub fn of(e: &AuditEntry, policy: &Policy, lang: Lang) -> TimelineItem {
        TimelineItem {
            text: crate::words::entry(lang, e),
            seq: e.seq,
            at: When::micros(policy, e.at),
            actor: e.actor.clone(),
            action: e.action.clone(),
            reason: e.reason.clone(),
            outcome: e.outcome.clone(),
        }
    }
}

/// An audit entry with its chain fields.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AuditView {
    /// Sequence no.
    pub seq: i64,
    /// When.
    pub at: When,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub target: String,
    /// Why.
    pub reason: String,
    /// How it ended.
    pub outcome: String,
    /// SHA-256 of the previous entry.
    pub prev_hash: String,
    /// SHA-256 of this one.
    pub hash: String,
    /// Who, in the reader's language.
    pub actor_text: String,
    /// What, in the reader's language.
    pub action_text: String,
    /// How it ended, in the reader's language.
    pub outcome_text: String,
}

impl AuditView {
    /// From an entry.
    pub fn of(e: &AuditEntry, policy: &Policy, lang: Lang) -> AuditView {
        AuditView {
            actor_text: crate::words::actor(lang, &e.actor),
            action_text: crate::words::action(lang, &e.action),
            outcome_text: crate::words::outcome(lang, &e.outcome),
            seq: e.seq,
            at: When::micros(policy, e.at),
            actor: e.actor.clone(),
            action: e.action.clone(),
            target: e.target.clone(),
            reason: e.reason.clone(),
            outcome: e.outcome.clone(),
            prev_hash: e.prev_hash.clone(),
            hash: e.hash.clone(),
        }
    }
}

/// A void or refund request.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RequestView {
    /// Id.
    pub id: i64,
    /// `void` or `refund`.
    pub kind: String,
    /// The kind in the caller's language.
    pub kind_text: String,
    /// The original transaction.
    pub transaction_id: i64,
    /// Amount asked.
    pub amount: Money,
    /// Why.
    pub reason: String,
    /// For a void: the customer agreed.
    pub customer_consent: bool,
    /// Submitter (username).
    pub submitted_by: String,
    /// When submitted.
    pub submitted_at: When,
    /// `pending`, `approved`, `executing`, `executed`, `failed`, `rejected`, `cancelled`, `undone`.
    pub status: String,
    /// The status in the caller's language.
    pub status_text: String,
    /// Reviewer (username).
    pub reviewed_by: Option<String>,
    /// When reviewed.
    pub reviewed_at: Option<When>,
    /// Reviewer's comment.
    pub review_comment: String,
    /// After approval: when it runs.
    pub execute_after: Option<When>,
    /// The booked void or refund.
    pub result_transaction_id: Option<i64>,
    /// Why execution failed (a refusal code such as `void.settled`).
    pub result_code: Option<String>,
    /// That refusal's message, in the caller's language.
    pub result_message: Option<String>,
    /// What to do instead (e.g. a settled sale: refund it).
    pub result_hint: Option<String>,
}

impl RequestView {
    /// From a stored request.
    pub fn of(q: &ReviewRequest, policy: &Policy, lang: Lang) -> RequestView {
        RequestView {
            id: q.id,
            kind: q.kind.clone(),
            kind_text: crate::catalog::t(lang, &format!("kind.{}", q.kind)).to_owned(),
            transaction_id: q.txn_id,
            amount: Money::of(Amount::from_fen(q.amount_fen)),
            reason: q.reason.clone(),
            customer_consent: q.customer_consent,
            submitted_by: q.submitted_by_name.clone(),
            submitted_at: When::micros(policy, q.submitted_at),
            status: q.status.clone(),
            status_text: crate::catalog::t(lang, &format!("status.{}", q.status)).to_owned(),
            reviewed_by: q.reviewed_by_name.clone(),
            reviewed_at: q.reviewed_at.map(|t| When::micros(policy, t)),
            review_comment: q.review_comment.clone(),
            execute_after: q.execute_after.map(|t| When::micros(policy, t)),
            result_transaction_id: q.result_txn_id,
            result_code: (!q.result_key.is_empty()).then(|| q.result_key.clone()),
            result_message: refusal_text(lang, &q.result_key, "msg"),
            result_hint: refusal_text(lang, &q.result_key, "fix"),
        }
    }
}

/// A batch and its settlement report.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct BatchView {
    /// 终端号.
    pub terminal_id: String,
    /// 批次号.
    pub batch_no: u32,
    /// Opened.
    pub opened_at: When,
    /// Settled (`None`: still open).
    pub settled_at: Option<When>,
    /// Who settled.
    pub settled_by: Option<String>,
    /// Debit total and count.
    pub debit: Option<Money>,
    /// Debit count.
    pub debit_count: Option<i64>,
    /// Credit total.
    pub credit: Option<Money>,
    /// Credit count.
    pub credit_count: Option<i64>,
    /// Reconciliation verdict.
    pub reconciliation: Option<String>,
}

impl BatchView {
    /// From a row.
    pub fn of(b: &BatchRow, policy: &Policy) -> BatchView {
        BatchView {
            terminal_id: b.terminal_id.clone(),
            batch_no: b.batch_no,
            opened_at: When::micros(policy, b.opened_at),
            settled_at: b.settled_at.map(|t| When::micros(policy, t)),
            settled_by: b.settled_by.clone(),
            debit: b.debit_fen.map(|f| Money::of(Amount::from_fen(f))),
            debit_count: b.debit_count,
            credit: b.credit_fen.map(|f| Money::of(Amount::from_fen(f))),
            credit_count: b.credit_count,
            reconciliation: b.reconciliation.clone(),
        }
    }
}

/// The core catalog's text of a stored refusal key (`void.settled` → its message or remedy).
fn refusal_text(lang: Lang, key: &str, part: &str) -> Option<String> {
    let full = format!("{key}.{part}");
    (!key.is_empty() && suanpan_core::i18n::has_key(&full))
        .then(|| suanpan_core::i18n::tr(lang, &full, &[]))
}
