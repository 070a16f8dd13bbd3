//! Moving an embedded store into PostgreSQL (`suanpan admin copy-to-postgres`): a merchant
//! that grows from one node to several copies its SQLite store, once, into an empty
//! PostgreSQL database (or schema) that the copy creates at [`PG_SCHEMA_VERSION`].
//!
//! - Consistent: the SQLite file is read inside one transaction on a connection in
//!   exclusive locking mode, which SQLite grants only while no other process has the file
//!   open: a served store is refused ([`StoreError::InUse`]), and nothing can write while
//!   the copy reads.
//! - Whole or nothing: the target's tables are created, filled and indexed in one PostgreSQL
//!   transaction; a copy that fails half-way leaves the target as empty as it found it. A
//!   target that holds any relation is refused ([`StoreError::TargetNotEmpty`]).
//! - Every table and every column: the copy refuses to start when a table or a column
//!   exists on one side only ([`columns_not_copied`]), so a migration written for one engine
//!   and forgotten for the other cannot lose data silently. Two rows differ by design
//!   ([`ROWS_NOT_COPIED`]): each engine numbers its own schema steps, and PostgreSQL draws
//!   RRNs from `rrn_seq` (set past SQLite's counter) instead of `counters`.
//! - Fast: each table is one `COPY … FROM STDIN` (text format) fed in chunks of
//!   [`COPY_CHUNK_BYTES`]; foreign keys and every index that backs no constraint are dropped
//!   first and made again after the data (one sort each instead of a B-tree insert per
//!   row), identity sequences are set past the copied ids, and each table is vacuumed and
//!   analyzed at the end so the first queries have statistics and a visibility map.
//!
//! Values: both schemas keep integers (fen, micros, ids, 0/1 flags) and text; SQLite's
//! `INTEGER` becomes `BIGINT` (or `INTEGER` where PostgreSQL's column is one, range-checked
//! here), text stays text. Boolean and `bytea` columns are converted too, should a later
//! step bring one.

use crate::backoffice::BACKOFFICE_SCHEMA_VERSION;
use crate::error::StoreError;
use crate::pg::{PgConn, PgOptions};
use crate::sql::{Sql, SqlExt};
use crate::sqlite::SCHEMA_VERSION;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// Rows that are not copied, by design: (table, key column, key value).
pub const ROWS_NOT_COPIED: &[(&str, &str, &str)] = &[
    // Each engine numbers its own schema steps; the target keeps its own version.
    ("meta", "key", "schema_version"),
    // PostgreSQL's RRNs come from the sequence rrn_seq, set past this counter.
    ("counters", "name", "rrn"),
];
/// Bytes of COPY data sent to PostgreSQL at once.
pub const COPY_CHUNK_BYTES: usize = 4 << 20;
/// How long the copy waits for another process to let go of the SQLite file.
pub const SOURCE_WAIT_MS: u64 = 2_000;
/// Progress is reported at most this often while a table is copied.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// Where a copy is, for the progress line.
#[derive(Debug, Clone, Copy)]
pub enum Step<'a> {
    /// Rows of `table` sent so far, of `total`.
    Rows {
        /// The table.
        table: &'a str,
        /// Rows sent.
        rows: u64,
        /// Rows to send.
        total: u64,
    },
    /// Building the indexes and foreign keys dropped for the load.
    Indexes,
    /// Vacuuming and analyzing the copied tables.
    Analyze,
}

/// What a copy did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CopyReport {
    /// Rows copied per table, by name.
    pub tables: BTreeMap<String, u64>,
    /// Rows copied in all.
    pub rows: u64,
    /// Seconds spent sending rows.
    pub copy_seconds: f64,
    /// Seconds spent building indexes and foreign keys again.
    pub index_seconds: f64,
    /// Seconds spent vacuuming and analyzing.
    pub analyze_seconds: f64,
    /// Seconds in all.
    pub seconds: f64,
}

/// How a PostgreSQL column takes SQLite's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `bigint`.
    Int8,
    /// `integer`: range-checked.
    Int4,
    /// `smallint`: range-checked.
    Int2,
    /// `boolean`: 0 is false, anything else true.
    Bool,
    /// `bytea`: hex.
    Bytes,
    /// Text, and anything PostgreSQL parses from text.
    Text,
}

