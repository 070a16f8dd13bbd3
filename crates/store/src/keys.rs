//! The key hierarchy: every secret the store keeps (terminal master keys, TOTP secrets, the
//! PAN-fingerprint key) is wrapped under a key-encryption key (KEK) that never lives in the
//! data directory or in a backup (docs/SECURITY.md).
//!
//! A [`KeyProvider`] holds the KEK and does the three things that need it: wrap, unwrap and
//! derive a purpose key (backup encryption, backup and anchor signatures, request hashes).
//! [`FileKek`] keeps the KEK in a 0600 file outside the data directory; a PKCS#11 provider
//! (an HSM) implements the same trait. A wrapped value is text:
//! `w1:<KEK id>:<hex of nonce ‖ AES-256-GCM ciphertext ‖ tag>`, with the object's identity
//! (`tmk:T0000001`, `totp:staff:3`, `pan.key`) as associated data, so a wrapped key moved
//! to another row does not unwrap.

use crate::error::StoreError;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use zeroize::Zeroizing;

/// Bytes of a KEK and of every derived key.
pub const KEY_BYTES: usize = 32;
/// Bytes of an AES-GCM nonce.
pub(crate) const NONCE_BYTES: usize = 12;
/// The prefix of a wrapped value (format version 1).
pub const WRAPPED_PREFIX: &str = "w1:";
/// The prefix of a key held in an HSM: `h1:<KEK id>:<check value>`, a reference, no key.
pub const HELD_PREFIX: &str = "h1:";
/// Bytes of a key check value shown for a key held in an HSM.
pub const CHECK_VALUE_BYTES: usize = 4;
/// Hex digits of a KEK id (its check value).
pub(crate) const KEK_ID_HEX: usize = 16;

/// Secret bytes, wiped when dropped, never printed.
#[derive(Clone)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// Takes ownership of secret bytes.
    pub fn new(bytes: Vec<u8>) -> Secret {
        Secret(Zeroizing::new(bytes))
    }
    /// The bytes, for the one computation that needs them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// What holds the KEK. Implementations never hand the KEK out.
pub trait KeyProvider: Send + Sync {
    /// The KEK's id: a check value that names it without revealing it (stored beside every
    /// wrapped value, so a wrong KEK is named as such instead of failing as "corrupt").
    fn kek_id(&self) -> String;
    /// Wraps `plain` for the object named `identity`.
    fn wrap(&self, identity: &str, plain: &[u8]) -> Result<String, StoreError>;
    /// Unwraps a value [`KeyProvider::wrap`] made for the same `identity`.
    fn unwrap(&self, identity: &str, wrapped: &str) -> Result<Secret, StoreError>;
    /// A key for one purpose (`backup.enc`, `backup.mac`, `audit.anchor`, `request.hash`),
    /// derived from the KEK: the same KEK always gives the same key.
    fn derive(&self, purpose: &str) -> Result<Secret, StoreError>;
    /// Stores a terminal master key: returns what `terminals.tmk_hex` keeps. A file KEK
    /// wraps it; an HSM imports it as a token object and returns a reference
    /// ([`HELD_PREFIX`]), so that it is never unwrapped into the host again.
    fn store_tmk(&self, identity: &str, tmk: &[u8]) -> Result<String, StoreError> {
        self.wrap(identity, tmk)
    }
    /// The HSM behind this provider, when it keeps the terminal keys (PKCS#11).
    fn hsm(&self) -> Option<&crate::pkcs11::Pkcs11Kek> {
        None
    }
}

/// A shared provider.
pub type Keys = Arc<dyn KeyProvider>;

/// Whether a stored value is wrapped (format 1), as opposed to a clear value of an older
/// store that is still to be migrated.
pub fn is_wrapped(value: &str) -> bool {
    value.starts_with(WRAPPED_PREFIX)
}

/// Whether a stored value is a reference to a key held in an HSM (no key material).
pub fn is_held(value: &str) -> bool {
    value.starts_with(HELD_PREFIX)
}

/// The KEK id a wrapped (or held) value names, if it is one.
pub fn wrapped_kek_id(value: &str) -> Option<&str> {
    value
        .strip_prefix(WRAPPED_PREFIX)
        .or_else(|| value.strip_prefix(HELD_PREFIX))?
        .split(':')
        .next()
}

