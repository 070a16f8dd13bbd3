-- Schema 11 on PostgreSQL (issue 14): each terminal's last sign-in, as migrate_12.sql.
CREATE TABLE IF NOT EXISTS terminal_sign_ins (
    terminal_id      TEXT PRIMARY KEY REFERENCES terminals(id),
    signed_in_at     BIGINT NOT NULL,
    operator_no      TEXT NOT NULL,
    software_version INTEGER NOT NULL,
    terminal_status  INTEGER NOT NULL
);
