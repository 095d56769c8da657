//! The shared-memory service ([`crate::service`]), awaited from tokio: [`AsyncClient`] and
//! [`AsyncListener`].
//!
//! The channels, the slots and the protocol are the blocking service's own: an async client calls a
//! blocking server and a blocking client calls an async server. A call that finds its answer there
//! makes no system call and does not touch the scheduler. Only when a side must wait does it sleep
//! on the same futex word the blocking form sleeps on (the client's answer word, the listener's
//! server word), as [`crate::ring::AsyncConsumer`] does: a short spin yielding to the scheduler,
//! then an io_uring `FUTEX_WAIT` that the runtime's epoll watches where the kernel has it (Linux
//! 6.7+: one wake-up per answer, no thread), else the process's waker thread, else a thread of
//! tokio's blocking pool. Every [`LIVENESS_SLICE`](crate::service::LIVENESS_SLICE) a waiting client
//! checks that the server lives (a dead server gives [`Error::Disconnected`]), and a waiting
//! listener frees dead clients, as the blocking forms do.
//!
//! Requests are answered with the blocking [`Request`]: `respond` and `respond_with` never
//! wait. Answers are copied out ([`AsyncClient::call`] gives a `Vec`,
//! [`AsyncClient::call_into`] reuses one), with the word-sized atomic reads of
//! [`Client::call_into`]: no reference into the server-writable channel is handed out.
//!
//! ```
//! use ipcring::service::{AsyncClient, AsyncListener};
//! use ipcring::service::ServiceOptions;
//!
//! # fn main() -> ipcring::Result<()> {
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! rt.block_on(async {
//!     let name = format!("/ipcring-asvcdoc-{}", std::process::id());
//!     let opts = ServiceOptions::new();
//!     let mut server = AsyncListener::bind(&name, &opts)?;      // process A
//!     let serving = tokio::spawn(async move {
//!         let req = server.recv().await?;
//!         let upper = req.to_ascii_uppercase();
//!         req.respond_with(&upper)                               // never waits
//!     });
//!     let mut client = AsyncClient::connect(&name, &opts).await?; // process B
//!     assert_eq!(client.call(b"hello").await?, b"HELLO");
//!     serving.await.unwrap()?;
//!     Ok(())
//! })
//! # }
//! ```
//!
//! # Cancel safety
//! - [`AsyncListener::recv`] is cancel safe: waiting only looks at the channels, and a
//!   request is taken in the synchronous step that returns it; a dropped future took none.
//! - [`AsyncClient::call`] (and `call_into`, `call_timeout`, [`AsyncClient::wait`]): a
//!   future dropped after its request was submitted leaves that request in flight; the
//!   client remembers it, and its answer, when it comes, is taken and thrown away by the
//!   client's next use (it never becomes the answer of another call). Until then it keeps
//!   its slot; a call that finds every slot so held waits for those stale answers first.
//!   So `tokio::time::timeout(d, client.call(req))` and `tokio::select!` are safe: the
//!   server may still run a request whose call was dropped (it was sent), but no later
//!   call reads its answer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::service::{Client, Listener, Request, ServiceOptions, Ticket};
use crate::wake::tokio::{waited_handle, Waiter};
use crate::{Error, Result, TryRecvError};

/// A connection to a service, for tokio: wraps a blocking [`Client`], whose channel it
/// uses; answers are awaited on the client's wake word (see the module docs).
///
/// Methods that wait take `&mut self`: one task at a time uses a client (the blocking
/// `Client` is `Send`, not `Sync`). To keep several requests in flight, [`submit`] them
/// and [`wait`] for each (pipelining, up to [`AsyncClient::slots`]).
///
/// [`submit`]: AsyncClient::submit
/// [`wait`]: AsyncClient::wait
///
/// ```
/// use ipcring::service::{AsyncClient, AsyncListener};
/// use ipcring::service::ServiceOptions;
/// # fn main() -> ipcring::Result<()> {
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// rt.block_on(async {
///     let name = format!("/ipcring-aclient-{}", std::process::id());
///     let mut server = AsyncListener::bind(&name, &ServiceOptions::new())?;
///     let serving = tokio::spawn(async move {
///         for _ in 0..2 {
///             let req = server.recv().await?;           // answers with the length
///             let answer = req.len().to_string();
///             req.respond_with(answer.as_bytes())?;
///         }
///         Ok::<_, ipcring::Error>(())
///     });
///     let mut client = AsyncClient::connect(&name, &ServiceOptions::new().slots(2)).await?;
///     let a = client.submit(b"first")?;
///     let b = client.submit(b"second")?;                // two in flight
///     assert_eq!(client.wait(b).await?, b"6");           // in any order
///     assert_eq!(client.wait(a).await?, b"5");
///     serving.await.unwrap()?;
///     Ok(())
/// })
/// # }
/// ```
#[derive(Debug)]
#[must_use = "an AsyncClient disconnects when dropped"]
pub struct AsyncClient {
    inner: Client,
    waiter: Waiter,
    /// Requests whose wait was dropped: their answers are taken and thrown away by the
    /// next use of the client.
    abandoned: Vec<Ticket>,
}

impl From<Client> for AsyncClient {
    fn from(inner: Client) -> AsyncClient {
        let waiter = Waiter::new(inner.answer_wake(), inner.wait_strategy());
        AsyncClient {
            inner,
            waiter,
            abandoned: Vec::new(),
        }
    }
}

/// Puts a ticket whose wait was dropped among the client's abandoned ones.
struct Abandon<'a> {
    ticket: Option<Ticket>,
    into: &'a mut Vec<Ticket>,
}

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        if let Some(t) = self.ticket.take() {
            self.into.push(t);
        }
    }
}

