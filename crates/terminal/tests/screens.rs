//! The screens' state machine, key by key, without a host: each test feeds keys (and, where
//! the host would answer, a made-up reply), checks the effects, and snapshots the screen as
//! ratatui draws it on a `TestBackend`, in Chinese and in English.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use suanpan_core::Lang;
use suanpan_iso8583::Mti;
use suanpan_terminal::machine::{App, CardChoice, Effect, Job, Key, Reply, Screen};
use suanpan_terminal::net::{NotSent, TxnResult};
use suanpan_terminal::proto::{Kind, Response};
use suanpan_terminal::state::{LocalTxn, PendingReversal, TermState};
use suanpan_terminal::tui::{FRAME_COLS, FRAME_ROWS, draw};

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

const NOW: &str = "2026-11-25T06:30:00Z";

fn state() -> TermState {
    let mut s = TermState::new("12345678", "898310048990001", "演示商户 Demo Store");
    for (no, pw) in [("99", "12345678"), ("00", "123456"), ("01", "0000")] {
        ok(s.set_password(no, pw));
    }
    s.stan = 2;
    s
}

fn cards() -> Vec<CardChoice> {
    vec![
        CardChoice {
            pan: "6222021234567890128".into(),
            expiry: "3012".into(),
            note: "debit".into(),
            entry: "05",
        },
        CardChoice {
            pan: "6225881234567898".into(),
            expiry: "3012".into(),
            note: "PIN 123456".into(),
            entry: "07",
        },
    ]
}

fn sale_row(stan: u32, fen: i64) -> LocalTxn {
    LocalTxn {
        kind: "sale".into(),
        stan,
        batch: 1,
        amount_fen: fen,
        masked_pan: "622202*********0128".into(),
        entry: "05".into(),
        rrn: Some(format!("{:012}", stan)),
        auth_code: Some("123456".into()),
        code: "00".into(),
        at: NOW.into(),
        operator: "01".into(),
        supervisor: None,
        training: false,
        voided: false,
        refunded_fen: 0,
        original_stan: None,
        original_rrn: None,
        linked_stan: None,
        reason: None,
        balance_fen: None,
        completed: false,
    }
}

/// A cashier logged in and signed in, on the main menu.
fn at_menu(lang: Lang, s: TermState) -> App {
    let mut app = App::new(s, lang, cards(), ok(NOW.parse()));
    keys(&mut app, &[Key::Digit(0), Key::Digit(1), Key::Enter]);
    let fx = keys(&mut app, &digits("0000 "));
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Send(Job::SignIn(op)) if op == "01")),
        "login signs in with the operator"
    );
    app.reply(Reply::SignIn(Ok(())));
    assert!(matches!(app.screen, Screen::Menu { .. }));
    app
}

/// `"0000 "`: digits, a space is Enter.
fn digits(text: &str) -> Vec<Key> {
    text.chars()
        .map(|c| match c {
            ' ' => Key::Enter,
            d => Key::Digit(d.to_digit(10).map_or(0, |d| d as u8)),
        })
        .collect()
}

fn keys(app: &mut App, ks: &[Key]) -> Vec<Effect> {
    ks.iter().flat_map(|k| app.key(*k)).collect()
}

fn screen(app: &App) -> String {
    let mut t = ok(Terminal::new(TestBackend::new(FRAME_COLS, FRAME_ROWS)));
    let v = app.view();
    ok(t.draw(|f| draw(f, &v)));
    let buf = t.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        let mut skip = 0;
        for x in 0..buf.area.width {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let sym = buf[(x, y)].symbol();
            skip = unicode_width::UnicodeWidthStr::width(sym).saturating_sub(1);
            line.push_str(sym);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn both(name: &str, build: impl Fn(Lang) -> App) {
    for (lang, tag) in [(Lang::Zh, "zh"), (Lang::En, "en")] {
        let app = build(lang);
        insta::assert_snapshot!(format!("{name}_{tag}"), screen(&app));
    }
}

fn approved(stan: u32, rrn: &str) -> Response {
    Response {
        mti: Mti::FINANCIAL_REQUEST.response(),
        processing_requirement: 0,
        code: "00".into(),
        text: String::new(),
        stan: Some(stan),
        amount: None,
        rrn: Some(rrn.into()),
        auth_code: Some("654321".into()),
        balance: None,
        batch: Some(1),
        totals: None,
        mac_ok: Some(true),
    }
}

#[test]
fn login_menu_and_lockout() {
    // Goal: the login screen masks the password, a wrong one tells the tries left (core
    // lockout rule), five lock the operator; the menu shows every entry of the issue.
    both("login_wrong_password", |lang| {
        let mut app = App::new(state(), lang, cards(), ok(NOW.parse()));
        keys(&mut app, &digits("01 1234"));
        let fx = app.key(Key::Enter);
        assert!(matches!(fx[..], [Effect::Save]), "the failure is saved");
        keys(&mut app, &digits("12"));
        app
    });
    both("menu", |lang| at_menu(lang, state()));
    let mut app = App::new(state(), Lang::Zh, cards(), ok(NOW.parse()));
    keys(&mut app, &digits("01 "));
    for _ in 0..5 {
        keys(&mut app, &digits("9 "));
    }
    let fx = keys(&mut app, &digits("0000 "));
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::Send(_))),
        "locked out"
    );
    assert!(app.view().body.iter().any(|l| l.contains("已锁定")));
}

