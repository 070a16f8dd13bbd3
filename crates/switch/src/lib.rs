//! `switch-sim`: the card network behind the acquirer host as its own process. It speaks the
//! ISO 8583:1987 switch profile (`shared/spec/iso8583-1987-switch.md`) on TCP, keeps its own
//! SQLite ledger of the demo cards (balances, holds, every answered message), answers
//! duplicates with the stored answer, remembers reversals whose original it never saw, and
//! writes the daily clearing file acquirers reconcile against. Fault knobs (latency, drops,
//! duplicates, going down) make the acquirer's link prove its discipline.
#![deny(missing_docs)]

pub mod clearing;
pub mod ledger;
pub mod process;
pub mod server;

pub use server::{Faults, Switch, SwitchConfig, SwitchError};
