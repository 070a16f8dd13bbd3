-- PostgreSQL schema 16 (issue 16), as SQLite's migrate_17.sql: `hidden` in the kind,
-- status, terminal and operator indexes (an INCLUDE column after `id`), so a listing's count
-- of its matches can be an index-only scan instead of a heap visit per counted row.
DROP INDEX IF EXISTS txns_m_kind;
DROP INDEX IF EXISTS txns_m_status;
DROP INDEX IF EXISTS txns_m_terminal;
DROP INDEX IF EXISTS txns_m_operator;
CREATE INDEX IF NOT EXISTS txns_m_kind ON txns(merchant_id, kind, id) INCLUDE (hidden);
CREATE INDEX IF NOT EXISTS txns_m_status ON txns(merchant_id, status, id) INCLUDE (hidden);
CREATE INDEX IF NOT EXISTS txns_m_terminal ON txns(merchant_id, terminal_id, id) INCLUDE (hidden);
CREATE INDEX IF NOT EXISTS txns_m_operator ON txns(merchant_id, operator, id) INCLUDE (hidden);
