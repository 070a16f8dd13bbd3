//! The PKCS#11 key provider: the KEK and every terminal master key are objects of an HSM
//! token, used through the `cryptoki` crate (tested against SoftHSM2; docs/SECURITY.md).
//!
//! Objects in the token (all sensitive, never extractable):
//! - `suanpan-kek`: AES-256; [`KeyProvider::wrap`]/[`KeyProvider::unwrap`] are AES-GCM
//!   inside the token, in the same `w1:` format as the file provider's.
//! - `suanpan-derive`: a 32-byte generic secret; [`KeyProvider::derive`] and the KEK id are
//!   HMAC-SHA256 (`CKM_SHA256_HMAC`) inside the token. A derived purpose key leaves the token
//!   (backup encryption and signatures, request hashes run in the host).
//! - `tmk:<terminal id>`: each terminal master key, a double-length DES key that can only
//!   encrypt (the working keys it seals, its check value). The store keeps `h1:<KEK id>:<check
//!   value>` for it, a reference without key material.
//! - Session objects: the PIN key (PIK) of each signed-in terminal, decrypt-only from the
//!   host's point of view; field 52 is decrypted inside the token.
//!
//! Configuration: the module (`--pkcs11-module`), the token label (`--pkcs11-token`) and the
//! user PIN (`SUANPAN_PKCS11_PIN`, an environment variable only, never a flag).

use crate::error::StoreError;
use crate::keys::{
    self, HELD_PREFIX, KEK_ID_HEX, KeyProvider, Keys, NONCE_BYTES, Secret, aad, format_wrapped,
    framed, key_error, parse_wrapped,
};
use cryptoki::context::{CInitializeArgs, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use zeroize::Zeroizing;

/// Label of the AES KEK object.
pub const KEK_LABEL: &str = "suanpan-kek";
/// Label of the HMAC derivation key object.
pub const DERIVE_LABEL: &str = "suanpan-derive";
/// The environment variable holding the token's user PIN.
pub const PIN_ENV: &str = "SUANPAN_PKCS11_PIN";
/// Bytes of a DES block (a PIN block).
pub const BLOCK_BYTES: usize = 8;
/// Bits of an AES-GCM tag.
const TAG_BITS: u64 = 128;

/// Where the token is.
#[derive(Clone)]
pub struct Pkcs11Config {
    /// The PKCS#11 module (a shared library), e.g. `/usr/lib/softhsm/libsofthsm2.so`.
    pub module: PathBuf,
    /// The token's label.
    pub token: String,
    /// The token's user PIN.
    pub pin: Zeroizing<String>,
}

impl std::fmt::Debug for Pkcs11Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pkcs11Config({}, {})", self.module.display(), self.token)
    }
}

fn hsm_error(what: &str, e: impl std::fmt::Display) -> StoreError {
    key_error(format!("HSM: {what}: {e}"))
}

/// One initialized context per module and process: `C_Initialize` may run only once.
fn context(module: &Path) -> Result<Pkcs11, StoreError> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut all = CONTEXTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(c) = all.get(module) {
        return Ok(c.clone());
    }
    let c = Pkcs11::new(module).map_err(|e| {
        key_error(format!(
            "PKCS#11 module {} cannot be loaded: {e}",
            module.display()
        ))
    })?;
    c.initialize(CInitializeArgs::OsThreads)
        .map_err(|e| hsm_error("C_Initialize", e))?;
    all.insert(module.to_path_buf(), c.clone());
    Ok(c)
}

/// A logged-in read-write session on the token labelled `cfg.token`.
fn open_session(cfg: &Pkcs11Config) -> Result<Session, StoreError> {
    let ctx = context(&cfg.module)?;
    let slots = ctx
        .get_slots_with_initialized_token()
        .map_err(|e| hsm_error("listing slots", e))?;
    let slot = slots
        .into_iter()
        .find(|s| {
            ctx.get_token_info(*s)
                .map(|i| i.label().trim() == cfg.token)
                .unwrap_or(false)
        })
        .ok_or_else(|| {
            key_error(format!(
                "PKCS#11 token \"{}\" not found in {}",
                cfg.token,
                cfg.module.display()
            ))
        })?;
    let session = ctx
        .open_rw_session(slot)
        .map_err(|e| hsm_error("opening a session", e))?;
    let pin = AuthPin::new(cfg.pin.as_str().to_owned());
    match session.login(UserType::User, Some(&pin)) {
        Ok(()) => {}
        // Another session of this process is logged in already: the login is per token.
        Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::UserAlreadyLoggedIn, _)) => {}
        Err(e) => {
            return Err(key_error(format!(
                "PKCS#11 login to token \"{}\" refused ({e}); check {PIN_ENV}",
                cfg.token
            )));
        }
    }
    Ok(session)
}

