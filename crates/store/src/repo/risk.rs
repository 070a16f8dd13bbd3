//! What the risk rules read and what they leave (issue 13): a card's recent transactions, a
//! terminal's or merchant's window, the merchant's limits and hours, the blocklist, an
//! approved over-limit review; and the alert each finding raises. Nothing here decides a
//! rule: `suanpan_service::risk` loads these facts and asks `suanpan_core::risk::assess`.

use crate::error::StoreError;
use crate::p;
use crate::rows::{micros, ts};
use crate::sql::{Dialect, Sql, SqlExt, SqlRow};
use jiff::Timestamp;
use suanpan_core::risk::{CARD_EVENTS_MAX, CardEvent, Limits, Schedule, Window};
use suanpan_core::{Amount, MerchantId, TxnId, TxnKind, TxnStatus};

/// Statuses of a payment whose money was taken and stays taken (a voided or reversed sale
/// gave it back; a declined one never took it).
const TAKEN: &str = "('approved', 'partially_refunded', 'refunded', 'completed')";

/// The kinds a card rule reads: payments (velocity, duplicate, the decline run) and voids
/// (a sale after a void). Refunds, completions and reversals are no rule's evidence.
const CARD_RULE_KINDS: &str = "('sale', 'preauth', 'balance', 'void')";

/// The statement behind [`card_events`]: answered from `txns_card_recent` alone (schema
/// 16 / PostgreSQL 15), newest first, stopping after [`CARD_EVENTS_MAX`] rows.
pub fn card_events_sql() -> String {
    format!(
        "SELECT id, kind, status, amount_fen, created_at FROM txns
         WHERE card_fp = ?1 AND created_at >= ?2 AND training = 0 AND kind IN {CARD_RULE_KINDS}
         ORDER BY created_at DESC, id DESC LIMIT {CARD_EVENTS_MAX}"
    )
}

/// PostgreSQL: what [`card_events_sql`] runs after, and [`CARD_EVENTS_PG_AFTER`] before the
/// next statement. Its `LIMIT` bounds its work only when the plan walks `txns_card_recent`
/// backwards. PostgreSQL plans a bitmap scan of the card's whole window and a sort instead
/// whenever it expects a few rows: without statistics (a new database on a server that runs
/// no autovacuum, as the benchmark's) and, with them, for a card busier than the average.
/// A sale then cost more with each sale of its card: 8.4 ms instead of 0.26 ms for a card
/// with 400 sales in the window (docs/BENCHMARKS.md, s21-pg). `SET LOCAL` ends with the
/// transaction at the latest; both are sent with the statements around them, in their
/// round trip.
pub(crate) const CARD_EVENTS_PG_BEFORE: &str = "SET LOCAL enable_bitmapscan = off";
/// See [`CARD_EVENTS_PG_BEFORE`].
pub(crate) const CARD_EVENTS_PG_AFTER: &str = "SET LOCAL enable_bitmapscan TO DEFAULT";

/// The card's live transactions of the kinds the rules read since `since`, newest first, at
/// most [`CARD_EVENTS_MAX`].
pub fn card_events(
    conn: &dyn Sql,
    card_fp: &str,
    since: Timestamp,
) -> Result<Vec<CardEvent>, StoreError> {
    let pg = conn.dialect() == Dialect::Postgres;
    if pg {
        conn.exec_later(CARD_EVENTS_PG_BEFORE, &[])?;
    }
    let events = conn.rows(
        &card_events_sql(),
        p![card_fp, micros(since)],
        card_event_of,
    )?;
    if pg {
        conn.exec_later(CARD_EVENTS_PG_AFTER, &[])?;
    }
    Ok(events)
}

/// A row of [`card_events_sql`].
pub(crate) fn card_event_of(r: &dyn SqlRow) -> Result<CardEvent, StoreError> {
    let kind = r.text(1)?;
    let status = r.text(2)?;
    let status = TxnStatus::parse(&status)
        .ok_or_else(|| StoreError::Sqlite(format!("unknown status {status}")))?;
    Ok(CardEvent {
        id: TxnId(r.i64(0)?),
        kind: TxnKind::parse(&kind)
            .ok_or_else(|| StoreError::Sqlite(format!("unknown kind {kind}")))?,
        approved: taken(status),
        declined: status == TxnStatus::Declined,
        amount: Amount::from_fen(r.i64(3)?),
        at: ts(r.i64(4)?),
    })
}

/// Whether a payment in `status` took money that stays taken (the statuses of [`TAKEN`]).
fn taken(status: TxnStatus) -> bool {
    matches!(
        status,
        TxnStatus::Approved
            | TxnStatus::PartiallyRefunded
            | TxnStatus::Refunded
            | TxnStatus::Completed
    )
}

