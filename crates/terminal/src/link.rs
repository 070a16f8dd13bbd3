//! The wire to the host: one blocking TCP connection (TLS when a CA file is given), opened
//! on first use and again after a failure; every exchange bounded by the response time-out.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};
use suanpan_iso8583::{Status, split_frame};

/// Why an exchange produced no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Nothing was sent: the host could not be reached (no charge can have happened).
    #[error("host unreachable: {0}")]
    Unreachable(String),
    /// The request was sent and no (complete) response came in time: outcome unknown.
    #[error("no response in time")]
    NoResponse,
}

/// Carries one request frame to the host and brings its response back.
pub trait Link {
    /// Sends `frame` (length prefix included) and returns the response body.
    ///
    /// # Errors
    /// [`LinkError::Unreachable`] when nothing was sent, [`LinkError::NoResponse`] when the
    /// request left and no answer came within `timeout`.
    fn exchange(&mut self, frame: &[u8], timeout: Duration) -> Result<Vec<u8>, LinkError>;
}

/// Connect time-out: a host that does not accept within this is unreachable.
pub const CONNECT_TIMEOUT_MS: u64 = 3_000;

/// One connection: plain TCP, or TLS over it.
enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(t) => &t.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(t) => t.flush(),
        }
    }
}

/// TCP to `HOST:PORT`, or TLS to it ([`TcpLink::with_tls`]).
pub struct TcpLink {
    addr: String,
    tls: Option<(
        Arc<rustls::ClientConfig>,
        rustls::pki_types::ServerName<'static>,
    )>,
    stream: Option<Stream>,
    buf: Vec<u8>,
}

impl TcpLink {
    /// A link that connects on first use.
    pub fn new(addr: &str) -> TcpLink {
        TcpLink {
            addr: addr.to_owned(),
            tls: None,
            stream: None,
            buf: Vec::new(),
        }
    }

    /// A TLS link trusting the CA (or self-signed certificate) in the PEM file `ca`; the
    /// host's certificate must name the host part of `addr`.
    ///
    /// # Errors
    /// When the CA file or the address is unusable (see [`crate::tls`]).
    pub fn with_tls(addr: &str, ca: &std::path::Path) -> anyhow::Result<TcpLink> {
        let cfg = crate::tls::client_config(ca)?;
        let name = crate::tls::server_name(addr)?;
        Ok(TcpLink {
            tls: Some((cfg, name)),
            ..TcpLink::new(addr)
        })
    }

    /// False when the host closed the connection since the last exchange (idle time-out,
    /// restart): then a request must not be sent into it and mistaken for a lost one.
    fn alive(s: &Stream) -> bool {
        let s = s.tcp();
        let mut b = [0u8; 1];
        if s.set_nonblocking(true).is_err() {
            return false;
        }
        let r = s.peek(&mut b);
        let _ = s.set_nonblocking(false);
        matches!(r, Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }

    fn connect(&mut self) -> Result<&mut Stream, LinkError> {
        if self.stream.as_ref().is_some_and(|s| !Self::alive(s)) {
            self.stream = None;
        }
        if self.stream.is_none() {
            let unreachable = |e: std::io::Error| LinkError::Unreachable(e.to_string());
            let addr = self
                .addr
                .to_socket_addrs()
                .map_err(unreachable)?
                .next()
                .ok_or_else(|| LinkError::Unreachable(format!("{}: no address", self.addr)))?;
            let s = TcpStream::connect_timeout(&addr, Duration::from_millis(CONNECT_TIMEOUT_MS))
                .map_err(unreachable)?;
            let _ = s.set_nodelay(true);
            let s = match &self.tls {
                None => Stream::Plain(s),
                Some((cfg, name)) => {
                    let conn = rustls::ClientConnection::new(cfg.clone(), name.clone())
                        .map_err(|e| LinkError::Unreachable(format!("TLS: {e}")))?;
                    let mut tls = rustls::StreamOwned::new(conn, s);
                    // The handshake now, bounded, so a host that is not TLS (or whose
                    // certificate is not trusted) is "unreachable": nothing was sent.
                    let _ = tls
                        .sock
                        .set_read_timeout(Some(Duration::from_millis(CONNECT_TIMEOUT_MS)));
                    while tls.conn.is_handshaking() {
                        tls.conn
                            .complete_io(&mut tls.sock)
                            .map_err(|e| LinkError::Unreachable(format!("TLS: {e}")))?;
                    }
                    Stream::Tls(Box::new(tls))
                }
            };
            self.stream = Some(s);
            self.buf.clear();
        }
        self.stream
            .as_mut()
            .ok_or_else(|| LinkError::Unreachable("not connected".into()))
    }

    fn read_frame(&mut self, deadline: Instant) -> Result<Vec<u8>, LinkError> {
        let mut chunk = [0u8; 4096];
        loop {
            match split_frame(&self.buf) {
                Ok(Status::Complete(f)) => {
                    let body = f.body.to_vec();
                    let n = f.consumed;
                    self.buf.drain(..n);
                    return Ok(body);
                }
                Ok(Status::Partial) => {}
                Err(_) => return Err(LinkError::NoResponse),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(LinkError::NoResponse);
            }
            let s = self.stream.as_mut().ok_or(LinkError::NoResponse)?;
            let _ = s.tcp().set_read_timeout(Some(left));
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return Err(LinkError::NoResponse),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

impl Link for TcpLink {
    fn exchange(&mut self, frame: &[u8], timeout: Duration) -> Result<Vec<u8>, LinkError> {
        let deadline = Instant::now() + timeout;
        let s = self.connect()?;
        let sent = s.write_all(frame).and_then(|()| s.flush());
        if let Err(e) = sent {
            // A connection the host closed since (idle time-out, restart): one fresh try.
            self.stream = None;
            let s = self.connect()?;
            s.write_all(frame)
                .and_then(|()| s.flush())
                .map_err(|_| LinkError::Unreachable(e.to_string()))?;
        }
        let r = self.read_frame(deadline);
        if r.is_err() {
            // What arrives late on this connection belongs to the lost request.
            self.stream = None;
        }
        r
    }
}
