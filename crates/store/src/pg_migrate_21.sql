-- PostgreSQL schema 21 (s17-refund), as migrate_21.sql: the end of an upstream sale's refund
-- window beside its sealed card number, and the partial index the scheduler forgets card
-- numbers by once their window closes. Idempotent.
ALTER TABLE upstream_requests ADD COLUMN IF NOT EXISTS pan_until BIGINT;
CREATE INDEX IF NOT EXISTS upstream_requests_pan_until ON upstream_requests (pan_until)
    WHERE pan IS NOT NULL;