impl Kind {
    fn of(pg_type: &str) -> Kind {
        match pg_type {
            "bigint" => Kind::Int8,
            "integer" => Kind::Int4,
            "smallint" => Kind::Int2,
            "boolean" => Kind::Bool,
            "bytea" => Kind::Bytes,
            _ => Kind::Text,
        }
    }
}

/// The columns of each table, in the order of its definition.
type Columns = BTreeMap<String, Vec<(String, String)>>;

fn sqlite_columns(src: &Connection) -> Result<Columns, StoreError> {
    let mut stmt = src.prepare(
        "SELECT m.name, c.name, c.type FROM sqlite_master m, pragma_table_info(m.name) c
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
         ORDER BY m.name, c.cid",
    )?;
    let mut out = Columns::new();
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        out.entry(r.get(0)?)
            .or_default()
            .push((r.get(1)?, r.get(2)?));
    }
    Ok(out)
}

fn pg_columns(c: &PgConn) -> Result<Columns, StoreError> {
    let mut out = Columns::new();
    c.each_row(
        "SELECT table_name::text, column_name::text, data_type::text
         FROM information_schema.columns c
         WHERE table_schema = current_schema()
           AND EXISTS (SELECT 1 FROM information_schema.tables t
                       WHERE t.table_schema = c.table_schema AND t.table_name = c.table_name
                         AND t.table_type = 'BASE TABLE')
         ORDER BY table_name, ordinal_position",
        &[],
        &mut |r| {
            out.entry(r.text(0)?)
                .or_default()
                .push((r.text(1)?, r.text(2)?));
            Ok(())
        },
    )?;
    Ok(out)
}

/// Every table and column that exists in one schema and not in the other, as
/// `"sqlite only: txns.x"` / `"postgres only: txns.y"`: what a copy would not carry over.
fn differences(sqlite: &Columns, pg: &Columns) -> Vec<String> {
    let names = |c: &Columns| -> BTreeSet<String> {
        c.iter()
            .flat_map(|(t, cols)| {
                std::iter::once(t.clone()).chain(cols.iter().map(move |(n, _)| format!("{t}.{n}")))
            })
            .collect()
    };
    let (s, p) = (names(sqlite), names(pg));
    s.difference(&p)
        .map(|n| format!("sqlite only: {n}"))
        .chain(p.difference(&s).map(|n| format!("postgres only: {n}")))
        .collect()
}

/// What of the SQLite store at `db` the PostgreSQL store at `pg` has no table or column for,
/// and the reverse (both at this build's schema): empty when a copy carries everything.
pub fn columns_not_copied(db: &Path, pg: &PgOptions) -> Result<Vec<String>, StoreError> {
    let src = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let conn = PgConn::connect_job(pg)?;
    Ok(differences(&sqlite_columns(&src)?, &pg_columns(&conn)?))
}

/// Opens the SQLite file for the copy: exclusive, so that no other process has it open (a
/// served store is refused) and nothing writes while it is read.
fn open_source(db: &Path) -> Result<Connection, StoreError> {
    if !db.exists() {
        return Err(StoreError::NotInitialized(db.display().to_string()));
    }
    let src = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    src.busy_timeout(Duration::from_millis(SOURCE_WAIT_MS))?;
    src.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
    match src.execute_batch("BEGIN EXCLUSIVE") {
        Ok(()) => Ok(src),
        Err(e) => match StoreError::from(e) {
            StoreError::Busy => Err(StoreError::InUse(db.display().to_string())),
            e => Err(e),
        },
    }
}

/// Refuses, as the copy would, when another process has the SQLite file open: callers
/// check before they open the store themselves.
pub fn check_not_in_use(db: &Path) -> Result<(), StoreError> {
    open_source(db).map(drop)
}

fn meta(src: &Connection, key: &str) -> Result<Option<i64>, StoreError> {
    Ok(src
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| {
            r.get::<_, String>(0)
        })
        .optional()?
        .and_then(|v| v.parse().ok()))
}

/// Makes sure the target schema exists and holds nothing. Without a schema in `pg`, the
/// first schema of the URL's `search_path` is created when it does not exist.
fn prepare_target(c: &PgConn, pg: &PgOptions) -> Result<(), StoreError> {
    if let Some(schema) = &pg.schema {
        c.batch(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))?;
    }
    let current = |c: &PgConn| c.one("SELECT current_schema()::text", &[], |r| r.opt_text(0));
    if current(c)?.is_none() {
        // The URL names a schema (options=-csearch_path=…) that is not there yet.
        let path = c.one("SELECT current_setting('search_path')", &[], |r| r.text(0))?;
        let first = path
            .split(',')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches('"');
        if first.is_empty()
            || !first
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(StoreError::Invalid(format!(
                "search_path {path:?}: name one schema of lowercase letters, digits and _"
            )));
        }
        c.batch(&format!("CREATE SCHEMA IF NOT EXISTS {first}"))?;
    }
    Ok(())
}

