//! `backup` on PostgreSQL: a wrapper around `pg_dump` (custom format) with the same manifest
//! and PAN-key copy as the embedded store's backups. Where `pg_dump` is not installed, the
//! command refuses with a message saying so; restores are left to `pg_restore`, which the
//! message names, since overwriting a shared database is the operator's call.

use crate::app::{App, Fail};
use std::path::{Path, PathBuf};
use std::process::Command;
use suanpan_store::StoreError;
use suanpan_store::backup::{Manifest, PAN_KEY_FILE, manifest_path, sha256_file};
use suanpan_store::pg::PG_SCHEMA_VERSION;

/// The file extension of a PostgreSQL backup.
pub const DUMP_EXT: &str = "dump";

/// Whether `file` is a PostgreSQL backup (by its extension).
pub fn is_dump(file: &Path) -> bool {
    file.extension().is_some_and(|e| e == DUMP_EXT)
}

/// Runs a PostgreSQL client tool; `Ok(None)` when it is not installed.
fn run_tool(tool: &str, args: &[&str]) -> Result<Option<std::process::Output>, Fail> {
    match Command::new(tool).args(args).output() {
        Ok(out) => Ok(Some(out)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Fail::Other(anyhow::anyhow!("{tool}: {e}"))),
    }
}

fn missing(tool: &str) -> Fail {
    Fail::Message {
        key: "error.pg_tool_missing",
        args: vec![tool.to_owned()],
    }
}

fn failed(tool: &str, out: &std::process::Output) -> Fail {
    let stderr = String::from_utf8_lossy(&out.stderr);
    Fail::Message {
        key: "error.pg_tool_failed",
        args: vec![tool.to_owned(), stderr.trim().to_owned()],
    }
}

/// Dumps the database at `url` into `out_dir` with a manifest and a copy of the PAN key.
pub fn create(
    app: &App,
    url: &str,
    out_dir: &Path,
    now: jiff::Timestamp,
) -> Result<(PathBuf, Manifest), Fail> {
    // Counts for the manifest, and proof that the database holds a store, before dumping.
    let store = app.open_any(suanpan_store::OpenOptions::default())?;
    let counts = suanpan_store::read(&*store, |c| {
        use suanpan_store::sql::SqlExt;
        c.one(
            "SELECT (SELECT COUNT(*) FROM txns), (SELECT COUNT(*) FROM audit)",
            &[],
            |r| Ok((r.i64(0)?, r.i64(1)?)),
        )
    })?;
    drop(store);
    std::fs::create_dir_all(out_dir).map_err(|e| StoreError::Sqlite(e.to_string()))?;
    let stamp = now.strftime("%Y%m%dT%H%M%S%.6fZ").to_string();
    let file = out_dir.join(format!("suanpan-{stamp}.{DUMP_EXT}"));
    let partial = file.with_extension("dump.partial");
    let partial_arg = partial.display().to_string();
    let out = run_tool(
        "pg_dump",
        &["--format=custom", "--no-owner", "--file", &partial_arg, url],
    )?
    .ok_or_else(|| missing("pg_dump"))?;
    if !out.status.success() {
        let _ = std::fs::remove_file(&partial);
        return Err(failed("pg_dump", &out));
    }
    std::fs::rename(&partial, &file).map_err(|e| StoreError::Sqlite(e.to_string()))?;
    let key_copy = file.with_extension("pan.key");
    std::fs::copy(app.data_dir.join(PAN_KEY_FILE), &key_copy)
        .map_err(|e| StoreError::Sqlite(format!("copying {PAN_KEY_FILE}: {e}")))?;
    let (sha256, bytes) = sha256_file(&file)?;
    let (pan_key_sha256, _) = sha256_file(&key_copy)?;
    let manifest = Manifest {
        file: file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        bytes,
        sha256,
        pan_key_sha256,
        schema_version: PG_SCHEMA_VERSION,
        created_at: now.to_string(),
        transactions: counts.0,
        audit_entries: counts.1,
    };
    let json = serde_json::to_string_pretty(&manifest).map_err(anyhow::Error::from)?;
    std::fs::write(manifest_path(&file), json).map_err(|e| StoreError::Sqlite(e.to_string()))?;
    Ok((file, manifest))
}

/// Checks a dump against its manifest, then that `pg_restore` can read its table of contents.
pub fn verify(file: &Path) -> Result<Manifest, Fail> {
    let text = std::fs::read_to_string(manifest_path(file))
        .map_err(|e| StoreError::BackupInvalid(format!("manifest: {e}")))?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| StoreError::BackupInvalid(format!("manifest: {e}")))?;
    let (sha256, bytes) = sha256_file(file)?;
    if sha256 != manifest.sha256 || bytes != manifest.bytes {
        return Err(
            StoreError::BackupInvalid("the dump does not match its manifest".into()).into(),
        );
    }
    let arg = file.display().to_string();
    let out = run_tool("pg_restore", &["--list", &arg])?.ok_or_else(|| missing("pg_restore"))?;
    if !out.status.success() {
        return Err(failed("pg_restore", &out));
    }
    Ok(manifest)
}
