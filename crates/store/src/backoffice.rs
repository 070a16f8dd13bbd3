//! The back-office's records (issue 5): staff users and their lockout, sessions and API
//! tokens (stored as SHA-256 of the secret), void/refund review requests, and REST
//! idempotency keys, on either backend: [`Backoffice`] is implemented for every [`Store`].
//! Every change runs through [`crate::setup`], so it joins the audit chain in the same
//! transaction; every conditional change (a request's transition, a TOTP step, an
//! idempotency key) is one `UPDATE … WHERE` or `INSERT … ON CONFLICT` whose row count
//! decides, so it stays atomic across processes and PostgreSQL nodes. Money never moves here: an approved request is executed by
//! the caller as a normal `Command::Void` / `Command::Refund`.

use crate::audit::{AuditEntry, ChainHead, entry_from};
use crate::error::StoreError;
use crate::p;
use crate::rows::{micros, ts};
use crate::sql::{Dialect, Sql, SqlExt, SqlRow, Value};
use crate::{Store, read, setup};
use jiff::Timestamp;
use suanpan_core::auth::LoginState;
use suanpan_core::backoffice::{
    BackOfficeRefused, ChannelAction, RequestFacts, RequestKind, RequestStatus, StaffRole, Tier,
    UserFacts,
};
use suanpan_core::{Amount, MerchantId, OperatorNo, TxnId};
use zeroize::Zeroizing;

/// One step of the back-office schema: the same change written for each backend.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The version the store is at once this step ran.
    pub version: i64,
    /// The step on SQLite.
    pub sqlite: &'static str,
    /// The step on PostgreSQL.
    pub postgres: &'static str,
}

/// The back-office schema's steps, oldest first; a store runs those above its version, each
/// in the setup transaction. Add a step, never edit one that shipped.
pub const BACKOFFICE_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sqlite: include_str!("migrate_backoffice.sql"),
        postgres: include_str!("pg_backoffice.sql"),
    },
    // Cases (撤错 / 调账): `store::case`.
    Migration {
        version: 2,
        sqlite: include_str!("migrate_backoffice_2.sql"),
        postgres: include_str!("pg_backoffice_2.sql"),
    },
    Migration {
        version: 3,
        sqlite: include_str!("migrate_backoffice_3.sql"),
        postgres: include_str!("pg_backoffice_3.sql"),
    },
    Migration {
        version: 4,
        sqlite: include_str!("migrate_backoffice_4.sql"),
        postgres: include_str!("pg_backoffice_4.sql"),
    },
    // Sessions and tokens (issue 14): idle time-out, token expiry, last use, why revoked.
    Migration {
        version: 5,
        sqlite: include_str!("migrate_backoffice_5.sql"),
        postgres: include_str!("pg_backoffice_5.sql"),
    },
    // The two tiers (issue 14): acquirer users, channels per merchant.
    Migration {
        version: 6,
        sqlite: include_str!("migrate_backoffice_6.sql"),
        postgres: include_str!("pg_backoffice_6.sql"),
    },
    // 商户进件 under maker-checker (issue 14): `store::onboarding`.
    Migration {
        version: 7,
        sqlite: include_str!("migrate_backoffice_7.sql"),
        postgres: include_str!("pg_backoffice_7.sql"),
    },
    // KYC documents on 商户进件 (issue 14): `store::kyc`.
    Migration {
        version: 8,
        sqlite: include_str!("migrate_backoffice_8.sql"),
        postgres: include_str!("pg_backoffice_8.sql"),
    },
    // A TMK loaded in the console under dual control (issue 14): `store::terminal_keys`.
    Migration {
        version: 9,
        sqlite: include_str!("migrate_backoffice_9.sql"),
        postgres: include_str!("pg_backoffice_9.sql"),
    },
];

/// The demo's acquirer user (平台管理员, issue 14): (username, password, role, name). For the
/// demo only; documented in the README.
pub const DEMO_ACQUIRER_STAFF: &[(&str, &str, &str, &str)] = &[(
    "platform",
    "platform-demo",
    "platform_admin",
    "平台管理员 周平",
)];

/// The back-office schema version this build writes (its own key in `meta`).
pub const BACKOFFICE_SCHEMA_VERSION: i64 =
    BACKOFFICE_MIGRATIONS[BACKOFFICE_MIGRATIONS.len() - 1].version;
/// Rows one listing of requests returns at most.
pub const REQUESTS_ROWS_MAX: u32 = 500;
/// Audit entries one transaction's timeline shows at most.
pub const TIMELINE_ENTRIES_MAX: u32 = 200;

/// Demo back-office users: (username, password, role, name, operator no.). Documented in the
/// README; for the demo only.
pub const DEMO_STAFF: &[(&str, &str, &str, &str, Option<&str>)] = &[
    (
        "cashier",
        "cashier-demo",
        "cashier",
        "收银员 王芳",
        Some("01"),
    ),
    (
        "supervisor",
        "supervisor-demo",
        "supervisor",
        "主管 李强",
        Some("00"),
    ),
    ("finance", "finance-demo", "finance", "财务 张敏", None),
    ("admin", "admin-demo", "admin", "管理员 赵刚", None),
    ("auditor", "auditor-demo", "auditor", "审计 陈静", None),
];

/// The demo's second merchant's back-office users ([`crate::admin::DEMO_B_MERCHANT`], issue
/// 14), same shape as [`DEMO_STAFF`]: the separation of merchants is visible on the demo.
pub const DEMO_B_STAFF: &[(&str, &str, &str, &str, Option<&str>)] = &[
    (
        "b-cashier",
        "b-cashier-demo",
        "cashier",
        "收银员 孙丽 (B)",
        Some("01"),
    ),
    (
        "b-supervisor",
        "b-supervisor-demo",
        "supervisor",
        "主管 吴斌 (B)",
        Some("00"),
    ),
    (
        "b-finance",
        "b-finance-demo",
        "finance",
        "财务 郑洁 (B)",
        None,
    ),
    ("b-admin", "b-admin-demo", "admin", "管理员 冯涛 (B)", None),
    (
        "b-auditor",
        "b-auditor-demo",
        "auditor",
        "审计 何琳 (B)",
        None,
    ),
];

/// A back-office user as the rules and the UI see it (no secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffUser {
    /// Store id.
    pub id: i64,
    /// The merchant the user works for; every listing is scoped to it. `None` for the
    /// acquirer's users (issue 14), whose roles are of the acquirer tier.
    pub merchant_id: Option<MerchantId>,
    /// Login name.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: StaffRole,
    /// The counter operator the user books as (void/refund rows), if any.
    pub operator_no: Option<OperatorNo>,
}

/// A user with the password hash and lock state, for login.
#[derive(Debug, Clone)]
pub struct StaffSecret {
    /// The user.
    pub user: StaffUser,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Wrong passwords and lock.
    pub login: LoginState,
    /// The TOTP secret (base32), once enrolled.
    pub totp_secret: Option<Zeroizing<String>>,
    /// The last TOTP step accepted.
    pub totp_last_step: i64,
    /// Disabled by an admin: cannot log in.
    pub disabled: bool,
}

/// A stored void or refund request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReviewRequest {
    /// Store id.
    pub id: i64,
    /// `void` or `refund`.
    pub kind: String,
    /// The original transaction.
    pub txn_id: i64,
    /// Amount asked (fen).
    pub amount_fen: i64,
    /// Why.
    pub reason: String,
    /// Submitter's user id and name.
    pub submitted_by: i64,
    /// Submitter's username.
    pub submitted_by_name: String,
    /// When (Unix µs).
    pub submitted_at: i64,
    /// Status code name.
    pub status: String,
    /// Reviewer's user id.
    pub reviewed_by: Option<i64>,
    /// Reviewer's username.
    pub reviewed_by_name: Option<String>,
    /// When reviewed (Unix µs).
    pub reviewed_at: Option<i64>,
    /// Reviewer's comment.
    pub review_comment: String,
    /// After approval: when it runs (Unix µs).
    pub execute_after: Option<i64>,
    /// The booked void/refund.
    pub result_txn_id: Option<i64>,
    /// The refusal key when execution failed.
    pub result_key: String,
    /// The merchant.
    pub merchant_id: String,
    /// For a void: the customer agreed.
    pub customer_consent: bool,
}

impl ReviewRequest {
    /// The facts the core's review rules look at.
    pub fn facts(&self) -> Result<RequestFacts, StoreError> {
        let corrupt =
            |what: &str| StoreError::Sqlite(format!("review request {}: {what}", self.id));
        Ok(RequestFacts {
            kind: RequestKind::parse(&self.kind).ok_or_else(|| corrupt("kind"))?,
            submitted_by: self.submitted_by,
            reviewed_by: self.reviewed_by,
            status: RequestStatus::parse(&self.status).ok_or_else(|| corrupt("status"))?,
            execute_after: self.execute_after.map(ts),
        })
    }
}

/// What an `Idempotency-Key` lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdemStart {
    /// New key: reserved for this request; finish or abort it.
    New,
    /// Same key, same request, finished: replay this status and body.
    Replay(u16, String),
    /// Same key, other request content.
    Conflict,
    /// Same key, same request, still running.
    InFlight,
}

const STAFF_COLUMNS: &str = "id, merchant_id, username, name, role, operator_no";
/// The same columns when `staff` is joined as `s`.
const STAFF_COLUMNS_S: &str = "s.id, s.merchant_id, s.username, s.name, s.role, s.operator_no";