/// The relations the target schema holds (tables, sequences, views…).
fn relations(c: &PgConn) -> Result<i64, StoreError> {
    c.one(
        "SELECT COUNT(*) FROM pg_class WHERE relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())",
        &[],
        |r| r.i64(0),
    )
}

/// Pairs of SQL (drop now, make again after the load) for the foreign keys and the indexes
/// that back no constraint in the target schema.
fn droppable(c: &PgConn) -> Result<Vec<(String, String)>, StoreError> {
    let mut out = c.rows(
        "SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname),
                format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname,
                       pg_get_constraintdef(oid))
         FROM pg_constraint
         WHERE contype = 'f' AND connamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
         ORDER BY conname",
        &[],
        |r| Ok((r.text(0)?, r.text(1)?)),
    )?;
    out.extend(c.rows(
        "SELECT format('DROP INDEX %I', i.relname), pg_get_indexdef(i.oid)
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
         WHERE i.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)
         ORDER BY i.relname",
        &[],
        |r| Ok((r.text(0)?, r.text(1)?)),
    )?);
    Ok(out)
}

/// Appends one value in COPY's text format.
fn put_value(out: &mut Vec<u8>, v: ValueRef<'_>, kind: Kind, at: &str) -> Result<(), StoreError> {
    let bad = |why: String| StoreError::Invalid(format!("{at}: {why}"));
    match (v, kind) {
        (ValueRef::Null, _) => out.extend_from_slice(b"\\N"),
        (ValueRef::Integer(i), Kind::Bool) => out.push(if i == 0 { b'f' } else { b't' }),
        (ValueRef::Integer(i), Kind::Int4) if i32::try_from(i).is_err() => {
            return Err(bad(format!("{i} does not fit PostgreSQL's integer")));
        }
        (ValueRef::Integer(i), Kind::Int2) if i16::try_from(i).is_err() => {
            return Err(bad(format!("{i} does not fit PostgreSQL's smallint")));
        }
        // Writing into a Vec cannot fail.
        (ValueRef::Integer(i), _) => {
            let _ = write!(out, "{i}");
        }
        (ValueRef::Real(f), _) => {
            let _ = write!(out, "{f}");
        }
        (ValueRef::Text(t) | ValueRef::Blob(t), Kind::Bytes) => {
            out.extend_from_slice(b"\\\\x");
            out.extend_from_slice(hex::encode(t).as_bytes());
        }
        (ValueRef::Text(t) | ValueRef::Blob(t), _) => {
            if std::str::from_utf8(t).is_err() {
                return Err(bad("not UTF-8 text".into()));
            }
            for &b in t {
                match b {
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    0 => return Err(bad("a NUL character, which PostgreSQL text refuses".into())),
                    b => out.push(b),
                }
            }
        }
    }
    Ok(())
}

/// Copies one table's rows; returns how many.
fn copy_table(
    src: &Connection,
    c: &PgConn,
    table: &str,
    cols: &[(String, Kind)],
    progress: &mut dyn FnMut(Step<'_>),
) -> Result<u64, StoreError> {
    let skip: Vec<String> = ROWS_NOT_COPIED
        .iter()
        .filter(|(t, _, _)| *t == table)
        .map(|(_, col, key)| format!("{col} <> '{key}'"))
        .collect();
    let filter = if skip.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", skip.join(" AND "))
    };
    let list = cols
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let total: i64 = src.query_row(&format!("SELECT COUNT(*) FROM {table}{filter}"), [], |r| {
        r.get(0)
    })?;
    let total = u64::try_from(total).unwrap_or(0);
    let mut stmt = src.prepare(&format!("SELECT {list} FROM {table}{filter}"))?;
    let mut rows = stmt.query([])?;
    // Named in a refusal: `txns.amount_fen`.
    let labels: Vec<String> = cols.iter().map(|(n, _)| format!("{table}.{n}")).collect();
    let mut sent = 0u64;
    let mut shown = Instant::now();
    let mut next = || -> Result<Option<bytes::Bytes>, StoreError> {
        let mut buf = Vec::with_capacity(COPY_CHUNK_BYTES + 64 * 1024);
        while buf.len() < COPY_CHUNK_BYTES {
            let Some(r) = rows.next()? else { break };
            for (i, ((_, kind), label)) in cols.iter().zip(&labels).enumerate() {
                if i > 0 {
                    buf.push(b'\t');
                }
                put_value(&mut buf, r.get_ref(i)?, *kind, label)?;
            }
            buf.push(b'\n');
            sent += 1;
        }
        if shown.elapsed() >= PROGRESS_EVERY {
            shown = Instant::now();
            progress(Step::Rows {
                table,
                rows: sent,
                total,
            });
        }
        Ok((!buf.is_empty()).then(|| bytes::Bytes::from(buf)))
    };
    let stored = c.copy_in(&format!("COPY {table} ({list}) FROM STDIN"), &mut next)?;
    if stored != sent {
        return Err(StoreError::Sqlite(format!(
            "{table}: {sent} rows sent, {stored} stored"
        )));
    }
    progress(Step::Rows {
        table,
        rows: sent,
        total,
    });
    Ok(sent)
}