impl AsyncClient {
    /// Connects to the service `name`: [`Client::connect`], whose wait for a listener (up
    /// to the open timeout) and for the server's accept runs on tokio's blocking pool, so
    /// the runtime goes on meanwhile.
    ///
    /// Cancel safe in that a dropped future leaves nothing behind: a connect already under
    /// way finishes on the blocking pool and its client is dropped (disconnected) at once.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ipcring::service::AsyncClient;
    /// use ipcring::service::ServiceOptions;
    /// # fn main() {
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let name = format!("/ipcring-aconnect-none-{}", std::process::id());
    /// let opts = ServiceOptions::new().open_timeout(Duration::from_millis(20));
    /// let r = rt.block_on(AsyncClient::connect(&name, &opts));
    /// assert!(r.is_err()); // no listener came within the open timeout
    /// # }
    /// ```
    pub async fn connect(name: &str, opts: &ServiceOptions) -> Result<AsyncClient> {
        let (name, opts) = (name.to_owned(), opts.clone());
        let client = tokio::task::spawn_blocking(move || Client::connect(&name, &opts))
            .await
            .map_err(|e| Error::io("connect task", std::io::Error::other(e)))??;
        Ok(client.into())
    }

    /// The blocking client underneath (its entry, slots, message size).
    ///
    /// ```
    /// # use ipcring::service::{AsyncClient, AsyncListener};
    /// # use ipcring::service::ServiceOptions;
    /// # fn main() -> ipcring::Result<()> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// # rt.block_on(async {
    /// # let name = format!("/ipcring-agetref-{}", std::process::id());
    /// # let mut server = AsyncListener::bind(&name, &ServiceOptions::new())?;
    /// # tokio::spawn(async move { let _ = server.recv().await; });
    /// let client = AsyncClient::connect(&name, &ServiceOptions::new()).await?;
    /// assert_eq!(client.get_ref().slots(), client.slots());
    /// # Ok(())
    /// # })
    /// # }
    /// ```
    pub fn get_ref(&self) -> &Client {
        &self.inner
    }

    /// Slots in the channel: requests in flight at once.
    ///
    /// ```
    /// # use ipcring::service::{AsyncClient, AsyncListener};
    /// # use ipcring::service::ServiceOptions;
    /// # fn main() -> ipcring::Result<()> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// # rt.block_on(async {
    /// # let name = format!("/ipcring-aslots-{}", std::process::id());
    /// # let mut server = AsyncListener::bind(&name, &ServiceOptions::new())?;
    /// # tokio::spawn(async move { let _ = server.recv().await; });
    /// let client = AsyncClient::connect(&name, &ServiceOptions::new().slots(3)).await?;
    /// assert_eq!(client.slots(), 3);
    /// # Ok(())
    /// # })
    /// # }
    /// ```
    pub fn slots(&self) -> u32 {
        self.inner.slots()
    }

