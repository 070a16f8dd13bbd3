//! KYC documents on merchant onboarding (商户进件资料, issue 14): files the acquirer uploads
//! for a merchant, kept like transaction evidence — content-addressed under their SHA-256 in
//! the evidence folder (so backups seal them with the rest), one row each joining the audit
//! chain (`merchant.document.upload`), and every download audited too
//! (`merchant.document.download`): they hold identity papers. Only acquirer users reach
//! them (`web::kyc`); a merchant's own users never do.
//!
//! A document names its merchant by id, not by a foreign key: the maker uploads the licence
//! while the merchant's creation waits for its checker, before the merchant row exists.
//! [`put_document`] checks that the merchant, or its pending creation, exists.

use crate::backoffice::{StaffUser, actor, record_read};
use crate::error::StoreError;
use crate::evidence::write_evidence_file;
use crate::p;
use crate::rows::micros;
use crate::sql::{SqlExt, SqlRow};
use crate::{Store, read, setup};
use std::path::Path;
use suanpan_core::MerchantId;
use suanpan_core::backoffice::{KYC_DOCUMENTS_PER_MERCHANT_MAX, KycDocumentKind};

/// One KYC document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRow {
    /// Id.
    pub id: i64,
    /// The merchant.
    pub merchant_id: String,
    /// What it is (`KycDocumentKind` name).
    pub kind: String,
    /// SHA-256 of the bytes (hex): the file's name in the evidence folder.
    pub sha256: String,
    /// The checked content type.
    pub content_type: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// The name it was uploaded with.
    pub filename: String,
    /// Who uploaded it (username).
    pub uploaded_by: String,
    /// When (Unix µs).
    pub uploaded_at: i64,
}

const DOCUMENT_SELECT: &str = "SELECT d.id, d.merchant_id, d.kind, d.sha256, d.content_type, d.size_bytes, d.filename, \
     s.username, d.uploaded_at FROM merchant_documents d JOIN staff s ON s.id = d.uploaded_by";

fn document_from(r: &dyn SqlRow) -> Result<DocumentRow, StoreError> {
    Ok(DocumentRow {
        id: r.i64(0)?,
        merchant_id: r.text(1)?,
        kind: r.text(2)?,
        sha256: r.text(3)?,
        content_type: r.text(4)?,
        size_bytes: r.i64(5)?,
        filename: r.text(6)?,
        uploaded_by: r.text(7)?,
        uploaded_at: r.i64(8)?,
    })
}

/// Why a document was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No such merchant, and no creation of it waiting.
    NoMerchant,
    /// The merchant holds [`KYC_DOCUMENTS_PER_MERCHANT_MAX`] documents already.
    TooMany,
}

/// A file the upload named, already checked by the caller (type by magic bytes, size).
pub struct NewDocument<'a> {
    /// The merchant.
    pub merchant: &'a MerchantId,
    /// What it is.
    pub kind: KycDocumentKind,
    /// The checked content type.
    pub content_type: &'a str,
    /// The cleaned file name.
    pub filename: &'a str,
    /// The bytes.
    pub bytes: &'a [u8],
}

/// Stores a document for a merchant that exists or whose creation waits, audited as the
/// uploader on `merchant:<id>`. The file is on disk (synced) before its row commits, so a
/// row never points at nothing; written again after the commit, as evidence is, in case a
/// reviewed evidence removal of the same bytes deleted it meanwhile.
pub fn put_document<S: Store + ?Sized>(
    store: &S,
    dir: &Path,
    user: &StaffUser,
    doc: &NewDocument<'_>,
) -> Result<Result<DocumentRow, Refused>, StoreError> {
    let file = write_evidence_file(dir, doc.bytes)?;
    let now = micros(store.now());
    let merchant = doc.merchant.as_str();
    let id = setup(store, |tx, head| {
        let known = tx.one(
            "SELECT (SELECT COUNT(*) FROM merchants WHERE id = ?1)
                  + (SELECT COUNT(*) FROM merchant_changes WHERE merchant_id = ?1 AND kind = 'create' AND status = 'pending')",
            p![merchant],
            |r| r.i64(0),
        )?;
        if known == 0 {
            return Ok(Err(Refused::NoMerchant));
        }
        let held = tx.one(
            "SELECT COUNT(*) FROM merchant_documents WHERE merchant_id = ?1",
            p![merchant],
            |r| r.i64(0),
        )?;
        if held >= i64::from(KYC_DOCUMENTS_PER_MERCHANT_MAX) {
            return Ok(Err(Refused::TooMany));
        }
        let id = tx.insert_id(
            "INSERT INTO merchant_documents (merchant_id, kind, sha256, content_type, size_bytes, filename, uploaded_by, uploaded_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            p![merchant, doc.kind.as_str(), &file.sha256, doc.content_type, file.size_bytes, doc.filename, user.id, now],
        )?;
        head.append(
            tx,
            now,
            [
                &actor(&user.username),
                "merchant.document.upload",
                &format!("merchant:{merchant}"),
                doc.filename,
                &format!(
                    "document:{id} kind:{} sha256:{}",
                    doc.kind.as_str(),
                    file.sha256
                ),
            ],
        )?;
        Ok(Ok(id))
    })?;
    let id = match id {
        Ok(id) => id,
        Err(refused) => return Ok(Err(refused)),
    };
    write_evidence_file(dir, doc.bytes)?;
    document(store, doc.merchant, id)?
        .map(Ok)
        .ok_or_else(|| StoreError::Sqlite("document row vanished".into()))
}

