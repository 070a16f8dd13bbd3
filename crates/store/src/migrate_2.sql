-- Schema version 2. The per-operator daily void count had no fitting index, so every void
-- scanned the day's journal on the single writer (docs/BENCHMARKS.md).
CREATE INDEX IF NOT EXISTS txns_operator_voids ON txns(merchant_id, operator, created_at)
    WHERE kind IN ('void', 'completion_void');
-- Idempotency keys are looked up within the terminal's batch and voucher no. through
-- txns_terminal_batch; a separate index on the key cost one more randomly placed page per
-- sale and commit.
DROP INDEX IF EXISTS txns_idem_key;
