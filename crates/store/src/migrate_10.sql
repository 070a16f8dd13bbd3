-- Schema 10 (issue 15): how each transaction that went to the network upstream left — the
-- destination's name, STAN (field 11) and transmission time (field 7) — written in the same
-- transaction as its *authorizing* row, before it leaves. A later reversal advice's field 90
-- names these; a start-up finds every row still authorizing by its status.
CREATE TABLE IF NOT EXISTS upstream_requests (
    txn_id      INTEGER PRIMARY KEY REFERENCES txns(id),
    destination TEXT NOT NULL,
    stan        TEXT NOT NULL,
    transmitted TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS txns_authorizing ON txns (id) WHERE status = 'authorizing';
