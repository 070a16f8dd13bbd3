//! Back-office users and counter operators. A merchant's admin (over the web) or the platform
//! (the CLI, `admin user add`, `admin acquirer-user add`, `admin operator add`) creates users
//! ([`add`]) and counter operators ([`add_operator`]); a merchant's admin edits, disables,
//! enables, resets the password or the TOTP of its users ([`change`]). The rules (who may, how
//! long a password, never oneself out, never the last admin, an operator's number and role)
//! are `core::backoffice::decide_new_user`, `decide_user_change` and `decide_new_operator`; a
//! change is decided here on the user as read, then again by the store inside its transaction
//! with the rows locked. A refused change is audited. Passwords are hashed with argon2id once
//! the rule has looked at them.
//!
//! Blocking: adapters call these on a blocking thread.

use suanpan_core::backoffice::{self, BackOfficeRefused, StaffRole, UserChange, UserFacts};
use suanpan_core::{MerchantId, OperatorNo, Refusal};
use suanpan_store::backoffice::{Backoffice, OperatorRow, StaffChange, StaffListing, StaffUser};
use suanpan_store::{Store, StoreError, auth};
use zeroize::Zeroizing;

/// Why a user or an operator was not created or changed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// A rule of the core said no.
    #[error("refused: {}", .0.key())]
    Refused(BackOfficeRefused),
    /// No such user at the caller's merchant.
    #[error("user not found")]
    NotFound,
    /// The user name is taken (by any merchant's or the acquirer's user).
    #[error("user name taken")]
    Taken,
    /// The merchant has a counter operator with that number already.
    #[error("operator number taken")]
    OperatorTaken,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new back-office user, parsed by the adapter.
pub struct NewUser {
    /// The merchant it works for; `None` for an acquirer user.
    pub merchant: Option<MerchantId>,
    /// Login name.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Role (of the merchant's tier for a merchant's user).
    pub role: StaffRole,
    /// The counter operator no. it books as.
    pub operator_no: Option<OperatorNo>,
    /// Initial password.
    pub password: Zeroizing<String>,
}

/// Creates user `u` as `by` (a merchant's admin; `None`: the platform) is allowed to, and
/// gives its id.
pub fn add(store: &dyn Store, by: Option<StaffRole>, u: &NewUser) -> Result<i64, UserError> {
    backoffice::decide_new_user(by, &u.password).map_err(UserError::Refused)?;
    // Said in words before the store's own unique check (which stays, for two nodes at once).
    if store.staff_secret(&u.username)?.is_some() {
        return Err(UserError::Taken);
    }
    let hash = auth::hash_password(&u.password);
    let m = u.merchant.as_ref();
    Ok(store.add_staff_in(m, &u.username, &u.name, u.role, u.operator_no, &hash)?)
}

/// What an admin does to a user, parsed by the adapter.
pub enum Change {
    /// New name, role or operator no.; `None` keeps the current one (for the operator no.,
    /// `Some(None)` clears it).
    Edit {
        /// Display name.
        name: Option<String>,
        /// Role.
        role: Option<StaffRole>,
        /// Counter operator no.
        operator_no: Option<Option<OperatorNo>>,
    },
    /// Cannot log in; sessions end, tokens stop.
    Disable,
    /// Can log in again.
    Enable,
    /// A new password; sessions end.
    Password(Zeroizing<String>),
    /// TOTP forgotten: enrol again at the next login; sessions end.
    ResetTotp,
}

/// The merchant's users (its admin's page).
pub fn listing(store: &dyn Store, merchant: &MerchantId) -> Result<Vec<StaffListing>, StoreError> {
    store.staff_listing(merchant)
}

/// Applies `change` to user `id` of `admin`'s merchant as the core decides it (first on the
/// user as read, then again inside the store's transaction with the rows locked); a refusal
/// is audited as `staff.ACTION` on `staff-id:ID`.
pub fn change(
    store: &dyn Store,
    admin: &StaffUser,
    id: i64,
    change: Change,
) -> Result<(), UserError> {
    let current = listing(store, admin.merchant()?)?
        .into_iter()
        .find(|l| l.user.id == id)
        .ok_or(UserError::NotFound)?
        .user;
    let (staff_change, password) = match change {
        Change::Edit {
            name,
            role,
            operator_no,
        } => {
            let c = StaffChange::Edit {
                name: name.unwrap_or(current.name),
                role: role.unwrap_or(current.role),
                operator_no: operator_no.unwrap_or(current.operator_no),
            };
            (c, None)
        }
        Change::Disable => (StaffChange::Disable, None),
        Change::Enable => (StaffChange::Enable, None),
        Change::ResetTotp => (StaffChange::ResetTotp, None),
        Change::Password(p) => (
            StaffChange::Password {
                hash: String::new(),
            },
            Some(p),
        ),
    };
    let decide = |target: UserFacts, admins: u64| {
        let uc = match &staff_change {
            StaffChange::Edit { role, .. } => UserChange::Edit { role: *role },
            StaffChange::Disable => UserChange::Disable,
            StaffChange::Enable => UserChange::Enable,
            StaffChange::ResetTotp => UserChange::ResetTotp,
            StaffChange::Password { .. } => UserChange::ResetPassword {
                password: password.as_deref().map_or("", |p| p.as_str()),
            },
        };
        backoffice::decide_user_change(admin.id, admin.role, target, uc, admins)
    };
    // Hashed only once the rule has looked at the password's length (argon2id is slow).
    let hashed = match &password {
        Some(p) if p.chars().count() >= backoffice::STAFF_PASSWORD_CHARS_MIN => {
            Some(auth::hash_password(p))
        }
        _ => None,
    };
    let action = staff_change.action();
    let done = match hashed {
        Some(hash) => {
            let c = StaffChange::Password { hash };
            store.change_staff(admin, id, &c, &decide)?
        }
        None => store.change_staff(admin, id, &staff_change, &decide)?,
    };
    match done {
        Ok(true) => Ok(()),
        Ok(false) => Err(UserError::NotFound),
        Err(r) => {
            store.record_staff_event(
                &admin.username,
                &format!("staff.{action}"),
                &format!("staff-id:{id}"),
                &format!("refused:{}", r.key()),
            )?;
            Err(UserError::Refused(r))
        }
    }
}

/// The merchant's counter operators (its admin's page).
pub fn operators(store: &dyn Store, merchant: &MerchantId) -> Result<Vec<OperatorRow>, StoreError> {
    store.operators(merchant)
}

/// A new counter operator, parsed by the adapter.
pub struct NewOperator {
    /// Its merchant.
    pub merchant: MerchantId,
    /// Two digits: 99 system administrator, 00 supervisor, 01–98 cashiers.
    pub no: OperatorNo,
    /// The role as asked; must be the one the number implies.
    pub role: String,
    /// Name.
    pub name: String,
    /// Its password on the terminal: 4 to 12 digits.
    pub password: Zeroizing<String>,
}

/// Gives `o.merchant` counter operator `o` as `by` (a merchant's admin; `None`: the
/// platform) is allowed to, audited as `actor`.
pub fn add_operator(
    store: &dyn Store,
    by: Option<StaffRole>,
    actor: &str,
    o: &NewOperator,
) -> Result<(), UserError> {
    backoffice::decide_new_operator(by, o.no, &o.role, &o.password).map_err(UserError::Refused)?;
    let hash = auth::hash_password(&o.password);
    if store.add_counter_operator(actor, &o.merchant, o.no, &o.name, &hash)? {
        Ok(())
    } else {
        Err(UserError::OperatorTaken)
    }
}
