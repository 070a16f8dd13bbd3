-- Schema version 6 (issue 16, search at scale): one index per back-office filter, each
-- starting with the merchant (every listing is one merchant's) and ending, implicitly, with
-- the row id, so a filter's newest page and every later keyset page (`id < cursor`) are an
-- index seek plus LIMIT rows, never a scan of the journal. The range filters (business day,
-- amount) read their index range and keep the newest rows of it. The RRN is already unique.
CREATE INDEX IF NOT EXISTS txns_m ON txns(merchant_id);
CREATE INDEX IF NOT EXISTS txns_m_created ON txns(merchant_id, created_at, hidden);
CREATE INDEX IF NOT EXISTS txns_m_amount ON txns(merchant_id, amount_fen, hidden);
CREATE INDEX IF NOT EXISTS txns_m_kind ON txns(merchant_id, kind);
CREATE INDEX IF NOT EXISTS txns_m_status ON txns(merchant_id, status);
CREATE INDEX IF NOT EXISTS txns_m_terminal ON txns(merchant_id, terminal_id);
CREATE INDEX IF NOT EXISTS txns_m_operator ON txns(merchant_id, operator);
CREATE INDEX IF NOT EXISTS txns_m_voucher ON txns(merchant_id, voucher_no);
CREATE INDEX IF NOT EXISTS txns_m_last4 ON txns(merchant_id, substr(masked_pan, length(masked_pan) - 3));
CREATE INDEX IF NOT EXISTS txns_m_wallet ON txns(merchant_id, wallet_id) WHERE wallet_id IS NOT NULL;
