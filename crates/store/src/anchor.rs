//! Audit anchoring: the head of the audit chain (sequence and hash), signed with a key
//! derived from the KEK (`derive("audit.anchor")`), appended after every commit that added
//! audit entries to a file outside the database (`<kek>.anchor`, beside the KEK file).
//!
//! The chain alone shows an edit in the middle, but not the newest entries deleted, nor the
//! whole chain recomputed after an edit: whoever can write the database can do both. The
//! anchor is out of their reach (it lives where the KEK lives, and its records cannot be
//! forged without the KEK), so `audit verify` refuses a chain that ends before the newest
//! anchored entry, or whose entry there has another hash.
//!
//! A record is one line, written with one `write` on a file opened for appending:
//! `a1 <seq> <hash> <unix micros> <HMAC-SHA256 hex>`. It is not synced per commit (a crash
//! may lose the last records: the anchor then lags the chain, which weakens the check for
//! those entries but never raises a false alarm). Past [`ANCHOR_BYTES_ROLL`] the file is
//! renamed `<anchor>.1` (replacing an older one) and a new file starts with the newest record.

use crate::audit::ChainHead;
use crate::error::StoreError;
use crate::keys::{KeyProvider, Secret, keyed_hash};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The purpose of the anchor's signing key (`KeyProvider::derive`).
pub const ANCHOR_PURPOSE: &str = "audit.anchor";
/// The suffix of the anchor file beside the KEK file.
pub const ANCHOR_SUFFIX: &str = ".anchor";
/// Bytes after which the anchor file is rolled over to `<anchor>.1`.
pub const ANCHOR_BYTES_ROLL: u64 = 64 * 1024 * 1024;
/// The record format's tag.
const RECORD_TAG: &str = "a1";

/// One anchored head.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AnchorRecord {
    /// The newest audit entry's sequence number at the time.
    pub seq: i64,
    /// Its hash.
    pub hash: String,
    /// When it was anchored (Unix microseconds).
    pub at: i64,
    /// HMAC-SHA256 under `derive("audit.anchor")` over the sequence and the hash, hex.
    pub mac: String,
}

/// The anchor file of `kek_file`: `<kek>.anchor`.
pub fn path_beside(kek_file: &Path) -> PathBuf {
    let mut name = kek_file.as_os_str().to_os_string();
    name.push(ANCHOR_SUFFIX);
    PathBuf::from(name)
}

fn signature(key: &Secret, seq: i64, hash: &str) -> String {
    keyed_hash(
        key,
        &[
            b"suanpan audit anchor v1",
            &seq.to_be_bytes(),
            hash.as_bytes(),
        ],
    )
}

/// Signs a chain head under `keys` (also what a backup manifest records).
pub fn sign(
    keys: &dyn KeyProvider,
    seq: i64,
    hash: &str,
    at: i64,
) -> Result<AnchorRecord, StoreError> {
    let key = keys.derive(ANCHOR_PURPOSE)?;
    Ok(AnchorRecord {
        seq,
        hash: hash.to_owned(),
        at,
        mac: signature(&key, seq, hash),
    })
}

/// Whether `record` was signed under `keys`.
pub fn is_signed_by(record: &AnchorRecord, keys: &dyn KeyProvider) -> Result<bool, StoreError> {
    let key = keys.derive(ANCHOR_PURPOSE)?;
    Ok(signature(&key, record.seq, &record.hash) == record.mac)
}

/// The anchor file a store appends to.
pub struct Anchor {
    path: PathBuf,
    key: Secret,
    /// The open file and its size, opened on the first append.
    file: Mutex<Option<(std::fs::File, u64)>>,
}

impl std::fmt::Debug for Anchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Anchor({})", self.path.display())
    }
}