fn staff_from_row(r: &dyn SqlRow) -> Result<StaffUser, StoreError> {
    let bad = |what: &str, v: String| StoreError::Sqlite(format!("staff row: {what}={v}"));
    let merchant = r.opt_text(1)?;
    let role = r.text(4)?;
    let op = r.opt_text(5)?;
    Ok(StaffUser {
        id: r.i64(0)?,
        merchant_id: merchant
            .map(|m| MerchantId::parse(&m).map_err(|_| bad("merchant", m)))
            .transpose()?,
        username: r.text(2)?,
        name: r.text(3)?,
        role: StaffRole::parse(&role).ok_or_else(|| bad("role", role.clone()))?,
        operator_no: op
            .map(|o| OperatorNo::parse(&o).map_err(|_| bad("operator", o)))
            .transpose()?,
    })
}

impl StaffUser {
    /// The user's merchant; an acquirer user has none, and asking for it is a bug of the
    /// caller (the permissions of the merchant tier are never the acquirer's).
    pub fn merchant(&self) -> Result<&MerchantId, StoreError> {
        self.merchant_id.as_ref().ok_or_else(|| {
            StoreError::Invalid(format!(
                "{} is an acquirer user, of no merchant",
                self.username
            ))
        })
    }
}

/// Tells every connection that the schema changed (SQLite), after a step edited a table's
/// definition in the schema table: the connection that did it reads it again too.
fn bump_schema_version(tx: &dyn Sql) -> Result<(), StoreError> {
    let v = tx
        .row("PRAGMA schema_version", p![], |r| r.i64(0))?
        .unwrap_or(0);
    tx.exec_batch(&format!("PRAGMA schema_version = {}", v + 1))
}

const REQUEST_SELECT: &str = "SELECT q.id, q.kind, q.txn_id, q.amount_fen, q.reason, q.submitted_by, s.username, \
     q.submitted_at, q.status, q.reviewed_by, r.username, q.reviewed_at, q.review_comment, q.execute_after, \
     q.result_txn_id, q.result_key, q.merchant_id, q.customer_consent FROM review_requests q JOIN staff s ON s.id = q.submitted_by \
     LEFT JOIN staff r ON r.id = q.reviewed_by";

fn request_from_row(r: &dyn SqlRow) -> Result<ReviewRequest, StoreError> {
    Ok(ReviewRequest {
        id: r.i64(0)?,
        kind: r.text(1)?,
        txn_id: r.i64(2)?,
        amount_fen: r.i64(3)?,
        reason: r.text(4)?,
        submitted_by: r.i64(5)?,
        submitted_by_name: r.text(6)?,
        submitted_at: r.i64(7)?,
        status: r.text(8)?,
        reviewed_by: r.opt_i64(9)?,
        reviewed_by_name: r.opt_text(10)?,
        reviewed_at: r.opt_i64(11)?,
        review_comment: r.text(12)?,
        execute_after: r.opt_i64(13)?,
        result_txn_id: r.opt_i64(14)?,
        result_key: r.text(15)?,
        merchant_id: r.text(16)?,
        customer_consent: r.flag(17)?,
    })
}

/// Appends one back-office audit entry (actor `web:USERNAME`).
fn audit(
    tx: &dyn Sql,
    head: &mut ChainHead,
    now: i64,
    actor: &str,
    f: [&str; 4],
) -> Result<(), StoreError> {
    head.append(tx, now, [actor, f[0], f[1], f[2], f[3]])?;
    Ok(())
}

/// The reason an approved request's void or refund is booked with: the submitter's reason and
/// the request's number, so that the booked row can be found again
/// ([`Backoffice::booked_for_request`]) when an execution's outcome was lost.
pub fn execution_reason(request: &ReviewRequest) -> String {
    format!("{} (request #{})", request.reason, request.id)
}

/// The audit actor of a back-office user.
pub fn actor(username: &str) -> String {
    format!("web:{username}")
}

/// Audits a read that changes nothing but must be on the chain (who opened a KYC document
/// or another merchant's evidence): `user` did `action` on `target`; `name` is what they
/// read, `detail` its ids and digest.
pub fn record_read<S: Store + ?Sized>(
    store: &S,
    user: &StaffUser,
    [action, target, name, detail]: [&str; 4],
) -> Result<(), StoreError> {
    let now = micros(store.now());
    setup(store, |tx, head| {
        head.append(
            tx,
            now,
            [&actor(&user.username), action, target, name, detail],
        )
    })
}

