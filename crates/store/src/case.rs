//! Cases (撤错 / 调账, issue 5 part 3) on either backend: [`Cases`] is implemented for every
//! [`Store`]. The rules are `suanpan_core::case`; this module stores what they decided.
//!
//! Every change runs in one setup transaction with its audit entries: on `case:ID`, and for
//! what a transaction's timeline should show (opening, links, status changes) also on each
//! linked `txn:ID`. Every change to a case first *touches* the case row with a conditional
//! `UPDATE … WHERE status …` whose row count decides: a status change moves only from the
//! status it expects (of two nodes submitting at once, one moves it), and a link or evidence
//! is attached only while the case is not closed — on PostgreSQL the touch also locks the row,
//! so a close waits for an attachment in flight and the other way round.

use crate::audit::{AuditEntry, ChainHead};
use crate::backoffice::{StaffUser, actor};
use crate::error::StoreError;
use crate::evidence::{EVIDENCE_SELECT, EvidenceRow, evidence_from_row, insert_evidence};
use crate::p;
use crate::query::{MatchCount, children_in};
use crate::rows::{TXN_COLUMNS, micros, txn_from_row};
use crate::sql::{Sql, SqlExt, SqlRow};
use crate::{Store, read, setup};
use suanpan_core::case::{CaseKind, CaseStatus, LinkRole};
use suanpan_core::{MerchantId, Transaction, TxnId, TxnKind, TxnStatus};

/// Cases one listing returns at most.
pub const CASES_ROWS_MAX: u32 = 500;
/// Links, notes or evidence rows one case shows at most.
pub const CASE_ITEMS_MAX: u32 = 500;

/// A stored case.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CaseRow {
    /// Store id.
    pub id: i64,
    /// The merchant.
    pub merchant_id: String,
    /// `mistaken_void` or `adjustment`.
    pub kind: String,
    /// `open`, `submitted`, `resolved`, `rejected`.
    pub status: String,
    /// The transaction it was opened from.
    pub txn_id: i64,
    /// Who opened it (username).
    pub opened_by: String,
    /// When (Unix µs).
    pub opened_at: i64,
    /// Last change (Unix µs).
    pub changed_at: i64,
    /// The acquirer's answer, once closed.
    pub answer: String,
}

impl CaseRow {
    /// The status as the rules see it.
    pub fn status(&self) -> Result<CaseStatus, StoreError> {
        CaseStatus::parse(&self.status)
            .ok_or_else(|| StoreError::Sqlite(format!("case {}: status {}", self.id, self.status)))
    }
}

/// A transaction linked to a case.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CaseLink {
    /// The transaction.
    pub txn_id: i64,
    /// `origin`, `voided_sale`, `void`, `recharge`, `related`.
    pub role: String,
    /// Who linked it (username).
    pub linked_by: String,
    /// When (Unix µs).
    pub linked_at: i64,
}

/// A note on a case.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CaseNote {
    /// Id.
    pub id: i64,
    /// The text.
    pub body: String,
    /// Who wrote it (username).
    pub written_by: String,
    /// When (Unix µs).
    pub written_at: i64,
}

/// A new case as the rules allowed it.
#[derive(Debug, Clone)]
pub struct NewCase {
    /// What it is about.
    pub kind: CaseKind,
    /// The transaction it is opened from.
    pub txn: TxnId,
    /// What happened (the first note).
    pub note: String,
    /// The transactions linked at once, the origin among them.
    pub links: Vec<(TxnId, LinkRole)>,
}

/// What is known around a mistaken void: the sale at its centre, its voids and the sales
/// that charged the customer again (their `linked_id` names the sale, as the host stores
/// 8583 field 61 of a re-charge).
#[derive(Debug, Clone, Default)]
pub struct VoidFamily {
    /// The sale (or completion) that was voided, if the transaction leads to one.
    pub sale: Option<Transaction>,
    /// Its voids.
    pub voids: Vec<Transaction>,
    /// Its re-charges.
    pub recharges: Vec<Transaction>,
}

