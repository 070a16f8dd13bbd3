//! The money rules' knobs (DESIGN.md "Money rules"), with the defaults merchants expect.

use crate::money::Amount;
use jiff::civil::{Date, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{Timestamp, ToSpan};

/// Every policy value in one place; the config file overrides any of them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Voids older than this are refused (`None`: only the batch limits a void).
    pub void_max_age_minutes: Option<u32>,
    /// Voids one operator may do in one business day.
    pub void_max_per_operator_per_day: u32,
    /// When true, a void must present the original card (fingerprints must match).
    pub void_requires_card: bool,
    /// Seconds a staged void waits before it is committed (0 = commit at once).
    pub void_grace_seconds: u32,
    /// Days after the original within which a refund is accepted.
    pub refund_window_days: u32,
    /// Back-office refunds above this (fen) need review by a second person.
    pub refund_review_threshold_fen: i64,
    /// Days a pre-authorization hold lives.
    pub preauth_hold_days: u32,
    /// A completion may capture up to this percent of the hold.
    pub completion_max_percent: u32,
    /// The terminal sends a reversal when no response arrives within this.
    pub response_timeout_ms: u32,
    /// Reversal retries before the reversal is escalated to a case.
    pub reversal_retries_max: u32,
    /// A sale on the same card for the same amount within this many minutes is flagged as a
    /// possible duplicate charge (重复扣款); the counter confirms it (0 = off). It only warns:
    /// blocking genuine second purchases is worse than asking.
    pub duplicate_warn_minutes: u32,
    /// Business-day cutoff (日切), local time `HH:MM` in `time_zone`.
    pub cutoff: String,
    /// The merchant's time zone (IANA name).
    pub time_zone: String,
    /// Years a record is kept before it may be purged.
    pub retention_years: u32,
    /// Wrong passwords in a row before an operator is locked out.
    pub login_failures_max: u32,
    /// Minutes a locked-out operator waits.
    pub lockout_minutes: u32,
    /// Hours a reversal whose request never arrived is remembered (冲正先到): a late request
    /// with the same terminal, batch and voucher no. arriving within this is refused and books
    /// nothing. It outlives any network delay by far; the batch's settlement ends it anyway.
    pub orphan_reversal_hours: u32,
    /// Hours a terminal's working keys (PIK, MAK) are used at most: a request under keys
    /// older than this is answered 77 (sign in again) and the session ends, so keys change
    /// on a schedule and not only when a terminal chooses to sign in (issue 11).
    pub working_key_max_hours: u32,
    /// The risk rules' knobs (issue 13): the config file's own `[risk]` section, not a key
    /// of `[policy]`; the loader puts it here so every use case reads one policy.
    #[serde(skip)]
    pub risk: crate::risk::RiskParams,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            void_max_age_minutes: None,
            void_max_per_operator_per_day: 20,
            void_requires_card: false,
            void_grace_seconds: 0,
            refund_window_days: 365,
            refund_review_threshold_fen: 500_000,
            preauth_hold_days: 30,
            completion_max_percent: 115,
            response_timeout_ms: 60_000,
            reversal_retries_max: 6,
            duplicate_warn_minutes: 10,
            cutoff: "23:00".to_owned(),
            time_zone: "Asia/Shanghai".to_owned(),
            retention_years: 5,
            login_failures_max: 5,
            lockout_minutes: 15,
            orphan_reversal_hours: 24,
            working_key_max_hours: 24,
            risk: crate::risk::RiskParams::default(),
        }
    }
}

/// A policy value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy {field}: {problem}")]
pub struct PolicyError {
    /// The field name.
    pub field: &'static str,
    /// What is wrong.
    pub problem: String,
}

impl Policy {
    /// Checks the values that can be wrong in a config file.
    pub fn validate(&self) -> Result<(), PolicyError> {
        self.risk.validate().map_err(|problem| PolicyError {
            field: "risk",
            problem,
        })?;
        self.cutoff_time()?;
        self.zone()?;
        if self.completion_max_percent < 100 {
            return Err(PolicyError {
                field: "completion_max_percent",
                problem: "must be at least 100".into(),
            });
        }
        if self.orphan_reversal_hours == 0 {
            return Err(PolicyError {
                field: "orphan_reversal_hours",
                problem:
                    "must be at least 1: a reversal that overtakes its request must be remembered"
                        .into(),
            });
        }
        if self.working_key_max_hours == 0 {
            return Err(PolicyError {
                field: "working_key_max_hours",
                problem: "must be at least 1: keys of age 0 would end every session at once".into(),
            });
        }
        if self.refund_review_threshold_fen < 0 {
            return Err(PolicyError {
                field: "refund_review_threshold_fen",
                problem: "must not be negative".into(),
            });
        }
        Ok(())
    }

    /// The refund review threshold as an amount.
    pub fn refund_review_threshold(&self) -> Amount {
        Amount::from_fen(self.refund_review_threshold_fen)
    }

