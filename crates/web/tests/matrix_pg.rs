//! The cross-tenant matrix (see `matrix.rs`) on PostgreSQL, each test in a schema of its own
//! at `SUANPAN_TEST_DATABASE_URL`; skipped when it is not set.

mod common;

use common::*;

const BACKEND: Backend = Backend::Postgres;

include!("suites/matrix_body.rs");
