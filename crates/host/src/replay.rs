//! Stored answers to the non-financial requests (0800 sign-in, 0820 sign-out and echo, 0500
//! settlement, 0320 batch upload): an identical retransmission — the same bytes — gets the
//! same answer instead of running again. Financial requests have the store's durable
//! idempotency keys instead (`service::ctx::gate`); reversals are idempotent by rule.
//!
//! Why: a duplicated sign-in used to run twice and issue a second key set, so the terminal
//! that kept the first answer's keys was answered A0 (issue 12); a stale sign-out would end
//! the session a later sign-in opened. The answers live in memory, like the sessions they
//! belong to: after a restart every terminal signs in again anyway (docs/DECISIONS.md).

use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use suanpan_core::TerminalId;

/// Answers kept per terminal, newest first out: a terminal retransmits only its last few
/// requests, so a handful covers every retry.
pub const REPLIES_PER_TERMINAL_MAX: usize = 8;

/// One terminal's stored answers, behind a lock held while a request of that terminal is
/// being answered (two copies of one frame on two connections run once).
pub type Slot = Arc<tokio::sync::Mutex<Answers>>;

/// The stored answers of one terminal: (SHA-256 of the request, response frame).
#[derive(Default)]
pub struct Answers {
    kept: VecDeque<([u8; 32], Vec<u8>)>,
}

impl Answers {
    /// The answer given to these exact request bytes, if it is still kept.
    pub fn find(&self, request: &[u8]) -> Option<Vec<u8>> {
        let key = digest(request);
        self.kept
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, f)| f.clone())
    }

    /// Keeps the answer to these request bytes, dropping the oldest beyond the limit.
    pub fn remember(&mut self, request: &[u8], frame: Vec<u8>) {
        if self.kept.len() >= REPLIES_PER_TERMINAL_MAX {
            self.kept.pop_back();
        }
        self.kept.push_front((digest(request), frame));
    }
}

/// Every terminal's stored answers. Only answers to registered terminals are kept (approved
/// answers), so the map is bounded by the terminal register.
#[derive(Default)]
pub struct Replies {
    map: Mutex<HashMap<TerminalId, Slot>>,
}

impl Replies {
    /// The terminal's slot (created empty).
    pub fn slot(&self, id: &TerminalId) -> Slot {
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(id.clone()).or_default().clone()
    }
}

fn digest(request: &[u8]) -> [u8; 32] {
    Sha256::digest(request).into()
}
