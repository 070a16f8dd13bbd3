//! Outgoing webhooks and scheduled operations (issue 13).
//!
//! - [`webhook`]: signs the outbox's events (HMAC-SHA256 over `timestamp.body` with the
//!   endpoint's secret) and POSTs them, one attempt per due delivery, recorded in the
//!   delivery log; the back-off and the address rule are `suanpan_core::notify`.
//! - [`http`]: the small blocking HTTP/1.1 client it posts with (bounded in time and bytes,
//!   connecting only to addresses the rule allows).
//! - [`schedule`]: backups with rotation, the weekly restore drill and the daily compliance
//!   report, run on the store's clock so tests drive them with a test clock.
//!
//! **Architecture Invariant:** nothing here moves money or decides a money rule; the worker
//! reads the outbox that the use cases wrote in their own transactions.
#![deny(missing_docs)]

pub mod http;
pub mod schedule;
pub mod webhook;

pub use webhook::{NotifyConfig, run_due, sign, verify};
