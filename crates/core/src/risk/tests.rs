//! The risk rules, one goal per test, and the property that no rule moves money.

use super::*;
use proptest::prelude::*;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

const NOW: &str = "2026-12-01T02:00:00Z";

fn facts() -> Facts {
    Facts {
        now: at(NOW),
        local_time: Time::new(10, 0, 0, 0).unwrap(),
        kind: TxnKind::Sale,
        amount: Amount::from_fen(10_000),
        by_card: true,
        card_events: Vec::new(),
        terminal_window: None,
        merchant_window: None,
        limits: Limits::default(),
        schedule: None,
        blocklisted: false,
        duplicate_confirmed: false,
        review_approved: false,
        pin_entered: false,
    }
}

fn event(id: i64, kind: TxnKind, approved: bool, fen: i64, minutes_ago: i64) -> CardEvent {
    CardEvent {
        id: TxnId(id),
        kind,
        approved,
        declined: !approved,
        amount: Amount::from_fen(fen),
        at: at(NOW)
            .checked_sub(jiff::SignedDuration::from_mins(minutes_ago))
            .unwrap(),
    }
}

fn decline(id: i64, minutes_ago: i64) -> CardEvent {
    event(id, TxnKind::Sale, false, 10_000, minutes_ago)
}

#[test]
fn nothing_fires_on_a_plain_sale() {
    // Goal: an ordinary sale is allowed without findings.
    let a = assess(&RiskParams::default(), &facts());
    assert_eq!(a.decision, Decision::Allow);
    assert!(a.findings.is_empty());
}

#[test]
fn three_declines_with_require_pin_let_only_a_pin_through_until_the_block_ends() {
    // Goal: 「加强身份验证」 — with `declines_action = "require_pin"` the fourth attempt
    // without a PIN is refused (PIN required, saying until when), with a PIN it goes on to
    // the issuer, and after the block no PIN is asked.
    let p = RiskParams {
        declines_action: DeclinesAction::RequirePin,
        ..RiskParams::default()
    };
    let mut f = facts();
    f.card_events = vec![decline(3, 1), decline(2, 4), decline(1, 8)];
    let a = assess(&p, &f);
    assert_eq!(
        a.decision,
        Decision::Refuse(RiskRefused::PinRequired {
            until: "10:29".into()
        })
    );
    assert!(
        a.findings[0].inputs.ends_with("action=require_pin"),
        "{:?}",
        a.findings
    );
    if let Decision::Refuse(r) = &a.decision {
        assert_eq!(r.key(), "risk.pin_required");
    }
    f.pin_entered = true;
    assert_eq!(assess(&p, &f).decision, Decision::Allow);
    f.pin_entered = false;
    f.now = f
        .now
        .checked_add(jiff::SignedDuration::from_mins(30))
        .unwrap();
    assert_eq!(assess(&p, &f).decision, Decision::Allow);
    // The words say what to do, in both languages, with no internal name.
    let r = RiskRefused::PinRequired {
        until: "10:29".into(),
    };
    assert_eq!(r.message(Lang::Zh), "此卡连续失败，10:29前须输入密码");
    assert_eq!(r.remedy(Lang::Zh), "请持卡人输入密码后重新交易");
    assert!(r.message(Lang::En).contains("PIN needed until 10:29"));
}

#[test]
fn three_declines_in_ten_minutes_block_the_card_for_the_block_time() {
    // Goal: the seeds' "连续多次交易失败 → 暂时限制" — three declines within 10 minutes
    // refuse the fourth attempt until 30 minutes after the last decline.
    let p = RiskParams::default();
    let mut f = facts();
    f.card_events = vec![decline(3, 1), decline(2, 4), decline(1, 8)];
    let a = assess(&p, &f);
    let Decision::Refuse(RiskRefused::CardBlocked { until }) = &a.decision else {
        panic!("{a:?}")
    };
    assert_eq!(
        until, "10:29",
        "local 10:00 now, last decline 1 minute ago + 30"
    );
    assert_eq!(a.findings[0].evidence, vec![TxnId(3), TxnId(2), TxnId(1)]);
    // After the block the card works again.
    f.now = f
        .now
        .checked_add(jiff::SignedDuration::from_mins(30))
        .unwrap();
    assert_eq!(assess(&p, &f).decision, Decision::Allow);
}

