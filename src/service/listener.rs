//! The server side: the listener segment, accepting clients, polling their channels,
//! reaping the dead ones.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::ring::WaitStrategy;
use crate::segment::{self, Segment, SegmentOptions};
use crate::service::auth::{self, AuthKey, Handshake, Who};
use crate::service::core::{ChannelCore, EntryWords, Served, ServerSide, Side};
use crate::service::layout::*;
use crate::service::ServiceOptions;
use crate::sys::{Location, Mapping};
use crate::transport::Deadline;
use crate::wake::quick_poll;
use crate::wake::wait_for;
use crate::{Result, TryRecvError};

/// The listener's geometry words.
pub(crate) fn listener_geometry(map: &Mapping) -> &ListenerGeometry {
    // Every listener mapping is at least LISTENER_HEADER_SIZE bytes (checked by
    // `validate_listener` before this is called, or made so by `bind`).
    map.at(GEOMETRY_OFFSET)
}

/// Entry `e`. The caller checked `e < max_clients` against a validated mapping (`at`
/// panics on an entry outside it).
pub(crate) fn entry(map: &Mapping, e: u32) -> &Entry {
    map.at(LISTENER_HEADER_SIZE + e as usize * ENTRY_SIZE)
}

impl Entry {
    /// The words of the accept handshake (`service::core::EntryWords`).
    pub(crate) fn words(&self) -> EntryWords<'_> {
        EntryWords {
            state: &self.state,
            nonce: &self.channel_nonce,
        }
    }
}

/// Checks a listener's own fields against the file (after the common header's checks).
pub(crate) fn validate_listener(map: &Mapping, shown: &str) -> Result<()> {
    let bad = segment::bad(shown);
    let hs = segment::header_of(map).header_size.load(Ordering::Relaxed) as usize;
    if hs != LISTENER_HEADER_SIZE || map.len() < LISTENER_HEADER_SIZE {
        return Err(bad(format!(
            "listener header size {hs} (expected {LISTENER_HEADER_SIZE}), file of {} bytes",
            map.len()
        )));
    }
    let g = listener_geometry(map);
    let n = g.max_clients.load(Ordering::Relaxed);
    if !(1..=MAX_CLIENTS).contains(&n)
        || LISTENER_HEADER_SIZE + n as usize * ENTRY_SIZE != map.len()
    {
        return Err(bad(format!(
            "{n} connection entries do not match the file's {} bytes (or exceed {MAX_CLIENTS})",
            map.len()
        )));
    }
    let slots = g.max_slots.load(Ordering::Relaxed);
    let max = g.max_message.load(Ordering::Relaxed);
    if !(1..=MAX_SLOTS).contains(&slots) || !(1..=MAX_MESSAGE).contains(&max) {
        return Err(bad(format!(
            "max slots {slots} or max message {max} out of range"
        )));
    }
    Ok(())
}

/// The name of entry `e`'s channel.
pub(crate) fn channel_name(listener: &str, e: u32, nonce: u64) -> String {
    format!("{listener}.{e}.{nonce:016x}")
}

/// A client as the server sees it: its connection entry and its channel's nonce. Two
/// connections that used the same entry one after the other have different ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientId {
    /// The connection entry.
    pub entry: u32,
    /// The channel's creation nonce.
    pub nonce: u64,
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "client {}.{:016x}", self.entry, self.nonce)
    }
}

/// One accepted client.
#[derive(Debug)]
struct Conn {
    id: ClientId,
    /// The channel's name, until the client unlinked it (we unlink it if the client died
    /// first).
    chan_name: String,
    /// The channel (its segment inside).
    side: ServerSide,
}

impl Conn {
    /// Tells the client the connection is closed, and wakes it if it sleeps.
    fn close(&self) {
        let shared = self.side.core().shared();
        // SYNC: Release, nothing to publish beyond the flag itself; the client reads it with
        // Acquire when its wait checks the server's liveness.
        shared.closed.store(1, Ordering::Release);
        shared.client_wake.wake();
    }
}

