//! Bulk rows for big-journal tests and benchmarks: many transactions written by one SQL
//! statement instead of one engine command each. Every row is a copy of one the engine booked,
//! with only amount, numbers and time changed, and rows come in money-neutral pairs, so the
//! audit chain and money conservation (`check`) stay green.

use crate::command::Instrument;
use crate::error::StoreError;
use crate::sql::{Dialect, Sql, SqlExt};
use crate::{Store, setup};
use jiff::Timestamp;
use suanpan_core::PaymentMethod;
use suanpan_core::TxnId;

/// Writes `pairs` sales copied from `template` (an approved sale), one second apart from
/// `first_at`, amounts 1.00 … 9.97 yuan, each with an approved refund of its whole amount a
/// millisecond later (the sale then `refunded`).
pub fn refunded_sales(
    store: &dyn Store,
    template: TxnId,
    pairs: u32,
    first_at: Timestamp,
) -> Result<(), StoreError> {
    let cols = "kind, status, amount_fen, currency, method, masked_pan, card_fp, wallet_id, \
        merchant_id, terminal_id, operator, batch_id, batch_no, voucher_no, response_code, \
        created_at, refunded_fen, training";
    let base = first_at.as_microsecond();
    let amount = "100 + (n.i * 7) % 898";
    let sql = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {pairs})
         INSERT INTO txns ({cols})
         SELECT k.kind, CASE WHEN k.kind = 'sale' THEN 'refunded' ELSE 'approved' END,
                {amount}, t.currency, t.method, t.masked_pan, t.card_fp, t.wallet_id,
                t.merchant_id, t.terminal_id, t.operator, t.batch_id, t.batch_no,
                1 + (2 * n.i + k.j) % 999999, '00',
                {base} + CAST(n.i AS BIGINT) * 1000000 + k.j * 1000,
                CASE WHEN k.kind = 'sale' THEN {amount} ELSE 0 END, 0
         FROM n CROSS JOIN (SELECT 'sale' AS kind, 0 AS j UNION ALL SELECT 'refund', 1) AS k
         CROSS JOIN txns t WHERE t.id = {}",
        template.0
    );
    setup(store, |c, _| c.exec_batch(&sql))
}

/// What `bench seed` books: a history of `transactions` journal rows over `days` business
/// days, on `merchants` merchants sharing `terminals` terminals.
#[derive(Debug, Clone)]
pub struct HistoryPlan {
    /// Journal rows to book (sales, voids, refunds; settlements come on top, as batches).
    pub transactions: u64,
    /// Merchants (ids `898310049992001`…).
    pub merchants: u32,
    /// Terminals over all merchants (ids `S0000001`…; terminal `i` belongs to merchant
    /// `i % merchants`).
    pub terminals: u32,
    /// Business days, the last one ending yesterday.
    pub days: u32,
    /// Load cards paid with (`621999…`, see [`suanpan_issuer::demo::load_card_pan`]).
    pub cards: u32,
    /// Commands in flight at once (the writer commits them in groups).
    pub window: usize,
    /// The random generator's seed: the same plan and seed book the same history.
    pub seed: u64,
    /// Bulk load: the ten search indexes are dropped before booking and built once at the
    /// end (sorting all rows once instead of keeping ten B-trees up to date row by row),
    /// then everything is synced to disk ([`Store::sync_to_disk`]). Meant with a store opened
    /// with [`crate::OpenOptions::bulk_load`], that nobody else uses meanwhile.
    pub bulk: bool,
    /// Book with the risk rules as the store's policy sets them (true), or with the store
    /// opened with the rules off (false, `bench seed`'s default: see docs/DECISIONS.md):
    /// the caller opens the store accordingly and applies the rules' indexes
    /// ([`crate::risk_index::apply`]); a bulk load with the rules off drops the rules' two
    /// journal indexes and does not build them again.
    pub risk: bool,
}