impl VoidFamily {
    /// True when the sale at the centre was voided.
    pub fn voided(&self) -> bool {
        self.sale
            .as_ref()
            .is_some_and(|s| s.status == TxnStatus::Voided)
    }

    /// The links a mistaken-void case gets at once, each transaction once, with its role;
    /// `origin` is added as `origin` when it is none of them.
    pub fn links(&self, origin: TxnId) -> Vec<(TxnId, LinkRole)> {
        let mut out: Vec<(TxnId, LinkRole)> = Vec::new();
        let sale = self.sale.iter().map(|s| (s.id, LinkRole::VoidedSale));
        let voids = self.voids.iter().map(|v| (v.id, LinkRole::Void));
        let recharges = self.recharges.iter().map(|r| (r.id, LinkRole::Recharge));
        for (id, role) in sale.chain(voids).chain(recharges) {
            if !out.iter().any(|(x, _)| *x == id) {
                out.push((id, role));
            }
        }
        if !out.iter().any(|(x, _)| *x == origin) {
            out.insert(0, (origin, LinkRole::Origin));
        }
        out
    }
}

/// Which cases a listing shows: one merchant's (its own users) or every merchant's, or the
/// one the acquirer names (`merchant`); optionally one status; keyset paged on the id.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// One merchant's cases; `None` for every merchant (the acquirer's view only).
    pub merchant: Option<MerchantId>,
    /// One status.
    pub status: Option<CaseStatus>,
    /// Only cases with an id below this (the last id of the previous page).
    pub before_id: Option<i64>,
    /// Page size (at most [`CASES_ROWS_MAX`]).
    pub limit: u32,
}

impl CaseFilter {
    fn where_clause(&self) -> (String, Vec<crate::sql::Value<'_>>) {
        use crate::sql::Value;
        let mut parts = Vec::new();
        let mut args = Vec::new();
        if let Some(m) = &self.merchant {
            args.push(Value::Text(m.as_str()));
            parts.push(format!("c.merchant_id = ?{}", args.len()));
        }
        if let Some(s) = self.status {
            args.push(Value::Text(s.as_str()));
            parts.push(format!("c.status = ?{}", args.len()));
        }
        if let Some(b) = self.before_id {
            args.push(Value::Int(b));
            parts.push(format!("c.id < ?{}", args.len()));
        }
        if parts.is_empty() {
            (String::new(), args)
        } else {
            (format!("WHERE {}", parts.join(" AND ")), args)
        }
    }
}

const CASE_SELECT: &str = "SELECT c.id, c.merchant_id, c.kind, c.status, c.txn_id, s.username, c.opened_at, \
     c.changed_at, c.answer FROM cases c JOIN staff s ON s.id = c.opened_by";

fn case_from_row(r: &dyn SqlRow) -> Result<CaseRow, StoreError> {
    Ok(CaseRow {
        id: r.i64(0)?,
        merchant_id: r.text(1)?,
        kind: r.text(2)?,
        status: r.text(3)?,
        txn_id: r.i64(4)?,
        opened_by: r.text(5)?,
        opened_at: r.i64(6)?,
        changed_at: r.i64(7)?,
        answer: r.text(8)?,
    })
}

/// One audit entry by `user` on `target`.
/// `case.changed` (issue 13): a case was opened (`previous_status` null) or changed status.
#[derive(Debug, serde::Serialize)]
pub struct CaseEvent<'a> {
    /// The case.
    pub case_id: i64,
    /// `mistaken_void` or `adjustment`.
    pub kind: &'a str,
    /// Its status now.
    pub status: &'a str,
    /// Its status before; `None` when it was just opened.
    pub previous_status: Option<&'a str>,
    /// The transaction it was opened from.
    pub txn_id: i64,
    /// Who (username).
    pub by: &'a str,
    /// The note or answer given with the change.
    pub note: &'a str,
    /// When (RFC 3339).
    pub at: String,
}

