//! The risk queue's dashboard and the settings behind the rules (issue 13): alerts counted
//! per local day and per rule by the database (over every row, not a listing's page), the
//! merchant's limits and trading hours as each tier set them, the acquirer's blocklist (list,
//! add a BIN or the card of a transaction, remove), and the records a "sale after a void"
//! alert puts side by side. Every change is audited. The queue itself is `store::risk`.

use crate::error::StoreError;
use crate::p;
use crate::repo::risk::TierLimits;
use crate::risk::{ALERT_COLUMNS, AlertRow, alert_from_row};
use crate::rows::micros;
use crate::sql::{SqlExt, Value};
use crate::{Store, read, setup};
use suanpan_core::MerchantId;

/// Days the dashboard counts back at most.
pub const ALERT_DAYS_MAX: u32 = 31;
/// Blocklist entries one listing returns at most.
pub const BLOCKLIST_ROWS_MAX: u32 = 500;

/// A listing's filter of the queue: each given field narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    /// `open`, `acknowledged`, `resolved`.
    pub status: Option<String>,
    /// `core::risk::Rule::as_str`.
    pub rule: Option<String>,
    /// `low`, `medium`, `high`.
    pub severity: Option<String>,
}

/// How many alerts one rule raised on one local day.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DayCount {
    /// The local day (`2026-12-06`).
    pub day: String,
    /// `core::risk::Rule::as_str`.
    pub rule: String,
    /// Alerts raised.
    pub count: i64,
}

/// One blocklist entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockRow {
    /// Id.
    pub id: i64,
    /// `card` (value is the card's keyed fingerprint) or `bin` (six digits).
    pub kind: String,
    /// The fingerprint or the BIN.
    pub value: String,
    /// A blocked card's masked number, as its newest transaction shows it.
    pub masked_pan: Option<String>,
    /// Why.
    pub reason: String,
    /// Who added it.
    pub created_by: String,
    /// When (micros).
    pub created_at: i64,
}

/// The records a "sale after a void" alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoidThenSale {
    /// The void the rule saw.
    pub void_id: i64,
    /// The sale that void cancelled.
    pub voided_sale_id: Option<i64>,
    /// The same card's first sale at the merchant booked after the void and from the alert
    /// on (ids grow with booking): the re-charge.
    pub next_sale_id: Option<i64>,
}

/// Dashboard, limits and blocklist on any [`Store`].
pub trait RiskAdmin: Store {
    /// Alerts newest first, of one merchant (`Some`) or all, as `filter` narrows them; at
    /// most `store::risk::ALERTS_ROWS_MAX`.
    fn alerts_filtered(
        &self,
        merchant: Option<&MerchantId>,
        filter: &AlertFilter,
    ) -> Result<Vec<AlertRow>, StoreError> {
        let m = merchant.map(|m| m.as_str().to_owned());
        let f = filter.clone();
        // Only the filters given are in the SQL: PostgreSQL cannot type a bare `$1 IS NULL`.
        read(self, |c| {
            let mut sql = format!("SELECT {ALERT_COLUMNS} FROM risk_alerts WHERE 1 = 1");
            let mut params: Vec<Value<'_>> = Vec::new();
            let given = [
                ("merchant_id", m.as_deref()),
                ("status", f.status.as_deref()),
                ("rule", f.rule.as_deref()),
                ("severity", f.severity.as_deref()),
            ];
            for (column, value) in given {
                if let Some(v) = value {
                    params.push(v.into());
                    sql.push_str(&format!(" AND {column} = ?{}", params.len()));
                }
            }
            let max = crate::risk::ALERTS_ROWS_MAX;
            sql.push_str(&format!(" ORDER BY id DESC LIMIT {max}"));
            c.rows(&sql, &params, alert_from_row)
        })
    }

    /// Alerts per local day and rule over the last `days` days up to today (at most
    /// [`ALERT_DAYS_MAX`]), of one merchant or all: one `GROUP BY` per day over the
    /// `created_at` index, bounded by the policy's time zone so a day is the merchant's day.
    fn alert_counts(
        &self,
        merchant: Option<&MerchantId>,
        days: u32,
    ) -> Result<Vec<DayCount>, StoreError> {
        let zone = self
            .policy()
            .zone()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let bad = |e: jiff::Error| StoreError::Invalid(e.to_string());
        let today = self.now().to_zoned(zone.clone()).date();
        let mut bounds = Vec::new();
        let mut day = today;
        for _ in 0..days.clamp(1, ALERT_DAYS_MAX) {
            let from = day.to_zoned(zone.clone()).map_err(bad)?.timestamp();
            let to = day
                .tomorrow()
                .map_err(bad)?
                .to_zoned(zone.clone())
                .map_err(bad)?;
            bounds.push((day.to_string(), micros(from), micros(to.timestamp())));
            day = day.yesterday().map_err(bad)?;
        }
        bounds.reverse();
        let m = merchant.map(|m| m.as_str().to_owned());
        read(self, |c| {
            let mut out = Vec::new();
            for (day, from, to) in &bounds {
                let mut params: Vec<Value<'_>> = vec![(*from).into(), (*to).into()];
                let mut sql = "SELECT rule, COUNT(*) FROM risk_alerts WHERE created_at >= ?1 AND created_at < ?2".to_owned();
                if let Some(m) = m.as_deref() {
                    params.push(m.into());
                    sql.push_str(" AND merchant_id = ?3");
                }
                sql.push_str(" GROUP BY rule ORDER BY rule");
                out.extend(c.rows(&sql, &params, |r| {
                    Ok(DayCount {
                        day: day.clone(),
                        rule: r.text(0)?,
                        count: r.i64(1)?,
                    })
                })?);
            }
            Ok(out)
        })
    }

