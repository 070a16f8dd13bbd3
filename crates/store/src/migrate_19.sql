-- Schema 19 (issue 15): what an upstream request's reversal needs, kept with the request, so a
-- 0420 is built from the row alone (the start-up after a crash, phase two without an answer,
-- a back-office void): the card number sealed under the KEK (`w1:<kek>:…`, associated data
-- `upstream-pan:<txn id>`; NULL once nothing can need it, docs/DECISIONS.md), the STAN and
-- field 7 given to the sale's one reversal in phase one, and field 32. Rows of earlier builds
-- keep NULLs: they are reversed as before (a parked frame, or the card presented again).
-- Run once through `add_column_once`.
ALTER TABLE upstream_requests ADD COLUMN pan TEXT;
ALTER TABLE upstream_requests ADD COLUMN reversal_stan TEXT;
ALTER TABLE upstream_requests ADD COLUMN reversal_transmitted TEXT;
ALTER TABLE upstream_requests ADD COLUMN acquirer_id TEXT;
-- `stood_in`: 1 when the host approved the sale in stand-in and its advice is a 0220 (a later
-- reversal's field 90 names that 0220, not a 0200 the switch never saw).
ALTER TABLE upstream_requests ADD COLUMN stood_in INTEGER NOT NULL DEFAULT 0;
