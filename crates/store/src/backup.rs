//! Backups: a consistent copy of the store (SQLite's online backup API, or `pg_dump` on
//! PostgreSQL, see [`crate::pg_dump`]), the PAN key and the evidence files, with a signed
//! manifest beside them; verification; a restore that refuses damaged files and never
//! silently overwrites a live store. The CLI and the back-office call the same functions
//! here; the purge that backs up first is a use case (`suanpan_service::ops::purge`).
//!
//! Sealed and signed (docs/SECURITY.md): the database copy and every evidence file are
//! encrypted with AES-256-GCM under `derive("backup.enc")` ([`crate::seal`]); the PAN key
//! copy is the wrapped `pan.key`; the manifest names the KEK (its id), records the copy's
//! audit head signed with `derive("audit.anchor")`, and is signed with HMAC-SHA256 under
//! `derive("backup.mac")`. Verification and restore find the KEK by its id among the
//! current and the retired KEKs ([`Keyring`]), so a backup made before `keys rotate-kek`
//! still verifies and restores (and is re-wrapped under the current KEK on restore).
//!
//! A backup `suanpan-<stamp>.db` (or `.dump`) is, in the same folder:
//! `….manifest.json` (written last: a backup without one is unfinished), `….pan.key`, and
//! `….evidence/<sha256>` for each evidence file, each listed in the manifest with its size
//! and SHA-256.
//!
//! Consistency while the server runs: the database is copied first, as one snapshot; the
//! evidence folder is listed afterwards. An upload writes its file (temporary name, synced,
//! renamed) before its row commits, so every row in the snapshot has its file on disk by
//! then; a file arriving during the backup is listed only once renamed into place, i.e.
//! whole, or not at all.

use crate::anchor::AnchorRecord;
use crate::error::StoreError;
use crate::keys::{KeyProvider, Keys};
use crate::sqlite::{DB_FILE, SCHEMA_VERSION};
use crate::{Location, Store};
use rusqlite::{Connection, OpenFlags};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The file beside the data that keys PAN fingerprints; it travels with each backup.
pub const PAN_KEY_FILE: &str = "pan.key";
/// The default folder of backups inside the data directory.
pub const BACKUPS_DIR: &str = "backups";
/// The extension of an embedded store's backup.
pub const DB_EXT: &str = "db";
/// The extension of a PostgreSQL backup (`pg_dump`'s custom format).
pub const DUMP_EXT: &str = "dump";
/// Backups [`list`] returns at most (the newest).
pub const BACKUPS_LISTED_MAX: usize = 200;
/// The longest backup file name [`file_named`] accepts.
pub const BACKUP_NAME_BYTES_MAX: usize = 96;
/// Backups started in the same microsecond get `-1`, `-2`… up to this many.
const NAME_TRIES_MAX: u32 = 100;

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
    /// The evidence files copied into `….evidence/` (none in backups made before they were).
    #[serde(default)]
    pub evidence: Vec<EvidenceFile>,
    /// The id of the KEK the backup is sealed and signed under.
    #[serde(default)]
    pub kek_id: String,
    /// The audit chain's head in the copy, signed with `derive("audit.anchor")` (PostgreSQL:
    /// the head just before the dump, which holds at least these entries).
    #[serde(default)]
    pub audit_head: Option<AnchorRecord>,
    /// HMAC-SHA256 of the manifest (with this field empty) under `derive("backup.mac")`.
    /// Empty: a backup of a build before backups were signed, which is not trusted.
    #[serde(default)]
    pub mac: String,
}

/// The purpose of the manifest's signing key (`KeyProvider::derive`).
pub const MAC_PURPOSE: &str = "backup.mac";
/// The role (associated data) of a backup's sealed database copy.
const DB_ROLE: &str = "database";

fn evidence_role(sha: &str) -> String {
    format!("evidence:{sha}")
}

impl Manifest {
    fn signature(&self, keys: &dyn KeyProvider) -> Result<String, StoreError> {
        let unsigned = Manifest {
            mac: String::new(),
            ..self.clone()
        };
        let bytes = serde_json::to_vec(&unsigned).map_err(|e| StoreError::Sqlite(e.to_string()))?;
        Ok(crate::keys::keyed_hash(
            &keys.derive(MAC_PURPOSE)?,
            &[b"suanpan backup manifest v1", &bytes],
        ))
    }
}

/// The KEKs a backup may have been made under, and the audit anchor beside them: what
/// verification and restore need from outside the backup.
#[derive(Clone)]
pub struct Keyring {
    /// The KEK in use (new backups, and what a restored store is wrapped under).
    pub current: Keys,
    /// KEKs retired by `keys rotate-kek`, for the backups made under them.
    pub retired: Vec<Keys>,
    /// The audit anchor file (`<kek>.anchor`), restarted from a restored backup's head.
    pub anchor: Option<PathBuf>,
}