fn validate_channel(
    map: &Mapping,
    shown: &str,
    listener_nonce: u64,
    e: u32,
    max_slots: u32,
    max_message: u32,
) -> Result<(u32, u32, u32, bool)> {
    let bad = segment::bad(shown);
    let hs = segment::header_of(map).header_size.load(Ordering::Relaxed) as usize;
    if hs != CHANNEL_HEADER_SIZE || map.len() < CHANNEL_HEADER_SIZE {
        return Err(bad(format!("channel header size {hs}")));
    }
    let g = channel_geometry(map);
    let slots = g.slots.load(Ordering::Relaxed);
    let size = g.slot_size.load(Ordering::Relaxed);
    let max = g.max_message.load(Ordering::Relaxed);
    if !(1..=max_slots).contains(&slots) {
        return Err(bad(format!(
            "{slots} slots (the listener allows 1 ..= {max_slots})"
        )));
    }
    if !(1..=max_message).contains(&max) || size != slot_size_for(max) {
        return Err(bad(format!(
            "slot size {size} for messages of {max} bytes (the listener allows {max_message})"
        )));
    }
    if CHANNEL_HEADER_SIZE as u64 + slots as u64 * size as u64 != map.len() as u64 {
        return Err(bad(format!(
            "{slots} slots of {size} bytes do not match the file's {} bytes",
            map.len()
        )));
    }
    if g.listener_nonce.load(Ordering::Relaxed) != listener_nonce
        || g.entry.load(Ordering::Relaxed) != e
    {
        return Err(bad("made for another listener or entry".into()));
    }
    let may_sleep = g.flags.load(Ordering::Relaxed) & FLAG_MAY_SLEEP != 0;
    Ok((slots, size, max, may_sleep))
}

/// A channel's geometry words. Every channel mapping is at least CHANNEL_HEADER_SIZE bytes
/// (checked before this is called, or made so by the client).
pub(crate) fn channel_geometry(map: &Mapping) -> &ChannelGeometry {
    map.at(GEOMETRY_OFFSET)
}

/// A channel's auth proofs (within the header, as above).
pub(crate) fn channel_auth(map: &Mapping) -> &ChannelAuth {
    map.at(AUTH_OFFSET)
}

/// The server of a shared-memory service: binds a name, accepts clients, hands out their
/// requests one at a time (one thread serves them all). Clients are accepted while the
/// server polls (`recv`, `try_recv`): `Client::connect` waits for that.
///
/// ```
/// use ipcring::service::{Client, Listener, ServiceOptions};
/// # fn main() -> ipcring::Result<()> {
/// let name = format!("/ipcring-listen-{}", std::process::id());
/// let mut server = Listener::bind(&name, &ServiceOptions::new().max_clients(8))?;
/// let client = std::thread::spawn({
///     let name = name.clone();
///     move || -> ipcring::Result<Vec<u8>> {
///         let client = Client::connect(&name, &ServiceOptions::new())?;
///         let ticket = client.submit(b"2+3")?;          // pipelined: no wait here
///         let answer = client.wait(ticket)?.to_vec();
///         Ok(answer)
///     }
/// });
/// let req = server.recv()?;
/// assert_eq!(&*req, b"2+3");
/// req.respond_with(b"5")?;
/// assert_eq!(client.join().unwrap()?, b"5");
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a Listener unbinds its name when dropped"]
pub struct Listener {
    /// The listener segment, with its run-time words.
    seg: Held<ListenerShared>,
    wait: WaitStrategy,
    /// Everything else: apart from `seg` so that a wait can borrow the wake word in `seg`
    /// while polling changes this.
    srv: Server,
}

/// The server's state beside its listener segment.
#[derive(Debug)]
struct Server {
    nonce: u64,
    max_clients: u32,
    max_slots: u32,
    max_message: u32,
    /// The listener's segment settings: who a client's channel may belong to and its
    /// widest mode (ours), and whether to prefault it.
    seg_opts: SegmentOptions,
    /// Accepted connections, in polling order (a poll walks them, nothing else).
    conns: Vec<Conn>,
    /// Per entry: its connection's index in `conns` plus one, or 0 if it has none.
    conn_of: Vec<u32>,
    /// Where the next poll starts in `conns` (round robin between clients).
    cursor: usize,
    connect_seen: u32,
    /// Polls since the last liveness check (busy servers check every 2^12 polls).
    polls: u32,
    next_check: std::time::Instant,
    /// The auth key, and our own copy of each entry's current challenge (the one in shared
    /// memory is for clients to read; we never trust it back).
    key: Option<AuthKey>,
    challenges: Vec<[u8; CHALLENGE_LEN]>,
}

// SAFETY: the raw pointers inside (the listener's words in `Held`, the DataArea and words of
// each channel core) point into mappings owned by the Listener's own Segments, which move
// with it.
unsafe impl Send for Listener {}