    /// The cutoff as a time of day.
    pub fn cutoff_time(&self) -> Result<Time, PolicyError> {
        let bad = |problem: &str| PolicyError {
            field: "cutoff",
            problem: problem.into(),
        };
        let (h, m) = self
            .cutoff
            .split_once(':')
            .ok_or_else(|| bad("expected HH:MM"))?;
        let h: i8 = h.parse().map_err(|_| bad("hour is not a number"))?;
        let m: i8 = m.parse().map_err(|_| bad("minute is not a number"))?;
        Time::new(h, m, 0, 0).map_err(|e| bad(&e.to_string()))
    }

    /// The merchant's time zone.
    pub fn zone(&self) -> Result<TimeZone, PolicyError> {
        TimeZone::get(&self.time_zone).map_err(|e| PolicyError {
            field: "time_zone",
            problem: e.to_string(),
        })
    }

    /// 营业日: the business day a moment belongs to. At or after the cutoff it is already the
    /// next day's business, so a sale at 23:30 belongs to tomorrow's day. The day turns once,
    /// at [`cutoff_on`]: a clock set back over the cutoff does not turn it back.
    pub fn business_day(&self, at: Timestamp) -> Date {
        let zone = self.zone().unwrap_or(TimeZone::UTC);
        let cutoff = self.cutoff_time().unwrap_or(Time::midnight());
        let date = at.to_zoned(zone.clone()).date();
        match cutoff_on(&zone, cutoff, date) {
            Some(turn) if at >= turn => date.tomorrow().unwrap_or(date),
            _ => date,
        }
    }

    /// The moment the business day of `at` began: the previous day's cutoff in the merchant's
    /// zone. Daily limits (`void_max_per_operator_per_day`) count from here.
    pub fn business_day_start(&self, at: Timestamp) -> Timestamp {
        let zone = self.zone().unwrap_or(TimeZone::UTC);
        let cutoff = self.cutoff_time().unwrap_or(Time::midnight());
        self.business_day(at)
            .yesterday()
            .ok()
            .and_then(|d| cutoff_on(&zone, cutoff, d))
            .unwrap_or(Timestamp::UNIX_EPOCH)
    }

    /// True when a batch opened at `opened_at` must be settled at `now`: its day has passed
    /// the cutoff (its business day is an earlier one than `now`'s).
    pub fn batch_is_due(&self, opened_at: Timestamp, now: Timestamp) -> bool {
        opened_at < self.batches_due_before(now)
    }

    /// The moment before which a batch must have been opened to be due at `now`, a bound a
    /// store can search by: the start of `now`'s business day. A business day is a span of
    /// time and the days follow each other, so a batch opened before it belongs to an
    /// earlier day.
    pub fn batches_due_before(&self, now: Timestamp) -> Timestamp {
        self.business_day_start(now)
    }

    /// The moment a pre-authorization placed at `at` lapses.
    pub fn hold_expires_at(&self, at: Timestamp) -> Timestamp {
        at.checked_add((i64::from(self.preauth_hold_days) * 24).hours())
            .unwrap_or(Timestamp::MAX)
    }

    /// The first moment of `day` in the merchant's zone (a purge's cut-off date, as a
    /// merchant names it).
    pub fn day_start(&self, day: Date) -> Result<Timestamp, PolicyError> {
        day.to_zoned(self.zone()?)
            .map(|z| z.timestamp())
            .map_err(|e| PolicyError {
                field: "time_zone",
                problem: e.to_string(),
            })
    }

    /// The first moment a record created at `at` may be purged.
    pub fn retention_ends(&self, at: Timestamp) -> Timestamp {
        let zone = self.zone().unwrap_or(TimeZone::UTC);
        at.to_zoned(zone)
            .checked_add(i64::from(self.retention_years).years())
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::MAX)
    }
}

