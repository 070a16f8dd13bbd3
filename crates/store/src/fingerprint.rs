//! PAN fingerprints: HMAC-SHA256 under a key kept outside the database, so plain columns can
//! match a card without holding its number (DESIGN.md "Security").

use crate::keys::KeyedMac;
use suanpan_core::Pan;

/// Computes PAN fingerprints under one key (keyed once, [`KeyedMac`]: wiped when dropped).
#[derive(Clone)]
pub struct Fingerprinter {
    mac: KeyedMac,
}

impl std::fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprinter(..)")
    }
}

impl Fingerprinter {
    /// A fingerprinter under `key`.
    pub fn new(mut key: [u8; 32]) -> Fingerprinter {
        let mac = KeyedMac::new(&key);
        zeroize::Zeroize::zeroize(&mut key);
        Fingerprinter { mac }
    }

    /// A fresh random key.
    pub fn random_key() -> [u8; 32] {
        rand::random()
    }

    /// The hex fingerprint of a PAN.
    pub fn of(&self, pan: &Pan) -> String {
        hex::encode(self.mac.of(pan.expose_digits().as_bytes()))
    }
}