/// Writes `case.changed` to the webhook outbox in the change's own transaction.
fn emit_case_changed(
    tx: &dyn Sql,
    now: i64,
    case: i64,
    previous: Option<CaseStatus>,
    by: &str,
    note: &str,
) -> Result<(), StoreError> {
    let (merchant, kind, status, txn_id) = tx.one(
        "SELECT merchant_id, kind, status, txn_id FROM cases WHERE id = ?1",
        p![case],
        |r| Ok((r.text(0)?, r.text(1)?, r.text(2)?, r.i64(3)?)),
    )?;
    let merchant = MerchantId::parse(&merchant)
        .map_err(|_| StoreError::Sqlite(format!("case {case}: merchant {merchant}")))?;
    let at = crate::rows::ts(now);
    let data = CaseEvent {
        case_id: case,
        kind: &kind,
        status: &status,
        previous_status: previous.map(CaseStatus::as_str),
        txn_id,
        by,
        note,
        at: at.to_string(),
    };
    let kind_event = suanpan_core::notify::EventKind::CaseChanged;
    crate::notify::enqueue(tx, at, kind_event, Some(&merchant), &data).map(drop)
}

fn audit_on(
    tx: &dyn Sql,
    head: &mut ChainHead,
    now: i64,
    user: &str,
    f: [&str; 4],
) -> Result<(), StoreError> {
    head.append(tx, now, [&actor(user), f[0], f[1], f[2], f[3]])?;
    Ok(())
}

/// The case's linked transaction ids.
fn linked_ids(tx: &dyn Sql, case: i64) -> Result<Vec<i64>, StoreError> {
    tx.rows(
        "SELECT txn_id FROM case_links WHERE case_id = ?1 ORDER BY txn_id",
        p![case],
        |r| r.i64(0),
    )
}

/// Touches a case that is not closed (see the module's doc) without changing it; false when
/// it is closed or gone. On PostgreSQL the row stays locked to the commit.
fn touch_open(tx: &dyn Sql, case: i64) -> Result<bool, StoreError> {
    let n = tx.exec(
        "UPDATE cases SET changed_at = changed_at WHERE id = ?1 AND status IN ('open', 'submitted')",
        p![case],
    )?;
    Ok(n > 0)
}

/// Records when a case last changed.
fn changed_now(tx: &dyn Sql, case: i64, now: i64) -> Result<(), StoreError> {
    tx.exec(
        "UPDATE cases SET changed_at = ?1 WHERE id = ?2",
        p![now, case],
    )?;
    Ok(())
}

/// Cases on any [`Store`] (SQLite or PostgreSQL).
pub trait Cases: Store {
    /// What is known around a mistaken void of `t` (see [`VoidFamily`]).
    fn void_family(&self, t: &Transaction) -> Result<VoidFamily, StoreError> {
        let centre = match (t.kind, t.original_id, t.linked_id) {
            (TxnKind::Void | TxnKind::CompletionVoid, Some(o), _) => Some(o),
            (TxnKind::Sale, _, Some(l)) => Some(l),
            (TxnKind::Sale | TxnKind::Completion, _, _) => Some(t.id),
            _ => None,
        };
        let Some(centre) = centre else {
            return Ok(VoidFamily::default());
        };
        read(self, |c| {
            let sale = c
                .row(
                    &format!("SELECT {TXN_COLUMNS} FROM txns WHERE id = ?1"),
                    p![centre.0],
                    txn_from_row,
                )?
                .filter(|s| s.merchant_id == t.merchant_id);
            let Some(sale) = sale else {
                return Ok(VoidFamily::default());
            };
            let voids = children_in(c, sale.id.0)?
                .into_iter()
                .filter(|v| matches!(v.kind, TxnKind::Void | TxnKind::CompletionVoid))
                .filter(|v| v.status == TxnStatus::Approved)
                .collect();
            let recharges = c.rows(
                &format!(
                    "SELECT {TXN_COLUMNS} FROM txns WHERE linked_id = ?1 AND kind = 'sale' AND merchant_id = ?2 ORDER BY id"
                ),
                p![sale.id.0, sale.merchant_id.as_str()],
                txn_from_row,
            )?;
            Ok(VoidFamily {
                sale: Some(sale),
                voids,
                recharges,
            })
        })
    }

