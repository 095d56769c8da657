//! The client side: connecting (claiming an entry, creating the channel), calls,
//! pipelining.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering;
use std::thread;
use std::time::Duration;

use crate::ring::WaitStrategy;
use crate::segment::Segment;
use crate::service::auth::{self, Handshake, Who};
use crate::service::core::{must_wake, Answered, ChannelCore, ClientSide, Owned, Side};
use crate::service::layout::*;
use crate::service::listener::{
    channel_auth, channel_geometry, channel_name, entry, listener_geometry, validate_listener,
};
use crate::service::ServiceOptions;
use crate::sys::{self, Location};
use crate::transport::Deadline;
use crate::wake::quick_poll;
use crate::wake::wait_for;
use crate::{Error, Result};

/// A connection to a [`Listener`](crate::service::Listener): its own duplex channel of
/// `slots` slots, so up to `slots` requests in flight at once.
///
/// Methods take `&self`: an [`Answer`] borrows the client, and several may be held at once
/// (each keeps its slot until dropped). A `Client` is `Send`, not `Sync`: one thread at a
/// time uses it.
///
/// ```
/// use ipcring::service::{Client, Listener, ServiceOptions};
/// # fn main() -> ipcring::Result<()> {
/// let name = format!("/ipcring-client-{}", std::process::id());
/// let mut server = Listener::bind(&name, &ServiceOptions::new())?;
/// let serving = std::thread::spawn(move || -> ipcring::Result<()> {
///     for _ in 0..2 {
///         let req = server.recv()?;                     // answers with the length
///         let answer = req.len().to_string();
///         req.respond_with(answer.as_bytes())?;
///     }
///     Ok(())
/// });
/// let client = Client::connect(&name, &ServiceOptions::new().slots(2))?;
/// let a = client.submit(b"first")?;
/// let b = client.submit(b"second")?;                   // two in flight
/// assert_eq!(&*client.wait(b)?, b"6");                  // in any order
/// assert_eq!(&*client.wait(a)?, b"5");
/// # serving.join().unwrap()?;
/// # Ok(()) }
/// ```
#[must_use = "a Client disconnects when dropped"]
pub struct Client {
    /// The listener segment, with its run-time words (the server's wake word).
    listener: Held<ListenerShared>,
    /// The channel (its segment inside) and which of its slots are free or in flight.
    side: ClientSide,
    entry: u32,
    nonce: u64,
    server_may_sleep: bool,
    wait: WaitStrategy,
}

// SAFETY: the raw pointers inside (the listener's words in `Held`, the channel core's
// DataArea and words) point into mappings owned by the Client's own Segments, which move
// with it.
unsafe impl Send for Client {}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("listener", &self.listener.name())
            .field("entry", &self.entry)
            .field("slots", &self.slots())
            .field("max_message", &self.max_message())
            .finish()
    }
}

/// A request in flight: pass it to [`Client::wait`] for its answer. An answer never
/// waited for keeps its slot busy.
#[derive(Debug)]
#[must_use = "the answer is only taken by waiting on the ticket"]
pub struct Ticket {
    slot: u32,
    nonce: u64,
}

impl Ticket {
    /// The slot (the id the server sees as [`Request::slot`](crate::service::Request::slot)).
    pub fn slot(&self) -> u32 {
        self.slot
    }
}

impl Client {
    /// Connects to the service `name`, waiting up to the open timeout for a listener (with
    /// a live server) to appear. [`Error::SystemLimit`] if all its entries are taken;
    /// [`Error::InvalidConfig`] if `opts` asks for more slots or larger messages than the
    /// listener allows.
    pub fn connect(name: &str, opts: &ServiceOptions) -> Result<Client> {
        opts.check()?;
        let deadline = Deadline::after(opts.seg.open_timeout);
        loop {
            let listener = Segment::open(
                name,
                &crate::kinds::LISTENER,
                deadline,
                true,
                &opts.seg.trust(),
                None,
                validate_listener,
            )?;
            if listener.role_held_by_other(crate::kinds::SERVER)? {
                return Self::join(listener, opts, &deadline);
            }
            // A leftover whose server died: a restarted server replaces it; wait for that.
            drop(listener);
            if deadline.expired() {
                return Err(Error::NotFound(format!(
                    "{name} (a listener whose server is gone)"
                )));
            }
            thread::sleep(Duration::from_millis(1));
        }
    }

