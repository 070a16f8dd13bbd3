//! Evidence files (issue 5's 交易视频, photos, PDFs): stored content-addressed under
//! `DATA_DIR/evidence/<sha256>` (written to a temporary name, synced, renamed; the same bytes
//! are stored once), with one row per upload joining the audit chain. Evidence is kept for
//! its retention period; after it, a removal is a request another person reviews
//! (`core::backoffice::decide_evidence_removal` / `decide_removal_review`). An approved
//! removal leaves the row as a tombstone (sha256, who and why) and deletes the file only
//! when no live row shares its bytes.
//!
//! On either backend: the rows are in the store, the files in the folder the caller names
//! (the node's data directory). With several PostgreSQL nodes that folder must be shared
//! (docs/ARCHITECTURE.md, known gaps).

use crate::audit::ChainHead;
use crate::backoffice::{StaffUser, actor};
use crate::error::StoreError;
use crate::p;
use crate::rows::micros;
use crate::sql::{Sql, SqlExt, SqlRow};
use crate::{Store, read, setup};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use suanpan_core::backoffice::RequestStatus;
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
    /// When a reviewed removal took it away (Unix µs): the row is a tombstone then.
    pub removed_at: Option<i64>,
    /// The approved removal's reason.
    pub removal_reason: Option<String>,
    /// A removal is waiting for review.
    pub removal_pending: bool,
}

/// The evidence columns [`evidence_from_row`] reads, `evidence` as `e` joined with `staff` as
/// `s` and the approved removal as `r` (more joins may follow).
pub const EVIDENCE_SELECT: &str = "SELECT e.id, e.txn_id, e.sha256, e.content_type, e.size_bytes, e.filename, s.username, e.uploaded_at, \
     e.removed_at, r.reason, (SELECT COUNT(*) FROM evidence_removals p WHERE p.evidence_id = e.id AND p.status = 'pending') \
     FROM evidence e JOIN staff s ON s.id = e.uploaded_by LEFT JOIN evidence_removals r ON r.id = e.removal_id";

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
        removed_at: r.opt_i64(8)?,
        removal_reason: r.opt_text(9)?,
        removal_pending: r.i64(10)? > 0,
    })
}

/// A request to remove evidence, as listed for review.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RemovalRow {
    /// Id.
    pub id: i64,
    /// The evidence.
    pub evidence_id: i64,
    /// Its transaction.
    pub txn_id: i64,
    /// Its file name.
    pub filename: String,
    /// Its SHA-256.
    pub sha256: String,
    /// Why.
    pub reason: String,
    /// Submitter's user id.
    pub submitted_by: i64,
    /// Submitter's username.
    pub submitted_by_name: String,
    /// When (Unix µs).
    pub submitted_at: i64,
    /// `pending`, `approved` (removed) or `rejected`.
    pub status: String,
    /// Reviewer's username.
    pub reviewed_by_name: Option<String>,
    /// When reviewed (Unix µs).
    pub reviewed_at: Option<i64>,
    /// Reviewer's comment.
    pub review_comment: String,
}

const REMOVAL_SELECT: &str = "SELECT q.id, q.evidence_id, e.txn_id, e.filename, e.sha256, q.reason, q.submitted_by, s.username, \
     q.submitted_at, q.status, r.username, q.reviewed_at, q.review_comment FROM evidence_removals q \
     JOIN evidence e ON e.id = q.evidence_id JOIN staff s ON s.id = q.submitted_by LEFT JOIN staff r ON r.id = q.reviewed_by";

fn removal_from_row(r: &dyn SqlRow) -> Result<RemovalRow, StoreError> {
    Ok(RemovalRow {
        id: r.i64(0)?,
        evidence_id: r.i64(1)?,
        txn_id: r.i64(2)?,
        filename: r.text(3)?,
        sha256: r.text(4)?,
        reason: r.text(5)?,
        submitted_by: r.i64(6)?,
        submitted_by_name: r.text(7)?,
        submitted_at: r.i64(8)?,
        status: r.text(9)?,
        reviewed_by_name: r.opt_text(10)?,
        reviewed_at: r.opt_i64(11)?,
        review_comment: r.text(12)?,
    })
}

/// Removal requests one listing returns at most.
pub const REMOVALS_ROWS_MAX: u32 = 500;

