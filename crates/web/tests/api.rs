//! Black-box tests of `/api/v1` on a random port: every endpoint, and every refusal of the
//! issue's "Bad input" list, each checking that nothing changed. On the embedded store; the
//! same suite runs on PostgreSQL in `api_pg.rs`.

mod common;

use common::*;
use suanpan_core::Policy;

const BACKEND: Backend = Backend::Sqlite;

include!("suites/api_body.rs");
include!("suites/sessions_body.rs");