#[test]
fn declines_spread_over_more_than_the_window_or_broken_by_an_approval_do_not_block() {
    // Goal: only a run of declines close together counts.
    let p = RiskParams::default();
    let mut f = facts();
    f.card_events = vec![decline(3, 1), decline(2, 4), decline(1, 12)];
    assert_eq!(assess(&p, &f).decision, Decision::Allow);
    f.card_events = vec![
        decline(4, 1),
        decline(3, 2),
        event(2, TxnKind::Sale, true, 500, 3),
        decline(1, 4),
    ];
    let a = assess(&p, &f);
    assert!(!matches!(a.decision, Decision::Refuse(_)), "{a:?}");
}

#[test]
fn the_same_card_and_amount_within_minutes_is_a_possible_duplicate_until_confirmed() {
    // Goal: issue 13's duplicate charge: refused "疑似重复，确认后重试"; the confirmed retry
    // goes through with a low alert that links the earlier sale.
    let p = RiskParams::default();
    let mut f = facts();
    f.card_events = vec![event(7, TxnKind::Sale, true, 10_000, 3)];
    let a = assess(&p, &f);
    assert_eq!(a.decision, Decision::Refuse(RiskRefused::PossibleDuplicate));
    assert_eq!(
        RiskRefused::PossibleDuplicate.message(Lang::Zh),
        "疑似重复，确认后重试"
    );
    f.duplicate_confirmed = true;
    let a = assess(&p, &f);
    assert_eq!(a.decision, Decision::Alert);
    assert_eq!(a.findings[0].evidence, vec![TxnId(7)]);
    // Another amount, or a sale older than the window, is no duplicate.
    f.duplicate_confirmed = false;
    f.amount = Amount::from_fen(10_001);
    assert_eq!(assess(&p, &f).decision, Decision::Allow);
    f.amount = Amount::from_fen(10_000);
    f.card_events = vec![event(7, TxnKind::Sale, true, 10_000, 11)];
    assert_eq!(assess(&p, &f).decision, Decision::Allow);
}

#[test]
fn an_amount_above_the_limit_is_declined_or_held_and_an_approved_review_lets_it_through() {
    // Goal: 大额交易 — decline by default, hold for review when configured, and once a
    // reviewer approved it the same card's retry is allowed (alerted).
    let mut p = RiskParams::default();
    let mut f = facts();
    f.amount = Amount::from_fen(5_000_001);
    let limit = Amount::from_fen(5_000_000);
    assert_eq!(
        assess(&p, &f).decision,
        Decision::Refuse(RiskRefused::OverLimit { limit })
    );
    p.over_limit = OverLimitAction::Review;
    assert_eq!(
        assess(&p, &f).decision,
        Decision::Hold(RiskRefused::HeldForReview { limit })
    );
    f.review_approved = true;
    assert_eq!(assess(&p, &f).decision, Decision::Alert);
    f.amount = limit;
    f.review_approved = false;
    assert_eq!(assess(&p, &f).decision, Decision::Allow);
}

#[test]
fn velocity_counts_the_card_and_the_terminal_and_merchant_windows() {
    // Goal: 频繁交易 — the count or the sum in the sliding window refuses, per scope.
    let p = RiskParams {
        duplicate_minutes: 0,
        limits: Limits {
            card_count_max: 2,
            ..Limits::default()
        },
        ..RiskParams::default()
    };
    let mut f = facts();
    f.limits = p.limits.clone();
    f.card_events = vec![
        event(2, TxnKind::Sale, true, 100, 5),
        event(1, TxnKind::Sale, true, 100, 70),
    ];
    assert_eq!(
        assess(&p, &f).decision,
        Decision::Allow,
        "one is outside the hour"
    );
    f.card_events.push(event(3, TxnKind::Sale, true, 100, 6));
    let card = Decision::Refuse(RiskRefused::Velocity {
        scope: VelocityScope::Card,
    });
    assert_eq!(assess(&p, &f).decision, card);
    f.card_events.clear();
    f.limits.terminal_amount_max_fen = 50_000;
    f.terminal_window = Some(Window {
        count: 4,
        sum: Amount::from_fen(40_001),
    });
    let term = Decision::Refuse(RiskRefused::Velocity {
        scope: VelocityScope::Terminal,
    });
    assert_eq!(assess(&p, &f).decision, term);
    f.terminal_window = None;
    f.limits.merchant_count_max = 4;
    f.merchant_window = Some(Window {
        count: 4,
        sum: Amount::from_fen(1),
    });
    let merchant = Decision::Refuse(RiskRefused::Velocity {
        scope: VelocityScope::Merchant,
    });
    assert_eq!(assess(&p, &f).decision, merchant);
}

