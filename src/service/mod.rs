//! A shared-memory service: one server, many clients, request/response at the one-line
//! floor.
//!
//! A [`Listener`] creates a named rendezvous segment; any number of [`Client`]s (up to
//! its `max_clients`) connect by that name, each with its own duplex channel. Either may
//! start first: `connect` waits for the listener with a deadline.
//!
//! ```
//! use ipcring::service::{Client, Listener, ServiceOptions};
//!
//! # fn main() -> ipcring::Result<()> {
//! let name = format!("/ipcring-svcdoc-{}", std::process::id());
//! let opts = ServiceOptions::new();
//! let mut server = Listener::bind(&name, &opts)?;         // process A
//! let client = std::thread::spawn({                        // process B, on its own
//!     let (name, opts) = (name.clone(), opts.clone());
//!     move || -> ipcring::Result<Vec<u8>> {
//!         let client = Client::connect(&name, &opts)?;
//!         let answer = client.call(b"hello")?.to_vec();    // zero-copy guard, copied
//!         Ok(answer)
//!     }
//! });
//! let mut req = server.recv()?;                            // from any client
//! let upper = req.to_ascii_uppercase();
//! req.respond_with(&upper)?;                               // written over the request
//! assert_eq!(client.join().unwrap()?, b"HELLO");
//! # Ok(()) }
//! ```
//!
//! # Why it is fast
//! A pair of one-way rings cannot answer faster than the two-line floor: each direction's
//! line is written by one side and polled by the other. A service channel is a set of
//! *slots*; a slot's header word holds its state (free, request, answer) and a length. The
//! client writes a request and flips the state; the server, polling, runs the call, writes
//! the answer **over the request, in the same cache lines**, and flips the state back. One
//! line travels there and back, as in the one-line floor. With several slots a client
//! pipelines ([`Client::submit`], [`Client::wait`]: answers matched by [`Ticket`]).
//!
//! # Liveness and restarts
//! - A client holds an exclusive lock on its connection entry's byte of the listener file
//!   for as long as it lives; the kernel drops it when the client dies (SIGKILL included).
//!   The server checks its connections every [`LIVENESS_SLICE`] and frees a dead client's
//!   entry and channel within that bound.
//! - The server holds the listener's role lock. A client blocked on an answer checks it at
//!   every slice and sees [`Error::Disconnected`] when the server is gone.
//! - [`Listener::bind`] over a leftover listener whose server died removes it and creates
//!   a new one, so a restarted server is connectable at once; clients of the dead one
//!   reconnect with [`Client::connect`].
//!
//! # An untrusted peer
//! Every header word, length, state and geometry read from shared memory is checked; a bad
//! one is [`Error::Corrupt`]. A client that corrupts its channel is disconnected, alone:
//! the server goes on serving the others. Zero-copy views ([`Request`], [`Answer`]) are
//! slices of memory the peer maps writable, with the same contract as the ring's
//! [`Message`](crate::ring::Message): a hostile peer can change the bytes under you, never
//! make this crate read or write outside the mapping. The copy-out [`Client::call_into`]
//! never hands out such a slice. As with every shared mapping, a process with write access
//! to a segment can also truncate it, which turns accesses into SIGBUS: segments are
//! created 0600, so only your own user can.
//!
//! # Limits
//! Up to [`layout::MAX_CLIENTS`] clients a listener, [`layout::MAX_SLOTS`] slots (requests
//! in flight) a client, requests and answers up to [`layout::MAX_MESSAGE`] bytes, all set by
//! [`ServiceOptions`]. A server handles one request at a time per thread ([`Request`]
//! borrows its [`Listener`]).
//!
//! # Access
//! Segments are created with the options' mode (0600 by default): only the same user can
//! connect. With the `service-auth` feature, [`ServiceOptions::auth_key`] narrows that to
//! the processes that know a key: at connect the client proves it knows the key, and the
//! server proves it too, each with an HMAC-SHA256 over a challenge the server renews for
//! every connect (so a proof seen once cannot be replayed), compared in constant time; the
//! key itself never enters shared memory. A client with the wrong key, or none, gets
//! [`Error::Auth`] and is never served.

pub mod layout;

#[cfg(not(loom))]
pub(crate) mod auth;

pub(crate) mod core;

#[cfg(all(test, loom))]
mod tests_loom;

#[cfg(not(loom))]
mod client;
#[cfg(not(loom))]
mod info;
#[cfg(not(loom))]
mod listener;
#[cfg(not(loom))]
mod transport;
#[cfg(not(loom))]
pub use client::{Answer, Client, RequestGrant, Ticket};
#[cfg(not(loom))]
pub use info::{inspect, remove, ClientInfo, EntryState, ServiceInfo};
#[cfg(not(loom))]
pub use listener::{ClientId, Listener, Request};
#[cfg(not(loom))]
pub use transport::{split, Answers, Requests};

// The async (tokio) form, beside the blocking one.
#[cfg(all(feature = "async", not(loom)))]
mod tokio;
#[cfg(all(feature = "async", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub use self::tokio::{AsyncClient, AsyncListener};

