//! The `[server]` section of `suanpan.toml`: addresses and the named limits of the listener.

/// Default 8583 listen address.
pub const ISO8583_ADDR_DEFAULT: &str = "127.0.0.1:5800";
/// Default HTTP (health, metrics) listen address. The back-office takes 8080 and serves
/// `/healthz` and `/metrics` as well.
pub const HTTP_ADDR_DEFAULT: &str = "127.0.0.1:9180";

/// Where the host listens and how far a peer may push it. Every limit is named, with its
/// unit last (STYLE: "put a limit on everything").
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// The 8583 TCP listener, `HOST:PORT` (port 0: any free port).
    pub iso8583_addr: String,
    /// The HTTP port for `/healthz` and `/metrics`.
    pub http_addr: String,
    /// Once the first byte of a frame arrived, the whole frame must arrive within this
    /// (slow-loris); else the connection is closed.
    pub frame_read_timeout_ms: u64,
    /// A connection with no frame for this long is closed.
    pub idle_timeout_ms: u64,
    /// Open 8583 connections at most; further ones are closed at once (connection floods).
    pub connections_max: usize,
    /// How often the scheduler settles due batches and expires pre-auth holds.
    pub scheduler_interval_ms: u64,
    /// Writing one response may take at most this long (a peer that does not read).
    pub write_timeout_ms: u64,
    /// PEM certificate chain of the 8583 listener: with `iso8583_tls_key`, terminals may
    /// connect over TLS (flag `--iso8583-tls-cert`).
    pub iso8583_tls_cert: Option<String>,
    /// PEM private key of `iso8583_tls_cert` (flag `--iso8583-tls-key`).
    pub iso8583_tls_key: Option<String>,
    /// When true, a connection that does not open a TLS handshake is closed; when false
    /// (and TLS is configured) plain and TLS terminals share the port, told apart by the
    /// first byte (docs/DECISIONS.md, "8583 over TLS").
    pub iso8583_tls_required: bool,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            iso8583_addr: ISO8583_ADDR_DEFAULT.to_owned(),
            http_addr: HTTP_ADDR_DEFAULT.to_owned(),
            frame_read_timeout_ms: 5_000,
            idle_timeout_ms: 300_000,
            connections_max: 1_024,
            scheduler_interval_ms: 60_000,
            write_timeout_ms: 5_000,
            iso8583_tls_cert: None,
            iso8583_tls_key: None,
            iso8583_tls_required: false,
        }
    }
}
