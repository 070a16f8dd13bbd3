//! The durable store-and-forward queue of reversal advices, behind a trait. The host keeps it
//! in its main store (the service's `StoreQueue`, issue 15), so an advice commits with the
//! row whose fate needs it, sealed under the KEK and claimed by one node at a time.
//! [`MemorySaf`] is the link's test double (not durable beyond its process).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// One queued advice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafEntry {
    /// Queue position (ascending = order of sending).
    pub id: i64,
    /// The destination (the link's name): the queue is ordered per destination.
    pub destination: String,
    /// The 0420 frame (length prefix included), as first queued.
    pub frame: Vec<u8>,
    /// Times it was sent without a 0430 coming back.
    pub attempts: u32,
    /// Not before this time (ms since the Unix epoch).
    pub next_attempt_ms: i64,
}

/// Why the queue failed.
#[derive(Debug, thiserror::Error)]
#[error("store-and-forward queue: {0}")]
pub struct SafError(pub String);

/// A durable, ordered queue of advices.
pub trait SafStore: Send + Sync {
    /// Appends an advice; durable when it returns. Returns its id.
    ///
    /// # Errors
    /// Storage failures (then nothing was queued).
    fn push(&self, destination: &str, frame: &[u8], now_ms: i64) -> Result<i64, SafError>;
    /// The oldest advice of `destination` this node may send, claimed for it: where several
    /// nodes drain one queue, an advice another live node holds is skipped (its claim ends
    /// with [`SafStore::remove`] or [`SafStore::retry_later`], or when its lease expires:
    /// a node that died gives its advices back that way). The caller waits for its
    /// `next_attempt_ms` before sending.
    ///
    /// # Errors
    /// Storage failures.
    fn claim(&self, destination: &str, now_ms: i64) -> Result<Option<SafEntry>, SafError>;
    /// Records an attempt that got no 0430 and when to try again; ends this node's claim.
    ///
    /// # Errors
    /// Storage failures.
    fn retry_later(&self, id: i64, attempts: u32, next_attempt_ms: i64) -> Result<(), SafError>;
    /// Removes an acknowledged advice.
    ///
    /// # Errors
    /// Storage failures.
    fn remove(&self, id: i64) -> Result<(), SafError>;
    /// Advices queued for every destination.
    ///
    /// # Errors
    /// Storage failures.
    fn depth(&self) -> Result<u64, SafError>;
    /// Keeps a prepared advice aside under `reference` (the application's name for the
    /// request it would reverse), not sent: [`crate::Link::park_reversal`] parks the
    /// time-out reversal of a request before the request leaves, so that a crash while it
    /// is in flight still finds the advice. (The host no longer parks since schema 19: its
    /// store keeps the sealed card number with the request and builds the 0420 from the
    /// row; it still queues what an older build parked.) A second park under the same
    /// reference replaces the first.
    ///
    /// # Errors
    /// Storage failures (then nothing was parked).
    fn park(
        &self,
        destination: &str,
        reference: &str,
        frame: &[u8],
        now_ms: i64,
    ) -> Result<(), SafError>;
    /// Moves the advice parked under `reference` to the end of its destination's queue, in
    /// one transaction; its queue id, or `None` when nothing is parked under it.
    ///
    /// # Errors
    /// Storage failures (then nothing moved).
    fn activate(&self, reference: &str, now_ms: i64) -> Result<Option<i64>, SafError>;
    /// Drops the advice parked under `reference` (its request was answered, or never left).
    ///
    /// # Errors
    /// Storage failures.
    fn discard(&self, reference: &str) -> Result<(), SafError>;
    /// The references of every parked advice.
    ///
    /// # Errors
    /// Storage failures.
    fn parked(&self) -> Result<Vec<String>, SafError>;
}

/// The queue and STAN reservations in memory: the link's own tests (the host's queue is the
/// main store's). One process, one node: a claim is never contended. Shared through an
/// `Arc`, it outlives a link that is stopped and started again, as a restarted host's store
/// does.
#[derive(Default)]
pub struct MemorySaf {
    state: Mutex<MemoryState>,
}

