//! Setup work off the counter's path: merchants, terminals, operators, issuer accounts, and
//! the demo seed. Each runs in one write transaction with its audit entry.

use crate::audit::ChainHead;
use crate::command::{Instrument, Origin, OriginalRef, Purchase, Refund, Settle, Void};
use crate::error::StoreError;
use crate::fingerprint::Fingerprinter;
use crate::p;
use crate::query::insert_account;
use crate::reply::{AskExt, Booking};
use crate::repo::terminals::open_batch;
use crate::rows::micros;
use crate::sql::{Sql, SqlExt};
use crate::sqlite::SqliteStore;
use crate::{Store, setup};
use suanpan_core::{
    Amount, BatchNo, MerchantId, OperatorNo, Pan, PaymentMethod, TerminalId, TxnId, TxnKind,
    TxnStatus,
};

/// The demo merchant id.
pub const DEMO_MERCHANT: &str = "898310048990001";
/// The demo merchant's name.
pub const DEMO_MERCHANT_NAME: &str = "演示商户 Demo Store";
/// The demo terminal id.
pub const DEMO_TERMINAL: &str = "12345678";
/// The second demo terminal, a counter whose day `serve --demo` books for the back-office
/// ([`seed_demo_day`]); the counter emulator uses [`DEMO_TERMINAL`], whose batch stays empty.
pub const DEMO_DAY_TERMINAL: &str = "12345679";
/// The demo terminal master key (hex, 16 bytes): a documented test key, never for production.
pub const DEMO_TMK_HEX: &str = "0123456789ABCDEFFEDCBA9876543210";
/// The demo's second merchant (issue 14): its own terminal, operators, users and sales, so
/// that the separation of merchants is visible ([`seed_demo_merchant_b`]).
pub const DEMO_B_MERCHANT: &str = "898310048990002";
/// The second merchant's name.
pub const DEMO_B_MERCHANT_NAME: &str = "演示商户B Demo merchant B";
/// The second merchant's terminal.
pub const DEMO_B_TERMINAL: &str = "23456789";
/// Demo operators and their passwords: the customary factory defaults of UnionPay terminals.
pub const DEMO_OPERATORS: &[(&str, &str, &str)] = &[
    ("99", "12345678", "系统管理员 Admin"),
    ("00", "123456", "主管 Supervisor"),
    ("01", "0000", "收银员 Cashier 01"),
];

fn audit(
    tx: &dyn Sql,
    head: &mut ChainHead,
    now: i64,
    action: &str,
    target: &str,
) -> Result<(), StoreError> {
    head.append(tx, now, ["admin", action, target, "", "ok"])?;
    Ok(())
}

/// Registers a merchant, on either backend.
pub fn add_merchant<S: Store + ?Sized>(
    store: &S,
    id: &MerchantId,
    name: &str,
) -> Result<(), StoreError> {
    let now = micros(store.now());
    setup(store, |tx, head| {
        tx.exec(
            "INSERT INTO merchants (id, name, created_at) VALUES (?1, ?2, ?3)",
            p![id.as_str(), name, now],
        )?;
        audit(tx, head, now, "merchant.add", &format!("merchant:{id}"))
    })
}

/// Registers a terminal of a merchant and opens its first batch, on either backend.
pub fn add_terminal<S: Store + ?Sized>(
    store: &S,
    id: &TerminalId,
    merchant: &MerchantId,
    tmk_hex: Option<&str>,
) -> Result<(), StoreError> {
    let now = store.now();
    let wrapped = tmk_hex
        .map(|k| crate::terminal_keys::wrap_tmk(&**store.keys(), id, k))
        .transpose()?;
    setup(store, |tx, head| {
        tx.exec(
            "INSERT INTO terminals (id, merchant_id, tmk_hex, created_at) VALUES (?1, ?2, ?3, ?4)",
            p![
                id.as_str(),
                merchant.as_str(),
                wrapped.as_deref(),
                micros(now)
            ],
        )?;
        open_batch(tx, id, BatchNo::FIRST, now)?;
        audit(
            tx,
            head,
            micros(now),
            "terminal.add",
            &format!("terminal:{id}"),
        )
    })
}

