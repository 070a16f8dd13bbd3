//! Scheduled operations under a test clock (issue 13): backups with rotation and
//! verification, the weekly restore drill, the daily compliance report.

#[path = "../../store/tests/common/mod.rs"]
mod common;

use common::{Harness, approved};
use suanpan_core::notify::EventKind;
use suanpan_core::settlement::Totals;
use suanpan_notify::schedule::{Dirs, ScheduleConfig, recent_runs, report, tick};
use suanpan_store::backup::{self, Keyring};
use suanpan_store::notify::{self as outbox, NewEndpoint};

fn dirs(h: &Harness) -> Dirs {
    Dirs {
        data_dir: h.dir.clone(),
        evidence_dir: h.dir.join("evidence"),
        backup_dir: h.dir.join("backups"),
        ring: Keyring::of(h.store.keys().clone()),
    }
}

fn cfg() -> ScheduleConfig {
    ScheduleConfig {
        backup_keep_daily: 3,
        backup_keep_weekly: 2,
        // The harness starts on a Tuesday.
        drill_weekday: 2,
        ..ScheduleConfig::default()
    }
}

#[test]
fn backups_drill_and_report_run_once_per_period_on_the_test_clock() {
    // Goal: at 10:00 local on a Tuesday the day's backup (verified), the week's drill and
    // the report of the day before run, each once; at 01:00 the next day nothing is due yet.
    let h = Harness::new();
    approved(h.sale(1_000, "approve"));
    let d = dirs(&h);
    let ran = tick(&*h.store, &cfg(), &d).unwrap();
    let jobs: Vec<(&str, bool)> = ran.iter().map(|r| (r.job.as_str(), r.ok)).collect();
    assert_eq!(
        jobs,
        [("backup", true), ("drill", true), ("report", true)],
        "{ran:?}"
    );
    assert!(
        ran[1].summary.contains("audit chain intact"),
        "{}",
        ran[1].summary
    );
    assert!(
        tick(&*h.store, &cfg(), &d).unwrap().is_empty(),
        "once per period"
    );
    let list = backup::list(&d.backup_dir).unwrap();
    assert_eq!(list.len(), 1);
    assert!(
        list[0].checked.as_ref().is_some_and(|c| c.ok),
        "verified: {list:?}"
    );
    assert!(
        !std::fs::read_dir(&d.backup_dir)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("drill-")),
        "the drill's scratch directory is removed"
    );
    // 2025-06-11 01:00 Shanghai: before backup_hour (2) and report_hour (6).
    h.set_time("2025-06-10T17:00:00Z");
    assert!(tick(&*h.store, &cfg(), &d).unwrap().is_empty());
    let runs = recent_runs(&*h.store, 10).unwrap();
    assert_eq!(runs.len(), 3);
}

#[test]
fn rotation_keeps_the_daily_and_weekly_backups_it_is_told_to() {
    // Goal: after 20 days of daily backups (2025-06-10 … 06-29), `backup_keep_daily = 3`
    // keeps 06-27, 06-28, 06-29 and `backup_keep_weekly = 2` the newest of the two newest
    // ISO weeks: 06-29 (week 26, already kept) and 06-22 (week 25): 4 backups.
    let h = Harness::new();
    let d = dirs(&h);
    for _ in 0..20 {
        let ran = tick(&*h.store, &cfg(), &d).unwrap();
        assert!(ran.iter().all(|r| r.ok), "{ran:?}");
        h.advance_days(1);
    }
    let list = backup::list(&d.backup_dir).unwrap();
    assert_eq!(
        list.len(),
        4,
        "{:?}",
        list.iter().map(|b| &b.name).collect::<Vec<_>>()
    );
    let days: Vec<String> = list
        .iter()
        .map(|b| b.created_at.clone().unwrap()[..10].to_owned())
        .collect();
    // Newest first: the last three days (UTC 02:00 is 10:00 in Shanghai, the same date).
    assert_eq!(
        days,
        ["2025-06-29", "2025-06-28", "2025-06-27", "2025-06-22"]
    );
    let names: Vec<String> = std::fs::read_dir(&d.backup_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("20250615"))
        .collect();
    assert!(
        names.is_empty(),
        "a removed backup leaves nothing behind: {names:?}"
    );
}

