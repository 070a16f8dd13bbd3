//! Scheduled operations (issue 13; seeds 001, 004: regular backups, periodic compliance
//! review, drills), run by `serve` on the store's clock so that tests drive them with a test
//! clock:
//! - **backup** once a day at `backup_hour` (local, the policy's time zone): `store::backup`
//!   makes it and verifies it, then the rotation keeps the newest backup of each of the last
//!   `backup_keep_daily` days and of each of the last `backup_keep_weekly` ISO weeks;
//! - **drill** once a week on `drill_weekday`, after the backup: the newest backup is
//!   restored into a scratch directory, opened, its audit chain and money conservation
//!   checked, and the scratch directory removed; the result is audited and shown on 运维;
//! - **report** once a day at `report_hour`: the compliance report of the previous local
//!   day ([`report`]), kept, sent as the `compliance.report` webhook; a red report is audited
//!   as `compliance.red` and raises a high alert (rule `compliance_report`) in the 风险预警
//!   queue, once per day.
//!
//! Each run is claimed in `scheduled_runs` (job, period) with one `INSERT … ON CONFLICT DO
//! NOTHING` whose row count decides: one node runs it, a restarted server does not run it
//! twice in one period.

use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use suanpan_core::notify::EventKind;
use suanpan_store::backup::{self, Keyring, Sources};
use suanpan_store::p;
use suanpan_store::sql::{Sql, SqlExt, SqlRow};
use suanpan_store::{Store, StoreError, read, setup};

/// `[schedule]` in the config file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Run the scheduled operations at all (default true).
    pub enabled: bool,
    /// Local hour (0–23) of the daily backup (default 2).
    pub backup_hour: i8,
    /// Daily backups kept: the newest of each of this many days (default 7).
    pub backup_keep_daily: u32,
    /// Weekly backups kept: the newest of each of this many ISO weeks (default 4).
    pub backup_keep_weekly: u32,
    /// ISO weekday (1 = Monday … 7 = Sunday) of the restore drill (default 7).
    pub drill_weekday: i8,
    /// Local hour (0–23) of the daily compliance report of the day before (default 6).
    pub report_hour: i8,
    /// How often the scheduler looks, in milliseconds (default 60,000).
    pub interval_ms: u64,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            enabled: true,
            backup_hour: 2,
            backup_keep_daily: 7,
            backup_keep_weekly: 4,
            drill_weekday: 7,
            report_hour: 6,
            interval_ms: 60_000,
        }
    }
}

/// Where the scheduler's files are.
#[derive(Clone)]
pub struct Dirs {
    /// The data directory (`pan.key`).
    pub data_dir: PathBuf,
    /// The evidence folder.
    pub evidence_dir: PathBuf,
    /// Where backups go and are rotated.
    pub backup_dir: PathBuf,
    /// The KEKs verification and the drill need (the drill never touches the live anchor).
    pub ring: Keyring,
}

/// One job's outcome in one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunOutcome {
    /// `backup`, `drill` or `report`.
    pub job: String,
    /// The day (`2025-06-10`) or ISO week (`2025-W24`) it ran for.
    pub period: String,
    /// Whether it succeeded (a report: whether it is green).
    pub ok: bool,
    /// One line in words.
    pub summary: String,
}

/// Runs every job due at the store's time that no node ran yet in its period; returns what
/// ran. Blocking (backups and drills take time).
pub fn tick(
    store: &dyn Store,
    cfg: &ScheduleConfig,
    dirs: &Dirs,
) -> Result<Vec<RunOutcome>, StoreError> {
    let mut ran = Vec::new();
    if !cfg.enabled {
        return Ok(ran);
    }
    let zone = store
        .policy()
        .zone()
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let now = store.now();
    let local = now.to_zoned(zone);
    let today = local.date();
    if local.hour() >= cfg.backup_hour {
        let period = today.to_string();
        if claim(store, "backup", &period)? {
            ran.push(finish(
                store,
                "backup",
                &period,
                run_backup(store, cfg, dirs, today),
            )?);
        }
        if weekday_no(today.weekday()) == cfg.drill_weekday {
            let week = iso_week(today);
            if claim(store, "drill", &week)? {
                ran.push(finish(store, "drill", &week, run_drill(dirs, now))?);
            }
        }
    }
    if local.hour() >= cfg.report_hour {
        let day = today
            .yesterday()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let period = day.to_string();
        if claim(store, "report", &period)? {
            let r = report(store, day)?;
            let outcome = (
                r.green,
                r.summary(),
                serde_json::to_string(&r).unwrap_or_default(),
            );
            let done = finish(store, "report", &period, Ok(outcome))?;
            emit_report(store, &r)?;
            ran.push(done);
        }
    }
    Ok(ran)
}

