-- Schema 20 (issue 15): the risk rules' two journal indexes leave the fixed schema. Every
-- sale paid for them (one more leaf page per index and sale) even with every rule off;
-- `risk_index::apply` now creates them when `serve` starts with a rule that reads them, and
-- drops them when none does. Idempotent.
DROP INDEX IF EXISTS txns_card_created;
DROP INDEX IF EXISTS txns_card_recent;
DROP INDEX IF EXISTS txns_terminal_created;
