//! 商户进件 under maker-checker (issue 14): the acquirer's pending merchant changes
//! (`merchant_changes`, back-office step 7) and their approval, which alone changes
//! `merchants`. The settlement bank account is sealed under the KEK (bound to its merchant,
//! as TOTP secrets are) and shown masked; `terminal_keys::rewrap_all` re-seals it when the
//! KEK rotates.
//!
//! The rules are the core's (`core::backoffice::decide_merchant_change` and
//! `decide_merchant_review`): the service asks them on the facts it loads, and [`review`]
//! asks them again inside its transaction, with the change and the merchant locked, so two
//! reviewers at once, or a merchant that moved meanwhile, cannot slip past.

use crate::error::StoreError;
use crate::keys::keyed_hash;
use crate::rows::{micros, ts};
use crate::sql::{Sql, SqlExt, SqlRow};
use crate::{Store, p};
use jiff::Timestamp;
use suanpan_core::MerchantId;
use suanpan_core::backoffice::{
    self, BackOfficeRefused, MerchantChangeKind, RequestStatus, StaffRole,
};

/// Rows one listing of merchant changes returns at most.
pub const CHANGES_ROWS_MAX: u32 = 500;

/// A settlement account as the store keeps it: masked for every reader, sealed for the
/// settlement file, and a keyed fingerprint to find a duplicate without opening it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedAccount {
    /// `6222 **** **** 1234`.
    pub masked: String,
    /// The digits, wrapped under the KEK (`w1:<kek>:…`).
    pub sealed: String,
    /// HMAC of the digits under `derive("merchant.account")`.
    pub fingerprint: String,
}

/// The identity a merchant's sealed account is bound to (AES-GCM associated data).
fn account_identity(merchant: &str) -> String {
    format!("merchant-account:{merchant}")
}

/// The masked form of an account number: its first and last four digits, the middle
/// starred in groups of four.
pub fn mask_account(digits: &str) -> String {
    let n = digits.chars().count();
    if n <= 8 {
        return "*".repeat(n);
    }
    let head: String = digits.chars().take(4).collect();
    let tail: String = digits.chars().skip(n - 4).collect();
    let middle = vec!["****"; (n - 8).div_ceil(4)].join(" ");
    format!("{head} {middle} {tail}")
}

/// Seals `digits` (already parsed: digits only) for merchant `merchant`.
pub fn seal_account<S: Store + ?Sized>(
    store: &S,
    merchant: &MerchantId,
    digits: &str,
) -> Result<SealedAccount, StoreError> {
    let keys = store.keys();
    Ok(SealedAccount {
        masked: mask_account(digits),
        sealed: keys.wrap(&account_identity(merchant.as_str()), digits.as_bytes())?,
        fingerprint: keyed_hash(&keys.derive("merchant.account")?, &[digits.as_bytes()]),
    })
}

/// The details a create or an edit carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantDetails {
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
    /// The settlement account; `None` on an edit keeps the one on file.
    pub account: Option<SealedAccount>,
}

/// A change as asked for.
#[derive(Debug, Clone)]
pub struct NewMerchantChange {
    /// The merchant.
    pub merchant: MerchantId,
    /// What is asked.
    pub kind: MerchantChangeKind,
    /// For create and edit.
    pub details: Option<MerchantDetails>,
    /// Why (required to suspend or close).
    pub reason: String,
    /// The maker (staff id) and their login name.
    pub submitted_by: (i64, String),
}

/// A change as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantChange {
    /// Id.
    pub id: i64,
    /// The merchant.
    pub merchant_id: String,
    /// What is asked.
    pub kind: MerchantChangeKind,
    /// The details of a create or an edit (the account masked only).
    pub details: Option<MerchantDetails>,
    /// Why.
    pub reason: String,
    /// `pending`, `approved` or `rejected`.
    pub status: RequestStatus,
    /// The maker's staff id and login name.
    pub submitted_by: (i64, String),
    /// When.
    pub submitted_at: Timestamp,
    /// The checker's staff id and login name.
    pub reviewed_by: Option<(i64, String)>,
    /// When.
    pub reviewed_at: Option<Timestamp>,
    /// The checker's comment.
    pub comment: String,
}