/// The back-office's records on any [`Store`] (SQLite or PostgreSQL): `use` this trait and
/// call the methods on a `SqliteStore`, a `PgStore` or an `Arc<dyn Store>`.
pub trait Backoffice: Store {
    /// Creates the back-office tables if this store has none yet, and applies every later
    /// step of [`BACKOFFICE_MIGRATIONS`] the store has not seen (idempotent; concurrent
    /// callers on several nodes are ordered by the setup transaction's lock, and each step
    /// re-reads the version inside it).
    fn ensure_backoffice_schema(&self) -> Result<(), StoreError> {
        if backoffice_version(self)? == Some(BACKOFFICE_SCHEMA_VERSION) {
            // Stores of earlier builds kept TOTP secrets in clear.
            return wrap_clear_totp(self).map(drop);
        }
        let dialect = self.dialect();
        setup(self, |tx, _| {
            let found = tx
                .row(
                    "SELECT value FROM meta WHERE key = 'backoffice_schema_version'",
                    p![],
                    |r| r.text(0),
                )?
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0);
            for step in BACKOFFICE_MIGRATIONS.iter().filter(|m| m.version > found) {
                tx.exec_batch(match dialect {
                    Dialect::Sqlite => step.sqlite,
                    Dialect::Postgres => step.postgres,
                })?;
                if dialect == Dialect::Sqlite && step.sqlite.contains("writable_schema") {
                    bump_schema_version(tx)?;
                }
                tx.exec(
                    "INSERT INTO meta (key, value) VALUES ('backoffice_schema_version', ?1)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    p![step.version.to_string().as_str()],
                )?;
            }
            Ok(())
        })?;
        wrap_clear_totp(self).map(drop)
    }

    /// Creates a back-office user with an argon2id password hash.
    fn add_staff(
        &self,
        merchant: &MerchantId,
        username: &str,
        name: &str,
        role: StaffRole,
        operator_no: Option<OperatorNo>,
        password: &str,
    ) -> Result<i64, StoreError> {
        let hash = crate::auth::hash_password(password);
        self.add_staff_hashed(merchant, username, name, role, operator_no, &hash)
    }

    /// Creates a back-office user with a password hash made by the caller (argon2id in
    /// production; tests pass a memoized one).
    fn add_staff_hashed(
        &self,
        merchant: &MerchantId,
        username: &str,
        name: &str,
        role: StaffRole,
        operator_no: Option<OperatorNo>,
        hash: &str,
    ) -> Result<i64, StoreError> {
        self.add_staff_in(Some(merchant), username, name, role, operator_no, hash)
    }

    /// Creates a back-office user of a merchant (`Some`) or of the acquirer (`None`); the
    /// role must be of the same tier (the schema's CHECK says so too).
    fn add_staff_in(
        &self,
        merchant: Option<&MerchantId>,
        username: &str,
        name: &str,
        role: StaffRole,
        operator_no: Option<OperatorNo>,
        hash: &str,
    ) -> Result<i64, StoreError> {
        let tier = if merchant.is_some() {
            Tier::Merchant
        } else {
            Tier::Acquirer
        };
        if role.tier() != tier {
            return Err(StoreError::Invalid(format!(
                "role {} is not of the {} tier",
                role.as_str(),
                if merchant.is_some() {
                    "merchant"
                } else {
                    "acquirer"
                }
            )));
        }
        if username.is_empty()
            || username.len() > 64
            || !username
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(StoreError::Invalid(format!("username {username:?}")));
        }
        self.ensure_backoffice_schema()?;
        let taken = || StoreError::Invalid(format!("username {username:?} is taken"));
        if self.staff_secret(username)?.is_some() {
            return Err(taken());
        }
        let now = micros(self.now());
        let op = operator_no.map(|o| o.to_string());
        setup(self, |tx, head| {
            // The name's UNIQUE constraint decides between two nodes adding it at once.
            let id = tx
                .row(
                    "INSERT INTO staff (merchant_id, username, name, role, operator_no, password_hash, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (username) DO NOTHING RETURNING id",
                    p![merchant.map(|m| m.as_str()), username, name, role.as_str(), op.as_ref(), hash, now],
                    |r| r.i64(0),
                )?
                .ok_or_else(taken)?;
            audit(
                tx,
                head,
                now,
                "admin",
                [
                    "staff.add",
                    &format!("staff:{username}"),
                    role.as_str(),
                    "ok",
                ],
            )?;
            Ok(id)
        })
    }

    /// Gives a merchant a counter operator (issue 14), audited on `operator:MERCHANT/NO` as
    /// `actor` (the web user, or `admin` for the CLI). `Ok(false)`: the merchant has that
    /// number already (the primary key decides between two admins at once).
    fn add_counter_operator(
        &self,
        actor: &str,
        merchant: &MerchantId,
        op: OperatorNo,
        name: &str,
        hash: &str,
    ) -> Result<bool, StoreError> {
        let now = micros(self.now());
        let no = op.to_string();
        setup(self, |tx, head| {
            let added = tx
                .row(
                    "INSERT INTO operators (merchant_id, operator_no, name, password_hash, changed_at)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (merchant_id, operator_no) DO NOTHING
                     RETURNING operator_no",
                    p![merchant.as_str(), &no, name, hash, now],
                    |r| r.text(0),
                )?
                .is_some();
            if added {
                audit(
                    tx,
                    head,
                    now,
                    actor,
                    [
                        "operator.add",
                        &format!("operator:{merchant}/{no}"),
                        op.role().as_str(),
                        "ok",
                    ],
                )?;
            }
            Ok(added)
        })
    }

    /// Seeds the demo back-office users ([`DEMO_STAFF`]) for the demo merchant.
    fn seed_backoffice_demo(&self) -> Result<(), StoreError> {
        self.seed_backoffice_demo_with(&crate::auth::hash_password)
    }

    /// [`Backoffice::seed_backoffice_demo`] with the password hashes made by `hash`.
    fn seed_backoffice_demo_with(&self, hash: &dyn Fn(&str) -> String) -> Result<(), StoreError> {
        let merchant = MerchantId::parse(crate::admin::DEMO_MERCHANT)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.seed_staff_with(&merchant, DEMO_STAFF, hash)?;
        for (username, password, role, name) in DEMO_ACQUIRER_STAFF {
            let role = StaffRole::parse(role).ok_or_else(|| StoreError::Invalid((*role).into()))?;
            self.add_staff_in(None, username, name, role, None, &hash(password))?;
        }
        // Remembered so that the login page points at the demo accounts only on a demo
        // store, never on a production install (issue 18).
        setup(self, |tx, _| {
            tx.exec(
                "INSERT INTO meta (key, value) VALUES ('demo_data', 'true')
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                p![],
            )?;
            Ok(())
        })
    }

    /// Adds the users of a demo table ([`DEMO_STAFF`], [`DEMO_B_STAFF`]) to `merchant`.
    fn seed_staff_with(
        &self,
        merchant: &MerchantId,
        staff: &[(&str, &str, &str, &str, Option<&str>)],
        hash: &dyn Fn(&str) -> String,
    ) -> Result<(), StoreError> {
        for (username, password, role, name, op) in staff {
            let role = StaffRole::parse(role).ok_or_else(|| StoreError::Invalid((*role).into()))?;
            let op = op
                .map(OperatorNo::parse)
                .transpose()
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            self.add_staff_hashed(merchant, username, name, role, op, &hash(password))?;
        }
        Ok(())
    }

    /// Whether this store was made with the demo data (`init --demo`, `serve --demo`): its
    /// demo accounts and their published passwords exist.
    fn made_with_demo(&self) -> Result<bool, StoreError> {
        let v = read(self, |c| {
            c.row(
                "SELECT value FROM meta WHERE key = 'demo_data'",
                p![],
                |r| r.text(0),
            )
        })?;
        Ok(v.as_deref() == Some("true"))
    }

    /// A user with secret and lock state, by login name.
    fn staff_secret(&self, username: &str) -> Result<Option<StaffSecret>, StoreError> {
        let keys = self.keys().clone();
        let found = read(self, |c| {
            c.row(
                &format!("SELECT {STAFF_COLUMNS}, password_hash, failures, locked_until, totp_secret, totp_last_step, disabled_at FROM staff WHERE username = ?1"),
                p![username],
                |r| {
                    Ok(StaffSecret {
                        user: staff_from_row(r)?,
                        password_hash: r.text(6)?,
                        login: LoginState {
                            failures: r.u32(7)?,
                            locked_until: r.opt_i64(8)?.map(ts),
                        },
                        totp_secret: r.opt_text(9)?.map(Zeroizing::new),
                        totp_last_step: r.i64(10)?,
                        disabled: r.opt_i64(11)?.is_some(),
                    })
                },
            )
        })?;
        found
            .map(|mut s| {
                if let Some(w) = &s.totp_secret {
                    s.totp_secret = Some(unwrap_text(&*keys, &totp_identity(s.user.id), w)?);
                }
                Ok(s)
            })
            .transpose()
    }

    /// All users of a merchant.
    fn staff_list(&self, merchant: &MerchantId) -> Result<Vec<StaffUser>, StoreError> {
        read(self, |c| {
            c.rows(
                &format!("SELECT {STAFF_COLUMNS} FROM staff WHERE merchant_id = ?1 ORDER BY id"),
                p![merchant.as_str()],
                staff_from_row,
            )
        })
    }

    /// The counter operator a user books as.
    fn staff_operator(&self, id: i64) -> Result<Option<OperatorNo>, StoreError> {
        let op = read(self, |c| {
            c.row("SELECT operator_no FROM staff WHERE id = ?1", p![id], |r| {
                r.opt_text(0)
            })
        })?;
        op.flatten()
            .map(|o| OperatorNo::parse(&o).map_err(|e| StoreError::Sqlite(e.to_string())))
            .transpose()
    }

    /// Records a login outcome: a failure counts towards the lockout and is audited; a
    /// success after failures resets the count. `state` is the new state the core decided.
    fn record_staff_login(
        &self,
        user: &StaffUser,
        state: LoginState,
        outcome: &str,
    ) -> Result<(), StoreError> {
        let now = micros(self.now());
        setup(self, |tx, head| {
            tx.exec(
                "UPDATE staff SET failures = ?1, locked_until = ?2 WHERE id = ?3",
                p![state.failures, state.locked_until.map(micros), user.id],
            )?;
            if outcome != "ok" {
                audit(
                    tx,
                    head,
                    now,
                    &actor(&user.username),
                    ["login", &format!("staff:{}", user.username), "", outcome],
                )?;
            }
            Ok(())
        })
    }

    /// Records a successful login: the lockout count starts again and the login joins the
    /// audit chain with how it was made and from where (`note`, e.g. `how=password+totp
    /// from=203.0.113.5`).
    fn record_login_ok(&self, user: &StaffUser, note: &str) -> Result<(), StoreError> {
        let now = micros(self.now());
        setup(self, |tx, head| {
            tx.exec(
                "UPDATE staff SET failures = 0, locked_until = NULL WHERE id = ?1",
                p![user.id],
            )?;
            audit(
                tx,
                head,
                now,
                &actor(&user.username),
                ["login", &format!("staff:{}", user.username), note, "ok"],
            )
        })
    }

    /// Audits an event that changes nothing else (a refused request, a login for an unknown
    /// name, a logout).
    fn record_staff_event(
        &self,
        actor_name: &str,
        action: &str,
        target: &str,
        outcome: &str,
    ) -> Result<(), StoreError> {
        let now = micros(self.now());
        setup(self, |tx, head| {
            audit(
                tx,
                head,
                now,
                &actor(actor_name),
                [action, target, "", outcome],
            )
        })
    }

    /// Stores a new session (the caller keeps the secret; only its hash is stored).
    /// `mfa_pending`: an admin who still has to enrol TOTP; the session opens nothing else.
    fn create_session(
        &self,
        staff_id: i64,
        token_hash: &str,
        csrf: &str,
        expires_at: Timestamp,
        mfa_pending: bool,
    ) -> Result<(), StoreError> {
        let now = micros(self.now());
        setup(self, |tx, _| {
            // Expired sessions are swept here, so the table does not grow without bound.
            tx.exec("DELETE FROM staff_sessions WHERE expires_at <= ?1", p![now])?;
            tx.exec(
                "INSERT INTO staff_sessions (token_hash, staff_id, csrf, created_at, expires_at, mfa_pending, last_seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?4)",
                p![token_hash, staff_id, csrf, now, micros(expires_at), mfa_pending],
            )?;
            Ok(())
        })
    }

    /// A session not past its absolute end: its user, CSRF token, whether TOTP enrolment is
    /// still pending, and when it was last used (the caller applies the idle time-out).
    fn session(&self, token_hash: &str) -> Result<Option<LiveSession>, StoreError> {
        let now = micros(self.now());
        let keys = self.keys().clone();
        let found = read(self, |c| {
            c.row(
                &format!(
                    "SELECT {STAFF_COLUMNS_S}, x.csrf, x.mfa_pending, x.totp_pending_secret, s.disabled_at, x.last_seen_at, s.totp_secret IS NOT NULL
                     FROM staff_sessions x JOIN staff s ON s.id = x.staff_id
                     WHERE x.token_hash = ?1 AND x.expires_at > ?2"
                ),
                p![token_hash, now],
                |r| {
                    Ok(LiveSession {
                        user: staff_from_row(r)?,
                        csrf: r.text(6)?,
                        mfa_pending: r.flag(7)?,
                        totp_offered: r.opt_text(8)?.map(Zeroizing::new),
                        disabled: r.opt_i64(9)?.is_some(),
                        last_seen_at: ts(r.i64(10)?),
                        totp_enrolled: r.flag(11)?,
                    })
                },
            )
        })?;
        found
            .map(|mut s| {
                if let Some(w) = &s.totp_offered {
                    let id = offered_identity(token_hash);
                    s.totp_offered = Some(unwrap_text(&*keys, &id, w)?);
                }
                Ok(s)
            })
            .transpose()
    }

    /// Slides a session's idle time-out: records `now` as its last use when the last one
    /// recorded is older than `stale_before`, so that a busy session writes at most once per
    /// interval. One conditional `UPDATE`, nothing audited.
    fn touch_session(&self, token_hash: &str, stale_before: Timestamp) -> Result<(), StoreError> {
        let now = micros(self.now());
        setup(self, |tx, _| {
            tx.exec(
                "UPDATE staff_sessions SET last_seen_at = ?1 WHERE token_hash = ?2 AND last_seen_at < ?3",
                p![now, token_hash, micros(stale_before)],
            )?;
            Ok(())
        })
    }

    /// Remembers the TOTP secret offered to a session for enrolment.
    fn offer_totp(&self, token_hash: &str, secret: &str) -> Result<(), StoreError> {
        let wrapped = self
            .keys()
            .wrap(&offered_identity(token_hash), secret.as_bytes())?;
        setup(self, |tx, _| {
            tx.exec(
                "UPDATE staff_sessions SET totp_pending_secret = ?1 WHERE token_hash = ?2",
                p![&wrapped, token_hash],
            )?;
            Ok(())
        })
    }

    /// Enrols the offered secret (its first code was right): the user's logins need it from
    /// now on, and this session is complete. A new factor ends the user's other sessions and
    /// revokes their API tokens (they were opened without it).
    fn enrol_totp(
        &self,
        user: &StaffUser,
        token_hash: &str,
        secret: &str,
        step: i64,
    ) -> Result<(), StoreError> {
        let now = micros(self.now());
        let wrapped = self
            .keys()
            .wrap(&totp_identity(user.id), secret.as_bytes())?;
        setup(self, |tx, head| {
            tx.exec(
                "UPDATE staff SET totp_secret = ?1, totp_last_step = ?2 WHERE id = ?3",
                p![&wrapped, step, user.id],
            )?;
            tx.exec(
                "UPDATE staff_sessions SET mfa_pending = 0, totp_pending_secret = NULL WHERE token_hash = ?1",
                p![token_hash],
            )?;
            end_logins(tx, user.id, now, "totp.enrol", Some(token_hash))?;
            audit(
                tx,
                head,
                now,
                &actor(&user.username),
                ["totp.enrol", &format!("staff:{}", user.username), "", "ok"],
            )
        })
    }

    /// Changes the user's own password (the caller checked the current one and the core's
    /// rule): every other session ends and every API token is revoked; `keep` (the session
    /// that made the change) goes on. Audited as `staff.password_change`.
    fn change_own_password(
        &self,
        user: &StaffUser,
        hash: &str,
        keep: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = micros(self.now());
        setup(self, |tx, head| {
            tx.exec(
                "UPDATE staff SET password_hash = ?1, failures = 0, locked_until = NULL WHERE id = ?2",
                p![hash, user.id],
            )?;
            end_logins(tx, user.id, now, "staff.password_change", keep)?;
            audit(
                tx,
                head,
                now,
                &actor(&user.username),
                [
                    "staff.password_change",
                    &format!("staff:{}", user.username),
                    "",
                    "ok",
                ],
            )
        })
    }

    /// Uses a TOTP step once: false when it (or a later one) was already used (a replayed
    /// code). One conditional `UPDATE`: of two nodes checking the same code at once, one
    /// wins.
    fn use_totp_step(&self, staff_id: i64, step: i64) -> Result<bool, StoreError> {
        setup(self, |tx, _| {
            let n = tx.exec(
                "UPDATE staff SET totp_last_step = ?1 WHERE id = ?2 AND totp_last_step < ?1",
                p![step, staff_id],
            )?;
            Ok(n > 0)
        })
    }

    /// Ends a session.
    fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        setup(self, |tx, _| {
            tx.exec(
                "DELETE FROM staff_sessions WHERE token_hash = ?1",
                p![token_hash],
            )?;
            Ok(())
        })
    }

    /// Stores a new API token for an app, ending at `expires_at`; returns its id.
    fn create_token(
        &self,
        user: &StaffUser,
        name: &str,
        token_hash: &str,
        expires_at: Timestamp,
    ) -> Result<i64, StoreError> {
        let now = micros(self.now());
        let until = micros(expires_at);
        setup(self, |tx, head| {
            let id = tx.insert_id(
                "INSERT INTO staff_tokens (token_hash, staff_id, name, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                p![token_hash, user.id, name, now, until],
            )?;
            audit(
                tx,
                head,
                now,
                &actor(&user.username),
                [
                    "token.create",
                    &format!("token:{id}"),
                    &format!("{name} expires={}", ts(until)),
                    "ok",
                ],
            )?;
            Ok(id)
        })
    }

    /// A token that was not revoked (expired or not: the caller tells an expired one apart),
    /// with its user and whether that user is disabled (a disabled user's tokens open
    /// nothing).
    fn token_user(&self, token_hash: &str) -> Result<Option<LiveToken>, StoreError> {
        read(self, |c| {
            c.row(
                &format!(
                    "SELECT {STAFF_COLUMNS_S}, s.disabled_at, t.id, t.expires_at, t.last_used_at, t.last_used_from
                     FROM staff_tokens t JOIN staff s ON s.id = t.staff_id
                     WHERE t.token_hash = ?1 AND t.revoked_at IS NULL"
                ),
                p![token_hash],
                |r| {
                    Ok(LiveToken {
                        user: staff_from_row(r)?,
                        disabled: r.opt_i64(6)?.is_some(),
                        id: r.i64(7)?,
                        expires_at: ts(r.i64(8)?),
                        last_used_at: r.opt_i64(9)?.map(ts),
                        last_used_from: r.opt_text(10)?,
                    })
                },
            )
        })
    }

    /// Records a token's use (`now`, from `client`); when `login` is true it is audited as a
    /// login by token (its first use, after a pause, or from another address).
    fn touch_token(&self, token: &LiveToken, client: &str, login: bool) -> Result<(), StoreError> {
        let now = micros(self.now());
        setup(self, |tx, head| {
            tx.exec(
                "UPDATE staff_tokens SET last_used_at = ?1, last_used_from = ?2 WHERE id = ?3",
                p![now, client, token.id],
            )?;
            if login {
                audit(
                    tx,
                    head,
                    now,
                    &actor(&token.user.username),
                    [
                        "login",
                        &format!("staff:{}", token.user.username),
                        &format!("how=token token={} from={client}", token.id),
                        "ok",
                    ],
                )?;
            }
            Ok(())
        })
    }

    /// The user's API tokens, newest first (revoked and expired ones too, so the list says
    /// what happened to each).
    fn tokens(&self, user: &StaffUser) -> Result<Vec<TokenRow>, StoreError> {
        read(self, |c| {
            c.rows(
                "SELECT id, name, created_at, expires_at, last_used_at, last_used_from, revoked_at, revoked_why
                 FROM staff_tokens WHERE staff_id = ?1 ORDER BY id DESC LIMIT 200",
                p![user.id],
                |r| {
                    Ok(TokenRow {
                        id: r.i64(0)?,
                        name: r.text(1)?,
                        created_at: ts(r.i64(2)?),
                        expires_at: ts(r.i64(3)?),
                        last_used_at: r.opt_i64(4)?.map(ts),
                        last_used_from: r.opt_text(5)?,
                        revoked_at: r.opt_i64(6)?.map(ts),
                        revoked_why: r.opt_text(7)?,
                    })
                },
            )
        })
    }

    /// Revokes one of the user's tokens; false when there was no such live token.
    fn revoke_token(&self, user: &StaffUser, id: i64) -> Result<bool, StoreError> {
        let now = micros(self.now());
        setup(self, |tx, head| {
            let n = tx.exec(
                "UPDATE staff_tokens SET revoked_at = ?1, revoked_why = 'token.revoke' WHERE id = ?2 AND staff_id = ?3 AND revoked_at IS NULL",
                p![now, id, user.id],
            )?;
            if n > 0 {
                audit(
                    tx,
                    head,
                    now,
                    &actor(&user.username),
                    ["token.revoke", &format!("token:{id}"), "", "ok"],
                )?;
            }
            Ok(n > 0)
        })
    }

    /// Stores a new request with the status the core decided, audited on the transaction.
    fn create_request(&self, user: &StaffUser, r: &NewRequest) -> Result<i64, StoreError> {
        let now = micros(self.now());
        let merchant = user.merchant()?;
        setup(self, |tx, head| {
            let id = tx.insert_id(
                "INSERT INTO review_requests (kind, txn_id, merchant_id, amount_fen, reason, submitted_by, submitted_at, status, execute_after, customer_consent)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                p![
                    r.kind.as_str(),
                    r.txn.0,
                    merchant.as_str(),
                    r.amount.fen(),
                    &r.reason,
                    user.id,
                    now,
                    r.status.as_str(),
                    (r.status == RequestStatus::Approved).then_some(now),
                    r.customer_consent
                ],
            )?;
            let action = format!("{}_request.submit", r.kind.as_str());
            let outcome = format!("request:{id} {}", r.status.as_str());
            audit(
                tx,
                head,
                now,
                &actor(&user.username),
                [&action, &format!("txn:{}", r.txn.0), &r.reason, &outcome],
            )?;
            Ok(id)
        })
    }

    /// One request of the user's merchant.
    fn request(&self, merchant: &MerchantId, id: i64) -> Result<Option<ReviewRequest>, StoreError> {
        read(self, |c| {
            c.row(
                &format!("{REQUEST_SELECT} WHERE q.id = ?1 AND q.merchant_id = ?2"),
                p![id, merchant.as_str()],
                request_from_row,
            )
        })
    }

    /// Requests of a merchant, newest first; optionally one status or one transaction.
    fn requests(
        &self,
        merchant: &MerchantId,
        status: Option<RequestStatus>,
        txn: Option<i64>,
        limit: u32,
    ) -> Result<Vec<ReviewRequest>, StoreError> {
        read(self, |c| {
            c.rows(
                &format!(
                    "{REQUEST_SELECT} WHERE q.merchant_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR q.status = ?2)
                     AND (CAST(?3 AS BIGINT) IS NULL OR q.txn_id = ?3) ORDER BY q.id DESC LIMIT ?4"
                ),
                p![merchant.as_str(), status.map(|s| s.as_str()), txn, limit.min(REQUESTS_ROWS_MAX)],
                request_from_row,
            )
        })
    }

    /// How many requests of a merchant have a status (the dashboard's tile: every one, not a
    /// page of them).
    fn count_requests(
        &self,
        merchant: &MerchantId,
        status: RequestStatus,
    ) -> Result<u64, StoreError> {
        let n = read(self, |c| {
            c.one(
                "SELECT COUNT(*) FROM review_requests WHERE merchant_id = ?1 AND status = ?2",
                p![merchant.as_str(), status.as_str()],
                |r| r.i64(0),
            )
        })?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Approved requests whose grace window has passed (the executor's work list).
    fn due_requests(&self, limit: u32) -> Result<Vec<ReviewRequest>, StoreError> {
        let now = micros(self.now());
        read(self, |c| {
            c.rows(
                &format!(
                    "{REQUEST_SELECT} WHERE q.status = 'approved' AND q.execute_after <= ?1 ORDER BY q.id LIMIT ?2"
                ),
                p![now, limit.min(REQUESTS_ROWS_MAX)],
                request_from_row,
            )
        })
    }

    /// Requests claimed for execution (`executing`) at or before `claimed_before` and never
    /// finished: their executor hit a storage error or its process died between the claim
    /// and the end. Oldest first.
    fn stale_requests(
        &self,
        claimed_before: Timestamp,
        limit: u32,
    ) -> Result<Vec<ReviewRequest>, StoreError> {
        read(self, |c| {
            c.rows(
                &format!(
                    "{REQUEST_SELECT} WHERE q.status = 'executing'
                       AND (q.claimed_at IS NULL OR q.claimed_at <= ?1) ORDER BY q.id LIMIT ?2"
                ),
                p![micros(claimed_before), limit.min(REQUESTS_ROWS_MAX)],
                request_from_row,
            )
        })
    }

    /// Takes over a stale claim (see [`Backoffice::stale_requests`]): renews its claim time if
    /// it is still `executing` and still claimed at or before `claimed_before`. Of two
    /// executors (processes, nodes) taking it over at once, one gets `true`. Audited.
    fn reclaim_request(
        &self,
        request: &ReviewRequest,
        claimed_before: Timestamp,
    ) -> Result<bool, StoreError> {
        let now = micros(self.now());
        setup(self, |tx, head| {
            let n = tx.exec(
                "UPDATE review_requests SET claimed_at = ?1
                 WHERE id = ?2 AND status = 'executing' AND (claimed_at IS NULL OR claimed_at <= ?3)",
                p![now, request.id, micros(claimed_before)],
            )?;
            if n == 0 {
                return Ok(false);
            }
            audit(
                tx,
                head,
                now,
                &actor("system"),
                [
                    &format!("{}_request.reclaim", request.kind),
                    &format!("txn:{}", request.txn_id),
                    "",
                    &format!("request:{} executing", request.id),
                ],
            )?;
            Ok(true)
        })
    }

    /// The void or refund an execution of `request` booked, if any: the row on its original
    /// that carries the request's [`execution_reason`]. `None`: nothing was committed.
    fn booked_for_request(
        &self,
        request: &ReviewRequest,
    ) -> Result<Option<(TxnId, bool, String)>, StoreError> {
        let kinds: &[&str] = match request.kind.as_str() {
            "void" => &["void", "completion_void"],
            _ => &["refund"],
        };
        let reason = execution_reason(request);
        read(self, |c| {
            c.row(
                "SELECT id, status, response_code FROM txns
                 WHERE original_id = ?1 AND reason = ?2 AND kind IN (?3, ?4) ORDER BY id LIMIT 1",
                p![
                    request.txn_id,
                    reason.as_str(),
                    kinds[0],
                    kinds[kinds.len() - 1]
                ],
                |r| Ok((TxnId(r.i64(0)?), r.text(1)? == "approved", r.text(2)?)),
            )
        })
    }

    /// Moves a request from `expected` to `next` status (review, cancel, undo, execution),
    /// audited on its transaction. Returns false when the request was no longer in
    /// `expected` (someone else acted first, in this process or on another node): nothing is
    /// written then. The `WHERE status = expected` of one `UPDATE` decides, so of two
    /// concurrent moves exactly one changes the row.
    fn transition_request(&self, t: &Transition<'_>) -> Result<bool, StoreError> {
        let now = micros(self.now());
        setup(self, |tx, head| {
            let n = tx.exec(
                "UPDATE review_requests SET status = ?1,
                    reviewed_by = COALESCE(CAST(?2 AS BIGINT), reviewed_by),
                    reviewed_at = CASE WHEN CAST(?2 AS BIGINT) IS NULL THEN reviewed_at ELSE ?3 END,
                    review_comment = CASE WHEN CAST(?2 AS BIGINT) IS NULL THEN review_comment ELSE CAST(?4 AS TEXT) END,
                    execute_after = COALESCE(CAST(?5 AS BIGINT), execute_after),
                    result_txn_id = COALESCE(CAST(?6 AS BIGINT), result_txn_id),
                    result_key = CASE WHEN CAST(?7 AS TEXT) = '' THEN result_key ELSE CAST(?7 AS TEXT) END,
                    claimed_at = CASE WHEN ?1 = 'executing' THEN ?3 ELSE claimed_at END
                 WHERE id = ?8 AND status = ?9",
                p![
                    t.next.as_str(),
                    t.reviewer,
                    now,
                    t.comment,
                    t.execute_after.map(micros),
                    t.result_txn.map(|x| x.0),
                    t.result_key,
                    t.request.id,
                    t.expected.as_str()
                ],
            )?;
            if n == 0 {
                return Ok(false);
            }
            let action = format!("{}_request.{}", t.request.kind, t.action);
            audit(
                tx,
                head,
                now,
                &actor(t.actor),
                [
                    &action,
                    &format!("txn:{}", t.request.txn_id),
                    t.comment,
                    &format!("request:{} {}", t.request.id, t.next.as_str()),
                ],
            )?;
            Ok(true)
        })
    }

    /// One merchant's audit entries, newest first (issue 14): what its users did (`web:`
    /// actors of its staff) and what happened to its objects — its transactions, cases,
    /// terminals, counter operators and itself. Another merchant's entries never show.
    fn merchant_audit(
        &self,
        merchant: &MerchantId,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        read(self, |c| {
            c.rows(
                &format!(
                    "SELECT a.seq, a.at, a.actor, a.action, a.target, a.reason, a.outcome, a.prev_hash, a.hash
                     FROM audit a WHERE {} ORDER BY a.seq DESC LIMIT ?2 OFFSET ?3",
                    merchant_audit_filter(c.dialect())
                ),
                p![merchant.as_str(), limit, offset],
                entry_from,
            )
        })
    }

    /// How many entries a merchant's audit view holds ([`Backoffice::merchant_audit`]'s
    /// filter), and whether entry `seq` is one of them: what a merchant's auditor is told when
    /// the chain is verified (issue 14).
    fn merchant_audit_count(
        &self,
        merchant: &MerchantId,
        seq: Option<i64>,
    ) -> Result<(i64, bool), StoreError> {
        read(self, |c| {
            let filter = merchant_audit_filter(c.dialect());
            let count = c
                .row(
                    &format!("SELECT COUNT(*) FROM audit a WHERE {filter}"),
                    p![merchant.as_str()],
                    |r| r.i64(0),
                )?
                .unwrap_or(0);
            let seen = match seq {
                None => false,
                Some(seq) => c
                    .row(
                        &format!("SELECT 1 FROM audit a WHERE a.seq = ?2 AND ({filter})"),
                        p![merchant.as_str(), seq],
                        |r| r.i64(0),
                    )?
                    .is_some(),
            };
            Ok((count, seen))
        })
    }

    /// Audit entries about one transaction (its timeline), oldest first.
    fn txn_audit(&self, id: TxnId) -> Result<Vec<AuditEntry>, StoreError> {
        self.target_audit(&format!("txn:{}", id.0))
    }

    /// Audit entries about one target (`txn:ID`, `case:ID`), oldest first, at most
    /// [`TIMELINE_ENTRIES_MAX`].
    fn target_audit(&self, target: &str) -> Result<Vec<AuditEntry>, StoreError> {
        read(self, |c| {
            c.rows(
                "SELECT seq, at, actor, action, target, reason, outcome, prev_hash, hash FROM audit
                 WHERE target = ?1 ORDER BY seq LIMIT ?2",
                p![target, TIMELINE_ENTRIES_MAX],
                entry_from,
            )
        })
    }

    /// A merchant's batches, newest first, with their settlement totals once settled.
    fn batches(&self, merchant: &MerchantId, limit: u32) -> Result<Vec<BatchRow>, StoreError> {
        read(self, |c| {
            c.rows(
                "SELECT b.terminal_id, b.batch_no, b.opened_at, b.settled_at, b.settled_by, b.debit_fen, b.debit_count,
                        b.credit_fen, b.credit_count, b.reconciliation
                 FROM batches b JOIN terminals t ON t.id = b.terminal_id
                 WHERE t.merchant_id = ?1 ORDER BY b.id DESC LIMIT ?2",
                p![merchant.as_str(), limit.min(REQUESTS_ROWS_MAX)],
                |r| {
                    Ok(BatchRow {
                        terminal_id: r.text(0)?,
                        batch_no: r.u32(1)?,
                        opened_at: r.i64(2)?,
                        settled_at: r.opt_i64(3)?,
                        settled_by: r.opt_text(4)?,
                        debit_fen: r.opt_i64(5)?,
                        debit_count: r.opt_i64(6)?,
                        credit_fen: r.opt_i64(7)?,
                        credit_count: r.opt_i64(8)?,
                        reconciliation: r.opt_text(9)?,
                    })
                },
            )
        })
    }

    /// The payment channels as one merchant has them, in the order they were seeded: the
    /// merchant's own state (a merchant that changed nothing has every channel enabled), and
    /// whether the platform's switch is on (`platform_enabled`).
    fn channels(&self, merchant: &MerchantId) -> Result<Vec<ChannelRow>, StoreError> {
        read(self, |c| {
            c.rows(
                &format!(
                    "SELECT c.id, COALESCE(m.enabled, 1), m.changed_at, m.changed_by, COALESCE(m.reason, ''),
                            COALESCE(m.removed, 0), c.enabled, COALESCE(m.allowed, 1), COALESCE(m.allowed_reason, '')
                     FROM channels c LEFT JOIN merchant_channels m ON m.channel_id = c.id AND m.merchant_id = ?1
                     {CHANNEL_ORDER}"
                ),
                p![merchant.as_str()],
                channel_from_row,
            )
        })
    }

    /// The platform's channel switches (the acquirer's outage switch), in the seeded order.
    fn platform_channels(&self) -> Result<Vec<ChannelRow>, StoreError> {
        read(self, |c| {
            c.rows(
                &format!(
                    "SELECT c.id, c.enabled, c.changed_at, c.changed_by, c.reason, c.removed, c.enabled, 1, ''
                     FROM channels c {CHANNEL_ORDER}"
                ),
                p![],
                channel_from_row,
            )
        })
    }

    /// Switches a channel on or off for the whole platform (an outage), audited with the
    /// reason as the acquirer user. While off, every merchant's transactions through it are
    /// refused with 12, whatever the merchant chose. `Ok(false)`: no such channel.
    fn set_platform_channel(
        &self,
        user: &StaffUser,
        id: &str,
        enabled: bool,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let now = micros(self.now());
        setup(self, |tx, head| {
            let n = tx.exec(
                "UPDATE channels SET enabled = ?1, changed_at = ?2, changed_by = ?3, reason = ?4 WHERE id = ?5",
                p![enabled, now, &user.username, reason, id],
            )?;
            if n == 0 {
                return Ok(false);
            }
            let action = if enabled { "enable" } else { "disable" };
            audit(
                tx,
                head,
                now,
                &actor(&user.username),
                [
                    &format!("channel.platform_{action}"),
                    &format!("channel:{id}"),
                    reason,
                    "ok",
                ],
            )?;
            Ok(true)
        })
    }

    /// Allows or withdraws a channel for one merchant (the acquirer's decision, beside the
    /// merchant's own enable/disable/remove, which it keeps), audited on `merchant:<id>` so
    /// the merchant's audit view shows it. The platform's channel row is locked first, as a
    /// merchant's change does, so the purchases in flight are ordered before it.
    /// `Ok(false)`: no such channel.
    fn set_merchant_channel_allowed(
        &self,
        user: &StaffUser,
        merchant: &MerchantId,
        id: &str,
        allowed: bool,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let now = micros(self.now());
        setup(self, |tx, head| {
            if !lock_platform_channel(tx, id)? {
                return Ok(false);
            }
            tx.exec(
                "INSERT INTO merchant_channels (merchant_id, channel_id, allowed, allowed_at, allowed_by, allowed_reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (merchant_id, channel_id) DO UPDATE SET allowed = excluded.allowed,
                   allowed_at = excluded.allowed_at, allowed_by = excluded.allowed_by,
                   allowed_reason = excluded.allowed_reason",
                p![merchant.as_str(), id, allowed, now, &user.username, reason],
            )?;
            let action = if allowed { "allow" } else { "withdraw" };
            audit(
                tx,
                head,
                now,
                &actor(&user.username),
                [
                    &format!("channel.merchant_{action}"),
                    &format!("merchant:{merchant}"),
                    reason,
                    &format!("channel:{id}"),
                ],
            )?;
            Ok(true)
        })
    }

    /// A merchant's live transactions through these methods whose batch is not settled yet.
    fn unsettled_count(&self, merchant: &MerchantId, methods: &[&str]) -> Result<u64, StoreError> {
        read(self, |c| unsettled_in(c, merchant, methods))
    }

    /// Enables, disables, removes or re-adds a channel for the user's merchant, audited with
    /// the reason, when `decide` (the core's `decide_channel_change`, given the merchant's
    /// unsettled count of `methods` and whether the merchant removed the channel) still allows
    /// it with both taken inside the same transaction, after the platform's channel row is
    /// locked: a sale booked since the caller's first check is counted, and none slips in
    /// before the change commits (on PostgreSQL the engine reads that row `FOR SHARE`). A
    /// removed channel is also disabled, so the engine refuses it with 12 like any disabled
    /// one; re-added, it stays disabled until enabled. Other merchants are not touched.
    /// `Ok(Err(refusal))` writes nothing; `Ok(Ok(false))`: no such channel.
    fn change_channel(
        &self,
        user: &StaffUser,
        id: &str,
        action: ChannelAction,
        reason: &str,
        methods: &[&str],
        decide: &dyn Fn(u64, bool) -> Result<(), BackOfficeRefused>,
    ) -> Result<Result<bool, BackOfficeRefused>, StoreError> {
        let now = micros(self.now());
        let merchant = user.merchant()?.clone();
        setup(self, |tx, head| {
            if !lock_platform_channel(tx, id)? {
                return Ok(Ok(false));
            }
            let removed = tx
                .row(
                    "SELECT removed FROM merchant_channels WHERE merchant_id = ?1 AND channel_id = ?2",
                    p![merchant.as_str(), id],
                    |r| r.flag(0),
                )?
                .unwrap_or(false);
            if let Err(r) = decide(unsettled_in(tx, &merchant, methods)?, removed) {
                return Ok(Err(r));
            }
            let (enabled, removed) = match action {
                ChannelAction::Enable => (true, false),
                ChannelAction::Disable | ChannelAction::Restore => (false, false),
                ChannelAction::Remove => (false, true),
            };
            tx.exec(
                "INSERT INTO merchant_channels (merchant_id, channel_id, enabled, removed, changed_at, changed_by, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (merchant_id, channel_id) DO UPDATE SET enabled = excluded.enabled,
                   removed = excluded.removed, changed_at = excluded.changed_at,
                   changed_by = excluded.changed_by, reason = excluded.reason",
                p![merchant.as_str(), id, enabled, removed, now, &user.username, reason],
            )?;
            audit(
                tx,
                head,
                now,
                &actor(&user.username),
                [
                    &format!("channel.{}", action.as_str()),
                    &format!("channel:{id}"),
                    reason,
                    "ok",
                ],
            )?;
            Ok(Ok(true))
        })
    }

    /// Enables or disables a channel ([`Backoffice::change_channel`] for a rule that looks
    /// only at the unsettled count).
    fn set_channel_enabled(
        &self,
        user: &StaffUser,
        id: &str,
        enabled: bool,
        reason: &str,
        methods: &[&str],
        decide: &dyn Fn(u64) -> Result<(), BackOfficeRefused>,
    ) -> Result<Result<bool, BackOfficeRefused>, StoreError> {
        let action = if enabled {
            ChannelAction::Enable
        } else {
            ChannelAction::Disable
        };
        self.change_channel(user, id, action, reason, methods, &|n, _| decide(n))
    }

    /// A merchant's users with their state, for the admins' user page.
    fn staff_listing(&self, merchant: &MerchantId) -> Result<Vec<StaffListing>, StoreError> {
        read(self, |c| {
            c.rows(
                &format!(
                    "SELECT {STAFF_COLUMNS}, disabled_at, totp_secret IS NOT NULL FROM staff WHERE merchant_id = ?1 ORDER BY id"
                ),
                p![merchant.as_str()],
                |r| {
                    Ok(StaffListing {
                        user: staff_from_row(r)?,
                        disabled: r.opt_i64(6)?.is_some(),
                        totp_enrolled: r.flag(7)?,
                    })
                },
            )
        })
    }

    /// Changes a user of `admin`'s merchant when `decide` (the core's `decide_user_change`,
    /// given the target's facts and the merchant's enabled admins, both read inside the
    /// transaction with those rows locked) allows it; audited as `staff.<change>` with the
    /// acting admin. A role change, a password reset, a TOTP reset and enabling again end the
    /// user's sessions (a new role or factor starts with a new login); while disabled, the
    /// sessions and tokens are refused at every request. `Ok(Ok(false))`: no
    /// such user; `Ok(Err(refusal))` writes nothing.
    fn change_staff(
        &self,
        admin: &StaffUser,
        target_id: i64,
        change: &StaffChange,
        decide: &dyn Fn(UserFacts, u64) -> Result<(), BackOfficeRefused>,
    ) -> Result<Result<bool, BackOfficeRefused>, StoreError> {
        let now = micros(self.now());
        let merchant = admin.merchant()?.as_str();
        setup(self, |tx, head| {
            let lock = tx.dialect().lock_rows();
            // The admins are locked first: two admins disabling each other at once on two
            // nodes are ordered, and the second sees one admin left.
            let admins = tx
                .rows(
                    &format!(
                        "SELECT id FROM staff WHERE merchant_id = ?1 AND role = 'admin' AND disabled_at IS NULL ORDER BY id{lock}"
                    ),
                    p![merchant],
                    |r| r.i64(0),
                )?
                .len();
            let Some((username, role, disabled)) = tx.row(
                &format!(
                    "SELECT username, role, disabled_at FROM staff WHERE id = ?1 AND merchant_id = ?2{lock}"
                ),
                p![target_id, merchant],
                |r| Ok((r.text(0)?, r.text(1)?, r.opt_i64(2)?.is_some())),
            )?
            else {
                return Ok(Ok(false));
            };
            let role = StaffRole::parse(&role)
                .ok_or_else(|| StoreError::Sqlite(format!("staff {target_id}: role {role}")))?;
            let facts = UserFacts {
                id: target_id,
                role,
                enabled: !disabled,
            };
            if let Err(r) = decide(facts, u64::try_from(admins).unwrap_or(u64::MAX)) {
                return Ok(Err(r));
            }
            let ends_sessions = apply_staff_change(tx, target_id, change, now, role)?;
            if ends_sessions {
                let why = format!("staff.{}", change.action());
                end_logins(tx, target_id, now, &why, None)?;
            }
            audit(
                tx,
                head,
                now,
                &actor(&admin.username),
                [
                    &format!("staff.{}", change.action()),
                    &format!("staff:{username}"),
                    &change.note(),
                    "ok",
                ],
            )?;
            Ok(Ok(true))
        })
    }

    /// A merchant's counter operators (no password hashes).
    fn operators(&self, merchant: &MerchantId) -> Result<Vec<OperatorRow>, StoreError> {
        read(self, |c| {
            c.rows(
                "SELECT operator_no, name, locked_until, changed_at FROM operators WHERE merchant_id = ?1 ORDER BY operator_no",
                p![merchant.as_str()],
                |r| {
                    Ok(OperatorRow {
                        operator_no: r.text(0)?,
                        name: r.text(1)?,
                        locked_until: r.opt_i64(2)?,
                        changed_at: r.i64(3)?,
                    })
                },
            )
        })
    }

    /// Looks an `Idempotency-Key` up and, when new, reserves it for this request. The
    /// reservation is one `INSERT … ON CONFLICT DO NOTHING` on the key's primary key: of two
    /// requests with the same key (on any nodes), exactly one reserves it. A key created
    /// before `expired_before` is forgotten first, so it counts as new.
    fn idem_begin(
        &self,
        staff_id: i64,
        key: &str,
        request_hash: &str,
        expired_before: Timestamp,
    ) -> Result<IdemStart, StoreError> {
        let now = micros(self.now());
        setup(self, |tx, _| {
            tx.exec(
                "DELETE FROM api_idempotency WHERE staff_id = ?1 AND key = ?2 AND created_at < ?3",
                p![staff_id, key, micros(expired_before)],
            )?;
            let reserved = tx.exec(
                "INSERT INTO api_idempotency (staff_id, key, request_hash, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (staff_id, key) DO NOTHING",
                p![staff_id, key, request_hash, now],
            )?;
            if reserved == 1 {
                return Ok(IdemStart::New);
            }
            let found = tx.one(
                "SELECT request_hash, status, body FROM api_idempotency WHERE staff_id = ?1 AND key = ?2",
                p![staff_id, key],
                |r| Ok((r.text(0)?, r.opt_i64(1)?, r.opt_text(2)?)),
            )?;
            Ok(match found {
                (hash, _, _) if hash != request_hash => IdemStart::Conflict,
                (_, Some(status), Some(body)) => {
                    let status = u16::try_from(status)
                        .map_err(|_| StoreError::Sqlite(format!("idempotency status {status}")))?;
                    IdemStart::Replay(status, body)
                }
                _ => IdemStart::InFlight,
            })
        })
    }

    /// Stores the response of a reserved key, for replays.
    fn idem_finish(
        &self,
        staff_id: i64,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), StoreError> {
        setup(self, |tx, _| {
            tx.exec(
                "UPDATE api_idempotency SET status = ?1, body = ?2 WHERE staff_id = ?3 AND key = ?4",
                p![i64::from(status), body, staff_id, key],
            )?;
            Ok(())
        })
    }

    /// Forgets every `Idempotency-Key` created before `expired_before` (the periodic sweep;
    /// [`Backoffice::idem_begin`] also forgets an expired key it meets). Returns how many.
    fn idem_sweep(&self, expired_before: Timestamp) -> Result<u64, StoreError> {
        setup(self, |tx, _| {
            tx.exec(
                "DELETE FROM api_idempotency WHERE created_at < ?1",
                p![micros(expired_before)],
            )
        })
    }

    /// Releases a reserved key whose request failed before anything was booked.
    fn idem_abort(&self, staff_id: i64, key: &str) -> Result<(), StoreError> {
        setup(self, |tx, _| {
            tx.exec(
                "DELETE FROM api_idempotency WHERE staff_id = ?1 AND key = ?2 AND status IS NULL",
                p![staff_id, key],
            )?;
            Ok(())
        })
    }
}

/// The entries of merchant `?1`'s audit view (its staff's actions, entries on its
/// transactions, cases, terminals, operators and itself), as a `WHERE` condition on `audit a`.
fn merchant_audit_filter(dialect: Dialect) -> String {
    // The numeric part of `txn:ID` / `case:ID`; PostgreSQL's CAST fails on text that is not a
    // number, so it is asked only of targets that are.
    let id_of = |prefix: &str| match dialect {
        Dialect::Sqlite => format!("CAST(substr(a.target, {}) AS INTEGER)", prefix.len() + 1),
        Dialect::Postgres => format!(
            "CASE WHEN a.target ~ '^{prefix}[0-9]{{1,18}}$' THEN CAST(substr(a.target, {}) AS BIGINT) END",
            prefix.len() + 1
        ),
    };
    format!(
        "(a.actor IN (SELECT 'web:' || s.username FROM staff s WHERE s.merchant_id = ?1)
           OR (a.target LIKE 'txn:%' AND EXISTS (SELECT 1 FROM txns t WHERE t.id = {txn} AND t.merchant_id = ?1))
           OR (a.target LIKE 'case:%' AND EXISTS (SELECT 1 FROM cases k WHERE k.id = {case} AND k.merchant_id = ?1))
           OR EXISTS (SELECT 1 FROM terminals t WHERE t.merchant_id = ?1
                      AND (a.target = 'terminal:' || t.id OR a.target LIKE 'terminal:' || t.id || '/%'
                           OR a.actor LIKE t.id || '/%'))
           OR a.target = 'merchant:' || ?1
           OR a.target LIKE 'operator:' || ?1 || '/%')",
        txn = id_of("txn:"),
        case = id_of("case:"),
    )
}

