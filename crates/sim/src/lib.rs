//! A deterministic simulation of Suanpan under faults, in the spirit of TigerBeetle's VOPR.
//!
//! One seed drives one run on one thread: `terminals` simulated terminals — each the real
//! emulator's protocol engine (`suanpan_terminal::net::Net`: reversal armed before the
//! request leaves, sent first, back-off; re-sign-in on 77) with its own journal — talk over a
//! simulated network ([`world`]: drop, hold past the time-out, duplicate, reorder, cut) to the
//! real host (`Host::handle`) on the real SQLite store, which crashes now and then and is
//! opened again from its files. At the end the network is drained and calmed, every terminal
//! settles, and [`check`] compares, transaction by transaction, each terminal's journal with
//! the host's, the issuer's account with both, the settlements, conservation and the audit
//! chain.
//!
//! A failing seed is shrunk: the shortest prefix of its run (fewer operations, same seed)
//! that still fails is printed with its event trace.

pub mod check;
mod driver;
pub mod rng;
pub mod world;

pub use driver::{Options, Outcome, run};

/// Runs `seed`; on a violation, shrinks the run to the fewest operations that still fail
/// and returns that failing run.
pub fn run_and_shrink(seed: u64, opts: &Options) -> anyhow::Result<Outcome> {
    let first = run(seed, opts)?;
    if first.violations.is_empty() {
        return Ok(first);
    }
    // Bisect on the operation count: runs are deterministic per (seed, ops), and a shorter
    // failing run is a shorter trace.
    let (mut lo, mut hi) = (1u32, opts.ops);
    let mut best = first;
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let o = run(seed, &Options { ops: mid, ..*opts })?;
        if o.violations.is_empty() {
            lo = mid + 1;
        } else {
            hi = mid;
            best = o;
        }
    }
    Ok(best)
}
