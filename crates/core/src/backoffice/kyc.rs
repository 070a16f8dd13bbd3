//! KYC documents on merchant onboarding (商户进件资料, issue 14): what each file is. The
//! acquirer uploads them while a merchant's creation waits for its checker, or later; they
//! are evidence files (content-addressed, joined to the audit chain), read by acquirer
//! users only.

/// Files one merchant holds at most (a licence, IDs, account proof, photos: a dozen is
/// usual; the bound keeps one merchant from filling the disk).
pub const KYC_DOCUMENTS_PER_MERCHANT_MAX: u32 = 50;

/// Largest KYC document, in bytes (10 MiB: a scanned licence or a phone photo).
pub const KYC_DOCUMENT_BYTES_MAX: usize = 10 * 1024 * 1024;

/// What a KYC document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KycDocumentKind {
    /// 营业执照.
    BusinessLicence,
    /// 法定代表人身份证件.
    LegalRepresentativeId,
    /// 结算账户证明 (开户许可证, a bank card photo).
    SettlementAccountProof,
    /// 经营场所照片.
    PremisesPhoto,
    /// 其他资料.
    Other,
}

impl KycDocumentKind {
    /// Every kind, in the order forms list them.
    pub const ALL: [KycDocumentKind; 5] = [
        KycDocumentKind::BusinessLicence,
        KycDocumentKind::LegalRepresentativeId,
        KycDocumentKind::SettlementAccountProof,
        KycDocumentKind::PremisesPhoto,
        KycDocumentKind::Other,
    ];

    /// Code name (API, database, catalog key `kyc.kind.<name>`).
    pub fn as_str(self) -> &'static str {
        match self {
            KycDocumentKind::BusinessLicence => "business_licence",
            KycDocumentKind::LegalRepresentativeId => "legal_representative_id",
            KycDocumentKind::SettlementAccountProof => "settlement_account_proof",
            KycDocumentKind::PremisesPhoto => "premises_photo",
            KycDocumentKind::Other => "other",
        }
    }

    /// From its code name.
    pub fn parse(s: &str) -> Option<KycDocumentKind> {
        KycDocumentKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for k in KycDocumentKind::ALL {
            assert_eq!(KycDocumentKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(KycDocumentKind::parse("passport_of_someone"), None);
        assert_eq!(KycDocumentKind::parse(""), None);
    }
}
