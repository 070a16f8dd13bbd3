-- Schema version 3: the terminal's own description (8583 field 59, an acquirer-defined
-- ASCII TLV with the terminal's serial number and location) is kept with the transaction
-- as received. Nullable: rows booked before, and requests without field 59, have none.
-- Applied by sqlite.rs only when the column is missing (a store created by this build has it).
ALTER TABLE txns ADD COLUMN terminal_info TEXT;