fn find(session: &Session, label: &str) -> Result<Option<ObjectHandle>, StoreError> {
    let found = session
        .find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .map_err(|e| hsm_error("finding objects", e))?;
    Ok(found.into_iter().next())
}

/// The attributes every long-lived secret object carries.
fn kept(label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Label(label.as_bytes().to_vec()),
    ]
}

/// The token session and the provider's two objects.
struct Inner {
    session: Mutex<Session>,
    kek: ObjectHandle,
    derive: ObjectHandle,
}

impl Inner {
    fn session(&self) -> MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The PKCS#11 provider: a [`KeyProvider`] whose KEK never leaves the token, and which keeps
/// the terminal master keys and the session PIN keys as token objects.
pub struct Pkcs11Kek {
    inner: Arc<Inner>,
    id: String,
    /// Purpose keys derived so far: they are used in the host anyway, and the request hash
    /// of every sale needs one, so the token is asked once per purpose and process.
    derived: Mutex<HashMap<String, Secret>>,
}

impl Pkcs11Kek {
    /// Creates the KEK and the derivation key in the token (`keys init --pkcs11`); refuses a
    /// token that has them already. Returns the new KEK id.
    pub fn create(cfg: &Pkcs11Config) -> Result<String, StoreError> {
        let session = open_session(cfg)?;
        for label in [KEK_LABEL, DERIVE_LABEL] {
            if find(&session, label)?.is_some() {
                return Err(key_error(format!(
                    "token \"{}\" already holds {label}; a KEK is never overwritten",
                    cfg.token
                )));
            }
        }
        let mut kek = kept(KEK_LABEL);
        kek.extend([
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(32.into()),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
        ]);
        session
            .generate_key(&Mechanism::AesKeyGen, &kek)
            .map_err(|e| hsm_error("generating the KEK", e))?;
        let mut derive = kept(DERIVE_LABEL);
        derive.extend([
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::ValueLen(32.into()),
            Attribute::Sign(true),
        ]);
        session
            .generate_key(&Mechanism::GenericSecretKeyGen, &derive)
            .map_err(|e| hsm_error("generating the derivation key", e))?;
        drop(session);
        Ok(Pkcs11Kek::open(cfg)?.kek_id())
    }

    /// Opens the provider: the token, the login, the two objects. Refused with a clear
    /// message when the module, the token, the PIN or the objects are wrong or missing.
    pub fn open(cfg: &Pkcs11Config) -> Result<Keys, StoreError> {
        Ok(Arc::new(Self::open_concrete(cfg)?))
    }

    fn open_concrete(cfg: &Pkcs11Config) -> Result<Pkcs11Kek, StoreError> {
        let session = open_session(cfg)?;
        let missing = |label: &str| {
            StoreError::KekMissing(format!(
                "{label} in PKCS#11 token \"{}\" (suanpan keys init --pkcs11)",
                cfg.token
            ))
        };
        let kek = find(&session, KEK_LABEL)?.ok_or_else(|| missing(KEK_LABEL))?;
        let derive = find(&session, DERIVE_LABEL)?.ok_or_else(|| missing(DERIVE_LABEL))?;
        let inner = Arc::new(Inner {
            session: Mutex::new(session),
            kek,
            derive,
        });
        let mut p = Pkcs11Kek {
            inner,
            id: String::new(),
            derived: Mutex::default(),
        };
        p.id = hex::encode(p.hmac(&[b"suanpan kek id"])?)[..KEK_ID_HEX].to_owned();
        Ok(p)
    }

    /// AES-GCM under the KEK in the token, the object's identity as associated data.
    fn gcm(
        &self,
        identity: &str,
        nonce: &mut [u8; NONCE_BYTES],
        data: &[u8],
        seal: bool,
    ) -> cryptoki::error::Result<Vec<u8>> {
        let aad = aad(identity);
        let m = Mechanism::AesGcm(GcmParams::new(nonce, aad.as_bytes(), TAG_BITS.into())?);
        let session = self.inner.session();
        if seal {
            session.encrypt(&m, self.inner.kek, data)
        } else {
            session.decrypt(&m, self.inner.kek, data)
        }
    }

    fn hmac(&self, parts: &[&[u8]]) -> Result<Vec<u8>, StoreError> {
        self.inner
            .session()
            .sign(&Mechanism::Sha256Hmac, self.inner.derive, &framed(parts))
            .map_err(|e| hsm_error("HMAC", e))
    }

    fn tmk(&self, session: &Session, identity: &str) -> Result<ObjectHandle, StoreError> {
        find(session, identity)?.ok_or_else(|| {
            key_error(format!(
                "{identity} is not in the HSM (load it with admin terminal set-tmk)"
            ))
        })
    }

