//! Suanpan's POS center: the UnionPay POS 8583 profile over TCP on the embedded store.
//!
//! - [`server::start`] binds the 8583 listener and the small HTTP port (`/healthz`,
//!   `/metrics`) and runs the scheduler (cutoff settlement, pre-auth hold expiry);
//! - each connection is framed with `suanpan_iso8583::split_frame`, bounded by the named
//!   limits of [`ServerConfig`], and each frame is answered by [`Host::handle`];
//! - [`client`] is the terminal side of the same profile (sign-in, MAC, PIN block), used by
//!   the black-box tests and the load generator.
//!
//! **Architecture Invariant:** the host decides no money rule. It turns a frame into one
//! store `Command`, and the store's reply (or refusal) into a response code and 63.2 text.
//! Sessions and working keys live only in memory: after a restart every terminal signs in
//! again (its next MACed request is answered `77`).
#![deny(missing_docs)]

pub mod bench;
pub mod client;
pub mod codes;
pub mod config;
mod dispatch;
pub use dispatch::CONFIRM_DUPLICATE_63;
pub mod http;
pub mod replay;
pub mod server;
pub mod session;
pub mod tls;

pub use config::ServerConfig;
pub use dispatch::{ACQUIRER_ID, Outcome};
pub use server::{Running, start, start_with};

use std::sync::Arc;
use suanpan_service::upstream::Upstream;
use suanpan_store::{Fingerprinter, Store};

/// What every connection shares: the store, the PAN fingerprinter, the sessions and the
/// upstream that decides sales.
pub struct Host {
    store: Arc<dyn Store>,
    fingerprinter: Fingerprinter,
    sessions: session::Sessions,
    replies: replay::Replies,
    upstream: Upstream,
}

impl Host {
    /// A host on an opened store, its sales decided by the inline issuer simulator.
    pub fn new(store: Arc<dyn Store>, fingerprinter: Fingerprinter) -> Host {
        Host::with_upstream(store, fingerprinter, Upstream::Inline)
    }

    /// A host on an opened store whose sales `upstream` decides.
    pub fn with_upstream(
        store: Arc<dyn Store>,
        fingerprinter: Fingerprinter,
        upstream: Upstream,
    ) -> Host {
        Host {
            store,
            fingerprinter,
            sessions: session::Sessions::default(),
            replies: replay::Replies::default(),
            upstream,
        }
    }

    /// The upstream.
    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Terminals signed in since start.
    pub fn signed_in(&self) -> usize {
        self.sessions.len()
    }
}