impl Listener {
    /// Binds `name` (a `/shm-name` or a file path): creates the listener segment and takes
    /// the server role. A leftover listener whose server died is removed first; a live one
    /// gives [`Error::AlreadyExists`](crate::Error::AlreadyExists).
    pub fn bind(name: &str, opts: &ServiceOptions) -> Result<Listener> {
        opts.check()?;
        let total = LISTENER_HEADER_SIZE as u64 + opts.max_clients as u64 * ENTRY_SIZE as u64;
        let mut spec =
            opts.seg
                .create_spec(&crate::kinds::LISTENER, LISTENER_HEADER_SIZE as u32, total);
        // A restarted server takes over its dead predecessor's name without manual cleanup:
        // the listener is stale once the server role is unlocked.
        spec.reclaim_stale = true;
        let mut flags = if opts.may_sleep() { FLAG_MAY_SLEEP } else { 0 };
        let mut challenges = Vec::new();
        if let Some(key) = &opts.key {
            flags |= FLAG_AUTH;
            for _ in 0..opts.max_clients {
                challenges.push(auth::new_challenge(key)?);
            }
        }
        let mut seg = Segment::create(name, &spec, Some(crate::kinds::SERVER), |map| {
            let g = listener_geometry(map);
            g.max_clients.store(opts.max_clients, Ordering::Relaxed);
            g.max_slots.store(opts.max_slots, Ordering::Relaxed);
            g.max_message.store(opts.max_message, Ordering::Relaxed);
            g.flags.store(flags, Ordering::Relaxed);
            for (e, c) in challenges.iter().enumerate() {
                // SYNC: published with the segment's READY state (Release).
                auth::store_words(&entry(map, e as u32).challenge, c);
            }
        })?;
        seg.set_keep(opts.seg.keep);
        opts.seg.prefault(&seg)?;
        let nonce = seg.header().nonce.load(Ordering::Relaxed);
        Ok(Listener {
            seg: Held::new(seg, SHARED_OFFSET),
            wait: opts.seg.wait,
            srv: Server {
                nonce,
                max_clients: opts.max_clients,
                max_slots: opts.max_slots,
                max_message: opts.max_message,
                seg_opts: opts.seg,
                conns: Vec::new(),
                conn_of: vec![0; opts.max_clients as usize],
                cursor: 0,
                connect_seen: 0,
                polls: 0,
                next_check: std::time::Instant::now(),
                key: opts.key.clone(),
                challenges,
            },
        })
    }

    /// The listener's name.
    pub fn name(&self) -> String {
        self.seg.name()
    }

    /// How many clients are connected now (as of the last poll).
    pub fn clients(&self) -> usize {
        self.srv.conns.len()
    }

    /// The most clients at once.
    pub fn max_clients(&self) -> u32 {
        self.srv.max_clients
    }

    /// The next request from any client, if one is waiting now
    /// ([`TryRecvError::Empty`] if not). Also accepts new clients and (every
    /// [`LIVENESS_SLICE`](crate::ring::LIVENESS_SLICE) or so) frees dead ones.
    #[inline]
    pub fn try_recv(&mut self) -> Result<Request<'_>, TryRecvError> {
        let Listener { seg, srv, .. } = self;
        srv.poll(seg, false)
            .and_then(|e| srv.request(e))
            .ok_or(TryRecvError::Empty)
    }

    /// The next request from any client, waiting per the wait strategy (a sleeping server
    /// is woken by the client that posts a request).
    #[inline]
    pub fn recv(&mut self) -> Result<Request<'_>> {
        self.recv_within(None)
    }

    /// As [`Listener::recv`], waiting at most `timeout` ([`Error::Timeout`](crate::Error::Timeout)).
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Request<'_>> {
        self.recv_within(Some(timeout))
    }

    #[inline]
    fn recv_within(&mut self, timeout: Option<Duration>) -> Result<Request<'_>> {
        let e = self.wait_request(timeout)?;
        Ok(self
            .srv
            .request(e)
            .expect("the poll that returned this connection found a request in it"))
    }

    #[inline]
    fn wait_request(&mut self, timeout: Option<Duration>) -> Result<u32> {
        // The wait polls with PAUSE between polls (`quick_poll`, `wait_for`). Polling
        // without it for the first thousand polls, on both sides, was measured: with the
        // two processes on sibling hyperthreads the 64 B round trip went from 132-142 to
        // 165-175 ns (the spinning sibling takes the core from the one doing the work).
        let Listener { seg, wait, srv } = self;
        // A busy-poll round trip's request is found here, reading no clock.
        if let Some(e) = quick_poll(*wait, || Ok(srv.poll(seg, false)))? {
            return Ok(e);
        }
        self.wait_request_long(timeout)
    }

    /// The rest of [`Listener::wait_request`], apart so that the quick polls pay nothing
    /// for its frame.
    #[inline(never)]
    fn wait_request_long(&mut self, timeout: Option<Duration>) -> Result<u32> {
        let Listener { seg, wait, srv } = self;
        let reap_due = Cell::new(false);
        wait_for(
            &seg.shared().server_wake,
            *wait,
            timeout,
            &mut (),
            |_| Ok(srv.poll(seg, reap_due.replace(false))),
            // No single peer to lose: each liveness slice, reap dead clients instead.
            |_| {
                reap_due.set(true);
                Ok(false)
            },
        )
    }
}

