//! The cross-tenant matrix (issue 14): every route of the back-office and its API, for every
//! merchant role of the demo's second merchant, aimed at the first merchant's objects; and the
//! acquirer's roles, who may read every merchant. On the embedded store; `matrix_pg.rs` runs
//! the same on PostgreSQL.

mod common;

use common::*;

const BACKEND: Backend = Backend::Sqlite;

include!("suites/matrix_body.rs");