/// Which window of payments.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// One terminal's.
    Terminal(&'a str),
    /// One merchant's.
    Merchant(&'a MerchantId),
}

/// Approved sales and pre-authorizations (count, sum) of a terminal or merchant since `since`.
pub fn window(conn: &dyn Sql, scope: Scope<'_>, since: Timestamp) -> Result<Window, StoreError> {
    let (column, value) = match scope {
        Scope::Terminal(t) => ("terminal_id", t),
        Scope::Merchant(m) => ("merchant_id", m.as_str()),
    };
    conn.one(
        &format!(
            "SELECT COUNT(*), COALESCE(SUM(amount_fen), 0) FROM txns
             WHERE {column} = ?1 AND created_at >= ?2 AND training = 0
             AND kind IN ('sale', 'preauth') AND status IN {TAKEN}"
        ),
        p![value, micros(since)],
        |r| {
            Ok(Window {
                count: r.u32(0)?,
                sum: Amount::from_fen(r.i64(1)?),
            })
        },
    )
}

/// True when the card (fingerprint) or its BIN (first six digits) is on the blocklist.
pub fn blocklisted(conn: &dyn Sql, card_fp: &str, bin: &str) -> Result<bool, StoreError> {
    conn.one(
        "SELECT COUNT(*) FROM risk_blocklist WHERE (kind = 'card' AND value = ?1) OR (kind = 'bin' AND value = ?2)",
        p![card_fp, bin],
        |r| Ok(r.i64(0)? > 0),
    )
}

/// [`blocklisted`] through the group's cache: a group first asks whether the blocklist has
/// any entry at all, and while it has none (the common case) no card of the group is looked
/// up. The blocklist changes only in its own transactions (`RiskAlerts::block`), never
/// inside a group, so the answer holds for the group.
pub fn blocklisted_in_group(
    tx: &mut super::Tx<'_>,
    card_fp: &str,
    bin: &str,
) -> Result<bool, StoreError> {
    let any = match tx.cache.blocklist_any {
        Some(any) => any,
        None => {
            let any = tx.conn.one(
                "SELECT COUNT(*) FROM (SELECT 1 FROM risk_blocklist LIMIT 1) AS b",
                p![],
                |r| Ok(r.i64(0)? > 0),
            )?;
            tx.cache.blocklist_any = Some(any);
            any
        }
    };
    if !any {
        return Ok(false);
    }
    blocklisted(tx.conn, card_fp, bin)
}

/// The acquirer's and the merchant's own limits (see [`merchant_limits`]).
pub type MerchantLimits = (Option<TierLimits>, Option<TierLimits>);

/// [`merchant_limits`] through the group's cache: read once per merchant and group (limits
/// change only in their own transactions, `RiskAlerts::set_risk_limits`).
pub fn merchant_limits_in_group(
    tx: &mut super::Tx<'_>,
    merchant: &MerchantId,
) -> Result<MerchantLimits, StoreError> {
    if let Some(known) = tx.cache.risk_limits.get(merchant) {
        return Ok(known.clone());
    }
    let found = merchant_limits(tx.conn, merchant)?;
    tx.cache.risk_limits.insert(merchant.clone(), found.clone());
    Ok(found)
}

/// A merchant's stored limits of one tier and its trading hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierLimits {
    /// The limits.
    pub limits: Limits,
    /// Trading hours, if set.
    pub schedule: Option<Schedule>,
}

/// The merchant's limits as the acquirer set them and as it tightened them itself.
pub fn merchant_limits(
    conn: &dyn Sql,
    merchant: &MerchantId,
) -> Result<MerchantLimits, StoreError> {
    let rows = conn.rows(
        "SELECT tier, limits, open_at, close_at FROM risk_limits WHERE merchant_id = ?1",
        p![merchant.as_str()],
        |r| {
            let limits: Limits = serde_json::from_str(&r.text(1)?)
                .map_err(|e| StoreError::Sqlite(format!("risk_limits: {e}")))?;
            let time = |t: Option<String>| t.as_deref().and_then(Schedule::parse_time);
            let schedule = match (time(r.opt_text(2)?), time(r.opt_text(3)?)) {
                (Some(open), Some(close)) => Some(Schedule { open, close }),
                _ => None,
            };
            Ok((r.text(0)?, TierLimits { limits, schedule }))
        },
    )?;
    let mut acquirer = None;
    let mut own = None;
    for (tier, l) in rows {
        if tier == "acquirer" {
            acquirer = Some(l);
        } else {
            own = Some(l);
        }
    }
    Ok((acquirer, own))
}

/// An approved over-limit review of this card and amount at the merchant, reviewed since
/// `since` and not used yet: its alert id.
pub fn approved_review(
    conn: &dyn Sql,
    merchant: &MerchantId,
    card_fp: &str,
    amount: Amount,
    since: Timestamp,
) -> Result<Option<i64>, StoreError> {
    conn.row(
        "SELECT id FROM risk_alerts WHERE card_fp = ?1 AND review = 'approved' AND merchant_id = ?2
         AND amount_fen = ?3 AND reviewed_at >= ?4 ORDER BY id LIMIT 1",
        p![card_fp, merchant.as_str(), amount.fen(), micros(since)],
        |r| r.i64(0),
    )
}

