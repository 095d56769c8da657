//! Typed messages on a broadcast ring: plain-old-data values ([`bytemuck::Pod`]) published
//! as their bytes and received by one copy into a `T` (see [`crate::ring`]'s typed sends
//! for the rules: the length must be `size_of::<T>()`, no alignment is needed).

use std::time::Duration;

use bytemuck::Pod;

use super::{Publisher, Recv, Subscriber};
use crate::ring::pod_from;
use crate::{Result, TryRecvError};

/// What a typed receive produced: a value with its number, or the news that some messages
/// were lost (as [`Recv`]).
///
/// ```
/// use ipcring::broadcast::Received;
/// let r: Received<u32> = Received::Message(3, 42);
/// assert_eq!(r.value(), Some(42));
/// assert_eq!(Received::<u32>::Lagged(2).value(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received<T> {
    /// The value of message number `.0`.
    Message(u64, T),
    /// This many messages were overwritten before this subscriber read them; the next
    /// receive continues with the oldest message still held.
    Lagged(u64),
}

impl<T> Received<T> {
    /// The value, if this is a message.
    pub fn value(self) -> Option<T> {
        match self {
            Received::Message(_, v) => Some(v),
            Received::Lagged(_) => None,
        }
    }
}

impl Publisher {
    /// Publishes a plain-old-data value as its `size_of::<T>()` bytes and returns its
    /// number; never waits (see [`Publisher::publish`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ipcring::broadcast::{BroadcastOptions, Publisher, Received, Start, Subscriber};
    ///
    /// #[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
    /// #[repr(C)]
    /// struct Quote {
    ///     bid: f64,
    ///     ask: f64,
    /// }
    ///
    /// # fn main() -> ipcring::Result<()> {
    /// let name = format!("/ipcring-bpod-doc-{}", std::process::id());
    /// let opts = BroadcastOptions::new().start(Start::Next);
    /// let mut tx = Publisher::create(&name, &opts)?;
    /// let mut rx = Subscriber::open(&name, &opts)?;
    /// let n = tx.publish_pod(&Quote { bid: 99.5, ask: 100.0 })?;
    /// assert_eq!(
    ///     rx.recv_pod_timeout::<Quote>(Duration::from_secs(1))?,
    ///     Received::Message(n, Quote { bid: 99.5, ask: 100.0 })
    /// );
    /// # Ok(()) }
    /// ```
    #[inline]
    pub fn publish_pod<T: Pod>(&mut self, value: &T) -> Result<u64> {
        self.publish(bytemuck::bytes_of(value))
    }
}

impl Subscriber {
    /// Runs a byte receive into this subscriber's scratch buffer (kept between calls).
    fn via_scratch<R, E>(
        &mut self,
        f: impl FnOnce(&mut Subscriber, &mut Vec<u8>) -> Result<R, E>,
    ) -> Result<R, E> {
        let mut buf = std::mem::take(&mut self.scratch);
        let r = f(self, &mut buf);
        self.scratch = buf;
        r
    }

    fn typed<T: Pod>(&self, r: Recv) -> Result<Received<T>> {
        Ok(match r {
            Recv::Lagged(n) => Received::Lagged(n),
            Recv::Message(i) => Received::Message(i, pod_from(&self.scratch)?),
        })
    }

    /// One typed receive attempt: [`TryRecvError::Empty`](crate::TryRecvError::Empty) if
    /// nothing new is there.
    /// [`Error::Codec`](crate::Error::Codec) if the message is not exactly
    /// `size_of::<T>()` bytes (this subscriber has then passed it).
    ///
    /// ```
    /// # use ipcring::broadcast::{BroadcastOptions, Publisher, Received, Start, Subscriber};
    /// # fn main() -> ipcring::Result<()> {
    /// # let name = format!("/ipcring-bpod-try-doc-{}", std::process::id());
    /// let opts = BroadcastOptions::new().start(Start::Next);
    /// let mut tx = Publisher::create(&name, &opts)?;
    /// let mut rx = Subscriber::open(&name, &opts)?;
    /// assert!(rx.try_recv_pod::<u64>().unwrap_err().is_empty());
    /// tx.publish_pod(&5u64)?;
    /// assert_eq!(rx.try_recv_pod::<u64>()?, Received::Message(0, 5));
    /// # Ok(()) }
    /// ```
    pub fn try_recv_pod<T: Pod>(&mut self) -> Result<Received<T>, TryRecvError> {
        let r = self.via_scratch(|s, buf| s.try_recv_into(buf))?;
        Ok(self.typed(r)?)
    }

    /// Receives the next value (or the news that some were lost), waiting as long as
    /// needed; see [`Subscriber::recv_into`] and [`Subscriber::try_recv_pod`].
    ///
    /// ```
    /// # use ipcring::broadcast::{BroadcastOptions, Publisher, Received, Start, Subscriber};
    /// # fn main() -> ipcring::Result<()> {
    /// # let name = format!("/ipcring-bpod-recv-doc-{}", std::process::id());
    /// let opts = BroadcastOptions::new().start(Start::Next);
    /// let mut tx = Publisher::create(&name, &opts)?;
    /// let mut rx = Subscriber::open(&name, &opts)?;
    /// tx.publish_pod(&[1u8, 2, 3])?;
    /// assert_eq!(rx.recv_pod::<[u8; 3]>()?.value(), Some([1, 2, 3]));
    /// # Ok(()) }
    /// ```
    pub fn recv_pod<T: Pod>(&mut self) -> Result<Received<T>> {
        let r = self.via_scratch(|s, buf| s.recv_into(buf))?;
        self.typed(r)
    }

    /// Like [`Subscriber::recv_pod`], waiting at most `timeout`
    /// ([`Error::Timeout`](crate::Error::Timeout)).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use ipcring::broadcast::{BroadcastOptions, Publisher, Start, Subscriber};
    /// # fn main() -> ipcring::Result<()> {
    /// # let name = format!("/ipcring-bpod-to-doc-{}", std::process::id());
    /// let opts = BroadcastOptions::new().start(Start::Next);
    /// let _tx = Publisher::create(&name, &opts)?;
    /// let mut rx = Subscriber::open(&name, &opts)?;
    /// assert!(matches!(
    ///     rx.recv_pod_timeout::<u32>(Duration::from_millis(10)),
    ///     Err(ipcring::Error::Timeout)
    /// ));
    /// # Ok(()) }
    /// ```
    pub fn recv_pod_timeout<T: Pod>(&mut self, timeout: Duration) -> Result<Received<T>> {
        let r = self.via_scratch(|s, buf| s.recv_timeout_into(buf, timeout))?;
        self.typed(r)
    }
}
