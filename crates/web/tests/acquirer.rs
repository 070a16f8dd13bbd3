//! The acquirer's console (issue 14): landing, merchant onboarding under maker-checker, the
//! settlement account masked everywhere, and 404 for merchant users. On the embedded store;
//! `acquirer_pg.rs` runs the same on PostgreSQL.

mod common;

use common::*;

const BACKEND: Backend = Backend::Sqlite;

include!("suites/acquirer_body.rs");
