//! Typed messages on the ring: plain-old-data values ([`bytemuck::Pod`]) sent as their
//! bytes, and (feature `serde`) any `Serialize`/`Deserialize` value encoded with
//! [`postcard`].
//!
//! A `Pod` value goes into the ring as exactly `size_of::<T>()` bytes and comes out by one
//! copy into a `T` (no alignment needed: the copy is unaligned), so a receive checks the
//! length and nothing else: every bit pattern is a valid `T`. A message of another length
//! is [`Error::Codec`] naming both lengths; it is consumed (the error says so), so one bad
//! message does not block the ring.

use std::time::Duration;

use bytemuck::Pod;

use super::{Consumer, Producer};
use crate::{Error, Result, TryRecvError, TrySendError};

/// Reads a `T` from exactly `size_of::<T>()` bytes (any alignment).
pub(crate) fn pod_from<T: Pod>(bytes: &[u8]) -> Result<T> {
    let (len, size) = (bytes.len(), std::mem::size_of::<T>());
    if len != size {
        return Err(Error::Codec(
            format!(
                "a message of {len} bytes cannot be a {} ({size} bytes); the message was consumed",
                std::any::type_name::<T>()
            )
            .into(),
        ));
    }
    Ok(bytemuck::pod_read_unaligned(bytes))
}

impl Producer {
    /// Sends a plain-old-data value as its `size_of::<T>()` bytes, waiting for room.
    /// [`Error::MessageTooLarge`] if `T` is larger than the ring's `max_message`.
    ///
    /// ```
    /// use ipcring::ring::{Consumer, Producer, RingOptions};
    ///
    /// #[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
    /// #[repr(C)]
    /// struct Tick {
    ///     price: f64,
    ///     qty: u32,
    ///     side: u32,
    /// }
    ///
    /// # fn main() -> ipcring::Result<()> {
    /// let name = format!("/ipcring-pod-doc-{}", std::process::id());
    /// let opts = RingOptions::new().capacity(4096);
    /// let mut tx = Producer::create(&name, &opts)?;
    /// let mut rx = Consumer::open(&name, &opts)?;
    /// tx.send_pod(&Tick { price: 101.5, qty: 7, side: 1 })?;
    /// assert_eq!(rx.recv_pod::<Tick>()?, Tick { price: 101.5, qty: 7, side: 1 });
    /// # Ok(()) }
    /// ```
    #[inline]
    pub fn send_pod<T: Pod>(&mut self, value: &T) -> Result<()> {
        self.send(bytemuck::bytes_of(value))
    }

    /// Sends a plain-old-data value if there is room now. [`TrySendError::Full`]: full,
    /// nothing sent.
    ///
    /// ```
    /// # use ipcring::ring::{Producer, RingOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// # let name = format!("/ipcring-pod-try-doc-{}", std::process::id());
    /// let mut tx = Producer::create(&name, &RingOptions::new().capacity(4096))?;
    /// tx.try_send_pod(&[1u64, 2, 3])?;
    /// # Ok(()) }
    /// ```
    #[inline]
    pub fn try_send_pod<T: Pod>(&mut self, value: &T) -> Result<(), TrySendError> {
        self.try_send(bytemuck::bytes_of(value))
    }

    /// Sends a plain-old-data value, waiting at most `timeout` for room
    /// ([`Error::Timeout`]: nothing was sent).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use ipcring::ring::{Producer, RingOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// # let name = format!("/ipcring-pod-timeout-doc-{}", std::process::id());
    /// let mut tx = Producer::create(&name, &RingOptions::new().capacity(4096))?;
    /// tx.send_pod_timeout(&42u32, Duration::from_millis(10))?;
    /// # Ok(()) }
    /// ```
    pub fn send_pod_timeout<T: Pod>(&mut self, value: &T, timeout: Duration) -> Result<()> {
        self.send_timeout(bytemuck::bytes_of(value), timeout)
    }
}

impl Consumer {
    /// Receives the next message as a plain-old-data value, waiting for one. The payload is
    /// copied once, straight from the ring into the `T` (as [`Consumer::recv`] reads it in
    /// place: see the module docs on an untrusted peer). [`Error::Codec`] if the message is
    /// not exactly `size_of::<T>()` bytes (it is consumed).
    ///
    /// ```
    /// # use ipcring::ring::{Consumer, Producer, RingOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// # let name = format!("/ipcring-pod-recv-doc-{}", std::process::id());
    /// # let opts = RingOptions::new().capacity(4096);
    /// let mut tx = Producer::create(&name, &opts)?;
    /// let mut rx = Consumer::open(&name, &opts)?;
    /// tx.send_pod(&[1u16, 2])?;
    /// tx.send(b"abc")?;
    /// assert_eq!(rx.recv_pod::<[u16; 2]>()?, [1, 2]);
    /// assert!(matches!(rx.recv_pod::<[u16; 2]>(), Err(ipcring::Error::Codec(_))));
    /// # Ok(()) }
    /// ```
    #[inline]
    pub fn recv_pod<T: Pod>(&mut self) -> Result<T> {
        pod_from(&self.recv()?)
    }

