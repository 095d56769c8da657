//! The async (tokio) forms of the two traits: [`AsyncSender`] and [`AsyncReceiver`]; the
//! docs of [`crate::transport`] say how each async form waits and why each is cancel safe.
//! Beside them [`ReceiverStream`]: any [`AsyncReceiver`] as a [`futures_core::Stream`] of
//! messages (what [`AsyncReceiver::into_stream`] returns).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use futures_core::stream::{FusedStream, Stream};
use tokio_util::sync::ReusableBoxFuture;

use crate::{Error, Result, TryRecvError, TrySendError};

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
        within(timeout, self.send(msg))
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
        within(timeout, self.recv_into(buf))
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

/// `fut`, given at most `timeout` (tokio's timer): [`Error::Timeout`] when the time runs out
/// first (`fut` is then dropped), what the `_timeout` forms do.
pub(crate) async fn within<T>(
    timeout: Duration,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    tokio::time::timeout(timeout, fut)
        .await
        .unwrap_or(Err(Error::Timeout))
}

/// Implements [`AsyncSender`] for an async handle whose inherent `send` (async) and
/// `try_send` have the trait's signatures (each method's `tokio.rs` writes them, with their
/// docs, as inherent methods, so they are callable without the trait in scope).
/// `max_message` is the closure-like body given, over the handle.
macro_rules! inherent_async_sender {
    ($ty:ty, max_message: |$s:ident| $max:expr) => {
        impl $crate::transport::AsyncSender for $ty {
            async fn send(&mut self, msg: &[u8]) -> $crate::Result<()> {
                <$ty>::send(self, msg).await
            }
            fn try_send(&mut self, msg: &[u8]) -> ::core::result::Result<(), $crate::TrySendError> {
                <$ty>::try_send(self, msg)
            }
            fn max_message(&self) -> usize {
                let $s = self;
                $max
            }
        }
    };
}
pub(crate) use inherent_async_sender;

/// Implements [`AsyncReceiver`] for an async handle whose inherent `recv_into` (async) and
/// `try_recv_into` have the trait's signatures.
macro_rules! inherent_async_receiver {
    ($ty:ty) => {
        impl $crate::transport::AsyncReceiver for $ty {
            async fn recv_into(&mut self, buf: &mut Vec<u8>) -> $crate::Result<()> {
                <$ty>::recv_into(self, buf).await
            }
            fn try_recv_into(
                &mut self,
                buf: &mut Vec<u8>,
            ) -> ::core::result::Result<(), $crate::TryRecvError> {
                <$ty>::try_recv_into(self, buf)
            }
        }
    };
}
pub(crate) use inherent_async_receiver;

/// One receive, owning the receiver and handing it back with the message.
type Receive<R> = ReusableBoxFuture<'static, (Result<Vec<u8>>, R)>;

