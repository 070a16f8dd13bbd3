//! Suanpan's cashier terminal emulator.
#![deny(missing_docs)]

pub mod proto;
