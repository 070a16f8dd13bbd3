//! The test harness shared by the store's integration tests: a fresh store in a temporary
//! directory, seeded with the demo merchant, terminal, operators, cards and wallets, driven by
//! a fixed clock, with one method per command the counter sends.
//!
//! Operators are authenticated by the callers of the store (the host), so every origin here is
//! cashier 01, with supervisor 00 on the commands that need one.
#![allow(dead_code)]

use jiff::{SignedDuration, Timestamp};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use suanpan_core::clock::{Clock, FixedClock};
use suanpan_core::settlement::Totals;
use suanpan_core::{
    Amount, BatchNo, MerchantId, OperatorNo, Pan, PaymentMethod, Policy, Refusal, Transaction,
    TxnId, TxnKind, VoucherNo,
};
use suanpan_issuer::Account;
use suanpan_issuer::demo::{CARDS, WALLETS};
use suanpan_store::admin::{DEMO_MERCHANT, DEMO_TERMINAL};
use suanpan_store::audit::AuditEntry;
use suanpan_store::backup::PAN_KEY_FILE;
use suanpan_store::command::{
    Complete, Hide, Origin, OriginalRef, PreAuthVoid, Purchase, Refund, Reverse, Settle, Void,
};
use suanpan_store::query::Conservation;
use suanpan_store::sqlite::DB_FILE;
use suanpan_store::{
    Ask, AskExt, Booking, Counted, Fingerprinter, Instrument, OpenOptions, PgOptions, PgStore,
    PurchaseReply, ReversalReply, SettleReport, SqliteStore, Store, TxnFilter, TxnReply,
};

/// Which backend a test binary runs its suite on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded store, in a temporary directory.
    Sqlite,
    /// PostgreSQL at `SUANPAN_TEST_DATABASE_URL`, in a schema of its own per test.
    Postgres,
}

/// The variable that names the test database; PostgreSQL tests are skipped without it.
pub const TEST_DATABASE_ENV: &str = "SUANPAN_TEST_DATABASE_URL";

/// The PostgreSQL URL of the test run, if any.
pub fn test_database_url() -> Option<String> {
    std::env::var(TEST_DATABASE_ENV)
        .ok()
        .filter(|u| !u.is_empty())
}

/// Says once per test that it did not run, and why.
pub fn skipped() {
    eprintln!("skipped: {TEST_DATABASE_ENV} is not set (PostgreSQL tests need it)");
}

/// A schema name no other test (of this or a parallel run) uses.
pub fn fresh_schema() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("t_{}_{}_{}", std::process::id(), n, nanos)
}

/// The demo passwords' argon2id hashes, made once per test binary (hashing is slow in debug
/// builds and every PostgreSQL test seeds its own schema).
fn demo_hash(password: &str) -> String {
    static HASHES: OnceLock<std::collections::HashMap<&'static str, String>> = OnceLock::new();
    HASHES
        .get_or_init(|| {
            suanpan_store::admin::DEMO_OPERATORS
                .iter()
                .map(|(_, pw, _)| (*pw, suanpan_store::auth::hash_password(pw)))
                .collect()
        })
        .get(password)
        .cloned()
        .unwrap_or_else(|| suanpan_store::auth::hash_password(password))
}

/// Drops a test's PostgreSQL schema when the harness goes (after its store closed).
pub struct SchemaGuard {
    pub url: String,
    pub schema: String,
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        if let Err(e) = suanpan_store::pg::drop_schema(&self.url, &self.schema) {
            eprintln!("could not drop test schema {}: {e}", self.schema);
        }
    }
}

/// The fingerprint key of every test store (fixed, so fingerprints are stable across opens).
pub const PAN_KEY: [u8; 32] = [7; 32];

/// The moment every test starts: 2025-06-10 10:00 in Shanghai, a Tuesday morning, well before
/// the 23:00 cutoff and well after the expired demo card's 2401 expiry.
pub const START: &str = "2025-06-10T02:00:00Z";

/// The void reason used by the helpers.
pub const REASON: &str = "customer changed mind";

pub fn start() -> Timestamp {
    START.parse().expect("START parses")
}

pub fn fingerprinter() -> Fingerprinter {
    Fingerprinter::new(PAN_KEY)
}

pub fn merchant() -> MerchantId {
    MerchantId::parse(DEMO_MERCHANT).expect("demo merchant id")
}

pub fn terminal() -> suanpan_core::TerminalId {
    suanpan_core::TerminalId::parse(DEMO_TERMINAL).expect("demo terminal id")
}

