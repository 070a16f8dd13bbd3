//! Reads: listings with filters, lookups, the audit trail, and the conservation check.

use crate::error::StoreError;
use crate::p;
use crate::rows::{TXN_COLUMNS, micros, txn_from_row};
use crate::sql::{Sql, SqlExt, SqlRow, Value};
use jiff::Timestamp;
use rusqlite::Connection;
use suanpan_core::settlement::BatchLine;
use suanpan_core::{
    Amount, MerchantId, OperatorNo, PaymentMethod, Transaction, TxnKind, TxnStatus,
};
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
    /// The card's last four digits (卡号后四位), for a customer who shows only the card.
    pub card_last4: Option<String>,
    /// A QR wallet's id: that wallet's payments.
    pub wallet: Option<String>,
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
    /// A date-range listing: ordered by (created_at, id), newest first, so its first page
    /// walks the merchant's time index from the range's end and stops after a page,
    /// whatever the range's size (instead of sorting every id of the range). Every other
    /// listing is ordered by id alone.
    pub fn by_time(&self) -> bool {
        self.from.is_some() || self.to.is_some()
    }

    /// The listing's order, newest first.
    fn order_by(&self) -> &'static str {
        if self.by_time() {
            "created_at DESC, id DESC"
        } else {
            "id DESC"
        }
    }

    fn where_clause<'a>(&'a self) -> (String, Vec<Value<'a>>) {
        self.where_clause_at(None)
    }

    /// [`TxnFilter::where_clause`] with the cursor row's `created_at` already known (see
    /// [`cursor_at`]): the keyset of a date range then bounds the time index where the
    /// previous page ended, instead of filtering every row from the range's end.
    fn where_clause_at<'a>(&'a self, cursor_at: Option<i64>) -> (String, Vec<Value<'a>>) {
        let cursor_at = cursor_at.filter(|_| self.by_time() && self.before_id.is_some());
        let mut clauses: Vec<String> = Vec::new();
        let mut args: Vec<Value<'a>> = Vec::new();
        let mut add = |clause: &str, arg: Value<'a>| {
            args.push(arg);
            clauses.push(clause.replace('?', &format!("?{}", args.len())));
        };
        if let Some(v) = self.from {
            add("created_at >= ?", Value::Int(micros(v)))
        }
        match (self.to, cursor_at) {
            // One upper bound on the time index, where the walk starts: the previous page's
            // last instant (or the range's end, should that come first). Two bounds on one
            // column leave the planner one of them, and with the range's end each step of
            // an export walked down from there again: quadratic in the range's size.
            (to, Some(at)) => {
                let end = to.map_or(at, |t| at.min(micros(t).saturating_sub(1)));
                add("created_at <= ?", Value::Int(end))
            }
            (Some(to), None) => add("created_at < ?", Value::Int(micros(to))),
            (None, None) => {}
        }
        if let Some(v) = self.min {
            add("amount_fen >= ?", Value::Int(v.fen()))
        }
        if let Some(v) = self.max {
            add("amount_fen <= ?", Value::Int(v.fen()))
        }
        if let Some(v) = self.kind {
            add("kind = ?", Value::Text(v.as_str()))
        }
        if let Some(v) = self.status {
            add("status = ?", Value::Text(v.as_str()))
        }
        if let Some(v) = self.method {
            add("method = ?", Value::Text(v.as_str()))
        }
        if let Some(v) = self.voucher {
            add("voucher_no = ?", Value::from(v))
        }
        if let Some(v) = &self.rrn {
            add("rrn = ?", Value::Text(v))
        }
        if let Some(v) = &self.operator {
            add("operator = ?", Value::Text(v))
        }
        if let Some(v) = &self.terminal {
            add("terminal_id = ?", Value::Text(v))
        }
        if let Some(v) = &self.merchant {
            add("merchant_id = ?", Value::Text(v))
        }
        if let Some(v) = &self.card_fingerprint {
            add("card_fp = ?", Value::Text(v))
        }
        if let Some(v) = &self.card_last4 {
            // The same expression as the index txns_m_last4 (both backends).
            add(
                "substr(masked_pan, length(masked_pan) - 3) = ?",
                Value::Text(v),
            )
        }
        if let Some(v) = &self.wallet {
            add("wallet_id = ?", Value::Text(v))
        }
        if let Some(v) = self.before_id {
            if let Some(at) = cursor_at {
                // The rest of the previous page's last instant: the pair (created_at, id)
                // below the cursor's, its instant bounded above.
                args.push(Value::Int(at));
                args.push(Value::Int(v));
                let n = args.len();
                clauses.push(format!("(created_at < ?{} OR id < ?{n})", n - 1));
            } else if self.by_time() {
                // The keyset of a date-range listing is the pair (created_at, id) of the
                // previous page's last row, found by its id; an id that names no row lists
                // from the range's newest match.
                args.push(Value::Int(v));
                let n = args.len();
                clauses.push(format!(
                    "(created_at, id) < (COALESCE((SELECT c.created_at FROM txns c WHERE c.id = ?{n}), {}), ?{n})",
                    i64::MAX
                ));
            } else {
                add("id < ?", Value::Int(v))
            }
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

/// Turns a store error back into rusqlite's, for the read closures of `SqliteStore::read`.
fn to_rusqlite(e: StoreError) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

/// Lists transactions, newest first.
pub fn list(conn: &Connection, f: &TxnFilter) -> rusqlite::Result<Vec<Transaction>> {
    list_in(conn, f).map_err(to_rusqlite)
}

/// [`list`] on either backend.
pub fn list_in(conn: &dyn Sql, f: &TxnFilter) -> Result<Vec<Transaction>, StoreError> {
    let mut out = Vec::new();
    for_each_in(conn, f, &mut |t| {
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
    for_each_in(conn, f, &mut |t| each(t).map_err(StoreError::from)).map_err(to_rusqlite)
}

/// [`for_each`] on either backend.
pub fn for_each_in(
    conn: &dyn Sql,
    f: &TxnFilter,
    each: &mut dyn FnMut(Transaction) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let at = cursor_at(conn, f)?;
    let (sql, args) = page_sql(f, at);
    conn.each_row(&sql, &args, &mut |r| each(txn_from_row(r)?))
}

/// The statement of one listing page (newest first) and its arguments: what [`for_each_in`]
/// runs and [`plan_in`] explains.
fn page_sql(f: &TxnFilter, cursor_at: Option<i64>) -> (String, Vec<Value<'_>>) {
    page_sql_of(f, cursor_at, TXN_COLUMNS)
}

/// [`page_sql`] selecting `columns`.
fn page_sql_of<'f>(
    f: &'f TxnFilter,
    cursor_at: Option<i64>,
    columns: &str,
) -> (String, Vec<Value<'f>>) {
    let (clause, args) = f.where_clause_at(cursor_at);
    let limit = f.limit.unwrap_or(LIST_ROWS_MAX).min(LIST_ROWS_MAX);
    // The page's ids first, then their rows: a range filter (amounts) sorts the ids its
    // index gives instead of whole rows, and only the page's rows are read. A date range is
    // ordered by time (see [`TxnFilter::by_time`]): its index gives the page in order.
    let order = f.order_by();
    let sql = format!(
        "SELECT {columns} FROM txns WHERE id IN (SELECT id FROM txns {clause}
         ORDER BY {order} LIMIT {limit} OFFSET {}) ORDER BY {order}",
        f.offset
    );
    (sql, args)
}

/// The query plan of one listing page, one line per plan step: SQLite's `EXPLAIN QUERY
/// PLAN` details (`SEARCH txns USING INDEX …`), PostgreSQL's `EXPLAIN` lines. What the
/// search-at-scale test reads to refuse a full scan of the journal.
pub fn plan_in(conn: &dyn Sql, f: &TxnFilter) -> Result<Vec<String>, StoreError> {
    let at = cursor_at(conn, f)?;
    let (sql, args) = page_sql(f, at);
    explain(conn, &sql, &args)
}

/// The plan of one statement, one line per step (see [`plan_in`]).
fn explain(conn: &dyn Sql, sql: &str, args: &[Value<'_>]) -> Result<Vec<String>, StoreError> {
    let mut lines = Vec::new();
    match conn.dialect() {
        crate::Dialect::Sqlite => {
            conn.each_row(&format!("EXPLAIN QUERY PLAN {sql}"), args, &mut |r| {
                lines.push(r.text(3)?);
                Ok(())
            })?
        }
        crate::Dialect::Postgres => conn.each_row(&format!("EXPLAIN {sql}"), args, &mut |r| {
            lines.push(r.text(0)?);
            Ok(())
        })?,
    }
    Ok(lines)
}

/// Rows per statement when [`stream_in`] walks a whole listing (bounded memory per step on
/// PostgreSQL, whose client reads a statement's rows at once).
pub const STREAM_BATCH_ROWS: u32 = 5_000;

/// Streams **every** matching transaction, newest first, whatever `f.limit` and `f.offset`
/// say: exports must never stop at a page size. Walks the listing by keyset (`id < last`,
/// or `(created_at, id) <` the last row's for a date range, which the time index starts at
/// the range's end) in batches of [`STREAM_BATCH_ROWS`] on the one connection it is given, so a PostgreSQL reader
/// sees one snapshot from the first row to the last.
pub fn stream_in(
    conn: &dyn Sql,
    f: &TxnFilter,
    each: &mut dyn FnMut(Transaction) -> Result<(), StoreError>,
) -> Result<u64, StoreError> {
    stream_rows_in(conn, f, &TXN_ROW, &mut |r| each(txn_from_row(r)?))
}

/// Which columns a stream reads: `list` begins with `id`, and `created_at` is its column at
/// that index (the stream's keyset).
#[derive(Debug, Clone, Copy)]
pub struct Columns {
    /// The `SELECT` list.
    pub list: &'static str,
    /// The index of `created_at` in it.
    pub created_at: usize,
}

/// A whole transaction ([`TXN_COLUMNS`], read by [`txn_from_row`]).
pub const TXN_ROW: Columns = Columns {
    list: TXN_COLUMNS,
    created_at: 22,
};

/// [`stream_in`] reading only `columns` and handing each row as the database gives it: an
/// export reads the cells it writes, without building a [`Transaction`] a row (a third of a
/// million-row CSV's time, docs/BENCHMARKS.md).
pub fn stream_rows_in(
    conn: &dyn Sql,
    f: &TxnFilter,
    columns: &Columns,
    each: &mut dyn FnMut(&dyn SqlRow) -> Result<(), StoreError>,
) -> Result<u64, StoreError> {
    let mut page = TxnFilter {
        limit: Some(STREAM_BATCH_ROWS),
        offset: 0,
        ..f.clone()
    };
    let mut n = 0u64;
    let mut at = cursor_at(conn, &page)?;
    loop {
        let mut last = None;
        let mut got = 0u32;
        let (sql, args) = stream_sql(&page, at, columns.list, conn.dialect());
        conn.each_row(&sql, &args, &mut |r| {
            last = Some((r.i64(0)?, r.i64(columns.created_at)?));
            got += 1;
            each(r)
        })?;
        n += u64::from(got);
        match last {
            Some((id, created)) if got == STREAM_BATCH_ROWS => {
                page.before_id = Some(id);
                at = Some(created);
            }
            _ => return Ok(n),
        }
    }
}

/// The `created_at` of a date-range listing's cursor row (the previous page's last), so the
/// page's statement can start the time index there ([`TxnFilter::where_clause_at`]); `None`
/// when the listing is not by time, has no cursor, or the cursor names no row.
fn cursor_at(conn: &dyn Sql, f: &TxnFilter) -> Result<Option<i64>, StoreError> {
    match f.before_id {
        Some(id) if f.by_time() => conn.row(
            "SELECT created_at FROM txns WHERE id = ?1",
            &[Value::Int(id)],
            |r| r.i64(0),
        ),
        _ => Ok(None),
    }
}

/// The statement of one step of [`stream_in`]. A date range (the exports' usual filter)
/// reads its rows directly in the listing's order from the time index, each row once and
/// nothing sorted but the rows of one instant; the page's two steps ([`page_sql`]: the ids
/// first, then their rows, re-sorted) read every row twice and sorted each batch of whole
/// rows, three times slower on a million-row export. Other filters keep the two steps, where
/// they let a range's index be sorted by id instead of the rows.
///
/// On SQLite, without an amount range the ids come in order too: from the table itself
/// (every row) or from an index that ends in the id (`txns_m` for a merchant's rows, and each
/// equality filter's), so one statement reads each batch directly; the two steps built a
/// temporary B-tree of a batch's ids and looked every row up again (a fifth of an
/// unfiltered export). PostgreSQL's indexes do not end in the id: it keeps the two steps.
fn stream_sql<'f>(
    f: &'f TxnFilter,
    cursor_at: Option<i64>,
    columns: &str,
    dialect: crate::Dialect,
) -> (String, Vec<Value<'f>>) {
    let in_id_order = dialect == crate::Dialect::Sqlite && f.min.is_none() && f.max.is_none();
    if !f.by_time() && !in_id_order {
        return page_sql_of(f, cursor_at, columns);
    }
    let (clause, args) = f.where_clause_at(cursor_at);
    let limit = f.limit.unwrap_or(STREAM_BATCH_ROWS).min(LIST_ROWS_MAX);
    let order = f.order_by();
    (
        format!("SELECT {columns} FROM txns {clause} ORDER BY {order} LIMIT {limit}"),
        args,
    )
}

/// The query plan of one step of [`stream_in`] (see [`plan_in`]).
pub fn stream_plan_in(conn: &dyn Sql, f: &TxnFilter) -> Result<Vec<String>, StoreError> {
    let page = TxnFilter {
        limit: Some(STREAM_BATCH_ROWS),
        offset: 0,
        ..f.clone()
    };
    let at = cursor_at(conn, &page)?;
    let (sql, args) = stream_sql(&page, at, TXN_COLUMNS, conn.dialect());
    explain(conn, &sql, &args)
}

/// Listings count their matches exactly up to this many; past it they say "more than" it,
/// because counting millions of rows on every page view would cost more than the page:
/// counting to 100,001 took 52 ms p95 on a 10M-row store (the page itself 0.2 ms), counting
/// to 10,001 a tenth of it.
pub const COUNT_EXACT_MAX: u64 = 10_000;

/// How many transactions match a filter, as far as it was worth counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MatchCount {
    /// The number of matches, or `limit` when there are more.
    pub count: u64,
    /// False when there are more than `count` matches (counting stopped there).
    pub exact: bool,
}

