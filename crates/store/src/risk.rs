//! 风险预警 queue (issue 13): the alerts the risk rules raise, as supervisors and risk
//! officers read and work them — acknowledge, resolve with a note, approve or reject an
//! over-limit sale held for review — and the acquirer's limits and blocklist. Every change
//! is audited. The write path's side (raising alerts, reading limits) is `repo::risk`.

use crate::error::StoreError;
use crate::p;
use crate::rows::micros;
use crate::sql::{Sql, SqlExt, SqlRow, Value};
use crate::{Store, read, setup};
use suanpan_core::MerchantId;
use suanpan_core::risk::{
    AlertAction, Limits, RiskRefused, decide_alert_step, decide_merchant_limits,
};

/// Alerts one listing returns at most.
pub const ALERTS_ROWS_MAX: u32 = 500;

/// One alert as the queue shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AlertRow {
    /// Id.
    pub id: i64,
    /// Merchant.
    pub merchant_id: String,
    /// Terminal, if any.
    pub terminal_id: Option<String>,
    /// `suanpan_core::risk::Rule::as_str`.
    pub rule: String,
    /// `low`, `medium`, `high`.
    pub severity: String,
    /// `refused`, `held`, `alerted`.
    pub action: String,
    /// Card last four.
    pub card_last4: Option<String>,
    /// Amount asked (fen).
    pub amount_fen: Option<i64>,
    /// Evidence: transaction ids.
    pub txn_ids: Vec<i64>,
    /// The rule's inputs.
    pub inputs: String,
    /// `open`, `acknowledged`, `resolved`.
    pub status: String,
    /// For a held sale: `pending`, `approved`, `rejected`, `used`.
    pub review: Option<String>,
    /// Raised at (micros).
    pub created_at: i64,
    /// Who acknowledged.
    pub acknowledged_by: Option<String>,
    /// Who resolved.
    pub resolved_by: Option<String>,
    /// The resolution note.
    pub note: Option<String>,
}

pub(crate) const ALERT_COLUMNS: &str = "id, merchant_id, terminal_id, rule, severity, action, card_last4, amount_fen, txn_ids, inputs, status, review, created_at, acknowledged_by, resolved_by, note";

pub(crate) fn alert_from_row(r: &dyn SqlRow) -> Result<AlertRow, StoreError> {
    Ok(AlertRow {
        id: r.i64(0)?,
        merchant_id: r.text(1)?,
        terminal_id: r.opt_text(2)?,
        rule: r.text(3)?,
        severity: r.text(4)?,
        action: r.text(5)?,
        card_last4: r.opt_text(6)?,
        amount_fen: r.opt_i64(7)?,
        txn_ids: r
            .text(8)?
            .split(',')
            .filter_map(|t| t.parse().ok())
            .collect(),
        inputs: r.text(9)?,
        status: r.text(10)?,
        review: r.opt_text(11)?,
        created_at: r.i64(12)?,
        acknowledged_by: r.opt_text(13)?,
        resolved_by: r.opt_text(14)?,
        note: r.opt_text(15)?,
    })
}

/// The risk queue on any [`Store`].
pub trait RiskAlerts: Store {
    /// Alerts newest first, of one merchant (`Some`) or all (`None`: the acquirer's risk
    /// officers), optionally of one status; at most [`ALERTS_ROWS_MAX`].
    fn alerts(
        &self,
        merchant: Option<&MerchantId>,
        status: Option<&str>,
    ) -> Result<Vec<AlertRow>, StoreError> {
        let filter = crate::risk_admin::AlertFilter {
            status: status.map(str::to_owned),
            ..Default::default()
        };
        crate::risk_admin::RiskAdmin::alerts_filtered(self, merchant, &filter)
    }

    /// One alert, within the merchant's scope when one is given.
    fn alert(
        &self,
        merchant: Option<&MerchantId>,
        id: i64,
    ) -> Result<Option<AlertRow>, StoreError> {
        let m = merchant.map(|m| m.as_str().to_owned());
        read(self, |c| find(c, m.as_deref(), id))
    }

