//! Repositories: plain SQL over [`Sql`] for each aggregate the write path touches, and the
//! group transaction ([`Tx`]) the writer hands to the use cases (`suanpan-service`) for each
//! command. Nothing here decides a rule: a use case loads facts through these functions, asks
//! `suanpan_core::rules`, and writes the decision back through them.
//!
//! What lives for one group commit (one write transaction) is cached in [`GroupCache`]: the
//! terminals already loaded, the RRN counter, issuer accounts and the audit entries, so a
//! burst of sales does not re-read and re-write them per sale. [`flush`] writes them back at
//! the end of the group, inside the same transaction.

pub mod accounts;
pub mod channels;
pub mod counters;
pub mod operators;
pub mod orphans;
pub mod prefetch;
pub mod risk;
pub mod terminals;
pub mod txns;
pub mod upstream;

use crate::audit::ChainHead;
use crate::error::StoreError;
use crate::rows::micros;
use crate::sql::{Dialect, Sql, Value};
use jiff::Timestamp;
use suanpan_core::{MerchantId, Policy, TerminalId};
use suanpan_issuer::Account;

/// One command's view of the group's write transaction: the connection, the moment of the
/// group commit, the policy, and what the group already loaded. Only the writer makes one.
pub struct Tx<'a> {
    /// The write connection, inside the group's transaction.
    pub conn: &'a dyn Sql,
    /// The rules' knobs.
    pub policy: &'a Policy,
    /// The moment of the group commit.
    pub now: Timestamp,
    /// The store's KEK, for what a command seals (the upstream queue's frames).
    pub keys: &'a dyn crate::keys::KeyProvider,
    pub(crate) cache: &'a mut GroupCache,
}

impl Tx<'_> {
    /// Stages an audit entry (actor, action, target, reason, outcome) at the group's moment;
    /// [`flush`] chains and inserts the group's entries together after its last command.
    pub fn audit(&mut self, actor: &str, action: &str, target: &str, reason: &str, outcome: &str) {
        let f = [actor, action, target, reason, outcome].map(str::to_owned);
        self.cache.audit.push((micros(self.now), f));
    }

    /// Writes the group's cached terminal state, counters and accounts now and forgets the
    /// cached terminals: for a command that changes a terminal's batch (settlement), which
    /// must reload what it changes.
    pub fn write_back(&mut self) -> Result<(), StoreError> {
        flush_state(self.conn, self.cache)?;
        self.cache.terminals.clear();
        Ok(())
    }
}