fn weekday_no(w: Weekday) -> i8 {
    w.to_monday_one_offset()
}

fn iso_week(d: Date) -> String {
    let w = d.iso_week_date();
    format!("{}-W{:02}", w.year(), w.week())
}

/// Claims (job, period): true for the one caller that inserted the row.
fn claim(store: &dyn Store, job: &str, period: &str) -> Result<bool, StoreError> {
    let at = store.now().as_microsecond();
    setup(store, |tx, _| {
        let n = tx.exec(
            "INSERT INTO scheduled_runs (job, period, started_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (job, period) DO NOTHING",
            p![job, period, at],
        )?;
        Ok(n == 1)
    })
}

type Done = Result<(bool, String, String), StoreError>;

/// Records how a run ended and audits it as `schedule.<job>` on `schedule:<job>/<period>`.
fn finish(
    store: &dyn Store,
    job: &str,
    period: &str,
    done: Done,
) -> Result<RunOutcome, StoreError> {
    let (ok, summary, detail) = match done {
        Ok(d) => d,
        Err(e) => (false, e.to_string(), String::new()),
    };
    let at = store.now().as_microsecond();
    setup(store, |tx, head| {
        tx.exec(
            "UPDATE scheduled_runs SET finished_at = ?1, ok = ?2, summary = ?3, detail = ?4
              WHERE job = ?5 AND period = ?6",
            p![at, i64::from(ok), &summary, &detail, job, period],
        )?;
        let action = format!("schedule.{job}");
        let target = format!("schedule:{job}/{period}");
        let outcome = if ok { "ok" } else { "failed" };
        head.append(tx, at, ["system", &action, &target, &summary, outcome])
    })?;
    if !ok {
        tracing::error!(job, period, summary, "scheduled operation failed");
    }
    Ok(RunOutcome {
        job: job.to_owned(),
        period: period.to_owned(),
        ok,
        summary,
    })
}

fn run_backup(store: &dyn Store, cfg: &ScheduleConfig, dirs: &Dirs, today: Date) -> Done {
    let src = Sources {
        data_dir: &dirs.data_dir,
        evidence_dir: &dirs.evidence_dir,
    };
    let now = store.now();
    let (file, _) = backup::create(store, &src, &dirs.backup_dir, now)?;
    let m = backup::verify_and_record(&file, &dirs.ring, now)?;
    let removed = rotate(&dirs.backup_dir, cfg, today, store)?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok((
        true,
        format!(
            "backup {name} made and verified ({} transactions); rotation removed {}",
            m.transactions,
            removed.len()
        ),
        serde_json::json!({ "file": name, "removed": removed }).to_string(),
    ))
}

/// Keeps the newest complete backup of each of the last `backup_keep_daily` local days and
/// of each of the `backup_keep_weekly` newest ISO weeks that have one, and every unfinished
/// one (it may be being written; a person decides); removes the other backups in `dir` with their manifest,
/// key copy, record and evidence folder. Returns the names removed.
pub fn rotate(
    dir: &Path,
    cfg: &ScheduleConfig,
    today: Date,
    store: &dyn Store,
) -> Result<Vec<String>, StoreError> {
    let zone = store
        .policy()
        .zone()
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let mut keep_days = std::collections::BTreeSet::new();
    let mut keep_weeks = std::collections::BTreeSet::new();
    let mut removed = Vec::new();
    // Newest first: the first backup met of a day or week is the one kept.
    for b in backup::list(dir)? {
        let made: Option<Timestamp> = b.created_at.as_deref().and_then(|t| t.parse().ok());
        let Some(made) = made else {
            continue; // Unfinished: `list` shows it so; a person decides.
        };
        let day = made.to_zoned(zone.clone()).date();
        let age_days = (today - day).get_days().max(0);
        let week = iso_week(day);
        // A backup may be kept as both (the grandfather-father-son scheme): the newest of
        // its day within the daily window, or the newest of one of the newest weeks.
        let as_daily =
            i64::from(age_days) < i64::from(cfg.backup_keep_daily) && keep_days.insert(day);
        let as_weekly = !keep_weeks.contains(&week)
            && keep_weeks.len() < cfg.backup_keep_weekly as usize
            && keep_weeks.insert(week);
        if as_daily || as_weekly {
            continue;
        }
        remove_backup(dir, &b.name)?;
        removed.push(b.name);
    }
    Ok(removed)
}

