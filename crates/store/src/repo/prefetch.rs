//! What a group's sales will read, fetched for the whole group before its first command runs
//! (PostgreSQL): each sale's terminal, issuer account, idempotency key, remembered reversal
//! and card history, and ids for the transactions it will book. A round trip to the server
//! costs more than a sale's own work there, and one sale read these one at a time (six round
//! trips a sale, docs/BENCHMARKS.md, issue 15); fetched ahead, the group pays two round trips
//! for all of them, and each booking goes to the server with the next statement.
//!
//! The use cases read through the functions here, as they read anything else: nothing
//! decides differently. Why a value fetched ahead is never stale in its group:
//! - terminals and accounts are locked by the fetch (`FOR UPDATE`, in id order so two nodes
//!   lock in one order), as the first read locked them before; a terminal goes to the group's
//!   cache when its first command reads it, an account at once, and the group's writes go
//!   through that cache;
//! - every other entry is taken by the first command that reads it (a second reader reads the
//!   store), the group's bookings drop the entries they change ([`Prefetched::booked`]), and
//!   a command other than a sale drops them all before it runs ([`Prefetched::forget`]): a
//!   void, a settlement or a reversal changes what they answer;
//! - a card's history is fetched over the longest window a card rule can read; a reader
//!   takes the newest rows inside its own window, which are a prefix of the fetched ones.
//!
//! SQLite fetches nothing: its reads cost no round trip, and every function falls through to
//! the ordinary read.

use super::terminals::{self, TerminalRow, TerminalState};
use super::{GroupCache, Tx};
use crate::command::{Command, Instrument, Origin};
use crate::error::StoreError;
use crate::p;
use crate::rows::micros;
use crate::sql::{Dialect, Sql, SqlRow, Value};
use jiff::{SignedDuration, Timestamp};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use suanpan_core::risk::{CardEvent, RiskParams};
use suanpan_core::rules::OrphanReversal;
use suanpan_core::{TerminalId, Transaction, VoucherNo};

/// Terminal, batch id, voucher no., idempotency key.
type KeyedAt = (TerminalId, i64, u32, String);
/// Terminal, batch no., voucher no., training.
type OrphanAt = (TerminalId, u32, u32, bool);

/// What the group fetched ahead; see the module's documentation.
#[derive(Default)]
pub(crate) struct Prefetched {
    terminals: HashMap<TerminalId, Option<TerminalRow>>,
    keyed: HashMap<KeyedAt, Option<(Transaction, Option<String>)>>,
    orphans: HashMap<OrphanAt, Option<OrphanReversal>>,
    /// Per card: the window's start (micros) and its events, newest first.
    card_events: HashMap<String, (i64, Vec<CardEvent>)>,
    /// Ids of the journal's identity sequence for the group's bookings.
    txn_ids: VecDeque<i64>,
}

impl std::fmt::Debug for Prefetched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefetched")
            .field("terminals", &self.terminals.len())
            .field("keyed", &self.keyed.len())
            .field("orphans", &self.orphans.len())
            .field("card_events", &self.card_events.len())
            .field("txn_ids", &self.txn_ids.len())
            .finish()
    }
}

impl Prefetched {
    /// Drops every read fetched ahead (before a command other than a sale). The ids stay:
    /// they are only numbers.
    pub(crate) fn forget(&mut self) {
        self.terminals.clear();
        self.keyed.clear();
        self.orphans.clear();
        self.card_events.clear();
    }

    /// An id for a new transaction, if the group took some.
    pub(crate) fn take_txn_id(&mut self) -> Option<i64> {
        self.txn_ids.pop_front()
    }

    /// A transaction was booked: what it changes is read from the store from now on.
    pub(crate) fn booked(
        &mut self,
        term: &TerminalState,
        voucher: VoucherNo,
        key: Option<&str>,
        card_fp: Option<&str>,
    ) {
        // SQLite (and a group that fetched nothing) has nothing to drop: no allocation.
        if let Some(key) = key.filter(|_| !self.keyed.is_empty()) {
            let at = (
                term.id.clone(),
                term.batch_id,
                voucher.value(),
                key.to_owned(),
            );
            self.keyed.remove(&at);
        }
        if let Some(fp) = card_fp {
            self.card_events.remove(fp);
        }
    }
}

