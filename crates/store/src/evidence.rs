//! Evidence files (issue 5's 交易视频, photos, PDFs): stored content-addressed under
//! `DATA_DIR/evidence/<sha256>` (written to a temporary name, synced, renamed; the same bytes
//! are stored once), with one row per upload joining the audit chain. There is no removal:
//! evidence is kept at least as long as its transaction (retention).

use crate::backoffice::StaffUser;
use crate::error::StoreError;
use crate::rows::micros;
use crate::sqlite::SqliteStore;
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::PathBuf;
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

const SELECT: &str = "SELECT e.id, e.txn_id, e.sha256, e.content_type, e.size_bytes, e.filename, s.username, e.uploaded_at \
     FROM evidence e JOIN staff s ON s.id = e.uploaded_by";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EvidenceRow> {
    Ok(EvidenceRow {
        id: r.get(0)?,
        txn_id: r.get(1)?,
        sha256: r.get(2)?,
        content_type: r.get(3)?,
        size_bytes: r.get(4)?,
        filename: r.get(5)?,
        uploaded_by: r.get(6)?,
        uploaded_at: r.get(7)?,
    })
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Sqlite(format!("evidence file: {e}"))
}

impl SqliteStore {
    fn evidence_dir(&self) -> PathBuf {
        self.path()
            .parent()
            .map(|d| d.join(EVIDENCE_DIR))
            .unwrap_or_else(|| PathBuf::from(EVIDENCE_DIR))
    }

    /// The path of a stored file by its SHA-256 (hex, checked).
    pub fn evidence_path(&self, sha256: &str) -> Result<PathBuf, StoreError> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::Invalid(format!("sha256 {sha256:?}")));
        }
        Ok(self.evidence_dir().join(sha256))
    }

    /// Stores an upload whose type the caller has checked; the file is on disk (synced)
    /// before its row commits, so a row never points at nothing.
    pub fn put_evidence(
        &self,
        user: &StaffUser,
        txn: TxnId,
        content_type: &str,
        filename: &str,
        bytes: &[u8],
    ) -> Result<EvidenceRow, StoreError> {
        let sha = hex::encode(Sha256::digest(bytes));
        let dir = self.evidence_dir();
        std::fs::create_dir_all(&dir).map_err(io)?;
        let path = self.evidence_path(&sha)?;
        if !path.exists() {
            let partial = dir.join(format!("{sha}.partial"));
            let mut f = std::fs::File::create(&partial).map_err(io)?;
            f.write_all(bytes).map_err(io)?;
            f.sync_all().map_err(io)?;
            std::fs::rename(&partial, &path).map_err(io)?;
        }
        let now = micros(self.now());
        let size = i64::try_from(bytes.len()).map_err(|_| StoreError::Invalid("size".into()))?;
        let id = self.setup(|tx, head| {
            tx.execute(
                "INSERT INTO evidence (txn_id, merchant_id, sha256, content_type, size_bytes, filename, uploaded_by, uploaded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![txn.0, user.merchant_id.as_str(), sha, content_type, size, filename, user.id, now],
            )?;
            let id = tx.last_insert_rowid();
            head.append(
                tx,
                now,
                [
                    &crate::backoffice::actor(&user.username),
                    "evidence.upload",
                    &format!("txn:{}", txn.0),
                    filename,
                    &format!("evidence:{id} sha256:{sha}"),
                ],
            )?;
            Ok(id)
        })?;
        self.evidence(&user.merchant_id, id)?
            .ok_or_else(|| StoreError::Sqlite("evidence row vanished".into()))
    }

    /// One evidence row of a merchant.
    pub fn evidence(
        &self,
        merchant: &MerchantId,
        id: i64,
    ) -> Result<Option<EvidenceRow>, StoreError> {
        self.read(|c| {
            c.query_row(
                &format!("{SELECT} WHERE e.id = ?1 AND e.merchant_id = ?2"),
                params![id, merchant.as_str()],
                from_row,
            )
            .optional()
        })
    }

    /// A transaction's evidence, oldest first.
    pub fn evidence_of(&self, txn: TxnId) -> Result<Vec<EvidenceRow>, StoreError> {
        self.read(|c| {
            c.prepare(&format!("{SELECT} WHERE e.txn_id = ?1 ORDER BY e.id"))?
                .query_map([txn.0], from_row)?
                .collect()
        })
    }
}