/// Enables or disables a terminal, on either backend.
pub fn set_terminal_enabled<S: Store + ?Sized>(
    store: &S,
    id: &TerminalId,
    enabled: bool,
) -> Result<bool, StoreError> {
    let now = micros(store.now());
    setup(store, |tx, head| {
        let n = tx.exec(
            "UPDATE terminals SET enabled = ?1 WHERE id = ?2",
            p![enabled, id.as_str()],
        )?;
        let action = if enabled {
            "terminal.enable"
        } else {
            "terminal.disable"
        };
        if n > 0 {
            audit(tx, head, now, action, &format!("terminal:{id}"))?;
        }
        Ok(n > 0)
    })
}

/// Creates an operator with a password hash made by `hash_password` (argon2id in
/// production; tests pass a memoized one), on either backend.
pub fn add_operator_hashed<S: Store + ?Sized>(
    store: &S,
    merchant: &MerchantId,
    op: OperatorNo,
    name: &str,
    hash: &str,
) -> Result<(), StoreError> {
    let now = micros(store.now());
    setup(store, |tx, head| {
        tx.exec(
            "INSERT INTO operators (merchant_id, operator_no, name, password_hash, changed_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            p![merchant.as_str(), &op.to_string(), name, hash, now],
        )?;
        audit(
            tx,
            head,
            now,
            "operator.add",
            &format!("operator:{merchant}/{op}"),
        )
    })
}

/// Seeds the demo merchant, terminal, operators, cards and wallets, on either backend;
/// `hash_password` turns each demo password into its stored hash.
pub fn seed_demo_with<S: Store + ?Sized>(
    store: &S,
    fp: &Fingerprinter,
    hash_password: &dyn Fn(&str) -> String,
) -> Result<(), StoreError> {
    let merchant =
        MerchantId::parse(DEMO_MERCHANT).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let terminal =
        TerminalId::parse(DEMO_TERMINAL).map_err(|e| StoreError::Invalid(e.to_string()))?;
    add_merchant(store, &merchant, DEMO_MERCHANT_NAME)?;
    add_terminal(store, &terminal, &merchant, Some(DEMO_TMK_HEX))?;
    for (no, password, name) in DEMO_OPERATORS {
        let op = OperatorNo::parse(no).map_err(|e| StoreError::Invalid(e.to_string()))?;
        add_operator_hashed(store, &merchant, op, name, &hash_password(password))?;
    }
    let accounts = suanpan_issuer::demo::accounts(&|pan| fp.of(pan));
    let now = micros(store.now());
    setup(store, |tx, head| {
        for a in &accounts {
            insert_account(tx, a)?;
        }
        audit(
            tx,
            head,
            now,
            "issuer.seed",
            &format!("accounts:{}", accounts.len()),
        )
    })
}

