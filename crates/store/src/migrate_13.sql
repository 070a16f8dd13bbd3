-- Schema 13 (issue 15): the upstream's store-and-forward queue moves into the main store, so
-- an advice is written in the same transaction as the row whose fate needs it (a void's
-- 0420 with the void, a time-out's 0420 with the sale's *reversal pending*). Frames are
-- kept as hex, length prefix included, exactly as they go on the wire; a row is deleted
-- when its 0430 comes back.
CREATE TABLE IF NOT EXISTS upstream_saf (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    destination     TEXT NOT NULL,
    frame           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    created_ms      INTEGER NOT NULL,
    txn_id          INTEGER
);
CREATE INDEX IF NOT EXISTS upstream_saf_order ON upstream_saf (destination, id);
-- The time-out reversal of a request in flight, parked before the request leaves and moved
-- into the queue (or dropped) by the same transaction that records the request's fate.
CREATE TABLE IF NOT EXISTS upstream_parked (
    reference   TEXT PRIMARY KEY,
    destination TEXT NOT NULL,
    frame       TEXT NOT NULL,
    created_ms  INTEGER NOT NULL
);
-- STAN reservations per sender (field 41), so a restart never hands a STAN out again.
CREATE TABLE IF NOT EXISTS upstream_stans (
    sender         TEXT PRIMARY KEY,
    reserved_until INTEGER NOT NULL,
    cycle_end_ms   INTEGER NOT NULL
);
