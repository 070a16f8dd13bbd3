-- PostgreSQL schema version 4 (issue 11, the wire): each terminal's MAC algorithm, `ecb` or
-- `x919`; the same column as SQLite's migrate_5.sql.
ALTER TABLE terminals ADD COLUMN IF NOT EXISTS mac_algorithm TEXT NOT NULL DEFAULT 'ecb';
