//! 商户进件 (issue 14): the acquirer onboards merchants, edits their details and moves their
//! status, each change reviewed by a second acquirer user (maker-checker, as for voids). A
//! change is a pending request until someone else approves it; only then does it take
//! effect. The CLI is the platform itself and changes merchants at once (not through here).

use super::{BackOfficeRefused, Permission, RequestStatus, StaffRole, check_review_of};

/// What a merchant change asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MerchantChangeKind {
    /// Onboard a new merchant (it starts pending).
    Create,
    /// Change its details (names, MCC, address, contact, settlement account).
    Edit,
    /// Open it for business (pending or suspended → active).
    Activate,
    /// Suspend it (its terminals are refused, its back-office is read-only).
    Suspend,
    /// Close it for good.
    Close,
}

impl MerchantChangeKind {
    /// Every kind.
    pub const ALL: [MerchantChangeKind; 5] = [
        MerchantChangeKind::Create,
        MerchantChangeKind::Edit,
        MerchantChangeKind::Activate,
        MerchantChangeKind::Suspend,
        MerchantChangeKind::Close,
    ];
    /// The status changes, as the API names them after the status they lead to.
    pub const STATUS: [MerchantChangeKind; 3] = [
        MerchantChangeKind::Activate,
        MerchantChangeKind::Suspend,
        MerchantChangeKind::Close,
    ];

    /// Code name.
    pub fn as_str(self) -> &'static str {
        match self {
            MerchantChangeKind::Create => "create",
            MerchantChangeKind::Edit => "edit",
            MerchantChangeKind::Activate => "activate",
            MerchantChangeKind::Suspend => "suspend",
            MerchantChangeKind::Close => "close",
        }
    }

    /// Parses a code name.
    pub fn parse(text: &str) -> Option<MerchantChangeKind> {
        MerchantChangeKind::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
    }

    /// The status a status change leads to (`None` for create and edit).
    pub fn target_status(self) -> Option<&'static str> {
        match self {
            MerchantChangeKind::Activate => Some("active"),
            MerchantChangeKind::Suspend => Some("suspended"),
            MerchantChangeKind::Close => Some("closed"),
            MerchantChangeKind::Create | MerchantChangeKind::Edit => None,
        }
    }

    /// The status change that leads to `status`.
    pub fn to_status(status: &str) -> Option<MerchantChangeKind> {
        MerchantChangeKind::STATUS
            .into_iter()
            .find(|k| k.target_status() == Some(status))
    }
}

/// Refuses a role without `p`.
fn permitted(role: StaffRole, p: Permission) -> Result<(), BackOfficeRefused> {
    if role.allows(p) {
        Ok(())
    } else {
        Err(BackOfficeRefused::NotPermitted {
            role: role.as_str().into(),
        })
    }
}

/// Whether a merchant may move from `from` to `to`: pending → active → suspended ⇄ active,
/// and closed from any but closed (a closed merchant stays closed).
pub fn merchant_status_allowed(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        ("pending", "active")
            | ("pending", "closed")
            | ("active", "suspended")
            | ("active", "closed")
            | ("suspended", "active")
            | ("suspended", "closed")
    )
}

/// Decides a merchant change as it is asked for, and again when it is approved (the
/// merchant may have moved meanwhile): an acquirer role that manages merchants; a create
/// only for an id not onboarded (`current` is `None`), every other change only for an
/// onboarded one; no edit of a closed merchant; a status change only along
/// [`merchant_status_allowed`]; a suspension or closure says why (the merchant reads it on
/// its banner).
pub fn decide_merchant_change(
    role: StaffRole,
    kind: MerchantChangeKind,
    current: Option<&str>,
    reason: &str,
) -> Result<(), BackOfficeRefused> {
    permitted(role, Permission::ManageMerchants)?;
    match (kind, current) {
        (MerchantChangeKind::Create, None) => Ok(()),
        (MerchantChangeKind::Create, Some(_)) => Err(BackOfficeRefused::MerchantExists),
        // The adapter answers an unknown merchant with 404 before asking; a rule cannot
        // change what is not there.
        (_, None) => Err(BackOfficeRefused::NotPending {
            status: "unknown".into(),
        }),
        (MerchantChangeKind::Edit, Some("closed")) => Err(BackOfficeRefused::MerchantClosed),
        (MerchantChangeKind::Edit, Some(_)) => Ok(()),
        (status_change, Some(from)) => {
            let to = status_change.target_status().unwrap_or("active");
            if !merchant_status_allowed(from, to) {
                return Err(BackOfficeRefused::MerchantStatusMove {
                    from: from.into(),
                    to: to.into(),
                });
            }
            if to != "active" && reason.trim().is_empty() {
                return Err(BackOfficeRefused::ReasonRequired);
            }
            Ok(())
        }
    }
}

