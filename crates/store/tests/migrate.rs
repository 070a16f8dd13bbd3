//! Schema migrations: a version-1 store moves to version 2's indexes when opened, a version-2
//! store (SQLite) or version-1 database (PostgreSQL) gains `txns.terminal_info`, and a store
//! from a newer build is refused instead of being misread.

use suanpan_store::{SqliteStore, StoreError};

fn indexes(db: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).expect("open");
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'txns_%' ORDER BY name")
        .expect("prepare");
    stmt.query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// The store's schema version as `meta` records it.
fn version(db: &std::path::Path) -> String {
    let conn = rusqlite::Connection::open(db).expect("open");
    conn.query_row(
        "SELECT value FROM meta WHERE key = 'schema_version'",
        [],
        |r| r.get(0),
    )
    .expect("version")
}

fn set_version(db: &std::path::Path, v: &str) {
    let conn = rusqlite::Connection::open(db).expect("open");
    conn.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
        [v],
    )
    .expect("update");
}

#[test]
fn a_version_1_store_moves_to_the_version_2_indexes() {
    // Goal: stores created before version 2 gain the void-count index and lose the
    // idempotency-key index when opened.
    let dir = tempfile::tempdir().expect("tempdir");
    drop(SqliteStore::create(dir.path(), suanpan_service::open_options()).expect("create"));
    let db = dir.path().join("suanpan.db");
    {
        let conn = rusqlite::Connection::open(&db).expect("open");
        conn.execute_batch("DROP INDEX txns_operator_voids; CREATE UNIQUE INDEX txns_idem_key ON txns(idem_key) WHERE idem_key IS NOT NULL;")
            .expect("back to version 1");
    }
    set_version(&db, "1");
    assert!(!indexes(&db).contains(&"txns_operator_voids".to_owned()));
    drop(SqliteStore::open(dir.path(), suanpan_service::open_options()).expect("open v1"));
    let after = indexes(&db);
    assert!(!after.contains(&"txns_idem_key".to_owned()), "{after:?}");
    assert!(
        after.contains(&"txns_operator_voids".to_owned()),
        "{after:?}"
    );
}

#[test]
fn a_store_from_a_newer_build_is_refused() {
    // Goal: an older binary never writes into a schema it does not know.
    let dir = tempfile::tempdir().expect("tempdir");
    drop(SqliteStore::create(dir.path(), suanpan_service::open_options()).expect("create"));
    set_version(&dir.path().join("suanpan.db"), "99");
    match SqliteStore::open(dir.path(), suanpan_service::open_options()) {
        Err(StoreError::Sqlite(msg)) => assert!(msg.contains("newer"), "{msg}"),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("a newer schema was opened"),
    }
}

fn columns(db: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).expect("open");
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_table_info('txns')")
        .expect("prepare");
    stmt.query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

#[test]
fn a_version_2_store_gains_terminal_info() {
    // Goal: a store from before issue 17 (no `txns.terminal_info`) gains the nullable column
    // when opened, keeps its rows, and records version 3; opening it again changes nothing.
    let dir = tempfile::tempdir().expect("tempdir");
    drop(SqliteStore::create(dir.path(), suanpan_service::open_options()).expect("create"));
    let db = dir.path().join("suanpan.db");
    {
        let conn = rusqlite::Connection::open(&db).expect("open");
        conn.execute_batch("ALTER TABLE txns DROP COLUMN terminal_info")
            .expect("back to version 2");
    }
    set_version(&db, "2");
    assert!(!columns(&db).contains(&"terminal_info".to_owned()));
    drop(SqliteStore::open(dir.path(), suanpan_service::open_options()).expect("open v2"));
    assert!(columns(&db).contains(&"terminal_info".to_owned()));
    drop(SqliteStore::open(dir.path(), suanpan_service::open_options()).expect("open v3 again"));
    // Opening migrates all the way to the latest version.
    assert_eq!(
        version(&db),
        suanpan_store::sqlite::SCHEMA_VERSION.to_string()
    );
}