/// One document of a merchant.
pub fn document<S: Store + ?Sized>(
    store: &S,
    merchant: &MerchantId,
    id: i64,
) -> Result<Option<DocumentRow>, StoreError> {
    read(store, |c| {
        c.row(
            &format!("{DOCUMENT_SELECT} WHERE d.id = ?1 AND d.merchant_id = ?2"),
            p![id, merchant.as_str()],
            document_from,
        )
    })
}

/// A merchant's documents, oldest first (at most [`KYC_DOCUMENTS_PER_MERCHANT_MAX`]).
pub fn documents<S: Store + ?Sized>(
    store: &S,
    merchant: &MerchantId,
) -> Result<Vec<DocumentRow>, StoreError> {
    read(store, |c| {
        c.rows(
            &format!("{DOCUMENT_SELECT} WHERE d.merchant_id = ?1 ORDER BY d.id LIMIT ?2"),
            p![merchant.as_str(), KYC_DOCUMENTS_PER_MERCHANT_MAX],
            document_from,
        )
    })
}

/// Records that `user` read a document (identity papers: who looked is on the chain).
pub fn record_download<S: Store + ?Sized>(
    store: &S,
    user: &StaffUser,
    doc: &DocumentRow,
) -> Result<(), StoreError> {
    record_read(
        store,
        user,
        [
            "merchant.document.download",
            &format!("merchant:{}", doc.merchant_id),
            &doc.filename,
            &format!("document:{} sha256:{}", doc.id, doc.sha256),
        ],
    )
}

/// Why a document was not removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotRemoved {
    /// No such document of that merchant.
    NotFound,
    /// The rules refused (`core::backoffice::decide_kyc_removal`).
    Refused(suanpan_core::backoffice::BackOfficeRefused),
}

/// Removes a document of a merchant whose onboarding still waits, as the core's
/// `decide_kyc_removal` allows it on the merchant's status read in the same transaction
/// (an activation committing meanwhile is either seen or waited for). Audited as
/// `merchant.document.remove` with the reason, the kind and the SHA-256, never the bytes.
/// The file goes too unless another document or live evidence holds the same bytes: a
/// removal is asked for because the wrong identity papers were uploaded.
pub fn remove_document<S: Store + ?Sized>(
    store: &S,
    dir: &Path,
    user: &StaffUser,
    merchant: &MerchantId,
    id: i64,
    reason: &str,
) -> Result<Result<DocumentRow, NotRemoved>, StoreError> {
    let Some(doc) = document(store, merchant, id)? else {
        return Ok(Err(NotRemoved::NotFound));
    };
    let now = micros(store.now());
    let reason = reason.trim();
    let done = setup(store, |tx, head| {
        let status = tx.row(
            "SELECT status FROM merchants WHERE id = ?1",
            p![merchant.as_str()],
            |r| r.text(0),
        )?;
        if let Err(r) =
            suanpan_core::backoffice::decide_kyc_removal(user.role, status.as_deref(), reason)
        {
            return Ok(Err(NotRemoved::Refused(r)));
        }
        let n = tx.exec(
            "DELETE FROM merchant_documents WHERE id = ?1 AND merchant_id = ?2",
            p![id, merchant.as_str()],
        )?;
        if n == 0 {
            return Ok(Err(NotRemoved::NotFound));
        }
        head.append(
            tx,
            now,
            [
                &actor(&user.username),
                "merchant.document.remove",
                &format!("merchant:{merchant}"),
                reason,
                &format!(
                    "document:{id} kind:{} sha256:{} {}",
                    doc.kind, doc.sha256, doc.filename
                ),
            ],
        )?;
        let held = tx.one(
            "SELECT (SELECT COUNT(*) FROM merchant_documents WHERE sha256 = ?1)
                  + (SELECT COUNT(*) FROM evidence WHERE sha256 = ?1 AND removed_at IS NULL)",
            p![doc.sha256.as_str()],
            |r| r.i64(0),
        )?;
        Ok(Ok(held))
    })?;
    match done {
        Err(e) => Ok(Err(e)),
        Ok(held) => {
            if held == 0 {
                let path = crate::evidence::evidence_path(dir, &doc.sha256)?;
                if let Err(e) = std::fs::remove_file(&path)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    return Err(StoreError::Sqlite(format!("removing a document file: {e}")));
                }
            }
            Ok(Ok(doc))
        }
    }
}