/// Books a small demo day through the engine (the same rules as the counter), so that a new
/// back-office has records to find, review, refund and open a case on: a first batch with two
/// sales, settled, then a refund on it; an open batch with a card sale, a wallet sale, a sale
/// voided by mistake and charged again (the re-charge linked to it, as a terminal's field 61
/// does), and a credit-card sale. They are booked on a terminal of their own,
/// [`DEMO_DAY_TERMINAL`] (registered here), so the demo counter's batch stays empty. Returns
/// the ids booked, in order. Used by `serve --demo` when it creates the store; a refusal here
/// is a bug in the seed and fails it.
pub fn seed_demo_day<S: Store + ?Sized>(
    store: &S,
    fp: &Fingerprinter,
) -> Result<Vec<TxnId>, StoreError> {
    let invalid = |e: &dyn std::fmt::Display| StoreError::Invalid(e.to_string());
    let merchant = MerchantId::parse(DEMO_MERCHANT).map_err(|e| invalid(&e))?;
    let terminal = TerminalId::parse(DEMO_DAY_TERMINAL).map_err(|e| invalid(&e))?;
    add_terminal(store, &terminal, &merchant, Some(DEMO_TMK_HEX))?;
    let cashier = OperatorNo::parse("01").map_err(|e| invalid(&e))?;
    let origin = |supervised: bool| Origin {
        terminal_id: terminal.clone(),
        operator: cashier,
        supervisor: supervised.then_some(OperatorNo::SUPERVISOR),
        voucher: None,
        batch: None,
        training: false,
        idempotency: None,
        terminal_info: None,
    };
    let card = |pan: &str, expiry: &str| -> Result<Instrument, StoreError> {
        let pan = Pan::parse(pan).map_err(|e| invalid(&e))?;
        Ok(Instrument::Card {
            masked_pan: pan.masked(),
            fingerprint: fp.of(&pan),
            expiry: Some(expiry.to_owned()),
        })
    };
    let wallet = |id: &str| Instrument::Wallet { id: id.to_owned() };
    let sale = |fen: i64, instrument: Instrument, method: PaymentMethod, linked: Option<TxnId>| {
        store
            .ask(Purchase {
                origin: origin(false),
                kind: TxnKind::Sale,
                amount: Amount::from_fen(fen),
                instrument,
                method,
                pin: None,
                linked_id: linked,
                confirm_duplicate: false,
            })
            .and_then(|r| approved("demo day", r))
    };
    let mut ids = Vec::new();
    // Batch 1: two sales, settled (a void is over for them; a refund is not).
    let first = sale(
        12_800,
        card("6222021234567890128", "3012")?,
        PaymentMethod::Chip,
        None,
    )?;
    ids.push(first);
    ids.push(sale(
        4_550,
        wallet("alipay-demo-001"),
        PaymentMethod::QrAlipay,
        None,
    )?);
    // Settlement is not refused: it answers its report.
    store.ask(Settle {
        terminal_id: terminal.clone(),
        actor: "demo".into(),
        terminal_totals: None,
    })?;
    ids.push(
        store
            .ask(Refund {
                origin: origin(true),
                original: OriginalRef::Id(first),
                amount: Amount::from_fen(2_800),
                reason: "顾客退回一件商品 one item returned".into(),
            })
            .and_then(|r| approved("demo day", r))?,
    );
    // Batch 2, open: today's sales, one of them voided by mistake and charged again.
    ids.push(sale(
        8_800,
        card("6222021234567890128", "3012")?,
        PaymentMethod::Chip,
        None,
    )?);
    let mistaken = sale(
        5_800,
        card("6222021234567890128", "3012")?,
        PaymentMethod::Contactless,
        None,
    )?;
    ids.push(mistaken);
    ids.push(
        store
            .ask(Void {
                origin: origin(true),
                kind: TxnKind::Void,
                original: OriginalRef::Id(mistaken),
                amount: Some(Amount::from_fen(5_800)),
                reason: "收银员误撤销 voided by mistake".into(),
                customer_consent: true,
                card_fingerprint: None,
            })
            .and_then(|r| approved("demo day", r))?,
    );
    ids.push(sale(
        5_800,
        card("6222021234567890128", "3012")?,
        PaymentMethod::Contactless,
        Some(mistaken),
    )?);
    ids.push(sale(
        3_600,
        wallet("wechat-demo-001"),
        PaymentMethod::QrWechat,
        None,
    )?);
    ids.push(sale(
        20_000,
        card("6259651234567894", "3106")?,
        PaymentMethod::Chip,
        None,
    )?);
    Ok(ids)
}

