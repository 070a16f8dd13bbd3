//! Signed-in terminals: working keys, batch and operator, in memory only.
//!
//! A restart of the host forgets every session, so each terminal's next MACed request is
//! answered `77` (sign in again) — the terminal signs in and gets fresh keys. Keys are
//! never written to the store. With the PKCS#11 key provider the PIN key is a session
//! object of the HSM token ([`PinKey::Hsm`]): field 52 is decrypted there.

use rand::RngCore;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use suanpan_core::{BatchNo, OperatorNo, Pan, TerminalId};
use suanpan_iso8583::crypto::{
    KEY_BYTES, SINGLE_KEY_BYTES, decrypt_pin, encrypt_pin, pin_from_clear_block, translate_pin,
};
use suanpan_iso8583::{CryptoError, KeyLayout, MacAlgorithm, Mak, Pik, Tmk, WorkingKeys, Zpk};
use suanpan_issuer::{EnteredPin, pin_hash};
use suanpan_store::StoreError;
use suanpan_store::pkcs11::{HsmKey, Pkcs11Kek};
use zeroize::{Zeroize, Zeroizing};

/// Where a session's PIN key is.
pub enum PinKey {
    /// In host memory (the file key provider).
    Memory(Box<Pik>),
    /// A session object of the HSM token (PKCS#11): it never leaves the token.
    Hsm(HsmKey),
}