/// Decides the review of a merchant change: an acquirer role that manages merchants, never
/// the change's maker (maker-checker), only a pending change, a comment for a rejection.
pub fn decide_merchant_review(
    submitted_by: i64,
    status: RequestStatus,
    reviewer: i64,
    role: StaffRole,
    approve: bool,
    comment: &str,
) -> Result<(), BackOfficeRefused> {
    check_review_of(
        Permission::ManageMerchants,
        submitted_by,
        status,
        reviewer,
        role,
        approve,
        comment,
    )
}

/// Decides assigning a terminal to a merchant (a new one, or reassigning): an acquirer role
/// that manages terminals; never to a closed merchant; and, for a terminal that has a
/// merchant, only when its batch is settled (`open_batch_txns` is 0) — a batch belongs to
/// one merchant's settlement, so moving it half-way would settle one merchant's sales to
/// another.
pub fn decide_terminal_assign(
    role: StaffRole,
    open_batch_txns: u64,
    target_status: &str,
) -> Result<(), BackOfficeRefused> {
    permitted(role, Permission::ManageTerminals)?;
    if target_status == "closed" {
        return Err(BackOfficeRefused::MerchantClosed);
    }
    if open_batch_txns > 0 {
        return Err(BackOfficeRefused::TerminalBatchOpen {
            count: open_batch_txns,
        });
    }
    Ok(())
}

/// Decides locking or unlocking a terminal: an acquirer role that manages terminals, and a
/// lock says why (the audit trail keeps it; the terminal is refused meanwhile).
pub fn decide_terminal_lock(
    role: StaffRole,
    lock: bool,
    reason: &str,
) -> Result<(), BackOfficeRefused> {
    decide_with_reason(role, Permission::ManageTerminals, lock, reason)
}

/// Decides pausing or resuming one of the merchant's own terminals (issue 13): a merchant
/// role that may (`PauseTerminals`: supervisor, admin), and a pause says why (the cashier's
/// next exchange is refused, the audit trail keeps the reason).
pub fn decide_terminal_pause_change(
    role: StaffRole,
    pause: bool,
    reason: &str,
) -> Result<(), BackOfficeRefused> {
    decide_with_reason(role, Permission::PauseTerminals, pause, reason)
}

/// A role with `p`, and a reason when `stopping` (a lock or a pause refuses the terminal, so
/// the audit trail must say why).
fn decide_with_reason(
    role: StaffRole,
    p: Permission,
    stopping: bool,
    reason: &str,
) -> Result<(), BackOfficeRefused> {
    permitted(role, p)?;
    if stopping && reason.trim().is_empty() {
        return Err(BackOfficeRefused::ReasonRequired);
    }
    Ok(())
}

/// Decides an acquirer's channel change — the platform's outage switch, or which channels
/// one merchant may use: an acquirer role that manages the platform's channels, and a reason
/// (merchants read it; the audit trail keeps it).
pub fn decide_acquirer_channel(role: StaffRole, reason: &str) -> Result<(), BackOfficeRefused> {
    permitted(role, Permission::ManagePlatformChannels)?;
    if reason.trim().is_empty() {
        return Err(BackOfficeRefused::ReasonRequired);
    }
    Ok(())
}