#[test]
fn a_version_4_store_gains_the_search_indexes() {
    // Goal (issue 16): a store from before the search indexes gets them when opened.
    let dir = tempfile::tempdir().expect("tempdir");
    drop(SqliteStore::create(dir.path(), suanpan_service::open_options()).expect("create"));
    let db = dir.path().join("suanpan.db");
    {
        let conn = rusqlite::Connection::open(&db).expect("open");
        for name in indexes(&db).iter().filter(|n| n.starts_with("txns_m")) {
            conn.execute_batch(&format!("DROP INDEX {name}"))
                .expect("drop");
        }
    }
    set_version(&db, "4");
    assert!(!indexes(&db).contains(&"txns_m_kind".to_owned()));
    drop(SqliteStore::open(dir.path(), suanpan_service::open_options()).expect("open v4"));
    let after = indexes(&db);
    for name in [
        "txns_m",
        "txns_m_created",
        "txns_m_kind",
        "txns_m_last4",
        "txns_m_wallet",
    ] {
        assert!(after.contains(&name.to_owned()), "{name}: {after:?}");
    }
}

#[test]
fn a_version_1_postgres_database_gains_terminal_info() {
    // Goal: the first PostgreSQL migration: a database created before issue 17 gains
    // `txns.terminal_info` when a node opens it, and records schema version 2.
    use suanpan_store::pg::{PgOptions, PgStore, drop_schema};
    let Some(url) = std::env::var("SUANPAN_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("skipped: SUANPAN_TEST_DATABASE_URL is not set");
        return;
    };
    let schema = format!("t_migrate_{}", std::process::id());
    let opts = PgOptions {
        url: url.clone(),
        schema: Some(schema.clone()),
    };
    let store = PgStore::create(opts.clone(), suanpan_service::open_options()).expect("create");
    suanpan_store::setup(&store, |c, _| {
        c.exec("ALTER TABLE txns DROP COLUMN terminal_info", &[])?;
        c.exec(
            "UPDATE meta SET value = '1' WHERE key = 'schema_version'",
            &[],
        )
    })
    .expect("back to version 1");
    drop(store);
    let store = PgStore::open(opts.clone(), suanpan_service::open_options()).expect("open v1");
    let (has, version) = suanpan_store::read(&store, |c| {
        use suanpan_store::sql::SqlExt;
        let has = c.one(
            "SELECT COUNT(*) FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = 'txns' AND column_name = 'terminal_info'",
            &[],
            |r| r.i64(0),
        )?;
        let v = c.one("SELECT value FROM meta WHERE key = 'schema_version'", &[], |r| r.text(0))?;
        Ok((has, v))
    })
    .expect("read");
    drop(store);
    drop_schema(&url, &schema).expect("drop schema");
    // Opening migrates all the way to the latest version.
    let latest = suanpan_store::pg::PG_SCHEMA_VERSION.to_string();
    assert_eq!((has, version.as_str()), (1, latest.as_str()));
}