impl<S: Store + ?Sized> Backoffice for S {}

/// Writes one user change; true when the user's sessions must end.
fn apply_staff_change(
    tx: &dyn Sql,
    id: i64,
    change: &StaffChange,
    now: i64,
    role_before: StaffRole,
) -> Result<bool, StoreError> {
    Ok(match change {
        StaffChange::Edit {
            name,
            role,
            operator_no,
        } => {
            let op = operator_no.map(|o| o.to_string());
            tx.exec(
                "UPDATE staff SET name = ?1, role = ?2, operator_no = ?3 WHERE id = ?4",
                p![name.as_str(), role.as_str(), op.as_ref(), id],
            )?;
            *role != role_before
        }
        StaffChange::Disable => {
            // The sessions stay until the user is enabled again, so that a live session is
            // told "disabled" rather than "expired"; they open nothing meanwhile. The API
            // tokens are revoked for good: enabling the user again must not revive a token
            // an app (or whoever took it) still holds.
            tx.exec(
                "UPDATE staff SET disabled_at = ?1 WHERE id = ?2",
                p![now, id],
            )?;
            revoke_tokens(tx, id, now, "staff.disable")?;
            false
        }
        StaffChange::Enable => {
            // Enabled again, the user starts with a new login: no session from before the
            // disable comes back to life.
            tx.exec("UPDATE staff SET disabled_at = NULL WHERE id = ?1", p![id])?;
            true
        }
        StaffChange::Password { hash } => {
            // A new password also lifts a lockout: the admin has checked who asks.
            tx.exec(
                "UPDATE staff SET password_hash = ?1, failures = 0, locked_until = NULL WHERE id = ?2",
                p![hash.as_str(), id],
            )?;
            true
        }
        StaffChange::ResetTotp => {
            // totp_last_step stays: no code of the old secret's steps is ever replayed.
            tx.exec("UPDATE staff SET totp_secret = NULL WHERE id = ?1", p![id])?;
            true
        }
    })
}

