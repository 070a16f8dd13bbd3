-- Back-office schema step 9 (issue 14): a TMK loaded in the console under dual control;
-- see migrate_backoffice_9.sql.
CREATE TABLE IF NOT EXISTS tmk_components (
    terminal_id TEXT PRIMARY KEY REFERENCES terminals(id),
    component   TEXT NOT NULL,
    check_value TEXT NOT NULL,
    entered_by  BIGINT NOT NULL REFERENCES staff(id),
    entered_at  BIGINT NOT NULL
);