pub fn op(no: &str) -> OperatorNo {
    OperatorNo::parse(no).expect("operator no.")
}

/// The demo card with this outcome (`approve`, `insufficient_funds`, `lost`…).
pub fn demo_card(outcome: &str) -> &'static suanpan_issuer::demo::DemoCard {
    CARDS
        .iter()
        .find(|c| c.outcome == outcome)
        .unwrap_or_else(|| panic!("no demo card {outcome}"))
}

/// The card instrument of a demo card, as the edge hands it to the store.
pub fn card(outcome: &str) -> Instrument {
    let c = demo_card(outcome);
    let pan = Pan::parse(c.pan).expect("demo PAN parses");
    Instrument::Card {
        masked_pan: pan.masked(),
        fingerprint: fingerprinter().of(&pan),
        expiry: Some(c.expiry.to_owned()),
    }
}

/// The issuer account id of a demo card (its fingerprint).
pub fn card_account(outcome: &str) -> String {
    let pan = Pan::parse(demo_card(outcome).pan).expect("demo PAN parses");
    fingerprinter().of(&pan)
}

/// A demo wallet instrument and its method (index into `WALLETS`).
pub fn wallet(i: usize) -> (Instrument, PaymentMethod) {
    let w = &WALLETS[i];
    (
        Instrument::Wallet {
            id: w.id.to_owned(),
        },
        w.method,
    )
}

/// Every demo account id (cards then wallets).
pub fn all_account_ids() -> Vec<String> {
    let mut ids: Vec<String> = CARDS.iter().map(|c| card_account(c.outcome)).collect();
    ids.extend(WALLETS.iter().map(|w| w.id.to_owned()));
    ids
}

/// Cashier 01 at the demo terminal, host-assigned voucher, current batch.
pub fn cashier() -> Origin {
    Origin {
        terminal_id: terminal(),
        operator: op("01"),
        supervisor: None,
        voucher: None,
        batch: None,
        training: false,
        idempotency: None,
        terminal_info: None,
    }
}

/// Cashier 01 with supervisor 00's authorization.
pub fn supervised() -> Origin {
    Origin {
        supervisor: Some(OperatorNo::SUPERVISOR),
        ..cashier()
    }
}

pub fn options(mut policy: Policy, clock: Arc<FixedClock>) -> OpenOptions {
    // The ledger's suites repeat identical sales and PIN declines on purpose; the risk rules
    // (issue 13) have their own tests (core::risk, crates/host/tests/risk.rs).
    policy.risk = suanpan_core::risk::RiskParams::off();
    OpenOptions {
        policy,
        clock,
        apply: Arc::new(suanpan_service::UseCases::inline()),
        db_pages_max: None,
        // One fixed KEK for every test store, so that a child process (crash tests) opens
        // what its parent created.
        keys: Arc::new(suanpan_store::keys::MemoryKek::new([0x4B; 32])),
        anchor: None,
        ..OpenOptions::default()
    }
}

/// A seeded store created once per test binary; harnesses copy its file instead of seeding
/// (seeding hashes three passwords with argon2id, which is slow in debug builds).
fn template() -> &'static Path {
    static TEMPLATE: OnceLock<tempfile::TempDir> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("temp dir");
            let clock = Arc::new(FixedClock::new(start()));
            let store = SqliteStore::create(dir.path(), options(Policy::default(), clock))
                .expect("create store");
            store.seed_demo(&fingerprinter()).expect("seed demo");
            drop(store); // The last connection checkpoints the WAL into the file.
            dir
        })
        .path()
}

/// Puts a seeded store (and its PAN key) into `dir`, which must not hold one.
pub fn install_seeded(dir: &Path) {
    std::fs::create_dir_all(dir).expect("data dir");
    assert!(
        !dir.join(DB_FILE).exists(),
        "a store already exists in {}",
        dir.display()
    );
    for side in ["", "-wal"] {
        let src = template().join(format!("{DB_FILE}{side}"));
        if src.exists() {
            std::fs::copy(&src, dir.join(format!("{DB_FILE}{side}"))).expect("copy template");
        }
    }
    std::fs::write(dir.join(PAN_KEY_FILE), hex::encode(PAN_KEY)).expect("pan.key");
}

/// What a refusal check compares: everything but the audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub txns: Vec<Transaction>,
    pub accounts: Vec<Account>,
    pub conservation: Conservation,
    pub audit_seq: i64,
}