fn remove_backup(dir: &Path, name: &str) -> Result<(), StoreError> {
    let file = backup::file_named(dir, name)?;
    let io = |p: &Path, e: std::io::Error| StoreError::Sqlite(format!("{}: {e}", p.display()));
    let evidence = backup::evidence_copy_dir(&file);
    if evidence.exists() {
        std::fs::remove_dir_all(&evidence).map_err(|e| io(&evidence, e))?;
    }
    let stem = name.trim_end_matches(".db").trim_end_matches(".dump");
    for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))?.flatten() {
        let n = entry.file_name().to_string_lossy().into_owned();
        if n == name || n.starts_with(&format!("{stem}.")) {
            std::fs::remove_file(entry.path()).map_err(|e| io(&entry.path(), e))?;
        }
    }
    Ok(())
}

/// The restore drill: the newest complete backup restored into a scratch directory beside
/// the backups, opened, checked (audit chain, conservation), then removed.
fn run_drill(dirs: &Dirs, now: Timestamp) -> Done {
    let newest = backup::list(&dirs.backup_dir)?
        .into_iter()
        .find(|b| b.complete)
        .ok_or_else(|| StoreError::Invalid("no complete backup to restore".into()))?;
    let file = backup::file_named(&dirs.backup_dir, &newest.name)?;
    if backup::is_dump(&file) {
        backup::verify(&file, &dirs.ring)?;
        return Ok((
            true,
            format!(
                "{}: verified (a PostgreSQL dump is restored with pg_restore, not drilled here)",
                newest.name
            ),
            String::new(),
        ));
    }
    let scratch = tempfile::Builder::new()
        .prefix("drill-")
        .tempdir_in(&dirs.backup_dir)
        .map_err(|e| StoreError::Sqlite(format!("scratch directory: {e}")))?;
    // No anchor: the drill must not restart the live store's anchor file.
    let ring = Keyring {
        anchor: None,
        ..dirs.ring.clone()
    };
    let data = scratch.path().join("data");
    let m = backup::restore(
        &file,
        &ring,
        &data,
        &scratch.path().join("evidence"),
        false,
        now,
    )?;
    let opts = suanpan_store::OpenOptions {
        keys: ring.current.clone(),
        ..suanpan_store::OpenOptions::default()
    };
    let restored = suanpan_store::SqliteStore::open(&data, opts)?;
    let (chain, conservation, txns) = read(&restored, |c| {
        let chain = suanpan_store::audit::verify_in(c)?;
        let cons = suanpan_store::query::conservation_in(c)?;
        let n = c.one("SELECT COUNT(*) FROM txns", p![], |r| r.i64(0))?;
        Ok((chain, cons, n))
    })?;
    drop(restored);
    let ok = chain.first_broken.is_none() && conservation.holds() && txns == m.transactions;
    Ok((
        ok,
        format!(
            "{} restored into a scratch directory: {} transactions (manifest {}), audit chain {}, money conservation {}",
            newest.name,
            txns,
            m.transactions,
            if chain.first_broken.is_none() {
                "intact"
            } else {
                "BROKEN"
            },
            if conservation.holds() {
                "holds"
            } else {
                "BROKEN"
            }
        ),
        String::new(),
    ))
}

