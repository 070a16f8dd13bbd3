//! Suanpan's application layer, between the adapters and the store. Each use case is
//! *load facts → `suanpan_core::decide_*` → effects*, in its own module; adapters (host, web,
//! cli) parse, authenticate, call a use case and render its typed answer.
//!
//! **Architecture Invariant:** no use case here speaks HTTP or 8583: refusals come back as
//! core's typed variants, and each adapter maps them once to its wire form.
#![deny(missing_docs)]

pub mod review;