    /// Stores a new case (status `open`) with its first note and links, audited on the case
    /// and on each linked transaction; returns its id.
    fn open_case(&self, user: &StaffUser, c: &NewCase) -> Result<i64, StoreError> {
        let now = micros(self.now());
        let who = user.username.as_str();
        setup(self, |tx, head| {
            let id = tx.insert_id(
                "INSERT INTO cases (merchant_id, kind, status, txn_id, opened_by, opened_at, changed_at)
                 VALUES (?1, ?2, 'open', ?3, ?4, ?5, ?5)",
                p![user.merchant()?.as_str(), c.kind.as_str(), c.txn.0, user.id, now],
            )?;
            tx.exec(
                "INSERT INTO case_notes (case_id, body, written_by, written_at) VALUES (?1, ?2, ?3, ?4)",
                p![id, &c.note, user.id, now],
            )?;
            let target = format!("case:{id}");
            let outcome = format!("{} open", c.kind.as_str());
            audit_on(
                tx,
                head,
                now,
                who,
                ["case.open", &target, &c.note, &outcome],
            )?;
            emit_case_changed(tx, now, id, None, who, &c.note)?;
            for (txn, role) in &c.links {
                tx.exec(
                    "INSERT INTO case_links (case_id, txn_id, role, linked_by, linked_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    p![id, txn.0, role.as_str(), user.id, now],
                )?;
                let on = format!("{target} {}", role.as_str());
                audit_on(
                    tx,
                    head,
                    now,
                    who,
                    ["case.open", &format!("txn:{}", txn.0), &c.note, &on],
                )?;
            }
            Ok(id)
        })
    }

    /// One case of a merchant, or of any merchant (`None`: the acquirer's view).
    fn case(&self, merchant: Option<&MerchantId>, id: i64) -> Result<Option<CaseRow>, StoreError> {
        read(self, |c| {
            c.row(
                &format!(
                    "{CASE_SELECT} WHERE c.id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR c.merchant_id = ?2)"
                ),
                p![id, merchant.map(|m| m.as_str())],
                case_from_row,
            )
        })
    }

    /// One page of cases, newest first (see [`CaseFilter`]).
    fn cases(&self, f: &CaseFilter) -> Result<Vec<CaseRow>, StoreError> {
        let (clause, args) = f.where_clause();
        read(self, |c| {
            c.rows(
                &format!(
                    "{CASE_SELECT} {clause} ORDER BY c.id DESC LIMIT {}",
                    f.limit.clamp(1, CASES_ROWS_MAX)
                ),
                &args,
                case_from_row,
            )
        })
    }