impl Keyring {
    /// Only `current`.
    pub fn of(current: Keys) -> Keyring {
        Keyring {
            current,
            retired: Vec::new(),
            anchor: None,
        }
    }

    /// `current` and the retired KEK files beside the KEK file `kek_file`
    /// (`<kek>.retired-<id>`, as `keys rotate-kek` leaves them); a retired file that does not
    /// load is skipped with a warning. The anchor is `<kek>.anchor`.
    pub fn beside(current: Keys, kek_file: &Path, data_dir: &Path) -> Keyring {
        let mut ring = Keyring::of(current);
        ring.anchor = Some(crate::anchor::path_beside(kek_file));
        let (Some(dir), Some(name)) = (kek_file.parent(), kek_file.file_name()) else {
            return ring;
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let prefix = format!("{}.retired-", name.to_string_lossy());
        let found = file_names(dir, |n, _| n.starts_with(&prefix)).unwrap_or_default();
        for n in found {
            match crate::keys::FileKek::load(&dir.join(&n), data_dir) {
                Ok(k) => ring.retired.push(k),
                Err(e) => tracing::warn!(file = %n, error = %e, "retired KEK not usable"),
            }
        }
        ring
    }

    /// The ring of a store: its KEK, and, when its anchor lies beside a KEK file, the
    /// retired KEKs there.
    pub fn for_store<S: Store + ?Sized>(store: &S, data_dir: &Path) -> Keyring {
        let kek_file = store.anchor().and_then(|a| {
            let p = a.path().to_string_lossy();
            p.strip_suffix(crate::anchor::ANCHOR_SUFFIX)
                .map(PathBuf::from)
        });
        match kek_file {
            Some(k) => Keyring::beside(store.keys().clone(), &k, data_dir),
            None => Keyring::of(store.keys().clone()),
        }
    }

    fn by_id(&self, id: &str) -> Option<&Keys> {
        std::iter::once(&self.current)
            .chain(&self.retired)
            .find(|k| k.kek_id() == id)
    }
}

impl Manifest {
    /// Bytes of the whole backup: the database copy and the evidence files.
    pub fn total_bytes(&self) -> u64 {
        self.evidence
            .iter()
            .fold(self.bytes, |n, e| n.saturating_add(e.bytes))
    }
}

/// One evidence file in a backup: its name is its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EvidenceFile {
    /// SHA-256 of the bytes, hex (also the file's name).
    pub sha256: String,
    /// Size.
    pub bytes: u64,
}

/// Where a backup's parts come from, besides the store itself.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    /// The data directory, holding `pan.key`.
    pub data_dir: &'a Path,
    /// The evidence folder (`[web] evidence_dir`, default `DATA_DIR/evidence`).
    pub evidence_dir: &'a Path,
}