    /// Largest request or answer in bytes.
    ///
    /// ```
    /// # use ipcring::service::{AsyncClient, AsyncListener};
    /// # use ipcring::service::ServiceOptions;
    /// # fn main() -> ipcring::Result<()> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// # rt.block_on(async {
    /// # let name = format!("/ipcring-amaxmsg-{}", std::process::id());
    /// # let mut server = AsyncListener::bind(&name, &ServiceOptions::new())?;
    /// # tokio::spawn(async move { let _ = server.recv().await; });
    /// let client = AsyncClient::connect(&name, &ServiceOptions::new().max_message(100)).await?;
    /// assert_eq!(client.max_message(), 100);
    /// # Ok(())
    /// # })
    /// # }
    /// ```
    pub fn max_message(&self) -> usize {
        self.inner.max_message()
    }

    /// Takes (and throws away) every answer to an abandoned request that has come.
    fn reap(&mut self) -> Result<()> {
        let mut err = None;
        let inner = &self.inner;
        self.abandoned
            .retain(|t| match inner.try_answer_into(t, None) {
                Ok(taken) => !taken,
                Err(e) => {
                    err.get_or_insert(e);
                    false
                }
            });
        err.map_or(Ok(()), Err)
    }

    /// Waits, if every slot is held by an abandoned request, until one of those is answered
    /// (and takes it).
    async fn free_a_slot(&mut self) -> Result<()> {
        loop {
            self.reap()?;
            if self.inner.has_free_slot() || self.abandoned.is_empty() {
                return Ok(());
            }
            let (inner, waiter, abandoned) = (&mut self.inner, &mut self.waiter, &self.abandoned);
            waiter
                .wait_for(
                    inner,
                    |c| {
                        for t in abandoned {
                            if c.is_answered(t)? {
                                return Ok(Some(()));
                            }
                        }
                        Ok(None)
                    },
                    |c| c.server_gone(),
                )
                .await?;
        }
    }

    /// Copies `req` into a free slot and publishes it (waking a sleeping server); its answer
    /// comes with [`AsyncClient::wait`]. Never waits: [`Error::SystemLimit`] if every slot
    /// is in flight, [`Error::MessageTooLarge`] past [`AsyncClient::max_message`],
    /// [`Error::Disconnected`] if the server closed the connection. A ticket dropped
    /// without being waited for keeps its slot, as [`Client::submit`]'s does.
    ///
    /// ```
    /// # use ipcring::service::{AsyncClient, AsyncListener};
    /// # use ipcring::service::ServiceOptions;
    /// # fn main() -> ipcring::Result<()> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// # rt.block_on(async {
    /// # let name = format!("/ipcring-asubmit-{}", std::process::id());
    /// # let mut server = AsyncListener::bind(&name, &ServiceOptions::new())?;
    /// # tokio::spawn(async move { server.recv().await?.respond_with(b"pong") });
    /// let mut client = AsyncClient::connect(&name, &ServiceOptions::new()).await?;
    /// let ticket = client.submit(b"ping")?;
    /// // ... other work while the server runs the call ...
    /// assert_eq!(client.wait(ticket).await?, b"pong");
    /// # Ok(())
    /// # })
    /// # }
    /// ```
    pub fn submit(&mut self, req: &[u8]) -> Result<Ticket> {
        self.reap()?;
        self.inner.submit(req)
    }

    /// Waits for the answer to `ticket`, copied into `out` (cleared first).
    async fn answer_into(&mut self, ticket: Ticket, out: &mut Vec<u8>) -> Result<()> {
        self.reap()?;
        let (inner, waiter, abandoned) = (&mut self.inner, &mut self.waiter, &mut self.abandoned);
        let mut guard = Abandon {
            ticket: Some(ticket),
            into: abandoned,
        };
        let t = guard.ticket.as_ref().expect("just put there");
        let r = if inner.try_answer_into(t, Some(&mut *out))? {
            Ok(())
        } else {
            waiter
                .wait_for(
                    inner,
                    |c| Ok(c.try_answer_into(t, Some(&mut *out))?.then_some(())),
                    |c| c.server_gone(),
                )
                .await
        };
        // Waited to the end (an answer or an error): nothing to abandon.
        guard.ticket = None;
        r
    }