/// What an approved removal did with the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reviewed {
    /// The request was no longer pending (someone else reviewed it first): nothing written.
    Changed,
    /// Rejected, or approved with the file kept because another live row shares its bytes.
    Kept,
    /// Approved and the file deleted.
    FileDeleted,
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
        p![txn.0, user.merchant()?.as_str(), &file.sha256, content_type, file.size_bytes, filename, user.id, now],
    )?;
    head.append(
        tx,
        now,
        [
            &actor(&user.username),
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
        // Once more after the commit: an approved removal of the same bytes may have deleted
        // the file between the first write and this row (it counted no live row then).
        write_evidence_file(dir, bytes)?;
        self.evidence(user.merchant()?, id)?
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

    /// Any merchant's evidence row with its merchant's id: the acquirer's read (issue 14,
    /// "see every merchant's … cases"), which the caller audits with
    /// [`record_acquirer_download`].
    fn evidence_any(&self, id: i64) -> Result<Option<(String, EvidenceRow)>, StoreError> {
        read(self, |c| {
            let Some(merchant) = c.row(
                "SELECT merchant_id FROM evidence WHERE id = ?1",
                p![id],
                |r| r.text(0),
            )?
            else {
                return Ok(None);
            };
            let row = c.row(
                &format!("{EVIDENCE_SELECT} WHERE e.id = ?1"),
                p![id],
                evidence_from_row,
            )?;
            Ok(row.map(|r| (merchant, r)))
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

    /// Stores a removal request the core allowed, audited on the evidence's transaction.
    /// `None` when another removal of it is pending already (the partial unique index
    /// `evidence_removals_one_pending` decides, across nodes too): nothing written then.
    fn submit_evidence_removal(
        &self,
        user: &StaffUser,
        evidence: &EvidenceRow,
        reason: &str,
    ) -> Result<Option<i64>, StoreError> {
        let now = micros(self.now());
        setup(self, |tx, head| {
            let Some(id) = tx.row(
                "INSERT INTO evidence_removals (evidence_id, merchant_id, reason, submitted_by, submitted_at, status)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending') ON CONFLICT DO NOTHING RETURNING id",
                p![evidence.id, user.merchant()?.as_str(), reason, user.id, now],
                |r| r.i64(0),
            )?
            else {
                return Ok(None);
            };
            head.append(
                tx,
                now,
                [
                    &actor(&user.username),
                    "evidence.removal_submit",
                    &format!("txn:{}", evidence.txn_id),
                    reason,
                    &format!("evidence:{} removal:{id} pending", evidence.id),
                ],
            )?;
            Ok(Some(id))
        })
    }

    /// One removal request of a merchant.
    fn evidence_removal(
        &self,
        merchant: &MerchantId,
        id: i64,
    ) -> Result<Option<RemovalRow>, StoreError> {
        read(self, |c| {
            c.row(
                &format!("{REMOVAL_SELECT} WHERE q.id = ?1 AND q.merchant_id = ?2"),
                p![id, merchant.as_str()],
                removal_from_row,
            )
        })
    }

    /// A merchant's removal requests, newest first; optionally one status.
    fn evidence_removals(
        &self,
        merchant: &MerchantId,
        status: Option<RequestStatus>,
        limit: u32,
    ) -> Result<Vec<RemovalRow>, StoreError> {
        read(self, |c| {
            c.rows(
                &format!(
                    "{REMOVAL_SELECT} WHERE q.merchant_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR q.status = ?2)
                     ORDER BY q.id DESC LIMIT ?3"
                ),
                p![merchant.as_str(), status.map(|s| s.as_str()), limit.min(REMOVALS_ROWS_MAX)],
                removal_from_row,
            )
        })
    }

    /// Applies a review the core decided (`next` is `Approved` or `Rejected`), audited on the
    /// transaction. The `WHERE status = 'pending'` of one `UPDATE` decides between two
    /// reviewers. An approval marks the evidence removed (a tombstone: the row, its sha256
    /// and the removal stay) and, after the commit, deletes the file under `dir` when no
    /// live row shares its bytes.
    fn review_evidence_removal(
        &self,
        dir: &Path,
        reviewer: &StaffUser,
        removal: &RemovalRow,
        next: RequestStatus,
        comment: &str,
    ) -> Result<Reviewed, StoreError> {
        let now = micros(self.now());
        let approve = next == RequestStatus::Approved;
        let live = setup(self, |tx, head| {
            let n = tx.exec(
                "UPDATE evidence_removals SET status = ?1, reviewed_by = ?2, reviewed_at = ?3, review_comment = ?4
                 WHERE id = ?5 AND status = 'pending'",
                p![next.as_str(), reviewer.id, now, comment, removal.id],
            )?;
            if n == 0 {
                return Ok(None);
            }
            let mut live = 1;
            if approve {
                tx.exec(
                    "UPDATE evidence SET removed_at = ?1, removal_id = ?2 WHERE id = ?3 AND removed_at IS NULL",
                    p![now, removal.id, removal.evidence_id],
                )?;
                live = tx.one(
                    // KYC documents share the folder (`store::kyc`): their bytes stay too.
                    "SELECT (SELECT COUNT(*) FROM evidence WHERE sha256 = ?1 AND removed_at IS NULL)
                          + (SELECT COUNT(*) FROM merchant_documents WHERE sha256 = ?1)",
                    p![removal.sha256.as_str()],
                    |r| r.i64(0),
                )?;
            }
            let verb = if approve { "approve" } else { "reject" };
            head.append(
                tx,
                now,
                [
                    &actor(&reviewer.username),
                    &format!("evidence.removal_{verb}"),
                    &format!("txn:{}", removal.txn_id),
                    comment,
                    &format!(
                        "evidence:{} removal:{} {}",
                        removal.evidence_id,
                        removal.id,
                        next.as_str()
                    ),
                ],
            )?;
            Ok(Some(live))
        })?;
        match live {
            None => Ok(Reviewed::Changed),
            Some(0) => {
                match std::fs::remove_file(evidence_path(dir, &removal.sha256)?) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io(e)),
                }
                Ok(Reviewed::FileDeleted)
            }
            Some(_) => Ok(Reviewed::Kept),
        }
    }
}

impl<S: Store + ?Sized> Evidence for S {}

/// Audits an acquirer user's download of a merchant's evidence file (counter video, slips):
/// who, whose, which file.
pub fn record_acquirer_download<S: Store + ?Sized>(
    store: &S,
    user: &StaffUser,
    merchant: &str,
    row: &EvidenceRow,
) -> Result<(), StoreError> {
    crate::backoffice::record_read(
        store,
        user,
        [
            "evidence.download",
            &format!("merchant:{merchant}"),
            &row.filename,
            &format!(
                "evidence:{} txn:{} sha256:{}",
                row.id, row.txn_id, row.sha256
            ),
        ],
    )
}
