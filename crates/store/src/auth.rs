//! Operator passwords: argon2id hashes (PHC strings). Verification runs outside the writer
//! because it is deliberately slow.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
}

/// True when `password` matches the stored PHC hash.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// An operator's password hash, failure count and lock, on either backend.
pub fn secret_in(
    c: &dyn crate::sql::Sql,
    merchant: &suanpan_core::MerchantId,
    op: suanpan_core::OperatorNo,
) -> Result<Option<(String, u32, Option<i64>)>, crate::StoreError> {
    use crate::sql::SqlExt;
    c.row(
        "SELECT password_hash, failures, locked_until FROM operators WHERE merchant_id = ?1 AND operator_no = ?2",
        crate::p![merchant.as_str(), &op.to_string()],
        |r| Ok((r.text(0)?, r.u32(1)?, r.opt_i64(2)?)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = hash_password("123456");
        let b = hash_password("123456");
        assert_ne!(a, b, "salted");
        assert!(a.starts_with("$argon2id$"));
        assert!(verify_password("123456", &a));
        assert!(!verify_password("654321", &a));
        assert!(!verify_password("123456", "not a hash"));
    }
}