/// An [`AsyncReceiver`] as a [`Stream`] of its messages: `Some(Ok(message))` for each one,
/// in order, each in a `Vec` of its own; made by [`ReceiverStream::new`] or
/// [`AsyncReceiver::into_stream`], for any receiver of the crate (ring, socket, pipe,
/// message queue, broadcast, ...).
///
/// How it ends:
/// - [`Error::Disconnected`] (the peer is gone and everything it sent was received) ends
///   the stream: `None`, with no error item;
/// - any other error is yielded once as `Some(Err(e))`, and then the stream ends. (To go
///   on past an error the transport can recover from, take the receiver back with
///   [`ReceiverStream::into_inner`] and receive from it directly.)
///
/// After its end it yields `None` for ever ([`FusedStream`]).
///
/// # Cancel safety
/// A stream dropped between polls, or a `next()` future dropped (by `tokio::select!` or
/// a timeout), loses no message: a receive in flight is the receiver's own `recv`, which
/// is cancel safe (a dropped receive has taken no message), and a message it did take is
/// yielded by the same poll that took it. Dropping the stream drops the receiver.
///
/// # Cost
/// One allocation per stream, at the first poll: the receive in flight lives in a box
/// that every later receive reuses ([`ReusableBoxFuture`]). Each message is a new `Vec`
/// (the item itself); to reuse one buffer instead, call
/// [`AsyncReceiver::recv_into`] in a loop.
///
/// ```
/// use ipcring::ring::{AsyncConsumer, AsyncProducer};
/// use ipcring::transport::{AsyncReceiver, ReceiverStream};
/// use ipcring::ring::RingOptions;
/// # fn main() -> ipcring::Result<()> {
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// rt.block_on(async {
///     let name = format!("/ipcring-rxstream-{}", std::process::id());
///     let mut tx = AsyncProducer::create(&name, &RingOptions::new().capacity(4096))?;
///     let rx = AsyncConsumer::open(&name, &RingOptions::new())?;
///     let mut messages = ReceiverStream::new(rx); // or `rx.into_stream()`
///     tx.send(b"one").await?;
///     tx.send(b"two").await?;
///     drop(tx); // the producer leaves: the stream ends after its messages
///     let mut got = Vec::new();
///     while let Some(m) = messages.next().await {
///         got.push(m?);
///     }
///     assert_eq!(got, [b"one", b"two"]);
///     Ok(())
/// })
/// # }
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct ReceiverStream<R> {
    /// The receiver while no receive is in flight (`None` while one is: the receive owns
    /// it, and hands it back when it completes).
    rx: Option<R>,
    /// The box of the receive in flight, or of the last one (kept for its allocation).
    receive: Option<Receive<R>>,
    /// Set once the stream has ended.
    ended: bool,
}

/// Receives one message, handing the receiver back with it.
async fn receive<R: AsyncReceiver>(mut rx: R) -> (Result<Vec<u8>>, R) {
    let got = rx.recv().await;
    (got, rx)
}

impl<R: AsyncReceiver + 'static> ReceiverStream<R> {
    /// The stream of `rx`'s messages. Receives nothing until polled.
    ///
    /// ```
    /// use ipcring::ring::AsyncConsumer;
    /// use ipcring::transport::ReceiverStream;
    /// use ipcring::ring::RingOptions;
    /// # fn main() -> ipcring::Result<()> {
    /// let name = format!("/ipcring-rxstream-new-{}", std::process::id());
    /// let rx = AsyncConsumer::create(&name, &RingOptions::new().capacity(1024))?;
    /// let stream = ReceiverStream::new(rx);
    /// assert!(stream.into_inner().is_some()); // never polled: the receiver comes back
    /// # Ok(()) }
    /// ```
    pub fn new(rx: R) -> ReceiverStream<R> {
        ReceiverStream {
            rx: Some(rx),
            receive: None,
            ended: false,
        }
    }

    /// The next item, as [`StreamExt::next`](https://docs.rs/futures/latest/futures/stream/trait.StreamExt.html#method.next)
    /// gives it, without a combinator crate: `Some(Ok(message))`, `Some(Err(e))` once,
    /// or `None` once the stream has ended. Cancel safe (see the type's docs).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ipcring::ring::AsyncConsumer;
    /// use ipcring::transport::AsyncReceiver;
    /// use ipcring::ring::RingOptions;
    /// # fn main() -> ipcring::Result<()> {
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let name = format!("/ipcring-rxstream-next-{}", std::process::id());
    /// let mut s = AsyncConsumer::create(&name, &RingOptions::new().capacity(1024))?.into_stream();
    /// let r = rt.block_on(async { tokio::time::timeout(Duration::from_millis(5), s.next()).await });
    /// assert!(r.is_err()); // nothing came; the dropped `next` took nothing
    /// # Ok(()) }
    /// ```
    pub async fn next(&mut self) -> Option<Result<Vec<u8>>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// The receiver back, unless a receive is in flight (the last poll returned
    /// `Pending`): then `None`, that receive is cancelled (it took no message) and the
    /// receiver it owned is dropped with it. After the stream ended (on an error, say),
    /// the receiver is always there.
    ///
    /// ```
    /// use ipcring::ring::AsyncConsumer;
    /// use ipcring::transport::AsyncReceiver;
    /// use ipcring::ring::RingOptions;
    /// # fn main() -> ipcring::Result<()> {
    /// let name = format!("/ipcring-rxstream-inner-{}", std::process::id());
    /// let s = AsyncConsumer::create(&name, &RingOptions::new().capacity(1024))?.into_stream();
    /// let rx: AsyncConsumer = s.into_inner().expect("no receive in flight");
    /// # drop(rx);
    /// # Ok(()) }
    /// ```
    pub fn into_inner(self) -> Option<R> {
        self.rx
    }
}

