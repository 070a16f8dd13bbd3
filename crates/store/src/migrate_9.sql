-- Schema 9 (issue 13): 风险预警. Every rule that refuses, holds or alerts raises an alert
-- (rule, severity, evidence: transaction ids, card last four, terminal, the rule's inputs);
-- supervisors and risk officers acknowledge and resolve it with a note. An over-limit sale
-- held for review is an alert whose `review` a reviewer approves; the same card's retry for
-- the same amount then goes through once (`used`). The acquirer's limits and the merchant's
-- own tighter ones, the trading hours, and the card/BIN blocklist. Self-contained and
-- IF NOT EXISTS-safe, so it can run again and be renumbered.
CREATE TABLE IF NOT EXISTS risk_alerts (
    id              INTEGER PRIMARY KEY,
    merchant_id     TEXT NOT NULL,
    terminal_id     TEXT,
    rule            TEXT NOT NULL,
    severity        TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
    action          TEXT NOT NULL CHECK (action IN ('refused', 'held', 'alerted')),
    card_last4      TEXT,
    card_fp         TEXT,
    amount_fen      INTEGER,
    txn_ids         TEXT NOT NULL DEFAULT '',
    inputs          TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
    review          TEXT CHECK (review IN ('pending', 'approved', 'rejected', 'used')),
    created_at      INTEGER NOT NULL,
    acknowledged_by TEXT,
    acknowledged_at INTEGER,
    resolved_by     TEXT,
    resolved_at     INTEGER,
    note            TEXT,
    reviewed_at     INTEGER
);
CREATE INDEX IF NOT EXISTS risk_alerts_merchant ON risk_alerts(merchant_id, status, id);
CREATE INDEX IF NOT EXISTS risk_alerts_created ON risk_alerts(created_at);
CREATE INDEX IF NOT EXISTS risk_alerts_review ON risk_alerts(card_fp, review) WHERE review IS NOT NULL;
CREATE TABLE IF NOT EXISTS risk_limits (
    merchant_id TEXT NOT NULL,
    tier        TEXT NOT NULL CHECK (tier IN ('acquirer', 'merchant')),
    limits      TEXT NOT NULL,
    open_at     TEXT,
    close_at    TEXT,
    updated_by  TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, tier)
);
CREATE TABLE IF NOT EXISTS risk_blocklist (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('card', 'bin')),
    value      TEXT NOT NULL,
    reason     TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (kind, value)
);
-- The card rules read a card's recent transactions; the terminal's velocity its window.
CREATE INDEX IF NOT EXISTS txns_card_created ON txns(card_fp, created_at) WHERE card_fp IS NOT NULL;
CREATE INDEX IF NOT EXISTS txns_terminal_created ON txns(terminal_id, created_at);
