//! Suanpan's durable journal.
//!
//! Every change goes through [`Store::execute`]: the command travels to the single writer,
//! which runs a group of commands in one SQLite transaction, commits (fsync), and only then
//! answers each caller. Reads use their own connection.
//!
//! **Architecture Invariant:** the store decides no money rule itself: its writer runs the
//! use cases of `suanpan-service` (the [`writer::Apply`] hook in [`OpenOptions`]), which load
//! facts through [`repo`], ask `suanpan_core::rules`, and write the decision back through it.
#![deny(missing_docs)]

pub mod admin;
pub mod anchor;
pub mod audit;
pub mod auth;
pub mod backoffice;
pub mod backup;
pub mod case;
pub mod command;
pub mod error;
pub mod evidence;
pub mod fingerprint;
pub mod fleet;
pub mod keys;
pub mod kyc;
pub mod notify;
pub mod onboarding;
pub mod pg;
pub mod pg_copy;
pub mod pg_dump;
pub mod pg_tls;
pub mod pkcs11;
pub mod query;
pub mod reply;
pub mod repo;
pub mod risk;
pub mod risk_admin;
pub mod risk_index;
mod rows;
pub mod seal;
pub mod seed;
pub mod sql;
pub mod sqlite;
pub mod terminal_keys;
pub mod walbuf;
pub mod writer;

pub use command::{AdviceDraft, AdviceFrame, Command, Instrument, SettleReport, UpstreamRef};
pub use error::StoreError;
pub use fingerprint::Fingerprinter;
pub use pg::{PgOptions, PgStore};
pub use query::TxnFilter;
pub use reply::Pending;
pub use reply::{
    Ask, AskExt, BalanceReply, Booking, Counted, FollowUp, GoesUp, PurchaseReply, Refused, Reply,
    ReversalReply, TxnReply,
};
pub use sql::Dialect;
pub use sqlite::{OpenOptions, SqliteStore};
pub use writer::{Apply, NoUseCases};

use audit::{AuditEntry, ChainHead, Verification};
use query::Conservation;
use sql::{Sql, SqlExt};
use suanpan_core::refusal::AccessRefused;
use suanpan_core::settlement::Totals;
use suanpan_core::{MerchantId, OperatorNo, Policy, TerminalId, Transaction, TxnId, VoucherNo};
use suanpan_issuer::Account;

/// Where the writer sends an answer after the commit (on the writer thread: it must be quick).
pub type Done = Box<dyn FnOnce(Result<Reply, StoreError>) + Send>;
/// Work on a read connection.
pub type ReadFn<'a> = dyn FnMut(&dyn Sql) -> Result<(), StoreError> + 'a;
/// Work in one setup transaction, with the audit chain's head.
pub type SetupFn<'a> = dyn FnMut(&dyn Sql, &mut ChainHead) -> Result<(), StoreError> + 'a;

/// The writer's untyped way in, sealed: each method takes an [`untyped::Token`] that only this
/// crate can make, so only the typed layer ([`AskExt`]) calls it, and every caller gets its
/// command's own reply.
mod untyped {
    use super::{Command, Done, Reply, StoreError};

    /// Proof that the caller is this crate: its field is private to this module.
    pub struct Token(());

    /// The one token, for the typed layer.
    pub(crate) const TOKEN: Token = Token(());

    /// The writer's queue, answering the sum of the typed replies.
    pub trait Writer {
        /// Runs one command through the writer; returns after its commit.
        fn execute(&self, cmd: Command, token: Token) -> Result<Reply, StoreError>;
        /// Hands a command to the writer; `done` receives the answer after the commit.
        fn submit_boxed(&self, cmd: Command, done: Done, token: Token) -> Result<(), StoreError>;
    }
}