    /// Whether the token holds the master key `identity` (`tmk:<terminal id>`).
    pub fn has_tmk(&self, identity: &str) -> Result<bool, StoreError> {
        Ok(find(&self.inner.session(), identity)?.is_some())
    }

    /// The TMK's full check value: a zero block encrypted under it (3DES ECB, in the
    /// token). Names a key (duplicates, the `h1:` reference) without revealing it.
    pub fn tmk_check(&self, identity: &str) -> Result<[u8; BLOCK_BYTES], StoreError> {
        let session = self.inner.session();
        let tmk = self.tmk(&session, identity)?;
        block(&session, tmk, &[0; BLOCK_BYTES])
    }

    /// One block encrypted under the master key `identity` inside the token (3DES ECB): the
    /// host derives a terminal's sign-in proof key this way, so the TMK never leaves the token.
    pub fn tmk_encrypt(
        &self,
        identity: &str,
        data: &[u8; BLOCK_BYTES],
    ) -> Result<Zeroizing<[u8; BLOCK_BYTES]>, StoreError> {
        let session = self.inner.session();
        let tmk = self.tmk(&session, identity)?;
        block(&session, tmk, data).map(Zeroizing::new)
    }

    /// A new working key for the terminal whose master key is `identity`, made at sign-in:
    /// random bytes from the token, sealed under the TMK inside the token (3DES ECB, block by
    /// block, as field 62 carries it), then created as a session object of the token. `len`
    /// is 8 (single DES, kept as the double-length key K‖K) or 16. With `export` the clear
    /// key is returned too (the MAK, which the host needs for every MAC); without it the
    /// clear bytes are wiped before this returns and the key is usable only in the token.
    pub fn working_key(
        &self,
        identity: &str,
        len: usize,
        export: bool,
    ) -> Result<WorkingKey, StoreError> {
        if len != BLOCK_BYTES && len != 2 * BLOCK_BYTES {
            return Err(key_error("a working key is 8 or 16 bytes"));
        }
        let session = self.inner.session();
        let tmk = self.tmk(&session, identity)?;
        let clear = Zeroizing::new(
            session
                .generate_random_vec(len as u32)
                .map_err(|e| hsm_error("random", e))?,
        );
        let sealed = session
            .encrypt(&Mechanism::Des3Ecb, tmk, &clear)
            .map_err(|e| hsm_error("sealing a working key", e))?;
        let mut value = Zeroizing::new(clear.to_vec());
        if len == BLOCK_BYTES {
            value.extend_from_slice(&clear[..]);
        }
        let object = session
            .create_object(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::DES2),
                Attribute::Token(false),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
                Attribute::Value(value.to_vec()),
            ])
            .map_err(|e| hsm_error("creating a working key", e))?;
        let handle = HsmKey {
            inner: self.inner.clone(),
            object,
        };
        let check = block(&session, object, &[0; BLOCK_BYTES])?;
        Ok(WorkingKey {
            sealed,
            check,
            handle,
            clear: export.then(|| Secret::new(clear.to_vec())),
        })
    }
}

fn block(
    session: &Session,
    key: ObjectHandle,
    data: &[u8; BLOCK_BYTES],
) -> Result<[u8; BLOCK_BYTES], StoreError> {
    let out = session
        .encrypt(&Mechanism::Des3Ecb, key, data)
        .map_err(|e| hsm_error("3DES", e))?;
    out.try_into()
        .map_err(|_| key_error("HSM: 3DES of one block is one block"))
}

/// A working key made by [`Pkcs11Kek::working_key`].
pub struct WorkingKey {
    /// The key encrypted under the TMK (3DES ECB), for field 62.
    pub sealed: Vec<u8>,
    /// A zero block encrypted under the key (the first 4 bytes are its check value).
    pub check: [u8; BLOCK_BYTES],
    /// The key in the token.
    pub handle: HsmKey,
    /// The clear key, when it was asked for (`export`).
    pub clear: Option<Secret>,
}

/// A session key object in the token; destroyed when dropped (a sign-in replaces it).
pub struct HsmKey {
    inner: Arc<Inner>,
    object: ObjectHandle,
}

impl HsmKey {
    /// Decrypts one block (a field 52 PIN block) under this key, inside the token.
    pub fn decrypt_block(
        &self,
        sealed: &[u8; BLOCK_BYTES],
    ) -> Result<Zeroizing<[u8; BLOCK_BYTES]>, StoreError> {
        let clear = Zeroizing::new(
            self.inner
                .session()
                .decrypt(&Mechanism::Des3Ecb, self.object, sealed)
                .map_err(|e| hsm_error("decrypting a PIN block", e))?,
        );
        if clear.len() != BLOCK_BYTES {
            return Err(key_error("HSM: a PIN block decrypts to 8 bytes"));
        }
        let mut out = Zeroizing::new([0u8; BLOCK_BYTES]);
        out.copy_from_slice(&clear);
        Ok(out)
    }
}