pub(crate) fn io(path: &Path, e: std::io::Error) -> StoreError {
    if e.raw_os_error() == Some(28) {
        return StoreError::DiskFull;
    }
    StoreError::Sqlite(format!("{}: {e}", path.display()))
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<(String, u64), StoreError> {
    let mut from = std::fs::File::open(path).map_err(|e| io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = from.read(&mut buf).map_err(|e| io(path, e))?;
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

/// The folder of a backup's evidence files.
pub fn evidence_copy_dir(backup: &Path) -> PathBuf {
    backup.with_extension("evidence")
}

fn checked_path(backup: &Path) -> PathBuf {
    backup.with_extension("verified.json")
}

/// Whether `file` is a PostgreSQL backup (by its extension).
pub fn is_dump(file: &Path) -> bool {
    file.extension().is_some_and(|e| e == DUMP_EXT)
}

/// Whether `name` is a SHA-256 in lowercase hex: the name of a stored evidence file.
fn is_sha256_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The path of the backup `name` in `dir`, for names coming from outside (the API): only
/// `suanpan-….db` / `suanpan-….dump` made of letters, digits, `.` and `-` (no folders).
pub fn file_named(dir: &Path, name: &str) -> Result<PathBuf, StoreError> {
    let well_formed = name.len() <= BACKUP_NAME_BYTES_MAX
        && name.starts_with("suanpan-")
        && (name.ends_with(".db") || name.ends_with(".dump"))
        && !name.contains("..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if !well_formed {
        return Err(StoreError::Invalid(format!("backup name {name:?}")));
    }
    Ok(dir.join(name))
}

/// Backs up `store` into `out_dir`: the database (SQLite's online backup, or `pg_dump` on
/// PostgreSQL), the PAN key and the evidence files; returns the backup file and its
/// manifest. Runs beside the writer without holding it up (call it off async threads).
pub fn create<S: Store + ?Sized>(
    store: &S,
    src: &Sources<'_>,
    out_dir: &Path,
    now: jiff::Timestamp,
) -> Result<(PathBuf, Manifest), StoreError> {
    let made = match store.location() {
        Location::Sqlite(db) => create_sqlite(&db, &**store.keys(), src, out_dir, now),
        Location::Postgres(pg) => crate::pg_dump::create(store, &pg, src, out_dir, now),
    }?;
    // Owner only: the folder and every file of the backup.
    let (file, _) = &made;
    let mut paths = vec![
        out_dir.to_path_buf(),
        file.clone(),
        key_copy_path(file),
        manifest_path(file),
    ];
    let evidence = evidence_copy_dir(file);
    if let Ok(rd) = std::fs::read_dir(&evidence) {
        paths.push(evidence.clone());
        paths.extend(rd.flatten().map(|e| e.path()));
    }
    for p in paths.iter().filter(|p| p.exists()) {
        crate::keys::restrict(p).map_err(|e| io(p, e))?;
    }
    Ok(made)
}

/// A fresh backup name in `out_dir`: the final file, and its temporary file, created empty
/// so that two backups started at once never share a name.
pub(crate) fn reserve(
    out_dir: &Path,
    now: jiff::Timestamp,
    ext: &str,
) -> Result<(PathBuf, PathBuf), StoreError> {
    std::fs::create_dir_all(out_dir).map_err(|e| io(out_dir, e))?;
    let stamp = now.strftime("%Y%m%dT%H%M%S%.6fZ").to_string();
    for n in 0..NAME_TRIES_MAX {
        let stem = match n {
            0 => format!("suanpan-{stamp}"),
            n => format!("suanpan-{stamp}-{n}"),
        };
        let file = out_dir.join(format!("{stem}.{ext}"));
        let partial = out_dir.join(format!("{stem}.{ext}.partial"));
        if file.exists() || manifest_path(&file).exists() {
            continue;
        }
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial)
        {
            Ok(_) => return Ok((file, partial)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(&partial, e)),
        }
    }
    Err(StoreError::Sqlite(format!(
        "no free backup name in {} for {stamp}",
        out_dir.display()
    )))
}

/// Removes what an unfinished backup left (best effort: the failure is what gets reported).
pub(crate) fn discard(file: &Path, partial: &Path) {
    for p in [
        partial.to_path_buf(),
        file.to_path_buf(),
        key_copy_path(file),
        manifest_path(file),
    ] {
        let _ = std::fs::remove_file(p);
    }
    let _ = std::fs::remove_dir_all(evidence_copy_dir(file));
}

/// What the database copy holds, for the manifest.
pub(crate) struct Copied {
    pub schema_version: i64,
    pub transactions: i64,
    pub audit_entries: i64,
    /// The audit chain's newest entry (seq, hash), if any.
    pub head: Option<(i64, String)>,
}

/// Backs up the SQLite database `db` (the store's file), sealed under `keys`, with the rest
/// of [`Sources`]. The clear copy SQLite's backup API makes is staged beside the database
/// (where the clear data is anyway), sealed into the backup folder, and removed.
pub fn create_sqlite(
    db: &Path,
    keys: &dyn KeyProvider,
    src: &Sources<'_>,
    out_dir: &Path,
    now: jiff::Timestamp,
) -> Result<(PathBuf, Manifest), StoreError> {
    let (file, partial) = reserve(out_dir, now, DB_EXT)?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let staging = db.with_file_name(format!(".{name}.staging"));
    let copied = copy_sqlite(db, &staging).and_then(|c| {
        seal_file(keys, DB_ROLE, &staging, &partial)?;
        Ok(c)
    });
    remove_clear(&staging);
    let done = copied.and_then(|c| finish(&file, &partial, src, keys, c, now));
    if done.is_err() {
        discard(&file, &partial);
    }
    done.map(|m| (file, m))
}

/// Removes a clear staging copy (and the side files SQLite may have left beside it).
fn remove_clear(path: &Path) {
    for side in ["", "-journal", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_os_string();
        p.push(side);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// Seals the file `from` into `to` (created, synced).
fn seal_file(
    keys: &dyn KeyProvider,
    role: &str,
    from: &Path,
    to: &Path,
) -> Result<(String, u64), StoreError> {
    let source = std::fs::File::open(from).map_err(|e| io(from, e))?;
    let mut out = std::fs::File::create(to).map_err(|e| io(to, e))?;
    let sealed = crate::seal::seal(keys, role, std::io::BufReader::new(source), &mut out)?;
    out.sync_all().map_err(|e| io(to, e))?;
    Ok(sealed)
}

/// Opens the sealed file `from` for `role` into `to`; an altered file is named by `what`.
fn open_sealed(
    keys: &dyn KeyProvider,
    role: &str,
    from: &Path,
    to: &mut impl Write,
    what: &str,
) -> Result<(String, u64), StoreError> {
    let source = std::fs::File::open(from).map_err(|e| invalid(format!("{what}: {e}")))?;
    crate::seal::open(keys, role, source, to).map_err(|e| match e {
        crate::seal::OpenError::Io(e) => io(from, e),
        crate::seal::OpenError::Altered(why) => invalid(format!("{what} was altered: {why}")),
    })
}

fn copy_sqlite(db: &Path, partial: &Path) -> Result<Copied, StoreError> {
    let src = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut dst = Connection::open(partial)?;
    {
        let backup = rusqlite::backup::Backup::new(&src, &mut dst)?;
        // All pages in one step, under one read snapshot: in WAL mode that never blocks the
        // writer, and the writer's commits cannot restart it (a page-by-page backup starts
        // over whenever another connection writes, which on a busy server is always).
        match backup.step(-1)? {
            rusqlite::backup::StepResult::Done => {}
            other => {
                return Err(StoreError::Sqlite(format!(
                    "backup did not finish: {other:?}"
                )));
            }
        }
    }
    // Counted in the copy: exactly what the backup holds.
    let (transactions, audit_entries) = dst.query_row(
        "SELECT (SELECT COUNT(*) FROM txns), (SELECT COUNT(*) FROM audit)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let head = crate::audit::ChainHead::read(&dst)?;
    Ok(Copied {
        schema_version: SCHEMA_VERSION,
        transactions,
        audit_entries,
        head: (head.seq > 0).then_some((head.seq, head.hash)),
    })
}

/// Completes a backup whose sealed database copy is in `partial`: renames it into place,
/// copies the (wrapped) PAN key and seals the evidence files, and writes the signed manifest
/// last.
pub(crate) fn finish(
    file: &Path,
    partial: &Path,
    src: &Sources<'_>,
    keys: &dyn KeyProvider,
    copied: Copied,
    now: jiff::Timestamp,
) -> Result<Manifest, StoreError> {
    std::fs::rename(partial, file).map_err(|e| io(file, e))?;
    let key_src = src.data_dir.join(PAN_KEY_FILE);
    std::fs::copy(&key_src, key_copy_path(file)).map_err(|e| io(&key_src, e))?;
    let evidence = copy_evidence(src.evidence_dir, &evidence_copy_dir(file), keys)?;
    let (sha256, bytes) = sha256_file(file)?;
    let (pan_key_sha256, _) = sha256_file(&key_copy_path(file))?;
    let audit_head = match copied.head {
        Some((seq, hash)) => Some(crate::anchor::sign(keys, seq, &hash, now.as_microsecond())?),
        None => None,
    };
    let mut manifest = Manifest {
        file: file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        bytes,
        sha256,
        pan_key_sha256,
        schema_version: copied.schema_version,
        created_at: now.to_string(),
        transactions: copied.transactions,
        audit_entries: copied.audit_entries,
        evidence,
        kek_id: keys.kek_id(),
        audit_head,
        mac: String::new(),
    };
    manifest.mac = manifest.signature(keys)?;
    let json =
        serde_json::to_string_pretty(&manifest).map_err(|e| StoreError::Sqlite(e.to_string()))?;
    let mpath = manifest_path(file);
    let staged = mpath.with_extension("json.partial");
    std::fs::write(&staged, json).map_err(|e| io(&staged, e))?;
    std::fs::rename(&staged, &mpath).map_err(|e| io(&mpath, e))?;
    Ok(manifest)
}

/// The names in folder `dir` that `keep` accepts (none when the folder does not exist).
fn file_names(
    dir: &Path,
    keep: impl Fn(&str, &std::fs::DirEntry) -> bool,
) -> Result<Vec<String>, StoreError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if keep(&name, &entry) {
            names.push(name);
        }
    }
    Ok(names)
}

/// A reader that hashes what passes through it.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
    bytes: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Seals the file `from` into `to` (through a temporary name, synced, renamed); returns the
/// SHA-256 and size of the clear bytes. `Ok(None)`: `from` is gone.
fn seal_file_hashed(
    keys: &dyn KeyProvider,
    from: &Path,
    to: &Path,
    role: &str,
) -> Result<Option<(String, u64)>, StoreError> {
    let source = match std::fs::File::open(from) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(from, e)),
    };
    let staged = to.with_extension("partial");
    let mut out = std::fs::File::create(&staged).map_err(|e| io(&staged, e))?;
    let mut reader = Hashing {
        inner: std::io::BufReader::new(source),
        hash: Sha256::new(),
        bytes: 0,
    };
    crate::seal::seal(keys, role, &mut reader, &mut out)?;
    out.sync_all().map_err(|e| io(&staged, e))?;
    std::fs::rename(&staged, to).map_err(|e| io(to, e))?;
    Ok(Some((hex::encode(reader.hash.finalize()), reader.bytes)))
}

/// Seals every stored evidence file (named by its SHA-256; temporary `.partial` files are
/// not evidence yet) from `from` into `to`, checking each file's bytes against its name. A
/// file whose bytes do not match is damaged on disk: the backup fails and names it.
fn copy_evidence(
    from: &Path,
    to: &Path,
    keys: &dyn KeyProvider,
) -> Result<Vec<EvidenceFile>, StoreError> {
    std::fs::create_dir_all(to).map_err(|e| io(to, e))?;
    let mut names = file_names(from, |name, entry| {
        is_sha256_name(name) && entry.file_type().is_ok_and(|t| t.is_file())
    })?;
    names.sort();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        // A file removed since the listing is simply not in this backup.
        let sealed = seal_file_hashed(
            keys,
            &from.join(&name),
            &to.join(&name),
            &evidence_role(&name),
        )?;
        let Some((sha256, bytes)) = sealed else {
            continue;
        };
        if sha256 != name {
            return Err(StoreError::BackupInvalid(format!(
                "evidence file {name} in {} is damaged: its bytes hash to {sha256}",
                from.display()
            )));
        }
        out.push(EvidenceFile { sha256, bytes });
    }
    Ok(out)
}

