//! The risk rules' two journal indexes exist only while a rule that reads them is on
//! (issue 15). `txns_card_recent` answers the card rules' lookback, and
//! `txns_terminal_created` answers the terminal's velocity window and its void ratio. Each
//! insert lands at one place per card or terminal, so every sale dirtied about one more
//! leaf page per index, even with every rule off: +66 % WAL pages per sale (docs/BENCHMARKS.md).
//! Schema 20 / PostgreSQL 19 dropped them from the fixed schema. From then on only
//! [`apply`] creates and drops them: `serve` and `bench seed` call it after opening the
//! store, with what the configuration's rules and the stored limits read
//! ([`RiskIndexes::needed`]).

use crate::error::StoreError;
use crate::sql::SqlExt;
use crate::{Dialect, Store};
use suanpan_core::risk::{Limits, RiskParams};

/// The card index: every column the lookback reads (`repo::risk::card_events`), newest
/// first by `(created_at, id)`, as schema 16 / PostgreSQL 15 defined it.
const CARD_SQLITE: &str = "CREATE INDEX IF NOT EXISTS txns_card_recent ON txns(card_fp, created_at, id, kind, status, amount_fen, training) WHERE card_fp IS NOT NULL;";
const CARD_PG: &str = "CREATE INDEX IF NOT EXISTS txns_card_recent ON txns(card_fp, created_at, id) INCLUDE (kind, status, amount_fen, training) WHERE card_fp IS NOT NULL;";
/// The terminal index, as schema 9 / PostgreSQL 8 defined it.
const TERMINAL: &str =
    "CREATE INDEX IF NOT EXISTS txns_terminal_created ON txns(terminal_id, created_at);";

/// Which of the two indexes the enabled rules read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RiskIndexes {
    /// `txns_card_recent`: a rule reads the card's recent transactions.
    pub card: bool,
    /// `txns_terminal_created`: a rule reads the terminal's recent transactions.
    pub terminal: bool,
}

impl RiskIndexes {
    /// Both indexes (the rules of [`RiskParams::default`] read both).
    pub const ALL: RiskIndexes = RiskIndexes {
        card: true,
        terminal: true,
    };

    /// What the rules of `params` read under `limits`.
    pub fn of(params: &RiskParams, limits: &Limits) -> RiskIndexes {
        RiskIndexes {
            card: params.reads_card_events(limits),
            terminal: params.reads_terminal_txns(limits),
        }
    }

    /// What the rules of `params` read at any merchant of `store`: under `[risk]`'s own
    /// limits and under every merchant's stored ones (the acquirer's replace `[risk]`'s,
    /// the merchant's tighten them, so a limit switched on there counts too).
    pub fn needed<S: Store + ?Sized>(
        params: &RiskParams,
        store: &S,
    ) -> Result<RiskIndexes, StoreError> {
        let stored: Vec<String> = crate::read(store, |c| {
            c.rows("SELECT limits FROM risk_limits", crate::p![], |r| r.text(0))
        })?;
        let mut need = RiskIndexes::of(params, &params.limits);
        for text in stored {
            let limits: Limits = serde_json::from_str(&text)
                .map_err(|e| StoreError::Sqlite(format!("risk_limits: {e}")))?;
            let more = RiskIndexes::of(params, &limits);
            need.card |= more.card;
            need.terminal |= more.terminal;
        }
        Ok(need)
    }
}

/// The names of the two indexes.
pub const NAMES: [&str; 2] = ["txns_card_recent", "txns_terminal_created"];

/// Creates the indexes of `need` that `store` lacks and drops the others. A build sorts
/// every journal row once: seconds to a minute on 10M rows, before the store serves; each
/// build is logged with its time. Idempotent; on PostgreSQL under the migration lock, so
/// nodes starting at once build each index once.
pub fn apply<S: Store + ?Sized>(store: &S, need: RiskIndexes) -> Result<(), StoreError> {
    change(store, need, true)
}

/// Creates the indexes of `need` that `store` lacks and drops none: a limit switched on
/// while the store serves (`RiskAlerts::set_risk_limits`) must not leave its rule reading
/// the journal without its index until the next start. The writer waits for the build.
pub fn ensure<S: Store + ?Sized>(store: &S, need: RiskIndexes) -> Result<(), StoreError> {
    change(store, need, false)
}

fn change<S: Store + ?Sized>(
    store: &S,
    need: RiskIndexes,
    drop_unneeded: bool,
) -> Result<(), StoreError> {
    let dialect = store.dialect();
    let card = match dialect {
        Dialect::Sqlite => CARD_SQLITE,
        Dialect::Postgres => CARD_PG,
    };
    let present = present(store)?;
    for (name, wanted, create) in [
        (NAMES[0], need.card, card),
        (NAMES[1], need.terminal, TERMINAL),
    ] {
        let has = present.iter().any(|p| p == name);
        if wanted == has || (!wanted && !drop_unneeded) {
            continue;
        }
        let started = std::time::Instant::now();
        crate::setup(store, |c, _| {
            if dialect == Dialect::Postgres {
                c.exec_batch(&format!(
                    "SET LOCAL statement_timeout = {}; SET LOCAL maintenance_work_mem = '1GB';",
                    crate::pg::PG_DDL_TIMEOUT_MS
                ))?;
                c.exec(
                    "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.migrate'))",
                    crate::p![],
                )?;
            }
            if wanted {
                c.exec_batch(create)
            } else {
                c.exec_batch(&format!("DROP INDEX IF EXISTS {name};"))
            }
        })?;
        let ms = started.elapsed().as_millis();
        if wanted {
            tracing::info!("built the risk rules' index {name} in {ms} ms");
        } else {
            tracing::info!(
                "dropped the risk rules' index {name} (no enabled rule reads it) in {ms} ms"
            );
        }
    }
    Ok(())
}

/// Which of the two indexes `store` has.
pub fn present<S: Store + ?Sized>(store: &S) -> Result<Vec<String>, StoreError> {
    let sql = match store.dialect() {
        Dialect::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name IN ('txns_card_recent', 'txns_terminal_created') ORDER BY name"
        }
        Dialect::Postgres => {
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND indexname IN ('txns_card_recent', 'txns_terminal_created') ORDER BY indexname"
        }
    };
    crate::read(store, |c| c.rows(sql, crate::p![], |r| r.text(0)))
}
