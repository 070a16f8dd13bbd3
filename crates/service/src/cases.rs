//! Cases (撤错 / 调账, issue 5 part 3) of the back-office: open from a transaction (a mistaken
//! void links its family at once), link more transactions, add notes and evidence, submit to
//! the acquirer and record its answer, and everything stored about one case for its page and
//! its evidence pack.
//!
//! Each use case loads the facts its rule needs (the case as stored, the transaction as the
//! user may see it, the links already made, the void family), asks `suanpan_core::case`,
//! then writes through the store, whose conditional updates decide races; a refusal is
//! audited (`case.ACTION`, `refused:KEY`) on what it was about. The web's API and pages call
//! the same functions; they block on the store, so adapters call them on a blocking thread.

use suanpan_core::case::{self, CaseAction, CaseKind, CaseRefused, LinkFacts, LinkRole};
use suanpan_core::{MerchantId, Refusal, Transaction, TxnId};
use suanpan_store::audit::AuditEntry;
use suanpan_store::backoffice::{Backoffice, StaffUser};
use suanpan_store::case::{CaseLink, CaseNote, CaseRow, Cases, NewCase};
use suanpan_store::evidence::{Evidence, EvidenceRow, write_evidence_file};
use suanpan_store::{Store, StoreError};

/// Why a case use case did not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// A rule of `core::case` refused (audited).
    #[error("refused: {}", .0.key())]
    Refused(CaseRefused),
    /// No such case for this user's merchant.
    #[error("case not found")]
    NotFound,
    /// No such transaction for this user (another merchant's, or hidden from this role).
    #[error("transaction not found")]
    TxnNotFound,
    /// Someone else moved the case first (the conditional update matched nothing).
    #[error("the case changed meanwhile")]
    Changed,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new case as the adapter parsed it.
#[derive(Debug, Clone)]
pub struct Open {
    /// The transaction it is opened from.
    pub txn: TxnId,
    /// 撤错 or 调账.
    pub kind: CaseKind,
    /// What happened (trimmed here).
    pub note: String,
}

/// Everything stored about a case: what its page, its API detail and its pack show.
#[derive(Debug, Clone)]
pub struct CaseRecord {
    /// The case.
    pub case: CaseRow,
    /// Its links, in the order they were made.
    pub links: Vec<CaseLink>,
    /// The linked transactions still in the journal (a purged one is absent).
    pub txns: Vec<Transaction>,
    /// Notes, oldest first.
    pub notes: Vec<CaseNote>,
    /// Evidence attached to the case.
    pub evidence: Vec<EvidenceRow>,
}

/// Audits a refusal on `target` and hands it back as the error.
fn refuse(
    store: &dyn Store,
    user: &StaffUser,
    action: &str,
    target: &str,
    r: CaseRefused,
) -> CaseError {
    let outcome = format!("refused:{}", r.key());
    match store.record_staff_event(&user.username, &format!("case.{action}"), target, &outcome) {
        Ok(()) => CaseError::Refused(r),
        Err(e) => CaseError::Store(e),
    }
}

/// Case `id` of `merchant`, or of any merchant when `None` (the acquirer's read-only
/// console, which checks its own permission first).
pub fn case(
    store: &dyn Store,
    merchant: Option<&MerchantId>,
    id: i64,
) -> Result<CaseRow, CaseError> {
    store.case(merchant, id)?.ok_or(CaseError::NotFound)
}

/// The case `id` of `user`'s merchant (an acquirer user has none: not found).
fn own_case(store: &dyn Store, user: &StaffUser, id: i64) -> Result<CaseRow, CaseError> {
    let merchant = user.merchant_id.as_ref().ok_or(CaseError::NotFound)?;
    case(store, Some(merchant), id)
}

/// Everything stored about case `id` within `merchant` (`None`: any merchant's).
pub fn record(
    store: &dyn Store,
    merchant: Option<&MerchantId>,
    id: i64,
) -> Result<CaseRecord, CaseError> {
    let case = case(store, merchant, id)?;
    let links = store.case_links(case.id)?;
    let mut txns = Vec::with_capacity(links.len());
    for l in &links {
        if let Some(t) = store.transaction(TxnId(l.txn_id))? {
            txns.push(t);
        }
    }
    let notes = store.case_notes(case.id)?;
    let evidence = store.case_evidence(case.id)?;
    Ok(CaseRecord {
        case,
        links,
        txns,
        notes,
        evidence,
    })
}

/// The case's own audit entries, oldest first (its timeline).
pub fn timeline(store: &dyn Store, id: i64) -> Result<Vec<AuditEntry>, CaseError> {
    Ok(store.target_audit(&format!("case:{id}"))?)
}

/// Opens a case from a transaction `user` may see; a mistaken-void case links the voided
/// sale, its voids and its re-charges at once. Returns the new case's id.
pub fn open(store: &dyn Store, user: &StaffUser, o: &Open) -> Result<i64, CaseError> {
    let t = crate::visible_txn(store, user, o.txn)?.ok_or(CaseError::TxnNotFound)?;
    let note = o.note.trim().to_owned();
    let family = if o.kind == CaseKind::MistakenVoid {
        store.void_family(&t)?
    } else {
        Default::default()
    };
    if let Err(r) = case::decide_case_open(user.role, o.kind, &note, family.voided()) {
        return Err(refuse(store, user, "open", &format!("txn:{}", t.id.0), r));
    }
    let links = if o.kind == CaseKind::MistakenVoid {
        family.links(t.id)
    } else {
        vec![(t.id, LinkRole::Origin)]
    };
    let new = NewCase {
        kind: o.kind,
        txn: t.id,
        note,
        links,
    };
    Ok(store.open_case(user, &new)?)
}

