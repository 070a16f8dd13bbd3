//! The acquirer's console suite (`acquirer.rs`) on PostgreSQL; skipped without
//! `SUANPAN_TEST_DATABASE_URL`.

mod common;

use common::*;

const BACKEND: Backend = Backend::Postgres;

include!("suites/acquirer_body.rs");
