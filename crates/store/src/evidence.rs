//! Evidence files (issue 5's 交易视频, photos, PDFs): stored content-addressed under
//! `DATA_DIR/evidence/<sha256>` (written to a temporary name, synced, renamed; the same bytes
//! are stored once), with one row per upload joining the audit chain. There is no removal:
//! evidence is kept at least as long as its transaction (retention).
//!
//! On either backend: the rows are in the store, the files in the folder the caller names
//! (the node's data directory). With several PostgreSQL nodes that folder must be shared
//! (docs/ARCHITECTURE.md, known gaps).

use crate::audit::ChainHead;
use crate::backoffice::StaffUser;
use crate::error::StoreError;
use crate::p;
use crate::rows::micros;
use crate::sql::{Sql, SqlExt, SqlRow};
use crate::{Store, read, setup};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use suanpan_core::{MerchantId, TxnId};

/// The folder of evidence files inside the data directory.
pub const EVIDENCE_DIR: &str = "evidence";

/// One uploaded file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EvidenceRow {
    /// Id.
    pub id: i64,
    /// The transaction.
    pub txn_id: i64,
    /// SHA-256 of the bytes (hex): the file's name on disk.
    pub sha256: String,
    /// The checked content type.
    pub content_type: String,
    /// Size.
    pub size_bytes: i64,
    /// The name it was uploaded with.
    pub filename: String,
    /// Who uploaded it (username).
    pub uploaded_by: String,
    /// When (Unix µs).
    pub uploaded_at: i64,
}

/// The evidence columns [`evidence_from_row`] reads, `evidence` as `e` joined with `staff` as `s`.
pub const EVIDENCE_SELECT: &str = "SELECT e.id, e.txn_id, e.sha256, e.content_type, e.size_bytes, e.filename, s.username, e.uploaded_at \
     FROM evidence e JOIN staff s ON s.id = e.uploaded_by";

/// An evidence row selected with [`EVIDENCE_SELECT`].
pub fn evidence_from_row(r: &dyn SqlRow) -> Result<EvidenceRow, StoreError> {
    Ok(EvidenceRow {
        id: r.i64(0)?,
        txn_id: r.i64(1)?,
        sha256: r.text(2)?,
        content_type: r.text(3)?,
        size_bytes: r.i64(4)?,
        filename: r.text(5)?,
        uploaded_by: r.text(6)?,
        uploaded_at: r.i64(7)?,
    })
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Sqlite(format!("evidence file: {e}"))
}

/// The evidence folder inside a data directory.
pub fn evidence_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(EVIDENCE_DIR)
}

/// The path of a stored file in the evidence folder `dir` by its SHA-256 (hex, checked).
pub fn evidence_path(dir: &Path, sha256: &str) -> Result<PathBuf, StoreError> {
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(StoreError::Invalid(format!("sha256 {sha256:?}")));
    }
    Ok(dir.join(sha256))
}

/// A file written to the evidence folder: its SHA-256 (hex) and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// SHA-256 of the bytes (hex): the file's name.
    pub sha256: String,
    /// Size in bytes.
    pub size_bytes: i64,
}

/// Writes `bytes` under their SHA-256 in `dir` (temporary name, synced, renamed; bytes
/// already there are not written again). Call before the row that names the file commits,
/// so a row never points at nothing.
pub fn write_evidence_file(dir: &Path, bytes: &[u8]) -> Result<StoredFile, StoreError> {
    let sha = hex::encode(Sha256::digest(bytes));
    std::fs::create_dir_all(dir).map_err(io)?;
    let path = evidence_path(dir, &sha)?;
    if !path.exists() {
        let partial = dir.join(format!("{sha}.partial"));
        let mut f = std::fs::File::create(&partial).map_err(io)?;
        f.write_all(bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&partial, &path).map_err(io)?;
    }
    let size_bytes = i64::try_from(bytes.len()).map_err(|_| StoreError::Invalid("size".into()))?;
    Ok(StoredFile {
        sha256: sha,
        size_bytes,
    })
}

/// Inserts the row of a written file on `txn`, audited on the transaction, inside the
/// caller's setup transaction; returns its id.
#[allow(clippy::too_many_arguments)]
pub fn insert_evidence(
    tx: &dyn Sql,
    head: &mut ChainHead,
    now: i64,
    user: &StaffUser,
    txn: TxnId,
    file: &StoredFile,
    content_type: &str,
    filename: &str,
) -> Result<i64, StoreError> {
    let id = tx.insert_id(
        "INSERT INTO evidence (txn_id, merchant_id, sha256, content_type, size_bytes, filename, uploaded_by, uploaded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        p![txn.0, user.merchant_id.as_str(), &file.sha256, content_type, file.size_bytes, filename, user.id, now],
    )?;
    head.append(
        tx,
        now,
        [
            &crate::backoffice::actor(&user.username),
            "evidence.upload",
            &format!("txn:{}", txn.0),
            filename,
            &format!("evidence:{id} sha256:{}", file.sha256),
        ],
    )?;
    Ok(id)
}

/// Evidence on any [`Store`]; the files live in the evidence folder `dir` the caller names.
pub trait Evidence: Store {
    /// Stores an upload whose type the caller has checked; the file is on disk (synced)
    /// before its row commits, so a row never points at nothing.
    fn put_evidence(
        &self,
        dir: &Path,
        user: &StaffUser,
        txn: TxnId,
        content_type: &str,
        filename: &str,
        bytes: &[u8],
    ) -> Result<EvidenceRow, StoreError> {
        let file = write_evidence_file(dir, bytes)?;
        let now = micros(self.now());
        let id = setup(self, |tx, head| {
            insert_evidence(tx, head, now, user, txn, &file, content_type, filename)
        })?;
        self.evidence(&user.merchant_id, id)?
            .ok_or_else(|| StoreError::Sqlite("evidence row vanished".into()))
    }

    /// One evidence row of a merchant.
    fn evidence(&self, merchant: &MerchantId, id: i64) -> Result<Option<EvidenceRow>, StoreError> {
        read(self, |c| {
            c.row(
                &format!("{EVIDENCE_SELECT} WHERE e.id = ?1 AND e.merchant_id = ?2"),
                p![id, merchant.as_str()],
                evidence_from_row,
            )
        })
    }

    /// A transaction's evidence, oldest first.
    fn evidence_of(&self, txn: TxnId) -> Result<Vec<EvidenceRow>, StoreError> {
        read(self, |c| {
            c.rows(
                &format!("{EVIDENCE_SELECT} WHERE e.txn_id = ?1 ORDER BY e.id"),
                p![txn.0],
                evidence_from_row,
            )
        })
    }
}

impl<S: Store + ?Sized> Evidence for S {}
