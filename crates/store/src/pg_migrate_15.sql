-- PostgreSQL schema 15 (issue 13), as migrate_16.sql: the card rules' lookback is an
-- index-only scan. The key orders a card's rows as the lookback reads them (newest first,
-- id breaking ties); kind, status, amount and the training flag ride along (INCLUDE).
-- Idempotent.
DROP INDEX IF EXISTS txns_card_created;
CREATE INDEX IF NOT EXISTS txns_card_recent ON txns(card_fp, created_at, id) INCLUDE (kind, status, amount_fen, training) WHERE card_fp IS NOT NULL;
