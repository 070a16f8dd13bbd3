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
