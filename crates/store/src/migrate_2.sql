-- Schema version 2: indexes for settlement (by batch) and for the per-operator daily void
-- count, both of which scanned the journal and stalled the single writer (docs/BENCHMARKS.md).
CREATE INDEX IF NOT EXISTS txns_batch ON txns(batch_id);
CREATE INDEX IF NOT EXISTS txns_operator_voids ON txns(merchant_id, operator, created_at)
    WHERE kind IN ('void', 'completion_void');
