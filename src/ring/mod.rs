//! The performance core: a lock-free single-producer/single-consumer ring of
//! variable-length byte messages in a POSIX shared memory object or an mmap'd file, used by
//! two processes that were started on their own and find each other by name.
//!
//! ```
//! use ipcring::ring::{Consumer, Producer, RingOptions};
//!
//! # fn main() -> ipcring::Result<()> {
//! let name = format!("/ipcring-ringdoc-{}", std::process::id());
//! let opts = RingOptions::new().capacity(4096);
//! let mut tx = Producer::create(&name, &opts)?;       // process A
//! let mut rx = Consumer::open(&name, &opts)?;         // process B
//!
//! // Zero-copy send: write in place, then commit.
//! let mut grant = tx.reserve(5)?;
//! grant.copy_from_slice(b"hello");
//! grant.commit();
//! // Copy send.
//! tx.send(b"world")?;
//!
//! // Zero-copy receive: the guard derefs to &[u8] and frees the space on drop.
//! assert_eq!(&*rx.recv()?, b"hello");
//! // Copy-out receive.
//! let mut buf = Vec::new();
//! rx.recv_into(&mut buf)?;
//! assert_eq!(buf, b"world");
//! # Ok(())
//! # }
//! ```
//!
//! # Guarantees
//! - Each message is delivered whole, in order, exactly once (a message is "delivered"
//!   when the consumer releases it: dropping a [`Message`] or returning from a copy-out
//!   receive). A consumer that dies is replaced by a new [`Consumer::open`] that continues at
//!   the first unreleased message.
//! - When neither side sleeps, send and receive make no system call and take no lock.
//! - A peer that exits or is killed (SIGKILL included) is seen as
//!   [`Error::Disconnected`](crate::Error::Disconnected) by a side blocked on it within
//!   [`LIVENESS_SLICE`] (10 ms; documented bound 100 ms), after every message it had
//!   committed has been delivered. A second producer or consumer is refused with
//!   [`Error::RoleTaken`](crate::Error::RoleTaken).
//! - A producer that must not leave before its messages are taken calls
//!   [`Producer::wait_drained`]: it returns once the consumer has released everything, or
//!   [`Error::Undelivered`](crate::Error::Undelivered) with the count left unread once the
//!   consumer is gone.
//!
//! # Zero-copy and an untrusted peer
//! A [`Message`] is a `&[u8]` over memory that the other process maps writable. The
//! producer never writes a record it has published, so with a well-behaved peer the bytes
//! are stable while you hold the guard. A hostile or buggy peer *can* write them anyway;
//! the crate cannot prevent that, and in Rust's memory model such a concurrent write is a
//! data race on memory we hand out as `&[u8]`. What the crate guarantees regardless: every
//! position and record header is validated before use, so a hostile peer can make you read
//! changing payload bytes, or get [`Error::Corrupt`](crate::Error::Corrupt), but never makes
//! this crate read or write outside the mapping, panic, or hand out a slice past the data
//! area. If you do not trust the peer, use the copy-out receives
//! ([`Consumer::recv_into`], [`Consumer::try_recv_into`]): they copy the payload with
//! volatile reads into your buffer and release it, so you never hold a reference into
//! shared memory (validate the copied bytes as you would any input).
//!
//! # Typed messages
//! [`Producer::send_pod`] and [`Consumer::recv_pod`] (and their `try_`/`_timeout` forms)
//! carry any [`bytemuck::Pod`] value as its bytes, copied in and out (no alignment
//! needed); a message of another size is [`Error::Codec`](crate::Error::Codec). With the
//! `serde` feature, `send_serde`/`recv_serde` carry any serde value, encoded with postcard
//! straight into the ring. Both receive like [`Consumer::recv`] (see above).
//!
//! # Streaming: a consumer that catches up falls back first
//! A consumer faster than its producer catches up with it, and from then on would read
//! each record as it is written, polling the very line the producer writes next: each
//! message then costs cache-line transfers both ways, and both sides slow several-fold.
//! So a blocking or `_timeout` receive whose wait would spin (any strategy but
//! `SpinBlock { spin: ZERO }`; never `try_recv`, nor the async receive), on finding the
//! ring empty, first waits, looking only at `write_pos`, for the producer to run 16 KiB
//! ahead (a quarter of the ring if less), as long as it keeps publishing at least 1 KiB per
//! 16 polls (about 35 M msg/s of 64 B). A producer that answers requests or sends at a
//! moderate pace fails that at the first check, so its message is read at most 16 polls
//! later (about 0.4 µs with PAUSE at 25 ns), and the next slips are skipped for 1, 2, 4,
//! ... up to 1024 receives: request/response round trips keep their figures. A message of
//! a fast stream may wait until the 16 KiB behind it are published (a few µs); the stream
//! as a whole runs faster. Nothing is skipped or reordered, and every record is checked as
//! before (`write_pos` is only a hint here).
//!
//! # Damage while in use: checked where every wait slice ends
//! A side that waits (a blocking or `_timeout` receive, send, reserve, or
//! [`Producer::wait_drained`]) checks, at the end of every wait slice ([`LIVENESS_SLICE`])
//! and before it touches the mapping again:
//! - the segment file's size (`fstat` on the descriptor it holds) against the size it
//!   mapped, and the header's creation nonce against the one it attached to: a change is
//!   [`Error::BadSegment`](crate::Error::BadSegment);
//! - the positions: `write_pos` at most one capacity past `read_pos`, and a record where
//!   they say one must be (the consumer: at its position when `write_pos` is past it; the
//!   producer: at `read_pos` while it has not all been taken): else
//!   [`Error::Corrupt`](crate::Error::Corrupt). A producer attaching also walks the
//!   records from `read_pos` and refuses a `write_pos` past them.
//!
//! These checks cost nothing on the send and receive paths: they run only in waits.
//!
//! **Truncation.** Like every mapping of a shared file, the segment can be truncated by a
//! process with write access to the file: segments are created mode 0600, so that is the
//! owning user. What it does: a side *waiting* in the ring sees it at its next slice end
//! and returns `BadSegment` without touching the mapping again (its handle's drop then
//! skips its stores into the ring too); a side *sending or receiving* at that moment (or
//! between its check and its next look) touches pages that no longer exist and gets
//! SIGBUS, which no user-space check can prevent. Pages that still exist keep working, so
//! a cut that leaves the first page of the data area gives the error, not the signal. A
//! file cut and grown back reads zeros: its nonce or its positions give it away. Messages
//! in the part cut off are lost, and never counted as delivered.

pub mod layout;

pub(crate) mod core;

#[cfg(all(test, loom))]
mod tests_loom;

pub use crate::wake::{WaitStrategy, LIVENESS_SLICE};

#[cfg(not(loom))]
mod handle;
#[cfg(not(loom))]
pub use handle::*;
#[cfg(not(loom))]
mod typed;
#[cfg(not(loom))]
pub(crate) use typed::pod_from;

// The async (tokio) form, beside the blocking one.
#[cfg(all(feature = "async", not(loom)))]
mod tokio;
#[cfg(all(feature = "async", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub use self::tokio::{async_duplex, AsyncConsumer, AsyncProducer};
