//! The small SQL-access layer under the engine, so the glue between the store and the core
//! rules exists once for both backends.
//!
//! Statements are written once with positional `?N` parameters in the SQL both engines
//! understand; PostgreSQL gets them rewritten to `$N`. Values are a tiny enum (integer, text,
//! null) and rows are read by typed getters. Where the engines differ (RRN allocation, row
//! locks) the engine asks [`Sql::dialect`].

use crate::error::StoreError;

/// Which engine is behind a [`Sql`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite: one writer per file; its write lock serializes every decision.
    Sqlite,
    /// PostgreSQL: several writers (nodes); row locks and constraints serialize decisions.
    Postgres,
}

impl Dialect {
    /// The clause that locks the selected rows until the end of the transaction: nothing on
    /// SQLite (the whole database is already locked by `BEGIN IMMEDIATE`), `FOR UPDATE` on
    /// PostgreSQL.
    pub fn lock_rows(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }
}

/// One parameter value. Booleans are integers 0/1 on both engines (the schemas store flags
/// as integers, so the same SQL text compares them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// SQL NULL.
    Null,
    /// An integer (fen, ids, micros, flags).
    Int(i64),
    /// Text.
    Text(&'a str),
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<u32> for Value<'_> {
    fn from(v: u32) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<i32> for Value<'_> {
    fn from(v: i32) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Value::Int(i64::from(v))
    }
}
impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Text(v)
    }
}
impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Value::Text(v.as_str())
    }
}
impl<'a, T: Into<Value<'a>>> From<Option<T>> for Value<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Builds a parameter slice: `p![a, b, c]`.
#[macro_export]
macro_rules! p {
    ($($v:expr),* $(,)?) => {
        &[$($crate::sql::Value::from($v)),*][..]
    };
}

/// A row being read. Column indexes are 0-based, in the order of the `SELECT`.
pub trait SqlRow {
    /// An integer column (`None` for NULL).
    fn opt_i64(&self, i: usize) -> Result<Option<i64>, StoreError>;
    /// A text column (`None` for NULL).
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError>;

    /// An integer column that must not be NULL.
    fn i64(&self, i: usize) -> Result<i64, StoreError> {
        self.opt_i64(i)?
            .ok_or_else(|| StoreError::Sqlite(format!("column {i} is NULL")))
    }
    /// A text column that must not be NULL.
    fn text(&self, i: usize) -> Result<String, StoreError> {
        self.opt_text(i)?
            .ok_or_else(|| StoreError::Sqlite(format!("column {i} is NULL")))
    }
    /// A flag column (0/1).
    fn flag(&self, i: usize) -> Result<bool, StoreError> {
        Ok(self.i64(i)? != 0)
    }
    /// An unsigned 32-bit column (voucher and batch numbers, counts).
    fn u32(&self, i: usize) -> Result<u32, StoreError> {
        let v = self.i64(i)?;
        u32::try_from(v).map_err(|_| StoreError::Sqlite(format!("column {i}: {v} out of range")))
    }
    /// Appends a text column to `out` (nothing for NULL); false when it was NULL. The
    /// default reads it as [`SqlRow::opt_text`] does; SQLite lends the row's own bytes, so
    /// an export of a million rows does not allocate a string per cell.
    fn push_text(&self, i: usize, out: &mut String) -> Result<bool, StoreError> {
        Ok(match self.opt_text(i)? {
            Some(s) => {
                out.push_str(&s);
                true
            }
            None => false,
        })
    }
}

