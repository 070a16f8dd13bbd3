//! Schema migrations: a version-1 store moves to version 2's indexes when opened, and a store from
//! a newer build is refused instead of being misread.

use suanpan_store::{OpenOptions, SqliteStore, StoreError};

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
    drop(SqliteStore::create(dir.path(), OpenOptions::default()).expect("create"));
    let db = dir.path().join("suanpan.db");
    {
        let conn = rusqlite::Connection::open(&db).expect("open");
        conn.execute_batch("DROP INDEX txns_operator_voids; CREATE UNIQUE INDEX txns_idem_key ON txns(idem_key) WHERE idem_key IS NOT NULL;")
            .expect("back to version 1");
    }
    set_version(&db, "1");
    assert!(!indexes(&db).contains(&"txns_operator_voids".to_owned()));
    drop(SqliteStore::open(dir.path(), OpenOptions::default()).expect("open v1"));
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
    drop(SqliteStore::create(dir.path(), OpenOptions::default()).expect("create"));
    set_version(&dir.path().join("suanpan.db"), "99");
    match SqliteStore::open(dir.path(), OpenOptions::default()) {
        Err(StoreError::Sqlite(msg)) => assert!(msg.contains("newer"), "{msg}"),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("a newer schema was opened"),
    }
}