/// Revokes every live API token of a user, noting why (an audit action such as
/// `staff.password_reset`).
fn revoke_tokens(tx: &dyn Sql, staff_id: i64, now: i64, why: &str) -> Result<u64, StoreError> {
    tx.exec(
        "UPDATE staff_tokens SET revoked_at = ?1, revoked_why = ?2 WHERE staff_id = ?3 AND revoked_at IS NULL",
        p![now, why, staff_id],
    )
}

/// Ends what a user's old credentials opened: every session but `keep` (the one that made
/// the change itself, if any) and every API token. Called when the password, the role or
/// the second factor changes, and when a disabled user is enabled again.
fn end_logins(
    tx: &dyn Sql,
    staff_id: i64,
    now: i64,
    why: &str,
    keep: Option<&str>,
) -> Result<(), StoreError> {
    tx.exec(
        "DELETE FROM staff_sessions WHERE staff_id = ?1 AND token_hash <> ?2",
        p![staff_id, keep.unwrap_or("")],
    )?;
    revoke_tokens(tx, staff_id, now, why)?;
    Ok(())
}

/// A merchant's live transactions through `methods` whose batch is not settled yet.
fn unsettled_in(c: &dyn Sql, merchant: &MerchantId, methods: &[&str]) -> Result<u64, StoreError> {
    if methods.is_empty() {
        return Ok(0);
    }
    let marks = (0..methods.len())
        .map(|i| format!("?{}", i + 2))
        .collect::<Vec<_>>()
        .join(", ");
    let mut args = vec![Value::Text(merchant.as_str())];
    args.extend(methods.iter().map(|m| Value::Text(m)));
    let n = c.one(
        &format!(
            "SELECT COUNT(*) FROM txns WHERE merchant_id = ?1 AND settled = 0 AND training = 0
             AND status != 'declined' AND method IN ({marks})"
        ),
        &args,
        |r| r.i64(0),
    )?;
    u64::try_from(n).map_err(|_| StoreError::Sqlite(format!("count {n}")))
}