/// `w1:<id>:<hex of nonce ‖ ciphertext ‖ tag>`.
pub(crate) fn format_wrapped(id: &str, nonce: &[u8], sealed: &[u8]) -> String {
    let mut blob = nonce.to_vec();
    blob.extend_from_slice(sealed);
    format!("{WRAPPED_PREFIX}{id}:{}", hex::encode(blob))
}

/// The nonce and the sealed bytes of a value [`format_wrapped`] made under KEK `id`.
pub(crate) fn parse_wrapped(
    identity: &str,
    wrapped: &str,
    id: &str,
) -> Result<([u8; NONCE_BYTES], Vec<u8>), StoreError> {
    let malformed = || key_error(format!("{identity}: malformed wrapped value"));
    if is_held(wrapped) {
        return Err(key_error(format!(
            "{identity} is held in the HSM and never leaves it"
        )));
    }
    let rest = wrapped
        .strip_prefix(WRAPPED_PREFIX)
        .ok_or_else(|| key_error(format!("{identity} is not wrapped")))?;
    let (by, body) = rest.split_once(':').ok_or_else(malformed)?;
    if by != id {
        return Err(StoreError::KekMismatch {
            wrapped_by: by.to_owned(),
            given: id.to_owned(),
        });
    }
    let blob = hex::decode(body).map_err(|_| malformed())?;
    if blob.len() < NONCE_BYTES {
        return Err(malformed());
    }
    let nonce = blob[..NONCE_BYTES].try_into().map_err(|_| malformed())?;
    Ok((nonce, blob[NONCE_BYTES..].to_vec()))
}

/// The associated data binding a wrapped value to its object.
pub(crate) fn aad(identity: &str) -> String {
    format!("suanpan:{identity}")
}

/// Length-prefixed `parts`, the message every keyed hash and derivation covers.
pub(crate) fn framed(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(&(p.len() as u64).to_be_bytes());
        out.extend_from_slice(p);
    }
    out
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    KeyedMac::new(key).framed(parts)
}

/// HMAC-SHA256 under one key, keyed once. Keying hashes the key's inner and outer padded
/// blocks; a `KeyedMac` keeps that state and starts each MAC from a copy of it, two SHA-256
/// blocks fewer per MAC than keying again (a sale's request hash and card fingerprint,
/// issue 15, s19-inline). The state stands for the key, so it is wiped when dropped.
#[derive(Clone)]
pub struct KeyedMac(Hmac<Sha256>);

impl KeyedMac {
    /// The MAC under `key` (any length).
    pub fn new(key: &[u8]) -> KeyedMac {
        KeyedMac(
            <Hmac<Sha256> as Mac>::new_from_slice(key)
                .unwrap_or_else(|_| unreachable!("HMAC takes any key length")),
        )
    }

    /// The MAC of `data` as it is.
    pub fn of(&self, data: &[u8]) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// The MAC of length-prefixed `parts`, so ("ab","c") and ("a","bc") differ (as in
    /// [`framed`]).
    pub fn framed(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.0.clone();
        for p in parts {
            mac.update(&(p.len() as u64).to_be_bytes());
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }
}

impl Drop for KeyedMac {
    fn drop(&mut self) {
        // SAFETY: `Hmac<Sha256>` is flat (two SHA-256 states and a block buffer: integer
        // arrays and a position byte, no pointer, no `Drop`), all zeroes is a valid value of
        // each, and it is not used after this.
        unsafe { zeroize::zeroize_flat_type(&mut self.0 as *mut Hmac<Sha256>) }
    }
}

/// HMAC-SHA256 under `key` over length-prefixed `parts`, as hex.
pub fn keyed_hash(key: &Secret, parts: &[&[u8]]) -> String {
    hex::encode(hmac(key.expose(), parts))
}

/// A key derived from the KEK for one purpose at its first use and kept, keyed
/// ([`KeyedMac`], wiped when dropped): `request.hash` is needed for every sale, and deriving
/// it again each time cost one HMAC per sale, or a round trip to the HSM (issue 15,
/// s18-speed); keying it again, two SHA-256 blocks (s19-inline). A store's KEK provider never
/// changes while it is open, so neither does the key.
pub struct KeptKey {
    purpose: &'static str,
    key: OnceLock<KeyedMac>,
}

impl KeptKey {
    /// A key for `purpose`, not yet derived.
    pub const fn new(purpose: &'static str) -> KeptKey {
        KeptKey {
            purpose,
            key: OnceLock::new(),
        }
    }