/// Seeds the demo's second merchant, [`DEMO_B_MERCHANT`]: its terminal [`DEMO_B_TERMINAL`]
/// (the demo TMK), counter operators 99/00/01 (the factory passwords of
/// [`DEMO_OPERATORS`]), back-office users [`crate::backoffice::DEMO_B_STAFF`], and three
/// sales booked through the engine (¥66.00 card, ¥23.50 Alipay, ¥150.00 WeChat Pay). Run
/// by `serve --demo` after [`seed_demo_day`], so the first merchant's records keep their
/// numbers. Returns the sales' ids.
pub fn seed_demo_merchant_b<S: Store + ?Sized>(
    store: &S,
    fp: &Fingerprinter,
    hash_password: &dyn Fn(&str) -> String,
) -> Result<Vec<TxnId>, StoreError> {
    use crate::backoffice::Backoffice;
    let invalid = |e: &dyn std::fmt::Display| StoreError::Invalid(e.to_string());
    let merchant = MerchantId::parse(DEMO_B_MERCHANT).map_err(|e| invalid(&e))?;
    let terminal = TerminalId::parse(DEMO_B_TERMINAL).map_err(|e| invalid(&e))?;
    add_merchant(store, &merchant, DEMO_B_MERCHANT_NAME)?;
    add_terminal(store, &terminal, &merchant, Some(DEMO_TMK_HEX))?;
    for (no, password, name) in DEMO_OPERATORS {
        let op = OperatorNo::parse(no).map_err(|e| invalid(&e))?;
        add_operator_hashed(store, &merchant, op, name, &hash_password(password))?;
    }
    store.seed_staff_with(&merchant, crate::backoffice::DEMO_B_STAFF, hash_password)?;
    let pan = Pan::parse("6222021234567890128").map_err(|e| invalid(&e))?;
    let card = Instrument::Card {
        masked_pan: pan.masked(),
        fingerprint: fp.of(&pan),
        expiry: Some("3012".to_owned()),
    };
    let wallet = |id: &str| Instrument::Wallet { id: id.to_owned() };
    let sales = [
        (6_600, card, PaymentMethod::Chip),
        (2_350, wallet("alipay-demo-001"), PaymentMethod::QrAlipay),
        (15_000, wallet("wechat-demo-001"), PaymentMethod::QrWechat),
    ];
    let mut ids = Vec::new();
    for (fen, instrument, method) in sales {
        let reply = store.ask(Purchase {
            origin: Origin {
                terminal_id: terminal.clone(),
                operator: OperatorNo::parse("01").map_err(|e| invalid(&e))?,
                supervisor: None,
                voucher: None,
                batch: None,
                training: false,
                idempotency: None,
                terminal_info: None,
            },
            kind: TxnKind::Sale,
            amount: Amount::from_fen(fen),
            instrument,
            method,
            pin: None,
            linked_id: None,
            confirm_duplicate: false,
        })?;
        ids.push(approved("demo merchant B", reply)?);
    }
    Ok(ids)
}

/// The id of an approved transaction the demo booked; anything else stops the demo.
fn approved<R: Booking>(what: &str, reply: R) -> Result<TxnId, StoreError> {
    match reply.booked() {
        Ok(t) if t.status == TxnStatus::Approved => Ok(t.id),
        Ok(t) => Err(StoreError::Invalid(format!("{what}: {t:?}"))),
        Err(other) => Err(StoreError::Invalid(format!("{what}: {other:?}"))),
    }
}

/// A terminal as `admin terminal list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TerminalInfo {
    /// 终端号.
    pub id: String,
    /// 商户号.
    pub merchant_id: String,
    /// Accepting transactions.
    pub enabled: bool,
    /// Open batch no.
    pub batch_no: u32,
    /// A master key is loaded.
    pub has_tmk: bool,
    /// The MAC algorithm: `ecb` (UnionPay POS ECB) or `x919` (ANSI X9.19).
    pub mac: String,
}

