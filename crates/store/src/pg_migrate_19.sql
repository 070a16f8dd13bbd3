-- PostgreSQL schema 19 (issue 15), as migrate_20.sql: the risk rules' two journal indexes
-- leave the fixed schema; `risk_index::apply` creates them when `serve` starts with a rule
-- that reads them, and drops them when none does. Idempotent.
DROP INDEX IF EXISTS txns_card_created;
DROP INDEX IF EXISTS txns_card_recent;
DROP INDEX IF EXISTS txns_terminal_created;