    /// Waits for the answer to `ticket`, sleeping on the client's wake word (see the module
    /// docs); [`Error::Disconnected`] if the server dies or closes the connection first
    /// (seen within a liveness slice).
    ///
    /// # Cancel safety
    /// A dropped future keeps the request in flight; its answer is thrown away when it
    /// comes, by the client's next use, and never read as another request's answer (see
    /// the module docs). To wait with a limit and keep the ticket, use
    /// [`AsyncClient::wait_timeout`].
    ///
    /// ```
    /// # use ipcring::service::{AsyncClient, AsyncListener};
    /// # use ipcring::service::ServiceOptions;
    /// # fn main() -> ipcring::Result<()> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// # rt.block_on(async {
    /// # let name = format!("/ipcring-await-{}", std::process::id());
    /// # let mut server = AsyncListener::bind(&name, &ServiceOptions::new())?;
    /// # tokio::spawn(async move { server.recv().await?.respond_with(b"42") });
    /// let mut client = AsyncClient::connect(&name, &ServiceOptions::new()).await?;
    /// let t = client.submit(b"6*7")?;
    /// assert_eq!(client.wait(t).await?, b"42");
    /// # Ok(())
    /// # })
    /// # }
    /// ```
    pub async fn wait(&mut self, ticket: Ticket) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.answer_into(ticket, &mut out).await?;
        Ok(out)
    }

    /// As [`AsyncClient::wait`], copying the answer into `out` (cleared first; its
    /// allocation is reused). Cancel safety: as `wait`.
    ///
    /// ```
    /// # use ipcring::service::{AsyncClient, AsyncListener};
    /// # use ipcring::service::ServiceOptions;
    /// # fn main() -> ipcring::Result<()> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// # rt.block_on(async {
    /// # let name = format!("/ipcring-awaitinto-{}", std::process::id());
    /// # let mut server = AsyncListener::bind(&name, &ServiceOptions::new())?;
    /// # tokio::spawn(async move { server.recv().await?.respond_with(b"ok") });
    /// let mut client = AsyncClient::connect(&name, &ServiceOptions::new()).await?;
    /// let mut answer = Vec::with_capacity(64);
    /// let t = client.submit(b"go")?;
    /// client.wait_into(t, &mut answer).await?;
    /// assert_eq!(answer, b"ok");
    /// # Ok(())
    /// # })
    /// # }
    /// ```
    pub async fn wait_into(&mut self, ticket: Ticket, out: &mut Vec<u8>) -> Result<()> {
        self.answer_into(ticket, out).await
    }

    /// As [`AsyncClient::wait`], for at most `timeout` (tokio's timer). On
    /// [`Error::Timeout`] the ticket is still good: wait for it again (or drop it, which
    /// keeps its slot busy as [`Client::wait_timeout`]'s does).
    ///
    /// # Cancel safety
    /// Cancel safe: the ticket stays with the caller, and only waiting happens here.
    ///
    /// ```
    /// use std::time::Duration;
    /// # use ipcring::service::{AsyncClient, AsyncListener};
    /// # use ipcring::service::ServiceOptions;
    /// # fn main() -> ipcring::Result<()> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// # rt.block_on(async {
    /// # let name = format!("/ipcring-awaittimeout-{}", std::process::id());
    /// let mut server = AsyncListener::bind(&name, &ServiceOptions::new())?;
    /// # let n = name.clone();
    /// # let connecting = tokio::spawn(async move { AsyncClient::connect(&n, &ServiceOptions::new()).await });
    /// # while !connecting.is_finished() { // the server accepts while it polls
    /// #     let _ = server.recv_timeout(Duration::from_millis(1)).await;
    /// # }
    /// # let mut client = connecting.await.unwrap()?;
    /// let t = client.submit(b"slow")?;
    /// let late = client.wait_timeout(&t, Duration::from_millis(5)).await;
    /// assert!(matches!(late, Err(ipcring::Error::Timeout))); // nobody served it yet
    /// server.recv().await?.respond_with(b"done")?;
    /// assert_eq!(client.wait_timeout(&t, Duration::from_secs(5)).await?, b"done");
    /// # Ok(())
    /// # })
    /// # }
    /// ```
    pub async fn wait_timeout(&mut self, ticket: &Ticket, timeout: Duration) -> Result<Vec<u8>> {
        self.reap()?;
        let mut out = Vec::new();
        let AsyncClient { inner, waiter, .. } = self;
        let waited = waiter.wait_for(
            inner,
            |c| Ok(c.try_answer_into(ticket, Some(&mut out))?.then_some(())),
            |c| c.server_gone(),
        );
        crate::transport::within(timeout, waited).await?;
        Ok(out)
    }

    /// True if the answer to `ticket` is there (then [`AsyncClient::wait`] returns at once).
    ///
    /// ```
    /// # use ipcring::service::{AsyncClient, AsyncListener};
    /// # use ipcring::service::ServiceOptions;
    /// # fn main() -> ipcring::Result<()> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// # rt.block_on(async {
    /// # let name = format!("/ipcring-aisanswered-{}", std::process::id());
    /// # use std::time::Duration;
    /// let mut server = AsyncListener::bind(&name, &ServiceOptions::new())?;
    /// # let n = name.clone();
    /// # let connecting = tokio::spawn(async move { AsyncClient::connect(&n, &ServiceOptions::new()).await });
    /// # while !connecting.is_finished() { // the server accepts while it polls
    /// #     let _ = server.recv_timeout(Duration::from_millis(1)).await;
    /// # }
    /// # let mut client = connecting.await.unwrap()?;
    /// let t = client.submit(b"x")?;
    /// assert!(!client.is_answered(&t)?);
    /// server.recv().await?.respond_with(b"y")?;
    /// assert!(client.is_answered(&t)?);
    /// assert_eq!(client.wait(t).await?, b"y");
    /// # Ok(())
    /// # })
    /// # }
    /// ```
    pub fn is_answered(&self, ticket: &Ticket) -> Result<bool> {
        self.inner.is_answered(ticket)
    }

    /// One round trip: submits `req` and waits for its answer, copied into a new `Vec`.
    /// If every slot is held by a request whose call was dropped, waits for one of those
    /// answers first (and throws it away). [`Error::Disconnected`] if the server dies or
    /// closes the connection first.
    ///
    /// # Cancel safety
    /// A future dropped before the request was submitted sent nothing; one dropped after it
    /// leaves the request in flight, and its answer is thrown away when it comes: the next
    /// call gets its own answer, never the dropped one's (see the module docs).
    ///
    /// ```
    /// # use ipcring::service::{AsyncClient, AsyncListener};
    /// # use ipcring::service::ServiceOptions;
    /// # fn main() -> ipcring::Result<()> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// # rt.block_on(async {
    /// # let name = format!("/ipcring-acall-{}", std::process::id());
    /// # let mut server = AsyncListener::bind(&name, &ServiceOptions::new())?;
    /// # tokio::spawn(async move { let r = server.recv().await?; let n = r.len().to_string(); r.respond_with(n.as_bytes()) });
    /// let mut client = AsyncClient::connect(&name, &ServiceOptions::new()).await?;
    /// assert_eq!(client.call(b"four").await?, b"4");
    /// # Ok(())
    /// # })
    /// # }
    /// ```
    pub async fn call(&mut self, req: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.call_into(req, &mut out).await?;
        Ok(out)
    }

    /// As [`AsyncClient::call`], copying the answer into `out` (cleared first; its
    /// allocation is reused, so a loop of calls allocates nothing). Cancel safety: as
    /// `call`.
    ///
    /// ```
    /// # use ipcring::service::{AsyncClient, AsyncListener};
    /// # use ipcring::service::ServiceOptions;
    /// # fn main() -> ipcring::Result<()> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// # rt.block_on(async {
    /// # let name = format!("/ipcring-acallinto-{}", std::process::id());
    /// # let mut server = AsyncListener::bind(&name, &ServiceOptions::new())?;
    /// # tokio::spawn(async move {
    /// #     while let Ok(r) = server.recv().await {
    /// #         let a = r.to_ascii_uppercase();
    /// #         if r.respond_with(&a).is_err() { break }
    /// #     }
    /// # });
    /// let mut client = AsyncClient::connect(&name, &ServiceOptions::new()).await?;
    /// let mut answer = Vec::new();
    /// for word in [&b"one"[..], b"two"] {
    ///     client.call_into(word, &mut answer).await?;
    ///     assert_eq!(answer, word.to_ascii_uppercase());
    /// }
    /// # Ok(())
    /// # })
    /// # }
    /// ```
    pub async fn call_into(&mut self, req: &[u8], out: &mut Vec<u8>) -> Result<()> {
        self.free_a_slot().await?;
        let ticket = self.inner.submit(req)?;
        // No `.await` between the submit and the guard that abandons the ticket if this
        // future is dropped (`answer_into` makes it before its first `.await`).
        self.answer_into(ticket, out).await
    }

    /// As [`AsyncClient::call`], waiting at most `timeout` (tokio's timer) in all. On
    /// [`Error::Timeout`] the request may have been sent: it is then abandoned as a
    /// dropped call's is (its answer is thrown away when it comes; unlike
    /// [`Client::call_timeout`], no ticket is left to wait on).
    ///
    /// ```
    /// use std::time::Duration;
    /// # use ipcring::service::{AsyncClient, AsyncListener};
    /// # use ipcring::service::ServiceOptions;
    /// # fn main() -> ipcring::Result<()> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// # rt.block_on(async {
    /// # let name = format!("/ipcring-acalltimeout-{}", std::process::id());
    /// let mut server = AsyncListener::bind(&name, &ServiceOptions::new())?;
    /// # let n = name.clone();
    /// # let connecting = tokio::spawn(async move { AsyncClient::connect(&n, &ServiceOptions::new()).await });
    /// # while !connecting.is_finished() { // the server accepts while it polls
    /// #     let _ = server.recv_timeout(Duration::from_millis(1)).await;
    /// # }
    /// # let mut client = connecting.await.unwrap()?;
    /// let r = client.call_timeout(b"first", Duration::from_millis(5)).await;
    /// assert!(matches!(r, Err(ipcring::Error::Timeout))); // nobody serves yet
    /// tokio::spawn(async move {
    ///     while let Ok(r) = server.recv().await {
    ///         let a = r.to_vec();
    ///         if r.respond_with(&a).is_err() { break } // an echo
    ///     }
    /// });
    /// // The late answer to "first" is thrown away: this call gets its own.
    /// assert_eq!(client.call_timeout(b"second", Duration::from_secs(5)).await?, b"second");
    /// # Ok(())
    /// # })
    /// # }
    /// ```
    pub async fn call_timeout(&mut self, req: &[u8], timeout: Duration) -> Result<Vec<u8>> {
        crate::transport::within(timeout, self.call(req)).await
    }
}