/// The purchases and balance inquiries of a group: their origins and instruments.
fn purchases<'c>(cmds: &[&'c Command]) -> Vec<(&'c Origin, &'c Instrument)> {
    cmds.iter().copied().filter_map(asks_issuer).collect()
}

/// The origin and instrument of a command that asks the issuer first (a sale, a
/// pre-authorization, a balance inquiry): what the group fetches ahead for it.
pub(crate) fn asks_issuer(c: &Command) -> Option<(&Origin, &Instrument)> {
    match c {
        Command::Purchase(crate::command::Purchase {
            origin, instrument, ..
        })
        | Command::BalanceInquiry(crate::command::BalanceInquiry {
            origin, instrument, ..
        }) => Some((origin, instrument)),
        _ => None,
    }
}

/// The issuer account behind an instrument.
fn account_of(i: &Instrument) -> &str {
    match i {
        Instrument::Card { fingerprint, .. } => fingerprint,
        Instrument::Wallet { id } => id,
    }
}

/// Fetches what the group's purchases will read (PostgreSQL; nothing on SQLite): first their
/// terminals and accounts (locked), card histories and ids, then, with the terminals' open
/// batches known, their idempotency keys and remembered reversals. Two round trips.
pub(crate) fn fetch(
    conn: &dyn Sql,
    cache: &mut GroupCache,
    cmds: &[&Command],
    risk: &RiskParams,
    now: Timestamp,
) -> Result<(), StoreError> {
    if conn.dialect() != Dialect::Postgres {
        return Ok(());
    }
    let buys = purchases(cmds);
    if buys.is_empty() {
        return Ok(());
    }
    fetch_locked(conn, cache, &buys, risk, now)?;
    fetch_keyed(conn, cache, &buys)
}