const CHANGE_SELECT: &str =
    "SELECT c.id, c.merchant_id, c.kind, c.name, c.short_name, c.mcc, c.address, c.contact,
        c.account_masked, c.reason, c.status, c.submitted_by, s.username, c.submitted_at,
        c.reviewed_by, r.username, c.reviewed_at, c.comment
   FROM merchant_changes c JOIN staff s ON s.id = c.submitted_by
   LEFT JOIN staff r ON r.id = c.reviewed_by";

fn bad(what: &str, v: &str) -> StoreError {
    StoreError::Sqlite(format!("merchant change {what} {v:?}"))
}

fn change_from(r: &dyn SqlRow) -> Result<MerchantChange, StoreError> {
    let kind = r.text(2)?;
    let kind = MerchantChangeKind::parse(&kind).ok_or_else(|| bad("kind", &kind))?;
    let status = r.text(10)?;
    let details = match r.opt_text(3)? {
        Some(name) => Some(MerchantDetails {
            name,
            short_name: r.opt_text(4)?.unwrap_or_default(),
            mcc: r.opt_text(5)?,
            address: r.opt_text(6)?.unwrap_or_default(),
            contact: r.opt_text(7)?.unwrap_or_default(),
            account: r.opt_text(8)?.map(|masked| SealedAccount {
                masked,
                sealed: String::new(),
                fingerprint: String::new(),
            }),
        }),
        None => None,
    };
    let reviewed_by = match (r.opt_i64(14)?, r.opt_text(15)?) {
        (Some(id), Some(name)) => Some((id, name)),
        _ => None,
    };
    Ok(MerchantChange {
        id: r.i64(0)?,
        merchant_id: r.text(1)?,
        kind,
        details,
        reason: r.text(9)?,
        status: RequestStatus::parse(&status).ok_or_else(|| bad("status", &status))?,
        submitted_by: (r.i64(11)?, r.text(12)?),
        submitted_at: ts(r.i64(13)?),
        reviewed_by,
        reviewed_at: r.opt_i64(16)?.map(ts),
        comment: r.text(17)?,
    })
}

/// Records a pending change, audited as its maker. `Ok(None)`: the merchant has a change
/// waiting already (one at a time, so a checker never approves on top of another).
pub fn submit<S: Store + ?Sized>(
    store: &S,
    c: &NewMerchantChange,
) -> Result<Option<i64>, StoreError> {
    let now = micros(store.now());
    let d = c.details.as_ref();
    let account = d.and_then(|d| d.account.as_ref());
    crate::setup(store, |tx, head| {
        let id = tx.row(
            "INSERT INTO merchant_changes (merchant_id, kind, name, short_name, mcc, address, contact,
                 account_masked, account_sealed, reason, submitted_by, submitted_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT DO NOTHING RETURNING id",
            p![
                c.merchant.as_str(),
                c.kind.as_str(),
                d.map(|d| d.name.as_str()),
                d.map(|d| d.short_name.as_str()),
                d.and_then(|d| d.mcc.as_deref()),
                d.map(|d| d.address.as_str()),
                d.map(|d| d.contact.as_str()),
                account.map(|a| a.masked.as_str()),
                account.map(|a| a.sealed.as_str()),
                &c.reason,
                c.submitted_by.0,
                now
            ],
            |r| r.i64(0),
        )?;
        if let Some(id) = id {
            head.append(
                tx,
                now,
                [
                    &crate::backoffice::actor(&c.submitted_by.1),
                    "merchant.change.submit",
                    &format!("merchant:{}", c.merchant),
                    &format!("change={id} kind={}", c.kind.as_str()),
                    "ok",
                ],
            )?;
        }
        Ok(id)
    })
}

/// Changes, newest first: those of `status` (all when `None`), of one merchant when named.
pub fn changes<S: Store + ?Sized>(
    store: &S,
    status: Option<RequestStatus>,
    merchant: Option<&MerchantId>,
) -> Result<Vec<MerchantChange>, StoreError> {
    crate::read(store, |c| {
        c.rows(
            &format!(
                "{CHANGE_SELECT} WHERE (CAST(?1 AS TEXT) IS NULL OR c.status = ?1) AND (CAST(?2 AS TEXT) IS NULL OR c.merchant_id = ?2)
                 ORDER BY c.id DESC LIMIT {CHANGES_ROWS_MAX}"
            ),
            p![status.map(|s| s.as_str()), merchant.map(|m| m.as_str())],
            change_from,
        )
    })
}

