-- Schema 17 (issue 16, search at scale): `hidden` in the kind, status, terminal and operator
-- indexes. Each of these filters can match more rows than a listing counts (10,001), and the
-- count leaves hidden rows out; without `hidden` in the index each counted entry cost a row
-- fetch (kind and status: ≈ 50 ms on a 10M store). With it the count reads the index alone
-- (COVERING INDEX). `id` stays before `hidden`, so a listing with the hidden rows included
-- still takes its rows in id order from the index (no sort). All four are search indexes a
-- bulk load drops and builds again: `seed::search_index_sql` takes these lines over
-- migrate_6.sql's.
DROP INDEX IF EXISTS txns_m_kind;
DROP INDEX IF EXISTS txns_m_status;
DROP INDEX IF EXISTS txns_m_terminal;
DROP INDEX IF EXISTS txns_m_operator;
CREATE INDEX IF NOT EXISTS txns_m_kind ON txns(merchant_id, kind, id, hidden);
CREATE INDEX IF NOT EXISTS txns_m_status ON txns(merchant_id, status, id, hidden);
CREATE INDEX IF NOT EXISTS txns_m_terminal ON txns(merchant_id, terminal_id, id, hidden);
CREATE INDEX IF NOT EXISTS txns_m_operator ON txns(merchant_id, operator, id, hidden);
