-- Back-office schema step 6 on PostgreSQL (issue 14): the two tiers, as
-- migrate_backoffice_6.sql. Acquirer users are staff rows without a merchant.
ALTER TABLE staff ALTER COLUMN merchant_id DROP NOT NULL;
ALTER TABLE staff DROP CONSTRAINT IF EXISTS staff_role_check;
ALTER TABLE staff ADD CONSTRAINT staff_role_check CHECK (
    role IN ('cashier', 'supervisor', 'finance', 'admin', 'auditor',
             'platform_admin', 'operations', 'risk_officer', 'acquirer_auditor')
    AND (merchant_id IS NULL) = (role IN ('platform_admin', 'operations', 'risk_officer', 'acquirer_auditor')));
-- Channels per merchant; `channels` stays the platform's switch (see the SQLite step).
CREATE TABLE IF NOT EXISTS merchant_channels (
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    channel_id  TEXT NOT NULL REFERENCES channels(id),
    enabled     BIGINT NOT NULL DEFAULT 1,
    removed     BIGINT NOT NULL DEFAULT 0,
    changed_at  BIGINT,
    changed_by  TEXT,
    reason      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (merchant_id, channel_id)
);
INSERT INTO merchant_channels (merchant_id, channel_id, enabled, removed, changed_at, changed_by, reason)
    SELECT m.id, c.id, c.enabled, c.removed, c.changed_at, c.changed_by, c.reason
      FROM merchants m CROSS JOIN channels c WHERE c.changed_at IS NOT NULL
    ON CONFLICT DO NOTHING;
UPDATE channels SET enabled = 1, removed = 0, changed_at = NULL, changed_by = NULL, reason = '';