#[test]
fn amount_accumulates_like_a_pos_and_the_limit_holds() {
    // Goal: 1 → 0.01, 12 → 0.12, 12345 → 123.45; zero and over-the-limit amounts are
    // refused on the screen, the sale goes nowhere.
    let mut app = at_menu(Lang::Zh, state());
    app.key(Key::Digit(1));
    for (d, shown) in [
        (1, "¥0.01"),
        (2, "¥0.12"),
        (3, "¥1.23"),
        (4, "¥12.34"),
        (5, "¥123.45"),
    ] {
        app.key(Key::Digit(d));
        assert!(app.view().body.iter().any(|l| l.contains(shown)), "{shown}");
    }
    both("amount_over_limit", |lang| {
        let mut app = at_menu(lang, state());
        keys(&mut app, &digits("1100000000 "));
        app
    });
    let mut app = at_menu(Lang::En, state());
    let fx = keys(&mut app, &digits("1 "));
    assert!(fx.is_empty());
    assert!(app.view().body.iter().any(|l| l.contains("above zero")));
}

#[test]
fn sale_collects_amount_card_and_masked_pin_then_sends() {
    // Goal: the sale flow sends one request with the card's entry mode and the PIN typed,
    // shown masked.
    both("pin_masked", |lang| {
        let mut app = at_menu(lang, state());
        keys(&mut app, &digits("18800 2123"));
        app
    });
    let mut app = at_menu(Lang::Zh, state());
    keys(&mut app, &digits("18800 "));
    app.key(Key::Up);
    assert!(
        app.view().body.iter().any(|l| l.contains("请挥卡")),
        "read by tap"
    );
    let fx = keys(&mut app, &digits("2123456 "));
    let [Effect::Send(Job::Txn(req))] = &fx[..] else {
        panic!("{fx:?}")
    };
    assert_eq!(req.kind, Kind::Sale);
    assert_eq!(req.amount, 8_800);
    assert_eq!(req.card.entry, "07");
    assert_eq!(req.card.pin.as_deref(), Some("123456"));
}

fn with_sale() -> TermState {
    let mut s = state();
    s.book(sale_row(2, 8_800));
    s
}

/// Menu → 撤销 → voucher (pre-filled) → original → consent → reason → supervisor.
fn void_to_grace(lang: Lang) -> (App, usize) {
    let mut app = at_menu(lang, with_sale());
    let mut presses = 0;
    for k in [Key::Digit(2), Key::Enter, Key::Enter, Key::Enter] {
        assert!(app.key(k).iter().all(|e| !matches!(e, Effect::Send(_))));
        presses += 1;
    }
    keys(&mut app, &digits("123456"));
    app.key(Key::Enter);
    presses += 1;
    (app, presses)
}

#[test]
fn void_flow_in_few_keys_with_a_grace_countdown_driven_by_ticks() {
    // Goal: from the main menu the last sale is voided in at most 6 presses (the
    // supervisor's password digits aside); the countdown moves on ticks, not on a real
    // clock, and the void is sent only when it runs out.
    both("void_original", |lang| {
        let mut app = at_menu(lang, with_sale());
        keys(&mut app, &[Key::Digit(2), Key::Enter]);
        app
    });
    both("void_grace", |lang| {
        let (mut app, _) = void_to_grace(lang);
        keys(&mut app, &[Key::Tick, Key::Tick, Key::Tick]);
        app
    });
    let (mut app, presses) = void_to_grace(Lang::Zh);
    assert!(presses <= 6, "{presses} presses");
    assert!(matches!(app.screen, Screen::Grace { left: 10, .. }));
    for _ in 0..9 {
        assert!(
            app.key(Key::Tick).is_empty(),
            "nothing sent before the window ends"
        );
    }
    let fx = app.key(Key::Tick);
    let [Effect::Send(Job::Txn(req))] = &fx[..] else {
        panic!("{fx:?}")
    };
    assert_eq!(req.kind, Kind::Void);
    assert_eq!(req.amount, 8_800);
    let original = req
        .original
        .as_ref()
        .map(|o| (o.batch, o.stan, o.rrn.clone()));
    assert_eq!(original, Some((1, 2, Some("000000000002".into()))));
}

