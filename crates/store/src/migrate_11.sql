-- Schema 11 (issue 13): outgoing webhooks. An endpoint belongs to a merchant or, without one,
-- to the acquirer; its secret is wrapped under the KEK (`w1:…`, identity
-- `webhook:endpoint:ID`). An event is written in the same transaction as the change it
-- reports, with one delivery row per subscribed endpoint (the outbox): a rolled-back change
-- leaves no event, a committed one always has its deliveries. Every attempt is logged.
-- Idempotent (IF NOT EXISTS), so a renumbered step runs safely again.
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    id          INTEGER PRIMARY KEY,
    merchant_id TEXT REFERENCES merchants(id),  -- NULL: the acquirer's endpoint
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,                  -- wrapped under the KEK
    events      TEXT NOT NULL,                  -- comma-separated event types
    description TEXT NOT NULL DEFAULT '',
    enabled     INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    changed_at  INTEGER NOT NULL,
    removed_at  INTEGER
);
CREATE TABLE IF NOT EXISTS webhook_events (
    id          INTEGER PRIMARY KEY,
    event_id    TEXT NOT NULL UNIQUE,           -- X-Suanpan-Event-Id, for receivers' idempotency
    kind        TEXT NOT NULL,
    merchant_id TEXT,
    payload     TEXT NOT NULL,                  -- the JSON body, exactly as signed and sent
    created_at  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id          INTEGER PRIMARY KEY,
    event_id    INTEGER NOT NULL REFERENCES webhook_events(id),
    endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints(id),
    status      TEXT NOT NULL CHECK (status IN ('pending', 'delivering', 'delivered', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL,
    claimed_at  INTEGER,
    last_code   INTEGER,
    last_error  TEXT NOT NULL DEFAULT '',
    done_at     INTEGER
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (status, next_at);
CREATE INDEX IF NOT EXISTS webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE TABLE IF NOT EXISTS webhook_attempts (
    id          INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries(id),
    at          INTEGER NOT NULL,
    status_code INTEGER,                        -- NULL: no HTTP answer (see error)
    latency_ms  INTEGER NOT NULL,
    error       TEXT NOT NULL DEFAULT '',
    replay      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS webhook_attempts_delivery ON webhook_attempts (delivery_id, id);
-- Scheduled operations (issue 13): when each job last ran and how it ended, so that a
-- restarted server or another node does not run it twice in one period.
CREATE TABLE IF NOT EXISTS scheduled_runs (
    job         TEXT NOT NULL,
    period      TEXT NOT NULL,                  -- the day or ISO week the run is for
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    ok          INTEGER,
    summary     TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (job, period)
);