#[test]
fn a_version_4_store_gains_the_mac_algorithm() {
    // Goal: a store from before issue 11's wire side gains `terminals.mac_algorithm`, every
    // terminal on the POS ECB MAC it used until then, and records the latest version.
    let dir = tempfile::tempdir().expect("tempdir");
    drop(SqliteStore::create(dir.path(), suanpan_service::open_options()).expect("create"));
    let db = dir.path().join("suanpan.db");
    {
        let conn = rusqlite::Connection::open(&db).expect("open");
        conn.execute_batch(
            "ALTER TABLE terminals DROP COLUMN mac_algorithm;
             INSERT INTO merchants (id, name, created_at) VALUES ('898310048990001', 'm', 0);
             INSERT INTO terminals (id, merchant_id, created_at) VALUES ('12345678', '898310048990001', 0);",
        )
        .expect("back to version 4");
    }
    set_version(&db, "4");
    drop(SqliteStore::open(dir.path(), suanpan_service::open_options()).expect("open v4"));
    drop(SqliteStore::open(dir.path(), suanpan_service::open_options()).expect("open again"));
    let conn = rusqlite::Connection::open(&db).expect("open");
    let (v, mac): (String, String) = conn
        .query_row(
            "SELECT (SELECT value FROM meta WHERE key = 'schema_version'), mac_algorithm FROM terminals",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("version and column");
    let latest = suanpan_store::sqlite::SCHEMA_VERSION.to_string();
    assert_eq!((v.as_str(), mac.as_str()), (latest.as_str(), "ecb"));
}

/// The upstream queue's statements (schema 13 / PostgreSQL 12; sealed frames and claims:
/// 18 / 17) against one store: a parked reversal moved into the queue, claim, retry,
/// acknowledgement, a copy not doubled, STANs.
fn upstream_queue_round_trip(store: &dyn suanpan_store::Store) {
    use suanpan_core::TxnId;
    use suanpan_store::repo::upstream as q;
    let keys = store.keys().clone();
    let k = &*keys;
    suanpan_store::setup(store, |c, _| {
        q::park(c, k, "switch", "txn:7", b"\x00\x02ab", 1)?;
        q::park(c, k, "switch", "txn:7", b"\x00\x02cd", 2)?;
        assert_eq!(q::parked(c)?, vec!["txn:7".to_owned()]);
        assert!(q::is_parked(c, "txn:7")?);
        let id = q::activate(c, k, "txn:7", 3, Some(TxnId(7)))?.expect("parked");
        assert!(q::activate(c, k, "txn:7", 3, None)?.is_none(), "moved once");
        assert_eq!(q::saf_of_txn(c, TxnId(7))?, 1);
        let head = q::saf_claim(c, k, "switch", "n1", 10, 1_000)?.expect("queued");
        assert_eq!(
            (head.id, head.frame.as_slice(), head.attempts),
            (id, &b"\x00\x02cd"[..], 0)
        );
        assert!(
            q::saf_claim(c, k, "switch", "n2", 20, 1_000)?.is_none(),
            "claimed by n1"
        );
        q::saf_retry_later(c, id, 1, 99)?;
        assert_eq!(
            q::saf_claim(c, k, "switch", "n2", 30, 1_000)?.map(|h| (h.attempts, h.next_attempt_ms)),
            Some((1, 99)),
            "put back: any node"
        );
        assert!(
            !q::saf_import(c, k, "switch", b"\x00\x02cd", 0, 0, 0)?,
            "not doubled"
        );
        assert!(q::saf_import(c, k, "switch", b"\x00\x02ef", 2, 5, 5)?);
        assert_eq!(q::saf_depth(c)?, 2);
        q::saf_remove(c, id)?;
        assert_eq!(
            q::saf_claim(c, k, "switch", "n1", 40, 1_000)?.map(|h| h.attempts),
            Some(2)
        );
        q::stan_reserve(c, "T1", 1_000, 0)?;
        q::stan_reserve(c, "T1", 2_000, 0)?;
        assert_eq!(q::stan_load(c, "T1")?, Some((2_000, 0)));
        Ok(())
    })
    .expect("queue round trip");
}

#[test]
fn a_version_11_store_gains_the_upstream_queue() {
    // Goal: a store from before the queue moved into it (issue 15) gains its tables when it
    // opens, and their statements run.
    let dir = tempfile::tempdir().expect("tempdir");
    drop(
        suanpan_store::SqliteStore::create(dir.path(), suanpan_service::open_options())
            .expect("create"),
    );
    let db = dir.path().join(suanpan_store::sqlite::DB_FILE);
    {
        let c = rusqlite::Connection::open(&db).expect("open");
        c.execute_batch(
            "DROP TABLE upstream_saf; DROP TABLE upstream_parked; DROP TABLE upstream_stans;",
        )
        .expect("drop");
    }
    set_version(&db, "11");
    let store = suanpan_store::SqliteStore::open(dir.path(), suanpan_service::open_options())
        .expect("open v11");
    upstream_queue_round_trip(&store);
}

#[test]
fn the_upstream_queue_runs_on_postgres() {
    // Goal: the same statements on PostgreSQL (schema 12).
    use suanpan_store::pg::{PgOptions, PgStore, drop_schema};
    let Some(url) = std::env::var("SUANPAN_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("skipped: SUANPAN_TEST_DATABASE_URL is not set");
        return;
    };
    let schema = format!("t_upq_{}", std::process::id());
    let opts = PgOptions {
        url: url.clone(),
        schema: Some(schema.clone()),
    };
    let store = PgStore::create(opts, suanpan_service::open_options()).expect("create");
    upstream_queue_round_trip(&store);
    drop(store);
    drop_schema(&url, &schema).expect("drop schema");
}

#[test]
fn a_version_15_store_loses_the_risk_rules_journal_indexes() {
    // Goal (issue 15): the risk rules' journal indexes are not in the fixed schema. A store
    // from before schema 16 (`txns_card_created`, `txns_terminal_created`) opens at the
    // current version without either rules' index, through schema 16's covering index and
    // schema 20's drop; opening it again changes nothing. `risk_index::apply` owns them.
    let dir = tempfile::tempdir().expect("tempdir");
    drop(
        suanpan_store::SqliteStore::create(dir.path(), suanpan_service::open_options())
            .expect("create"),
    );
    let db = dir.path().join(suanpan_store::sqlite::DB_FILE);
    let indexes = |db: &std::path::Path| -> Vec<String> {
        let c = rusqlite::Connection::open(db).expect("open");
        let mut st = c
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND (name LIKE 'txns_card_%' OR name = 'txns_terminal_created') ORDER BY name")
            .expect("prepare");
        st.query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<Vec<String>, _>>()
            .expect("rows")
    };
    assert_eq!(indexes(&db), Vec::<String>::new());
    {
        let c = rusqlite::Connection::open(&db).expect("open");
        c.execute_batch(
            "CREATE INDEX txns_card_created ON txns(card_fp, created_at) WHERE card_fp IS NOT NULL;
             CREATE INDEX txns_terminal_created ON txns(terminal_id, created_at);",
        )
        .expect("as schema 15 left it");
    }
    set_version(&db, "15");
    for _ in 0..2 {
        drop(
            suanpan_store::SqliteStore::open(dir.path(), suanpan_service::open_options())
                .expect("open"),
        );
        assert_eq!(indexes(&db), Vec::<String>::new());
        assert_eq!(
            version(&db),
            suanpan_store::sqlite::SCHEMA_VERSION.to_string()
        );
    }
}

#[test]
fn a_version_21_store_gets_the_one_void_index_without_an_in_list() {
    // Goal (s20-net): the one-approved-void-per-original index keeps its uniqueness, but its
    // condition has no IN list, so neither booking a row nor changing its status builds an
    // ephemeral B-tree (SQLite codes an IN of more than two constants as one). A store of
    // schema 21 (the IN form) is moved to it when opened; opening it again changes nothing.
    let dir = tempfile::tempdir().expect("tempdir");
    drop(SqliteStore::create(dir.path(), suanpan_service::open_options()).expect("create"));
    let db = dir.path().join(suanpan_store::sqlite::DB_FILE);
    let one_void = |db: &std::path::Path| -> (String, bool) {
        let c = rusqlite::Connection::open(db).expect("open");
        let sql: String = c
            .query_row(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'txns_one_void'",
                [],
                |r| r.get(0),
            )
            .expect("the index");
        let unique: bool = c
            .query_row(
                "SELECT \"unique\" FROM pragma_index_list('txns') WHERE name = 'txns_one_void'",
                [],
                |r| r.get(0),
            )
            .expect("listed");
        (sql, unique)
    };
    let ephemeral = |db: &std::path::Path, sql: &str| -> usize {
        let c = rusqlite::Connection::open(db).expect("open");
        let mut st = c.prepare(&format!("EXPLAIN {sql}")).expect("explain");
        // EXPLAIN does not run the statement; its four parameters only need values.
        st.query_map(rusqlite::params![1, 2, 3, 4], |r| r.get::<_, String>(1))
            .expect("ops")
            .filter(|op| op.as_deref().is_ok_and(|op| op == "OpenEphemeral"))
            .count()
    };
    let phase_two = "UPDATE txns SET status = ?1, response_code = ?2, auth_code = ?3 WHERE id = ?4";
    let check = |db: &std::path::Path| {
        let (sql, unique) = one_void(db);
        assert!(unique, "still UNIQUE: {sql}");
        assert!(!sql.contains(" IN "), "no IN list: {sql}");
        assert!(sql.contains("status = 'approved'"), "{sql}");
        for kind in [
            "'void'",
            "'completion_void'",
            "'preauth_void'",
            "'completion'",
        ] {
            assert!(sql.contains(&format!("kind = {kind}")), "{kind} in {sql}");
        }
        assert_eq!(
            ephemeral(db, phase_two),
            0,
            "a status change builds no B-tree"
        );
    };
    check(&db);
    {
        let c = rusqlite::Connection::open(&db).expect("open");
        c.execute_batch(
            "DROP INDEX txns_one_void;
             CREATE UNIQUE INDEX txns_one_void ON txns(original_id)
                 WHERE kind IN ('void', 'completion_void', 'preauth_void', 'completion') AND status = 'approved';",
        )
        .expect("as schema 21 left it");
    }
    set_version(&db, "21");
    assert_eq!(
        ephemeral(&db, phase_two),
        2,
        "schema 21's index: two a status change"
    );
    for _ in 0..2 {
        drop(SqliteStore::open(dir.path(), suanpan_service::open_options()).expect("open"));
        check(&db);
        assert_eq!(
            version(&db),
            suanpan_store::sqlite::SCHEMA_VERSION.to_string()
        );
    }
}
