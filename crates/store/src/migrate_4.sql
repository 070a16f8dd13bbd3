-- Schema version 4 (issue 12): reversals answered 00 whose request had not arrived (冲正先到).
-- A request that arrives later with the same terminal, batch and voucher no. (and training
-- flag) is refused while the row is younger than the policy's `orphan_reversal_hours`; rows
-- past it are swept when a new one is written.
CREATE TABLE IF NOT EXISTS orphan_reversals (
    terminal_id TEXT NOT NULL,
    batch_no    INTEGER NOT NULL,
    voucher_no  INTEGER NOT NULL,
    training    INTEGER NOT NULL,
    amount_fen  INTEGER,
    reason      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (terminal_id, batch_no, voucher_no, training)
);
CREATE INDEX IF NOT EXISTS orphan_reversals_created ON orphan_reversals(created_at);