/// One change.
pub fn change<S: Store + ?Sized>(store: &S, id: i64) -> Result<Option<MerchantChange>, StoreError> {
    crate::read(store, |c| {
        c.row(
            &format!("{CHANGE_SELECT} WHERE c.id = ?1"),
            p![id],
            change_from,
        )
    })
}

/// The checker's review of a change, in one transaction: the change and its merchant are
/// locked and the core decides again (maker-checker, pending, the merchant's status now);
/// a rejection only records the comment; an approval applies the change. Audited with both
/// names. `Ok(Err(_))`: the core refused; `Ok(Ok(None))`: no such change.
pub fn review<S: Store + ?Sized>(
    store: &S,
    id: i64,
    reviewer: (i64, &str, StaffRole),
    approve: bool,
    comment: &str,
) -> Result<Result<Option<MerchantChange>, BackOfficeRefused>, StoreError> {
    let now = micros(store.now());
    crate::setup(store, |tx, head| {
        let lock = tx.dialect().lock_rows();
        let Some(found) = tx.row(
            &format!("SELECT submitted_by, status FROM merchant_changes WHERE id = ?1{lock}"),
            p![id],
            |r| Ok((r.i64(0)?, r.text(1)?)),
        )?
        else {
            return Ok(Ok(None));
        };
        let status = RequestStatus::parse(&found.1).ok_or_else(|| bad("status", &found.1))?;
        let c = tx
            .row(
                &format!("{CHANGE_SELECT} WHERE c.id = ?1"),
                p![id],
                change_from,
            )?
            .ok_or_else(|| bad("id", &id.to_string()))?;
        let current = tx.row(
            &format!("SELECT status FROM merchants WHERE id = ?1{lock}"),
            p![c.merchant_id.as_str()],
            |r| r.text(0),
        )?;
        let (reviewer_id, reviewer_name, role) = reviewer;
        if let Err(r) =
            backoffice::decide_merchant_review(found.0, status, reviewer_id, role, approve, comment)
        {
            return Ok(Err(r));
        }
        if approve
            && let Err(r) =
                backoffice::decide_merchant_change(role, c.kind, current.as_deref(), &c.reason)
        {
            return Ok(Err(r));
        }
        let to = if approve { "approved" } else { "rejected" };
        tx.exec(
            "UPDATE merchant_changes SET status = ?1, reviewed_by = ?2, reviewed_at = ?3, comment = ?4
             WHERE id = ?5 AND status = 'pending'",
            p![to, reviewer_id, now, comment, id],
        )?;
        if approve {
            apply(tx, &c, now)?;
        }
        let action = match (approve, c.kind.target_status()) {
            (false, _) => "merchant.change.reject".to_owned(),
            (true, Some(status)) => format!("merchant.{status}"),
            (true, None) if c.kind == MerchantChangeKind::Create => "merchant.onboard".to_owned(),
            (true, None) => "merchant.edit".to_owned(),
        };
        head.append(
            tx,
            now,
            [
                &crate::backoffice::actor(reviewer_name),
                &action,
                &format!("merchant:{}", c.merchant_id),
                &format!(
                    "change={id} maker={} checker={reviewer_name} {}",
                    c.submitted_by.1,
                    if approve { &c.reason } else { comment }
                ),
                "ok",
            ],
        )?;
        let after = tx.row(
            &format!("{CHANGE_SELECT} WHERE c.id = ?1"),
            p![id],
            change_from,
        )?;
        Ok(Ok(after))
    })
}