/// A store under test. Field order matters: the store closes before its directory or schema
/// goes.
pub struct Harness {
    pub store: Box<dyn Store>,
    pub clock: Arc<FixedClock>,
    pub fp: Fingerprinter,
    pub dir: PathBuf,
    pub backend: Backend,
    /// PostgreSQL: where the store lives (for a second node on the same schema).
    pub pg: Option<PgOptions>,
    _tmp: Option<tempfile::TempDir>,
    _schema: Option<SchemaGuard>,
}

impl Harness {
    /// A fresh seeded store with the default policy.
    pub fn new() -> Harness {
        Harness::with_policy(Policy::default())
    }

    /// A fresh seeded store on `backend`; `None` when that backend is not available
    /// (PostgreSQL without [`TEST_DATABASE_ENV`]).
    pub fn on(backend: Backend) -> Option<Harness> {
        Harness::with_policy_on(backend, Policy::default())
    }

    /// [`Harness::on`] with `policy`.
    pub fn with_policy_on(backend: Backend, policy: Policy) -> Option<Harness> {
        match backend {
            Backend::Sqlite => Some(Harness::with_policy(policy)),
            Backend::Postgres => Harness::postgres(policy),
        }
    }

    /// [`Harness::seeded_from_scratch`] on `backend`.
    pub fn seeded_from_scratch_on(backend: Backend) -> Option<Harness> {
        match backend {
            Backend::Sqlite => Some(Harness::seeded_from_scratch()),
            // Every PostgreSQL harness is seeded through the real path.
            Backend::Postgres => Harness::postgres(Policy::default()),
        }
    }

    /// A PostgreSQL store in a fresh schema, seeded through `create` + `seed_demo_with`.
    fn postgres(policy: Policy) -> Option<Harness> {
        let url = test_database_url()?;
        let schema = fresh_schema();
        let guard = SchemaGuard {
            url: url.clone(),
            schema: schema.clone(),
        };
        let pg = PgOptions {
            url,
            schema: Some(schema),
        };
        let clock = Arc::new(FixedClock::new(start()));
        let store = PgStore::create(pg.clone(), options(policy, clock.clone()))
            .expect("create PostgreSQL store");
        suanpan_store::admin::seed_demo_with(&store, &fingerprinter(), &demo_hash)
            .expect("seed demo");
        Some(Harness {
            store: Box::new(store),
            clock,
            fp: fingerprinter(),
            dir: PathBuf::new(),
            backend: Backend::Postgres,
            pg: Some(pg),
            _tmp: None,
            _schema: Some(guard),
        })
    }

    /// A fresh seeded store with `policy`.
    pub fn with_policy(policy: Policy) -> Harness {
        let tmp = tempfile::tempdir().expect("temp dir");
        install_seeded(tmp.path());
        let mut h = Harness::open_in(tmp.path(), policy);
        h._tmp = Some(tmp);
        h
    }

    /// A seeded store created through the real `create` + `seed_demo` path (not the template).
    pub fn seeded_from_scratch() -> Harness {
        let tmp = tempfile::tempdir().expect("temp dir");
        let clock = Arc::new(FixedClock::new(start()));
        let store = SqliteStore::create(tmp.path(), options(Policy::default(), clock.clone()))
            .expect("create store");
        store.seed_demo(&fingerprinter()).expect("seed demo");
        std::fs::write(tmp.path().join(PAN_KEY_FILE), hex::encode(PAN_KEY)).expect("pan.key");
        Harness {
            store: Box::new(store),
            clock,
            fp: fingerprinter(),
            dir: tmp.path().to_owned(),
            backend: Backend::Sqlite,
            pg: None,
            _tmp: Some(tmp),
            _schema: None,
        }
    }

    /// Opens the store already in `dir` (the caller owns the directory).
    pub fn open_in(dir: &Path, policy: Policy) -> Harness {
        let clock = Arc::new(FixedClock::new(start()));
        let store = SqliteStore::open(dir, options(policy, clock.clone())).expect("open store");
        Harness {
            store: Box::new(store),
            clock,
            fp: fingerprinter(),
            dir: dir.to_owned(),
            backend: Backend::Sqlite,
            pg: None,
            _tmp: None,
            _schema: None,
        }
    }