    fn join(listener: Segment, opts: &ServiceOptions, deadline: &Deadline) -> Result<Client> {
        let map = listener.mapping();
        let g = listener_geometry(map);
        let (max_clients, max_slots, max_message) = (
            g.max_clients.load(Ordering::Relaxed),
            g.max_slots.load(Ordering::Relaxed),
            g.max_message.load(Ordering::Relaxed),
        );
        let listener_flags = g.flags.load(Ordering::Relaxed);
        let server_may_sleep = listener_flags & FLAG_MAY_SLEEP != 0;
        let name = listener.name();
        let needs_key = listener_flags & FLAG_AUTH != 0;
        if needs_key != opts.key.is_some() {
            let feature = if cfg!(feature = "service-auth") {
                ""
            } else {
                ", feature service-auth"
            };
            return Err(Error::Auth(if needs_key {
                format!(
                    "the service {name} requires an auth key (ServiceOptions::auth_key{feature})"
                )
                .into()
            } else {
                format!("the service {name} has no auth key, and this client requires one").into()
            }));
        }
        if opts.slots > max_slots || opts.max_message > max_message {
            return Err(Error::InvalidConfig(
                format!(
                    "{} slots of {} bytes asked; the service {name} allows at most {max_slots} slots of {max_message} bytes",
                    opts.slots, opts.max_message
                )
                .into(),
            ));
        }
        let e = Self::claim(&listener, max_clients, deadline)?;
        // From here on a failure must give the entry back.
        let give_back = |listener: &Segment, err: Error| -> Error {
            entry(listener.mapping(), e).words().give_back();
            let _ = listener.release_role(entry_role(e));
            err
        };
        let en = entry(map, e);
        let nonce = sys::random_u64();
        en.channel_nonce.store(nonce, Ordering::Relaxed);
        en.pid.store(std::process::id(), Ordering::Relaxed);
        let chan_name = channel_name(&name, e, nonce);
        let size = slot_size_for(opts.max_message);
        let total = CHANNEL_HEADER_SIZE as u64 + opts.slots as u64 * size as u64;
        let spec = opts
            .seg
            .create_spec(&crate::kinds::CHANNEL, CHANNEL_HEADER_SIZE as u32, total);
        let listener_nonce = listener.header().nonce.load(Ordering::Relaxed);
        let flags = if opts.may_sleep() { FLAG_MAY_SLEEP } else { 0 };
        // SYNC: the challenge was published by the server's Release store of FREE (or of
        // the segment's READY), which our claim's Acquire compare-exchange read.
        let handshake = Handshake {
            listener_nonce,
            entry: e,
            challenge: auth::load_words::<CHALLENGE_LEN>(&en.challenge),
            channel_nonce: nonce,
        };
        let proof = opts
            .key
            .as_ref()
            .map(|k| auth::proof(k, Who::Client, &handshake));
        let mut chan = match Segment::create(&chan_name, &spec, Some(crate::kinds::CLIENT), |m| {
            let cg = channel_geometry(m);
            cg.slots.store(opts.slots, Ordering::Relaxed);
            cg.slot_size.store(size, Ordering::Relaxed);
            cg.max_message.store(opts.max_message, Ordering::Relaxed);
            cg.flags.store(flags, Ordering::Relaxed);
            cg.listener_nonce.store(listener_nonce, Ordering::Relaxed);
            cg.entry.store(e, Ordering::Relaxed);
            if let Some(p) = &proof {
                auth::store_words(&channel_auth(m).client_proof, p);
            }
        })
        .and_then(|c| opts.seg.prefault(&c).map(|()| c))
        {
            Ok(c) => c,
            Err(err) => return Err(give_back(&listener, err)),
        };
        en.words().post(nonce);
        let ls: &ListenerShared = map.at(SHARED_OFFSET);
        // SYNC: Release pairs with the server's Acquire load of connect_seq.
        ls.connect_seq.fetch_add(1, Ordering::Release);
        ls.server_wake.wake();
        // Wait for the server to accept.
        let mut pause = Duration::from_micros(20);
        loop {
            // Once ACCEPTED, the server has the channel open: we may unlink its name.
            let err = match en.words().verdict() {
                ENTRY_ACCEPTED => break,
                ENTRY_CONNECT if !listener.role_held_by_other(crate::kinds::SERVER)? => {
                    Error::Disconnected
                }
                ENTRY_CONNECT if deadline.expired() => Error::Timeout,
                ENTRY_CONNECT => {
                    thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(1));
                    continue;
                }
                ENTRY_CLOSED if en.refusal.load(Ordering::Relaxed) == REFUSED_AUTH => Error::Auth(
                    format!("the service {name} refused this client's auth key: the two sides do not share the same key").into(),
                ),
                ENTRY_CLOSED => Error::BadSegment {
                    path: chan_name,
                    reason: "the server refused this channel".into(),
                },
                s => Error::corrupt(format!("connection entry {e} of {name} in state {s}")),
            };
            return Err(give_back(&listener, err));
        }
        if let Some(key) = &opts.key {
            // SYNC: the server wrote its proof before its Release store of ACCEPTED, which
            // we read with Acquire.
            let theirs = auth::load_words::<PROOF_LEN>(&channel_auth(chan.mapping()).server_proof);
            if !auth::same(&auth::proof(key, Who::Server, &handshake), &theirs) {
                let _ = Location::parse(&chan_name).and_then(|l| l.unlink());
                // The server holds the connection: let go of the entry's lock only, and
                // it frees the entry as a departed client's.
                let _ = listener.release_role(entry_role(e));
                return Err(Error::Auth(
                    format!("the server of {name} did not prove it knows the auth key").into(),
                ));
            }
        }
        // Both sides have it mapped: the name is no longer needed, and nothing is left
        // behind if we die.
        let _ = Location::parse(&chan_name).and_then(|l| l.unlink());
        chan.set_keep(true);
        let core = ChannelCore::attach(chan, opts.slots, size, opts.max_message);
        Ok(Client {
            listener: Held::new(listener, SHARED_OFFSET),
            side: ClientSide::new(core),
            entry: e,
            nonce,
            server_may_sleep,
            wait: opts.seg.wait,
        })
    }

    /// Claims a free entry: its liveness lock, then a compare-exchange of its state.
    fn claim(listener: &Segment, max_clients: u32, deadline: &Deadline) -> Result<u32> {
        let map = listener.mapping();
        loop {
            let mut reaping = false;
            for e in 0..max_clients {
                let en = entry(map, e);
                if en.state.load(Ordering::Relaxed) != ENTRY_FREE {
                    // Held by a live client, or a dead one's not yet freed by the server.
                    reaping |= !listener.role_held_by_other(entry_role(e))?;
                    continue;
                }
                if !listener.try_lock(entry_role(e))? {
                    continue;
                }
                // The lock first, then the state: the server frees only unlocked entries,
                // so once both are ours nobody else touches this entry.
                if en.words().claim() {
                    return Ok(e);
                }
                listener.release_role(entry_role(e))?;
            }
            if !reaping || deadline.expired() {
                return Err(Error::SystemLimit {
                    what: format!(
                        "all {max_clients} connection entries of {} are taken",
                        listener.name()
                    )
                    .into(),
                    hint: "bind the listener with a larger ServiceOptions::max_clients".into(),
                });
            }
            // A dead client's entry is freed by the server within a liveness slice.
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// Slots in the channel (requests in flight at once).
    pub fn slots(&self) -> u32 {
        self.side.core().slots()
    }

    /// Largest request or answer in bytes.
    pub fn max_message(&self) -> usize {
        self.side.core().max_message() as usize
    }

    /// The connection entry this client holds.
    pub fn entry(&self) -> u32 {
        self.entry
    }

    fn closed(&self) -> bool {
        // SYNC: Acquire pairs with the server's Release store in `Conn::close`.
        self.side.core().shared().closed.load(Ordering::Acquire) != 0
    }

    /// After publishing the request in `slot`: wakes the server if it sleeps.
    #[inline]
    fn published(&self, slot: u32) -> Ticket {
        let wake = &self.listener.shared().server_wake;
        if must_wake(wake, self.server_may_sleep) {
            wake.wake();
        }
        Ticket {
            slot,
            nonce: self.nonce,
        }
    }

    /// A free slot to write a request into, zero-copy: write it, then
    /// [`RequestGrant::send`] its length. [`Error::SystemLimit`] if every slot is in
    /// flight.
    ///
    /// ```
    /// # use ipcring::service::{Client, Listener, ServiceOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// # let name = format!("/ipcring-grant-svc-{}", std::process::id());
    /// # let mut server = Listener::bind(&name, &ServiceOptions::new())?;
    /// # let serving = std::thread::spawn(move || server.recv()?.respond_with(b"pong"));
    /// # let client = Client::connect(&name, &ServiceOptions::new())?;
    /// let mut g = client.request()?;
    /// g[..4].copy_from_slice(b"ping");
    /// let t = g.send(4)?;
    /// assert_eq!(&*client.wait(t)?, b"pong");
    /// # serving.join().unwrap()?;
    /// # Ok(()) }
    /// ```
    pub fn request(&self) -> Result<RequestGrant<'_>> {
        if self.closed() {
            return Err(Error::Disconnected);
        }
        Ok(RequestGrant {
            client: self,
            slot: self.side.take()?,
        })
    }

    /// Copies `req` into a free slot and publishes it; the answer comes with
    /// [`Client::wait`]. Does not wait.
    #[inline]
    pub fn submit(&self, req: &[u8]) -> Result<Ticket> {
        let req = self.side.fits(req)?;
        if self.closed() {
            return Err(Error::Disconnected);
        }
        let slot = req.send()?;
        Ok(self.published(slot))
    }

    /// The ticket's slot if it is this client's (whether it is still in flight is checked
    /// by the channel's side).
    fn check_ticket(&self, t: &Ticket) -> Result<u32> {
        if t.nonce != self.nonce {
            return Err(Error::InvalidConfig(
                "this ticket is not in flight on this client".into(),
            ));
        }
        Ok(t.slot)
    }

    #[inline]
    fn wait_answer(&self, t: &Ticket, timeout: Option<Duration>) -> Result<Answer<'_>> {
        self.wait_slot(self.check_ticket(t)?, timeout)
    }

    /// [`Client::wait_answer`] for a ticket known to be this client's (`slot` is its slot).
    #[inline]
    fn wait_slot(&self, slot: u32, timeout: Option<Duration>) -> Result<Answer<'_>> {
        let side = &self.side;
        // A busy-poll round trip ends here, reading no clock.
        if let Some(inner) = quick_poll(self.wait, || side.answer(slot))? {
            return Ok(Answer { inner });
        }
        self.wait_slot_long(slot, timeout)
    }

    /// The rest of [`Client::wait_slot`], apart so that the quick polls pay nothing for its
    /// frame.
    #[inline(never)]
    fn wait_slot_long(&self, slot: u32, timeout: Option<Duration>) -> Result<Answer<'_>> {
        let side = &self.side;
        let inner = wait_for(
            side.core().client_wake(),
            self.wait,
            timeout,
            &mut (),
            move |_| side.answer(slot),
            |_| Ok(self.closed() || !self.listener.role_held_by_other(crate::kinds::SERVER)?),
        )?;
        Ok(Answer { inner })
    }

    /// Waits for the answer to `ticket` (per the wait strategy). [`Error::Disconnected`]
    /// if the server dies or closes the connection first.
    #[inline]
    pub fn wait(&self, ticket: Ticket) -> Result<Answer<'_>> {
        self.wait_answer(&ticket, None)
    }

    /// As [`Client::wait`], for at most `timeout`; on [`Error::Timeout`] the ticket is
    /// still good.
    pub fn wait_timeout(&self, ticket: &Ticket, timeout: Duration) -> Result<Answer<'_>> {
        self.wait_answer(ticket, Some(timeout))
    }

    /// True if the answer to `ticket` is there (then [`Client::wait`] returns at once).
    pub fn is_answered(&self, ticket: &Ticket) -> Result<bool> {
        self.side.is_answered(self.check_ticket(ticket)?)
    }

    /// One round trip: submits `req` and waits for its answer (zero-copy guard).
    #[inline]
    pub fn call(&self, req: &[u8]) -> Result<Answer<'_>> {
        // The ticket was made just now, by this client.
        let t = self.submit(req)?;
        self.wait_slot(t.slot, None)
    }

    /// As [`Client::call`], waiting at most `timeout` for the answer. On
    /// [`Error::Timeout`] the request stays in flight and keeps its slot.
    pub fn call_timeout(&self, req: &[u8], timeout: Duration) -> Result<Answer<'_>> {
        let t = self.submit(req)?;
        self.wait_slot(t.slot, Some(timeout))
    }

    /// One round trip, copying the answer into `out` with word-sized atomic reads: no
    /// reference into shared memory is ever handed out (for an untrusted server).
    #[inline]
    pub fn call_into(&self, req: &[u8], out: &mut Vec<u8>) -> Result<()> {
        self.call(req)?.inner.copy_into(out);
        Ok(())
    }

    // ---- Crate-private hooks for the async form (`crate::service::tokio`) ----

    /// The answer to `ticket` if it is there now, copied into `out` (word-sized atomic
    /// reads) and its slot freed: `Ok(true)`. `Ok(false)`: not answered yet. `out` is
    /// `None`: the answer is taken and dropped unread.
    #[cfg(feature = "async")]
    pub(super) fn try_answer_into(&self, t: &Ticket, out: Option<&mut Vec<u8>>) -> Result<bool> {
        let slot = self.check_ticket(t)?;
        Ok(match self.side.answer(slot)? {
            Some(a) => {
                if let Some(out) = out {
                    a.copy_into(out);
                }
                true
            }
            None => false,
        })
    }

    /// True if a slot is free for a new request (`submit` would not fail for want of one).
    #[cfg(feature = "async")]
    pub(super) fn has_free_slot(&self) -> bool {
        self.side.has_free()
    }

    /// The word the server wakes this client on when it answers.
    #[cfg(feature = "async")]
    pub(super) fn answer_wake(&self) -> &crate::wake::WakeWord {
        self.side.core().client_wake()
    }

    /// How this client waits for answers.
    #[cfg(feature = "async")]
    pub(super) fn wait_strategy(&self) -> WaitStrategy {
        self.wait
    }

    /// The liveness check of an answer wait: true once the server closed this connection
    /// or died.
    #[cfg(feature = "async")]
    pub(crate) fn server_gone(&self) -> Result<bool> {
        Ok(self.closed() || !self.listener.role_held_by_other(crate::kinds::SERVER)?)
    }
}

