-- Schema version 5 (issue 11, the wire): each terminal's MAC algorithm, `ecb` (the UnionPay
-- POS ECB MAC, what every terminal of earlier builds used) or `x919` (ANSI X9.19 retail MAC
-- under a double-length MAK). Applied inside a transaction that first looks for the column.
ALTER TABLE terminals ADD COLUMN mac_algorithm TEXT NOT NULL DEFAULT 'ecb';
