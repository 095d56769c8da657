//! The async (tokio) forms of the two traits: [`AsyncSender`] and [`AsyncReceiver`]; the
//! docs of [`crate::transport`] say how each async form waits and why each is cancel safe.

use std::future::Future;
use std::time::Duration;

use crate::{Error, Result, TryRecvError, TrySendError};

use super::stream::ReceiverStream;

/// The sending half of an async transport: moves whole byte messages to the peer.
///
/// ```
/// use ipcring::transport::AsyncSender;
/// async fn greet<S: AsyncSender>(tx: &mut S) -> ipcring::Result<()> {
///     tx.send(b"hello").await
/// }
/// ```
pub trait AsyncSender: Send {
    /// Sends `msg`, waiting for room as long as needed. Cancel safe: dropped before it
    /// completes, the whole message was sent or none of it.
    fn send(&mut self, msg: &[u8]) -> impl Future<Output = Result<()>> + Send;

    /// Sends `msg` if there is room now, without waiting. [`TrySendError::Full`]: nothing
    /// was sent.
    fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError>;

    /// Sends `msg`, waiting at most `timeout` (tokio's timer). [`Error::Timeout`] means
    /// nothing was sent (or, on a socket, see its `send`).
    fn send_timeout(
        &mut self,
        msg: &[u8],
        timeout: Duration,
    ) -> impl Future<Output = Result<()>> + Send {
        async move {
            tokio::time::timeout(timeout, self.send(msg))
                .await
                .unwrap_or(Err(Error::Timeout))
        }
    }

    /// The largest message this sender accepts, in bytes.
    fn max_message(&self) -> usize;
}

/// The receiving half of an async transport: receives whole byte messages from the peer.
///
/// ```
/// use ipcring::transport::AsyncReceiver;
/// async fn next_len<R: AsyncReceiver>(rx: &mut R) -> ipcring::Result<usize> {
///     Ok(rx.recv().await?.len())
/// }
/// ```
pub trait AsyncReceiver: Send {
    /// Receives the next message into `buf` (cleared first), waiting as long as needed.
    /// Cancel safe: a dropped future has taken no message.
    fn recv_into(&mut self, buf: &mut Vec<u8>) -> impl Future<Output = Result<()>> + Send;

    /// Receives the next message into `buf` if one is there now. [`TryRecvError::Empty`]:
    /// none (`buf` is then empty).
    fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), TryRecvError>;

    /// Receives the next message into `buf`, waiting at most `timeout` (tokio's timer).
    /// On [`Error::Timeout`] no message was taken.
    fn recv_timeout_into(
        &mut self,
        buf: &mut Vec<u8>,
        timeout: Duration,
    ) -> impl Future<Output = Result<()>> + Send {
        async move {
            tokio::time::timeout(timeout, self.recv_into(buf))
                .await
                .unwrap_or(Err(Error::Timeout))
        }
    }

    /// Receives the next message into a new `Vec`. Cancel safe.
    fn recv(&mut self) -> impl Future<Output = Result<Vec<u8>>> + Send {
        async move {
            let mut buf = Vec::new();
            self.recv_into(&mut buf).await?;
            Ok(buf)
        }
    }

    /// Receives the next message into a new `Vec` if one is there now.
    fn try_recv(&mut self) -> Result<Vec<u8>, TryRecvError> {
        let mut buf = Vec::new();
        self.try_recv_into(&mut buf)?;
        Ok(buf)
    }

    /// Receives the next message into a new `Vec`, waiting at most `timeout`. Cancel safe.
    fn recv_timeout(&mut self, timeout: Duration) -> impl Future<Output = Result<Vec<u8>>> + Send {
        async move {
            let mut buf = Vec::new();
            self.recv_timeout_into(&mut buf, timeout).await?;
            Ok(buf)
        }
    }

    /// This receiver as a [`futures_core::Stream`] of its messages, ending (`None`) when
    /// the peer is gone: [`ReceiverStream::new`] (its docs say how it ends and why it is
    /// cancel safe).
    ///
    /// ```
    /// use ipcring::ring::{AsyncConsumer, AsyncProducer};
    /// use ipcring::transport::AsyncReceiver;
    /// use ipcring::ring::RingOptions;
    /// # fn main() -> ipcring::Result<()> {
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// rt.block_on(async {
    ///     let name = format!("/ipcring-intostream-{}", std::process::id());
    ///     let opts = RingOptions::new().capacity(4096);
    ///     let mut messages = AsyncConsumer::create(&name, &opts)?.into_stream();
    ///     let mut tx = AsyncProducer::open(&name, &opts)?;
    ///     tx.send(b"hello").await?;
    ///     drop(tx);
    ///     assert_eq!(messages.next().await.transpose()?.as_deref(), Some(&b"hello"[..]));
    ///     assert!(messages.next().await.is_none()); // the producer left
    ///     Ok(())
    /// })
    /// # }
    /// ```
    fn into_stream(self) -> ReceiverStream<Self>
    where
        Self: Sized + 'static,
    {
        ReceiverStream::new(self)
    }
}
