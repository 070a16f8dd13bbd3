-- PostgreSQL schema 20 (issue 16): `hidden` in the date-range and amount-range indexes too
-- (an INCLUDE column after `id`, as schema 16 did for kind, status, terminal and operator).
-- A listing counts its matches leaving hidden rows out; without `hidden` in the index each
-- counted entry of a range cost a heap visit: 42–68 ms p50 on a 4.8M-row store for a week
-- or an amount band, where the page itself took a few ms. SQLite's indexes already end with
-- `hidden` (migrate_6.sql), so it has no step here.
DROP INDEX IF EXISTS txns_m_created;
DROP INDEX IF EXISTS txns_m_amount;
CREATE INDEX IF NOT EXISTS txns_m_created ON txns(merchant_id, created_at, id) INCLUDE (hidden);
CREATE INDEX IF NOT EXISTS txns_m_amount ON txns(merchant_id, amount_fen, id) INCLUDE (hidden);