    /// [`Harness::open_in`] with `policy`'s risk rules as given (every other harness turns
    /// them off): a second store on the same file, as `serve` with a new `[risk]` opens it.
    pub fn open_in_with_risk(dir: &Path, policy: Policy) -> Harness {
        let clock = Arc::new(FixedClock::new(start()));
        let risk = policy.risk.clone();
        let mut opts = options(policy, clock.clone());
        opts.policy.risk = risk;
        let store = SqliteStore::open(dir, opts).expect("open store");
        Harness {
            store: Box::new(store),
            clock,
            fp: fingerprinter(),
            dir: dir.to_owned(),
            backend: Backend::Sqlite,
            pg: None,
            _tmp: None,
            _schema: None,
        }
    }

    /// The PostgreSQL store in `pg` (made by the test), dropped with the harness.
    pub fn open_pg(pg: PgOptions, guard: SchemaGuard, policy: Policy) -> Harness {
        let clock = Arc::new(FixedClock::new(start()));
        let store =
            PgStore::open(pg.clone(), options(policy, clock.clone())).expect("open PostgreSQL");
        Harness {
            store: Box::new(store),
            clock,
            fp: fingerprinter(),
            dir: PathBuf::new(),
            backend: Backend::Postgres,
            pg: Some(pg),
            _tmp: None,
            _schema: Some(guard),
        }
    }

    /// A second, independent store on the same data (as another process, or another node,
    /// would open it).
    pub fn open_another(&self) -> Box<dyn Store> {
        self.open_another_with(|_| {})
    }

    /// [`Harness::open_another`] with its options changed by `edit` (e.g. more writers).
    pub fn open_another_with(&self, edit: impl FnOnce(&mut OpenOptions)) -> Box<dyn Store> {
        let mut opts = options(self.store.policy().clone(), self.clock.clone());
        edit(&mut opts);
        match &self.pg {
            Some(pg) => Box::new(PgStore::open(pg.clone(), opts).expect("open second node")),
            None => Box::new(SqliteStore::open(&self.dir, opts).expect("open second store")),
        }
    }

    // --- clock ---------------------------------------------------------------------------

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn set_time(&self, at: &str) {
        self.clock.set(at.parse().expect("timestamp parses"));
    }

    pub fn advance_minutes(&self, minutes: i64) {
        let next = self
            .now()
            .checked_add(SignedDuration::from_mins(minutes))
            .expect("clock in range");
        self.clock.set(next);
    }

    pub fn advance_days(&self, days: i64) {
        self.advance_minutes(days * 24 * 60);
    }

    // --- commands ------------------------------------------------------------------------

    /// Runs a command; a storage failure fails the test (refusals are answers, not failures).
    pub fn exec<A: Ask>(&self, cmd: A) -> A::Reply {
        self.store
            .ask(cmd)
            .unwrap_or_else(|e| panic!("store failed: {e}"))
    }

    /// A card purchase of any kind with full control over the origin and PIN.
    pub fn purchase(
        &self,
        origin: Origin,
        kind: TxnKind,
        fen: i64,
        instrument: Instrument,
        method: PaymentMethod,
        pin: Option<&str>,
    ) -> PurchaseReply {
        self.exec(Purchase {
            origin,
            kind,
            amount: Amount::from_fen(fen),
            instrument,
            method,
            pin: pin.map(suanpan_issuer::EnteredPin::clear),
            linked_id: None,
            confirm_duplicate: false,
        })
    }

    /// A chip sale with a demo card, its PIN entered when it has one.
    pub fn sale(&self, fen: i64, outcome: &str) -> PurchaseReply {
        let pin = demo_card(outcome).pin;
        self.purchase(
            cashier(),
            TxnKind::Sale,
            fen,
            card(outcome),
            PaymentMethod::Chip,
            pin,
        )
    }

    /// A QR sale with demo wallet `i`.
    pub fn wallet_sale(&self, fen: i64, i: usize) -> PurchaseReply {
        let (w, method) = wallet(i);
        self.purchase(cashier(), TxnKind::Sale, fen, w, method, None)
    }

    /// A pre-authorization with a demo card.
    pub fn preauth(&self, fen: i64, outcome: &str) -> PurchaseReply {
        let pin = demo_card(outcome).pin;
        self.purchase(
            cashier(),
            TxnKind::PreAuth,
            fen,
            card(outcome),
            PaymentMethod::Chip,
            pin,
        )
    }

    /// A sale void by voucher no., authorized by the supervisor, with reason and consent.
    pub fn void(&self, voucher: VoucherNo) -> TxnReply {
        self.void_as(supervised(), TxnKind::Void, OriginalRef::Voucher(voucher))
    }

