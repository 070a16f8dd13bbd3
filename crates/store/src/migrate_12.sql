-- Schema 12 (issue 14): each terminal's last sign-in (签到) as the host saw it, for the
-- acquirer's terminal list: when, by which operator, and what the 0800's header said —
-- its software version (two digits) and terminal status digit (0 normal, 1 training). The
-- 0800 carries no other version field (docs/DECISIONS.md). One row per terminal, replaced
-- on every accepted sign-in. Idempotent (IF NOT EXISTS).
CREATE TABLE IF NOT EXISTS terminal_sign_ins (
    terminal_id      TEXT PRIMARY KEY REFERENCES terminals(id),
    signed_in_at     INTEGER NOT NULL,
    operator_no      TEXT NOT NULL,
    software_version INTEGER NOT NULL,
    terminal_status  INTEGER NOT NULL
);
