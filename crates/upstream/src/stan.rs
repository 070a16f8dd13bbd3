//! STAN allocation (field 11): unique per sender per day and never reused within 24 hours
//! (spec "Fields", 11). The sender is the terminal (field 41), as answers are matched by
//! (11, 7, 41); network management uses the link's own sender `""`.
//!
//! Each sender counts 1..=999 999. Numbers are reserved in blocks in the [`StanStore`], so a
//! restart continues after the last block and never hands out a number again. A counter may
//! start over at 1 only 24 hours after it last reached 999 999; before that the allocator
//! refuses ([`StanError::Exhausted`]) rather than reuse a number.

use crate::saf::{SafError, StanStore};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Highest STAN.
pub const STAN_MAX: u32 = 999_999;
/// STANs reserved in the store at once.
pub const STAN_BLOCK: u32 = 1_000;
/// A STAN may come back only after this long (spec: "never reused within 24 h").
pub const STAN_REUSE_MS_MIN: i64 = 24 * 60 * 60 * 1000;

/// Why no STAN could be given.
#[derive(Debug, thiserror::Error)]
pub enum StanError {
    /// Every STAN of this sender was used within the last 24 hours.
    #[error("every STAN of sender {0:?} was used within 24 hours")]
    Exhausted(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] SafError),
}

#[derive(Debug, Clone, Copy)]
struct Sender {
    last: u32,
    reserved_until: u32,
    cycle_end_ms: i64,
}

/// Hands out STANs per sender.
pub struct StanAllocator {
    store: Arc<dyn StanStore>,
    senders: Mutex<HashMap<String, Sender>>,
}

impl StanAllocator {
    /// An allocator over `store`.
    pub fn new(store: Arc<dyn StanStore>) -> StanAllocator {
        StanAllocator {
            store,
            senders: Mutex::new(HashMap::new()),
        }
    }

    /// The next STAN of `sender` at `now_ms`.
    ///
    /// # Errors
    /// [`StanError::Exhausted`], or the store's failure.
    pub fn next(&self, sender: &str, now_ms: i64) -> Result<u32, StanError> {
        let mut senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        let s = match senders.get(sender) {
            Some(s) => *s,
            None => {
                let (until, cycle_end_ms) = self.store.load(sender)?.unwrap_or((0, i64::MIN / 2));
                // After a restart, continue past every number that may have been used.
                Sender {
                    last: until,
                    reserved_until: until,
                    cycle_end_ms,
                }
            }
        };
        let mut s = s;
        if s.last >= STAN_MAX {
            if now_ms - s.cycle_end_ms < STAN_REUSE_MS_MIN {
                return Err(StanError::Exhausted(sender.to_owned()));
            }
            s.last = 0;
            s.reserved_until = 0;
        }
        let stan = s.last + 1;
        if stan > s.reserved_until {
            s.reserved_until = (stan + STAN_BLOCK - 1).min(STAN_MAX);
            self.store
                .reserve(sender, s.reserved_until, s.cycle_end_ms)?;
        }
        s.last = stan;
        if stan == STAN_MAX {
            s.cycle_end_ms = now_ms;
            self.store.reserve(sender, STAN_MAX, now_ms)?;
        }
        // The sender's name is copied once, when it is first seen, not per STAN.
        match senders.get_mut(sender) {
            Some(slot) => *slot = s,
            None => {
                senders.insert(sender.to_owned(), s);
            }
        }
        Ok(stan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saf::MemorySaf;

    // Goal: STANs continue after a restart, and a wrap inside 24 hours is refused.
    #[test]
    fn restart_and_wrap() {
        let store = Arc::new(MemorySaf::default());
        let a = StanAllocator::new(store.clone());
        assert_eq!(a.next("T1", 0).ok(), Some(1));
        assert_eq!(a.next("T1", 0).ok(), Some(2));
        assert_eq!(a.next("T2", 0).ok(), Some(1));
        let b = StanAllocator::new(store.clone());
        let after = b.next("T1", 0).unwrap_or(0);
        assert!(after > 2, "a restart never reuses: got {after}");
        store
            .reserve("T3", STAN_MAX - 1, 0)
            .unwrap_or_else(|e| panic!("{e}"));
        let c = StanAllocator::new(store);
        assert_eq!(c.next("T3", 1_000).ok(), Some(STAN_MAX));
        assert!(matches!(c.next("T3", 2_000), Err(StanError::Exhausted(_))));
        assert_eq!(c.next("T3", 1_000 + STAN_REUSE_MS_MIN).ok(), Some(1));
    }
}