#[test]
fn off_hours_blocklist_and_sale_after_void() {
    // Goal: the schedule (also across midnight) and the blocklist refuse; a sale minutes
    // after a void on the card only alerts.
    let p = RiskParams::default();
    let mut f = facts();
    f.schedule = Some(Schedule {
        open: Time::new(22, 0, 0, 0).unwrap(),
        close: Time::new(6, 0, 0, 0).unwrap(),
    });
    assert!(matches!(
        assess(&p, &f).decision,
        Decision::Refuse(RiskRefused::OffHours { .. })
    ));
    f.local_time = Time::new(23, 0, 0, 0).unwrap();
    assert_eq!(assess(&p, &f).decision, Decision::Allow);
    f.blocklisted = true;
    assert_eq!(
        assess(&p, &f).decision,
        Decision::Refuse(RiskRefused::Blocklisted)
    );
    f.blocklisted = false;
    f.card_events = vec![event(9, TxnKind::Void, true, 10_000, 2)];
    let a = assess(&p, &f);
    assert_eq!(a.decision, Decision::Alert);
    assert_eq!(a.findings[0].rule, Rule::SaleAfterVoid);
    assert_eq!(a.findings[0].evidence, vec![TxnId(9)]);
}

#[test]
fn a_merchant_may_only_tighten_the_acquirers_limits() {
    // Goal: acquirer-set limits; a merchant's own value above them, or off where the
    // acquirer set one, is refused; tighter values, and the effective limits, are the min.
    let acq = Limits {
        card_count_max: 20,
        ..Limits::default()
    };
    let tighter = Limits {
        single_amount_max_fen: 100_000,
        terminal_count_max: 50,
        ..acq.clone()
    };
    assert_eq!(decide_merchant_limits(&acq, &tighter), Ok(()));
    let looser = Limits {
        single_amount_max_fen: 6_000_000,
        ..acq.clone()
    };
    assert_eq!(
        decide_merchant_limits(&acq, &looser),
        Err(RiskRefused::LooserThanAcquirer {
            field: "single_amount_max_fen"
        })
    );
    let off = Limits {
        card_count_max: 0,
        ..acq.clone()
    };
    assert!(decide_merchant_limits(&acq, &off).is_err());
    let eff = acq.tightened(&tighter);
    assert_eq!(eff.single_amount_max_fen, 100_000);
    assert_eq!(eff.terminal_count_max, 50);
    assert_eq!(eff.card_count_max, 20);
}

#[test]
fn void_ratio_alerts_only_past_the_minimum_of_sales() {
    // Goal: the void/refund ratio is an alert, counted once enough sales are in.
    let p = RiskParams::default();
    assert!(void_ratio(&p, 9, 9).is_none());
    assert!(void_ratio(&p, 10, 2).is_none());
    let x = void_ratio(&p, 10, 3).unwrap();
    assert_eq!(x.action, Action::Alert);
}

#[test]
fn the_catalog_is_complete() {
    // Goal: every risk text exists in both languages and every refusal has a message and a
    // remedy; the terminal's texts fit 63.2 (30 Chinese characters).
    assert_eq!(CATALOG.problems(), Vec::<String>::new());
    for r in [
        RiskRefused::CardBlocked {
            until: "10:30".into(),
        },
        RiskRefused::Velocity {
            scope: VelocityScope::Merchant,
        },
        RiskRefused::OverLimit {
            limit: Amount::from_fen(5_000_000),
        },
        RiskRefused::HeldForReview {
            limit: Amount::from_fen(5_000_000),
        },
        RiskRefused::PossibleDuplicate,
        RiskRefused::OffHours {
            open: "08:00".into(),
            close: "22:00".into(),
        },
        RiskRefused::Blocklisted,
        RiskRefused::LooserThanAcquirer {
            field: "card_count_max",
        },
    ] {
        assert!(CATALOG.has(&format!("{}.msg", r.key())));
        assert!(CATALOG.has(&format!("{}.fix", r.key())));
        assert!(r.message(Lang::Zh).chars().count() <= 30, "{r:?}");
    }
    for rule in Rule::ALL {
        assert_eq!(Rule::parse(rule.as_str()), Some(rule));
        assert!(!rule.label(Lang::Zh).starts_with("risk."));
    }
}

