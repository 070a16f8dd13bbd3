-- Back-office schema step 3 (issue 5, parts 4-6): evidence removal through review, channel
-- removal, disabling users. SQLite; pg_backoffice_3.sql is the same on PostgreSQL.
--
-- Evidence removals get a table of their own rather than a new kind in review_requests:
-- that table's CHECK (kind IN ('void', 'refund')) cannot be widened on SQLite without
-- rebuilding it, and a removal has no amount, grace window or executor.
CREATE TABLE IF NOT EXISTS evidence_removals (
    id              INTEGER PRIMARY KEY,
    evidence_id     INTEGER NOT NULL REFERENCES evidence(id),
    merchant_id     TEXT NOT NULL,
    reason          TEXT NOT NULL,
    submitted_by    INTEGER NOT NULL REFERENCES staff(id),
    submitted_at    INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    reviewed_by     INTEGER REFERENCES staff(id),
    reviewed_at     INTEGER,
    review_comment  TEXT NOT NULL DEFAULT ''
);
-- One removal waiting for review per evidence, decided by the database across nodes too.
CREATE UNIQUE INDEX IF NOT EXISTS evidence_removals_one_pending
    ON evidence_removals(evidence_id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS evidence_removals_status ON evidence_removals(merchant_id, status, id);
-- The tombstone of removed evidence: the row (with its sha256) stays for the audit; the
-- removal that approved it says who and why.
ALTER TABLE evidence ADD COLUMN removed_at INTEGER;
ALTER TABLE evidence ADD COLUMN removal_id INTEGER;
-- A removed channel refuses new transactions like a disabled one (enabled = 0 too) and is
-- listed as removed until an admin re-adds it.
ALTER TABLE channels ADD COLUMN removed INTEGER NOT NULL DEFAULT 0;
-- A disabled user cannot log in; their sessions and tokens stop working.
ALTER TABLE staff ADD COLUMN disabled_at INTEGER;