    /// How many cases match `f` (its cursor ignored), counting at most `limit`.
    fn cases_count(&self, f: &CaseFilter, limit: u64) -> Result<MatchCount, StoreError> {
        let all = CaseFilter {
            before_id: None,
            ..f.clone()
        };
        let (clause, args) = all.where_clause();
        let probe = limit.saturating_add(1);
        let n = read(self, |c| {
            c.one(
                &format!(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM cases c {clause} LIMIT {probe}) AS m"
                ),
                &args,
                |r| r.i64(0),
            )
        })?;
        let n = u64::try_from(n).unwrap_or(0);
        Ok(MatchCount {
            count: n.min(limit),
            exact: n <= limit,
        })
    }

    /// A case's linked transactions, in the order they were linked.
    fn case_links(&self, id: i64) -> Result<Vec<CaseLink>, StoreError> {
        read(self, |c| {
            c.rows(
                "SELECT l.txn_id, l.role, s.username, l.linked_at FROM case_links l
                 JOIN staff s ON s.id = l.linked_by WHERE l.case_id = ?1
                 ORDER BY l.linked_at, l.txn_id LIMIT ?2",
                p![id, CASE_ITEMS_MAX],
                |r| {
                    Ok(CaseLink {
                        txn_id: r.i64(0)?,
                        role: r.text(1)?,
                        linked_by: r.text(2)?,
                        linked_at: r.i64(3)?,
                    })
                },
            )
        })
    }

    /// A case's notes, oldest first.
    fn case_notes(&self, id: i64) -> Result<Vec<CaseNote>, StoreError> {
        read(self, |c| {
            c.rows(
                "SELECT n.id, n.body, s.username, n.written_at FROM case_notes n
                 JOIN staff s ON s.id = n.written_by WHERE n.case_id = ?1 ORDER BY n.id LIMIT ?2",
                p![id, CASE_ITEMS_MAX],
                |r| {
                    Ok(CaseNote {
                        id: r.i64(0)?,
                        body: r.text(1)?,
                        written_by: r.text(2)?,
                        written_at: r.i64(3)?,
                    })
                },
            )
        })
    }

    /// The evidence attached to a case, oldest first.
    fn case_evidence(&self, id: i64) -> Result<Vec<EvidenceRow>, StoreError> {
        read(self, |c| {
            c.rows(
                &format!(
                    "{EVIDENCE_SELECT} JOIN case_evidence ce ON ce.evidence_id = e.id
                     WHERE ce.case_id = ?1 ORDER BY e.id LIMIT ?2"
                ),
                p![id, CASE_ITEMS_MAX],
                evidence_from_row,
            )
        })
    }

    /// Links a transaction; false when the case is closed (or was closed meanwhile) or the
    /// transaction is linked already (nothing is written then).
    fn link_case(
        &self,
        user: &StaffUser,
        case: i64,
        txn: TxnId,
        role: LinkRole,
    ) -> Result<bool, StoreError> {
        let now = micros(self.now());
        let who = user.username.as_str();
        setup(self, |tx, head| {
            if !touch_open(tx, case)? {
                return Ok(false);
            }
            let n = tx.exec(
                "INSERT INTO case_links (case_id, txn_id, role, linked_by, linked_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (case_id, txn_id) DO NOTHING",
                p![case, txn.0, role.as_str(), user.id, now],
            )?;
            if n == 0 {
                return Ok(false);
            }
            changed_now(tx, case, now)?;
            let (on_case, on_txn) = (format!("case:{case}"), format!("txn:{}", txn.0));
            let what = format!("{on_txn} {}", role.as_str());
            audit_on(tx, head, now, who, ["case.link", &on_case, "", &what])?;
            let what = format!("{on_case} {}", role.as_str());
            audit_on(tx, head, now, who, ["case.link", &on_txn, "", &what])?;
            Ok(true)
        })
    }

    /// Adds a note (any status); returns its id.
    fn add_case_note(&self, user: &StaffUser, case: i64, body: &str) -> Result<i64, StoreError> {
        let now = micros(self.now());
        setup(self, |tx, head| {
            let id = tx.insert_id(
                "INSERT INTO case_notes (case_id, body, written_by, written_at) VALUES (?1, ?2, ?3, ?4)",
                p![case, body, user.id, now],
            )?;
            changed_now(tx, case, now)?;
            let target = format!("case:{case}");
            let what = format!("note:{id}");
            audit_on(
                tx,
                head,
                now,
                &user.username,
                ["case.note", &target, body, &what],
            )?;
            Ok(id)
        })
    }

    /// Moves a case from `expected` to `next`, with `note` (the acquirer's answer when it
    /// closes) stored as a note and, on closing, as the answer; audited on the case and its
    /// transactions. False when the case was no longer in `expected`: nothing is written.
    fn transition_case(
        &self,
        user: &StaffUser,
        case: i64,
        expected: CaseStatus,
        next: CaseStatus,
        note: &str,
    ) -> Result<bool, StoreError> {
        let now = micros(self.now());
        let who = user.username.as_str();
        let answer = if next.is_closed() { note } else { "" };
        setup(self, |tx, head| {
            let n = tx.exec(
                "UPDATE cases SET status = ?1, changed_at = ?2,
                    answer = CASE WHEN CAST(?3 AS TEXT) = '' THEN answer ELSE CAST(?3 AS TEXT) END
                 WHERE id = ?4 AND status = ?5",
                p![next.as_str(), now, answer, case, expected.as_str()],
            )?;
            if n == 0 {
                return Ok(false);
            }
            if !note.is_empty() {
                tx.exec(
                    "INSERT INTO case_notes (case_id, body, written_by, written_at) VALUES (?1, ?2, ?3, ?4)",
                    p![case, note, user.id, now],
                )?;
            }
            let action = format!("case.{}", verb(next));
            let target = format!("case:{case}");
            let moved = format!("{} → {}", expected.as_str(), next.as_str());
            audit_on(tx, head, now, who, [&action, &target, note, &moved])?;
            emit_case_changed(tx, now, case, Some(expected), who, note)?;
            for txn in linked_ids(tx, case)? {
                let on = format!("{target} {}", next.as_str());
                audit_on(
                    tx,
                    head,
                    now,
                    who,
                    [&action, &format!("txn:{txn}"), note, &on],
                )?;
            }
            Ok(true)
        })
    }

    /// Stores an upload (already written with [`crate::evidence::write_evidence_file`]) as
    /// evidence on the case's transaction and attaches it to the case; `None` when the case
    /// is closed (or was closed meanwhile): nothing is written then.
    fn attach_case_evidence(
        &self,
        user: &StaffUser,
        case: &CaseRow,
        file: &crate::evidence::StoredFile,
        content_type: &str,
        filename: &str,
    ) -> Result<Option<i64>, StoreError> {
        let now = micros(self.now());
        setup(self, |tx, head| {
            if !touch_open(tx, case.id)? {
                return Ok(None);
            }
            changed_now(tx, case.id, now)?;
            let txn = TxnId(case.txn_id);
            let id = insert_evidence(tx, head, now, user, txn, file, content_type, filename)?;
            tx.exec(
                "INSERT INTO case_evidence (case_id, evidence_id, attached_by, attached_at) VALUES (?1, ?2, ?3, ?4)",
                p![case.id, id, user.id, now],
            )?;
            let target = format!("case:{}", case.id);
            let what = format!("evidence:{id} sha256:{}", file.sha256);
            audit_on(
                tx,
                head,
                now,
                &user.username,
                ["case.evidence", &target, filename, &what],
            )?;
            Ok(Some(id))
        })
    }

    /// Records that a case's evidence pack was downloaded (who, and the pack's SHA-256 list's
    /// own hash), so the trail says what left the building.
    fn record_case_pack(
        &self,
        user: &StaffUser,
        case: i64,
        digest: &str,
    ) -> Result<(), StoreError> {
        let now = micros(self.now());
        setup(self, |tx, head| {
            let target = format!("case:{case}");
            let what = format!("SHA256SUMS sha256:{digest}");
            audit_on(
                tx,
                head,
                now,
                &user.username,
                ["case.pack", &target, "", &what],
            )
        })
    }

    /// The audit entries of a case and of its linked transactions, in chain order.
    fn case_audit(&self, case: i64, txns: &[i64]) -> Result<Vec<AuditEntry>, StoreError> {
        use crate::backoffice::Backoffice;
        let mut all = self.target_audit(&format!("case:{case}"))?;
        for t in txns {
            all.extend(self.target_audit(&format!("txn:{t}"))?);
        }
        all.sort_by_key(|e| e.seq);
        all.dedup_by_key(|e| e.seq);
        Ok(all)
    }
}

impl<S: Store + ?Sized> Cases for S {}

/// The audit verb of a move to `next`.
fn verb(next: CaseStatus) -> &'static str {
    match next {
        CaseStatus::Open => "reopen",
        CaseStatus::Submitted => "submit",
        CaseStatus::Resolved => "resolve",
        CaseStatus::Rejected => "reject",
    }
}
