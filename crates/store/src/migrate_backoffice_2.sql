-- Back-office schema step 2 (issue 5, part 3): cases (撤错 mistaken void / 调账 adjustment)
-- with their linked transactions, notes and evidence. Transaction ids carry no foreign key,
-- like the other back-office tables (`txn purge` must not fail on them). Evidence stays in
-- the `evidence` table (which names a transaction); `case_evidence` attaches a row to a case.
-- Times are Unix microseconds (UTC).
CREATE TABLE IF NOT EXISTS cases (
    id          INTEGER PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('mistaken_void', 'adjustment')),
    status      TEXT NOT NULL CHECK (status IN ('open', 'submitted', 'resolved', 'rejected')),
    txn_id      INTEGER NOT NULL,            -- the transaction it was opened from
    opened_by   INTEGER NOT NULL REFERENCES staff(id),
    opened_at   INTEGER NOT NULL,
    changed_at  INTEGER NOT NULL,
    answer      TEXT NOT NULL DEFAULT ''     -- the acquirer's answer, once resolved or rejected
);
CREATE INDEX IF NOT EXISTS cases_merchant_status ON cases(merchant_id, status, id);
CREATE TABLE IF NOT EXISTS case_links (
    case_id   INTEGER NOT NULL REFERENCES cases(id),
    txn_id    INTEGER NOT NULL,
    role      TEXT NOT NULL CHECK (role IN ('origin', 'voided_sale', 'void', 'recharge', 'related')),
    linked_by INTEGER NOT NULL REFERENCES staff(id),
    linked_at INTEGER NOT NULL,
    PRIMARY KEY (case_id, txn_id)            -- a transaction is linked to a case once
);
CREATE INDEX IF NOT EXISTS case_links_txn ON case_links(txn_id);
CREATE TABLE IF NOT EXISTS case_notes (
    id         INTEGER PRIMARY KEY,
    case_id    INTEGER NOT NULL REFERENCES cases(id),
    body       TEXT NOT NULL,
    written_by INTEGER NOT NULL REFERENCES staff(id),
    written_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS case_notes_case ON case_notes(case_id, id);
CREATE TABLE IF NOT EXISTS case_evidence (
    case_id     INTEGER NOT NULL REFERENCES cases(id),
    evidence_id INTEGER NOT NULL REFERENCES evidence(id),
    attached_by INTEGER NOT NULL REFERENCES staff(id),
    attached_at INTEGER NOT NULL,
    PRIMARY KEY (case_id, evidence_id)
);