/// A free slot, writable: derefs to its `max_message` bytes. [`RequestGrant::send`]
/// publishes the first `len`; dropping it unsent gives the slot back.
#[must_use = "dropping a grant unsent gives the slot back"]
pub struct RequestGrant<'a> {
    client: &'a Client,
    /// The slot, ours until sent; given back if dropped unsent.
    slot: Owned<'a>,
}

impl fmt::Debug for RequestGrant<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestGrant")
            .field("slot", &self.slot.slot())
            .finish()
    }
}

impl RequestGrant<'_> {
    /// Publishes the first `len` bytes as the request. [`Error::MessageTooLarge`] past the
    /// slot (the grant is then dropped and its slot given back).
    pub fn send(self, len: usize) -> Result<Ticket> {
        let slot = self.slot.send(len)?;
        Ok(self.client.published(slot))
    }
}

impl Deref for RequestGrant<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.slot.bytes()
    }
}

impl DerefMut for RequestGrant<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.slot.bytes_mut()
    }
}

/// An answer, zero-copy: derefs to its bytes in the channel; frees its slot on drop.
pub struct Answer<'a> {
    /// The slot, ours until dropped (see the module docs on a hostile server).
    inner: Answered<'a>,
}

impl fmt::Debug for Answer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Answer")
            .field("slot", &self.inner.slot())
            .field("len", &self.inner.len())
            .finish()
    }
}

impl Deref for Answer<'_> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.inner.bytes()
    }
}