#[cfg(all(feature = "rpc", not(loom)))]
mod rpc;

pub use crate::ring::LIVENESS_SLICE;

#[cfg(not(loom))]
use crate::segment::{self, SegmentOptions};
#[cfg(not(loom))]
use crate::{Error, Result};

/// How to bind a listener or connect a client.
///
/// The listener uses `max_clients`, `max_slots` and `max_message` as the limits every
/// client must stay within; a client uses `slots` and `max_message` for its own channel.
/// Both use the segment settings (mode, wait strategy, open timeout).
///
/// ```
/// use std::time::Duration;
/// use ipcring::ring::WaitStrategy;
/// use ipcring::service::ServiceOptions;
/// let opts = ServiceOptions::new()
///     .max_clients(16)         // listener: connection entries
///     .slots(4)                // client: requests in flight at once
///     .max_message(1024)       // both: largest request or answer
///     .wait(WaitStrategy::Spin)
///     .open_timeout(Duration::from_secs(2));
/// # let _ = opts;
/// ```
#[cfg(not(loom))]
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    max_clients: u32,
    max_slots: u32,
    slots: u32,
    max_message: u32,
    seg: SegmentOptions,
    key: Option<auth::AuthKey>,
}

#[cfg(not(loom))]
impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            max_clients: 64,
            max_slots: layout::MAX_SLOTS,
            slots: 4,
            max_message: 4096 - layout::SLOT_HEADER as u32,
            seg: SegmentOptions::default(),
            key: None,
        }
    }
}

#[cfg(not(loom))]
impl ServiceOptions {
    /// Defaults: 64 clients, 4 slots a client (at most 64), messages up to 4088 bytes (one
    /// 4 KiB slot), mode 0600, [`WaitStrategy::default`](crate::ring::WaitStrategy), open
    /// timeout 5 s.
    pub fn new() -> Self {
        Self::default()
    }

    crate::builder::setters! {
        /// Listener: how many clients may be connected at once (1 ..= 4096). Beyond it,
        /// `connect` fails with [`Error::SystemLimit`].
        max_clients(n: u32);

        /// Listener: the most slots a client's channel may have (1 ..= 64).
        max_slots(n: u32);

        /// Client: slots in its channel, i.e. requests in flight at once (1 ..= 64, and at most
        /// the listener's `max_slots`).
        slots(n: u32);

        /// Largest request or answer in bytes (1 ..= 16 MiB). For a listener, the most a client
        /// may ask for; for a client, its channel's slot size (at most the listener's).
        max_message(bytes: u32);
    }

    /// An auth key (feature `service-auth`): a listener bound with one accepts only
    /// clients that prove they know it, and a client connecting with one accepts only a
    /// server that proves it too; neither sends the key (HMAC-SHA256 over a fresh
    /// challenge, compared in constant time: see the module docs). A client with the
    /// wrong key, or none, gets [`Error::Auth`].
    ///
    /// ```
    /// use ipcring::service::{Client, Listener, ServiceOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// let name = format!("/ipcring-svc-key-{}", std::process::id());
    /// let opts = ServiceOptions::new().auth_key(b"Do not let eve find us!");
    /// let mut server = Listener::bind(&name, &opts)?;
    /// let serving = std::thread::spawn(move || -> ipcring::Result<()> {
    ///     server.recv()?.respond_with(b"welcome")
    /// });
    /// let eve = ServiceOptions::new().auth_key(b"guess").open_timeout(std::time::Duration::from_secs(5));
    /// assert!(matches!(Client::connect(&name, &eve), Err(ipcring::Error::Auth(_))));
    /// let bob = Client::connect(&name, &opts)?;
    /// assert_eq!(&*bob.call(b"hi")?, b"welcome");
    /// # serving.join().unwrap()?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "service-auth")]
    pub fn auth_key(mut self, key: impl AsRef<[u8]>) -> Self {
        self.key = Some(auth::AuthKey::new(key.as_ref()));
        self
    }

    /// No auth key (the default).
    ///
    /// ```
    /// let opts = ipcring::service::ServiceOptions::new().no_auth_key();
    /// # let _ = opts;
    /// ```
    pub fn no_auth_key(mut self) -> Self {
        self.key = None;
        self
    }

    segment::segment_option_methods!(
        "How `recv` (server) and answer waits (client) wait (default: spin 20 µs, then sleep on the futex)."
    );

    fn check(&self) -> Result<()> {
        for (what, n, max) in [
            ("max_clients", self.max_clients, layout::MAX_CLIENTS),
            ("max_slots", self.max_slots, layout::MAX_SLOTS),
            ("slots", self.slots, layout::MAX_SLOTS),
            ("max_message", self.max_message, layout::MAX_MESSAGE),
        ] {
            if !(1..=max).contains(&n) {
                let e = format!("{what} {n} is outside 1 ..= {max}");
                return Err(Error::InvalidConfig(e.into()));
            }
        }
        Ok(())
    }

    fn may_sleep(&self) -> bool {
        matches!(self.seg.wait, crate::ring::WaitStrategy::SpinBlock { .. })
    }
}