/// Largest merchant count of one plan.
pub const SEED_MERCHANTS_MAX: u32 = 1_000;
/// Largest terminal count of one plan.
pub const SEED_TERMINALS_MAX: u32 = 100_000;
/// Largest day count of one plan (ten years).
pub const SEED_DAYS_MAX: u32 = 3_660;

/// What a history run booked, counted from the engine's answers.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct HistoryReport {
    /// Journal rows written (every answer that booked a row).
    pub rows: u64,
    /// Approved sales (card and wallet).
    pub sales: u64,
    /// Of them paid by QR wallet.
    pub wallet_sales: u64,
    /// Approved voids.
    pub voids: u64,
    /// Approved refunds.
    pub refunds: u64,
    /// Rows the issuer declined (booked, status declined).
    pub declined: u64,
    /// Requests a rule refused (nothing booked), e.g. the per-operator daily void limit.
    pub refused: u64,
    /// Batches settled.
    pub settlements: u64,
    /// Seconds the booking took (registration excluded; the search indexes' build and the
    /// final sync of a bulk load included).
    pub seconds: f64,
    /// Of them, seconds spent building the search indexes after a bulk load.
    pub index_seconds: f64,
}

/// The back-office's search indexes, one per filter, as their migrations made them:
/// `migrate_6.sql` (`pg_migrate_5.sql`) named them; later steps redefined some (SQLite's
/// `migrate_17.sql`; PostgreSQL's `pg_migrate_16.sql` and `pg_migrate_20.sql`). What a bulk
/// load builds again must be the store's latest definition of each, in migrate_6's order.
fn search_index_sql(dialect: Dialect) -> String {
    let (first, later) = search_index_migrations(dialect);
    first
        .lines()
        .filter(|l| l.starts_with("CREATE INDEX IF NOT EXISTS "))
        .map(|l| {
            let name = index_names(l);
            later
                .iter()
                .rev()
                .flat_map(|step| step.lines())
                .find(|m| m.starts_with("CREATE INDEX IF NOT EXISTS ") && index_names(m) == name)
                .unwrap_or(l)
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The migration that created the search indexes, and those that redefined some, oldest
/// first.
fn search_index_migrations(dialect: Dialect) -> (&'static str, &'static [&'static str]) {
    match dialect {
        Dialect::Sqlite => (
            include_str!("migrate_6.sql"),
            &[include_str!("migrate_17.sql")],
        ),
        Dialect::Postgres => (
            include_str!("pg_migrate_5.sql"),
            &[
                include_str!("pg_migrate_16.sql"),
                include_str!("pg_migrate_20.sql"),
            ],
        ),
    }
}

/// Every index a bulk load drops and builds again at its end (the search indexes), as
/// idempotent `CREATE INDEX IF NOT EXISTS` statements. The risk rules' two are not among
/// them: [`crate::risk_index::apply`] owns those (issue 15).
pub(crate) fn bulk_index_sql(dialect: Dialect) -> String {
    search_index_sql(dialect)
}

fn index_names(sql: &str) -> Vec<&str> {
    sql.lines()
        .filter_map(|l| l.strip_prefix("CREATE INDEX IF NOT EXISTS "))
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

/// The names of the search indexes, as their migration creates them.
pub fn search_index_names(dialect: Dialect) -> Vec<&'static str> {
    index_names(search_index_migrations(dialect).0)
}

/// The names of the indexes a bulk load drops: the search indexes, and the risk rules' when
/// it books with the rules off (it does not build those again: the next `serve` whose rules
/// read one builds it, [`crate::risk_index`]).
pub fn bulk_index_names(dialect: Dialect, risk: bool) -> Vec<String> {
    let mut names: Vec<String> = search_index_names(dialect)
        .into_iter()
        .map(str::to_owned)
        .collect();
    if !risk {
        names.extend(crate::risk_index::NAMES.map(str::to_owned));
    }
    names
}

/// How many of the search indexes the store lacks (an interrupted bulk load dropped them).
pub(crate) fn search_indexes_missing(c: &dyn Sql, dialect: Dialect) -> Result<usize, StoreError> {
    let sql = match dialect {
        Dialect::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = ?1",
        Dialect::Postgres => {
            "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = ?1"
        }
    };
    let mut missing = 0;
    for name in search_index_names(dialect) {
        if c.one(sql, crate::p![name], |r| r.i64(0))? == 0 {
            missing += 1;
        }
    }
    Ok(missing)
}

/// Builds whichever of the indexes a bulk load drops are missing (idempotent).
pub(crate) fn create_search_indexes(c: &dyn Sql, dialect: Dialect) -> Result<(), StoreError> {
    c.exec_batch(&bulk_index_sql(dialect))
}

/// Drops the search indexes before a bulk load, builds them after it, and syncs the store.
fn bulk_indexes(store: &dyn Store, drop: bool, risk: bool) -> Result<(), StoreError> {
    let dialect = store.dialect();
    if drop {
        let sql: String = bulk_index_names(dialect, risk)
            .iter()
            .map(|n| format!("DROP INDEX IF EXISTS {n};"))
            .collect();
        return setup(store, |c, _| c.exec_batch(&sql));
    }
    let pg_bulk_settings = format!(
        "SET LOCAL maintenance_work_mem = '1GB'; SET LOCAL statement_timeout = {};",
        crate::pg::PG_DDL_TIMEOUT_MS
    );
    setup(store, |c, _| {
        // Each build sorts every journal row once: a large sort memory keeps it off disk.
        c.exec_batch(match dialect {
            Dialect::Sqlite => "PRAGMA cache_size = -1048576; PRAGMA threads = 2;",
            Dialect::Postgres => &pg_bulk_settings,
        })?;
        // No `ANALYZE` on PostgreSQL: autovacuum refreshes the statistics as after any
        // other load, so plans do not differ from the counter path's.
        create_search_indexes(c, dialect)
    })?;
    store.sync_to_disk()
}

impl HistoryPlan {
    /// Checks the plan's numbers; the message names the flag.
    pub fn validate(&self) -> Result<(), StoreError> {
        let bad = |m: String| Err(StoreError::Invalid(m));
        if self.transactions == 0 {
            return bad("--transactions must be at least 1".into());
        }
        if !(1..=SEED_MERCHANTS_MAX).contains(&self.merchants) {
            return bad(format!("--merchants must be 1 to {SEED_MERCHANTS_MAX}"));
        }
        if !(self.merchants..=SEED_TERMINALS_MAX).contains(&self.terminals) {
            return bad(format!(
                "--terminals must be {} (one per merchant) to {SEED_TERMINALS_MAX}",
                self.merchants
            ));
        }
        if !(1..=SEED_DAYS_MAX).contains(&self.days) {
            return bad(format!("--days must be 1 to {SEED_DAYS_MAX}"));
        }
        if self.cards == 0 || self.window == 0 {
            return bad("cards and window must be at least 1".into());
        }
        Ok(())
    }
}

/// Merchant id no. `m` of a seeded history.
pub fn seed_merchant(m: u32) -> String {
    format!("89831004999{:04}", 2001 + m)
}

/// Terminal id no. `i` (0-based) of a seeded history.
pub fn seed_terminal(i: u32) -> String {
    format!("S{:07}", i + 1)
}

/// Wallets a history pays with (QR sales), per network.
const SEED_WALLETS: u32 = 300;
/// Opening balance of a seeded wallet (¥100,000,000).
const SEED_WALLET_BALANCE_FEN: i64 = 10_000_000_000;

/// SplitMix64: small, fast, and the same sequence on every platform and crate version.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// A shop's amount: log-uniform from ¥1.00 to ¥2,000.00, most of them small.
    fn amount_fen(&mut self) -> i64 {
        let (lo, hi) = (100f64.ln(), 200_000f64.ln());
        (lo + (hi - lo) * self.unit()).exp().round() as i64
    }
}

/// Registers what a history books with (merchants, their terminals, a supervisor 00 and
/// cashiers 01… per merchant, load cards and QR wallets), whichever are missing.
fn register_history(
    store: &dyn Store,
    fp: &crate::Fingerprinter,
    plan: &HistoryPlan,
    password_hash: &str,
) -> Result<Vec<Instrument>, StoreError> {
    use suanpan_core::{MerchantId, OperatorNo, Pan, TerminalId};
    let parse_err = |e: suanpan_core::IdError| StoreError::Invalid(e.to_string());
    let mut per_merchant = vec![0u32; plan.merchants as usize];
    for i in 0..plan.terminals {
        per_merchant[(i % plan.merchants) as usize] += 1;
    }
    for m in 0..plan.merchants {
        let id = MerchantId::parse(&seed_merchant(m)).map_err(parse_err)?;
        if crate::admin::merchant_name(store, &id)?.is_none() {
            crate::admin::add_merchant(store, &id, &format!("生成商户 Seeded shop {}", m + 1))?;
        }
        let cashiers = per_merchant[m as usize].min(98);
        for n in 0..=cashiers {
            let op = OperatorNo::parse(&format!("{n:02}")).map_err(parse_err)?;
            if store.operator_secret(&id, op)?.is_none() {
                let name = if n == 0 {
                    "主管 Supervisor".to_owned()
                } else {
                    format!("收银员 Cashier {n:02}")
                };
                crate::admin::add_operator_hashed(store, &id, op, &name, password_hash)?;
            }
        }
    }
    for i in 0..plan.terminals {
        let id = TerminalId::parse(&seed_terminal(i)).map_err(parse_err)?;
        let merchant = MerchantId::parse(&seed_merchant(i % plan.merchants)).map_err(parse_err)?;
        match store.terminal(&id)? {
            Ok(t) if t.merchant_id != merchant => {
                return Err(StoreError::Invalid(format!(
                    "terminal {id} belongs to merchant {}, not {merchant}",
                    t.merchant_id
                )));
            }
            Ok(_) => {}
            Err(suanpan_core::refusal::AccessRefused::UnknownTerminal) => {
                crate::admin::add_terminal(store, &id, &merchant, None)?;
            }
            Err(refused) => {
                let why = suanpan_core::Refusal::message(&refused, suanpan_core::Lang::En);
                return Err(StoreError::Invalid(format!("terminal {id}: {why}")));
            }
        }
    }
    let mut instruments = Vec::new();
    let mut missing = Vec::new();
    for i in 0..plan.cards {
        let pan = Pan::parse(&suanpan_issuer::demo::load_card_pan(i))
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let account = suanpan_issuer::demo::load_card_account(&pan, &|p| fp.of(p));
        instruments.push(Instrument::Card {
            masked_pan: pan.masked(),
            fingerprint: account.id.clone(),
            expiry: None,
        });
        missing.push(account);
    }
    for (net, method) in [
        ("alipay", PaymentMethod::QrAlipay),
        ("wechat", PaymentMethod::QrWechat),
        ("unionpay", PaymentMethod::QrUnionpay),
    ] {
        for w in 0..SEED_WALLETS {
            let id = format!("seed-{net}-{w:04}");
            instruments.push(Instrument::Wallet { id: id.clone() });
            missing.push(suanpan_issuer::Account {
                id,
                instrument: suanpan_issuer::Instrument::Wallet {
                    method,
                    name: format!("生成钱包 Seeded wallet {w}"),
                },
                balance_fen: SEED_WALLET_BALANCE_FEN,
                held_fen: 0,
            });
        }
    }
    let mut fresh = Vec::new();
    for a in missing {
        if store.account(&a.id)?.is_none() {
            fresh.push(a);
        }
    }
    if !fresh.is_empty() {
        let now = crate::rows::micros(store.now());
        setup(store, |tx, head| {
            for a in &fresh {
                crate::query::insert_account(tx, a)?;
            }
            let target = format!("accounts:{}", fresh.len());
            head.append(tx, now, ["admin", "issuer.seed", &target, "", "ok"])
        })?;
    }
    Ok(instruments)
}

/// The wallet network of a seeded wallet id.
fn wallet_method(id: &str) -> PaymentMethod {
    if id.starts_with("seed-alipay") {
        PaymentMethod::QrAlipay
    } else if id.starts_with("seed-wechat") {
        PaymentMethod::QrWechat
    } else {
        PaymentMethod::QrUnionpay
    }
}

/// What an answer was for.
enum Tag {
    Sale { terminal: u32, amount: i64 },
    Void,
    Refund,
    Settle,
}

/// A sale that can still be voided (today, its terminal's open batch) or refunded.
#[derive(Clone, Copy)]
struct Booked {
    id: i64,
    terminal: u32,
    amount: i64,
}

/// Sales remembered for later refunds (the newest this many).
const REFUND_POOL: usize = 200_000;

/// Books a realistic history through the engine: each row is a command the writer runs
/// like a counter's (sales by card and QR wallet, voids in the same batch by the
/// supervisor, partial and full refunds of earlier days' sales, every terminal settling
/// each business day), with the store's clock (`clock`, the one `store` was opened with)
/// moved across `plan.days` business days from 08:00 to 22:00 local time. Commands go to the
/// writer pipelined (`plan.window` in flight), so they share group commits. `progress` is
/// called about every 100,000 rows with the rows booked so far.
pub fn history(
    store: &dyn Store,
    clock: &suanpan_core::clock::FixedClock,
    fp: &crate::Fingerprinter,
    plan: &HistoryPlan,
    password_hash: &str,
    progress: &mut dyn FnMut(u64),
) -> Result<HistoryReport, StoreError> {
    use crate::command::{Origin, OriginalRef, Purchase, Refund, Settle, Void};
    use crate::reply::{Ask, AskExt, Booking};
    use suanpan_core::{Amount, OperatorNo, TerminalId, TxnKind};
    plan.validate()?;
    let policy = store.policy().clone();
    let zone = policy
        .zone()
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let today = store.now().to_zoned(zone.clone()).date();
    let instruments = register_history(store, fp, plan, password_hash)?;
    let parse_err = |e: suanpan_core::IdError| StoreError::Invalid(e.to_string());
    let terminals = (0..plan.terminals)
        .map(|i| TerminalId::parse(&seed_terminal(i)).map_err(parse_err))
        .collect::<Result<Vec<_>, _>>()?;
    let mut per_merchant = vec![0u32; plan.merchants as usize];
    let cashier: Vec<OperatorNo> = (0..plan.terminals)
        .map(|i| {
            let m = (i % plan.merchants) as usize;
            let n = per_merchant[m] % 98 + 1;
            per_merchant[m] += 1;
            OperatorNo::parse(&format!("{n:02}")).map_err(parse_err)
        })
        .collect::<Result<_, _>>()?;
    let origin = |t: u32, supervisor: bool| Origin {
        terminal_id: terminals[t as usize].clone(),
        operator: cashier[t as usize],
        supervisor: supervisor.then_some(OperatorNo::SUPERVISOR),
        voucher: None,
        batch: None,
        training: false,
        idempotency: None,
        terminal_info: None,
    };

    // Each answer as the seed counts it: the transaction booked, or none (refused; a
    // settlement books none).
    type Seen = Result<Option<suanpan_core::Transaction>, StoreError>;
    let (tx, rx) = crossbeam_channel::unbounded::<(Tag, Seen)>();
    fn send<A: Ask>(
        store: &dyn crate::Store,
        tx: &crossbeam_channel::Sender<(Tag, Seen)>,
        tag: Tag,
        cmd: A,
    ) -> Result<(), StoreError>
    where
        A::Reply: Booking,
    {
        let tx = tx.clone();
        store.ask_then(cmd, move |a| {
            drop(tx.send((tag, a.map(|r| r.booked().ok()))));
        })
    }
    let mut report = HistoryReport::default();
    let mut rng = Rng(plan.seed);
    // Today's voidable sales, and earlier days' sales for refunds.
    let mut open: Vec<Booked> = Vec::new();
    let mut refundable: std::collections::VecDeque<Booked> = Default::default();
    let mut in_flight = 0usize;
    let mut next_progress = 100_000u64;
    let started = std::time::Instant::now();
    if plan.bulk {
        bulk_indexes(store, true, plan.risk)?;
    }

    // Takes one answer and learns from it.
    let take = |in_flight: &mut usize,
                report: &mut HistoryReport,
                open: &mut Vec<Booked>|
     -> Result<(), StoreError> {
        let (tag, answer) =
            rx.recv_timeout(crate::writer::ANSWER_WAIT_MAX)
                .map_err(|e| match e {
                    crossbeam_channel::RecvTimeoutError::Timeout => {
                        StoreError::TimedOut("the writer's answer".into())
                    }
                    crossbeam_channel::RecvTimeoutError::Disconnected => StoreError::WriterGone,
                })?;
        *in_flight -= 1;
        match (tag, answer?) {
            (Tag::Settle, _) => report.settlements += 1,
            (_, None) => report.refused += 1,
            (tag, Some(t)) => {
                report.rows += 1;
                if !t.response_code.is_approved() {
                    report.declined += 1;
                    return Ok(());
                }
                match tag {
                    Tag::Sale { terminal, amount } => {
                        report.sales += 1;
                        if t.wallet_id.is_some() {
                            report.wallet_sales += 1;
                        }
                        open.push(Booked {
                            id: t.id.0,
                            terminal,
                            amount,
                        });
                    }
                    Tag::Void => report.voids += 1,
                    Tag::Refund => report.refunds += 1,
                    Tag::Settle => {}
                }
            }
        }
        Ok(())
    };

    let mut submitted = 0u64;
    for day in 0..plan.days {
        let date = today
            .checked_sub(jiff::Span::new().days(i64::from(plan.days - day)))
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let at = |time: jiff::civil::Time| -> Result<jiff::Timestamp, StoreError> {
            date.to_datetime(time)
                .to_zoned(zone.clone())
                .map(|z| z.timestamp())
                .map_err(|e| StoreError::Invalid(e.to_string()))
        };
        let open_at = at(jiff::civil::time(8, 0, 0, 0))?;
        let close_at = at(jiff::civil::time(22, 0, 0, 0))?;
        let settle_at = at(jiff::civil::time(22, 30, 0, 0))?;
        let span = close_at.as_microsecond() - open_at.as_microsecond();
        // This day's share of the rows (the remainder spread over the first days).
        let rows = plan.transactions / u64::from(plan.days)
            + u64::from(u64::from(day) < plan.transactions % u64::from(plan.days));
        for r in 0..rows {
            let t = open_at.as_microsecond() + span * r as i64 / rows.max(1) as i64;
            clock.set(jiff::Timestamp::from_microsecond(t).unwrap_or(open_at));
            let terminal = rng.below(u64::from(plan.terminals)) as u32;
            let roll = rng.below(1000);
            if roll < 25 && !open.is_empty() {
                // A void (撤销) of a sale of today, at its terminal, by the supervisor.
                let b = open.swap_remove(rng.below(open.len() as u64) as usize);
                let cmd = Void {
                    origin: origin(b.terminal, true),
                    kind: TxnKind::Void,
                    original: OriginalRef::Id(suanpan_core::TxnId(b.id)),
                    amount: Some(Amount::from_fen(b.amount)),
                    reason: "顾客取消 customer cancelled".into(),
                    customer_consent: true,
                    card_fingerprint: None,
                };
                send(store, &tx, Tag::Void, cmd)?;
            } else if roll < 55 && !refundable.is_empty() {
                // A refund (退货) of an earlier day's sale: whole or in part.
                let i = rng.below(refundable.len() as u64) as usize;
                let b = refundable.swap_remove_back(i).unwrap_or(Booked {
                    id: 0,
                    terminal: 0,
                    amount: 0,
                });
                let amount = if rng.below(2) == 0 {
                    b.amount
                } else {
                    (b.amount / 2).max(1)
                };
                let cmd = Refund {
                    origin: origin(b.terminal, true),
                    original: OriginalRef::Id(suanpan_core::TxnId(b.id)),
                    amount: Amount::from_fen(amount),
                    reason: "退货 goods returned".into(),
                };
                send(store, &tx, Tag::Refund, cmd)?;
            } else {
                let amount = rng.amount_fen();
                let instrument = instruments[rng.below(instruments.len() as u64) as usize].clone();
                let method = match &instrument {
                    Instrument::Wallet { id } => wallet_method(id),
                    Instrument::Card { .. } if rng.below(2) == 0 => PaymentMethod::Contactless,
                    Instrument::Card { .. } => PaymentMethod::Chip,
                };
                let cmd = Purchase {
                    origin: origin(terminal, false),
                    kind: TxnKind::Sale,
                    amount: Amount::from_fen(amount),
                    instrument,
                    method,
                    pin: None,
                    linked_id: None,
                    confirm_duplicate: false,
                };
                send(store, &tx, Tag::Sale { terminal, amount }, cmd)?;
            }
            in_flight += 1;
            submitted += 1;
            while in_flight >= plan.window {
                take(&mut in_flight, &mut report, &mut open)?;
            }
            if submitted >= next_progress {
                progress(report.rows);
                next_progress += 100_000;
            }
        }
        // The day ends: every answer in, then each terminal settles its batch.
        while in_flight > 0 {
            take(&mut in_flight, &mut report, &mut open)?;
        }
        clock.set(settle_at);
        for id in &terminals {
            let tx = tx.clone();
            let cmd = Settle {
                terminal_id: id.clone(),
                actor: format!("{id}/00"),
                terminal_totals: None,
            };
            store.ask_then(cmd, move |a| drop(tx.send((Tag::Settle, a.map(|_| None)))))?;
            in_flight += 1;
            while in_flight >= plan.window {
                take(&mut in_flight, &mut report, &mut open)?;
            }
        }
        while in_flight > 0 {
            take(&mut in_flight, &mut report, &mut open)?;
        }
        refundable.extend(open.drain(..));
        while refundable.len() > REFUND_POOL {
            refundable.pop_front();
        }
    }
    progress(report.rows);
    if plan.bulk {
        let t = std::time::Instant::now();
        bulk_indexes(store, false, plan.risk)?;
        report.index_seconds = t.elapsed().as_secs_f64();
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// One journal row's searchable values.
struct Sample {
    at: i64,
    amount: i64,
    kind: String,
    status: String,
    terminal: String,
    operator: String,
    voucher: i64,
    rrn: Option<String>,
    masked_pan: Option<String>,
    wallet: Option<String>,
}

/// The back-office search filters of one merchant, each with a value taken from its journal
/// near row id `near` (so each sample asks for something that exists): business day range
/// (one day, a week, 30 days, 365 days ending that day), amount range, kind, status, terminal, operator, voucher, RRN, card last four, wallet,
/// and no filter at all. Page size 50, newest first, as the back-office asks.
pub fn search_filters(
    c: &dyn crate::sql::Sql,
    merchant: &str,
    near: i64,
    zone: &jiff::tz::TimeZone,
) -> Result<Vec<(&'static str, crate::TxnFilter)>, StoreError> {
    use crate::TxnFilter;
    use suanpan_core::{Amount, TxnKind, TxnStatus};
    let pick = |extra: &str| -> Result<Option<Sample>, StoreError> {
        let sql = format!(
            "SELECT created_at, amount_fen, kind, status, terminal_id, operator, voucher_no, rrn, masked_pan, wallet_id
             FROM txns WHERE merchant_id = ?1 AND id >= ?2 {extra} ORDER BY id LIMIT 1"
        );
        c.row(&sql, crate::p![merchant, near], |r| {
            Ok(Sample {
                at: r.i64(0)?,
                amount: r.i64(1)?,
                kind: r.text(2)?,
                status: r.text(3)?,
                terminal: r.text(4)?,
                operator: r.text(5)?,
                voucher: r.i64(6)?,
                rrn: r.opt_text(7)?,
                masked_pan: r.opt_text(8)?,
                wallet: r.opt_text(9)?,
            })
        })
    };
    let Some(Sample {
        at,
        amount,
        kind,
        status,
        terminal,
        operator,
        voucher,
        rrn,
        ..
    }) = pick("AND rrn IS NOT NULL")?
    else {
        return Ok(Vec::new());
    };
    let last4 = pick("AND masked_pan IS NOT NULL")?
        .and_then(|r| r.masked_pan)
        .map(|p| p[p.len().saturating_sub(4)..].to_owned());
    let wallet = pick("AND wallet_id IS NOT NULL")?.and_then(|r| r.wallet);
    let day = jiff::Timestamp::from_microsecond(at)
        .map_err(|e| StoreError::Invalid(e.to_string()))?
        .to_zoned(zone.clone())
        .date();
    let bound = |d: jiff::civil::Date| {
        d.to_zoned(zone.clone())
            .map(|z| z.timestamp())
            .map_err(|e| StoreError::Invalid(e.to_string()))
    };
    let next_day = day
        .tomorrow()
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let base = TxnFilter {
        merchant: Some(merchant.to_owned()),
        limit: Some(50),
        ..TxnFilter::default()
    };
    let mut out = vec![
        ("none", base.clone()),
        (
            "business day",
            TxnFilter {
                from: Some(bound(day)?),
                to: Some(bound(next_day)?),
                ..base.clone()
            },
        ),
        (
            "business week",
            TxnFilter {
                from: Some(bound(
                    day.checked_sub(jiff::Span::new().days(6))
                        .map_err(|e| StoreError::Invalid(e.to_string()))?,
                )?),
                to: Some(bound(next_day)?),
                ..base.clone()
            },
        ),
        (
            "business month",
            TxnFilter {
                from: Some(bound(
                    day.checked_sub(jiff::Span::new().days(29))
                        .map_err(|e| StoreError::Invalid(e.to_string()))?,
                )?),
                to: Some(bound(next_day)?),
                ..base.clone()
            },
        ),
        (
            "business year",
            TxnFilter {
                from: Some(bound(
                    day.checked_sub(jiff::Span::new().days(364))
                        .map_err(|e| StoreError::Invalid(e.to_string()))?,
                )?),
                to: Some(bound(next_day)?),
                ..base.clone()
            },
        ),
        (
            "amount range",
            TxnFilter {
                min: Some(Amount::from_fen(amount)),
                max: Some(Amount::from_fen(amount + 1_000)),
                ..base.clone()
            },
        ),
        (
            "kind",
            TxnFilter {
                kind: TxnKind::parse(&kind),
                ..base.clone()
            },
        ),
        (
            "status",
            TxnFilter {
                status: TxnStatus::parse(&status),
                ..base.clone()
            },
        ),
        (
            "terminal",
            TxnFilter {
                terminal: Some(terminal),
                ..base.clone()
            },
        ),
        (
            "operator",
            TxnFilter {
                operator: Some(operator),
                ..base.clone()
            },
        ),
        (
            "voucher",
            TxnFilter {
                voucher: u32::try_from(voucher).ok(),
                ..base.clone()
            },
        ),
        (
            "rrn",
            TxnFilter {
                rrn,
                ..base.clone()
            },
        ),
    ];
    if let Some(l) = last4 {
        out.push((
            "card last four",
            TxnFilter {
                card_last4: Some(l),
                ..base.clone()
            },
        ));
    }
    if let Some(w) = wallet {
        out.push((
            "wallet",
            TxnFilter {
                wallet: Some(w),
                ..base
            },
        ));
    }
    Ok(out)
}
