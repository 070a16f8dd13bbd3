-- PostgreSQL schema version 5 (issue 16, search at scale): the indexes of SQLite's
-- migrate_6.sql. PostgreSQL has no implicit row id in an index, so each ends with `id`:
-- `ORDER BY id DESC LIMIT n` with `id < cursor` is a backward index scan that stops after
-- n rows.
CREATE INDEX IF NOT EXISTS txns_m ON txns(merchant_id, id);
CREATE INDEX IF NOT EXISTS txns_m_created ON txns(merchant_id, created_at, id);
CREATE INDEX IF NOT EXISTS txns_m_amount ON txns(merchant_id, amount_fen, id);
CREATE INDEX IF NOT EXISTS txns_m_kind ON txns(merchant_id, kind, id);
CREATE INDEX IF NOT EXISTS txns_m_status ON txns(merchant_id, status, id);
CREATE INDEX IF NOT EXISTS txns_m_terminal ON txns(merchant_id, terminal_id, id);
CREATE INDEX IF NOT EXISTS txns_m_operator ON txns(merchant_id, operator, id);
CREATE INDEX IF NOT EXISTS txns_m_voucher ON txns(merchant_id, voucher_no, id);
CREATE INDEX IF NOT EXISTS txns_m_last4 ON txns(merchant_id, substr(masked_pan, length(masked_pan) - 3), id);
CREATE INDEX IF NOT EXISTS txns_m_wallet ON txns(merchant_id, wallet_id, id) WHERE wallet_id IS NOT NULL;
