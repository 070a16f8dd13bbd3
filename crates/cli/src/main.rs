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
    // glibc raises its mmap and trim thresholds to the size of the largest block freed (up
    // to 32 and 64 MiB): after start-up's big buffers (the index build's sorter, the
    // writer's queue) freed memory was no longer given back, ~10 MB of a first start's RSS
    // with 1,000 terminals (issue 16, docs/BENCHMARKS.md). Fixing both at glibc's own
    // starting value, 128 KiB, keeps them there. (Fewer malloc arenas saved as much again but
    // cost the inline sale rate; not taken.) The environment's `MALLOC_…` settings still
    // decide when set.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const THRESHOLD_BYTES: libc::c_int = 128 * 1024;
        for (name, param) in [
            ("MALLOC_MMAP_THRESHOLD_", libc::M_MMAP_THRESHOLD),
            ("MALLOC_TRIM_THRESHOLD_", libc::M_TRIM_THRESHOLD),
        ] {
            if std::env::var_os(name).is_none() {
                // SAFETY: mallopt sets one allocator parameter, before this process starts a
                // thread.
                unsafe {
                    libc::mallopt(param, THRESHOLD_BYTES);
                }
            }
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
