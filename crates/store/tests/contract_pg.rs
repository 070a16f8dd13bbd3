//! The store contract (see `contract.rs`) on PostgreSQL: the same tests, each in a schema of
//! its own at `SUANPAN_TEST_DATABASE_URL` (dropped at the end); skipped when it is not set.

mod common;

use common::*;

const BACKEND: Backend = Backend::Postgres;

include!("suites/contract_body.rs");