#[derive(Default)]
struct MemoryState {
    next_id: i64,
    queued: BTreeMap<i64, SafEntry>,
    parked: HashMap<String, (String, Vec<u8>, i64)>,
    stans: HashMap<String, (u32, i64)>,
}

impl MemorySaf {
    fn state(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl MemoryState {
    fn push(&mut self, destination: &str, frame: &[u8], now_ms: i64) -> i64 {
        self.next_id += 1;
        let id = self.next_id;
        self.queued.insert(
            id,
            SafEntry {
                id,
                destination: destination.to_owned(),
                frame: frame.to_vec(),
                attempts: 0,
                next_attempt_ms: now_ms,
            },
        );
        id
    }
}

impl SafStore for MemorySaf {
    fn push(&self, destination: &str, frame: &[u8], now_ms: i64) -> Result<i64, SafError> {
        Ok(self.state().push(destination, frame, now_ms))
    }

    fn claim(&self, destination: &str, _now_ms: i64) -> Result<Option<SafEntry>, SafError> {
        Ok(self
            .state()
            .queued
            .values()
            .find(|e| e.destination == destination)
            .cloned())
    }

    fn retry_later(&self, id: i64, attempts: u32, next_attempt_ms: i64) -> Result<(), SafError> {
        if let Some(e) = self.state().queued.get_mut(&id) {
            e.attempts = attempts;
            e.next_attempt_ms = next_attempt_ms;
        }
        Ok(())
    }

    fn remove(&self, id: i64) -> Result<(), SafError> {
        self.state().queued.remove(&id);
        Ok(())
    }

    fn depth(&self) -> Result<u64, SafError> {
        Ok(self.state().queued.len() as u64)
    }

    fn park(
        &self,
        destination: &str,
        reference: &str,
        frame: &[u8],
        now_ms: i64,
    ) -> Result<(), SafError> {
        self.state().parked.insert(
            reference.to_owned(),
            (destination.to_owned(), frame.to_vec(), now_ms),
        );
        Ok(())
    }

    fn activate(&self, reference: &str, now_ms: i64) -> Result<Option<i64>, SafError> {
        let mut s = self.state();
        Ok(s.parked
            .remove(reference)
            .map(|(destination, frame, _)| s.push(&destination, &frame, now_ms)))
    }

    fn discard(&self, reference: &str) -> Result<(), SafError> {
        self.state().parked.remove(reference);
        Ok(())
    }

    fn parked(&self) -> Result<Vec<String>, SafError> {
        let s = self.state();
        let mut refs: Vec<(&i64, &String)> =
            s.parked.iter().map(|(r, (_, _, at))| (at, r)).collect();
        refs.sort();
        Ok(refs.into_iter().map(|(_, r)| r.clone()).collect())
    }
}

/// Where the STAN allocator keeps its reservations (beside the queue).
pub trait StanStore: Send + Sync {
    /// The last STAN reserved for `sender` and when its last cycle (up to 999 999) ended.
    ///
    /// # Errors
    /// Storage failures.
    fn load(&self, sender: &str) -> Result<Option<(u32, i64)>, SafError>;
    /// Records that STANs up to `reserved_until` may be in use.
    ///
    /// # Errors
    /// Storage failures.
    fn reserve(&self, sender: &str, reserved_until: u32, cycle_end_ms: i64)
    -> Result<(), SafError>;
}

impl StanStore for MemorySaf {
    fn load(&self, sender: &str) -> Result<Option<(u32, i64)>, SafError> {
        Ok(self.state().stans.get(sender).copied())
    }

    fn reserve(
        &self,
        sender: &str,
        reserved_until: u32,
        cycle_end_ms: i64,
    ) -> Result<(), SafError> {
        self.state()
            .stans
            .insert(sender.to_owned(), (reserved_until, cycle_end_ms));
        Ok(())
    }
}