fn invalid(why: String) -> StoreError {
    StoreError::BackupInvalid(why)
}

/// Reads a backup's manifest and checks what every backup holds, in this order, naming
/// what failed: the manifest is signed (an unsigned one is not trusted); its KEK is the
/// current or a retired one (else: wrong KEK); its signature verifies under that KEK (else:
/// forged or edited manifest); the sealed database copy and the PAN key copy have the
/// listed hashes, and every evidence file decrypts to the listed bytes (else: that file was
/// altered). Returns the manifest and the KEK it was made under.
fn check_files(backup: &Path, ring: &Keyring) -> Result<(Manifest, Keys), StoreError> {
    let mpath = manifest_path(backup);
    let text = std::fs::read_to_string(&mpath)
        .map_err(|e| invalid(format!("manifest {}: {e}", mpath.display())))?;
    let m: Manifest =
        serde_json::from_str(&text).map_err(|e| invalid(format!("manifest unreadable: {e}")))?;
    if m.mac.is_empty() || m.kek_id.is_empty() {
        return Err(invalid(
            "the manifest is not signed (a backup from before backups were sealed and signed, or its signature was removed): it is not trusted".into(),
        ));
    }
    let keys = ring
        .by_id(&m.kek_id)
        .ok_or_else(|| StoreError::KekMismatch {
            wrapped_by: m.kek_id.clone(),
            given: ring.current.kek_id(),
        })?
        .clone();
    if m.signature(&*keys)? != m.mac {
        return Err(invalid(format!(
            "the manifest was forged or edited: its signature does not verify under KEK {}",
            m.kek_id
        )));
    }
    let (sha, bytes) = sha256_file(backup).map_err(|e| invalid(e.to_string()))?;
    if bytes != m.bytes || sha != m.sha256 {
        return Err(invalid(format!(
            "the database copy {} was altered: SHA-256 mismatch: manifest {} ({} bytes), file {sha} ({bytes} bytes)",
            m.file, m.sha256, m.bytes
        )));
    }
    let (key_sha, _) =
        sha256_file(&key_copy_path(backup)).map_err(|e| invalid(format!("PAN key copy: {e}")))?;
    if key_sha != m.pan_key_sha256 {
        return Err(invalid("PAN key copy does not match the manifest".into()));
    }
    let dir = evidence_copy_dir(backup);
    for e in &m.evidence {
        if !is_sha256_name(&e.sha256) {
            return Err(invalid(format!(
                "the manifest lists evidence {:?}, which is not a SHA-256",
                e.sha256
            )));
        }
        let path = dir.join(&e.sha256);
        if !path.is_file() {
            return Err(invalid(format!(
                "evidence file {} is missing ({})",
                e.sha256,
                path.display()
            )));
        }
        let what = format!("evidence file {}", e.sha256);
        let (sha, n) = open_sealed(
            &*keys,
            &evidence_role(&e.sha256),
            &path,
            &mut std::io::sink(),
            &what,
        )?;
        if sha != e.sha256 || n != e.bytes {
            return Err(invalid(format!(
                "evidence file {} was altered: its {n} bytes hash to {sha} ({} bytes listed)",
                e.sha256, e.bytes
            )));
        }
    }
    Ok((m, keys))
}