/// Sets each identity column's sequence past the largest copied id (and past the id
/// SQLite's `AUTOINCREMENT` last handed out, which may belong to a deleted row), and
/// `rrn_seq` past SQLite's last RRN.
fn set_sequences(src: &Connection, c: &PgConn) -> Result<(), StoreError> {
    let mut autoincrement: BTreeMap<String, i64> = BTreeMap::new();
    let has_seq: bool = src.query_row(
        "SELECT COUNT(*) > 0 FROM sqlite_master WHERE name = 'sqlite_sequence'",
        [],
        |r| r.get(0),
    )?;
    if has_seq {
        let mut stmt = src.prepare("SELECT name, seq FROM sqlite_sequence")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            autoincrement.insert(r.get(0)?, r.get(1)?);
        }
    }
    let identities = c.rows(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND is_identity = 'YES'",
        &[],
        |r| Ok((r.text(0)?, r.text(1)?)),
    )?;
    for (table, col) in identities {
        let max = c.one(
            &format!("SELECT COALESCE(MAX({col}), 0) FROM {table}"),
            &[],
            |r| r.i64(0),
        )?;
        let last = max.max(autoincrement.get(&table).copied().unwrap_or(0));
        if last > 0 {
            c.exec(
                &format!("SELECT setval(pg_get_serial_sequence('{table}', '{col}'), ?1)"),
                crate::p![last],
            )?;
        }
    }
    let rrn: i64 = src
        .query_row("SELECT value FROM counters WHERE name = 'rrn'", [], |r| {
            r.get(0)
        })
        .optional()?
        .unwrap_or(0);
    // The next nextval returns SQLite's next RRN.
    c.exec("SELECT setval('rrn_seq', ?1, false)", crate::p![rrn + 1])?;
    Ok(())
}