/// The back-office schema version recorded in `meta`, `None` before the first migration.
fn backoffice_version<S: Store + ?Sized>(store: &S) -> Result<Option<i64>, StoreError> {
    let v = read(store, |c| {
        c.row(
            "SELECT value FROM meta WHERE key = 'backoffice_schema_version'",
            p![],
            |r| r.text(0),
        )
    })?;
    Ok(v.and_then(|v| v.parse::<i64>().ok()))
}

/// A request's move from one status to the next.
#[derive(Debug, Clone)]
pub struct Transition<'a> {
    /// The request as read.
    pub request: &'a ReviewRequest,
    /// Username of who acts (`system` for the executor).
    pub actor: &'a str,
    /// Audit action suffix: `approve`, `reject`, `cancel`, `undo`, `execute`, `fail`.
    pub action: &'a str,
    /// The status it must still have.
    pub expected: RequestStatus,
    /// The status it gets.
    pub next: RequestStatus,
    /// Set for a review: the reviewer's id (and `comment` is the review comment).
    pub reviewer: Option<i64>,
    /// Review comment or note.
    pub comment: &'a str,
    /// For an approval: when it runs.
    pub execute_after: Option<Timestamp>,
    /// For an execution: the booked void/refund.
    pub result_txn: Option<TxnId>,
    /// For a failed execution: the refusal key.
    pub result_key: &'a str,
}