impl<R: AsyncReceiver + 'static> Stream for ReceiverStream<R> {
    type Item = Result<Vec<u8>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // Unpin (see below): the receive lives in its own pinned box.
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        if let Some(rx) = this.rx.take() {
            match &mut this.receive {
                // The same future type every time: the box is reused, not reallocated.
                Some(b) => b.set(receive(rx)),
                None => this.receive = Some(ReusableBoxFuture::new(receive(rx))),
            }
        }
        // No receiver here means a receive owns it: its box is there.
        let Some(b) = this.receive.as_mut() else {
            unreachable!("a ReceiverStream with neither its receiver nor a receive")
        };
        let (got, rx) = ready!(b.poll(cx));
        this.rx = Some(rx);
        // Any error ends the stream; Disconnected ends it without an item.
        this.ended = got.is_err();
        Poll::Ready(match got {
            Err(Error::Disconnected) => None,
            got => Some(got),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, self.ended.then_some(0))
    }
}

impl<R: AsyncReceiver + 'static> FusedStream for ReceiverStream<R> {
    fn is_terminated(&self) -> bool {
        self.ended
    }
}

// The stream never pins its receiver: it moves it into each receive by value, and the
// receive that holds it is pinned in its own box. So the stream moves freely whatever `R` is.
impl<R> Unpin for ReceiverStream<R> {}

impl<R> fmt::Debug for ReceiverStream<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiverStream")
            .field("receiving", &self.rx.is_none())
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    /// Hands out the results it was given, then `Disconnected`.
    struct Scripted(VecDeque<Result<Vec<u8>>>);

    impl AsyncReceiver for Scripted {
        async fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<()> {
            tokio::task::yield_now().await;
            *buf = self.0.pop_front().unwrap_or(Err(Error::Disconnected))?;
            Ok(())
        }
        fn try_recv_into(&mut self, _: &mut Vec<u8>) -> Result<(), crate::TryRecvError> {
            Err(crate::TryRecvError::Empty)
        }
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn an_error_other_than_disconnected_is_yielded_once_then_the_stream_ends() {
        let script = [Ok(b"a".to_vec()), Err(Error::Timeout), Ok(b"b".to_vec())];
        let mut s = Scripted(script.into()).into_stream();
        run(async {
            assert_eq!(s.next().await.unwrap().unwrap(), b"a");
            assert!(matches!(s.next().await, Some(Err(Error::Timeout))));
            assert!(s.is_terminated());
            assert!(s.next().await.is_none());
            assert_eq!(s.size_hint(), (0, Some(0)));
        });
        // What the receiver still holds is there to take back.
        let rest = s.into_inner().unwrap().0;
        assert_eq!(rest.len(), 1);
    }

    #[test]
    fn disconnected_ends_the_stream_without_an_error_item() {
        let mut s = Scripted([Ok(b"x".to_vec())].into()).into_stream();
        run(async {
            assert_eq!(s.next().await.unwrap().unwrap(), b"x");
            assert!(s.next().await.is_none());
            assert!(s.next().await.is_none());
        });
        assert!(s.into_inner().is_some());
    }
}
