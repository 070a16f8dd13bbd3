//! The store contract: what every store backend must do with each command, written against
//! behaviour (commands in, replies and listings out) so it can run on PostgreSQL as well.
//!
//! Every refusal test checks that nothing but the audit trail changed; every test ends (in the
//! harness's `Drop`) with the audit chain verified and money conserved.

mod common;

use common::*;

const BACKEND: Backend = Backend::Sqlite;

include!("suites/contract_body.rs");