/// The first round trip: terminals and accounts in id order (locked), card histories, ids.
fn fetch_locked(
    conn: &dyn Sql,
    cache: &mut GroupCache,
    buys: &[(&Origin, &Instrument)],
    risk: &RiskParams,
    now: Timestamp,
) -> Result<(), StoreError> {
    let terminal_ids: BTreeMap<&str, &TerminalId> = buys
        .iter()
        .map(|(o, _)| (o.terminal_id.as_str(), &o.terminal_id))
        .collect();
    let accounts: BTreeSet<&str> = buys.iter().map(|(_, i)| account_of(i)).collect();
    let cards: BTreeSet<&str> = match card_window_start(risk, now) {
        Some(_) => buys
            .iter()
            .filter(|(o, _)| !o.training)
            .filter_map(|(_, i)| match i {
                Instrument::Card { fingerprint, .. } => Some(fingerprint.as_str()),
                Instrument::Wallet { .. } => None,
            })
            .collect(),
        None => BTreeSet::new(),
    };
    let since = card_window_start(risk, now).map_or(0, micros);
    let count = i64::try_from(buys.len()).unwrap_or(i64::MAX);
    let terminal_sql = terminals::find_sql(true);
    let card_sql = super::risk::card_events_sql();
    // The card histories' plan walks their index (`risk::CARD_EVENTS_PG_BEFORE`); the
    // setting, first and last in the pipeline, changes nothing for the key lookups between.
    let bounded = !cards.is_empty();
    let mut queries: Vec<(&str, Vec<Value<'_>>)> = Vec::new();
    if bounded {
        queries.push((super::risk::CARD_EVENTS_PG_BEFORE, Vec::new()));
    }
    queries.extend(
        terminal_ids
            .keys()
            .map(|t| (terminal_sql.as_str(), vec![(*t).into()])),
    );
    queries.extend(
        accounts
            .iter()
            .map(|a| (crate::query::ACCOUNT_LOCKED_PG_SQL, vec![(*a).into()])),
    );
    queries.extend(
        cards
            .iter()
            .map(|c| (card_sql.as_str(), p![*c, since].to_vec())),
    );
    queries.push((TXN_IDS_SQL, vec![count.into()]));
    if bounded {
        queries.push((super::risk::CARD_EVENTS_PG_AFTER, Vec::new()));
    }
    let terminal_ids: Vec<&TerminalId> = terminal_ids.into_values().collect();
    let accounts: Vec<&str> = accounts.into_iter().collect();
    let cards: Vec<&str> = cards.into_iter().collect();
    let ahead = &mut cache.prefetched;
    ahead
        .terminals
        .extend(terminal_ids.iter().map(|t| ((*t).clone(), None)));
    ahead
        .card_events
        .extend(cards.iter().map(|c| ((*c).to_owned(), (since, Vec::new()))));
    let mut found_accounts = Vec::new();
    let (t_end, a_end, c_end) = (
        terminal_ids.len(),
        terminal_ids.len() + accounts.len(),
        terminal_ids.len() + accounts.len() + cards.len(),
    );
    run_all(conn, &queries, &mut |i, r| {
        // The settings answer no rows: only the reads' indexes arrive here.
        let Some(i) = i.checked_sub(usize::from(bounded)) else {
            return Ok(());
        };
        if i < t_end {
            let id = terminal_ids[i];
            ahead
                .terminals
                .insert(id.clone(), Some(terminals::row_of(id, r)?));
        } else if i < a_end {
            found_accounts.push(crate::query::account_from_row(r)?);
        } else if i < c_end {
            let event = super::risk::card_event_of(r)?;
            if let Some((_, events)) = ahead.card_events.get_mut(cards[i - a_end]) {
                events.push(event);
            }
        } else {
            ahead.txn_ids.push_back(r.i64(0)?);
        }
        Ok(())
    })?;
    let mut cached = cache.accounts.borrow_mut();
    for a in found_accounts {
        cached.entry(a.id.clone()).or_insert(a);
    }
    Ok(())
}

/// Ids for the group's bookings from the journal's identity sequence, one statement.
const TXN_IDS_SQL: &str =
    "SELECT nextval(pg_get_serial_sequence('txns', 'id')) FROM generate_series(1, ?1)";

/// The start of the longest card history any card rule can read (`None`: no card rule is
/// on): the merchant's own limits only decide whether the card's velocity hour counts, so
/// it is counted here.
fn card_window_start(risk: &RiskParams, now: Timestamp) -> Option<Timestamp> {
    let mut widest = risk.limits.clone();
    if !risk.reads_card_events(&widest) {
        return None;
    }
    widest.card_count_max = widest.card_count_max.max(1);
    let minutes = risk.card_lookback_minutes(&widest);
    Some(
        now.checked_sub(SignedDuration::from_mins(i64::from(minutes)))
            .unwrap_or(Timestamp::MIN),
    )
}

/// The second round trip: idempotency keys and remembered reversals in each terminal's open
/// batch.
fn fetch_keyed(
    conn: &dyn Sql,
    cache: &mut GroupCache,
    buys: &[(&Origin, &Instrument)],
) -> Result<(), StoreError> {
    let ahead = &mut cache.prefetched;
    let mut keyed: Vec<KeyedAt> = Vec::new();
    let mut orphans: Vec<OrphanAt> = Vec::new();
    for (o, _) in buys {
        let Some(Some(row)) = ahead.terminals.get(&o.terminal_id) else {
            continue;
        };
        let Ok(term) = row.state() else {
            continue;
        };
        let Some(voucher) = o.voucher else {
            continue;
        };
        if let Some((key, _)) = &o.idempotency {
            keyed.push((term.id.clone(), term.batch_id, voucher.value(), key.clone()));
        }
        let at = (term.id, term.batch_no.value(), voucher.value(), o.training);
        orphans.push(at);
    }
    keyed.sort();
    keyed.dedup();
    orphans.sort();
    orphans.dedup();
    if keyed.is_empty() && orphans.is_empty() {
        return Ok(());
    }
    let keyed_sql = super::txns::idempotency_sql();
    let mut queries: Vec<(&str, Vec<Value<'_>>)> = keyed
        .iter()
        .map(|(t, b, v, k)| {
            (
                keyed_sql.as_str(),
                p![t.as_str(), *b, *v, k.as_str()].to_vec(),
            )
        })
        .collect();
    queries.extend(orphans.iter().map(|(t, b, v, training)| {
        (
            super::orphans::FIND_SQL,
            p![t.as_str(), *b, *v, *training].to_vec(),
        )
    }));
    ahead.keyed.extend(keyed.iter().map(|k| (k.clone(), None)));
    ahead
        .orphans
        .extend(orphans.iter().map(|o| (o.clone(), None)));
    run_all(conn, &queries, &mut |i, r| {
        if i < keyed.len() {
            ahead
                .keyed
                .insert(keyed[i].clone(), Some(super::txns::keyed_of(r)?));
        } else {
            let at = orphans[i - keyed.len()].clone();
            ahead
                .orphans
                .insert(at, Some(super::orphans::orphan_of(r)?));
        }
        Ok(())
    })
}

/// [`Sql::each_row_all`] over owned parameter lists.
fn run_all(
    conn: &dyn Sql,
    queries: &[(&str, Vec<Value<'_>>)],
    each: &mut dyn FnMut(usize, &dyn SqlRow) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let borrowed: Vec<(&str, &[Value<'_>])> = queries.iter().map(|(s, p)| (*s, &p[..])).collect();
    conn.each_row_all(&borrowed, each)
}

/// A terminal's row, locked to the commit: as the group fetched it, else read now.
pub fn terminal(tx: &mut Tx<'_>, id: &TerminalId) -> Result<Option<TerminalRow>, StoreError> {
    match tx.cache.prefetched.terminals.remove(id) {
        Some(row) => Ok(row),
        None => terminals::find(tx.conn, id, true),
    }
}

/// [`super::txns::by_idempotency_key`], as the group fetched it, else read now.
pub fn by_idempotency_key(
    tx: &mut Tx<'_>,
    term: &TerminalState,
    voucher: VoucherNo,
    key: &str,
) -> Result<Option<(Transaction, Option<String>)>, StoreError> {
    let at = (
        term.id.clone(),
        term.batch_id,
        voucher.value(),
        key.to_owned(),
    );
    match tx.cache.prefetched.keyed.remove(&at) {
        Some(found) => Ok(found),
        None => super::txns::by_idempotency_key(tx.conn, term, voucher, key),
    }
}

/// [`super::orphans::find`], as the group fetched it, else read now.
pub fn orphan(
    tx: &mut Tx<'_>,
    term: &TerminalState,
    voucher: VoucherNo,
    training: bool,
) -> Result<Option<OrphanReversal>, StoreError> {
    let at = (
        term.id.clone(),
        term.batch_no.value(),
        voucher.value(),
        training,
    );
    match tx.cache.prefetched.orphans.remove(&at) {
        Some(found) => Ok(found),
        None => super::orphans::find(tx.conn, term, voucher, training),
    }
}

/// [`super::risk::card_events`]: the newest of the card's history the group fetched that
/// fall inside `since` (newest first, so they lead the fetched list), else read now.
pub fn card_events(
    tx: &mut Tx<'_>,
    card_fp: &str,
    since: Timestamp,
) -> Result<Vec<CardEvent>, StoreError> {
    let from = micros(since);
    if let Some((fetched_from, events)) = tx.cache.prefetched.card_events.remove(card_fp)
        && fetched_from <= from
    {
        return Ok(events
            .into_iter()
            .take_while(|e| micros(e.at) >= from)
            .collect());
    }
    super::risk::card_events(tx.conn, card_fp, since)
}
