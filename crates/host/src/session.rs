//! Signed-in terminals: working keys, batch and operator, in memory only.
//!
//! A restart of the host forgets every session, so each terminal's next MACed request is
//! answered `77` (sign in again) — the terminal signs in and gets fresh keys. Keys are
//! never written to the store.

use rand::RngCore;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use suanpan_core::{BatchNo, OperatorNo, TerminalId};
use suanpan_iso8583::crypto::{KEY_BYTES, SINGLE_KEY_BYTES};
use suanpan_iso8583::{KeyLayout, MacAlgorithm, Mak, Pik};
use zeroize::Zeroize;

/// One terminal's session after a sign-in (0800).
pub struct Session {
    /// The PIN key delivered in field 62.
    pub pik: Pik,
    /// The MAC key delivered in field 62.
    pub mak: Mak,
    /// The operator named in field 63 of the sign-in.
    pub operator: OperatorNo,
    /// The batch the host told the terminal at sign-in (updated at settlement).
    batch: AtomicU32,
    /// When the working keys were issued (store clock): past the policy's
    /// `working_key_max_hours` the session ends and the terminal is told to sign in again.
    pub issued_at: jiff::Timestamp,
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
        let mut rng = rand::thread_rng();
        let mut pik = [0u8; KEY_BYTES];
        let mut mak = [0u8; KEY_BYTES];
        rng.fill_bytes(&mut pik);
        rng.fill_bytes(&mut mak);
        let mak_key = match mac {
            MacAlgorithm::PosEcb => {
                let mut single = [0u8; SINGLE_KEY_BYTES];
                single.copy_from_slice(&mak[..SINGLE_KEY_BYTES]);
                let k = Mak::from_bytes(single);
                single.zeroize();
                k
            }
            MacAlgorithm::X919 => Mak::from_double(mak),
        };
        mak.zeroize();
        let mak = mak_key;
        let pik_key = match layout {
            KeyLayout::Single => {
                let mut single = [0u8; SINGLE_KEY_BYTES];
                single.copy_from_slice(&pik[..SINGLE_KEY_BYTES]);
                let k = Pik::from_single(single);
                single.zeroize();
                k
            }
            KeyLayout::Double | KeyLayout::DoubleWithTrack => Pik::from_bytes(pik),
        };
        // The clear bytes live on in the keys only (zeroed on drop), not in these buffers.
        pik.zeroize();
        let pik = pik_key;
        Session {
            pik,
            mak,
            operator,
            batch: AtomicU32::new(batch.value()),
            issued_at,
        }
    }

    /// The batch no. as last told to the terminal.
    pub fn batch(&self) -> u32 {
        self.batch.load(Ordering::Relaxed)
    }

    /// True when the keys are older than `max_hours` at `now`.
    pub fn expired(&self, now: jiff::Timestamp, max_hours: u32) -> bool {
        now.duration_since(self.issued_at) > jiff::SignedDuration::from_hours(i64::from(max_hours))
    }

    /// Records the batch the host opened after a settlement.
    pub fn set_batch(&self, batch: BatchNo) {
        self.batch.store(batch.value(), Ordering::Relaxed);
    }
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
