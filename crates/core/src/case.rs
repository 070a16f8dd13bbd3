//! Cases (issue 5, part 3): 撤错 (a void done by mistake) and 调账 (an adjustment) that a
//! merchant takes up with the acquirer. A case is opened from a transaction, collects the
//! transactions it is about (links with a role), notes and evidence, is submitted to the
//! acquirer, and ends resolved or rejected with the acquirer's answer.
//!
//! Status: `open → submitted → resolved | rejected`. Resolved and rejected cases are
//! *closed*: what was sent to the bank no longer changes (no new links, no new evidence), but
//! notes are still taken — the acquirer's reference number or a later call must be
//! recordable, and a note changes nothing that was submitted.
//!
//! Who: supervisors, finance and admins manage cases (open, link, note, evidence, submit,
//! record the answer); auditors read them (and download the evidence pack); cashiers do
//! neither — a case is about money already moved, which the counter does not handle.

use crate::backoffice::{Permission, StaffRole};
use crate::refusal::Refusal;

/// Characters a note keeps at most (the acquirer's answer, a remark).
pub const CASE_NOTE_CHARS_MAX: usize = 2000;

/// What a case is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseKind {
    /// 撤错: a sale was voided by mistake; the customer was charged again (re-charge) or
    /// must be; the acquirer is asked to reinstate or reconcile.
    MistakenVoid,
    /// 调账: any other correction of the settled amounts asked of the acquirer.
    Adjustment,
}

impl CaseKind {
    /// Every kind, in the order the UI lists them.
    pub const ALL: [CaseKind; 2] = [CaseKind::MistakenVoid, CaseKind::Adjustment];
    /// Code name.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseKind::MistakenVoid => "mistaken_void",
            CaseKind::Adjustment => "adjustment",
        }
    }
    /// Parses a code name.
    pub fn parse(text: &str) -> Option<CaseKind> {
        CaseKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseStatus {
    /// 处理中: being put together.
    Open,
    /// 已提交收单机构: sent to the acquirer, waiting for its answer.
    Submitted,
    /// 已解决: the acquirer agreed (closed).
    Resolved,
    /// 已拒绝: the acquirer refused (closed).
    Rejected,
}

impl CaseStatus {
    /// Every status, in order.
    pub const ALL: [CaseStatus; 4] = [
        CaseStatus::Open,
        CaseStatus::Submitted,
        CaseStatus::Resolved,
        CaseStatus::Rejected,
    ];
    /// Code name.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Open => "open",
            CaseStatus::Submitted => "submitted",
            CaseStatus::Resolved => "resolved",
            CaseStatus::Rejected => "rejected",
        }
    }
    /// Parses a code name.
    pub fn parse(text: &str) -> Option<CaseStatus> {
        CaseStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
    /// Resolved or rejected: the acquirer has answered.
    pub fn is_closed(self) -> bool {
        matches!(self, CaseStatus::Resolved | CaseStatus::Rejected)
    }
}

/// What a linked transaction is to the case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkRole {
    /// The transaction the case was opened from (when no more specific role fits).
    Origin,
    /// The sale that was voided by mistake.
    VoidedSale,
    /// The void of it.
    Void,
    /// The new sale that charged the customer again (its `linked_id` names the voided sale).
    Recharge,
    /// Anything else the case is about.
    Related,
}

impl LinkRole {
    /// Every role.
    pub const ALL: [LinkRole; 5] = [
        LinkRole::Origin,
        LinkRole::VoidedSale,
        LinkRole::Void,
        LinkRole::Recharge,
        LinkRole::Related,
    ];
    /// Code name.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkRole::Origin => "origin",
            LinkRole::VoidedSale => "voided_sale",
            LinkRole::Void => "void",
            LinkRole::Recharge => "recharge",
            LinkRole::Related => "related",
        }
    }
    /// Parses a code name.
    pub fn parse(text: &str) -> Option<LinkRole> {
        LinkRole::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// A status change asked of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseAction {
    /// Send it to the acquirer.
    Submit,
    /// Record the acquirer's agreement.
    Resolve,
    /// Record the acquirer's refusal.
    Reject,
}