    /// The next message as a plain-old-data value if one is there now
    /// ([`TryRecvError::Empty`] otherwise); see [`Consumer::recv_pod`].
    ///
    /// ```
    /// # use ipcring::ring::{Consumer, Producer, RingOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// # let name = format!("/ipcring-pod-tryrecv-doc-{}", std::process::id());
    /// # let opts = RingOptions::new().capacity(4096);
    /// let mut tx = Producer::create(&name, &opts)?;
    /// let mut rx = Consumer::open(&name, &opts)?;
    /// assert!(rx.try_recv_pod::<u64>().unwrap_err().is_empty());
    /// tx.send_pod(&7u64)?;
    /// assert_eq!(rx.try_recv_pod::<u64>()?, 7);
    /// # Ok(()) }
    /// ```
    #[inline]
    #[must_use = "a received value is consumed: dropping it unread loses it"]
    pub fn try_recv_pod<T: Pod>(&mut self) -> Result<T, TryRecvError> {
        let m = self.try_recv()?;
        Ok(pod_from(&m)?)
    }

    /// The next message as a plain-old-data value, waiting at most `timeout`
    /// ([`Error::Timeout`]); see [`Consumer::recv_pod`].
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use ipcring::ring::{Consumer, Producer, RingOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// # let name = format!("/ipcring-pod-recvto-doc-{}", std::process::id());
    /// # let opts = RingOptions::new().capacity(4096);
    /// let mut tx = Producer::create(&name, &opts)?;
    /// let mut rx = Consumer::open(&name, &opts)?;
    /// tx.send_pod(&1.5f32)?;
    /// assert_eq!(rx.recv_pod_timeout::<f32>(Duration::from_secs(1))?, 1.5);
    /// # Ok(()) }
    /// ```
    pub fn recv_pod_timeout<T: Pod>(&mut self, timeout: Duration) -> Result<T> {
        pod_from(&self.recv_timeout(timeout)?)
    }
}

#[cfg(feature = "serde")]
impl Producer {
    /// Encodes `value` with [`postcard`] straight into the ring (no allocation: the
    /// encoded size is computed first, then room for exactly that is reserved and the value
    /// encoded into it), waiting for room. [`Error::Codec`] if `value` cannot be encoded;
    /// [`Error::MessageTooLarge`] if its encoding exceeds `max_message`.
    ///
    /// ```
    /// use ipcring::ring::{Consumer, Producer, RingOptions};
    ///
    /// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// struct Order {
    ///     id: u64,
    ///     symbol: String,
    ///     qty: i32,
    /// }
    ///
    /// # fn main() -> ipcring::Result<()> {
    /// let name = format!("/ipcring-serde-doc-{}", std::process::id());
    /// let opts = RingOptions::new().capacity(4096);
    /// let mut tx = Producer::create(&name, &opts)?;
    /// let mut rx = Consumer::open(&name, &opts)?;
    /// tx.send_serde(&Order { id: 1, symbol: "ACME".into(), qty: -5 })?;
    /// let o: Order = rx.recv_serde()?;
    /// assert_eq!(o, Order { id: 1, symbol: "ACME".into(), qty: -5 });
    /// # Ok(()) }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
    pub fn send_serde<T: serde::Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let len = encoded_len(value)?;
        let g = self.reserve(len)?;
        encode_into(value, g)
    }

    /// Like [`Producer::send_serde`] if there is room now. [`TrySendError::Full`]: full,
    /// nothing sent.
    ///
    /// ```
    /// # use ipcring::ring::{Producer, RingOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// # let name = format!("/ipcring-serde-try-doc-{}", std::process::id());
    /// let mut tx = Producer::create(&name, &RingOptions::new().capacity(4096))?;
    /// tx.try_send_serde(&("ping", 1u8))?;
    /// # Ok(()) }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
    pub fn try_send_serde<T: serde::Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<(), TrySendError> {
        let len = encoded_len(value)?;
        let g = self.try_reserve(len)?;
        Ok(encode_into(value, g)?)
    }

