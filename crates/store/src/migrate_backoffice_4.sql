-- Back-office schema step 4: the transaction timeline and the cases read the audit trail by
-- target, so it gets an index on (target, seq); a claimed request records when it was
-- claimed, so an execution stuck by a storage error or a crash is picked up again once it is
-- old enough (see `Backoffice::stale_requests`).
CREATE INDEX IF NOT EXISTS audit_target ON audit (target, seq);
ALTER TABLE review_requests ADD COLUMN claimed_at INTEGER;