/// The MAC algorithms a terminal may use (`terminals.mac_algorithm`): the UnionPay POS ECB
/// MAC, and ANSI X9.19 (see docs/ISO8583.md, "MAC algorithms").
pub const MAC_ALGORITHMS: [&str; 2] = ["ecb", "x919"];

/// Sets a terminal's MAC algorithm (`ecb` or `x919`), on either backend; audited. It takes
/// effect at the terminal's next sign-in (the live session keeps its key). Returns false
/// when the terminal is unknown.
pub fn set_terminal_mac<S: Store + ?Sized>(
    store: &S,
    id: &TerminalId,
    mac: &str,
) -> Result<bool, StoreError> {
    let mac = mac.trim().to_ascii_lowercase();
    if !MAC_ALGORITHMS.contains(&mac.as_str()) {
        return Err(StoreError::Invalid(format!(
            "MAC 算法只能是 ecb 或 x919 / the MAC algorithm is ecb or x919, not {mac:?}"
        )));
    }
    let now = micros(store.now());
    setup(store, |tx, head| {
        let n = tx.exec(
            "UPDATE terminals SET mac_algorithm = ?1 WHERE id = ?2",
            p![mac.as_str(), id.as_str()],
        )?;
        if n > 0 {
            audit(
                tx,
                head,
                now,
                &format!("terminal.mac.{mac}"),
                &format!("terminal:{id}"),
            )?;
        }
        Ok(n > 0)
    })
}

impl SqliteStore {
    /// Registers a merchant.
    pub fn add_merchant(&self, id: &MerchantId, name: &str) -> Result<(), StoreError> {
        add_merchant(self, id, name)
    }

    /// Registers a terminal of a merchant and opens its first batch.
    pub fn add_terminal(
        &self,
        id: &TerminalId,
        merchant: &MerchantId,
        tmk_hex: Option<&str>,
    ) -> Result<(), StoreError> {
        add_terminal(self, id, merchant, tmk_hex)
    }

    /// Enables or disables a terminal.
    pub fn set_terminal_enabled(&self, id: &TerminalId, enabled: bool) -> Result<bool, StoreError> {
        set_terminal_enabled(self, id, enabled)
    }

    /// Creates an operator with an argon2id password hash.
    pub fn add_operator(
        &self,
        merchant: &MerchantId,
        op: OperatorNo,
        name: &str,
        password: &str,
    ) -> Result<(), StoreError> {
        add_operator_hashed(
            self,
            merchant,
            op,
            name,
            &crate::auth::hash_password(password),
        )
    }

    /// Seeds the demo merchant, terminal, operators, cards and wallets.
    pub fn seed_demo(&self, fp: &Fingerprinter) -> Result<(), StoreError> {
        seed_demo_with(self, fp, &crate::auth::hash_password)
    }

    /// A merchant's display name.
    pub fn merchant_name(&self, id: &MerchantId) -> Result<Option<String>, StoreError> {
        merchant_name(self, id)
    }

    /// Registered terminals.
    pub fn terminals(&self) -> Result<Vec<TerminalInfo>, StoreError> {
        terminals(self)
    }
}

/// A merchant's display name, on either backend.
pub fn merchant_name<S: Store + ?Sized>(
    store: &S,
    id: &MerchantId,
) -> Result<Option<String>, StoreError> {
    crate::read(store, |c| {
        c.row(
            "SELECT name FROM merchants WHERE id = ?1",
            p![id.as_str()],
            |r| r.text(0),
        )
    })
}