/// What the engine needs from a connection inside a transaction.
pub trait Sql {
    /// The engine behind it.
    fn dialect(&self) -> Dialect;
    /// Runs a statement; returns the rows changed.
    fn exec(&self, sql: &str, params: &[Value<'_>]) -> Result<u64, StoreError>;
    /// Runs an `INSERT` into a table with an `id` key; returns the new row's id.
    fn insert_id(&self, sql: &str, params: &[Value<'_>]) -> Result<i64, StoreError>;
    /// Runs statements without parameters, separated by `;` (migrations).
    fn exec_batch(&self, sql: &str) -> Result<(), StoreError>;
    /// Runs statements whose answers nothing needs before the last one is sent (a group's
    /// closing writes), in order, and fails when any fails. PostgreSQL sends them all before
    /// reading the first answer: one round trip for all instead of one each.
    fn exec_all(&self, stmts: &[(&str, &[Value<'_>])]) -> Result<(), StoreError> {
        for (sql, params) in stmts {
            self.exec(sql, params)?;
        }
        Ok(())
    }
    /// Runs a write whose answer nothing reads (a booked transaction whose id the group took
    /// beforehand): PostgreSQL sends it ahead of the connection's next statement, in the same
    /// round trip, and a failure fails that statement; SQLite runs it now.
    fn exec_later(&self, sql: &str, params: &[Value<'_>]) -> Result<(), StoreError> {
        self.exec(sql, params).map(|_| ())
    }
    /// Runs queries whose parameters need none of the others' answers (what a group will
    /// read, fetched ahead) and hands each row to `each` with its query's index, in order.
    /// PostgreSQL sends them all before reading the first answer: one round trip for all.
    fn each_row_all(
        &self,
        queries: &[(&str, &[Value<'_>])],
        each: &mut dyn FnMut(usize, &dyn SqlRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        for (i, (sql, params)) in queries.iter().enumerate() {
            self.each_row(sql, params, &mut |r| each(i, r))?;
        }
        Ok(())
    }
    /// Runs a query and hands each row to `each`, in order.
    fn each_row(
        &self,
        sql: &str,
        params: &[Value<'_>],
        each: &mut dyn FnMut(&dyn SqlRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
}

/// Conveniences over [`Sql`]: the first row, all rows.
pub trait SqlExt: Sql {
    /// The first row, if any.
    fn row<T>(
        &self,
        sql: &str,
        params: &[Value<'_>],
        f: impl Fn(&dyn SqlRow) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let mut out = None;
        self.each_row(sql, params, &mut |r| {
            if out.is_none() {
                out = Some(f(r)?);
            }
            Ok(())
        })?;
        Ok(out)
    }
    /// Exactly one row (an aggregate, a counter): its absence is a corrupted store.
    fn one<T>(
        &self,
        sql: &str,
        params: &[Value<'_>],
        f: impl Fn(&dyn SqlRow) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.row(sql, params, f)?
            .ok_or_else(|| StoreError::Sqlite(format!("no row for: {sql}")))
    }
    /// Every row.
    fn rows<T>(
        &self,
        sql: &str,
        params: &[Value<'_>],
        f: impl Fn(&dyn SqlRow) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        self.each_row(sql, params, &mut |r| {
            out.push(f(r)?);
            Ok(())
        })?;
        Ok(out)
    }
}

impl<S: Sql + ?Sized> SqlExt for S {}

/// Rewrites SQLite's `?N` parameters to PostgreSQL's `$N`. Our statements hold no `?` inside
/// string literals, which the tests of this module and every query run on both engines check.
pub fn dollar_params(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(|n| n.is_ascii_digit()) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

// ----- SQLite ---------------------------------------------------------------------------------

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

impl SqlRow for rusqlite::Row<'_> {
    fn opt_i64(&self, i: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.get(i)?)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        Ok(self.get(i)?)
    }
    fn push_text(&self, i: usize, out: &mut String) -> Result<bool, StoreError> {
        let text = self
            .get_ref(i)?
            .as_str_or_null()
            .map_err(|e| StoreError::Sqlite(format!("column {i}: {e}")))?;
        Ok(match text {
            Some(t) => {
                out.push_str(t);
                true
            }
            None => false,
        })
    }
}

impl Sql for rusqlite::Connection {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
    fn exec(&self, sql: &str, params: &[Value<'_>]) -> Result<u64, StoreError> {
        let n = self
            .prepare_cached(sql)?
            .execute(rusqlite::params_from_iter(params))?;
        Ok(n as u64)
    }
    fn insert_id(&self, sql: &str, params: &[Value<'_>]) -> Result<i64, StoreError> {
        self.exec(sql, params)?;
        Ok(self.last_insert_rowid())
    }
    fn exec_batch(&self, sql: &str) -> Result<(), StoreError> {
        Ok(self.execute_batch(sql)?)
    }
    fn each_row(
        &self,
        sql: &str,
        params: &[Value<'_>],
        each: &mut dyn FnMut(&dyn SqlRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut stmt = self.prepare_cached(sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        while let Some(r) = rows.next()? {
            each(r)?;
        }
        Ok(())
    }
}

/// A transaction is its connection (setup closures get one).
impl Sql for rusqlite::Transaction<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
    fn exec(&self, sql: &str, params: &[Value<'_>]) -> Result<u64, StoreError> {
        Sql::exec(&**self, sql, params)
    }
    fn insert_id(&self, sql: &str, params: &[Value<'_>]) -> Result<i64, StoreError> {
        Sql::insert_id(&**self, sql, params)
    }
    fn exec_batch(&self, sql: &str) -> Result<(), StoreError> {
        Sql::exec_batch(&**self, sql)
    }
    fn each_row(
        &self,
        sql: &str,
        params: &[Value<'_>],
        each: &mut dyn FnMut(&dyn SqlRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        Sql::each_row(&**self, sql, params, each)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn question_marks_with_digits_become_dollars() {
        // Goal: the rewrite touches positional parameters only.
        assert_eq!(
            dollar_params("SELECT a FROM t WHERE x = ?1 AND y = ?12 AND z <> '?'"),
            "SELECT a FROM t WHERE x = $1 AND y = $12 AND z <> '?'"
        );
    }

    #[test]
    fn values_bind_and_read_back_on_sqlite() {
        // Goal: integers, text, NULL and flags survive a round trip through the trait.
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.exec(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, s TEXT)",
            p![],
        )
        .unwrap();
        let id = c
            .insert_id(
                "INSERT INTO t (n, s) VALUES (?1, ?2)",
                p![true, Some("文字")],
            )
            .unwrap();
        c.insert_id(
            "INSERT INTO t (n, s) VALUES (?1, ?2)",
            p![7_i64, None::<&str>],
        )
        .unwrap();
        let got = c
            .rows("SELECT n, s FROM t ORDER BY id", p![], |r| {
                Ok((r.flag(0)?, r.i64(0)?, r.opt_text(1)?))
            })
            .unwrap();
        assert_eq!(id, 1);
        assert_eq!(
            got,
            vec![(true, 1, Some("文字".to_owned())), (true, 7, None)]
        );
        assert!(
            c.row("SELECT n FROM t WHERE id = 9", p![], |r| r.i64(0))
                .unwrap()
                .is_none()
        );
    }
}