impl Drop for AsyncClient {
    fn drop(&mut self) {
        // Before the channel's mapping goes (with `inner`): no sleeper uses its word.
        self.waiter.settle();
    }
}

/// A service's listener, for tokio: wraps a blocking [`Listener`]; waits for requests on
/// its server wake word (see the module docs), and hands them out as the blocking
/// [`Request`], answered synchronously.
///
/// ```
/// use ipcring::service::AsyncListener;
/// use ipcring::service::{Client, ServiceOptions};
/// # fn main() -> ipcring::Result<()> {
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// let name = format!("/ipcring-alistener-{}", std::process::id());
/// let mut server = AsyncListener::bind(&name, &ServiceOptions::new())?;
/// let client = std::thread::spawn({                // a blocking client, elsewhere
///     let name = name.clone();
///     move || -> ipcring::Result<Vec<u8>> {
///         let c = Client::connect(&name, &ServiceOptions::new())?;
///         let answer = c.call(b"2+3")?.to_vec();
///         Ok(answer)
///     }
/// });
/// rt.block_on(async {
///     let req = server.recv().await?;
///     assert_eq!(&*req, b"2+3");
///     req.respond_with(b"5")
/// })?;
/// assert_eq!(client.join().unwrap()?, b"5");
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "an AsyncListener unbinds its name when dropped"]
pub struct AsyncListener {
    inner: Listener,
    waiter: Waiter,
}

