//! Reads: listings with filters, lookups, the audit trail, and the conservation check.

use crate::rows::{TXN_COLUMNS, micros, txn_from_row};
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, ToSql, params};
use suanpan_core::{Amount, PaymentMethod, Transaction, TxnKind, TxnStatus};
use suanpan_issuer::{Account, CardStatus, Instrument};

/// The most rows one listing returns, whatever the caller asks.
pub const LIST_ROWS_MAX: u32 = 10_000;

/// Filters of `txn list` and `export`. All optional; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct TxnFilter {
    /// Created at or after.
    pub from: Option<Timestamp>,
    /// Created before.
    pub to: Option<Timestamp>,
    /// Amount at least (fen).
    pub min: Option<Amount>,
    /// Amount at most (fen).
    pub max: Option<Amount>,
    /// Kind.
    pub kind: Option<TxnKind>,
    /// Status.
    pub status: Option<TxnStatus>,
    /// Method.
    pub method: Option<PaymentMethod>,
    /// Voucher no.
    pub voucher: Option<u32>,
    /// RRN.
    pub rrn: Option<String>,
    /// Operator no.
    pub operator: Option<String>,
    /// Terminal id.
    pub terminal: Option<String>,
    /// Merchant id.
    pub merchant: Option<String>,
    /// Card fingerprint (the PAN's HMAC), to find a card's transactions without its number.
    pub card_fingerprint: Option<String>,
    /// Only rows with an id below this (keyset cursor: the last id of the previous page).
    pub before_id: Option<i64>,
    /// Include hidden records.
    pub include_hidden: bool,
    /// Page size (capped at [`LIST_ROWS_MAX`]); `None` = the cap.
    pub limit: Option<u32>,
    /// Rows to skip.
    pub offset: u32,
}

impl TxnFilter {
    fn where_clause(&self) -> (String, Vec<Box<dyn ToSql>>) {
        let mut clauses: Vec<String> = Vec::new();
        let mut args: Vec<Box<dyn ToSql>> = Vec::new();
        let mut add = |clause: &str, arg: Box<dyn ToSql>| {
            args.push(arg);
            clauses.push(clause.replace('?', &format!("?{}", args.len())));
        };
        if let Some(v) = self.from {
            add("created_at >= ?", Box::new(micros(v)))
        }
        if let Some(v) = self.to {
            add("created_at < ?", Box::new(micros(v)))
        }
        if let Some(v) = self.min {
            add("amount_fen >= ?", Box::new(v.fen()))
        }
        if let Some(v) = self.max {
            add("amount_fen <= ?", Box::new(v.fen()))
        }
        if let Some(v) = self.kind {
            add("kind = ?", Box::new(v.as_str()))
        }
        if let Some(v) = self.status {
            add("status = ?", Box::new(v.as_str()))
        }
        if let Some(v) = self.method {
            add("method = ?", Box::new(v.as_str()))
        }
        if let Some(v) = self.voucher {
            add("voucher_no = ?", Box::new(v))
        }
        if let Some(v) = &self.rrn {
            add("rrn = ?", Box::new(v.clone()))
        }
        if let Some(v) = &self.operator {
            add("operator = ?", Box::new(v.clone()))
        }
        if let Some(v) = &self.terminal {
            add("terminal_id = ?", Box::new(v.clone()))
        }
        if let Some(v) = &self.merchant {
            add("merchant_id = ?", Box::new(v.clone()))
        }
        if let Some(v) = &self.card_fingerprint {
            add("card_fp = ?", Box::new(v.clone()))
        }
        if let Some(v) = self.before_id {
            add("id < ?", Box::new(v))
        }
        if !self.include_hidden {
            clauses.push("hidden = 0".into());
        }
        let sql = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        (sql, args)
    }
}

/// Lists transactions, newest first.
pub fn list(conn: &Connection, f: &TxnFilter) -> rusqlite::Result<Vec<Transaction>> {
    let mut out = Vec::new();
    for_each(conn, f, |t| {
        out.push(t);
        Ok(())
    })?;
    Ok(out)
}

/// Streams transactions, newest first, without holding them all (exports).
pub fn for_each(
    conn: &Connection,
    f: &TxnFilter,
    mut each: impl FnMut(Transaction) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    let (clause, args) = f.where_clause();
    let limit = f.limit.unwrap_or(LIST_ROWS_MAX).min(LIST_ROWS_MAX);
    let sql = format!(
        "SELECT {TXN_COLUMNS} FROM txns {clause} ORDER BY id DESC LIMIT {limit} OFFSET {}",
        f.offset
    );
    let mut stmt = conn.prepare(&sql)?;
    let refs: Vec<&dyn ToSql> = args.iter().map(|b| b.as_ref()).collect();
    let mut rows = stmt.query(refs.as_slice())?;
    while let Some(r) = rows.next()? {
        each(txn_from_row(r)?)?;
    }
    Ok(())
}