/// Crate-private hooks for the async form (`crate::service::tokio`).
#[cfg(feature = "async")]
impl Listener {
    /// One poll of every channel (accepting new clients; with `reap_due`, freeing dead
    /// ones first): which connection holds the request found (an index, valid until the
    /// next poll), for [`Listener::take_request`].
    pub(super) fn poll_request(&mut self, reap_due: bool) -> Option<u32> {
        let Listener { seg, srv, .. } = self;
        srv.poll(seg, reap_due)
    }

    /// The request that [`Listener::poll_request`] found in connection `k`.
    pub(super) fn take_request(&mut self, k: u32) -> Result<Request<'_>> {
        self.srv
            .request(k)
            .ok_or_else(|| crate::Error::corrupt("a request seen waiting was gone when taken"))
    }

    /// The word a client wakes the server on when it posts a request or a connect.
    pub(super) fn server_wake(&self) -> &crate::wake::WakeWord {
        &self.seg.shared().server_wake
    }

    /// How the server waits for requests.
    pub(super) fn wait_strategy(&self) -> WaitStrategy {
        self.wait
    }
}

impl Server {
    /// Adds an accepted connection.
    fn add(&mut self, conn: Conn) {
        let e = conn.id.entry as usize;
        self.conns.push(conn);
        self.conn_of[e] = self.conns.len() as u32;
    }

    /// Removes entry `e`'s connection, if it has one (the last one takes its place in the
    /// polling order).
    fn remove(&mut self, e: u32) -> Option<Conn> {
        let k = self.conn_of[e as usize].checked_sub(1)? as usize;
        self.conn_of[e as usize] = 0;
        let conn = self.conns.swap_remove(k);
        if let Some(moved) = self.conns.get(k) {
            self.conn_of[moved.id.entry as usize] = k as u32 + 1;
        }
        if self.cursor >= self.conns.len() {
            self.cursor = 0;
        }
        Some(conn)
    }

    fn accept_all(&mut self, seg: &Segment) {
        for e in 0..self.max_clients {
            if self.conn_of[e as usize] != 0 {
                continue;
            }
            // The client's nonce and its channel segment are visible once it posted.
            let Some(nonce) = entry(seg.mapping(), e).words().posted() else {
                continue;
            };
            let (next, refusal) = match self.open_channel(seg, e, nonce) {
                Ok(conn) if self.proven(&conn) => {
                    self.add(conn);
                    (ENTRY_ACCEPTED, 0)
                }
                Ok(_) => (ENTRY_CLOSED, REFUSED_AUTH),
                // An invalid channel (or one that vanished): refuse it; the client sees it.
                Err(_) => (ENTRY_CLOSED, REFUSED_INVALID),
            };
            let en = entry(seg.mapping(), e);
            en.refusal.store(refusal, Ordering::Relaxed);
            if let Some(key) = &self.key {
                // The challenge is used up: the next connect on this entry gets a new one.
                // (Should the OS give no random bytes, the entry keeps its old challenge;
                // the proof it saw stays bound to this entry's next channel nonce.)
                if let Ok(c) = auth::new_challenge(key) {
                    self.challenges[e as usize] = c;
                    auth::store_words(&en.challenge, &c);
                }
            }
            en.words().judge(next == ENTRY_ACCEPTED);
        }
    }