fn arb_event() -> impl Strategy<Value = CardEvent> {
    (
        1i64..1000,
        prop::sample::select(vec![
            TxnKind::Sale,
            TxnKind::PreAuth,
            TxnKind::Void,
            TxnKind::BalanceInquiry,
        ]),
        any::<bool>(),
        prop::sample::select(vec![100i64, 10_000, 5_000_001]),
        0i64..120,
    )
        .prop_map(|(id, kind, ok, fen, ago)| event(id, kind, ok, fen, ago))
}

proptest! {
    /// Goal: whatever the facts, the rules only allow, alert, hold or refuse: the decision is
    /// the strongest of the findings' actions, a refusing or holding decision always names a
    /// finding, and nothing in an assessment is an amount to book (the type has none; this
    /// checks the decision is consistent, so a caller's "book only on Allow/Alert" is total).
    #[test]
    fn no_rule_moves_money(
        events in prop::collection::vec(arb_event(), 0..12),
        fen in prop::sample::select(vec![100i64, 10_000, 5_000_001]),
        confirmed in any::<bool>(),
        reviewed in any::<bool>(),
        blocked in any::<bool>(),
        review in any::<bool>(),
    ) {
        let mut events = events;
        events.sort_by_key(|e| std::cmp::Reverse(e.at));
        let mut p = RiskParams::default();
        if review {
            p.over_limit = OverLimitAction::Review;
        }
        let mut f = facts();
        f.amount = Amount::from_fen(fen);
        f.card_events = events;
        f.duplicate_confirmed = confirmed;
        f.review_approved = reviewed;
        f.blocklisted = blocked;
        let a = assess(&p, &f);
        let refuses = a.findings.iter().any(|x| matches!(x.action, Action::Refuse(_)));
        let holds = a.findings.iter().any(|x| matches!(x.action, Action::Hold(_)));
        match &a.decision {
            Decision::Refuse(_) => prop_assert!(refuses),
            Decision::Hold(_) => prop_assert!(holds && !refuses),
            Decision::Alert => prop_assert!(!refuses && !holds && !a.findings.is_empty()),
            Decision::Allow => prop_assert!(a.findings.is_empty()),
        }
        // The same facts always give the same answer (a pure function).
        prop_assert_eq!(assess(&p, &f), a);
    }
}

#[test]
fn alert_steps_follow_the_queue() {
    // Goal: open → acknowledged → resolved with a note; only a pending review is approved or
    // rejected; a resolved alert takes no more steps.
    use AlertAction::*;
    assert_eq!(decide_alert_step("open", None, Acknowledge, ""), Ok(()));
    assert_eq!(
        decide_alert_step("acknowledged", None, Acknowledge, ""),
        Err(RiskRefused::AlertNotOpen)
    );
    assert_eq!(
        decide_alert_step("open", None, Resolve, "  "),
        Err(RiskRefused::NoteRequired)
    );
    assert_eq!(
        decide_alert_step("acknowledged", None, Resolve, "核实无误"),
        Ok(())
    );
    assert_eq!(
        decide_alert_step("resolved", None, Resolve, "again"),
        Err(RiskRefused::AlertResolved)
    );
    assert_eq!(
        decide_alert_step("open", Some("pending"), Approve, ""),
        Ok(())
    );
    assert_eq!(
        decide_alert_step("acknowledged", Some("approved"), Reject, ""),
        Err(RiskRefused::NoReviewPending)
    );
}

#[test]
fn a_looser_merchant_limit_is_refused_in_words_not_config_keys() {
    // Goal: the sentence a merchant admin reads names the limit as a person says it.
    let r = RiskRefused::LooserThanAcquirer {
        field: "single_amount_max_fen",
    };
    let zh = r.message(Lang::Zh);
    let en = r.message(Lang::En);
    assert!(zh.contains("单笔限额") && !zh.contains("_fen"), "{zh}");
    assert!(
        en.contains("Single payment limit") && !en.contains("_fen"),
        "{en}"
    );
    for (field, _) in Limits::default().fields() {
        for lang in [Lang::Zh, Lang::En] {
            assert_ne!(limit_label(lang, field), field, "{field} has no words");
        }
    }
}