/// Counts matching transactions (for progress bars).
pub fn count(conn: &Connection, f: &TxnFilter) -> rusqlite::Result<u64> {
    let (clause, args) = f.where_clause();
    let refs: Vec<&dyn ToSql> = args.iter().map(|b| b.as_ref()).collect();
    conn.query_row(
        &format!("SELECT COUNT(*) FROM txns {clause}"),
        refs.as_slice(),
        |r| r.get(0),
    )
}

/// One transaction.
pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<Transaction>> {
    conn.prepare_cached(&format!("SELECT {TXN_COLUMNS} FROM txns WHERE id = ?1"))?
        .query_row([id], txn_from_row)
        .optional()
}

/// A transaction's children (voids, refunds, completions, reversals of it).
pub fn children(conn: &Connection, id: i64) -> rusqlite::Result<Vec<Transaction>> {
    conn.prepare_cached(&format!(
        "SELECT {TXN_COLUMNS} FROM txns WHERE original_id = ?1 ORDER BY id"
    ))?
    .query_map([id], txn_from_row)?
    .collect()
}

/// An issuer account.
pub fn load_account(conn: &Connection, id: &str) -> rusqlite::Result<Option<Account>> {
    conn.prepare_cached(
        "SELECT id, kind, masked_pan, expiry, pin_hash, credit, status, pin_failures, method, name, balance_fen, held_fen
         FROM accounts WHERE id = ?1",
    )?
    .query_row([id], |r| {
        let kind: String = r.get(1)?;
        let instrument = if kind == "card" {
            let status: String = r.get(6)?;
            Instrument::Card {
                masked_pan: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                expiry: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                pin_hash: r.get(4)?,
                credit: r.get(5)?,
                status: CardStatus::parse(&status).unwrap_or(CardStatus::Lost),
                pin_failures: r.get(7)?,
            }
        } else {
            let method: String = r.get::<_, Option<String>>(8)?.unwrap_or_default();
            Instrument::Wallet {
                method: PaymentMethod::parse(&method).unwrap_or(PaymentMethod::QrUnionpay),
                name: r.get::<_, Option<String>>(9)?.unwrap_or_default(),
            }
        };
        Ok(Account { id: r.get(0)?, instrument, balance_fen: r.get(10)?, held_fen: r.get(11)? })
    })
    .optional()
}

/// Inserts an issuer account (init, demo seeding).
pub fn insert_account(conn: &Connection, a: &Account) -> rusqlite::Result<()> {
    let (kind, masked, expiry, pin, credit, status, method, name) = match &a.instrument {
        Instrument::Card {
            masked_pan,
            expiry,
            pin_hash,
            credit,
            status,
            ..
        } => (
            "card",
            Some(masked_pan.clone()),
            Some(expiry.clone()),
            pin_hash.clone(),
            *credit,
            status.as_str(),
            None,
            None,
        ),
        Instrument::Wallet { method, name } => (
            "wallet",
            None,
            None,
            None,
            false,
            "active",
            Some(method.as_str()),
            Some(name.clone()),
        ),
    };
    conn.execute(
        "INSERT INTO accounts (id, kind, masked_pan, expiry, pin_hash, credit, status, method, name, balance_fen, held_fen, initial_fen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?10)",
        params![a.id, kind, masked, expiry, pin, credit, status, method, name, a.balance_fen, a.held_fen],
    )?;
    Ok(())
}

/// Money conservation: Σ initial balances − Σ balances − Σ net approved (incl. purged) = 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Conservation {
    /// Σ initial balances.
    pub initial_fen: i64,
    /// Σ current balances.
    pub balances_fen: i64,
    /// Σ net money moved by approved live transactions (debits − credits), purged included.
    pub net_fen: i64,
}

impl Conservation {
    /// True when no fen appeared or vanished.
    pub fn holds(&self) -> bool {
        self.balances_fen + self.net_fen == self.initial_fen
    }
}

/// Computes the conservation equation from the journal and the issuer's accounts.
pub fn conservation(conn: &Connection) -> rusqlite::Result<Conservation> {
    let (initial_fen, balances_fen): (i64, i64) = conn.query_row(
        "SELECT COALESCE(SUM(initial_fen),0), COALESCE(SUM(balance_fen),0) FROM accounts",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    // A sale that was voided still moved money twice (out, then back by its void row), so
    // voided originals count as debits and their voids as credits; reversed ones count nowhere.
    let journal: i64 = conn.query_row(
        "SELECT COALESCE(SUM(CASE
            WHEN kind IN ('sale', 'completion') AND status IN ('approved', 'partially_refunded', 'refunded', 'voided') THEN amount_fen
            WHEN kind IN ('refund', 'void', 'completion_void') AND status = 'approved' THEN -amount_fen
            ELSE 0 END), 0) FROM txns WHERE training = 0",
        [],
        |r| r.get(0),
    )?;
    let purged: i64 = conn.query_row(
        "SELECT value FROM counters WHERE name = 'purged_net_fen'",
        [],
        |r| r.get(0),
    )?;
    Ok(Conservation {
        initial_fen,
        balances_fen,
        net_fen: journal + purged,
    })
}