#[test]
fn an_unbalanced_batch_makes_the_report_red_and_it_goes_out_as_a_webhook() {
    // Goal: the report names the day's voids and an unbalanced settlement; red, it is
    // audited as compliance.red and queued for the acquirer's endpoint.
    let h = Harness::new();
    let (endpoint, _) = outbox::create_endpoint(
        &*h.store,
        None,
        &NewEndpoint {
            url: "http://127.0.0.1:9/",
            events: &[EventKind::ComplianceReport],
            description: "acquirer",
        },
        "web:platform",
    )
    .unwrap();
    let sale = approved(h.sale(1_000, "approve"));
    approved(h.void(sale.voucher_no));
    approved(h.sale(2_000, "approve"));
    let wrong = Totals {
        debit_fen: 1,
        debit_count: 1,
        credit_fen: 0,
        credit_count: 0,
    };
    h.settle(Some(wrong));
    let today = h.now().to_zoned(h.store.policy().zone().unwrap()).date();
    let r = report(&*h.store, today).unwrap();
    assert!(!r.green);
    assert_eq!(r.unbalanced_batches.len(), 1);
    assert_eq!(r.voids_by_reason, [(common::REASON.to_owned(), 1)]);
    assert_eq!(r.voids_by_operator.len(), 1);
    assert!(r.conservation_holds && r.audit_first_broken.is_none());

    h.advance_days(1);
    let ran = tick(&*h.store, &cfg(), &dirs(&h)).unwrap();
    let rep = ran.iter().find(|r| r.job == "report").unwrap();
    assert!(!rep.ok && rep.summary.contains("RED"), "{rep:?}");
    let queued = outbox::list_deliveries(&*h.store, None, endpoint.id, 10).unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].kind, "compliance.report");
    let red = suanpan_store::read(&*h.store, |c| {
        use suanpan_store::sql::SqlExt;
        c.one(
            "SELECT COUNT(*) FROM audit WHERE action = 'compliance.red'",
            suanpan_store::p![],
            |r| r.i64(0),
        )
    })
    .unwrap();
    assert_eq!(red, 1);
    let alerts = report_alerts(&h);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(
        alerts[0].inputs.contains("unbalanced_batches=12345678/"),
        "{}",
        alerts[0].inputs
    );
}

/// The alerts a red compliance report raised.
fn report_alerts(h: &Harness) -> Vec<suanpan_store::risk::AlertRow> {
    use suanpan_store::risk::RiskAlerts;
    h.store
        .alerts(None, None)
        .unwrap()
        .into_iter()
        .filter(|a| a.rule == "compliance_report")
        .collect()
}

#[test]
fn a_red_report_raises_one_high_alert_a_green_one_none() {
    // Goal (issue 13: "a red report raises an alert"): under the test clock, a green day
    // raises no alert; after an audit entry is edited the next report is red and raises one
    // high alert naming the broken entry, visible to the acquirer and to no merchant; the
    // same day's report run again (by hand, or after a lost claim) raises no second one.
    use suanpan_store::risk::RiskAlerts;
    let h = Harness::new();
    approved(h.sale(1_000, "approve"));
    let d = dirs(&h);
    let ran = tick(&*h.store, &cfg(), &d).unwrap();
    assert!(ran.iter().all(|r| r.ok), "{ran:?}");
    assert!(report_alerts(&h).is_empty(), "a green report raises none");

    suanpan_store::setup(&*h.store, |tx, _| {
        tx.exec(
            "UPDATE audit SET reason = reason || ' (edited)' WHERE seq = 2",
            suanpan_store::p![],
        )
    })
    .unwrap();
    h.advance_days(1);
    let ran = tick(&*h.store, &cfg(), &d).unwrap();
    let rep = ran.iter().find(|r| r.job == "report").unwrap();
    assert!(!rep.ok, "{rep:?}");
    let alerts = report_alerts(&h);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let a = &alerts[0];
    assert_eq!(
        (a.severity.as_str(), a.action.as_str(), a.status.as_str()),
        ("high", "alerted", "open")
    );
    assert!(
        a.inputs.contains("audit_chain=broken_at_seq_2"),
        "{}",
        a.inputs
    );
    assert!(
        a.inputs.starts_with(&format!("report={} ", rep.period)),
        "{}",
        a.inputs
    );
    assert!(
        h.store
            .alerts(Some(&common::merchant()), None)
            .unwrap()
            .is_empty(),
        "a merchant's queue does not show the platform's alert"
    );

    // The same day's report again: still one alert.
    suanpan_store::setup(&*h.store, |tx, _| {
        tx.exec(
            "DELETE FROM scheduled_runs WHERE job = 'report'",
            suanpan_store::p![],
        )
    })
    .unwrap();
    let again = tick(&*h.store, &cfg(), &d).unwrap();
    assert!(
        again.iter().any(|r| r.job == "report" && !r.ok),
        "{again:?}"
    );
    assert_eq!(
        report_alerts(&h).len(),
        1,
        "no second alert for the same day"
    );
    // Mended, so that the harness's closing check of the chain holds.
    suanpan_store::setup(&*h.store, |tx, _| {
        tx.exec(
            "UPDATE audit SET reason = substr(reason, 1, length(reason) - 9) WHERE seq = 2",
            suanpan_store::p![],
        )
    })
    .unwrap();
}