/// An approved change's effect on `merchants` (the sealed account is copied as sealed).
fn apply(tx: &dyn Sql, c: &MerchantChange, now: i64) -> Result<(), StoreError> {
    let sealed = tx
        .row(
            "SELECT account_sealed FROM merchant_changes WHERE id = ?1",
            p![c.id],
            |r| r.opt_text(0),
        )?
        .flatten();
    let d = c.details.as_ref();
    let masked = d
        .and_then(|d| d.account.as_ref())
        .map(|a| a.masked.as_str());
    match (c.kind, d) {
        (MerchantChangeKind::Create, Some(d)) => {
            tx.exec(
                "INSERT INTO merchants (id, name, short_name, mcc, address, contact, status, created_at,
                     account_masked, account_sealed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?8, ?9)",
                p![
                    c.merchant_id.as_str(),
                    &d.name,
                    &d.short_name,
                    d.mcc.as_deref(),
                    &d.address,
                    &d.contact,
                    now,
                    masked,
                    sealed.as_deref()
                ],
            )?;
        }
        (MerchantChangeKind::Edit, Some(d)) => {
            tx.exec(
                "UPDATE merchants SET name = ?1, short_name = ?2, mcc = ?3, address = ?4, contact = ?5,
                     account_masked = COALESCE(?6, account_masked), account_sealed = COALESCE(?7, account_sealed)
                 WHERE id = ?8",
                p![
                    &d.name,
                    &d.short_name,
                    d.mcc.as_deref(),
                    &d.address,
                    &d.contact,
                    masked,
                    sealed.as_deref(),
                    c.merchant_id.as_str()
                ],
            )?;
        }
        (kind, _) => {
            let to = kind
                .target_status()
                .ok_or_else(|| bad("details", &c.id.to_string()))?;
            tx.exec(
                "UPDATE merchants SET status = ?1, status_reason = ?2 WHERE id = ?3",
                p![to, &c.reason, c.merchant_id.as_str()],
            )?;
        }
    }
    Ok(())
}

/// The merchant's settlement account in clear, for the settlement file (never shown).
pub fn account_digits<S: Store + ?Sized>(
    store: &S,
    merchant: &MerchantId,
) -> Result<Option<zeroize::Zeroizing<String>>, StoreError> {
    let sealed = crate::read(store, |c| {
        c.row(
            "SELECT account_sealed FROM merchants WHERE id = ?1",
            p![merchant.as_str()],
            |r| r.opt_text(0),
        )
    })?
    .flatten();
    let Some(sealed) = sealed else {
        return Ok(None);
    };
    let clear = store
        .keys()
        .unwrap(&account_identity(merchant.as_str()), &sealed)?;
    Ok(Some(zeroize::Zeroizing::new(
        String::from_utf8_lossy(clear.expose()).into_owned(),
    )))
}

/// Re-seals every merchant account (on file and waiting in a change) under `to`; part of
/// `terminal_keys::rewrap_all`, in its transaction.
pub(crate) fn rewrap_accounts<'k>(
    tx: &dyn Sql,
    pick: &dyn Fn(&str) -> Result<&'k dyn crate::keys::KeyProvider, StoreError>,
    to: &dyn crate::keys::KeyProvider,
) -> Result<usize, StoreError> {
    let mut n = 0;
    for table in ["merchants", "merchant_changes"] {
        let key = if table == "merchants" {
            "id"
        } else {
            "merchant_id"
        };
        let rows = tx.rows(
            &format!(
                "SELECT {key}, account_sealed, {} FROM {table} WHERE account_sealed IS NOT NULL",
                if table == "merchants" { "0" } else { "id" }
            ),
            p![],
            |r| Ok((r.text(0)?, r.text(1)?, r.i64(2)?)),
        )?;
        for (merchant, w, row) in rows {
            let who = account_identity(&merchant);
            let clear = pick(&w)?.unwrap(&who, &w)?;
            let again = to.wrap(&who, clear.expose())?;
            if table == "merchants" {
                tx.exec(
                    "UPDATE merchants SET account_sealed = ?1 WHERE id = ?2",
                    p![&again, merchant.as_str()],
                )?;
            } else {
                tx.exec(
                    "UPDATE merchant_changes SET account_sealed = ?1 WHERE id = ?2",
                    p![&again, row],
                )?;
            }
            n += 1;
        }
    }
    Ok(n)
}

/// A merchant row with its masked account, for the acquirer's pages.
pub fn merchant_account_masked<S: Store + ?Sized>(
    store: &S,
    merchant: &MerchantId,
) -> Result<Option<String>, StoreError> {
    crate::read(store, |c| {
        c.row(
            "SELECT account_masked FROM merchants WHERE id = ?1",
            p![merchant.as_str()],
            |r| r.opt_text(0),
        )
    })
    .map(Option::flatten)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_masked_to_first_and_last_four() {
        // Goal: a settlement account is never shown in full (issue 14).
        assert_eq!(mask_account("6222021234561234"), "6222 **** **** 1234");
        assert_eq!(
            mask_account("6222021234567891234"),
            "6222 **** **** **** 1234"
        );
        assert_eq!(mask_account("12345678"), "********");
    }
}
