//! A test terminal over async TCP: the message side (sign-in, MAC, PIN block, responses)
//! is the emulator's own, `suanpan_terminal::proto`, re-exported here; this module adds only
//! the tokio connection (plain or TLS) the black-box tests and the load generator drive the
//! host with.

pub use suanpan_terminal::proto::{Card, Kind, Original, Response, TERMINAL_TPDU, Terminal};

use std::net::SocketAddr;
use std::sync::Arc;
use suanpan_iso8583::{Status, split_frame};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// A byte stream to the host: TCP, or TLS over TCP.
trait Wire: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Wire for T {}

/// How to reach the host over TLS: the client configuration (trusted CA) and the name its
/// certificate must carry. See [`suanpan_terminal::tls`].
#[derive(Clone)]
pub struct TlsTarget {
    /// Trusted roots and protocol versions.
    pub config: Arc<rustls::ClientConfig>,
    /// The certificate name (DNS name or IP address).
    pub name: rustls::pki_types::ServerName<'static>,
}

impl std::fmt::Debug for TlsTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTarget")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TlsTarget {
    /// Trusts the CA (or self-signed certificate) of the PEM file `ca`; the host's
    /// certificate must name `name` (a DNS name or IP address).
    ///
    /// # Errors
    /// When the file or the name is unusable.
    pub fn new(ca: &std::path::Path, name: &str) -> anyhow::Result<TlsTarget> {
        Ok(TlsTarget {
            config: suanpan_terminal::tls::client_config(ca)?,
            name: suanpan_terminal::tls::server_name(name)?,
        })
    }
}

/// One connection to the host.
pub struct Connection {
    stream: Box<dyn Wire>,
    buf: Vec<u8>,
}

impl Connection {
    /// Connects.
    ///
    /// # Errors
    /// When the connection is refused.
    pub async fn connect(addr: SocketAddr) -> std::io::Result<Connection> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream: Box::new(stream),
            buf: Vec::with_capacity(1024),
        })
    }

    /// Connects over TLS (`tls: None`: plain TCP, as [`Connection::connect`]).
    ///
    /// # Errors
    /// When the connection is refused or the handshake fails (untrusted certificate, a
    /// host without TLS).
    pub async fn connect_with(
        addr: SocketAddr,
        tls: Option<&TlsTarget>,
    ) -> std::io::Result<Connection> {
        let Some(tls) = tls else {
            return Connection::connect(addr).await;
        };
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let stream = tokio_rustls::TlsConnector::from(tls.config.clone())
            .connect(tls.name.clone(), tcp)
            .await?;
        Ok(Connection {
            stream: Box::new(stream),
            buf: Vec::with_capacity(1024),
        })
    }

    /// Sends raw bytes (a frame, or anything a test wants to send).
    ///
    /// # Errors
    /// On socket errors.
    pub async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    /// Reads the next frame's body; `None` when the host closed the connection.
    ///
    /// # Errors
    /// On socket errors or a frame over the limit.
    pub async fn recv(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let mut chunk = [0u8; 4096];
        loop {
            match split_frame(&self.buf) {
                Ok(Status::Complete(f)) => {
                    let body = f.body.to_vec();
                    let n = f.consumed;
                    self.buf.drain(..n);
                    return Ok(Some(body));
                }
                Ok(Status::Partial) => {}
                Err(e) => return Err(std::io::Error::other(e)),
            }
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends a frame and reads the answer.
    ///
    /// # Errors
    /// On socket errors, or when the host closed the connection instead of answering.
    pub async fn call(&mut self, frame: &[u8]) -> std::io::Result<Vec<u8>> {
        self.send(frame).await?;
        self.recv().await?.ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed without an answer",
            )
        })
    }
}
