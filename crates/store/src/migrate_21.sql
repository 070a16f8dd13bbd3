-- Schema 21 (s17-refund): an approved upstream sale's sealed card number is kept for its
-- refund window, not until its batch settles, so the back-office can send its refund up (a
-- 0200 with processing code 200000 needs field 2). `pan_until` (µs since the Unix epoch, the
-- store's clock) is the end of the sale's refund window (`core::rules::refund_window_end`);
-- the scheduler's `Command::ForgetExpiredPans` forgets every card number past it by the
-- partial index below (a seek over the kept card numbers only, never the journal). Rows of
-- earlier builds keep NULL: they are forgotten at their batch's settlement as before.
-- Run once through `add_column_once`.
ALTER TABLE upstream_requests ADD COLUMN pan_until INTEGER;
CREATE INDEX IF NOT EXISTS upstream_requests_pan_until ON upstream_requests (pan_until)
    WHERE pan IS NOT NULL;
