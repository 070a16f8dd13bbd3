//! Operator sign-in rules: lockout after repeated wrong passwords. Hashing is the store's job;
//! this module only decides.

use crate::policy::Policy;
use jiff::{Timestamp, ToSpan};

/// An operator's standing with respect to wrong passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoginState {
    /// Wrong passwords in a row.
    pub failures: u32,
    /// Locked until this moment.
    pub locked_until: Option<Timestamp>,
}

impl LoginState {
    /// `Some(until)` while the operator is locked out.
    pub fn locked(&self, now: Timestamp) -> Option<Timestamp> {
        self.locked_until.filter(|until| *until > now)
    }

    /// The state after a wrong password: the failure counted, and a lockout of
    /// `lockout_minutes` once `login_failures_max` is reached.
    pub fn after_failure(&self, policy: &Policy, now: Timestamp) -> LoginState {
        // A lockout that has run out starts the count again.
        let base = if self.locked_until.is_some() && self.locked(now).is_none() {
            0
        } else {
            self.failures
        };
        let failures = base + 1;
        let locked_until = (failures >= policy.login_failures_max).then(|| {
            now.checked_add(i64::from(policy.lockout_minutes).minutes())
                .unwrap_or(Timestamp::MAX)
        });
        LoginState {
            failures,
            locked_until,
        }
    }

    /// Tries left before the lockout.
    pub fn remaining(&self, policy: &Policy) -> u32 {
        policy.login_failures_max.saturating_sub(self.failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_lock_for_fifteen_minutes() {
        let policy = Policy::default();
        let now: Timestamp = "2026-11-25T02:00:00Z".parse().unwrap();
        let mut s = LoginState::default();
        for i in 1..=4 {
            s = s.after_failure(&policy, now);
            assert_eq!(s.failures, i);
            assert!(s.locked(now).is_none());
        }
        assert_eq!(s.remaining(&policy), 1);
        s = s.after_failure(&policy, now);
        let until = s.locked(now).expect("locked after the fifth failure");
        assert_eq!(until, now.checked_add(15.minutes()).unwrap());
        assert!(s.locked(until).is_none(), "the lock ends after 15 minutes");
        let later = s.after_failure(&policy, until);
        assert_eq!(later.failures, 1, "a lapsed lockout starts the count again");
    }
}
