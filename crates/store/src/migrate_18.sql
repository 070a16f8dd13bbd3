-- Schema 18 (issue 15): a claim (lease) on a queued advice, so that of several nodes draining
-- one queue only one sends an advice at a time. `claimed_by` names the node, `claimed_until`
-- (ms since the Unix epoch) ends the claim: a node that dies releases by expiry. SQLite has
-- one node; the columns keep one SQL text for both engines. Frames (here and in
-- `upstream_parked`) are sealed under the KEK from this step on (`w1:…`): the rows an older
-- build left in hex are sealed at the next open (`terminal_keys::migrate_clear_keys`).
-- Run once through `add_column_once`.
ALTER TABLE upstream_saf ADD COLUMN claimed_by TEXT;
ALTER TABLE upstream_saf ADD COLUMN claimed_until INTEGER;