/// Why a PIN block gave no PIN.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// Not a format 0 block for this card under this key (answer 55).
    #[error("{0}")]
    Block(#[from] CryptoError),
    /// The HSM failed (answer 96).
    #[error("{0}")]
    Hsm(#[from] StoreError),
}

impl PinKey {
    /// The PIN of a field 52 block, as the issuer is handed it: with the key in memory, the
    /// clear PIN in a zeroizing buffer; with the key in the HSM, the block is decrypted in
    /// the token and the PIN turned at once into the issuer's verification value for
    /// `account` (the card's fingerprint), so the clear PIN goes no further.
    pub fn entered_pin(
        &self,
        block: &[u8; 8],
        pan: &Pan,
        account: &str,
    ) -> Result<EnteredPin, PinError> {
        match self {
            PinKey::Memory(pik) => {
                let pin = decrypt_pin(pik, block, pan.expose_digits())?;
                Ok(EnteredPin::clear(pin.expose_secret()))
            }
            PinKey::Hsm(key) => {
                let clear = key.decrypt_block(block)?;
                let pin = pin_from_clear_block(&clear, pan.expose_digits())?;
                Ok(EnteredPin::Verification(Zeroizing::new(pin_hash(
                    account,
                    pin.expose_secret(),
                ))))
            }
        }
    }
}

impl PinKey {
    /// Re-encrypts a field 52 block from this PIN key to the zone PIN key the network
    /// upstream shares with the switch (spec field 52); the clear PIN lives only in a
    /// zeroized buffer meanwhile.
    ///
    /// # Errors
    /// As [`PinKey::entered_pin`].
    pub fn to_zpk(&self, block: &[u8; 8], pan: &Pan, zpk: &Zpk) -> Result<[u8; 8], PinError> {
        match self {
            PinKey::Memory(pik) => Ok(translate_pin(pik, zpk, block, pan.expose_digits())?),
            PinKey::Hsm(key) => {
                let clear = key.decrypt_block(block)?;
                let pin = pin_from_clear_block(&clear, pan.expose_digits())?;
                Ok(encrypt_pin(&zpk.pin_key(), &pin, pan.expose_digits())?)
            }
        }
    }
}

/// One terminal's session after a sign-in (0800).
pub struct Session {
    /// The PIN key delivered in field 62.
    pub pik: PinKey,
    /// The MAC key delivered in field 62.
    pub mak: Mak,
    /// The operator named in field 63 of the sign-in.
    pub operator: OperatorNo,
    /// When the working keys were issued (store clock): past the policy's
    /// `working_key_max_hours` the session ends and the terminal is told to sign in again.
    pub issued_at: jiff::Timestamp,
    /// The batch the host told the terminal at sign-in (updated at settlement).
    batch: AtomicU32,
}

impl Session {
    /// A new session with fresh random working keys for the layout the sign-in asked for:
    /// a single-length PIK for `001`, a double-length one otherwise; the MAK is
    /// single-length for the POS ECB MAC (spec "Keys, PIN, MAC") and double-length for
    /// X9.19.
    pub fn generate(
        operator: OperatorNo,
        batch: BatchNo,
        layout: KeyLayout,
        mac: MacAlgorithm,
        issued_at: jiff::Timestamp,
    ) -> Session {
        let (pik, mak) = fresh_keys(layout, mac);
        Session::in_memory(pik, mak, operator, batch, issued_at)
    }

    fn in_memory(
        pik: Pik,
        mak: Mak,
        operator: OperatorNo,
        batch: BatchNo,
        issued_at: jiff::Timestamp,
    ) -> Session {
        Session {
            pik: PinKey::Memory(Box::new(pik)),
            mak,
            operator,
            issued_at,
            batch: AtomicU32::new(batch.value()),
        }
    }

    /// A new session with fresh working keys in memory and the field 62 that carries them
    /// sealed under the terminal's master key.
    ///
    /// # Errors
    /// [`CryptoError::BadKey`] when the layout has no room for the MAK (X9.19 in `001`).
    pub fn sealed(
        tmk: &Tmk,
        operator: OperatorNo,
        batch: BatchNo,
        layout: KeyLayout,
        mac: MacAlgorithm,
        issued_at: jiff::Timestamp,
    ) -> Result<(Session, WorkingKeys), CryptoError> {
        let (pik, mak) = fresh_keys(layout, mac);
        let keys = WorkingKeys::seal(tmk, &pik, &mak)?;
        Ok((
            Session::in_memory(pik, mak, operator, batch, issued_at),
            keys,
        ))
    }

    /// A new session whose working keys the HSM makes under the terminal's master key
    /// `tmk` (`tmk:<terminal id>`), and the field 62 that carries them. The PIK stays in the
    /// token; the MAK is exported to the host, which computes every MAC.
    pub fn in_hsm(
        hsm: &Pkcs11Kek,
        tmk: &str,
        operator: OperatorNo,
        batch: BatchNo,
        layout: KeyLayout,
        mac: MacAlgorithm,
        issued_at: jiff::Timestamp,
    ) -> Result<(Session, WorkingKeys), StoreError> {
        let pik_len = match layout {
            KeyLayout::Single => SINGLE_KEY_BYTES,
            KeyLayout::Double | KeyLayout::DoubleWithTrack => KEY_BYTES,
        };
        let pik = hsm.working_key(tmk, pik_len, false)?;
        let mak_len = match mac {
            MacAlgorithm::PosEcb => SINGLE_KEY_BYTES,
            MacAlgorithm::X919 => KEY_BYTES,
        };
        let mak = hsm.working_key(tmk, mak_len, true)?;
        let clear = mak
            .clear
            .as_ref()
            .ok_or_else(|| StoreError::Key("HSM: the MAK was not exported".into()))?;
        let mak_key = match mac {
            MacAlgorithm::PosEcb => {
                <[u8; SINGLE_KEY_BYTES]>::try_from(clear.expose()).map(Mak::from_bytes)
            }
            MacAlgorithm::X919 => <[u8; KEY_BYTES]>::try_from(clear.expose()).map(Mak::from_double),
        }
        .map_err(|_| StoreError::Key(format!("HSM: this MAK is {mak_len} bytes")))?;
        let keys = WorkingKeys::from_sealed(
            layout,
            mac,
            (&pik.sealed, &pik.check),
            (&mak.sealed, &mak.check),
        )
        .map_err(|e| StoreError::Key(format!("HSM: field 62: {e}")))?;
        let session = Session {
            pik: PinKey::Hsm(pik.handle),
            mak: mak_key,
            operator,
            issued_at,
            batch: AtomicU32::new(batch.value()),
        };
        Ok((session, keys))
    }

    /// True when the keys are older than `max_hours` at `now`.
    pub fn expired(&self, now: jiff::Timestamp, max_hours: u32) -> bool {
        now.duration_since(self.issued_at) > jiff::SignedDuration::from_hours(i64::from(max_hours))
    }

    /// The batch no. as last told to the terminal.
    pub fn batch(&self) -> u32 {
        self.batch.load(Ordering::Relaxed)
    }

    /// Records the batch the host opened after a settlement.
    pub fn set_batch(&self, batch: BatchNo) {
        self.batch.store(batch.value(), Ordering::Relaxed);
    }
}

/// Fresh random working keys for the layout a sign-in asked for: a single-length PIK for
/// `001`, a double-length one otherwise; a single-length MAK for the POS ECB MAC, a
/// double-length one for X9.19. The clear bytes live on in the keys only (zeroed on drop),
/// not in these buffers.
fn fresh_keys(layout: KeyLayout, mac: MacAlgorithm) -> (Pik, Mak) {
    let mut rng = rand::thread_rng();
    let mut pik = [0u8; KEY_BYTES];
    let mut mak = [0u8; KEY_BYTES];
    rng.fill_bytes(&mut pik);
    rng.fill_bytes(&mut mak);
    let mut single = [0u8; SINGLE_KEY_BYTES];
    let mak_key = match mac {
        MacAlgorithm::PosEcb => {
            single.copy_from_slice(&mak[..SINGLE_KEY_BYTES]);
            Mak::from_bytes(single)
        }
        MacAlgorithm::X919 => Mak::from_double(mak),
    };
    let pik_key = match layout {
        KeyLayout::Single => {
            single.copy_from_slice(&pik[..SINGLE_KEY_BYTES]);
            Pik::from_single(single)
        }
        KeyLayout::Double | KeyLayout::DoubleWithTrack => Pik::from_bytes(pik),
    };
    single.zeroize();
    mak.zeroize();
    pik.zeroize();
    (pik_key, mak_key)
}

/// Every signed-in terminal.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<TerminalId, Arc<Session>>>,
}

impl Sessions {
    /// The terminal's session, if it signed in since the host started.
    pub fn get(&self, id: &TerminalId) -> Option<Arc<Session>> {
        self.map.lock().ok()?.get(id).cloned()
    }

    /// Starts (or replaces) a terminal's session.
    pub fn insert(&self, id: TerminalId, s: Session) -> Arc<Session> {
        let s = Arc::new(s);
        if let Ok(mut m) = self.map.lock() {
            m.insert(id, s.clone());
        }
        s
    }

    /// Ends a terminal's session (sign-out).
    pub fn remove(&self, id: &TerminalId) -> bool {
        self.map
            .lock()
            .map(|mut m| m.remove(id).is_some())
            .unwrap_or(false)
    }

    /// Ends a terminal's session if it is still `s` (a newer sign-in is kept).
    pub fn remove_if_same(&self, id: &TerminalId, s: &Arc<Session>) -> bool {
        let Ok(mut m) = self.map.lock() else {
            return false;
        };
        if m.get(id).is_some_and(|cur| Arc::ptr_eq(cur, s)) {
            m.remove(id);
            return true;
        }
        false
    }

    /// Signed-in terminals.
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// True when no terminal is signed in.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