#[test]
fn a_void_withdrawn_in_the_grace_window_is_never_sent_and_is_recorded() {
    // Goal: Cancel during the countdown sends nothing and records the withdrawal.
    let (mut app, _) = void_to_grace(Lang::Zh);
    keys(&mut app, &[Key::Tick, Key::Tick]);
    let fx = app.key(Key::Cancel);
    assert!(matches!(fx[..], [Effect::Save]), "{fx:?}");
    let w = &app.state.withdrawn_voids;
    assert_eq!(w.len(), 1);
    assert_eq!((w[0].original_stan, w[0].seconds_left), (2, 8));
    assert!(!app.state.journal[0].voided);
}

#[test]
fn wrong_supervisor_password_and_unknown_voucher_are_refused_on_screen() {
    // Goal: both are clear messages on the screen they happen on; nothing is sent.
    both("void_unknown_voucher", |lang| {
        let mut app = at_menu(lang, with_sale());
        let mut ks = vec![Key::Digit(2)];
        ks.extend([Key::Back; 6]);
        ks.extend(digits("77 "));
        assert!(keys(&mut app, &ks).is_empty());
        app
    });
    both("void_wrong_supervisor", |lang| {
        let mut app = at_menu(lang, with_sale());
        keys(
            &mut app,
            &[Key::Digit(2), Key::Enter, Key::Enter, Key::Enter],
        );
        let fx = keys(&mut app, &digits("000000 "));
        assert!(matches!(fx[..], [Effect::Save]));
        app
    });
}

#[test]
fn committed_void_offers_a_recharge_linked_to_the_voided_sale() {
    // Goal: after an approved void the result offers 重新收款; it is a sale for the same
    // amount whose request names the voided sale (field 61), and prints a customer note.
    let build = |lang| {
        let (mut app, _) = void_to_grace(lang);
        let mut fx = Vec::new();
        for _ in 0..10 {
            fx = app.key(Key::Tick);
        }
        assert!(matches!(fx[..], [Effect::Send(Job::Txn(_))]));
        let fx = app.reply(Reply::Txn(
            3,
            TxnResult::Answered(approved(3, "000000000003")),
        ));
        assert!(
            fx.iter()
                .any(|e| matches!(e, Effect::Print(p) if p.name == "000001-void-000003"))
        );
        assert!(app.state.journal[0].voided);
        app
    };
    both("void_approved", build);
    let mut app = build(Lang::Zh);
    app.key(Key::Digit(1));
    let fx = keys(&mut app, &[Key::Digit(1), Key::Enter]);
    let [Effect::Send(Job::Txn(req))] = &fx[..] else {
        panic!("{fx:?}")
    };
    assert_eq!((req.kind, req.amount), (Kind::Sale, 8_800));
    assert_eq!(
        req.original.as_ref().map(|o| o.stan),
        Some(2),
        "linked by 61"
    );
    let fx = app.reply(Reply::Txn(
        4,
        TxnResult::Answered(approved(4, "000000000004")),
    ));
    let names: Vec<&str> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Print(p) => Some(p.name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["000001-sale-000004", "000001-recharge-note-000004"]);
    assert_eq!(
        app.state.journal.last().and_then(|t| t.linked_stan),
        Some(2)
    );
}

#[test]
fn unknown_outcome_and_pending_reversal_block_the_next_sale() {
    // Goal: no answer is shown as unknown, never as declined; while a reversal is pending a
    // financial menu entry sends the reversal instead of a new request.
    both("result_unknown", |lang| {
        let mut app = at_menu(lang, state());
        keys(&mut app, &digits("15000 1 "));
        app.reply(Reply::Txn(
            3,
            TxnResult::NoAnswer {
                reversed: false,
                reason: "98".into(),
            },
        ));
        app
    });
    let mut s = state();
    s.pending_reversal = Some(PendingReversal {
        type_code: 22,
        stan: 3,
        batch: 1,
        amount_fen: 5_000,
        entry: "05".into(),
        original: None,
        original_rrn: None,
        reason: "98".into(),
        training: false,
        attempts: 1,
        next_at: None,
    });
    let mut app = at_menu(Lang::Zh, s);
    for k in [1, 2, 3, 5] {
        let fx = app.key(Key::Digit(k));
        assert!(
            matches!(fx[..], [Effect::Send(Job::Reversal(true))]),
            "menu {k}: {fx:?}"
        );
        app.reply(Reply::Reversal(Err(NotSent::ReversalPending {
            escalated: false,
        })));
        app.key(Key::Cancel);
    }
    assert!(app.view().status.contains("冲正中"));
}