/// The journal, whatever the engine behind it: what the host and the CLI need, so they run
/// on either backend (`Arc<dyn Store>`).
pub trait Store: Send + Sync + untyped::Writer {
    /// One transaction by id.
    fn transaction(&self, id: TxnId) -> Result<Option<Transaction>, StoreError>;
    /// Transactions matching a filter, newest first.
    fn transactions(&self, filter: &TxnFilter) -> Result<Vec<Transaction>, StoreError>;
    /// Runs `f` on a read connection (a consistent snapshot on PostgreSQL).
    fn with_reader(&self, f: &mut ReadFn<'_>) -> Result<(), StoreError>;
    /// Runs `f` in one write transaction off the counter's path (init, admin), with the audit
    /// chain's head.
    fn with_setup(&self, f: &mut SetupFn<'_>) -> Result<(), StoreError>;
    /// The policy in force.
    fn policy(&self) -> &Policy;
    /// The clock's time.
    fn now(&self) -> jiff::Timestamp;
    /// The engine behind the store.
    fn dialect(&self) -> Dialect;
    /// Where the store keeps its data (what a backup copies).
    fn location(&self) -> Location;
    /// The provider of the key-encryption key every stored key is wrapped under.
    fn keys(&self) -> &keys::Keys;
    /// The file the audit chain's head is anchored in after every commit, if any.
    fn anchor(&self) -> Option<&std::sync::Arc<anchor::Anchor>> {
        None
    }
    /// Makes every commit durable on disk, after a bulk load ([`OpenOptions::bulk_load`]).
    /// PostgreSQL needs nothing: its next synchronous commit flushes the WAL of all earlier
    /// asynchronous ones.
    fn sync_to_disk(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// A terminal's state and open batch.
    fn terminal(
        &self,
        id: &TerminalId,
    ) -> Result<Result<repo::terminals::TerminalState, AccessRefused>, StoreError> {
        read(self, |c| repo::terminals::load(c, id))
    }
    /// An issuer account.
    fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        read(self, |c| query::load_account_in(c, id, false))
    }
    /// The money conservation check.
    fn conservation(&self) -> Result<Conservation, StoreError> {
        read(self, query::conservation_in)
    }
    /// Recomputes the audit chain and holds it against the anchor, if the store has one
    /// (read first: commits in between only extend the chain).
    fn verify_audit(&self) -> Result<Verification, StoreError> {
        let anchored = match self.anchor() {
            Some(a) => a.latest()?,
            None => None,
        };
        read(self, |c| audit::verify_anchored(c, anchored.as_ref()))
    }
    /// The newest audit entries first.
    fn audit_entries(&self, limit: u32, offset: u32) -> Result<Vec<AuditEntry>, StoreError> {
        read(self, |c| audit::entries_in(c, limit, offset))
    }
    /// A terminal's master key as hex (unwrapped, in a buffer wiped on drop), if it has one.
    fn terminal_tmk(
        &self,
        id: &TerminalId,
    ) -> Result<Option<zeroize::Zeroizing<String>>, StoreError> {
        let keys = self.keys().clone();
        read(self, |c| terminal_keys::tmk_in(c, &*keys, id))
    }
    /// A terminal's MAC algorithm as stored (`ecb` or `x919`), `None` when it is unknown.
    fn terminal_mac(&self, id: &TerminalId) -> Result<Option<String>, StoreError> {
        read(self, |c| {
            c.row(
                "SELECT mac_algorithm FROM terminals WHERE id = ?1",
                p![id.as_str()],
                |r| r.text(0),
            )
        })
    }
    /// The hash by which an identical retry is recognized (`txns.request_hash`,
    /// `api_idempotency.request_hash`): HMAC-SHA256 under a key derived from the KEK over
    /// length-prefixed `parts`. Callers pass only fields without card data (no PAN, track,
    /// expiry or PIN block; a card is represented by its keyed fingerprint), so a copy of
    /// the database cannot brute-force a card number from it.
    fn request_hash(&self, parts: &[&[u8]]) -> Result<String, StoreError> {
        let key = self.keys().derive(keys::REQUEST_HASH_PURPOSE)?;
        Ok(keys::keyed_hash(&key, parts))
    }
    /// An operator's stored password hash, failure count and lock (Unix micros).
    fn operator_secret(
        &self,
        merchant: &MerchantId,
        op: OperatorNo,
    ) -> Result<Option<(String, u32, Option<i64>)>, StoreError> {
        read(self, |c| auth::secret_in(c, merchant, op))
    }
    /// The stored host totals of a terminal's settled batch no. `batch` (the latest one).
    fn settled_totals(&self, id: &TerminalId, batch: u32) -> Result<Option<Totals>, StoreError> {
        read(self, |c| {
            c.row(
                "SELECT debit_fen, debit_count, credit_fen, credit_count FROM batches
                 WHERE terminal_id = ?1 AND batch_no = ?2 AND settled_at IS NOT NULL
                 ORDER BY id DESC LIMIT 1",
                p![id.as_str(), batch],
                |r| {
                    Ok(Totals {
                        debit_fen: r.i64(0)?,
                        debit_count: r.u32(1)?,
                        credit_fen: r.i64(2)?,
                        credit_count: r.u32(3)?,
                    })
                },
            )
        })
    }
    /// Whether batch no. `batch` of a terminal holds a live transaction with voucher no. `v`.
    fn voucher_in_batch(
        &self,
        id: &TerminalId,
        batch: u32,
        v: VoucherNo,
    ) -> Result<bool, StoreError> {
        let n = read(self, |c| {
            c.one(
                "SELECT COUNT(*) FROM txns WHERE terminal_id = ?1 AND batch_no = ?2 AND voucher_no = ?3
                 AND kind != 'reversal' AND training = 0",
                p![id.as_str(), batch, v.value()],
                |r| r.i64(0),
            )
        })?;
        Ok(n > 0)
    }
    /// The newest sale of a terminal with voucher no. `v` in batch no. `batch` (training or
    /// live as asked): what a re-charge (重新收款) names in 8583 field 61.
    fn sale_by_voucher(
        &self,
        id: &TerminalId,
        batch: u32,
        v: VoucherNo,
        training: bool,
    ) -> Result<Option<TxnId>, StoreError> {
        read(self, |c| {
            c.row(
                "SELECT id FROM txns WHERE terminal_id = ?1 AND batch_no = ?2 AND voucher_no = ?3
                 AND kind = 'sale' AND training = ?4 ORDER BY id DESC LIMIT 1",
                p![id.as_str(), batch, v.value(), training],
                |r| r.i64(0),
            )
        })
        .map(|id| id.map(TxnId))
    }
}

/// Where a store keeps its data.
#[derive(Debug, Clone)]
pub enum Location {
    /// The SQLite database file.
    Sqlite(std::path::PathBuf),
    /// The PostgreSQL database and schema.
    Postgres(PgOptions),
}

/// Runs `f` on one of `store`'s read connections and returns its result.
pub fn read<S: Store + ?Sized, T>(
    store: &S,
    f: impl FnOnce(&dyn Sql) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut f = Some(f);
    let mut out = None;
    store.with_reader(&mut |c| {
        if let Some(f) = f.take() {
            out = Some(f(c)?);
        }
        Ok(())
    })?;
    out.ok_or(StoreError::WriterGone)
}

/// Runs `f` in one setup transaction of `store` and returns its result.
pub fn setup<S: Store + ?Sized, T>(
    store: &S,
    f: impl FnOnce(&dyn Sql, &mut ChainHead) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut f = Some(f);
    let mut out = None;
    store.with_setup(&mut |c, head| {
        if let Some(f) = f.take() {
            out = Some(f(c, head)?);
        }
        Ok(())
    })?;
    out.ok_or(StoreError::WriterGone)
}
