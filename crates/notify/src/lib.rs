//! Outgoing webhooks and scheduled operations (issue 13).
//!
//! - [`webhook`]: signs the outbox's events (HMAC-SHA256 over `timestamp.body` with the
//!   endpoint's secret) and POSTs them, one attempt per due delivery, recorded in the
//!   delivery log; the back-off and the address rule are `suanpan_core::notify`.
//! - [`http`]: the small blocking HTTP/1.1 client it posts with (bounded in time and bytes,
//!   connecting only to addresses the rule allows).
//! - [`schedule`]: backups with rotation, the weekly restore drill and the daily compliance
//!   report, run on the store's clock so tests drive them with a test clock.
//!
//! **Architecture Invariant:** nothing here moves money or decides a money rule; the worker
//! reads the outbox that the use cases wrote in their own transactions.
#![deny(missing_docs)]

pub mod http;
pub mod schedule;
pub mod webhook;

pub use webhook::{NotifyConfig, run_due, sign, verify};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A background thread that runs one job every interval until [`Worker::stop`] (the webhook
/// worker, the scheduler).
pub struct Worker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    /// Runs `pass` now and then every `interval_ms` on a thread named `name`.
    pub fn every(
        name: &str,
        interval_ms: u64,
        mut pass: impl FnMut() + Send + 'static,
    ) -> std::io::Result<Worker> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                // Sleeps in short steps so that a stop is noticed within 100 ms.
                let interval = Duration::from_millis(interval_ms.max(1));
                let step = Duration::from_millis(interval_ms.clamp(1, 100));
                while !flag.load(Ordering::SeqCst) {
                    pass();
                    let started = Instant::now();
                    while started.elapsed() < interval && !flag.load(Ordering::SeqCst) {
                        std::thread::sleep(step);
                    }
                }
            })?;
        Ok(Worker {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the thread after its current pass and waits for it.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