/// The daily compliance report (seeds 001, 004): the audit chain, money conservation,
/// hidden records, the day's voids by reason and by operator, and the day's batches that
/// settled unbalanced. Green when the chain is intact, money is conserved and no batch
/// settled unbalanced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The local day reported on.
    pub day: String,
    /// Whether everything holds.
    pub green: bool,
    /// Audit entries checked.
    pub audit_entries: i64,
    /// The first broken entry, if any.
    pub audit_first_broken: Option<i64>,
    /// Σ initial balances = Σ balances + Σ net moved.
    pub conservation_holds: bool,
    /// Records hidden (all time) and hidden on that day.
    pub hidden_total: i64,
    /// Hidden on the day.
    pub hidden_that_day: i64,
    /// (reason, count) of the day's voids.
    pub voids_by_reason: Vec<(String, i64)>,
    /// (merchant, operator, count) of the day's voids.
    pub voids_by_operator: Vec<(String, String, i64)>,
    /// (terminal, batch no.) settled unbalanced that day.
    pub unbalanced_batches: Vec<(String, i64)>,
}

impl Report {
    /// One line in words.
    pub fn summary(&self) -> String {
        format!(
            "{}: {} — audit chain {}, conservation {}, {} unbalanced batch(es), {} void(s), {} record(s) hidden",
            self.day,
            if self.green { "green" } else { "RED" },
            if self.audit_first_broken.is_none() {
                "intact"
            } else {
                "broken"
            },
            if self.conservation_holds {
                "holds"
            } else {
                "broken"
            },
            self.unbalanced_batches.len(),
            self.voids_by_reason.iter().map(|(_, n)| n).sum::<i64>(),
            self.hidden_that_day
        )
    }
}

impl Report {
    /// What failed, as `key=value` pairs: the alert's evidence (the whole report is kept in
    /// `scheduled_runs` and downloadable from the 运维 page).
    pub fn evidence(&self) -> String {
        let mut parts = vec![format!(
            "audit_chain={}",
            self.audit_first_broken
                .map_or("intact".to_owned(), |seq| format!("broken_at_seq_{seq}"))
        )];
        parts.push(format!(
            "conservation={}",
            if self.conservation_holds {
                "holds"
            } else {
                "broken"
            }
        ));
        let batches: Vec<String> = self
            .unbalanced_batches
            .iter()
            .map(|(t, b)| format!("{t}/{b}"))
            .collect();
        parts.push(format!(
            "unbalanced_batches={}",
            if batches.is_empty() {
                "none".to_owned()
            } else {
                batches.join(",")
            }
        ));
        parts.join(" ")
    }
}

/// The compliance report of local `day`.
pub fn report(store: &dyn Store, day: Date) -> Result<Report, StoreError> {
    let zone = store
        .policy()
        .zone()
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let bad = |e: jiff::Error| StoreError::Invalid(e.to_string());
    let from = day
        .to_zoned(zone.clone())
        .map_err(bad)?
        .timestamp()
        .as_microsecond();
    let next = day.tomorrow().map_err(bad)?;
    let to = next
        .to_zoned(zone)
        .map_err(bad)?
        .timestamp()
        .as_microsecond();
    read(store, |c| report_in(c, &day.to_string(), from, to))
}

fn report_in(c: &dyn Sql, day: &str, from: i64, to: i64) -> Result<Report, StoreError> {
    let chain = suanpan_store::audit::verify_in(c)?;
    let cons = suanpan_store::query::conservation_in(c)?;
    let hidden_total = c.one("SELECT COUNT(*) FROM txns WHERE hidden = 1", p![], |r| {
        r.i64(0)
    })?;
    let hidden_that_day = c.one(
        "SELECT COUNT(*) FROM audit WHERE action = 'hide' AND outcome = 'ok' AND at >= ?1 AND at < ?2",
        p![from, to],
        |r| r.i64(0),
    )?;
    let day_voids = "kind IN ('void', 'completion_void') AND training = 0 AND created_at >= ?1 AND created_at < ?2";
    let voids_by_reason = c.rows(
        &format!("SELECT COALESCE(reason, ''), COUNT(*) FROM txns WHERE {day_voids} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 100"),
        p![from, to],
        |r| Ok((r.text(0)?, r.i64(1)?)),
    )?;
    let voids_by_operator = c.rows(
        &format!("SELECT merchant_id, operator, COUNT(*) FROM txns WHERE {day_voids} GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 100"),
        p![from, to],
        |r| Ok((r.text(0)?, r.text(1)?, r.i64(2)?)),
    )?;
    let unbalanced_batches = c.rows(
        "SELECT terminal_id, batch_no FROM batches
          WHERE settled_at >= ?1 AND settled_at < ?2 AND reconciliation = 'unbalanced'
          ORDER BY terminal_id, batch_no LIMIT 100",
        p![from, to],
        |r| Ok((r.text(0)?, r.i64(1)?)),
    )?;
    let green = chain.first_broken.is_none() && cons.holds() && unbalanced_batches.is_empty();
    Ok(Report {
        day: day.to_owned(),
        green,
        audit_entries: chain.entries,
        audit_first_broken: chain.first_broken,
        conservation_holds: cons.holds(),
        hidden_total,
        hidden_that_day,
        voids_by_reason,
        voids_by_operator,
        unbalanced_batches,
    })
}

