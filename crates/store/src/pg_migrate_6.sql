-- PostgreSQL schema 6 (issue 14), as migrate_7.sql: merchants onboarded by the acquirer (商户进件). A merchant is pending
-- until activated, then active, suspended (its terminals are refused, its back-office is
-- read-only) or closed. Merchants of earlier builds were usable, so they stay active. The
-- settlement account is kept masked (first 4 + last 4) with a keyed fingerprint, never in
-- clear, like a card number.
ALTER TABLE merchants ADD COLUMN IF NOT EXISTS status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('pending', 'active', 'suspended', 'closed'));
ALTER TABLE merchants ADD COLUMN IF NOT EXISTS short_name TEXT NOT NULL DEFAULT '';
ALTER TABLE merchants ADD COLUMN IF NOT EXISTS mcc TEXT;
ALTER TABLE merchants ADD COLUMN IF NOT EXISTS address TEXT NOT NULL DEFAULT '';
ALTER TABLE merchants ADD COLUMN IF NOT EXISTS contact TEXT NOT NULL DEFAULT '';
ALTER TABLE merchants ADD COLUMN IF NOT EXISTS account_masked TEXT;
ALTER TABLE merchants ADD COLUMN IF NOT EXISTS account_fingerprint TEXT;
ALTER TABLE merchants ADD COLUMN IF NOT EXISTS status_reason TEXT NOT NULL DEFAULT '';
