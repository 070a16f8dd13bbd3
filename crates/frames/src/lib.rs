//! One writer per connection of an 8583 link: callers queue encoded frames (length prefix
//! included) on a channel, and the writer sends whatever is queued when it wakes with one
//! `write_all`. Under load, the sales that leave together (the acquirer's link) or the
//! answers of one ledger group (switch-sim) cost one system call and one task wake-up, not
//! one each (issue 15, s19-net). The bytes on the wire are the same frames in the same order.

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// Bytes gathered for one write at most (a bound on the writer's buffer).
pub const WRITE_BYTES_MAX: usize = 64 * 1024;

/// Writes the frames of `rx` to `wr` until every sender is gone or a write fails (the
/// connection is closed; its reader sees that too). A frame alone in the queue is written as
/// it is; several are gathered, up to [`WRITE_BYTES_MAX`], and written at once.
pub async fn write_frames<W>(mut rx: mpsc::Receiver<Vec<u8>>, mut wr: W)
where
    W: AsyncWrite + Unpin,
{
    let mut out: Vec<u8> = Vec::new();
    while let Some(first) = rx.recv().await {
        if rx.is_empty() {
            if wr.write_all(&first).await.is_err() {
                break;
            }
            continue;
        }
        out.clear();
        out.extend_from_slice(&first);
        while out.len() < WRITE_BYTES_MAX {
            match rx.try_recv() {
                Ok(f) => out.extend_from_slice(&f),
                Err(_) => break,
            }
        }
        if wr.write_all(&out).await.is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
        r.unwrap_or_else(|e| panic!("{e}"))
    }

    // Goal: frames queued together leave as the same bytes in the same order, past one
    // write's bound too.
    #[tokio::test]
    async fn queued_frames_are_written_in_order() {
        let (tx, rx) = mpsc::channel::<Vec<u8>>(64);
        let mut frames: Vec<Vec<u8>> = (0u8..10).map(|i| vec![i; usize::from(i) + 1]).collect();
        frames.extend((0u8..4).map(|i| vec![i; WRITE_BYTES_MAX / 3]));
        for f in &frames {
            ok(tx.send(f.clone()).await);
        }
        drop(tx);
        let mut out = Vec::new();
        write_frames(rx, &mut out).await;
        assert_eq!(out, frames.concat());
    }

    /// A connection whose every write fails.
    struct Closed(usize);

    impl AsyncWrite for Closed {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            self.0 += 1;
            Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    // Goal: a failed write ends the writer at once (its senders still open), rather than
    // trying again with every frame queued after it, and a later frame is refused to its
    // sender, who learns that the connection is gone.
    #[tokio::test]
    async fn a_failed_write_ends_the_writer() {
        let (tx, rx) = mpsc::channel::<Vec<u8>>(16);
        for i in 0u8..3 {
            ok(tx.send(vec![i; 8]).await);
        }
        let mut wr = Closed(0);
        write_frames(rx, &mut wr).await;
        assert_eq!(wr.0, 1, "one write tried");
        assert!(
            tx.send(vec![9]).await.is_err(),
            "nothing is queued any more"
        );
    }
}
