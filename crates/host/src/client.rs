//! A test terminal over async TCP: the message side (sign-in, MAC, PIN block, responses)
//! is the emulator's own, `suanpan_terminal::proto`, re-exported here; this module adds only
//! the tokio connection the black-box tests and the load generator drive the host with.

pub use suanpan_terminal::proto::{Card, Kind, Original, Response, TERMINAL_TPDU, Terminal};

use std::net::SocketAddr;
use suanpan_iso8583::{Status, split_frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One TCP connection to the host.
pub struct Connection {
    stream: TcpStream,
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
            stream,
            buf: Vec::with_capacity(1024),
        })
    }

    /// Sends raw bytes (a frame, or anything a test wants to send).
    ///
    /// # Errors
    /// On socket errors.
    pub async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
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