waited_handle!(AsyncListener, Listener, server_wake);

impl AsyncListener {
    /// Binds `name`: [`Listener::bind`] (never waits). A leftover listener whose server
    /// died is replaced; a live one gives [`Error::AlreadyExists`].
    ///
    /// ```
    /// use ipcring::service::AsyncListener;
    /// use ipcring::service::ServiceOptions;
    /// # fn main() -> ipcring::Result<()> {
    /// let name = format!("/ipcring-abind-{}", std::process::id());
    /// let server = AsyncListener::bind(&name, &ServiceOptions::new().max_clients(8))?;
    /// assert!(AsyncListener::bind(&name, &ServiceOptions::new()).is_err()); // taken
    /// # drop(server);
    /// # Ok(()) }
    /// ```
    pub fn bind(name: &str, opts: &ServiceOptions) -> Result<AsyncListener> {
        Listener::bind(name, opts).map(Self::from)
    }

    /// The blocking listener underneath (its name, clients).
    ///
    /// ```
    /// use ipcring::service::AsyncListener;
    /// use ipcring::service::ServiceOptions;
    /// # fn main() -> ipcring::Result<()> {
    /// let name = format!("/ipcring-alistref-{}", std::process::id());
    /// let server = AsyncListener::bind(&name, &ServiceOptions::new().max_clients(8))?;
    /// assert_eq!(server.get_ref().max_clients(), 8);
    /// assert_eq!(server.get_ref().clients(), 0);
    /// # Ok(()) }
    /// ```
    pub fn get_ref(&self) -> &Listener {
        &self.inner
    }