/// Marks an approved review used: it lets one retry through.
pub fn use_review(conn: &dyn Sql, id: i64) -> Result<(), StoreError> {
    conn.exec(
        "UPDATE risk_alerts SET review = 'used' WHERE id = ?1 AND review = 'approved'",
        p![id],
    )?;
    Ok(())
}

/// What a new alert records.
#[derive(Debug, Clone)]
pub struct NewAlert<'a> {
    /// The merchant.
    pub merchant_id: &'a MerchantId,
    /// The terminal, if the rule fired on one.
    pub terminal_id: Option<&'a str>,
    /// `suanpan_core::risk::Rule::as_str`.
    pub rule: &'a str,
    /// `low`, `medium`, `high`.
    pub severity: &'a str,
    /// `refused`, `held`, `alerted`.
    pub action: &'a str,
    /// The card's last four digits.
    pub card_last4: Option<&'a str>,
    /// The card's fingerprint (an over-limit review matches the retry by it).
    pub card_fp: Option<&'a str>,
    /// The amount asked.
    pub amount: Option<Amount>,
    /// The evidence.
    pub txn_ids: &'a [TxnId],
    /// The rule's inputs.
    pub inputs: &'a str,
    /// `pending` for a held purchase.
    pub review: Option<&'a str>,
    /// When.
    pub at: Timestamp,
}

fn opt(v: Option<&str>) -> crate::sql::Value<'_> {
    v.map_or(crate::sql::Value::Null, crate::sql::Value::Text)
}

/// Stores an alert; returns its id.
pub fn insert_alert(conn: &dyn Sql, a: &NewAlert<'_>) -> Result<i64, StoreError> {
    let ids = a
        .txn_ids
        .iter()
        .map(|t| t.0.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let amount = a.amount.map_or(crate::sql::Value::Null, |x| x.fen().into());
    conn.insert_id(
        "INSERT INTO risk_alerts (merchant_id, terminal_id, rule, severity, action, card_last4, card_fp,
         amount_fen, txn_ids, inputs, review, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        &[
            a.merchant_id.as_str().into(),
            opt(a.terminal_id),
            a.rule.into(),
            a.severity.into(),
            a.action.into(),
            opt(a.card_last4),
            opt(a.card_fp),
            amount,
            ids.as_str().into(),
            a.inputs.into(),
            opt(a.review),
            micros(a.at).into(),
        ],
    )
}

/// Whether the void/refund ratio already alerted for `who` (`operator=01`,
/// `terminal=12345678`: the start of the alert's inputs) at `merchant` since `since`.
pub fn void_ratio_alerted(
    conn: &dyn Sql,
    merchant: &MerchantId,
    who: &str,
    since: Timestamp,
) -> Result<bool, StoreError> {
    let prefix = format!("{who} %");
    conn.one(
        "SELECT COUNT(*) FROM risk_alerts WHERE merchant_id = ?1 AND rule = 'void_ratio'
           AND created_at >= ?2 AND inputs LIKE ?3",
        p![merchant.as_str(), micros(since), prefix.as_str()],
        |r| Ok(r.i64(0)? > 0),
    )
}

/// Whose day the void/refund ratio counts.
#[derive(Debug, Clone, Copy)]
pub enum RatioScope<'a> {
    /// One operator's (cashier no.) at the merchant.
    Operator(&'a str),
    /// One terminal's.
    Terminal(&'a str),
}

/// The void/refund ratio's two counts for one operator or terminal of `merchant` since
/// `since`: its sales and completions not declined (also when since voided or refunded: the
/// denominator), and its approved voids, completion voids and refunds.
pub fn void_ratio_counts(
    conn: &dyn Sql,
    merchant: &MerchantId,
    scope: RatioScope<'_>,
    since: Timestamp,
) -> Result<(u32, u32), StoreError> {
    let (column, value) = match scope {
        RatioScope::Operator(o) => ("operator", o),
        RatioScope::Terminal(t) => ("terminal_id", t),
    };
    conn.one(
        &format!(
            "SELECT COALESCE(SUM(CASE WHEN kind IN ('sale', 'completion') AND status <> 'declined' THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(CASE WHEN kind IN ('void', 'completion_void', 'refund') AND status = 'approved' THEN 1 ELSE 0 END), 0)
               FROM txns WHERE merchant_id = ?1 AND {column} = ?2 AND training = 0 AND created_at >= ?3"
        ),
        p![merchant.as_str(), value, micros(since)],
        |r| Ok((r.u32(0)?, r.u32(1)?)),
    )
}