impl CaseAction {
    /// Code name (also the audit action's suffix).
    pub fn as_str(self) -> &'static str {
        match self {
            CaseAction::Submit => "submit",
            CaseAction::Resolve => "resolve",
            CaseAction::Reject => "reject",
        }
    }
    /// Parses a code name.
    pub fn parse(text: &str) -> Option<CaseAction> {
        [CaseAction::Submit, CaseAction::Resolve, CaseAction::Reject]
            .into_iter()
            .find(|a| a.as_str() == text)
    }
}

fn may_manage(role: StaffRole) -> Result<(), CaseRefused> {
    if role.allows(Permission::ManageCases) {
        Ok(())
    } else {
        Err(CaseRefused::NotPermitted {
            role: role.as_str().into(),
        })
    }
}

fn note_given(note: &str) -> Result<(), CaseRefused> {
    let chars = note.trim().chars().count();
    if chars == 0 {
        return Err(CaseRefused::NoteRequired);
    }
    if chars > CASE_NOTE_CHARS_MAX {
        return Err(CaseRefused::NoteTooLong {
            max: CASE_NOTE_CHARS_MAX,
        });
    }
    Ok(())
}

fn still_open(status: CaseStatus) -> Result<(), CaseRefused> {
    if status.is_closed() {
        Err(CaseRefused::Closed {
            status: status.as_str().into(),
        })
    } else {
        Ok(())
    }
}

/// Decides opening a case. A case needs a note (what happened); a mistaken-void case needs
/// a void to be about: `sale_voided` says whether the sale at its centre (the transaction,
/// the original of a void, or what a re-charge names) was voided.
pub fn decide_case_open(
    role: StaffRole,
    kind: CaseKind,
    note: &str,
    sale_voided: bool,
) -> Result<(), CaseRefused> {
    may_manage(role)?;
    note_given(note)?;
    if kind == CaseKind::MistakenVoid && !sale_voided {
        return Err(CaseRefused::NotVoided);
    }
    Ok(())
}

/// The facts of a transaction asked to be linked to a case.
#[derive(Debug, Clone, Copy)]
pub struct LinkFacts<'a> {
    /// The case's status.
    pub status: CaseStatus,
    /// The case's merchant.
    pub case_merchant: &'a str,
    /// The transaction's merchant.
    pub txn_merchant: &'a str,
    /// The transaction is linked to this case already.
    pub already_linked: bool,
}

/// Decides linking a transaction: only to a case still open or submitted, only a transaction
/// of the case's own merchant (a bank case is one merchant's), and only once.
pub fn decide_case_link(role: StaffRole, f: &LinkFacts<'_>) -> Result<(), CaseRefused> {
    may_manage(role)?;
    still_open(f.status)?;
    if f.case_merchant != f.txn_merchant {
        return Err(CaseRefused::OtherMerchant);
    }
    if f.already_linked {
        return Err(CaseRefused::AlreadyLinked);
    }
    Ok(())
}

/// Decides adding a note: any status (see the module's doc), not empty.
pub fn decide_case_note(role: StaffRole, note: &str) -> Result<(), CaseRefused> {
    may_manage(role)?;
    note_given(note)
}

/// Decides attaching evidence: only while the case is open or submitted.
pub fn decide_case_evidence(role: StaffRole, status: CaseStatus) -> Result<(), CaseRefused> {
    may_manage(role)?;
    still_open(status)
}

/// Decides a status change and returns the status the case gets. Submit: open → submitted.
/// Resolve / reject: submitted → resolved / rejected, with the acquirer's answer as the note
/// (required: a closed case must say why it closed).
pub fn decide_case_transition(
    role: StaffRole,
    status: CaseStatus,
    action: CaseAction,
    note: &str,
) -> Result<CaseStatus, CaseRefused> {
    may_manage(role)?;
    still_open(status)?;
    match action {
        CaseAction::Submit => {
            if status != CaseStatus::Open {
                return Err(CaseRefused::NotOpen {
                    status: status.as_str().into(),
                });
            }
            if !note.trim().is_empty() {
                note_given(note)?;
            }
            Ok(CaseStatus::Submitted)
        }
        CaseAction::Resolve | CaseAction::Reject => {
            if status != CaseStatus::Submitted {
                return Err(CaseRefused::NotSubmitted {
                    status: status.as_str().into(),
                });
            }
            note_given(note)?;
            Ok(if action == CaseAction::Resolve {
                CaseStatus::Resolved
            } else {
                CaseStatus::Rejected
            })
        }
    }
}