/// Sends the report to the acquirer's endpoints (`compliance.report`); a red one is also
/// audited as `compliance.red` and raises a high alert in the 风险预警 queue (once per day),
/// all in one transaction.
fn emit_report(store: &dyn Store, r: &Report) -> Result<(), StoreError> {
    let now = store.now();
    setup(store, |tx, head| {
        suanpan_store::notify::enqueue(tx, now, EventKind::ComplianceReport, None, r)?;
        if !r.green {
            let target = format!("report:{}", r.day);
            head.append(
                tx,
                now.as_microsecond(),
                ["system", "compliance.red", &target, &r.summary(), "red"],
            )?;
            if let Some(id) =
                suanpan_store::risk::raise_report_alert(tx, &r.day, &r.evidence(), now)?
            {
                head.append(
                    tx,
                    now.as_microsecond(),
                    [
                        "system",
                        "risk.compliance_report",
                        &format!("alert:{id}"),
                        &r.summary(),
                        "alerted",
                    ],
                )?;
            }
        }
        Ok(())
    })
}

/// A run's row: `job, period, COALESCE(ok, 0), summary`.
fn run_outcome(r: &dyn SqlRow) -> Result<RunOutcome, StoreError> {
    Ok(RunOutcome {
        job: r.text(0)?,
        period: r.text(1)?,
        ok: r.flag(2)?,
        summary: r.text(3)?,
    })
}

/// The last runs of each job, newest first (the 运维 page).
pub fn recent_runs(store: &dyn Store, limit: u32) -> Result<Vec<RunOutcome>, StoreError> {
    read(store, |c| {
        c.rows(
            "SELECT job, period, COALESCE(ok, 0), summary FROM scheduled_runs
              ORDER BY started_at DESC LIMIT ?1",
            p![limit.min(100)],
            run_outcome,
        )
    })
}

/// The kept report of local `day` (JSON), if it was made.
pub fn kept_report(store: &dyn Store, day: &str) -> Result<Option<String>, StoreError> {
    read(store, |c| {
        c.row(
            "SELECT detail FROM scheduled_runs WHERE job = 'report' AND period = ?1",
            p![day],
            |r| r.text(0),
        )
    })
}

/// The kept reports' days and outcomes, newest day first, at most `limit` (≤ 366): what
/// the compliance page lists. A report still being made is not listed.
pub fn kept_reports(store: &dyn Store, limit: u32) -> Result<Vec<RunOutcome>, StoreError> {
    read(store, |c| {
        c.rows(
            "SELECT job, period, COALESCE(ok, 0), summary FROM scheduled_runs
              WHERE job = 'report' AND finished_at IS NOT NULL
              ORDER BY period DESC LIMIT ?1",
            p![limit.min(366)],
            run_outcome,
        )
    })
}

/// Starts the scheduler `serve` runs: [`tick`] every `interval_ms` on its own thread (none
/// when `enabled` is false).
pub fn spawn(
    store: std::sync::Arc<dyn Store>,
    cfg: ScheduleConfig,
    dirs: Dirs,
) -> std::io::Result<Option<crate::Worker>> {
    if !cfg.enabled {
        return Ok(None);
    }
    let interval = cfg.interval_ms;
    crate::Worker::every("suanpan-schedule", interval, move || {
        match tick(&*store, &cfg, &dirs) {
            Ok(ran) => {
                for r in ran {
                    tracing::info!(job = %r.job, period = %r.period, ok = r.ok, "{}", r.summary);
                }
            }
            Err(e) => tracing::error!(error = %e, "scheduler pass failed"),
        }
    })
    .map(Some)
}