/// A clear copy of a backup's database for checking, removed when dropped.
struct ClearCopy(PathBuf);

impl Drop for ClearCopy {
    fn drop(&mut self) {
        remove_clear(&self.0);
    }
}

/// Decrypts a checked backup's database copy into `to` (created owner-only).
fn open_database(backup: &Path, keys: &dyn KeyProvider, to: &Path) -> Result<(), StoreError> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut out = o.open(to).map_err(|e| io(to, e))?;
    open_sealed(keys, DB_ROLE, backup, &mut out, "the database copy")?;
    out.sync_all().map_err(|e| io(to, e))
}

/// Verifies a backup: [`check_files`] (signature, KEK, every file); then, for the embedded
/// store, the copy decrypted beside it for the check (removed after): SQLite's integrity
/// check passes, the audit chain inside verifies and ends at the head the manifest
/// records, and every evidence row has its file in the backup; for PostgreSQL, `pg_restore`
/// can read the decrypted dump's table of contents.
pub fn verify(backup: &Path, ring: &Keyring) -> Result<Manifest, StoreError> {
    verify_keyed(backup, ring).map(|(m, _)| m)
}

/// Verifies a backup and decrypts its database copy into `to` (owner-only): a PostgreSQL
/// dump for `pg_restore`, or an SQLite file to inspect; with `evidence_dir`, also puts its
/// evidence files back there.
pub fn open_verified(
    backup: &Path,
    ring: &Keyring,
    to: &Path,
    evidence_dir: Option<&Path>,
) -> Result<Manifest, StoreError> {
    let (m, keys) = verify_keyed(backup, ring)?;
    if let Some(dir) = evidence_dir {
        restore_evidence(backup, &m, &*keys, dir)?;
    }
    open_database(backup, &*keys, to)?;
    Ok(m)
}

