//! Evidence removal through review (issue 5: evidence is retention-locked; "a removal
//! request goes through review after it"): submitted with a reason once the retention period
//! has ended, approved or rejected (with a comment) by someone else. An approval marks the
//! evidence removed (its row stays as a tombstone) and deletes the file when no live row
//! shares its bytes.
//!
//! Each use case loads the evidence or the request as stored (and the evidence's
//! transaction, whose time starts the retention), asks `core::backoffice::
//! decide_evidence_removal` / `decide_removal_review`, then writes through the store, whose
//! partial unique index and conditional update decide races; a refusal is audited on the
//! evidence's transaction. The web's API and pages call the same functions; they block on the
//! store, so adapters call them on a blocking thread.

use suanpan_core::backoffice::{
    self, BackOfficeRefused, Permission, RemovalSubmission, RequestStatus,
};
use suanpan_core::{MerchantId, Refusal, TxnId};
use suanpan_store::backoffice::{Backoffice, StaffUser};
use suanpan_store::evidence::{Evidence, RemovalRow, Reviewed};
use suanpan_store::{Store, StoreError};

/// Removal requests one listing shows.
pub const REMOVALS_LISTED_MAX: u32 = 200;

/// Why a removal use case did not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum RemovalError {
    /// A rule of `core::backoffice` refused (audited on the evidence's transaction).
    #[error("refused: {}", .0.key())]
    Refused(BackOfficeRefused),
    /// No such evidence for this user.
    #[error("evidence not found")]
    EvidenceNotFound,
    /// No such removal request for this user's merchant.
    #[error("removal request not found")]
    NotFound,
    /// Someone else reviewed the request first (the conditional update matched nothing).
    #[error("the request changed meanwhile")]
    Changed,
    /// A stored time that is not one (the evidence's upload time).
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The merchant `user` acts for (an acquirer user has none: nothing of theirs is found).
fn merchant(user: &StaffUser, missing: RemovalError) -> Result<&MerchantId, RemovalError> {
    user.merchant_id.as_ref().ok_or(missing)
}

/// Audits a refusal on transaction `txn` and hands it back as the error.
fn refuse(
    store: &dyn Store,
    user: &StaffUser,
    action: &str,
    txn: i64,
    r: BackOfficeRefused,
) -> RemovalError {
    let outcome = format!("refused:{}", r.key());
    match store.record_staff_event(&user.username, action, &format!("txn:{txn}"), &outcome) {
        Ok(()) => RemovalError::Refused(r),
        Err(e) => RemovalError::Store(e),
    }
}

/// Submits the removal of evidence `id` of `user`'s merchant with `reason`, as the core
/// decides it: never inside retention (from the later of the transaction and the upload),
/// never twice, one pending request at a time.
pub fn submit(
    store: &dyn Store,
    user: &StaffUser,
    id: i64,
    reason: &str,
) -> Result<RemovalRow, RemovalError> {
    let mine = merchant(user, RemovalError::EvidenceNotFound)?;
    let ev = store
        .evidence(mine, id)?
        .ok_or(RemovalError::EvidenceNotFound)?;
    // The transaction may be purged by now (its retention is over too): then only the
    // upload's time counts.
    let txn = store.transaction(TxnId(ev.txn_id))?;
    if txn
        .as_ref()
        .is_some_and(|t| t.hidden && !user.role.allows(Permission::ViewHidden))
    {
        return Err(RemovalError::EvidenceNotFound);
    }
    let uploaded = jiff::Timestamp::from_microsecond(ev.uploaded_at)
        .map_err(|e| RemovalError::Invalid(e.to_string()))?;
    let reason = reason.trim();
    let sub = RemovalSubmission {
        role: user.role,
        reason,
        removed: ev.removed_at.is_some(),
        pending: ev.removal_pending,
        retention_from: backoffice::evidence_retention_from(txn.map(|t| t.created_at), uploaded),
    };
    const ACTION: &str = "evidence.removal_submit";
    if let Err(r) = backoffice::decide_evidence_removal(&sub, store.policy(), store.now()) {
        return Err(refuse(store, user, ACTION, ev.txn_id, r));
    }
    let row = match store.submit_evidence_removal(user, &ev, reason)? {
        Some(rid) => store.evidence_removal(mine, rid)?,
        None => None,
    };
    // None: another removal of it went pending meanwhile (the partial unique index).
    row.ok_or_else(|| {
        refuse(
            store,
            user,
            ACTION,
            ev.txn_id,
            BackOfficeRefused::RemovalPending,
        )
    })
}

/// The removal requests of `user`'s merchant, newest first, of `status` when given.
pub fn list(
    store: &dyn Store,
    user: &StaffUser,
    status: Option<RequestStatus>,
) -> Result<Vec<RemovalRow>, RemovalError> {
    let mine = merchant(user, RemovalError::NotFound)?;
    Ok(store.evidence_removals(mine, status, REMOVALS_LISTED_MAX)?)
}

/// Removal request `id` of `user`'s merchant.
pub fn removal(store: &dyn Store, user: &StaffUser, id: i64) -> Result<RemovalRow, RemovalError> {
    let mine = merchant(user, RemovalError::NotFound)?;
    store
        .evidence_removal(mine, id)?
        .ok_or(RemovalError::NotFound)
}

/// Approves (`approve`) or rejects someone else's removal request as the core decides it;
/// an approval removes the evidence at once (the file under `dir` goes when no live row
/// shares its bytes). Returns the request as it now is.
pub fn review(
    store: &dyn Store,
    user: &StaffUser,
    dir: &std::path::Path,
    id: i64,
    approve: bool,
    comment: &str,
) -> Result<RemovalRow, RemovalError> {
    let q = removal(store, user, id)?;
    let comment = comment.trim();
    let status = RequestStatus::parse(&q.status).unwrap_or(RequestStatus::Rejected);
    let action = if approve {
        "evidence.removal_approve"
    } else {
        "evidence.removal_reject"
    };
    let next = backoffice::decide_removal_review(
        q.submitted_by,
        status,
        user.id,
        user.role,
        approve,
        comment,
    )
    .map_err(|r| refuse(store, user, action, q.txn_id, r))?;
    if store.review_evidence_removal(dir, user, &q, next, comment)? == Reviewed::Changed {
        return Err(RemovalError::Changed);
    }
    removal(store, user, id)
}
