//! What every handler shares: the store, the PAN fingerprinter, the settings, and the login
//! rate limiter (memory only).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use suanpan_store::{Fingerprinter, Store};

/// Default HTTP address of the back-office.
pub const HTTP_ADDR_DEFAULT: &str = "127.0.0.1:8080";
/// Distinct keys (addresses, user names) the login limiter remembers at most; when full,
/// windows that have ended are dropped, and if none has, the oldest are.
const LIMITER_KEYS_MAX: usize = 10_000;
/// The login limiter's window.
const LIMITER_WINDOW: Duration = Duration::from_secs(60);

/// The `[web]` section of `suanpan.toml`. Every limit is named with its unit last.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// Where the back-office listens, `HOST:PORT` (port 0: any free port).
    pub http: String,
    /// A session ends this long after login.
    pub session_minutes: u32,
    /// A session unused for longer than this ends (login again); each use slides it.
    pub session_idle_minutes: u32,
    /// An API token stops working this many days after it was made.
    pub token_days: u32,
    /// Users who can approve money movements (roles that review voids and refunds) must
    /// enrol TOTP, as admins always must.
    pub totp_required_for_approvers: bool,
    /// Reverse proxies (IPs or CIDRs) whose `X-Forwarded-For` names the client for rate
    /// limits and the login audit; empty: the peer address, the header is ignored.
    pub trusted_proxies: Vec<String>,
    /// Login attempts one client address, or one user name, may make per minute.
    pub login_attempts_per_minute: u32,
    /// Largest request body accepted.
    pub body_bytes_max: usize,
    /// Largest evidence upload (video, photo, PDF).
    pub evidence_bytes_max: usize,
    /// Mark cookies `Secure` (set when the back-office is served behind TLS).
    pub secure_cookies: bool,
    /// How often the executor looks for approved requests whose grace window has passed.
    pub executor_interval_ms: u64,
    /// How long a REST `Idempotency-Key` is remembered (its answer replayed, another body
    /// refused with 409); after that the key may be used again and its row is swept.
    pub idempotency_key_hours: u32,
    /// PEM certificate chain: with `tls_key`, the back-office is served over HTTPS (rustls)
    /// and cookies are `Secure`. `suanpan admin dev-cert` makes a self-signed pair.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key of `tls_cert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Where evidence files are kept (default: `evidence/` in the data directory). Nodes
    /// sharing one PostgreSQL database must name one shared folder here.
    pub evidence_dir: Option<PathBuf>,
    /// Where backups go, from the API, the CLI and before a purge (default: `backups/` in
    /// the data directory).
    pub backup_dir: Option<PathBuf>,
    /// A backup asked for over the API within this many seconds of the last one is refused
    /// (429): a backup copies the whole store, and the API must not be a way to fill the
    /// disk. The backup a purge makes is not limited.
    pub backup_interval_seconds_min: u32,
    /// `[notify]` of the config file (set by `serve`, not read from `[web]`): whether a
    /// webhook URL may name an internal address.
    #[serde(skip)]
    pub notify: suanpan_notify::NotifyConfig,
}

impl Default for WebConfig {
    fn default() -> WebConfig {
        WebConfig {
            http: HTTP_ADDR_DEFAULT.to_owned(),
            session_minutes: 480,
            session_idle_minutes: 15,
            token_days: 90,
            totp_required_for_approvers: true,
            trusted_proxies: Vec::new(),
            login_attempts_per_minute: 10,
            body_bytes_max: 64 * 1024,
            evidence_bytes_max: 50 * 1024 * 1024,
            secure_cookies: false,
            executor_interval_ms: 1_000,
            idempotency_key_hours: 24,
            tls_cert: None,
            tls_key: None,
            evidence_dir: None,
            backup_dir: None,
            backup_interval_seconds_min: 60,
            notify: suanpan_notify::NotifyConfig::default(),
        }
    }
}