    /// With a key: whether the client's proof is right (then our own proof is written for
    /// it to check). Without one: yes.
    fn proven(&self, conn: &Conn) -> bool {
        let Some(key) = &self.key else {
            return true;
        };
        let h = Handshake {
            listener_nonce: self.nonce,
            entry: conn.id.entry,
            challenge: self.challenges[conn.id.entry as usize],
            channel_nonce: conn.id.nonce,
        };
        let a = channel_auth(conn.side.core().segment().mapping());
        let theirs = auth::load_words::<PROOF_LEN>(&a.client_proof);
        if !auth::same(&auth::proof(key, Who::Client, &h), &theirs) {
            return false;
        }
        auth::store_words(&a.server_proof, &auth::proof(key, Who::Server, &h));
        true
    }

    fn open_channel(&self, listener: &Segment, e: u32, nonce: u64) -> Result<Conn> {
        let chan_name = channel_name(&listener.name(), e, nonce);
        let (ln, ms, mm) = (self.nonce, self.max_slots, self.max_message);
        let seg = Segment::open(
            &chan_name,
            &crate::kinds::CHANNEL,
            Deadline::after(Duration::ZERO),
            true,
            &self.seg_opts.trust(),
            None,
            |map, shown| validate_channel(map, shown, ln, e, ms, mm).map(drop),
        )?;
        self.seg_opts.prefault(&seg)?;
        // Validated in `open`; read again from the same mapping (the client may have
        // changed them since: validate once more and use what we validated).
        let (slots, size, max, may_sleep) =
            validate_channel(seg.mapping(), &chan_name, ln, e, ms, mm)?;
        let core = ChannelCore::attach(seg, slots, size, max);
        Ok(Conn {
            id: ClientId { entry: e, nonce },
            chan_name,
            side: ServerSide::new(core, may_sleep),
        })
    }

    /// Disconnects the client on entry `e` (its channel broke): it sees `Disconnected`,
    /// the others go on. The entry is freed once the client lets go of it.
    fn evict(&mut self, seg: &Segment, e: u32) {
        if let Some(conn) = self.remove(e) {
            conn.close();
            let _ = Location::parse(&conn.chan_name).and_then(|l| l.unlink());
        }
        entry(seg.mapping(), e)
            .state
            .store(ENTRY_CLOSED, Ordering::Release);
    }

    /// Frees the entries (and channels) of clients that are gone: their liveness lock is
    /// no longer held. Cleanup errors are not fatal: the entry is retried next time.
    fn reap(&mut self, seg: &Segment) {
        for e in 0..self.max_clients {
            let en = entry(seg.mapping(), e);
            let state = en.state.load(Ordering::Acquire);
            let has_conn = self.conn_of[e as usize] != 0;
            if state == ENTRY_FREE && !has_conn {
                continue;
            }
            if !matches!(seg.role_held_by_other(entry_role(e)), Ok(false)) {
                continue;
            }
            if let Some(conn) = self.remove(e) {
                // It may have died before unlinking its channel's name.
                let _ = Location::parse(&conn.chan_name).and_then(|l| l.unlink());
            } else if state == ENTRY_CONNECT || state == ENTRY_CLAIMED {
                // Died before we accepted: remove its channel if nobody holds it.
                let name = channel_name(&seg.name(), e, en.channel_nonce.load(Ordering::Relaxed));
                if let Ok(loc) = Location::parse(&name) {
                    let _ = Segment::reclaim_if_stale(&loc, &self.seg_opts.trust());
                }
            }
            // Only the server frees an entry, and a client claims only a free one, so the
            // state cannot change under us unless a client writes garbage; then it waits.
            en.words().free(state);
        }
    }

    /// One pass over every channel: the index (in `conns`) of the first one found holding a
    /// request (which its `ServerSide` keeps for `request`). Every 4096th pass (or with
    /// `reap_due`) and when a client announced a connect, the housekeeping first.
    #[inline]
    fn poll(&mut self, seg: &Held<ListenerShared>, reap_due: bool) -> Option<u32> {
        self.polls = self.polls.wrapping_add(1);
        // SYNC: Acquire pairs with the client's Release bump after it posted its entry.
        let seq = seg.shared().connect_seq.load(Ordering::Acquire);
        if reap_due || self.polls % 4096 == 0 || seq != self.connect_seen {
            self.housekeeping(seg, reap_due, seq);
        }
        // From the cursor to the end, then from the start: no division per poll.
        let n = self.conns.len();
        let mut i = self.cursor;
        for _ in 0..n {
            if i >= n {
                i = 0;
            }
            let conn = &mut self.conns[i];
            i += 1;
            match conn.side.poll() {
                Ok(false) => {}
                Ok(true) => {
                    // The next poll starts with the next client: one busy client cannot
                    // starve the others.
                    self.cursor = i;
                    return Some(i as u32 - 1);
                }
                Err(_) => {
                    let e = conn.id.entry;
                    self.evict(seg, e);
                    return None;
                }
            }
        }
        None
    }