#[test]
fn paper_out_prints_nothing_and_says_so_then_reprint_is_marked() {
    // Goal: with the printer out of paper the result says "打印机缺纸，请装纸后重打印";
    // once paper is in, 打印-1 reprints the last slip marked 重打印.
    both("paper_out", |lang| {
        let mut s = state();
        s.paper_out = true;
        let mut app = at_menu(lang, s);
        keys(&mut app, &digits("1100 1 "));
        let fx = app.reply(Reply::Txn(
            3,
            TxnResult::Answered(approved(3, "000000000007")),
        ));
        assert!(
            !fx.iter()
                .any(|e| matches!(e, Effect::Print(p) if !p.name.is_empty()))
        );
        app
    });
    let mut s = state();
    s.book(sale_row(2, 100));
    let mut app = at_menu(Lang::Zh, s);
    let fx = keys(&mut app, &[Key::Digit(8), Key::Digit(1)]);
    let text = fx
        .iter()
        .find_map(|e| match e {
            Effect::Print(p) => Some(p.text.clone()),
            _ => None,
        })
        .unwrap_or_default();
    assert!(text.contains("重打印"), "{text}");
}

#[test]
fn settlement_screen_shows_the_terminal_totals_without_training() {
    // Goal: the settlement screen shows the batch's debit and credit totals by the core's
    // rule; a training sale does not count.
    both("settle", |lang| {
        let mut s = with_sale();
        let mut training = sale_row(3, 9_900);
        training.training = true;
        s.book(training);
        let mut app = at_menu(lang, s);
        app.key(Key::Digit(7));
        app
    });
}

#[test]
fn training_walkthrough_tells_each_step_and_refuses_wrong_keys() {
    // Goal: turning training mode on offers the lessons; a lesson names the key of each
    // step, refuses a wrong key without acting on it, and its sale is a training request.
    both("lessons", |lang| {
        let mut app = at_menu(lang, state());
        keys(&mut app, &[Key::Up, Key::Enter]);
        app
    });
    both("lesson_wrong_key", |lang| {
        let mut app = at_menu(lang, state());
        keys(&mut app, &[Key::Up, Key::Enter, Key::Digit(1)]);
        assert!(
            app.key(Key::Digit(2)).is_empty(),
            "a wrong key does nothing"
        );
        assert!(matches!(app.screen, Screen::Menu { .. }));
        app
    });
    let mut app = at_menu(Lang::Zh, state());
    keys(&mut app, &[Key::Up, Key::Enter, Key::Digit(1)]);
    let fx = keys(&mut app, &digits("11000 1 "));
    let [Effect::Send(Job::Txn(req))] = &fx[..] else {
        panic!("{fx:?}")
    };
    assert!(req.training, "a lesson's sale is a training request");
    app.reply(Reply::Txn(
        3,
        TxnResult::Answered(approved(3, "000000000003")),
    ));
    assert!(app.view().body.iter().any(|l| l.contains("教程 5/5")));
    app.key(Key::Enter);
    assert!(matches!(app.screen, Screen::Receipt { .. }));
    assert!(app.view().body.iter().any(|l| l.contains("教程完成")));
    assert!(app.view().status.contains("[培训]"));
}

#[test]
fn system_admin_sets_parameters_and_clears_settled_records_only() {
    // Goal: 99 does not trade; it sets the void grace window (bounded) and the amount
    // limit, and clears only settled batches' rows, with its own password.
    both("admin_params", |lang| {
        let mut app = App::new(state(), lang, cards(), ok(NOW.parse()));
        let fx = keys(&mut app, &digits("99 12345678 "));
        assert!(
            !fx.iter().any(|e| matches!(e, Effect::Send(_))),
            "99 does not sign in"
        );
        keys(&mut app, &digits("6999 "));
        app
    });
    let mut s = state();
    let mut old = sale_row(9, 500);
    old.batch = 0;
    s.book(old);
    s.book(sale_row(2, 100));
    let mut app = App::new(s, Lang::Zh, cards(), ok(NOW.parse()));
    keys(&mut app, &digits("99 12345678 "));
    let fx = keys(&mut app, &digits("65 2000000 "));
    assert!(matches!(fx[..], [Effect::Save]), "{fx:?}");
    assert_eq!(app.state.params.void_grace_seconds, 5);
    assert_eq!(app.state.params.amount_max_fen, 2_000_000);
    keys(&mut app, &digits("51111 "));
    assert!(app.view().body.iter().any(|l| l.contains("密码错误")));
    keys(&mut app, &digits("12345678 "));
    let stans: Vec<u32> = app.state.journal.iter().map(|t| t.stan).collect();
    assert_eq!(stans, [2], "the open batch stays");
}