    /// Works an alert: acknowledge, resolve with a note, approve or reject a held review,
    /// as `core::risk::decide_alert_step` decides inside the transaction; audited as
    /// `risk.alert.*` / `risk.review.*` by `who`. `Ok(Ok(None))`: no such alert in the scope.
    fn step_alert(
        &self,
        merchant: Option<&MerchantId>,
        id: i64,
        who: &str,
        action: AlertAction,
        note: &str,
    ) -> Result<Result<Option<AlertRow>, RiskRefused>, StoreError> {
        let now = micros(self.now());
        let m = merchant.map(|m| m.as_str().to_owned());
        let note = note.trim().to_owned();
        setup(self, |c, head| {
            let Some(a) = find(c, m.as_deref(), id)? else {
                return Ok(Ok(None));
            };
            if let Err(r) = decide_alert_step(&a.status, a.review.as_deref(), action, &note) {
                return Ok(Err(r));
            }
            let audit = match action {
                AlertAction::Acknowledge => {
                    c.exec(
                        "UPDATE risk_alerts SET status = 'acknowledged', acknowledged_by = ?1, acknowledged_at = ?2 WHERE id = ?3",
                        p![who, now, id],
                    )?;
                    "risk.alert.acknowledge"
                }
                AlertAction::Resolve => {
                    c.exec(
                        "UPDATE risk_alerts SET status = 'resolved', resolved_by = ?1, resolved_at = ?2, note = ?3 WHERE id = ?4",
                        p![who, now, note.as_str(), id],
                    )?;
                    "risk.alert.resolve"
                }
                AlertAction::Approve | AlertAction::Reject => {
                    let approve = action == AlertAction::Approve;
                    let to = if approve { "approved" } else { "rejected" };
                    c.exec(
                        "UPDATE risk_alerts SET review = ?1, reviewed_at = ?2, status = 'acknowledged',
                         acknowledged_by = COALESCE(acknowledged_by, ?3), acknowledged_at = COALESCE(acknowledged_at, ?2) WHERE id = ?4",
                        p![to, now, who, id],
                    )?;
                    if approve {
                        "risk.review.approve"
                    } else {
                        "risk.review.reject"
                    }
                }
            };
            head.append(c, now, [who, audit, &format!("alert:{id}"), &note, "ok"])?;
            Ok(Ok(find(c, m.as_deref(), id)?))
        })
    }

    /// Sets a merchant's limits of one tier (`acquirer` or `merchant`) and its trading hours
    /// (`HH:MM`); a merchant's own limits must be at least as tight as the acquirer's (or
    /// the `[risk]` defaults when the acquirer set none). Audited.
    fn set_risk_limits(
        &self,
        merchant: &MerchantId,
        tier: &str,
        limits: &Limits,
        hours: Option<(&str, &str)>,
        who: &str,
    ) -> Result<Result<(), RiskRefused>, StoreError> {
        let now = micros(self.now());
        let defaults = self.policy().risk.limits.clone();
        let json = serde_json::to_string(limits).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let stored = setup(self, |c, head| {
            if tier == "merchant" {
                let (acq, _) = crate::repo::risk::merchant_limits(c, merchant)?;
                let acq = acq.map_or(defaults.clone(), |a| a.limits);
                if let Err(r) = decide_merchant_limits(&acq, limits) {
                    return Ok(Err(r));
                }
            }
            let (open, close) = hours.unzip();
            c.exec(
                "DELETE FROM risk_limits WHERE merchant_id = ?1 AND tier = ?2",
                p![merchant.as_str(), tier],
            )?;
            c.exec(
                "INSERT INTO risk_limits (merchant_id, tier, limits, open_at, close_at, updated_by, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                &[merchant.as_str().into(), tier.into(), json.as_str().into(), opt(open), opt(close), who.into(), now.into()],
            )?;
            head.append(
                c,
                now,
                [
                    who,
                    "risk.limits",
                    &format!("merchant:{merchant}"),
                    &json,
                    tier,
                ],
            )?;
            Ok(Ok(()))
        })?;
        if stored.is_ok() {
            // A limit that switches a rule on needs that rule's journal index now (issue 15).
            let need = crate::risk_index::RiskIndexes::of(&self.policy().risk, limits);
            crate::risk_index::ensure(self, need)?;
        }
        Ok(stored)
    }

