-- Schema 15 (issue 13): a terminal its merchant's supervisor paused (「立即通知收银员，暂停后续
-- 操作」, seed 002). While `paused_at` is set, the host refuses the terminal's new money
-- (58, with a 63 text that says who paused it and what to do); reversals, sign-in and
-- settlement go on. Who paused it and why stay beside it (and in the audit trail). Not the
-- acquirer's lock (`enabled`), which refuses everything. Run once through `add_column_once`.
ALTER TABLE terminals ADD COLUMN paused_at INTEGER;
ALTER TABLE terminals ADD COLUMN paused_by TEXT;
ALTER TABLE terminals ADD COLUMN pause_reason TEXT;
