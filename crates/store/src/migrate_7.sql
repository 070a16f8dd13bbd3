-- Schema 7 (issue 14): merchants onboarded by the acquirer (商户进件). A merchant is pending
-- until activated, then active, suspended (its terminals are refused, its back-office is
-- read-only) or closed. Merchants of earlier builds were usable, so they stay active. The
-- settlement account is kept masked (first 4 + last 4) with a keyed fingerprint, never in
-- clear, like a card number.
ALTER TABLE merchants ADD COLUMN status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('pending', 'active', 'suspended', 'closed'));
ALTER TABLE merchants ADD COLUMN short_name TEXT NOT NULL DEFAULT '';
ALTER TABLE merchants ADD COLUMN mcc TEXT;
ALTER TABLE merchants ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE merchants ADD COLUMN contact TEXT NOT NULL DEFAULT '';
ALTER TABLE merchants ADD COLUMN account_masked TEXT;
ALTER TABLE merchants ADD COLUMN account_fingerprint TEXT;
ALTER TABLE merchants ADD COLUMN status_reason TEXT NOT NULL DEFAULT '';