    /// Puts a card (its fingerprint) or a BIN (six digits) on the acquirer's blocklist.
    fn block(&self, kind: &str, value: &str, reason: &str, who: &str) -> Result<(), StoreError> {
        let now = micros(self.now());
        setup(self, |c, head| {
            c.exec(
                "INSERT INTO risk_blocklist (kind, value, reason, created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (kind, value) DO NOTHING",
                p![kind, value, reason, who, now],
            )?;
            let target = if kind == "bin" {
                format!("bin:{value}")
            } else {
                "card".to_owned()
            };
            head.append(c, now, [who, "risk.block", &target, reason, "ok"])?;
            Ok(())
        })
    }
}

impl<S: Store + ?Sized> RiskAlerts for S {}

fn opt(v: Option<&str>) -> Value<'_> {
    v.map_or(Value::Null, Value::Text)
}

fn find(c: &dyn Sql, merchant: Option<&str>, id: i64) -> Result<Option<AlertRow>, StoreError> {
    match merchant {
        Some(m) => c.row(
            &format!("SELECT {ALERT_COLUMNS} FROM risk_alerts WHERE id = ?1 AND merchant_id = ?2"),
            p![id, m],
            alert_from_row,
        ),
        None => c.row(
            &format!("SELECT {ALERT_COLUMNS} FROM risk_alerts WHERE id = ?1"),
            p![id],
            alert_from_row,
        ),
    }
}

/// The `merchant_id` of an alert about the whole platform (a red compliance report): no
/// merchant's queue shows it; the acquirer's risk officers, who list every merchant's
/// alerts, do.
pub const PLATFORM_ALERT_MERCHANT: &str = "";

/// Raises the alert of a red compliance report of local `day` (severity high, rule
/// `compliance_report`, the report in words as its evidence) on the caller's transaction,
/// and queues it as `alert.raised` for the acquirer's endpoints. Once per day: `Ok(None)`
/// when that day's alert exists already (a report re-run after a restart, or by hand).
pub fn raise_report_alert(
    conn: &dyn Sql,
    day: &str,
    evidence: &str,
    at: jiff::Timestamp,
) -> Result<Option<i64>, StoreError> {
    let rule = suanpan_core::risk::Rule::ComplianceReport.as_str();
    let inputs = format!("report={day} {evidence}");
    let seen = report_alert_exists(conn, rule, &format!("report={day} %"))?;
    if seen {
        return Ok(None);
    }
    let id = conn.insert_id(
        "INSERT INTO risk_alerts (merchant_id, rule, severity, action, inputs, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        p![
            PLATFORM_ALERT_MERCHANT,
            rule,
            suanpan_core::risk::Severity::High.as_str(),
            "alerted",
            inputs.as_str(),
            micros(at)
        ],
    )?;
    let data =
        serde_json::json!({ "alert_id": id, "rule": rule, "severity": "high", "report": day });
    crate::notify::enqueue(
        conn,
        at,
        suanpan_core::notify::EventKind::AlertRaised,
        None,
        &data,
    )?;
    Ok(Some(id))
}

fn report_alert_exists(conn: &dyn Sql, rule: &str, inputs_like: &str) -> Result<bool, StoreError> {
    let n = conn.one(
        "SELECT COUNT(*) FROM risk_alerts WHERE merchant_id = ?1 AND rule = ?2 AND inputs LIKE ?3",
        p![PLATFORM_ALERT_MERCHANT, rule, inputs_like],
        |r| r.i64(0),
    )?;
    Ok(n > 0)
}