impl Anchor {
    /// The anchor at `path`, signing under `keys`. The file is made (0600) on the first
    /// record.
    pub fn new(path: &Path, keys: &dyn KeyProvider) -> Result<Arc<Anchor>, StoreError> {
        Ok(Arc::new(Anchor {
            path: path.to_path_buf(),
            key: keys.derive(ANCHOR_PURPOSE)?,
            file: Mutex::new(None),
        }))
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `head` (called by the writer right after the commit that made it). A failure
    /// is logged, not returned: the commit stands, and the anchor only lags.
    pub fn append(&self, head: &ChainHead, at: i64) {
        if head.seq <= 0 {
            return;
        }
        if let Err(e) = self.try_append(head, at) {
            metrics::counter!("suanpan_audit_anchor_failures_total").increment(1);
            tracing::error!(error = %e, path = %self.path.display(), "audit anchor not written");
        }
    }

    fn try_append(&self, head: &ChainHead, at: i64) -> std::io::Result<()> {
        let line = format!(
            "{RECORD_TAG} {} {} {at} {}\n",
            head.seq,
            head.hash,
            signature(&self.key, head.seq, &head.hash)
        );
        let mut guard = self
            .file
            .lock()
            .map_err(|_| std::io::Error::other("anchor lock poisoned"))?;
        if guard.as_ref().is_some_and(|(_, n)| *n > ANCHOR_BYTES_ROLL) {
            *guard = None;
            let mut old = self.path.as_os_str().to_os_string();
            old.push(".1");
            std::fs::rename(&self.path, PathBuf::from(old))?;
        }
        if guard.is_none() {
            let f = open_append(&self.path)?;
            let n = f.metadata()?.len();
            *guard = Some((f, n));
        }
        if let Some((f, n)) = guard.as_mut() {
            f.write_all(line.as_bytes())?;
            *n += line.len() as u64;
        }
        Ok(())
    }

    /// The newest anchored head (`None`: nothing anchored yet). A record whose signature does
    /// not verify is refused: the file was edited, or the KEK is not the one that signed it.
    pub fn latest(&self) -> Result<Option<AnchorRecord>, StoreError> {
        latest_in(&self.path, &[&self.key])
    }
}

fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

fn forged(path: &Path, line: usize, why: &str) -> StoreError {
    StoreError::AnchorInvalid(format!("{} line {line}: {why}", path.display()))
}

/// Reads the records of `path` (and of `<path>.1` when `path` holds none).
fn latest_in(path: &Path, keys: &[&Secret]) -> Result<Option<AnchorRecord>, StoreError> {
    let mut found = records(path, keys)?;
    if found.is_none() {
        let mut old = path.as_os_str().to_os_string();
        old.push(".1");
        found = records(Path::new(&old), keys)?;
    }
    Ok(found)
}

/// The newest (highest) record of one file; every complete line must verify under one of
/// `keys`. A last line without its newline is a record cut by a crash: skipped.
fn records(path: &Path, keys: &[&Secret]) -> Result<Option<AnchorRecord>, StoreError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(StoreError::AnchorInvalid(format!(
                "{}: {e}",
                path.display()
            )));
        }
    };
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => return Ok(None),
    };
    let mut best: Option<AnchorRecord> = None;
    for (i, line) in complete.lines().enumerate() {
        let r = parse(line).ok_or_else(|| forged(path, i + 1, "not an anchor record"))?;
        if !keys.iter().any(|k| signature(k, r.seq, &r.hash) == r.mac) {
            return Err(forged(
                path,
                i + 1,
                "its signature does not verify (the file was edited, or another KEK signed it)",
            ));
        }
        if best.as_ref().is_none_or(|b| r.seq > b.seq) {
            best = Some(r);
        }
    }
    Ok(best)
}

fn parse(line: &str) -> Option<AnchorRecord> {
    let mut parts = line.split(' ');
    if parts.next()? != RECORD_TAG {
        return None;
    }
    let seq = parts.next()?.parse().ok()?;
    let hash = parts.next()?.to_owned();
    let at = parts.next()?.parse().ok()?;
    let mac = parts.next()?.to_owned();
    if parts.next().is_some() {
        return None;
    }
    Some(AnchorRecord { seq, hash, at, mac })
}

/// After `keys rotate-kek`: the anchor's newest record, checked under `old` (or under `new`
/// when a rotation already got this far), written again signed under `new` as a fresh file
/// (through a temporary name). The older records are dropped: the chain links vouch for them.
pub fn resign(path: &Path, old: &dyn KeyProvider, new: &dyn KeyProvider) -> Result<(), StoreError> {
    let new_key = new.derive(ANCHOR_PURPOSE)?;
    // Both keys: a rotation run again after a stop may find records signed under either.
    let Some(r) = latest_in(path, &[&old.derive(ANCHOR_PURPOSE)?, &new_key])? else {
        return Ok(());
    };
    let staged = {
        let mut s = path.as_os_str().to_os_string();
        s.push(".new");
        PathBuf::from(s)
    };
    let line = format!(
        "{RECORD_TAG} {} {} {} {}\n",
        r.seq,
        r.hash,
        r.at,
        signature(&new_key, r.seq, &r.hash)
    );
    let io =
        |p: &Path, e: std::io::Error| StoreError::AnchorInvalid(format!("{}: {e}", p.display()));
    let _ = std::fs::remove_file(&staged);
    let mut f = open_append(&staged).map_err(|e| io(&staged, e))?;
    f.write_all(line.as_bytes()).map_err(|e| io(&staged, e))?;
    f.sync_all().map_err(|e| io(&staged, e))?;
    let mut old_roll = path.as_os_str().to_os_string();
    old_roll.push(".1");
    let _ = std::fs::remove_file(PathBuf::from(old_roll));
    std::fs::rename(&staged, path).map_err(|e| io(path, e))
}