    /// Frees dead clients (with `reap_due`, or once a liveness slice passed) and accepts
    /// posted connects (if `connect_seq` moved to `seq`): off the polling path.
    #[cold]
    #[inline(never)]
    fn housekeeping(&mut self, seg: &Held<ListenerShared>, reap_due: bool, seq: u32) {
        if reap_due || self.polls % 4096 == 0 {
            let now = std::time::Instant::now();
            if reap_due || now >= self.next_check {
                self.next_check = now + crate::ring::LIVENESS_SLICE;
                self.reap(seg);
            }
        }
        if seq != self.connect_seen {
            self.connect_seen = seq;
            self.accept_all(seg);
        }
    }

    /// The request that `poll` found in connection `k` (its index in `conns`).
    #[inline]
    fn request(&mut self, k: u32) -> Option<Request<'_>> {
        let conn = self.conns.get_mut(k as usize)?;
        let client = conn.id;
        Some(Request {
            served: conn.side.take()?,
            client,
            _listener: PhantomData,
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Clients blocked on an answer see Disconnected at once, not after a slice.
        for conn in &self.srv.conns {
            conn.close();
        }
    }
}

/// A request from a client, zero-copy: derefs to the request's bytes; the answer is
/// written over them ([`Request::buffer`] + [`Request::respond`], or
/// [`Request::respond_with`]). Dropping it unanswered answers with zero bytes, so the
/// client is never left waiting.
///
/// ```
/// # use ipcring::service::{Client, Listener, ServiceOptions};
/// # fn main() -> ipcring::Result<()> {
/// # let name = format!("/ipcring-req-{}", std::process::id());
/// # let mut server = Listener::bind(&name, &ServiceOptions::new())?;
/// # let n2 = name.clone();
/// let client = std::thread::spawn(move || -> ipcring::Result<Vec<u8>> {
///     let client = Client::connect(&n2, &ServiceOptions::new())?;
///     let answer = client.call(&[1, 2, 3])?.to_vec();
///     Ok(answer)
/// });
/// let mut req = server.recv()?;
/// let n = req.len();
/// let buf = req.buffer();                       // the slot: request in buf[..n]
/// let sum: u8 = buf[..n].iter().sum();
/// buf[0] = sum;                                 // the answer, in place
/// req.respond(1)?;
/// assert_eq!(client.join().unwrap()?, [6]);
/// # Ok(()) }
/// ```
#[must_use = "a request is answered when dropped (with zero bytes)"]
pub struct Request<'a> {
    /// The slot, the server's until answered; answered with zero bytes when dropped.
    served: Served<'a>,
    client: ClientId,
    _listener: PhantomData<&'a mut Listener>,
}

impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("client", &self.client)
            .field("slot", &self.served.slot())
            .field("len", &self.served.len())
            .finish()
    }
}

impl Request<'_> {
    /// Who sent it.
    pub fn client(&self) -> ClientId {
        self.client
    }

    /// The slot it came in (the client's ticket).
    pub fn slot(&self) -> u32 {
        self.served.slot()
    }

    /// The largest answer this client's channel carries.
    pub fn max_answer(&self) -> usize {
        self.served.max_answer() as usize
    }

    /// The whole slot, writable: the request sits in its first `len()` bytes; write the
    /// answer anywhere from offset 0 and [`Request::respond`] with its length.
    #[inline]
    pub fn buffer(&mut self) -> &mut [u8] {
        self.served.buffer()
    }

    /// Publishes the first `len` bytes of [`Request::buffer`] as the answer.
    /// [`Error::MessageTooLarge`](crate::Error::MessageTooLarge) past the client's slot (nothing is sent then, and the
    /// request is answered with zero bytes).
    #[inline]
    pub fn respond(self, len: usize) -> Result<()> {
        self.served.respond(len)
    }

    /// Copies `answer` over the request and publishes it.
    #[inline]
    pub fn respond_with(self, answer: &[u8]) -> Result<()> {
        self.served.respond_with(answer)
    }
}

impl Deref for Request<'_> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        // The client published these bytes and does not write them until answered (see the
        // module docs on a hostile client).
        self.served.bytes()
    }
}