    /// The next request from any client, if one is waiting now (never waits):
    /// [`Listener::try_recv`]. Also accepts new clients and now and then frees dead ones.
    ///
    /// ```
    /// use ipcring::service::AsyncListener;
    /// use ipcring::service::ServiceOptions;
    /// # fn main() -> ipcring::Result<()> {
    /// let name = format!("/ipcring-atryrecv-{}", std::process::id());
    /// let mut server = AsyncListener::bind(&name, &ServiceOptions::new())?;
    /// assert!(server.try_recv().unwrap_err().is_empty()); // no client yet
    /// # Ok(()) }
    /// ```
    #[must_use = "a request dropped unanswered is answered with zero bytes"]
    pub fn try_recv(&mut self) -> Result<Request<'_>, TryRecvError> {
        self.inner.try_recv()
    }

    /// The next request from any client, waiting for one: asleep on the listener's wake
    /// word, which a client posting a request (or a connect) wakes. While it waits, new
    /// clients are accepted and, every liveness slice, dead ones are freed. Respond with
    /// [`Request::respond`] or [`Request::respond_with`] (synchronous; a request dropped
    /// unanswered is answered with zero bytes).
    ///
    /// # Cancel safety
    /// Cancel safe: waiting only looks at the channels; a request is taken in the
    /// synchronous step that returns it, so a dropped future took none, and the next
    /// `recv` gets it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ipcring::service::{AsyncClient, AsyncListener};
    /// use ipcring::service::ServiceOptions;
    /// # fn main() -> ipcring::Result<()> {
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// rt.block_on(async {
    ///     let name = format!("/ipcring-arecv-{}", std::process::id());
    ///     let mut server = AsyncListener::bind(&name, &ServiceOptions::new())?;
    /// # let n = name.clone();
    /// # let connecting = tokio::spawn(async move { AsyncClient::connect(&n, &ServiceOptions::new()).await });
    /// # while !connecting.is_finished() { // the server accepts while it polls
    /// #     let _ = server.recv_timeout(Duration::from_millis(1)).await;
    /// # }
    /// # let mut client = connecting.await.unwrap()?;
    ///     // A recv given up on (no request yet) loses nothing.
    ///     assert!(tokio::time::timeout(Duration::from_millis(5), server.recv()).await.is_err());
    ///     let t = client.submit(b"hi")?;
    ///     server.recv().await?.respond_with(b"hello")?;
    ///     assert_eq!(client.wait(t).await?, b"hello");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn recv(&mut self) -> Result<Request<'_>> {
        if let Some(e) = self.inner.poll_request(false) {
            return self.inner.take_request(e);
        }
        // No single peer to lose: at each liveness slice's end, free dead clients instead.
        let reap_due = AtomicBool::new(false);
        let e = self
            .waiter
            .wait_for(
                &mut self.inner,
                |l| Ok(l.poll_request(reap_due.swap(false, Ordering::Relaxed))),
                |_| {
                    reap_due.store(true, Ordering::Relaxed);
                    Ok(false)
                },
            )
            .await?;
        // Found in the look that ended the wait: no `.await` since.
        self.inner.take_request(e)
    }

    /// As [`AsyncListener::recv`], waiting at most `timeout` (tokio's timer):
    /// [`Error::Timeout`], and no request was taken. Cancel safe, as `recv`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ipcring::service::AsyncListener;
    /// use ipcring::service::ServiceOptions;
    /// # fn main() -> ipcring::Result<()> {
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let name = format!("/ipcring-arecvtimeout-{}", std::process::id());
    /// let mut server = AsyncListener::bind(&name, &ServiceOptions::new())?;
    /// let r = rt.block_on(async { server.recv_timeout(Duration::from_millis(5)).await.map(drop) });
    /// assert!(matches!(r, Err(ipcring::Error::Timeout)));
    /// # Ok(()) }
    /// ```
    pub async fn recv_timeout(&mut self, timeout: Duration) -> Result<Request<'_>> {
        crate::transport::within(timeout, self.recv()).await
    }
}
