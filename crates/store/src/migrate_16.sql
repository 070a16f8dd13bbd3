-- Schema 16 (issue 13): the card rules' lookback reads the index alone. `txns_card_created
-- (card_fp, created_at)` ordered a card's recent rows, but each row it found was then read
-- from `txns` for its kind, status and amount: one random page per row, up to 64 per sale.
-- This index holds every column the lookback reads (`repo::risk::card_events`; the rowid
-- `id` is named so that `ORDER BY created_at DESC, id DESC` walks it backwards unsorted).
-- Idempotent: a store half-way through this step finds it done or does it again.
DROP INDEX IF EXISTS txns_card_created;
CREATE INDEX IF NOT EXISTS txns_card_recent ON txns(card_fp, created_at, id, kind, status, amount_fen, training) WHERE card_fp IS NOT NULL;