    /// Like [`Producer::send_serde`], waiting at most `timeout` for room
    /// ([`Error::Timeout`]: nothing was sent).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use ipcring::ring::{Producer, RingOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// # let name = format!("/ipcring-serde-to-doc-{}", std::process::id());
    /// let mut tx = Producer::create(&name, &RingOptions::new().capacity(4096))?;
    /// tx.send_serde_timeout(&vec![1u32, 2, 3], Duration::from_millis(10))?;
    /// # Ok(()) }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
    pub fn send_serde_timeout<T: serde::Serialize + ?Sized>(
        &mut self,
        value: &T,
        timeout: Duration,
    ) -> Result<()> {
        let len = encoded_len(value)?;
        let g = self.reserve_timeout(len, timeout)?;
        encode_into(value, g)
    }
}

#[cfg(feature = "serde")]
fn encoded_len<T: serde::Serialize + ?Sized>(value: &T) -> Result<usize> {
    postcard::serialize_with_flavor::<T, postcard::ser_flavors::Size, usize>(
        value,
        postcard::ser_flavors::Size::default(),
    )
    .map_err(|e| Error::Codec(format!("encode: {e}").into()))
}

/// Encodes into the grant and commits it; on an encoding error (a `Serialize` impl that
/// writes a different size the second time) nothing is published.
#[cfg(feature = "serde")]
fn encode_into<T: serde::Serialize + ?Sized>(value: &T, mut g: super::Grant<'_>) -> Result<()> {
    let want = g.len();
    let n = postcard::to_slice(value, &mut g)
        .map_err(|e| Error::Codec(format!("encode: {e}").into()))?
        .len();
    if n != want {
        return Err(Error::Codec(
            format!("encode: {n} bytes the second time, {want} the first").into(),
        ));
    }
    g.commit();
    Ok(())
}

#[cfg(feature = "serde")]
fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    postcard::from_bytes(bytes).map_err(|e| {
        Error::Codec(
            format!(
                "decode a {} from a message of {} bytes (consumed): {e}",
                std::any::type_name::<T>(),
                bytes.len()
            )
            .into(),
        )
    })
}

#[cfg(feature = "serde")]
impl Consumer {
    /// Receives the next message and decodes it with [`postcard`], waiting for one.
    /// [`Error::Codec`] if it does not decode as a `T` (it is consumed). Decoding reads the
    /// payload in place, as [`Consumer::recv`] does; the value owns its data.
    ///
    /// ```
    /// # use ipcring::ring::{Consumer, Producer, RingOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// # let name = format!("/ipcring-serde-recv-doc-{}", std::process::id());
    /// # let opts = RingOptions::new().capacity(4096);
    /// let mut tx = Producer::create(&name, &opts)?;
    /// let mut rx = Consumer::open(&name, &opts)?;
    /// tx.send_serde(&("hello", 3u16))?;
    /// let (s, n): (String, u16) = rx.recv_serde()?;
    /// assert_eq!((s.as_str(), n), ("hello", 3));
    /// # Ok(()) }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
    pub fn recv_serde<T: serde::de::DeserializeOwned>(&mut self) -> Result<T> {
        decode(&self.recv()?)
    }

    /// The next message decoded as a `T` if one is there now ([`TryRecvError::Empty`]
    /// otherwise); see [`Consumer::recv_serde`].
    ///
    /// ```
    /// # use ipcring::ring::{Consumer, Producer, RingOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// # let name = format!("/ipcring-serde-tryrecv-doc-{}", std::process::id());
    /// # let opts = RingOptions::new().capacity(4096);
    /// let mut tx = Producer::create(&name, &opts)?;
    /// let mut rx = Consumer::open(&name, &opts)?;
    /// assert!(rx.try_recv_serde::<Vec<u8>>().unwrap_err().is_empty());
    /// tx.send_serde(&vec![1u8, 2])?;
    /// assert_eq!(rx.try_recv_serde::<Vec<u8>>()?, vec![1, 2]);
    /// # Ok(()) }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
    #[must_use = "a received value is consumed: dropping it unread loses it"]
    pub fn try_recv_serde<T: serde::de::DeserializeOwned>(&mut self) -> Result<T, TryRecvError> {
        let m = self.try_recv()?;
        Ok(decode(&m)?)
    }

    /// Like [`Consumer::recv_serde`], waiting at most `timeout` ([`Error::Timeout`]).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use ipcring::ring::{Consumer, Producer, RingOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// # let name = format!("/ipcring-serde-recvto-doc-{}", std::process::id());
    /// # let opts = RingOptions::new().capacity(4096);
    /// let _tx = Producer::create(&name, &opts)?;
    /// let mut rx = Consumer::open(&name, &opts)?;
    /// assert!(matches!(
    ///     rx.recv_serde_timeout::<u32>(Duration::from_millis(10)),
    ///     Err(ipcring::Error::Timeout)
    /// ));
    /// # Ok(()) }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
    pub fn recv_serde_timeout<T: serde::de::DeserializeOwned>(
        &mut self,
        timeout: Duration,
    ) -> Result<T> {
        decode(&self.recv_timeout(timeout)?)
    }
}
