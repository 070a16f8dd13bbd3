//! Suanpan's durable journal.
//!
//! Every change goes through [`Store::execute`]: the command travels to the single writer,
//! which runs a group of commands in one SQLite transaction, commits (fsync), and only then
//! answers each caller. Reads use their own connection.
//!
//! **Architecture Invariant:** the store decides no money rule itself; [`engine`] loads what a
//! rule needs, calls `suanpan_core::rules`, and persists the decision with its audit entry.
#![deny(missing_docs)]

pub mod admin;
pub mod audit;
pub mod auth;
pub mod backoffice;
pub mod backup;
pub mod command;
pub mod engine;
pub mod error;
pub mod evidence;
pub mod fingerprint;
pub mod query;
mod rows;
pub mod sqlite;
pub mod terminal_keys;

pub use command::{Command, Instrument, Reply, SettleReport};
pub use error::StoreError;
pub use fingerprint::Fingerprinter;
pub use query::TxnFilter;
pub use sqlite::{OpenOptions, Pending, SqliteStore};

use suanpan_core::{Transaction, TxnId};

/// The journal, whatever the engine behind it.
pub trait Store: Send + Sync {
    /// Runs one command through the writer; returns after its commit.
    fn execute(&self, cmd: Command) -> Result<Reply, StoreError>;
    /// One transaction by id.
    fn transaction(&self, id: TxnId) -> Result<Option<Transaction>, StoreError>;
    /// Transactions matching a filter, newest first.
    fn transactions(&self, filter: &TxnFilter) -> Result<Vec<Transaction>, StoreError>;
}