/// Counts the matches of `f` (its cursor, page size and offset ignored), stopping after
/// `limit`.
pub fn count_up_to_in(conn: &dyn Sql, f: &TxnFilter, limit: u64) -> Result<MatchCount, StoreError> {
    let all = count_filter(f);
    let (sql, args) = count_sql(&all, limit);
    let n = conn.one(&sql, &args, |r| r.i64(0))?;
    let n = u64::try_from(n).unwrap_or(0);
    Ok(MatchCount {
        count: n.min(limit),
        exact: n <= limit,
    })
}

/// The filter a count runs: `f` without its cursor.
fn count_filter(f: &TxnFilter) -> TxnFilter {
    TxnFilter {
        before_id: None,
        ..f.clone()
    }
}

/// The statement of [`count_up_to_in`]: what it runs and [`count_plan_in`] explains.
fn count_sql(f: &TxnFilter, limit: u64) -> (String, Vec<Value<'_>>) {
    let (clause, args) = f.where_clause();
    let probe = limit.saturating_add(1);
    (
        format!("SELECT COUNT(*) FROM (SELECT 1 FROM txns {clause} LIMIT {probe}) AS m"),
        args,
    )
}

/// The query plan of a listing's count up to [`COUNT_EXACT_MAX`], as [`plan_in`] gives a
/// page's.
pub fn count_plan_in(conn: &dyn Sql, f: &TxnFilter) -> Result<Vec<String>, StoreError> {
    let all = count_filter(f);
    let (sql, args) = count_sql(&all, COUNT_EXACT_MAX);
    explain(conn, &sql, &args)
}

