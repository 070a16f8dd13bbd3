-- Back-office schema step 9 (issue 14): a terminal master key loaded in the console under
-- dual control. The first key custodian's component waits here, wrapped under the KEK
-- (identity `tmkc:<terminal id>`), until a second acquirer user enters the other one; the
-- two are XORed into the TMK (`terminals.tmk_hex`) and the row goes. At most one waits per
-- terminal. `check_value` is the component's KCV (6 hex digits), never key material.
CREATE TABLE IF NOT EXISTS tmk_components (
    terminal_id TEXT PRIMARY KEY REFERENCES terminals(id),
    component   TEXT NOT NULL,
    check_value TEXT NOT NULL,
    entered_by  INTEGER NOT NULL REFERENCES staff(id),
    entered_at  INTEGER NOT NULL
);
