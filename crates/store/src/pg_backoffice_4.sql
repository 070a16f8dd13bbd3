-- Back-office schema step 4 on PostgreSQL (see migrate_backoffice_4.sql).
CREATE INDEX IF NOT EXISTS audit_target ON audit (target, seq);
ALTER TABLE review_requests ADD COLUMN IF NOT EXISTS claimed_at BIGINT;
