-- Back-office schema step 8 (issue 14): KYC documents (商户进件资料) as evidence files. A row
-- names a file of the evidence folder by its SHA-256 and the merchant id it belongs to. The
-- id carries no foreign key: documents are uploaded while the merchant's creation still waits
-- for its checker, before the merchant row exists (the store checks that the merchant or its
-- pending creation exists).
CREATE TABLE IF NOT EXISTS merchant_documents (
    id           INTEGER PRIMARY KEY,
    merchant_id  TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('business_licence', 'legal_representative_id',
                     'settlement_account_proof', 'premises_photo', 'other')),
    sha256       TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes   INTEGER NOT NULL,
    filename     TEXT NOT NULL,
    uploaded_by  INTEGER NOT NULL REFERENCES staff(id),
    uploaded_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS merchant_documents_merchant ON merchant_documents(merchant_id, id);
CREATE INDEX IF NOT EXISTS merchant_documents_sha256 ON merchant_documents(sha256);
-- Channels per merchant as the acquirer allows them (issue 14): which of 银联/支付宝/微信支付/
-- 拉卡拉 a merchant may use at all, set by the acquirer, beside the merchant's own choice
-- (`enabled`, `removed`) and the platform's outage switch (`channels.enabled`). A
-- transaction needs all three. No row: allowed, as before this step.
ALTER TABLE merchant_channels ADD COLUMN allowed INTEGER NOT NULL DEFAULT 1;
ALTER TABLE merchant_channels ADD COLUMN allowed_at INTEGER;
ALTER TABLE merchant_channels ADD COLUMN allowed_by TEXT;
ALTER TABLE merchant_channels ADD COLUMN allowed_reason TEXT NOT NULL DEFAULT '';
