-- Back-office schema (issue 5), version 1. Transaction ids here carry no foreign key to
-- txns on purpose: `txn purge` deletes old journal rows and must not fail on them (see
-- ARCHITECTURE's known gaps). Kept in its own version key
-- ('backoffice_schema_version' in meta) so that it applies without touching the journal's
-- migrations. Times are Unix microseconds (UTC); amounts integer fen.
CREATE TABLE IF NOT EXISTS staff (
    id            INTEGER PRIMARY KEY,
    merchant_id   TEXT NOT NULL REFERENCES merchants(id),
    username      TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('cashier', 'supervisor', 'finance', 'admin', 'auditor')),
    operator_no   TEXT,                      -- the counter operator the user books as, if any
    password_hash TEXT NOT NULL,
    failures      INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER,
    totp_secret   TEXT,                      -- base32; set once enrolled (admins must be)
    totp_last_step INTEGER NOT NULL DEFAULT 0, -- the last 30-second step used: no replays
    created_at    INTEGER NOT NULL
);
-- Sessions and API tokens are stored as SHA-256 of the secret: a leaked database does not
-- hand out live sessions.
CREATE TABLE IF NOT EXISTS staff_sessions (
    token_hash TEXT PRIMARY KEY,
    staff_id   INTEGER NOT NULL REFERENCES staff(id),
    csrf       TEXT NOT NULL,
    mfa_pending INTEGER NOT NULL DEFAULT 0,  -- an admin who still has to enrol TOTP
    totp_pending_secret TEXT,                -- the secret offered for enrolment
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS staff_tokens (
    id         INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    staff_id   INTEGER NOT NULL REFERENCES staff(id),
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE TABLE IF NOT EXISTS review_requests (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('void', 'refund')),
    txn_id          INTEGER NOT NULL,
    merchant_id     TEXT NOT NULL,
    amount_fen      INTEGER NOT NULL CHECK (amount_fen > 0),
    reason          TEXT NOT NULL,
    customer_consent INTEGER NOT NULL DEFAULT 0,
    submitted_by    INTEGER NOT NULL REFERENCES staff(id),
    submitted_at    INTEGER NOT NULL,
    status          TEXT NOT NULL,
    reviewed_by     INTEGER REFERENCES staff(id),
    reviewed_at     INTEGER,
    review_comment  TEXT NOT NULL DEFAULT '',
    execute_after   INTEGER,
    result_txn_id   INTEGER,
    result_key      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS review_requests_status ON review_requests(status, id);
CREATE INDEX IF NOT EXISTS review_requests_txn ON review_requests(txn_id);
-- REST Idempotency-Key: scoped to the user; the response is stored for replay.
CREATE TABLE IF NOT EXISTS api_idempotency (
    staff_id      INTEGER NOT NULL REFERENCES staff(id),
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status        INTEGER,                   -- NULL while the first request is running
    body          TEXT,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (staff_id, key)
);
-- Payment channels (支付渠道). A disabled channel refuses new transactions (12).
CREATE TABLE IF NOT EXISTS channels (
    id          TEXT PRIMARY KEY,            -- unionpay, alipay, wechat, lakala
    enabled     INTEGER NOT NULL DEFAULT 1,
    changed_at  INTEGER,
    changed_by  TEXT,
    reason      TEXT NOT NULL DEFAULT ''
);
INSERT OR IGNORE INTO channels (id) VALUES ('unionpay'), ('alipay'), ('wechat'), ('lakala');
-- Evidence (交易视频, photos, PDFs) attached to a transaction. The bytes live in
-- DATA_DIR/evidence/<sha256>, content-addressed; a row per upload.
CREATE TABLE IF NOT EXISTS evidence (
    id           INTEGER PRIMARY KEY,
    txn_id       INTEGER NOT NULL,
    merchant_id  TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes   INTEGER NOT NULL CHECK (size_bytes > 0),
    filename     TEXT NOT NULL,
    uploaded_by  INTEGER NOT NULL REFERENCES staff(id),
    uploaded_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS evidence_txn ON evidence(txn_id);
