-- PostgreSQL schema version 3 (issue 12): reversals answered 00 whose request had not
-- arrived (冲正先到); the same table as SQLite's migrate_4.sql.
CREATE TABLE IF NOT EXISTS orphan_reversals (
    terminal_id TEXT NOT NULL,
    batch_no    BIGINT NOT NULL,
    voucher_no  BIGINT NOT NULL,
    training    BIGINT NOT NULL,
    amount_fen  BIGINT,
    reason      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (terminal_id, batch_no, voucher_no, training)
);
CREATE INDEX IF NOT EXISTS orphan_reversals_created ON orphan_reversals(created_at);