impl Drop for HsmKey {
    fn drop(&mut self) {
        if let Err(e) = self.inner.session().destroy_object(self.object) {
            tracing::warn!(error = %e, "HSM: a session key could not be destroyed");
        }
    }
}

impl std::fmt::Debug for HsmKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HsmKey(..)")
    }
}

impl KeyProvider for Pkcs11Kek {
    fn kek_id(&self) -> String {
        self.id.clone()
    }

    fn wrap(&self, identity: &str, plain: &[u8]) -> Result<String, StoreError> {
        let mut nonce: [u8; NONCE_BYTES] = rand::random();
        let sealed = self
            .gcm(identity, &mut nonce, plain, true)
            .map_err(|e| hsm_error("wrapping", e))?;
        Ok(format_wrapped(&self.id, &nonce, &sealed))
    }

    fn unwrap(&self, identity: &str, wrapped: &str) -> Result<Secret, StoreError> {
        let (mut nonce, sealed) = parse_wrapped(identity, wrapped, &self.id)?;
        let plain = self
            .gcm(identity, &mut nonce, &sealed, false)
            .map_err(|_| key_error(format!("{identity} does not unwrap (altered or moved)")))?;
        Ok(Secret::new(plain))
    }

    fn derive(&self, purpose: &str) -> Result<Secret, StoreError> {
        let mut known = self.derived.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = known.get(purpose) {
            return Ok(k.clone());
        }
        let key = Secret::new(self.hmac(&[b"suanpan derive v1", purpose.as_bytes()])?);
        known.insert(purpose.to_owned(), key.clone());
        Ok(key)
    }

    /// Imports the TMK as a token object that can only encrypt (replacing the terminal's
    /// previous one); the store keeps `h1:<KEK id>:<check value>`.
    fn store_tmk(&self, identity: &str, tmk: &[u8]) -> Result<String, StoreError> {
        let session = self.inner.session();
        if let Some(old) = find(&session, identity)? {
            session
                .destroy_object(old)
                .map_err(|e| hsm_error("replacing a TMK", e))?;
        }
        let mut template = kept(identity);
        template.extend([
            Attribute::KeyType(KeyType::DES2),
            Attribute::Encrypt(true),
            Attribute::Value(tmk.to_vec()),
        ]);
        let object = session
            .create_object(&template)
            .map_err(|e| hsm_error("importing a TMK", e))?;
        let check = block(&session, object, &[0; BLOCK_BYTES])?;
        Ok(format!(
            "{HELD_PREFIX}{}:{}",
            self.id,
            hex::encode_upper(&check[..keys::CHECK_VALUE_BYTES])
        ))
    }

    fn hsm(&self) -> Option<&Pkcs11Kek> {
        Some(self)
    }
}

/// A fresh SoftHSM2 token in a directory of its own, for tests (of this crate and of the
/// `suanpan` binary): no global state, nothing left behind.
pub mod test_token {
    use super::Pkcs11Config;
    use std::path::{Path, PathBuf};
    use zeroize::Zeroizing;

    /// The user PIN of every test token.
    pub const PIN: &str = "246810";
    /// The label of every test token.
    pub const LABEL: &str = "suanpan-test";
    const MODULES: [&str; 2] = [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    ];

    /// A token made in `dir`: the configuration to give the provider, and the
    /// `SOFTHSM2_CONF` file any process using it must see. `None` (with a message) when
    /// SoftHSM2 is not installed; under `CI=true` that is a failure instead.
    pub fn make(dir: &Path) -> Option<(Pkcs11Config, PathBuf)> {
        let module = MODULES.iter().map(PathBuf::from).find(|p| p.exists());
        let util = std::process::Command::new("softhsm2-util")
            .arg("--version")
            .output()
            .is_ok();
        let Some(module) = module.filter(|_| util) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "SoftHSM2 is missing (apt-get install softhsm2; .ci/run installs it)"
            );
            eprintln!("SKIPPED: SoftHSM2 is not installed (apt-get install softhsm2)");
            return None;
        };
        let tokens = dir.join("tokens");
        std::fs::create_dir_all(&tokens).expect("token dir");
        let conf = dir.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .expect("softhsm2.conf");
        let out = std::process::Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &conf)
            .args(["--init-token", "--free", "--label", LABEL, "--pin", PIN])
            .args(["--so-pin", "13579135"])
            .output()
            .expect("softhsm2-util");
        assert!(
            out.status.success(),
            "softhsm2-util --init-token: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some((
            Pkcs11Config {
                module,
                token: LABEL.to_owned(),
                pin: Zeroizing::new(PIN.to_owned()),
            },
            conf,
        ))
    }
}