impl<'a> Transition<'a> {
    /// A transition with nothing but the statuses set.
    pub fn new(
        request: &'a ReviewRequest,
        actor: &'a str,
        action: &'a str,
        expected: RequestStatus,
        next: RequestStatus,
    ) -> Transition<'a> {
        Transition {
            request,
            actor,
            action,
            expected,
            next,
            reviewer: None,
            comment: "",
            execute_after: None,
            result_txn: None,
            result_key: "",
        }
    }
}

/// One batch as the back-office lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BatchRow {
    /// 终端号.
    pub terminal_id: String,
    /// 批次号.
    pub batch_no: u32,
    /// Opened (Unix µs).
    pub opened_at: i64,
    /// Settled (Unix µs), `None` while open.
    pub settled_at: Option<i64>,
    /// Who settled (`system` for the cutoff job).
    pub settled_by: Option<String>,
    /// Debit total (fen), once settled.
    pub debit_fen: Option<i64>,
    /// Debit count.
    pub debit_count: Option<i64>,
    /// Credit total (fen).
    pub credit_fen: Option<i64>,
    /// Credit count.
    pub credit_count: Option<i64>,
    /// Reconciliation verdict.
    pub reconciliation: Option<String>,
}

/// A request as submitted.
#[derive(Debug, Clone)]
pub struct NewRequest {
    /// Void or refund.
    pub kind: RequestKind,
    /// The original.
    pub txn: TxnId,
    /// Amount asked.
    pub amount: Amount,
    /// Why.
    pub reason: String,
    /// For a void: the customer agreed.
    pub customer_consent: bool,
    /// `Pending`, or `Approved` when no second person is needed.
    pub status: RequestStatus,
}