/// State that lives for one group commit; see the module's documentation.
#[derive(Debug, Default)]
pub(crate) struct GroupCache {
    pub(crate) terminals: std::collections::HashMap<TerminalId, terminals::TerminalState>,
    pub(crate) dirty: std::collections::HashSet<TerminalId>,
    /// SQLite: the last RRN sequence value allocated, once loaded.
    pub(crate) rrn: Option<i64>,
    /// PostgreSQL: the rest of the RRN block taken from the sequence (next, end).
    pub(crate) rrn_block: Option<(i64, i64)>,
    /// Audit entries (time, actor, action, target, reason, outcome) in the order they
    /// happened; [`flush`] chains and inserts them together.
    pub(crate) audit: Vec<(i64, [String; 5])>,
    /// Issuer accounts read in this group (locked on PostgreSQL), with their changes; a
    /// card used many times in one group is read and written once.
    pub(crate) accounts: std::cell::RefCell<std::collections::HashMap<String, Account>>,
    /// Accounts changed in this group, written back by [`flush`].
    pub(crate) dirty_accounts: std::cell::RefCell<std::collections::BTreeSet<String>>,
    /// The back-office schema's version (0: its tables, the payment channels, do not
    /// exist), once looked up in this group.
    pub(crate) backoffice: Option<i64>,
    /// Payment channels' answers in this group, per channel and merchant (`channels::is_open`).
    pub(crate) channels: std::collections::HashMap<(&'static str, Option<MerchantId>), bool>,
    /// Merchants' risk limits read in this group (`risk::merchant_limits_in_group`).
    pub(crate) risk_limits: std::collections::HashMap<MerchantId, risk::MerchantLimits>,
    /// Whether the risk blocklist has any entry, once looked up in this group.
    pub(crate) blocklist_any: Option<bool>,
    /// What the group's sales will read, fetched before its first command (PostgreSQL).
    pub(crate) prefetched: prefetch::Prefetched,
}

/// What a bulk load's writer ([`crate::OpenOptions::bulk_load`], SQLite) keeps from one
/// group to the next: the issuer accounts it read and wrote. Nobody else writes the store
/// during a bulk load, and every account change goes through the group's cache, so the
/// committed balances are the carried ones: a group then reads each card once per load
/// instead of once per group (≈ 3,400 account reads per 4,096-command group of `bench seed`).
/// Not on PostgreSQL, where reading an account also locks it against other nodes.
#[derive(Debug, Default)]
pub(crate) struct Carry {
    pub(crate) accounts: std::collections::HashMap<String, Account>,
}

/// Takes the audit chain's lock to the end of the transaction (PostgreSQL; per schema, so
/// tests in their own schemas do not wait for each other).
pub const CHAIN_LOCK_SQL: &str =
    "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.audit'))";

/// Ends a group: writes its cached state ([`flush_state`]), then chains its audit entries
/// onto the head and inserts them. On PostgreSQL the chain's lock is taken here, last, and
/// the head read under it: other nodes' groups decide concurrently (row locks keep them
/// apart) and queue only to append to the one chain. Nothing after the lock waits on a row,
/// so the lock takes part in no deadlock.
pub(crate) fn flush(
    conn: &dyn Sql,
    cache: &mut GroupCache,
    chain: &mut ChainHead,
) -> Result<(), StoreError> {
    let chained = !cache.audit.is_empty();
    // The chain's lock goes with the state's writes, last, in the same round trip.
    let lock = (chained && conn.dialect() == Dialect::Postgres).then_some(CHAIN_LOCK_SQL);
    write_state(conn, cache, lock)?;
    if !chained {
        return Ok(());
    }
    if conn.dialect() == Dialect::Postgres {
        *chain = ChainHead::read(conn)?;
    }
    let staged: Vec<crate::audit::AuditEntry> = cache
        .audit
        .drain(..)
        .map(|(at, f)| chain.stage(at, [&f[0], &f[1], &f[2], &f[3], &f[4]]))
        .collect();
    crate::audit::insert_entries(conn, &staged)
}

/// Writes what the group changed in its cache: voucher sequences, the RRN counter, issuer
/// accounts.
fn flush_state(conn: &dyn Sql, cache: &mut GroupCache) -> Result<(), StoreError> {
    write_state(conn, cache, None)
}

/// [`flush_state`], then `then` (a statement without parameters), all in one round trip on
/// PostgreSQL: nothing waits for their answers in between.
fn write_state(
    conn: &dyn Sql,
    cache: &mut GroupCache,
    then: Option<&'static str>,
) -> Result<(), StoreError> {
    let dirty_accounts = std::mem::take(&mut *cache.dirty_accounts.borrow_mut());
    {
        let accounts = cache.accounts.borrow();
        let mut writes = state_writes(cache, &accounts, &dirty_accounts);
        writes.extend(then.map(|sql| (sql, Vec::new())));
        let stmts: Vec<(&str, &[Value<'_>])> = writes.iter().map(|(s, p)| (*s, &p[..])).collect();
        conn.exec_all(&stmts)?;
    }
    cache.dirty.clear();
    Ok(())
}

/// The writes of what the group changed in its cache: voucher sequences, the RRN counter,
/// issuer accounts (`dirty` of `accounts`).
fn state_writes<'a>(
    cache: &'a GroupCache,
    accounts: &'a std::collections::HashMap<String, Account>,
    dirty: &std::collections::BTreeSet<String>,
) -> Vec<(&'static str, Vec<Value<'a>>)> {
    let mut writes: Vec<_> = cache
        .dirty
        .iter()
        .filter_map(|id| cache.terminals.get(id))
        .map(terminals::save_vouchers)
        .collect();
    writes.extend(cache.rrn.map(counters::save_rrn));
    writes.extend(
        dirty
            .iter()
            .filter_map(|id| accounts.get(id))
            .map(accounts::save),
    );
    writes
}