/// A business day's figures for one merchant, summed by the database over every row (no
/// page size): the dashboard's tiles and charts. Training and hidden rows do not count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaySummary {
    /// Sales and completions that took money (approved, later voided or refunded included).
    pub sales: u64,
    /// Their amount, fen.
    pub volume_fen: i64,
    /// Approved voids and completion voids.
    pub voids: u64,
    /// Approved refunds.
    pub refunds: u64,
    /// Sales volume (fen) per hour since the start of the day: `(hours since start, fen)`.
    pub volume_by_hour: Vec<(i64, i64)>,
    /// Approved voids and refunds per operator no.: the void-abuse signal.
    pub credits_by_operator: Vec<(String, u64)>,
}

/// The rows a day's sales figures count: a sale or completion that took money.
const SALE_ROWS: &str = "kind IN ('sale', 'completion') AND status NOT IN ('declined', 'reversed')";
/// The rows a day's credit figures count.
const CREDIT_ROWS: &str = "kind IN ('void', 'completion_void', 'refund') AND status = 'approved'";

/// Sums a merchant's day (`from` ≤ created < `to`) in the database.
pub fn day_summary_in(
    conn: &dyn Sql,
    merchant: &str,
    from: Timestamp,
    to: Timestamp,
) -> Result<DaySummary, StoreError> {
    let scope =
        "merchant_id = ?1 AND created_at >= ?2 AND created_at < ?3 AND training = 0 AND hidden = 0";
    let (start, end) = (micros(from), micros(to));
    let mut d = DaySummary::default();
    conn.each_row(
        &format!(
            "SELECT CAST((created_at - ?2) / 3600000000 AS BIGINT) AS h, COUNT(*),
                    CAST(SUM(amount_fen) AS BIGINT)
             FROM txns WHERE {scope} AND {SALE_ROWS} GROUP BY h ORDER BY h"
        ),
        p![merchant, start, end],
        &mut |r| {
            let (count, fen) = (r.i64(1)?, r.i64(2)?);
            d.sales += u64::try_from(count).unwrap_or(0);
            d.volume_fen = d
                .volume_fen
                .checked_add(fen)
                .ok_or_else(|| StoreError::Invalid("day volume overflows i64 fen".into()))?;
            d.volume_by_hour.push((r.i64(0)?, fen));
            Ok(())
        },
    )?;
    let mut by_op = std::collections::BTreeMap::<String, u64>::new();
    conn.each_row(
        &format!(
            "SELECT kind, operator, COUNT(*) FROM txns WHERE {scope} AND {CREDIT_ROWS}
             GROUP BY kind, operator"
        ),
        p![merchant, start, end],
        &mut |r| {
            let n = u64::try_from(r.i64(2)?).unwrap_or(0);
            if r.text(0)? == "refund" {
                d.refunds += n;
            } else {
                d.voids += n;
            }
            *by_op.entry(r.text(1)?).or_default() += n;
            Ok(())
        },
    )?;
    d.credits_by_operator = by_op.into_iter().collect();
    d.credits_by_operator
        .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(d)
}

