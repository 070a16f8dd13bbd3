//! Suanpan's cashier terminal emulator (`suanpan terminal`): a POS at the counter that
//! speaks the UnionPay POS 8583 profile to `suanpan serve` exactly as a terminal does.
//!
//! - [`proto`]: the terminal side of the profile (sign-in, working keys, MAC, PIN block),
//!   shared with the host's test client and load generator;
//! - [`machine`]: the screens as a pure state machine (keys in, screen and effects out);
//!   [`view`] turns a screen into lines; [`tui`] draws them with ratatui;
//! - [`net`]: the 8583 conversations with the reversal discipline over a [`link::Link`];
//! - [`state`]: the local state file (operators, journal, pending reversal), atomic writes;
//! - [`driver`]: runs effects (host, printer, state file) and script mode.
//!
//! **Architecture Invariant:** the terminal decides no money rule of the host: it checks
//! only what a POS checks locally (operator passwords with the core's lockout rule, its own
//! amount limit, that a voucher exists in its batch) and leaves every decision to the host.
//! Totals for settlement come from `suanpan_core::settlement`.
#![deny(missing_docs)]

mod admin;
pub mod driver;
mod flows;
pub mod lesson;
pub mod link;
pub mod machine;
pub mod net;
pub mod proto;
mod replies;
pub mod state;
pub mod text;
pub mod tls;
#[cfg(feature = "tui")]
pub mod tui;
pub mod view;