/// Decides the removal of a KYC document (issue 14): an acquirer role that manages
/// merchants, a reason, and a merchant not yet activated — its creation still waiting
/// (`status` `None`) or `pending`. No second reviewer: nothing was activated on the papers
/// yet, and the activation's own checker reads the set as it then is (the removal is on the
/// audit trail beside the upload). From activation on, the documents are the evidence the
/// activation was approved on and are kept; a wrong one is answered by uploading the right
/// one beside it.
pub fn decide_kyc_removal(
    role: StaffRole,
    status: Option<&str>,
    reason: &str,
) -> Result<(), BackOfficeRefused> {
    permitted(role, Permission::ManageMerchants)?;
    if reason.trim().is_empty() {
        return Err(BackOfficeRefused::ReasonRequired);
    }
    match status {
        None | Some("pending") => Ok(()),
        Some(other) => Err(BackOfficeRefused::KycDocumentKept {
            status: other.to_owned(),
        }),
    }
}

/// Decides a key custodian's component of a terminal master key entered in the console
/// (dual control, issue 14): an acquirer role that manages terminals, and — for the second
/// component — a user other than the one who entered the first (`first_by`), as no one
/// person may know a whole key.
pub fn decide_tmk_component(
    role: StaffRole,
    first_by: Option<i64>,
    me: i64,
) -> Result<(), BackOfficeRefused> {
    permitted(role, Permission::ManageTerminals)?;
    if first_by == Some(me) {
        return Err(BackOfficeRefused::OwnRequest);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tmk_takes_two_custodians_who_manage_terminals() {
        // Goal (issue 14, key injection): dual control — the second component never comes
        // from the first custodian; roles without terminals get no say.
        assert_eq!(decide_tmk_component(StaffRole::Operations, None, 7), Ok(()));
        assert_eq!(
            decide_tmk_component(StaffRole::PlatformAdmin, Some(7), 8),
            Ok(())
        );
        assert_eq!(
            decide_tmk_component(StaffRole::Operations, Some(7), 7),
            Err(BackOfficeRefused::OwnRequest)
        );
        for role in [
            StaffRole::RiskOfficer,
            StaffRole::AcquirerAuditor,
            StaffRole::Admin,
        ] {
            assert!(
                matches!(
                    decide_tmk_component(role, None, 7),
                    Err(BackOfficeRefused::NotPermitted { .. })
                ),
                "{role:?}"
            );
        }
    }

    #[test]
    fn kyc_documents_are_removed_only_before_activation_with_a_reason() {
        // Goal (issue 14): a document uploaded by mistake goes while the onboarding waits;
        // once activated, the papers are the record of the approval and stay.
        assert_eq!(
            decide_kyc_removal(StaffRole::Operations, None, "传错了"),
            Ok(())
        );
        assert_eq!(
            decide_kyc_removal(StaffRole::RiskOfficer, Some("pending"), "传错了"),
            Ok(())
        );
        assert_eq!(
            decide_kyc_removal(StaffRole::Operations, Some("pending"), " "),
            Err(BackOfficeRefused::ReasonRequired)
        );
        for status in ["active", "suspended", "closed"] {
            assert_eq!(
                decide_kyc_removal(StaffRole::PlatformAdmin, Some(status), "x"),
                Err(BackOfficeRefused::KycDocumentKept {
                    status: status.to_owned()
                })
            );
        }
        for role in [StaffRole::AcquirerAuditor, StaffRole::Admin] {
            assert!(
                matches!(
                    decide_kyc_removal(role, None, "x"),
                    Err(BackOfficeRefused::NotPermitted { .. })
                ),
                "{role:?}"
            );
        }
    }

    #[test]
    fn acquirer_channel_changes_need_the_permission_and_a_reason() {
        assert_eq!(
            decide_acquirer_channel(StaffRole::Operations, "上游故障"),
            Ok(())
        );
        assert_eq!(
            decide_acquirer_channel(StaffRole::Operations, "  "),
            Err(BackOfficeRefused::ReasonRequired)
        );
        for role in [
            StaffRole::RiskOfficer,
            StaffRole::AcquirerAuditor,
            StaffRole::Admin,
        ] {
            assert!(
                matches!(
                    decide_acquirer_channel(role, "x"),
                    Err(BackOfficeRefused::NotPermitted { .. })
                ),
                "{role:?}"
            );
        }
    }

    #[test]
    fn the_maker_never_approves_their_own_change() {
        // Goal (issue 14): each merchant change is reviewed by a second acquirer user.
        let own = decide_merchant_review(
            7,
            RequestStatus::Pending,
            7,
            StaffRole::Operations,
            true,
            "",
        );
        assert_eq!(own, Err(BackOfficeRefused::OwnRequest));
        assert_eq!(
            decide_merchant_review(
                7,
                RequestStatus::Pending,
                8,
                StaffRole::RiskOfficer,
                true,
                ""
            ),
            Ok(())
        );
        // A rejection says why; an auditor never reviews; a reviewed change stays reviewed.
        assert_eq!(
            decide_merchant_review(
                7,
                RequestStatus::Pending,
                8,
                StaffRole::PlatformAdmin,
                false,
                " "
            ),
            Err(BackOfficeRefused::CommentRequired)
        );
        assert!(matches!(
            decide_merchant_review(
                7,
                RequestStatus::Pending,
                8,
                StaffRole::AcquirerAuditor,
                true,
                ""
            ),
            Err(BackOfficeRefused::NotPermitted { .. })
        ));
        assert!(matches!(
            decide_merchant_review(
                7,
                RequestStatus::Approved,
                8,
                StaffRole::Operations,
                true,
                ""
            ),
            Err(BackOfficeRefused::NotPending { .. })
        ));
        // A merchant's own admin holds no acquirer permission.
        assert!(matches!(
            decide_merchant_review(7, RequestStatus::Pending, 8, StaffRole::Admin, true, ""),
            Err(BackOfficeRefused::NotPermitted { .. })
        ));
    }

    #[test]
    fn changes_follow_the_status_rules() {
        // Goal: create only a new id, no edit of a closed merchant, status moves along the
        // lifecycle, and a suspension or closure says why.
        use MerchantChangeKind::*;
        let ops = StaffRole::Operations;
        assert_eq!(decide_merchant_change(ops, Create, None, ""), Ok(()));
        assert_eq!(
            decide_merchant_change(ops, Create, Some("active"), ""),
            Err(BackOfficeRefused::MerchantExists)
        );
        assert_eq!(
            decide_merchant_change(ops, Edit, Some("closed"), ""),
            Err(BackOfficeRefused::MerchantClosed)
        );
        assert_eq!(
            decide_merchant_change(ops, Activate, Some("pending"), ""),
            Ok(())
        );
        assert_eq!(
            decide_merchant_change(ops, Suspend, Some("active"), ""),
            Err(BackOfficeRefused::ReasonRequired)
        );
        assert_eq!(
            decide_merchant_change(ops, Suspend, Some("active"), "风险排查"),
            Ok(())
        );
        assert!(matches!(
            decide_merchant_change(ops, Activate, Some("closed"), ""),
            Err(BackOfficeRefused::MerchantStatusMove { .. })
        ));
        assert!(matches!(
            decide_merchant_change(StaffRole::AcquirerAuditor, Create, None, ""),
            Err(BackOfficeRefused::NotPermitted { .. })
        ));
        // Terminals move only with a settled batch, never to a closed merchant.
        assert_eq!(decide_terminal_assign(ops, 0, "active"), Ok(()));
        assert_eq!(
            decide_terminal_assign(ops, 3, "active"),
            Err(BackOfficeRefused::TerminalBatchOpen { count: 3 })
        );
        assert_eq!(
            decide_terminal_assign(ops, 0, "closed"),
            Err(BackOfficeRefused::MerchantClosed)
        );
        assert!(decide_terminal_assign(StaffRole::RiskOfficer, 0, "active").is_err());
        assert_eq!(
            decide_terminal_lock(ops, true, ""),
            Err(BackOfficeRefused::ReasonRequired)
        );
        assert_eq!(decide_terminal_lock(ops, false, ""), Ok(()));
        for k in MerchantChangeKind::ALL {
            assert_eq!(MerchantChangeKind::parse(k.as_str()), Some(k));
        }
    }
}