    /// The merchant's limits and trading hours as the acquirer set them and as the merchant
    /// tightened them (each `None` when that tier set nothing).
    fn risk_limits(
        &self,
        merchant: &MerchantId,
    ) -> Result<(Option<TierLimits>, Option<TierLimits>), StoreError> {
        let m = merchant.clone();
        read(self, |c| crate::repo::risk::merchant_limits(c, &m))
    }

    /// The acquirer's blocklist, newest first, at most [`BLOCKLIST_ROWS_MAX`].
    fn blocklist(&self) -> Result<Vec<BlockRow>, StoreError> {
        read(self, |c| {
            c.rows(
                &format!(
                    "SELECT b.id, b.kind, b.value, b.reason, b.created_by, b.created_at,
                       (SELECT t.masked_pan FROM txns t WHERE b.kind = 'card' AND t.card_fp = b.value
                         ORDER BY t.created_at DESC LIMIT 1)
                     FROM risk_blocklist b ORDER BY b.id DESC LIMIT {BLOCKLIST_ROWS_MAX}"
                ),
                p![],
                |r| {
                    Ok(BlockRow {
                        id: r.i64(0)?,
                        kind: r.text(1)?,
                        value: r.text(2)?,
                        reason: r.text(3)?,
                        created_by: r.text(4)?,
                        created_at: r.i64(5)?,
                        masked_pan: r.opt_text(6)?,
                    })
                },
            )
        })
    }

    /// Blocks the card that paid transaction `txn` (its fingerprint; the back-office never
    /// holds a card number). `Ok(None)`: no such transaction, or it has no card (a wallet).
    /// Audited as `risk.block` with the transaction as its target.
    fn block_card_of(&self, txn: i64, reason: &str, who: &str) -> Result<Option<i64>, StoreError> {
        let now = micros(self.now());
        setup(self, |c, head| {
            let fp = c
                .row("SELECT card_fp FROM txns WHERE id = ?1", p![txn], |r| {
                    r.opt_text(0)
                })?
                .flatten();
            let Some(fp) = fp else {
                return Ok(None);
            };
            c.exec(
                "INSERT INTO risk_blocklist (kind, value, reason, created_by, created_at) VALUES ('card', ?1, ?2, ?3, ?4)
                 ON CONFLICT (kind, value) DO NOTHING",
                p![fp.as_str(), reason, who, now],
            )?;
            let id = c.one(
                "SELECT id FROM risk_blocklist WHERE kind = 'card' AND value = ?1",
                p![fp.as_str()],
                |r| r.i64(0),
            )?;
            head.append(
                c,
                now,
                [who, "risk.block", &format!("txn:{txn}"), reason, "ok"],
            )?;
            Ok(Some(id))
        })
    }

    /// The id of a blocklist entry of `kind` and `value` (after `RiskAlerts::block`).
    fn block_id(&self, kind: &str, value: &str) -> Result<Option<i64>, StoreError> {
        let (k, v) = (kind.to_owned(), value.to_owned());
        read(self, |c| {
            c.row(
                "SELECT id FROM risk_blocklist WHERE kind = ?1 AND value = ?2",
                p![k.as_str(), v.as_str()],
                |r| r.i64(0),
            )
        })
    }

    /// Removes a blocklist entry; false when there is none. Audited as `risk.unblock`.
    fn unblock(&self, id: i64, reason: &str, who: &str) -> Result<bool, StoreError> {
        let now = micros(self.now());
        setup(self, |c, head| {
            let n = c.exec("DELETE FROM risk_blocklist WHERE id = ?1", p![id])?;
            if n == 1 {
                head.append(
                    c,
                    now,
                    [who, "risk.unblock", &format!("block:{id}"), reason, "ok"],
                )?;
            }
            Ok(n == 1)
        })
    }

    /// For a "sale after a void" alert in the caller's scope: the void, the sale it voided,
    /// and the same card's first sale at the merchant from the alert on (the re-charge the
    /// rule fired on, booked right after it). `None` for another rule or no such alert.
    fn void_then_sale(
        &self,
        merchant: Option<&MerchantId>,
        alert: i64,
    ) -> Result<Option<VoidThenSale>, StoreError> {
        let Some(a) = crate::risk::RiskAlerts::alert(self, merchant, alert)? else {
            return Ok(None);
        };
        let Some(&void_id) = a.txn_ids.first() else {
            return Ok(None);
        };
        if a.rule != "sale_after_void" {
            return Ok(None);
        }
        read(self, |c| {
            let voided_sale_id = c
                .row(
                    "SELECT original_id FROM txns WHERE id = ?1",
                    p![void_id],
                    |r| r.opt_i64(0),
                )?
                .flatten();
            let next_sale_id = c.row(
                "SELECT t.id FROM txns t, risk_alerts a
                  WHERE a.id = ?1 AND t.card_fp = a.card_fp AND t.merchant_id = a.merchant_id
                    AND t.kind = 'sale' AND t.id > ?2 AND t.created_at >= a.created_at
                  ORDER BY t.id LIMIT 1",
                p![alert, void_id],
                |r| r.i64(0),
            )?;
            Ok(Some(VoidThenSale {
                void_id,
                voided_sale_id,
                next_sale_id,
            }))
        })
    }
}

impl<S: Store + ?Sized> RiskAdmin for S {}
