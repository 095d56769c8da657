//! # ipcring
//!
//! Inter-process communication between programs that are started on their own and must
//! talk: send data both ways, and run tasks in each other's process.
//!
//! The core is a lock-free single-producer/single-consumer ring of variable-length
//! messages in POSIX shared memory, with futex wakeups ([`ring`]). Beside it, behind cargo
//! features, every classic way: named pipe, shared file with a lock, signals, Unix/TCP
//! sockets with an auth key, POSIX message queues, Redis, and a request/response layer over
//! any of them. All byte transports implement [`transport::Sender`] and
//! [`transport::Receiver`].
//!
//! | feature  | module | what |
//! |----------|--------|------|
//! | (always) | [`ring`] | SPSC ring in shared memory, zero-copy, futex wakeups |
//! | (always) | [`seqlock`] | latest-value cell: one writer, many readers, versions, futex wait |
//! | (always) | [`broadcast`] | one publisher, many subscribers, exact loss counts, futex wait |
//! | (always) | [`service`] | one server, many clients: request/response at the one-line floor |
//! | `pipe`   | `pipe` | named FIFO, length-prefixed frames |
//! | `file`   | `file` | append-only shared log + lock file; the JSON command mailbox |
//! | `signal` | `signal` | pid registry, SIGUSR1/SIGUSR2, real-time signals with an `i32` |
//! | `socket` | `socket` | Unix/TCP, HMAC auth, Python `multiprocessing.connection` compatible |
//! | `mq`     | `mq` | POSIX message queues |
//! | `redis`  | `redis` | Redis pub/sub and streams |
//! | `rpc`    | `rpc` | request/response over any transport pair |
//! | `async`  | every method's module, [`transport`] | tokio: the `Async*` forms of every method, cancel safe |
//! | `serde`  | [`ring`] | `send_serde`/`recv_serde`: any serde value on the ring (postcard) |
//! | `tracing`| | logs segment creation, stale reclaim, peer death, corruption (once each) |
//! | `full`   | | all of the above |
//!
//! # Example
//!
//! ```
//! use ipcring::ring::{Consumer, Producer, RingOptions};
//!
//! # fn main() -> ipcring::Result<()> {
//! let name = format!("/ipcring-doc-{}", std::process::id());
//! let opts = RingOptions::new().capacity(1 << 16);
//! let mut tx = Producer::create(&name, &opts)?;   // process A
//! let mut rx = Consumer::open(&name, &opts)?;     // process B, started on its own
//!
//! tx.send(b"hello")?;
//! let msg = rx.recv()?;                           // zero-copy guard
//! assert_eq!(&*msg, b"hello");
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs, missing_debug_implementations, unsafe_op_in_unsafe_fn)]
// docs.rs builds with `--cfg docsrs` (Cargo.toml's `[package.metadata.docs.rs]`): every
// feature-gated item then shows a badge naming its feature.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(clippy::undocumented_unsafe_blocks)]

#[cfg(not(target_endian = "little"))]
compile_error!("ipcring's shared layouts are little-endian; big-endian targets are not supported");
// The wait/wake layer (`sys::futex`) has a file for each of these three; Linux is the one
// tested, macOS and FreeBSD are compile-checked in CI (README "Platforms").
#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "freebsd")))]
compile_error!(
    "ipcring builds on Linux, macOS and FreeBSD only (Windows and other systems are not supported)"
);
#[cfg(all(feature = "mq", target_os = "macos"))]
compile_error!(
    "the `mq` feature needs POSIX message queues, which macOS does not have: enable the other \
     features one by one instead of `full`"
);

#[cfg(not(loom))]
pub mod access;
pub mod broadcast;
#[cfg(not(loom))]
pub(crate) mod builder;
pub(crate) mod deadline;
pub mod error;
pub(crate) mod kinds;
// Under loom only the error constructors remain, and they log only with `tracing`.
#[cfg(any(not(loom), feature = "tracing"))]
pub(crate) mod log;
#[cfg(not(loom))]
pub mod measure;
pub mod ring;
#[cfg(not(loom))]
pub mod segment;
pub mod seqlock;
pub mod service;
pub(crate) mod sync;
#[cfg(not(loom))]
pub(crate) mod sys;
pub mod transport;
pub mod wake;
pub(crate) mod words;

#[cfg(feature = "file")]
#[cfg_attr(docsrs, doc(cfg(feature = "file")))]
pub mod file;
// Not on macOS, where the feature is the compile_error above (and nothing else).
#[cfg(all(feature = "mq", not(target_os = "macos")))]
#[cfg_attr(docsrs, doc(cfg(feature = "mq")))]
pub mod mq;
#[cfg(feature = "pipe")]
#[cfg_attr(docsrs, doc(cfg(feature = "pipe")))]
pub mod pipe;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
#[cfg(feature = "rpc")]
#[cfg_attr(docsrs, doc(cfg(feature = "rpc")))]
pub mod rpc;
#[cfg(feature = "signal")]
#[cfg_attr(docsrs, doc(cfg(feature = "signal")))]
pub mod signal;
#[cfg(feature = "socket")]
#[cfg_attr(docsrs, doc(cfg(feature = "socket")))]
pub mod socket;

#[cfg(fuzzing)]
#[doc(hidden)]
#[path = "fuzz_hooks.rs"]
pub mod __fuzz;

#[cfg(not(loom))]
pub use access::Access;
pub use error::{Error, Result, TryRecvError, TrySendError};
pub use transport::{Receiver, Sender};

/// A name for a segment or queue that no other unit test of this process uses:
/// `/ipcring-{prefix}-{tag}-{pid}-{n}`.
#[cfg(all(test, not(loom)))]
pub(crate) fn test_name(prefix: &str, tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("/ipcring-{prefix}-{tag}-{}-{n}", std::process::id())
}