/// Counts matching transactions (for progress bars).
pub fn count(conn: &Connection, f: &TxnFilter) -> rusqlite::Result<u64> {
    count_in(conn, f).map_err(to_rusqlite)
}

/// [`count`] on either backend.
pub fn count_in(conn: &dyn Sql, f: &TxnFilter) -> Result<u64, StoreError> {
    let (clause, args) = f.where_clause();
    let n = conn.one(&format!("SELECT COUNT(*) FROM txns {clause}"), &args, |r| {
        r.i64(0)
    })?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The voids (sale and completion voids) `operator` of `merchant` booked since `since` that
/// count towards `void_max_per_operator_per_day`: approved ones, and approved ones reversed
/// since (the operator did them).
pub fn operator_voids_since_in(
    conn: &dyn Sql,
    merchant: &MerchantId,
    operator: OperatorNo,
    since: Timestamp,
) -> Result<u32, StoreError> {
    crate::repo::txns::voids_since(conn, merchant, operator, micros(since))
}

/// One transaction.
pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<Transaction>> {
    get_in(conn, id).map_err(to_rusqlite)
}

/// [`get`] on either backend.
pub fn get_in(conn: &dyn Sql, id: i64) -> Result<Option<Transaction>, StoreError> {
    conn.row(
        &format!("SELECT {TXN_COLUMNS} FROM txns WHERE id = ?1"),
        p![id],
        txn_from_row,
    )
}

/// What the terminal said about itself when it sent transaction `id` (8583 field 59:
/// serial number, location), exactly as received; `None` when it sent nothing.
pub fn terminal_info_in(conn: &dyn Sql, id: i64) -> Result<Option<String>, StoreError> {
    let info = conn.row(
        "SELECT terminal_info FROM txns WHERE id = ?1",
        p![id],
        |r| r.opt_text(0),
    )?;
    Ok(info.flatten())
}

/// What settlement and `batch status` total of a terminal's batch (by batch row id), whatever
/// its size: each live (non-training) transaction's kind, status, method and amount, and
/// nothing else (decoding 500 whole rows was 2 of a settlement's 4–5 ms, s24-lines).
pub fn batch_lines_in(
    conn: &dyn Sql,
    terminal: &str,
    batch_id: i64,
) -> Result<Vec<BatchLine>, StoreError> {
    conn.rows(
        "SELECT kind, status, method, amount_fen FROM txns
         WHERE terminal_id = ?1 AND batch_id = ?2 AND training = 0",
        p![terminal, batch_id],
        crate::rows::batch_line_from_row,
    )
}

/// A transaction's children (voids, refunds, completions, reversals of it).
pub fn children(conn: &Connection, id: i64) -> rusqlite::Result<Vec<Transaction>> {
    children_in(conn, id).map_err(to_rusqlite)
}

/// [`children`] on either backend.
pub fn children_in(conn: &dyn Sql, id: i64) -> Result<Vec<Transaction>, StoreError> {
    conn.rows(
        &format!("SELECT {TXN_COLUMNS} FROM txns WHERE original_id = ?1 ORDER BY id"),
        p![id],
        txn_from_row,
    )
}

/// An issuer account.
pub fn load_account(conn: &Connection, id: &str) -> rusqlite::Result<Option<Account>> {
    load_account_in(conn, id, false).map_err(to_rusqlite)
}

// Constant texts, not `format!`: this runs for every sale on the writer.
macro_rules! account_sql {
    ($lock:literal) => {
        concat!(
            "SELECT id, kind, masked_pan, expiry, pin_hash, credit, status, pin_failures, method, name, balance_fen, held_fen
             FROM accounts WHERE id = ?1",
            $lock
        )
    };
}

/// An issuer account by id, locked to the commit (PostgreSQL writers; the group's
/// prefetch takes its accounts with it, `repo::prefetch`).
pub(crate) const ACCOUNT_LOCKED_PG_SQL: &str = account_sql!(" FOR UPDATE");

/// [`load_account`] on either backend; `lock` keeps the row locked until the commit
/// (PostgreSQL writers).
pub fn load_account_in(
    conn: &dyn Sql,
    id: &str,
    lock: bool,
) -> Result<Option<Account>, StoreError> {
    let sql = match (lock, conn.dialect()) {
        (true, crate::sql::Dialect::Postgres) => ACCOUNT_LOCKED_PG_SQL,
        _ => account_sql!(""),
    };
    conn.row(sql, p![id], account_from_row)
}

pub(crate) fn account_from_row(r: &dyn SqlRow) -> Result<Account, StoreError> {
    let kind = r.text(1)?;
    let instrument = if kind == "card" {
        let status = r.text(6)?;
        Instrument::Card {
            masked_pan: r.opt_text(2)?.unwrap_or_default(),
            expiry: r.opt_text(3)?.unwrap_or_default(),
            pin_hash: r.opt_text(4)?,
            credit: r.flag(5)?,
            status: CardStatus::parse(&status).unwrap_or(CardStatus::Lost),
            pin_failures: r.u32(7)?,
        }
    } else {
        let method = r.opt_text(8)?.unwrap_or_default();
        Instrument::Wallet {
            method: PaymentMethod::parse(&method).unwrap_or(PaymentMethod::QrUnionpay),
            name: r.opt_text(9)?.unwrap_or_default(),
        }
    };
    Ok(Account {
        id: r.text(0)?,
        instrument,
        balance_fen: r.i64(10)?,
        held_fen: r.i64(11)?,
    })
}

/// Inserts an issuer account (init, demo seeding).
pub fn insert_account(conn: &dyn Sql, a: &Account) -> Result<(), StoreError> {
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
            Some(masked_pan.as_str()),
            Some(expiry.as_str()),
            pin_hash.as_deref(),
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
            Some(name.as_str()),
        ),
    };
    conn.exec(
        "INSERT INTO accounts (id, kind, masked_pan, expiry, pin_hash, credit, status, method, name, balance_fen, held_fen, initial_fen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?10)",
        p![&a.id, kind, masked, expiry, pin, credit, status, method, name, a.balance_fen, a.held_fen],
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
    conservation_in(conn).map_err(to_rusqlite)
}