/// The first moment of local date `day` at which the clock in `zone` reads `cutoff` or
/// later: when that day's business ends. Where the clocks go back over the cutoff, its first
/// reading; where they skip it, the moment they jump (the skipped reading's nominal instant
/// would fall after a stretch the clock already showed past the cutoff).
fn cutoff_on(zone: &TimeZone, cutoff: Time, day: Date) -> Option<Timestamp> {
    let local = day.to_datetime(cutoff);
    let ambiguous = zone.to_ambiguous_timestamp(local);
    match ambiguous.offset() {
        AmbiguousOffset::Gap { after, .. } => {
            // Read with the later offset, the cutoff lies before the jump.
            let before_jump = after.to_timestamp(local).ok()?;
            zone.following(before_jump).next().map(|t| t.timestamp())
        }
        AmbiguousOffset::Unambiguous { .. } | AmbiguousOffset::Fold { .. } => {
            ambiguous.earlier().ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn defaults_are_the_designs() {
        let p = Policy::default();
        assert_eq!(p.void_max_per_operator_per_day, 20);
        assert_eq!(p.refund_window_days, 365);
        assert_eq!(p.refund_review_threshold().fen(), 500_000);
        assert_eq!(p.preauth_hold_days, 30);
        assert_eq!(p.completion_max_percent, 115);
        assert_eq!(p.retention_years, 5);
        assert!(p.validate().is_ok());
    }

    #[test]
    fn business_day_turns_at_the_cutoff_in_shanghai() {
        let p = Policy::default();
        // 22:59 Shanghai = 14:59Z: still the 25th.
        assert_eq!(
            p.business_day(at("2026-11-25T14:59:00Z")).to_string(),
            "2026-11-25"
        );
        // 23:00 Shanghai = 15:00Z: already the 26th.
        assert_eq!(
            p.business_day(at("2026-11-25T15:00:00Z")).to_string(),
            "2026-11-26"
        );
        assert!(!p.batch_is_due(at("2026-11-25T01:00:00Z"), at("2026-11-25T14:59:00Z")));
        assert!(p.batch_is_due(at("2026-11-25T01:00:00Z"), at("2026-11-25T15:00:00Z")));
    }

    // Goal: the bound a store searches by (`opened_at < batches_due_before(now)`, which is
    // `batch_is_due`) picks exactly the batches whose business day is an earlier one than
    // now's, in a zone without daylight saving and across both of New York's changes, with
    // the cutoff inside the skipped and the repeated hour.
    #[test]
    fn the_due_bound_agrees_with_batch_is_due() {
        let cases = [
            ("Asia/Shanghai", "23:00", "2026-11-24T00:00:00Z"),
            ("America/New_York", "02:30", "2026-03-06T00:00:00Z"),
            ("America/New_York", "01:30", "2026-10-30T00:00:00Z"),
            ("UTC", "00:00", "2026-12-30T00:00:00Z"),
        ];
        for (zone, cutoff, from) in cases {
            let p = Policy {
                time_zone: zone.into(),
                cutoff: cutoff.into(),
                ..Policy::default()
            };
            let from = at(from);
            let step = |i: i64| {
                from.checked_add(jiff::SignedDuration::from_mins(20 * i))
                    .unwrap()
            };
            let mut disagree = Vec::new();
            for n in 0..(4 * 72) {
                let now = step(n);
                let bound = p.batches_due_before(now);
                for o in 0..=n {
                    let opened = step(o);
                    let earlier_day = p.business_day(opened) < p.business_day(now);
                    if (opened < bound) != earlier_day || p.batch_is_due(opened, now) != earlier_day
                    {
                        disagree.push(format!("opened {opened}, now {now}"));
                    }
                }
            }
            assert!(
                disagree.is_empty(),
                "{zone} {cutoff}: {} disagreements, first {:?}",
                disagree.len(),
                disagree.first()
            );
        }
    }

    // Goal: the business day never turns back. New York's clocks go back at 02:00 EDT on
    // 2026-11-01, so 01:30 reads twice: the day turns at the first reading and a sale at
    // 01:10 EST, after it, is still the next day's. Where the clocks skip the cutoff
    // (02:30 on 2026-03-08), the day turns when they jump to 03:00.
    #[test]
    fn the_business_day_turns_once_when_clocks_change() {
        let p = Policy {
            time_zone: "America/New_York".into(),
            cutoff: "01:30".into(),
            ..Policy::default()
        };
        assert_eq!(
            day_of(&p, "2026-11-01T05:29:00Z"),
            "2026-11-01",
            "01:29 EDT"
        );
        assert_eq!(
            day_of(&p, "2026-11-01T05:30:00Z"),
            "2026-11-02",
            "01:30 EDT turns it"
        );
        assert_eq!(
            day_of(&p, "2026-11-01T06:10:00Z"),
            "2026-11-02",
            "01:10 EST, after it"
        );
        assert_eq!(
            p.business_day_start(at("2026-11-01T06:10:00Z")),
            at("2026-11-01T05:30:00Z")
        );
        let p = Policy {
            cutoff: "02:30".into(),
            ..p
        };
        assert_eq!(
            day_of(&p, "2026-03-08T06:59:00Z"),
            "2026-03-08",
            "01:59 EST"
        );
        assert_eq!(
            day_of(&p, "2026-03-08T07:00:00Z"),
            "2026-03-09",
            "03:00 EDT"
        );
        assert_eq!(
            p.business_day_start(at("2026-03-08T07:00:00Z")),
            at("2026-03-08T07:00:00Z")
        );
    }

    fn day_of(p: &Policy, t: &str) -> String {
        p.business_day(at(t)).to_string()
    }

    #[test]
    fn bad_config_values_are_named() {
        let p = Policy {
            cutoff: "25:00".into(),
            ..Policy::default()
        };
        assert_eq!(p.validate().unwrap_err().field, "cutoff");
        let p = Policy {
            time_zone: "Mars/Olympus".into(),
            ..Policy::default()
        };
        assert_eq!(p.validate().unwrap_err().field, "time_zone");
    }
}