    /// The keyed MAC, its key derived from `keys` at the first call.
    pub fn get(&self, keys: &dyn KeyProvider) -> Result<&KeyedMac, StoreError> {
        if let Some(k) = self.key.get() {
            return Ok(k);
        }
        let k = KeyedMac::new(keys.derive(self.purpose)?.expose());
        Ok(self.key.get_or_init(|| k))
    }
}

/// The purpose of the key of [`crate::Store::request_hash`].
pub const REQUEST_HASH_PURPOSE: &str = "request.hash";

pub(crate) fn key_error(what: impl Into<String>) -> StoreError {
    StoreError::Key(what.into())
}

/// A KEK held in memory (loaded from a file, or made for one process).
pub struct MemoryKek {
    kek: Zeroizing<[u8; KEY_BYTES]>,
    id: String,
}

impl MemoryKek {
    /// A provider over these KEK bytes.
    pub fn new(kek: [u8; KEY_BYTES]) -> MemoryKek {
        let kek = Zeroizing::new(kek);
        let id = hex::encode(hmac(&kek[..], &[b"suanpan kek id"]))[..KEK_ID_HEX].to_owned();
        MemoryKek { kek, id }
    }

    fn cipher(&self) -> Aes256Gcm {
        let key = Zeroizing::new(hmac(&self.kek[..], &[b"suanpan wrap v1"]));
        Aes256Gcm::new_from_slice(&key[..]).unwrap_or_else(|_| unreachable!("32-byte key"))
    }
}

impl KeyProvider for MemoryKek {
    fn kek_id(&self) -> String {
        self.id.clone()
    }

    fn wrap(&self, identity: &str, plain: &[u8]) -> Result<String, StoreError> {
        let nonce: [u8; NONCE_BYTES] = rand::random();
        let aad = aad(identity);
        let ct = self
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| key_error("wrapping failed"))?;
        Ok(format_wrapped(&self.id, &nonce, &ct))
    }

    fn unwrap(&self, identity: &str, wrapped: &str) -> Result<Secret, StoreError> {
        let (nonce, sealed) = parse_wrapped(identity, wrapped, &self.id)?;
        let aad = aad(identity);
        let plain = self
            .cipher()
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &sealed,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| key_error(format!("{identity} does not unwrap (altered or moved)")))?;
        Ok(Secret::new(plain))
    }

    fn derive(&self, purpose: &str) -> Result<Secret, StoreError> {
        Ok(Secret::new(
            hmac(&self.kek[..], &[b"suanpan derive v1", purpose.as_bytes()]).to_vec(),
        ))
    }
}

/// One random KEK per process, for stores opened without one (tests, throwaway library
/// use). Whatever it wraps is lost when the process ends: the `suanpan` binary always opens
/// its stores with the configured KEK file instead (`--kek-file`).
pub fn ephemeral() -> Keys {
    static EPHEMERAL: OnceLock<Keys> = OnceLock::new();
    EPHEMERAL
        .get_or_init(|| Arc::new(MemoryKek::new(rand::random())))
        .clone()
}

/// The KEK file provider: 64 hex digits in a file readable by its owner only, kept outside
/// the data directory (and so outside every backup of it).
pub struct FileKek;

impl FileKek {
    /// Makes a new KEK file at `path` (0600); refuses to overwrite one.
    pub fn create(path: &Path) -> Result<(), StoreError> {
        write_secret_file(path, &hex::encode(rand::random::<[u8; KEY_BYTES]>()), true)
    }

    /// Loads the KEK at `path`. Refused: a missing or malformed file, a file others may read,
    /// or one inside `data_dir` (it would travel with every copy of the data).
    pub fn load(path: &Path, data_dir: &Path) -> Result<Keys, StoreError> {
        if inside(path, data_dir) {
            return Err(StoreError::KekInsideData(path.display().to_string()));
        }
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                StoreError::KekMissing(path.display().to_string())
            } else {
                key_error(format!("{}: {e}", path.display()))
            }
        })?);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|e| key_error(format!("{}: {e}", path.display())))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(key_error(format!(
                    "{} is readable by others (mode {:o}); chmod 600 it",
                    path.display(),
                    mode & 0o777
                )));
            }
        }
        let bytes = Zeroizing::new(
            hex::decode(text.trim())
                .map_err(|_| key_error(format!("{} is not a KEK file", path.display())))?,
        );
        let kek: [u8; KEY_BYTES] = bytes[..]
            .try_into()
            .map_err(|_| key_error(format!("{} is not a KEK file", path.display())))?;
        Ok(Arc::new(MemoryKek::new(kek)))
    }
}

