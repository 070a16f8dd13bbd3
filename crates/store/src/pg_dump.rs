//! Backups on PostgreSQL: `pg_dump` (custom format) of the store's schema, sealed as it
//! streams out of `pg_dump` (no clear dump touches the disk), with the same signed manifest,
//! PAN-key copy and sealed evidence files as the embedded store's backups
//! ([`crate::backup`]). Where `pg_dump` is not installed, the backup is refused with
//! [`StoreError::ToolMissing`]; restores are left to `pg_restore` (overwriting a shared
//! database is the operator's call) on the dump [`open_dump`] decrypts, the evidence
//! folder copied back by hand.

use crate::backup::{Copied, DUMP_EXT, Sources, discard, finish, reserve};
use crate::error::StoreError;
use crate::keys::KeyProvider;
use crate::pg::{PG_SCHEMA_VERSION, PgOptions};
use crate::sql::SqlExt;
use crate::{Store, p, read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

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
    let (transactions, audit_entries, head) = read(store, |c| {
        let (t, a) = c.one(
            "SELECT (SELECT COUNT(*) FROM txns), (SELECT COUNT(*) FROM audit)",
            p![],
            |r| Ok((r.i64(0)?, r.i64(1)?)),
        )?;
        Ok((t, a, crate::audit::ChainHead::read(c)?))
    })?;
    let keys = store.keys().clone();
    let (file, partial) = reserve(out_dir, now, DUMP_EXT)?;
    let mut args = vec!["--format=custom", "--no-owner"];
    if let Some(schema) = &pg.schema {
        args.extend(["--schema", schema]);
    }
    args.push(&pg.url);
    let done = dump_sealed(&args, &*keys, &partial).and_then(|_| {
        let copied = Copied {
            schema_version: PG_SCHEMA_VERSION,
            transactions,
            audit_entries,
            head: (head.seq > 0).then_some((head.seq, head.hash)),
        };
        finish(&file, &partial, src, &*keys, copied, now)
    });
    if done.is_err() {
        discard(&file, &partial);
    }
    done.map(|m| (file, m))
}

fn spawn(tool: &str, args: &[&str], stdin: Stdio, stdout: Stdio) -> Result<Child, StoreError> {
    Command::new(tool)
        .args(args)
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                StoreError::ToolMissing(tool.to_owned())
            } else {
                StoreError::Sqlite(format!("{tool}: {e}"))
            }
        })
}

fn finished(tool: &str, child: Child) -> Result<(), StoreError> {
    let out = child
        .wait_with_output()
        .map_err(|e| StoreError::Sqlite(format!("{tool}: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(StoreError::ToolFailed(
            tool.to_owned(),
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        ))
    }
}

/// Runs `pg_dump` with its output sealed straight into `partial`.
fn dump_sealed(args: &[&str], keys: &dyn KeyProvider, partial: &Path) -> Result<(), StoreError> {
    let mut child = spawn("pg_dump", args, Stdio::null(), Stdio::piped())?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| StoreError::Sqlite("pg_dump: no output".into()))?;
    let mut out = std::fs::File::create(partial)
        .map_err(|e| StoreError::Sqlite(format!("{}: {e}", partial.display())))?;
    let sealed = crate::seal::seal(keys, "database", stdout, &mut out);
    // The tool's verdict first: a dump that failed half-way is not a backup.
    finished("pg_dump", child)?;
    sealed?;
    out.sync_all()
        .map_err(|e| StoreError::Sqlite(format!("{}: {e}", partial.display())))
}

/// Checks that `pg_restore` can read a dump's table of contents, decrypting it into the
/// tool's standard input (no clear copy on disk).
pub fn check_readable(file: &Path, keys: &dyn KeyProvider) -> Result<(), StoreError> {
    let mut child = spawn("pg_restore", &["--list"], Stdio::piped(), Stdio::null())?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| StoreError::Sqlite("pg_restore: no input".into()))?;
    let source = std::fs::File::open(file)
        .map_err(|e| StoreError::BackupInvalid(format!("{}: {e}", file.display())))?;
    let fed = crate::seal::open(keys, "database", source, &mut stdin);
    drop(stdin);
    match fed {
        // pg_restore may stop reading once it has the table of contents.
        Ok(_) => {}
        Err(crate::seal::OpenError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(crate::seal::OpenError::Io(e)) => return Err(StoreError::Sqlite(e.to_string())),
        Err(crate::seal::OpenError::Altered(why)) => {
            return Err(StoreError::BackupInvalid(format!(
                "the database copy was altered: {why}"
            )));
        }
    }
    finished("pg_restore", child)
}

/// Decrypts a verified PostgreSQL backup into `to` (owner-only), for `pg_restore`, and puts
/// its evidence files back into `evidence_dir`.
pub fn open_dump(
    file: &Path,
    ring: &crate::backup::Keyring,
    to: &Path,
    evidence_dir: &Path,
) -> Result<crate::backup::Manifest, StoreError> {
    crate::backup::open_verified(file, ring, to, Some(evidence_dir))
}
