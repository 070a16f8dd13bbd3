-- Schema 22 (s20-net, issue 15): the one-approved-void-per-original index, its condition
-- written with `=` and `OR` instead of `kind IN (four kinds)`. The same rows, the same
-- uniqueness; but SQLite evaluates a partial index's condition on every INSERT into `txns`
-- and on every UPDATE of `status`, and it codes an IN list of more than two constants as an
-- ephemeral B-tree built and dropped each time (one per booked row, two per phase two of a
-- network sale: ~40 K writer instructions a network sale, docs/BENCHMARKS.md "s20-net").
-- `status` first: a row that is not approved is out of the index after one comparison. No
-- query reads through this index (none repeats its condition); it exists for the UNIQUE.
-- PostgreSQL evaluates IN lists without a temporary structure: its schema is unchanged.
DROP INDEX IF EXISTS txns_one_void;
CREATE UNIQUE INDEX txns_one_void ON txns(original_id)
    WHERE status = 'approved'
      AND (kind = 'void' OR kind = 'completion_void' OR kind = 'preauth_void' OR kind = 'completion');
