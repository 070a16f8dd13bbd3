-- Back-office schema step 5 on PostgreSQL (see migrate_backoffice_5.sql).
ALTER TABLE staff_sessions ADD COLUMN IF NOT EXISTS last_seen_at BIGINT NOT NULL DEFAULT 0;
UPDATE staff_sessions SET last_seen_at = created_at;
ALTER TABLE staff_tokens ADD COLUMN IF NOT EXISTS expires_at BIGINT NOT NULL DEFAULT 0;
UPDATE staff_tokens SET expires_at = created_at + 7776000000000;
ALTER TABLE staff_tokens ADD COLUMN IF NOT EXISTS last_used_at BIGINT;
ALTER TABLE staff_tokens ADD COLUMN IF NOT EXISTS last_used_from TEXT;
ALTER TABLE staff_tokens ADD COLUMN IF NOT EXISTS revoked_why TEXT;