#[test]
fn only_a_card_rule_reads_the_card_history() {
    // Goal (issue 13, the rules' cost): the write path loads a card's history only when a
    // rule reads it, so `[risk]` off costs no lookback query per sale.
    let on = RiskParams::default();
    assert!(on.reads_card_events(&on.limits));
    let off = RiskParams::off();
    assert!(!off.reads_card_events(&off.limits));
    let velocity = Limits {
        card_count_max: 5,
        ..off.limits.clone()
    };
    assert!(off.reads_card_events(&velocity));
    let duplicate = RiskParams {
        duplicate_minutes: 10,
        ..RiskParams::off()
    };
    assert!(duplicate.reads_card_events(&duplicate.limits));
}

#[test]
fn only_a_terminal_rule_reads_the_terminal_history() {
    // Goal (issue 15): the store keeps `txns_terminal_created` only while the terminal's
    // velocity or its void ratio is on; every other rule leaves it unread.
    let off = RiskParams::off();
    assert!(!off.reads_terminal_txns(&off.limits));
    let card_only = Limits {
        card_count_max: 5,
        ..off.limits.clone()
    };
    assert!(!off.reads_terminal_txns(&card_only));
    let velocity = Limits {
        terminal_amount_max_fen: 100_000,
        ..off.limits.clone()
    };
    assert!(off.reads_terminal_txns(&velocity));
    let ratio = RiskParams {
        void_ratio_percent_max: 20,
        ..RiskParams::off()
    };
    assert!(ratio.reads_terminal_txns(&ratio.limits));
}

#[test]
fn the_card_lookback_is_the_longest_enabled_window() {
    // Goal (issue 13, the rules' cost): a sale reads only as much of the card's history as
    // an enabled rule looks at. By default the card's velocity is off, so its hour is not
    // read: the decline run (10 minutes, then a 30-minute block) is the longest.
    let p = RiskParams::default();
    assert_eq!(p.card_lookback_minutes(&p.limits), 40);
    let velocity = Limits {
        card_amount_max_fen: 100_000,
        ..p.limits.clone()
    };
    assert_eq!(p.card_lookback_minutes(&velocity), 60);
    let only_duplicate = RiskParams {
        duplicate_minutes: 15,
        ..RiskParams::off()
    };
    assert_eq!(
        only_duplicate.card_lookback_minutes(&only_duplicate.limits),
        15
    );
    let only_after_void = RiskParams {
        sale_after_void_minutes: 5,
        ..RiskParams::off()
    };
    assert_eq!(
        only_after_void.card_lookback_minutes(&only_after_void.limits),
        5
    );
    let off = RiskParams::off();
    assert_eq!(off.card_lookback_minutes(&off.limits), 0);
}

proptest! {
    /// Goal: the lookback cut to the longest enabled window sees every event a rule counts:
    /// assessing a card's last two hours cut at [`RiskParams::card_lookback_minutes`] gives
    /// the same answer (decision, findings, evidence) as assessing all of them, with the
    /// card's velocity on or off and the windows varied.
    #[test]
    fn a_shorter_lookback_changes_no_decision(
        events in prop::collection::vec(arb_event(), 0..20),
        fen in prop::sample::select(vec![100i64, 10_000, 5_000_001]),
        card_velocity in any::<bool>(),
        declines_window in 1u32..30,
        block in 1u32..60,
        duplicate in 0u32..30,
        after_void in 0u32..30,
    ) {
        let mut events = events;
        events.sort_by_key(|e| std::cmp::Reverse(e.at));
        let p = RiskParams {
            declines_window_minutes: declines_window,
            decline_block_minutes: block,
            duplicate_minutes: duplicate,
            sale_after_void_minutes: after_void,
            ..RiskParams::default()
        };
        let mut f = facts();
        f.amount = Amount::from_fen(fen);
        if card_velocity {
            f.limits.card_count_max = 3;
            f.limits.card_amount_max_fen = 20_000;
        }
        let minutes = p.card_lookback_minutes(&f.limits);
        let cut = f.now.checked_sub(jiff::SignedDuration::from_mins(i64::from(minutes))).unwrap();
        f.card_events = events.clone();
        let all = assess(&p, &f);
        f.card_events = events.into_iter().filter(|e| e.at >= cut).collect();
        prop_assert_eq!(assess(&p, &f), all);
    }
}
