//! Waits to within the operating system timer's precision, for async code. tokio's timer
//! rounds every sleep up to its next millisecond tick, so `sleep(1 ms)` waited between 1 and
//! 2 ms: half again the latency asked for, on every request of switch-sim (issue 15,
//! s23-delay), and up to a millisecond late on every send `bench load` paced, which its
//! percentiles then counted as the host's (s26-pace). One thread keeps the waiters in a heap
//! and releases each at its time, late only by the operating system's wake-up.
#![deny(missing_docs)]

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// One request waiting for its time.
struct Due {
    at: Instant,
    /// Arrival order, so that equal times leave in the order they came.
    seq: u64,
    release: oneshot::Sender<()>,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    /// Reversed: the heap's top is the earliest.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// The sending side; the thread ends (releasing whatever still waits) when it is dropped.
#[derive(Debug)]
pub struct Delays {
    tx: Sender<(Instant, oneshot::Sender<()>)>,
}

impl Delays {
    /// Starts the thread, named `name`.
    ///
    /// # Errors
    /// The thread could not be started.
    pub fn start(name: &str) -> std::io::Result<Delays> {
        let (tx, rx) = channel();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || delay_loop(&rx))?;
        Ok(Delays { tx })
    }

    /// Returns `d` after it is called (not before; late by the operating system's wake-up).
    pub async fn wait(&self, d: Duration) {
        self.wait_until(Instant::now() + d).await;
    }

    /// Returns at `at` (not before; late by the operating system's wake-up), at once when
    /// `at` has passed.
    pub async fn wait_until(&self, at: Instant) {
        if at <= Instant::now() {
            return;
        }
        let (release, released) = oneshot::channel();
        if self.tx.send((at, release)).is_err() {
            // The thread is gone (it never panics; only if it failed to run): tokio's timer.
            tokio::time::sleep_until(at.into()).await;
            return;
        }
        let _ = released.await;
    }
}

fn delay_loop(rx: &Receiver<(Instant, oneshot::Sender<()>)>) {
    let mut waiting: BinaryHeap<Due> = BinaryHeap::new();
    let mut seq = 0u64;
    loop {
        let now = Instant::now();
        while waiting.peek().is_some_and(|d| d.at <= now) {
            if let Some(d) = waiting.pop() {
                // A waiter that went away (its connection closed): nothing to do.
                let _ = d.release.send(());
            }
        }
        let next = match waiting.peek() {
            Some(d) => rx.recv_timeout(d.at.saturating_duration_since(now)),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match next {
            Ok((at, release)) => {
                seq += 1;
                waiting.push(Due { at, seq, release });
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                // The owner stopped: let whatever waits go on.
                for d in waiting.drain() {
                    let _ = d.release.send(());
                }
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: a request is never released before its latency, and a shorter wait asked for
    // later is released first (the thread waits for the earliest, not the first in).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_request_waits_its_own_time_and_no_less() {
        let delays =
            std::sync::Arc::new(Delays::start("test-delay").unwrap_or_else(|e| panic!("{e}")));
        let started = Instant::now();
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
        for (name, ms) in [("long", 300u64), ("short", 20)] {
            let (delays, done_tx) = (delays.clone(), done_tx.clone());
            tokio::spawn(async move {
                let asked = Instant::now();
                delays.wait(Duration::from_millis(ms)).await;
                let waited = asked.elapsed();
                assert!(waited >= Duration::from_millis(ms), "{name}: {waited:?}");
                let _ = done_tx.send(name);
            });
            // The long one is asked for first.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(done_tx);
        let mut order = Vec::new();
        while let Some(name) = done_rx.recv().await {
            order.push(name);
        }
        assert_eq!(order, ["short", "long"]);
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    // Goal: `wait_until` returns at once for a time already past, and never before a time to
    // come.
    #[tokio::test]
    async fn waits_until_a_time_to_come_and_not_for_one_past() {
        let delays = Delays::start("test-delay").unwrap_or_else(|e| panic!("{e}"));
        let past = Instant::now();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let asked = Instant::now();
        delays.wait_until(past).await;
        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "{:?}",
            asked.elapsed()
        );
        let at = Instant::now() + Duration::from_millis(30);
        delays.wait_until(at).await;
        assert!(Instant::now() >= at);
    }

    // Goal: dropping the sending side (the switch stopped) releases whatever still waits, at once.
    #[tokio::test]
    async fn a_dropped_sender_releases_every_wait() {
        let delays = Delays::start("test-delay").unwrap_or_else(|e| panic!("{e}"));
        let (release, released) = oneshot::channel();
        let far = Instant::now() + Duration::from_secs(3600);
        assert!(delays.tx.send((far, release)).is_ok());
        drop(delays);
        let r = tokio::time::timeout(Duration::from_secs(10), released).await;
        assert!(
            matches!(r, Ok(Ok(()))),
            "released when the switch stopped: {r:?}"
        );
    }
}