fn verify_keyed(backup: &Path, ring: &Keyring) -> Result<(Manifest, Keys), StoreError> {
    let (m, keys) = check_files(backup, ring)?;
    if is_dump(backup) {
        crate::pg_dump::check_readable(backup, &*keys)?;
        return Ok((m, keys));
    }
    let clear = ClearCopy(backup.with_extension("db.verifying"));
    open_database(backup, &*keys, &clear.0)?;
    // immutable=1: the copy is never written, and opening it must not leave -wal/-shm files
    // beside it.
    let uri = format!("file:{}?immutable=1", clear.0.display());
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(&uri, flags).map_err(|e| invalid(e.to_string()))?;
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| invalid(e.to_string()))?;
    if check != "ok" {
        return Err(invalid(format!("integrity check: {check}")));
    }
    let chain = crate::audit::verify_anchored(&conn, m.audit_head.as_ref())
        .map_err(|e| invalid(e.to_string()))?;
    if let Some(seq) = chain.first_broken {
        return Err(invalid(format!(
            "audit chain broken at entry {seq}: {}",
            chain.problem.unwrap_or_default()
        )));
    }
    if chain.entries != m.audit_head.as_ref().map_or(0, |h| h.seq) {
        return Err(invalid(format!(
            "the copy's audit chain has {} entries, its manifest records {}",
            chain.entries,
            m.audit_head.as_ref().map_or(0, |h| h.seq)
        )));
    }
    for sha in evidence_rows(&conn).map_err(|e| invalid(e.to_string()))? {
        if !m.evidence.iter().any(|e| e.sha256 == sha) {
            return Err(invalid(format!(
                "an evidence row points at {sha}, which the backup does not hold"
            )));
        }
    }
    Ok((m, keys))
}

/// The distinct files the evidence rows of a database copy name (none without the
/// back-office tables).
fn evidence_rows(conn: &Connection) -> Result<Vec<String>, rusqlite::Error> {
    let has_table: bool = conn.query_row(
        "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'evidence'",
        [],
        |r| r.get(0),
    )?;
    if !has_table {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare("SELECT DISTINCT sha256 FROM evidence")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.collect()
}

/// The outcome of the last verification of a backup, kept beside it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checked {
    /// When (RFC 3339).
    pub at: String,
    /// Whether it verified.
    pub ok: bool,
    /// What was wrong, if anything.
    pub problem: Option<String>,
}

