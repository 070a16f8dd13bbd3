//! The two tiers (issue 14): a second merchant, `898310048990002`, with its own terminal,
//! counter operators and back-office users, against the demo merchant A. Each finding of the
//! issue is reproduced here. On the embedded store; `tenants_pg.rs` runs the same on
//! PostgreSQL.

mod common;

use common::*;

const BACKEND: Backend = Backend::Sqlite;

include!("suites/tenants_body.rs");
