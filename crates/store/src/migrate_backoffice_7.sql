-- Back-office schema step 7 (issue 14): 商户进件 under maker-checker. Each change the
-- acquirer asks for (create, edit, activate, suspend, close) waits here until a second
-- acquirer user approves or rejects it; only an approval changes `merchants`. A merchant has
-- at most one change waiting. The settlement account is kept sealed (AES-GCM under the KEK,
-- bound to the merchant, like a TOTP secret) beside its masked form; never in clear.
CREATE TABLE IF NOT EXISTS merchant_changes (
    id             INTEGER PRIMARY KEY,
    merchant_id    TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('create', 'edit', 'activate', 'suspend', 'close')),
    name           TEXT,
    short_name     TEXT,
    mcc            TEXT,
    address        TEXT,
    contact        TEXT,
    account_masked TEXT,
    account_sealed TEXT,
    reason         TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    submitted_by   INTEGER NOT NULL REFERENCES staff(id),
    submitted_at   INTEGER NOT NULL,
    reviewed_by    INTEGER REFERENCES staff(id),
    reviewed_at    INTEGER,
    comment        TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX IF NOT EXISTS merchant_changes_one_pending ON merchant_changes(merchant_id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS merchant_changes_status ON merchant_changes(status, id);
ALTER TABLE merchants ADD COLUMN account_sealed TEXT;
