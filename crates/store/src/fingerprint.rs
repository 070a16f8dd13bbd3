//! PAN fingerprints: HMAC-SHA256 under a key kept outside the database, so plain columns can
//! match a card without holding its number (DESIGN.md "Security").

use hmac::{Hmac, Mac};
use sha2::Sha256;
use suanpan_core::Pan;

/// Computes PAN fingerprints under one key.
#[derive(Clone)]
pub struct Fingerprinter {
    key: [u8; 32],
}

impl std::fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprinter(..)")
    }
}

impl Fingerprinter {
    /// A fingerprinter under `key`.
    pub fn new(key: [u8; 32]) -> Fingerprinter {
        Fingerprinter { key }
    }

    /// A fresh random key.
    pub fn random_key() -> [u8; 32] {
        rand::random()
    }

    /// The hex fingerprint of a PAN.
    pub fn of(&self, pan: &Pan) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(pan.expose_digits().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

impl Drop for Fingerprinter {
    fn drop(&mut self) {
        for b in self.key.iter_mut() {
            // Volatile so the wipe is not optimized away.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}
