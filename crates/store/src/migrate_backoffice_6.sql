-- Back-office schema step 6 (issue 14): the two tiers.
-- Acquirer users (平台管理员, 运营, 风控, 机构审计) are staff rows without a merchant; a
-- merchant's users keep theirs, and the CHECK ties the two together. SQLite cannot alter a
-- column's constraints, and rebuilding `staff` would break the foreign keys of its sessions,
-- tokens and requests; SQLite's documented procedure for loosening a NOT NULL and changing a
-- CHECK, which leaves the stored rows as they are, is to edit the table's definition in the
-- schema table (lang_altertable.html, "making other kinds of table schema changes"). Every
-- existing row satisfies the new CHECK. The runner bumps `schema_version` afterwards so that
-- every connection reads the new definition.
PRAGMA writable_schema = ON;
UPDATE sqlite_master
   SET sql = replace(replace(sql,
       'merchant_id   TEXT NOT NULL REFERENCES merchants(id),',
       'merchant_id   TEXT REFERENCES merchants(id),   -- NULL: an acquirer user (issue 14)'),
       'role          TEXT NOT NULL CHECK (role IN (''cashier'', ''supervisor'', ''finance'', ''admin'', ''auditor'')),',
       'role          TEXT NOT NULL CHECK (role IN (''cashier'', ''supervisor'', ''finance'', ''admin'', ''auditor'', ''platform_admin'', ''operations'', ''risk_officer'', ''acquirer_auditor'')
                                           AND (merchant_id IS NULL) = (role IN (''platform_admin'', ''operations'', ''risk_officer'', ''acquirer_auditor''))),')
 WHERE type = 'table' AND name = 'staff';
PRAGMA writable_schema = OFF;
-- Channels per merchant: `channels` stays the platform's switch (an outage, 全局), and each
-- merchant enables, disables, removes and re-adds a channel for itself here. A channel is open
-- for a merchant when both are enabled; a merchant without a row has not changed anything (open).
-- The state kept so far was set by merchant admins, so it becomes every existing merchant's own,
-- and the platform's switch starts open.
CREATE TABLE IF NOT EXISTS merchant_channels (
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    channel_id  TEXT NOT NULL REFERENCES channels(id),
    enabled     INTEGER NOT NULL DEFAULT 1,
    removed     INTEGER NOT NULL DEFAULT 0,
    changed_at  INTEGER,
    changed_by  TEXT,
    reason      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (merchant_id, channel_id)
);
INSERT OR IGNORE INTO merchant_channels (merchant_id, channel_id, enabled, removed, changed_at, changed_by, reason)
    SELECT m.id, c.id, c.enabled, c.removed, c.changed_at, c.changed_by, c.reason
      FROM merchants m CROSS JOIN channels c WHERE c.changed_at IS NOT NULL;
UPDATE channels SET enabled = 1, removed = 0, changed_at = NULL, changed_by = NULL, reason = '';
