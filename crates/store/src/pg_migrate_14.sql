-- PostgreSQL schema 14 (issue 13), as migrate_15.sql: a terminal its merchant's supervisor
-- paused; the host refuses its new money (58) until resumed. Idempotent.
ALTER TABLE terminals ADD COLUMN IF NOT EXISTS paused_at BIGINT;
ALTER TABLE terminals ADD COLUMN IF NOT EXISTS paused_by TEXT;
ALTER TABLE terminals ADD COLUMN IF NOT EXISTS pause_reason TEXT;
