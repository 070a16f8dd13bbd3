-- Suanpan SQLite schema, version 1. Amounts are integer fen; times are Unix microseconds (UTC).
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE merchants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    enabled    INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
);

CREATE TABLE terminals (
    id                    TEXT PRIMARY KEY,
    merchant_id           TEXT NOT NULL REFERENCES merchants(id),
    enabled               INTEGER NOT NULL DEFAULT 1,
    batch_id              INTEGER,               -- the open batch (batches.id)
    next_voucher          INTEGER NOT NULL DEFAULT 1 CHECK (next_voucher BETWEEN 1 AND 999999),
    next_training_voucher INTEGER NOT NULL DEFAULT 1 CHECK (next_training_voucher BETWEEN 1 AND 999999),
    tmk_hex               TEXT,
    created_at            INTEGER NOT NULL
);

CREATE TABLE batches (
    id             INTEGER PRIMARY KEY,
    terminal_id    TEXT NOT NULL REFERENCES terminals(id),
    batch_no       INTEGER NOT NULL CHECK (batch_no BETWEEN 1 AND 999999),
    opened_at      INTEGER NOT NULL,
    settled_at     INTEGER,
    settled_by     TEXT,
    debit_fen      INTEGER,
    debit_count    INTEGER,
    credit_fen     INTEGER,
    credit_count   INTEGER,
    reconciliation TEXT,
    settlement_json TEXT
);
-- One open batch per terminal, enforced by the database.
CREATE UNIQUE INDEX batches_one_open ON batches(terminal_id) WHERE settled_at IS NULL;

CREATE TABLE operators (
    merchant_id   TEXT NOT NULL REFERENCES merchants(id),
    operator_no   TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    failures      INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER,
    changed_at    INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, operator_no)
);

CREATE TABLE txns (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL,
    status           TEXT NOT NULL,
    amount_fen       INTEGER NOT NULL CHECK (amount_fen >= 0),
    currency         TEXT NOT NULL DEFAULT 'CNY',
    method           TEXT NOT NULL,
    masked_pan       TEXT,
    card_fp          TEXT,
    wallet_id        TEXT,
    merchant_id      TEXT NOT NULL,
    terminal_id      TEXT NOT NULL,
    operator         TEXT NOT NULL,
    supervisor       TEXT,
    batch_id         INTEGER NOT NULL REFERENCES batches(id),
    batch_no         INTEGER NOT NULL,
    voucher_no       INTEGER NOT NULL,
    rrn              TEXT UNIQUE,
    auth_code        TEXT,
    response_code    TEXT NOT NULL,
    original_id      INTEGER REFERENCES txns(id),
    reason           TEXT,
    customer_consent INTEGER NOT NULL DEFAULT 0,
    refunded_fen     INTEGER NOT NULL DEFAULT 0,
    completed_fen    INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    settled          INTEGER NOT NULL DEFAULT 0,
    hidden           INTEGER NOT NULL DEFAULT 0,
    hidden_reason    TEXT,
    hidden_by        TEXT,
    hidden_at        INTEGER,
    training         INTEGER NOT NULL DEFAULT 0,
    linked_id        INTEGER REFERENCES txns(id),
    hold_expires_at  INTEGER,
    idem_key         TEXT,
    request_hash     TEXT,
    -- What the terminal said about itself (8583 field 59: serial number, location), kept
    -- as received as evidence; schema version 3.
    terminal_info    TEXT,
    -- The invariant of refunds, enforced by the database as a second line behind the core.
    CHECK (refunded_fen <= amount_fen)
);
-- At most one approved void per original: the database refuses a second one even if a bug
-- let it through the core.
CREATE UNIQUE INDEX txns_one_void ON txns(original_id)
    WHERE kind IN ('void', 'completion_void', 'preauth_void', 'completion') AND status = 'approved';
CREATE INDEX txns_terminal_batch ON txns(terminal_id, batch_id, voucher_no);
CREATE INDEX txns_created ON txns(created_at);
CREATE INDEX txns_original ON txns(original_id) WHERE original_id IS NOT NULL;


CREATE TABLE accounts (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('card', 'wallet')),
    masked_pan   TEXT,
    expiry       TEXT,
    pin_hash     TEXT,
    credit       INTEGER NOT NULL DEFAULT 0,
    status       TEXT NOT NULL DEFAULT 'active',
    pin_failures INTEGER NOT NULL DEFAULT 0,
    method       TEXT,
    name         TEXT,
    balance_fen  INTEGER NOT NULL,
    held_fen     INTEGER NOT NULL DEFAULT 0 CHECK (held_fen >= 0),
    initial_fen  INTEGER NOT NULL
);

CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    reason    TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);

-- Counters allocated inside the write transaction (RRN sequence, purged totals).
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('rrn', 0), ('purged_net_fen', 0);