/// Links a transaction of the case's merchant (once) to a case that is not closed.
pub fn link(
    store: &dyn Store,
    user: &StaffUser,
    id: i64,
    txn: TxnId,
    role: LinkRole,
) -> Result<(), CaseError> {
    let c = own_case(store, user, id)?;
    let status = c.status()?;
    // Loaded as the user may see it: another merchant's transaction is "not found", exactly
    // as one that does not exist (issue 14: "not yours" confirmed that it existed).
    let t = crate::visible_txn(store, user, txn)?.ok_or(CaseError::TxnNotFound)?;
    let links = store.case_links(id)?;
    let facts = LinkFacts {
        status,
        case_merchant: &c.merchant_id,
        txn_merchant: t.merchant_id.as_str(),
        already_linked: links.iter().any(|l| l.txn_id == txn.0),
    };
    if let Err(r) = case::decide_case_link(user.role, &facts) {
        return Err(refuse(store, user, "link", &format!("case:{id}"), r));
    }
    if !store.link_case(user, id, t.id, role)? {
        return Err(CaseError::Changed);
    }
    Ok(())
}

/// Adds a note to a case (also to a closed one).
pub fn note(store: &dyn Store, user: &StaffUser, id: i64, text: &str) -> Result<(), CaseError> {
    own_case(store, user, id)?;
    let text = text.trim();
    if let Err(r) = case::decide_case_note(user.role, text) {
        return Err(refuse(store, user, "note", &format!("case:{id}"), r));
    }
    store.add_case_note(user, id, text)?;
    Ok(())
}

/// Applies a status change (submit, resolve, reject) as the core decides it.
pub fn act(
    store: &dyn Store,
    user: &StaffUser,
    id: i64,
    action: CaseAction,
    text: &str,
) -> Result<(), CaseError> {
    let c = own_case(store, user, id)?;
    let status = c.status()?;
    let text = text.trim();
    let next = case::decide_case_transition(user.role, status, action, text)
        .map_err(|r| refuse(store, user, action.as_str(), &format!("case:{id}"), r))?;
    if !store.transition_case(user, id, status, next, text)? {
        return Err(CaseError::Changed);
    }
    Ok(())
}

/// Whether `user` may attach evidence to case `id` now (the case is not closed): the case,
/// to hand to [`attach`] once the adapter has checked the upload's bytes.
pub fn may_attach(store: &dyn Store, user: &StaffUser, id: i64) -> Result<CaseRow, CaseError> {
    let c = own_case(store, user, id)?;
    if let Err(r) = case::decide_case_evidence(user.role, c.status()?) {
        return Err(refuse(store, user, "evidence", &format!("case:{id}"), r));
    }
    Ok(c)
}

/// A checked upload: bytes whose magic proved `content_type`, and the file's clean name.
#[derive(Debug, Clone)]
pub struct Upload<'a> {
    /// The bytes.
    pub bytes: &'a [u8],
    /// The type the bytes proved.
    pub content_type: &'a str,
    /// The file name as shown.
    pub filename: &'a str,
}

/// Stores `up` under `dir` (by its SHA-256, synced and renamed into place) and attaches it
/// to case `c` (from [`may_attach`]) on its transaction; `Changed` when the case was closed
/// meanwhile.
pub fn attach(
    store: &dyn Store,
    user: &StaffUser,
    dir: &std::path::Path,
    c: &CaseRow,
    up: &Upload<'_>,
) -> Result<EvidenceRow, CaseError> {
    let file = write_evidence_file(dir, up.bytes)?;
    let Some(ev) = store.attach_case_evidence(user, c, &file, up.content_type, up.filename)? else {
        return Err(CaseError::Changed);
    };
    store
        .evidence(user.merchant()?, ev)?
        .ok_or(CaseError::Changed)
}

/// What a case's evidence pack holds besides the case itself: the audit entries of the case
/// and of its transactions, and the evidence of each linked transaction after the case's own.
#[derive(Debug, Clone)]
pub struct PackFacts {
    /// The case's and its transactions' audit entries.
    pub audit: Vec<AuditEntry>,
    /// The case's evidence, then each linked transaction's.
    pub evidence: Vec<EvidenceRow>,
}

/// Loads what the pack of `r` needs beyond the record.
pub fn pack_facts(store: &dyn Store, r: &CaseRecord) -> Result<PackFacts, CaseError> {
    let ids: Vec<i64> = r.txns.iter().map(|t| t.id.0).collect();
    let audit = store.case_audit(r.case.id, &ids)?;
    let mut evidence = r.evidence.clone();
    for t in &r.txns {
        evidence.extend(store.evidence_of(t.id)?);
    }
    Ok(PackFacts { audit, evidence })
}

/// Audits the download of case `id`'s pack with the SHA-256 of its `SHA256SUMS`.
pub fn record_pack(
    store: &dyn Store,
    user: &StaffUser,
    id: i64,
    digest: &str,
) -> Result<(), CaseError> {
    Ok(store.record_case_pack(user, id, digest)?)
}