/// Shared state, cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    store: Arc<dyn Store>,
    fingerprinter: Fingerprinter,
    cfg: WebConfig,
    proxies: crate::client::TrustedProxies,
    evidence_dir: PathBuf,
    data_dir: PathBuf,
    backup_dir: PathBuf,
    /// Held while a backup or a purge runs (one at a time in this process), with the
    /// store-clock time of the last backup asked for over the API.
    backups: suanpan_service::ops::BackupGate,
    limiter: Mutex<HashMap<String, (Instant, u32)>>,
    executor: tokio::sync::Mutex<()>,
    /// The process's upstream, which the review executor sends a refund of a sale the
    /// network upstream decided through (`serve --upstream` shares the host's).
    upstream: suanpan_service::upstream::Upstream,
}

impl AppState {
    /// Builds the state; evidence files go to `cfg.evidence_dir`, else `evidence/` in
    /// `data_dir`. `upstream`: the process's (see [`AppState::upstream`]).
    pub fn new(
        store: Arc<dyn Store>,
        fingerprinter: Fingerprinter,
        cfg: WebConfig,
        data_dir: &Path,
        upstream: suanpan_service::upstream::Upstream,
    ) -> AppState {
        let evidence_dir = cfg
            .evidence_dir
            .clone()
            .unwrap_or_else(|| suanpan_store::evidence::evidence_dir(data_dir));
        let backup_dir = cfg
            .backup_dir
            .clone()
            .unwrap_or_else(|| data_dir.join(suanpan_store::backup::BACKUPS_DIR));
        // `start` refuses a list that does not parse; a state built otherwise trusts none.
        let proxies =
            crate::client::TrustedProxies::parse(&cfg.trusted_proxies).unwrap_or_default();
        AppState(Arc::new(Inner {
            store,
            fingerprinter,
            proxies,
            cfg,
            evidence_dir,
            data_dir: data_dir.to_path_buf(),
            backup_dir,
            backups: suanpan_service::ops::BackupGate::new(),
            limiter: Mutex::new(HashMap::new()),
            executor: tokio::sync::Mutex::new(()),
            upstream,
        }))
    }
    /// The process's upstream: the review executor's way to the switch.
    pub fn upstream(&self) -> &suanpan_service::upstream::Upstream {
        &self.0.upstream
    }
    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.0.store
    }
    /// The folder of evidence files.
    pub fn evidence_dir(&self) -> &Path {
        &self.0.evidence_dir
    }
    /// The data directory (the PAN key a backup copies).
    pub fn data_dir(&self) -> &Path {
        &self.0.data_dir
    }
    /// The folder of backups.
    pub fn backup_dir(&self) -> &Path {
        &self.0.backup_dir
    }
    /// Held while a backup or a purge runs, with the time of the last API backup.
    pub fn backups(&self) -> &suanpan_service::ops::BackupGate {
        &self.0.backups
    }
    /// The PAN fingerprinter.
    pub fn fingerprinter(&self) -> &Fingerprinter {
        &self.0.fingerprinter
    }
    /// Settings.
    pub fn cfg(&self) -> &WebConfig {
        &self.0.cfg
    }

    /// The client a request comes from (see `client`): the peer, or what a trusted proxy
    /// says it saw.
    pub fn client_ip(
        &self,
        peer: std::net::IpAddr,
        headers: &axum::http::HeaderMap,
    ) -> std::net::IpAddr {
        self.0.proxies.client(peer, headers)
    }

    /// Held while approved requests are run: one executor at a time in this process.
    pub fn executor_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.0.executor
    }

    /// Counts one login attempt under each key; false when any key is over the limit for the
    /// current minute (the attempt is then not even checked against the password).
    pub fn login_allowed(&self, keys: &[String]) -> bool {
        let max = self.0.cfg.login_attempts_per_minute;
        let now = Instant::now();
        let Ok(mut map) = self.0.limiter.lock() else {
            return false;
        };
        if map.len() + keys.len() > LIMITER_KEYS_MAX {
            map.retain(|_, (start, _)| now.duration_since(*start) < LIMITER_WINDOW);
            while map.len() + keys.len() > LIMITER_KEYS_MAX {
                let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, (s, _))| *s)
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                map.remove(&oldest);
            }
        }
        let mut allowed = true;
        for k in keys {
            let slot = map.entry(k.clone()).or_insert((now, 0));
            if now.duration_since(slot.0) >= LIMITER_WINDOW {
                *slot = (now, 0);
            }
            slot.1 = slot.1.saturating_add(1);
            if slot.1 > max {
                allowed = false;
            }
        }
        allowed
    }
}
