-- Back-office schema step 5 (issue 14, sessions and tokens): a session remembers when it was
-- last used (the idle time-out; written at most once a minute), an API token when it ends,
-- when and from where it was last used (a token's "login" is audited when it is used again
-- after a pause or from another address), and why it was revoked. Tokens made before this
-- step end 90 days after they were made (the default `token_days`).
ALTER TABLE staff_sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0;
UPDATE staff_sessions SET last_seen_at = created_at;
ALTER TABLE staff_tokens ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
UPDATE staff_tokens SET expires_at = created_at + 7776000000000;
ALTER TABLE staff_tokens ADD COLUMN last_used_at INTEGER;
ALTER TABLE staff_tokens ADD COLUMN last_used_from TEXT;
ALTER TABLE staff_tokens ADD COLUMN revoked_why TEXT;