/// Refusals of the case rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseRefused {
    /// The user's role may not manage cases.
    NotPermitted {
        /// The role's code name.
        role: String,
    },
    /// A note is required (opening, resolving, rejecting, a note itself).
    NoteRequired,
    /// The note is longer than [`CASE_NOTE_CHARS_MAX`].
    NoteTooLong {
        /// The maximum, in characters.
        max: usize,
    },
    /// A mistaken-void case needs a voided sale.
    NotVoided,
    /// The case is resolved or rejected.
    Closed {
        /// Its status.
        status: String,
    },
    /// Only an open case is submitted.
    NotOpen {
        /// Its status.
        status: String,
    },
    /// Only a submitted case is resolved or rejected.
    NotSubmitted {
        /// Its status.
        status: String,
    },
    /// The transaction belongs to another merchant.
    OtherMerchant,
    /// The transaction is linked already.
    AlreadyLinked,
}

impl Refusal for CaseRefused {
    fn key(&self) -> &'static str {
        match self {
            CaseRefused::NotPermitted { .. } => "case.not_permitted",
            CaseRefused::NoteRequired => "case.note_required",
            CaseRefused::NoteTooLong { .. } => "case.note_too_long",
            CaseRefused::NotVoided => "case.not_voided",
            CaseRefused::Closed { .. } => "case.closed",
            CaseRefused::NotOpen { .. } => "case.not_open",
            CaseRefused::NotSubmitted { .. } => "case.not_submitted",
            CaseRefused::OtherMerchant => "case.other_merchant",
            CaseRefused::AlreadyLinked => "case.already_linked",
        }
    }
    fn args(&self) -> Vec<String> {
        match self {
            CaseRefused::NotPermitted { role } => vec![role.clone()],
            CaseRefused::Closed { status }
            | CaseRefused::NotOpen { status }
            | CaseRefused::NotSubmitted { status } => vec![status.clone()],
            CaseRefused::NoteTooLong { max } => vec![max.to_string()],
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    const SUP: StaffRole = StaffRole::Supervisor;

    #[test]
    fn who_manages_and_who_reads_cases() {
        for r in [StaffRole::Supervisor, StaffRole::Finance, StaffRole::Admin] {
            assert!(r.allows(Permission::ManageCases) && r.allows(Permission::ViewCases));
        }
        assert!(StaffRole::Auditor.allows(Permission::ViewCases));
        assert!(!StaffRole::Auditor.allows(Permission::ManageCases));
        assert!(!StaffRole::Cashier.allows(Permission::ViewCases));
        assert!(matches!(
            decide_case_open(StaffRole::Cashier, CaseKind::Adjustment, "x", false),
            Err(CaseRefused::NotPermitted { .. })
        ));
        assert!(matches!(
            decide_case_note(StaffRole::Auditor, "x"),
            Err(CaseRefused::NotPermitted { .. })
        ));
    }

    #[test]
    fn opening_needs_a_note_and_a_mistaken_void_a_void() {
        assert_eq!(
            decide_case_open(SUP, CaseKind::MistakenVoid, "收银员误撤销", true),
            Ok(())
        );
        assert_eq!(
            decide_case_open(SUP, CaseKind::MistakenVoid, "误撤", false),
            Err(CaseRefused::NotVoided)
        );
        assert_eq!(
            decide_case_open(SUP, CaseKind::Adjustment, "少结算", false),
            Ok(()),
            "an adjustment needs no void"
        );
        assert_eq!(
            decide_case_open(SUP, CaseKind::Adjustment, "  ", false),
            Err(CaseRefused::NoteRequired)
        );
        let long = "字".repeat(CASE_NOTE_CHARS_MAX + 1);
        assert_eq!(
            decide_case_note(SUP, &long),
            Err(CaseRefused::NoteTooLong {
                max: CASE_NOTE_CHARS_MAX
            })
        );
        assert_eq!(
            decide_case_note(SUP, &"字".repeat(CASE_NOTE_CHARS_MAX)),
            Ok(())
        );
    }

    #[test]
    fn status_moves_open_submitted_then_closed_with_an_answer() {
        use CaseAction::*;
        use CaseStatus::*;
        assert_eq!(decide_case_transition(SUP, Open, Submit, ""), Ok(Submitted));
        assert_eq!(
            decide_case_transition(SUP, Submitted, Resolve, "银行已补入账"),
            Ok(Resolved)
        );
        assert_eq!(
            decide_case_transition(SUP, Submitted, Reject, "超过时限"),
            Ok(Rejected)
        );
        assert_eq!(
            decide_case_transition(SUP, Submitted, Resolve, " "),
            Err(CaseRefused::NoteRequired)
        );
        assert_eq!(
            decide_case_transition(SUP, Open, Resolve, "x"),
            Err(CaseRefused::NotSubmitted {
                status: "open".into()
            })
        );
        assert_eq!(
            decide_case_transition(SUP, Submitted, Submit, ""),
            Err(CaseRefused::NotOpen {
                status: "submitted".into()
            })
        );
        for closed in [Resolved, Rejected] {
            for action in [Submit, Resolve, Reject] {
                let r = decide_case_transition(SUP, closed, action, "x").unwrap_err();
                assert!(
                    matches!(r, CaseRefused::Closed { .. }),
                    "{closed:?} {action:?}"
                );
            }
            assert!(matches!(
                decide_case_evidence(SUP, closed),
                Err(CaseRefused::Closed { .. })
            ));
            assert_eq!(
                decide_case_note(SUP, "银行参考号 123"),
                Ok(()),
                "notes stay open"
            );
        }
        assert_eq!(decide_case_evidence(SUP, Submitted), Ok(()));
    }

    #[test]
    fn links_stay_within_the_merchant_and_are_made_once() {
        let f = |status, txn_merchant, already_linked| LinkFacts {
            status,
            case_merchant: "898310048990001",
            txn_merchant,
            already_linked,
        };
        let me = "898310048990001";
        assert_eq!(
            decide_case_link(SUP, &f(CaseStatus::Open, me, false)),
            Ok(())
        );
        assert_eq!(
            decide_case_link(SUP, &f(CaseStatus::Submitted, me, false)),
            Ok(())
        );
        assert_eq!(
            decide_case_link(SUP, &f(CaseStatus::Open, "898310048990002", false)),
            Err(CaseRefused::OtherMerchant)
        );
        assert_eq!(
            decide_case_link(SUP, &f(CaseStatus::Open, me, true)),
            Err(CaseRefused::AlreadyLinked)
        );
        assert!(matches!(
            decide_case_link(SUP, &f(CaseStatus::Resolved, me, false)),
            Err(CaseRefused::Closed { .. })
        ));
    }

    #[test]
    fn code_names_round_trip_and_every_refusal_has_text() {
        for k in CaseKind::ALL {
            assert_eq!(CaseKind::parse(k.as_str()), Some(k));
        }
        for s in CaseStatus::ALL {
            assert_eq!(CaseStatus::parse(s.as_str()), Some(s));
        }
        for r in LinkRole::ALL {
            assert_eq!(LinkRole::parse(r.as_str()), Some(r));
        }
        for a in [CaseAction::Submit, CaseAction::Resolve, CaseAction::Reject] {
            assert_eq!(CaseAction::parse(a.as_str()), Some(a));
        }
        let all = [
            CaseRefused::NotPermitted { role: "x".into() },
            CaseRefused::NoteRequired,
            CaseRefused::NoteTooLong { max: 1 },
            CaseRefused::NotVoided,
            CaseRefused::Closed { status: "x".into() },
            CaseRefused::NotOpen { status: "x".into() },
            CaseRefused::NotSubmitted { status: "x".into() },
            CaseRefused::OtherMerchant,
            CaseRefused::AlreadyLinked,
        ];
        for r in all {
            for lang in [Lang::Zh, Lang::En] {
                assert!(!r.message(lang).starts_with("case."), "{r:?}");
                assert!(!r.remedy(lang).starts_with("case."), "{r:?}");
            }
        }
    }
}
