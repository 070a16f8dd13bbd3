//! Backups on PostgreSQL: `pg_dump` (custom format) of the store's schema, with the same
//! manifest, PAN-key copy and evidence files as the embedded store's backups
//! ([`crate::backup`]). Where `pg_dump` is not installed, the backup is refused with
//! [`StoreError::ToolMissing`]; restores are left to `pg_restore` (overwriting a shared
//! database is the operator's call), the evidence folder copied back by hand.

use crate::backup::{Copied, DUMP_EXT, Sources, discard, finish, reserve};
use crate::error::StoreError;
use crate::pg::{PG_SCHEMA_VERSION, PgOptions};
use crate::sql::SqlExt;
use crate::{Store, p, read};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs a PostgreSQL client tool; [`StoreError::ToolMissing`] when it is not installed.
fn run_tool(tool: &str, args: &[&str]) -> Result<std::process::Output, StoreError> {
    match Command::new(tool).args(args).output() {
        Ok(out) if out.status.success() => Ok(out),
        Ok(out) => Err(StoreError::ToolFailed(
            tool.to_owned(),
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(StoreError::ToolMissing(tool.to_owned()))
        }
        Err(e) => Err(StoreError::Sqlite(format!("{tool}: {e}"))),
    }
}

/// Dumps the store at `pg` into `out_dir`, with the PAN key and the evidence files.
pub fn create<S: Store + ?Sized>(
    store: &S,
    pg: &PgOptions,
    src: &Sources<'_>,
    out_dir: &Path,
    now: jiff::Timestamp,
) -> Result<(PathBuf, crate::backup::Manifest), StoreError> {
    // Counts for the manifest (the dump's snapshot is a moment later: rows booked in
    // between are in the dump, not in these counts).
    let (transactions, audit_entries) = read(store, |c| {
        c.one(
            "SELECT (SELECT COUNT(*) FROM txns), (SELECT COUNT(*) FROM audit)",
            p![],
            |r| Ok((r.i64(0)?, r.i64(1)?)),
        )
    })?;
    let (file, partial) = reserve(out_dir, now, DUMP_EXT)?;
    let partial_arg = partial.display().to_string();
    let mut args = vec!["--format=custom", "--no-owner", "--file", &partial_arg];
    if let Some(schema) = &pg.schema {
        args.extend(["--schema", schema]);
    }
    args.push(&pg.url);
    let done = run_tool("pg_dump", &args).and_then(|_| {
        let copied = Copied {
            schema_version: PG_SCHEMA_VERSION,
            transactions,
            audit_entries,
        };
        finish(&file, &partial, src, copied, now)
    });
    if done.is_err() {
        discard(&file, &partial);
    }
    done.map(|m| (file, m))
}

/// Checks that `pg_restore` can read a dump's table of contents.
pub fn check_readable(file: &Path) -> Result<(), StoreError> {
    let arg = file.display().to_string();
    run_tool("pg_restore", &["--list", &arg]).map(|_| ())
}
