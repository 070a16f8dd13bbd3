//! Backups: an online SQLite backup (consistent while writers run), a SHA-256 manifest beside
//! it, verification, and a restore that refuses damaged files and never silently overwrites a
//! live store.

use crate::error::StoreError;
use crate::sqlite::{DB_FILE, SCHEMA_VERSION};
use rusqlite::{Connection, OpenFlags};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The file beside the data that keys PAN fingerprints; it travels with each backup.
pub const PAN_KEY_FILE: &str = "pan.key";

/// What `backup create` writes next to the database copy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// The database copy's file name.
    pub file: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its SHA-256, hex.
    pub sha256: String,
    /// The PAN key copy's SHA-256, hex.
    pub pan_key_sha256: String,
    /// Schema version of the copy.
    pub schema_version: i64,
    /// When (RFC 3339).
    pub created_at: String,
    /// Rows in the journal at the time.
    pub transactions: i64,
    /// Audit entries at the time.
    pub audit_entries: i64,
}

fn io(path: &Path, e: std::io::Error) -> StoreError {
    if e.raw_os_error() == Some(28) {
        return StoreError::DiskFull;
    }
    StoreError::Sqlite(format!("{}: {e}", path.display()))
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<(String, u64), StoreError> {
    let mut f = std::fs::File::open(path).map_err(|e| io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).map_err(|e| io(path, e))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((hex::encode(h.finalize()), n))
}

/// The manifest's path for a backup file.
pub fn manifest_path(backup: &Path) -> PathBuf {
    backup.with_extension("manifest.json")
}

fn key_copy_path(backup: &Path) -> PathBuf {
    backup.with_extension("pan.key")
}

/// Backs up the store in `data_dir` into `out_dir`; returns the backup file and its manifest.
pub fn create(
    data_dir: &Path,
    out_dir: &Path,
    now: jiff::Timestamp,
) -> Result<(PathBuf, Manifest), StoreError> {
    std::fs::create_dir_all(out_dir).map_err(|e| io(out_dir, e))?;
    let stamp = now.strftime("%Y%m%dT%H%M%S%.6fZ").to_string();
    let file = out_dir.join(format!("suanpan-{stamp}.db"));
    let partial = file.with_extension("db.partial");
    let src =
        Connection::open_with_flags(data_dir.join(DB_FILE), OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    // Written under a temporary name and renamed at the end: a half-written backup never
    // looks like a finished one.
    src.backup(rusqlite::DatabaseName::Main, &partial, None)?;
    let (transactions, audit_entries) = src.query_row(
        "SELECT (SELECT COUNT(*) FROM txns), (SELECT COUNT(*) FROM audit)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    std::fs::rename(&partial, &file).map_err(|e| io(&file, e))?;
    let key_src = data_dir.join(PAN_KEY_FILE);
    std::fs::copy(&key_src, key_copy_path(&file)).map_err(|e| io(&key_src, e))?;
    let (sha256, bytes) = sha256_file(&file)?;
    let (pan_key_sha256, _) = sha256_file(&key_copy_path(&file))?;
    let manifest = Manifest {
        file: file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        bytes,
        sha256,
        pan_key_sha256,
        schema_version: SCHEMA_VERSION,
        created_at: now.to_string(),
        transactions,
        audit_entries,
    };
    let json =
        serde_json::to_string_pretty(&manifest).map_err(|e| StoreError::Sqlite(e.to_string()))?;
    std::fs::write(manifest_path(&file), json).map_err(|e| io(&file, e))?;
    Ok((file, manifest))
}

/// Verifies a backup: manifest present, sizes and hashes match, SQLite's integrity check
/// passes, and the audit chain inside it verifies.
pub fn verify(backup: &Path) -> Result<Manifest, StoreError> {
    let bad = |why: String| StoreError::BackupInvalid(why);
    let mpath = manifest_path(backup);
    let text = std::fs::read_to_string(&mpath)
        .map_err(|e| bad(format!("manifest {}: {e}", mpath.display())))?;
    let m: Manifest =
        serde_json::from_str(&text).map_err(|e| bad(format!("manifest unreadable: {e}")))?;
    let (sha, bytes) = sha256_file(backup).map_err(|e| bad(e.to_string()))?;
    if bytes != m.bytes || sha != m.sha256 {
        return Err(bad(format!(
            "SHA-256 mismatch: manifest {} ({} bytes), file {sha} ({bytes} bytes)",
            m.sha256, m.bytes
        )));
    }
    let (key_sha, _) =
        sha256_file(&key_copy_path(backup)).map_err(|e| bad(format!("PAN key copy: {e}")))?;
    if key_sha != m.pan_key_sha256 {
        return Err(bad("PAN key copy does not match the manifest".into()));
    }
    // immutable=1: a backup is never written, and opening it must not leave -wal/-shm files
    // beside it.
    let uri = format!("file:{}?immutable=1", backup.display());
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(&uri, flags).map_err(|e| bad(e.to_string()))?;
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| bad(e.to_string()))?;
    if check != "ok" {
        return Err(bad(format!("integrity check: {check}")));
    }
    let chain = crate::audit::verify(&conn).map_err(|e| bad(e.to_string()))?;
    if let Some(seq) = chain.first_broken {
        return Err(bad(format!("audit chain broken at entry {seq}")));
    }
    Ok(m)
}

/// Restores a verified backup into `data_dir`. With a store already there, refuses unless
/// `force`; with `force`, backs the current store up first (into `data_dir/backups`).
/// The caller must have no store open on `data_dir`.
pub fn restore(
    backup: &Path,
    data_dir: &Path,
    force: bool,
    now: jiff::Timestamp,
) -> Result<Manifest, StoreError> {
    let manifest = verify(backup)?;
    let live = data_dir.join(DB_FILE);
    if live.exists() {
        if !force {
            return Err(StoreError::LiveStore(live.display().to_string()));
        }
        create(data_dir, &data_dir.join("backups"), now)?;
    }
    std::fs::create_dir_all(data_dir).map_err(|e| io(data_dir, e))?;
    let staged = data_dir.join(format!("{DB_FILE}.restoring"));
    std::fs::copy(backup, &staged).map_err(|e| io(&staged, e))?;
    for side in ["-wal", "-shm"] {
        let p = data_dir.join(format!("{DB_FILE}{side}"));
        if p.exists() {
            std::fs::remove_file(&p).map_err(|e| io(&p, e))?;
        }
    }
    std::fs::rename(&staged, &live).map_err(|e| io(&live, e))?;
    std::fs::copy(key_copy_path(backup), data_dir.join(PAN_KEY_FILE))
        .map_err(|e| io(data_dir, e))?;
    Ok(manifest)
}