/// Registered terminals, on either backend.
pub fn terminals<S: Store + ?Sized>(store: &S) -> Result<Vec<TerminalInfo>, StoreError> {
    crate::read(store, |c| {
        c.rows(
            "SELECT t.id, t.merchant_id, t.enabled, b.batch_no, CASE WHEN t.tmk_hex IS NULL THEN 0 ELSE 1 END, t.mac_algorithm
             FROM terminals t LEFT JOIN batches b ON b.id = t.batch_id ORDER BY t.id",
            p![],
            |r| {
                Ok(TerminalInfo {
                    id: r.text(0)?,
                    merchant_id: r.text(1)?,
                    enabled: r.flag(2)?,
                    batch_no: r
                        .opt_i64(3)?
                        .and_then(|b| u32::try_from(b).ok())
                        .unwrap_or(0),
                    has_tmk: r.flag(4)?,
                    mac: r.text(5)?,
                })
            },
        )
    })
}

/// The load generator's merchant: `bench load --register` books on a merchant of its own, so
/// the demo merchant's records, operators and their daily void counts stay as the README
/// describes them.
pub const BENCH_MERCHANT: &str = "898310049990001";
/// Its name.
pub const BENCH_MERCHANT_NAME: &str = "压测商户 Load Bench";

/// What a load run books with, registered where missing (idempotent): the bench merchant,
/// its terminals (with `tmk_hex`), its operators (all with `password_hash`: the 8583
/// sign-in names an operator, it does not type a password) and issuer accounts for `cards`.
/// A terminal already registered to another merchant is refused, never moved.
pub fn register_bench<S: Store + ?Sized>(
    store: &S,
    fp: &Fingerprinter,
    terminals: &[TerminalId],
    tmk_hex: &str,
    operators: &[OperatorNo],
    cards: &[Pan],
    password_hash: &str,
) -> Result<(), StoreError> {
    let merchant =
        MerchantId::parse(BENCH_MERCHANT).map_err(|e| StoreError::Invalid(e.to_string()))?;
    if merchant_name(store, &merchant)?.is_none() {
        add_merchant(store, &merchant, BENCH_MERCHANT_NAME)?;
    }
    for id in terminals {
        match store.terminal(id)? {
            Ok(t) if t.merchant_id != merchant => {
                return Err(StoreError::Invalid(format!(
                    "terminal {id} belongs to merchant {}, not the bench merchant {merchant}",
                    t.merchant_id
                )));
            }
            Ok(_) => {}
            Err(suanpan_core::refusal::AccessRefused::UnknownTerminal) => {
                add_terminal(store, id, &merchant, Some(tmk_hex))?;
            }
            Err(refused) => {
                let why = suanpan_core::Refusal::message(&refused, suanpan_core::Lang::En);
                return Err(StoreError::Invalid(format!("terminal {id}: {why}")));
            }
        }
    }
    for op in operators {
        if store.operator_secret(&merchant, *op)?.is_none() {
            let name = format!("压测收银员 Bench {op}");
            add_operator_hashed(store, &merchant, *op, &name, password_hash)?;
        }
    }
    let mut missing = Vec::new();
    for pan in cards {
        let account = suanpan_issuer::demo::load_card_account(pan, &|p| fp.of(p));
        if store.account(&account.id)?.is_none() {
            missing.push(account);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let now = micros(store.now());
    setup(store, |tx, head| {
        for a in &missing {
            insert_account(tx, a)?;
        }
        let target = format!("accounts:{}", missing.len());
        audit(tx, head, now, "issuer.seed", &target)
    })
}

/// A merchant as the acquirer onboards it (商户进件, issue 14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantRecord {
    /// 商户号 (15 digits).
    pub id: MerchantId,
    /// Legal name.
    pub name: String,
    /// Short name for slips.
    pub short_name: String,
    /// Merchant category code (4 digits), if known.
    pub mcc: Option<String>,
    /// Address.
    pub address: String,
    /// Contact.
    pub contact: String,
    /// `pending`, `active`, `suspended` or `closed`.
    pub status: String,
    /// Why the status last changed.
    pub status_reason: String,
}

/// The statuses a merchant passes through: pending → active → suspended → closed (a
/// suspended merchant is activated again; a closed one stays closed).
pub const MERCHANT_STATUSES: [&str; 4] = ["pending", "active", "suspended", "closed"];

/// Whether a merchant may move from `from` to `to` (the core's rule).
pub use suanpan_core::backoffice::merchant_status_allowed;

/// Onboards a merchant as `pending` (its terminals are refused until it is activated),
/// audited as the platform (`admin`). `Ok(false)`: the id is taken.
pub fn onboard_merchant<S: Store + ?Sized>(
    store: &S,
    m: &MerchantRecord,
) -> Result<bool, StoreError> {
    let now = micros(store.now());
    setup(store, |tx, head| {
        let added = tx
            .row(
                "INSERT INTO merchants (id, name, short_name, mcc, address, contact, status, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7) ON CONFLICT (id) DO NOTHING RETURNING id",
                p![m.id.as_str(), &m.name, &m.short_name, m.mcc.as_deref(), &m.address, &m.contact, now],
                |r| r.text(0),
            )?
            .is_some();
        if added {
            audit(
                tx,
                head,
                now,
                "merchant.onboard",
                &format!("merchant:{}", m.id),
            )?;
        }
        Ok(added)
    })
}

/// Every merchant, by id.
pub fn merchants<S: Store + ?Sized>(store: &S) -> Result<Vec<MerchantRecord>, StoreError> {
    crate::read(store, |c| {
        c.rows(
            &format!("{MERCHANT_SELECT} ORDER BY id"),
            p![],
            merchant_from,
        )
    })
}

/// One merchant.
pub fn merchant<S: Store + ?Sized>(
    store: &S,
    id: &MerchantId,
) -> Result<Option<MerchantRecord>, StoreError> {
    crate::read(store, |c| {
        c.row(
            &format!("{MERCHANT_SELECT} WHERE id = ?1"),
            p![id.as_str()],
            merchant_from,
        )
    })
}

const MERCHANT_SELECT: &str =
    "SELECT id, name, short_name, mcc, address, contact, status, status_reason FROM merchants";

fn merchant_from(r: &dyn crate::sql::SqlRow) -> Result<MerchantRecord, StoreError> {
    let id = r.text(0)?;
    Ok(MerchantRecord {
        id: MerchantId::parse(&id).map_err(|_| StoreError::Sqlite(format!("merchant id {id}")))?,
        name: r.text(1)?,
        short_name: r.text(2)?,
        mcc: r.opt_text(3)?,
        address: r.text(4)?,
        contact: r.text(5)?,
        status: r.text(6)?,
        status_reason: r.text(7)?,
    })
}

/// Moves a merchant to `to` when [`merchant_status_allowed`], with one conditional update
/// (two changes at once: one wins), audited as `actor` with the reason. `Ok(None)`: no such
/// merchant; `Ok(Some(false))`: the move is not allowed from its status.
pub fn set_merchant_status<S: Store + ?Sized>(
    store: &S,
    actor: &str,
    id: &MerchantId,
    to: &str,
    reason: &str,
) -> Result<Option<bool>, StoreError> {
    let now = micros(store.now());
    setup(store, |tx, head| {
        let lock = tx.dialect().lock_rows();
        let Some(from) = tx.row(
            &format!("SELECT status FROM merchants WHERE id = ?1{lock}"),
            p![id.as_str()],
            |r| r.text(0),
        )?
        else {
            return Ok(None);
        };
        if !merchant_status_allowed(&from, to) {
            return Ok(Some(false));
        }
        tx.exec(
            "UPDATE merchants SET status = ?1, status_reason = ?2 WHERE id = ?3 AND status = ?4",
            p![to, reason, id.as_str(), &from],
        )?;
        head.append(
            tx,
            now,
            [
                actor,
                &format!("merchant.{to}"),
                &format!("merchant:{id}"),
                reason,
                "ok",
            ],
        )?;
        Ok(Some(true))
    })
}
