//! What a PostgreSQL group fetches ahead for its sales (`repo::prefetch`) is never stale
//! inside the group: commands that change what a later sale of the same group reads run in
//! that group, and the later sale decides as if it had read the store. Each test forces its
//! commands into one group (see [`in_one_group`]); skipped without
//! `SUANPAN_TEST_DATABASE_URL`.

mod common;

use common::*;
use std::sync::mpsc;
use std::time::Duration;
use suanpan_core::{Amount, PaymentMethod, TxnKind, VoucherNo};
use suanpan_store::command::{Origin, Purchase};
use suanpan_store::sql::SqlExt;
use suanpan_store::{Ask, AskExt, PgStore, PurchaseReply, Store, StoreError};

/// The demo card the issuer simulator approves.
const APPROVE: &str = "approve";

/// How long a test waits for the writer's answer or for its lock holder.
const WAIT_MAX: Duration = Duration::from_secs(60);

/// Runs what `queue` hands the writer in one group of `store`'s writer. The test holds the
/// demo terminal's row locked; a wallet sale queued first makes the writer wait for that
/// lock in its group; the commands `queue` submits queue behind it while it waits, and the
/// writer takes them together once the lock is let go. Answers what `queue` gave (the
/// answers to wait for).
fn in_one_group<T>(store: &dyn Store, queue: impl FnOnce(&dyn Store) -> T) -> T {
    let (locked_tx, locked_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    std::thread::scope(|s| {
        let holder = s.spawn(move || {
            store.with_setup(&mut |c, _| {
                c.exec(
                    "SELECT id FROM terminals WHERE id = ?1 FOR UPDATE",
                    suanpan_store::p![terminal().as_str()],
                )?;
                locked_tx.send(()).ok();
                go_rx.recv_timeout(WAIT_MAX).ok();
                Ok(())
            })
        });
        locked_rx.recv_timeout(WAIT_MAX).expect("terminal locked");
        let (w, method) = wallet(0);
        let blocker = submit(store, purchase(cashier(), 100, w, method));
        // The writer takes the blocker alone and waits for the lock in its prefetch.
        std::thread::sleep(Duration::from_millis(300));
        let answers = queue(store);
        go_tx.send(()).expect("holder waiting");
        holder
            .join()
            .expect("holder")
            .expect("lock holder's transaction");
        approved(answer(blocker));
        answers
    })
}

/// Where one command's typed reply arrives.
type Answer<R> = mpsc::Receiver<Result<R, StoreError>>;

fn submit<A: Ask>(store: &dyn Store, cmd: A) -> Answer<A::Reply> {
    let (tx, rx) = mpsc::channel();
    store
        .ask_then(cmd, move |r| {
            tx.send(r).ok();
        })
        .expect("queued");
    rx
}

fn answer<R>(rx: Answer<R>) -> R {
    rx.recv_timeout(WAIT_MAX)
        .expect("the writer answered")
        .expect("the command ran")
}

fn purchase(
    origin: Origin,
    fen: i64,
    instrument: suanpan_store::Instrument,
    method: PaymentMethod,
) -> Purchase {
    Purchase {
        origin,
        kind: TxnKind::Sale,
        amount: Amount::from_fen(fen),
        instrument,
        method,
        pin: demo_card(APPROVE)
            .pin
            .map(suanpan_issuer::EnteredPin::clear)
            .filter(|_| matches!(method, PaymentMethod::Chip)),
        linked_id: None,
        confirm_duplicate: false,
    }
}

fn keyed(voucher: u32, key: &str, hash: &str) -> Origin {
    Origin {
        voucher: Some(VoucherNo::new(voucher).expect("voucher")),
        idempotency: Some((key.to_owned(), hash.to_owned())),
        ..cashier()
    }
}

#[test]
fn a_retry_in_the_same_group_replays_the_booking_before_it() {
    // Goal: the idempotency key fetched ahead (absent) is not the answer for a retry queued
    // behind its original: the retry replays it, a reuse with another request is refused,
    // and the card is debited once.
    let Some(h) = Harness::on(Backend::Postgres) else {
        return skipped();
    };
    let start = h.balance(APPROVE);
    let key = "12345678/000001/000500/0200";
    let sale = |hash: &str| {
        purchase(
            keyed(500, key, hash),
            1_500,
            card(APPROVE),
            PaymentMethod::Chip,
        )
    };
    let answers = in_one_group(&*h.store, |s| {
        [sale("a"), sale("a"), sale("b")].map(|c| submit(s, c))
    });
    let mut replies = answers.into_iter().map(answer);
    let first = approved(replies.next().expect("first"));
    match replies.next().expect("retry") {
        PurchaseReply::Replayed(t) => assert_eq!(t, first),
        other => panic!("expected a replay, got {other:?}"),
    }
    match replies.next().expect("reuse") {
        PurchaseReply::Refused(r) => assert_eq!(r.key(), "access.duplicate"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(h.balance(APPROVE), start - 1_500, "debited once");
    let booked = h
        .all_txns()
        .into_iter()
        .filter(|t| t.id == first.id)
        .count();
    assert_eq!(booked, 1);
}

#[test]
fn a_second_charge_of_a_card_in_the_same_group_sees_the_first() {
    // Goal: the card history fetched ahead is dropped when the group books for that card:
    // the duplicate rule (risk on, as `serve` runs) refuses the second identical charge.
    let Some(h) = Harness::on(Backend::Postgres) else {
        return skipped();
    };
    let mut opts = options(h.store.policy().clone(), h.clock.clone());
    opts.policy.risk = suanpan_core::risk::RiskParams::default();
    let pg = h.pg.clone().expect("PostgreSQL harness");
    let risky = PgStore::open(pg, opts).expect("open with the risk rules");
    let start = h.balance(APPROVE);
    let sale = || purchase(cashier(), 2_000, card(APPROVE), PaymentMethod::Chip);
    let answers = in_one_group(&risky, |s| [sale(), sale()].map(|c| submit(s, c)));
    let mut replies = answers.into_iter().map(answer);
    approved(replies.next().expect("first"));
    match replies.next().expect("second") {
        PurchaseReply::Refused(r) => assert_eq!(r.key(), "risk.possible_duplicate"),
        other => panic!("expected the duplicate rule, got {other:?}"),
    }
    assert_eq!(h.balance(APPROVE), start - 2_000, "charged once");
}

#[test]
fn a_reversal_earlier_in_the_group_refuses_its_late_original() {
    // Goal: a reversal that overtook its sale in the same group is seen by the sale (the
    // remembered reversal fetched ahead was absent): refused, nothing debited.
    let Some(h) = Harness::on(Backend::Postgres) else {
        return skipped();
    };
    let start = h.balance(APPROVE);
    let voucher = VoucherNo::new(700).expect("voucher");
    let reversal = suanpan_store::command::Reverse {
        origin: cashier(),
        voucher,
        amount: None,
        reason: "98".to_owned(),
    };
    let late = Origin {
        voucher: Some(voucher),
        ..cashier()
    };
    let sale = purchase(late, 3_000, card(APPROVE), PaymentMethod::Chip);
    let (reversed, late) = in_one_group(&*h.store, |s| (submit(s, reversal), submit(s, sale)));
    answer(reversed);
    match answer(late) {
        PurchaseReply::Refused(r) => assert_eq!(r.key(), "access.reversed_first"),
        other => panic!("expected the late original refused, got {other:?}"),
    }
    assert_eq!(h.balance(APPROVE), start, "nothing debited");
}

#[test]
fn many_sales_of_one_group_each_debit_their_card_once() {
    // Goal: accounts locked and cached by the fetch, and bookings sent with later
    // statements, leave exactly the sum of the group's approved sales taken from each card.
    let Some(h) = Harness::on(Backend::Postgres) else {
        return skipped();
    };
    let start = h.balance(APPROVE);
    let before = h.all_txns().len();
    let sales: Vec<Purchase> = (0..8)
        .map(|i| purchase(cashier(), 100 + i, card(APPROVE), PaymentMethod::Chip))
        .collect();
    let answers = in_one_group(&*h.store, |s| {
        sales.into_iter().map(|c| submit(s, c)).collect::<Vec<_>>()
    });
    let ids: Vec<_> = answers
        .into_iter()
        .map(|r| approved(answer(r)).id)
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 8, "eight ids: {ids:?}");
    let total: i64 = (0..8).map(|i| 100 + i).sum();
    assert_eq!(h.balance(APPROVE), start - total);
    // The wallet sale that held the writer, and the eight.
    assert_eq!(h.all_txns().len(), before + 9);
    for id in ids {
        let t = h.store.transaction(id).expect("read").expect("booked");
        assert_eq!(t.id, id);
    }
}

#[test]
fn a_card_history_read_stops_at_its_limit_however_long_the_history() {
    // Goal: the card rules' history read (`repo::risk::card_events`, the statement the group
    // also fetches ahead) takes about `CARD_EVENTS_MAX` index entries, not every row of the
    // card's window. On a journal PostgreSQL has no statistics for (a new database on a server
    // without autovacuum) it planned a bitmap scan of the whole window and a sort, so a sale
    // cost more with each sale of its card (docs/BENCHMARKS.md, s21-pg).
    let Some(h) = Harness::on(Backend::Postgres) else {
        return skipped();
    };
    suanpan_store::risk_index::apply(&*h.store, suanpan_store::risk_index::RiskIndexes::ALL)
        .expect("risk indexes");
    let limit = i64::from(suanpan_core::risk::CARD_EVENTS_MAX);
    // A journal of the benchmark's shape: 64 cards, each with more sales in the window than
    // the rules read. Rows written straight, as history: only their card and time matter
    // (declined, so no money moved and the harness's conservation check holds).
    let (rows, cards) = (20_000, 64);
    let now = h.now().as_microsecond();
    let (mut events, mut read) = (0, 0);
    h.store
        .with_setup(&mut |c, _| {
            c.exec(
                "INSERT INTO txns (kind, status, amount_fen, method, card_fp, merchant_id,
                     terminal_id, operator, batch_id, batch_no, voucher_no, response_code, created_at)
                 SELECT 'sale', 'declined', 100, 'chip', 'card-' || (g % ?2::bigint), t.merchant_id, t.id,
                     '01', b.id, b.batch_no, g, '05', ?3::bigint - g
                 FROM generate_series(1, ?1::bigint) AS g, terminals t JOIN batches b ON b.id = t.batch_id
                 WHERE t.id = ?4",
                suanpan_store::p![rows, cards, now, terminal().as_str()],
            )?;
            let entries_read = || {
                c.one(
                    "SELECT pg_stat_get_xact_tuples_returned('txns_card_recent'::regclass)",
                    &[],
                    |r| r.i64(0),
                )
            };
            let before = entries_read()?;
            let since = h.now().checked_sub(jiff::SignedDuration::from_hours(1));
            let since = since.expect("an hour ago");
            events = suanpan_store::repo::risk::card_events(c, "card-1", since)?.len();
            read = entries_read()? - before;
            Ok(())
        })
        .expect("read a card's history");
    assert_eq!(
        i64::try_from(events).expect("small"),
        limit,
        "the newest {limit}"
    );
    let slack = 8;
    assert!(
        read <= limit + slack,
        "{read} index entries read for {limit} events of a card with {} in its window",
        rows / cards
    );
}