    /// A void (or completion void) from `origin`.
    pub fn void_as(&self, origin: Origin, kind: TxnKind, original: OriginalRef) -> TxnReply {
        self.exec(Void {
            origin,
            kind,
            original,
            amount: None,
            reason: REASON.to_owned(),
            customer_consent: true,
            card_fingerprint: None,
        })
    }

    /// A completion void by voucher no.
    pub fn complete_void(&self, voucher: VoucherNo) -> TxnReply {
        self.void_as(
            supervised(),
            TxnKind::CompletionVoid,
            OriginalRef::Voucher(voucher),
        )
    }

    /// A refund by reference no., authorized by the supervisor.
    pub fn refund(&self, rrn: &str, fen: i64) -> TxnReply {
        self.exec(Refund {
            origin: supervised(),
            original: OriginalRef::Rrn(rrn.to_owned()),
            amount: Amount::from_fen(fen),
            reason: "goods returned".to_owned(),
        })
    }

    /// A completion of the pre-authorization with this reference no.
    pub fn complete(&self, rrn: &str, fen: i64) -> TxnReply {
        self.exec(Complete {
            origin: cashier(),
            original: OriginalRef::Rrn(rrn.to_owned()),
            amount: Amount::from_fen(fen),
        })
    }

    /// A pre-auth void of the pre-authorization with this reference no.
    pub fn preauth_void(&self, rrn: &str) -> TxnReply {
        self.exec(PreAuthVoid {
            origin: supervised(),
            original: OriginalRef::Rrn(rrn.to_owned()),
            amount: None,
            reason: "guest checked out".to_owned(),
        })
    }

    /// A reversal (reason 98: no response) of the transaction with this voucher no.
    pub fn reverse(&self, voucher: VoucherNo) -> ReversalReply {
        self.exec(Reverse {
            origin: cashier(),
            voucher,
            amount: None,
            reason: "98".to_owned(),
        })
    }

    /// Settles the demo terminal's open batch, reconciling against `totals` if given.
    pub fn settle(&self, totals: Option<Totals>) -> SettleReport {
        self.exec(Settle {
            terminal_id: terminal(),
            actor: "12345678/01".to_owned(),
            terminal_totals: totals,
        })
    }

    /// Hides a record as `actor`.
    pub fn hide(&self, actor: OperatorNo, id: TxnId) -> Counted {
        self.exec(Hide {
            merchant_id: merchant(),
            actor,
            id,
            reason: "entered twice".to_owned(),
        })
    }

    // --- reads ---------------------------------------------------------------------------

    /// Every transaction, hidden ones included, newest first (paged: one listing returns at
    /// most `LIST_ROWS_MAX` rows).
    pub fn all_txns(&self) -> Vec<Transaction> {
        let mut out = Vec::new();
        loop {
            let filter = TxnFilter {
                include_hidden: true,
                offset: out.len() as u32,
                ..TxnFilter::default()
            };
            let page = self.store.transactions(&filter).expect("list");
            if page.is_empty() {
                return out;
            }
            out.extend(page);
        }
    }

    pub fn txn(&self, id: TxnId) -> Transaction {
        self.store
            .transaction(id)
            .expect("read")
            .unwrap_or_else(|| panic!("txn {id} missing"))
    }

    pub fn account(&self, id: &str) -> Account {
        self.store
            .account(id)
            .expect("read")
            .unwrap_or_else(|| panic!("account {id} missing"))
    }

    pub fn balance(&self, outcome: &str) -> i64 {
        self.account(&card_account(outcome)).balance_fen
    }

    pub fn held(&self, outcome: &str) -> i64 {
        self.account(&card_account(outcome)).held_fen
    }

    pub fn open_batch(&self) -> BatchNo {
        self.store
            .terminal(&terminal())
            .expect("read")
            .expect("terminal known")
            .batch_no
    }

