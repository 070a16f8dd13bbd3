-- PostgreSQL schema 17 (issue 15), as migrate_18.sql: a claim (lease) on a queued advice, so
-- that of several nodes draining one queue only one sends an advice at a time (taken with
-- `FOR UPDATE SKIP LOCKED`; a node that dies releases by expiry). Idempotent.
ALTER TABLE upstream_saf ADD COLUMN IF NOT EXISTS claimed_by TEXT;
ALTER TABLE upstream_saf ADD COLUMN IF NOT EXISTS claimed_until BIGINT;