/// Verifies `backup` and keeps the outcome beside it (`….verified.json`) for [`list`]. A
/// backup on a read-only medium still verifies: the record is then only logged as missing.
pub fn verify_and_record(
    backup: &Path,
    ring: &Keyring,
    now: jiff::Timestamp,
) -> Result<Manifest, StoreError> {
    let result = verify(backup, ring);
    let checked = Checked {
        at: now.to_string(),
        ok: result.is_ok(),
        problem: result.as_ref().err().map(|e| e.to_string()),
    };
    // Only for a backup that exists: verifying a wrong name must not leave a file behind.
    if backup.exists() {
        let written = serde_json::to_string_pretty(&checked)
            .map_err(|e| e.to_string())
            .and_then(|j| std::fs::write(checked_path(backup), j).map_err(|e| e.to_string()));
        if let Err(e) = written {
            tracing::warn!(
                "could not record the verification of {}: {e}",
                backup.display()
            );
        }
    }
    result
}

/// One backup as [`list`] shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BackupInfo {
    /// The file name (`suanpan-<stamp>.db` / `.dump`).
    pub name: String,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// When it was made (RFC 3339), from its manifest.
    pub created_at: Option<String>,
    /// Bytes: the database copy and the evidence files (the file alone without a manifest).
    pub bytes: u64,
    /// Evidence files in it.
    pub evidence_files: usize,
    /// Journal rows in it.
    pub transactions: Option<i64>,
    /// False while it is being written, or when it was never finished (no manifest).
    pub complete: bool,
    /// The last verification, if any.
    pub checked: Option<Checked>,
}

/// The backups in `dir`, newest first, at most [`BACKUPS_LISTED_MAX`].
pub fn list(dir: &Path) -> Result<Vec<BackupInfo>, StoreError> {
    let mut names = file_names(dir, |name, _| file_named(dir, name).is_ok())?;
    names.sort_unstable_by(|a, b| b.cmp(a));
    names.truncate(BACKUPS_LISTED_MAX);
    Ok(names.into_iter().map(|n| info(dir, n)).collect())
}

fn info(dir: &Path, name: String) -> BackupInfo {
    let file = dir.join(&name);
    let manifest: Option<Manifest> = std::fs::read_to_string(manifest_path(&file))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let checked = std::fs::read_to_string(checked_path(&file))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let file_bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    BackupInfo {
        backend: if is_dump(&file) { "postgres" } else { "sqlite" },
        created_at: manifest.as_ref().map(|m| m.created_at.clone()),
        bytes: manifest
            .as_ref()
            .map(Manifest::total_bytes)
            .unwrap_or(file_bytes),
        evidence_files: manifest.as_ref().map(|m| m.evidence.len()).unwrap_or(0),
        transactions: manifest.as_ref().map(|m| m.transactions),
        complete: manifest.is_some(),
        checked,
        name,
    }
}

/// Restores a verified embedded-store backup into `data_dir`, and its evidence files into
/// `evidence_dir` (files already there with the right bytes are kept; none is removed). With
/// a store already there, refuses unless `force`; with `force`, backs the current store up
/// first (into `data_dir/backups`). The caller must have no store open on `data_dir`.
///
/// A backup made under a retired KEK is restored, then re-wrapped under the current one
/// (its TMKs, TOTP secrets and `pan.key`). The audit anchor restarts from the backup's signed
/// head: the old anchor file is kept as `<anchor>.before-restore-<stamp>`.
pub fn restore(
    backup: &Path,
    ring: &Keyring,
    data_dir: &Path,
    evidence_dir: &Path,
    force: bool,
    now: jiff::Timestamp,
) -> Result<Manifest, StoreError> {
    let (manifest, keys) = verify_keyed(backup, ring)?;
    if is_dump(backup) {
        return Err(StoreError::Invalid(
            "a PostgreSQL backup is restored with pg_restore".into(),
        ));
    }
    let live = data_dir.join(DB_FILE);
    if live.exists() {
        if !force {
            return Err(StoreError::LiveStore(live.display().to_string()));
        }
        let src = Sources {
            data_dir,
            evidence_dir,
        };
        create_sqlite(
            &live,
            &*ring.current,
            &src,
            &data_dir.join(BACKUPS_DIR),
            now,
        )?;
    }
    std::fs::create_dir_all(data_dir).map_err(|e| io(data_dir, e))?;
    restore_evidence(backup, &manifest, &*keys, evidence_dir)?;
    let staged = data_dir.join(format!("{DB_FILE}.restoring"));
    open_database(backup, &*keys, &staged)?;
    for side in ["-wal", "-shm"] {
        let p = data_dir.join(format!("{DB_FILE}{side}"));
        if p.exists() {
            std::fs::remove_file(&p).map_err(|e| io(&p, e))?;
        }
    }
    std::fs::rename(&staged, &live).map_err(|e| io(&live, e))?;
    std::fs::copy(key_copy_path(backup), data_dir.join(PAN_KEY_FILE))
        .map_err(|e| io(data_dir, e))?;
    if keys.kek_id() != ring.current.kek_id() {
        rewrap_restored(data_dir, &keys, &ring.current)?;
    }
    if let Some(anchor) = &ring.anchor {
        restart_anchor(
            anchor,
            manifest.audit_head.as_ref(),
            &*keys,
            &*ring.current,
            now,
        )?;
    }
    Ok(manifest)
}