/// A live session as the web layer sees it.
#[derive(Debug, Clone)]
pub struct LiveSession {
    /// Whose.
    pub user: StaffUser,
    /// Its CSRF token.
    pub csrf: String,
    /// An admin who still has to enrol TOTP: nothing but enrolment is open.
    pub mfa_pending: bool,
    /// The TOTP secret offered for enrolment, if any.
    pub totp_offered: Option<Zeroizing<String>>,
    /// The user was disabled: the session opens nothing.
    pub disabled: bool,
    /// When the session was last used (recorded at most once a minute).
    pub last_seen_at: Timestamp,
    /// The user has a TOTP secret (enrolment is then closed to them).
    pub totp_enrolled: bool,
}

/// An API token that was not revoked, as the web layer checks it.
#[derive(Debug, Clone)]
pub struct LiveToken {
    /// Token id.
    pub id: i64,
    /// Whose.
    pub user: StaffUser,
    /// The user was disabled.
    pub disabled: bool,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// Its last use, if any.
    pub last_used_at: Option<Timestamp>,
    /// The client address of its last use.
    pub last_used_from: Option<String>,
}

/// An API token as its owner lists it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    /// Token id.
    pub id: i64,
    /// What it is for.
    pub name: String,
    /// Made.
    pub created_at: Timestamp,
    /// Stops working.
    pub expires_at: Timestamp,
    /// Last used.
    pub last_used_at: Option<Timestamp>,
    /// From where it was last used.
    pub last_used_from: Option<String>,
    /// Revoked.
    pub revoked_at: Option<Timestamp>,
    /// Why it was revoked (an audit action: `token.revoke`, `staff.password_reset`…).
    pub revoked_why: Option<String>,
}

/// Locks the platform's row of channel `id` (the engine reads it `FOR SHARE`, so the
/// purchases in flight are ordered before a change); `false` when there is no such channel.
fn lock_platform_channel(tx: &dyn Sql, id: &str) -> Result<bool, StoreError> {
    let lock = tx.dialect().lock_rows();
    Ok(tx
        .row(
            &format!("SELECT id FROM channels WHERE id = ?1{lock}"),
            p![id],
            |r| r.text(0),
        )?
        .is_some())
}

/// The seeded order of the channels.
const CHANNEL_ORDER: &str = "ORDER BY CASE c.id WHEN 'unionpay' THEN 0 WHEN 'alipay' THEN 1 WHEN 'wechat' THEN 2 \
     WHEN 'lakala' THEN 3 ELSE 4 END, c.id";

fn channel_from_row(r: &dyn SqlRow) -> Result<ChannelRow, StoreError> {
    Ok(ChannelRow {
        id: r.text(0)?,
        enabled: r.flag(1)?,
        changed_at: r.opt_i64(2)?,
        changed_by: r.opt_text(3)?,
        reason: r.text(4)?,
        removed: r.flag(5)?,
        platform_enabled: r.flag(6)?,
        allowed: r.flag(7)?,
        allowed_reason: r.text(8)?,
    })
}

/// A payment channel's state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChannelRow {
    /// `unionpay`, `alipay`, `wechat`, `lakala`.
    pub id: String,
    /// Accepts new transactions.
    pub enabled: bool,
    /// Last change (Unix µs).
    pub changed_at: Option<i64>,
    /// By whom.
    pub changed_by: Option<String>,
    /// Why.
    pub reason: String,
    /// Removed (删除): listed as such, refuses new transactions, can be re-added.
    pub removed: bool,
    /// The platform's switch (the acquirer's; off during an outage).
    pub platform_enabled: bool,
    /// The acquirer lets this merchant use the channel (always true for the platform's rows).
    pub allowed: bool,
    /// Why the acquirer last allowed or withdrew it.
    pub allowed_reason: String,
}

/// A user as the admins' user page lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffListing {
    /// The user.
    pub user: StaffUser,
    /// Disabled: cannot log in.
    pub disabled: bool,
    /// Has a TOTP secret (admins must).
    pub totp_enrolled: bool,
}

/// A change an admin makes to a user (decided by `core::backoffice::decide_user_change`).
#[derive(Debug, Clone)]
pub enum StaffChange {
    /// New name, role and operator no.
    Edit {
        /// Display name.
        name: String,
        /// Role.
        role: StaffRole,
        /// Counter operator no.
        operator_no: Option<OperatorNo>,
    },
    /// Cannot log in any more.
    Disable,
    /// Can log in again.
    Enable,
    /// A new password (argon2id hash made by the caller).
    Password {
        /// PHC string.
        hash: String,
    },
    /// Forget the TOTP secret: enrol again at the next login.
    ResetTotp,
}

impl StaffChange {
    /// The audit action's suffix.
    pub fn action(&self) -> &'static str {
        match self {
            StaffChange::Edit { .. } => "edit",
            StaffChange::Disable => "disable",
            StaffChange::Enable => "enable",
            StaffChange::Password { .. } => "password_reset",
            StaffChange::ResetTotp => "totp_reset",
        }
    }
    /// What the audit entry notes (never a secret).
    fn note(&self) -> String {
        match self {
            StaffChange::Edit {
                name,
                role,
                operator_no,
            } => format!(
                "name={name} role={} operator_no={}",
                role.as_str(),
                operator_no.map(|o| o.to_string()).unwrap_or_default()
            ),
            _ => String::new(),
        }
    }
}

/// A counter operator as the back-office lists it (no secret).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OperatorRow {
    /// 00 supervisor, 01–98 cashiers, 99 admin.
    pub operator_no: String,
    /// Name.
    pub name: String,
    /// Locked out until (Unix µs), after wrong passwords.
    pub locked_until: Option<i64>,
    /// Last change (Unix µs).
    pub changed_at: i64,
}

/// The identity a user's TOTP secret is wrapped under.
fn totp_identity(staff_id: i64) -> String {
    format!("totp:staff:{staff_id}")
}

/// The identity of a TOTP secret offered to a session for enrolment.
fn offered_identity(token_hash: &str) -> String {
    format!("totp:session:{token_hash}")
}

fn unwrap_text(
    keys: &dyn crate::keys::KeyProvider,
    identity: &str,
    wrapped: &str,
) -> Result<Zeroizing<String>, StoreError> {
    let plain = keys.unwrap(identity, wrapped)?;
    String::from_utf8(plain.expose().to_vec())
        .map(Zeroizing::new)
        .map_err(|_| StoreError::Key(format!("{identity} is not text")))
}

/// Wraps the TOTP secrets an older store kept in clear (and drops clear offers, which a
/// new login makes again). Idempotent; returns how many it wrapped.
pub fn wrap_clear_totp<S: Store + ?Sized>(store: &S) -> Result<usize, StoreError> {
    let keys = store.keys().clone();
    setup(store, |tx, _| {
        let clear = tx.rows(
            "SELECT id, totp_secret FROM staff WHERE totp_secret IS NOT NULL",
            p![],
            |r| Ok((r.i64(0)?, Zeroizing::new(r.text(1)?))),
        )?;
        let mut n = 0;
        for (id, secret) in clear.iter().filter(|(_, s)| !crate::keys::is_wrapped(s)) {
            let wrapped = keys.wrap(&totp_identity(*id), secret.as_bytes())?;
            tx.exec(
                "UPDATE staff SET totp_secret = ?1 WHERE id = ?2",
                p![&wrapped, *id],
            )?;
            n += 1;
        }
        n += tx.exec(
            "UPDATE staff_sessions SET totp_pending_secret = NULL
             WHERE totp_pending_secret IS NOT NULL AND totp_pending_secret NOT LIKE 'w1:%'",
            p![],
        )? as usize;
        Ok(n)
    })
}
