//! `suanpan`: the one binary. Each subcommand is a thin adapter: parse input into core types,
//! authenticate operators, send one command to the store, print the answer.
//!
//! Exit codes: 0 done/approved, 1 error (storage, IO), 2 usage error, 3 refused or declined.

mod app;
mod args;
mod authn;
mod cmd_admin;
mod cmd_batch;
mod cmd_bench;
mod cmd_demo;
mod cmd_export;
mod cmd_keys;
mod cmd_serve;
mod cmd_sim;
mod cmd_switch;
mod cmd_terminal;
mod cmd_txn;
mod output;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Everything this process creates (data directory, database, WAL, keys, backups,
    // exports, evidence) is its owner's alone: 0700 folders, 0600 files (issue 11).
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file-creation mask; no memory is involved.
    unsafe {
        libc::umask(0o077);
    }
    // glibc gives a thread that allocates while another holds an arena's lock an arena of its
    // own, up to eight per core; the host's threads (tokio's workers and blocking pool, the
    // writer, the checkpointer, the workers) then keep freed memory in a dozen arenas: ~12 MB
    // of a first start's RSS with 1,000 terminals (issue 16, docs/BENCHMARKS.md). One arena
    // per core (at least two); `MALLOC_ARENA_MAX` in the environment still decides when set.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = libc::c_int::try_from(cores.max(2)).unwrap_or(2);
        // SAFETY: mallopt sets one allocator parameter, before this process starts a thread.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
    let cli = args::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("SUANPAN_LOG").unwrap_or_else(|_| {
        // The server logs its traffic; one-shot commands only their problems.
        let serving = matches!(cli.command, args::Top::Serve(_));
        tracing_subscriber::EnvFilter::new(if serving { "info" } else { "warn" })
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    app::run(cli)
}