/// Whether `path` lies inside `dir` (both as they resolve on disk where they exist).
pub fn inside(path: &Path, dir: &Path) -> bool {
    let abs = |p: &Path| -> PathBuf {
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        };
        // Resolve the deepest existing ancestor, keep the rest as written.
        let mut existing = p.as_path();
        let mut tail = Vec::new();
        while !existing.exists() {
            match (existing.parent(), existing.file_name()) {
                (Some(parent), Some(name)) => {
                    tail.push(name.to_owned());
                    existing = parent;
                }
                _ => break,
            }
        }
        let mut out = existing
            .canonicalize()
            .unwrap_or_else(|_| existing.to_path_buf());
        for t in tail.iter().rev() {
            out.push(t);
        }
        out
    };
    abs(path).starts_with(abs(dir))
}

/// Writes a file readable by its owner only (0600 from its creation, never wider), synced.
/// `new`: refuse an existing file.
pub fn write_secret_file(path: &Path, text: &str, new: bool) -> Result<(), StoreError> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true);
    if new {
        o.create_new(true);
    } else {
        o.create(true).truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let io = |e: std::io::Error| key_error(format!("{}: {e}", path.display()));
    let mut f = o.open(path).map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    restrict(path).map_err(io)
}

/// Makes a file 0600 (a directory 0700): owner only.
pub fn restrict(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if path.is_dir() { 0o700 } else { 0o600 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Why a terminal master key is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeakKey {
    /// Every byte the same (all zero, all FF…).
    Constant,
    /// The two halves equal: double-length 3DES degenerates to single DES.
    EqualHalves,
    /// A byte with even parity: DES keys carry odd parity in each byte.
    Parity,
    /// One of the DES weak or semi-weak keys in a half.
    WeakDes,
}

impl WeakKey {
    /// Why, in words (English; the CLI shows it inside a translated message).
    pub fn reason(self) -> &'static str {
        match self {
            WeakKey::Constant => "all its bytes are the same",
            WeakKey::EqualHalves => "its two halves are equal (single DES)",
            WeakKey::Parity => "a byte does not have odd parity",
            WeakKey::WeakDes => "a half is a DES weak or semi-weak key",
        }
    }
}

/// The DES weak and semi-weak keys (FIPS 74), parity set.
const DES_WEAK: [[u8; 8]; 16] = [
    [0x01; 8],
    [0xFE; 8],
    [0xE0, 0xE0, 0xE0, 0xE0, 0xF1, 0xF1, 0xF1, 0xF1],
    [0x1F, 0x1F, 0x1F, 0x1F, 0x0E, 0x0E, 0x0E, 0x0E],
    [0x01, 0xFE, 0x01, 0xFE, 0x01, 0xFE, 0x01, 0xFE],
    [0xFE, 0x01, 0xFE, 0x01, 0xFE, 0x01, 0xFE, 0x01],
    [0x1F, 0xE0, 0x1F, 0xE0, 0x0E, 0xF1, 0x0E, 0xF1],
    [0xE0, 0x1F, 0xE0, 0x1F, 0xF1, 0x0E, 0xF1, 0x0E],
    [0x01, 0xE0, 0x01, 0xE0, 0x01, 0xF1, 0x01, 0xF1],
    [0xE0, 0x01, 0xE0, 0x01, 0xF1, 0x01, 0xF1, 0x01],
    [0x1F, 0xFE, 0x1F, 0xFE, 0x0E, 0xFE, 0x0E, 0xFE],
    [0xFE, 0x1F, 0xFE, 0x1F, 0xFE, 0x0E, 0xFE, 0x0E],
    [0x01, 0x1F, 0x01, 0x1F, 0x01, 0x0E, 0x01, 0x0E],
    [0x1F, 0x01, 0x1F, 0x01, 0x0E, 0x01, 0x0E, 0x01],
    [0xE0, 0xFE, 0xE0, 0xFE, 0xF1, 0xFE, 0xF1, 0xFE],
    [0xFE, 0xE0, 0xFE, 0xE0, 0xFE, 0xF1, 0xFE, 0xF1],
];

/// Checks a double-length 3DES key (16 bytes) before it is accepted as a TMK.
pub fn check_des_key(key: &[u8]) -> Result<(), WeakKey> {
    if key.iter().all(|&b| b == key[0]) {
        return Err(WeakKey::Constant);
    }
    let (l, r) = key.split_at(key.len() / 2);
    if l == r {
        return Err(WeakKey::EqualHalves);
    }
    if key.iter().any(|b| b.count_ones() % 2 == 0) {
        return Err(WeakKey::Parity);
    }
    if DES_WEAK.iter().any(|w| l == w || r == w) {
        return Err(WeakKey::WeakDes);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: a MAC keyed once answers as HMAC-SHA256 keyed afresh, every time it is used
    // (RFC 4231 test case 2: key "Jefe"), so kept request-hash keys and fingerprints change
    // no stored hash.
    #[test]
    fn a_keyed_mac_answers_as_hmac_keyed_afresh() {
        let mac = KeyedMac::new(b"Jefe");
        let data: &[u8] = b"what do ya want for nothing?";
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert_eq!(hex::encode(mac.of(data)), expected);
        assert_eq!(hex::encode(mac.clone().of(data)), expected);
        let mut fresh = <Hmac<Sha256> as Mac>::new_from_slice(b"Jefe").expect("key");
        for p in [&b"ab"[..], b"c"] {
            fresh.update(&(p.len() as u64).to_be_bytes());
            fresh.update(p);
        }
        let framed: [u8; 32] = fresh.finalize().into_bytes().into();
        assert_eq!(mac.framed(&[b"ab", b"c"]), framed);
        assert_ne!(mac.framed(&[b"ab", b"c"]), mac.framed(&[b"a", b"bc"]));
        assert_eq!(hex::encode(mac.of(data)), expected, "reused after framed");
    }

    // Goal: a wrapped value unwraps only under its KEK and its own identity.
    #[test]
    fn wrap_binds_kek_and_identity() {
        let k = MemoryKek::new([7; 32]);
        let w = k.wrap("tmk:T1", b"secret").expect("wrap");
        assert!(is_wrapped(&w));
        assert_eq!(wrapped_kek_id(&w), Some(k.kek_id().as_str()));
        assert_eq!(k.unwrap("tmk:T1", &w).expect("unwrap").expose(), b"secret");
        assert!(k.unwrap("tmk:T2", &w).is_err(), "moved to another row");
        let other = MemoryKek::new([8; 32]);
        assert!(matches!(
            other.unwrap("tmk:T1", &w),
            Err(StoreError::KekMismatch { .. })
        ));
        let mut bad = w.clone();
        bad.pop();
        bad.push(if w.ends_with('0') { '1' } else { '0' });
        assert!(k.unwrap("tmk:T1", &bad).is_err(), "altered");
        assert!(!w.contains(&hex::encode(b"secret")));
    }

    // Goal: weak TMKs are named, good ones pass.
    #[test]
    fn weak_keys() {
        assert_eq!(check_des_key(&[0; 16]), Err(WeakKey::Constant));
        let half = [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF];
        let mut eq = half.to_vec();
        eq.extend_from_slice(&half);
        assert_eq!(check_des_key(&eq), Err(WeakKey::EqualHalves));
        let mut weak = vec![0x01; 8];
        weak.extend_from_slice(&half);
        assert_eq!(check_des_key(&weak), Err(WeakKey::WeakDes));
        let mut parity = half.to_vec();
        parity.extend_from_slice(&[0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x11]);
        assert_eq!(check_des_key(&parity), Err(WeakKey::Parity));
        let good = hex::decode("0123456789ABCDEFFEDCBA9876543210").expect("hex");
        assert_eq!(check_des_key(&good), Ok(()));
    }

    // Goal: a KEK file inside the data directory, or readable by others, is refused.
    #[test]
    fn kek_file_placement() {
        let d = tempfile::tempdir().expect("tmp");
        let data = d.path().join("data");
        std::fs::create_dir_all(&data).expect("mkdir");
        let inside_path = data.join("kek");
        FileKek::create(&inside_path).expect("create");
        assert!(matches!(
            FileKek::load(&inside_path, &data),
            Err(StoreError::KekInsideData(_))
        ));
        let ok = d.path().join("data.kek");
        FileKek::create(&ok).expect("create");
        assert!(FileKek::create(&ok).is_err(), "never overwritten");
        let a = FileKek::load(&ok, &data).expect("load");
        let b = FileKek::load(&ok, &data).expect("load");
        assert_eq!(a.kek_id(), b.kek_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&ok, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            assert!(FileKek::load(&ok, &data).is_err());
        }
        assert!(matches!(
            FileKek::load(&d.path().join("none"), &data),
            Err(StoreError::KekMissing(_))
        ));
    }
}