/// A store restored from a backup under a retired KEK: everything re-wrapped under `to`.
fn rewrap_restored(data_dir: &Path, from: &Keys, to: &Keys) -> Result<(), StoreError> {
    use crate::backoffice::Backoffice;
    let opts = crate::OpenOptions {
        keys: from.clone(),
        ..crate::OpenOptions::default()
    };
    let store = crate::SqliteStore::open(data_dir, opts)?;
    store.ensure_backoffice_schema()?;
    crate::terminal_keys::rewrap_all(&store, &[&**from], &**to)?;
    drop(store);
    let file = data_dir.join(PAN_KEY_FILE);
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(&file).map_err(|e| io(&file, e))?);
    if !crate::keys::is_wrapped(text.trim()) {
        // An older build's clear key: wrapped under the current KEK on first use.
        return Ok(());
    }
    let clear = from.unwrap(PAN_KEY_FILE, text.trim())?;
    crate::keys::write_secret_file(&file, &to.wrap(PAN_KEY_FILE, clear.expose())?, false)
}

/// After a restore the chain legitimately ends where the backup's did: the old anchor file is
/// set aside and a new one starts from the backup's head (checked under the backup's KEK,
/// signed again under the current one).
fn restart_anchor(
    anchor: &Path,
    head: Option<&AnchorRecord>,
    backup_keys: &dyn KeyProvider,
    current: &dyn KeyProvider,
    now: jiff::Timestamp,
) -> Result<(), StoreError> {
    if anchor.exists() {
        let mut aside = anchor.as_os_str().to_os_string();
        aside.push(format!(
            ".before-restore-{}",
            now.strftime("%Y%m%dT%H%M%S%.6fZ")
        ));
        std::fs::rename(anchor, PathBuf::from(aside)).map_err(|e| io(anchor, e))?;
    }
    let Some(h) = head else {
        return Ok(());
    };
    if !crate::anchor::is_signed_by(h, backup_keys)? {
        return Err(invalid(
            "the manifest's audit head is not signed by its KEK".into(),
        ));
    }
    let a = crate::anchor::Anchor::new(anchor, current)?;
    a.append(
        &crate::audit::ChainHead {
            seq: h.seq,
            hash: h.hash.clone(),
        },
        now.as_microsecond(),
    );
    Ok(())
}

/// Puts a verified backup's evidence files into `evidence_dir`, decrypted, before the
/// database that names them (files first, rows after, as at upload).
fn restore_evidence(
    backup: &Path,
    m: &Manifest,
    keys: &dyn KeyProvider,
    evidence_dir: &Path,
) -> Result<(), StoreError> {
    std::fs::create_dir_all(evidence_dir).map_err(|e| io(evidence_dir, e))?;
    let from = evidence_copy_dir(backup);
    for e in &m.evidence {
        let to = evidence_dir.join(&e.sha256);
        if to.is_file() && sha256_file(&to).is_ok_and(|(sha, _)| sha == e.sha256) {
            continue;
        }
        let staged = to.with_extension("partial");
        let mut out = std::fs::File::create(&staged).map_err(|e| io(&staged, e))?;
        let what = format!("evidence file {}", e.sha256);
        let (sha, _) = open_sealed(
            keys,
            &evidence_role(&e.sha256),
            &from.join(&e.sha256),
            &mut out,
            &what,
        )?;
        out.sync_all().map_err(|e| io(&staged, e))?;
        if sha != e.sha256 {
            let _ = std::fs::remove_file(&staged);
            return Err(invalid(format!(
                "evidence file {} changed while it was restored",
                e.sha256
            )));
        }
        std::fs::rename(&staged, &to).map_err(|e| io(&to, e))?;
    }
    Ok(())
}