/// [`conservation`] on either backend.
pub fn conservation_in(conn: &dyn Sql) -> Result<Conservation, StoreError> {
    let (initial_fen, balances_fen) = conn.one(
        "SELECT CAST(COALESCE(SUM(initial_fen),0) AS BIGINT), CAST(COALESCE(SUM(balance_fen),0) AS BIGINT) FROM accounts",
        p![],
        |r| Ok((r.i64(0)?, r.i64(1)?)),
    )?;
    // A sale that was voided still moved money twice (out, then back by its void row), so
    // voided originals count as debits and their voids as credits; reversed ones count nowhere.
    // Sales decided by the network upstream (and what acts on them) moved money at the
    // switch, not in these accounts: they are reconciled against its clearing file instead.
    let journal = conn.one(
        "SELECT CAST(COALESCE(SUM(CASE
            WHEN kind IN ('sale', 'completion') AND status IN ('approved', 'partially_refunded', 'refunded', 'voided') THEN amount_fen
            WHEN kind IN ('refund', 'void', 'completion_void') AND status = 'approved' THEN -amount_fen
            ELSE 0 END), 0) AS BIGINT) FROM txns t WHERE training = 0
            AND NOT EXISTS (SELECT 1 FROM upstream_requests u
                            WHERE u.txn_id = t.id OR u.txn_id = t.original_id)",
        p![],
        |r| r.i64(0),
    )?;
    let purged = conn.one(
        "SELECT value FROM counters WHERE name = 'purged_net_fen'",
        p![],
        |r| r.i64(0),
    )?;
    Ok(Conservation {
        initial_fen,
        balances_fen,
        net_fen: journal + purged,
    })
}
