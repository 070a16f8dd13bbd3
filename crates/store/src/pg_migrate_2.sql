-- PostgreSQL schema version 2: the terminal's own description (8583 field 59, an
-- acquirer-defined ASCII TLV with the terminal's serial number and location) is kept with
-- the transaction as received. Nullable: rows booked before, and requests without field 59,
-- have none.
ALTER TABLE txns ADD COLUMN IF NOT EXISTS terminal_info TEXT;