    /// The newest audit entry.
    pub fn last_audit(&self) -> AuditEntry {
        self.store
            .audit_entries(1, 0)
            .expect("audit")
            .into_iter()
            .next()
            .expect("an audit entry")
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            txns: self.all_txns(),
            accounts: all_account_ids()
                .iter()
                .map(|id| self.account(id))
                .collect(),
            conservation: self.store.conservation().expect("conservation"),
            audit_seq: self
                .store
                .audit_entries(1, 0)
                .expect("audit")
                .first()
                .map(|e| e.seq)
                .unwrap_or(0),
        }
    }

    /// Asserts `reply` is a refusal with `key`, that nothing but the audit trail changed since
    /// `before`, and that exactly one `*.refused` entry with outcome `refused:<key>` was added.
    pub fn assert_refused(
        &self,
        before: &Snapshot,
        reply: impl Outcome,
        key: &str,
    ) -> Box<dyn Refusal + Send> {
        let r = reply
            .refused()
            .unwrap_or_else(|other| panic!("expected refusal {key}, got {other:?}"));
        assert_eq!(r.key(), key, "refusal key");
        let after = self.snapshot();
        assert_eq!(after.txns, before.txns, "a refusal changed the journal");
        assert_eq!(
            after.accounts, before.accounts,
            "a refusal changed an issuer account"
        );
        assert_eq!(
            after.conservation, before.conservation,
            "a refusal moved money"
        );
        assert_eq!(
            after.audit_seq,
            before.audit_seq + 1,
            "a refusal writes exactly one audit entry"
        );
        let e = self.last_audit();
        assert!(
            e.action.ends_with(".refused"),
            "audit action {:?} is not *.refused",
            e.action
        );
        assert_eq!(e.outcome, format!("refused:{key}"));
        r
    }

    /// The invariants every test ends with: the audit chain verifies and no fen vanished.
    pub fn check_invariants(&self) {
        let v = self.store.verify_audit().expect("verify audit");
        assert_eq!(v.first_broken, None, "audit chain broken: {:?}", v.problem);
        let c = self.store.conservation().expect("conservation");
        assert!(c.holds(), "money not conserved: {c:?}");
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        // After every test, unless it already failed (a second panic would abort).
        if !std::thread::panicking() {
            self.check_invariants();
        }
    }
}

/// The booked transaction of an answer; anything else fails the test.
pub fn txn(reply: impl Booking) -> Transaction {
    reply
        .booked()
        .unwrap_or_else(|other| panic!("expected a booked transaction, got {other:?}"))
}

/// A reply that may be a refusal.
pub trait Outcome: std::fmt::Debug + Sized {
    /// The refusal, or the reply itself.
    fn refused(self) -> Result<Box<dyn Refusal + Send>, Self>;
}

macro_rules! outcome {
    ($($ty:ident),*) => {$(
        impl Outcome for $ty {
            fn refused(self) -> Result<Box<dyn Refusal + Send>, Self> {
                match self {
                    $ty::Refused(r) => Ok(r),
                    other => Err(other),
                }
            }
        }
    )*};
}

outcome!(PurchaseReply, TxnReply, ReversalReply, Counted);

/// The refusal key of a reply; anything else fails the test.
pub fn refusal_key(reply: impl Outcome) -> &'static str {
    reply
        .refused()
        .unwrap_or_else(|other| panic!("expected a refusal, got {other:?}"))
        .key()
}

/// An approved booked transaction.
pub fn approved(reply: impl Booking) -> Transaction {
    let t = txn(reply);
    assert!(
        t.response_code.is_approved(),
        "expected approval, got {:?} ({})",
        t.status,
        t.response_code.code()
    );
    t
}

/// The reference no. of a transaction.
pub fn rrn(t: &Transaction) -> String {
    t.rrn.as_ref().expect("an RRN").as_str().to_owned()
}

/// Host totals as a terminal would send them.
pub fn totals(debit_fen: i64, debit_count: u32, credit_fen: i64, credit_count: u32) -> Totals {
    Totals {
        debit_fen,
        debit_count,
        credit_fen,
        credit_count,
    }
}

/// Runs `f` while another setup transaction of `store` holds the write lock, and says
/// whether `f` had to wait for it: the holder lets go as soon as `f` returns, or after
/// `HOLD_SECONDS_MAX` (then `f` waited, since SQLite's busy handler waits up to 30 s).
pub fn while_write_locked<T: Send>(store: &dyn Store, f: impl FnOnce() -> T) -> (T, bool) {
    const HOLD_SECONDS_MAX: u64 = 10;
    let (done, answered) = std::sync::mpsc::channel::<()>();
    let (locked, lock_held) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        let holder = s.spawn(move || {
            let mut waited_out = false;
            store
                .with_setup(&mut |_, _| {
                    let _ = locked.send(());
                    let wait = std::time::Duration::from_secs(HOLD_SECONDS_MAX);
                    waited_out = answered.recv_timeout(wait).is_err();
                    Ok(())
                })
                .expect("setup");
            waited_out
        });
        lock_held.recv().expect("the write lock is held");
        let out = f();
        let _ = done.send(());
        (out, holder.join().expect("holder"))
    })
}
