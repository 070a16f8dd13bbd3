//! 商户进件 (issue 14): the acquirer's merchant changes under maker-checker. A create, an
//! edit or a status change by one acquirer user waits as a pending change; a different
//! acquirer user who manages merchants approves or rejects it, and only the approval changes
//! the merchant (audited with both names). Each use case loads the facts (the merchant's
//! status, the change as stored), asks `core::backoffice::decide_merchant_change` /
//! `decide_merchant_review`, and writes through `store::onboarding`, which decides again
//! under its locks. The CLI is the platform and changes merchants at once
//! (`store::admin::onboard_merchant`, `set_merchant_status`), not through here.
//!
//! Blocking: adapters call these on a blocking thread.

use suanpan_core::MerchantId;
use suanpan_core::backoffice::{
    self, BackOfficeRefused, MerchantChangeKind, Permission, RequestStatus,
};
use suanpan_store::backoffice::StaffUser;
use suanpan_store::onboarding::{self, MerchantChange, MerchantDetails, NewMerchantChange};
use suanpan_store::{Store, StoreError, admin};

/// Why a merchant change was not made.
#[derive(Debug)]
pub enum ChangeError {
    /// A rule of the core said no.
    Refused(BackOfficeRefused),
    /// No such merchant (for an edit or a status change) or change.
    NotFound,
    /// The merchant has a change waiting for review already.
    Waiting,
    /// The store failed.
    Store(StoreError),
}

impl From<StoreError> for ChangeError {
    fn from(e: StoreError) -> ChangeError {
        ChangeError::Store(e)
    }
}

/// The details a create or an edit brings, parsed by the adapter (the account in clear,
/// digits only; it is sealed here and never stored or shown so).
#[derive(Debug, Clone)]
pub struct Details {
    /// Legal name.
    pub name: String,
    /// Short name for slips.
    pub short_name: String,
    /// MCC (4 digits).
    pub mcc: Option<String>,
    /// Address.
    pub address: String,
    /// Contact.
    pub contact: String,
    /// The settlement account's digits; `None` on an edit keeps the one on file.
    pub account: Option<String>,
}

/// A change as an acquirer user asks for it.
#[derive(Debug, Clone)]
pub struct Ask {
    /// The merchant.
    pub merchant: MerchantId,
    /// What.
    pub kind: MerchantChangeKind,
    /// For create and edit.
    pub details: Option<Details>,
    /// Why (required to suspend or close).
    pub reason: String,
}

/// Records `ask` as a pending change of `user` (the maker).
pub fn submit(
    store: &dyn Store,
    user: &StaffUser,
    ask: Ask,
) -> Result<MerchantChange, ChangeError> {
    let current = admin::merchant(store, &ask.merchant)?.map(|m| m.status);
    if current.is_none() && ask.kind != MerchantChangeKind::Create {
        return Err(ChangeError::NotFound);
    }
    backoffice::decide_merchant_change(user.role, ask.kind, current.as_deref(), &ask.reason)
        .map_err(ChangeError::Refused)?;
    let details = match ask.details {
        Some(d) => Some(MerchantDetails {
            account: d
                .account
                .as_ref()
                .map(|digits| onboarding::seal_account(store, &ask.merchant, digits))
                .transpose()?,
            name: d.name,
            short_name: d.short_name,
            mcc: d.mcc,
            address: d.address,
            contact: d.contact,
        }),
        None => None,
    };
    let new = NewMerchantChange {
        merchant: ask.merchant,
        kind: ask.kind,
        details,
        reason: ask.reason.trim().to_owned(),
        submitted_by: (user.id, user.username.clone()),
    };
    let id = onboarding::submit(store, &new)?.ok_or(ChangeError::Waiting)?;
    onboarding::change(store, id)?.ok_or(ChangeError::NotFound)
}

/// The checker's approval (`approve`) or rejection of change `id`.
pub fn review(
    store: &dyn Store,
    user: &StaffUser,
    id: i64,
    approve: bool,
    comment: &str,
) -> Result<MerchantChange, ChangeError> {
    if !user.role.allows(Permission::ManageMerchants) {
        return Err(ChangeError::Refused(BackOfficeRefused::NotPermitted {
            role: user.role.as_str().into(),
        }));
    }
    let c = onboarding::change(store, id)?.ok_or(ChangeError::NotFound)?;
    // Decided on the loaded facts first, so a refused review writes nothing; the store
    // decides again with the change and the merchant locked.
    backoffice::decide_merchant_review(
        c.submitted_by.0,
        c.status,
        user.id,
        user.role,
        approve,
        comment,
    )
    .map_err(ChangeError::Refused)?;
    let comment = comment.trim();
    match onboarding::review(
        store,
        id,
        (user.id, &user.username, user.role),
        approve,
        comment,
    )? {
        Ok(Some(after)) => Ok(after),
        Ok(None) => Err(ChangeError::NotFound),
        Err(r) => Err(ChangeError::Refused(r)),
    }
}

/// The changes waiting for review (what the console's home counts).
pub fn pending(store: &dyn Store) -> Result<Vec<MerchantChange>, StoreError> {
    onboarding::changes(store, Some(RequestStatus::Pending), None)
}

/// Registers terminal `id` for `merchant` (acquirer users who manage terminals); the
/// assignment rules apply (never to a closed merchant).
pub fn register_terminal(
    store: &dyn Store,
    user: &StaffUser,
    id: &suanpan_core::TerminalId,
    merchant: &MerchantId,
) -> Result<(), ChangeError> {
    let status = admin::merchant(store, merchant)?
        .ok_or(ChangeError::NotFound)?
        .status;
    backoffice::decide_terminal_assign(user.role, 0, &status).map_err(ChangeError::Refused)?;
    let actor = suanpan_store::backoffice::actor(&user.username);
    if !suanpan_store::fleet::register(store, &actor, id, merchant)? {
        return Err(ChangeError::Waiting);
    }
    Ok(())
}

/// Assigns terminal `id` to `merchant`: only with its batch settled (the core's rule, decided
/// again by the store with the terminal locked).
pub fn assign_terminal(
    store: &dyn Store,
    user: &StaffUser,
    id: &suanpan_core::TerminalId,
    merchant: &MerchantId,
) -> Result<(), ChangeError> {
    let t = suanpan_store::fleet::one(store, id)?.ok_or(ChangeError::NotFound)?;
    let status = admin::merchant(store, merchant)?
        .ok_or(ChangeError::NotFound)?
        .status;
    backoffice::decide_terminal_assign(user.role, t.open_batch_txns, &status)
        .map_err(ChangeError::Refused)?;
    let actor = suanpan_store::backoffice::actor(&user.username);
    match suanpan_store::fleet::assign(store, (&actor, user.role), id, merchant)? {
        Ok(true) => Ok(()),
        Ok(false) => Err(ChangeError::NotFound),
        Err(r) => Err(ChangeError::Refused(r)),
    }
}

/// Locks (`lock`) or unlocks terminal `id`; a lock says why.
pub fn lock_terminal(
    store: &dyn Store,
    user: &StaffUser,
    id: &suanpan_core::TerminalId,
    lock: bool,
    reason: &str,
) -> Result<(), ChangeError> {
    backoffice::decide_terminal_lock(user.role, lock, reason).map_err(ChangeError::Refused)?;
    let actor = suanpan_store::backoffice::actor(&user.username);
    if !suanpan_store::fleet::set_locked(store, &actor, id, lock, reason.trim())? {
        return Err(ChangeError::NotFound);
    }
    Ok(())
}