/// Copies the SQLite store at `db` (this build's schema, not in use by any other process)
/// into the empty PostgreSQL database or schema `pg`; `progress` hears where it is.
pub fn copy_to_postgres(
    db: &Path,
    pg: &PgOptions,
    progress: &mut dyn FnMut(Step<'_>),
) -> Result<CopyReport, StoreError> {
    let started = Instant::now();
    let src = open_source(db)?;
    let version = meta(&src, "schema_version")?.unwrap_or(0);
    let bo_version = meta(&src, "backoffice_schema_version")?.unwrap_or(0);
    if version != SCHEMA_VERSION || bo_version != BACKOFFICE_SCHEMA_VERSION {
        return Err(StoreError::Invalid(format!(
            "the store has schema version {version} (back-office {bo_version}), this build writes \
             {SCHEMA_VERSION} ({BACKOFFICE_SCHEMA_VERSION}): open it once with this build first"
        )));
    }
    let c = PgConn::connect_job(pg)?;
    prepare_target(&c, pg)?;
    let target = crate::pg::describe(pg);
    if relations(&c)? > 0 {
        return Err(StoreError::TargetNotEmpty(target));
    }
    let mut report = CopyReport::default();
    c.in_transaction("BEGIN", |c| {
        crate::pg::ddl_lock(c)?;
        // A second copy into the same target at the same moment finds the first one's tables.
        if relations(c)? > 0 {
            return Err(StoreError::TargetNotEmpty(target.clone()));
        }
        c.batch("SET LOCAL maintenance_work_mem = '1GB'")?;
        crate::pg::create_tables(c)?;
        for step in crate::backoffice::BACKOFFICE_MIGRATIONS {
            c.batch(step.postgres)?;
        }
        let sqlite = sqlite_columns(&src)?;
        let target_cols = pg_columns(c)?;
        let missing = differences(&sqlite, &target_cols);
        if !missing.is_empty() {
            return Err(StoreError::Invalid(format!(
                "the two schemas differ, so the copy would lose data: {}",
                missing.join(", ")
            )));
        }
        let rebuild = droppable(c)?;
        for (drop, _) in &rebuild {
            c.batch(drop)?;
        }
        // Rows the schema steps seeded (counters, defaults) give way to the store's own.
        c.batch("DELETE FROM meta WHERE key <> 'schema_version'")?;
        for table in sqlite.keys().filter(|t| *t != "meta") {
            c.batch(&format!("DELETE FROM {table}"))?;
        }
        let copying = Instant::now();
        for (table, cols) in &sqlite {
            let types: BTreeMap<&str, &str> = target_cols[table]
                .iter()
                .map(|(n, t)| (n.as_str(), t.as_str()))
                .collect();
            let cols: Vec<(String, Kind)> = cols
                .iter()
                .map(|(n, _)| (n.clone(), Kind::of(types[n.as_str()])))
                .collect();
            let n = copy_table(&src, c, table, &cols, progress)?;
            report.tables.insert(table.clone(), n);
            report.rows += n;
        }
        report.copy_seconds = copying.elapsed().as_secs_f64();
        progress(Step::Indexes);
        let indexing = Instant::now();
        // Indexes first: the foreign keys are checked through the primary keys' indexes.
        for (_, make) in rebuild.iter().rev() {
            c.batch(make)?;
        }
        report.index_seconds = indexing.elapsed().as_secs_f64();
        set_sequences(&src, c)?;
        Ok(())
    })?;
    src.execute_batch("COMMIT")?;
    drop(src);
    progress(Step::Analyze);
    let analyzing = Instant::now();
    for table in report.tables.keys() {
        c.batch(&format!("VACUUM (ANALYZE) {table}"))?;
    }
    report.analyze_seconds = analyzing.elapsed().as_secs_f64();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(v: ValueRef<'_>, kind: Kind) -> Result<String, StoreError> {
        let mut out = Vec::new();
        put_value(&mut out, v, kind, "t.c")?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    // Goal: each value reaches COPY's text format as PostgreSQL reads it back: NULL, the
    // escapes of text, integers, 0/1 as booleans, bytes as hex; a value the column cannot
    // hold is refused with the column's name.
    #[test]
    fn values_take_copy_text_format() {
        assert_eq!(put(ValueRef::Null, Kind::Text).ok(), Some("\\N".into()));
        assert_eq!(
            put(ValueRef::Text(b"a\\b\tc\nd\re"), Kind::Text).ok(),
            Some("a\\\\b\\tc\\nd\\re".into())
        );
        assert_eq!(
            put(ValueRef::Text("顾客取消".as_bytes()), Kind::Text).ok(),
            Some("顾客取消".into())
        );
        assert_eq!(
            put(ValueRef::Integer(-42), Kind::Int8).ok(),
            Some("-42".into())
        );
        assert_eq!(put(ValueRef::Integer(0), Kind::Bool).ok(), Some("f".into()));
        assert_eq!(put(ValueRef::Integer(1), Kind::Bool).ok(), Some("t".into()));
        assert_eq!(
            put(ValueRef::Blob(&[0, 255]), Kind::Bytes).ok(),
            Some("\\\\x00ff".into())
        );
        assert_eq!(
            put(ValueRef::Integer(70_000), Kind::Int4).ok(),
            Some("70000".into())
        );
        for (v, kind) in [
            (ValueRef::Integer(1 << 40), Kind::Int4),
            (ValueRef::Integer(70_000), Kind::Int2),
            (ValueRef::Text(b"a\0b"), Kind::Text),
            (ValueRef::Blob(&[0xff, 0xfe]), Kind::Text),
        ] {
            match put(v, kind) {
                Err(StoreError::Invalid(why)) => assert!(why.starts_with("t.c: "), "{why}"),
                other => panic!("{v:?} as {kind:?}: {other:?}"),
            }
        }
    }
}
